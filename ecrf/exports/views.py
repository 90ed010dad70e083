"""Exports in the web UI: ask for one, watch it run, download it (its owner alone)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from ecrf.accounts.selectors import sites_visible_to
from ecrf.common.forms import add_service_errors
from ecrf.common.http import AuthenticatedRequest

from . import selectors, services
from .exceptions import ExportGone
from .forms import ExportRequestForm
from .models import ExportJob, ExportStatus

#: How many of her own exports the page lists.
LISTED_EXPORTS = 50


def _local(moment: Any) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def _label(moment: Any) -> str | None:
    return date_format(timezone.localtime(moment), "Y-m-d H:i") if moment else None


def status_payload(job: ExportJob) -> dict[str, Any]:
    """What the page's progress bar and row show of one export (JSON)."""
    expired = selectors.export_is_expired(job)
    downloadable = job.status == ExportStatus.DONE and not expired
    return {
        "id": str(job.pk),
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "progress": job.progress,
        "checksum": job.checksum or None,
        "size": job.size,
        "chain_head": job.chain_head or None,
        "row_count": job.row_count,
        "created_at": _local(job.created_at),
        "finished_at": _local(job.finished_at),
        "expires_at": _local(job.expires_at),
        "error": job.error or None,
        "download_url": reverse("exports:download", args=[job.pk]) if downloadable else None,
        "size_label": filesizeformat(job.size) if job.size is not None else None,
        "expires_label": _label(job.expires_at),
        "expires_caption": _("Expired on") if expired else _("Kept until"),
    }


@login_required
@require_http_methods(["GET", "POST"])
def export_index(request: AuthenticatedRequest) -> HttpResponse:
    """The export page: the request form and the user's own exports."""
    selectors.ensure_can_export(request.user)
    sites = sites_visible_to(request.user)
    form = ExportRequestForm(request.POST if request.method == "POST" else None, sites=sites)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = services.export_request(
                performed_by=request.user,
                kind=data["kind"],
                format=data["format"],
                site=data["site"],
                subject_id=data["subject_id"] or None,
                since=data["since"],
                until=data["until"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Export started (%(kind)s, %(format)s). It appears below when it is ready.")
                % {"kind": job.get_kind_display(), "format": job.get_format_display()},
            )
            return redirect("exports:index")
    rows = [
        (job, status_payload(job)) for job in selectors.exports_of(request.user)[:LISTED_EXPORTS]
    ]
    return render(
        request,
        "exports/index.html",
        {
            "form": form,
            "rows": rows,
            "retention_days": settings.EXPORT_RETENTION.days,
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_GET
def export_status(request: AuthenticatedRequest, pk: uuid.UUID) -> JsonResponse:
    """One of her exports as JSON, polled by the page while it runs; others' answer 404."""
    return JsonResponse(status_payload(selectors.export_get(request.user, pk)))


@login_required
@require_GET
def export_download(request: AuthenticatedRequest, pk: uuid.UUID) -> HttpResponseBase:
    """The file, to its owner only; 410 once expired."""
    try:
        job, path = selectors.export_file_for(request.user, pk)
    except ExportGone as exc:
        return render(request, "error.html", {"status": 410, "message": exc.detail}, status=410)
    return file_response(job, path)


def file_response(job: ExportJob, path: Path) -> FileResponse:
    """The export's file as an attachment, with its SHA-256 and the audit chain head it was
    made from in headers to check against."""
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=selectors.export_download_name(job),
        content_type=selectors.export_format(job).media_type,
    )
    response["X-Checksum-SHA256"] = job.checksum
    response["X-Audit-Chain-Head"] = job.chain_head
    return response
