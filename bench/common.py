"""Shared set-up of the benchmarks: a fresh database of their own, on the same server."""

from __future__ import annotations

import json
import os
import sys
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


def report(name: str, value: float, unit: str, baseline: float, **extra: Any) -> None:
    """One JSON line: the figure, its baseline measured in the same run, and their ratio."""
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
