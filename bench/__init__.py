"""Benchmarks of Stigmer against the bare Temporal path (run from the repository root)."""
