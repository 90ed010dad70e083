"""The one way a page posts a form to a service, and answers what came of it.

- success: a message and a redirect (post/redirect/get), back to the page the form was
  opened from when its address says so (``?next=``);
- the service's validation errors: on the form's fields, the page again (400);
- a state conflict (locked data, a withdrawn participant, already randomized...): the
  page again with the form as typed and the reason above it (409), so nothing typed is
  lost and the user reads why. The API answers the same conflicts with 409 and
  ``{"detail": ...}`` (:mod:`ecrf.api.errors`).

A form posted from a panel of another page (signing, verifying and locking, queries on
the participant's page) has no page of its own to show again: its field errors are
told on the page it came from (``back``); a state conflict shows that page again with
the reason, answered 409 as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from ecrf.common.exceptions import StateConflict
from ecrf.common.forms import add_service_errors
from ecrf.common.guard import is_lock_violation, locked_message

#: A service's answer turned into the message shown after the redirect (none: no message).
SavedMessage = Callable[[Any], tuple[int, str] | None]


def state_conflict_message(exc: BaseException) -> str | None:
    """The reason of a state conflict (a service's, or the guard refusing locked data)."""
    if isinstance(exc, StateConflict):
        return exc.detail
    if isinstance(exc, DatabaseError) and is_lock_violation(exc):
        return locked_message()
    return None


def posted(request: HttpRequest) -> Any:
    """The data a form page binds its form to: the POST, even an empty one (whose
    required fields are then refused), and nothing on GET."""
    return request.POST if request.method == "POST" else None


def form_submit(
    request: HttpRequest,
    *,
    form: forms.Form,
    save: Callable[[dict[str, Any]], Any],
    saved: SavedMessage,
    redirect_to: Callable[[Any], HttpResponse],
    render_page: Callable[[int], HttpResponse] | None,
    back: Callable[[], HttpResponse] | None = None,
) -> HttpResponse:
    """Submit ``form`` (bound to the POST) to ``save``, one service call.

    ``render_page(status)`` renders the page with ``form`` as it stands (its errors
    included); ``redirect_to(result)`` answers the success. A panel's form gives
    ``back``, the way back to the page it was posted from, for its field errors.
    """
    if form.is_valid():
        try:
            result = save(dict(form.cleaned_data))
        except ValidationError as exc:
            add_service_errors(form, exc)
        except (StateConflict, DatabaseError) as exc:
            reason = state_conflict_message(exc)
            if reason is None:
                raise
            return _conflict(request, form, reason, render_page, back)
        else:
            message = saved(result)
            if message is not None:
                messages.add_message(request, *message)
            return _back_where_asked(request, redirect_to(result))
    if back is not None:
        _tell_errors(request, form)
        return back()
    assert render_page is not None
    return render_page(400)


def _back_where_asked(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """After a save that redirects, go back where the page was opened from when it says
    so (``?next=``, a path of this site: a correction made from a form's page returns to
    it)."""
    target = request.GET.get("next", "")
    if (
        response.status_code == 302
        and target.startswith("/")
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    ):
        return redirect(target)
    return response


def _conflict(
    request: HttpRequest,
    form: forms.Form,
    reason: str,
    render_page: Callable[[int], HttpResponse] | None,
    back: Callable[[], HttpResponse] | None,
) -> HttpResponse:
    if back is None:
        assert render_page is not None
        form.add_error(None, reason)
        return render_page(409)
    messages.error(request, reason)
    if render_page is None:
        return back()
    return render_page(409)


def _tell_errors(request: HttpRequest, form: forms.Form) -> None:
    """A panel form's errors, each naming its field, told on the page it came from."""
    for name, errors in form.errors.items():
        for error in errors:
            text = str(error)
            if name in form.fields and form.fields[name].label:
                text = _("%(field)s: %(error)s") % {"field": form[name].label, "error": text}
            messages.error(request, text)


def saved_as(text: str, level: int = messages.SUCCESS) -> SavedMessage:
    """The same message whatever the service answered."""
    return lambda _result: (level, text)
