"""Randomizations per second through the service, 16 clients at once, against the bare lock.

The baseline is a bare row lock, ``SELECT ... FOR UPDATE`` of the site's list row
committed alone, by the same 16 clients through the same client stack (Django's
connection, one thread each) on the same database.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from common import fresh_database, report

CLIENTS = 16
RANDOMIZATIONS = 400
LOCKS = 4000


def main() -> None:
    fresh_database()
    from django.db import connection, transaction

    from ecrf.accounts.services import user_create
    from ecrf.participants.services import consent_record, eligibility_record, participant_enroll
    from ecrf.studies.models import Site
    from ecrf.studies.services import study_setup_trial
    from randomization.models import ListStatus, RandomizationList
    from randomization.services import list_extend, participant_randomize
    from tests.factories import ELIGIBLE_ANSWERS

    study_setup_trial(sites=[("S01", "Bench site", "")], performed_by=None)
    site = Site.objects.get(code="S01")
    coordinator = user_create(
        username="bench",
        role="coordinator",
        password="x",
        site_codes=["S01"],
        performed_by=None,
        validate=False,
    )
    statistician = user_create(
        username="stats",
        role="statistician",
        password="x",
        site_codes=[],
        performed_by=None,
        validate=False,
    )
    active = RandomizationList.objects.get(site=site, status=ListStatus.ACTIVE)
    list_extend(randomization_list=active, length=RANDOMIZATIONS, performed_by=statistician)
    screening = dt.date.today() - dt.timedelta(days=5)
    participants = []
    for _ in range(RANDOMIZATIONS):
        p = participant_enroll(
            site=site,
            screening_date=screening,
            birth_date=dt.date(1990, 1, 1),
            performed_by=coordinator,
        )
        eligibility_record(participant=p, answers=ELIGIBLE_ANSWERS, performed_by=coordinator)
        consent_record(
            participant=p, consent_date=screening, consent_version="1.0", performed_by=coordinator
        )
        participants.append(p)

    def randomize(p):  # type: ignore[no-untyped-def]
        try:
            participant_randomize(
                participant=p, idempotency_key=f"bench-{p.pk}", performed_by=coordinator
            )
        finally:
            connection.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(randomize, participants))
    service_rate = RANDOMIZATIONS / (time.perf_counter() - start)

    per_client = LOCKS // CLIENTS
    barrier = threading.Barrier(CLIENTS)

    def lock_only(_: int) -> None:
        try:
            barrier.wait()
            for _ in range(per_client):
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT id FROM randomization_randomizationlist WHERE id = %s FOR UPDATE",
                        [active.pk],
                    )
        finally:
            connection.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(lock_only, range(CLIENTS)))
    lock_rate = per_client * CLIENTS / (time.perf_counter() - start)
    report(
        "randomize_throughput",
        service_rate,
        "randomizations/s",
        lock_rate,
        clients=CLIENTS,
        baseline_unit="bare FOR UPDATE transactions/s",
    )


if __name__ == "__main__":
    main()
