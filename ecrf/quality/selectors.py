"""Reads of locks, signatures and verification marks, and the progress of source data
verification per participant and per site, critical values first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, NullIf, Round
from django.utils.text import capfirst

from ecrf.accounts.selectors import scope_to_user_sites
from ecrf.common import catalogue
from ecrf.endpoints.models import BiochemicalPregnancy, ClinicalPregnancy
from ecrf.participants.models import Participant
from ecrf.participants.status import FINAL_STATUSES
from ecrf.queries.models import Query, QueryStatus
from ecrf.safety.models import AdverseEvent
from ecrf.studies.models import Study
from randomization.models import Slot

from .models import FormTally, Lock, LockScope, ParticipantVerification, Signature

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User


def open_locks_over(participant: Participant) -> QuerySet[Lock]:
    """The locks standing over her data: hers, her forms', the whole study's."""
    return Lock.objects.filter(unlocked_at__isnull=True).filter(
        Q(participant=participant) | Q(scope=LockScope.STUDY, study=participant.site.study_id)
    )


def participant_lock(participant: Participant) -> Lock | None:
    """Her own participant-level lock, if it stands."""
    return Lock.objects.filter(
        participant=participant, scope=LockScope.PARTICIPANT, unlocked_at__isnull=True
    ).first()


def study_lock(study: Study) -> Lock | None:
    """The database lock of the study, if it stands."""
    return Lock.objects.filter(study=study, scope=LockScope.STUDY, unlocked_at__isnull=True).first()


def signatures_of(participant: Participant) -> QuerySet[Signature]:
    return Signature.objects.filter(participant=participant).select_related("signed_by")


# -- source data verification progress ------------------------------------------------


def verifiable_forms() -> tuple[catalogue.Form, ...]:
    """The forms whose entered values a monitor verifies against source, those holding
    critical values (eligibility, consent, the endpoints, serious adverse events) first,
    each group in the catalogue's order."""
    return tuple(sorted(catalogue.queryable_forms(), key=lambda form: not _critical_names(form)))


def _entered_names(form: catalogue.Form) -> tuple[str, ...]:
    return tuple(entry.name for entry in form.entered_fields)


def _critical_names(form: catalogue.Form) -> tuple[str, ...]:
    return tuple(entry.name for entry in form.entered_fields if entry.critical)


@dataclass(frozen=True)
class Progress:
    """Values verified against source out of the values that can be verified."""

    verified: int = 0
    verifiable: int = 0

    def __add__(self, other: Progress) -> Progress:
        return Progress(self.verified + other.verified, self.verifiable + other.verifiable)

    @property
    def remaining(self) -> int:
        return self.verifiable - self.verified

    @property
    def percent(self) -> float | None:
        """Share verified, in percent; None when there is nothing to verify."""
        if not self.verifiable:
            return None
        return round(100 * self.verified / self.verifiable, 1)

    @property
    def complete(self) -> bool:
        return self.verifiable > 0 and self.remaining == 0


@dataclass(frozen=True)
class FormProgress:
    """One form of one participant: its records, its critical values and all its values.

    Every entered field of every record is a value to verify (the catalogue's
    ``entered``), whether it holds an answer or was left empty, as the form's page
    offers it; a value counts as verified while its own mark stands.
    """

    form: catalogue.Form
    records: int
    critical: Progress
    overall: Progress

    @property
    def code(self) -> str:
        return self.form.code

    @property
    def label(self) -> str:
        return str(capfirst(self.form.label))

    @property
    def awaiting(self) -> bool:
        """Some value of the form is not verified yet."""
        return self.overall.remaining > 0


@dataclass(frozen=True)
class VerificationProgress:
    """One participant's source data verification: critical values, all values, and
    each form entered for her (forms holding critical values first)."""

    participant_id: int
    forms: tuple[FormProgress, ...] = ()

    @property
    def critical(self) -> Progress:
        return sum((form.critical for form in self.forms), Progress())

    @property
    def overall(self) -> Progress:
        return sum((form.overall for form in self.forms), Progress())

    @property
    def forms_awaiting(self) -> tuple[FormProgress, ...]:
        return tuple(form for form in self.forms if form.awaiting)


class ProgressByParticipant(dict[int, VerificationProgress]):
    """Progress by participant id; a participant with no form entered has nothing to verify."""

    def __missing__(self, participant_id: int) -> VerificationProgress:
        return VerificationProgress(participant_id)


