from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.sql
import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models.signals import post_migrate
from django.test import Client
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from ecrf.accounts.models import User
from ecrf.audit import anchor
from ecrf.home.services import study_setup_trial
from ecrf.participants.models import Participant
from ecrf.participants.services import consent_record, eligibility_record
from ecrf.review.services import audit_index_update
from ecrf.studies import trial as trial_design
from ecrf.studies.models import Site, Study

from .databases import clone_test_database, drop_test_database, url_of
from .factories import ELIGIBLE_ANSWERS, ParticipantFactory, UserFactory, api_key_for
from .trial_builder import TrialBuilder
from .tsa import LoopbackTSA

BASE_DIR = Path(__file__).resolve().parent.parent
ARTIFACTS = BASE_DIR / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")

#: Requirement-to-test traceability (traceability/requirements.yaml), and pytester for its tests.
pytest_plugins = ["tests.traceability", "pytester"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    """In CI (ECRF_FORBID_SKIPS=1) a skipped or expected-to-fail test is a failed test."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("ECRF_FORBID_SKIPS") == "1":
        if hasattr(report, "wasxfail"):
            report.outcome = "failed"
            report.longrepr = f"Expected failures are not allowed in CI: {report.wasxfail}"
            del report.wasxfail
            return
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"Skipped tests are not allowed in CI: {reason}"


# -- one broker per xdist worker ------------------------------------------------------


def xdist_worker_number() -> int | None:
    """The number of this pytest-xdist worker (gw0 is 0); None when not under xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else None


def worker_broker_url(broker_url: str, number: int) -> str:
    """The broker of xdist worker ``number``: Redis database ``N + number`` of the configured
    Redis database N, or a PostgreSQL database of its own beside the configured one for
    kombu's SQLAlchemy transport. A real Celery worker a test starts is given the same URL,
    so it never consumes the messages of a test running on another xdist worker."""
    parts = urlsplit(broker_url)
    if parts.scheme in {"redis", "rediss"}:
        base = int(parts.path.strip("/") or 0)
        if base + number > 15:
            raise pytest.UsageError(
                f"Redis database {base} + {number} for xdist worker gw{number} is past 15: "
                "run fewer workers or give CELERY_BROKER_URL a lower database number"
            )
        return urlunsplit(parts._replace(path=f"/{base + number}"))
    if parts.scheme.startswith("sqla+"):
        name = f"{parts.path.strip('/')}_broker_gw{number}"
        server = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
        with psycopg.connect(server, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if exists.fetchone() is None:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
                )
        return urlunsplit(parts._replace(path=f"/{name}"))
    return broker_url


def pytest_configure(config: pytest.Config) -> None:
    number = xdist_worker_number()
    if number is None:
        return
    from ecrf.celery import app

    settings.CELERY_BROKER_URL = worker_broker_url(settings.CELERY_BROKER_URL, number)
    # Celery reads the variable before its configuration: both name this worker's broker.
    os.environ["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    app.conf.broker_url = settings.CELERY_BROKER_URL


# -- study, sites, users ---------------------------------------------------------------


def trial_build() -> Study:
    """The trial of the tests: the study, its arms and visits, and sites S01 and S02 with
    their activated randomization lists, set up through the service as ``setup_trial`` does."""
    study, _ = study_setup_trial(sites=list(trial_design.SITES[:2]), performed_by=None)
    return study


class TrialKeeper:
    """Keeps the session's trial in the test database.

    The trial is built and committed once per session (``django_db_setup``); each test
    runs in a transaction rolled back at its end, so it finds the trial as built. A test
    on the real transactions (``transactional_db``, ``live_server``, real processes)
    empties the database at its end (a flush, which ends with ``post_migrate``): the
    trial is then built again, through the same service and its audit triggers, before
    the next test that asks for it.
    """

    def __init__(self) -> None:
        self.blocker: Any = None
        self.flushed = False

    def database_flushed(self, **kwargs: Any) -> None:
        self.flushed = True

    def build(self, blocker: Any) -> None:
        self.blocker = blocker
        with blocker.unblock():
            trial_build()
            # Reviewers read the trail through its index, kept current by beat.
            audit_index_update()
        self.flushed = False

    def restore(self) -> None:
        if self.flushed and self.blocker is not None:
            self.build(self.blocker)


TRIAL = TrialKeeper()
post_migrate.connect(TRIAL.database_flushed, dispatch_uid="tests-trial-flushed")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """This worker's test database (named with its xdist suffix), a fresh copy of the
    migrated template (:mod:`tests.databases`), which Django then keeps and finds up to
    date (``django_db_keepdb``)."""
    clone_test_database(subprocess_env())


@pytest.fixture(scope="session")
def django_db_keepdb() -> bool:
    return True


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The test database, migrated, with the trial built once for the whole session;
    dropped at the end of the session."""
    TRIAL.build(django_db_blocker)
    yield
    drop_test_database(connection.settings_dict["NAME"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # Before the test's own fixtures: its transaction must start with the trial there.
    if "trial_built" in getattr(item, "fixturenames", ()):
        TRIAL.restore()
    return (yield)


@lru_cache(maxsize=1)
def _empty_database_sql() -> tuple[str, ...]:
    tables = connection.introspection.django_table_names(only_existing=True)
    return tuple(connection.ops.sql_flush(no_style(), tables))


def _transactional(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )


@pytest.fixture(autouse=True)
def _default_language() -> None:
    """Each test starts in the installation's language: a request of a Japanese user
    leaves Japanese active in the thread that served it, as the middleware sets it for
    every request and never resets it."""
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _trial_only_where_asked(request: pytest.FixtureRequest) -> None:
    """A test that does not ask for the trial (``study``, ``trial_built``) finds an empty
    database, as it did before the trial was built once per session (a transactional
    test finds the trial unless a flush removed it).

    Within its own transaction, all tables are emptied (TRUNCATE is transactional in
    PostgreSQL): the rollback at the end of the test brings the trial back.
    """
    uses_database = request.node.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not uses_database or "trial_built" in request.fixturenames or _transactional(request):
        return
    if TRIAL.flushed:
        return  # emptied already, by the flush after a transactional test
    request.getfixturevalue("_django_db_helper")
    with connection.cursor() as cursor:
        for statement in _empty_database_sql():
            cursor.execute(statement)


@pytest.fixture(scope="session")
def trial_built(django_db_setup: None) -> None:
    """The trial is in the database: a test or fixture that builds on it asks for this
    (``study`` does); a test that does not finds an empty database."""


@pytest.fixture
def study(db: None, trial_built: None) -> Study:
    return Study.objects.get(code=trial_design.STUDY_CODE)


@contextmanager
def module_transaction(django_db_blocker: Any) -> Iterator[None]:
    """A transaction around a whole module's tests, rolled back at its end.

    What a module-scoped fixture writes inside it is seen by each test of the module;
    each test's own transaction is a savepoint within it, rolled back after the test,
    so every test starts from the same data. Marked as a test case's transaction, as
    Django's ``TestCase.setUpTestData`` does, so that a service's durable block inside
    a test is allowed as it is in any other test.
    """
    atomic = transaction.atomic()
    atomic._from_testcase = True  # type: ignore[attr-defined]
    with django_db_blocker.unblock():
        atomic.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def site_a(study: Study) -> Site:
    return Site.objects.get(code="S01")


@pytest.fixture
def site_b(study: Study) -> Site:
    return Site.objects.get(code="S02")


def study_user(role: str, sites: list[str] | None = None, **kwargs: Any) -> User:
    """A user of ``role``: of site S01 for a site-bound role unless ``sites`` says otherwise."""
    site_codes = (
        sites
        if sites is not None
        else (["S01"] if role in {"coordinator", "investigator", "monitor"} else [])
    )
    return UserFactory(role=role, site_codes=site_codes, **kwargs)


def eligible_consented(site: Site, coordinator: User, **answers: Any) -> Participant:
    """A participant of ``site`` who is eligible and has consented."""
    participant = ParticipantFactory(site=site, performed_by=coordinator)
    eligibility_record(
        participant=participant,
        answers={**ELIGIBLE_ANSWERS, **answers},
        performed_by=coordinator,
    )
    consent_record(
        participant=participant,
        consent_date=participant.screening_date + dt.timedelta(days=1),
        consent_version="1.0",
        performed_by=coordinator,
    )
    participant.refresh_from_db()
    return participant


def randomized_on_20_february(site: Site, coordinator: User) -> Participant:
    """A participant of ``site`` randomized on 2026-02-20, Tokyo time."""
    from randomization.services import participant_randomize

    from .clock import at

    with at("2026-02-20"):
        participant = eligible_consented(site, coordinator)
        participant_randomize(
            participant=participant, idempotency_key="randomized", performed_by=coordinator
        )
    participant.refresh_from_db()
    return participant


def transfer_planned_on_1_march(participant: Participant, coordinator: User) -> Participant:
    """Her embryo transfer planned (on 2026-02-21) for 2026-03-01."""
    from ecrf.schedule.services import embryo_transfer_set

    from .clock import at

    with at("2026-02-21"):
        embryo_transfer_set(
            participant=participant,
            et_date=dt.date(2026, 3, 1),
            performed=False,
            performed_by=coordinator,
        )
    return participant


@pytest.fixture
def make_user(study: Study) -> Callable[..., User]:
    return study_user


@pytest.fixture
def coordinator_a(make_user: Callable[..., User]) -> User:
    return make_user("coordinator", ["S01"], username="coordinator_a")


@pytest.fixture
def coordinator_b(make_user: Callable[..., User]) -> User:
    return make_user("coordinator", ["S02"], username="coordinator_b")


@pytest.fixture
def participant_a(site_a: Site, coordinator_a: User) -> Any:
    return ParticipantFactory(site=site_a, performed_by=coordinator_a)


@pytest.fixture
def participant_b(site_b: Site, coordinator_b: User) -> Any:
    return ParticipantFactory(site=site_b, performed_by=coordinator_b)


@pytest.fixture
def ready_participant(site_a: Any, coordinator_a: Any) -> Callable[..., Participant]:
    """A participant of site A who is eligible and has consented."""

    def make(site: Any = None, coordinator: Any = None, **answers: Any) -> Participant:
        return eligible_consented(site or site_a, coordinator or coordinator_a, **answers)

    return make


@pytest.fixture
def randomized(site_a: Site, coordinator_a: User) -> Participant:
    """A participant of site A randomized on 2026-02-20, Tokyo time."""
    return randomized_on_20_february(site_a, coordinator_a)


@pytest.fixture
def transferred(randomized: Participant, coordinator_a: User) -> Participant:
    """The randomized participant with her embryo transfer planned on 2026-03-01."""
    return transfer_planned_on_1_march(randomized, coordinator_a)


# -- signed-in clients -----------------------------------------------------------------


def sign_in(client: Client, user: User) -> Client:
    """Sign in with a confirmed second factor, as a real session would be."""
    client.force_login(user)
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="test", defaults={"confirmed": True}
    )
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def biochemical(api_for: Callable[[User], APIClient], coordinator_a: User, transferred: Any) -> Any:
    """The transferred participant with her serum hCG (140 mIU/mL, positive) entered
    through the API on 2026-03-15."""
    from .clock import at

    with at("2026-03-15"):
        response = api_for(coordinator_a).put(
            f"/api/v1/participants/{transferred.pk}/biochemical-pregnancy/",
            {"assessed_on": "2026-03-15", "serum_hcg_miu_ml": 140, "result": "positive"},
            format="json",
        )
    assert response.status_code == 200, response.content
    return transferred


@pytest.fixture
def client_for(db: None) -> Callable[[User], Client]:
    return lambda user: sign_in(Client(), user)


@pytest.fixture
def api_for(db: None) -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
        return client

    return make


@pytest.fixture
def celery_eager() -> Iterator[None]:
    """Run queued tasks inline, for tests about what a task does rather than how it travels."""
    from ecrf.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


# -- real processes --------------------------------------------------------------------


def database_url() -> str:
    """A URL for the database the tests are using right now (the test database)."""
    return url_of(connection.settings_dict, connection.settings_dict["NAME"])


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE="ecrf.settings.test",
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        PYTHONPATH=str(BASE_DIR),
    )
    env.update(extra)
    return env


def run_manage(*args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` in a separate process on the test database."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"manage.py {args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def wait_for(
    condition: Callable[[], Any],
    *,
    what: str,
    workers: Iterable[Worker] = (),
    timeout: float = 90,
) -> Any:
    """Poll ``condition`` until it answers something true, and answer that; fail naming
    ``what`` if it never does, with the logs of the ``workers`` involved."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            logs = "\n\n".join(w.log_text() for w in workers)
            pytest.fail(f"Timed out waiting for {what}.\n{logs}")
        time.sleep(0.05)
    return result


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


@pytest.fixture
def celery_worker(start_worker: Callable[..., Worker]) -> Worker:
    """A real Celery worker consuming the default queue of the configured broker."""
    from ecrf.celery import app

    return start_worker(queue=app.conf.task_default_queue)


# -- a real browser --------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def screenshot_dir(request: pytest.FixtureRequest) -> Path:
    path = ARTIFACTS / "screenshots" / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def tsa() -> Iterator[LoopbackTSA]:
    """A real RFC 3161 time-stamping authority on the loopback (:mod:`tests.tsa`)."""
    with LoopbackTSA() as authority:
        yield authority


@pytest.fixture
def anchored(settings: Any, tmp_path: Path, tsa: LoopbackTSA) -> LoopbackTSA:
    """The installation's signing key in a file, the loopback authority and its root."""
    key = tmp_path / "archive.pem"
    key.write_bytes(anchor.new_signing_key_pem())
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(tsa.root.public_bytes(serialization.Encoding.PEM))
    settings.ARCHIVE_KEY_FILE = str(key)
    settings.ARCHIVE_KEY = ""
    settings.TSA_URL = tsa.url
    settings.TSA_ROOT_CERTS = str(roots)
    return tsa


@pytest.fixture
def trial(study: Study, coordinator_a: User, coordinator_b: User) -> TrialBuilder:
    """Participants made as sites make them, at S01 and S02 (:mod:`tests.trial_builder`)."""
    return TrialBuilder(coordinators={"S01": coordinator_a, "S02": coordinator_b})
