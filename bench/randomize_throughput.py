"""Randomizations per second through the service, 16 clients at once, against the bare lock.

Each client is its own process with its own database connection, as gunicorn's
workers are, so that Python's interpreter lock does not serialise the clients. A
client randomizes its share of eligible, consented participants through
``participant_randomize`` inside the audit context the API's middleware opens.

The baseline is the bare locking statement, ``SELECT ... FOR UPDATE`` of the site's
list row committed alone, run by the same 16 processes through the same client stack
(Django's connection) on the same database.

A rate belongs to a round of 16 processes, so rounds alternate rather than operations:
five repeats, each a round of 1,000 randomizations and a round of 8,000 bare locks, in
turn first. The figure is the median of the repeats' ratios, with their range.

Beside the rates, the line gives the CPU each operation took in the client processes
and in their PostgreSQL backends (read from ``/proc`` when the server runs on this
machine): on a machine with few cores both rates are bounded by CPU, so these say
where the difference comes from.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from typing import Any

from common import REPEATS, SAMPLES, fresh_database, report

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
#: Randomizations per round; a round of bare locks follows or precedes each.
PER_ROUND = int(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES
RANDOMIZATIONS = PER_ROUND * REPEATS
LOCKS = 8000


def _prepare() -> dict[str, Any]:
    from ecrf.accounts.services import user_create
    from ecrf.home.services import study_setup_trial
    from ecrf.participants.services import consent_record, eligibility_record, participant_enroll
    from ecrf.studies.models import Site
    from randomization.models import ListStatus, RandomizationList
    from randomization.services import list_extend
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
    participant_ids = []
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
        participant_ids.append(p.pk)
    return {"coordinator": coordinator.pk, "list": active.pk, "participants": participant_ids}


def _backend_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend, when the server runs on this machine."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _randomize_client(
    participant_ids: list[int], coordinator_id: int, barrier: Any, results: Any
) -> None:
    from ecrf.accounts.models import User
    from ecrf.audit.context import audit_context, user_metadata
    from ecrf.participants.models import Participant
    from randomization.services import participant_randomize

    coordinator = User.objects.get(pk=coordinator_id)
    participants = list(
        Participant.objects.select_related("site__study").filter(pk__in=participant_ids)
    )
    timings = []
    server_cpu = _backend_cpu_seconds()
    barrier.wait()
    client_cpu = time.process_time()
    start = time.perf_counter()
    for p in participants:
        began = time.perf_counter()
        with audit_context(
            source="api",
            url=f"/api/v1/participants/{p.pk}/randomize/",
            method="POST",
            request_id=str(uuid.uuid4()),
            **user_metadata(coordinator),
        ):
            participant_randomize(
                participant=p, idempotency_key=f"bench-{p.pk}", performed_by=coordinator
            )
        timings.append(time.perf_counter() - began)
    end = time.perf_counter()
    client_cpu = time.process_time() - client_cpu
    results.put((start, end, len(participants), timings, _cpu_since(server_cpu), client_cpu))


def _cpu_since(server_cpu: float | None) -> float | None:
    now = _backend_cpu_seconds()
    return None if now is None or server_cpu is None else now - server_cpu


def _lock_client(count: int, list_id: int, barrier: Any, results: Any) -> None:
    from django.db import connection, transaction

    server_cpu = _backend_cpu_seconds()
    barrier.wait()
    client_cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(count):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM randomization_randomizationlist WHERE id = %s FOR UPDATE",
                [list_id],
            )
    end = time.perf_counter()
    client_cpu = time.process_time() - client_cpu
    results.put((start, end, count, [], _cpu_since(server_cpu), client_cpu))


class Run:
    """What one round of client processes did: its rate, latencies and CPU per operation."""

    def __init__(self, outcomes: list[tuple[Any, ...]]) -> None:
        self.outcomes = outcomes
        done = sum(o[2] for o in outcomes)
        self.rate = done / (max(o[1] for o in outcomes) - min(o[0] for o in outcomes))
        self.latencies = sorted(t for o in outcomes for t in o[3])
        self.client_cpu_ms = round(sum(o[5] for o in outcomes) / done * 1000, 3)
        server = [o[4] for o in outcomes]
        self.server_cpu_ms = (
            None if None in server else round(sum(server) / done * 1000, 3)  # type: ignore[arg-type]
        )

    @classmethod
    def pooled(cls, runs: list[Run]) -> Run:
        """The latencies and CPU per operation of several rounds together."""
        pooled = cls([o for run in runs for o in run.outcomes])
        pooled.rate = statistics.median(run.rate for run in runs)
        return pooled


def _run_clients(target: Any, shares: list[tuple[Any, ...]]) -> Run:
    """Run one process per share at once; the rate over the span all of them took."""
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(shares))
    results = ctx.Queue()
    processes = [ctx.Process(target=target, args=(*share, barrier, results)) for share in shares]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=1800) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a client process failed ({process.exitcode})")
    return Run(outcomes)


def main() -> None:
    fresh_database()
    from randomization.models import Slot

    prepared = _prepare()
    ids = prepared["participants"]
    services, bares, ratios = [], [], []
    for repeat in range(REPEATS):
        chunk = ids[repeat * PER_ROUND : (repeat + 1) * PER_ROUND]
        rounds = {
            "service": lambda chunk=chunk: _run_clients(
                _randomize_client,
                [(chunk[i::CLIENTS], prepared["coordinator"]) for i in range(CLIENTS)],
            ),
            "bare": lambda: _run_clients(
                _lock_client, [(LOCKS // CLIENTS, prepared["list"]) for _ in range(CLIENTS)]
            ),
        }
        order = ["service", "bare"] if repeat % 2 == 0 else ["bare", "service"]
        runs = {name: rounds[name]() for name in order}
        services.append(runs["service"])
        bares.append(runs["bare"])
        ratios.append(runs["service"].rate / runs["bare"].rate)
    allocated = Slot.objects.filter(participant__isnull=False).count()
    if allocated != RANDOMIZATIONS:
        raise SystemExit(f"{allocated} slots allocated for {RANDOMIZATIONS} randomizations")
    service = Run.pooled(services)
    bare = Run.pooled(bares)
    latencies = service.latencies
    report(
        "randomize_throughput",
        statistics.median(run.rate for run in services),
        "randomizations/s",
        statistics.median(run.rate for run in bares),
        ratio=round(statistics.median(ratios), 3),
        ratio_min=round(min(ratios), 3),
        ratio_max=round(max(ratios), 3),
        samples=RANDOMIZATIONS,
        repeats=REPEATS,
        baseline_samples=LOCKS // CLIENTS * CLIENTS * REPEATS,
        clients=CLIENTS,
        client_processes=True,
        randomizations=RANDOMIZATIONS,
        latency_p50_ms=round(statistics.median(latencies) * 1000, 1),
        latency_p95_ms=round(latencies[int(len(latencies) * 0.95)] * 1000, 1),
        client_cpu_ms_per_op=service.client_cpu_ms,
        server_cpu_ms_per_op=service.server_cpu_ms,
        baseline_client_cpu_ms_per_op=bare.client_cpu_ms,
        baseline_server_cpu_ms_per_op=bare.server_cpu_ms,
        cpus=os.cpu_count(),
        baseline_unit="bare FOR UPDATE transactions/s",
    )


if __name__ == "__main__":
    main()
