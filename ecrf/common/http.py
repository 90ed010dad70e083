"""Typed requests (the pages behind ``login_required`` always have a real user), and the
helpers the pages and the API of every app share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.http import HttpRequest
from django.views.decorators.http import require_http_methods

if TYPE_CHECKING:
    from rest_framework.request import Request

    from ecrf.accounts.models import User


class AuthenticatedRequest(HttpRequest):
    user: User


def request_user(request: Any) -> User:
    """The signed-in user of a request that passed authentication (web or API)."""
    return cast("User", request.user)


#: A page with a form: shown by GET (and HEAD), submitted by POST; other methods answer 405.
require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


def method_not_taken(request: Request, view: Any) -> bool:
    """A method the route does not take: let it through so that it answers 405, not 403."""
    action_map = getattr(view, "action_map", None)
    return action_map is not None and (request.method or "").lower() not in action_map
