"""Reads behind the trial's reports: analysis sets, CONSORT flow, enrollment, efficacy,
safety and data quality (protocol, Analysis sets; issue 6, Reports).

Every read is scoped to the sites the user sees (``ecrf.accounts.selectors``) and
takes a fixed number of queries however many participants there are. The facts of each
participant are kept in her summary row by the database (:mod:`.summary`); a report
reads them grouped and counted by the database, and adds up the groups in Python.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from django.db.models import (
    Count,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ecrf.accounts.selectors import scope_to_user_sites, sites_visible_to
from ecrf.endpoints.models import Result
from ecrf.participants.eligibility import CRITERIA
from ecrf.participants.models import Participant, ParticipantStatus
from ecrf.participants.services import site_today
from ecrf.quality.selectors import SiteVerification, verification_per_site
from ecrf.queries.models import Query, QueryStatus
from ecrf.schedule.arithmetic import VisitStatus, compute_schedule, visit_status
from ecrf.schedule.definitions import schedule_definition
from ecrf.schedule.models import DoseEntry, EmbryoTransfer, VisitOutcome, VisitRecord
from ecrf.studies.models import Site, Study

from .models import ParticipantSummary, SiteAdverseEventCount
from .statistics import CONFIDENCE, ProportionResult, proportion_result

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User

#: The key of the one column results fall into when arms are pooled (blinded roles).
POOLED = "all"
#: The key of participants not randomized (adverse events before allocation, say).
NOT_RANDOMIZED = ""


# -- one row of facts per participant ----------------------------------------------------


@dataclass(frozen=True)
class ParticipantFacts:
    """What the reports need to know of a participant, and how many participants of the
    same site share exactly these facts (``count``): the database counts them, so the
    reports add up groups, not participants."""

    site_id: int
    status: str
    arm: str | None
    randomized_month: dt.date | None
    eligible: bool | None
    failed_criteria: tuple[str, ...]
    consented: bool
    et_performed: bool
    dose_taken: bool
    biochemical_result: str | None
    clinical_sac_seen: bool | None
    withdrawn: bool
    withdrawal_reason: str
    count: int = 1

    @property
    def randomized(self) -> bool:
        return self.arm is not None

    @property
    def in_safety_set(self) -> bool:
        """Safety set: everyone who took at least one dose."""
        return self.dose_taken

    @property
    def in_fas(self) -> bool:
        """Full analysis set: randomized, embryo transfer performed, at least one dose taken."""
        return self.randomized and self.et_performed and self.dose_taken


def _visible_participants(user: User | AnonymousUser, study: Study) -> QuerySet[Participant]:
    return scope_to_user_sites(Participant.objects.filter(site__study=study), user)


def participant_facts(user: User | AnonymousUser, study: Study) -> list[ParticipantFacts]:
    """The facts of the participants of the user's sites, grouped and counted by the
    database from their summaries (:mod:`.summary`, one query): one row per site and
    combination of facts, however many participants share it. Randomization is dated by
    the month of the site's calendar."""
    rows = (
        scope_to_user_sites(ParticipantSummary.objects.filter(site__study=study), user)
        .values(
            "site_id",
            "status",
            "arm",
            "randomized_month",
            "eligible",
            "failed_criteria",
            "consented",
            "et_performed",
            "dose_taken",
            "biochemical_result",
            "clinical_sac_seen",
            "withdrawn",
            "withdrawal_reason",
        )
        .annotate(count=Count("pk"))
        .order_by()
    )
    return [
        ParticipantFacts(
            site_id=row["site_id"],
            status=row["status"],
            arm=row["arm"],
            randomized_month=row["randomized_month"],
            eligible=row["eligible"],
            failed_criteria=tuple(row["failed_criteria"]),
            consented=row["consented"],
            et_performed=row["et_performed"],
            dose_taken=row["dose_taken"],
            biochemical_result=row["biochemical_result"],
            clinical_sac_seen=row["clinical_sac_seen"],
            withdrawn=row["withdrawn"],
            withdrawal_reason=row["withdrawal_reason"].strip(),
            count=row["count"],
        )
        for row in rows
    ]


