"""Form saves under the locust load, against a bare view doing one insert on the same stack.

Runs the load test (``loadtest/run.py``: gunicorn with four workers, a Celery worker,
coordinators of five sites entering data while monitors browse and export) on the
benchmarks' database. The coordinators' form saves (dose diary and biochemical
pregnancy, each a POST that the service saves and the page redirects) are compared with
the same users' POSTs to the bare view (signed in, CSRF-checked, one INSERT), sampled
side by side once every user has signed in. The figure is the saves' p95 over the bare
view's p95.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BASE_DIR, BENCH_DATABASE, report

FORM_SAVES = ("save: dose diary", "save: biochemical pregnancy")
BARE = "bare insert"
DURATION = int(os.environ.get("LOAD_DURATION", "60"))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    summary_path = Path(tempfile.mkstemp(prefix="ecrf-load-", suffix=".json")[1])
    env = {**os.environ, "LOAD_DATABASE": os.environ.get("LOAD_DATABASE", BENCH_DATABASE)}
    run = subprocess.run(
        [
            sys.executable,
            str(BASE_DIR / "loadtest" / "run.py"),
            "--duration",
            str(DURATION),
            "--json",
            str(summary_path),
        ],
        env=env,
        stdout=sys.stderr,
        check=False,
    )
    if run.returncode:
        raise SystemExit(f"the load test failed ({run.returncode})")
    summary = json.loads(summary_path.read_text())
    summary_path.unlink()
    samples = json.loads(Path(summary["samples"]).read_text())
    saves = [t for name in FORM_SAVES for t in samples["times"].get(name, [])]
    bare = samples["times"].get(BARE, [])
    if not saves or not bare:
        raise SystemExit("the load test recorded no form saves or no bare inserts")
    requests = summary["requests"]
    report(
        "data_entry_latency",
        p95(saves),
        "ms (p95 of a form save under load)",
        p95(bare),
        p50_ms=round(statistics.median(saves), 1),
        baseline_p50_ms=round(statistics.median(bare), 1),
        saves=len(saves),
        bare_inserts=len(bare),
        failed_saves=sum(requests.get(name, {}).get("failures", 0) for name in FORM_SAVES),
        **{
            f"{name.split(': ')[1].replace(' ', '_')}_p95_ms": requests[name]["p95_ms"]
            for name in FORM_SAVES
            if name in requests
        },
        users=summary["users"],
        gunicorn_workers=summary["gunicorn_workers"],
        duration_s=summary["duration_s"],
        exports_done=summary["exports"]["done"],
        baseline_unit="ms (p95 of the bare one-insert view)",
    )


if __name__ == "__main__":
    main()
