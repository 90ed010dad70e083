"""The early lock check of every write to a participant's data.

Locks are set and released by the quality app, which sits above every form app; the
database guard (``guard.py``) refuses any write under a standing lock, whatever path it
takes. This check reads the lock table as the guard does, in SQL, so that the services
of every layer can refuse a locked write first (409) instead of answering about a field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection

from .exceptions import StateConflict
from .guard import locked_message

if TYPE_CHECKING:
    from ecrf.participants.models import Participant

#: A standing lock over her data: the study's, her own, or her form ``record``'s.
_STANDING_LOCK_SQL = """
SELECT 1 FROM quality_lock l
 WHERE l.unlocked_at IS NULL
   AND (l.participant_id = %(participant)s OR (l.scope = 'study' AND l.study_id = %(study)s))
   AND (l.scope IN ('study', 'participant') OR l.record = %(record)s)
 LIMIT 1
"""


def ensure_unlocked(participant: Participant, record: str = "") -> None:
    """Refuse, before any validation, a write to data under a standing lock (409).

    The database guard refuses such writes whatever path they take; this check only
    lets a service say so first, instead of answering about a field first.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _STANDING_LOCK_SQL,
            {"participant": participant.pk, "study": participant.site.study_id, "record": record},
        )
        locked = cursor.fetchone() is not None
    if locked:
        raise StateConflict(locked_message())
