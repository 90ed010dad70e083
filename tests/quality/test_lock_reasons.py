"""Locking and unlocking on the web say why: a blank reason is refused, nothing saved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from ecrf.participants.models import Participant
from ecrf.quality.models import Lock
from ecrf.quality.selectors import participant_lock
from ecrf.quality.services import lock_set

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_participant_lock_without_a_reason_is_refused_naming_the_field(
    reason: str,
    ready_participant: Callable[..., Participant],
    make_user: Callable[..., Any],
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    response = client_for(make_user("data_manager", [])).post(
        reverse("quality:lock", args=[participant.pk]), {"record": "", "reason": reason}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Reason: Give the reason for locking." in html
    assert 'id="lock-reason-error"' in html
    assert 'aria-describedby="lock-reason-error"' in html
    assert not Lock.objects.exists()


@pytest.mark.parametrize("reason", ["", "  \t "])
def test_a_participant_unlock_without_a_reason_is_refused_and_she_stays_locked(
    reason: str,
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
        reverse("quality:unlock", args=[participant.pk]), {"reason": reason}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Reason for unlocking: Give the reason for unlocking." in html
    assert 'id="unlock-reason-error"' in html
    assert participant_lock(participant) is not None


def test_a_participant_lock_with_its_reason_is_set(
    ready_participant: Callable[..., Participant],
    make_user: Callable[..., Any],
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    response = client_for(make_user("data_manager", [])).post(
        reverse("quality:lock", args=[participant.pk]),
        {"record": "", "reason": "Data cleaning finished"},
    )
    assert response.status_code == 302
    assert Lock.objects.get().reason == "Data cleaning finished"


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_study_lock_without_a_reason_is_refused_naming_the_field(
    reason: str, study: Any, make_user: Callable[..., Any], client_for: Callable[[Any], Any]
) -> None:
    response = client_for(make_user("data_manager", [])).post(
        reverse("quality:study_lock"), {"reason": reason}
    )
    assert response.status_code == 400
    assert response.context["lock_form"].errors["reason"] == ["Give the reason for locking."]
    assert 'id="study-lock-reason-error"' in response.content.decode()
    assert not Lock.objects.exists()


def test_a_study_unlock_without_a_reason_is_refused_and_the_study_stays_locked(
    study: Any, make_user: Callable[..., Any], client_for: Callable[[Any], Any]
) -> None:
    data_manager = make_user("data_manager", [])
    lock = lock_set(study=study, reason="Database lock", performed_by=data_manager)
    response = client_for(data_manager).post(reverse("quality:study_unlock"), {"reason": " "})
    assert response.status_code == 400
    assert response.context["lock_form"].errors["reason"] == ["Give the reason for unlocking."]
    lock.refresh_from_db()
    assert lock.unlocked_at is None


def test_the_api_lock_still_needs_no_reason(
    ready_participant: Callable[..., Participant],
    make_user: Callable[..., Any],
    api_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    response = api_for(make_user("data_manager", [])).post(
        f"/api/v1/participants/{participant.pk}/lock/", {}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Lock.objects.filter(participant=participant).exists()
