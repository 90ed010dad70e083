"""Every write to randomization lists, and the allocation itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from ecrf.accounts.models import User
from ecrf.accounts.policy import enforce, may_manage_lists, may_randomize, told_of_exhausted_list
from ecrf.audit.context import change_context
from ecrf.common.exceptions import StateConflict
from ecrf.notifications.models import StaffNotificationKind
from ecrf.notifications.services import staff_notify
from ecrf.participants.eligibility import criterion_statements
from ecrf.participants.models import Participant, ParticipantStatus
from ecrf.participants.services import participant_set_status
from ecrf.participants.writes import participant_write
from ecrf.studies.models import Arm, Site, Study

from . import blocks
from .models import ListSource, ListStatus, RandomizationList, Slot
from .selectors import active_list_for

MAX_LIST_LENGTH = 10_000


@dataclass(frozen=True)
class Allocation:
    """What a coordinator sees after randomization (and a replayed request sees again)."""

    participant_id: int
    arm: str
    arm_name: str
    dose_mg_per_day: Decimal
    randomization_number: str
    randomized_at: datetime
    created: bool


def study_arms(study: Study) -> list[Arm]:
    """The study's arms in ratio order (low, high for the tacrolimus trial)."""
    return list(study.arms.order_by("order", "code"))


def _ensure_statistician(user: User | None) -> None:
    if user is not None:
        enforce(may_manage_lists(user))


def _stratum(study: Study, site: Site | None) -> Site | None:
    if study.stratify_by_site and site is None:
        raise ValidationError({"site": _("This study is stratified by site: choose a site.")})
    return site if study.stratify_by_site else None


def _next_version(study: Study, site: Site | None) -> int:
    latest = RandomizationList.objects.filter(study=study, site=site).aggregate(v=Max("version"))
    return (latest["v"] or 0) + 1


def _store_slots(
    randomization_list: RandomizationList, slots: list[blocks.Slot], arms: dict[str, Arm]
) -> None:
    Slot.objects.bulk_create(
        Slot(
            randomization_list=randomization_list,
            sequence=s.sequence,
            block=s.block,
            block_size=s.block_size,
            arm=arms[s.arm],
        )
        for s in slots
    )


def _validate_length(length: int) -> None:
    if not 1 <= length <= MAX_LIST_LENGTH:
        raise ValidationError(
            {"length": _("The length must be from 1 to %(max)s.") % {"max": MAX_LIST_LENGTH}}
        )


@transaction.atomic
def list_generate(
    *,
    study: Study,
    site: Site | None,
    length: int,
    block_sizes: tuple[int, ...] | None = None,
    performed_by: User | None,
) -> RandomizationList:
    """Generate a draft list of permuted blocks from a fresh secure seed (recorded)."""
    _ensure_statistician(performed_by)
    _validate_length(length)
    site = _stratum(study, site)
    arms = study_arms(study)
    ratio = tuple(a.allocation_weight for a in arms)
    sizes = tuple(block_sizes or study.randomization_block_sizes or (sum(ratio),))
    try:
        blocks.check_block_sizes(sizes, ratio)
    except ValueError as exc:
        raise ValidationError({"block_sizes": str(exc)}) from exc
    if max(sizes) > MAX_LIST_LENGTH:
        # A list is made of whole blocks: one huge block would be a huge list.
        raise ValidationError(
            {"block_sizes": _("A block holds at most %(max)s slots.") % {"max": MAX_LIST_LENGTH}}
        )
    seed = blocks.new_seed()
    slots = blocks.generate_list(
        seed=seed, length=length, ratio=ratio, block_sizes=sizes, arms=tuple(a.code for a in arms)
    )
    with change_context(performed_by=performed_by, site=site.code if site else None):
        randomization_list = RandomizationList.objects.create(
            study=study,
            site=site,
            version=_next_version(study, site),
            source=ListSource.GENERATED,
            ratio=list(ratio),
            arm_codes=[a.code for a in arms],
            block_sizes=list(sizes),
            seeds=[seed],
            created_by=performed_by,
        )
        _store_slots(randomization_list, slots, {a.code: a for a in arms})
    return randomization_list


