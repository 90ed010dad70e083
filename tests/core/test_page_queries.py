"""Every list page, casebook page, report and home page answers with as many queries
whatever the data: counted for each role that reads it with one participant in each
state per site, then again with three, her own records grown alongside (adverse events,
diary days, queries), more accounts, exports and audit entries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ecrf.exports.models import ExportJob
from ecrf.queries.services import query_open
from ecrf.review.services import audit_index_update
from ecrf.schedule.services import dose_day_record

from ..clock import at
from ..trial_builder import ASSESSED_BY, ET_DATE

pytestmark = pytest.mark.django_db

#: Pages by name; ``{case}`` is the participant followed through treatment.
PAGES = {
    "home": "/",
    "participant list": "/participants/",
    "casebook": "/participants/{case}/",
    "history": "/participants/{case}/history/",
    "treatment": "/participants/{case}/treatment/",
    "adverse events": "/participants/{case}/safety/",
    "laboratory results": "/participants/{case}/labs/",
    "eligibility form": "/participants/{case}/forms/eligibility/",
    "biochemical pregnancy form": "/participants/{case}/forms/biochemical_pregnancy/",
    "query list": "/queries/",
    "verification worklist": "/participants/verification/",
    "exports": "/exports/",
    "randomization lists": "/randomization/",
    "audit trail": "/audit/",
    "access review": "/accounts/access-review/",
    "reports": "/reports/",
    "CONSORT": "/reports/consort/",
    "enrollment": "/reports/enrollment/",
    "efficacy": "/reports/efficacy/",
    "safety": "/reports/safety/",
    "data quality": "/reports/quality/",
}

#: The pages each role reads.
READS = {
    "coordinator": [
        "home",
        "participant list",
        "casebook",
        "history",
        "treatment",
        "adverse events",
        "laboratory results",
        "eligibility form",
        "biochemical pregnancy form",
        "reports",
        "enrollment",
        "data quality",
    ],
    "investigator": ["home", "participant list", "casebook", "adverse events"],
    "monitor": [
        "home",
        "participant list",
        "casebook",
        "history",
        "treatment",
        "adverse events",
        "eligibility form",
        "biochemical pregnancy form",
        "query list",
        "verification worklist",
        "audit trail",
        "data quality",
    ],
    "data_manager": [
        "home",
        "participant list",
        "casebook",
        "query list",
        "exports",
        "audit trail",
        "access review",
        "CONSORT",
        "safety",
        "data quality",
    ],
    "statistician": ["home", "exports", "randomization lists", "CONSORT", "efficacy"],
    "admin": ["home", "access review", "reports"],
}


def _grow(trial: Any, case: Any, monitor: Any, manager: Any, make_user: Any, round_: int) -> None:
    """Per site, a woman treated and assessed with an adverse event, one screened and
    waiting with a query, one who is not eligible; the case's own records grow too."""
    for site in ("S01", "S02"):
        trial.one_in_each_state(site, queried_by=monitor)
    trial.adverse_event(case, term=f"Headache {round_}")
    with at(ASSESSED_BY):
        dose_day_record(
            participant=case,
            date=ET_DATE + dt.timedelta(days=round_),
            taken=True,
            performed_by=trial.coordinators["S01"],
        )
    query_open(
        participant=case,
        record="eligibility",
        field="th1_th2_ratio",
        text=f"Please confirm the ratio ({round_}).",
        performed_by=monitor,
    )
    ExportJob.objects.create(owner=manager, kind="audit_trail", format="csv")
    make_user("coordinator", ["S02"])
    audit_index_update()


def _counts(clients: dict[str, Any], case: Any) -> dict[tuple[str, str], int]:
    found = {}
    for role, client in clients.items():
        for page in READS[role]:
            path = PAGES[page].format(case=case.pk)
            with at("2026-03-10"), CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            assert response.status_code == 200, (role, page, response.status_code)
            found[(role, page)] = len(captured.captured_queries)
    return found


def test_no_page_asks_more_queries_as_the_trial_grows(trial, make_user, client_for):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the trail's links, for its review
    monitor = make_user("monitor", ["S01", "S02"])
    manager = make_user("data_manager")
    users = {
        "coordinator": trial.coordinators["S01"],
        "investigator": make_user("investigator", ["S01"]),
        "monitor": monitor,
        "data_manager": manager,
        "statistician": make_user("statistician"),
        "admin": make_user("admin"),
    }
    clients = {role: client_for(user) for role, user in users.items()}
    case = trial.screen("S01")
    trial.randomize(case)
    trial.treat(case)
    trial.assess(case, hcg_positive=True, sac_seen=True)
    _grow(trial, case, monitor, manager, make_user, 1)
    _counts(clients, case)  # each session read and kept once
    small = _counts(clients, case)
    _grow(trial, case, monitor, manager, make_user, 2)
    _grow(trial, case, monitor, manager, make_user, 3)
    large = _counts(clients, case)
    grown = {page: (small[page], count) for page, count in large.items() if count != small[page]}
    assert not grown, f"queries grew with the data (one round, three rounds): {grown}"
