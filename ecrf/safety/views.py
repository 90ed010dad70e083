"""Safety pages: a participant's adverse events, one event to correct and confirm."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ecrf.common import catalogue
from ecrf.common.exceptions import StateConflict
from ecrf.common.forms import add_service_errors
from ecrf.common.http import AuthenticatedRequest, require_form_methods
from ecrf.participants.models import Participant
from ecrf.participants.selectors import participant_get

from . import services
from .forms import AdverseEventEditForm, AdverseEventForm, ConfirmForm
from .models import AdverseEvent
from .permissions import can_confirm_adverse_events, can_record_adverse_events
from .selectors import adverse_event_get, adverse_events_of, sae_clock

#: The fields site staff enter on the adverse event form.
FORM_FIELDS = tuple(field.name for field in catalogue.form("adverse_event").entered_fields)


def _ensure_can_record(request: AuthenticatedRequest) -> None:
    if not can_record_adverse_events(request.user):
        raise PermissionDenied(_("Your role may read adverse events but not record them."))


@login_required
@require_form_methods
def adverse_events_page(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Her adverse events with the SAE clock, and the form to record one (site staff)."""
    participant = participant_get(request.user, pk)
    can_record = can_record_adverse_events(request.user)
    form = AdverseEventForm(initial={"outcome": "", "related": None})
    if request.method == "POST":
        _ensure_can_record(request)
        form = AdverseEventForm(request.POST)
        if form.is_valid():
            try:
                adverse_event = services.adverse_event_record(
                    participant=participant, performed_by=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except StateConflict as exc:
                messages.error(request, exc.detail)
                return redirect("safety:adverse_events", pk=participant.pk)
            else:
                messages.success(request, _saved_message(adverse_event))
                return redirect("safety:adverse_events", pk=participant.pk)
    form.helper.form_action = reverse("safety:adverse_events", args=[participant.pk])
    return render(
        request,
        "safety/adverse_events.html",
        {
            "participant": participant,
            "rows": adverse_events_of(participant),
            "form": form,
            "can_record": can_record,
        },
        status=400 if form.errors else 200,
    )


def _saved_message(adverse_event: AdverseEvent) -> str:
    if adverse_event.serious:
        return _(
            "Serious adverse event recorded; the sponsor is being notified. "
            "An investigator must confirm it."
        )
    return _("Adverse event recorded.")


def _initial(adverse_event: AdverseEvent) -> dict[str, Any]:
    return {name: getattr(adverse_event, name) for name in FORM_FIELDS}


def _event_page(
    request: AuthenticatedRequest,
    participant: Participant,
    adverse_event: AdverseEvent,
    form: AdverseEventEditForm,
    confirm_form: ConfirmForm,
) -> HttpResponse:
    form.helper.form_action = reverse(
        "safety:adverse_event", args=[participant.pk, adverse_event.pk]
    )
    confirm_form.helper.form_action = reverse(
        "safety:adverse_event_confirm", args=[participant.pk, adverse_event.pk]
    )
    return render(
        request,
        "safety/adverse_event.html",
        {
            "participant": participant,
            "event": adverse_event,
            "clock": sae_clock(adverse_event),
            "notifications": adverse_event.notifications.order_by("created_at", "pk"),
            "form": form,
            "confirm_form": confirm_form,
            "can_record": can_record_adverse_events(request.user),
            "can_confirm": can_confirm_adverse_events(request.user)
            and adverse_event.confirmed_at is None,
        },
        status=400 if form.errors or confirm_form.errors else 200,
    )


@login_required
@require_form_methods
def adverse_event_page(request: AuthenticatedRequest, pk: int, ae_pk: int) -> HttpResponse:
    """One adverse event: correct it (a changed value needs a reason) or confirm it."""
    participant = participant_get(request.user, pk)
    adverse_event = adverse_event_get(participant, ae_pk)
    form = AdverseEventEditForm(initial=_initial(adverse_event))
    if request.method == "POST":
        _ensure_can_record(request)
        form = AdverseEventEditForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                services.adverse_event_update(
                    adverse_event=adverse_event,
                    performed_by=request.user,
                    reason=data.pop("reason"),
                    **data,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except StateConflict as exc:
                messages.error(request, exc.detail)
                return redirect("safety:adverse_event", pk=participant.pk, ae_pk=adverse_event.pk)
            else:
                messages.success(request, _("Adverse event saved."))
                return redirect("safety:adverse_events", pk=participant.pk)
        adverse_event.refresh_from_db()
    return _event_page(request, participant, adverse_event, form, ConfirmForm())


@login_required
@require_POST
def adverse_event_confirm_post(request: AuthenticatedRequest, pk: int, ae_pk: int) -> HttpResponse:
    """The investigator confirms the event as recorded."""
    participant = participant_get(request.user, pk)
    adverse_event = adverse_event_get(participant, ae_pk)
    if not can_confirm_adverse_events(request.user):
        raise PermissionDenied(_("Only an investigator may confirm an adverse event."))
    confirm_form = ConfirmForm(request.POST)
    try:
        services.adverse_event_confirm(adverse_event=adverse_event, performed_by=request.user)
    except ValidationError as exc:
        add_service_errors(confirm_form, exc)
        form = AdverseEventEditForm(initial=_initial(adverse_event))
        return _event_page(request, participant, adverse_event, form, confirm_form)
    except StateConflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Adverse event confirmed."))
    return redirect("safety:adverse_events", pk=participant.pk)
