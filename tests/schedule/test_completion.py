"""Completion: the last visit done, dosing over, the drug return recorded, every AE confirmed.

Her ET on 1 March 2026: dosing 27 February to 14 March, biochemical pregnancy on
15 March (window to 17 March), clinical pregnancy, the last visit, on 22 March.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ecrf.participants.models import ParticipantStatus, StatusChange
from ecrf.safety.services import adverse_event_confirm, adverse_event_record
from ecrf.schedule.completion import (
    ADVERSE_EVENTS_CONFIRMED,
    DOSING_OVER,
    DRUG_RETURN,
    LAST_VISIT,
    completion_open_items,
)
from ecrf.schedule.services import drug_return_record, visit_record

from ..clock import at

pytestmark = pytest.mark.django_db


def put(api, participant, record, **body):
    return api.put(f"/api/v1/participants/{participant.pk}/{record}/", body, format="json")


def _biochemical(api, participant):
    with at("2026-03-15"):
        response = put(
            api,
            participant,
            "biochemical-pregnancy",
            assessed_on="2026-03-15",
            serum_hcg_miu_ml=140,
            result="positive",
        )
    assert response.status_code == 200, response.content


def _clinical(api, participant):
    with at("2026-03-22"):
        response = put(
            api,
            participant,
            "clinical-pregnancy",
            assessed_on="2026-03-22",
            gestational_sac_seen=True,
            result="positive",
        )
    assert response.status_code == 200, response.content


def _drug_return(participant, coordinator, day="2026-03-22"):
    with at(day):
        drug_return_record(
            participant=participant,
            returned_on=dt.date.fromisoformat(day),
            capsules=2,
            performed_by=coordinator,
        )


def _status(participant):
    participant.refresh_from_db()
    return participant.status


def _open_codes(participant, day):
    participant.refresh_from_db()
    with at(day):
        return [item.code for item in completion_open_items(participant)]


@pytest.mark.requirement("PROT-COMPLETION")
def test_before_the_treatment_every_item_but_the_adverse_events_is_open(transferred):
    assert _open_codes(transferred, "2026-03-10") == [LAST_VISIT, DOSING_OVER, DRUG_RETURN]


@pytest.mark.requirement("PROT-COMPLETION")
def test_without_an_et_date_nothing_of_the_treatment_is_done(randomized):
    assert _open_codes(randomized, "2026-02-21") == [LAST_VISIT, DOSING_OVER, DRUG_RETURN]


@pytest.mark.requirement("PROT-COMPLETION")
def test_both_endpoints_without_the_drug_return_do_not_complete_her(
    api_for, coordinator_a, transferred
):
    api = api_for(coordinator_a)
    _biochemical(api, transferred)
    _clinical(api, transferred)
    assert _status(transferred) == ParticipantStatus.RANDOMIZED
    assert _open_codes(transferred, "2026-03-22") == [DRUG_RETURN]


@pytest.mark.requirement("PROT-COMPLETION", "CFR11-10E-CONTENT")
def test_the_drug_return_after_the_last_visit_completes_her_with_an_audited_reason(
    api_for, coordinator_a, transferred
):
    api = api_for(coordinator_a)
    _biochemical(api, transferred)
    _clinical(api, transferred)
    _drug_return(transferred, coordinator_a)
    assert _status(transferred) == ParticipantStatus.COMPLETED
    change = StatusChange.objects.get(participant=transferred, to_status="completed")
    assert change.from_status == ParticipantStatus.RANDOMIZED
    assert change.changed_by == coordinator_a
    assert "Drug return recorded" in change.reason
    assert "Last visit of the protocol done" in change.reason
    assert "Dosing period over" in change.reason
    assert "Every adverse event confirmed" in change.reason


@pytest.mark.requirement("PROT-COMPLETION")
def test_the_last_visit_completes_her_when_the_rest_is_done(api_for, coordinator_a, transferred):
    _drug_return(transferred, coordinator_a, day="2026-03-15")
    api = api_for(coordinator_a)
    _biochemical(api, transferred)
    assert _status(transferred) == ParticipantStatus.RANDOMIZED
    _clinical(api, transferred)
    assert _status(transferred) == ParticipantStatus.COMPLETED


@pytest.mark.requirement("PROT-COMPLETION")
def test_a_drug_return_during_dosing_does_not_complete_her(coordinator_a, transferred):
    with at("2026-03-05"):
        visit_record(
            participant=transferred,
            visit_code="clinical_pregnancy",
            outcome="done",
            done_on=dt.date(2026, 3, 5),
            reason="Seen early",
            performed_by=coordinator_a,
        )
    _drug_return(transferred, coordinator_a, day="2026-03-05")
    assert _status(transferred) == ParticipantStatus.RANDOMIZED
    assert _open_codes(transferred, "2026-03-05") == [DOSING_OVER]
    assert _open_codes(transferred, "2026-03-15") == []


@pytest.mark.requirement("PROT-COMPLETION")
def test_a_missed_last_visit_is_not_done(coordinator_a, transferred):
    with at("2026-03-30"):
        visit_record(
            participant=transferred,
            visit_code="clinical_pregnancy",
            outcome="missed",
            reason="She moved away",
            performed_by=coordinator_a,
        )
    _drug_return(transferred, coordinator_a, day="2026-03-30")
    assert _status(transferred) == ParticipantStatus.RANDOMIZED
    assert _open_codes(transferred, "2026-03-30") == [LAST_VISIT]


@pytest.mark.requirement("PROT-COMPLETION", "PROT-AE-CONFIRM")
def test_an_unconfirmed_adverse_event_keeps_her_open_until_the_investigator_confirms(
    api_for, coordinator_a, make_user, transferred
):
    with at("2026-03-10"):
        adverse_event = adverse_event_record(
            participant=transferred,
            term="Pruritus",
            onset_date=dt.date(2026, 3, 9),
            ctcae_grade=1,
            serious=False,
            related=True,
            outcome="recovered",
            performed_by=coordinator_a,
        )
    api = api_for(coordinator_a)
    _biochemical(api, transferred)
    _clinical(api, transferred)
    _drug_return(transferred, coordinator_a)
    assert _status(transferred) == ParticipantStatus.RANDOMIZED
    assert _open_codes(transferred, "2026-03-22") == [ADVERSE_EVENTS_CONFIRMED]
    with at("2026-03-23"):
        adverse_event_confirm(
            adverse_event=adverse_event, performed_by=make_user("investigator", ["S01"])
        )
    assert _status(transferred) == ParticipantStatus.COMPLETED


# -- pages -----------------------------------------------------------------------------


@pytest.mark.requirement("PROT-COMPLETION")
def test_her_page_lists_the_open_items_with_links_where_they_are_done(
    api_for, client_for, coordinator_a, make_user, transferred
):
    with at("2026-03-10"):
        adverse_event_record(
            participant=transferred,
            term="Headache",
            onset_date=dt.date(2026, 3, 9),
            ctcae_grade=1,
            serious=False,
            related=False,
            outcome="recovered",
            performed_by=coordinator_a,
        )
    api = api_for(coordinator_a)
    _biochemical(api, transferred)
    _clinical(api, transferred)
    with at("2026-03-22"):
        page = client_for(coordinator_a).get(f"/participants/{transferred.pk}/").content.decode()
    section = page.split('id="completion-open-items"')[1].split("</ul>")[0]
    assert 'data-item="drug_return"' in section
    assert f'href="/participants/{transferred.pk}/treatment/"' in section
    assert 'data-item="adverse_events_confirmed"' in section
    assert f'href="/participants/{transferred.pk}/safety/"' in section
    assert 'data-item="last_visit"' not in section
    assert 'data-item="dosing_over"' not in section


@pytest.mark.requirement("PROT-COMPLETION")
def test_her_page_lists_no_open_items_once_she_has_completed(
    api_for, client_for, coordinator_a, transferred
):
    api = api_for(coordinator_a)
    _biochemical(api, transferred)
    _clinical(api, transferred)
    _drug_return(transferred, coordinator_a)
    with at("2026-03-22"):
        page = client_for(coordinator_a).get(f"/participants/{transferred.pk}/").content.decode()
    assert 'id="completion-open-items"' not in page


@pytest.mark.requirement("PROT-COMPLETION", "PROT-VISIT-REMINDERS")
def test_her_coordinator_home_keeps_her_due_after_her_last_visit(
    api_for, client_for, coordinator_a, transferred
):
    api = api_for(coordinator_a)
    _biochemical(api, transferred)
    _clinical(api, transferred)
    with at("2026-03-22"):
        on_the_day = client_for(coordinator_a).get("/").content.decode()
    assert 'data-kind="completion"' not in on_the_day
    with at("2026-04-10"):
        later = client_for(coordinator_a).get("/").content.decode()
    agenda = later.split('id="agenda"')[1].split("</table>")[0]
    assert "Nothing is due this week." not in agenda
    row = agenda.split('data-kind="completion"')[1].split("</tr>")[0]
    assert "2026-03-22" in row and transferred.subject_id in row
    assert "Drug return recorded" in row
    _drug_return(transferred, coordinator_a, day="2026-04-10")
    with at("2026-04-10"):
        done = client_for(coordinator_a).get("/").content.decode()
    assert 'data-kind="completion"' not in done
    assert "Nothing is due this week." in done


@pytest.mark.requirement("PROT-COMPLETION")
def test_her_coordinator_home_shows_no_other_sites_participants(
    api_for, client_for, coordinator_a, coordinator_b, transferred
):
    api = api_for(coordinator_a)
    _biochemical(api, transferred)
    _clinical(api, transferred)
    with at("2026-04-10"):
        page = client_for(coordinator_b).get("/").content.decode()
    assert 'data-kind="completion"' not in page
