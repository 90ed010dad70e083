"""The home page of each role, the participant's page, and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from ecrf.accounts.permissions import can_enter_data, can_view_history
from ecrf.accounts.roles import Role
from ecrf.common import catalogue
from ecrf.common.http import AuthenticatedRequest
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.selectors import participant_get, participants_visible_to
from ecrf.quality import selectors as quality_selectors
from ecrf.quality.forms import SignForm
from ecrf.quality.services import record_codes as quality_record_codes
from ecrf.queries.selectors import open_query_counts_per_site, queries_visible_to
from ecrf.schedule.selectors import coordinator_agenda
from ecrf.studies.services import current_study

from . import health, selectors


@login_required
@require_safe
def home(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    context = {
        "overview": selectors.site_overview(user),
        "recent": list(participants_visible_to(user).order_by("-registered_at")[:10]),
    }
    if user.role == Role.COORDINATOR:
        context["worklist"] = selectors.coordinator_worklist(user)
        context["agenda"] = coordinator_agenda(user)
        context["open_queries"] = queries_visible_to(user, status="open")[:50]
        context["today"] = timezone.localdate()
        template = "core/home_coordinator.html"
    elif user.role == Role.MONITOR:
        context["query_counts"] = open_query_counts_per_site(user)
        context["answered"] = queries_visible_to(user, status="answered")[:50]
        template = "core/home_monitor.html"
    else:
        study = current_study()
        context["study_lock"] = quality_selectors.study_lock(study) if study else None
        template = "core/home_sponsor.html"
    return render(request, template, context)


@login_required
@require_safe
def participant_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Her page: her forms, and what the layers above hold over them (her allocation,
    queries, locks, signatures and verification marks)."""
    participant = participant_get(request.user, pk)
    allocation = getattr(participant, "allocation", None)
    study = participant.site.study
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
            "queries": queries_visible_to(
                request.user, participant_id=participant.pk
            ).select_related("opened_by"),
            "query_targets": [
                f"{form.code}.{field.name}"
                for form in catalogue.queryable_forms()
                for field in form.entered_fields
            ]
            if request.user.role in ("monitor", "data_manager")
            else [],
            "record_codes": quality_record_codes() if request.user.role == "monitor" else [],
            "lockable_records": quality_record_codes()
            if request.user.role == "data_manager"
            else [],
            "can_withdraw": request.user.role in ("coordinator", "investigator")
            and participant.status not in ("withdrawn", "completed"),
            "can_enter_data": can_enter_data(request.user),
            "can_view_history": can_view_history(request.user),
            "can_unblind": study.blinded
            and allocation is not None
            and request.user.role == "investigator"
            and not participant.unblindings.exists(),
        },
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
