"""Base class of the project's management commands."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from .context import command_context


class AuditedCommand(BaseCommand):
    """A command whose writes name it as their source in the audit trail.

    Validation errors become a ``CommandError`` naming each field, never a traceback.
    """

    def execute(self, *args: Any, **options: Any) -> str | None:
        command = self.__class__.__module__.rsplit(".", 1)[-1]
        with command_context(command):
            try:
                return super().execute(*args, **options)
            except ValidationError as exc:
                raise CommandError(_format_validation_error(exc)) from exc


def _format_validation_error(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)
