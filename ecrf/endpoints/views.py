"""The endpoint form pages: edit checks shown beside the fields, soft ones to confirm."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ecrf.accounts.permissions import can_enter_data
from ecrf.common.forms import add_service_errors
from ecrf.common.http import AuthenticatedRequest, require_form_methods
from ecrf.participants.selectors import participant_get
from ecrf.queries.selectors import queries_visible_to

from .checks import BIOCHEMICAL, CLINICAL
from .forms import BiochemicalPregnancyForm, ClinicalPregnancyForm
from .services import ENDPOINT_FIELDS, ENDPOINT_MODELS, UnconfirmedWarnings, endpoint_record

FORMS = {BIOCHEMICAL: BiochemicalPregnancyForm, CLINICAL: ClinicalPregnancyForm}


@login_required
@require_form_methods
def endpoint_form(request: AuthenticatedRequest, pk: int, record: str) -> HttpResponse:
    if record not in FORMS:
        raise Http404
    participant = participant_get(request.user, pk)
    if request.method == "POST" and not can_enter_data(request.user):
        raise PermissionDenied(_("Your role may read this data but not enter or change it."))
    existing = ENDPOINT_MODELS[record]._default_manager.filter(participant=participant).first()
    initial: dict[str, Any] = (
        {name: getattr(existing, name) for name in ENDPOINT_FIELDS[record]} if existing else {}
    )
    form = FORMS[record](request.POST or None, initial=initial, form_id=f"{record}-form")
    warnings = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("reason", "")
        confirm = data.pop("confirm_warnings", False)
        try:
            endpoint_record(
                participant=participant,
                record=record,
                values=data,
                reason=reason,
                confirm_warnings=confirm,
                performed_by=request.user,
            )
        except UnconfirmedWarnings as exc:
            warnings = exc.findings
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("participants:detail", pk=participant.pk)
    return render(
        request,
        "endpoints/form.html",
        {
            "participant": participant,
            "form": form,
            "record": record,
            "title": ENDPOINT_MODELS[record]._meta.verbose_name,
            "warnings": warnings,
            "open_queries": queries_visible_to(request.user, participant_id=participant.pk)
            .filter(record=record)
            .exclude(status="closed"),
            "can_enter_data": can_enter_data(request.user),
        },
        status=400 if (form.errors or warnings) else 200,
    )
