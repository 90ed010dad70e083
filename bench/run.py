"""``make bench``: run every benchmark, each printing one JSON line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["randomize_throughput.py"]

if __name__ == "__main__":
    failed = 0
    for name in BENCHMARKS:
        failed |= subprocess.run([sys.executable, str(HERE / name)], cwd=HERE).returncode
    sys.exit(failed)
