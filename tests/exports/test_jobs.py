"""Export jobs: who may ask, what is checked, how a run writes, restarts and gives up."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import threading
import time
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from ecrf.audit.chain import chain_contains, chain_head
from ecrf.exports import selectors, services
from ecrf.exports.formats import FORMATS, LazyWriter
from ecrf.exports.formats.audit import write_audit_csv
from ecrf.exports.models import ExportJob, ExportStatus
from ecrf.exports.selectors import export_lock_key, export_scope
from ecrf.exports.services import (
    HEARTBEAT_TIMEOUT,
    MAX_ATTEMPTS,
    REQUEUE_PENDING_AFTER,
    export_request,
    export_run,
    exports_sweep,
)
from ecrf.participants.models import Participant
from ecrf.studies.models import Study

from ..factories import ParticipantFactory
from .conftest import file_of, lines_writer, sha256_of

pytestmark = pytest.mark.django_db

CONTRACT_COLUMNS = [
    "timestamp",
    "user",
    "role",
    "site",
    "subject_id",
    "record",
    "record_id",
    "field",
    "old_value",
    "new_value",
    "reason",
    "action",
]


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return excinfo.value.message_dict


# -- asking for an export -----------------------------------------------------------------


@pytest.mark.requirement("API-EXPORT-CREATE")
@pytest.mark.parametrize("role", ["coordinator", "investigator"])
def test_site_staff_may_not_export(role, make_user):
    with pytest.raises(PermissionDenied):
        export_request(performed_by=make_user(role), kind="audit_trail", format="csv")
    assert not ExportJob.objects.exists()


@pytest.mark.requirement("API-EXPORT-CREATE")
@pytest.mark.parametrize("role", ["monitor", "data_manager", "statistician", "admin"])
def test_export_roles_may_ask(role, make_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = export_request(performed_by=make_user(role), kind="audit_trail", format="csv")
    assert job.status == ExportStatus.PENDING
    assert job.queued_at is not None
    assert len(callbacks) == 1  # queued once the request commits


@pytest.mark.requirement("API-EXPORT-CREATE")
def test_an_unknown_kind_names_the_kinds_there_are(monitor_a):
    with pytest.raises(ValidationError) as excinfo:
        export_request(performed_by=monitor_a, kind="everything", format="csv")
    message = errors_of(excinfo)["kind"][0]
    assert "everything" in message
    for kind in ["audit_trail", "clinical_data", "data_dictionary"]:
        assert kind in message
    assert not ExportJob.objects.exists()


@pytest.mark.requirement("API-EXPORT-CREATE")
def test_a_format_the_kind_has_not_names_its_formats(monitor_a):
    with pytest.raises(ValidationError) as excinfo:
        export_request(performed_by=monitor_a, kind="audit_trail", format="xpt")
    message = errors_of(excinfo)["format"][0]
    assert "xpt" in message and "csv, odm" in message
    with pytest.raises(ValidationError) as excinfo:
        export_request(performed_by=monitor_a, kind="data_dictionary", format="pdf")
    assert "csv" in errors_of(excinfo)["format"][0]
    assert not ExportJob.objects.exists()


@pytest.mark.requirement("API-EXPORT-CREATE")
def test_a_date_range_ending_before_it_starts_is_refused_on_until(monitor_a):
    with pytest.raises(ValidationError) as excinfo:
        export_request(
            performed_by=monitor_a,
            kind="audit_trail",
            format="csv",
            since=dt.date(2026, 3, 10),
            until=dt.date(2026, 3, 9),
        )
    message = errors_of(excinfo)["until"][0]
    assert "2026-03-09" in message and "2026-03-10" in message
    assert not ExportJob.objects.exists()


def test_a_one_day_range_is_fine(monitor_a):
    day = dt.date(2026, 3, 10)
    job = export_request(
        performed_by=monitor_a, kind="audit_trail", format="csv", since=day, until=day
    )
    assert (job.since, job.until) == (day, day)


@pytest.mark.requirement("API-EXPORT-CREATE", "CFR11-10D-ACCESS")
def test_a_site_she_does_not_see_is_answered_like_one_that_does_not_exist(monitor_a, site_b):
    with pytest.raises(ValidationError) as other_site:
        export_request(performed_by=monitor_a, kind="audit_trail", format="csv", site="S02")
    with pytest.raises(ValidationError) as no_site:
        export_request(performed_by=monitor_a, kind="audit_trail", format="csv", site="S99")
    assert errors_of(other_site)["site"] == [errors_of(no_site)["site"][0].replace("S99", "S02")]
    with pytest.raises(ValidationError) as as_object:
        export_request(performed_by=monitor_a, kind="audit_trail", format="csv", site=site_b)
    assert "site" in errors_of(as_object)
    assert not ExportJob.objects.exists()


def test_her_own_site_by_code_or_object(monitor_a, site_a):
    by_code = export_request(performed_by=monitor_a, kind="audit_trail", format="csv", site="s01")
    by_object = export_request(
        performed_by=monitor_a, kind="audit_trail", format="csv", site=site_a
    )
    assert by_code.site == by_object.site == site_a


@pytest.mark.requirement("API-EXPORT-CREATE", "CFR11-10D-ACCESS")
def test_a_participant_of_another_site_is_answered_like_one_that_does_not_exist(
    monitor_a, participant_a, participant_b
):
    with pytest.raises(ValidationError) as other_site:
        export_request(
            performed_by=monitor_a,
            kind="clinical_data",
            format="csv",
            subject_id=participant_b.subject_id,
        )
    with pytest.raises(ValidationError) as nobody:
        export_request(
            performed_by=monitor_a, kind="clinical_data", format="csv", subject_id="S09-999"
        )
    assert errors_of(other_site)["subject_id"] == [
        errors_of(nobody)["subject_id"][0].replace("S09-999", participant_b.subject_id)
    ]
    job = export_request(
        performed_by=monitor_a,
        kind="clinical_data",
        format="csv",
        subject_id=participant_a.subject_id.lower(),
    )
    assert job.subject_id == participant_a.subject_id


def test_a_participant_outside_the_site_asked_for_is_refused(
    data_manager, participant_a, participant_b
):
    with pytest.raises(ValidationError) as excinfo:
        export_request(
            performed_by=data_manager,
            kind="audit_trail",
            format="csv",
            site="S01",
            subject_id=participant_b.subject_id,
        )
    assert "S01" in errors_of(excinfo)["subject_id"][0]


def test_every_wrong_field_is_named_at_once(monitor_a):
    with pytest.raises(ValidationError) as excinfo:
        export_request(
            performed_by=monitor_a,
            kind="nothing",
            format="csv",
            site="S02",
            subject_id="S02-001",
            since=dt.date(2026, 2, 2),
            until=dt.date(2026, 2, 1),
        )
    assert set(errors_of(excinfo)) == {"kind", "site", "subject_id", "until"}


def test_nothing_is_queued_when_the_request_rolls_back(
    monitor_a, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
        raise RuntimeError("the request failed after the service")
    assert callbacks == []
    assert not ExportJob.objects.exists()


# -- what an export may contain -------------------------------------------------------


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_the_scope_is_her_sites_narrowed_by_the_filters(monitor_a, data_manager, site_a, site_b):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    assert export_scope(job).site_ids == (site_a.pk,)
    everything = export_scope(
        export_request(performed_by=data_manager, kind="audit_trail", format="csv")
    )
    assert everything.site_ids == (site_a.pk, site_b.pk)
    one = export_scope(
        export_request(performed_by=data_manager, kind="audit_trail", format="csv", site="S02")
    )
    assert one.site_ids == (site_b.pk,)
    assert one.requested_by_id == data_manager.pk
    assert one.study_id == site_b.study_id


@pytest.mark.requirement("PROT-RAND-CONCEAL")
def test_randomization_lists_stay_out_unless_she_may_see_them(monitor_a, statistician):
    monitor_scope = export_scope(
        export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    )
    assert "randomization.Slot" in monitor_scope.concealed_models
    assert "randomization.RandomizationList" in monitor_scope.concealed_models
    statistician_scope = export_scope(
        export_request(performed_by=statistician, kind="audit_trail", format="csv")
    )
    assert statistician_scope.concealed_models == ()


@pytest.mark.requirement("ICH-E6R3-4.1-BLINDING")
def test_a_blinded_study_hides_the_arm_from_the_roles_it_names(study, monitor_a, data_manager):
    Study.objects.filter(pk=study.pk).update(blinded=True, blinded_roles=["monitor"])
    assert not export_scope(
        export_request(performed_by=monitor_a, kind="clinical_data", format="csv")
    ).arm_visible
    assert export_scope(
        export_request(performed_by=data_manager, kind="clinical_data", format="csv")
    ).arm_visible
    Study.objects.filter(pk=study.pk).update(blinded=False)
    assert export_scope(
        export_request(performed_by=monitor_a, kind="clinical_data", format="csv")
    ).arm_visible


def test_an_owner_who_lost_her_site_before_the_run_exports_nothing(monitor_a, site_a, export_media):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv", site="S01")
    monitor_a.memberships.all().delete()
    assert export_run(job_id=job.pk) == ExportStatus.FAILED
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert "no longer sees" in job.error
    assert not export_media.exists() or list(export_media.iterdir()) == []


def test_an_owner_whose_role_changed_before_the_run_exports_nothing(monitor_a):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    type(monitor_a).objects.filter(pk=monitor_a.pk).update(role="coordinator")
    assert export_run(job_id=job.pk) == ExportStatus.FAILED
    job.refresh_from_db()
    assert "may no longer export" in job.error


# -- running ------------------------------------------------------------------------------


@pytest.mark.requirement("CFR11-10B-ELECTRONIC", "API-EXPORT-STATUS")
def test_the_audit_trail_runs_through_celery_to_a_file_whose_checksum_matches(
    data_manager, participant_a, export_media, celery_eager, django_capture_on_commit_callbacks
):
    writer = FORMATS[("audit_trail", "csv")].write
    assert isinstance(writer, LazyWriter)
    assert writer.resolve() is write_audit_csv  # the real writer, nothing in its place
    with django_capture_on_commit_callbacks(execute=True):
        job = export_request(performed_by=data_manager, kind="audit_trail", format="csv")
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE, job.error
    path = file_of(job, export_media)
    assert path.name == f"{job.pk}.csv"
    assert job.checksum == sha256_of(path)
    assert job.size == path.stat().st_size
    assert job.chain_head == chain_head() and len(job.chain_head) == 64
    assert job.progress == 100
    assert job.attempts == 1
    assert job.finished_at is not None and job.started_at is not None
    assert job.expires_at == job.finished_at + dt.timedelta(days=7)

    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0][: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert job.row_count == len(rows) - 1 > 0
    subject_ids = {row[4] for row in rows[1:]}
    assert participant_a.subject_id in subject_ids
    assert list(export_media.glob(".*.part")) == []


@pytest.mark.requirement("CFR11-10B-ELECTRONIC")
@pytest.mark.parametrize(("kind", "format"), sorted(FORMATS))
def test_every_format_of_the_table_runs_as_a_job_to_a_file_whose_checksum_matches(
    kind, format, statistician, randomized, export_media, anchored
):
    # A casebook is one participant's; an archive one site's (signed and stamped).
    subject = randomized.subject_id if kind == "casebook" else None
    site = randomized.site if kind == "archive" else None
    job = export_request(
        performed_by=statistician, kind=kind, format=format, subject_id=subject, site=site
    )
    assert export_run(job_id=job.pk) == ExportStatus.DONE, job_state_error(job)
    job.refresh_from_db()
    path = file_of(job, export_media)
    assert path.suffix == FORMATS[(kind, format)].extension
    assert job.checksum == sha256_of(path)
    assert job.size == path.stat().st_size > 0
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            assert archive.namelist()
    elif path.suffix == ".xml":
        assert path.read_bytes().lstrip().startswith(b"<?xml")
    elif path.suffix == ".pdf":
        assert path.read_bytes().startswith(b"%PDF-")


def job_state_error(job: ExportJob) -> str:
    job.refresh_from_db()
    return job.error


@pytest.mark.requirement("CFR11-10D-ACCESS")
def test_a_monitors_audit_trail_holds_only_her_site(
    monitor_a, participant_a, participant_b, export_media, celery_eager
):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    assert export_run(job_id=job.pk) == ExportStatus.DONE
    text = file_of(job, export_media).read_text(encoding="utf-8")
    assert participant_a.subject_id in text
    assert participant_b.subject_id not in text


def test_running_a_finished_job_again_changes_nothing(monitor_a, export_media, register_format):
    register_format("audit_trail", "csv", lines_writer(5))
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    assert export_run(job_id=job.pk) == ExportStatus.DONE
    job.refresh_from_db()
    path = file_of(job, export_media)
    before = (path.stat().st_mtime_ns, job.checksum, job.finished_at, job.attempts)
    assert export_run(job_id=job.pk) == ExportStatus.DONE
    job.refresh_from_db()
    assert (path.stat().st_mtime_ns, job.checksum, job.finished_at, job.attempts) == before


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")
def test_a_job_left_running_by_a_dead_worker_is_written_again_from_the_start(
    monitor_a, export_media, register_format
):
    register_format("audit_trail", "csv", lines_writer(5))
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    stale = timezone.now() - HEARTBEAT_TIMEOUT * 2
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, attempts=1, progress=40, started_at=stale, heartbeat_at=stale
    )
    export_media.mkdir(parents=True)
    leftover = selectors.export_partial_path(job)
    leftover.write_bytes(b"half a file from the worker that died\n" * 1000)

    assert export_run(job_id=job.pk) == ExportStatus.DONE
    job.refresh_from_db()
    path = file_of(job, export_media)
    assert path.read_bytes().startswith(b"line 0 of sites")
    assert b"half a file" not in path.read_bytes()
    assert job.checksum == sha256_of(path)
    assert job.attempts == 2
    assert not leftover.exists()


def test_a_job_another_worker_is_running_is_skipped(monitor_a, register_format):
    register_format("audit_trail", "csv", lines_writer(5))
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", list(export_lock_key(job.pk)))
        assert selectors.export_is_being_run(job.pk)
        assert export_run(job_id=job.pk) == "busy"
        job.refresh_from_db()
        assert (job.status, job.attempts) == (ExportStatus.PENDING, 0)
    finally:
        other.close()
    # The server ends the closed session (and drops its locks) a moment later.
    deadline = time.monotonic() + 10
    while selectors.export_is_being_run(job.pk):
        assert time.monotonic() < deadline, "the lock outlived its session"
        time.sleep(0.05)


def test_a_writer_error_fails_the_job_with_a_message_and_logs_it(
    monitor_a, export_media, register_format, caplog
):
    register_format("audit_trail", "csv", lines_writer(5, fail_after=3))
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    with caplog.at_level(logging.ERROR, logger="ecrf.exports.services"):
        assert export_run(job_id=job.pk) == ExportStatus.FAILED
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert "RuntimeError" in job.error and "log" in job.error
    assert job.checksum == "" and job.file_name == ""
    assert list(export_media.glob("*")) + list(export_media.glob(".*")) == []
    assert any("the writer broke" in (r.exc_text or "") for r in caplog.records)
    # A failed job stays failed: a message delivered again does not run it.
    assert export_run(job_id=job.pk) == ExportStatus.FAILED


def test_a_lost_database_connection_puts_the_job_back_for_a_retry(
    monitor_a, export_media, register_format
):
    register_format(
        "audit_trail",
        "csv",
        lines_writer(5, fail_after=2, error=OperationalError("server closed the connection")),
    )
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(OperationalError):
            export_run(job_id=job.pk)
        job.refresh_from_db()
        assert (job.status, job.attempts) == (ExportStatus.PENDING, attempt)
        assert "OperationalError" in job.error
    with pytest.raises(OperationalError):
        export_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert str(MAX_ATTEMPTS) in job.error


def test_a_job_started_too_often_is_given_up(monitor_a, register_format):
    register_format("audit_trail", "csv", lines_writer(5))
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, attempts=MAX_ATTEMPTS)
    assert export_run(job_id=job.pk) == ExportStatus.FAILED
    job.refresh_from_db()
    assert "interrupted 3 times" in job.error


def test_an_unknown_job_is_nothing_to_do():
    assert export_run(job_id="00000000-0000-0000-0000-000000000000") == "missing"


# -- progress -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_progress_is_written_at_once_on_its_own_connection_while_the_writer_works(
    monitor_a, register_format, monkeypatch
):
    monkeypatch.setattr(services, "PROGRESS_INTERVAL", 0.0)
    seen: list[tuple[str, int]] = []

    def write(scope, out, *, progress, chain_head):
        for done in (25, 50, 75):
            out.write(b"x" * 10)
            progress(done, 100)
            # Read from a third connection: the update is committed, not pending.
            probe = connections.create_connection("default")
            try:
                with probe.cursor() as cursor:
                    cursor.execute(
                        "SELECT status, progress FROM exports_exportjob WHERE id = %s", [job.pk]
                    )
                    seen.append(cursor.fetchone())
            finally:
                probe.close()

    register_format("audit_trail", "csv", write)
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    assert seen == [("running", 25), ("running", 50), ("running", 75)]
    job.refresh_from_db()
    assert (job.status, job.progress, job.row_count) == (ExportStatus.DONE, 100, 75)


@pytest.mark.django_db(transaction=True)
def test_progress_is_not_written_per_row(monitor_a, register_format, monkeypatch):
    writes: list[int] = []
    real_call = services.ProgressReporter.__call__

    def counting(self, done, total):
        before = self._written_at
        real_call(self, done, total)
        if self._written_at != before:
            writes.append(done)

    monkeypatch.setattr(services.ProgressReporter, "__call__", counting)
    register_format("audit_trail", "csv", lines_writer(5000))
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    assert export_run(job_id=job.pk) == ExportStatus.DONE
    assert len(writes) <= 2


@pytest.mark.requirement("CFR11-10A-ALTERED", "API-EXPORT-STATUS")
@pytest.mark.django_db(transaction=True)
def test_the_stated_head_covers_exactly_the_rows_of_the_file(
    monitor_a, site_a, coordinator_a, export_media, monkeypatch
):
    ParticipantFactory(site=site_a, performed_by=coordinator_a)
    read_head = services._chain_head

    def head_then_a_change_committed_elsewhere() -> str:
        head = read_head()

        def enrol() -> None:
            try:
                ParticipantFactory(site=site_a, performed_by=coordinator_a)
            finally:
                connection.close()

        other = threading.Thread(target=enrol)
        other.start()
        other.join()
        return head

    monkeypatch.setattr(services, "_chain_head", head_then_a_change_committed_elsewhere)
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    assert export_run(job_id=job.pk) == ExportStatus.DONE
    content = file_of(job, export_media).read_text(encoding="utf-8-sig")
    subjects = {row["subject_id"] for row in csv.DictReader(io.StringIO(content))}
    # The second enrolment was committed after the export's snapshot: neither in the file
    # nor under its head, which the chain has since moved past.
    assert "S01-001" in subjects and "S01-002" not in subjects
    assert Participant.objects.filter(subject_id="S01-002").exists()
    assert job.chain_head != chain_head()
    assert chain_contains(job.chain_head)


# -- the beat job -------------------------------------------------------------------------


def test_the_beat_sweeps_exports_every_two_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-exports"]
    assert entry["task"] == "ecrf.exports.tasks.sweep_exports"
    assert entry["schedule"] == dt.timedelta(minutes=2)


def test_the_task_acks_late_and_retries_a_bounded_number_of_times():
    from ecrf.exports.tasks import run_export

    assert run_export.acks_late
    assert run_export.reject_on_worker_lost
    assert set(run_export.autoretry_for) >= {OperationalError}
    assert 0 < run_export.max_retries <= 5


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")
def test_the_sweeper_requeues_a_lost_pending_job_and_a_dead_running_one(
    monitor_a, register_format, celery_eager
):
    register_format("audit_trail", "csv", lines_writer(3))
    waiting = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    dead = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    fresh = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    now = timezone.now()
    ExportJob.objects.filter(pk=waiting.pk).update(queued_at=now - REQUEUE_PENDING_AFTER * 2)
    ExportJob.objects.filter(pk=dead.pk).update(
        status=ExportStatus.RUNNING, attempts=1, heartbeat_at=now - HEARTBEAT_TIMEOUT * 2
    )
    assert exports_sweep(now=now) == {"requeued": 2, "failed": 0, "expired": 0}
    for job in (waiting, dead, fresh):
        job.refresh_from_db()
    assert waiting.status == dead.status == ExportStatus.DONE
    assert dead.attempts == 2
    assert fresh.status == ExportStatus.PENDING
    assert exports_sweep(now=now) == {"requeued": 0, "failed": 0, "expired": 0}


def test_the_sweeper_leaves_a_slow_job_whose_worker_is_alive(monitor_a):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, attempts=1, heartbeat_at=now - HEARTBEAT_TIMEOUT * 5
    )
    worker = connections.create_connection("default")
    try:
        with worker.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", list(export_lock_key(job.pk)))
        assert exports_sweep(now=now) == {"requeued": 0, "failed": 0, "expired": 0}
    finally:
        worker.close()
    job.refresh_from_db()
    assert job.status == ExportStatus.RUNNING


def test_the_sweeper_gives_up_a_job_that_keeps_killing_workers(monitor_a, export_media):
    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING,
        attempts=MAX_ATTEMPTS,
        heartbeat_at=now - HEARTBEAT_TIMEOUT * 2,
    )
    export_media.mkdir(parents=True)
    selectors.export_partial_path(job).write_bytes(b"partial")
    assert exports_sweep(now=now) == {"requeued": 0, "failed": 1, "expired": 0}
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert "interrupted 3 times" in job.error
    assert not selectors.export_partial_path(job).exists()


@pytest.mark.requirement("ICH-E6R3-4.2.7-RETENTION")
def test_the_sweeper_deletes_expired_files(monitor_a, export_media, register_format):
    register_format("audit_trail", "csv", lines_writer(3))
    old = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    kept = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    for job in (old, kept):
        export_run(job_id=job.pk)
        job.refresh_from_db()
    later = old.expires_at + dt.timedelta(seconds=1)
    ExportJob.objects.filter(pk=kept.pk).update(expires_at=later + dt.timedelta(days=1))
    assert exports_sweep(now=later) == {"requeued": 0, "failed": 0, "expired": 1}
    old.refresh_from_db()
    kept.refresh_from_db()
    assert old.status == ExportStatus.EXPIRED
    assert not (export_media / old.file_name).exists()
    assert old.checksum  # the record of what was exported stays
    assert kept.status == ExportStatus.DONE and (export_media / kept.file_name).exists()


def test_file_names_come_from_the_job_never_from_the_request(monitor_a, site_a):
    job = export_request(
        performed_by=monitor_a, kind="audit_trail", format="csv", subject_id=None, site=site_a
    )
    assert selectors.export_path(job).name == f"{job.pk}.csv"
    assert selectors.export_path(job).parent.name == "exports"
