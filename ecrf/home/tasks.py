"""The installation's housekeeping: beat's nightly jobs and the worker's ping."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext as _

from ecrf.accounts.policy import told_of_broken_audit_trail
from ecrf.audit.chain import chain_verify

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
    admins = told_of_broken_audit_trail().exclude(email="")
    for admin in admins:
        with translation.override(admin.language or settings.LANGUAGE_CODE):
            send_mail(
                subject=_("Audit trail verification failed"),
                message=_(
                    "The nightly check of the audit trail found a broken link after "
                    "checking %(count)s links.\n\nFirst broken: %(finding)s\n\n"
                    "Run `python manage.py verify_audit_trail` to see it again."
                )
                % {"count": report.links_checked, "finding": report.finding},
                from_email=None,
                recipient_list=[admin.email],
            )
    return False
