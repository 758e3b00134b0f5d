"""Metrics, baselines, per-season and per-cloud-cover aggregation, and the report."""
