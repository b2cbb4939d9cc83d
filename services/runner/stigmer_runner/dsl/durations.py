"""DSL durations; the parser lives in the core because the API reads `schedule` durations too."""

from stigmer_core.durations import duration_seconds

__all__ = ["duration_seconds"]
