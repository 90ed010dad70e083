"""Endpoint pages: soft checks ask for confirmation; withdrawal from the page."""

from __future__ import annotations

import pytest

from ecrf.endpoints.models import BiochemicalPregnancy, EditCheckFinding
from ecrf.participants.models import Withdrawal

from ..clock import at

pytestmark = pytest.mark.django_db


@pytest.mark.requirement("PROT-EDIT-CHECKS", "ICH-E6R3-4.2.1-CAPTURE")
def test_soft_check_asks_for_confirmation_then_saves(client_for, coordinator_a, transferred):
    url = f"/participants/{transferred.pk}/endpoints/biochemical_pregnancy/"
    data = {"assessed_on": "2026-03-15", "serum_hcg_miu_ml": "3", "result": "positive"}
    with at("2026-03-15"):
        client = client_for(coordinator_a)
        asked = client.post(url, data)
        assert asked.status_code == 400
        assert b'data-check="hcg_positive_below_cutoff"' in asked.content
        assert not BiochemicalPregnancy.objects.exists()
        saved = client.post(url, {**data, "confirm_warnings": "on"})
        assert saved.status_code == 302
    assert EditCheckFinding.objects.get().confirmed_by == coordinator_a
    with at("2026-03-15"):
        detail = client_for(coordinator_a).get(f"/participants/{transferred.pk}/").content.decode()
    assert 'data-check="hcg_positive_below_cutoff"' in detail


@pytest.mark.requirement("PROT-ENDPOINT-BIOCHEM", "CFR11-10F-SEQUENCING", "ICH-E6R3-4.2.1-CAPTURE")
def test_hard_check_shows_beside_the_field(client_for, coordinator_a, transferred):
    url = f"/participants/{transferred.pk}/endpoints/biochemical_pregnancy/"
    with at("2026-03-15"):
        response = client_for(coordinator_a).post(
            url, {"assessed_on": "2026-02-27", "serum_hcg_miu_ml": "10", "result": "negative"}
        )
    assert response.status_code == 400
    assert b"is dated before the embryo transfer" in response.content


def test_unknown_form_is_404(client_for, coordinator_a, transferred):
    with at("2026-03-15"):
        assert (
            client_for(coordinator_a)
            .get(f"/participants/{transferred.pk}/endpoints/nope/")
            .status_code
            == 404
        )


@pytest.mark.requirement("PROT-WITHDRAWAL")
def test_withdrawal_from_the_page(client_for, coordinator_a, transferred):
    with at("2026-03-05"):
        client = client_for(coordinator_a)
        refused = client.post(
            f"/participants/{transferred.pk}/withdraw/",
            {"date": "2026-03-05", "decided_by": "participant", "reason": ""},
        )
        assert refused.status_code == 400
        client.post(
            f"/participants/{transferred.pk}/withdraw/",
            {"date": "2026-03-05", "decided_by": "investigator", "reason": "Adverse event"},
        )
    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.decided_by, withdrawal.reason) == ("investigator", "Adverse event")
    transferred.refresh_from_db()
    assert transferred.status == "withdrawn"
