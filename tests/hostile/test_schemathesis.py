"""schemathesis over the published OpenAPI document, against a live gunicorn process.

The server runs on a free loopback port against the test database, holding committed
data: participants of site A at every stage of the core flow, one of site B, and a query.
A coordinator of site A calls every operation with generated (valid and invalid) input;
path ids are mostly those of real objects, so the bodies reach the services. Checks: no
5xx, and every documented answer conforms to its schema and content type.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from ecrf.accounts.services import api_token_issue
from ecrf.queries.services import query_open
from tests.conftest import BASE_DIR, subprocess_env

from .conftest import GENERATED, HOSTILE

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.requirement("ICH-E6R3-4.3.3-HOSTILE", "API-OPENAPI", "API-CONV-400-FIELDS"),
]

#: examples per operation (the fuzzing phase); ECRF_HOSTILE_EXAMPLES scales it
MAX_EXAMPLES = max(10, (HOSTILE.max_examples or 0) // 2)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server_process(tmp_path: Path, transactional_db: None) -> Iterator[str]:
    """gunicorn serving the app on a loopback port, on the test database."""
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "ecrf.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--timeout",
                "60",
            ],
            cwd=BASE_DIR,
            env=subprocess_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base_url}/api/schema/", timeout=60)
            break
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start:\n{log.read_text()}")
            time.sleep(0.3)
    yield base_url
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    errors = [line for line in log.read_text().splitlines() if "Internal Server Error" in line]
    assert not errors, "\n".join(errors)


@pytest.fixture
def known_ids(
    transferred: Any,
    participant_a: Any,
    participant_b: Any,
    ready_participant: Any,
    make_user: Any,
) -> list[int]:
    """Ids of real objects: participants of site A at several stages, one of site B, a query."""
    query = query_open(
        participant=ready_participant(),
        record="consent",
        field="consent_date",
        text="Please check the date against the signed form.",
        performed_by=make_user("monitor"),
    )
    return [transferred.pk, participant_a.pk, participant_b.pk, query.pk, query.participant_id]


def _operation_test(operation: Any, known: list[int], headers: dict[str, str]) -> Any:
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(HOSTILE, max_examples=MAX_EXAMPLES)
    @given(case=strategy, real_id=st.one_of(st.sampled_from(known), st.none()))
    def run(case: Any, real_id: int | None) -> None:
        GENERATED["schemathesis calls"] += 1
        if real_id is not None and "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = real_id
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    return run


def test_the_api_answers_generated_requests_without_5xx_and_as_documented(
    live_server_process: str, coordinator_a: Any, known_ids: list[int]
) -> None:
    """Every operation, as a coordinator of site A, valid and invalid input alike."""
    key = api_token_issue(user=coordinator_a, performed_by=coordinator_a).key
    schema = schemathesis.openapi.from_url(
        f"{live_server_process}/api/schema/?format=json", timeout=60
    )
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            _operation_test(operation, known_ids, {"Authorization": f"Token {key}"})()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is tried; all shown
            failures[operation.label] = str(exc)[:3000]
    assert operations >= 20
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
