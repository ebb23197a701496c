"""Benchmarks and load tests (run through make bench / make soak)."""
