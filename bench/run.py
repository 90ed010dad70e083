"""``make bench``: run every benchmark, each printing one JSON line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "audit_overhead.py",
    "audit_peers.py",
    "randomize_throughput.py",
    "audit_export.py",
    "list_page_queries.py",
    "data_entry_latency.py",
    "audit_review.py",
    "scale_pages.py",
    "sdtm_export.py",
    "casebook_pdf.py",
]

if __name__ == "__main__":
    # ``bench/run.py audit_overhead list_page_queries`` runs only those.
    chosen = [f"{name.removesuffix('.py')}.py" for name in sys.argv[1:]] or BENCHMARKS
    failed = 0
    for name in chosen:
        failed |= subprocess.run([sys.executable, str(HERE / name)], cwd=HERE).returncode
    sys.exit(failed)
