"""The broker down: writes still succeed, and their notifications go out when it returns.

The app runs under gunicorn with a broker (a Redis of the test's own) that is not
running. A serious adverse event is saved anyway: the sponsor's notification waits in
the outbox table; so does an unblinding, with the data manager's e-mail. The broker then
starts on the same address, a real worker with it, and the beat job's tasks re-queue
both: the sponsor and the data manager each get one e-mail.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client
from django.utils import timezone

from ecrf.celery import app
from ecrf.notifications.models import StaffNotification
from ecrf.notifications.tasks import requeue_staff_notifications
from ecrf.participants.models import Unblinding
from ecrf.safety.models import SafetyNotification
from ecrf.safety.tasks import requeue_safety_notifications

from ..conftest import sign_in
from ..factories import api_key_for
from ..safety.conftest import SAFETY_DESK
from .conftest import wait_until

pytestmark = [
    pytest.mark.faults,
    pytest.mark.requirement(
        "ICH-E6R3-4.3.6-CRASH-CONSISTENCY", "ICH-E6R3-4.3.6-SYSTEM-FAILURE", "PROT-SAE-24H"
    ),
    pytest.mark.needs_broker,
    pytest.mark.django_db(transaction=True),
]

SLOW_MAIL = "tests.mail_backends.SlowFileBackend"


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


def mailed_subjects(outbox: Path) -> list[str]:
    return sorted(
        str(email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Subject"])
        for path in outbox.glob("*.eml")
    )


def unblind(base: str, participant: Any, investigator: Any) -> requests.Response:
    """An investigator unblinds ``participant`` through the web form (blinding the study)."""
    study = participant.site.study
    study.blinded = True
    study.blinded_roles = ["coordinator", "monitor"]
    study.save()
    browser = requests.Session()
    browser.cookies.set("sessionid", sign_in(Client(), investigator).cookies["sessionid"].value)
    url = f"{base}/participants/{participant.pk}/unblind/"
    page = browser.get(url, timeout=60)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    return browser.post(
        url,
        data={"csrfmiddlewaretoken": token.group(1), "reason": "Suspected SAE"},
        allow_redirects=False,
        timeout=60,
    )


def beat_requeue(broker_url: str, queue: str) -> None:
    """What beat does every five minutes: queue the re-queue tasks (for the test's worker)."""
    with app.connection_for_write(broker_url) as connection:
        requeue_safety_notifications.apply_async(queue=queue, connection=connection)
        requeue_staff_notifications.apply_async(queue=queue, connection=connection)


def test_a_serious_event_saved_while_the_broker_is_down_is_mailed_once_when_it_returns(
    app_server,
    own_redis,
    start_worker,
    participant,
    coordinator_a,
    investigator_a,
    make_user,
    notification_queue,
    tmp_path,
):
    make_user("data_manager", email="dm@sponsor.example")
    token = api_key_for(coordinator_a)
    server = app_server(
        workers=1,
        CELERY_BROKER_URL=own_redis.url,
        SAFETY_NOTIFICATION_QUEUE=notification_queue,
        NOTIFICATION_QUEUE=notification_queue,
        SAFETY_CONTACTS=SAFETY_DESK,
    )
    url = f"{server.url}/api/v1/participants/{participant.pk}/adverse-events/"
    headers = {"Authorization": f"Token {token}"}

    # The broker's host does not answer: the health check says so within its timeout,
    # and the write succeeds all the same (the request's timeout: not minutes of waiting).
    own_redis.hang()
    health = requests.get(f"{server.url}/healthz", timeout=60)
    assert (health.status_code, health.json()["broker"]) == (503, "unreachable")
    response = requests.post(url, json=sae_body("Pneumonia"), headers=headers, timeout=60)
    assert response.status_code == 201, server.log_text()[-5000:]
    notification = SafetyNotification.objects.get(adverse_event_id=response.json()["id"])
    assert (notification.sent_at, notification.attempts) == (None, 0)
    # The hand-over to the broker failed after the commit, and only that was lost.
    assert "on_commit" in server.log_text()

    # The broker is down (connections refused): an unblinding is kept too, and so is
    # the data manager's e-mail about it.
    own_redis.refuse()
    unblinded = unblind(server.url, participant, investigator_a)
    assert unblinded.status_code == 302, server.log_text()[-5000:]
    assert Unblinding.objects.get(participant=participant).reason == "Suspected SAE"
    staff = StaffNotification.objects.get(kind="unblinding")
    assert (staff.recipient.email, staff.sent_at, staff.attempts) == (
        "dm@sponsor.example",
        None,
        0,
    )

    # The broker returns on the same address, with a worker.
    own_redis.start()
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    worker = start_worker(
        queue=notification_queue,
        CELERY_BROKER_URL=own_redis.url,
        SAFETY_NOTIFICATION_QUEUE=notification_queue,
        NOTIFICATION_QUEUE=notification_queue,
        SAFETY_CONTACTS=SAFETY_DESK,
        EMAIL_BACKEND=SLOW_MAIL,
        EMAIL_FILE_PATH=str(outbox),
    )
    beat_requeue(own_redis.url, notification_queue)
    wait_until(
        lambda: worker.tasks_succeeded() >= 4,
        what="the two re-queues and the two sendings",
        timeout=60,
        log=worker.log_text,
    )
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert notification.attempts == 1
    staff.refresh_from_db()
    assert (staff.sent_at is not None, staff.attempts) == (True, 1)
    assert mailed_subjects(outbox) == sorted([notification.subject, staff.subject])

    # Beat's next run sends nothing twice; the app, never restarted, queues again.
    beat_requeue(own_redis.url, notification_queue)
    later = requests.post(url, json=sae_body("Sepsis"), headers=headers, timeout=60)
    assert later.status_code == 201, later.text
    wait_until(
        lambda: worker.tasks_succeeded() >= 7,
        what="the second runs and the second event's sending",
        timeout=60,
        log=worker.log_text,
    )
    second = SafetyNotification.objects.get(adverse_event_id=later.json()["id"])
    assert second.sent_at is not None
    assert mailed_subjects(outbox) == sorted([notification.subject, staff.subject, second.subject])
    health = requests.get(f"{server.url}/healthz", timeout=60)
    assert health.status_code == 200, json.dumps(health.json())
