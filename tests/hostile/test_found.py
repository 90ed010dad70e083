"""What the generated cases found, kept as plain tests so that none can come back unseen.

Each of these answered 500, or stored less than was sent, before it was fixed.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ecrf.endpoints.models import BiochemicalPregnancy, ClinicalPregnancy, EditCheckSetting
from ecrf.quality.models import Lock
from ecrf.queries.models import Query
from ecrf.schedule.services import embryo_transfer_set
from randomization.models import RandomizationList
from tests.clock import at

from .engine import row_counts

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.requirement("ICH-E6R3-4.3.3-HOSTILE", "CFR11-10A-INVALID"),
]


@pytest.mark.requirement("API-CONV-JSON")
def test_json_nested_too_deeply_answers_400(api_for, coordinator_a):
    client = api_for(coordinator_a)
    before = row_counts()
    response = client.generic(
        "POST", "/api/v1/participants/", b"[" * 100_000 + b"]" * 100_000, "application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()
    assert row_counts() == before


@pytest.mark.parametrize("text", ["Check\x00 this", "x" * 2001])
def test_a_query_with_a_nul_character_or_too_long_is_refused_on_the_page(
    text, client_for, make_user, ready_participant
):
    participant = ready_participant()
    monitor = client_for(make_user("monitor"))
    before = row_counts()
    response = monitor.post(
        f"/participants/{participant.pk}/queries/",
        {"target": "consent.consent_date", "text": text},
    )
    assert response.status_code == 302
    errors = [str(m) for m in response.wsgi_request._messages._queued_messages]
    assert errors and not Query.objects.exists()
    assert row_counts() == before


def test_an_answer_with_a_nul_character_is_refused(client_for, make_user, ready_participant):
    from ecrf.queries.services import query_open

    participant = ready_participant()
    query = query_open(
        participant=participant,
        record="consent",
        field="consent_date",
        text="Check the date",
        performed_by=make_user("monitor"),
    )
    coordinator = client_for(participant.registered_by)
    coordinator.post(f"/queries/{query.pk}/respond/", {"text": "ok\x00"})
    query.refresh_from_db()
    assert query.status == "open"
    assert query.messages.count() == 1


def test_a_nul_character_in_the_site_filter_answers_400(api_for, coordinator_a):
    response = api_for(coordinator_a).get("/api/v1/participants/", {"site": "S01\x00"})
    assert response.status_code == 400
    assert list(response.json()) == ["site"]


def test_an_allocation_table_with_a_number_of_thousands_of_digits_is_refused(
    make_user, client_for, site_a
):
    statistician = client_for(make_user("statistician"))
    table = b"sequence,block,block_size,arm\n" + b"9" * 5000 + b",1,3,low\n"
    lists = RandomizationList.objects.count()
    response = statistician.post(
        "/randomization/import/",
        {"site": site_a.pk, "file": SimpleUploadedFile("list.csv", table)},
    )
    assert response.status_code == 400
    errors = response.context["import_form"].errors["file"]
    assert any("more than 9 digits" in e for e in errors)
    assert RandomizationList.objects.count() == lists


def test_a_lock_whose_reason_is_refused_is_not_set(make_user, client_for, participant_a):
    data_manager = client_for(make_user("data_manager"))
    response = data_manager.post(f"/participants/{participant_a.pk}/lock/", {"reason": "x" * 501})
    assert response.status_code == 400
    assert "reason" in response.context["refused_form"].errors
    assert "Reason: " in response.content.decode()
    assert not Lock.objects.exists()


def test_a_study_lock_whose_reason_is_refused_is_not_set(make_user, client_for, study):
    data_manager = client_for(make_user("data_manager"))
    response = data_manager.post("/participants/study/lock/", {"reason": "x" * 501})
    assert response.status_code == 400
    assert "reason" in response.context["lock_form"].errors
    assert 'id="study-lock-reason-error"' in response.content.decode()
    assert not Lock.objects.exists()


def test_a_verification_of_a_bad_form_code_says_why(make_user, client_for, randomized):
    monitor = client_for(make_user("monitor"))
    response = monitor.post(f"/participants/{randomized.pk}/verify/", {"record": "x" * 41})
    errors = [str(m) for m in response.wsgi_request._messages._queued_messages]
    assert errors and not randomized.verifications.exists()


@pytest.mark.parametrize("channel", ["api", "web"])
def test_sacs_counted_without_a_sac_seen_are_refused_naming_the_field(
    channel, api_for, client_for, coordinator_a, transferred
):
    with at("2026-03-02"):
        embryo_transfer_set(
            participant=transferred,
            et_date=transferred.embryo_transfer.et_date,
            performed=True,
            reason="Performed as planned",
            performed_by=coordinator_a,
        )
    with at("2026-03-23"):
        if channel == "api":
            response = api_for(coordinator_a).put(
                f"/api/v1/participants/{transferred.pk}/clinical-pregnancy/",
                {
                    "assessed_on": "2026-03-22",
                    "gestational_sac_seen": False,
                    "number_of_sacs": 1,
                    "result": "negative",
                },
                format="json",
            )
            assert response.status_code == 400
            assert list(response.json()) == ["number_of_sacs"]
        else:
            response = client_for(coordinator_a).post(
                f"/participants/{transferred.pk}/endpoints/clinical_pregnancy/",
                {
                    "assessed_on": "2026-03-22",
                    "transvaginal_ultrasound": "True",
                    "gestational_sac_seen": "False",
                    "number_of_sacs": "1",
                    "ectopic_pregnancy": "False",
                    "result": "negative",
                },
            )
            assert response.status_code == 400
            assert "number_of_sacs" in response.context["form"].errors
    assert not ClinicalPregnancy.objects.exists()


@pytest.mark.parametrize("channel", ["api", "web"])
def test_an_hcg_beyond_the_column_is_refused_even_with_its_range_check_off(
    channel, api_for, client_for, coordinator_a, transferred
):
    EditCheckSetting.objects.filter(code="hcg_out_of_range").update(enabled=False)
    with at("2026-03-02"):
        embryo_transfer_set(
            participant=transferred,
            et_date=transferred.embryo_transfer.et_date,
            performed=True,
            reason="Performed as planned",
            performed_by=coordinator_a,
        )
    values = {"assessed_on": "2026-03-15", "serum_hcg_miu_ml": "99999999999.99"}
    with at("2026-03-16"):
        if channel == "api":
            response = api_for(coordinator_a).put(
                f"/api/v1/participants/{transferred.pk}/biochemical-pregnancy/",
                {**values, "result": "positive"},
                format="json",
            )
            assert response.status_code == 400
            assert list(response.json()) == ["serum_hcg_miu_ml"]
        else:
            response = client_for(coordinator_a).post(
                f"/participants/{transferred.pk}/endpoints/biochemical_pregnancy/",
                {**values, "result": "positive", "confirm_warnings": "on"},
            )
            assert response.status_code == 400
            assert "serum_hcg_miu_ml" in response.context["form"].errors
    assert not BiochemicalPregnancy.objects.exists()


def test_an_idempotency_key_with_a_nul_character_is_refused(
    api_for, coordinator_a, ready_participant
):
    participant = ready_participant()
    response = api_for(coordinator_a).post(
        f"/api/v1/participants/{participant.pk}/randomize/", HTTP_IDEMPOTENCY_KEY="key\x00one"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["idempotency_key"]
