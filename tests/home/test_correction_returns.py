"""A correction made from a form's page (its "Correct" link) comes back to that page."""

from __future__ import annotations

import pytest
from django.utils.http import urlencode

from ecrf.endpoints.models import BiochemicalPregnancy

pytestmark = pytest.mark.django_db

CORRECTION = {
    "assessed_on": "2026-03-15",
    "serum_hcg_miu_ml": "150",
    "result": "positive",
    "reason": "Transcription error",
}


def edit_url(participant) -> str:
    return f"/participants/{participant.pk}/endpoints/biochemical_pregnancy/"


@pytest.mark.parametrize(
    ("target", "lands_on"),
    [
        ("/participants/{pk}/forms/biochemical_pregnancy/#field-serum_hcg_miu_ml", "form"),
        ("https://elsewhere.example/phish", "detail"),
        ("//elsewhere.example/phish", "detail"),
        ("javascript:alert(1)", "detail"),
    ],
)
def test_a_correction_returns_to_the_page_it_was_opened_from_on_this_site_only(
    client_for, coordinator_a, biochemical, target, lands_on
):
    target = target.format(pk=biochemical.pk)
    response = client_for(coordinator_a).post(
        f"{edit_url(biochemical)}?{urlencode({'next': target})}", CORRECTION
    )
    assert response.status_code == 302
    expected = target if lands_on == "form" else f"/participants/{biochemical.pk}/"
    assert response["Location"] == expected
    assert BiochemicalPregnancy.objects.get(participant=biochemical).serum_hcg_miu_ml == 150
