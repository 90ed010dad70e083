"""Randomization lists, for statisticians and admins: generate, import, activate, extend."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from ecrf.accounts.policy import enforce, may_manage_lists
from ecrf.core.exceptions import StateConflict
from ecrf.core.forms import add_service_errors
from ecrf.core.http import AuthenticatedRequest
from ecrf.studies.models import Site, Study
from ecrf.studies.services import current_study

from . import blocks, selectors, services
from .forms import ExtendListForm, GenerateListForm, ImportListForm


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
    randomization_list = selectors.list_get(request.user, pk)
    return render(
        request,
        "randomization/detail.html",
        {
            "randomization_list": randomization_list,
            "slots": selectors.list_slots(randomization_list),
            "extend_form": ExtendListForm(),
        },
    )


@login_required
@require_POST
def list_activate_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    randomization_list = selectors.list_get(request.user, pk)
    try:
        services.list_activate(randomization_list=randomization_list, performed_by=request.user)
    except StateConflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("List activated."))
    return redirect("randomization:detail", pk=pk)


@login_required
@require_POST
def list_extend_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    randomization_list = selectors.list_get(request.user, pk)
    form = ExtendListForm(request.POST)
    if form.is_valid():
        try:
            added = services.list_extend(
                randomization_list=randomization_list,
                length=form.cleaned_data["length"],
                performed_by=request.user,
            )
        except StateConflict as exc:
            messages.error(request, exc.detail)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("%(n)s slots added.") % {"n": added})
    else:
        messages.error(request, " ".join(str(m) for errs in form.errors.values() for m in errs))
    return redirect("randomization:detail", pk=pk)


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
