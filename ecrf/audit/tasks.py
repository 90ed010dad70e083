"""The nightly check of the audit trail's hash chain."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from ecrf.accounts.policy import told_of_broken_audit_trail

from .chain import chain_verify

logger = logging.getLogger(__name__)


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
