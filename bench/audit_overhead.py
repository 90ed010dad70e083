"""Saving a form with the audit trail and its hash chain, against the same save without them.

The saves go through the services the pages call (``endpoint_record``, ``dose_record``),
inside the audit context the request middleware opens. The benchmark database is copied,
once its participants are treated, to a twin on the same server where the audit is off;
each correction is then timed on one database and at once on the other, one at a time.

"Without auditing" disables, on the twin only, pghistory's insert, update and delete
triggers on every tracked table and every trigger on the event tables (the origin check
and the hash chain); nothing else differs. The database guard (locks, signatures,
verification) stays on in both, as it is not audit.

The figure is the median time of a correction of the biochemical pregnancy form, with its
reason; a correction of a dose diary entry is reported beside it. Each participant's value
flips at every correction, so that every save changes the row and writes an event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from common import SAMPLES, fresh_database, interleaved, report, twin_database, using_database

PARTICIPANTS = 40
UNAUDITED = "unaudited"


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


def disable_auditing(triggers: list[tuple[str, str]]) -> None:
    from django.db import connection

    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, trigger in triggers:
            cursor.execute(f"ALTER TABLE {quote(table)} DISABLE TRIGGER {quote(trigger)}")


def main() -> None:
    fresh_database()
    import trialdata

    from ecrf.audit.context import audit_context, user_metadata
    from ecrf.endpoints.checks import BIOCHEMICAL
    from ecrf.endpoints.services import endpoint_record
    from ecrf.schedule.services import dose_correct, dose_record
    from ecrf.studies.models import Site

    trialdata.trial(["S01"])
    site = Site.objects.get(code="S01")
    coordinator = trialdata.staff("bench-coordinator", "coordinator", ["S01"])
    participants = trialdata.treated_participants(site, coordinator, PARTICIPANTS)
    dose_day = trialdata.dosing_days(site)[5]
    entries = []
    for p in participants:
        endpoint_record(
            participant=p,
            record=BIOCHEMICAL,
            values=trialdata.biochemical_values(site, 120),
            performed_by=coordinator,
        )
        entries.append(
            dose_record(
                participant=p,
                date=dose_day,
                intake="morning",
                taken=True,
                performed_by=coordinator,
            )
        )
    triggers = audit_triggers()
    twin_database(UNAUDITED)
    with using_database(UNAUDITED):
        disable_auditing(triggers)

    def in_context(save: Callable[[], Any], path: str) -> None:
        with audit_context(
            source="web",
            url=path,
            method="POST",
            request_id=str(uuid.uuid4()),
            **user_metadata(coordinator),
        ):
            save()

    def correction(index: int) -> None:
        # Both sides see the same index: the same participant and the same new value.
        p = participants[index % PARTICIPANTS]
        serum_hcg = 135 if (index // PARTICIPANTS) % 2 == 0 else 120
        in_context(
            lambda: endpoint_record(
                participant=p,
                record=BIOCHEMICAL,
                values=trialdata.biochemical_values(site, serum_hcg),
                reason="Transcription error in the hCG value",
                performed_by=coordinator,
            ),
            f"/participants/{p.pk}/endpoints/{BIOCHEMICAL}/",
        )

    def dose_change(index: int) -> None:
        entry = entries[index % PARTICIPANTS]
        comment = "Taken with breakfast" if (index // PARTICIPANTS) % 2 == 0 else ""
        in_context(
            lambda: dose_correct(
                entry=entry,
                taken=True,
                comment=comment,
                reason="Comment copied from the patient's diary",
                performed_by=coordinator,
            ),
            f"/participants/{entry.participant_id}/treatment/dose/{entry.pk}/",
        )

    def on_twin(operation: Callable[[int], None]) -> Callable[[int], None]:
        def run(index: int) -> None:
            with using_database(UNAUDITED):
                operation(index)

        return run

    saves = interleaved({"audited": correction, "unaudited": on_twin(correction)})
    doses = interleaved(
        {"audited": dose_change, "unaudited": on_twin(dose_change)}, samples=SAMPLES // 2
    )
    dose_fields = doses.ratio_fields("audited", "unaudited")
    report(
        "audit_overhead",
        saves.median_ms("audited"),
        "ms (median, correction of the biochemical pregnancy form)",
        saves.median_ms("unaudited"),
        **saves.ratio_fields("audited", "unaudited"),
        triggers_disabled=len(triggers),
        dose_correction_ms=round(doses.median_ms("audited"), 3),
        dose_correction_unaudited_ms=round(doses.median_ms("unaudited"), 3),
        dose_correction_ratio=dose_fields["ratio"],
        dose_correction_ratio_min=dose_fields["ratio_min"],
        dose_correction_ratio_max=dose_fields["ratio_max"],
        dose_correction_samples=dose_fields["samples"],
    )


if __name__ == "__main__":
    main()
