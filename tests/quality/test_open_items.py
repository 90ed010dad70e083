"""What is open in a casebook when she signs, which casebooks are ready to sign and which
participants are ready to lock; signing with items open is confirmed on the page and
recorded in the signature."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from ecrf.participants.models import Participant
from ecrf.participants.services import participant_withdraw
from ecrf.quality.models import Signature
from ecrf.quality.selectors import (
    OpenItems,
    casebooks_ready_to_sign,
    open_items_of,
    participants_ready_to_lock,
    signature_open_items,
    verifiable_forms,
    verification_progress,
)
from ecrf.quality.services import lock_release, lock_set, signature_sign, verification_mark
from ecrf.queries.services import query_close, query_open, query_respond
from ecrf.safety.services import adverse_event_confirm, adverse_event_record
from tests.conftest import eligible_consented, randomized_on_20_february

from ..clock import at
from ..factories import PASSWORD

pytestmark = pytest.mark.django_db

#: The request a signature's password is checked with (the lockout counts per request).
POSTED = RequestFactory().post("/")


def ask(participant, monitor, text="Please check the date against the signed form."):
    return query_open(
        participant=participant,
        record="consent",
        field="consent_date",
        text=text,
        performed_by=monitor,
    )


def headache(participant, coordinator, *, serious=False):
    return adverse_event_record(
        participant=participant,
        term="Headache",
        onset_date=dt.date(2026, 2, 22),
        ctcae_grade=3 if serious else 1,
        serious=serious,
        seriousness_criteria=["hospitalisation"] if serious else [],
        related=False,
        outcome="recovered",
        performed_by=coordinator,
    )


def verify_everything(participant, monitor):
    for form in verifiable_forms():
        if form.records_of(participant).exists():
            verification_mark(participant=participant, record=form.code, performed_by=monitor)


def withdraw(participant, coordinator):
    with at("2026-02-25"):
        participant_withdraw(
            participant=participant,
            date=dt.date(2026, 2, 25),
            reason="Moved away",
            performed_by=coordinator,
        )
    participant.refresh_from_db()
    return participant


@pytest.fixture
def monitor(make_user):
    return make_user("monitor", ["S01"])


@pytest.fixture
def investigator(make_user):
    return make_user("investigator", ["S01"], printed_name="Ichiro Tanaka")


@pytest.fixture
def data_manager(make_user):
    return make_user("data_manager")


# -- the counts -----------------------------------------------------------------------


def test_open_items_count_queries_not_closed_unconfirmed_events_and_unverified_forms(
    randomized, coordinator_a, monitor, investigator
):
    with at("2026-02-23"):
        open_query = ask(randomized, monitor)
        answered = ask(randomized, monitor, "Which version was signed?")
        query_respond(query=answered, text="Version 1.0.", performed_by=coordinator_a)
        closed = ask(randomized, monitor, "Is the date right?")
        query_close(query=closed, text="Checked.", performed_by=monitor)
        headache(randomized, coordinator_a)
        adverse_event_confirm(
            adverse_event=headache(randomized, coordinator_a), performed_by=investigator
        )
        verification_mark(participant=randomized, record="consent", performed_by=monitor)

    items = signature_open_items(randomized)

    assert open_query.status == "open"
    assert items.open_queries == 2  # open and answered; the closed one is not counted
    assert items.unconfirmed_adverse_events == 1
    progress = verification_progress(Participant.objects.filter(pk=randomized.pk))
    assert items.unverified_forms == len(progress[randomized.pk].forms_awaiting) == 2
    assert items.total == 5 and items.any


def test_a_casebook_with_nothing_open_has_no_open_items(randomized, monitor):
    verify_everything(randomized, monitor)

    items = signature_open_items(randomized)

    assert items == OpenItems() and not items.any


def test_open_items_of_many_participants_take_the_same_queries_as_of_one(
    site_a, coordinator_a, monitor
):
    first = eligible_consented(site_a, coordinator_a)
    ask(first, monitor)

    def counted():
        with CaptureQueriesContext(connection) as captured:
            items = open_items_of(Participant.objects.filter(site=site_a))
        return len(captured), items

    one, items = counted()
    for _ in range(2):
        ask(eligible_consented(site_a, coordinator_a), monitor)
    three, more = counted()

    assert one == three == 3
    assert items[first.pk].open_queries == 1 and items[first.pk].unverified_forms == 2
    assert len(more) == 3


# -- ready to sign --------------------------------------------------------------------


def ready_subjects(user):
    return [row.participant.subject_id for row in casebooks_ready_to_sign(user)]


def test_a_casebook_is_ready_to_sign_once_her_participation_has_ended(
    randomized, coordinator_a, investigator, monitor
):
    assert ready_subjects(investigator) == []
    ask(randomized, monitor)

    withdraw(randomized, coordinator_a)

    [row] = casebooks_ready_to_sign(investigator)
    assert row.participant == randomized and not row.voided
    assert row.open_items.open_queries == 1 and row.open_items.unverified_forms == 2


def test_a_casebook_with_both_endpoints_recorded_is_ready_to_sign(
    api_for, coordinator_a, investigator, biochemical
):
    assert ready_subjects(investigator) == []
    with at("2026-03-22"):
        response = api_for(coordinator_a).put(
            f"/api/v1/participants/{biochemical.pk}/clinical-pregnancy/",
            {"assessed_on": "2026-03-22", "gestational_sac_seen": True, "result": "positive"},
            format="json",
        )
    assert response.status_code == 200, response.content

    assert ready_subjects(investigator) == [biochemical.subject_id]


def test_a_signed_casebook_leaves_the_list_and_returns_when_its_signature_is_voided(
    randomized, coordinator_a, investigator
):
    withdraw(randomized, coordinator_a)
    with at("2026-02-26"):
        signature_sign(
            participant=randomized, password=PASSWORD, performed_by=investigator, request=POSTED
        )
    assert ready_subjects(investigator) == []

    with at("2026-02-27"):
        headache(randomized, coordinator_a)  # safety follow-up goes on after withdrawal

    assert Signature.objects.get().voided_at is not None
    [row] = casebooks_ready_to_sign(investigator)
    assert row.voided and row.open_items.unconfirmed_adverse_events == 1


def test_a_casebook_never_randomized_or_of_another_site_is_not_ready_to_sign(
    site_a, site_b, coordinator_a, coordinator_b, investigator
):
    never_randomized = eligible_consented(site_a, coordinator_a)
    participant_withdraw(
        participant=never_randomized,
        date=never_randomized.screening_date,
        reason="Changed her mind",
        performed_by=coordinator_a,
    )
    withdraw(randomized_on_20_february(site_b, coordinator_b), coordinator_b)

    assert ready_subjects(investigator) == []


# -- ready to lock --------------------------------------------------------------------


def lock_subjects(user):
    return [row.participant.subject_id for row in participants_ready_to_lock(user)]


@pytest.mark.requirement("ICH-E6R3-4.2.6-FINALISATION")
def test_a_participant_is_ready_to_lock_when_ended_verified_without_open_queries(
    randomized, coordinator_a, monitor, data_manager
):
    verify_everything(randomized, monitor)
    assert lock_subjects(data_manager) == []  # still randomized

    withdraw(randomized, coordinator_a)

    [row] = participants_ready_to_lock(data_manager)
    assert row.participant == randomized and not row.signed


@pytest.mark.requirement("ICH-E6R3-4.2.6-FINALISATION")
def test_an_open_or_answered_query_keeps_her_from_the_lock_list_until_closed(
    randomized, coordinator_a, monitor, data_manager
):
    withdraw(randomized, coordinator_a)
    query = ask(randomized, monitor)
    verify_everything(randomized, monitor)
    assert lock_subjects(data_manager) == []

    query_respond(query=query, text="Checked against the signed form.", performed_by=coordinator_a)
    assert lock_subjects(data_manager) == []

    query_close(query=query, performed_by=monitor)
    assert lock_subjects(data_manager) == [randomized.subject_id]


def test_an_unverified_form_keeps_her_from_the_lock_list(
    randomized, coordinator_a, monitor, data_manager
):
    withdraw(randomized, coordinator_a)
    verification_mark(participant=randomized, record="consent", performed_by=monitor)

    assert lock_subjects(data_manager) == []


def test_a_locked_participant_or_a_locked_study_leaves_the_lock_list(
    randomized, coordinator_a, monitor, data_manager
):
    withdraw(randomized, coordinator_a)
    verify_everything(randomized, monitor)
    study = randomized.site.study
    mine = lock_set(study=study, participant=randomized, reason="Clean", performed_by=data_manager)
    assert lock_subjects(data_manager) == []
    lock_release(lock=mine, reason="A late query", performed_by=data_manager)
    assert lock_subjects(data_manager) == [randomized.subject_id]

    lock_set(study=study, reason="Database lock", performed_by=data_manager)

    assert lock_subjects(data_manager) == []


# -- signing with items open ----------------------------------------------------------


@pytest.fixture
def ended_with_open_items(randomized, coordinator_a, monitor):
    """Withdrawn after randomization, one query open, one adverse event unconfirmed, her
    consent verified (eligibility and the adverse event not)."""
    withdraw(randomized, coordinator_a)
    with at("2026-02-26"):
        ask(randomized, monitor)
        headache(randomized, coordinator_a)
        verification_mark(participant=randomized, record="consent", performed_by=monitor)
    return randomized


@pytest.mark.requirement("CFR11-50-MANIFESTATION")
def test_signing_refused_when_she_does_not_confirm_the_open_items(
    ended_with_open_items, investigator
):
    with pytest.raises(ValidationError) as refused:
        signature_sign(
            participant=ended_with_open_items,
            password=PASSWORD,
            performed_by=investigator,
            request=POSTED,
            open_items_confirmed=False,
        )

    assert list(refused.value.message_dict) == ["sign_anyway"]
    assert not Signature.objects.exists()


@pytest.mark.requirement("CFR11-50-MANIFESTATION")
def test_a_signature_records_what_was_open_when_she_signed(ended_with_open_items, investigator):
    signature = signature_sign(
        participant=ended_with_open_items,
        password=PASSWORD,
        performed_by=investigator,
        request=POSTED,
        open_items_confirmed=True,
    )

    stored = Signature.objects.get(pk=signature.pk)
    assert (stored.open_queries, stored.unconfirmed_adverse_events, stored.unverified_forms) == (
        1,
        1,
        2,
    )


def test_a_casebook_with_nothing_open_is_signed_without_confirmation(
    randomized, coordinator_a, monitor, investigator
):
    withdraw(randomized, coordinator_a)
    verify_everything(randomized, monitor)

    signature = signature_sign(
        participant=randomized,
        password=PASSWORD,
        performed_by=investigator,
        request=POSTED,
        open_items_confirmed=False,
    )

    assert (signature.open_queries, signature.unconfirmed_adverse_events) == (0, 0)
    assert signature.unverified_forms == 0


@pytest.mark.requirement("CFR11-50-MANIFESTATION")
def test_the_api_signs_with_items_open_and_records_them(
    api_for, ended_with_open_items, investigator
):
    response = api_for(investigator).post(
        f"/api/v1/participants/{ended_with_open_items.pk}/signature/",
        {"password": PASSWORD, "meaning": "Reviewed."},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["open_queries"], body["unconfirmed_adverse_events"]) == (1, 1)
    assert body["unverified_forms"] == 2
    stored = Signature.objects.get()
    assert (stored.open_queries, stored.unconfirmed_adverse_events, stored.unverified_forms) == (
        1,
        1,
        2,
    )


def sign_url(participant):
    return f"/participants/{participant.pk}/sign/"


def test_the_sign_panel_lists_the_open_items_and_asks_her_to_confirm(
    client_for, ended_with_open_items, investigator
):
    html = (
        client_for(investigator).get(f"/participants/{ended_with_open_items.pk}/").content.decode()
    )

    form = html.split('id="sign-form"')[1].split("</form>")[0]
    listed = form.split('id="sign-open-items"')[1].split("</ul>")[0]
    assert 'data-open="open_queries">Open queries (not closed): 1<' in listed
    assert 'data-open="unconfirmed_adverse_events">Adverse events not confirmed: 1<' in listed
    assert 'data-open="unverified_forms">Forms not fully verified: 2<' in listed
    checkbox = (
        form.split('id="sign-anyway"')[0].rsplit("<input", 1)[1]
        + form.split('id="sign-anyway"')[1].split(">")[0]
    )
    assert 'type="checkbox"' in checkbox and "required" in checkbox
    assert "I sign with these items open" in form


@pytest.mark.requirement("CFR11-50-MANIFESTATION")
def test_signing_on_the_page_with_items_open_needs_the_confirmation(
    client_for, ended_with_open_items, investigator
):
    client = client_for(investigator)

    refused = client.post(
        sign_url(ended_with_open_items), {"meaning": "Reviewed.", "password": PASSWORD}
    )

    assert refused.status_code == 400
    page = refused.content.decode()
    assert "I sign with these items open:" in page  # the message names the field
    assert refused.context["refused_form"].errors["sign_anyway"]
    assert not Signature.objects.exists()

    signed = client.post(
        sign_url(ended_with_open_items),
        {"meaning": "Reviewed.", "password": PASSWORD, "sign_anyway": "on"},
    )

    assert signed.status_code == 302
    stored = Signature.objects.get()
    assert (stored.open_queries, stored.unconfirmed_adverse_events, stored.unverified_forms) == (
        1,
        1,
        2,
    )


def test_signing_on_the_page_with_nothing_open_needs_no_confirmation(
    client_for, randomized, coordinator_a, monitor, investigator
):
    withdraw(randomized, coordinator_a)
    verify_everything(randomized, monitor)
    client = client_for(investigator)
    html = client.get(f"/participants/{randomized.pk}/").content.decode()
    assert 'id="sign-anyway"' not in html
    assert "Nothing is open in this casebook." in html

    response = client.post(sign_url(randomized), {"meaning": "Reviewed.", "password": PASSWORD})

    assert response.status_code == 302
    assert Signature.objects.get().unverified_forms == 0


def test_a_wrong_password_on_the_page_is_refused_naming_the_field(
    client_for, ended_with_open_items, investigator
):
    response = client_for(investigator).post(
        sign_url(ended_with_open_items),
        {"meaning": "Reviewed.", "password": "wrong", "sign_anyway": "on"},
    )

    assert response.status_code == 400
    assert "Your password: The password is not correct" in response.content.decode()
    assert not Signature.objects.exists()


@pytest.mark.requirement("CFR11-50-MANIFESTATION")
def test_the_counts_show_in_the_signature_list_and_in_the_audit_trail(
    client_for, ended_with_open_items, investigator
):
    client = client_for(investigator)
    client.post(
        sign_url(ended_with_open_items),
        {"meaning": "Reviewed.", "password": PASSWORD, "sign_anyway": "on"},
    )

    page = client.get(f"/participants/{ended_with_open_items.pk}/").content.decode()
    listed = page.split('id="signatures"')[1].split("</ul>")[0]
    assert (
        "Open at signing: queries 1, unconfirmed adverse events 1, forms not fully verified 2"
        in listed
    )
    history = client.get(f"/participants/{ended_with_open_items.pk}/history/").content.decode()
    recorded = {
        label: value
        for label, value in re.findall(
            r'<td>([^<]+ at signing)</td>\s*<td class="history-old"></td>\s*'
            r'<td class="history-new">(\d+)</td>',
            history,
        )
    }
    assert recorded == {
        "queries open at signing": "1",
        "adverse events unconfirmed at signing": "1",
        "forms unverified at signing": "2",
    }
