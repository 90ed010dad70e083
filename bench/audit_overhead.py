"""Saving a form with the audit trail and its hash chain, against the same save without them.

The saves go through the services the pages call (``endpoint_record``, ``dose_record``),
inside the audit context the request middleware opens. Audited and unaudited rounds
alternate on the same database, so that both see the same machine at the same time.

"Without auditing" disables, on this throwaway database only, pghistory's insert, update
and delete triggers on every tracked table and every trigger on the event tables (the
origin check and the hash chain); nothing else changes. The database guard (locks,
signatures, verification) stays on in both, as it is not audit.

The figure is the median time of the first entry of the biochemical pregnancy form;
the correction of that form (with its reason) and a dose diary entry are reported too.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from common import fresh_database, report

ROUNDS = 12
PER_ROUND = 10


def audit_triggers() -> list[tuple[str, str]]:
    """(table, trigger) of the audit: pghistory's on tracked tables, all on event tables."""
    import pghistory.models
    import pgtrigger
    from django.apps import apps
    from django.db import connection

    event_models = [
        m for m in apps.get_models() if issubclass(m, pghistory.models.Event) and not m._meta.proxy
    ]
    event_tables = [m._meta.db_table for m in event_models]
    triggers = [
        (model._meta.db_table, trigger.get_pgid(model))
        for model, trigger in pgtrigger.registered()
        if model._meta.db_table not in event_tables
        and trigger.name in ("create_insert", "update_update", "delete_delete")
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relname = ANY(%s)",
            [event_tables],
        )
        triggers += cursor.fetchall()
    return triggers


def set_auditing(triggers: list[tuple[str, str]], *, enabled: bool) -> None:
    from django.db import connection

    action = "ENABLE" if enabled else "DISABLE"
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, trigger in triggers:
            cursor.execute(f"ALTER TABLE {quote(table)} {action} TRIGGER {quote(trigger)}")


def main() -> None:
    fresh_database()
    import trialdata

    from ecrf.audit.context import audit_context, user_metadata
    from ecrf.endpoints.checks import BIOCHEMICAL
    from ecrf.endpoints.services import endpoint_record
    from ecrf.schedule.services import dose_record
    from ecrf.studies.models import Site

    trialdata.trial(["S01"])
    site = Site.objects.get(code="S01")
    coordinator = trialdata.staff("bench-coordinator", "coordinator", ["S01"])
    participants = trialdata.treated_participants(site, coordinator, ROUNDS * PER_ROUND)
    dose_day = trialdata.dosing_days(site)[5]
    triggers = audit_triggers()

    def timed(save: Callable[[], Any], path: str) -> float:
        with audit_context(
            source="web",
            url=path,
            method="POST",
            request_id=str(uuid.uuid4()),
            **user_metadata(coordinator),
        ):
            began = time.perf_counter()
            save()
            return time.perf_counter() - began

    times: dict[tuple[str, bool], list[float]] = {}
    for round_number in range(ROUNDS):
        audited = round_number % 2 == 0
        set_auditing(triggers, enabled=audited)
        for p in participants[round_number * PER_ROUND : (round_number + 1) * PER_ROUND]:
            endpoint = f"/participants/{p.pk}/endpoints/{BIOCHEMICAL}/"
            samples = {
                "first_entry": timed(
                    partial(
                        endpoint_record,
                        participant=p,
                        record=BIOCHEMICAL,
                        values=trialdata.biochemical_values(site, 120),
                        performed_by=coordinator,
                    ),
                    endpoint,
                ),
                "correction": timed(
                    partial(
                        endpoint_record,
                        participant=p,
                        record=BIOCHEMICAL,
                        values=trialdata.biochemical_values(site, 135),
                        reason="Transcription error in the hCG value",
                        performed_by=coordinator,
                    ),
                    endpoint,
                ),
                "dose_entry": timed(
                    partial(
                        dose_record,
                        participant=p,
                        date=dose_day,
                        intake="morning",
                        taken=True,
                        performed_by=coordinator,
                    ),
                    f"/participants/{p.pk}/treatment/dose/",
                ),
            }
            for kind, seconds in samples.items():
                times.setdefault((kind, audited), []).append(seconds)
    set_auditing(triggers, enabled=True)

    def median_ms(kind: str, audited: bool) -> float:
        return statistics.median(times[(kind, audited)]) * 1000

    extra: dict[str, float] = {}
    for kind in ("correction", "dose_entry"):
        extra[f"{kind}_ms"] = round(median_ms(kind, True), 3)
        extra[f"{kind}_unaudited_ms"] = round(median_ms(kind, False), 3)
        extra[f"{kind}_ratio"] = round(median_ms(kind, True) / median_ms(kind, False), 3)
    report(
        "audit_overhead",
        median_ms("first_entry", True),
        "ms (median, first entry of the biochemical pregnancy form)",
        median_ms("first_entry", False),
        saves_per_mode=ROUNDS * PER_ROUND // 2,
        triggers_disabled=len(triggers),
        **extra,
    )


if __name__ == "__main__":
    main()
