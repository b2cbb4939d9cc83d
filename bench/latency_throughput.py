"""Latency and throughput of Stigmer against the bare Temporal path, on one Temporal server.

Run from the repository root::

    python bench/latency_throughput.py [--runs N] [--burst M] [--warmup K]
        [--temporal ADDR --mongodb URI --redis URL] [--json]

See bench/README.md and docs/performance.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: the repository root holds the bench and tests packages it imports.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
