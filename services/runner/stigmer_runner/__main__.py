"""``python -m stigmer_runner``."""

from stigmer_runner.main import main

main()