@transaction.atomic
def list_import(
    *, study: Study, site: Site | None, csv_text: str, performed_by: User | None
) -> RandomizationList:
    """Import the statistician's allocation table as a draft list, after full validation.

    A wrong table is refused whole, with a line-numbered message for every error.
    """
    _ensure_statistician(performed_by)
    site = _stratum(study, site)
    arms = study_arms(study)
    ratio = tuple(a.allocation_weight for a in arms)
    try:
        slots = blocks.parse_allocation_csv(csv_text, ratio=ratio, arms=tuple(a.code for a in arms))
    except blocks.AllocationTableError as exc:
        raise ValidationError({"file": exc.errors}) from exc
    if len(slots) > MAX_LIST_LENGTH:
        raise ValidationError(
            {"file": _("The table is longer than %(max)s slots.") % {"max": MAX_LIST_LENGTH}}
        )
    with change_context(performed_by=performed_by, site=site.code if site else None):
        randomization_list = RandomizationList.objects.create(
            study=study,
            site=site,
            version=_next_version(study, site),
            source=ListSource.IMPORTED,
            ratio=list(ratio),
            arm_codes=[a.code for a in arms],
            block_sizes=sorted({s.block_size for s in slots}),
            created_by=performed_by,
        )
        _store_slots(randomization_list, slots, {a.code: a for a in arms})
    return randomization_list


@transaction.atomic
def list_activate(*, randomization_list: RandomizationList, performed_by: User | None) -> None:
    """Make a draft list the one allocations come from; a stratum has one active list."""
    _ensure_statistician(performed_by)
    locked = RandomizationList.objects.select_for_update().get(pk=randomization_list.pk)
    if locked.status != ListStatus.DRAFT:
        raise StateConflict(_("Only a draft list can be activated."))
    active = RandomizationList.objects.filter(
        study=locked.study_id, site=locked.site_id, status=ListStatus.ACTIVE
    ).exists()
    if active:
        raise StateConflict(
            _("This stratum already has an active list; extend it instead of replacing it.")
        )
    with change_context(performed_by=performed_by, site=locked.site.code if locked.site else None):
        locked.status = ListStatus.ACTIVE
        locked.activated_at = timezone.now()
        locked.save(update_fields=["status", "activated_at"])


@transaction.atomic
def list_extend(
    *, randomization_list: RandomizationList, length: int, performed_by: User | None
) -> int:
    """Append whole blocks, generated from a new recorded seed; existing slots never change.

    Returns the number of slots added.
    """
    _ensure_statistician(performed_by)
    _validate_length(length)
    locked = RandomizationList.objects.select_for_update().get(pk=randomization_list.pk)
    if locked.status == ListStatus.RETIRED:
        raise StateConflict(_("A retired list cannot be extended."))
    last = locked.slots.aggregate(sequence=Max("sequence"), block=Max("block"))
    arms = {a.code: a for a in study_arms(locked.study)}
    sizes = tuple(locked.block_sizes) or (sum(locked.ratio),)
    seed = blocks.new_seed()
    slots = blocks.generate_list(
        seed=seed,
        length=length,
        ratio=tuple(locked.ratio),
        block_sizes=sizes,
        arms=tuple(locked.arm_codes),
        start_sequence=(last["sequence"] or 0) + 1,
        start_block=(last["block"] or 0) + 1,
    )
    with change_context(performed_by=performed_by, site=locked.site.code if locked.site else None):
        locked.seeds = [*locked.seeds, seed]
        locked.exhausted_notified_at = None
        locked.save(update_fields=["seeds", "exhausted_notified_at"])
        _store_slots(locked, slots, arms)
    return len(slots)


def _answer(
    participant_id: int,
    number: str,
    randomized_at: datetime,
    arm_values: tuple[object, ...],
    *,
    created: bool,
) -> Allocation:
    """Her allocation from a row of :data:`_TAKE_SLOT_SQL` or :data:`_REPLAY_SQL`."""
    arm = Arm(**dict(zip(_ARM_COLUMNS, arm_values, strict=True)))
    return Allocation(
        participant_id=participant_id,
        arm=arm.code,
        arm_name=arm.name,
        dose_mg_per_day=arm.daily_dose_mg,
        randomization_number=number,
        randomized_at=randomized_at,
        created=created,
    )


#: The arm's fields answered by the statements below, in their order.
_ARM_COLUMNS = ("pk", "code", "name_en", "name_ja", "daily_dose_mg")