def _count(
    facts: Iterable[ParticipantFacts], test: Callable[[ParticipantFacts], bool] | None = None
) -> int:
    """How many participants the facts stand for (those passing ``test``, if given)."""
    return sum(fact.count for fact in facts if test is None or test(fact))


@dataclass(frozen=True)
class ArmColumn:
    """A column of a by-arm report: an arm of the study, or every arm pooled."""

    code: str
    label: str


def arm_columns(study: Study, *, pooled: bool) -> list[ArmColumn]:
    """The study's arms in ratio order, or one pooled column for roles kept blind."""
    if pooled:
        return [ArmColumn(POOLED, str(_("All arms (arms concealed)")))]
    return [ArmColumn(arm.code, arm.name) for arm in study.arms.order_by("order", "code")]


def _arm_key(arm: str | None, pooled: bool) -> str:
    if arm is None:
        return NOT_RANDOMIZED
    return POOLED if pooled else arm


# -- analysis sets ---------------------------------------------------------------------


@dataclass(frozen=True)
class AnalysisSets:
    """Per arm: randomized, safety set (>= 1 dose) and full analysis set."""

    columns: list[ArmColumn]
    randomized: dict[str, int]
    safety_set: dict[str, int]
    fas: dict[str, int]

    @property
    def safety_set_total(self) -> int:
        return sum(self.safety_set.values())

    @property
    def fas_total(self) -> int:
        return sum(self.fas.values())


def analysis_sets(facts: Iterable[ParticipantFacts], columns: list[ArmColumn]) -> AnalysisSets:
    """The protocol's analysis sets counted per arm (safety set: >= 1 dose taken;
    FAS: randomized, embryo transfer performed, >= 1 dose taken)."""
    pooled = any(c.code == POOLED for c in columns)
    randomized: Counter[str] = Counter()
    safety: Counter[str] = Counter()
    fas: Counter[str] = Counter()
    for fact in facts:
        key = _arm_key(fact.arm, pooled)
        if fact.randomized:
            randomized[key] += fact.count
        if fact.in_safety_set:
            safety[key] += fact.count
        if fact.in_fas:
            fas[key] += fact.count
    codes = [c.code for c in columns]
    return AnalysisSets(
        columns=columns,
        randomized={code: randomized[code] for code in codes},
        safety_set={code: safety[code] for code in codes},
        fas={code: fas[code] for code in codes},
    )


# -- CONSORT flow ----------------------------------------------------------------------


@dataclass(frozen=True)
class ArmFlow:
    """One arm's column of the CONSORT diagram, from allocation to analysis."""

    column: ArmColumn
    randomized: int
    treated: int
    not_treated: int
    transferred: int
    biochemical_assessed: int
    clinical_assessed: int
    withdrawn: int
    withdrawal_reasons: list[tuple[str, int]]
    analysed: int
    not_analysed_no_transfer: int
    not_analysed_no_dose: int

    @property
    def not_analysed(self) -> int:
        return self.randomized - self.analysed


@dataclass(frozen=True)
class ConsortFlow:
    """Screened, excluded with reasons, randomized and followed per arm, analysed (FAS)."""

    screened: int
    not_eligible: int
    failed_criteria: list[tuple[str, int]]
    declined_consent: int
    other_excluded: int
    other_reasons: list[tuple[str, int]]
    not_yet_randomized: int
    randomized: int
    arms: list[ArmFlow]

    @property
    def excluded(self) -> int:
        return self.not_eligible + self.declined_consent + self.other_excluded


def _criterion_labels() -> dict[str, str]:
    return {c.code: str(c.statement) for c in CRITERIA}


