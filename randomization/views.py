"""Randomizing a participant; randomization lists, for statisticians and admins: generate,
import, activate, extend."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from ecrf.accounts.policy import arms_hidden_from, enforce, may_manage_lists, may_randomize
from ecrf.common.forms import add_service_errors
from ecrf.common.http import AuthenticatedRequest, require_form_methods
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.forms import RandomizeForm
from ecrf.participants.pages import SavedMessage, form_submit, posted, saved_as
from ecrf.participants.selectors import participant_get
from ecrf.studies.models import Site, Study
from ecrf.studies.services import current_study

from . import blocks, selectors, services
from .forms import ExtendListForm, GenerateListForm, ImportListForm
from .models import RandomizationList


def _study_or_404() -> Study:
    study = current_study()
    if study is None:
        raise Http404
    return study


def _index(
    request: AuthenticatedRequest,
    *,
    generate_form: GenerateListForm | None = None,
    import_form: ImportListForm | None = None,
) -> HttpResponse:
    """The lists page, with a refused form (400) when one came back with errors."""
    sites = Site.objects.order_by("code")
    return render(
        request,
        "randomization/index.html",
        {
            "lists": selectors.lists_visible_to(request.user),
            "generate_form": generate_form or GenerateListForm(sites=sites),
            "import_form": import_form or ImportListForm(sites=sites),
        },
        status=400 if (generate_form or import_form) else 200,
    )


@login_required
@require_safe
def list_index(request: AuthenticatedRequest) -> HttpResponse:
    enforce(may_manage_lists(request.user))
    return _index(request)


@login_required
@require_POST
def list_generate_view(request: AuthenticatedRequest) -> HttpResponse:
    enforce(may_manage_lists(request.user))
    study = _study_or_404()
    form = GenerateListForm(request.POST, sites=Site.objects.filter(study=study))
    if form.is_valid():
        try:
            created = services.list_generate(
                study=study,
                site=form.cleaned_data["site"],
                length=form.cleaned_data["length"],
                block_sizes=form.cleaned_data["block_sizes"],
                performed_by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Draft list %(list)s generated.") % {"list": created})
            return redirect("randomization:detail", pk=created.pk)
    return _index(request, generate_form=form)


@login_required
@require_POST
def list_import_view(request: AuthenticatedRequest) -> HttpResponse:
    enforce(may_manage_lists(request.user))
    study = _study_or_404()
    form = ImportListForm(request.POST, request.FILES, sites=Site.objects.filter(study=study))
    if form.is_valid():
        try:
            created = services.list_import(
                study=study,
                site=form.cleaned_data["site"],
                csv_text=form.cleaned_data["file"],
                performed_by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Draft list %(list)s imported.") % {"list": created})
            return redirect("randomization:detail", pk=created.pk)
    return _index(request, import_form=form)


@login_required
@require_safe
def list_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _list_page(request, selectors.list_get(request.user, pk))


def _list_page(
    request: AuthenticatedRequest, randomization_list: RandomizationList, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "randomization/detail.html",
        {
            "randomization_list": randomization_list,
            "slots": selectors.list_slots(randomization_list),
            "extend_form": ExtendListForm(),
        },
        status=status,
    )


def _on_list_page(
    request: AuthenticatedRequest,
    randomization_list: RandomizationList,
    form: forms.Form,
    save: Callable[[dict[str, Any]], Any],
    saved: SavedMessage,
) -> HttpResponse:
    """A form of the list's page, submitted by :func:`form_submit`."""
    pk = randomization_list.pk
    return form_submit(
        request,
        form=form,
        save=save,
        saved=saved,
        redirect_to=lambda _result: redirect("randomization:detail", pk=pk),
        render_page=lambda status: _list_page(request, randomization_list, status),
        back=lambda: redirect("randomization:detail", pk=pk),
    )


@login_required
@require_POST
def list_activate_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    randomization_list = selectors.list_get(request.user, pk)
    return _on_list_page(
        request,
        randomization_list,
        forms.Form(request.POST),
        lambda _data: services.list_activate(
            randomization_list=randomization_list, performed_by=request.user
        ),
        saved_as(_("List activated.")),
    )


@login_required
@require_POST
def list_extend_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    randomization_list = selectors.list_get(request.user, pk)
    return _on_list_page(
        request,
        randomization_list,
        ExtendListForm(request.POST),
        lambda data: services.list_extend(
            randomization_list=randomization_list,
            length=data["length"],
            performed_by=request.user,
        ),
        lambda added: (messages.SUCCESS, _("%(n)s slots added.") % {"n": added}),
    )


@login_required
@require_safe
def list_export(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The list as CSV (sequence,block,block_size,arm), for statisticians and admins only."""
    randomization_list = selectors.list_get(request.user, pk)
    slots = [
        blocks.Slot(s.sequence, s.block, s.block_size, s.arm.code)
        for s in selectors.list_slots(randomization_list)
    ]
    response = HttpResponse(blocks.to_csv(slots), content_type="text/csv; charset=utf-8")
    stratum = randomization_list.site.code if randomization_list.site else "all"
    response["Content-Disposition"] = (
        f'attachment; filename="randomization-{stratum}-v{randomization_list.version}.csv"'
    )
    return response


@login_required
@require_form_methods
def participant_randomize_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A confirmation step that restates what will happen, then the allocation itself."""
    participant = participant_get(request.user, pk)
    enforce(may_randomize(request.user))
    form = RandomizeForm(posted(request), initial={"token": uuid.uuid4().hex})
    study = participant.site.study
    arms = services.study_arms(study)

    def render_page(status: int) -> HttpResponse:
        return render(
            request,
            "participants/randomize.html",
            {
                "form": form,
                "participant": participant,
                "stratified": study.stratify_by_site,
                "arms": " / ".join(arm.name for arm in arms)
                if not arms_hidden_from(request.user, study)
                else _("the study's arms"),
                "ratio": ":".join(str(arm.allocation_weight) for arm in arms),
            },
            status=status,
        )

    if request.method != "POST":
        return render_page(200)
    return form_submit(
        request,
        form=form,
        save=lambda data: services.participant_randomize(
            participant=participant,
            idempotency_key=f"web-{data['token']}",
            performed_by=request.user,
        ),
        saved=lambda allocation: (
            messages.SUCCESS,
            _("Randomized: %(number)s, %(arm)s.")
            % {"number": allocation.randomization_number, "arm": allocation.arm_name}
            if arm_visible_to(request.user, participant)
            else _("Randomized: %(number)s. The arm stays blinded for your role.")
            % {"number": allocation.randomization_number},
        ),
        redirect_to=lambda _allocation: redirect("participants:detail", pk=participant.pk),
        render_page=render_page,
    )
