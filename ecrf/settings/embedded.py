"""The embedded PostgreSQL of ``make run`` and ``make test`` (the ``pgserver`` package).

Used only when ``DATABASE_URL`` is not set. The server keeps its data under
``var/`` so that a second run finds the first run's data, and it is shared by every
process of the project on this machine (web, worker, beat, tests).
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def embedded_postgres_url(database: str, data_dir: Path | None = None) -> str:
    """Start (or join) the embedded PostgreSQL and return a URL for ``database``.

    The URL is also exported as ``DATABASE_URL`` so that child processes (a Celery
    worker started by a test, say) reach the same server.
    """
    import pgserver  # noqa: PLC0415  (imported here: production never loads it)

    data_dir = data_dir or BASE_DIR / "var" / "pgdata"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    if not database.isidentifier():
        raise ValueError(f"Not a plain database name: {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    url = server.get_uri(database)
    os.environ["DATABASE_URL"] = url
    return url
