"""The command functions; ``stigmer_cli.main`` wires them into the typer app."""
