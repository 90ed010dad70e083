"""A participant's safety labs and vital signs, against her site's normal ranges."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ecrf.accounts.permissions import can_enter_data
from ecrf.common.forms import add_service_errors
from ecrf.common.http import AuthenticatedRequest, require_form_methods
from ecrf.participants.selectors import participant_get

from .forms import LabResultForm
from .models import LabResult, NormalRange
from .services import lab_result_record


@login_required
@require_form_methods
def lab_results(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    form = LabResultForm(request.POST or None)
    if request.method == "POST":
        if not can_enter_data(request.user):
            raise PermissionDenied(_("Your role may read this data but not enter or change it."))
        if form.is_valid():
            try:
                lab_result_record(
                    participant=participant, performed_by=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("labs:results", pk=pk)
    return render(
        request,
        "labs/results.html",
        {
            "participant": participant,
            "form": form,
            "results": LabResult.objects.filter(participant=participant),
            "ranges": NormalRange.objects.filter(site=participant.site).order_by("analyte"),
            "can_enter_data": can_enter_data(request.user),
        },
        status=400 if form.errors else 200,
    )
