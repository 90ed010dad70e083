"""``python manage.py verify_audit_trail``: check the audit trail's hash chain end to end,
and against its checkpoints anchored outside the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecrf.audit.anchor import installation_key
from ecrf.audit.chain import chain_contains, chain_verify
from ecrf.audit.checkpoints import checkpoints_verify, database_checkpoints


class Command(BaseCommand):
    help = (
        "Recompute the SHA-256 chain over every audit event; print the first broken link "
        "and exit non-zero if an event was edited, deleted or inserted outside the app. "
        "Then check every checkpoint (signed and time-stamped outside the database), those "
        "in the database and those of --checkpoints files, against the chain: a rewrite "
        "of the whole trail is reported as the checkpoints it no longer holds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--head",
            action="append",
            default=[],
            metavar="DIGEST",
            help="A chain head stated by an export; it must still be part of the chain.",
        )
        parser.add_argument(
            "--checkpoints",
            action="append",
            default=[],
            metavar="FILE",
            help="A checkpoints document downloaded earlier and kept outside the database.",
        )
        parser.add_argument(
            "--public-key",
            metavar="FILE",
            help=(
                "The installation's public key (PEM); checkpoints signed by another key fail. "
                "Default: the key of ARCHIVE_KEY_FILE or ARCHIVE_KEY, where set."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = chain_verify(checked_by="command")
        if report.finding is not None:
            raise CommandError(
                f"Audit trail BROKEN after checking {report.links_checked} links. "
                f"First broken: {report.finding}"
            )
        for head in options["head"]:
            if not chain_contains(head):
                raise CommandError(f"Audit trail BROKEN: the head {head} is not in the chain.")
        records = database_checkpoints()
        for name in options["checkpoints"]:
            try:
                document = json.loads(Path(name).read_text(encoding="utf-8"))
                records += list(document["checkpoints"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"{name} is not a checkpoints document: {exc}") from exc
        # Pinned to the installation's own key where it is set: a checkpoint signed by any
        # other key (one made by whoever rewrote the trail) does not hold.
        installation = installation_key()
        public_key = (
            Path(options["public_key"]).read_text(encoding="utf-8")
            if options["public_key"]
            else installation[0]
            if installation
            else None
        )
        problems = checkpoints_verify(records, public_key=public_key)
        if problems:
            raise CommandError(
                f"Audit trail BROKEN: {len(problems)} checkpoint(s) do not hold.\n"
                + "\n".join(f"- {problem}" for problem in problems)
            )
        self.stdout.write(
            f"Audit trail intact: {report.links_checked} events chained; "
            f"head {report.head_digest} (link {report.head_seq}); "
            f"{len(records)} checkpoint(s) hold."
        )
