"""``python -m stigmer_api``."""

from stigmer_api.main import main

main()
