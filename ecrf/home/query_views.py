"""Queries on the web: the query list (with its CSV), and raising, answering, closing
and re-opening a query from the participant's page or from the form's own page."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.forms import Form
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from ecrf.accounts.selectors import sites_visible_to
from ecrf.common import catalogue
from ecrf.common.http import AuthenticatedRequest
from ecrf.endpoints.checks import CHECKS
from ecrf.participants.models import Participant
from ecrf.participants.pages import form_submit, saved_as
from ecrf.participants.selectors import participant_get
from ecrf.participants.services import site_zone
from ecrf.queries import selectors, services
from ecrf.queries.forms import QueryFilterForm, QueryOpenForm, QueryStepForm
from ecrf.queries.models import Query
from ecrf.queries.templatetags.query_labels import query_url

from .form_views import form_page
from .views import panel_submit

#: What each edit check looks for, by its code: who raised its queries, in words.
CHECK_DESCRIPTIONS = {check.code: check.description for check in CHECKS}

#: Rows on one page of the query list.
QUERY_LIST_PAGE_SIZE = 50

#: The list's columns, in order: the ``sort`` name of each and its heading.
QUERY_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("subject", gettext_lazy("Subject ID")),
    ("site", gettext_lazy("Site")),
    ("form", gettext_lazy("Form")),
    ("field", gettext_lazy("Field")),
    ("status", gettext_lazy("Status")),
    ("age", gettext_lazy("Age (days)")),
    ("raised_by", gettext_lazy("Raised by")),
    ("opened_at", gettext_lazy("Opened at")),
    ("last_step", gettext_lazy("Last step")),
)


@dataclass(frozen=True)
class QueryRow:
    """One query as the list shows it: labels in the reader's language, times at the site."""

    query: Query
    form_label: str
    field_label: str
    status_label: str
    age_days: int
    raised_by: str
    opened_at: str
    last_step: str
    #: where the query shows on its form's page: beside its field, or under its row
    url: str

    def cells(self) -> list[str]:
        """The row as the CSV writes it, in the order of :data:`QUERY_COLUMNS`."""
        return [
            self.query.participant.subject_id,
            str(self.query.participant.site),
            self.form_label,
            self.field_label,
            self.status_label,
            str(self.age_days),
            self.raised_by,
            self.opened_at,
            self.last_step,
        ]


def _at_site(moment: dt.datetime, query: Query) -> str:
    local = moment.astimezone(site_zone(query.participant.site))
    return f"{local:%Y-%m-%d %H:%M} (UTC{local.isoformat()[-6:]})"


def _raised_by(query: Query) -> str:
    if query.opened_by is not None:
        return query.opened_by.get_username()
    if query.edit_check:
        check = CHECK_DESCRIPTIONS.get(query.edit_check)
        if check is None:
            return _("Edit check")
        return _("Edit check: %(check)s") % {"check": check}
    return _("system")


def _query_row(query: Query) -> QueryRow:
    steps = list(query.messages.all())
    last = steps[-1] if steps else None
    last_step = ""
    if last is not None:
        author = last.author.get_username() if last.author else _("system")
        last_step = f"{last.get_kind_display()} · {_at_site(last.written_at, query)} · {author}"
    return QueryRow(
        query=query,
        form_label=selectors.form_label(query.record),
        field_label=selectors.field_label(query.record, query.field),
        status_label=str(query.get_status_display()),
        age_days=getattr(query, "age_days", 0),
        raised_by=_raised_by(query),
        opened_at=_at_site(query.opened_at, query),
        last_step=last_step,
        url=query_url(query),
    )


def _filtered(
    request: AuthenticatedRequest,
) -> tuple[QueryFilterForm, Any]:
    """The filter form bound to the GET, and the queries it selects (none if refused)."""
    form = QueryFilterForm(request.GET or None, sites=sites_visible_to(request.user))
    if request.GET and not form.is_valid():
        return form, None
    data = form.cleaned_data if request.GET else {}
    queries = selectors.query_list(
        request.user,
        sort=data.get("sort") or "-opened_at",
        site_code=data.get("site") or None,
        participant_id=data.get("participant"),
        record=data.get("form") or None,
        status=data.get("status") or None,
        age=data.get("age") or None,
        raised_by=data.get("raised_by") or None,
    )
    return form, queries


def _with(params: QueryDict, **changes: str) -> str:
    """The list's query string with ``changes`` (a new sort starts again at page 1)."""
    query = params.copy()
    query.pop("page", None)
    for name, value in changes.items():
        query[name] = value
    return query.urlencode()


def _headers(params: QueryDict, sort: str) -> list[dict[str, Any]]:
    """Each column's heading, the link that sorts by it (again: the other way round),
    and its ``aria-sort``."""
    headers = []
    for name, label in QUERY_COLUMNS:
        ascending, descending = sort == name, sort == f"-{name}"
        headers.append(
            {
                "name": name,
                "label": label,
                "query": _with(params, sort=f"-{name}" if ascending else name),
                "aria_sort": "ascending" if ascending else "descending" if descending else "",
            }
        )
    return headers


def _refused_filters(form: QueryFilterForm) -> list[str]:
    return [
        _("%(field)s: %(error)s") % {"field": form[name].label, "error": error}
        for name, errors in form.errors.items()
        for error in errors
    ]