#: The first answer to the user's request with this key: the participant it was for, the
#: randomization number, when, and the arm.
_REPLAY_SQL = """
SELECT r.participant_id, s.randomization_number, s.allocated_at,
       a.id, a.code, a.name_en, a.name_ja, a.daily_dose_mg
  FROM randomization_allocationrequest r
  JOIN randomization_slot s ON s.id = r.slot_id
  JOIN studies_arm a ON a.id = s.arm_id
 WHERE r.requested_by_id = %s AND r.key = %s
"""


#: What randomization needs of her, read under her lock: whether she holds a slot, her
#: eligibility (eligible, the criteria failed; NULL when not assessed) and her consent.
_READINESS_SQL = """
SELECT EXISTS (SELECT 1 FROM randomization_slot s WHERE s.participant_id = p.id),
       e.eligible, e.failed_criteria,
       EXISTS (SELECT 1 FROM participants_consent c WHERE c.participant_id = p.id)
  FROM participants_participant p
  LEFT JOIN participants_eligibility e ON e.participant_id = p.id
 WHERE p.id = %s
"""


def _refuse_unless_ready(participant: Participant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_READINESS_SQL, [participant.pk])
        allocated, eligible, failed_criteria, consented = cursor.fetchone()
    if allocated:
        raise StateConflict(
            _("%(subject)s is already randomized.") % {"subject": participant.subject_id}
        )
    if participant.status == ParticipantStatus.WITHDRAWN:
        raise StateConflict(
            _("%(subject)s has withdrawn and cannot be randomized.")
            % {"subject": participant.subject_id}
        )
    if eligible is None:
        raise StateConflict(
            _("Eligibility of %(subject)s has not been assessed; randomization needs it.")
            % {"subject": participant.subject_id}
        )
    if not eligible:
        raise StateConflict(
            _("%(subject)s is not eligible (failed: %(criteria)s) and cannot be randomized.")
            % {
                "subject": participant.subject_id,
                "criteria": "; ".join(criterion_statements(failed_criteria)),
            }
        )
    if not consented:
        raise StateConflict(
            _("%(subject)s has not consented; consent comes before randomization.")
            % {"subject": participant.subject_id}
        )


#: Finds, locks and fills the first free slot of the stratum's active list, and writes the
#: request's idempotency row beside it, in one statement; answers the randomization number
#: and the arm. ``{skip}`` is ``SKIP LOCKED`` for the first attempt, empty for the second.
#: The stratum has one active list; naming it before the slots are read lets an index
#: answer its slots in order, so the first free slot is found without sorting the others.
_TAKE_SLOT_SQL = """
WITH free AS (
    SELECT f.id FROM randomization_slot f
     WHERE f.randomization_list_id = (
               SELECT l.id FROM randomization_randomizationlist l
                WHERE l.study_id = %(study)s AND l.site_id IS NOT DISTINCT FROM %(site)s
                  AND l.status = %(active)s)
       AND f.participant_id IS NULL
     ORDER BY f.sequence
     LIMIT 1
       FOR UPDATE {skip}
), taken AS (
    UPDATE randomization_slot s
       SET participant_id = %(participant)s, allocated_by_id = %(user)s,
           allocated_at = %(now)s,
           randomization_number = %(prefix)s || '-R'
               || lpad(s.sequence::text, greatest(3, length(s.sequence::text)), '0')
      FROM free
     WHERE s.id = free.id
    RETURNING s.id, s.arm_id, s.randomization_number
), request AS (
    INSERT INTO randomization_allocationrequest
           (key, requested_by_id, participant_id, slot_id, created_at)
    SELECT %(key)s, %(user)s, %(participant)s, taken.id, %(now)s FROM taken
)
SELECT taken.randomization_number, a.id, a.code, a.name_en, a.name_ja, a.daily_dose_mg
  FROM taken JOIN studies_arm a ON a.id = taken.arm_id
"""


