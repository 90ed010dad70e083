"""The trial's reports as printable pages with server-drawn SVG charts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ecrf.accounts.policy import sees_all_sites
from ecrf.accounts.selectors import sites_visible_to
from ecrf.common.http import AuthenticatedRequest
from ecrf.studies.models import Study
from ecrf.studies.services import current_study

from . import charts, permissions, selectors
from .statistics import ProportionResult

#: p-values below this are shown as "< 0.0001", as the publication reports them.
SMALLEST_P_SHOWN = 0.0001


def _study_or_404() -> Study:
    study = current_study()
    if study is None:
        raise Http404
    return study


def _ensure_site_reports(request: AuthenticatedRequest) -> None:
    if not permissions.can_see_site_reports(request.user):
        raise PermissionDenied(_("Your account has no role in this study."))


def _context(request: AuthenticatedRequest, study: Study, **extra: Any) -> dict[str, Any]:
    """What every report page states: the study, and the sites it covers for this user."""
    all_sites = sees_all_sites(request.user)
    return {
        "study": study,
        "scope_sites": (
            []
            if all_sites
            else list(sites_visible_to(request.user).filter(study=study).order_by("code"))
        ),
        "all_sites": all_sites,
        **extra,
    }


def format_p(p_value: float | None) -> str:
    if p_value is None:
        return "–"
    if p_value < SMALLEST_P_SHOWN:
        return f"< {SMALLEST_P_SHOWN}"
    return f"{p_value:.4f}"


@login_required
@require_GET
def index(request: AuthenticatedRequest) -> HttpResponse:
    """The reports this user may see."""
    _ensure_site_reports(request)
    study = _study_or_404()
    sponsor = permissions.can_see_sponsor_reports(request.user)
    efficacy = permissions.efficacy_access(request.user, study)
    reports = [
        (
            _("CONSORT flow diagram"),
            "reports:consort",
            _("Screened, excluded with reasons, randomized, treated, followed and analysed."),
            sponsor,
        ),
        (
            _("Enrollment over time"),
            "reports:enrollment",
            _("Randomizations per month, per site and in total, against the target."),
            True,
        ),
        (
            _("Efficacy"),
            "reports:efficacy",
            _("Each endpoint and arm over the full analysis set, with exact 95% CIs."),
            efficacy.allowed,
        ),
        (
            _("Safety"),
            "reports:safety",
            _("Adverse events by arm, grade, seriousness and relationship."),
            sponsor,
        ),
        (
            _("Data quality"),
            "reports:quality",
            _("Open queries and their age, forms verified, overdue visits and diary days."),
            True,
        ),
    ]
    return render(
        request,
        "reports/index.html",
        _context(
            request,
            study,
            reports=[(title, reverse(name), text) for title, name, text, shown in reports if shown],
        ),
    )


def _consort_diagram(flow: selectors.ConsortFlow) -> charts.Diagram:
    def n(text: str, count: int) -> str:
        return text % {"n": count}

    excluded = [
        n(_("Excluded (n = %(n)s)"), flow.excluded),
        n(_("Not meeting the eligibility criteria (n = %(n)s)"), flow.not_eligible),
        *[f"· {label} ({count})" for label, count in flow.failed_criteria],
        n(_("Declined consent (n = %(n)s)"), flow.declined_consent),
        n(_("Other reasons (n = %(n)s)"), flow.other_excluded),
        *[f"· {reason} ({count})" for reason, count in flow.other_reasons[:5]],
    ]
    arm_stages = []
    for arm in flow.arms:
        follow_up = [
            _("Follow-up"),
            n(_("Embryo transfer performed (n = %(n)s)"), arm.transferred),
            n(_("Biochemical pregnancy assessed (n = %(n)s)"), arm.biochemical_assessed),
            n(_("Clinical pregnancy assessed (n = %(n)s)"), arm.clinical_assessed),
            n(_("Withdrawn (n = %(n)s)"), arm.withdrawn),
            *[f"· {reason} ({count})" for reason, count in arm.withdrawal_reasons[:5]],
        ]
        arm_stages.append(
            [
                [
                    arm.column.label,
                    n(_("Allocated (n = %(n)s)"), arm.randomized),
                    n(_("Received at least one dose (n = %(n)s)"), arm.treated),
                    n(_("Did not receive treatment (n = %(n)s)"), arm.not_treated),
                ],
                follow_up,
                [
                    _("Analysis"),
                    n(_("Analysed, full analysis set (n = %(n)s)"), arm.analysed),
                    n(
                        _("Not analysed: no embryo transfer (n = %(n)s)"),
                        arm.not_analysed_no_transfer,
                    ),
                    n(_("Not analysed: no dose taken (n = %(n)s)"), arm.not_analysed_no_dose),
                ],
            ]
        )
    return charts.consort_layout(
        screened=[
            n(_("Screened (n = %(n)s)"), flow.screened),
            n(_("Not yet randomized (n = %(n)s)"), flow.not_yet_randomized),
        ],
        excluded=excluded,
        randomized=[n(_("Randomized (n = %(n)s)"), flow.randomized)],
        arm_stages=arm_stages,
    )


@login_required
@require_GET
def consort(request: AuthenticatedRequest) -> HttpResponse:
    """The CONSORT flow of the sites the user sees (sponsor-side roles)."""
    permissions.ensure_sponsor_reports(request.user)
    study = _study_or_404()
    pooled = permissions.arms_hidden_from(request.user, study)
    columns = selectors.arm_columns(study, pooled=pooled)
    facts = selectors.participant_facts(request.user, study)
    flow = selectors.consort_flow(facts, columns)
    return render(
        request,
        "reports/consort.html",
        _context(
            request,
            study,
            flow=flow,
            sets=selectors.analysis_sets(facts, columns),
            diagram=_consort_diagram(flow),
        ),
    )


@login_required
@require_GET
def enrollment(request: AuthenticatedRequest) -> HttpResponse:
    """Randomizations over time per site, cumulative, against the study's target."""
    _ensure_site_reports(request)
    study = _study_or_404()
    facts = selectors.participant_facts(request.user, study)
    report = selectors.enrollment(request.user, study, facts)
    chart = (
        charts.line_chart(
            x_labels=[month.strftime("%Y-%m") for month in report.months],
            series=[(s.site.code, s.cumulative) for s in report.sites],
            total=(_("Total"), report.total_cumulative),
            target=report.target,
        )
        if report.months
        else None
    )
    return render(
        request,
        "reports/enrollment.html",
        _context(
            request,
            study,
            report=report,
            chart=chart,
            table=[
                (month, [s.per_month[i] for s in report.sites], report.total_cumulative[i])
                for i, month in enumerate(report.months)
            ],
        ),
    )


