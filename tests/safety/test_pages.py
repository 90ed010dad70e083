"""The safety pages: the list with the 24-hour clock, recording, correcting, confirming."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pghistory.models import Events

from ecrf.safety.models import AdverseEvent
from ecrf.safety.services import adverse_event_confirm
from ecrf.schedule.services import embryo_transfer_set

from .conftest import SAE_VALUES, record

pytestmark = pytest.mark.django_db


def list_url(participant) -> str:
    return f"/participants/{participant.pk}/safety/"


def event_url(ae) -> str:
    return f"/participants/{ae.participant_id}/safety/{ae.pk}/"


def form_data(**overrides):
    data = {
        "term": "Headache",
        "onset_date": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
        "ctcae_grade": "2",
        "serious": "False",
        "related": "False",
        "outcome": "recovering",
        "action_taken": "none",
    }
    data.update(overrides)
    return data


def test_the_participant_page_links_to_the_safety_page(client_for, coordinator_a, participant):
    response = client_for(coordinator_a).get(f"/participants/{participant.pk}/")
    assert list_url(participant).encode() in response.content


@pytest.mark.requirement("CFR11-10G-AUTHORITY")
def test_site_staff_see_the_form_and_read_only_roles_do_not(
    client_for, coordinator_a, investigator_a, make_user, participant
):
    for user in [coordinator_a, investigator_a]:
        response = client_for(user).get(list_url(participant))
        assert response.status_code == 200
        assert b'id="adverse-event-form"' in response.content
    response = client_for(make_user("monitor")).get(list_url(participant))
    assert response.status_code == 200
    assert b'id="adverse-event-form"' not in response.content


@pytest.mark.requirement("PROT-AE-RECORD")
def test_a_coordinator_records_an_adverse_event_on_the_page(client_for, coordinator_a, participant):
    response = client_for(coordinator_a).post(list_url(participant), form_data())
    assert response.status_code == 302
    ae = AdverseEvent.objects.get()
    assert (ae.term, ae.ctcae_grade, ae.related, ae.outcome) == ("Headache", 2, False, "recovering")
    page = client_for(coordinator_a).get(list_url(participant)).content.decode()
    assert "Headache" in page


@pytest.mark.requirement("PROT-AE-RECORD")
def test_the_page_asks_for_the_criteria_of_a_serious_event(client_for, coordinator_a, participant):
    response = client_for(coordinator_a).post(list_url(participant), form_data(serious="True"))
    assert response.status_code == 400
    assert b"Tick at least one criterion" in response.content
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("PROT-AE-RECORD", "CFR11-10A-INVALID")
@pytest.mark.parametrize("unanswered", ["serious", "outcome"])
def test_the_page_refuses_an_event_with_a_question_left_unanswered(
    client_for, coordinator_a, participant, unanswered
):
    data = form_data()
    del data[unanswered]
    response = client_for(coordinator_a).post(list_url(participant), data)
    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("PROT-AE-RECORD", "CFR11-10A-INVALID")
def test_service_errors_come_back_on_their_fields(client_for, coordinator_a, participant):
    response = client_for(coordinator_a).post(
        list_url(participant), form_data(onset_date="2020-01-01")
    )
    assert response.status_code == 400
    assert b"before the consent date" in response.content


@pytest.mark.requirement("CFR11-10G-AUTHORITY")
def test_read_only_roles_cannot_post(client_for, make_user, participant):
    for role in ["monitor", "data_manager", "statistician", "admin"]:
        response = client_for(make_user(role)).post(list_url(participant), form_data())
        assert response.status_code == 403, role
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("PROT-SAE-24H", "ICH-E6R3-SAFETY-REPORTING")
def test_the_list_shows_the_deadline_and_time_left_of_an_unconfirmed_sae(
    client_for, coordinator_a, participant
):
    learned = (timezone.now() - dt.timedelta(hours=20)).replace(second=0, microsecond=0)
    record(participant, coordinator_a, **SAE_VALUES, learned_at=learned)
    page = client_for(coordinator_a).get(list_url(participant)).content.decode()
    deadline = timezone.localtime(learned + dt.timedelta(hours=24)).strftime("%Y-%m-%d %H:%M")
    assert f"Sponsor deadline {deadline}" in page
    assert re.search(r"\b(3 h 5\d|4 h 00) min left", page)
    assert 'data-overdue="false"' in page


@pytest.mark.requirement("PROT-SAE-24H", "ICH-E6R3-SAFETY-REPORTING")
def test_an_sae_past_its_deadline_says_overdue(client_for, coordinator_a, participant):
    learned = (timezone.now() - dt.timedelta(hours=30)).replace(second=0, microsecond=0)
    record(
        participant,
        coordinator_a,
        **SAE_VALUES,
        learned_at=learned,
        onset_date=timezone.localdate() - dt.timedelta(days=3),
    )
    page = client_for(coordinator_a).get(list_url(participant)).content.decode()
    assert re.search(r"Overdue by (5 h 5\d|6 h 0\d) min", page)
    assert 'data-overdue="true"' in page
    assert "table-danger" in page


@pytest.mark.requirement("PROT-SAE-24H", "PROT-AE-CONFIRM")
def test_no_clock_once_the_investigator_confirmed(
    client_for, coordinator_a, investigator_a, participant
):
    ae = record(participant, coordinator_a, **SAE_VALUES)
    adverse_event_confirm(adverse_event=ae, performed_by=investigator_a)
    page = client_for(coordinator_a).get(list_url(participant)).content.decode()
    assert "Sponsor deadline" not in page


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
def test_the_pages_have_no_inline_scripts_or_styles(client_for, investigator_a, participant):
    ae = record(participant, investigator_a, **SAE_VALUES)
    for path in [list_url(participant), event_url(ae)]:
        page = client_for(investigator_a).get(path).content.decode()
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None, path
        assert "<style" not in page and " style=" not in page, path


@pytest.mark.requirement("CFR11-10E-CONTENT", "CFR11-10E-CAPTURE", "ICH-E6R3-4.2.4-CORRECTIONS")
def test_a_correction_needs_a_reason_and_the_reason_is_audited(
    client_for, coordinator_a, participant
):
    ae = record(participant, coordinator_a)
    client = client_for(coordinator_a)
    initial = {
        "term": ae.term,
        "onset_date": ae.onset_date.isoformat(),
        "ctcae_grade": "1",
        "serious": "False",
        "related": "True",
        "outcome": "recovered",
        "learned_at": timezone.localtime(ae.learned_at).strftime("%Y-%m-%dT%H:%M"),
    }
    response = client.post(event_url(ae), {**initial, "ctcae_grade": "2"})
    assert response.status_code == 400
    assert b"A reason for change is required" in response.content

    response = client.post(event_url(ae), {**initial})
    assert response.status_code == 302  # nothing changed: no reason needed
    assert not Events.objects.tracks(ae).filter(pgh_label="update").exists()

    response = client.post(event_url(ae), {**initial, "ctcae_grade": "2", "reason": "Re-graded"})
    assert response.status_code == 302
    ae.refresh_from_db()
    assert ae.ctcae_grade == 2
    event = Events.objects.tracks(ae).filter(pgh_label="update").get()
    assert event.pgh_context["reason"] == "Re-graded"
    assert event.pgh_context["source"] == "web"


@pytest.mark.requirement("PROT-AE-CONFIRM", "ICH-E6R3-INVESTIGATOR-OVERSIGHT")
def test_the_investigator_confirms_on_the_page(
    client_for, coordinator_a, investigator_a, participant
):
    ae = record(participant, coordinator_a, **SAE_VALUES)
    page = client_for(investigator_a).get(event_url(ae)).content.decode()
    assert 'id="confirm-form"' in page
    assert "Sponsor deadline" in page
    response = client_for(investigator_a).post(f"{event_url(ae)}confirm/")
    assert response.status_code == 302
    ae.refresh_from_db()
    assert ae.confirmed_by == investigator_a


@pytest.mark.requirement("PROT-AE-CONFIRM", "CFR11-10G-AUTHORITY")
def test_a_coordinator_cannot_confirm(client_for, coordinator_a, participant):
    ae = record(participant, coordinator_a)
    assert b'id="confirm-form"' not in client_for(coordinator_a).get(event_url(ae)).content
    assert client_for(coordinator_a).post(f"{event_url(ae)}confirm/").status_code == 403
    ae.refresh_from_db()
    assert ae.confirmed_at is None


@pytest.mark.requirement("PROT-AE-CONFIRM")
def test_confirming_without_criteria_shows_why(
    client_for, coordinator_a, investigator_a, participant
):
    ae = record(participant, coordinator_a, serious=True)
    response = client_for(investigator_a).post(f"{event_url(ae)}confirm/")
    assert response.status_code == 400
    assert b"Give the seriousness criteria" in response.content


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_an_event_of_another_participant_answers_404(client_for, coordinator_a, randomized):
    first, second = randomized(), randomized()
    ae = record(second, coordinator_a)
    client = client_for(coordinator_a)
    wrong = f"/participants/{first.pk}/safety/{ae.pk}/"
    assert client.get(wrong).status_code == 404
    assert client.post(f"{wrong}confirm/").status_code == 404


def test_the_list_page_query_count_does_not_grow_with_events(
    client_for, coordinator_a, participant
):
    client = client_for(coordinator_a)
    record(participant, coordinator_a, **SAE_VALUES)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(list_url(participant)).status_code == 200
        return len(captured)

    one = queries()
    for _ in range(3):
        record(participant, coordinator_a, **SAE_VALUES)
        record(participant, coordinator_a)
    assert queries() == one


@pytest.mark.requirement("PROT-AE-RECORD", "PROT-AE-PRE-TREATMENT")
def test_a_consented_participant_not_yet_randomized_has_her_event_recorded_on_the_page(
    client_for, coordinator_a, ready_participant
):
    participant = ready_participant()
    client = client_for(coordinator_a)
    page = client.get(list_url(participant))
    assert b'id="adverse-event-form"' in page.content
    response = client.post(list_url(participant), form_data())
    assert response.status_code == 302
    ae = AdverseEvent.objects.get(participant=participant)
    assert ae.pre_treatment is True
    listed = client.get(list_url(participant)).content.decode()
    assert re.search(rf'data-ae="{ae.pk}".*?class="badge[^"]*pre-treatment"', listed, re.S)
    assert "Pre-treatment" in listed
    assert 'id="pre-treatment"' in client.get(event_url(ae)).content.decode()


@pytest.mark.requirement("PROT-AE-RECORD")
def test_a_participant_who_has_not_consented_is_offered_no_form(
    client_for, coordinator_a, participant_a
):
    client = client_for(coordinator_a)
    page = client.get(list_url(participant_a))
    assert page.status_code == 200
    assert b'id="adverse-event-form"' not in page.content
    refused = client.post(list_url(participant_a), form_data())
    assert refused.status_code == 409
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("PROT-AE-PRE-TREATMENT")
def test_a_treatment_emergent_event_has_no_pre_treatment_badge(
    client_for, coordinator_a, participant
):
    embryo_transfer_set(
        participant=participant,
        et_date=timezone.localdate() - dt.timedelta(days=4),
        performed=False,
        performed_by=coordinator_a,
    )
    ae = record(participant, coordinator_a, onset_date=timezone.localdate())
    assert ae.pre_treatment is False
    client = client_for(coordinator_a)
    assert "pre-treatment" not in client.get(list_url(participant)).content.decode()
    assert 'id="pre-treatment"' not in client.get(event_url(ae)).content.decode()
