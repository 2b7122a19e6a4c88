"""Complaints with gratitude: intake, SLA clocks, replies, resolution and the service gaps they show."""
