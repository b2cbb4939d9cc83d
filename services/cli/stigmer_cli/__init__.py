"""The ``stigmer`` command line: run workflows, inspect resources, and a one-command local mode."""
