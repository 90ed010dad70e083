"""The installation's housekeeping: beat's nightly jobs and the worker's ping."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext as _

from ecrf.accounts.policy import told_of_broken_audit_trail
from ecrf.audit.chain import chain_verify
from ecrf.audit.checkpoints import (
    checkpoint_take,
    checkpoints_alarm_recorded,
    checkpoints_stamp_pending,
)
from ecrf.audit.models import CheckpointReason

# The registered task names and the logger's name are those the tasks had before they
# moved here, so that beat entries and messages queued by an existing installation still
# find their task, and log filters still match.
logger = logging.getLogger("ecrf.audit.tasks")


@shared_task(name="ecrf.core.tasks.sessions_clear_expired")
def sessions_clear_expired() -> None:
    """Delete expired sessions, so a stolen old session id is worth nothing."""
    call_command("clearsessions")


@shared_task(name="ecrf.core.tasks.ping")
def ping() -> str:
    """A task that does nothing but answer: proves a worker consumes the broker."""
    return "pong"


@shared_task(name="ecrf.audit.tasks.audit_trail_verify")
def audit_trail_verify() -> bool:
    """Verify the whole chain; a broken chain is logged and mailed to every administrator."""
    report = chain_verify(checked_by="nightly")
    if report.intact:
        logger.info(
            "audit trail intact: %s links, head %s", report.links_checked, report.head_digest
        )
        return True
    logger.error("audit trail broken: %s", report.finding)
    _tell_administrators(
        lambda: _("Audit trail verification failed"),
        lambda: (
            _(
                "The nightly check of the audit trail found a broken link after "
                "checking %(count)s links.\n\nFirst broken: %(finding)s\n\n"
                "Run `python manage.py verify_audit_trail` to see it again."
            )
            % {"count": report.links_checked, "finding": report.finding}
        ),
    )
    return False


def _tell_administrators(subject: Callable[[], str], body: Callable[[], str]) -> None:
    """Mail every administrator, each in her own language (the texts are made in it)."""
    for admin in told_of_broken_audit_trail().exclude(email=""):
        with translation.override(admin.language or settings.LANGUAGE_CODE):
            send_mail(
                subject=subject(),
                message=body(),
                from_email=None,
                recipient_list=[admin.email],
            )


@shared_task(name="ecrf.audit.tasks.audit_checkpoint_scheduled")
def audit_checkpoint_scheduled() -> dict[str, int]:
    """Beat's checkpoint: sign the chain's head, ask again for every stamp still owed,
    and tell the administrators of checkpoints left unstamped for ``TSA_ALARM_HOURS``
    (or of a missing signing key)."""
    try:
        checkpoint_take(reason=CheckpointReason.SCHEDULED)
    except ImproperlyConfigured as exc:
        logger.error("audit trail checkpoint not taken: %s", exc)
        error = str(exc)
        _tell_administrators(
            lambda: _("Audit trail checkpoints are not being taken"),
            lambda: (
                _("The audit trail's hash chain cannot be checkpointed: %(error)s")
                % {"error": error}
            ),
        )
        return {"stamped": 0, "failed": 0, "overdue": 0}
    stamps = checkpoints_stamp_pending()
    if stamps.overdue:
        oldest = stamps.overdue[0]
        logger.error(
            "%d audit trail checkpoint(s) unstamped for over %d hours (oldest %s)",
            len(stamps.overdue),
            settings.TSA_ALARM_HOURS,
            oldest.taken_at.isoformat(),
        )
        _tell_administrators(
            lambda: _("The time-stamping authority has not answered"),
            lambda: (
                _(
                    "%(count)s checkpoint(s) of the audit trail have waited more than "
                    "%(hours)s hours for their time stamp (the oldest was taken at "
                    "%(oldest)s). Check TSA_URL and the authority; beat keeps asking, "
                    "and data entry is not affected."
                )
                % {
                    "count": len(stamps.overdue),
                    "hours": settings.TSA_ALARM_HOURS,
                    "oldest": oldest.taken_at.isoformat(timespec="minutes"),
                }
            ),
        )
        checkpoints_alarm_recorded(stamps.overdue, "administrators told: no time stamp")
    return {
        "stamped": stamps.stamped,
        "failed": stamps.failed,
        "overdue": len(stamps.overdue),
    }
