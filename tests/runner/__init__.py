"""Tests of the runner: the DSL interpreter, its activities and its workflow."""
