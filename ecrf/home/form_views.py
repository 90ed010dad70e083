"""A participant's case report form, read value by value (the monitor's view of a form)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from ecrf.accounts.policy import permissions_for
from ecrf.common.http import AuthenticatedRequest
from ecrf.participants.models import Participant
from ecrf.participants.selectors import participant_get
from ecrf.review.reading import UnknownForm, form_reading


@login_required
@require_safe
def form_read(request: AuthenticatedRequest, pk: int, code: str) -> HttpResponse:
    return form_page(request, participant_get(request.user, pk), code)


def form_page(
    request: AuthenticatedRequest,
    participant: Participant,
    code: str,
    status: int = 200,
    refused: dict[str, Any] | None = None,
) -> HttpResponse:
    """Her form ``code``; ``status`` 400 or 409 when shown again after a refused action,
    whose reason the messages carry, or, for a query form of the page, ``refused``: what
    was typed (``text``) and why it was refused (``errors``), beside the field
    (``open_field``), row (``open_record``) or query (``query``, ``step``) it came from."""
    try:
        reading = form_reading(request.user, participant, code)
    except UnknownForm as exc:
        raise Http404(code) from exc
    return render(
        request,
        "review/form.html",
        {
            "participant": participant,
            "reading": reading,
            "may": permissions_for(request.user, participant),
            "refused": refused or {},
        },
        status=status,
    )
