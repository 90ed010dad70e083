"""The API frame: tokens, error format, status codes and site scoping (API contract)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ecrf.participants.models import Participant

pytestmark = pytest.mark.django_db


@pytest.mark.requirement("API-CONV-401", "CFR11-10D-ACCESS")
def test_no_token_answers_401():
    assert APIClient().get("/api/v1/participants/").status_code == 401


@pytest.mark.requirement("API-CONV-401", "CFR11-10D-ACCESS", "CFR11-10H-SOURCE")
def test_a_wrong_token_answers_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    assert client.get("/api/v1/participants/").status_code == 401


@pytest.mark.requirement("API-PARTICIPANT-CREATE", "API-CONV-JSON", "PROT-SCREEN-LOG")
def test_coordinator_registers_a_participant(api_for, coordinator_a):
    response = api_for(coordinator_a).post(
        "/api/v1/participants/",
        {"site": "S01", "screening_date": "2026-11-01", "birth_date": "1990-02-03"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["subject_id"] == "S01-001"
    assert body["site"] == "S01"
    assert body["status"] == "screening"
    assert isinstance(body["id"], int)


@pytest.mark.requirement("API-PARTICIPANT-CREATE", "PROT-SCREEN-LOG")
def test_subject_ids_are_sequential_per_site(api_for, coordinator_a):
    client = api_for(coordinator_a)
    ids = [
        client.post(
            "/api/v1/participants/",
            {"site": "S01", "screening_date": "2026-11-01", "birth_date": "1990-02-03"},
            format="json",
        ).json()["subject_id"]
        for _ in range(3)
    ]
    assert ids == ["S01-001", "S01-002", "S01-003"]


@pytest.mark.requirement("API-CONV-400-FIELDS", "CFR11-10A-INVALID")
def test_validation_errors_name_each_field(api_for, coordinator_a):
    response = api_for(coordinator_a).post(
        "/api/v1/participants/",
        {"site": "S01", "screening_date": "not a date", "birth_date": "2030-01-01"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"screening_date"}
    assert all(isinstance(m, str) for m in body["screening_date"])
    assert Participant.objects.count() == 0


@pytest.mark.requirement("API-CONV-400-FIELDS", "CFR11-10A-INVALID")
def test_impossible_dates_are_refused_with_the_field_named(api_for, coordinator_a):
    response = api_for(coordinator_a).post(
        "/api/v1/participants/",
        {"site": "S01", "screening_date": "2026-11-01", "birth_date": "2019-01-01"},
        format="json",
    )
    assert response.status_code == 400
    assert "expected an age" in response.json()["birth_date"][0]
    assert Participant.objects.count() == 0


@pytest.mark.requirement("CFR11-10A-INVALID")
def test_the_plausible_age_at_screening_is_a_study_setting(api_for, coordinator_a, site_a):
    def enrol(birth_date: str):
        return api_for(coordinator_a).post(
            "/api/v1/participants/",
            {"site": "S01", "screening_date": "2026-11-01", "birth_date": birth_date},
            format="json",
        )

    assert enrol("1976-11-02").status_code == 201
    study = site_a.study
    study.screening_age_max = 45
    study.save(update_fields=["screening_age_max"])
    response = enrol("1976-11-02")
    assert response.status_code == 400
    assert response.json()["birth_date"] == [
        "This date of birth makes her 49 at screening; expected an age from 15 to 45."
    ]
    assert Participant.objects.count() == 1


@pytest.mark.requirement(
    "CFR11-10G-AUTHORITY", "API-CONV-400-FIELDS", "ICH-E6R3-4.3.8-USER-MANAGEMENT"
)
def test_a_site_she_does_not_work_at_is_refused(api_for, coordinator_a, site_b):
    response = api_for(coordinator_a).post(
        "/api/v1/participants/",
        {"site": "S02", "screening_date": "2026-11-01", "birth_date": "1990-02-03"},
        format="json",
    )
    assert response.status_code == 400
    assert "site" in response.json()
    assert Participant.objects.count() == 0


@pytest.mark.requirement("API-CONV-JSON", "ICH-E6R3-4.3.3-HOSTILE")
def test_a_body_that_is_not_json_is_400(api_for, coordinator_a):
    response = api_for(coordinator_a).post(
        "/api/v1/participants/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.requirement("API-CONV-403-READ-ONLY", "CFR11-10G-AUTHORITY")
@pytest.mark.parametrize(
    "role", ["investigator", "monitor", "data_manager", "statistician", "admin"]
)
def test_read_only_roles_get_403_on_writes(role, make_user, api_for, participant_a):
    client = api_for(make_user(role))
    assert client.get(f"/api/v1/participants/{participant_a.pk}/").status_code == 200
    assert (
        client.post(
            "/api/v1/participants/",
            {"site": "S01", "screening_date": "2026-11-01", "birth_date": "1990-02-03"},
            format="json",
        ).status_code
        == 403
    )
    assert (
        client.patch(
            f"/api/v1/participants/{participant_a.pk}/",
            {"birth_date": "1990-02-04", "reason": "x"},
            format="json",
        ).status_code
        == 403
    )


@pytest.mark.requirement("API-CONV-REASON", "API-PARTICIPANT-DETAIL", "CFR11-10E-CONTENT")
def test_changing_a_saved_value_needs_a_reason(api_for, coordinator_a, participant_a):
    client = api_for(coordinator_a)
    url = f"/api/v1/participants/{participant_a.pk}/"
    refused = client.patch(url, {"birth_date": "1991-05-17"}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()) == ["reason"]
    participant_a.refresh_from_db()
    assert str(participant_a.birth_date) == "1990-05-17"

    accepted = client.patch(
        url, {"birth_date": "1991-05-17", "reason": "Source document"}, format="json"
    )
    assert accepted.status_code == 200
    assert accepted.json()["birth_date"] == "1991-05-17"


@pytest.mark.requirement("API-PARTICIPANT-LIST")
def test_list_filters_by_site_and_status(api_for, make_user, participant_a, participant_b):
    client = api_for(make_user("data_manager"))
    everything = client.get("/api/v1/participants/").json()
    assert everything["count"] == 2
    s02 = client.get("/api/v1/participants/?site=S02").json()
    assert [p["subject_id"] for p in s02["results"]] == ["S02-001"]
    assert client.get("/api/v1/participants/?status=randomized").json()["count"] == 0
    bad = client.get("/api/v1/participants/?status=dancing")
    assert bad.status_code == 400 and "status" in bad.json()


@pytest.mark.requirement("API-CONV-404-SITE")
def test_unknown_ids_answer_404_not_500(api_for, coordinator_a):
    client = api_for(coordinator_a)
    assert client.get("/api/v1/participants/999999/").status_code == 404
    assert client.get("/api/v1/participants/abc/").status_code == 404


@pytest.mark.requirement("API-OPENAPI")
def test_openapi_document_describes_the_api():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/participants/" in schema["paths"]
    assert "/api/v1/participants/{id}/" in schema["paths"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.requirement("API-OPENAPI", "ICH-E6R3-4.3.3-SECURITY")
def test_api_docs_page_is_served_without_any_cdn():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "https://" not in html


@pytest.mark.requirement("API-OPENAPI")
def test_openapi_document_is_valid_and_generates_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.requirement("API-OPENAPI", "API-RANDOMIZE")
def test_openapi_document_has_every_contract_route_of_the_core_flow():
    paths = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path, method in [
        ("/api/v1/participants/", "post"),
        ("/api/v1/participants/", "get"),
        ("/api/v1/participants/{id}/", "get"),
        ("/api/v1/participants/{id}/eligibility/", "put"),
        ("/api/v1/participants/{id}/consent/", "post"),
        ("/api/v1/participants/{id}/randomize/", "post"),
    ]:
        assert method in paths[path], (path, method)
    randomize = paths["/api/v1/participants/{id}/randomize/"]["post"]
    assert any(
        p["name"] == "Idempotency-Key" and p["in"] == "header" for p in randomize["parameters"]
    )
