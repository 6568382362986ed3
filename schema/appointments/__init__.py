"""Time-slot appointments (分时段预约) over GraphQL."""
