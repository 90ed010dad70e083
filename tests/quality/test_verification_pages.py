"""The verification worklist page and the SDV summary on the participant's page."""

from __future__ import annotations

import re

import pytest

from ecrf.participants.services import participant_withdraw
from ecrf.quality.services import verification_mark
from tests.conftest import eligible_consented

pytestmark = [pytest.mark.django_db, pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")]

WORKLIST = "/participants/verification/"


def subjects_in_order(html: str) -> list[str]:
    return re.findall(r'<tr data-participant="([^"]+)"', html)


@pytest.fixture
def three_at_a(make_user, coordinator_a, site_a):
    """Three consented participants of S01: all verified, eligibility verified, none."""
    monitor = make_user("monitor", ["S01"])
    done, half, untouched = (eligible_consented(site_a, coordinator_a) for _ in range(3))
    verification_mark(participant=done, record="eligibility", performed_by=monitor)
    verification_mark(participant=done, record="consent", performed_by=monitor)
    verification_mark(participant=half, record="eligibility", performed_by=monitor)
    return monitor, done, half, untouched


def test_the_worklist_shows_the_least_verified_critical_values_first(client_for, three_at_a):
    monitor, done, half, untouched = three_at_a

    response = client_for(monitor).get(WORKLIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert subjects_in_order(html) == [untouched.subject_id, half.subject_id, done.subject_id]
    row = html.split(f'data-participant="{half.subject_id}"')[1].split("</tr>")[0]
    assert f'href="/participants/{half.pk}/forms/consent/"' in row
    assert 'data-form="eligibility"' not in row  # verified in full
    totals = html.split('id="worklist-critical"')[1].split("</dd>")[0]
    assert "30 of 48" in totals  # 14 + 2 critical values each; all 16 of one, 14 of another


def test_the_worklist_filters_what_awaits_and_sorts_on_request(client_for, three_at_a):
    monitor, done, half, untouched = three_at_a
    client = client_for(monitor)

    awaiting = client.get(WORKLIST, {"site": "S01", "awaiting": "verification"})
    by_subject = client.get(WORKLIST, {"sort": "subject"})

    assert subjects_in_order(awaiting.content.decode()) == [untouched.subject_id, half.subject_id]
    assert subjects_in_order(by_subject.content.decode()) == sorted(
        [done.subject_id, half.subject_id, untouched.subject_id]
    )


def test_casebooks_awaiting_signature_are_a_filter_of_the_worklist(
    client_for, coordinator_a, three_at_a
):
    monitor, done, _half, _untouched = three_at_a
    participant_withdraw(
        participant=done,
        date=done.screening_date,
        reason="Moved away",
        performed_by=coordinator_a,
    )

    html = client_for(monitor).get(WORKLIST, {"awaiting": "signature"}).content.decode()

    assert subjects_in_order(html) == [done.subject_id]
    assert "Awaiting signature" in html


def test_another_sites_code_is_refused_naming_the_filter(client_for, make_user, three_at_a):
    monitor = three_at_a[0]

    response = client_for(monitor).get(WORKLIST, {"site": "S02", "sort": "sideways"})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"site", "sort"}
    assert subjects_in_order(response.content.decode()) == []


def test_a_monitor_sees_her_sites_and_a_data_manager_every_site(
    client_for, make_user, coordinator_b, site_b, three_at_a
):
    elsewhere = eligible_consented(site_b, coordinator_b)

    monitor_html = client_for(three_at_a[0]).get(WORKLIST).content.decode()
    manager_html = client_for(make_user("data_manager")).get(WORKLIST).content.decode()

    assert elsewhere.subject_id not in monitor_html
    assert elsewhere.subject_id in subjects_in_order(manager_html)


@pytest.mark.parametrize("role", ["coordinator", "investigator", "statistician"])
def test_other_roles_are_refused(client_for, make_user, role):
    assert client_for(make_user(role)).get(WORKLIST).status_code == 403


#: session, user, her second factor, the sites of the filter, the participants counted
#: (sent with the audit context), the page's participants, their tallies, the totals of
#: the list, and the session's renewal (savepoint, update, release)
WORKLIST_QUERIES = 11


def test_the_worklist_takes_a_fixed_number_of_queries(
    client_for, make_user, coordinator_a, site_a, django_assert_num_queries
):
    monitor = make_user("monitor", ["S01"])
    client = client_for(monitor)
    verification_mark(
        participant=eligible_consented(site_a, coordinator_a),
        record="consent",
        performed_by=monitor,
    )
    with django_assert_num_queries(WORKLIST_QUERIES):
        client.get(WORKLIST)
    for _ in range(30):
        eligible_consented(site_a, coordinator_a)
    with django_assert_num_queries(WORKLIST_QUERIES):
        response = client.get(WORKLIST, {"page": "2"})
    assert len(subjects_in_order(response.content.decode())) == 6


def test_the_participant_page_sums_up_her_verification_per_form(client_for, make_user, transferred):
    monitor = make_user("monitor", ["S01"])
    verification_mark(participant=transferred, record="consent", performed_by=monitor)

    html = client_for(monitor).get(f"/participants/{transferred.pk}/").content.decode()

    summary = html.split('id="sdv-summary"')[1].split("</table>")[0]
    critical = summary.split('id="sdv-critical"')[1].split("</dd>")[0]
    assert "2 of 16" in critical  # consent's two of 14 eligibility and 2 consent values
    forms = re.findall(r'<tr data-form="([^"]+)"', summary)
    assert forms == ["eligibility", "consent", "embryo_transfer"]
    assert f'href="/participants/{transferred.pk}/forms/consent/"' in summary
