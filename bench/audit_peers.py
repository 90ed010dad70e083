"""This project's audit trail against django-simple-history, on the same form model.

Four copies of one case report form model (``bench/peers``) live in the benchmark
database: one with no audit, one under django-simple-history, one under pghistory as
this project configures it (insert, update and delete triggers, the context copied into
each event, append-only events) without the hash chain, and one with the chain too. Each
operation corrects one row of each, in turn, in a transaction of its own (as every
service here saves), with who made the change and why: django-simple-history's user and
change reason, this project's audit context.

The figure is our save over the bare save. ``added_vs_simple_history`` is our added cost
(our save minus the bare one) over django-simple-history's; ``chain_added_ms`` is what
the chain adds to pghistory alone.
"""

from __future__ import annotations

import os
import statistics
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

os.environ["DJANGO_SETTINGS_MODULE"] = "peers.settings"

from common import fresh_database, interleaved, report  # noqa: E402

ROWS = 50
REASON = "Transcription error in the hCG value"


def main() -> None:
    fresh_database()
    from django.apps import apps
    from django.db import connection, transaction
    from peers.models import AuditedForm, BareForm, SimpleHistoryForm, UnchainedForm

    from ecrf.accounts.models import User
    from ecrf.audit.context import audit_context, user_metadata

    unchained = apps.get_model("peers", "UnchainedFormEvent")._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER ecrf_audit_chain ON {unchained}")
    user = User.objects.create(username="bench-coordinator", role="coordinator")
    models = {
        "bare": BareForm,
        "simple_history": SimpleHistoryForm,
        "pghistory": UnchainedForm,
        "ours": AuditedForm,
    }
    rows: dict[str, list[Any]] = {}
    for side, model in models.items():
        rows[side] = [
            model.objects.create(
                participant_code=f"S01-{n:04d}",
                assessed_on=date(2026, 12, 1),
                serum_hcg_miu_ml=Decimal("120.00"),
                result="positive",
                recorded_by=user,
            )
            for n in range(ROWS)
        ]

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # statistics, as autovacuum keeps them in service

    def correct(side: str) -> Any:
        def save(index: int) -> None:
            row = rows[side][index % ROWS]
            row.serum_hcg_miu_ml = Decimal("135.00" if (index // ROWS) % 2 == 0 else "120.00")
            if side == "simple_history":
                row._history_user = user
                row._change_reason = REASON
            if side in ("pghistory", "ours"):
                with (
                    audit_context(
                        source="web",
                        request_id=str(uuid.uuid4()),
                        site="S01",
                        reason=REASON,
                        **user_metadata(user),
                    ),
                    transaction.atomic(),
                ):
                    row.save()
            else:
                with transaction.atomic():
                    row.save()

        return save

    saves = interleaved({side: correct(side) for side in models})
    added = [
        (statistics.median(ours) - statistics.median(bare))
        / (statistics.median(history) - statistics.median(bare))
        for ours, bare, history in zip(
            saves.times["ours"], saves.times["bare"], saves.times["simple_history"], strict=True
        )
    ]
    history = saves.ratio_fields("simple_history", "bare")
    pghistory_alone = saves.ratio_fields("pghistory", "bare")
    report(
        "audit_peers",
        saves.median_ms("ours"),
        "ms (median, a correction saved with this project's audit and chain)",
        saves.median_ms("bare"),
        **saves.ratio_fields("ours", "bare"),
        simple_history_ms=round(saves.median_ms("simple_history"), 3),
        simple_history_ratio=history["ratio"],
        simple_history_ratio_min=history["ratio_min"],
        simple_history_ratio_max=history["ratio_max"],
        pghistory_ms=round(saves.median_ms("pghistory"), 3),
        pghistory_ratio=pghistory_alone["ratio"],
        chain_added_ms=round(saves.median_ms("ours") - saves.median_ms("pghistory"), 3),
        added_vs_simple_history=round(statistics.median(added), 3),
        added_vs_simple_history_min=round(min(added), 3),
        added_vs_simple_history_max=round(max(added), 3),
        baseline_unit="ms (median, the same correction of the bare model)",
    )


if __name__ == "__main__":
    main()
