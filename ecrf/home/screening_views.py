"""The screening log page (``participants:list``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_safe

from ecrf.accounts.policy import may_register
from ecrf.accounts.selectors import sites_visible_to
from ecrf.common.http import AuthenticatedRequest
from ecrf.participants.forms import ParticipantFilterForm

from . import screening

#: Rows on one page of the log.
PAGE_SIZE = 50


def _query_string(params: QueryDict, **changes: str) -> str:
    """The log's query string with ``changes``; a new sort starts again at page 1."""
    query = params.copy()
    query.pop("page", None)
    for name, value in changes.items():
        query[name] = value
    return query.urlencode()


def _headers(params: QueryDict, sort: str, sortable: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each column's heading; a sortable one links to its sort (again: the other way
    round) and carries ``aria-sort`` while the log is sorted by it."""
    headers = []
    for name, label in screening.COLUMNS:
        ascending, descending = sort == name, sort == f"-{name}"
        headers.append(
            {
                "name": name,
                "label": label,
                "query": _query_string(params, sort=f"-{name}" if ascending else name)
                if name in sortable
                else "",
                "aria_sort": "ascending" if ascending else "descending" if descending else "",
            }
        )
    return headers


@login_required
@require_safe
def participant_list(request: AuthenticatedRequest) -> HttpResponse:
    """The screening log of the user's sites: filtered by site, status and subject id,
    sorted by any column (``sort=``; an unknown sort is the default one), 50 rows a page."""
    sites = sites_visible_to(request.user)
    form = ParticipantFilterForm(request.GET or None, sites=sites)
    filters = form.cleaned_data if form.is_valid() else {}
    sortable = screening.sort_keys_for(request.user)
    sort = screening.sort_or_default(request.GET.get("sort", ""), sortable)
    page, rows = screening.screening_log(
        request.user,
        sort=sort,
        page=request.GET.get("page"),
        per_page=PAGE_SIZE,
        site_code=filters.get("site") or None,
        status=filters.get("status") or None,
        search=filters.get("q") or None,
    )
    return render(
        request,
        "participants/list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "headers": _headers(request.GET, sort, sortable),
            "sort": sort,
            "paging": _query_string(request.GET),
            "can_enter_data": may_register(request.user),
        },
    )