def verification_progress(participants: QuerySet[Participant]) -> ProgressByParticipant:
    """Source data verification of each participant of ``participants``, in one query
    however many there are: her rows of the verification tally (:mod:`.tally`), which
    the database keeps as her records and the marks on their values are written.

    A mark counts for the entered field it names on the record it names; marks of the
    form as a whole (without a field or a record, as older versions wrote them) verify
    no single value and are not counted. The database guard clears a value's mark when
    the value changes or its record is deleted, so a standing mark is a verified value.
    """
    forms = verifiable_forms()
    order = {form.code: n for n, form in enumerate(forms)}
    sizes = {form.code: (len(_entered_names(form)), len(_critical_names(form))) for form in forms}
    rows = (
        FormTally.objects.filter(
            participant__in=participants.order_by().values("pk"),
            records__gt=0,
            form__in=list(order),
        )
        .order_by()
        .values_list("participant_id", "form", "records", "verified", "critical_verified")
    )
    found: dict[int, list[FormProgress]] = {}
    for participant_id, code, count, verified, critical_verified in sorted(
        rows, key=lambda row: (row[0], order[row[1]])
    ):
        per_record, critical_per_record = sizes[code]
        found.setdefault(participant_id, []).append(
            FormProgress(
                form=forms[order[code]],
                records=count,
                critical=Progress(critical_verified, count * critical_per_record),
                overall=Progress(verified, count * per_record),
            )
        )
    progress = ProgressByParticipant()
    for participant_id, items in found.items():
        progress[participant_id] = VerificationProgress(participant_id, tuple(items))
    return progress


def awaiting_signature() -> Q:
    """A participant's casebook awaits the investigator's signature: no signature of it
    stands, and either her participation has ended (completed or withdrawn) or a
    signature of it was voided by a later change."""
    standing = Signature.objects.filter(participant=OuterRef("pk"), voided_at__isnull=True)
    voided = Signature.objects.filter(participant=OuterRef("pk"), voided_at__isnull=False)
    return ~Q(Exists(standing)) & (Q(status__in=FINAL_STATUSES) | Q(Exists(voided)))


def _with_signature_state(participants: QuerySet[Participant]) -> QuerySet[Any]:
    """``signature_due`` on each participant: whether her casebook awaits signature."""
    return participants.annotate(
        signature_due=ExpressionWrapper(awaiting_signature(), output_field=BooleanField())
    )


#: How the verification worklist sorts, by the name its page uses (``sort=critical``):
#: the least verified critical values first, the least verified values first, the most
#: values left to verify first, or by subject.
WORKLIST_SORTS: tuple[str, ...] = ("critical", "overall", "remaining", "subject")

#: What the worklist narrows to (``awaiting=verification``): participants with values
#: left to verify, or whose casebook awaits the investigator's signature.
WORKLIST_AWAITING: tuple[str, ...] = ("verification", "signature")


@dataclass(frozen=True)
class WorklistRow:
    """A participant on the monitor's verification worklist."""

    participant: Participant
    progress: VerificationProgress
    awaiting_signature: bool


def _share(verified: str, verifiable: str) -> Round:
    """SQL: the share verified in percent to one decimal (as :attr:`Progress.percent`),
    null when there is nothing to verify."""
    return Round(
        Value(Decimal(100)) * F(verified) / NullIf(F(verifiable), Value(0)),
        1,
        output_field=DecimalField(),
    )


@dataclass(frozen=True)
class Worklist:
    """The participants of a verification worklist in its order (``participants``, to be
    paginated), with the progress of the participants of a page (:meth:`rows`)."""

    participants: QuerySet[Participant]

    def rows(self, page: Iterable[Participant] | None = None) -> list[WorklistRow]:
        """The rows of ``page`` (participants of :attr:`participants`; all when None),
        with their verification by form in one more query."""
        participants = list(self.participants if page is None else page)
        progress = verification_progress(
            Participant.objects.filter(pk__in=[participant.pk for participant in participants])
        )
        return [
            WorklistRow(participant, progress[participant.pk], participant.signature_due)  # type: ignore[attr-defined]
            for participant in participants
        ]

    def totals(self) -> tuple[Progress, Progress]:
        """Critical values and all values of every participant of the list, verified out
        of verifiable (one query)."""
        found = ParticipantVerification.objects.filter(
            participant__in=self.participants.values("pk")
        ).aggregate(
            critical_done=Coalesce(Sum("critical_verified"), 0),
            critical_all=Coalesce(Sum("critical_verifiable"), 0),
            done=Coalesce(Sum("verified"), 0),
            all=Coalesce(Sum("verifiable"), 0),
        )
        return (
            Progress(found["critical_done"], found["critical_all"]),
            Progress(found["done"], found["all"]),
        )