def participant_randomize(
    *, participant: Participant, idempotency_key: str, performed_by: User
) -> Allocation:
    """Allocate the next free slot of the site's active list to an eligible, consented woman.

    One transaction: her row is locked, then one statement finds, locks and fills the
    first free slot (``FOR UPDATE SKIP LOCKED``) and writes the request's idempotency row,
    so two coordinators pressing Randomize at the same moment get consecutive slots,
    never the same one and never a gap. The database constraints (one slot per
    participant, one participant per slot) are the backstop. A request replayed with
    the same idempotency key returns the first answer. When the list has run out,
    randomization stops with a message and the statisticians are told, once.
    """
    key = (idempotency_key or "").strip()
    if not key or len(key) > 200 or "\x00" in key:
        raise ValidationError(
            {"idempotency_key": _("An Idempotency-Key of 1 to 200 characters is required.")}
        )
    exhausted: RandomizationList | None = None
    # Durable: the refusal of a list run out commits first, then the statisticians'
    # notice commits on its own, so a caller's transaction cannot swallow either.
    # The replay check comes after the lock: a retry racing its original waits for it
    # and then finds its answer, instead of being refused as a second request. Her own
    # state (already randomized, withdrawn) is checked after the replay, which answers
    # a repeated request the same way whatever happened since.
    with participant_write(
        participant.pk,
        performed_by=performed_by,
        action=may_randomize,
        record="randomization",
        allow_withdrawn=True,
        durable=True,
    ) as locked:
        with connection.cursor() as cursor:
            cursor.execute(_REPLAY_SQL, [performed_by.pk, key])
            replay = cursor.fetchone()
        if replay is not None:
            replayed_for, number, randomized_at, *arm_values = replay
            if replayed_for != participant.pk:
                raise StateConflict(
                    _("This Idempotency-Key was already used for another participant.")
                )
            return _answer(replayed_for, number, randomized_at, tuple(arm_values), created=False)
        _refuse_unless_ready(locked)
        study = locked.site.study
        stratum_site = locked.site if study.stratify_by_site else None
        now = timezone.now()
        taken = {
            "study": study.pk,
            "site": stratum_site.pk if stratum_site is not None else None,
            "active": ListStatus.ACTIVE,
            "participant": locked.pk,
            "user": performed_by.pk,
            "now": now,
            "prefix": locked.site.code if stratum_site is not None else study.code,
            "key": key,
        }
        # Each request takes the first free slot no one else holds, so concurrent
        # requests proceed side by side; a slot whose request fails is free again for
        # the next one, so the list ends with no gap. Only when every free slot seems
        # taken does the request wait, to tell "all held by others" from "run out".
        with connection.cursor() as cursor:
            cursor.execute(_TAKE_SLOT_SQL.format(skip="SKIP LOCKED"), taken)
            row = cursor.fetchone()
            if row is None:
                cursor.execute(_TAKE_SLOT_SQL.format(skip=""), taken)
                row = cursor.fetchone()
        if row is None:
            exhausted = active_list_for(study, locked.site)
            if exhausted is None:
                raise StateConflict(
                    _(
                        "There is no active randomization list for site %(site)s; "
                        "ask the statistician."
                    )
                    % {"site": locked.site.code}
                )
        else:
            number, *arm_values = row
            participant_set_status(
                participant=locked,
                status=ParticipantStatus.RANDOMIZED,
                reason_code="randomized",
                reason_params={"number": number},
                performed_by=performed_by,
            )
            return _answer(locked.pk, number, now, tuple(arm_values), created=True)
    _notify_exhausted(exhausted)
    raise StateConflict(
        _(
            "The randomization list of site %(site)s has run out. Nobody was randomized; "
            "the statisticians have been told and will extend it."
        )
        % {"site": participant.site.code}
    )


def _exhausted_message(randomization_list: RandomizationList) -> tuple[str, str]:
    """Subject and body of the statisticians' e-mail about a list run out, in the active
    language."""
    stratum = randomization_list.site.code if randomization_list.site else _("all sites")
    values = {
        "study": randomization_list.study.code,
        "stratum": stratum,
        "version": randomization_list.version,
    }
    subject = _("[%(study)s] Randomization list %(stratum)s v%(version)s has run out") % values
    body = (
        _(
            "The active randomization list of %(stratum)s (version %(version)s) has no free "
            "slot. A coordinator's randomization was refused. Extend the list in the eCRF "
            "(Randomization lists) so randomization can continue."
        )
        % values
    )
    return subject, body


def _notify_exhausted(randomization_list: RandomizationList) -> None:
    """Tell the statisticians once per exhaustion (a retry of the same request sends nothing).

    The e-mails are outbox rows written with the mark, so a broker that is down delays
    them but does not lose them.
    """
    with transaction.atomic(durable=True):
        marked = RandomizationList.objects.filter(
            pk=randomization_list.pk, exhausted_notified_at__isnull=True
        ).update(exhausted_notified_at=timezone.now())
        if marked:
            staff_notify(
                kind=StaffNotificationKind.LIST_EXHAUSTED,
                recipients=told_of_exhausted_list(),
                message=lambda: _exhausted_message(randomization_list),
            )
