"""Export jobs: asked for by a user, written by a worker, kept for their owner until expiry.

The rules:

- Monitors, data managers, statisticians and admins export; anyone else gets 403.
- An export holds only the sites its owner sees (``ecrf.accounts.selectors``), narrowed
  by its filters, read again when it runs; randomization lists stay out of it unless
  she may see them, and the arm stays out where the study blinds her role.
- A worker writes the file beside its final place, hashing it as it goes, then renames
  it into place: a file under its final name is always complete, and its SHA-256 is
  the one recorded.
- A run holds a PostgreSQL advisory lock on its job; a second run of the same job skips
  it, and a worker that dies releases it with its connection. A job whose worker died is
  queued again by the beat job and written again from the start; a job that was
  started :data:`MAX_ATTEMPTS` times is given up, with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ecrf.accounts.selectors import sites_visible_to
from ecrf.audit.chain import chain_head
from ecrf.audit.checkpoints import checkpoint_request
from ecrf.audit.models import CheckpointReason
from ecrf.participants.selectors import participants_visible_to
from ecrf.studies.models import Site

from . import selectors
from .exceptions import ExportRefused
from .formats import FORMATS, formats_for
from .models import OPEN_STATUSES, ExportJob, ExportStatus

if TYPE_CHECKING:
    from ecrf.accounts.models import User

logger = logging.getLogger(__name__)

#: A running job whose worker holds no lock and wrote no progress for this long died.
#: The dates a range may name: wide enough for any study, narrow enough for every
#: database and file format the export writes.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)

HEARTBEAT_TIMEOUT = dt.timedelta(minutes=2)
#: A job still waiting this long after it was queued is queued again (a lost message).
REQUEUE_PENDING_AFTER = dt.timedelta(minutes=5)
#: Runs a job may start; a job that stopped a worker this often is given up.
MAX_ATTEMPTS = 3
#: Progress reaches the database at most this often (seconds), not once per row.
PROGRESS_INTERVAL = 1.0


class HashingWriter(io.RawIOBase):
    """Passes bytes on to a file, counting them and computing their SHA-256 on the way.

    Not seekable, so the digest is always that of the bytes in the order written.
    Closing it leaves the file open for its owner to sync and rename.
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._raw.write(view)
        self._sha256.update(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


class ProgressReporter:
    """The ``progress(done, total)`` given to a writer: a heartbeat and a percentage.

    Written on a connection of its own, in autocommit, at most every
    :data:`PROGRESS_INTERVAL` seconds, so the page sees it move while the writer's own
    queries run in whatever transaction they need. 100 is written only when done.
    """

    def __init__(self, job_id: uuid.UUID, connection: BaseDatabaseWrapper) -> None:
        self.job_id = job_id
        self.connection = connection
        self.rows = 0
        self._written_at = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        self.rows = done
        now = time.monotonic()
        if now - self._written_at < PROGRESS_INTERVAL:
            return
        self._written_at = now
        percent = min(99, max(0, done * 100 // total)) if total > 0 else 0
        with self.connection.cursor() as cursor:
            cursor.execute(
                "UPDATE exports_exportjob SET progress = %s, heartbeat_at = %s"
                " WHERE id = %s AND status = %s",
                [percent, timezone.now(), self.job_id, ExportStatus.RUNNING.value],
            )


def _allowed(values: list[str]) -> str:
    return ", ".join(values)


def export_request(
    *,
    performed_by: User,
    kind: str,
    format: str,
    site: Site | str | None = None,
    subject_id: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> ExportJob:
    """Ask for an export; it is queued once the request's transaction commits.

    ``site`` is a site or its code, and must be one the user sees; ``subject_id`` must be
    a participant of her sites (of ``site``, when given). Another site's participant is
    answered exactly as one that does not exist.
    """
    selectors.ensure_can_export(performed_by)
    errors: dict[str, list[str]] = {}
    kinds = list(dict.fromkeys(k for k, _fmt in FORMATS))
    if kind not in kinds:
        errors["kind"] = [
            _("Unknown kind of export “%(kind)s”. Expected one of: %(allowed)s.")
            % {"kind": str(kind)[:40], "allowed": _allowed(kinds)}
        ]
    elif format not in formats_for(kind):
        errors["format"] = [
            _("“%(format)s” is not a format of %(kind)s exports. Expected one of: %(allowed)s.")
            % {"format": str(format)[:40], "kind": kind, "allowed": _allowed(formats_for(kind))}
        ]

    chosen_site: Site | None = None
    if isinstance(site, Site):
        chosen_site = sites_visible_to(performed_by).filter(pk=site.pk).first()
        if chosen_site is None:
            errors["site"] = [
                _("No site “%(site)s” among the sites you see.") % {"site": site.code}
            ]
    elif site is not None and str(site).strip():
        code = str(site).strip()
        chosen_site = sites_visible_to(performed_by).filter(code__iexact=code).first()
        if chosen_site is None:
            errors["site"] = [
                _("No site “%(site)s” among the sites you see.") % {"site": code[:20]}
            ]

    subject = (subject_id or "").strip()
    if subject:
        participant = (
            participants_visible_to(performed_by).filter(subject_id__iexact=subject).first()
        )
        if participant is None:
            errors["subject_id"] = [
                _("No participant “%(subject)s” at the sites you see.") % {"subject": subject[:20]}
            ]
        elif chosen_site is not None and participant.site_id != chosen_site.pk:
            errors["subject_id"] = [
                _("%(subject)s is not a participant of site %(site)s.")
                % {"subject": participant.subject_id, "site": chosen_site.code}
            ]
        else:
            subject = participant.subject_id

    out_of_range = [
        name
        for name, day in (("since", since), ("until", until))
        if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE
    ]
    for name in out_of_range:
        errors[name] = [
            _("Expected a date from %(earliest)s to %(latest)s.")
            % {"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_DATE.isoformat()}
        ]
    if kind == "archive":
        if chosen_site is None and "site" not in errors:
            visible = list(sites_visible_to(performed_by)[:2])
            if len(visible) == 1:
                chosen_site = visible[0]
            else:
                errors["site"] = [_("An archive is one site's certified copy: choose the site.")]
        if (subject_id or "").strip():
            errors["subject_id"] = [_("An archive holds every participant of its site.")]
    if kind == "casebook" and not (subject_id or "").strip():
        errors["subject_id"] = [
            _("A casebook is printed for one participant: give her subject ID.")
        ]
    if kind in {"sdtm", "casebook", "archive"}:
        for name, day in (("since", since), ("until", until)):
            if day is not None and name not in errors:
                errors[name] = [
                    _(
                        "SDTM datasets hold whole casebooks (study days count from the first "
                        "dose): leave the date range empty."
                    )
                    if kind == "sdtm"
                    else _("A casebook is printed whole: leave the date range empty.")
                    if kind == "casebook"
                    else _("An archive holds the site's whole record: leave the date range empty.")
                ]
    if not out_of_range and since is not None and until is not None and until < since:
        errors["until"] = [
            _("The end of the date range (%(until)s) is before its start (%(since)s).")
            % {"until": until.isoformat(), "since": since.isoformat()}
        ]
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        job = ExportJob.objects.create(
            owner=performed_by,
            kind=kind,
            format=format,
            site=chosen_site,
            subject_id=subject,
            since=since,
            until=until,
            queued_at=timezone.now(),
        )
        job_id = job.pk

        def queue_job() -> None:
            export_queue(job_id)

        # A broker that is down must not fail the request: the sweeper queues it later.
        transaction.on_commit(queue_job, robust=True)
    logger.info("Export %s requested: %s as %s by user %s", job.pk, kind, format, performed_by.pk)
    return job


def export_queue(job_id: uuid.UUID | str) -> None:
    """Hand one job to a worker (queue ``EXPORT_QUEUE``, else Celery's default)."""
    from .tasks import run_export  # noqa: PLC0415  (a service queues its own task)

    run_export.apply_async(args=[str(job_id)], queue=settings.EXPORT_QUEUE or None)


def _chain_head() -> str:
    """The head of the audit trail's hash chain, written into and beside every export."""
    return str(chain_head())


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _try_lock(connection: BaseDatabaseWrapper, job_id: uuid.UUID) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", list(selectors.export_lock_key(job_id))
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _unlock(connection: BaseDatabaseWrapper, job_id: uuid.UUID) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", list(selectors.export_lock_key(job_id)))


def _give_up(job: ExportJob, message: str, *, now: dt.datetime | None = None) -> None:
    """Mark a job failed with a message for its owner, and drop any partial file."""
    moment = now or timezone.now()
    ExportJob.objects.filter(pk=job.pk, status__in=OPEN_STATUSES).update(
        status=ExportStatus.FAILED, error=message, finished_at=moment, heartbeat_at=moment
    )
    selectors.export_partial_path(job).unlink(missing_ok=True)
    logger.warning("Export %s failed: %s", job.pk, message)


def _interrupted_message(attempts: int) -> str:
    return _(
        "The export was interrupted %(attempts)d times before it could finish. "
        "Ask for it again, with a narrower selection if it is large."
    ) % {"attempts": attempts}


def export_run(*, job_id: uuid.UUID | str) -> str:
    """Write one job's file; answer the job's status afterwards (or ``busy``, ``missing``).

    Idempotent: a job that is done, failed or expired is left as it is; a job another
    worker is running right now is skipped; a job left ``running`` by a worker that died
    is written again from the start, over whatever that worker left behind.
    Database errors (a connection lost) put the job back to ``pending`` and are raised
    for the task to retry; any other error fails the job with a message for its owner
    and is logged with its traceback.
    """
    key = job_id if isinstance(job_id, uuid.UUID) else uuid.UUID(str(job_id))
    control = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        if not _try_lock(control, key):
            logger.info("Export %s is being written by another worker; skipped", key)
            return "busy"
        try:
            return _run_locked(key, control)
        finally:
            _unlock(control, key)
    finally:
        control.close()


def _run_locked(job_id: uuid.UUID, control: BaseDatabaseWrapper) -> str:
    job = ExportJob.objects.select_related("owner", "site").filter(pk=job_id).first()
    if job is None:
        logger.warning("Export %s does not exist; nothing to do", job_id)
        return "missing"
    if job.status not in OPEN_STATUSES:
        return job.status
    with translation.override(job.owner.language or settings.LANGUAGE_CODE):
        if job.attempts >= MAX_ATTEMPTS:
            _give_up(job, _interrupted_message(job.attempts))
            return ExportStatus.FAILED
        started = timezone.now()
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.RUNNING,
            progress=0,
            attempts=F("attempts") + 1,
            started_at=started,
            heartbeat_at=started,
            error="",
        )
        job.refresh_from_db()
        return _write(job, control)


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """One transaction, one snapshot of the database, for the chain head and every row.

    ``REPEATABLE READ``: events committed while the export runs are neither in the file
    nor under the head it states, so the head covers exactly what the file holds.
    (Inside a transaction already begun, that transaction's snapshot serves.)
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _write(job: ExportJob, control: BaseDatabaseWrapper) -> str:
    fmt = selectors.export_format(job)
    partial_path = selectors.export_partial_path(job)
    final_path = selectors.export_path(job)
    try:
        final_path.parent.mkdir(parents=True, exist_ok=True)
        reporter = ProgressReporter(job.pk, control)
        with _one_snapshot(), partial_path.open("wb") as raw:
            scope = selectors.export_scope(job)
            head = _chain_head()
            hasher = HashingWriter(raw)
            out = io.BufferedWriter(hasher, buffer_size=1 << 16)
            fmt.write(scope, out, progress=reporter, chain_head=head)
            if not out.closed:
                out.flush()
                out.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial_path, final_path)
        _fsync_directory(final_path.parent)
    except ExportRefused as exc:
        _give_up(job, exc.detail)
        return ExportStatus.FAILED
    except (OperationalError, InterfaceError) as exc:
        partial_path.unlink(missing_ok=True)
        logger.exception("Export %s lost its database connection", job.pk)
        if job.attempts >= MAX_ATTEMPTS:
            _give_up_quietly(job, _interrupted_message(job.attempts))
        else:
            _back_to_pending(job, exc)
        raise
    except Exception as exc:
        logger.exception("Export %s failed", job.pk)
        _give_up(
            job,
            _(
                "The export stopped with an error (%(error)s). Nothing was kept; the "
                "administrators find the details in the server's log."
            )
            % {"error": type(exc).__name__},
        )
        return ExportStatus.FAILED

    finished = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.DONE,
        progress=100,
        file_name=final_path.name,
        size=hasher.size,
        checksum=hasher.hexdigest(),
        chain_head=head,
        row_count=reporter.rows,
        scope_site_ids=list(scope.site_ids),
        scope_concealed=list(scope.concealed_models),
        scope_arm_visible=scope.arm_visible,
        finished_at=finished,
        heartbeat_at=finished,
        expires_at=finished + settings.EXPORT_RETENTION,
        error="",
    )
    logger.info("Export %s done: %s bytes, sha256 %s", job.pk, hasher.size, hasher.hexdigest())
    # The head the file states is anchored outside the database.
    checkpoint_request(CheckpointReason.EXPORT)
    return ExportStatus.DONE


def _give_up_quietly(job: ExportJob, message: str) -> None:
    try:
        _give_up(job, message)
    except DatabaseError:
        logger.exception("Export %s could not be marked failed", job.pk)


def _back_to_pending(job: ExportJob, exc: Exception) -> None:
    try:
        ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.PENDING,
            progress=0,
            queued_at=timezone.now(),
            error=_("Interrupted (%(error)s); it will be tried again.")
            % {"error": type(exc).__name__},
        )
    except DatabaseError:
        logger.exception("Export %s could not be put back to pending", job.pk)


def exports_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The beat job: queue again what a worker dropped, give up, and delete expired files.

    - a job still ``pending`` :data:`REQUEUE_PENDING_AFTER` after it was queued, or
      ``running`` with no progress for :data:`HEARTBEAT_TIMEOUT` and no worker holding
      its lock, is queued again (or failed, after :data:`MAX_ATTEMPTS` starts);
    - the file of a job past its expiry is deleted and the job marked ``expired``.
    """
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0, "expired": 0}
    stalled = ExportJob.objects.filter(
        Q(status=ExportStatus.PENDING, queued_at__lt=now - REQUEUE_PENDING_AFTER)
        | Q(status=ExportStatus.PENDING, queued_at__isnull=True)
        | Q(status=ExportStatus.RUNNING, heartbeat_at__lt=now - HEARTBEAT_TIMEOUT)
        | Q(status=ExportStatus.RUNNING, heartbeat_at__isnull=True)
    ).select_related("owner")
    for job in stalled:
        if selectors.export_is_being_run(job.pk):
            continue
        if job.attempts >= MAX_ATTEMPTS:
            with translation.override(job.owner.language or settings.LANGUAGE_CODE):
                _give_up(job, _interrupted_message(job.attempts), now=now)
            counts["failed"] += 1
            continue
        claimed = ExportJob.objects.filter(
            pk=job.pk,
            status=job.status,
            queued_at=job.queued_at,
            heartbeat_at=job.heartbeat_at,
        ).update(status=ExportStatus.PENDING, progress=0, queued_at=now)
        if claimed:
            logger.warning("Export %s was %s with no worker; queued again", job.pk, job.status)
            export_queue(job.pk)
            counts["requeued"] += 1

    for job in ExportJob.objects.filter(status=ExportStatus.DONE, expires_at__lte=now):
        selectors.export_path(job).unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job.pk, status=ExportStatus.DONE).update(
            status=ExportStatus.EXPIRED
        )
        counts["expired"] += 1
    return counts
