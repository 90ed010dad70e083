"""Queries: opened by monitors, answered by the site, closed or re-opened; the whole cycle."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ecrf.quality.models import Lock, Signature, Verification
from ecrf.quality.services import verification_mark
from ecrf.queries.models import Query

from ..clock import at
from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def put(api, participant, record, **body):
    return api.put(f"/api/v1/participants/{participant.pk}/{record}/", body, format="json")


@pytest.fixture
def with_biochemical(api_for, coordinator_a, transferred):
    with at("2026-03-15"):
        response = put(
            api_for(coordinator_a),
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=140,
            result="positive",
        )
    assert response.status_code == 200
    return transferred


def open_query(api, participant, **body):
    return api.post("/api/v1/queries/", {"participant": participant.pk, **body}, format="json")


@pytest.mark.requirement(
    "API-QUERY-OPEN",
    "API-QUERY-RESPOND",
    "API-QUERY-CLOSE",
    "API-QUERY-LIST",
    "ICH-E6R3-4.2.3-REVIEW",
    "ICH-E6R3-4.2.2-WORKFLOW",
    "CFR11-10F-SEQUENCING",
)
def test_monitor_opens_site_answers_monitor_closes(
    api_for, coordinator_a, make_user, with_biochemical
):
    monitor = api_for(make_user("monitor", ["S01"]))
    opened = open_query(
        monitor,
        with_biochemical,
        record="biochemical_pregnancy",
        field="serum_hcg_miu_ml",
        text="Source says 145?",
    )
    assert opened.status_code == 201
    body = opened.json()
    assert body["status"] == "open" and isinstance(body["id"], int)
    site = api_for(coordinator_a)
    answered = site.post(
        f"/api/v1/queries/{body['id']}/respond/", {"text": "Corrected"}, format="json"
    )
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    closed = monitor.post(f"/api/v1/queries/{body['id']}/close/", {}, format="json")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    late = site.post(f"/api/v1/queries/{body['id']}/respond/", {"text": "More"}, format="json")
    assert late.status_code == 409
    listed = site.get("/api/v1/queries/?status=closed").json()
    assert [q["id"] for q in listed["results"]] == [body["id"]]
    assert [m["kind"] for m in listed["results"][0]["messages"]] == ["opened", "answered", "closed"]


@pytest.mark.requirement("API-QUERY-OPEN", "API-CONV-400-FIELDS")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"record": "biochemical_pregnancy", "field": "colour", "text": "?"}, "field"),
        ({"record": "horoscope", "field": "sign", "text": "?"}, "record"),
        ({"record": "clinical_pregnancy", "field": "result", "text": "?"}, "record"),
        ({"record": "biochemical_pregnancy", "field": "result", "text": ""}, "text"),
        ({"record": "dose", "field": "dose_mg", "text": "?"}, "record_id"),
    ],
)
def test_bad_queries_are_refused_naming_the_field(
    api_for, make_user, with_biochemical, body, field
):
    response = open_query(api_for(make_user("monitor", ["S01"])), with_biochemical, **body)
    assert response.status_code == 400 and field in response.json()
    assert not Query.objects.exists()


@pytest.mark.requirement("API-QUERY-OPEN", "API-CONV-403-READ-ONLY", "CFR11-10G-AUTHORITY")
@pytest.mark.parametrize("role", ["coordinator", "investigator", "statistician"])
def test_only_monitors_and_data_managers_open_queries(role, api_for, make_user, with_biochemical):
    response = open_query(
        api_for(make_user(role)),
        with_biochemical,
        record="biochemical_pregnancy",
        field="result",
        text="?",
    )
    assert response.status_code == 403


@pytest.mark.requirement("API-CONV-404-SITE", "API-CONV-401", "ICH-E6R3-CONFIDENTIALITY")
def test_another_sites_query_is_404_and_its_participant_unknown(
    api_for, make_user, with_biochemical
):
    monitor_a = api_for(make_user("monitor", ["S01"]))
    query_id = open_query(
        monitor_a, with_biochemical, record="biochemical_pregnancy", field="result", text="?"
    ).json()["id"]
    monitor_b = api_for(make_user("monitor", ["S02"]))
    assert monitor_b.get(f"/api/v1/queries/{query_id}/").status_code == 404
    assert (
        monitor_b.post(f"/api/v1/queries/{query_id}/close/", {}, format="json").status_code == 404
    )
    refused = open_query(
        monitor_b, with_biochemical, record="biochemical_pregnancy", field="result", text="?"
    )
    assert refused.status_code == 400 and "participant" in refused.json()
    assert APIClient().get("/api/v1/queries/").status_code == 401


@pytest.mark.requirement("PROT-EDIT-CHECKS", "ICH-E6R3-4.2.3-REVIEW")
def test_a_confirmed_soft_check_opens_a_query(api_for, coordinator_a, transferred):
    with at("2026-03-15"):
        put(
            api_for(coordinator_a),
            transferred,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=3,
            result="positive",
        )
    query = Query.objects.get()
    assert (query.edit_check, query.field, query.opened_by) == (
        "hcg_positive_below_cutoff",
        "serum_hcg_miu_ml",
        None,
    )


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
def test_reopen_needs_a_reason(api_for, make_user, with_biochemical):
    monitor = api_for(make_user("monitor", ["S01"]))
    query_id = open_query(
        monitor, with_biochemical, record="biochemical_pregnancy", field="result", text="?"
    ).json()["id"]
    monitor.post(f"/api/v1/queries/{query_id}/close/", {"text": "ok"}, format="json")
    assert (
        monitor.post(f"/api/v1/queries/{query_id}/reopen/", {"text": ""}, format="json").status_code
        == 400
    )
    reopened = monitor.post(
        f"/api/v1/queries/{query_id}/reopen/", {"text": "Still wrong"}, format="json"
    )
    assert reopened.json()["status"] == "open"


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
def test_open_queries_show_on_the_coordinator_home_and_per_site_for_the_monitor(
    client_for, api_for, coordinator_a, make_user, with_biochemical
):
    monitor_user = make_user("monitor", ["S01"])
    open_query(
        api_for(monitor_user),
        with_biochemical,
        record="biochemical_pregnancy",
        field="serum_hcg_miu_ml",
        text="Please check the unit",
    )
    home = client_for(coordinator_a).get("/").content.decode()
    assert "Please check the unit" in home.split('id="open-queries"')[1].split("</ul>")[0]
    monitor_home = client_for(monitor_user).get("/").content.decode()
    counts = monitor_home.split('id="query-counts"')[1].split("</table>")[0]
    assert 'data-count="open">1</a>' in counts


@pytest.mark.requirement(
    "ICH-E6R3-4.2.3-REVIEW",
    "ICH-E6R3-4.2.4-CORRECTIONS",
    "ICH-E6R3-4.2.6-FINALISATION",
    "ICH-E6R3-INVESTIGATOR-OVERSIGHT",
    "CFR11-70-LINKING",
    "API-SIGNATURE",
    "API-LOCK",
    "API-CONV-409-STATE",
)
def test_the_whole_data_quality_cycle(
    api_for, client_for, coordinator_a, make_user, with_biochemical
):
    """Query, answer with a correction, close, verify, sign, a change voids, lock: 409s."""
    participant = with_biochemical
    monitor_user = make_user("monitor", ["S01"])
    monitor = api_for(monitor_user)
    site = api_for(coordinator_a)
    with at("2026-03-22"):
        assert (
            put(
                site,
                participant,
                "clinical-pregnancy",
                assessed_on="2026-03-22",
                gestational_sac_seen=True,
                result="positive",
            ).status_code
            == 200
        )
        query_id = open_query(
            monitor,
            participant,
            record="biochemical_pregnancy",
            field="serum_hcg_miu_ml",
            text="Lab report says 145",
        ).json()["id"]
        assert (
            put(
                site,
                participant,
                "biochemical-pregnancy",
                assessed_on="2026-03-15",
                serum_hcg_miu_ml=145,
                result="positive",
                reason="Query: lab report",
            ).status_code
            == 200
        )
        site.post(
            f"/api/v1/queries/{query_id}/respond/", {"text": "Corrected to 145"}, format="json"
        )
        monitor.post(f"/api/v1/queries/{query_id}/close/", {}, format="json")
        verification_mark(
            participant=participant, record="biochemical_pregnancy", performed_by=monitor_user
        )
        investigator = api_for(make_user("investigator", ["S01"]))
        assert (
            investigator.post(
                f"/api/v1/participants/{participant.pk}/signature/",
                {"password": PASSWORD},
                format="json",
            ).status_code
            == 201
        )
        assert (
            put(
                site,
                participant,
                "clinical-pregnancy",
                assessed_on="2026-03-22",
                gestational_sac_seen=True,
                number_of_sacs=2,
                result="positive",
                reason="Twins on review",
            ).status_code
            == 200
        )
        signature = Signature.objects.get()
        assert signature.voided_at is not None and "number_of_sacs" in signature.void_reason
        # A change of another form leaves every mark of this one standing.
        assert Verification.objects.exists()
        assert not Verification.objects.filter(cleared_at__isnull=False).exists()
        dm = api_for(make_user("data_manager"))
        assert (
            dm.post(f"/api/v1/participants/{participant.pk}/lock/", {}, format="json").status_code
            == 201
        )
        writes = [
            put(
                site,
                participant,
                "biochemical-pregnancy",
                assessed_on="2026-03-15",
                serum_hcg_miu_ml=146,
                result="positive",
                reason="x",
            ),
            put(
                site,
                participant,
                "clinical-pregnancy",
                assessed_on="2026-03-22",
                gestational_sac_seen=True,
                result="positive",
                reason="x",
            ),
            site.put(
                f"/api/v1/participants/{participant.pk}/embryo-transfer/",
                {"et_date": "2026-03-02", "performed": True, "reason": "x"},
                format="json",
            ),
            site.post(
                f"/api/v1/participants/{participant.pk}/consent/",
                {"consent_date": "2026-02-18", "consent_version": "1.0", "reason": "x"},
                format="json",
            ),
            site.post(
                f"/api/v1/participants/{participant.pk}/adverse-events/",
                {
                    "term": "Pruritus",
                    "onset_date": "2026-03-01",
                    "ctcae_grade": 1,
                    "serious": False,
                    "related": True,
                    "outcome": "recovered",
                },
                format="json",
            ),
        ]
    assert [w.status_code for w in writes] == [409] * len(writes)
    assert Lock.objects.get().unlocked_at is None


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
def test_open_queries_show_on_their_form(
    api_for, client_for, coordinator_a, make_user, with_biochemical
):
    open_query(
        api_for(make_user("monitor", ["S01"])),
        with_biochemical,
        record="biochemical_pregnancy",
        field="serum_hcg_miu_ml",
        text="Unit mIU/mL?",
    )
    with at("2026-03-16"):
        page = (
            client_for(coordinator_a)
            .get(f"/participants/{with_biochemical.pk}/endpoints/biochemical_pregnancy/")
            .content.decode()
        )
    assert 'data-field="serum_hcg_miu_ml"' in page and "Unit mIU/mL?" in page
