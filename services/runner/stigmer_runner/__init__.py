"""Stigmer runner: the Temporal worker that executes DSL workflows on the runner queue."""
