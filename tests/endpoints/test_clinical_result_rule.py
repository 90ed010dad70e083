"""The clinical pregnancy result agrees with "gestational sac seen" and "ectopic pregnancy"."""

from __future__ import annotations

import pytest

from ecrf.common import catalogue
from ecrf.endpoints.models import ClinicalPregnancy

from ..clock import at

pytestmark = pytest.mark.django_db

URL = "/api/v1/participants/{pk}/clinical-pregnancy/"


def _put(api, participant, *, sac, ectopic, result):
    body = {
        "assessed_on": "2026-03-22",
        "transvaginal_ultrasound": True,
        "gestational_sac_seen": sac,
        "number_of_sacs": 1 if sac else None,
        "ectopic_pregnancy": ectopic,
        "result": result,
    }
    with at("2026-03-22"):
        return api.put(URL.format(pk=participant.pk), body, format="json")


@pytest.mark.requirement("PROT-ENDPOINT-CLINICAL", "PROT-EDIT-CHECKS", "API-CONV-400-FIELDS")
@pytest.mark.parametrize(
    ("sac", "ectopic", "result", "named"),
    [
        (False, False, "positive", ["gestational sac seen", "ectopic pregnancy"]),
        (True, False, "negative", ["gestational sac seen"]),
        (True, True, "negative", ["gestational sac seen"]),
    ],
)
def test_a_result_that_contradicts_the_ultrasound_is_refused_naming_the_fields(
    api_for, coordinator_a, transferred, sac, ectopic, result, named
):
    response = _put(api_for(coordinator_a), transferred, sac=sac, ectopic=ectopic, result=result)
    assert response.status_code == 400
    message = " ".join(response.json()["result"])
    for label in named:
        assert f"“{label}”" in message
    assert not ClinicalPregnancy.objects.exists()


@pytest.mark.requirement("PROT-ENDPOINT-CLINICAL", "API-CLINICAL-PREGNANCY")
@pytest.mark.parametrize(
    ("sac", "ectopic", "result"),
    [
        (True, False, "positive"),
        (False, True, "positive"),
        (True, True, "positive"),
        (False, False, "negative"),
        (False, True, "negative"),
    ],
)
def test_a_result_that_agrees_with_the_ultrasound_is_saved(
    api_for, coordinator_a, transferred, sac, ectopic, result
):
    response = _put(api_for(coordinator_a), transferred, sac=sac, ectopic=ectopic, result=result)
    assert response.status_code == 200, response.json()
    assert ClinicalPregnancy.objects.get().result == result


@pytest.mark.requirement("PROT-ENDPOINT-CLINICAL", "ICH-E6R3-4.2.1-CAPTURE")
def test_the_page_refuses_a_positive_result_without_a_sac_or_ectopic(
    client_for, coordinator_a, transferred
):
    with at("2026-03-22"):
        response = client_for(coordinator_a).post(
            f"/participants/{transferred.pk}/endpoints/clinical_pregnancy/",
            {
                "assessed_on": "2026-03-22",
                "transvaginal_ultrasound": "True",
                "gestational_sac_seen": "False",
                "ectopic_pregnancy": "False",
                "result": "positive",
            },
        )
    assert response.status_code == 400
    page = response.content.decode()
    assert "needs “gestational sac seen” or “ectopic pregnancy” answered yes" in page
    assert not ClinicalPregnancy.objects.exists()


def test_the_rule_is_declared_once_and_described_for_the_dictionary():
    rules = catalogue.form("clinical_pregnancy").field("result").rules
    described = " ".join(str(rule.describe()) for rule in rules)
    assert "gestational sac seen" in described and "ectopic pregnancy" in described
    errors = catalogue.form("clinical_pregnancy").errors(
        {"result": "positive", "gestational_sac_seen": False, "ectopic_pregnancy": False}
    )
    assert set(errors) == {"result"}
