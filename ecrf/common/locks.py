"""The early lock check of every write to a participant's data or the study's settings.

Locks are set and released by the quality app, which sits above every form app; the
database guard (``guard.py``) refuses any write under a standing lock, whatever path it
takes. This check reads the lock table as the guard does, in SQL, so that the services
of every layer can refuse a locked write first (409) instead of answering about a field.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .exceptions import StateConflict
from .guard import locked_message

if TYPE_CHECKING:
    from ecrf.participants.models import Participant

#: For each form record asked about, the lock standing over her data (the study's, her
#: own, or that record's; the empty record asks about the first two only), with who set
#: it, when and why: the study's first, then the oldest.
_STANDING_LOCK_DETAIL_SQL = """
SELECT r.record, x.scope, x.record, x.reason, x.locked_by, x.locked_at
  FROM unnest(%(records)s::text[]) AS r(record)
  LEFT JOIN LATERAL (
      SELECT l.scope, l.record, l.reason,
             coalesce(nullif(u.printed_name, ''), u.username) AS locked_by, l.locked_at
        FROM quality_lock l JOIN accounts_user u ON u.id = l.locked_by_id
       WHERE l.unlocked_at IS NULL
         AND (l.participant_id = %(participant)s
              OR (l.scope = 'study' AND l.study_id = %(study)s))
         AND (l.scope IN ('study', 'participant') OR l.record = r.record)
       ORDER BY l.scope = 'study' DESC, l.locked_at
       LIMIT 1
  ) x ON true
"""

_PENDING_LOCK_RECORDS = "_pending_lock_records"
_STANDING_LOCKS = "_standing_locks"


@dataclass(frozen=True)
class StandingLock:
    """A lock standing over a participant's data, as a page tells it."""

    scope: str
    record: str
    reason: str
    locked_by: str
    locked_at: dt.datetime

    @property
    def is_study_lock(self) -> bool:
        return self.scope == "study"

    def locked_at_in(self, zone: str) -> str:
        """When it was locked, in the time of ``zone`` (the participant's site)."""
        try:
            tz = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz = timezone.get_current_timezone()
        local = timezone.localtime(self.locked_at, tz)
        return f"{date_format(local, 'Y-m-d H:i')} {local.tzname()}"

    def explanation(self, zone: str) -> str:
        """Who locked her data, when (in her site's time) and why."""
        what = (
            _("The whole study database is locked")
            if self.is_study_lock
            else _("Her data is locked")
        )
        return _("%(what)s by %(who)s since %(when)s. Reason: %(reason)s") % {
            "what": what,
            "who": self.locked_by,
            "when": self.locked_at_in(zone),
            "reason": self.reason or _("none given"),
        }

    def refusal(self, zone: str) -> str:
        """What a refused write is told: that the data is locked, by whom, when and why."""
        return f"{locked_message()} {self.explanation(zone)}"


def standing_lock(participant: Participant, record: str = "") -> StandingLock | None:
    """The lock standing over her data (the study's, her own, or her form ``record``'s),
    with who set it, when and why; none when her data may change.

    Read in SQL from the lock table, as the database guard reads it, so that what a page
    says and what the guard refuses agree. On a participant a write has locked (see
    :func:`expect_lock_questions`), the locks of every record it will ask about are read
    in one statement the first time one is asked, and kept for the rest of the write.
    """
    known: dict[str, StandingLock | None] | None = participant.__dict__.get(_STANDING_LOCKS)
    if known is not None and record in known:
        return known[record]
    pending = participant.__dict__.get(_PENDING_LOCK_RECORDS)
    if pending is None:
        return _read_standing_locks(participant, [record])[record]
    known = _read_standing_locks(participant, sorted({record, *pending}))
    participant.__dict__[_STANDING_LOCKS] = known
    return known[record]


def expect_lock_questions(participant: Participant, *records: str) -> None:
    """Tell :func:`standing_lock` which records a write on her (whose row it holds locked)
    will ask about: her policy asks about her data, the write about its record."""
    participant.__dict__[_PENDING_LOCK_RECORDS] = ("", *records)
    participant.__dict__.pop(_STANDING_LOCKS, None)


def _read_standing_locks(
    participant: Participant, records: list[str]
) -> dict[str, StandingLock | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            _STANDING_LOCK_DETAIL_SQL,
            {"participant": participant.pk, "study": participant.site.study_id, "records": records},
        )
        return {
            row[0]: StandingLock(*row[1:]) if row[1] is not None else None
            for row in cursor.fetchall()
        }


#: The study's own lock (the database lock), with who set it, when and why.
_STUDY_LOCK_DETAIL_SQL = """
SELECT l.scope, l.record, l.reason, coalesce(nullif(u.printed_name, ''), u.username), l.locked_at
  FROM quality_lock l JOIN accounts_user u ON u.id = l.locked_by_id
 WHERE l.unlocked_at IS NULL AND l.scope = 'study' AND l.study_id = %(study)s
 LIMIT 1
"""


def standing_study_lock(study_id: int) -> StandingLock | None:
    """The database lock standing over the whole study, if any, with who set it, when
    and why.

    Read in SQL from the lock table, as the database guard of the study's settings
    reads it, so that what the admin says and what the guard refuses agree.
    """
    with connection.cursor() as cursor:
        cursor.execute(_STUDY_LOCK_DETAIL_SQL, {"study": study_id})
        row = cursor.fetchone()
    if row is None:
        return None
    return StandingLock(*row)


def ensure_unlocked(participant: Participant, record: str = "") -> None:
    """Refuse, before any validation, a write to data under a standing lock (409).

    The database guard refuses such writes whatever path they take; this check only
    lets a service say so first, instead of answering about a field first.
    """
    lock = standing_lock(participant, record)
    if lock is not None:
        raise StateConflict(lock.refusal(participant.site.time_zone))
