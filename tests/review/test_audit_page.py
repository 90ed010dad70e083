"""Audit-trail review in the browser's pages: server filters, keyset pages, sign-offs."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from ecrf.endpoints.services import endpoint_record
from ecrf.review.models import AuditEntry, AuditReview
from ecrf.review.services import audit_index_update

pytestmark = pytest.mark.django_db

URL = "/audit/"


@pytest.fixture
def chained() -> None:
    """Links made at once rather than at commit, which a test's transaction never reaches."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def correct(participant, coordinator, reason: str) -> None:
    """Her serum hCG corrected from 140 to 150 (and the result to negative) with ``reason``."""
    endpoint_record(
        participant=participant,
        record="biochemical_pregnancy",
        values={
            "assessed_on": dt.date(2026, 3, 15),
            "serum_hcg_miu_ml": Decimal("150"),
            "result": "negative",
        },
        reason=reason,
        performed_by=coordinator,
    )


@pytest.fixture
def corrected(chained, coordinator_a, biochemical):
    """Her serum hCG corrected from 140 to 150 with a reason."""
    correct(biochemical, coordinator_a, "Transcription error")
    return biochemical


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-entry="\d+".*?</tr>', html, re.S)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", {"form": "Biochemical pregnancy", "old": "Positive", "new": "Negative"}),
        ("ja", {"form": "生化学的妊娠", "old": "陽性", "new": "陰性"}),
    ],
)
def test_a_monitor_filters_the_trail_down_to_one_change_shown_by_labels(
    language, words, client_for, make_user, corrected
):
    monitor = make_user("monitor", ["S01"], language=language)
    response = client_for(monitor).get(
        URL,
        {"subject_id": corrected.subject_id, "record": "biochemical_pregnancy", "field": "result"},
    )
    assert response.status_code == 200
    found = rows(response.content.decode())
    assert len(found) == 2  # entered, then corrected
    change = found[1]
    assert words["form"] in change
    assert words["old"] in change and words["new"] in change
    assert ">negative<" not in change  # labels, never codes
    assert "Transcription error" in change
    assert "(UTC+09:00)" in change  # the site's time, with its offset


def test_what_people_typed_is_shown_as_text_never_as_markup(
    chained, client_for, make_user, coordinator_a, biochemical
):
    correct(biochemical, coordinator_a, '<b>Lab</b> & "source" <script>alert(1)</script>')
    monitor = make_user("monitor", ["S01"])
    response = client_for(monitor).get(
        URL, {"subject_id": biochemical.subject_id, "field": "result"}
    )
    change = rows(response.content.decode())[-1]
    assert "&lt;b&gt;Lab&lt;/b&gt; &amp; &quot;source&quot; &lt;script&gt;" in change
    assert "<script>" not in change and "<b>" not in change


