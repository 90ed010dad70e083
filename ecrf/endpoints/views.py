"""The endpoint form pages: edit checks shown beside the fields, soft ones to confirm."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ecrf.accounts.policy import enforce, may_edit_participant_data, may_enter_data
from ecrf.common.http import AuthenticatedRequest, require_form_methods
from ecrf.participants.pages import form_submit, posted
from ecrf.participants.selectors import participant_get, participant_to_write
from ecrf.queries.selectors import queries_visible_to

from .checks import BIOCHEMICAL, CLINICAL, Finding
from .forms import BiochemicalPregnancyForm, ClinicalPregnancyForm
from .services import ENDPOINT_FIELDS, ENDPOINT_MODELS, UnconfirmedWarnings, endpoint_record

FORMS = {BIOCHEMICAL: BiochemicalPregnancyForm, CLINICAL: ClinicalPregnancyForm}


@login_required
@require_form_methods
def endpoint_form(request: AuthenticatedRequest, pk: int, record: str) -> HttpResponse:
    if record not in FORMS:
        raise Http404
    posting = request.method == "POST"
    # A save reads her row only; the page shown when it is refused reads her as pages do.
    participant = (participant_to_write if posting else participant_get)(request.user, pk)
    if posting:
        enforce(may_enter_data(request.user))
    # The saved values fill the page's form; a save binds the form to what was posted.
    existing = (
        None
        if posting
        else ENDPOINT_MODELS[record]._default_manager.filter(participant=participant).first()
    )
    initial: dict[str, Any] = (
        {name: getattr(existing, name) for name in ENDPOINT_FIELDS[record]} if existing else {}
    )
    form = FORMS[record](posted(request), initial=initial, form_id=f"{record}-form")
    warnings: list[Finding] = []

    def render_page(status: int) -> HttpResponse:
        shown = participant_get(request.user, pk) if posting else participant
        return render(
            request,
            "endpoints/form.html",
            {
                "participant": shown,
                "form": form,
                "record": record,
                "title": ENDPOINT_MODELS[record]._meta.verbose_name,
                "warnings": warnings,
                "open_queries": queries_visible_to(request.user, participant_id=participant.pk)
                .filter(record=record)
                .exclude(status="closed"),
                "can_enter_data": bool(may_edit_participant_data(request.user, shown))
                or status == 409,
            },
            status=status,
        )

    def save(data: dict[str, Any]) -> object:
        reason = data.pop("reason", "")
        confirm = data.pop("confirm_warnings", False)
        try:
            return endpoint_record(
                participant=participant,
                record=record,
                values=data,
                reason=reason,
                confirm_warnings=confirm,
                performed_by=request.user,
            )
        except UnconfirmedWarnings as exc:
            warnings.extend(exc.findings)
            return None

    if request.method != "POST":
        return render_page(200)
    return form_submit(
        request,
        form=form,
        save=save,
        saved=lambda result: (messages.SUCCESS, _("Saved.")) if result is not None else None,
        redirect_to=lambda result: (
            redirect("participants:detail", pk=participant.pk)
            if result is not None
            else render_page(400)
        ),
        render_page=render_page,
    )
