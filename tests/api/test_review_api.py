"""The Review routes: a form's records with their verification, and verification itself."""

from __future__ import annotations

import pytest

from ecrf.quality.models import Verification

pytestmark = pytest.mark.django_db


def form_url(participant, code: str) -> str:
    return f"/api/v1/participants/{participant.pk}/forms/{code}/"


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
def test_a_monitor_reads_verifies_and_sees_the_marks(api_for, make_user, biochemical):
    monitor_user = make_user("monitor", ["S01"])
    monitor = api_for(monitor_user)
    body = monitor.get(form_url(biochemical, "biochemical_pregnancy")).json()
    assert body["code"] == "biochemical_pregnancy"
    [record] = body["records"]
    assert record["values"]["result"] == "positive"
    assert record["values"]["serum_hcg_miu_ml"] == "140.00"
    assert record["values"]["assessed_on"] == "2026-03-15"
    assert record["verified"] == {"assessed_on": None, "serum_hcg_miu_ml": None, "result": None}
    assert record["open_queries"] == 0

    done = monitor.post(
        form_url(biochemical, "biochemical_pregnancy") + "verification/",
        {"fields": ["result"]},
        format="json",
    )
    assert done.status_code == 201
    assert [(m["field"], m["verified_by"]) for m in done.json()] == [
        ("result", monitor_user.username)
    ]
    record = monitor.get(form_url(biochemical, "biochemical_pregnancy")).json()["records"][0]
    assert record["verified"]["result"]["by"] == monitor_user.username
    assert record["verified"]["serum_hcg_miu_ml"] is None

    everything = monitor.post(
        form_url(biochemical, "biochemical_pregnancy") + "verification/", {}, format="json"
    )
    assert {m["field"] for m in everything.json()} == {"assessed_on", "serum_hcg_miu_ml"}


def test_a_form_not_entered_has_no_records(api_for, make_user, transferred):
    body = api_for(make_user("monitor", ["S01"])).get(form_url(transferred, "clinical_pregnancy"))
    assert body.status_code == 200 and body.json() == {
        "code": "clinical_pregnancy",
        "records": [],
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"fields": ["no_such_field"]}, "fields"),
        ({"fields": ["eligible"]}, "fields"),  # derived, not entered
        ({"record_id": 999999}, "record_id"),
        ({"record_id": "one"}, "record_id"),
        ({"fields": "result"}, "fields"),
    ],
)
def test_bad_verification_input_names_the_field(api_for, make_user, biochemical, payload, field):
    response = api_for(make_user("monitor", ["S01"])).post(
        form_url(biochemical, "biochemical_pregnancy") + "verification/", payload, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Verification.objects.exists()


def test_who_may_read_and_verify(api_for, make_user, coordinator_a, biochemical):
    url = form_url(biochemical, "biochemical_pregnancy")
    assert api_for(coordinator_a).get(url).status_code == 200
    assert api_for(coordinator_a).post(url + "verification/", {}, format="json").status_code == 403
    assert api_for(make_user("data_manager")).post(url + "verification/", {}).status_code == 403
    other = api_for(make_user("monitor", ["S02"]))
    assert other.get(url).status_code == 404
    assert other.post(url + "verification/", {}, format="json").status_code == 404
    unknown = api_for(make_user("monitor", ["S01"])).get(form_url(biochemical, "nonsense"))
    assert unknown.status_code == 404
    refused = api_for(make_user("monitor", ["S01"])).post(
        form_url(biochemical, "clinical_pregnancy") + "verification/", {}, format="json"
    )
    assert refused.status_code == 409 and "not been entered" in refused.json()["detail"]
