"""Goodwill: thank the right people, personally, at the right time, with no strings attached."""

__version__ = "0.1.0"
