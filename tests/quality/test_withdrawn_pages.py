"""A withdrawn participant's data is read-only on her pages, except what goes on after
withdrawal (adverse event follow-up, safety labs); her pages say so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from ecrf.accounts.policy import may_edit_participant_data
from ecrf.participants.models import Participant
from ecrf.participants.services import participant_withdraw

pytestmark = pytest.mark.django_db


def _withdraw(participant: Participant, coordinator: Any) -> Participant:
    participant_withdraw(
        participant=participant,
        date=participant.screening_date + dt.timedelta(days=2),
        decided_by="participant",
        reason="Moved away",
        performed_by=coordinator,
    )
    participant.refresh_from_db()
    return participant


def test_her_page_says_she_has_withdrawn_and_offers_no_edit_controls(
    ready_participant: Callable[..., Participant],
    coordinator_a: Any,
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    coordinator = client_for(coordinator_a)
    page = reverse("participants:detail", args=[participant.pk])
    before = coordinator.get(page).content.decode()
    assert 'id="withdrawn-banner"' not in before
    assert 'id="eligibility-link"' in before

    _withdraw(participant, coordinator_a)
    html = coordinator.get(page).content.decode()
    assert 'id="withdrawn-banner"' in html
    assert "Her data is read-only" in html
    for control in ('id="eligibility-link"', 'id="consent-link"', "/edit/", 'id="withdraw-link"'):
        assert control not in html
    assert 'id="safety-link"' in html


def test_her_treatment_and_endpoint_pages_are_read_only_but_safety_labs_go_on(
    randomized: Participant,
    coordinator_a: Any,
    client_for: Callable[[Any], Any],
) -> None:
    coordinator = client_for(coordinator_a)
    treatment = reverse("schedule:treatment", args=[randomized.pk])
    endpoint = reverse("endpoints:form", args=[randomized.pk, "biochemical_pregnancy"])
    labs = reverse("labs:results", args=[randomized.pk])
    forms_before = {
        url: coordinator.get(url).content.decode().count("<form")
        for url in (treatment, endpoint, labs)
    }

    _withdraw(randomized, coordinator_a)
    for url in (treatment, endpoint):
        html = coordinator.get(url).content.decode()
        assert 'id="withdrawn-banner"' in html, url
        assert html.count("<form") < forms_before[url], url
    html = coordinator.get(labs).content.decode()
    assert 'id="withdrawn-banner"' in html
    assert html.count("<form") == forms_before[labs]


def test_the_policy_refuses_her_data_after_withdrawal_except_what_goes_on(
    ready_participant: Callable[..., Participant], coordinator_a: Any
) -> None:
    participant = _withdraw(ready_participant(), coordinator_a)
    decision = may_edit_participant_data(coordinator_a, participant)
    assert not decision and decision.conflict
    assert "withdrawn" in decision.reason
    assert may_edit_participant_data(coordinator_a, participant, continues_after_withdrawal=True)