@login_required
@require_safe
def query_list_view(request: AuthenticatedRequest) -> HttpResponse:
    """The queries of the user's sites, filtered, sorted and paginated; a filter that
    holds an unknown value is refused (400) by name."""
    form, queries = _filtered(request)
    page: Page[Any] | None = None
    rows: list[QueryRow] = []
    if queries is not None:
        requested = form.cleaned_data.get("page") if request.GET else None
        page = Paginator(queries, QUERY_LIST_PAGE_SIZE).get_page(requested)
        rows = [_query_row(query) for query in page.object_list]
    sort = (form.cleaned_data.get("sort") if queries is not None and request.GET else "") or ""
    return render(
        request,
        "queries/list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "headers": _headers(request.GET, sort or "-opened_at"),
            "refused": _refused_filters(form) if queries is None else [],
            "filters": _with(request.GET),
        },
        status=400 if queries is None else 200,
    )


@login_required
@require_safe
def query_list_csv(request: AuthenticatedRequest) -> HttpResponse:
    """The query list's rows (every page) as CSV in UTF-8 with a byte order mark, so
    that a spreadsheet opens the Japanese labels as such."""
    form, queries = _filtered(request)
    if queries is None:
        return HttpResponse(
            "\n".join(_refused_filters(form)) + "\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="queries.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([str(label) for _name, label in QUERY_COLUMNS])
    for query in queries:
        writer.writerow(_query_row(query).cells())
    return response


def _back(pk: int) -> HttpResponse:
    return redirect(f"/participants/{pk}/#queries")


def _on_her_page(
    request: AuthenticatedRequest,
    participant: Participant,
    form: Form,
    save: Callable[[dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    return panel_submit(request, participant, form, save, done, lambda: _back(participant.pk))


def _form_code(request: AuthenticatedRequest, code: str) -> str | None:
    """The form page a post came from (``on_form``), to which the answer returns."""
    if request.POST.get("on_form") and code in {f.code for f in catalogue.queryable_forms()}:
        return code
    return None


def _on_form_page(
    request: AuthenticatedRequest,
    participant: Participant,
    code: str,
    form: Form,
    save: Callable[[dict[str, Any]], object],
    done: str,
    refused: dict[str, Any],
    anchor: str,
) -> HttpResponse:
    """A query form of the form's page: saved, back to that page at ``anchor``;
    refused, the page again (400 or 409) with what was typed and why, beside the
    field, row or query it was posted from."""
    url = reverse("participants:form", kwargs={"pk": participant.pk, "code": code})

    def render_page(status: int) -> HttpResponse:
        errors = [str(e) for errors in form.errors.values() for e in errors]
        return form_page(request, participant, code, status, refused={**refused, "errors": errors})

    return form_submit(
        request,
        form=form,
        save=save,
        saved=saved_as(done),
        redirect_to=lambda _result: redirect(f"{url}#{anchor}"),
        render_page=render_page,
    )


@login_required
@require_POST
def query_open_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A query raised from her page, or from a form's page (``on_form``) beside the
    field or row it is about, to which the answer returns."""
    participant = participant_get(request.user, pk)
    form = QueryOpenForm(request.POST)
    # The fields are read as posted: the service refuses an unknown form, field or row.
    record, _sep, field = request.POST.get("target", "").partition(".")
    record_id = request.POST.get("record_id", "")

    def save(data: dict[str, Any]) -> object:
        return services.query_open(
            participant=participant,
            record=record,
            field=field,
            text=data["text"],
            record_id=int(record_id) if record_id.isascii() and record_id.isdigit() else None,
            performed_by=request.user,
        )

    done = _("Query opened.")
    code = _form_code(request, record)
    if code is None:
        return _on_her_page(request, participant, form, save, done)
    row = int(record_id) if record_id.isascii() and record_id.isdigit() else None
    refused = {"open_field": field, "open_record": row, "text": request.POST.get("text", "")}
    anchor = f"row-{row}" if catalogue.form(code).multi_record else f"queries-{field}"
    return _on_form_page(request, participant, code, form, save, done, refused, anchor)


@login_required
@require_POST
def query_step_view(request: AuthenticatedRequest, query_pk: int, step: str) -> HttpResponse:
    """A query answered, closed or re-opened, from her page or from the form's page
    (``on_form``), to which the answer returns."""
    query = selectors.query_get(request.user, query_pk)
    steps = {
        "respond": services.query_respond,
        "close": services.query_close,
        "reopen": services.query_reopen,
    }
    if step not in steps:
        raise Http404
    step_service = steps[step]
    participant = participant_get(request.user, query.participant_id)
    form = QueryStepForm(request.POST)

    def save(data: dict[str, Any]) -> object:
        return step_service(query=query, text=data["text"], performed_by=request.user)

    code = _form_code(request, query.record)
    if code is None:
        return _on_her_page(request, participant, form, save, _("Saved."))
    refused = {"query": query.pk, "step": step, "text": request.POST.get("text", "")}
    return _on_form_page(
        request, participant, code, form, save, _("Saved."), refused, f"query-{query.pk}"
    )
