"""Every query count on a home page links to the query list, filtered to what it counts."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from ecrf.queries.services import query_open, query_respond

pytestmark = pytest.mark.django_db


@pytest.fixture
def queries(make_user, coordinator_a, biochemical):
    """Two open queries and one answered at site S01, raised by a monitor."""
    monitor = make_user("monitor", ["S01"])
    opened = [
        query_open(
            participant=biochemical,
            record="biochemical_pregnancy",
            field=field,
            text="Please check.",
            performed_by=monitor,
        )
        for field in ["result", "assessed_on", "serum_hcg_miu_ml"]
    ]
    query_respond(query=opened[2], text="Checked.", performed_by=coordinator_a)
    return opened


def count_link(page: str, kind: str) -> tuple[str, str]:
    match = re.search(rf'<a href="([^"]+)" data-count="{kind}">(\d+)</a>', page)
    assert match, f"no {kind} count link"
    return html_lib.unescape(match.group(1)), match.group(2)


def listed(client, url: str) -> int:
    return len(re.findall(r'<tr data-query="', client.get(url).content.decode()))


@pytest.mark.parametrize("role", ["monitor", "data_manager"])
def test_the_query_counts_per_site_link_to_the_list_filtered_alike(
    role, client_for, make_user, queries
):
    client = client_for(make_user(role, ["S01"] if role == "monitor" else None))
    page = client.get("/").content.decode()
    table = re.search(r'<table class="table table-sm" id="query-counts">.*?</table>', page, re.S)
    assert table
    open_url, open_count = count_link(table.group(0), "open")
    answered_url, answered_count = count_link(table.group(0), "answered")
    assert open_url == "/queries/?site=S01&status=open" and open_count == "2"
    assert answered_url == "/queries/?site=S01&status=answered" and answered_count == "1"
    assert listed(client, open_url) == 2 and listed(client, answered_url) == 1


def test_the_monitor_reads_answered_queries_by_their_labels(client_for, make_user, queries):
    page = client_for(make_user("monitor", ["S01"])).get("/").content.decode()
    answered = re.search(r'<ul id="answered-queries">.*?</ul>', page, re.S).group(0)
    assert "biochemical_pregnancy.serum_hcg_miu_ml" not in answered
    assert "Biochemical pregnancy: Serum hCG" in answered
    assert "/forms/biochemical_pregnancy/#queries-serum_hcg_miu_ml" in answered


def test_the_coordinator_home_counts_open_queries_and_links_to_them(
    client_for, coordinator_a, queries
):
    client = client_for(coordinator_a)
    page = client.get("/").content.decode()
    link = re.search(r'<a href="([^"]+)" id="open-query-count">([^<]+)</a>', page)
    assert link and html_lib.unescape(link.group(1)) == "/queries/?status=open"
    assert link.group(2).startswith("2 open queries")
    assert listed(client, link.group(1)) == 2
    mine = re.search(r'<ul id="open-queries">.*?</ul>', page, re.S).group(0)
    assert "biochemical_pregnancy.result" not in mine and "Biochemical pregnancy: Result" in mine


@pytest.mark.parametrize("role", ["statistician", "admin"])
def test_roles_that_do_not_work_on_queries_see_no_query_counts(role, client_for, make_user):
    assert 'id="query-counts"' not in client_for(make_user(role)).get("/").content.decode()


def test_her_page_offers_fields_and_shows_queries_by_their_labels(
    client_for, make_user, biochemical, queries
):
    page = client_for(make_user("monitor", ["S01"])).get(f"/participants/{biochemical.pk}/")
    html = page.content.decode()
    select = re.search(r'<select class="form-select" name="target".*?</select>', html, re.S)
    assert select
    option = re.search(r'<option value="eligibility.th1_th2_ratio">([^<]+)</option>', select[0])
    assert option and option.group(1) == "Eligibility: Th1/Th2 ratio"
    card = re.search(rf'data-query="{queries[0].pk}".*?</ul>', html, re.S)
    assert card and "Biochemical pregnancy: Result" in card[0]
    assert "biochemical_pregnancy.result<" not in card[0]
