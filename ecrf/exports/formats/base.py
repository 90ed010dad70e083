"""What every export format is given and what it promises.

A format is a function that writes one file to a binary stream, reading the study data
through a server-side cursor so that memory stays flat however large the trail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

#: Told how far a writer has come: ``progress(done, total)``; ``total`` may be an estimate.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportScope:
    """What one export may contain: the requester's sites, narrowed by the request's filters.

    ``site_ids`` is already the intersection of the sites the requester may see with the
    site asked for, so a writer never widens it. ``since`` and ``until`` are inclusive
    dates in the study's time zone (an audit event's timestamp; a form's own date for
    clinical data). ``concealed_models`` names models (``app_label.Model``) whose rows and
    events the requester may not see: allocation concealment.
    """

    study_id: int
    site_ids: tuple[int, ...]
    subject_id: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    concealed_models: tuple[str, ...] = ()
    arm_visible: bool = True
    requested_by_id: int | None = None


@dataclass(frozen=True)
class ExportFormat:
    """One kind of export in one format: how it is named, served and written."""

    kind: str
    format: str
    media_type: str
    extension: str
    write: Callable[..., None]
    """``write(scope, out: BinaryIO, *, progress: Progress, chain_head: str) -> None``"""


Writer = Callable[[ExportScope, BinaryIO], None]
