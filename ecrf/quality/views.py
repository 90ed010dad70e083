"""Signing, verifying and locking from the participant's page."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ecrf.accounts.policy import enforce, may_lock, may_sign, may_verify
from ecrf.core.exceptions import StateConflict
from ecrf.core.http import AuthenticatedRequest
from ecrf.participants.selectors import participant_get
from ecrf.studies.services import current_study

from . import selectors, services
from .forms import LockForm, SignForm, VerifyForm


def _back(pk: int) -> HttpResponse:
    return redirect("participants:detail", pk=pk)


def _refused(request: AuthenticatedRequest, form: Form) -> bool:
    """An invalid form is refused with its errors, each naming its field; nothing is saved."""
    if form.is_valid():
        return False
    for name, errors in form.errors.items():
        for error in errors:
            text = str(error)
            if name in form.fields:
                text = _("%(field)s: %(error)s") % {"field": form[name].label, "error": text}
            messages.error(request, text)
    return True


def _attempt(request: AuthenticatedRequest, action: Callable[[], object], done: str) -> None:
    """Run one service call; say what went wrong (invalid input, a state conflict) or ``done``."""
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except StateConflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, done)


@login_required
@require_POST
def sign(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    enforce(may_sign(request.user))
    form = SignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Re-enter your password to sign."))
        return _back(pk)
    _attempt(
        request,
        lambda: services.signature_sign(
            participant=participant,
            password=form.cleaned_data["password"],
            meaning=form.cleaned_data["meaning"],
            performed_by=request.user,
            request=request,
        ),
        _("The casebook is signed."),
    )
    return _back(pk)


@login_required
@require_POST
def verify(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    enforce(may_verify(request.user))
    form = VerifyForm(request.POST)
    if not _refused(request, form):
        _attempt(
            request,
            lambda: services.verification_mark(
                participant=participant,
                record=form.cleaned_data["record"],
                field=form.cleaned_data["field"],
                performed_by=request.user,
            ),
            _("Marked as verified against source."),
        )
    return _back(pk)


@login_required
@require_POST
def lock(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    enforce(may_lock(request.user))
    form = LockForm(request.POST)
    if _refused(request, form):
        return _back(pk)
    _attempt(
        request,
        lambda: services.lock_set(
            study=participant.site.study,
            participant=participant,
            record=request.POST.get("record", ""),
            reason=form.cleaned_data.get("reason", ""),
            performed_by=request.user,
        ),
        _("Locked."),
    )
    return _back(pk)


@login_required
@require_POST
def unlock(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    participant = participant_get(request.user, pk)
    enforce(may_lock(request.user))
    form = LockForm(request.POST)
    if _refused(request, form):
        return _back(pk)
    standing = selectors.participant_lock(participant)
    if standing is None:
        messages.error(request, _("She is not locked."))
        return _back(pk)
    _attempt(
        request,
        lambda: services.lock_release(
            lock=standing, reason=form.cleaned_data.get("reason", ""), performed_by=request.user
        ),
        _("Unlocked."),
    )
    return _back(pk)


@login_required
@require_POST
def study_lock(request: AuthenticatedRequest) -> HttpResponse:
    """The database lock before analysis: the whole study's data, frozen."""
    enforce(may_lock(request.user))
    study = current_study()
    form = LockForm(request.POST)
    if _refused(request, form):
        return redirect("core:home")
    if study is not None:
        _attempt(
            request,
            lambda: services.lock_set(
                study=study, reason=form.cleaned_data.get("reason", ""), performed_by=request.user
            ),
            _("The study database is locked."),
        )
    return redirect("core:home")


@login_required
@require_POST
def study_unlock(request: AuthenticatedRequest) -> HttpResponse:
    enforce(may_lock(request.user))
    study = current_study()
    form = LockForm(request.POST)
    if _refused(request, form):
        return redirect("core:home")
    standing = selectors.study_lock(study) if study is not None else None
    if standing is None:
        messages.error(request, _("The study is not locked."))
        return redirect("core:home")
    _attempt(
        request,
        lambda: services.lock_release(
            lock=standing, reason=form.cleaned_data.get("reason", ""), performed_by=request.user
        ),
        _("The study database is unlocked."),
    )
    return redirect("core:home")
