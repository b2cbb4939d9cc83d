"""``python -m stigmer_cli``: the ``stigmer`` command (local mode starts its server this way)."""

from stigmer_cli.main import main

main()
