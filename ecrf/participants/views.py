"""Participant pages: registration, corrections and history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from ecrf.accounts.policy import (
    concealed_from,
    enforce,
    may_enter_data,
    may_register,
    may_unblind,
    may_view_history,
    may_withdraw,
)
from ecrf.accounts.selectors import sites_visible_to
from ecrf.audit.selectors import history_of
from ecrf.common.http import AuthenticatedRequest, require_form_methods

from . import selectors, services
from .eligibility import evaluate_partial
from .forms import (
    ConsentForm,
    EligibilityForm,
    ScreeningCorrectionForm,
    ScreeningForm,
    UnblindForm,
    WithdrawalForm,
)
from .models import Participant
from .pages import SavedMessage, form_submit, posted, saved_as
from .services import ELIGIBILITY_ANSWER_FIELDS


def _form_page(
    request: AuthenticatedRequest,
    *,
    form: Any,
    participant: Participant,
    template: str,
    save: Callable[[dict[str, Any]], Any],
    saved_message: SavedMessage,
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """A participant's form page: shown by GET, submitted by POST (:func:`form_submit`);
    success is told on the participant's page."""

    def render_page(status: int) -> HttpResponse:
        return render(
            request,
            template,
            {"form": form, "participant": participant, **(context or {})},
            status=status,
        )

    if request.method != "POST":
        return render_page(200)
    return form_submit(
        request,
        form=form,
        save=save,
        saved=saved_message,
        redirect_to=lambda _result: redirect("participants:detail", pk=participant.pk),
        render_page=render_page,
    )


@login_required
@require_form_methods
def participant_create(request: AuthenticatedRequest) -> HttpResponse:
    enforce(may_register(request.user))
    form = ScreeningForm(posted(request), sites=sites_visible_to(request.user))

    def render_page(status: int) -> HttpResponse:
        return render(request, "participants/create.html", {"form": form}, status=status)

    if request.method != "POST":
        return render_page(200)
    return form_submit(
        request,
        form=form,
        save=lambda data: services.participant_enroll(performed_by=request.user, **data),
        saved=lambda participant: (
            messages.SUCCESS,
            _("Registered %(subject)s.") % {"subject": participant.subject_id},
        ),
        redirect_to=lambda participant: redirect("participants:detail", pk=participant.pk),
        render_page=render_page,
    )


@login_required
@require_form_methods
def participant_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_get(request.user, pk)
    enforce(may_enter_data(request.user))
    initial = {"screening_date": participant.screening_date, "birth_date": participant.birth_date}
    return _form_page(
        request,
        form=ScreeningCorrectionForm(posted(request), initial=initial),
        participant=participant,
        template="participants/edit.html",
        save=lambda data: services.participant_update_screening(
            participant=participant, performed_by=request.user, **data
        ),
        saved_message=saved_as(_("Saved.")),
    )


@login_required
@require_safe
def participant_history(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_get(request.user, pk)
    enforce(may_view_history(request.user, participant))
    return render(
        request,
        "participants/history.html",
        {
            "participant": participant,
            "entries": history_of(
                participant,
                concealed=concealed_from(request.user, participant.site.study),
            ),
        },
    )


def _eligibility_initial(participant: Participant) -> dict[str, Any]:
    record = getattr(participant, "eligibility", None)
    if record is None:
        return {}
    return {name: getattr(record, name) for name in EligibilityForm.base_fields if name != "reason"}


def _eligibility_saved(record: Any) -> tuple[int, str]:
    if record.eligible:
        return messages.SUCCESS, _("Eligible: every criterion is met.")
    return messages.WARNING, _("Not eligible: %(criteria)s") % {
        "criteria": record.failed_criteria_text
    }


@login_required
@require_form_methods
def participant_eligibility(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The eligibility form; the page shows, as she types, which criterion fails and why."""
    participant = selectors.participant_get(request.user, pk)
    enforce(may_enter_data(request.user))

    def save(data: dict[str, Any]) -> Any:
        reason = data.pop("reason", "")
        return services.eligibility_record(
            participant=participant, answers=data, reason=reason, performed_by=request.user
        )

    return _form_page(
        request,
        form=EligibilityForm(posted(request), initial=_eligibility_initial(participant)),
        participant=participant,
        template="participants/eligibility.html",
        save=save,
        saved_message=_eligibility_saved,
        context={"age": services.assessment_age(participant)},
    )


@login_required
@require_POST
def participant_eligibility_check(request: AuthenticatedRequest, pk: int) -> JsonResponse:
    """Evaluate the answers typed so far, without saving: which criteria fail and why."""
    participant = selectors.participant_get(request.user, pk)
    form = EligibilityForm(request.POST)
    form.is_valid()
    answers = {k: v for k, v in form.cleaned_data.items() if k in ELIGIBILITY_ANSWER_FIELDS}
    missing = [k for k in ELIGIBILITY_ANSWER_FIELDS if answers.get(k) is None]
    failures = evaluate_partial(
        answers,
        services.assessment_age(participant),
        services.eligibility_rules(participant.site.study),
    )
    return JsonResponse(
        {
            "complete": not missing,
            "eligible": not missing and not failures,
            "failures": [{"code": f.code, "message": f.message} for f in failures],
            "field_errors": {k: [str(m) for m in v] for k, v in form.errors.items()},
        }
    )


@login_required
@require_form_methods
def participant_consent(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_get(request.user, pk)
    enforce(may_enter_data(request.user))
    record = getattr(participant, "consent", None)
    initial = (
        {"consent_date": record.consent_date, "consent_version": record.consent_version}
        if record
        else {}
    )
    return _form_page(
        request,
        form=ConsentForm(
            posted(request), initial=initial, versions=participant.site.study.consent_versions
        ),
        participant=participant,
        template="participants/consent.html",
        save=lambda data: services.consent_record(
            participant=participant, performed_by=request.user, **data
        ),
        saved_message=saved_as(_("Consent recorded.")),
    )


@login_required
@require_form_methods
def participant_unblind_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_get(request.user, pk)
    enforce(may_unblind(request.user))
    return _form_page(
        request,
        form=UnblindForm(posted(request)),
        participant=participant,
        template="participants/unblind.html",
        save=lambda data: services.participant_unblind(
            participant=participant, performed_by=request.user, **data
        ),
        saved_message=lambda _result: (
            messages.WARNING,
            _("Unblinded. The data managers have been told."),
        ),
    )


@login_required
@require_form_methods
def participant_withdraw_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Withdrawal, with date, reason and who decided; no new data after it."""
    participant = selectors.participant_get(request.user, pk)
    enforce(may_withdraw(request.user))
    return _form_page(
        request,
        form=WithdrawalForm(posted(request)),
        participant=participant,
        template="participants/withdraw.html",
        save=lambda data: services.participant_withdraw(
            participant=participant, performed_by=request.user, **data
        ),
        saved_message=lambda _result: (messages.WARNING, _("She has withdrawn from the study.")),
    )
