"""Engagement programs: member events, referrals and tiers."""