def verification_worklist(
    user: User | AnonymousUser,
    *,
    site_code: str | None = None,
    awaiting: str | None = None,
    sort: str = "critical",
) -> Worklist:
    """The participants of the sites the user sees with their verification totals (kept
    by the database, :mod:`.tally`): narrowed to a site (code) and to what
    awaits (one of :data:`WORKLIST_AWAITING`), sorted by one of :data:`WORKLIST_SORTS`
    (then by site and subject)."""
    if sort not in WORKLIST_SORTS:
        raise ValueError(sort)
    participants = scope_to_user_sites(Participant.objects.select_related("site"), user)
    if site_code:
        participants = participants.filter(site__code=site_code)
    if awaiting == "signature":
        participants = participants.filter(awaiting_signature())
    totals = "verification_totals__"
    participants = _with_signature_state(participants).annotate(
        overall_share=_share(f"{totals}verified", f"{totals}verifiable"),
        critical_share=_share(f"{totals}critical_verified", f"{totals}critical_verifiable"),
        remaining=Coalesce(F(f"{totals}verifiable") - F(f"{totals}verified"), 0),
        critical_remaining=Coalesce(
            F(f"{totals}critical_verifiable") - F(f"{totals}critical_verified"), 0
        ),
    )
    if awaiting == "verification":
        participants = participants.filter(verification_totals__forms_awaiting__gt=0)
    order: tuple[Any, ...] = {
        "critical": (
            F("critical_share").asc(nulls_last=True),
            F("overall_share").asc(nulls_last=True),
        ),
        "overall": (
            F("overall_share").asc(nulls_last=True),
            F("critical_share").asc(nulls_last=True),
        ),
        "remaining": (F("remaining").desc(), F("critical_remaining").desc()),
        "subject": (),
    }[sort]
    return Worklist(participants.order_by(*order, "site__code", "subject_number"))


@dataclass
class SiteVerification:
    """One site's source data verification: its participants' critical values and all
    values, the forms and participants with values left to verify, and the casebooks
    awaiting the investigator's signature."""

    critical: Progress = Progress()
    overall: Progress = Progress()
    forms_awaiting: int = 0
    participants_awaiting: int = 0
    casebooks_awaiting_signature: int = 0


def verification_per_site(
    user: User | AnonymousUser, *, study: Study | None = None
) -> dict[int, SiteVerification]:
    """Per site the user sees (by site id; sites with nothing entered to verify and no
    casebook awaiting signature are absent): the verification of its participants'
    values, added up from their totals (kept by the database, :mod:`.tally`), in two
    queries."""
    totals = scope_to_user_sites(ParticipantVerification.objects.filter(verifiable__gt=0), user)
    participants = scope_to_user_sites(Participant.objects.all(), user)
    if study is not None:
        totals = totals.filter(site__study=study)
        participants = participants.filter(site__study=study)
    per_site: dict[int, SiteVerification] = defaultdict(SiteVerification)
    for row in (
        totals.values("site_id")
        .annotate(
            critical_done=Sum("critical_verified"),
            critical_all=Sum("critical_verifiable"),
            done=Sum("verified"),
            all=Sum("verifiable"),
            forms=Sum("forms_awaiting"),
            participants=Count("pk", filter=Q(forms_awaiting__gt=0)),
        )
        .order_by()
    ):
        site = per_site[row["site_id"]]
        site.critical = Progress(row["critical_done"], row["critical_all"])
        site.overall = Progress(row["done"], row["all"])
        site.forms_awaiting = row["forms"]
        site.participants_awaiting = row["participants"]
    for site_id, count in (
        participants.filter(awaiting_signature())
        .values("site_id")
        .annotate(count=Count("pk"))
        .order_by()
        .values_list("site_id", "count")
    ):
        per_site[site_id].casebooks_awaiting_signature = count
    return dict(per_site)


# -- what is open when she signs, what is ready to sign and to lock --------------------


@dataclass(frozen=True)
class OpenItems:
    """What is still open in her casebook: queries not closed (open or answered),
    adverse events no investigator has confirmed, and forms with values not verified
    against source (by :func:`verification_progress`)."""

    open_queries: int = 0
    unconfirmed_adverse_events: int = 0
    unverified_forms: int = 0

    @property
    def total(self) -> int:
        return self.open_queries + self.unconfirmed_adverse_events + self.unverified_forms

    @property
    def any(self) -> bool:
        return self.total > 0


class OpenItemsByParticipant(dict[int, OpenItems]):
    """Open items by participant id; a participant absent has nothing open."""

    def __missing__(self, participant_id: int) -> OpenItems:
        return OpenItems()


def _counts_per_participant(queryset: QuerySet[Any], ids: QuerySet[Any]) -> dict[int, int]:
    return dict(
        queryset.filter(participant__in=ids)
        .values("participant_id")
        .annotate(count=Count("pk"))
        .order_by()
        .values_list("participant_id", "count")
    )


