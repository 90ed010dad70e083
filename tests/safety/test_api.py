"""POST /api/v1/participants/{id}/adverse-events/ (API contract, Core flow)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone
from pghistory.models import Events
from rest_framework.test import APIClient

from ecrf.safety.models import AdverseEvent, SafetyNotification

from ..factories import ParticipantFactory
from .conftest import SAFETY_DESK

pytestmark = pytest.mark.django_db


def url(participant) -> str:
    return f"/api/v1/participants/{participant.pk}/adverse-events/"


def body(**overrides):
    values = {
        "term": "Pruritus",
        "onset_date": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
        "ctcae_grade": 1,
        "serious": False,
        "related": True,
        "outcome": "recovered",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not ...}


@pytest.mark.requirement("API-ADVERSE-EVENTS", "PROT-AE-RECORD", "CFR11-10E-CAPTURE")
def test_the_contracts_body_answers_201_with_id(api_for, coordinator_a, participant):
    response = api_for(coordinator_a).post(url(participant), body(), format="json")
    assert response.status_code == 201, response.json()
    ae = AdverseEvent.objects.get()
    assert response.json()["id"] == ae.pk
    assert (ae.participant, ae.term, ae.ctcae_grade, ae.related) == (
        participant,
        "Pruritus",
        1,
        True,
    )
    created = Events.objects.tracks(ae).get()
    assert created.pgh_context["source"] == "api"


@pytest.mark.requirement("API-ADVERSE-EVENTS")
def test_an_investigator_records_too(api_for, investigator_a, participant):
    response = api_for(investigator_a).post(url(participant), body(), format="json")
    assert response.status_code == 201


@pytest.mark.requirement("PROT-AE-RECORD")
def test_optional_fields_are_accepted(api_for, coordinator_a, participant):
    response = api_for(coordinator_a).post(
        url(participant),
        body(
            serious=True,
            ctcae_grade=3,
            outcome="recovered_with_sequelae",
            end_date=timezone.localdate().isoformat(),
            seriousness_criteria=["hospitalisation", "disability"],
            action_taken="withdrawn",
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    ae = AdverseEvent.objects.get()
    assert ae.seriousness_criteria == ["hospitalisation", "disability"]
    assert ae.action_taken == "withdrawn"
    assert ae.end_date == timezone.localdate()


@pytest.mark.requirement("API-ADVERSE-EVENTS", "PROT-SAE-24H", "ICH-E6R3-SAFETY-REPORTING")
def test_a_serious_event_queues_the_sponsors_notification_at_once(
    api_for,
    coordinator_a,
    participant,
    safety_desk,
    celery_eager,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(coordinator_a).post(
            url(participant), body(serious=True, ctcae_grade=3, outcome="recovering"), format="json"
        )
    assert response.status_code == 201, response.json()
    assert [m.to for m in mail.outbox] == [[SAFETY_DESK]]
    assert "SAE" in mail.outbox[0].subject
    ae = AdverseEvent.objects.get()
    assert ae.criteria_missing  # the contract's minimal body: criteria may follow
    assert SafetyNotification.objects.get(adverse_event=ae).sent_at is not None


@pytest.mark.requirement("API-CONV-400-FIELDS", "PROT-AE-RECORD", "CFR11-10A-INVALID")
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ctcae_grade": 6}, "ctcae_grade"),
        ({"ctcae_grade": 0}, "ctcae_grade"),
        ({"ctcae_grade": "three"}, "ctcae_grade"),
        ({"onset_date": "last Tuesday"}, "onset_date"),
        ({"onset_date": "2026-02-30"}, "onset_date"),
        ({"end_date": "soon"}, "end_date"),
        ({"outcome": "cured"}, "outcome"),
        ({"serious": "maybe"}, "serious"),
        ({"related": None}, "related"),
        ({"term": ""}, "term"),
        ({"term": ...}, "term"),
        ({"serious": ...}, "serious"),
        ({"seriousness_criteria": ["bad_luck"]}, "seriousness_criteria"),
        ({"seriousness_criteria": "hospitalisation"}, "seriousness_criteria"),
        ({"seriousness_criteria": ["hospitalisation"]}, "seriousness_criteria"),
        ({"action_taken": "prayed"}, "action_taken"),
        ({"ctcae_grade": 5, "serious": True}, "outcome"),
        ({"outcome": "fatal", "serious": True}, "ctcae_grade"),
        ({"ctcae_grade": 5, "outcome": "fatal"}, "serious"),
        ({"onset_date": "2020-01-01"}, "onset_date"),
        ({"end_date": "2020-01-01"}, "end_date"),
        ({"learned_at": "2999-01-01T00:00:00+09:00"}, "learned_at"),
        ({"learned_at": "0001-01-01T00:00:00"}, "learned_at"),
    ],
)
def test_bad_input_answers_400_naming_the_field(
    overrides, field, api_for, coordinator_a, participant
):
    response = api_for(coordinator_a).post(url(participant), body(**overrides), format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert all(isinstance(m, str) and m for m in errors[field])
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("PROT-AE-RECORD", "API-CONV-400-FIELDS")
def test_onset_in_the_future_answers_400(api_for, coordinator_a, participant):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = api_for(coordinator_a).post(
        url(participant), body(onset_date=tomorrow), format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"onset_date"}


@pytest.mark.requirement("API-CONV-404-SITE", "ICH-E6R3-CONFIDENTIALITY")
def test_another_sites_participant_answers_404(
    api_for, coordinator_a, randomized, site_b, make_user
):
    other = randomized(site=site_b, coordinator=make_user("coordinator", ["S02"]))
    response = api_for(coordinator_a).post(url(other), body(), format="json")
    assert response.status_code == 404
    assert other.subject_id not in response.content.decode()


@pytest.mark.requirement("API-CONV-403-READ-ONLY", "CFR11-10G-AUTHORITY")
@pytest.mark.parametrize("role", ["monitor", "data_manager", "statistician", "admin"])
def test_read_only_roles_answer_403(role, make_user, api_for, participant):
    response = api_for(make_user(role)).post(url(participant), body(), format="json")
    assert response.status_code == 403
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("API-CONV-409-STATE", "CFR11-10F-SEQUENCING")
def test_a_participant_who_has_not_consented_answers_409(api_for, coordinator_a, site_a):
    participant = ParticipantFactory(site=site_a, performed_by=coordinator_a)
    response = api_for(coordinator_a).post(url(participant), body(), format="json")
    assert response.status_code == 409
    assert "consent" in response.json()["detail"]
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("API-ADVERSE-EVENTS", "PROT-AE-RECORD", "PROT-AE-PRE-TREATMENT")
def test_a_consented_participant_not_yet_randomized_has_her_adverse_event_recorded(
    api_for, coordinator_a, ready_participant
):
    participant = ready_participant()
    response = api_for(coordinator_a).post(url(participant), body(), format="json")
    assert response.status_code == 201
    assert response.json()["pre_treatment"] is True
    assert AdverseEvent.objects.get(participant=participant).pre_treatment is True


@pytest.mark.requirement("API-ADVERSE-EVENTS")
def test_pre_treatment_is_read_only(api_for, coordinator_a, participant):
    response = api_for(coordinator_a).post(
        url(participant), body(pre_treatment=False), format="json"
    )
    assert response.status_code == 201
    assert response.json()["pre_treatment"] is True


@pytest.mark.requirement("API-CONV-401")
def test_no_token_answers_401(participant):
    assert APIClient().post(url(participant), body(), format="json").status_code == 401


@pytest.mark.requirement("API-OPENAPI", "API-ADVERSE-EVENTS")
def test_the_schema_describes_the_endpoint(api_for, coordinator_a):
    response = api_for(coordinator_a).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    operation = paths["/api/v1/participants/{id}/adverse-events/"]["post"]
    schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[-1]
    component = response.json()["components"]["schemas"][name]
    assert set(component["required"]) == {
        "term",
        "onset_date",
        "ctcae_grade",
        "serious",
        "related",
        "outcome",
    }
    for code in ["recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal"]:
        assert f'"{code}"' in response.content.decode()
