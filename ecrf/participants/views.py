"""Participant pages: the screening log, registration, corrections and history."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from ecrf.accounts.policy import (
    enforce,
    may_enter_data,
    may_manage_lists,
    may_randomize,
    may_register,
    may_unblind,
    may_view_history,
    may_withdraw,
    permissions_for,
)
from ecrf.accounts.selectors import sites_visible_to
from ecrf.audit.selectors import history_of
from ecrf.core.http import AuthenticatedRequest, require_form_methods
from ecrf.quality import selectors as quality_selectors
from ecrf.quality.forms import SignForm
from ecrf.quality.services import record_codes as quality_record_codes
from ecrf.queries import selectors as query_selectors
from ecrf.queries.fields import QUERYABLE_FIELDS
from randomization.services import participant_randomize, study_arms

from . import selectors, services
from .blinding import arm_visible_to
from .eligibility import evaluate_partial
from .forms import (
    ConsentForm,
    EligibilityForm,
    ParticipantFilterForm,
    RandomizeForm,
    ScreeningCorrectionForm,
    ScreeningForm,
    UnblindForm,
    WithdrawalForm,
)
from .models import Participant
from .pages import SavedMessage, form_submit, posted, saved_as
from .services import ELIGIBILITY_ANSWER_FIELDS

#: The allocation list's own rows stay with the statisticians (concealment).
CONCEALED_MODELS = ("randomization.Slot",)


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
@require_safe
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
        {"form": form, "page": page, "can_enter_data": may_register(request.user)},
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
@require_safe
def participant_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return participant_page(request, selectors.participant_get(request.user, pk))


def participant_page(
    request: AuthenticatedRequest, participant: Participant, status: int = 200
) -> HttpResponse:
    """Her page: her forms, allocation, queries and data quality, and the buttons of the
    actions the policy allows this user; ``status`` 409 when shown again after a refusal."""
    allocation = getattr(participant, "allocation", None)
    may = permissions_for(request.user, participant)
    return render(
        request,
        "participants/detail.html",
        {
            "participant": participant,
            "eligibility": getattr(participant, "eligibility", None),
            "consent": getattr(participant, "consent", None),
            "allocation": allocation,
            "arm_visible": allocation is not None and arm_visible_to(request.user, participant),
            "status_changes": participant.status_changes.select_related("changed_by"),
            "findings": participant.check_findings.filter(resolved_at__isnull=True),
            "signatures": quality_selectors.signatures_of(participant),
            "verifications": quality_selectors.verifications_of(participant),
            "locks": quality_selectors.open_locks_over(participant),
            "sign_form": SignForm(),
            "queries": query_selectors.queries_visible_to(
                request.user, participant_id=participant.pk
            ).select_related("opened_by"),
            "may": may,
            "query_targets": [
                f"{record}.{field}"
                for record, fields in QUERYABLE_FIELDS.items()
                for field in fields
            ]
            if may.raise_query
            else [],
            "record_codes": quality_record_codes() if may.verify else [],
            "lockable_records": quality_record_codes() if may.lock else [],
            "can_unblind": may.unblind and not participant.unblindings.exists(),
        },
        status=status,
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
                participant, concealed=() if may_manage_lists(request.user) else CONCEALED_MODELS
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
        "criteria": ", ".join(record.failed_criteria)
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
def participant_randomize_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A confirmation step that restates what will happen, then the allocation itself."""
    participant = selectors.participant_get(request.user, pk)
    enforce(may_randomize(request.user))
    form = RandomizeForm(posted(request), initial={"token": uuid.uuid4().hex})
    study = participant.site.study
    arms = study_arms(study)

    def render_page(status: int) -> HttpResponse:
        return render(
            request,
            "participants/randomize.html",
            {
                "form": form,
                "participant": participant,
                "stratified": study.stratify_by_site,
                "arms": " / ".join(arm.name for arm in arms),
                "ratio": ":".join(str(arm.allocation_weight) for arm in arms),
            },
            status=status,
        )

    if request.method != "POST":
        return render_page(200)
    return form_submit(
        request,
        form=form,
        save=lambda data: participant_randomize(
            participant=participant,
            idempotency_key=f"web-{data['token']}",
            performed_by=request.user,
        ),
        saved=lambda allocation: (
            messages.SUCCESS,
            _("Randomized: %(number)s, %(arm)s.")
            % {"number": allocation.randomization_number, "arm": allocation.arm_name},
        ),
        redirect_to=lambda _allocation: redirect("participants:detail", pk=participant.pk),
        render_page=render_page,
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
