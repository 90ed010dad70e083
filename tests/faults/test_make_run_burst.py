"""``make run`` holds a burst: 20 users at once get no 5xx, on a bounded number of connections.

``scripts/run_local.py`` is started as ``make run`` starts it, on a copy of the migrated
template (its broker kombu's SQLAlchemy transport on that database, as on the embedded
server), with a port, a var folder and an app role of its own. Locust then sends 20
users at once, each signing in and opening pages with little pause, while the test
counts the sessions on that database in ``pg_stat_activity``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from ..conftest import BASE_DIR
from ..databases import copy_of_template, drop_database, url_of
from .conftest import free_port, kill_group, wait_until

pytestmark = [
    pytest.mark.faults,
    pytest.mark.requirement("ICH-E6R3-4.3.6-BURST", "ICH-E6R3-4.3.3-DATABASE-ROLE"),
    pytest.mark.django_db(transaction=True),
]

WEB_WORKERS = 3
#: The Celery worker's processes of ``make run`` (its ``--concurrency``).
WORKER_CONCURRENCY = 2
USERS = 20
LOCUST = Path(sys.executable).with_name("locust")


@dataclass
class MakeRun:
    """``scripts/run_local.py`` running on a database and port of its own."""

    process: subprocess.Popen[bytes]
    url: str
    database: str
    role: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class SessionCounter:
    """Counts, many times a second, the sessions on ``database`` by role; keeps the peak."""

    server_url: str
    database: str
    peak: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            while not self.stop.is_set():
                rows = conn.execute(
                    "SELECT usename, count(*) FROM pg_stat_activity WHERE datname = %s "
                    "GROUP BY usename",
                    [self.database],
                ).fetchall()
                for user, count in rows:
                    self.peak[str(user)] = max(self.peak[str(user)], int(count))
                time.sleep(0.05)


@pytest.fixture
def make_run(transactional_db: None, tmp_path: Path) -> Iterator[MakeRun]:
    database = f"{connection.settings_dict['NAME']}_makerun"
    owner_url = copy_of_template(database)
    role = f"ecrf_app_burst_{uuid.uuid4().hex[:10]}"
    port = free_port()
    log = tmp_path / "make-run.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        DATABASE_URL=owner_url,
        PORT=str(port),
        ECRF_VAR_DIR=str(tmp_path / "var"),
        ECRF_APP_ROLE=role,
        WEB_CONCURRENCY=str(WEB_WORKERS),
        PYTHONPATH=str(BASE_DIR),
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "scripts" / "run_local.py")],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = MakeRun(process, f"http://127.0.0.1:{port}", database, role, log)
    try:

        def serving() -> bool:
            if process.poll() is not None:
                pytest.fail(f"make run exited with {process.returncode}:\n{run.log_text()}")
            try:
                return requests.get(f"{run.url}/healthz", timeout=10).status_code == 200
            except requests.RequestException:
                return False

        wait_until(serving, what="make run to serve", timeout=300, log=run.log_text)
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=40)
        kill_group(process)
        drop_database(database)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone():
                cursor.execute(f"DROP ROLE {connection.ops.quote_name(role)}")


def test_make_run_serves_a_burst_of_20_users_without_5xx(make_run: MakeRun, tmp_path: Path) -> None:
    counter = SessionCounter(url_of(connection.settings_dict, "postgres"), make_run.database)
    watcher = threading.Thread(target=counter.run, daemon=True)
    watcher.start()
    results_path = tmp_path / "burst.json"
    try:
        locust = subprocess.run(
            [
                str(LOCUST),
                "-f",
                str(BASE_DIR / "tests" / "faults" / "burst_locustfile.py"),
                "--headless",
                "--users",
                str(USERS),
                "--spawn-rate",
                str(USERS),
                "--run-time",
                "15s",
                "--stop-timeout",
                "30",
                "--host",
                make_run.url,
                "--only-summary",
            ],
            cwd=BASE_DIR,
            env={**os.environ, "BURST_RESULTS": str(results_path)},
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        counter.stop.set()
        watcher.join(timeout=10)
    results = json.loads(results_path.read_text())
    report = f"{results}\n{locust.stdout[-3000:]}\n{locust.stderr[-3000:]}"
    statuses = {int(status): count for status, count in results["statuses"].items()}
    assert not [status for status in statuses if status >= 500 or status == 0], report
    assert results["failures"] == 0, report
    assert statuses.get(302) == USERS, report  # every user signed in
    assert statuses.get(200, 0) >= USERS, report

    # Every process of make run connects as the app's role, never as the owner; each
    # web worker, worker process and beat holds at most its own connection and one of
    # the broker's (kombu's SQLAlchemy transport on the same database).
    assert set(counter.peak) == {make_run.role}, counter.peak
    processes = WEB_WORKERS + (1 + WORKER_CONCURRENCY) + 1
    assert 1 <= counter.peak[make_run.role] <= 2 * processes, counter.peak
