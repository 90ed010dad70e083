"""Raising, answering, closing and re-opening queries from the participant's page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ecrf.common.http import AuthenticatedRequest
from ecrf.participants.models import Participant
from ecrf.participants.selectors import participant_get
from ecrf.queries import selectors, services
from ecrf.queries.forms import QueryOpenForm, QueryStepForm

from .views import panel_submit


def _back(pk: int) -> HttpResponse:
    return redirect(f"/participants/{pk}/#queries")


def _on_her_page(
    request: AuthenticatedRequest,
    participant: Participant,
    form: Form,
    save: Callable[[dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    return panel_submit(request, participant, form, save, done, lambda: _back(participant.pk))


@login_required
@require_POST
def query_open_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)

    def save(data: dict[str, Any]) -> object:
        record, _sep, field = data["target"].partition(".")
        record_id = data["record_id"]
        return services.query_open(
            participant=participant,
            record=record,
            field=field,
            text=data["text"],
            record_id=int(record_id) if record_id and record_id.isdigit() else None,
            performed_by=request.user,
        )

    return _on_her_page(request, participant, QueryOpenForm(request.POST), save, _("Query opened."))


@login_required
@require_POST
def query_step_view(request: AuthenticatedRequest, query_pk: int, step: str) -> HttpResponse:
    query = selectors.query_get(request.user, query_pk)
    steps = {
        "respond": services.query_respond,
        "close": services.query_close,
        "reopen": services.query_reopen,
    }
    if step not in steps:
        raise Http404
    step_service = steps[step]
    participant = participant_get(request.user, query.participant_id)
    return _on_her_page(
        request,
        participant,
        QueryStepForm(request.POST),
        lambda data: step_service(query=query, text=data["text"], performed_by=request.user),
        _("Saved."),
    )
