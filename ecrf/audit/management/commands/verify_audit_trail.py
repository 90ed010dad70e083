"""``python manage.py verify_audit_trail``: check the audit trail's hash chain end to end."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecrf.audit.chain import chain_contains, chain_verify


class Command(BaseCommand):
    help = (
        "Recompute the SHA-256 chain over every audit event; print the first broken link "
        "and exit non-zero if an event was edited, deleted or inserted outside the app."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--head",
            action="append",
            default=[],
            metavar="DIGEST",
            help="A chain head stated by an export; it must still be part of the chain.",
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
        self.stdout.write(
            f"Audit trail intact: {report.links_checked} events chained; "
            f"head {report.head_digest} (link {report.head_seq})."
        )
