"""The home page of each role, the participant's page, and the health check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from ecrf.accounts.policy import (
    may_administer,
    may_enter_data,
    may_lock,
    may_raise_query,
    may_review_audit,
    may_sign,
    may_verify,
    may_view_verification_progress,
    permissions_for,
)
from ecrf.common import catalogue
from ecrf.common.http import AuthenticatedRequest
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.models import Participant, ParticipantStatus
from ecrf.participants.pages import form_submit, saved_as
from ecrf.participants.selectors import participant_get, participants_visible_to
from ecrf.quality import selectors as quality_selectors
from ecrf.quality.forms import LockForm, SignForm
from ecrf.quality.services import record_codes as quality_record_codes
from ecrf.queries.selectors import (
    field_label,
    form_label,
    open_query_counts_per_site,
    queries_visible_to,
)
from ecrf.review.reading import readable_forms
from ecrf.review.selectors import audit_review_overview
from ecrf.schedule.completion import completion_open_items
from ecrf.schedule.selectors import coordinator_agenda
from ecrf.studies.services import current_study

from . import health, selectors


@login_required
@require_safe
def home(request: AuthenticatedRequest) -> HttpResponse:
    return home_page(request)


def home_page(
    request: AuthenticatedRequest, status: int = 200, lock_form: Form | None = None
) -> HttpResponse:
    """The user's home page; ``status`` 400 or 409 when shown again after the database-lock
    panel's form (``lock_form``, as typed, with its errors) was refused."""
    user = request.user
    context: dict[str, Any] = {
        "overview": selectors.site_overview(user),
        "recent": list(participants_visible_to(user).order_by("-registered_at")[:10]),
    }
    if may_enter_data(user):
        context["worklist"] = selectors.coordinator_worklist(user)
        context["agenda"] = coordinator_agenda(user)
        context["completion_due"] = selectors.coordinator_completion_due(user)
        context["follow_up"] = selectors.coordinator_follow_up(user)
        context["open_queries"] = queries_visible_to(user, status="open")[:50]
        context["open_query_count"] = queries_visible_to(user, status="open").count()
        context["today"] = timezone.localdate()
        template = "core/home_coordinator.html"
    elif may_verify(user):
        context["site_work"] = selectors.site_work(user)
        context["query_counts"] = open_query_counts_per_site(user)
        context["answered"] = queries_visible_to(user, status="answered")[:50]
        context["audit_review"] = audit_review_overview(user)
        template = "core/home_monitor.html"
    elif may_sign(user):
        context["work"] = selectors.investigator_work(user)
        template = "core/home_investigator.html"
    else:
        study = current_study()
        context["study_lock"] = quality_selectors.study_lock(study) if study else None
        context["may_administer"] = may_administer(user)
        context["may_lock"] = may_lock(user)
        context["lock_form"] = lock_form or LockForm()
        if may_lock(user):
            context["ready_to_lock"] = quality_selectors.participants_ready_to_lock(user)
        if may_raise_query(user):
            context["query_counts"] = open_query_counts_per_site(user)
        if may_view_verification_progress(user):
            context["site_work"] = selectors.site_work(user)
        if may_review_audit(user):
            context["audit_review"] = audit_review_overview(user)
        template = "core/home_sponsor.html"
    return render(request, template, context, status=status)


@login_required
@require_safe
def participant_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return participant_page(request, participant_get(request.user, pk))


def participant_page(
    request: AuthenticatedRequest,
    participant: Participant,
    status: int = 200,
    refused_form: Form | None = None,
) -> HttpResponse:
    """Her page: her forms, and what the layers above hold over them (her allocation,
    queries, locks, signatures and verification marks), with the buttons of the actions
    the policy allows this user; ``status`` 400 or 409 when shown again after a refusal, with
    what was typed into the refused panel form (``typed``, for the form posted to
    ``typed_path``) put back in its inputs and its errors (``refused_form``) beside them."""
    allocation = getattr(participant, "allocation", None)
    may = permissions_for(request.user, participant)
    refused_post = status in (400, 409) and request.method == "POST"
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
            "verification": quality_selectors.verification_progress(
                Participant.objects.filter(pk=participant.pk)
            )[participant.pk]
            if may.read_forms
            else None,
            "locks": [
                (lock, form_label(lock.record) if lock.record else "")
                for lock in quality_selectors.open_locks_over(participant)
            ],
            "sign_form": refused_form if isinstance(refused_form, SignForm) else SignForm(),
            "open_items": quality_selectors.signature_open_items(participant) if may.sign else None,
            "queries": queries_visible_to(
                request.user, participant_id=participant.pk
            ).select_related("opened_by"),
            "may": may,
            "query_targets": [
                (
                    f"{form.code}.{field.name}",
                    f"{form_label(form.code)}: {field_label(form.code, field.name)}",
                )
                for form in catalogue.queryable_forms()
                for field in form.entered_fields
            ]
            if may.raise_query
            else [],
            "readable_forms": readable_forms(request.user, participant) if may.read_forms else [],
            "lockable_records": [(code, form_label(code)) for code in quality_record_codes()]
            if may.lock
            else [],
            "can_unblind": may.unblind and not participant.unblindings.exists(),
            "completion_open_items": completion_open_items(participant)
            if participant.status == ParticipantStatus.RANDOMIZED
            else [],
            "typed": request.POST if refused_post else {},
            "typed_path": request.path if refused_post else "",
            "refused_form": refused_form,
        },
        status=status,
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer; 503 naming the one that does not."""
    checks = {
        "database": "ok" if health.database_reachable() else "unreachable",
        "broker": "ok" if health.broker_reachable() else "unreachable",
    }
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


def panel_submit(
    request: AuthenticatedRequest,
    participant: Participant,
    form: Form,
    save: Callable[[dict[str, Any]], object],
    done: str,
    back: Callable[[], HttpResponse],
) -> HttpResponse:
    """A form of one of her page's panels (data quality, queries), submitted by
    :func:`form_submit`: saved, back to her page; refused, her page again (409) with
    what was typed."""
    return form_submit(
        request,
        form=form,
        save=save,
        saved=saved_as(done),
        redirect_to=lambda _result: back(),
        render_page=lambda status: participant_page(request, participant, status),
        back=back,
    )
