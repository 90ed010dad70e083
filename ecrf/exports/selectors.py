"""Reads of export jobs: each user sees her own, and an export sees only her sites."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, models
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ecrf.accounts.policy import (
    arms_hidden_from,
    concealed_from,
    enforce,
    may_export,
)
from ecrf.accounts.selectors import sites_visible_to
from ecrf.common.exceptions import StateConflict
from ecrf.studies.services import current_study

from .exceptions import ExportGone, ExportRefused
from .formats import FORMATS, ExportFormat, ExportScope
from .models import ExportJob, ExportStatus

if TYPE_CHECKING:
    import datetime as dt

    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User

#: The first key of the PostgreSQL advisory locks a running export holds ("EXPT").
LOCK_NAMESPACE = 0x45585054


def can_export(user: User | AnonymousUser) -> bool:
    """Monitors, data managers, statisticians and admins export; site staff do not."""
    return bool(may_export(user))


def ensure_can_export(user: User | AnonymousUser) -> None:
    enforce(may_export(user))


def exports_of(user: User | AnonymousUser) -> models.QuerySet[ExportJob]:
    """A user's own exports, newest first; nobody sees anybody else's."""
    if not getattr(user, "is_authenticated", False):
        return ExportJob.objects.none()
    return ExportJob.objects.filter(owner_id=user.pk).select_related("site").order_by("-created_at")


def export_get(user: User | AnonymousUser, pk: uuid.UUID | str) -> ExportJob:
    """One of the user's own exports; anyone else's answers 404, as if it did not exist."""
    try:
        key = pk if isinstance(pk, uuid.UUID) else uuid.UUID(str(pk))
    except ValueError as exc:
        raise Http404 from exc
    job = exports_of(user).filter(pk=key).first()
    if job is None:
        raise Http404
    return job


def export_format(job: ExportJob) -> ExportFormat:
    return FORMATS[(job.kind, job.format)]


def export_directory() -> Path:
    """Where export files are kept: ``MEDIA_ROOT/exports`` (read when asked, for tests)."""
    return Path(settings.MEDIA_ROOT) / "exports"


def export_path(job: ExportJob) -> Path:
    """The finished file of a job, named after the job itself."""
    return export_directory() / f"{job.pk}{export_format(job).extension}"


def export_partial_path(job: ExportJob) -> Path:
    """The file a run writes before it is complete, beside the finished one."""
    return export_directory() / f".{job.pk}{export_format(job).extension}.part"


def export_is_expired(job: ExportJob, *, now: dt.datetime | None = None) -> bool:
    if job.status == ExportStatus.EXPIRED:
        return True
    return job.expires_at is not None and job.expires_at <= (now or timezone.now())


def export_download_name(job: ExportJob) -> str:
    """The name the file is offered under: study, kind, site or subject, and time."""
    study = current_study()
    parts = [study.code if study else "export", job.kind]
    if job.site_id and job.site is not None:
        parts.append(job.site.code)
    if job.subject_id:
        parts.append(job.subject_id)
    stamp = timezone.localtime(job.finished_at or job.created_at).strftime("%Y%m%dT%H%M%S")
    parts.append(stamp)
    return "_".join(parts) + export_format(job).extension


def export_file_for(user: User | AnonymousUser, pk: uuid.UUID | str) -> tuple[ExportJob, Path]:
    """The owner's finished file: 404 for anyone else, 410 once expired, 409 before done."""
    job = export_get(user, pk)
    if export_is_expired(job):
        raise ExportGone(
            _("This export expired on %(date)s and its file was deleted. Ask for a new export.")
            % {"date": timezone.localtime(job.expires_at).strftime("%Y-%m-%d %H:%M")}
            if job.expires_at
            else _("This export's file was deleted. Ask for a new export.")
        )
    if job.status != ExportStatus.DONE:
        raise StateConflict(
            _("The export is not finished (status: %(status)s).")
            % {"status": job.get_status_display()}
        )
    ensure_still_entitled(job)
    path = export_path(job)
    if not path.is_file():
        raise ExportGone(_("This export's file is no longer kept. Ask for a new export."))
    return job, path


def ensure_still_entitled(job: ExportJob) -> None:
    """Serve a finished file only while its owner could still make the same export (403).

    A monitor who has since left a site, a user who may no longer export, or one from
    whom allocation or the arm is now concealed does not take away what the file holds.
    """
    refused = PermissionDenied(
        _(
            "Your access has changed since this export was made, and it holds data you may "
            "no longer see. Ask for a new export."
        )
    )
    try:
        now = export_scope(job)
    except ExportRefused as exc:
        raise refused from exc
    if (
        not job.scope_site_ids
        or not set(job.scope_site_ids) <= set(now.site_ids)
        or not set(now.concealed_models) <= set(job.scope_concealed)
        or (job.scope_arm_visible and not now.arm_visible)
    ):
        raise refused


def export_scope(job: ExportJob) -> ExportScope:
    """What the job's owner may take away now: her sites, the job's filters, concealment.

    Read when the export runs, not when it was asked for, so a user who lost a site in
    between does not export it.
    """
    owner = job.owner
    if not can_export(owner):
        raise ExportRefused(_("The account that asked for this export may no longer export data."))
    study = current_study()
    if study is None:
        raise ExportRefused(_("No study is set up."))
    sites = sites_visible_to(owner).filter(study=study)
    if job.site_id is not None:
        sites = sites.filter(pk=job.site_id)
    site_ids = tuple(sites.order_by("pk").values_list("pk", flat=True))
    if not site_ids:
        raise ExportRefused(_("The account that asked for this export no longer sees its site."))
    return ExportScope(
        study_id=study.pk,
        site_ids=site_ids,
        subject_id=job.subject_id or None,
        since=job.since,
        until=job.until,
        concealed_models=concealed_from(owner, study),
        arm_visible=not arms_hidden_from(owner, study),
        requested_by_id=owner.pk,
    )


def export_lock_key(job_id: uuid.UUID | str) -> tuple[int, int]:
    """The advisory lock a run holds while it works on a job (two int4 keys)."""
    key = job_id if isinstance(job_id, uuid.UUID) else uuid.UUID(str(job_id))
    return LOCK_NAMESPACE, int.from_bytes(key.bytes[:4], "big") & 0x7FFFFFFF


def export_is_being_run(job_id: uuid.UUID | str) -> bool:
    """Whether a live database session (a worker) holds the job's lock right now.

    PostgreSQL releases a session's locks when its connection drops, so a worker that
    was killed stops holding it at once.
    """
    namespace, key = export_lock_key(job_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 2 AND granted)",
            [namespace, key],
        )
        row = cursor.fetchone()
    return bool(row and row[0])
