"""The audit trail's own tasks: a checkpoint of the chain after an export or a lock."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.exceptions import ImproperlyConfigured

from .checkpoints import checkpoint_take, checkpoints_stamp_pending

logger = logging.getLogger(__name__)


@shared_task(name="ecrf.audit.tasks.audit_checkpoint_after")
def audit_checkpoint_after(reason: str) -> bool:
    """Sign the chain's head after an export or a lock and have it stamped; a stamp the
    authority cannot give now is asked for again by beat. Idempotent: an unmoved head
    keeps its checkpoint."""
    try:
        checkpoint_take(reason=reason)
    except ImproperlyConfigured as exc:
        logger.error("audit trail checkpoint not taken: %s", exc)
        return False
    checkpoints_stamp_pending()
    return True
