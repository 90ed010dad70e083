"""The query list: filtered, sorted and paginated on the server, with labels and a CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from ecrf.queries.models import Query
from ecrf.queries.services import query_close, query_open, query_respond
from ecrf.studies.models import Site
from tests.conftest import eligible_consented

from ..clock import at

pytestmark = pytest.mark.django_db

LIST = "/queries/"
CSV = "/queries/queries.csv"


def ask(participant, user, *, record="consent", field="consent_date", day="2026-03-16", **kw):
    with at(day, **kw):
        return query_open(
            participant=participant,
            record=record,
            field=field,
            text="Please check this against the source.",
            performed_by=user,
        )


def listed(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-query="(\d+)"', response.content.decode())]


@pytest.fixture
def monitor(make_user):
    return make_user("monitor", ["S01"])


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Consent", "Consent date", "Open", "Subject ID"]),
        ("ja", ["同意取得", "同意取得日", "オープン", "研究対象者識別コード"]),
    ],
)
def test_the_list_shows_labels_in_the_readers_language_and_links_to_the_form(
    language, words, client_for, make_user, monitor, biochemical
):
    query = ask(biochemical, monitor)
    reader = make_user("monitor", ["S01"], language=language)
    with at("2026-03-20"):
        response = client_for(reader).get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    row = re.search(rf'<tr data-query="{query.pk}".*?</tr>', html, re.S).group(0)
    for word in words[:3]:
        assert f">{word}</" in row, word
    assert f">{words[3]}</a></th>" in html
    assert "consent_date" not in row.replace("#queries-consent_date", "")
    assert reverse("participants:detail", args=[biochemical.pk]) in row
    assert (
        reverse("participants:form", args=[biochemical.pk, "consent"]) + "#queries-consent_date"
    ) in row
    assert monitor.username in row
    assert re.search(r'<td class="text-end">4</td>', row)  # opened 4 days before


def test_each_filter_narrows_the_list(
    client_for, make_user, monitor, coordinator_a, coordinator_b, biochemical
):
    other = make_user("data_manager")
    consent = ask(biochemical, monitor)
    hcg = ask(biochemical, other, record="biochemical_pregnancy", field="serum_hcg_miu_ml")
    with at("2026-03-17"):
        query_respond(query=hcg, text="Checked.", performed_by=coordinator_a)
    elsewhere = eligible_consented(Site.objects.get(code="S02"), coordinator_b)
    remote = ask(elsewhere, other)
    client = client_for(make_user("data_manager"))
    with at("2026-03-20"):
        assert set(listed(client.get(LIST))) == {consent.pk, hcg.pk, remote.pk}
        assert listed(client.get(LIST, {"status": "answered"})) == [hcg.pk]
        assert listed(client.get(LIST, {"form": "consent", "site": "S01"})) == [consent.pk]
        assert listed(client.get(LIST, {"site": "S02"})) == [remote.pk]
        assert listed(client.get(LIST, {"participant": elsewhere.pk})) == [remote.pk]
        assert set(listed(client.get(LIST, {"raised_by": other.username}))) == {hcg.pk, remote.pk}
        assert listed(client.get(LIST, {"raised_by": "nobody"})) == []


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_a_monitor_lists_only_the_queries_of_her_sites(
    client_for, make_user, monitor, coordinator_b, biochemical
):
    mine = ask(biochemical, monitor)
    elsewhere = eligible_consented(Site.objects.get(code="S02"), coordinator_b)
    theirs = ask(elsewhere, make_user("monitor", ["S02"]))
    client = client_for(monitor)
    response = client.get(LIST)
    assert listed(response) == [mine.pk]
    assert elsewhere.subject_id not in response.content.decode()
    assert listed(client.get(LIST, {"participant": elsewhere.pk})) == []
    refused = client.get(LIST, {"site": "S02"})
    assert refused.status_code == 400 and theirs.pk not in listed(refused)
    assert elsewhere.subject_id not in client.get(CSV).content.decode("utf-8-sig")


def test_age_counts_whole_days_on_the_sites_calendar_and_filters_by_band(
    client_for, monitor, biochemical
):
    late_evening = ask(biochemical, monitor, day="2026-03-01", hour=23)
    week_old = ask(biochemical, monitor, day="2026-03-09")
    fresh = ask(biochemical, monitor, day="2026-03-16", hour=9)
    client = client_for(monitor)
    with at("2026-03-16", hour=10):
        assert listed(client.get(LIST, {"age": "0-7", "sort": "age"})) == [fresh.pk, week_old.pk]
        assert listed(client.get(LIST, {"age": "8-30"})) == [late_evening.pk]
        assert listed(client.get(LIST, {"age": "31-"})) == []
        ages = re.findall(
            r'<td class="text-end">(\d+)</td>', client.get(LIST, {"sort": "-age"}).content.decode()
        )
    # 2026-03-01 23:00 in Tokyo is still 14:00 UTC that day; Tokyo's calendar counts 15 days.
    assert ages == ["15", "7", "0"]


def test_sorting_by_a_column_goes_both_ways_and_marks_the_header(client_for, monitor, biochemical):
    consent = ask(biochemical, monitor, day="2026-03-10")
    hcg = ask(
        biochemical, monitor, record="biochemical_pregnancy", field="result", day="2026-03-15"
    )
    client = client_for(monitor)
    with at("2026-03-20"):
        assert listed(client.get(LIST, {"sort": "opened_at"})) == [consent.pk, hcg.pk]
        descending = client.get(LIST, {"sort": "-opened_at"})
        # Labels sort in the reader's language: "Biochemical pregnancy" before "Consent".
        assert listed(client.get(LIST, {"sort": "form"})) == [hcg.pk, consent.pk]
    assert listed(descending) == [hcg.pk, consent.pk]
    html = descending.content.decode()
    assert re.search(
        r'<th scope="col" aria-sort="descending"[^>]*><a href="\?sort=opened_at"', html
    )


@pytest.mark.parametrize(
    ("parameter", "value", "label"),
    [
        ("site", "S99", "Site"),
        ("status", "pending", "Status"),
        ("age", "5-9", "Age"),
        ("form", "horoscope", "Form"),
        ("participant", "abc", "Participant id"),
        ("participant", "9" * 30, "Participant id"),
        ("sort", "password", "Sort by"),
        ("page", "0", "Page"),
        ("raised_by", "x" * 151, "Raised by"),
    ],
)
def test_a_bad_filter_value_is_refused_naming_the_filter(
    parameter, value, label, client_for, monitor, biochemical
):
    ask(biochemical, monitor)
    client = client_for(monitor)
    response = client.get(LIST, {parameter: value})
    assert response.status_code == 400
    refusal = re.search(
        r'id="query-filter-refused">(.*?)</div>', response.content.decode(), re.S
    ).group(1)
    assert f"{label}:" in refusal
    assert listed(response) == []
    download = client.get(CSV, {parameter: value})
    assert download.status_code == 400 and f"{label}:" in download.content.decode()


def test_the_list_is_paginated_fifty_to_a_page_keeping_the_filters(
    client_for, monitor, biochemical
):
    for _ in range(52):
        ask(biochemical, monitor)
    Query.objects.filter(pk=Query.objects.order_by("pk").first().pk).update(status="answered")
    client = client_for(monitor)
    first = client.get(LIST, {"status": "open"})
    assert len(listed(first)) == 50
    assert "status=open&amp;page=2" in first.content.decode()
    second = client.get(LIST, {"status": "open", "page": 2})
    assert len(listed(second)) == 1
    assert set(listed(first)).isdisjoint(listed(second))
    # a page past the end shows the last page
    assert listed(client.get(LIST, {"status": "open", "page": 9})) == listed(second)


def test_the_list_answers_in_a_fixed_number_of_queries(
    client_for, monitor, coordinator_a, biochemical, django_assert_num_queries
):
    client = client_for(monitor)
    ask(biochemical, monitor)
    with at("2026-03-20"), django_assert_num_queries(QUERY_LIST_QUERIES):
        assert len(listed(client.get(LIST))) == 1
    for _ in range(5):
        query = ask(biochemical, monitor, record="biochemical_pregnancy", field="result")
        with at("2026-03-17"):
            query_respond(query=query, text="Checked.", performed_by=coordinator_a)
            query_close(query=query, performed_by=monitor)
    with at("2026-03-20"), django_assert_num_queries(QUERY_LIST_QUERIES):
        assert len(listed(client.get(LIST, {"sort": "last_step"}))) == 6


#: session, user, her second factor, the sites of the filter, the count, the page's rows,
#: their steps, and the session's renewal (savepoint, update, release)
QUERY_LIST_QUERIES = 10


def test_the_csv_holds_the_filtered_rows_as_labels_with_a_byte_order_mark(
    client_for, make_user, monitor, biochemical
):
    consent = ask(biochemical, monitor)
    ask(biochemical, monitor, record="biochemical_pregnancy", field="result")
    reader = make_user("monitor", ["S01"], language="ja")
    with at("2026-03-20"):
        response = client_for(reader).get(CSV, {"form": "consent"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "研究対象者識別コード" and len(rows) == 2
    assert rows[1][0] == consent.participant.subject_id
    assert (
        rows[1][2] == "同意取得"
        and rows[1][3] == "同意取得日"
        and rows[1][5] == "4"
        and rows[1][6] == monitor.username
    )
    assert "consent_date" not in rows[1]


@pytest.mark.parametrize(
    ("role", "in_menu"),
    [("monitor", True), ("data_manager", True), ("coordinator", False), ("statistician", False)],
)
def test_monitors_and_data_managers_find_the_list_in_the_menu(role, in_menu, client_for, make_user):
    html = client_for(make_user(role)).get("/").content.decode()
    assert (f'href="{LIST}"' in html) is in_menu
