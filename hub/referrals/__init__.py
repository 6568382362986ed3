"""Two-way referrals (双向转诊) between family doctor teams and hospitals; reserved capacity."""
