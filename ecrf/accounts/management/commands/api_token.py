from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from ecrf.accounts.models import User
from ecrf.accounts.services import api_token_issue
from ecrf.audit.commands import AuditedCommand


class Command(AuditedCommand):
    help = "Issue an API key for a user and print it as the last line of output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["username"], is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(f"No active user named {options['username']!r}.") from exc
        try:
            issued = api_token_issue(user=user, performed_by=None)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        expiry = f"{issued.api_key.expiry:%Y-%m-%d}" if issued.api_key.expiry else "never"
        self.stdout.write(f"API key for {user.username} ({user.role}), valid until {expiry}:")
        self.stdout.write(issued.key)
