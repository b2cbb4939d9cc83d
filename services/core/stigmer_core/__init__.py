"""Stigmer core: the domain model and the contracts shared by every service.

Nothing in this package talks to a database or a message bus; services do.
"""
