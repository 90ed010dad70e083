"""Form saves under the locust load, against a bare view doing one insert on the same stack.

Runs the load test (``loadtest/run.py``: gunicorn with four workers, a Celery worker,
coordinators of five sites entering data while monitors browse and export) on the
benchmarks' database. The coordinators' form saves (dose diary and biochemical
pregnancy, each a POST that the service saves and the page redirects) are compared with
the same users' POSTs to the bare view (signed in, CSRF-checked, one INSERT), sampled
side by side once every user has signed in. The samples of each side are cut, in the
order they were taken, into five consecutive windows (the repeats); the figure is the
median over the windows of the saves' p95 over the bare view's p95, with their range.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BASE_DIR, BENCH_DATABASE, REPEATS, percentile, report

FORM_SAVES = ("save: dose diary", "save: biochemical pregnancy")
BARE = "bare insert"
#: Long enough for at least 1,000 samples of each side (about 2.7 saves and 1.9 bare
#: inserts a second under this load).
DURATION = int(os.environ.get("LOAD_DURATION", "600"))


def p95(values: list[float]) -> float:
    return percentile(values, 0.95)


def windows(values: list[float]) -> list[list[float]]:
    """``values`` in :data:`REPEATS` consecutive windows of (nearly) equal size."""
    size = len(values) / REPEATS
    return [values[round(i * size) : round((i + 1) * size)] for i in range(REPEATS)]


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
    # Each kind of save in its own order of arrival, then both kinds in each window.
    save_windows = [
        [t for name in FORM_SAVES for t in windows(samples["times"].get(name, []))[i]]
        for i in range(REPEATS)
    ]
    ratios = [
        p95(mine) / p95(theirs)
        for mine, theirs in zip(save_windows, windows(bare), strict=True)
        if mine and theirs
    ]
    report(
        "data_entry_latency",
        p95(saves),
        "ms (p95 of a form save under load)",
        p95(bare),
        ratio=round(statistics.median(ratios), 3),
        ratio_min=round(min(ratios), 3),
        ratio_max=round(max(ratios), 3),
        samples=min(len(saves), len(bare)),
        repeats=len(ratios),
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
