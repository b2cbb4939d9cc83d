"""The runner's Temporal activities: the side effects DSL tasks perform."""
