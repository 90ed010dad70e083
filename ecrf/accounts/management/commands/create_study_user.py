from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from ecrf.accounts.roles import Role
from ecrf.accounts.services import user_create
from ecrf.audit.commands import AuditedCommand
from ecrf.common.text import clean_free_text


class Command(AuditedCommand):
    help = "Create a study user with a role and, for site staff and monitors, their sites."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--site", action="append", default=[], metavar="CODE")
        parser.add_argument("--password", required=True)
        parser.add_argument("--printed-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--language", default="ja", choices=["ja", "en"])

    def handle(self, *args: Any, **options: Any) -> None:
        for option in ("username", "printed_name", "email"):
            try:
                options[option] = clean_free_text(options[option])
            except ValidationError as exc:
                name = option if option == "username" else "--" + option.replace("_", "-")
                raise CommandError(f"{name}: {' '.join(exc.messages)}") from exc
        user = user_create(
            username=options["username"],
            role=options["role"],
            password=options["password"],
            site_codes=options["site"],
            printed_name=options["printed_name"],
            email=options["email"],
            language=options["language"],
            performed_by=None,
        )
        sites = ", ".join(m.site.code for m in user.memberships.select_related("site")) or "all"
        self.stdout.write(f"Created {user.username} ({user.role}; sites: {sites})")
