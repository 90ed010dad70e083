"""A refused action of the participant page's panels shows her page again, as typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from ecrf.participants.models import Participant
from ecrf.quality.services import lock_set

pytestmark = pytest.mark.django_db


def test_a_refused_lock_shows_her_page_again_with_the_reason_typed(
    ready_participant: Callable[..., Participant],
    make_user: Callable[..., Any],
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    data_manager = make_user("data_manager", [])
    lock_set(
        study=participant.site.study,
        participant=participant,
        reason="Interim review",
        performed_by=data_manager,
    )
    response = client_for(data_manager).post(
        reverse("quality:lock", args=[participant.pk]),
        {"record": "", "reason": "Second look before the cut-off"},
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "already locked" in html
    assert 'id="lock-reason"' in html
    assert 'value="Second look before the cut-off"' in html
    # The unlock form was not the one refused: it stays empty.
    unlock_input = html[html.index('id="unlock-reason"') :].split(">", 1)[0]
    assert "value=" not in unlock_input


def test_a_page_shown_without_a_refusal_puts_nothing_back(
    ready_participant: Callable[..., Participant],
    make_user: Callable[..., Any],
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    response = client_for(make_user("data_manager", [])).get(
        reverse("participants:detail", args=[participant.pk])
    )
    html = response.content.decode()
    assert response.status_code == 200
    lock_input = html[html.index('id="lock-reason"') :].split(">", 1)[0]
    assert "value=" not in lock_input
