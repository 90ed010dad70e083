"""Every form readable, value by value; source data verification per value."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ecrf.quality.models import Verification
from ecrf.studies.models import Study

from ..clock import at

pytestmark = pytest.mark.django_db


def page(client, participant, code: str) -> str:
    response = client.get(reverse("participants:form", args=[participant.pk, code]))
    assert response.status_code == 200
    return response.content.decode()


def row(html: str, field: str) -> str:
    match = re.search(rf'<tr data-field="{field}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row for {field}"
    return match.group(1)


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", {"result": "Positive", "unit": "mIU/mL", "no": "No"}),
        ("ja", {"result": "陽性", "unit": "mIU/mL", "no": "いいえ"}),
    ],
)
def test_a_monitor_reads_a_form_as_labelled_values(
    language, words, client_for, make_user, coordinator_a, biochemical
):
    monitor = make_user("monitor", ["S01"], language=language)
    html = page(client_for(monitor), biochemical, "biochemical_pregnancy")
    result = row(html, "result")
    assert words["result"] in result and "positive" not in result
    hcg = row(html, "serum_hcg_miu_ml")
    assert "140.00" in hcg
    assert coordinator_a.username in hcg  # who entered it
    assert "datetime.date" not in html and "{'" not in html
    eligibility = page(client_for(monitor), biochemical, "eligibility")
    assert words["no"] in row(eligibility, "pregnant")
    assert "False" not in eligibility


def test_each_role_of_her_site_reads_her_forms_and_no_other_site_does(
    client_for, make_user, biochemical
):
    for role in ["coordinator", "investigator", "monitor", "data_manager", "statistician"]:
        user = make_user(role, ["S01"])
        page(client_for(user), biochemical, "consent")
    other = make_user("monitor", ["S02"])
    url = reverse("participants:form", args=[biochemical.pk, "consent"])
    assert client_for(other).get(url).status_code == 404
    unknown = reverse("participants:form", args=[biochemical.pk, "no_such_form"])
    assert client_for(make_user("monitor", ["S01"])).get(unknown).status_code == 404


def test_the_arm_is_not_shown_to_a_blinded_role(client_for, make_user, biochemical):
    Study.objects.filter(pk=biochemical.site.study_id).update(
        blinded=True, blinded_roles=["monitor"]
    )
    monitor_html = page(client_for(make_user("monitor", ["S01"])), biochemical, "randomization")
    assert 'data-field="arm"' not in monitor_html
    assert 'data-field="randomization_number"' in monitor_html
    statistician = make_user("statistician")
    assert 'data-field="arm"' in page(client_for(statistician), biochemical, "randomization")


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
def test_a_value_verified_alone_is_cleared_alone_by_its_change(
    client_for, api_for, make_user, coordinator_a, biochemical
):
    monitor = make_user("monitor", ["S01"])
    client = client_for(monitor)
    verify = reverse("quality:verify", args=[biochemical.pk])
    response = client.post(
        verify, {"record": "biochemical_pregnancy", "field": "serum_hcg_miu_ml", "on_form": "1"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "participants:form", args=[biochemical.pk, "biochemical_pregnancy"]
    )
    html = page(client, biochemical, "biochemical_pregnancy")
    assert "Verified" in row(html, "serum_hcg_miu_ml") and monitor.username in row(
        html, "serum_hcg_miu_ml"
    )
    assert "Verified" not in row(html, "result")
    assert "1 of 3 entered values verified" in html

    client.post(verify, {"record": "biochemical_pregnancy", "on_form": "1"})
    html = page(client, biochemical, "biochemical_pregnancy")
    assert "3 of 3 entered values verified" in html
    assert Verification.objects.filter(cleared_at=None).count() == 3

    with at("2026-03-16"):
        changed = api_for(coordinator_a).put(
            f"/api/v1/participants/{biochemical.pk}/biochemical-pregnancy/",
            {
                "assessed_on": "2026-03-15",
                "serum_hcg_miu_ml": 145,
                "result": "positive",
                "reason": "Transcription error",
            },
            format="json",
        )
    assert changed.status_code == 200
    html = page(client, biochemical, "biochemical_pregnancy")
    assert "Changed since verified" in row(html, "serum_hcg_miu_ml")
    assert "Verified" in row(html, "result") and "Verified" in row(html, "assessed_on")
    assert "2 of 3 entered values verified" in html


def test_a_row_of_a_multi_record_form_is_verified_alone(
    client_for, api_for, make_user, coordinator_a, transferred
):
    api = api_for(coordinator_a)
    dose = transferred.allocation.arm.daily_dose_mg
    with at("2026-03-01"):
        doses = [
            api.post(
                f"/api/v1/participants/{transferred.pk}/doses/",
                {"date": day, "intake": "morning", "dose_mg": str(dose / 2), "taken": True},
                format="json",
            )
            for day in ["2026-02-27", "2026-02-28"]
        ]
    assert [d.status_code for d in doses] == [201, 201], [d.content for d in doses]
    client = client_for(make_user("monitor", ["S01"]))
    first = doses[0].json()["id"]
    response = client.post(
        reverse("quality:verify", args=[transferred.pk]),
        {"record": "dose", "record_id": first, "on_form": "1"},
    )
    assert response.status_code == 302
    marks = Verification.objects.filter(record="dose")
    assert {m.record_id for m in marks} == {first} and marks.count() >= 2
    html = client.get(reverse("participants:form", args=[transferred.pk, "dose"])).content.decode()
    assert html.count('data-record-id="') == 2
    assert "Verify this row" in html  # the second row still waits


def test_verifying_an_unknown_row_names_the_field_and_keeps_nothing(
    client_for, make_user, biochemical
):
    client = client_for(make_user("monitor", ["S01"]))
    response = client.post(
        reverse("quality:verify", args=[biochemical.pk]),
        {"record": "biochemical_pregnancy", "record_id": 999999, "on_form": "1"},
        follow=True,
    )
    assert "Give the id of one of her biochemical_pregnancy records." in response.content.decode()
    assert not Verification.objects.exists()


def test_a_form_not_entered_yet_is_refused_with_the_reason_on_its_page(
    client_for, make_user, transferred
):
    client = client_for(make_user("monitor", ["S01"]))
    response = client.post(
        reverse("quality:verify", args=[transferred.pk]),
        {"record": "clinical_pregnancy", "on_form": "1"},
    )
    assert response.status_code == 409
    assert "This form has not been entered for her yet." in response.content.decode()
    assert not Verification.objects.exists()
