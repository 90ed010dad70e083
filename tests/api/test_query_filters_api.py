"""GET /api/v1/queries/ filters by site, form, age and who raised it, besides the
contract's status and participant; each filter is in the OpenAPI document."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ecrf.queries.services import query_open
from ecrf.studies.models import Site
from tests.conftest import eligible_consented

from ..clock import at

pytestmark = pytest.mark.django_db

URL = "/api/v1/queries/"


def ask(participant, user, *, record="consent", field="consent_date", day="2026-03-16"):
    with at(day):
        return query_open(
            participant=participant, record=record, field=field, text="?", performed_by=user
        )


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {q["id"] for q in response.json()["results"]}


@pytest.mark.requirement("API-QUERY-LIST")
def test_the_extra_filters_narrow_the_list(api_for, make_user, coordinator_b, biochemical):
    monitor, manager = make_user("monitor", ["S01"]), make_user("data_manager")
    consent = ask(biochemical, monitor, day="2026-03-01")
    hcg = ask(biochemical, manager, record="biochemical_pregnancy", field="result")
    elsewhere = eligible_consented(Site.objects.get(code="S02"), coordinator_b)
    remote = ask(elsewhere, manager)
    api = api_for(make_user("data_manager"))
    with at("2026-03-20"):
        assert ids(api.get(URL)) == {consent.pk, hcg.pk, remote.pk}
        assert ids(api.get(URL, {"site": "S02"})) == {remote.pk}
        assert ids(api.get(URL, {"site": "S99"})) == set()
        assert ids(api.get(URL, {"record": "consent"})) == {consent.pk, remote.pk}
        assert ids(api.get(URL, {"form": "biochemical_pregnancy"})) == {hcg.pk}
        assert ids(api.get(URL, {"age": "0-7"})) == {hcg.pk, remote.pk}
        assert ids(api.get(URL, {"age": "8-30"})) == {consent.pk}
        assert ids(api.get(URL, {"raised_by": manager.username})) == {hcg.pk, remote.pk}
        assert ids(api.get(URL, {"site": "S01", "status": "open", "age": "8-30"})) == {consent.pk}
    site_a = api_for(monitor)
    assert ids(site_a.get(URL, {"site": "S02"})) == set()
    assert ids(site_a.get(URL, {"raised_by": manager.username})) == {hcg.pk}


@pytest.mark.requirement("API-QUERY-LIST", "API-CONV-400-FIELDS")
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "pending"}, "status"),
        ({"participant": "one"}, "participant"),
        ({"participant": "9" * 30}, "participant"),
        ({"record": "horoscope"}, "record"),
        ({"form": "horoscope"}, "form"),
        ({"record": "consent", "form": "dose"}, "form"),
        ({"age": "5-9"}, "age"),
        ({"raised_by": "a\x00b"}, "raised_by"),
        ({"site": "S01\x00"}, "site"),
    ],
)
def test_a_bad_filter_is_refused_naming_it(params, field, api_for, make_user):
    response = api_for(make_user("monitor", ["S01"])).get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.requirement("API-QUERY-LIST")
def test_the_schema_documents_every_filter():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/queries/"]["get"]["parameters"]}
    for name in ["status", "participant", "site", "record", "form", "age", "raised_by", "page"]:
        assert name in parameters, name
    assert set(parameters["age"]["schema"]["enum"]) == {"0-7", "8-30", "31-"}
    assert "consent" in parameters["record"]["schema"]["enum"]
