"""Fixtures every test folder can use: the real services live in tests/services.py."""

pytest_plugins = ["tests.services", "tests.broker_services"]
