"""Celery tasks of randomization: thin wrappers that take ids."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from ecrf.accounts.models import User
from ecrf.accounts.roles import Role

from .models import RandomizationList


@shared_task(
    name="randomization.tasks.notify_list_exhausted",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=10,
)
def notify_list_exhausted(list_id: int) -> int:
    """E-mail every active statistician that a site's list has no free slot left."""
    randomization_list = RandomizationList.objects.select_related("site", "study").get(pk=list_id)
    recipients = list(
        User.objects.filter(role=Role.STATISTICIAN, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    stratum = randomization_list.site.code if randomization_list.site else "all sites"
    return send_mail(
        subject=f"[{randomization_list.study.code}] Randomization list {stratum} "
        f"v{randomization_list.version} has run out",
        message=(
            f"The active randomization list of {stratum} (version {randomization_list.version}) "
            "has no free slot. A coordinator's randomization was refused. Extend the list "
            "in the eCRF (Randomization lists) so randomization can continue."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
