"""Participant pages: the screening log, registration, corrections and history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ecrf.accounts.permissions import can_enter_data, can_view_history
from ecrf.accounts.selectors import sites_visible_to
from ecrf.audit.selectors import history_of
from ecrf.core.forms import add_service_errors
from ecrf.core.http import AuthenticatedRequest

from . import selectors, services
from .forms import ParticipantFilterForm, ScreeningCorrectionForm, ScreeningForm


@login_required
def participant_list(request: AuthenticatedRequest) -> HttpResponse:
    sites = sites_visible_to(request.user)
    form = ParticipantFilterForm(request.GET or None, sites=sites)
    filters = form.cleaned_data if form.is_valid() else {}
    queryset = selectors.participants_visible_to(
        request.user,
        site_code=filters.get("site") or None,
        status=filters.get("status") or None,
        search=filters.get("q") or None,
    )
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "participants/list.html",
        {"form": form, "page": page, "can_enter_data": can_enter_data(request.user)},
    )


@login_required
def participant_create(request: AuthenticatedRequest) -> HttpResponse:
    if not can_enter_data(request.user):
        raise PermissionDenied(_("Only coordinators register screened participants."))
    form = ScreeningForm(request.POST or None, sites=sites_visible_to(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            participant = services.participant_enroll(
                site=form.cleaned_data["site"],
                screening_date=form.cleaned_data["screening_date"],
                birth_date=form.cleaned_data["birth_date"],
                performed_by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, _("Registered %(subject)s.") % {"subject": participant.subject_id}
            )
            return redirect("participants:detail", pk=participant.pk)
    return render(
        request, "participants/create.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
def participant_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_get(request.user, pk)
    return render(
        request,
        "participants/detail.html",
        {
            "participant": participant,
            "can_enter_data": can_enter_data(request.user),
            "can_view_history": can_view_history(request.user),
        },
    )


@login_required
def participant_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_get(request.user, pk)
    if not can_enter_data(request.user):
        raise PermissionDenied(_("Your role may read this data but not enter or change it."))
    initial = {"screening_date": participant.screening_date, "birth_date": participant.birth_date}
    form = ScreeningCorrectionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.participant_update_screening(
                participant=participant,
                screening_date=form.cleaned_data["screening_date"],
                birth_date=form.cleaned_data["birth_date"],
                reason=form.cleaned_data["reason"],
                performed_by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("participants:detail", pk=participant.pk)
    return render(
        request,
        "participants/edit.html",
        {"form": form, "participant": participant},
        status=400 if form.errors else 200,
    )


@login_required
def participant_history(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_get(request.user, pk)
    if not can_view_history(request.user):
        raise PermissionDenied
    return render(
        request,
        "participants/history.html",
        {"participant": participant, "entries": history_of(participant)},
    )
