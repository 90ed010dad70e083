"""Endpoint forms through the API: hard and soft edit checks, completion, withdrawal."""

from __future__ import annotations

import datetime as dt

import pytest

from ecrf.endpoints.models import BiochemicalPregnancy, EditCheckFinding, EditCheckSetting
from ecrf.schedule.models import VisitRecord

from ..clock import at

pytestmark = pytest.mark.django_db


def put(api, participant, record, **body):
    return api.put(f"/api/v1/participants/{participant.pk}/{record}/", body, format="json")


@pytest.mark.requirement("API-BIOCHEMICAL-PREGNANCY", "PROT-ENDPOINT-BIOCHEM", "PROT-COMPLETION")
def test_biochemical_pregnancy_in_window_is_saved_and_marks_the_visit(
    api_for, coordinator_a, transferred
):
    with at("2026-03-15", hour=18):
        response = put(
            api_for(coordinator_a),
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=152.4,
            result="positive",
        )
    assert response.status_code == 200, response.json()
    assert response.json()["warnings"] == []
    assert response.json()["values"]["serum_hcg_miu_ml"] == 152.4
    assert VisitRecord.objects.get(participant=transferred).done_on == dt.date(2026, 3, 15)


@pytest.mark.requirement(
    "PROT-ENDPOINT-BIOCHEM",
    "API-CONV-400-FIELDS",
    "CFR11-10A-INVALID",
    "CFR11-10F-SEQUENCING",
    "ICH-E6R3-4.2.1-CAPTURE",
)
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"assessed_on": "2026-02-28", "serum_hcg_miu_ml": 10, "result": "positive"},
            "assessed_on",
        ),
        (
            {"assessed_on": "2026-03-15", "serum_hcg_miu_ml": -1, "result": "negative"},
            "serum_hcg_miu_ml",
        ),
        (
            {"assessed_on": "2026-03-15", "serum_hcg_miu_ml": 10**12, "result": "positive"},
            "serum_hcg_miu_ml",
        ),
        (
            {"assessed_on": "2026-03-15", "serum_hcg_miu_ml": "lots", "result": "positive"},
            "serum_hcg_miu_ml",
        ),
        ({"assessed_on": "2026-03-15", "serum_hcg_miu_ml": 10, "result": "maybe"}, "result"),
        (
            {"assessed_on": "2026-03-20", "serum_hcg_miu_ml": 10, "result": "positive"},
            "assessed_on",
        ),
    ],
)
def test_hard_checks_and_bad_input_refuse_naming_the_field(
    api_for, coordinator_a, transferred, body, field
):
    with at("2026-03-15", hour=18):
        response = put(api_for(coordinator_a), transferred, "biochemical-pregnancy", **body)
    assert response.status_code == 400
    assert field in response.json()
    assert not BiochemicalPregnancy.objects.exists()


@pytest.mark.requirement("PROT-EDIT-CHECKS", "PROT-VISIT-STATUS", "ICH-E6R3-4.2.1-CAPTURE")
def test_soft_checks_are_recorded_as_findings_and_returned_as_warnings(
    api_for, coordinator_a, transferred
):
    with at("2026-03-18"):
        response = put(
            api_for(coordinator_a),
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-18",
            serum_hcg_miu_ml=3,
            result="positive",
        )
    assert response.status_code == 200
    codes = {w["code"] for w in response.json()["warnings"]}
    assert codes == {"assessment_outside_window", "hcg_positive_below_cutoff"}
    assert set(EditCheckFinding.objects.values_list("code", flat=True)) == codes
    assert "2026-03-15 to 2026-03-17" in VisitRecord.objects.get().reason


@pytest.mark.requirement("PROT-EDIT-CHECKS", "PROT-ENDPOINT-CLINICAL", "API-CLINICAL-PREGNANCY")
def test_a_cross_form_check_fires_on_a_clinical_pregnancy_after_a_negative_hcg(
    api_for, coordinator_a, transferred
):
    api = api_for(coordinator_a)
    with at("2026-03-15"):
        put(
            api,
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=1,
            result="negative",
        )
    with at("2026-03-22"):
        response = put(
            api,
            transferred,
            "clinical-pregnancy",
            assessed_on="2026-03-22",
            gestational_sac_seen=True,
            result="positive",
        )
    assert [w["code"] for w in response.json()["warnings"]] == [
        "clinical_after_negative_biochemical"
    ]


@pytest.mark.requirement("PROT-EDIT-CHECKS", "PROT-SETTINGS")
def test_a_check_switched_off_in_the_study_settings_does_not_fire(
    api_for, coordinator_a, transferred, study
):
    EditCheckSetting.objects.filter(study=study, code="hcg_positive_below_cutoff").update(
        enabled=False
    )
    with at("2026-03-15"):
        response = put(
            api_for(coordinator_a),
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=3,
            result="positive",
        )
    assert response.json()["warnings"] == []


