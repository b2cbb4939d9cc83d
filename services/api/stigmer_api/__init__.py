"""Stigmer's HTTP API: workflows, instances and executions; live status over SSE."""
