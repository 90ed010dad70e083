"""The treatment pages: ET, dose diary, drug accountability, visits, printable schedule, .ics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe
from icalendar import Calendar, Event

from ecrf.accounts.policy import enforce, may_edit_participant_data, may_enter_data
from ecrf.common.http import AuthenticatedRequest, require_form_methods
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.models import Participant
from ecrf.participants.pages import form_submit, saved_as
from ecrf.participants.selectors import participant_get, participant_to_write
from ecrf.participants.services import site_today

from . import services
from .definitions import regimen
from .forms import (
    DispensingForm,
    DoseCorrectionForm,
    DoseForm,
    DoseIntakeForm,
    DrugReturnForm,
    EmbryoTransferForm,
    VisitRecordForm,
)
from .models import DoseEntry, Intake
from .selectors import Treatment, intake_anchor, treatment_of


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
    visits = [(v.window.code, v.name) for v in treatment.visits] if treatment else []
    return {
        "et_form": EmbryoTransferForm(initial=_et_initial(participant)),
        "dispensing_form": DispensingForm(initial={"dispensed_on": today}),
        "return_form": DrugReturnForm(initial={"returned_on": today}),
        "visit_form": VisitRecordForm(visits=visits),
    }


#: Where each form of the treatment page posts to.
FORM_ACTIONS = {
    "et_form": "schedule:embryo_transfer",
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
    today = site_today(participant.site)
    for name, url_name in FORM_ACTIONS.items():
        forms[name].helper.form_action = reverse(url_name, args=[participant.pk])
    context = {
        "participant": participant,
        "treatment": treatment,
        "can_enter_data": bool(may_edit_participant_data(request.user, participant))
        or status == 409,
        "arm_visible": arm_visible_to(request.user, participant),
        "transfer": getattr(participant, "embryo_transfer", None),
        "today": today,
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
    participant = participant_to_write(request.user, pk)
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


def _diary_cell(participant: Participant, day: dt.date, intake: str) -> HttpResponse:
    """Back to her treatment page, at the diary cell of the intake just saved."""
    url = reverse("schedule:treatment", args=[participant.pk])
    return redirect(f"{url}#{intake_anchor(day, intake)}")


def _intake_page(
    request: AuthenticatedRequest,
    participant: Participant,
    day: dt.date,
    intake: str,
    form: DoseIntakeForm,
    entry: DoseEntry | None,
    status: int,
) -> HttpResponse:
    form.helper.form_action = reverse(
        "schedule:dose_intake", args=[participant.pk, day.isoformat(), intake]
    )
    return render(
        request,
        "schedule/dose_intake.html",
        {
            "participant": participant,
            "day": day,
            "intake_label": Intake(intake).label,
            "anchor": intake_anchor(day, intake),
            "entry": entry,
            "form": form,
            "planned": _planned_intake(participant)
            if arm_visible_to(request.user, participant)
            else None,
            "can_enter_data": bool(may_edit_participant_data(request.user, participant))
            or status == 409,
        },
        status=status,
    )


def _planned_intake(participant: Participant) -> dict[str, Any] | None:
    """The arm's dose of one intake, where the reader may see the arm."""
    slot = getattr(participant, "allocation", None)
    if slot is None:
        return None
    arm_regimen = regimen(slot.arm)
    return {
        "dose_mg": arm_regimen.dose_per_intake_mg,
        "capsules": arm_regimen.capsules_per_intake,
    }


def _intake_values(data: dict[str, Any]) -> dict[str, Any]:
    """The form's answers as the dose services take them."""
    return {name: data.get(name) for name in ("taken", "dose_mg", "time_taken")} | {
        name: data.get(name) or "" for name in ("missed_reason", "comment", "deviation_reason")
    }


def _record_intake(
    request: AuthenticatedRequest,
    participant: Participant,
    day: dt.date,
    intake: str,
    form: DoseIntakeForm,
    entry: DoseEntry | None,
    render_page: Callable[[int], HttpResponse] | None = None,
) -> HttpResponse:
    """Record one intake, or correct ``entry`` once saved, then return to its cell of the
    diary; the intake's page again when refused (or ``render_page``)."""

    def save(data: dict[str, Any]) -> object:
        if entry is not None:
            return services.dose_correct(
                entry=entry,
                reason=data.get("reason") or "",
                performed_by=request.user,
                **_intake_values(data),
            )
        return services.dose_record(
            participant=participant,
            date=day,
            intake=intake,
            performed_by=request.user,
            **_intake_values(data),
        )

    return form_submit(
        request,
        form=form,
        save=save,
        saved=saved_as(_("Dose corrected.") if entry is not None else _("Dose recorded.")),
        redirect_to=lambda _result: _diary_cell(participant, day, intake),
        render_page=render_page
        or (lambda status: _intake_page(request, participant, day, intake, form, entry, status)),
    )


@login_required
@require_POST
def dose_post(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Quick entry from the diary grid: the form names its day and intake."""
    participant = participant_to_write(request.user, pk)
    enforce(may_enter_data(request.user))
    form = DoseForm(request.POST)
    if not form.is_valid() and ("date" in form.errors or "intake" in form.errors):
        for name in ("date", "intake"):
            for error in form.errors.get(name, []):
                messages.error(
                    request, _("%(field)s: %(error)s") % {"field": form[name].label, "error": error}
                )
        return _page(request, participant_get(request.user, pk), {"form": form}, status=400)
    day, intake = form.cleaned_data["date"], form.cleaned_data["intake"]

    def refused(status: int) -> HttpResponse:
        """The intake's page with what was refused; its correction page when the intake
        was recorded meanwhile (another tab, a colleague): corrections go through it."""
        shown = participant_get(request.user, pk)
        saved = DoseEntry.objects.filter(participant=shown, date=day, intake=intake).first()
        if saved is None:
            return _intake_page(request, shown, day, intake, form, None, status)
        correction = DoseCorrectionForm(request.POST)
        correction.is_valid()
        correction.add_error(
            None,
            _("This intake was recorded meanwhile; correct it here, with a reason."),
        )
        return _intake_page(request, shown, day, intake, correction, saved, 409)

    return _record_intake(request, participant, day, intake, form, None, refused)


@login_required
@require_form_methods
def dose_intake(request: AuthenticatedRequest, pk: int, day: str, intake: str) -> HttpResponse:
    """One intake's page: record it (taken with its time, or missed with the reason), or
    correct it once saved, with the reason for the change."""
    participant = participant_get(request.user, pk)
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise Http404(_("No such dosing day.")) from None
    if intake not in Intake.values:
        raise Http404(_("No such intake."))
    entry = DoseEntry.objects.filter(participant=participant, date=date, intake=intake).first()
    form_class = DoseCorrectionForm if entry is not None else DoseIntakeForm
    if request.method != "POST":
        initial = (
            {
                "taken": entry.taken,
                "time_taken": entry.time_taken,
                # A missed intake's 0 mg would be refused once corrected to taken: empty
                # stands for the arm's dose.
                "dose_mg": entry.dose_mg if entry.taken else None,
                "missed_reason": entry.missed_reason,
                "comment": entry.comment,
                "deviation_reason": entry.deviation_reason,
            }
            if entry is not None
            else {}
        )
        return _intake_page(
            request, participant, date, intake, form_class(initial=initial), entry, 200
        )
    enforce(may_enter_data(request.user))
    return _record_intake(request, participant, date, intake, form_class(request.POST), entry)


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
