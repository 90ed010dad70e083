"""``make load``: set up a database of its own, start gunicorn and a Celery worker, run
locust headless for a bounded time against them on the loopback, print a summary, stop.

The database (``LOAD_DATABASE``, default ``ecrf_load``) is dropped and re-created on the
server of ``DATABASE_URL`` (the embedded PostgreSQL when unset), migrated, and given the
five sites, two coordinators per site, two monitors and 30 treated participants per
site (randomized 20 days ago, transfer 15 days ago), all made through the services.
The worker uses ``CELERY_BROKER_URL`` (Redis) when set.

    python loadtest/run.py [--users 14] [--spawn-rate 2] [--duration 60] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(BASE_DIR), str(BASE_DIR / "bench")]
BIN = Path(sys.executable).parent

SITES = ["S01", "S02", "S03", "S04", "S05"]
PARTICIPANTS_PER_SITE = 30
MONITOR_SITES = [["S01", "S02", "S03"], ["S03", "S04", "S05"]]


def load_database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        from ecrf.settings.embedded import embedded_postgres_url

        url = embedded_postgres_url("postgres")
    name = os.environ.get("LOAD_DATABASE", "ecrf_load")
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def fresh_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare(plan_path: Path) -> None:
    """Migrate and fill the load database through the services; write the locust plan."""
    import django

    django.setup()
    import trialdata
    from django.core.management import call_command
    from django.db import connection

    from ecrf.participants.services import site_today
    from ecrf.studies.models import Site
    from loadtest.views import BARE_TABLE_SQL

    call_command("migrate", verbosity=0)
    study = trialdata.trial(SITES)
    trialdata.relax_mfa(study)
    with connection.cursor() as cursor:
        cursor.execute(BARE_TABLE_SQL)
    coordinators, participants = [], {}
    for code in SITES:
        site = Site.objects.get(code=code)
        users = [trialdata.staff(f"load-{code.lower()}-{n}", "coordinator", [code]) for n in "ab"]
        coordinators += [[user.username, code] for user in users]
        treated = trialdata.treated_participants(site, users[0], PARTICIPANTS_PER_SITE)
        participants[code] = [p.pk for p in treated]
    monitors = [
        [trialdata.staff(f"load-monitor-{n}", "monitor", sites).username, sites]
        for n, sites in enumerate(MONITOR_SITES, start=1)
    ]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # statistics, as autovacuum keeps them in service
    site = Site.objects.get(code=SITES[0])
    plan = {
        "password": trialdata.STAFF_PASSWORD,
        "coordinators": coordinators,
        "monitors": monitors,
        "participants": participants,
        "dose_days": [day.isoformat() for day in trialdata.dosing_days(site)],
        "today": site_today(site).isoformat(),
    }
    plan_path.write_text(json.dumps(plan))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer 200 within {seconds:.0f} s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summarise(samples: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Count, failures, p50 and p95 of each kind of request, from every sample kept."""
    times, failures = samples["times"], samples["failures"]
    return {
        name: {
            "count": len(times.get(name, [])),
            "failures": failures.get(name, 0),
            "p50_ms": round(statistics.median(times[name]), 1) if times.get(name) else 0.0,
            "p95_ms": round(percentile(times[name], 0.95), 1) if times.get(name) else 0.0,
        }
        for name in sorted({*times, *failures})
    }


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=14)
    parser.add_argument("--spawn-rate", type=float, default=2)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--json", type=Path, help="write the summary here as JSON")
    args = parser.parse_args()

    url = load_database_url()
    workdir = Path(tempfile.mkdtemp(prefix="ecrf-load-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "loadtest.settings",
        "LOADTEST_MEDIA_ROOT": str(workdir / "media"),
        "PYTHONPATH": os.pathsep.join([str(BASE_DIR), str(BASE_DIR / "bench")]),
        "LOADTEST_PLAN": str(workdir / "plan.json"),
        "LOADTEST_SAMPLES": str(workdir / "samples.json"),
    }
    os.environ.update(env)
    print(f"Setting up {urlsplit(url).path.lstrip('/')} ...", flush=True)
    fresh_database(url)
    prepare(workdir / "plan.json")

    port = free_port()
    host = f"http://127.0.0.1:{port}"
    logs = {name: open(workdir / f"{name}.log", "wb") for name in ("gunicorn", "worker")}  # noqa: SIM115
    web = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "ecrf.wsgi",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--preload",
            "--timeout",
            "120",
            "--graceful-timeout",
            "10",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=logs["gunicorn"],
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "ecrf", "worker", "--concurrency", "2", "--loglevel", "INFO"],
        cwd=BASE_DIR,
        env=env,
        stdout=logs["worker"],
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"{host}/healthz")
        print(
            f"Locust: {args.users} users for {args.duration} s against gunicorn "
            f"({args.workers} workers) at {host} and a Celery worker ...",
            flush=True,
        )
        locust = subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                str(BASE_DIR / "loadtest" / "locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(args.spawn_rate),
                "-t",
                f"{args.duration}s",
                "--host",
                host,
                "--only-summary",
                "--stop-timeout",
                "30",
            ],
            cwd=BASE_DIR,
            env=env,
            check=False,
        )
    finally:
        stop(web)
        stop(worker)
        for log in logs.values():
            log.close()

    from ecrf.exports.models import ExportJob

    samples = json.loads((workdir / "samples.json").read_text())
    summary = {
        "duration_s": args.duration,
        "users": args.users,
        "gunicorn_workers": args.workers,
        "requests": summarise(samples),
        "exports": {
            status: ExportJob.objects.filter(status=status).count()
            for status in ("pending", "running", "done", "failed")
        },
        "logs": str(workdir),
        "samples": str(workdir / "samples.json"),
    }
    print("\nSteady-state figures (after every user signed in):")
    for name, figures in summary["requests"].items():
        print(
            f"  {name:<32} {figures['count']:>6} ok {figures['failures']:>4} failed"
            f"  p50 {figures['p50_ms']:>8.1f} ms  p95 {figures['p95_ms']:>8.1f} ms"
        )
    print(f"  exports by status: {summary['exports']}; logs in {workdir}")
    if args.json:
        args.json.write_text(json.dumps(summary))
    return locust.returncode


if __name__ == "__main__":
    sys.exit(main())
