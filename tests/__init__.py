"""Stigmer's tests; a package so that ``tests.services`` can be imported as a plugin."""
