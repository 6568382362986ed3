"""Time-slot appointments (分时段预约) with the family doctor team."""
