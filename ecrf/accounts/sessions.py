"""Sessions in the database, as Django keeps them, read by a compiled statement: every
signed-in request reads her session (``SESSION_ENGINE``)."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone

from ecrf.common.compiled import CompiledRead

_UNEXPIRED = CompiledRead(
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now),
    "\x00session_key",
    dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
)


class SessionStore(db.SessionStore):
    """Django's database sessions; the session is read by :data:`_UNEXPIRED`."""

    def _get_session_from_db(self) -> Session | None:
        try:
            return _UNEXPIRED.get(self.session_key or "", timezone.now())
        except (Session.DoesNotExist, SuspiciousOperation) as e:
            if isinstance(e, SuspiciousOperation):
                logging.getLogger(f"django.security.{e.__class__.__name__}").warning(str(e))
            self._session_key = None
            return None
