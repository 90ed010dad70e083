"""Safety pages: a participant's adverse events, one event to correct and confirm, and the
events of the user's sites awaiting confirmation."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from ecrf.accounts.policy import (
    enforce,
    may_confirm_adverse_events,
    may_read_forms,
    may_record_adverse_events,
)
from ecrf.accounts.selectors import sites_visible_to
from ecrf.common import catalogue
from ecrf.common.http import AuthenticatedRequest, require_form_methods
from ecrf.participants.models import Participant
from ecrf.participants.pages import form_submit, saved_as
from ecrf.participants.selectors import participant_get

from . import services
from .forms import (
    AdverseEventEditForm,
    AdverseEventForm,
    AwaitingConfirmationFilterForm,
    ConfirmForm,
)
from .models import AdverseEvent
from .selectors import (
    adverse_event_get,
    adverse_events_awaiting_confirmation,
    adverse_events_of,
    sae_clock,
)

#: The fields site staff enter on the adverse event form.
FORM_FIELDS = tuple(field.name for field in catalogue.form("adverse_event").entered_fields)


@login_required
@require_form_methods
def adverse_events_page(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Her adverse events with the SAE clock, and the form to record one (site staff)."""
    participant = participant_get(request.user, pk)
    can_record = bool(may_record_adverse_events(request.user, participant))
    form = AdverseEventForm(initial={"outcome": "", "related": None})
    if request.method == "POST":
        enforce(may_record_adverse_events(request.user))
        form = AdverseEventForm(request.POST)
    form.helper.form_action = reverse("safety:adverse_events", args=[participant.pk])

    def render_page(status: int) -> HttpResponse:
        return render(
            request,
            "safety/adverse_events.html",
            {
                "participant": participant,
                "rows": adverse_events_of(participant),
                "form": form,
                "can_record": can_record,
            },
            status=status,
        )

    if request.method != "POST":
        return render_page(200)
    return form_submit(
        request,
        form=form,
        save=lambda data: services.adverse_event_record(
            participant=participant, performed_by=request.user, **data
        ),
        saved=lambda adverse_event: (messages.SUCCESS, _saved_message(adverse_event)),
        redirect_to=lambda _event: redirect("safety:adverse_events", pk=participant.pk),
        render_page=render_page,
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
    status: int = 200,
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
            "can_record": bool(may_record_adverse_events(request.user, participant)),
            "can_confirm": bool(may_confirm_adverse_events(request.user, participant))
            and adverse_event.confirmed_at is None,
        },
        status=status,
    )


@login_required
@require_form_methods
def adverse_event_page(request: AuthenticatedRequest, pk: int, ae_pk: int) -> HttpResponse:
    """One adverse event: correct it (a changed value needs a reason) or confirm it."""
    participant = participant_get(request.user, pk)
    adverse_event = adverse_event_get(participant, ae_pk)
    if request.method != "POST":
        form = AdverseEventEditForm(initial=_initial(adverse_event))
        return _event_page(request, participant, adverse_event, form, ConfirmForm())
    enforce(may_record_adverse_events(request.user))
    form = AdverseEventEditForm(request.POST)

    def save(data: dict[str, Any]) -> AdverseEvent:
        return services.adverse_event_update(
            adverse_event=adverse_event,
            performed_by=request.user,
            reason=data.pop("reason"),
            **data,
        )

    def render_page(status: int) -> HttpResponse:
        adverse_event.refresh_from_db()
        return _event_page(request, participant, adverse_event, form, ConfirmForm(), status)

    return form_submit(
        request,
        form=form,
        save=save,
        saved=saved_as(_("Adverse event saved.")),
        redirect_to=lambda _event: redirect("safety:adverse_events", pk=participant.pk),
        render_page=render_page,
    )


@login_required
@require_POST
def adverse_event_confirm_post(request: AuthenticatedRequest, pk: int, ae_pk: int) -> HttpResponse:
    """The investigator confirms the event as recorded."""
    participant = participant_get(request.user, pk)
    adverse_event = adverse_event_get(participant, ae_pk)
    enforce(may_confirm_adverse_events(request.user))
    confirm_form = ConfirmForm(request.POST)

    def render_page(status: int) -> HttpResponse:
        adverse_event.refresh_from_db()
        form = AdverseEventEditForm(initial=_initial(adverse_event))
        return _event_page(request, participant, adverse_event, form, confirm_form, status)

    return form_submit(
        request,
        form=confirm_form,
        save=lambda _data: services.adverse_event_confirm(
            adverse_event=adverse_event, performed_by=request.user
        ),
        saved=saved_as(_("Adverse event confirmed.")),
        redirect_to=lambda _event: redirect("safety:adverse_events", pk=participant.pk),
        render_page=render_page,
    )


#: Adverse events per page of the list awaiting confirmation.
AWAITING_PAGE_SIZE = 50


@login_required
@require_safe
def awaiting_confirmation_page(request: AuthenticatedRequest) -> HttpResponse:
    """The adverse events of the user's sites awaiting an investigator's confirmation,
    serious ones first, each with its SAE clock; a site it refuses answers 400."""
    enforce(may_read_forms(request.user))
    form = AwaitingConfirmationFilterForm(request.GET or None, sites=sites_visible_to(request.user))
    refused = form.is_bound and not form.is_valid()
    site_code = None if refused or not form.is_bound else form.cleaned_data.get("site") or None
    events = (
        AdverseEvent.objects.none()
        if refused
        else adverse_events_awaiting_confirmation(request.user, site_code=site_code)
    )
    page = Paginator(events, AWAITING_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    return render(
        request,
        "safety/awaiting_confirmation.html",
        {
            "form": form,
            "page": page,
            "rows": [(event, sae_clock(event, now=now)) for event in page.object_list],
        },
        status=400 if refused else 200,
    )
