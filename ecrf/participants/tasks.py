"""Celery tasks of participants: thin wrappers that take ids."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from ecrf.accounts.models import User
from ecrf.accounts.roles import Role

from .models import Unblinding


@shared_task(
    name="ecrf.participants.tasks.notify_unblinding",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=10,
)
def notify_unblinding(unblinding_id: int) -> int:
    """Tell the data managers that an investigator unblinded a participant, and why."""
    unblinding = Unblinding.objects.select_related("participant", "unblinded_by").get(
        pk=unblinding_id
    )
    recipients = list(
        User.objects.filter(role=Role.DATA_MANAGER, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    return send_mail(
        subject=f"Unblinding of {unblinding.participant.subject_id}",
        message=(
            f"{unblinding.unblinded_by} unblinded {unblinding.participant.subject_id} at "
            f"{unblinding.unblinded_at.isoformat()}.\nReason: {unblinding.reason}"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
