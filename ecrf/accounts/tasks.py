"""Beat's task that removes API keys past their expiry."""

from __future__ import annotations

from celery import shared_task

from .services import api_keys_remove_expired


@shared_task(name="ecrf.accounts.tasks.api_keys_remove_expired")
def api_keys_remove_expired_task() -> int:
    """Remove the keys past their expiry; how many were removed."""
    return api_keys_remove_expired()
