"""Sign-in lockout: per account, and per network address against password spraying.

django-axes counts failed sign-ins by username and by address and locks when the larger
count reaches its one limit. :func:`failure_limit` makes that limit the account's when
the account's own count has reached it, and the higher address limit otherwise, so that
five wrong passwords lock an account and many wrong passwords (over any usernames) lock
the address they came from.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Expression, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _


def account_failure_limit() -> int:
    """Wrong passwords for one account before it is locked (21 CFR 11.300(d))."""
    return int(settings.ECRF_ACCOUNT_FAILURE_LIMIT)


def address_failure_limit() -> int:
    """Wrong passwords from one network address, over any accounts, before it is locked."""
    return int(settings.ECRF_ADDRESS_FAILURE_LIMIT)


def account_locked_message() -> str:
    return _(
        "This account is locked after repeated failed attempts; try again in an "
        "hour or ask an administrator."
    )


def address_locked_message() -> str:
    return _(
        "Sign-in from your network address is locked after many failed attempts on "
        "several accounts; try again in an hour or ask an administrator."
    )


def recent_attempts(**filters: Any) -> Any:
    """Failed sign-ins still counted: within the cool-off time."""
    attempts = AccessAttempt.objects.filter(**filters)
    cool_off = get_cool_off()
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return attempts


def account_failures(username: str | None) -> int:
    """Failed sign-ins counted against an account, from any address."""
    if not username:
        return 0
    total = recent_attempts(username=username).aggregate(total=Sum("failures_since_start"))
    return int(total["total"] or 0)


def account_failures_sql(username_field: str) -> Expression:
    """:func:`account_failures` as an expression over the account named by
    ``username_field`` of the outer query (no query of its own per account)."""
    totals = (
        recent_attempts(username=OuterRef(username_field))
        .values("username")
        .annotate(total=Sum("failures_since_start"))
        .values("total")
    )
    return Coalesce(Subquery(totals, output_field=IntegerField()), 0)


def account_locked(username: str | None) -> bool:
    """Whether an account is locked after repeated failed sign-ins."""
    return account_failures(username) >= account_failure_limit()


def failure_limit(request: HttpRequest | None, credentials: dict | None) -> int:
    """The limit django-axes compares its larger count (account's or address's) with."""
    if request is None:
        return account_failure_limit()
    username = get_client_username(request, credentials)
    if account_locked(username):
        return account_failure_limit()
    return address_failure_limit()


class AccountLockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler, except that a successful sign-in clears only the
    failures of the account signed in: one's own sign-in must not wipe out the count of
    wrong passwords sent from the same address to other accounts."""

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _details = AccessAttempt.objects.filter(username=username).delete()
        return count
