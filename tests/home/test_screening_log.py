"""The screening log: its columns, sorting, filters, search, paging, blinding and sites."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ecrf.accounts.models import User
from ecrf.home import screening_views
from ecrf.participants.models import Participant
from ecrf.queries.services import query_open
from ecrf.schedule.services import visit_record
from ecrf.studies.models import Site, Study
from randomization.services import participant_randomize
from tests.conftest import (
    eligible_consented,
    transfer_planned_on_1_march,
)
from tests.factories import ParticipantFactory

from ..clock import at

pytestmark = pytest.mark.django_db


def rows(html: str) -> list[str]:
    """The subject ids of the log's rows, top to bottom."""
    body = html.split('id="screening-log"', 1)[1]
    return re.findall(r'class="subject-id" href="[^"]+">([^<]+)</a>', body)


def row_of(html: str, participant: Participant) -> str:
    return html.split(f'data-participant="{participant.pk}"', 1)[1].split("</tr>", 1)[0]


def randomized_with_et_on_1_march(site: Site, coordinator: User) -> Participant:
    """A participant randomized on 20 February with her embryo transfer planned on 1 March."""
    with at("2026-02-20"):
        participant = eligible_consented(site, coordinator)
        participant_randomize(
            participant=participant,
            idempotency_key=f"randomize-{participant.pk}",
            performed_by=coordinator,
        )
    participant.refresh_from_db()
    return transfer_planned_on_1_march(participant, coordinator)


def open_query(participant: Participant, monitor: User) -> None:
    query_open(
        participant=participant,
        record="eligibility",
        field="th1_th2_ratio",
        text="Which laboratory measured the ratio?",
        performed_by=monitor,
    )


@pytest.fixture
def monitor_a(make_user: Callable[..., User]) -> User:
    return make_user("monitor", ["S01"], username="monitor_a")


@pytest.fixture
def log_for(client_for: Callable[[User], Any]) -> Callable[..., str]:
    def get(user: User, query: str = "") -> str:
        response = client_for(user).get(f"/participants/{query}")
        assert response.status_code == 200
        return response.content.decode()

    return get


@pytest.mark.requirement("PROT-SCREEN-LOG")
def test_row_shows_status_arm_et_date_next_visit_window_and_open_queries(
    log_for, coordinator_a, monitor_a, transferred
):
    open_query(transferred, monitor_a)
    with at("2026-03-05"):
        html = log_for(coordinator_a)
    row = row_of(html, transferred)
    headings = re.findall(r'<th scope="col"[^>]*>(?:<a [^>]+>)?([^<]+)', html)
    assert [h.strip() for h in headings] == [
        "Subject ID",
        "Status",
        "Arm",
        "ET date",
        "Next visit",
        "Open queries",
    ]
    assert transferred.subject_id in row
    assert "Randomized" in row
    assert transferred.allocation.arm.name_en in row
    assert '<td class="text-nowrap et-date">2026-03-01</td>' in row
    assert "Biochemical pregnancy (serum hCG)" in row
    assert (
        '<span class="text-nowrap">2026-03-15</span> – <span class="text-nowrap">2026-03-17' in row
    )
    assert "2026-03-15" in row and "2026-03-17" in row
    assert "Overdue" not in row
    link = f'href="/queries/?participant={transferred.pk}&amp;status=open">1<'
    assert link in row


def test_next_visit_past_its_window_is_overdue(log_for, coordinator_a, transferred):
    with at("2026-03-18"):
        row = row_of(log_for(coordinator_a), transferred)
    assert "Biochemical pregnancy (serum hCG)" in row
    assert 'class="badge text-bg-danger overdue">Overdue<' in row


def test_next_visit_is_the_first_with_nothing_recorded(log_for, coordinator_a, transferred):
    with at("2026-03-15"):
        visit_record(
            participant=transferred,
            visit_code="biochemical_pregnancy",
            outcome="done",
            done_on=transferred.embryo_transfer.et_date.replace(day=15),
            performed_by=coordinator_a,
        )
        row = row_of(log_for(coordinator_a), transferred)
    assert "Clinical pregnancy (ultrasound)" in row
    assert "2026-03-22" in row and "2026-03-29" in row
    assert "Biochemical" not in row


def test_before_randomization_arm_et_date_and_next_visit_are_blank(
    log_for, coordinator_a, participant_a
):
    row = row_of(log_for(coordinator_a), participant_a)
    assert "Screening" in row
    assert row.count("—") == 3
    assert "/queries/" not in row


def test_dates_never_break_across_lines(log_for, coordinator_a, transferred):
    with at("2026-03-05"):
        row = row_of(log_for(coordinator_a), transferred)
    for day in ("2026-03-01", "2026-03-15", "2026-03-17"):
        assert re.search(rf'class="text-nowrap[^"]*">{day}<', row), day


