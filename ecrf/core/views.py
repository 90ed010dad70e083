"""The home page of each role, and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from ecrf.accounts.policy import may_administer, may_enter_data, may_lock, may_verify
from ecrf.core.http import AuthenticatedRequest
from ecrf.participants.selectors import participants_visible_to
from ecrf.quality import selectors as quality_selectors
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
    if may_enter_data(user):
        context["worklist"] = selectors.coordinator_worklist(user)
        context["agenda"] = coordinator_agenda(user)
        context["open_queries"] = queries_visible_to(user, status="open")[:50]
        context["today"] = timezone.localdate()
        template = "core/home_coordinator.html"
    elif may_verify(user):
        context["query_counts"] = open_query_counts_per_site(user)
        context["answered"] = queries_visible_to(user, status="answered")[:50]
        template = "core/home_monitor.html"
    else:
        study = current_study()
        context["study_lock"] = quality_selectors.study_lock(study) if study else None
        context["may_administer"] = may_administer(user)
        context["may_lock"] = may_lock(user)
        template = "core/home_sponsor.html"
    return render(request, template, context)


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