def consort_flow(facts: list[ParticipantFacts], columns: list[ArmColumn]) -> ConsortFlow:
    """The CONSORT flow of the participants given.

    Excluded before randomization: not eligible (counted once per criterion failed,
    too); declined consent (withdrew before consenting); other reasons (withdrew after
    consent, before randomization). Participants still on their way (screening,
    eligible, consented) are not excluded but not yet randomized. After allocation:
    treated (>= 1 dose), embryo transfer performed, each endpoint assessed, withdrawn
    with the reasons given, analysed in the FAS.
    """
    pooled = any(c.code == POOLED for c in columns)
    labels = _criterion_labels()
    criteria: Counter[str] = Counter()
    other_reasons: Counter[str] = Counter()
    not_eligible = declined = other = waiting = 0
    per_arm: dict[str, list[ParticipantFacts]] = defaultdict(list)
    for fact in facts:
        if fact.randomized:
            per_arm[_arm_key(fact.arm, pooled)].append(fact)
        elif fact.eligible is False:
            not_eligible += fact.count
            for code in fact.failed_criteria:
                criteria[labels.get(code, code)] += fact.count
        elif fact.withdrawn and not fact.consented:
            declined += fact.count
        elif fact.withdrawn:
            other += fact.count
            other_reasons[fact.withdrawal_reason] += fact.count
        else:
            waiting += fact.count
    arms = []
    for column in columns:
        members = per_arm.get(column.code, [])
        reasons: Counter[str] = Counter()
        for f in members:
            if f.withdrawn:
                reasons[f.withdrawal_reason] += f.count
        arms.append(
            ArmFlow(
                column=column,
                randomized=_count(members),
                treated=_count(members, lambda f: f.dose_taken),
                not_treated=_count(members, lambda f: not f.dose_taken),
                transferred=_count(members, lambda f: f.et_performed),
                biochemical_assessed=_count(members, lambda f: f.biochemical_result is not None),
                clinical_assessed=_count(members, lambda f: f.clinical_sac_seen is not None),
                withdrawn=sum(reasons.values()),
                withdrawal_reasons=reasons.most_common(),
                analysed=_count(members, lambda f: f.in_fas),
                not_analysed_no_transfer=_count(members, lambda f: not f.et_performed),
                not_analysed_no_dose=_count(members, lambda f: f.et_performed and not f.dose_taken),
            )
        )
    return ConsortFlow(
        screened=_count(facts),
        not_eligible=not_eligible,
        failed_criteria=criteria.most_common(),
        declined_consent=declined,
        other_excluded=other,
        other_reasons=other_reasons.most_common(),
        not_yet_randomized=waiting,
        randomized=sum(_count(members) for members in per_arm.values()),
        arms=arms,
    )


# -- enrollment over time --------------------------------------------------------------


@dataclass(frozen=True)
class SiteEnrollment:
    site: Site
    screened: int
    randomized: int
    per_month: list[int]
    cumulative: list[int]


@dataclass(frozen=True)
class Enrollment:
    """Randomizations per month and cumulative, per site and in total, against the target."""

    months: list[dt.date]
    sites: list[SiteEnrollment]
    total_cumulative: list[int]
    target: int
    screened: int
    randomized: int


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def enrollment(
    user: User | AnonymousUser, study: Study, facts: list[ParticipantFacts]
) -> Enrollment:
    """Enrollment (randomization) per calendar month of each site's local date.

    The months run from the one before the first randomization (a zero to start the
    line) to the month of the last one; the target is the study's setting.
    """
    sites = list(sites_visible_to(user).filter(study=study).order_by("code"))
    by_site: dict[int, Counter[dt.date]] = defaultdict(Counter)
    screened: Counter[int] = Counter()
    for fact in facts:
        screened[fact.site_id] += fact.count
        if fact.randomized_month is not None:
            by_site[fact.site_id][fact.randomized_month] += fact.count
    all_months = sorted({m for counts in by_site.values() for m in counts})
    months: list[dt.date] = []
    if all_months:
        first = _month(all_months[0] - dt.timedelta(days=1))
        month = first
        while month <= all_months[-1]:
            months.append(month)
            month = _next_month(month)
    series = []
    for site in sites:
        per_month = [by_site[site.pk][m] for m in months]
        cumulative, running = [], 0
        for count in per_month:
            running += count
            cumulative.append(running)
        series.append(
            SiteEnrollment(
                site=site,
                screened=screened[site.pk],
                randomized=running,
                per_month=per_month,
                cumulative=cumulative,
            )
        )
    total = [sum(s.cumulative[i] for s in series) for i in range(len(months))]
    return Enrollment(
        months=months,
        sites=series,
        total_cumulative=total,
        target=study.target_enrollment,
        screened=sum(s.screened for s in series),
        randomized=sum(s.randomized for s in series),
    )


