"""Pages that know a lock: a banner with who, when and why; no edit controls while it
stands, back after it is released; a write refused by a lock keeps what was typed."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from ecrf.accounts.policy import may_edit_participant_data
from ecrf.participants.models import Participant
from ecrf.quality.models import Lock
from ecrf.quality.services import lock_release, lock_set

pytestmark = pytest.mark.django_db

EDIT_LINKS = ('id="eligibility-link"', 'id="consent-link"', "/edit/")


@pytest.fixture
def data_manager(make_user: Callable[..., Any]) -> Any:
    return make_user("data_manager", [], printed_name="Dana Manager")


@pytest.fixture
def her_page(coordinator_a: Any, client_for: Callable[[Any], Any]) -> Callable[[Participant], str]:
    """Her participant page as the coordinator of her site reads it."""
    client = client_for(coordinator_a)
    return lambda participant: client.get(
        reverse("participants:detail", args=[participant.pk])
    ).content.decode()


def _lock(participant: Participant, data_manager: Any, **kwargs: Any) -> Lock:
    return lock_set(
        study=participant.site.study,
        participant=participant,
        reason="Interim data review",
        performed_by=data_manager,
        **kwargs,
    )


def test_her_page_shows_who_locked_her_data_when_in_site_time_and_why(
    ready_participant: Callable[..., Participant],
    data_manager: Any,
    her_page: Callable[[Participant], str],
) -> None:
    participant = ready_participant()
    _lock(participant, data_manager)
    html = her_page(participant)
    assert 'id="lock-banner"' in html
    assert "Her data is locked" in html
    assert 'id="lock-banner-by">Dana Manager<' in html
    assert 'id="lock-banner-reason">Interim data review<' in html


def test_no_banner_when_her_data_is_not_locked(
    ready_participant: Callable[..., Participant],
    her_page: Callable[[Participant], str],
) -> None:
    participant = ready_participant()
    html = her_page(participant)
    assert 'id="lock-banner"' not in html
    for link in EDIT_LINKS:
        assert link in html


def test_a_locked_participant_offers_no_edit_controls_and_they_return_after_unlock(
    ready_participant: Callable[..., Participant],
    coordinator_a: Any,
    data_manager: Any,
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    coordinator = client_for(coordinator_a)
    page = reverse("participants:detail", args=[participant.pk])
    lock = _lock(participant, data_manager)
    locked = coordinator.get(page).content.decode()
    for link in EDIT_LINKS:
        assert link not in locked
    assert 'id="randomize-link"' not in locked
    assert 'id="withdraw-link"' not in locked

    lock_release(lock=lock, reason="Review done", performed_by=data_manager)
    unlocked = coordinator.get(page).content.decode()
    assert 'id="lock-banner"' not in unlocked
    for link in EDIT_LINKS:
        assert link in unlocked
    assert 'id="randomize-link"' in unlocked
    assert 'id="withdraw-link"' in unlocked


def test_the_study_database_lock_shows_on_her_page_and_her_form_pages(
    ready_participant: Callable[..., Participant],
    coordinator_a: Any,
    data_manager: Any,
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    lock_set(study=participant.site.study, reason="Database lock", performed_by=data_manager)
    coordinator = client_for(coordinator_a)
    for url in (
        reverse("participants:detail", args=[participant.pk]),
        reverse("participants:form", args=[participant.pk, "eligibility"]),
        reverse("participants:edit", args=[participant.pk]),
    ):
        html = coordinator.get(url).content.decode()
        assert "The study database is locked" in html, url
        assert "Database lock" in html, url
        assert "Dana Manager" in html, url


def test_the_lock_time_is_told_in_her_sites_time(
    ready_participant: Callable[..., Participant],
    data_manager: Any,
    her_page: Callable[[Participant], str],
) -> None:
    participant = ready_participant()
    lock = _lock(participant, data_manager)
    zone = participant.site.time_zone
    html = her_page(participant)
    when = html.split('id="lock-banner-when">', 1)[1].split("<", 1)[0]
    local = timezone.localtime(lock.locked_at, zoneinfo.ZoneInfo(zone))
    assert when == f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def test_the_policy_that_hides_the_controls_is_the_one_that_refuses_the_write(
    ready_participant: Callable[..., Participant],
    coordinator_a: Any,
    data_manager: Any,
) -> None:
    participant = ready_participant()
    assert may_edit_participant_data(coordinator_a, participant)
    lock = _lock(participant, data_manager)
    decision = may_edit_participant_data(coordinator_a, participant)
    assert not decision and decision.conflict
    assert "Dana Manager" in decision.reason and "Interim data review" in decision.reason
    lock_release(lock=lock, reason="Review done", performed_by=data_manager)
    assert may_edit_participant_data(coordinator_a, participant)


def test_a_form_lock_leaves_her_other_data_editable(
    ready_participant: Callable[..., Participant],
    coordinator_a: Any,
    data_manager: Any,
) -> None:
    participant = ready_participant()
    _lock(participant, data_manager, record="eligibility")
    assert may_edit_participant_data(coordinator_a, participant)


def test_a_save_refused_by_a_lock_keeps_what_she_typed_and_says_why(
    ready_participant: Callable[..., Participant],
    coordinator_a: Any,
    data_manager: Any,
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    birth_date = participant.birth_date
    _lock(participant, data_manager)
    response = client_for(coordinator_a).post(
        reverse("participants:edit", args=[participant.pk]),
        {
            "screening_date": participant.screening_date.isoformat(),
            "birth_date": "1990-05-18",
            "reason": "Transcription error: typed from the ID card",
        },
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert 'value="1990-05-18"' in html
    assert "Transcription error: typed from the ID card" in html
    assert "locked" in html and "Dana Manager" in html and "Interim data review" in html
    participant.refresh_from_db()
    assert participant.birth_date == birth_date


def test_the_api_still_answers_a_locked_write_with_its_json_409(
    ready_participant: Callable[..., Participant],
    coordinator_a: Any,
    data_manager: Any,
    api_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    _lock(participant, data_manager)
    response = api_for(coordinator_a).patch(
        f"/api/v1/participants/{participant.pk}/",
        {"birth_date": "1990-05-18", "reason": "x"},
        format="json",
    )
    assert response.status_code == 409
    assert "locked" in response.json()["detail"]


def test_the_treatment_labs_and_endpoint_pages_show_the_banner_and_no_entry_form(
    randomized: Participant,
    coordinator_a: Any,
    data_manager: Any,
    client_for: Callable[[Any], Any],
) -> None:
    coordinator = client_for(coordinator_a)
    pages = (
        reverse("schedule:treatment", args=[randomized.pk]),
        reverse("labs:results", args=[randomized.pk]),
        reverse("endpoints:form", args=[randomized.pk, "biochemical_pregnancy"]),
    )
    open_forms = [coordinator.get(url).content.decode().count("<form") for url in pages]
    lock = _lock(randomized, data_manager)
    for url, before in zip(pages, open_forms, strict=True):
        html = coordinator.get(url).content.decode()
        assert 'id="lock-banner"' in html, url
        assert html.count("<form") < before, url
    lock_release(lock=lock, reason="Review done", performed_by=data_manager)
    for url, before in zip(pages, open_forms, strict=True):
        html = coordinator.get(url).content.decode()
        assert 'id="lock-banner"' not in html, url
        assert html.count("<form") == before, url


def test_her_entry_pages_offer_no_save_while_she_is_locked(
    ready_participant: Callable[..., Participant],
    coordinator_a: Any,
    data_manager: Any,
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    coordinator = client_for(coordinator_a)
    pages = [
        reverse(name, args=[participant.pk])
        for name in ("participants:edit", "participants:eligibility", "participants:consent")
    ]
    lock = _lock(participant, data_manager)
    for url in pages:
        html = coordinator.get(url).content.decode()
        assert 'id="read-only"' in html, url
        assert 'type="submit"' not in html.split('id="lock-banner"', 1)[1], url
    lock_release(lock=lock, reason="Review done", performed_by=data_manager)
    for url in pages:
        html = coordinator.get(url).content.decode()
        assert 'id="read-only"' not in html, url
        assert 'type="submit"' in html, url
