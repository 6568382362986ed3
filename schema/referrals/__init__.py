"""GraphQL for referrals and hospital capacity."""