# -- efficacy --------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    code: str
    label: Promise
    short_label: Promise
    positive: Callable[[ParticipantFacts], bool]


#: The endpoints of the efficacy table, the primary first (API contract order).
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "clinical_pregnancy",
        _("Clinical pregnancy (gestational sac on ultrasound), primary endpoint"),
        _("Clinical pregnancy"),
        lambda f: f.clinical_sac_seen is True,
    ),
    Endpoint(
        "biochemical_pregnancy",
        _("Biochemical pregnancy (serum hCG positive), secondary endpoint"),
        _("Biochemical pregnancy"),
        lambda f: f.biochemical_result == Result.POSITIVE,
    ),
)

#: The analysis set of the efficacy analysis, as the contract names it.
EFFICACY_ANALYSIS_SET = "FAS"


@dataclass(frozen=True)
class EfficacyReport:
    """For each endpoint and arm: n positives of N in the FAS, exact CI, one-sided p."""

    analysis_set: str
    null_rate: float
    alpha: float
    confidence: float
    columns: list[ArmColumn]
    endpoints: list[tuple[Endpoint, dict[str, ProportionResult]]]

    def as_contract(self) -> dict[str, Any]:
        """The JSON of ``GET /api/v1/reports/efficacy/`` (API contract)."""
        return {
            "analysis_set": self.analysis_set,
            "null_rate": self.null_rate,
            "endpoints": {
                endpoint.code: {arm: result.as_dict() for arm, result in results.items()}
                for endpoint, results in self.endpoints
            },
        }


def efficacy_report(
    user: User | AnonymousUser, study: Study, facts: list[ParticipantFacts] | None = None
) -> EfficacyReport:
    """Each endpoint per arm over the FAS, tested against the study's null rate.

    A participant of the FAS without the endpoint's form counts as not positive: N is
    the FAS of the arm. Clinical pregnancy is positive when a gestational sac was
    seen; biochemical pregnancy when the hCG result is positive.
    """
    facts = participant_facts(user, study) if facts is None else facts
    columns = arm_columns(study, pooled=False)
    fas = [f for f in facts if f.in_fas]
    null_rate = float(study.efficacy_null_rate)
    endpoints = []
    for endpoint in ENDPOINTS:
        results = {}
        for column in columns:
            members = [f for f in fas if f.arm == column.code]
            results[column.code] = proportion_result(
                _count(members, endpoint.positive),
                _count(members),
                null_rate=null_rate,
                confidence=CONFIDENCE,
            )
        endpoints.append((endpoint, results))
    return EfficacyReport(
        analysis_set=EFFICACY_ANALYSIS_SET,
        null_rate=null_rate,
        alpha=float(study.efficacy_alpha),
        confidence=CONFIDENCE,
        columns=columns,
        endpoints=endpoints,
    )


# -- safety ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SafetyRow:
    """Adverse events of one grade, seriousness and relationship: per arm, events and
    participants."""

    grade: int
    serious: bool
    related: bool
    events: dict[str, int]
    participants: dict[str, int]


@dataclass(frozen=True)
class TermRow:
    term: str
    grade: int
    events: dict[str, int]


@dataclass(frozen=True)
class SafetyTable:
    """Adverse events by arm, CTCAE grade, seriousness and relationship to tacrolimus."""

    columns: list[ArmColumn]
    safety_set: dict[str, int]
    participants_with_events: dict[str, int]
    events: dict[str, int]
    rows: list[SafetyRow]
    terms: list[TermRow]


