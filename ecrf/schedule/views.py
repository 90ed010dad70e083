"""The treatment pages: ET, dose diary, drug accountability, visits, printable schedule, .ics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe
from icalendar import Calendar, Event

from ecrf.accounts.policy import enforce, may_edit_participant_data, may_enter_data
from ecrf.common.http import AuthenticatedRequest
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.models import Participant
from ecrf.participants.pages import form_submit, saved_as
from ecrf.participants.selectors import participant_get
from ecrf.participants.services import site_today

from . import services
from .definitions import regimen
from .forms import DispensingForm, DoseForm, DrugReturnForm, EmbryoTransferForm, VisitRecordForm
from .selectors import Treatment, treatment_of


def _et_initial(participant: Participant) -> dict[str, Any]:
    transfer = getattr(participant, "embryo_transfer", None)
    if transfer is None:
        return {}
    return {
        "et_date": transfer.et_date,
        "performed": transfer.performed,
        "embryos_transferred": transfer.embryos_transferred,
        "embryo_stage": transfer.embryo_stage,
        "embryo_grade": transfer.embryo_grade,
    }


def _forms(participant: Participant, treatment: Treatment | None) -> dict[str, Any]:
    today = site_today(participant.site)
    open_days = (
        [d.date for d in treatment.diary if d.entry is None and d.date <= today]
        if treatment
        else []
    )
    visits = [(v.window.code, v.name) for v in treatment.visits] if treatment else []
    return {
        "et_form": EmbryoTransferForm(initial=_et_initial(participant)),
        "dose_form": DoseForm(days=open_days, initial={"taken": True}),
        "dispensing_form": DispensingForm(initial={"dispensed_on": today}),
        "return_form": DrugReturnForm(initial={"returned_on": today}),
        "visit_form": VisitRecordForm(visits=visits),
    }


#: Where each form of the treatment page posts to.
FORM_ACTIONS = {
    "et_form": "schedule:embryo_transfer",
    "dose_form": "schedule:dose",
    "dispensing_form": "schedule:dispensing",
    "return_form": "schedule:drug_return",
    "visit_form": "schedule:visit",
}


def _page(
    request: AuthenticatedRequest,
    participant: Participant,
    bound: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    treatment = treatment_of(participant)
    forms = {**_forms(participant, treatment), **(bound or {})}
    for name, url_name in FORM_ACTIONS.items():
        forms[name].helper.form_action = reverse(url_name, args=[participant.pk])
    context = {
        "participant": participant,
        "treatment": treatment,
        "can_enter_data": bool(may_edit_participant_data(request.user, participant))
        or status == 409,
        "arm_visible": arm_visible_to(request.user, participant),
        "transfer": getattr(participant, "embryo_transfer", None),
        **forms,
    }
    return render(request, "schedule/treatment.html", context, status=status)


@login_required
@require_safe
def treatment_page(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _page(request, participant_get(request.user, pk))


def _post(
    request: AuthenticatedRequest,
    pk: int,
    *,
    form_name: str,
    form: Any,
    save: Callable[[Participant, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    participant = participant_get(request.user, pk)
    enforce(may_enter_data(request.user))
    return form_submit(
        request,
        form=form,
        save=lambda data: save(participant, data),
        saved=saved_as(done),
        redirect_to=lambda _result: redirect("schedule:treatment", pk=participant.pk),
        render_page=lambda status: _page(
            request, participant_get(request.user, pk), {form_name: form}, status
        ),
    )


@login_required
@require_POST
def embryo_transfer_post(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _post(
        request,
        pk,
        form_name="et_form",
        form=EmbryoTransferForm(request.POST),
        save=lambda p, data: services.embryo_transfer_set(
            participant=p, performed_by=request.user, **data
        ),
        done=_("Embryo transfer saved; the schedule follows it."),
    )


@login_required
@require_POST
def dose_post(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    treatment = treatment_of(participant)
    days = [d.date for d in treatment.diary] if treatment else []

    def save(p: Participant, data: dict[str, Any]) -> object:
        data["date"] = dt.date.fromisoformat(data["date"])
        return services.dose_record(participant=p, performed_by=request.user, **data)

    return _post(
        request,
        pk,
        form_name="dose_form",
        form=DoseForm(request.POST, days=days),
        save=save,
        done=_("Dose recorded."),
    )


@login_required
@require_POST
def dispensing_post(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _post(
        request,
        pk,
        form_name="dispensing_form",
        form=DispensingForm(request.POST),
        save=lambda p, data: services.dispensing_record(
            participant=p, performed_by=request.user, **data
        ),
        done=_("Dispensing recorded."),
    )


@login_required
@require_POST
def drug_return_post(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _post(
        request,
        pk,
        form_name="return_form",
        form=DrugReturnForm(request.POST),
        save=lambda p, data: services.drug_return_record(
            participant=p, performed_by=request.user, **data
        ),
        done=_("Return recorded."),
    )


@login_required
@require_POST
def visit_post(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    treatment = treatment_of(participant)
    visits = [(v.window.code, v.name) for v in treatment.visits] if treatment else []
    return _post(
        request,
        pk,
        form_name="visit_form",
        form=VisitRecordForm(request.POST, visits=visits),
        save=lambda p, data: services.visit_record(
            participant=p, performed_by=request.user, **data
        ),
        done=_("Visit recorded."),
    )


@login_required
@require_safe
def schedule_print(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Her dosing calendar to hand to her: each day's date and dose, and the visits."""
    participant = participant_get(request.user, pk)
    treatment = treatment_of(participant)
    slot = getattr(participant, "allocation", None)
    return render(
        request,
        "schedule/print.html",
        {
            "participant": participant,
            "treatment": treatment,
            "regimen": regimen(slot.arm) if slot is not None else None,
            "arm_visible": arm_visible_to(request.user, participant),
        },
    )


@login_required
@require_safe
def schedule_ics(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Her visits (and the dosing period) as an iCalendar file, all-day events.

    Each event keeps its UID from one download to the next (subject and visit), so a
    calendar that imports the file again updates her visits instead of doubling them;
    DTSTAMP, which RFC 5545 requires of every event, is when this file was made.
    """
    participant = participant_get(request.user, pk)
    treatment = treatment_of(participant)
    stamp = timezone.now().astimezone(dt.UTC).replace(microsecond=0)
    calendar = Calendar()
    calendar.add("prodid", "-//Tacrolimus trial eCRF//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{participant.subject_id}")
    if treatment is not None:
        schedule = treatment.schedule
        dosing = Event()
        dosing.add("uid", f"{participant.subject_id}-dosing@ecrf")
        dosing.add("dtstamp", stamp)
        dosing.add(
            "summary", _("%(subject)s: tacrolimus dosing") % {"subject": participant.subject_id}
        )
        dosing.add("dtstart", schedule.dosing_start)
        dosing.add("dtend", schedule.dosing_end + dt.timedelta(days=1))
        calendar.add_component(dosing)
        for visit in treatment.visits:
            event = Event()
            event.add("uid", f"{participant.subject_id}-{visit.window.code}@ecrf")
            event.add("dtstamp", stamp)
            event.add("summary", f"{participant.subject_id}: {visit.name}")
            event.add("dtstart", visit.window.target_date)
            event.add("dtend", visit.window.target_date + dt.timedelta(days=1))
            event.add(
                "description",
                _("Window %(start)s to %(end)s")
                % {
                    "start": visit.window.window_start.isoformat(),
                    "end": visit.window.window_end.isoformat(),
                },
            )
            calendar.add_component(event)
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{participant.subject_id}.ics"'
    return response