def open_items_of(participants: QuerySet[Participant]) -> OpenItemsByParticipant:
    """The open items of each participant of ``participants``, in three queries however
    many there are: her queries not closed, her unconfirmed adverse events, and the
    verification progress of her forms."""
    ids = participants.order_by().values("pk")
    queries = _counts_per_participant(Query.objects.exclude(status=QueryStatus.CLOSED), ids)
    events = _counts_per_participant(AdverseEvent.objects.filter(confirmed_at__isnull=True), ids)
    progress = verification_progress(participants)
    items = OpenItemsByParticipant()
    for participant_id in {*queries, *events, *progress}:
        found = OpenItems(
            open_queries=queries.get(participant_id, 0),
            unconfirmed_adverse_events=events.get(participant_id, 0),
            unverified_forms=len(progress[participant_id].forms_awaiting),
        )
        if found.any:
            items[participant_id] = found
    return items


def signature_open_items(participant: Participant) -> OpenItems:
    """What is open in her casebook now: the counts an investigator is shown, and
    confirms, before she signs, and that her signature records."""
    return open_items_of(Participant.objects.filter(pk=participant.pk))[participant.pk]


def ready_to_sign() -> Q:
    """Her casebook is ready for the investigator's signature: she was randomized, no
    signature of it stands, and either her participation has ended (both endpoints
    recorded, or completed or withdrawn) or a signature of it was voided by a later
    change (:func:`awaiting_signature`)."""
    randomized = Slot.objects.filter(participant=OuterRef("pk"))
    standing = Signature.objects.filter(participant=OuterRef("pk"), voided_at__isnull=True)
    both_endpoints = Q(Exists(BiochemicalPregnancy.objects.filter(participant=OuterRef("pk")))) & Q(
        Exists(ClinicalPregnancy.objects.filter(participant=OuterRef("pk")))
    )
    return Q(Exists(randomized)) & (awaiting_signature() | (~Q(Exists(standing)) & both_endpoints))


@dataclass(frozen=True)
class CasebookToSign:
    """A casebook on the investigator's list to sign, with what is still open in it."""

    participant: Participant
    open_items: OpenItems
    voided: bool


def casebooks_ready_to_sign(user: User | AnonymousUser) -> list[CasebookToSign]:
    """The casebooks of the user's sites ready to sign (:func:`ready_to_sign`), by site and
    subject, each with its open items; five queries however many there are."""
    participants = (
        scope_to_user_sites(Participant.objects.select_related("site"), user)
        .filter(ready_to_sign())
        .annotate(
            voided=Exists(
                Signature.objects.filter(participant=OuterRef("pk"), voided_at__isnull=False)
            )
        )
        .order_by("site__code", "subject_number")
    )
    items = open_items_of(participants)
    return [
        CasebookToSign(participant, items[participant.pk], participant.voided)  # type: ignore[attr-defined]
        for participant in participants
    ]


@dataclass(frozen=True)
class ReadyToLock:
    """A participant ready for the data manager's lock, and whether her casebook is signed."""

    participant: Participant
    signed: bool


def participants_ready_to_lock(user: User | AnonymousUser) -> list[ReadyToLock]:
    """The participants of the user's sites ready to lock: her participation ended
    (completed or withdrawn), every value of every form entered for her verified, no
    query on her data that is not closed, and no lock standing over her (her own or the
    study's database lock); by site and subject, in one query however many there are."""
    participants = (
        scope_to_user_sites(Participant.objects.select_related("site"), user)
        .filter(status__in=FINAL_STATUSES)
        .exclude(
            Exists(
                Query.objects.filter(participant=OuterRef("pk")).exclude(status=QueryStatus.CLOSED)
            )
        )
        .exclude(
            Exists(
                Lock.objects.filter(
                    participant=OuterRef("pk"),
                    scope=LockScope.PARTICIPANT,
                    unlocked_at__isnull=True,
                )
            )
        )
        .exclude(
            Exists(
                Lock.objects.filter(
                    study=OuterRef("site__study"), scope=LockScope.STUDY, unlocked_at__isnull=True
                )
            )
        )
        .exclude(
            Exists(
                ParticipantVerification.objects.filter(
                    participant=OuterRef("pk"), forms_awaiting__gt=0
                )
            )
        )
        .annotate(
            signed=Exists(
                Signature.objects.filter(participant=OuterRef("pk"), voided_at__isnull=True)
            )
        )
        .order_by("site__code", "subject_number")
    )
    return [
        ReadyToLock(participant, participant.signed)  # type: ignore[attr-defined]
        for participant in participants
    ]
