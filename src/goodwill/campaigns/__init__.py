"""Campaigns: seasonal and one-off gratitude to an audience, capped, reviewed and measured."""
