"""``python -m stigmer_orchestrator``."""

from stigmer_orchestrator.main import main

main()
