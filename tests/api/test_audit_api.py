"""``GET /api/v1/audit-events/`` and ``POST /api/v1/audit-reviews/`` (API contract, Review)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from ecrf.endpoints.services import endpoint_record
from ecrf.quality.services import verification_mark
from ecrf.review.models import AuditReview

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/audit-events/"
REVIEWS = "/api/v1/audit-reviews/"
COLUMNS = [
    "timestamp",
    "user",
    "role",
    "site",
    "subject_id",
    "record",
    "record_id",
    "field",
    "old_value",
    "new_value",
    "reason",
    "action",
]


@pytest.fixture
def chained() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture
def verified_then_corrected(chained, make_user, coordinator_a, biochemical):
    monitor = make_user("monitor", ["S01"], username="monitor_s01")
    verification_mark(
        participant=biochemical,
        record="biochemical_pregnancy",
        fields=["serum_hcg_miu_ml"],
        performed_by=monitor,
    )
    endpoint_record(
        participant=biochemical,
        record="biochemical_pregnancy",
        values={
            "assessed_on": dt.date(2026, 3, 15),
            "serum_hcg_miu_ml": Decimal("150"),
            "result": "positive",
        },
        reason="Transcription error",
        performed_by=coordinator_a,
    )
    return biochemical, monitor


def test_a_monitor_filters_the_trail_to_changes_after_verification(
    api_for, verified_then_corrected
):
    participant, monitor = verified_then_corrected
    response = api_for(monitor).get(
        EVENTS, {"subject_id": participant.subject_id, "signal": "after_verification"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next"] is None
    [event] = body["results"]
    assert list(event)[: len(COLUMNS)] == COLUMNS
    assert (event["field"], event["old_value"], event["new_value"]) == (
        "serum_hcg_miu_ml",
        "140.00",
        "150.00",
    )
    assert event["user"] == "coordinator_a" and event["action"] == "update"
    assert event["reason"] == "Transcription error" and event["site"] == "S01"
    assert "after_verification" in event["signals"]
    assert dt.datetime.fromisoformat(event["timestamp"]).utcoffset() == dt.timedelta(hours=9)


def test_the_cursor_walks_the_whole_filtered_trail_once(api_for, make_user, biochemical, chained):
    manager = make_user("data_manager")
    client = api_for(manager)
    first = client.get(EVENTS, {"subject_id": biochemical.subject_id, "page_size": 5}).json()
    seen = [tuple(e.values()) for e in first["results"]]
    following = first["next"]
    while following:
        page = client.get(following).json()
        seen += [tuple(e.values()) for e in page["results"]]
        following = page["next"]
    everything = client.get(EVENTS, {"subject_id": biochemical.subject_id, "page_size": 500})
    assert seen == [tuple(e.values()) for e in everything.json()["results"]]
    assert len(seen) > 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"signal": "suspicious"}, "signal"),
        ({"action": "rename"}, "action"),
        ({"cursor": "abc"}, "cursor"),
        ({"page_size": "0"}, "page_size"),
        ({"site": "S99"}, "site"),
    ],
)
def test_a_bad_filter_is_refused_naming_it(api_for, make_user, study, params, field):
    response = api_for(make_user("data_manager")).get(EVENTS, params)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("role", ["coordinator", "investigator", "statistician"])
def test_other_roles_do_not_read_the_audit_events(api_for, make_user, study, role):
    assert api_for(make_user(role)).get(EVENTS).status_code == 403


def test_a_monitor_reads_no_event_of_a_site_she_does_not_see(api_for, make_user, biochemical):
    other = make_user("monitor", ["S02"])
    response = api_for(other).get(EVENTS, {"subject_id": biochemical.subject_id})
    assert response.json()["results"] == []
    assert api_for(other).get(EVENTS, {"site": "S01"}).status_code == 400


def test_a_review_sign_off_is_recorded_and_audited(api_for, make_user, study):
    monitor = make_user("monitor", ["S01"])
    response = api_for(monitor).post(
        REVIEWS,
        {"site": "S01", "through": "2026-03-31T18:00:00+09:00", "comment": "Reviewed; fine."},
        format="json",
    )
    assert response.status_code == 201, response.content
    review = AuditReview.objects.get(pk=response.json()["id"])
    assert review.reviewed_by == monitor
    assert review.events.get().pgh_context["username"] == monitor.username
    listed = api_for(monitor).get(REVIEWS).json()
    assert [r["id"] for r in listed] == [review.pk]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"site": "S01", "through": "2026-03-31T18:00", "comment": "x"}, "through"),
        ({"site": "S01", "through": "2999-01-01T00:00+09:00", "comment": "x"}, "through"),
        # At the calendar's edge, a time that no zone conversion can hold.
        ({"site": "S01", "through": "0001-01-01T00:00:00", "comment": "x"}, "through"),
        ({"site": "S01", "through": "0001-01-01T00:00:00+14:00", "comment": "x"}, "through"),
        ({"site": "S01", "through": "2026-03-31T18:00+09:00", "comment": ""}, "comment"),
        ({"site": "S02", "through": "2026-03-31T18:00+09:00", "comment": "x"}, "site"),
        ({"site": ["S01"], "through": "2026-03-31T18:00+09:00", "comment": "x"}, "site"),
    ],
)
def test_a_bad_sign_off_is_refused_naming_the_field(api_for, make_user, study, body, field):
    monitor = make_user("monitor", ["S01"])
    response = api_for(monitor).post(REVIEWS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not AuditReview.objects.exists()


def test_statisticians_do_not_sign_off(api_for, make_user, study):
    response = api_for(make_user("statistician")).post(
        REVIEWS, {"site": "S01", "through": "2026-03-31", "comment": "x"}, format="json"
    )
    assert response.status_code == 403
