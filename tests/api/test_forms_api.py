"""``GET /api/v1/forms/``: the form catalogue, in the reader's language."""

from __future__ import annotations

import pytest

from ecrf.common import catalogue

pytestmark = [pytest.mark.django_db]


def test_the_catalogue_lists_every_case_report_form_with_its_fields(make_user, api_for):
    client = api_for(make_user("monitor"))
    response = client.get("/api/v1/forms/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    assert [form["code"] for form in body] == [f.code for f in catalogue.case_report_forms()]
    by_code = {form["code"]: form for form in body}
    assert by_code["dose"]["multi_record"] is True
    assert by_code["consent"]["multi_record"] is False
    hcg = next(
        f for f in by_code["biochemical_pregnancy"]["fields"] if f["name"] == "serum_hcg_miu_ml"
    )
    assert hcg == {
        "name": "serum_hcg_miu_ml",
        "label": "Serum hCG (mIU/mL)",
        "type": "float",
        "unit": "mIU/mL",
        "choices": [],
    }
    result = next(f for f in by_code["biochemical_pregnancy"]["fields"] if f["name"] == "result")
    assert {"code": "positive", "label": "Positive"} in result["choices"]
    names = {f["name"] for f in by_code["adverse_event"]["fields"]}
    assert {f.name for f in catalogue.form("adverse_event").fields} == names


def test_the_catalogue_speaks_japanese_when_asked(make_user, api_for):
    client = api_for(make_user("coordinator"))
    body = client.get("/api/v1/forms/", HTTP_ACCEPT_LANGUAGE="ja").json()
    by_code = {form["code"]: form for form in body}
    assert by_code["clinical_pregnancy"]["label"] != "Clinical pregnancy"
    hcg = next(
        f for f in by_code["biochemical_pregnancy"]["fields"] if f["name"] == "serum_hcg_miu_ml"
    )
    assert hcg["label"] == "血中hCG（mIU/mL）"
    age = next(f for f in by_code["eligibility"]["fields"] if f["name"] == "age_at_assessment")
    assert age["unit"] == "歳"


def test_the_catalogue_needs_a_signed_in_caller(client):
    assert client.get("/api/v1/forms/").status_code in (401, 403)