@login_required
@require_GET
def efficacy(request: AuthenticatedRequest) -> HttpResponse:
    """The efficacy table and its forest plot, under the same rule as the API."""
    study = _study_or_404()
    access = permissions.ensure_efficacy_access(request.user, study)
    report = selectors.efficacy_report(request.user, study)
    labels = {c.code: c.label for c in report.columns}
    rows: list[dict[str, Any]] = []
    for endpoint, results in report.endpoints:
        for arm, result in results.items():
            rows.append(_efficacy_row(endpoint, labels[arm], result, report.alpha))
    plot = charts.forest_plot(
        [
            (f"{row['short_label']}: {row['arm']}", row["percent"], row["ci_low"], row["ci_high"])
            for row in rows
        ],
        null_percent=report.null_rate * 100,
    )
    return render(
        request,
        "reports/efficacy.html",
        _context(
            request,
            study,
            report=report,
            rows=rows,
            plot=plot,
            access=access,
            null_percent=f"{report.null_rate * 100:g}",
            confidence_percent=f"{report.confidence * 100:g}",
        ),
    )


def _efficacy_row(
    endpoint: selectors.Endpoint, arm: str, result: ProportionResult, alpha: float
) -> dict[str, Any]:
    return {
        "endpoint": endpoint.label,
        "short_label": str(endpoint.short_label),
        "arm": arm,
        "n": result.n,
        "N": result.N,
        "percent": result.percent,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "p_value": format_p(result.p_value),
        "significant": result.significant(alpha),
    }


@login_required
@require_GET
def safety(request: AuthenticatedRequest) -> HttpResponse:
    """Adverse events by arm, grade, seriousness and relationship (sponsor-side roles)."""
    permissions.ensure_sponsor_reports(request.user)
    study = _study_or_404()
    table = selectors.safety_table(
        request.user, study, pooled=permissions.arms_hidden_from(request.user, study)
    )
    codes = [c.code for c in table.columns]
    return render(
        request,
        "reports/safety.html",
        _context(
            request,
            study,
            table=table,
            summary=[
                (_("Safety set (at least one dose)"), [table.safety_set[c] for c in codes]),
                (
                    _("Participants with an adverse event"),
                    [table.participants_with_events[c] for c in codes],
                ),
                (_("Adverse events"), [table.events[c] for c in codes]),
            ],
            rows=[
                (
                    row,
                    [(row.events[c], row.participants[c]) for c in codes],
                )
                for row in table.rows
            ],
            terms=[(term, [term.events[c] for c in codes]) for term in table.terms],
        ),
    )


@login_required
@require_GET
def quality(request: AuthenticatedRequest) -> HttpResponse:
    """Per site: open queries and their age, verification, overdue visits and diary days."""
    _ensure_site_reports(request)
    study = _study_or_404()
    return render(
        request,
        "reports/quality.html",
        _context(
            request,
            study,
            sites=selectors.data_quality(request.user, study),
            age_buckets=[
                _("under %(high)s days") % {"high": high}
                if low == 0
                else (
                    _("%(low)s days or more") % {"low": low}
                    if high is None
                    else _("%(low)s to %(last)s days") % {"low": low, "last": high - 1}
                )
                for low, high in selectors.QUERY_AGE_BUCKETS
            ],
        ),
    )
