"""Every site entering data at once, and monitors reading and exporting.

Coordinators (two per site) open a participant's treatment page and record a day of her
dose diary, or open the biochemical pregnancy form and save it (first entry, then
corrections with their reason); now and then they post to the bare view that does one
insert on the same stack, the baseline of ``data_entry_latency``. Monitors page through
the screening log, open casebooks and audit histories, and ask for a clinical data
export through the API, poll it until the Celery worker has written it, and download it.

The plan (users, password, participants, days) comes from the file named by
``LOADTEST_PLAN``, written by ``loadtest/run.py``; every request's time after all users
have started is written to ``LOADTEST_SAMPLES`` when locust stops.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections import defaultdict, deque
from typing import Any

from locust import HttpUser, between, events, task

with open(os.environ["LOADTEST_PLAN"]) as plan_file:
    PLAN: dict[str, Any] = json.load(plan_file)

SAVE_DOSE = "save: dose diary"
SAVE_ENDPOINT = "save: biochemical pregnancy"
BARE_INSERT = "bare insert"

#: The dose diary intakes still to enter and the endpoint forms still to save, per site.
DOSES = {
    site: deque(
        (pk, day, intake)
        for day in PLAN["dose_days"]
        for intake in ("morning", "evening")
        for pk in pks
    )
    for site, pks in PLAN["participants"].items()
}
FIRST_ENDPOINTS = {site: deque(pks) for site, pks in PLAN["participants"].items()}
CORRECTIONS = {site: itertools.cycle(pks) for site, pks in PLAN["participants"].items()}
COORDINATORS = itertools.cycle(PLAN["coordinators"])
MONITORS = itertools.cycle(PLAN["monitors"])

SAMPLES: dict[str, list[float]] = defaultdict(list)
FAILURES: dict[str, int] = defaultdict(int)
#: Samples are kept once every user has signed in: the sign-ins' password hashing is the
#: start-up of the test, not the data entry it measures.
STEADY = {"signed_in": 0, "steady": False}


@events.request.add_listener
def _sample(name: str, response_time: float, exception: Any, **_kwargs: Any) -> None:
    if not STEADY["steady"]:
        return
    if exception is None:
        SAMPLES[name].append(response_time)
    else:
        FAILURES[name] += 1


@events.quitting.add_listener
def _write_samples(**_kwargs: Any) -> None:
    path = os.environ.get("LOADTEST_SAMPLES")
    if path:
        with open(path, "w") as samples_file:
            json.dump({"times": SAMPLES, "failures": FAILURES}, samples_file)


class StudyUser(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    username = ""

    def sign_in(self, username: str) -> None:
        self.client.get("/accounts/login/", name="page: sign-in")
        response = self.client.post(
            "/accounts/login/",
            data={
                "username": username,
                "password": PLAN["password"],
                "csrfmiddlewaretoken": self.csrf_token(),
            },
            name="sign in",
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(f"{username} could not sign in ({response.status_code})")
        STEADY["signed_in"] += 1
        if STEADY["signed_in"] >= self.environment.parsed_options.num_users:
            STEADY["steady"] = True

    def csrf_token(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def post_form(self, path: str, data: dict[str, Any], name: str) -> None:
        """A form post that succeeds by redirecting (302); anything else is a failure."""
        with self.client.post(
            path,
            data={**data, "csrfmiddlewaretoken": self.csrf_token()},
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code == 302:
                response.success()
            else:
                response.failure(f"{response.status_code}: the form was not saved")


class Coordinator(StudyUser):
    weight = 5

    def on_start(self) -> None:
        self.username, self.site = next(COORDINATORS)
        self.sign_in(self.username)

    @task(4)
    def enter_dose(self) -> None:
        try:
            participant, day, intake = DOSES[self.site].popleft()
        except IndexError:
            return
        self.client.get(f"/participants/{participant}/treatment/", name="page: treatment")
        self.post_form(
            f"/participants/{participant}/treatment/dose/",
            {
                "date": day,
                "intake": intake,
                "taken": "True",
                "dose_mg": "",
                "time_taken": "08:30",
                "comment": "",
            },
            SAVE_DOSE,
        )

    @task(2)
    def enter_endpoint(self) -> None:
        try:
            participant, reason = FIRST_ENDPOINTS[self.site].popleft(), ""
        except IndexError:
            participant = next(CORRECTIONS[self.site])
            reason = "Value corrected from the laboratory report"
        path = f"/participants/{participant}/endpoints/biochemical_pregnancy/"
        self.client.get(path, name="page: biochemical pregnancy")
        self.post_form(
            path,
            {
                "assessed_on": PLAN["today"],
                "serum_hcg_miu_ml": str(random.randint(60, 400)),
                "result": "positive",
                "reason": reason,
            },
            SAVE_ENDPOINT,
        )

    @task(4)
    def bare_insert(self) -> None:
        with self.client.post(
            "/loadtest/bare-insert/",
            headers={"X-CSRFToken": self.csrf_token()},
            name=BARE_INSERT,
            catch_response=True,
        ) as response:
            if response.status_code == 204:
                response.success()
            else:
                response.failure(f"{response.status_code}")


class Monitor(StudyUser):
    weight = 2

    def on_start(self) -> None:
        self.username, self.sites = next(MONITORS)
        self.sign_in(self.username)

    def participant(self) -> int:
        return random.choice(PLAN["participants"][random.choice(self.sites)])

    @task(4)
    def browse_list(self) -> None:
        self.client.get(
            f"/participants/?page={random.randint(1, 3)}", name="page: participant list"
        )

    @task(4)
    def open_casebook(self) -> None:
        self.client.get(f"/participants/{self.participant()}/", name="page: casebook")

    @task(1)
    def open_history(self) -> None:
        self.client.get(f"/participants/{self.participant()}/history/", name="page: history")

    @task(1)
    def export(self) -> None:
        headers = {"X-CSRFToken": self.csrf_token()}
        with self.client.post(
            "/api/v1/exports/",
            json={"kind": "clinical_data", "format": "csv", "site": random.choice(self.sites)},
            headers=headers,
            name="api: ask for an export",
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            job = response.json()["id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(1)
            state = self.client.get(f"/api/v1/exports/{job}/", name="api: poll an export").json()
            if state.get("status") == "done":
                self.client.get(f"/api/v1/exports/{job}/download/", name="api: download an export")
                return
            if state.get("status") == "failed":
                events.request.fire(
                    request_type="EXPORT",
                    name="export finished",
                    response_time=0,
                    response_length=0,
                    exception=RuntimeError(state.get("error") or "failed"),
                )
                return
