from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import BASE_DIR, subprocess_env


@dataclass
class Worker:
    """A real Celery worker process and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    def tasks_succeeded(self) -> int:
        return self.log.read_bytes().count(b" succeeded in ")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start real Celery workers on the test database, consuming only ``queue``.

    A queue of the test's own keeps messages of other test runs (or of a worker killed
    mid-task) out of this test. Extra keyword arguments become environment variables
    of the worker (an e-mail backend, say). Workers still running at the end are stopped.
    """
    workers: list[Worker] = []

    def start(*, queue: str, **env: str) -> Worker:
        name = f"w{len(workers) + 1}-{uuid.uuid4().hex[:8]}"
        log = tmp_path / f"worker-{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "ecrf",
                    "worker",
                    "--pool=solo",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    f"--queues={queue}",
                    f"--hostname={name}@%h",
                ],
                cwd=BASE_DIR,
                env=subprocess_env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process=process, log=log)
        workers.append(worker)
        deadline = time.monotonic() + 60
        while b" ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"The Celery worker did not start:\n{worker.log_text()}")
            time.sleep(0.2)
        return worker

    yield start
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.terminate()
    for worker in workers:
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


@pytest.fixture
def queue_name() -> str:
    """A Celery queue no other test run consumes."""
    return f"test-reminders-{uuid.uuid4().hex[:12]}"
