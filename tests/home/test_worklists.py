"""The investigator's home (adverse events to confirm with their clocks, eligibility to
review, casebooks ready to sign) and the data manager's list of participants ready to
lock, in English and Japanese, each in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ecrf.participants.services import participant_withdraw
from ecrf.quality.selectors import verifiable_forms
from ecrf.quality.services import verification_mark
from ecrf.queries.services import query_open
from ecrf.safety.services import adverse_event_record
from randomization.services import participant_randomize
from tests.conftest import eligible_consented

from ..clock import at
from ..factories import ParticipantFactory

pytestmark = pytest.mark.django_db

#: The day the pages are read: the serious event was learned of five hours before.
READ_ON = ("2026-03-10", 15)


def randomized_on_20_february(site, coordinator):
    """A participant of ``site`` randomized on 2026-02-20, each under her own key."""
    with at("2026-02-20"):
        participant = eligible_consented(site, coordinator)
        participant_randomize(
            participant=participant,
            idempotency_key=f"randomize-{participant.pk}",
            performed_by=coordinator,
        )
    participant.refresh_from_db()
    return participant


def adverse_event(participant, coordinator, *, term, serious):
    with at("2026-03-10"):
        return adverse_event_record(
            participant=participant,
            term=term,
            onset_date=dt.date(2026, 3, 2),
            ctcae_grade=3 if serious else 1,
            serious=serious,
            seriousness_criteria=["hospitalisation"] if serious else [],
            related=False,
            outcome="recovering",
            performed_by=coordinator,
        )


def withdrawn_after_randomization(site, coordinator):
    participant = randomized_on_20_february(site, coordinator)
    with at("2026-02-25"):
        participant_withdraw(
            participant=participant,
            date=dt.date(2026, 2, 25),
            reason="Moved away",
            performed_by=coordinator,
        )
    participant.refresh_from_db()
    return participant


def verify_everything(participant, monitor):
    for form in verifiable_forms():
        if form.records_of(participant).exists():
            verification_mark(participant=participant, record=form.code, performed_by=monitor)


def table(html, table_id):
    return html.split(f'id="{table_id}"')[1].split("</table>")[0]


def subjects(html, table_id):
    return re.findall(r'class="subject-id" href="[^"]+">([^<]+)<', table(html, table_id))


def read_home(client):
    with at(*READ_ON):
        return client.get("/")


# -- the investigator -----------------------------------------------------------------


def investigator_work(site, coordinator, *, number=1):
    """At ``site``, ``number`` of each: a randomized participant with a serious and a
    non-serious adverse event unconfirmed, an eligible participant not yet randomized,
    and a casebook ready to sign (withdrawn after randomization); plus a participant
    still in screening, on no list."""
    made = {"adverse_events": [], "eligible": [], "to_sign": []}
    for _ in range(number):
        randomized = randomized_on_20_february(site, coordinator)
        made["adverse_events"].append(
            adverse_event(randomized, coordinator, term="Headache", serious=False)
        )
        made["adverse_events"].append(
            adverse_event(randomized, coordinator, term="Pneumonia", serious=True)
        )
        made["eligible"].append(eligible_consented(site, coordinator))
        made["to_sign"].append(withdrawn_after_randomization(site, coordinator))
        ParticipantFactory(site=site, performed_by=coordinator)
    return made


@pytest.mark.requirement("PROT-AE-CONFIRM", "PROT-SAE-24H", "PROT-LANGUAGE")
@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            {
                "title": "Investigator home",
                "ago": "5 h 00 min ago",
                "left": "19 h 00 min left",
                "open": "Open queries 0, unconfirmed adverse events 0, forms not fully verified 2",
            },
        ),
        (
            "ja",
            {
                "title": "研究責任医師ホーム",
                "ago": "5時間00分前",
                "left": "残り 19時間00分",
                "open": "未解決のクエリ 0件、未確認の有害事象 0件、SDV未完了のフォーム 2件",
            },
        ),
    ],
)
def test_the_investigator_home_lists_what_awaits_her(
    language, words, client_for, make_user, site_a, site_b, coordinator_a, coordinator_b
):
    investigator = make_user("investigator", ["S01"], language=language)
    mine = investigator_work(site_a, coordinator_a)
    investigator_work(site_b, coordinator_b)  # another site's: on none of her lists

    response = read_home(client_for(investigator))

    assert response.status_code == 200
    assert "core/home_investigator.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert f'id="home-title">{words["title"]}<' in html
    events = table(html, "adverse-events-to-confirm")
    rows = re.findall(r'<tr data-ae="(\d+)"', events)
    serious, not_serious = mine["adverse_events"][1], mine["adverse_events"][0]
    assert rows == [str(serious.pk), str(not_serious.pk)]  # serious first
    serious_row = events.split(f'data-ae="{serious.pk}"')[1].split("</tr>")[0]
    assert words["ago"] in serious_row and words["left"] in serious_row
    assert "sae-clock" in serious_row and 'data-overdue="false"' in serious_row
    not_serious_row = events.split(f'data-ae="{not_serious.pk}"')[1].split("</tr>")[0]
    assert words["ago"] in not_serious_row and "sae-clock" not in not_serious_row
    assert subjects(html, "eligibility-to-confirm") == [mine["eligible"][0].subject_id]
    assert subjects(html, "casebooks-to-sign") == [mine["to_sign"][0].subject_id]
    to_sign = table(html, "casebooks-to-sign")
    assert f'href="/participants/{mine["to_sign"][0].pk}/#sign-form"' in to_sign
    assert words["open"] in to_sign


@pytest.mark.requirement("PROT-SAE-24H")
def test_an_overdue_serious_event_shows_how_late_it_is(
    client_for, make_user, site_a, coordinator_a
):
    investigator = make_user("investigator", ["S01"])
    randomized = randomized_on_20_february(site_a, coordinator_a)
    serious = adverse_event(randomized, coordinator_a, term="Pneumonia", serious=True)

    with at("2026-03-11", 13):
        html = client_for(investigator).get("/").content.decode()

    row = table(html, "adverse-events-to-confirm").split(f'data-ae="{serious.pk}"')[1]
    row = row.split("</tr>")[0]
    assert "1 d 3 h ago" in row and "Overdue by 3 h 00 min" in row
    assert 'data-overdue="true"' in row and "table-danger" in row


def test_the_investigator_home_takes_the_same_queries_for_one_or_three_of_each(
    client_for, make_user, site_a, coordinator_a, django_assert_num_queries
):
    investigator = make_user("investigator", ["S01"])
    client = client_for(investigator)
    investigator_work(site_a, coordinator_a)
    read_home(client)  # the session's first request renews it
    with CaptureQueriesContext(connection) as one:
        html = read_home(client).content.decode()
    assert len(subjects(html, "casebooks-to-sign")) == 1

    investigator_work(site_a, coordinator_a, number=2)

    with django_assert_num_queries(len(one)):
        html = read_home(client).content.decode()
    assert len(subjects(html, "casebooks-to-sign")) == 3
    assert len(subjects(html, "eligibility-to-confirm")) == 3
    assert len(re.findall(r"<tr data-ae=", table(html, "adverse-events-to-confirm"))) == 6


def test_other_roles_do_not_get_the_investigator_home(client_for, make_user):
    for role in ["coordinator", "monitor", "data_manager", "statistician", "admin"]:
        response = client_for(make_user(role)).get("/")
        assert "core/home_investigator.html" not in [t.name for t in response.templates], role
        assert 'id="casebooks-to-sign"' not in response.content.decode(), role


# -- the data manager -----------------------------------------------------------------


def ready_to_lock(site, coordinator, monitor, *, number=1):
    """``number`` participants ready to lock (withdrawn after randomization, every form
    verified, no query), one withdrawn with a form unverified and one with an open query."""
    ready = []
    for _ in range(number):
        participant = withdrawn_after_randomization(site, coordinator)
        verify_everything(participant, monitor)
        ready.append(participant)
    withdrawn_after_randomization(site, coordinator)
    queried = withdrawn_after_randomization(site, coordinator)
    verify_everything(queried, monitor)
    query_open(
        participant=queried,
        record="consent",
        field="consent_date",
        text="Please check the date.",
        performed_by=monitor,
    )
    return ready


@pytest.mark.requirement("ICH-E6R3-4.2.6-FINALISATION", "PROT-LANGUAGE")
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", {"title": "Participants ready to lock", "unsigned": "Not signed yet"}),
        ("ja", {"title": "データ固定できる研究対象者", "unsigned": "未署名"}),
    ],
)
def test_the_data_manager_home_lists_participants_ready_to_lock(
    language, words, client_for, make_user, site_a, coordinator_a
):
    data_manager = make_user("data_manager", language=language)
    monitor = make_user("monitor", ["S01"])
    [ready] = ready_to_lock(site_a, coordinator_a, monitor)

    html = read_home(client_for(data_manager)).content.decode()

    assert f'id="ready-to-lock-title">{words["title"]}<' in html
    assert subjects(html, "ready-to-lock") == [ready.subject_id]
    row = table(html, "ready-to-lock")
    assert f'href="/participants/{ready.pk}/#lock-panel"' in row
    assert words["unsigned"] in row
    page = client_for(data_manager).get(f"/participants/{ready.pk}/").content.decode()
    assert 'id="lock-panel"' in page.split('id="lock-button"')[0]


def test_the_lock_list_is_only_on_the_data_managers_home(client_for, make_user):
    for role in ["statistician", "admin"]:
        html = client_for(make_user(role)).get("/").content.decode()
        assert 'id="ready-to-lock"' not in html, role
        assert 'id="home-title"' in html


def test_the_data_manager_home_takes_the_same_queries_for_one_or_three_ready(
    client_for, make_user, site_a, coordinator_a, django_assert_num_queries
):
    data_manager = make_user("data_manager")
    monitor = make_user("monitor", ["S01"])
    client = client_for(data_manager)
    ready_to_lock(site_a, coordinator_a, monitor)
    read_home(client)
    with CaptureQueriesContext(connection) as one:
        html = read_home(client).content.decode()
    assert len(subjects(html, "ready-to-lock")) == 1

    ready_to_lock(site_a, coordinator_a, monitor, number=2)

    with django_assert_num_queries(len(one)):
        html = read_home(client).content.decode()
    assert len(subjects(html, "ready-to-lock")) == 3
