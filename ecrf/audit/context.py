"""The audit context: who, in which role, at which site, why, and from where.

pghistory sends the context with each SQL statement and the triggers copy it into
each event row. The helpers here are the only way the project sets it, so that
every event names its user, role, site, reason and source the same way.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pghistory
from pghistory import runtime

if TYPE_CHECKING:
    from ecrf.accounts.models import User


def user_metadata(user: User | None) -> dict[str, Any]:
    """The audit fields that name a user: id, username and role at the time of the change,
    and the event's actor (her username), which the database otherwise derives per event;
    without a user, the database names the program as the actor."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {"user": None, "username": None, "role": None, "actor": None}
    username = user.get_username()
    return {"user": user.pk, "username": username, "role": user.role, "actor": username}


@contextlib.contextmanager
def audit_context(**metadata: Any) -> Iterator[dict[str, Any]]:
    """Add ``metadata`` to the audit context for the duration of the block.

    Opens a context when none is open. Keys set here are restored to their earlier
    values on exit, so a reason given for one change never leaks onto the next.
    """
    tracker = getattr(runtime._tracker, "value", None)
    if tracker is None:
        with pghistory.context(**metadata) as opened:
            yield opened.metadata
        return
    saved = {key: tracker.metadata.get(key) for key in metadata}
    absent = [key for key in metadata if key not in tracker.metadata]
    tracker.metadata.update(metadata)
    try:
        yield tracker.metadata
    finally:
        tracker.metadata.update(saved)
        for key in absent:
            tracker.metadata.pop(key, None)


@contextlib.contextmanager
def change_context(
    *, performed_by: User | None, reason: str = "", site: str | None = None, **extra: Any
) -> Iterator[dict[str, Any]]:
    """The context of one domain operation: its user, role, site and reason."""
    with audit_context(
        **user_metadata(performed_by), reason=reason or None, site=site, **extra
    ) as metadata:
        yield metadata


def command_context(command: str) -> contextlib.AbstractContextManager[Any]:
    """The context of a management command run from the shell."""
    return pghistory.context(source="command", command=command, request_id=str(uuid.uuid4()))