#: The groupings of the sites' kept adverse event counts the safety table shows: term
#: and grade; grade, seriousness and relationship; the arm alone (each per arm).
_BY_TERM, _BY_GRADE, _BY_ARM = (
    SiteAdverseEventCount.Kind.TERM,
    SiteAdverseEventCount.Kind.CELL,
    SiteAdverseEventCount.Kind.ARM,
)


def safety_table(user: User | AnonymousUser, study: Study, *, pooled: bool) -> SafetyTable:
    """Adverse events of the user's sites counted by arm, grade, seriousness, relationship
    (one query over the sites' kept counts, one over the participants' summaries).

    Events of participants never randomized fall into a column of their own.
    """
    columns = arm_columns(study, pooled=pooled)
    counted = cast(
        "list[dict[str, Any]]",  # a cell's grade, seriousness and relationship are set
        list(
            scope_to_user_sites(SiteAdverseEventCount.objects.filter(site__study=study), user)
            .values("kind", "ctcae_grade", "serious", "related", "term", arm_code=F("arm"))
            .annotate(events=Sum("events"), participants=Sum("participants"))
            .order_by()
        ),
    )
    safety_set = (
        scope_to_user_sites(ParticipantSummary.objects.filter(site__study=study), user)
        .filter(dose_taken=True)
        .values(arm_code=F("arm"))
        .annotate(n=Count("pk"))
        .order_by()
    )
    codes = [c.code for c in columns]
    per_arm_rows = [row for row in counted if row["kind"] == _BY_ARM]
    if any(row["arm_code"] is None for row in per_arm_rows):
        columns = [*columns, ArmColumn(NOT_RANDOMIZED, str(_("Not randomized")))]
        codes.append(NOT_RANDOMIZED)

    def tally(rows: Iterable[Mapping[str, Any]], value: str) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for row in rows:
            counts[_arm_key(row["arm_code"], pooled)] += row[value]
        return {code: counts[code] for code in codes}

    grouped: dict[tuple[int, bool, bool], list[Mapping[str, Any]]] = defaultdict(list)
    term_groups: dict[tuple[str, int], list[Mapping[str, Any]]] = defaultdict(list)
    for row in counted:
        if row["kind"] == _BY_GRADE:
            grouped[(row["ctcae_grade"], row["serious"], row["related"])].append(row)
        elif row["kind"] == _BY_TERM:
            term_groups[(row["term"], row["ctcae_grade"])].append(row)
    return SafetyTable(
        columns=columns,
        safety_set=tally(safety_set, "n"),
        participants_with_events=tally(per_arm_rows, "participants"),
        events=tally(per_arm_rows, "events"),
        rows=[
            SafetyRow(
                grade=grade,
                serious=serious,
                related=related,
                events=tally(rows, "events"),
                participants=tally(rows, "participants"),
            )
            for (grade, serious, related), rows in sorted(grouped.items())
        ],
        terms=[
            TermRow(term=term, grade=grade, events=tally(rows, "events"))
            for (term, grade), rows in sorted(term_groups.items())
        ],
    )


# -- data quality ----------------------------------------------------------------------

#: Ages of open queries, in days: the lower bound of each bucket.
QUERY_AGE_BUCKETS: tuple[tuple[int, int | None], ...] = ((0, 7), (7, 30), (30, None))


@dataclass
class SiteQuality:
    """One site's data quality: open queries and their age, source data verification
    (critical values first), overdue data."""

    site: Site
    open_queries: int = 0
    answered_queries: int = 0
    open_by_age: list[int] = field(default_factory=list)
    oldest_open_days: int | None = None
    verification: SiteVerification = field(default_factory=SiteVerification)
    overdue_visits: int = 0
    overdue_diary_days: int = 0
    participants_overdue: int = 0


