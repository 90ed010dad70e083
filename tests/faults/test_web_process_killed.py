"""The web process killed in the middle of a save: all of the save or none of it.

A serious adverse event saved through the API writes the event, its audit event and
the sponsor's notification (the outbox) in one transaction. The test holds a lock the
save needs, so the request waits at a known point; gunicorn (master and workers) is
then SIGKILLed, the lock released, and the database left to finish on its own.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import requests
from django.apps import apps
from django.utils import timezone

from ecrf.accounts.models import User
from ecrf.audit.chain import chain_verify
from ecrf.safety.models import AdverseEvent, SafetyNotification

from ..factories import api_key_for
from .audit import audit_mismatches
from .conftest import (
    backend_alive,
    blocked_backends,
    wait_until,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.requirement("ICH-E6R3-4.3.6-CRASH-CONSISTENCY", "CFR11-10E-CAPTURE"),
    pytest.mark.needs_broker,
    pytest.mark.django_db(transaction=True),
]

#: Where the save waits, and the lock that makes it wait there.
OUTBOX = SafetyNotification._meta.db_table
USERS = User._meta.db_table
WAIT_POINTS = {
    # Mid-transaction: the adverse event and its audit event are written; the outbox row
    # waits for a table lock.
    "before_commit": (f'LOCK TABLE "{OUTBOX}" IN EXCLUSIVE MODE', f'INSERT INTO "{OUTBOX}"'),
    # At COMMIT: everything is written; the deferred foreign-key check of ``recorded_by``
    # waits for the coordinator's row.
    "at_commit": (f'SELECT 1 FROM "{USERS}" WHERE "id" = %(user)s FOR UPDATE', "COMMIT"),
}


def assert_chain_intact() -> None:
    """The hash chain over every audit event holds, including any the killed save wrote."""
    report = chain_verify(checked_by="fault test")
    assert report.intact, str(report.finding)


def sae_body(term: str) -> dict[str, Any]:
    return {
        "term": term,
        "onset_date": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
        "ctcae_grade": 3,
        "serious": True,
        "seriousness_criteria": ["hospitalisation"],
        "related": False,
        "outcome": "recovering",
    }


def post_sae(url: str, token: str, term: str) -> requests.Response:
    return requests.post(
        url, json=sae_body(term), headers={"Authorization": f"Token {token}"}, timeout=60
    )


def send(url: str, token: str, term: str) -> dict[str, Any]:
    """POST the serious adverse event ``term``; answer the response or the error."""
    try:
        return {"response": post_sae(url, token, term)}
    except requests.RequestException as exc:
        return {"error": exc}


def saved(term: str) -> dict[str, Any]:
    """What the database holds of the adverse event ``term``: rows and audit events."""
    events = apps.get_model("safety", "AdverseEventEvent").objects.filter(term=term)
    return {
        "adverse_events": AdverseEvent.objects.filter(term=term).count(),
        "audit_events": events.count(),
        "notifications": SafetyNotification.objects.filter(adverse_event__term=term).count(),
    }


@pytest.mark.parametrize("wait_point", sorted(WAIT_POINTS))
def test_a_web_process_killed_mid_save_leaves_all_or_nothing(
    wait_point, app_server, participant, coordinator_a, lock_holder, observer, notification_queue
):
    lock_sql, waiting_statement = WAIT_POINTS[wait_point]
    token = api_key_for(coordinator_a)
    server = app_server(
        workers=1,
        SAFETY_NOTIFICATION_QUEUE=notification_queue,
        SAFETY_CONTACTS="desk@sponsor.example",
    )
    url = f"{server.url}/api/v1/participants/{participant.pk}/adverse-events/"
    term = f"Pneumonia ({wait_point})"
    assert audit_mismatches(observer) == []
    assert_chain_intact()

    lock_holder.execute(lock_sql, {"user": coordinator_a.pk})
    outcome: dict[str, Any] = {}
    sender = threading.Thread(target=lambda: outcome.update(send(url, token, term)))
    sender.start()
    try:
        blocked = wait_until(
            lambda: blocked_backends(observer, blocker_pid=lock_holder.info.backend_pid),
            what="the save to wait for the lock",
            log=server.log_text,
        )
        assert len(blocked) == 1
        orphan_pid, statement = blocked[0]
        assert waiting_statement in statement, statement
        server.kill()
        sender.join(timeout=60)
    finally:
        lock_holder.rollback()
    assert isinstance(outcome.get("error"), requests.ConnectionError), outcome
    # Its client gone, the session finishes the statement it was waiting in and ends.
    wait_until(lambda: not backend_alive(observer, orphan_pid), what="the orphaned session")

    if wait_point == "before_commit":
        # The open transaction died with its client: none of it was kept.
        assert saved(term) == {"adverse_events": 0, "audit_events": 0, "notifications": 0}
    else:
        # The COMMIT had been sent: all of it was kept, though nobody heard the answer.
        assert saved(term) == {"adverse_events": 1, "audit_events": 1, "notifications": 1}
        notification = SafetyNotification.objects.get(adverse_event__term=term)
        # The process died before its on-commit hand-over to the broker: the outbox row
        # waits, never tried, for the beat job.
        assert (notification.sent_at, notification.attempts, notification.last_attempt_at) == (
            None,
            0,
            None,
        )
    assert audit_mismatches(observer) == []
    assert_chain_intact()

    # The server started again serves, and the same save goes through whole.
    server.start()
    again = f"{term} again"
    response = post_sae(url, token, again)
    assert response.status_code == 201, response.text
    assert saved(again) == {"adverse_events": 1, "audit_events": 1, "notifications": 1}
    assert audit_mismatches(observer) == []
    assert_chain_intact()
