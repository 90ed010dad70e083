from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from ecrf.audit.commands import AuditedCommand
from ecrf.common.text import clean_free_text
from ecrf.home.services import study_setup_trial
from ecrf.studies import trial


class Command(AuditedCommand):
    help = (
        "Create or complete the tacrolimus study and its sites; changes nothing that exists. "
        "Without --site, the five sites of the protocol are set up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--site",
            action="append",
            default=[],
            metavar="CODE=NAME",
            help="A site to set up, e.g. --site S01='National Center for Child Health'",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sites = []
        for spec in options["site"]:
            code, sep, name = spec.partition("=")
            if not sep or not code.strip() or not name.strip():
                raise CommandError(f"--site expects CODE=NAME, got {spec!r}")
            try:
                code, name = (clean_free_text(part.strip()) for part in (code, name))
            except ValidationError as exc:
                raise CommandError(f"--site {spec!r}: {' '.join(exc.messages)}") from exc
            known = {c: ja for c, _, ja in trial.SITES}
            sites.append((code, name, known.get(code, "")))
        if not sites:
            sites = list(trial.SITES)
        study, report = study_setup_trial(sites=sites, performed_by=None)
        self.stdout.write(
            f"Study {study.code}: {'created' if report.study_created else 'unchanged'}; "
            f"sites created: {', '.join(report.sites_created) or 'none'}; "
            f"unchanged: {', '.join(report.sites_unchanged) or 'none'}"
            + (
                "; the study database is locked, so nothing was added"
                if report.study_locked
                else ""
            )
        )
