"""``python manage.py create_app_role ROLE``: the least-privileged role the app connects as."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecrf.audit.roles import AppRoleError, app_role_grant


class Command(BaseCommand):
    help = (
        "Create (if missing) the database role the app, its workers and beat connect as, and "
        "grant it exactly this: read and write the study tables, only read and add to the "
        "audit trail's tables, nothing else. Run it as the tables' owner, after every "
        "migrate. Running it again leaves the same grants."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="The role's name, e.g. ecrf_app.")
        parser.add_argument(
            "--password-env",
            metavar="VARIABLE",
            help=(
                "The environment variable that holds the role's password (never the password "
                "itself on the command line, where other users of the machine can read it). "
                "Without it the role's password is left as it is."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = None
        if options["password_env"]:
            password = os.environ.get(options["password_env"])
            if not password:
                raise CommandError(
                    f"--password-env: the environment variable {options['password_env']} "
                    "is not set or is empty."
                )
        try:
            grants = app_role_grant(role=options["role"], password=password)
        except AppRoleError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Role {grants.role} {'created' if grants.created else 'already there'}: "
            f"read and write on {grants.read_write_tables} tables, SELECT and INSERT only on "
            f"{grants.append_only_tables} audit tables, {grants.sequences} sequences."
        )
