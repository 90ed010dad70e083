from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from ecrf.accounts.models import User
from ecrf.accounts.services import api_token_issue
from ecrf.home.services import study_setup_trial
from ecrf.participants.models import Participant
from ecrf.participants.services import consent_record, eligibility_record
from ecrf.studies import trial
from ecrf.studies.models import Site, Study

from .factories import ELIGIBLE_ANSWERS, ParticipantFactory, UserFactory

BASE_DIR = Path(__file__).resolve().parent.parent
ARTIFACTS = BASE_DIR / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")

#: Requirement-to-test traceability (traceability/requirements.yaml).
pytest_plugins = ["tests.traceability"]


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


# -- study, sites, users ---------------------------------------------------------------


@pytest.fixture
def study(db: None) -> Study:
    study, _ = study_setup_trial(sites=list(trial.SITES[:2]), performed_by=None)
    return study


@pytest.fixture
def site_a(study: Study) -> Site:
    return Site.objects.get(code="S01")


@pytest.fixture
def site_b(study: Study) -> Site:
    return Site.objects.get(code="S02")


@pytest.fixture
def make_user(study: Study) -> Callable[..., User]:
    def make(role: str, sites: list[str] | None = None, **kwargs: Any) -> User:
        site_codes = (
            sites
            if sites is not None
            else (["S01"] if role in {"coordinator", "investigator", "monitor"} else [])
        )
        return UserFactory(role=role, site_codes=site_codes, **kwargs)

    return make


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
        site = site or site_a
        coordinator = coordinator or coordinator_a
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

    return make


@pytest.fixture
def randomized(ready_participant: Callable[..., Participant], coordinator_a: User) -> Participant:
    """A participant of site A randomized on 2026-02-20, Tokyo time."""
    from randomization.services import participant_randomize

    from .clock import at

    with at("2026-02-20"):
        participant = ready_participant()
        participant_randomize(
            participant=participant, idempotency_key="randomized", performed_by=coordinator_a
        )
    participant.refresh_from_db()
    return participant


@pytest.fixture
def transferred(randomized: Participant, coordinator_a: User) -> Participant:
    """The randomized participant with her embryo transfer planned on 2026-03-01."""
    from ecrf.schedule.services import embryo_transfer_set

    from .clock import at

    with at("2026-02-21"):
        embryo_transfer_set(
            participant=randomized,
            et_date=dt.date(2026, 3, 1),
            performed=False,
            performed_by=coordinator_a,
        )
    return randomized


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
def client_for(db: None) -> Callable[[User], Client]:
    return lambda user: sign_in(Client(), user)


@pytest.fixture
def api_for(db: None) -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.credentials(
            HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user, performed_by=user).key}"
        )
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
    db = connection.settings_dict
    user = quote(db["USER"] or "")
    password = quote(db["PASSWORD"] or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db["HOST"] or db.get("OPTIONS", {}).get("host", "")
    if host.startswith("/"):
        return f"postgresql://{auth}/{db['NAME']}?host={quote(host)}" + (
            f"&port={db['PORT']}" if db["PORT"] else ""
        )
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{auth}{host}{port}/{db['NAME']}"


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


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process consuming the configured broker, on the test database."""
    log = tmp_path / "worker.log"
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
            ],
            cwd=BASE_DIR,
            env=subprocess_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b" ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The Celery worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


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