@pytest.mark.requirement("PROT-EDIT-CHECKS", "PROT-SETTINGS")
def test_the_cutoff_is_a_study_setting(api_for, coordinator_a, transferred, study):
    EditCheckSetting.objects.filter(study=study, code="hcg_positive_below_cutoff").update(
        threshold=50
    )
    with at("2026-03-15"):
        response = put(
            api_for(coordinator_a),
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=25,
            result="positive",
        )
    assert [w["code"] for w in response.json()["warnings"]] == ["hcg_positive_below_cutoff"]


@pytest.mark.requirement(
    "PROT-COMPLETION",
    "PROT-ENDPOINT-CLINICAL",
    "API-CLINICAL-PREGNANCY",
    "API-BIOCHEMICAL-PREGNANCY",
    "API-PARTICIPANT-DETAIL",
    "API-CONV-REASON",
)
def test_both_endpoints_alone_do_not_complete_her_and_a_correction_needs_a_reason(
    api_for, coordinator_a, transferred
):
    """Completion needs the drug return too (tests/schedule/test_completion.py)."""
    api = api_for(coordinator_a)
    with at("2026-03-15"):
        put(
            api,
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=120,
            result="positive",
        )
    with at("2026-03-22"):
        put(
            api,
            transferred,
            "clinical-pregnancy",
            assessed_on="2026-03-22",
            gestational_sac_seen=True,
            number_of_sacs=1,
            fetal_heartbeat=True,
            result="positive",
            followup_study_consent=True,
        )
        detail = api.get(f"/api/v1/participants/{transferred.pk}/").json()
        assert detail["status"] == "randomized"
        assert detail["clinical_pregnancy"]["gestational_sac_seen"] is True
        refused = put(
            api,
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=125,
            result="positive",
        )
        assert refused.status_code == 400 and list(refused.json()) == ["reason"]
        accepted = put(
            api,
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=125,
            result="positive",
            reason="Lab report corrected",
        )
    assert accepted.status_code == 200
    assert BiochemicalPregnancy.objects.get().serum_hcg_miu_ml == 125


@pytest.mark.requirement(
    "PROT-WITHDRAWAL",
    "API-WITHDRAW",
    "API-CONV-409-STATE",
    "CFR11-10F-SEQUENCING",
    "ICH-E6R3-WITHDRAWAL-DATA",
)
def test_withdrawal_stops_new_data(api_for, coordinator_a, transferred, make_user):
    investigator = make_user("investigator", ["S01"])
    with at("2026-03-05"):
        missing = api_for(investigator).post(
            f"/api/v1/participants/{transferred.pk}/withdraw/",
            {"date": "2026-03-05"},
            format="json",
        )
        assert missing.status_code == 400 and "reason" in missing.json()
        response = api_for(investigator).post(
            f"/api/v1/participants/{transferred.pk}/withdraw/",
            {"date": "2026-03-05", "reason": "Moved abroad", "decided_by": "participant"},
            format="json",
        )
        assert response.status_code == 201 and response.json()["status"] == "withdrawn"
        again = api_for(investigator).post(
            f"/api/v1/participants/{transferred.pk}/withdraw/",
            {"date": "2026-03-05", "reason": "x"},
            format="json",
        )
        assert again.status_code == 409
    with at("2026-03-15"):
        blocked = put(
            api_for(coordinator_a),
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=1,
            result="negative",
        )
        dose = api_for(coordinator_a).post(
            f"/api/v1/participants/{transferred.pk}/doses/",
            {"date": "2026-03-05", "dose_mg": 2, "taken": True},
            format="json",
        )
    assert blocked.status_code == 409 and dose.status_code == 409


@pytest.mark.requirement("API-WITHDRAW", "API-CONV-403-READ-ONLY", "CFR11-10G-AUTHORITY")
@pytest.mark.parametrize("role", ["monitor", "data_manager", "statistician"])
def test_read_only_roles_cannot_withdraw_or_enter_endpoints(role, make_user, api_for, transferred):
    api = api_for(make_user(role))
    with at("2026-03-15"):
        assert (
            api.post(
                f"/api/v1/participants/{transferred.pk}/withdraw/",
                {"date": "2026-03-05", "reason": "x"},
                format="json",
            ).status_code
            == 403
        )
        assert (
            put(
                api,
                transferred,
                "biochemical-pregnancy",
                assessed_on="2026-03-15",
                serum_hcg_miu_ml=1,
                result="negative",
            ).status_code
            == 403
        )
