"""The benchmark harness lives in ``benchmarks/`` at the project root, outside the
installed package: make it importable as ``benchmarks`` whatever the runner's working
directory (``python -m pytest`` already puts the root first)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
