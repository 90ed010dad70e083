"""Dates and short words in the visit table and the query list never break across lines."""

from __future__ import annotations

import re

import pytest

from ecrf.queries.services import query_open

from ..clock import at

pytestmark = pytest.mark.django_db


def test_visit_dates_and_windows_of_her_treatment_page_stay_on_one_line(
    client_for, coordinator_a, transferred
):
    with at("2026-03-05"):
        html = client_for(coordinator_a).get(f"/participants/{transferred.pk}/treatment/")
    row = html.content.decode().split('data-visit="biochemical_pregnancy"', 1)[1].split("</tr>")[0]
    assert '<td class="text-nowrap">2026-03-15</td>' in row
    assert '<td class="text-nowrap">2026-03-15 – 2026-03-17</td>' in row


@pytest.mark.parametrize("language", ["en", "ja"])
def test_query_status_subject_and_times_stay_on_one_line(
    client_for, make_user, transferred, language
):
    monitor = make_user("monitor", ["S01"], language=language)
    query = query_open(
        participant=transferred,
        record="eligibility",
        field="th1_th2_ratio",
        text="Which laboratory measured the ratio?",
        performed_by=monitor,
    )
    html = client_for(monitor).get("/queries/").content.decode()
    row = html.split(f'data-query="{query.pk}"', 1)[1].split("</tr>", 1)[0]
    status = "オープン" if language == "ja" else "Open"
    assert f'<td class="text-nowrap">{status}</td>' in row
    assert re.search(r'<td class="text-nowrap"><a class="subject-id"', row)
    assert len(re.findall(r'<td class="small text-nowrap">[^<]*\d{4}-\d{2}-\d{2}', row)) == 2
