"""Typed requests: the pages behind ``login_required`` always have a real user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.http import HttpRequest

if TYPE_CHECKING:
    from ecrf.accounts.models import User


class AuthenticatedRequest(HttpRequest):
    user: User


def request_user(request: Any) -> User:
    """The signed-in user of a request that passed authentication (web or API)."""
    return cast("User", request.user)
