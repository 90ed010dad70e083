"""Beat's task that keeps the audit-trail review index current."""

from __future__ import annotations

from celery import shared_task

from .services import audit_index_update


@shared_task(name="ecrf.review.tasks.audit_index_update")
def audit_index_update_task() -> int:
    """Copy the audit rows of every event chained since the last run; links copied."""
    return audit_index_update()
