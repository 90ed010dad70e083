"""A burst of staff on the app of ``make run``: each user signs in as one of the demo users
and opens her home, the participant list and the health check with little pause; a
sign-in that does not redirect, or a page that does not answer 200, is a failure.

Every response's status is counted; when locust stops, the counts are written as JSON to
the file named by ``BURST_RESULTS``: requests, failures, and responses by status code
(0 for a request that got no response at all).
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from typing import Any

from locust import HttpUser, between, events, task

DEMO_USERS = itertools.cycle(
    ["coordinator1", "coordinator2", "investigator1", "monitor1", "datamanager1", "admin1"]
)
DEMO_PASSWORD = "Tacrolimus-Demo-2026"
STATUSES: Counter[int] = Counter()
TOTALS = {"requests": 0, "failures": 0}


@events.request.add_listener
def _count(response: Any, exception: Any, **_kwargs: Any) -> None:
    TOTALS["requests"] += 1
    TOTALS["failures"] += exception is not None
    STATUSES[getattr(response, "status_code", 0) or 0] += 1


@events.quitting.add_listener
def _write(**_kwargs: Any) -> None:
    with open(os.environ["BURST_RESULTS"], "w") as results:
        json.dump({**TOTALS, "statuses": {str(k): v for k, v in STATUSES.items()}}, results)


class Staff(HttpUser):
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        self.client.get("/accounts/login/", name="sign-in page")
        with self.client.post(
            "/accounts/login/",
            data={
                "username": next(DEMO_USERS),
                "password": DEMO_PASSWORD,
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
            },
            name="sign in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"{response.status_code}: not signed in")

    def page(self, path: str, name: str) -> None:
        """A page of a signed-in user: a redirect (to the sign-in page) is a failure."""
        with self.client.get(
            path, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} instead of the page")

    @task(3)
    def home(self) -> None:
        self.page("/", "home")

    @task(3)
    def participants(self) -> None:
        self.page("/participants/", "participant list")

    @task(1)
    def health(self) -> None:
        self.page("/healthz", "health check")