def test_a_filter_it_cannot_read_is_refused_naming_it(client_for, make_user, study):
    monitor = make_user("monitor", ["S01"])
    response = client_for(monitor).get(URL, {"since": "15 March", "signal": "sneaky"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_since-error"' in html and 'id="id_signal-error"' in html
    assert not rows(html)


def test_site_staff_do_not_review_the_trail(client_for, coordinator_a):
    assert client_for(coordinator_a).get(URL).status_code == 403


def test_a_monitor_sees_only_the_trail_of_her_sites(client_for, make_user, corrected):
    other = make_user("monitor", ["S02"])
    response = client_for(other).get(URL, {"subject_id": corrected.subject_id})
    assert response.status_code == 200
    assert not rows(response.content.decode())


def test_pages_follow_each_other_by_keyset_without_gaps_or_repeats(
    client_for, make_user, corrected
):
    manager = make_user("data_manager")
    client = client_for(manager)
    seen: list[str] = []
    response = client.get(URL)
    for _page in range(3):
        html = response.content.decode()
        seen += re.findall(r'<tr data-entry="(\d+)"', html)
        following = re.search(r'id="audit-next"[^>]*|href="([^"]+)" id="audit-next"', html)
        if not following or not following.group(1):
            break
        response = client.get(URL + following.group(1).replace("&amp;", "&"))
    expected = list(
        AuditEntry.objects.exclude(model="randomization.slot")
        .order_by("at", "id")
        .values_list("pk", flat=True)[: len(seen)]
    )
    assert [int(pk) for pk in seen] == expected
    assert len(seen) == len(set(seen)) > 50


#: what one filtered page of the trail costs, on any page
PAGE_QUERIES = 11


def test_the_page_answers_in_a_fixed_number_of_queries(
    client_for, make_user, corrected, django_assert_num_queries
):
    manager = make_user("data_manager")
    client = client_for(manager)
    client.get(URL)  # the session is read and kept once
    filters = {
        "site": "S01",
        "user": "coordinator_a",
        "since": "2026-01-01",
        "signal": "late_entry",
    }
    # session, user, second factor, index state, sites, study, entries, sign-offs,
    # and the session kept
    with django_assert_num_queries(PAGE_QUERIES):
        client.get(URL, filters)
    audit_index_update()
    first = AuditEntry.objects.order_by("id").first().pk
    with django_assert_num_queries(PAGE_QUERIES):
        client.get(URL, {**filters, "after": first})


def test_a_sign_off_is_recorded_and_the_next_review_starts_from_it(
    client_for, make_user, corrected
):
    monitor = make_user("monitor", ["S01"])
    client = client_for(monitor)
    audit_index_update()
    through = AuditEntry.objects.filter(subject_id=corrected.subject_id).order_by("at").last().at
    response = client.post(
        reverse("audit_review:sign_off"),
        {"site": "S01", "through": through.isoformat(), "comment": "All changes explained."},
    )
    assert response.status_code == 302
    review = AuditReview.objects.get()
    assert (review.reviewed_by, review.comment) == (monitor, "All changes explained.")
    html = client.get(URL, {"site": "S01"}).content.decode()
    assert 'id="since-last-review"' in html
    assert "All changes explained." in html
    # a review cannot go back over the time the last one covered
    response = client.post(
        reverse("audit_review:sign_off"),
        {"site": "S01", "through": "2026-01-01", "comment": "Again"},
    )
    assert response.status_code == 400
    assert "already covers" in response.content.decode()
    assert AuditReview.objects.count() == 1


def test_a_monitor_cannot_sign_off_a_site_she_does_not_see(client_for, make_user, study):
    monitor = make_user("monitor", ["S02"])
    response = client_for(monitor).post(
        reverse("audit_review:sign_off"),
        {"site": "S01", "through": "2026-01-01", "comment": "Fine"},
    )
    assert response.status_code == 400
    assert not AuditReview.objects.exists()


def test_the_monitor_home_counts_changes_since_the_last_review_and_links_to_them(
    client_for, make_user, corrected
):
    monitor = make_user("monitor", ["S01"])
    client = client_for(monitor)
    audit_index_update()
    at_s01 = AuditEntry.objects.filter(site__code="S01")
    html = client.get("/").content.decode()
    row = re.search(
        r'<table[^>]*id="audit-review-counts".*?<tr data-site="S01">(.*?)</tr>', html, re.S
    )
    assert row, "no audit review counts for S01"
    assert f'data-audit="unreviewed">{at_s01.count()}<' in row.group(1)
    signalled = at_s01.exclude(signals=[]).count()
    assert f'data-audit="signalled">{signalled}<' in row.group(1)
    assert 'href="/audit/?site=S01&amp;signal=any"' in row.group(1)
    latest = at_s01.order_by("at").last().at
    client.post(
        reverse("audit_review:sign_off"),
        {"site": "S01", "through": latest.isoformat(), "comment": "Reviewed."},
    )
    html = client.get("/").content.decode()
    row = re.search(
        r'<tr data-site="S01">(.*?)</tr>', html[html.index("audit-review-counts") :], re.S
    )
    assert 'data-audit="unreviewed">0<' in row.group(1)