@pytest.fixture
def three(site_a: Site, coordinator_a: User, monitor_a: User) -> list[Participant]:
    """S01-001 randomized with her ET on 1 March and two open queries, S01-002 consented
    with one, S01-003 screening with none."""
    first = randomized_with_et_on_1_march(site_a, coordinator_a)
    second = eligible_consented(site_a, coordinator_a)
    third = ParticipantFactory(site=site_a, performed_by=coordinator_a)
    open_query(first, monitor_a)
    open_query(first, monitor_a)
    open_query(second, monitor_a)
    return [first, second, third]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("subject", [0, 1, 2]),
        ("-subject", [2, 1, 0]),
        ("status", [2, 1, 0]),
        ("-status", [0, 1, 2]),
        ("et_date", [0, 1, 2]),
        ("-et_date", [0, 1, 2]),
        ("next_visit", [0, 1, 2]),
        ("-next_visit", [0, 1, 2]),
        ("open_queries", [2, 1, 0]),
        ("-open_queries", [0, 1, 2]),
        ("arm", [0, 1, 2]),
    ],
)
def test_each_column_sorts_both_ways_and_says_so(log_for, coordinator_a, three, sort, order):
    html = log_for(coordinator_a, f"?sort={sort}")
    assert rows(html) == [three[i].subject_id for i in order]
    column = sort.removeprefix("-")
    direction = "descending" if sort.startswith("-") else "ascending"
    sorted_headers = re.findall(r'aria-sort="(\w+)"><a href="[^"]*" data-sort="(\w+)"', html)
    assert sorted_headers == [(direction, column)]
    again = "" if sort.startswith("-") else "-"
    assert f'href="?sort={again}{column}" data-sort="{column}"' in html


@pytest.mark.parametrize("sort", ["bogus", "-", "site__code", "-password", "next_visit;drop"])
def test_an_unknown_sort_falls_back_to_the_subject_order(log_for, coordinator_a, three, sort):
    html = log_for(coordinator_a, f"?sort={sort}")
    assert rows(html) == [p.subject_id for p in three]
    assert re.findall(r'aria-sort="(\w+)"><a href="[^"]*" data-sort="(\w+)"', html) == [
        ("ascending", "subject")
    ]


def test_filters_by_status_and_site_and_searches_by_subject_id(
    log_for, make_user, three, participant_b
):
    data_manager = make_user("data_manager")
    assert rows(log_for(data_manager, "?status=screening")) == ["S01-003", "S02-001"]
    assert rows(log_for(data_manager, "?status=consented")) == ["S01-002"]
    assert rows(log_for(data_manager, "?site=S02")) == ["S02-001"]
    assert rows(log_for(data_manager, "?q=01-003")) == ["S01-003"]
    assert rows(log_for(data_manager, "?status=randomized&site=S01")) == ["S01-001"]
    assert 'value="-subject"' in log_for(data_manager, "?sort=-subject&site=S01")


def test_page_links_keep_the_filters_and_the_sort(log_for, coordinator_a, three, monkeypatch):
    monkeypatch.setattr(screening_views, "PAGE_SIZE", 2)
    first = log_for(coordinator_a, "?site=S01&sort=-subject&q=S01")
    assert rows(first) == ["S01-003", "S01-002"]
    assert 'href="?site=S01&amp;sort=-subject&amp;q=S01&amp;page=2" rel="next"' in first
    second = log_for(coordinator_a, "?site=S01&sort=-subject&q=S01&page=2")
    assert rows(second) == ["S01-001"]
    assert 'href="?site=S01&amp;sort=-subject&amp;q=S01&amp;page=1" rel="prev"' in second
    last = log_for(coordinator_a, "?sort=next_visit&page=2")
    assert rows(last) == ["S01-003"]
    assert 'href="?sort=next_visit&amp;page=1" rel="prev"' in last
    # A new sort starts again at page 1.
    assert 'href="?sort=-next_visit" data-sort="next_visit"' in last


def test_a_blinded_reader_sees_no_arm_and_cannot_sort_by_it(
    log_for, study: Study, coordinator_a, monitor_a, three
):
    Study.objects.filter(pk=study.pk).update(blinded=True, blinded_roles=["monitor"])
    arm = three[0].allocation.arm.name_en
    html = log_for(monitor_a, "?sort=arm")
    row = row_of(html, three[0])
    assert "Blinded" in row and arm not in html
    assert 'data-sort="arm"' not in html
    assert re.findall(r'aria-sort="(\w+)"><a href="[^"]*" data-sort="(\w+)"', html) == [
        ("ascending", "subject")
    ]
    unblinded = log_for(coordinator_a, "?sort=arm")
    assert arm in row_of(unblinded, three[0])
    assert 'aria-sort="ascending"><a href="?sort=-arm" data-sort="arm"' in unblinded


def test_other_sites_participants_never_appear(log_for, make_user, three, participant_b):
    monitor_b = make_user("monitor", ["S02"], username="monitor_b")
    for query in ("", "?site=S01", "?q=S01", "?sort=next_visit", "?status=randomized"):
        html = log_for(monitor_b, query)
        assert "S01-" not in html, query
    assert rows(log_for(monitor_b)) == ["S02-001"]


def _log_queries(client: Any, query: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/participants/{query}").status_code == 200
    return len(captured)


@pytest.mark.parametrize("blinded", [False, True])
@pytest.mark.parametrize("query", ["", "?sort=next_visit", "?sort=-open_queries"])
def test_the_log_reads_as_many_rows_in_as_many_queries(
    client_for, django_assert_num_queries, study, site_a, coordinator_a, monitor_a, query, blinded
):
    if blinded:
        Study.objects.filter(pk=study.pk).update(blinded=True, blinded_roles=["coordinator"])

    def randomized_with_a_query() -> None:
        participant = randomized_with_et_on_1_march(site_a, coordinator_a)
        open_query(participant, monitor_a)

    randomized_with_a_query()
    client = client_for(coordinator_a)
    client.get("/participants/")
    one = _log_queries(client, query)
    for _ in range(4):
        randomized_with_a_query()
    assert Participant.objects.count() == 5
    with django_assert_num_queries(one):
        html = client.get(f"/participants/{query}").content.decode()
    assert len(rows(html)) == 5
