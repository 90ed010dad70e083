"""Reads of locks, signatures and verification marks, and the progress of source data
verification per participant and per site, critical values first."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
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

from .models import Lock, LockScope, Signature, Verification

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
    """Source data verification of each participant of ``participants``, in two queries
    however many there are: her records of each verifiable form (one query, a union
    over the forms) and the standing marks of her values (one query).

    A mark counts for the entered field it names on the record it names; marks of the
    form as a whole (without a field or a record, as older versions wrote them) verify
    no single value and are not counted. The database guard clears a value's mark when
    the value changes or its record is deleted, so a standing mark is a verified value.
    """
    forms = verifiable_forms()
    ids = participants.order_by().values("pk")
    records: dict[tuple[int, str], int] = {}
    rows_per_form = [
        form.model_class._default_manager.filter(
            **dict(form.filters), **{f"{form.participant_path}__in": ids}
        )
        .order_by()
        .values(participant_ref=F(form.participant_path))
        .annotate(records=Count("pk"), code=Value(form.code, output_field=CharField()))
        .values_list("participant_ref", "code", "records")
        for form in forms
    ]
    if rows_per_form:
        first, *others = rows_per_form
        for participant_id, code, count in first.union(*others, all=True):
            records[(participant_id, code)] = count
    entered = Q()
    critical = Q()
    for form in forms:
        entered |= Q(record=form.code, field__in=_entered_names(form))
        if _critical_names(form):
            critical |= Q(record=form.code, field__in=_critical_names(form))
    marks = {
        (row["participant_id"], row["record"]): (row["verified"], row["critical"])
        for row in Verification.objects.filter(
            entered, participant__in=ids, cleared_at__isnull=True, record_id__isnull=False
        )
        .values("participant_id", "record")
        .annotate(
            verified=Count("pk"),
            critical=Count("pk", filter=critical) if critical else Value(0),
        )
        .order_by()
    }
    # One pass over the records, each participant's forms in the order of verifiable_forms.
    order = {form.code: n for n, form in enumerate(forms)}
    sizes = {form.code: (len(_entered_names(form)), len(_critical_names(form))) for form in forms}
    found: dict[int, list[FormProgress]] = {}
    for (participant_id, code), count in sorted(
        records.items(), key=lambda item: (item[0][0], order[item[0][1]])
    ):
        if not count:
            continue
        per_record, critical_per_record = sizes[code]
        verified, critical_verified = marks.get((participant_id, code), (0, 0))
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


def _share_key(progress: Progress) -> tuple[bool, float]:
    """Least verified first; nothing to verify last."""
    return (progress.percent is None, progress.percent or 0.0)


def verification_worklist(
    user: User | AnonymousUser,
    *,
    site_code: str | None = None,
    awaiting: str | None = None,
    sort: str = "critical",
) -> list[WorklistRow]:
    """The participants of the sites the user sees with their verification progress, in
    three queries: narrowed to a site (code) and to what awaits (one of
    :data:`WORKLIST_AWAITING`), sorted by one of :data:`WORKLIST_SORTS`."""
    if sort not in WORKLIST_SORTS:
        raise ValueError(sort)
    participants = scope_to_user_sites(Participant.objects.select_related("site"), user)
    if site_code:
        participants = participants.filter(site__code=site_code)
    if awaiting == "signature":
        participants = participants.filter(awaiting_signature())
    progress = verification_progress(participants)
    rows = [
        WorklistRow(participant, progress[participant.pk], participant.signature_due)
        for participant in _with_signature_state(participants).order_by(
            "site__code", "subject_number"
        )
    ]
    if awaiting == "verification":
        rows = [row for row in rows if row.progress.forms_awaiting]
    if sort == "critical":
        rows.sort(key=lambda r: (_share_key(r.progress.critical), _share_key(r.progress.overall)))
    elif sort == "overall":
        rows.sort(key=lambda r: (_share_key(r.progress.overall), _share_key(r.progress.critical)))
    elif sort == "remaining":
        rows.sort(key=lambda r: (-r.progress.overall.remaining, -r.progress.critical.remaining))
    return rows


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
    """Per site the user sees (by site id; sites with no participant are absent): the
    verification of its participants' values, in three queries."""
    participants = scope_to_user_sites(Participant.objects.all(), user)
    if study is not None:
        participants = participants.filter(site__study=study)
    progress = verification_progress(participants)
    per_site: dict[int, SiteVerification] = defaultdict(SiteVerification)
    for participant_id, site_id, signature_due in _with_signature_state(participants).values_list(
        "pk", "site_id", "signature_due"
    ):
        site = per_site[site_id]
        hers = progress[participant_id]
        site.critical += hers.critical
        site.overall += hers.overall
        site.forms_awaiting += len(hers.forms_awaiting)
        site.participants_awaiting += bool(hers.forms_awaiting)
        site.casebooks_awaiting_signature += bool(signature_due)
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
    """The open items of each participant of ``participants``, in four queries however
    many there are: her queries not closed, her unconfirmed adverse events, and the
    verification progress of her forms (two queries)."""
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
    study's database lock); by site and subject, in three queries however many there are."""
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
        .annotate(
            signed=Exists(
                Signature.objects.filter(participant=OuterRef("pk"), voided_at__isnull=True)
            )
        )
        .order_by("site__code", "subject_number")
    )
    progress = verification_progress(participants)
    return [
        ReadyToLock(participant, participant.signed)  # type: ignore[attr-defined]
        for participant in participants
        if not progress[participant.pk].forms_awaiting
    ]
