"""The review's filtered pages run on indexes, however long the trail (``bench/audit_review``
times them at ten million entries)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from ecrf.review.forms import AuditFilterForm
from ecrf.review.selectors import audit_entries
from tests.conftest import module_transaction

pytestmark = pytest.mark.django_db

ENTRIES = 100_000


@pytest.fixture(scope="module")
def long_trail(trial_built, django_db_blocker):
    """A trail of many entries at two sites, by twenty users, over a year (built once for
    the module)."""
    with module_transaction(django_db_blocker):
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO review_auditentry
                    (seq, event_table, event_id, field, at, actor, role, site_id, subject_id,
                     record, record_id, model, old_value, new_value, reason, action, source,
                     reveals_arm, signals)
                SELECT g, 'scale_event', g, 'value',
                       timestamptz '2026-01-05 09:00+09' + g * interval '4 minutes',
                       'user_' || (g %% 20), 'coordinator', s.id,
                       s.code || '-' || (g %% 500), 'dose', g::text, 'schedule.doseentry', '',
                       '1', '', 'create', 'web', false,
                       CASE WHEN g %% 101 = 0 THEN ARRAY['off_hours'] ELSE '{}'::varchar[] END
                  FROM generate_series(1, %(n)s) g
                  JOIN studies_site s ON s.code = CASE WHEN g %% 2 = 0 THEN 'S01' ELSE 'S02' END
                """,
                {"n": ENTRIES},
            )
            cursor.execute("ANALYZE review_auditentry")
        yield


def plan_of(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        return json.dumps(cursor.fetchone()[0])


@pytest.mark.parametrize(
    "filters",
    [
        {"site": "S01", "user": "user_4", "since": "2026-06-01", "until": "2026-06-30"},
        {"site": "S01", "signal": "off_hours"},
        {"subject_id": "S01-42"},
        {"record": "dose", "signal": "off_hours"},
        {},
    ],
)
def test_each_filtered_page_reads_the_trail_by_index(make_user, long_trail, filters):
    monitor = make_user("monitor", ["S01", "S02"])
    form = AuditFilterForm(filters, user=monitor)
    assert form.is_valid(), form.errors
    page = audit_entries(monitor, form.filters())[:51]
    plan = plan_of(page)
    assert "review_auditentry" in plan
    assert not any(
        node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == "review_auditentry"
        for node in _nodes(json.loads(plan)[0]["Plan"])
    ), plan


def _nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
