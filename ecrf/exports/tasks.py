"""Celery tasks of exports: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from .services import export_run, exports_sweep


@shared_task(
    name="ecrf.exports.tasks.run_export",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=10,
    retry_backoff_max=5 * 60,
    retry_jitter=True,
    max_retries=3,
)
def run_export(job_id: str) -> str:
    """Write one export's file (see :func:`ecrf.exports.services.export_run`).

    Acknowledged only after it ran, and given back to the broker if the worker dies, so
    a lost worker does not lose the job; running it twice writes the file once.
    """
    return export_run(job_id=job_id)


@shared_task(name="ecrf.exports.tasks.sweep_exports")
def sweep_exports() -> dict[str, int]:
    """Every two minutes: queue again exports a worker dropped; delete expired files."""
    return exports_sweep()
