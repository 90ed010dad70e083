"""The monitor's home: what awaits review per site, each count linking to its list, and
the list of adverse events awaiting an investigator's confirmation."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ecrf.home.selectors import site_work
from ecrf.participants.services import participant_withdraw
from ecrf.quality.services import verification_mark
from ecrf.queries.services import query_open, query_respond
from ecrf.safety.services import adverse_event_confirm, adverse_event_record
from tests.conftest import eligible_consented

from ..clock import at

pytestmark = [pytest.mark.django_db, pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")]

AWAITING = "/participants/adverse-events/awaiting-confirmation/"


def ask(participant, monitor, day):
    with at(day):
        return query_open(
            participant=participant,
            record="consent",
            field="consent_date",
            text="Please check the date against the signed form.",
            performed_by=monitor,
        )


def headache(participant, coordinator, *, serious=False):
    with at("2026-03-10"):
        return adverse_event_record(
            participant=participant,
            term="Headache",
            onset_date=dt.date(2026, 3, 2),
            ctcae_grade=3 if serious else 1,
            serious=serious,
            seriousness_criteria=["hospitalisation"] if serious else [],
            related=False,
            outcome="recovered",
            performed_by=coordinator,
        )


def work_row(html: str, code: str) -> str:
    table = html.split('id="site-work"')[1].split("</table>")[0]
    return table.split(f'data-site="{code}"')[1].split("</tr>")[0]


def link(row: str, work: str) -> tuple[str, str]:
    found = re.search(rf'<a href="([^"]+)" data-work="{work}">(\d+)</a>', row)
    assert found, (work, row)
    return html_lib.unescape(found.group(1)), found.group(2)


@pytest.fixture
def review_at_two_sites(make_user, coordinator_a, coordinator_b, site_a, site_b, randomized):
    """S01: the randomized participant (consent verified, an adverse event unconfirmed),
    a query open 37 days, one 5 days, one answered; S02: a withdrawn participant."""
    monitor = make_user("monitor", ["S01", "S02"])
    verification_mark(participant=randomized, record="consent", performed_by=monitor)
    headache(randomized, coordinator_a)
    ask(randomized, monitor, "2026-02-01")
    ask(randomized, monitor, "2026-03-05")
    answered = ask(randomized, monitor, "2026-03-05")
    with at("2026-03-06"):
        query_respond(query=answered, text="Checked: correct.", performed_by=coordinator_a)
    withdrawn = eligible_consented(site_b, coordinator_b)
    participant_withdraw(
        participant=withdrawn,
        date=withdrawn.screening_date,
        reason="Moved away",
        performed_by=coordinator_b,
    )
    return monitor


def test_each_count_of_a_site_links_to_its_filtered_list(client_for, review_at_two_sites):
    with at("2026-03-10"):
        html = client_for(review_at_two_sites).get("/").content.decode()

    s01 = work_row(html, "S01")
    assert link(s01, "forms-awaiting") == (
        "/participants/verification/?site=S01&awaiting=verification",
        "2",  # eligibility and the adverse event; consent is verified
    )
    assert link(s01, "open-0-7") == ("/queries/?site=S01&status=open&age=0-7", "1")
    assert link(s01, "open-8-30") == ("/queries/?site=S01&status=open&age=8-30", "0")
    assert link(s01, "open-31-") == ("/queries/?site=S01&status=open&age=31-", "1")
    assert link(s01, "answered") == ("/queries/?site=S01&status=answered", "1")
    assert link(s01, "adverse-events") == (f"{AWAITING}?site=S01", "1")
    assert link(s01, "signatures") == (
        "/participants/verification/?site=S01&awaiting=signature",
        "0",
    )
    s02 = work_row(html, "S02")
    assert link(s02, "signatures")[1] == "1"
    assert link(s02, "forms-awaiting")[1] == "2"


def test_the_counts_agree_with_the_lists_they_open(client_for, review_at_two_sites):
    client = client_for(review_at_two_sites)
    with at("2026-03-10"):
        html = client.get("/").content.decode()
        url, count = link(work_row(html, "S01"), "forms-awaiting")
        listed = re.findall(r"<a [^>]*data-form=", client.get(url).content.decode())
        assert len(listed) == int(count)
        url, count = link(work_row(html, "S02"), "signatures")
        listed = re.findall(r"<tr data-participant=", client.get(url).content.decode())
        assert len(listed) == int(count)
        url, count = link(work_row(html, "S01"), "adverse-events")
        assert len(re.findall(r"<tr data-ae=", client.get(url).content.decode())) == int(count)


def test_the_monitor_home_takes_the_same_queries_for_one_site_or_two(
    client_for, make_user, review_at_two_sites, django_assert_num_queries
):
    one_site = client_for(make_user("monitor", ["S01"]))
    two_sites = client_for(review_at_two_sites)
    with at("2026-03-10"):
        with CaptureQueriesContext(connection) as single:
            one_site.get("/")
        with django_assert_num_queries(len(single.captured_queries)):
            two_sites.get("/")


def test_site_work_takes_five_queries_however_many_sites(
    make_user, review_at_two_sites, django_assert_num_queries
):
    with at("2026-03-10"), django_assert_num_queries(5):
        work = site_work(review_at_two_sites)
    assert [w.site.code for w in work] == ["S01", "S02"]
    assert work[0].open_queries == 2


def test_the_data_manager_home_shows_the_same_counts_for_every_site(
    client_for, make_user, review_at_two_sites
):
    with at("2026-03-10"):
        manager = client_for(make_user("data_manager")).get("/").content.decode()
        statistician = client_for(make_user("statistician")).get("/").content.decode()

    assert link(work_row(manager, "S02"), "signatures")[1] == "1"
    assert 'id="site-work"' not in statistician


def test_adverse_events_awaiting_confirmation_serious_first_and_only_unconfirmed(
    client_for, make_user, coordinator_a, randomized
):
    investigator = make_user("investigator", ["S01"])
    confirmed = headache(randomized, coordinator_a)
    with at("2026-03-10"):
        adverse_event_confirm(adverse_event=confirmed, performed_by=investigator)
    mild = headache(randomized, coordinator_a)
    serious = headache(randomized, coordinator_a, serious=True)

    with at("2026-03-10"):
        html = client_for(investigator).get(AWAITING).content.decode()

    assert re.findall(r'<tr data-ae="(\d+)"', html) == [str(serious.pk), str(mild.pk)]
    assert f"/participants/{randomized.pk}/safety/{serious.pk}/" in html


def test_adverse_events_of_another_site_are_refused_by_the_filter(
    client_for, make_user, coordinator_a, randomized
):
    headache(randomized, coordinator_a)
    outsider = client_for(make_user("monitor", ["S02"]))

    everything = outsider.get(AWAITING)
    refused = outsider.get(AWAITING, {"site": "S01"})

    assert re.findall(r'<tr data-ae="', everything.content.decode()) == []
    assert refused.status_code == 400
    assert set(refused.context["form"].errors) == {"site"}
