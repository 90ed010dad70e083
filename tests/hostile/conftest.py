"""The hostile-input suite: a Hypothesis profile and a scene of users of every role.

``make test`` runs the ``hostile`` profile: sixty generated cases for each form and
serializer (their share, for the slow ones) and thirty for each API operation under
schemathesis, some thousands in all. ``ECRF_HOSTILE_EXAMPLES=N`` sets the number per target
(e.g. 300 for a long run before a release).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient

from ecrf.accounts.models import User
from tests.conftest import sign_in
from tests.factories import api_key_for

settings.register_profile(
    "hostile",
    max_examples=int(os.environ.get("ECRF_HOSTILE_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
    print_blob=True,
    # CI runs the same cases every time (a red build names a bug, not bad luck); a run
    # elsewhere explores new ones.
    derandomize=bool(os.environ.get("CI") or os.environ.get("ECRF_FORBID_SKIPS")),
)
HOSTILE = settings.get_profile("hostile")

#: generated cases run in this session, by kind (printed at the end of the run)
GENERATED: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if GENERATED:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(GENERATED.items()))
        terminalreporter.write_line(
            f"hostile input: {sum(GENERATED.values())} generated cases ({parts})"
        )


def hostile_settings(weight: float = 1.0) -> settings:
    """The profile's settings, with a target's share of the examples."""
    examples = max(10, round((HOSTILE.max_examples or 0) * weight))
    return settings(HOSTILE, max_examples=examples)


class Scene:
    """Users of every role at site A, their signed-in clients, and the shared fixtures."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request
        self._users: dict[str, User] = {}

    def fx(self, name: str) -> Any:
        return self.request.getfixturevalue(name)

    def user(self, role: str) -> User:
        if role not in self._users:
            if role == "coordinator":
                self._users[role] = self.fx("coordinator_a")
            else:
                make_user: Callable[..., User] = self.fx("make_user")
                self._users[role] = make_user(role)
        return self._users[role]

    def web(self, role: str | None) -> Client:
        return Client() if role is None else sign_in(Client(), self.user(role))

    def api(self, role: str) -> APIClient:
        user = self.user(role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
        return client


@pytest.fixture
def scene(request: pytest.FixtureRequest, study: Any) -> Scene:
    return Scene(request)
