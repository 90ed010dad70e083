"""A fresh database for a fault test's server: migrated, with one coordinator and one
randomized participant of site S01, made through the services as the app makes them.

Run in a child process on that database::

    manage.py shell -c "from tests.faults.seed import seed; seed()"
"""

from __future__ import annotations

import datetime as dt
import json

import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from ecrf.home.services import study_setup_trial
from ecrf.participants.services import consent_record, eligibility_record
from ecrf.studies import trial
from ecrf.studies.models import Site
from randomization.services import participant_randomize

from ..conftest import sign_in
from ..factories import ELIGIBLE_ANSWERS, ParticipantFactory, UserFactory, api_key_for

#: Days between randomization and now: room for adverse events with past onsets.
RANDOMIZED_DAYS_AGO = 10


def seed() -> None:
    """Migrate, set the trial up, and print one JSON line: the participant's id, the
    coordinator's API key and the key of a signed-in (two-factor) session of hers."""
    call_command("migrate", verbosity=0, interactive=False)
    study_setup_trial(sites=list(trial.SITES[:1]), performed_by=None)
    coordinator = UserFactory(role="coordinator", site_codes=["S01"], username="coordinator_a")
    with time_machine.travel(timezone.now() - dt.timedelta(days=RANDOMIZED_DAYS_AGO), tick=True):
        participant = ParticipantFactory(
            site=Site.objects.get(code="S01"), performed_by=coordinator
        )
        eligibility_record(
            participant=participant, answers=ELIGIBLE_ANSWERS, performed_by=coordinator
        )
        consent_record(
            participant=participant,
            consent_date=participant.screening_date + dt.timedelta(days=1),
            consent_version="1.0",
            performed_by=coordinator,
        )
        participant_randomize(
            participant=participant, idempotency_key="seed", performed_by=coordinator
        )
    token = api_key_for(coordinator)
    session = sign_in(Client(), coordinator).cookies["sessionid"].value
    print(json.dumps({"participant": participant.pk, "token": token, "session": session}))
