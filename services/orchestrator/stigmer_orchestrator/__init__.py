"""Stigmer's orchestrator: the Temporal worker of the invoke workflow on the stigmer queue."""
