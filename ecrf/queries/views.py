"""Raising, answering, closing and re-opening queries from the participant's page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ecrf.common.http import AuthenticatedRequest
from ecrf.participants.selectors import participant_get

from . import selectors, services


def _back(pk: int) -> HttpResponse:
    return redirect(f"/participants/{pk}/#queries")


@login_required
@require_POST
def query_open_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    record, _sep, field = request.POST.get("target", "").partition(".")
    record_id = request.POST.get("record_id") or None
    try:
        services.query_open(
            participant=participant,
            record=record,
            field=field,
            text=request.POST.get("text", ""),
            record_id=int(record_id) if record_id and record_id.isdigit() else None,
            performed_by=request.user,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Query opened."))
    return _back(pk)


@login_required
@require_POST
def query_step_view(request: AuthenticatedRequest, query_pk: int, step: str) -> HttpResponse:
    query = selectors.query_get(request.user, query_pk)
    text = request.POST.get("text", "")
    actions = {
        "respond": lambda: services.query_respond(
            query=query, text=text, performed_by=request.user
        ),
        "close": lambda: services.query_close(query=query, text=text, performed_by=request.user),
        "reopen": lambda: services.query_reopen(query=query, text=text, performed_by=request.user),
    }
    if step not in actions:
        raise Http404
    try:
        actions[step]()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Saved."))
    return _back(query.participant_id)
