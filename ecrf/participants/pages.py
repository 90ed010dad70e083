"""The one way a page posts a form to a service, and answers what came of it.

- success: a message and a redirect (post/redirect/get);
- the service's validation errors: on the form's fields, the page again (400);
- a state conflict (locked data, a withdrawn participant, already randomized...): the
  page again with the form as typed and the reason above it (409), so nothing typed is
  lost and the user reads why. The API answers the same conflicts with 409 and
  ``{"detail": ...}`` (:mod:`ecrf.api.errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from ecrf.core.exceptions import StateConflict
from ecrf.core.forms import add_service_errors
from ecrf.quality.guard import is_lock_violation
from ecrf.quality.middleware import locked_message

#: A service's answer turned into the message shown after the redirect (none: no message).
SavedMessage = Callable[[Any], tuple[int, str] | None]


def state_conflict_message(exc: BaseException) -> str | None:
    """The reason of a state conflict (a service's, or the guard refusing locked data)."""
    if isinstance(exc, StateConflict):
        return exc.detail
    if isinstance(exc, DatabaseError) and is_lock_violation(exc):
        return locked_message()
    return None


def form_submit(
    request: HttpRequest,
    *,
    form: forms.Form,
    save: Callable[[dict[str, Any]], Any],
    saved: SavedMessage,
    redirect_to: Callable[[Any], HttpResponse],
    render_page: Callable[[int], HttpResponse],
) -> HttpResponse:
    """Submit ``form`` (bound to the POST) to ``save``, one service call.

    ``render_page(status)`` renders the page with ``form`` as it stands (its errors
    included); ``redirect_to(result)`` answers the success.
    """
    if not form.is_valid():
        return render_page(400)
    try:
        result = save(dict(form.cleaned_data))
    except ValidationError as exc:
        add_service_errors(form, exc)
        return render_page(400)
    except (StateConflict, DatabaseError) as exc:
        reason = state_conflict_message(exc)
        if reason is None:
            raise
        form.add_error(None, reason)
        return render_page(409)
    message = saved(result)
    if message is not None:
        messages.add_message(request, *message)
    return redirect_to(result)


def saved_as(text: str, level: int = messages.SUCCESS) -> SavedMessage:
    """The same message whatever the service answered."""
    return lambda _result: (level, text)
