"""schemathesis over the published OpenAPI document, against a live gunicorn process.

The server runs on a free loopback port against the test database, holding committed
data: participants of site A at every stage of the core flow, one of site B, queries open,
answered and closed, and an export of each role that may ask for one. Each operation is
called as each role the authorization matrix (``ACCESS``) allows to call it, with
generated (valid and invalid) input; path parameters are mostly those of real objects of
the kind the route takes (``ROUTES``), the caller's own where only the owner sees them,
so the bodies reach the services. Checks: no 5xx, every documented answer conforms to
its schema and content type, and every operation is reached (an answer other than
401/403/404/405) by at least one of its roles, so that an operation only a monitor or a
data manager may call is not seen only answering 403.
"""

from __future__ import annotations

import math
import re
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from django.urls import Resolver404, resolve
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from ecrf.accounts.models import User
from ecrf.common import catalogue
from ecrf.exports.services import export_request
from ecrf.queries.services import query_close, query_open, query_respond
from tests.conftest import BASE_DIR, subprocess_env
from tests.core.test_authorization_matrix import ACCESS, ROLES
from tests.core.test_site_isolation import ROUTES
from tests.factories import api_key_for

from .conftest import GENERATED, HOSTILE

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.requirement(
        "ICH-E6R3-4.3.3-HOSTILE", "API-OPENAPI", "API-CONV-400-FIELDS", "CFR11-10D-ACCESS"
    ),
]

#: examples per operation (the fuzzing phase), shared among the roles that may call it
#: (each gets at least the floor); ECRF_HOSTILE_EXAMPLES scales it
MAX_EXAMPLES = max(10, (HOSTILE.max_examples or 0) // 2)
MIN_EXAMPLES_PER_ROLE = 8
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
#: answers that say the call never got past authentication, permission or routing
NOT_REACHED = frozenset({401, 403, 404, 405})
PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


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


@dataclass(frozen=True)
class Callers:
    """A user of each role at site A, and the real objects each may name in a path."""

    users: dict[str, User]
    shared: dict[str, list[Any]]
    """Objects any role may name, by kind (those of another site included: 404 is right)."""
    owned: dict[str, dict[str, list[Any]]]
    """Objects only their owner sees (``hidden`` routes), by kind and then role."""
    keys: dict[str, str]

    def ids(self, kind: str, role: str) -> list[Any]:
        objects = self.owned.get(kind, {}).get(role) or self.shared.get(kind, [])
        return [str(o.pk) for o in objects]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Token {self.keys[role]}"}


@pytest.fixture
def callers(
    transferred: Any,
    participant_a: Any,
    participant_b: Any,
    ready_participant: Any,
    coordinator_a: User,
    make_user: Any,
) -> Callers:
    users = {role: coordinator_a if role == "coordinator" else make_user(role) for role in ROLES}
    monitor = users["monitor"]

    def query() -> Any:
        return query_open(
            participant=ready_participant(),
            record="consent",
            field="consent_date",
            text="Please check the date against the signed form.",
            performed_by=monitor,
        )

    opened, answered, closed = query(), query(), query()
    for done in (answered, closed):
        query_respond(query=done, text="Checked: correct.", performed_by=coordinator_a)
    query_close(query=closed, text="Resolved.", performed_by=monitor)
    exports_by_role = {
        role: [export_request(performed_by=user, kind="audit_trail", format="csv")]
        for role, user in users.items()
        if role in ACCESS["export-list"].allowed["post"]
    }
    return Callers(
        users=users,
        shared={
            "participant": [
                transferred,
                participant_a,
                participant_b,
                opened.participant,
                closed.participant,
            ],
            "query": [opened, answered, closed],
        },
        owned={"export": exports_by_role},
        keys={role: api_key_for(user) for role, user in users.items()},
    )


#: values that fill a path parameter well enough to find its route: a number, a UUID
PARAMETER_SAMPLES = ("1", str(uuid.UUID(int=1)))


def route_of(path_template: str) -> str:
    """The name of the route an OpenAPI path template is served by."""
    for sample in PARAMETER_SAMPLES:
        try:
            return resolve(PATH_PARAMETER.sub(sample, path_template)).view_name
        except Resolver404:
            continue
    raise AssertionError(f"No route serves {path_template}")


def kind_of_route(name: str) -> str | None:
    kind = ROUTES[name]
    return kind[0] if isinstance(kind, tuple) else kind


def roles_allowed(operation: Any) -> frozenset[str]:
    """The roles the authorization matrix lets call the operation."""
    name = route_of(operation.path)
    assert name in ACCESS, f"{operation.label}: route {name} is missing from ACCESS"
    rule = ACCESS[name]
    method = operation.method.lower()
    assert method in rule.allowed, (
        f"{operation.label}: documented, but the authorization matrix says {method} is not taken"
    )
    return rule.allowed[method]


FORM_CODES = [form.code for form in catalogue.FORMS]


def _operation_test(
    operation: Any,
    real_ids: list[Any],
    headers: dict[str, str],
    examples: int,
    answers: set[int],
) -> Any:
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    real_id = st.sampled_from(real_ids) if real_ids else st.none()

    @settings(HOSTILE, max_examples=examples)
    @given(
        case=strategy,
        real=st.one_of(st.tuples(real_id, st.sampled_from(FORM_CODES)), st.none()),
    )
    def run(case: Any, real: tuple[Any, str] | None) -> None:
        GENERATED["schemathesis calls"] += 1
        parameters = case.path_parameters or {}
        if real is not None:
            if "id" in parameters and real[0] is not None:
                parameters["id"] = real[0]
            if "code" in parameters:
                parameters["code"] = real[1]
        response = case.call(headers=headers, timeout=30)
        answers.add(response.status_code)
        case.validate_response(
            response,
            checks=CHECKS,
            headers=headers,
            transport_kwargs={"headers": headers, "timeout": 30},
        )

    return run


def test_each_role_calls_the_operations_it_may_and_gets_documented_answers_without_5xx(
    live_server_process: str, callers: Callers
) -> None:
    """Every operation, as each role allowed to call it, valid and invalid input alike."""
    schema = schemathesis.openapi.from_url(
        f"{live_server_process}/api/schema/?format=json", timeout=60
    )
    failures: dict[str, str] = {}
    answers: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        roles = sorted(roles_allowed(operation))
        kind = kind_of_route(route_of(operation.path))
        examples = max(MIN_EXAMPLES_PER_ROLE, math.ceil(MAX_EXAMPLES / len(roles)))
        for role in roles:
            real_ids = callers.ids(kind, role) if kind else []
            seen = answers[operation.label][role]
            try:
                _operation_test(operation, real_ids, callers.headers(role), examples, seen)()
            except (Exception, BaseExceptionGroup) as exc:  # every call is tried; all shown
                failures[f"{operation.label} as {role}"] = str(exc)[:3000]
    assert operations >= 20
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    unreached = {
        label: {role: sorted(codes) for role, codes in by_role.items()}
        for label, by_role in answers.items()
        if all(codes <= NOT_REACHED for codes in by_role.values())
    }
    assert unreached == {}, f"operations no allowed role got past 401/403/404/405: {unreached}"
