"""Signing, verifying and locking from the participant's page; the verification worklist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from ecrf.accounts.policy import (
    enforce,
    may_lock,
    may_sign,
    may_verify,
    may_view_verification_progress,
)
from ecrf.accounts.selectors import sites_visible_to
from ecrf.common import catalogue
from ecrf.common.http import AuthenticatedRequest
from ecrf.participants.models import Participant
from ecrf.participants.pages import form_submit, saved_as
from ecrf.participants.selectors import participant_get
from ecrf.quality import selectors, services
from ecrf.quality.forms import (
    LockForm,
    SignForm,
    UnlockForm,
    VerificationWorklistFilterForm,
    VerifyForm,
)
from ecrf.studies.services import current_study

from .form_views import form_page
from .views import home_page, panel_submit, participant_page


def _back(pk: int) -> HttpResponse:
    return redirect("participants:detail", pk=pk)


def _on_her_page(
    request: AuthenticatedRequest,
    participant: Participant,
    form: Form,
    save: Callable[[dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    return panel_submit(request, participant, form, save, done, lambda: _back(participant.pk))


def _refused_on_her_page(
    request: AuthenticatedRequest, participant: Participant, form: Form, status: int
) -> HttpResponse:
    """Her page again (``status``), with what was typed into a panel's refused form and
    each of its errors told, naming its field by its label; nothing is saved."""
    for name, errors in form.errors.items():
        label = form[name].label if name in form.fields else ""
        for error in errors:
            text = str(error)
            messages.error(
                request,
                _("%(field)s: %(error)s") % {"field": label, "error": text} if label else text,
            )
    return participant_page(request, participant, status, form)


def _reason_refused(
    request: AuthenticatedRequest, participant: Participant, form: Form
) -> HttpResponse | None:
    """Her page again (400), with what was typed, when a lock panel's form was sent
    without its reason; nothing is saved."""
    if form.is_valid():
        return None
    return _refused_on_her_page(request, participant, form, 400)


def _on_home_page(
    request: AuthenticatedRequest, form: Form, save: Callable[[dict[str, Any]], object], done: str
) -> HttpResponse:
    """A form of the home page's database-lock panel, submitted by :func:`form_submit`:
    saved, back home; refused, the home page again with the form as typed and why."""
    return form_submit(
        request,
        form=form,
        save=save,
        saved=saved_as(done),
        redirect_to=lambda _result: redirect("core:home"),
        render_page=lambda status: home_page(request, status, form),
    )


@login_required
@require_POST
def sign(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The investigator signs her casebook; while items are open in it she confirms that
    she signs with them open (``sign_anyway``). A refusal (a wrong password, no
    confirmation) shows her page again (400, a state conflict 409) naming the field."""
    participant = participant_get(request.user, pk)
    enforce(may_sign(request.user))
    form = SignForm(request.POST)
    return form_submit(
        request,
        form=form,
        save=lambda data: services.signature_sign(
            participant=participant,
            password=data["password"],
            meaning=data["meaning"],
            performed_by=request.user,
            request=request,
            open_items_confirmed=bool(data.get("sign_anyway")),
        ),
        saved=saved_as(_("The casebook is signed.")),
        redirect_to=lambda _result: _back(participant.pk),
        render_page=lambda status: _refused_on_her_page(request, participant, form, status),
    )


