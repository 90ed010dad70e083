"""Each event says where it came from: a request, a Celery task or a management command."""

from __future__ import annotations

import time

import psycopg
import pytest
from celery import shared_task
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone
from pghistory.models import Events

from ecrf.accounts.models import User
from ecrf.audit.chain import event_tables
from ecrf.home.tasks import sessions_clear_expired
from ecrf.studies.models import Study

from ..conftest import database_url, run_manage


@shared_task(name="tests.rename_study")
def rename_study(study_id: int, title: str) -> None:
    Study.objects.filter(pk=study_id).update(title_en=title)


@pytest.mark.requirement("CFR11-10E-CAPTURE", "CFR11-10H-SOURCE")
@pytest.mark.django_db
def test_web_request_names_path_and_request_id(client_for, coordinator_a, site_a):
    client = client_for(coordinator_a)
    response = client.post(
        "/participants/new/",
        {"site": site_a.pk, "screening_date": "2026-11-01", "birth_date": "1990-01-01"},
    )
    assert response.status_code == 302
    event = Events.objects.filter(pgh_obj_model="participants.Participant").get()
    assert event.pgh_context["source"] == "web"
    assert event.pgh_context["url"] == "/participants/new/"
    assert event.pgh_context["request_id"] == response["X-Request-ID"]
    assert event.pgh_context["actor"] == coordinator_a.username


@pytest.mark.requirement("CFR11-10E-CAPTURE")
@pytest.mark.django_db
def test_celery_task_names_task_and_id(study):
    result = rename_study.apply(args=[study.pk, "Renamed"])
    event = Events.objects.tracks(study).filter(pgh_label="update").get()
    assert event.pgh_context["source"] == "celery"
    assert event.pgh_context["task"] == "tests.rename_study"
    assert event.pgh_context["task_id"] == result.id
    assert event.pgh_context["actor"] == "system:rename_study"


@pytest.mark.requirement("CFR11-10E-CAPTURE", "ICH-E6R3-4.2.2-ACCOUNTS-LOG")
@pytest.mark.django_db(transaction=True)
def test_management_command_names_itself(study):
    run_manage(
        "create_study_user",
        "newmonitor",
        "--role",
        "monitor",
        "--site",
        "S01",
        "--password",
        "Another-Long-Passphrase-9",
    )
    user = User.objects.get(username="newmonitor")
    event = Events.objects.tracks(user).get()
    assert event.pgh_context["source"] == "command"
    assert event.pgh_context["command"] == "create_study_user"
    assert event.pgh_context["actor"] == "system:create_study_user"


@pytest.mark.needs_broker
def test_a_real_worker_consumes_the_broker(celery_worker):
    """A task sent through the configured broker is run by a separate worker process."""
    expired = Session.objects.create(
        session_key="x" * 32,
        session_data="",
        expire_date=timezone.now() - timezone.timedelta(days=1),
    )
    sessions_clear_expired.delay()
    for _ in range(150):
        if not Session.objects.filter(pk=expired.pk).exists():
            break
        time.sleep(0.2)
    assert not Session.objects.filter(pk=expired.pk).exists()


@pytest.mark.requirement("CFR11-10E-CAPTURE")
@pytest.mark.django_db(transaction=True)
def test_a_write_from_outside_the_app_names_its_program(study):
    """A program that writes with its own connection, outside any request, command or task,
    is named by the ``application_name`` it gives PostgreSQL (psql gives ``psql``); one
    that gives none is ``system:database``. No event is left without an actor."""
    for program, title in [("psql", "Renamed in psql"), ("", "Renamed anonymously")]:
        with psycopg.connect(database_url(), application_name=program, autocommit=True) as conn:
            conn.execute("UPDATE studies_study SET title_en = %s WHERE id = %s", [title, study.pk])
    events = Events.objects.tracks(study).filter(pgh_label="update").order_by("pgh_id")
    assert [e.pgh_context["actor"] for e in events] == ["system:psql", "system:database"]
    with connection.cursor() as cursor:
        for table in event_tables():
            cursor.execute(
                f"SELECT count(*) FROM {connection.ops.quote_name(table)} "  # noqa: S608
                "WHERE coalesce(pgh_context ->> 'actor', '') = ''"
            )
            assert cursor.fetchone() == (0,), table
