"""``GET /api/v1/reports/efficacy/`` and the efficacy page, on data entered through the
real services (API contract, The efficacy report)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ecrf.audit.context import change_context
from ecrf.quality.selectors import study_lock
from ecrf.quality.services import lock_release, lock_set

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/efficacy/"
PAGE = "/reports/efficacy/"


@pytest.mark.requirement(
    "PROT-STAT-PUBLISHED", "API-REPORT-EFFICACY", "PROT-STAT-BINOMIAL", "PROT-STAT-CI"
)
def test_published_trial_result_is_reproduced(trial, make_user, api_for, client_for):
    """FAS of 15 low (10 positive) and 9 high (5 positive), at two sites, as published."""
    built = trial.fas({"low": (15, 10, 10), "high": (9, 5, 5)}, sites=("S01", "S02"))
    assert {arm: len(members) for arm, members in built.items()} == {"low": 15, "high": 9}
    # Randomized beyond the FAS: participants of a full arm were left untreated.
    assert sum(trial.randomized_count.values()) >= 24
    statistician = make_user("statistician")

    body = api_for(statistician).get(URL).json()

    assert set(body) == {"analysis_set", "null_rate", "endpoints"}
    assert body["analysis_set"] == "FAS"
    assert body["null_rate"] == 0.05
    assert set(body["endpoints"]) == {"clinical_pregnancy", "biochemical_pregnancy"}
    for endpoint in ("clinical_pregnancy", "biochemical_pregnancy"):
        arms = body["endpoints"][endpoint]
        assert set(arms) == {"low", "high"}
        low, high = arms["low"], arms["high"]
        assert set(low) == {"n", "N", "percent", "ci_low", "ci_high", "p_value"}
        assert (low["n"], low["N"], low["percent"], low["ci_low"], low["ci_high"]) == (
            10,
            15,
            66.7,
            38.4,
            88.2,
        )
        assert (high["n"], high["N"], high["percent"], high["ci_low"], high["ci_high"]) == (
            5,
            9,
            55.6,
            21.2,
            86.3,
        )
        assert low["p_value"] < 0.0001 and high["p_value"] < 0.0001

    page = client_for(statistician).get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Full analysis set (FAS)" in html
    assert "10/15" in html and "66.7" in html and "38.4–88.2" in html
    assert "5/9" in html and "55.6" in html and "21.2–86.3" in html
    assert "&lt; 0.0001" in html
    assert 'id="forest-plot"' in html and "forest-ci" in html
    assert 'id="before-lock-banner"' in html


@pytest.fixture
def one_in_fas(trial):
    """One participant in the FAS with both endpoints positive."""
    participant = trial.screen()
    trial.randomize(participant)
    trial.treat(participant)
    trial.assess(participant, hcg_positive=True, sac_seen=True)
    return participant


@pytest.fixture
def data_manager(make_user):
    return make_user("data_manager", username="dm")


@pytest.mark.parametrize("role", ["statistician", "admin"])
def test_statisticians_and_admins_see_it_before_the_lock(role, one_in_fas, make_user, api_for):
    response = api_for(make_user(role)).get(URL)
    assert response.status_code == 200
    arms = response.json()["endpoints"]["clinical_pregnancy"]
    assert sum(arm["N"] for arm in arms.values()) == 1


@pytest.mark.requirement("API-REPORT-EFFICACY")
def test_data_manager_sees_it_only_while_the_database_is_locked(
    one_in_fas, study, data_manager, api_for
):
    client = api_for(data_manager)
    refused = client.get(URL)
    assert refused.status_code == 403
    assert "locked" in refused.json()["detail"]

    lock_set(study=study, reason="Final analysis", performed_by=data_manager)
    assert client.get(URL).status_code == 200

    lock_release(lock=study_lock(study), reason="Late query", performed_by=data_manager)
    assert client.get(URL).status_code == 403


def test_data_manager_sees_it_before_the_lock_where_the_study_allows(
    one_in_fas, study, data_manager, make_user, api_for
):
    with change_context(performed_by=make_user("admin"), reason="Interim analysis shared"):
        study.efficacy_visible_before_lock = True
        study.save(update_fields=["efficacy_visible_before_lock"])
    assert api_for(data_manager).get(URL).status_code == 200


@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor"])
def test_site_bound_roles_never_see_the_study_wide_report(
    role, one_in_fas, study, data_manager, make_user, api_for
):
    user = make_user(role, ["S01"])
    assert api_for(user).get(URL).status_code == 403
    lock_set(study=study, reason="Final analysis", performed_by=data_manager)
    assert api_for(user).get(URL).status_code == 403


def test_no_key_answers_401(one_in_fas):
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_role_kept_blind_gets_no_results_by_arm(one_in_fas, study, make_user, api_for):
    with change_context(performed_by=None, reason="Blinded design"):
        study.blinded = True
        study.blinded_roles = ["statistician"]
        study.save(update_fields=["blinded", "blinded_roles"])
    assert api_for(make_user("statistician")).get(URL).status_code == 403
    assert api_for(make_user("admin")).get(URL).status_code == 200


def test_an_empty_fas_answers_nulls_not_an_error(study, make_user, api_for):
    body = api_for(make_user("statistician")).get(URL).json()
    low = body["endpoints"]["clinical_pregnancy"]["low"]
    assert low == {
        "n": 0,
        "N": 0,
        "percent": None,
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
    }


@pytest.mark.requirement("PROT-ANALYSIS-FAS")
def test_fas_needs_the_transfer_performed_and_a_dose_taken(trial, make_user, api_for):
    in_fas = trial.screen()
    arm = trial.randomize(in_fas)
    trial.treat(in_fas)
    trial.assess(in_fas, hcg_positive=True, sac_seen=True)
    not_transferred = trial.screen()
    trial.randomize(not_transferred)
    trial.treat(not_transferred, et_performed=False)
    dose_missed = trial.screen()
    trial.randomize(dose_missed)
    trial.treat(dose_missed, dose_taken=False)
    no_diary = trial.screen()
    trial.randomize(no_diary)
    trial.treat(no_diary, dose_taken=None)
    withdrawn_in_fas = trial.screen()
    withdrawn_arm = trial.randomize(withdrawn_in_fas)
    trial.treat(withdrawn_in_fas)
    trial.withdraw(withdrawn_in_fas, "Moved abroad")

    arms = api_for(make_user("statistician")).get(URL).json()["endpoints"]
    n_total = sum(a["N"] for a in arms["clinical_pregnancy"].values())
    assert n_total == 2  # the first, and the one who withdrew after her first dose
    assert arms["clinical_pregnancy"][arm]["n"] == 1
    assert arms["biochemical_pregnancy"][arm]["n"] == 1
    assert arms["clinical_pregnancy"][withdrawn_arm]["N"] >= 1


def test_openapi_document_describes_the_report():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/reports/efficacy/"]["get"]
    assert {"200", "401", "403"} <= set(operation["responses"])
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    report = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(report["properties"]) == {"analysis_set", "null_rate", "endpoints"}
    assert set(report["required"]) == {"analysis_set", "null_rate", "endpoints"}
