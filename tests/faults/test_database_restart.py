"""PostgreSQL stopped and started again under load: 503 meanwhile, then recovery by itself.

The app runs under gunicorn (two workers, production's persistent and health-checked
connections) on a PostgreSQL of this test's own, holding a copy of the test database.
Two clients keep reading and writing while that server is stopped (fast shutdown:
open transactions are cut off) and started again; the app is never restarted.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import requests
from django.apps import apps
from django.utils import timezone
from psycopg import sql

from ecrf.safety.models import AdverseEvent, SafetyNotification

from ..conftest import run_manage
from ..databases import template_url
from .audit import audit_mismatches
from .conftest import wait_until

pytestmark = [
    pytest.mark.faults,
    pytest.mark.requirement("ICH-E6R3-4.3.6-CRASH-CONSISTENCY", "ICH-E6R3-4.3.6-SYSTEM-FAILURE"),
    pytest.mark.needs_broker,
    pytest.mark.django_db(transaction=True),
]

UNAVAILABLE = "The database cannot be reached"


@dataclass(frozen=True)
class Call:
    """One request of the load and what came back."""

    kind: str
    started: float
    finished: float
    status: int
    content_type: str
    retry_after: str | None
    body: str
    term: str = ""


@dataclass
class Load:
    """Clients that read a page, read the API and record a serious adverse event, in a loop."""

    base: str
    token: str
    session_cookie: str
    participant_id: int
    calls: list[Call] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, clients: int = 2) -> None:
        for number in range(clients):
            thread = threading.Thread(target=self._loop, name=f"client-{number}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _next_term(self) -> str:
        with self.lock:
            self.counter += 1
            return f"Pneumonia #{self.counter}"

    def _loop(self) -> None:
        api = {"Authorization": f"Token {self.token}"}
        participant_url = f"{self.base}/api/v1/participants/{self.participant_id}/"
        while not self.stopping.is_set():
            term = self._next_term()
            body = {
                "term": term,
                "onset_date": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
                "ctcae_grade": 3,
                "serious": True,
                "related": False,
                "outcome": "recovering",
            }
            for kind, method, url, kwargs in [
                ("health", "GET", f"{self.base}/healthz", {}),
                (
                    "page",
                    "GET",
                    f"{self.base}/participants/",
                    {"cookies": {"sessionid": self.session_cookie}},
                ),
                ("api_read", "GET", participant_url, {"headers": api}),
                (
                    "api_write",
                    "POST",
                    f"{participant_url}adverse-events/",
                    {"headers": api, "json": body},
                ),
            ]:
                started = time.monotonic()
                try:
                    response = requests.request(method, url, timeout=60, **kwargs)
                except requests.RequestException as exc:
                    self.errors.append(f"{kind} {url}: {exc!r}")
                    continue
                self.calls.append(
                    Call(
                        kind=kind,
                        started=started,
                        finished=time.monotonic(),
                        status=response.status_code,
                        content_type=response.headers.get("Content-Type", ""),
                        retry_after=response.headers.get("Retry-After"),
                        body=response.text,
                        term=term if kind == "api_write" else "",
                    )
                )

    def rounds_between(self, start: float, end: float = float("inf")) -> list[Call]:
        return [c for c in list(self.calls) if c.started >= start and c.finished <= end]

    def writes_since(self, start: float) -> int:
        return sum(1 for c in self.rounds_between(start) if c.kind == "api_write")


def test_postgresql_restarted_under_load_gives_503_then_recovers_by_itself(
    app_server, own_postgres, notification_queue
):
    app_database = own_postgres.create_database("ecrf", copy_of=template_url())
    seeded = run_manage(
        "shell", "-c", "from tests.faults.seed import seed; seed()", DATABASE_URL=app_database
    )
    made = json.loads(seeded.stdout.strip().splitlines()[-1])
    server = app_server(
        workers=2,
        DJANGO_SETTINGS_MODULE="tests.faults.server_settings",
        DATABASE_URL=app_database,
        SAFETY_NOTIFICATION_QUEUE=notification_queue,
        SAFETY_CONTACTS="desk@sponsor.example",
    )
    workers = server.worker_pids()
    load = Load(server.url, made["token"], made["session"], made["participant"])
    load.start()
    try:
        began = time.monotonic()
        wait_until(lambda: load.writes_since(began) >= 4, what="writes before the stop")

        own_postgres.stop(mode="fast")
        down = time.monotonic()
        wait_until(lambda: load.writes_since(down) >= 4, what="requests while it is down")
        restarting = time.monotonic()

        own_postgres.start()
        up = time.monotonic()
        wait_until(lambda: load.writes_since(up) >= 6, what="requests after the restart")
    finally:
        load.stop()

    assert load.errors == []
    calls = load.calls
    # Never a 500, whatever the moment: an answer, or 503 while the database is away.
    assert {(c.kind, c.status) for c in calls} <= {
        ("health", 200),
        ("health", 503),
        ("page", 200),
        ("page", 503),
        ("api_read", 200),
        ("api_read", 503),
        ("api_write", 201),
        ("api_write", 503),
    }, sorted({(c.kind, c.status) for c in calls})

    # While it is down: 503 with Retry-After, JSON for the API, a page for the browser.
    while_down = load.rounds_between(down, restarting)
    assert {c.kind for c in while_down} == {"health", "page", "api_read", "api_write"}
    for call in while_down:
        assert call.status == 503, call
        if call.kind == "health":
            assert json.loads(call.body)["database"] == "unreachable"
            continue
        assert call.retry_after == "30", call
        if call.kind == "page":
            assert call.content_type.startswith("text/html"), call
            assert UNAVAILABLE in call.body
            assert "<html" in call.body
        else:
            assert call.content_type == "application/json", call
            assert json.loads(call.body)["detail"].startswith(UNAVAILABLE)

    # Once it is back: every request is served again, by the same processes.
    after = load.rounds_between(up)
    assert after and all(c.status in (200, 201) for c in after), [
        (c.kind, c.status, c.body[:200]) for c in after if c.status not in (200, 201)
    ]
    assert server.process.poll() is None
    assert server.worker_pids() == workers

    # Nothing half-written: each 201 is there whole (event, audit event, outbox row),
    # each 503 is not there at all.
    written = {c.term for c in calls if c.kind == "api_write" and c.status == 201}
    refused = {c.term for c in calls if c.kind == "api_write" and c.status == 503}
    assert written and refused
    tables = {
        "events": sql.Identifier(AdverseEvent._meta.db_table),
        "audit": sql.Identifier(apps.get_model("safety", "AdverseEventEvent")._meta.db_table),
        "outbox": sql.Identifier(SafetyNotification._meta.db_table),
    }
    with psycopg.connect(app_database) as conn:
        stored = _terms(conn, sql.SQL("SELECT term FROM {events}").format(**tables))
        audited = _terms(
            conn, sql.SQL("SELECT term FROM {audit} WHERE pgh_label = 'create'").format(**tables)
        )
        outbox = _terms(
            conn,
            sql.SQL(
                "SELECT ae.term FROM {outbox} n JOIN {events} ae ON ae.id = n.adverse_event_id"
            ).format(**tables),
        )
        for name, terms in [("events", stored), ("audit", audited), ("outbox", outbox)]:
            assert sorted(terms) == sorted(written), name
        assert not refused & set(stored)

        assert audit_mismatches(conn) == []
    # And the hash chain over the audit trail is unbroken, as its own command checks it.
    verified = run_manage("verify_audit_trail", DATABASE_URL=app_database)
    assert "Audit trail intact" in verified.stdout


def _terms(conn: psycopg.Connection[Any], query: sql.Composed) -> list[str]:
    return [row[0] for row in conn.execute(query).fetchall()]
