"""Buying patterns: per-person summaries, RFM segments, milestones, BG/NBD, Gamma-Gamma and CLV.

The read side of Goodwill. Purchases are summarised set-based (DuckDB, or Spark at scale), the
models are fitted on compressed (frequency, recency, T) triples with NumPy/SciPy, and only the
results are written back to the application database. See docs/insights.md.
"""
