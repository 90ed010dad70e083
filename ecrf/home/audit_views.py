"""Audit-trail review: the trail filtered on the server, page by page, and sign-offs."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from ecrf.accounts.policy import (
    enforce,
    may_download_checkpoints,
    may_review_audit,
    may_sign_off_audit_review,
)
from ecrf.audit.anchor import installation_key
from ecrf.audit.checkpoints import checkpoints_document
from ecrf.common.http import AuthenticatedRequest
from ecrf.participants.pages import form_submit, saved_as
from ecrf.review.forms import AuditFilterForm, AuditReviewForm
from ecrf.review.selectors import (
    AuditFilters,
    AuditPage,
    audit_lines,
    audit_page,
    last_review,
    latest_reviews,
)
from ecrf.review.services import audit_index_pending, audit_index_update, audit_review_record

#: Links copied into the index before a page is read: the changes of the last minutes.
CATCH_UP_BATCHES = 1


def _cursor(request: AuthenticatedRequest, name: str) -> tuple[int | None, str]:
    text = request.GET.get(name, "")
    if not text:
        return None, ""
    if not text.isdigit():
        return None, _("The page asked for does not exist; start again from the first page.")
    return int(text), ""


def audit_review_page(
    request: AuthenticatedRequest,
    status: int = 200,
    review_form: AuditReviewForm | None = None,
) -> HttpResponse:
    """The trail as filtered, one page, with the sign-off form and the sign-offs."""
    enforce(may_review_audit(request.user))
    pending = audit_index_pending()
    if pending:
        audit_index_update(batches=CATCH_UP_BATCHES)
        pending = audit_index_pending()
    query = request.GET if request.method == "GET" else request.POST
    form = AuditFilterForm(
        {k: v for k, v in query.items() if k in AuditFilterForm.base_fields} or None,
        user=request.user,
    )
    after, after_error = _cursor(request, "after")
    before, before_error = _cursor(request, "before")
    cursor_error = after_error or before_error
    filters = AuditFilters()
    since_last_review = None
    page = AuditPage([], None, None)
    if (form.is_bound and not form.is_valid()) or cursor_error:
        status = 400
    else:
        if form.is_bound:
            filters = form.filters()
        if filters.site is not None and filters.since is None:
            since_last_review = last_review(filters.site)
            if since_last_review is not None:
                filters = dataclasses.replace(filters, since=since_last_review.through)
        page = audit_page(request.user, filters, after=after, before=before)
    kept: dict[str, str] = {
        k: str(v) for k, v in request.GET.items() if k in AuditFilterForm.base_fields and v
    }
    if review_form is None:
        review_form = AuditReviewForm(
            initial={"site": filters.site.code if filters.site else ""},
            user=request.user,
            sites=form.sites,
        )
    context: dict[str, Any] = {
        "form": form,
        "lines": audit_lines(page.entries, form.sites.values()),
        "page": page,
        "next_url": f"?{urlencode({**kept, 'after': str(page.next_after)})}"
        if page.next_after
        else "",
        "previous_url": (
            f"?{urlencode({**kept, 'before': str(page.previous_before)})}"
            if page.previous_before
            else ""
        ),
        "cursor_error": cursor_error,
        "pending": pending,
        "since_last_review": since_last_review,
        "may_sign_off": bool(may_sign_off_audit_review(request.user)),
        "review_form": review_form,
        "reviews": latest_reviews(request.user),
        "export_url": reverse("exports:index"),
        "may_download_checkpoints": bool(may_download_checkpoints(request.user)),
        "installation_key": installation_key() if may_download_checkpoints(request.user) else None,
    }
    return render(request, "review/audit.html", context, status=status)


@login_required
@require_safe
def audit_review(request: AuthenticatedRequest) -> HttpResponse:
    return audit_review_page(request)


@login_required
@require_POST
def audit_review_sign_off(request: AuthenticatedRequest) -> HttpResponse:
    """Record a sign-off, then show the site's trail from it on."""
    enforce(may_sign_off_audit_review(request.user))
    form = AuditReviewForm(request.POST, user=request.user)
    return form_submit(
        request,
        form=form,
        save=lambda data: audit_review_record(
            site=data["site"],
            through=data["through"],
            comment=data["comment"],
            performed_by=request.user,
        ),
        saved=saved_as(_("Review recorded.")),
        redirect_to=lambda review: redirect(
            f"{reverse('audit_review:index')}?{urlencode({'site': review.site.code})}"
        ),
        render_page=lambda status: audit_review_page(request, status, form),
    )


@login_required
@require_safe
def audit_checkpoints(request: AuthenticatedRequest) -> HttpResponse:
    """The audit trail's checkpoints (signed heads of its chain, with their time stamps)
    as a JSON file, for the sponsor to keep outside this installation."""
    enforce(may_download_checkpoints(request.user))
    response = HttpResponse(
        json.dumps(checkpoints_document(), indent=1), content_type="application/json"
    )
    stamp = timezone.localtime().strftime("%Y%m%dT%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-checkpoints_{stamp}.json"'
    return response
