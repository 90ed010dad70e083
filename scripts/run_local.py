"""``make run``: the app, a Celery worker and beat, on the embedded PostgreSQL.

Starts (or joins) the embedded server under ``var/pgdata``, migrates, sets up the
tacrolimus study with demo sites and users, then serves http://127.0.0.1:$PORT
beside a real worker and beat whose broker is the same PostgreSQL (kombu's
SQLAlchemy transport), so nothing else has to be installed. Ctrl-C stops every
process and then the database; the data stays for the next run. With
DATABASE_URL and CELERY_BROKER_URL set, those servers are used instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecrf.settings.local")
    server = None
    if not os.environ.get("DATABASE_URL"):
        import pgserver

        data_dir = BASE_DIR / "var" / "pgdata"
        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
        from ecrf.settings.embedded import embedded_postgres_url

        embedded_postgres_url("ecrf", data_dir)
        print(f"Embedded PostgreSQL running with its data in {data_dir}", flush=True)
    port = os.environ.get("PORT", "8000")
    python = sys.executable
    manage = [python, str(BASE_DIR / "manage.py")]

    for step in (["migrate", "--no-input"], ["setup_trial"], ["seed_demo"]):
        subprocess.run([*manage, *step], check=True, cwd=BASE_DIR)

    celery = [python, "-m", "celery", "-A", "ecrf"]
    processes = {
        "web": subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=BASE_DIR
        ),
        "worker": subprocess.Popen(
            [*celery, "worker", "--loglevel=INFO", "--concurrency=2"], cwd=BASE_DIR
        ),
        "beat": subprocess.Popen(
            [
                *celery,
                "beat",
                "--loglevel=INFO",
                "-s",
                str(BASE_DIR / "var" / "celerybeat-schedule"),
            ],
            cwd=BASE_DIR,
        ),
    }
    print(f"\nServing http://127.0.0.1:{port}/ (Ctrl-C stops everything)\n", flush=True)

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with status {process.returncode}; stopping.", flush=True)
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        if server is not None:
            server.cleanup()
        print("Stopped. The data is kept in var/ for the next run.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
