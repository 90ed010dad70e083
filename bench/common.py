"""Shared set-up of the benchmarks: a fresh database of their own, on the same server."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

#: The benchmarks' own database on the server of DATABASE_URL, dropped and re-created.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "ecrf_bench")


def bench_database_url() -> str:
    """The server of DATABASE_URL (or the embedded one), with a database of the benchmarks."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        from ecrf.settings.embedded import embedded_postgres_url

        url = embedded_postgres_url("postgres")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))


def fresh_database() -> None:
    """Drop and re-create the benchmark database, migrate it and set up Django."""
    import psycopg

    url = bench_database_url()
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecrf.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


#: How many operations each side of a comparison times in one repeat, and how many repeats.
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "1000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))


@dataclass
class Comparison:
    """Seconds per operation of each side, per repeat, from :func:`interleaved`."""

    times: dict[str, list[list[float]]]

    @property
    def samples(self) -> int:
        """Operations timed per side, over all repeats (the fewest of any side)."""
        return min(sum(len(r) for r in repeats) for repeats in self.times.values())

    def median_ms(self, side: str) -> float:
        return statistics.median(t for r in self.times[side] for t in r) * 1000

    def p95_ms(self, side: str) -> float:
        return percentile([t for r in self.times[side] for t in r], 0.95) * 1000

    def ratios(self, side: str, baseline: str, *, p95: bool = False) -> list[float]:
        """Each repeat's median (or p95) of ``side`` over that of ``baseline``."""

        def figure(values: list[float]) -> float:
            return percentile(values, 0.95) if p95 else statistics.median(values)

        return [
            figure(mine) / figure(theirs)
            for mine, theirs in zip(self.times[side], self.times[baseline], strict=True)
        ]

    def ratio_fields(self, side: str, baseline: str, *, p95: bool = False) -> dict[str, Any]:
        """``ratio`` (the median of the repeats' ratios), its range, and the sample count."""
        ratios = self.ratios(side, baseline, p95=p95)
        return {
            "ratio": round(statistics.median(ratios), 3),
            "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3),
            "samples": self.samples,
            "repeats": len(ratios),
        }


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def interleaved(
    sides: dict[str, Callable[[int], Any]],
    *,
    samples: int = SAMPLES,
    repeats: int = REPEATS,
    around: Callable[[str], Any] | None = None,
) -> Comparison:
    """Time one operation of each side in turn, ``samples`` times per repeat.

    ``sides`` maps a name to an operation taking its running index (unique over all
    repeats, so that each operation can work on a row of its own). The order of the
    sides rotates from one round to the next, so that none always runs first. ``around``,
    given a side's name, returns a context manager entered around that side's operation
    but outside its timing.
    """
    names = list(sides)
    times: dict[str, list[list[float]]] = {name: [] for name in names}
    index = 0
    for _ in range(repeats):
        for name in names:
            times[name].append([])
        for round_number in range(samples):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                operation = sides[name]
                if around is None:
                    began = time.perf_counter()
                    operation(index)
                    elapsed = time.perf_counter() - began
                else:
                    with around(name):
                        began = time.perf_counter()
                        operation(index)
                        elapsed = time.perf_counter() - began
                times[name][-1].append(elapsed)
            index += 1
    return Comparison(times)


def twin_database(alias: str) -> None:
    """Copy the benchmark database, as it is now, to a database of its own under ``alias``.

    The copy is a template copy on the same server: the same rows with the same keys, so
    that one operation can be timed on each in turn (:func:`using_database`).
    """
    import psycopg
    from django.db import connections

    name = f"{BENCH_DATABASE}_{alias}"
    connections.close_all()
    admin = urlunsplit(urlsplit(bench_database_url())._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{BENCH_DATABASE}"')
    connections.settings[alias] = {**connections.settings["default"], "NAME": name}


class using_database:  # noqa: N801  (used as a context manager, like Django's)
    """Make the connection of ``alias`` the default one, for the services, inside the block."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __enter__(self) -> None:
        from django.db import connections

        self.default = connections["default"]
        connections["default"] = connections[self.alias]

    def __exit__(self, *exc: object) -> None:
        from django.db import connections

        connections["default"] = self.default


def report(name: str, value: float, unit: str, baseline: float, **extra: Any) -> None:
    """One JSON line: the figure, its baseline measured in the same run, and their ratio.

    A comparison passes its own ``ratio`` (the median over repeats) with ``ratio_min``,
    ``ratio_max`` and ``samples`` in ``extra``; otherwise the ratio is value/baseline.
    """
    line = {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": round(baseline, 3),
        "ratio": round(value / baseline, 3) if baseline else None,
        **extra,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(line), flush=True)