@login_required
@require_POST
def verify(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Values of a form marked as verified; posted from her page or from the form's own
    page (``on_form``), to which the answer returns."""
    participant = participant_get(request.user, pk)
    enforce(may_verify(request.user))
    form = VerifyForm(request.POST)

    def save(data: dict[str, Any]) -> object:
        return services.verification_mark(
            participant=participant,
            record=data["record"],
            record_id=data.get("record_id"),
            fields=[data["field"]] if data.get("field") else [],
            performed_by=request.user,
        )

    done = _("Marked as verified against source.")
    code = request.POST.get("record", "")
    if request.POST.get("on_form") and code in {f.code for f in catalogue.queryable_forms()}:
        return form_submit(
            request,
            form=form,
            save=save,
            saved=saved_as(done),
            redirect_to=lambda _result: redirect("participants:form", pk=pk, code=code),
            render_page=lambda status: form_page(request, participant, code, status),
            back=lambda: redirect("participants:form", pk=pk, code=code),
        )
    return _on_her_page(request, participant, form, save, done)


@login_required
@require_POST
def lock(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    enforce(may_lock(request.user))
    form = LockForm(request.POST)
    refused = _reason_refused(request, participant, form)
    if refused is not None:
        return refused
    return _on_her_page(
        request,
        participant,
        form,
        lambda data: services.lock_set(
            study=participant.site.study,
            participant=participant,
            record=request.POST.get("record", ""),
            reason=data.get("reason", ""),
            performed_by=request.user,
        ),
        _("Locked."),
    )


@login_required
@require_POST
def unlock(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    enforce(may_lock(request.user))
    standing = selectors.participant_lock(participant)
    if standing is None:
        messages.error(request, _("She is not locked."))
        return _back(pk)
    form = UnlockForm(request.POST)
    refused = _reason_refused(request, participant, form)
    if refused is not None:
        return refused
    return _on_her_page(
        request,
        participant,
        form,
        lambda data: services.lock_release(
            lock=standing, reason=data.get("reason", ""), performed_by=request.user
        ),
        _("Unlocked."),
    )


@login_required
@require_POST
def study_lock(request: AuthenticatedRequest) -> HttpResponse:
    """The database lock before analysis: the whole study's data, frozen."""
    enforce(may_lock(request.user))
    study = current_study()
    if study is None:
        return redirect("core:home")
    return _on_home_page(
        request,
        LockForm(request.POST),
        lambda data: services.lock_set(
            study=study, reason=data.get("reason", ""), performed_by=request.user
        ),
        _("The study database is locked."),
    )


@login_required
@require_POST
def study_unlock(request: AuthenticatedRequest) -> HttpResponse:
    enforce(may_lock(request.user))
    study = current_study()
    standing = selectors.study_lock(study) if study is not None else None
    if standing is None:
        messages.error(request, _("The study is not locked."))
        return redirect("core:home")
    return _on_home_page(
        request,
        UnlockForm(request.POST),
        lambda data: services.lock_release(
            lock=standing, reason=data.get("reason", ""), performed_by=request.user
        ),
        _("The study database is unlocked."),
    )


#: Participants per page of the verification worklist.
WORKLIST_PAGE_SIZE = 25


@login_required
@require_safe
def verification_worklist(request: AuthenticatedRequest) -> HttpResponse:
    """The monitor's verification worklist: the participants of her sites (a data
    manager's: every site) with their critical and overall progress and the forms
    awaiting verification, least verified first; a filter it refuses answers 400."""
    enforce(may_view_verification_progress(request.user))
    form = VerificationWorklistFilterForm(request.GET or None, sites=sites_visible_to(request.user))
    refused = form.is_bound and not form.is_valid()
    filters = {} if refused or not form.is_bound else form.cleaned_data
    worklist = selectors.verification_worklist(
        request.user,
        site_code=filters.get("site") or None,
        awaiting=filters.get("awaiting") or None,
        sort=filters.get("sort") or "critical",
    )
    participants = worklist.participants.none() if refused else worklist.participants
    page = Paginator(participants, WORKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    critical, overall = (
        (selectors.Progress(), selectors.Progress()) if refused else worklist.totals()
    )
    return render(
        request,
        "quality/worklist.html",
        {
            "form": form,
            "page": page,
            "rows": worklist.rows(page.object_list),
            "sort": filters.get("sort") or "critical",
            "critical": critical,
            "overall": overall,
        },
        status=400 if refused else 200,
    )