def _overdue_per_site(
    user: User | AnonymousUser, study: Study, today_per_site: dict[int, dt.date]
) -> dict[int, tuple[int, int, int]]:
    """Per site: visits past their window with nothing recorded, dosing days past with an
    intake not entered in the diary, and the participants with either (randomized, not
    withdrawn)."""
    definition = schedule_definition(study)
    transfers = list(
        EmbryoTransfer.objects.filter(
            participant__in=_visible_participants(user, study).filter(
                status=ParticipantStatus.RANDOMIZED
            )
        ).values(
            "participant_id",
            "et_date",
            "participant__site_id",
            "participant__allocation__arm__intakes_per_day",
        )
    )
    ids = [t["participant_id"] for t in transfers]
    records = {
        (r["participant_id"], r["visit_code"]): r
        for r in VisitRecord.objects.filter(participant_id__in=ids).values(
            "participant_id", "visit_code", "outcome", "done_on"
        )
    }
    diary: dict[int, Counter[dt.date]] = defaultdict(Counter)
    for participant_id, day in DoseEntry.objects.filter(participant_id__in=ids).values_list(
        "participant_id", "date"
    ):
        diary[participant_id][day] += 1
    result: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for transfer in transfers:
        pid, site_id = transfer["participant_id"], transfer["participant__site_id"]
        today = today_per_site[site_id]
        schedule = compute_schedule(transfer["et_date"], definition)
        visits = 0
        for window in schedule.visits:
            record = records.get((pid, window.code))
            status = visit_status(
                window,
                today=today,
                done_on=record["done_on"] if record else None,
                missed=bool(record and record["outcome"] == VisitOutcome.MISSED),
            )
            visits += status == VisitStatus.OVERDUE
        intakes = transfer["participant__allocation__arm__intakes_per_day"]
        days = sum(1 for d in schedule.dosing_dates if d < today and diary[pid][d] < intakes)
        counts = result[site_id]
        counts[0] += visits
        counts[1] += days
        counts[2] += bool(visits or days)
    return {site_id: (v[0], v[1], v[2]) for site_id, v in result.items()}


def data_quality(user: User | AnonymousUser, study: Study) -> list[SiteQuality]:
    """Per site the user sees: open queries (by age and the oldest), source data
    verification (critical values and all values verified, forms awaiting), overdue
    visits and dose-diary days."""
    now = timezone.now()
    sites = list(sites_visible_to(user).filter(study=study).order_by("code"))
    quality = {
        site.pk: SiteQuality(site=site, open_by_age=[0] * len(QUERY_AGE_BUCKETS)) for site in sites
    }
    open_status = Q(status=QueryStatus.OPEN)
    age_counts = {
        f"age_{index}": Count(
            "pk",
            filter=open_status
            & Q(opened_at__lte=now - dt.timedelta(days=low))
            & (Q() if high is None else Q(opened_at__gt=now - dt.timedelta(days=high))),
        )
        for index, (low, high) in enumerate(QUERY_AGE_BUCKETS)
    }
    queries = (
        scope_to_user_sites(
            Query.objects.filter(participant__site__study=study),
            user,
            site_path="participant__site",
        )
        .values(site_pk=F("participant__site"))
        .annotate(
            open=Count("pk", filter=open_status),
            answered=Count("pk", filter=Q(status=QueryStatus.ANSWERED)),
            oldest=Min("opened_at", filter=open_status),
            **age_counts,
        )
        .order_by()
    )
    for row in cast("Iterable[Mapping[str, Any]]", queries):
        site_quality = quality.get(row["site_pk"])
        if site_quality is None:
            continue
        site_quality.open_queries = row["open"]
        site_quality.answered_queries = row["answered"]
        site_quality.open_by_age = [row[f"age_{i}"] for i in range(len(QUERY_AGE_BUCKETS))]
        if row["oldest"] is not None:
            site_quality.oldest_open_days = (now - row["oldest"]).days
    for site_id, verification in verification_per_site(user, study=study).items():
        if site_id in quality:
            quality[site_id].verification = verification
    today_per_site = {site.pk: site_today(site) for site in sites}
    for site_id, (visits, days, participants) in _overdue_per_site(
        user, study, today_per_site
    ).items():
        site_quality = quality[site_id]
        site_quality.overdue_visits = visits
        site_quality.overdue_diary_days = days
        site_quality.participants_overdue = participants
    return [quality[site.pk] for site in sites]
