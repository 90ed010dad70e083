"""A participant's safety labs and vital signs, against her site's normal ranges."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ecrf.accounts.policy import enforce, may_edit_participant_data, may_enter_data
from ecrf.common.http import AuthenticatedRequest, require_form_methods
from ecrf.participants.pages import form_submit, posted, saved_as
from ecrf.participants.selectors import participant_get

from .forms import LabResultForm
from .models import LabResult, NormalRange
from .services import lab_result_record


@login_required
@require_form_methods
def lab_results(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    form = LabResultForm(posted(request))

    def render_page(status: int) -> HttpResponse:
        return render(
            request,
            "labs/results.html",
            {
                "participant": participant,
                "form": form,
                "results": LabResult.objects.filter(participant=participant),
                "ranges": NormalRange.objects.filter(site=participant.site).order_by("analyte"),
                "can_enter_data": bool(
                    may_edit_participant_data(
                        request.user, participant, continues_after_withdrawal=True
                    )
                )
                or status == 409,
            },
            status=status,
        )

    if request.method != "POST":
        return render_page(200)
    enforce(may_enter_data(request.user))
    return form_submit(
        request,
        form=form,
        save=lambda data: lab_result_record(
            participant=participant, performed_by=request.user, **data
        ),
        saved=saved_as(_("Saved.")),
        redirect_to=lambda _result: redirect("labs:results", pk=pk),
        render_page=render_page,
    )
