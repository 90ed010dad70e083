"""A worker killed in the middle of an export does not lose it (real broker, real workers)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal

import pytest
from django.utils import timezone

from ecrf.exports import selectors
from ecrf.exports.models import ExportJob, ExportStatus
from ecrf.exports.services import HEARTBEAT_TIMEOUT, export_request, exports_sweep

from ..conftest import wait_for
from .slow_format import expected_bytes

pytestmark = [pytest.mark.needs_broker, pytest.mark.django_db(transaction=True)]


def job_state(job: ExportJob) -> ExportJob:
    job.refresh_from_db()
    return job


@pytest.fixture
def worker_env(settings) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.exports.worker_settings",
        "EXPORT_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SLOW_EXPORT_LINES": "60",
        "SLOW_EXPORT_SECONDS_PER_LINE": "0.1",
    }


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")
def test_a_worker_killed_mid_export_leaves_the_job_to_finish_once(
    monitor_a, start_worker, queue_name, worker_env, settings, export_media
):
    settings.EXPORT_QUEUE = queue_name
    first = start_worker(queue=queue_name, **worker_env)

    job = export_request(performed_by=monitor_a, kind="audit_trail", format="csv")
    # Killed mid-export: running, some progress written, part of the file on disk.
    wait_for(
        lambda: job_state(job).status == ExportStatus.RUNNING and job.progress > 0,
        what="the export to be under way",
        workers=[first],
    )
    assert job.progress < 100
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    partial = selectors.export_partial_path(job)
    assert partial.exists()
    # What a killed worker may leave in its file besides what its buffers held.
    with partial.open("ab") as leftover:
        leftover.write(b"half a line from the killed worker")
    assert job_state(job).status == ExportStatus.RUNNING
    assert b" succeeded in " not in first.log.read_bytes()

    # Its message waits for the broker's visibility timeout (an hour); the beat job
    # (called here directly, as if the heartbeat had gone stale) queues the job again
    # once PostgreSQL has dropped the dead worker's session and its lock.
    second = start_worker(queue=queue_name, **worker_env)
    later = timezone.now() + HEARTBEAT_TIMEOUT + dt.timedelta(seconds=1)
    wait_for(
        lambda: exports_sweep(now=later)["requeued"] == 1,
        what="the sweeper to find the dead worker's job",
        workers=[second],
    )
    wait_for(
        lambda: job_state(job).status == ExportStatus.DONE,
        what="the second run",
        workers=[second],
    )
    wait_for(lambda: second.tasks_succeeded() >= 1, what="the task to end", workers=[second])

    # Written once, from the start, over what the killed worker left.
    path = export_media / job.file_name
    content = path.read_bytes()
    assert content == expected_bytes()
    assert job.checksum == hashlib.sha256(content).hexdigest()
    assert job.size == len(content)
    assert (job.attempts, job.progress, job.row_count) == (2, 100, 60)
    assert not partial.exists()
    assert job.error == ""

    # Nothing is left to do: the beat finds nothing, and the job stays done.
    assert exports_sweep(now=later)["requeued"] == 0
    assert job_state(job).status == ExportStatus.DONE
    assert second.tasks_succeeded() == 1
