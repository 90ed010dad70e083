"""Test databases cloned from one migrated template.

Migrating is the dearest part of starting a test session (rendering the migration state
of every app, once per xdist worker). The schema is instead migrated once into a template
database named after a fingerprint of everything that shapes it (the project's
migrations, the SQL installed after every ``migrate`` and the locked dependencies); each
worker's test database is a PostgreSQL copy of it (``CREATE DATABASE ... TEMPLATE``),
which Django then finds up to date. A template
whose fingerprint no longer matches is dropped; one left by an earlier session with the
same fingerprint is used again.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from django.db import connection
from psycopg.sql import SQL, Identifier

BASE_DIR = Path(__file__).resolve().parent.parent


def _installed_after_migrate() -> list[Path]:
    """The app configs and the modules whose functions and triggers ``post_migrate``
    installs (each has a ``..._install`` function): their SQL is part of the schema."""
    return sorted(
        path
        for path in (BASE_DIR / "ecrf").rglob("*.py")
        if path.name == "apps.py"
        or re.search(r"^def \w+_install\(", path.read_text(encoding="utf-8"), re.MULTILINE)
    )


def schema_fingerprint() -> str:
    """A digest of the files that decide the migrated schema."""
    digest = hashlib.sha256()
    sources = sorted((BASE_DIR / "ecrf").glob("*/migrations/*.py"))
    for path in [*sources, *_installed_after_migrate(), BASE_DIR / "uv.lock"]:
        digest.update(str(path.relative_to(BASE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def url_of(settings_dict: dict[str, Any], name: str) -> str:
    """A PostgreSQL URL for database ``name`` on the server of ``settings_dict``."""
    user = quote(settings_dict["USER"] or "")
    password = quote(settings_dict["PASSWORD"] or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict["HOST"] or settings_dict.get("OPTIONS", {}).get("host", "")
    if host.startswith("/"):
        port = f"&port={settings_dict['PORT']}" if settings_dict["PORT"] else ""
        return f"postgresql://{auth}/{name}?host={quote(host)}{port}"
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgresql://{auth}{host}{port}/{name}"


def _server(settings_dict: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(url_of(settings_dict, "postgres"), autocommit=True)


def _exists(conn: psycopg.Connection[Any], name: str) -> bool:
    found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def _drop(conn: psycopg.Connection[Any], name: str) -> None:
    conn.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(name)))


def _migrate_into(settings_dict: dict[str, Any], name: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=BASE_DIR,
        env={**env, "DATABASE_URL": url_of(settings_dict, name)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"Migrating the template test database {name} failed:\n{result.stdout}\n{result.stderr}"
        )


#: The template this session's test database was copied from (set by the copy).
TEMPLATE: dict[str, str] = {}


def template_url() -> str:
    """The URL of the migrated template of this session's test database."""
    return url_of(connection.settings_dict, TEMPLATE["name"])


def _stem(test_name: str) -> str:
    return f"{test_name.split('_gw')[0]}_template_"


def _template_name(test_name: str) -> str:
    return f"{_stem(test_name)}{schema_fingerprint()}"


def clone_test_database(env: dict[str, str]) -> str:
    """Create this session's test database as a copy of the migrated template (built
    first if missing), and answer its name. Workers take turns under an advisory lock,
    so one builds the template while the others wait for it."""
    settings_dict = connection.settings_dict
    test_name = connection.creation._get_test_db_name()  # type: ignore[attr-defined]
    stem = _stem(test_name)
    template = _template_name(test_name)
    with _server(settings_dict) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [zlib.crc32(stem.encode())])
        try:
            if not _exists(conn, template):
                stale = conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{stem}%"]
                ).fetchall()
                for (name,) in stale:
                    _drop(conn, name)
                building = f"{template}_building"
                _drop(conn, building)
                conn.execute(SQL("CREATE DATABASE {}").format(Identifier(building)))
                _migrate_into(settings_dict, building, env)
                conn.execute(
                    SQL("ALTER DATABASE {} RENAME TO {}").format(
                        Identifier(building), Identifier(template)
                    )
                )
            TEMPLATE["name"] = template
            _drop(conn, test_name)
            conn.execute(
                SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    Identifier(test_name), Identifier(template)
                )
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [zlib.crc32(stem.encode())])
    return test_name


def copy_of_template(name: str) -> str:
    """A new database ``name`` (dropped first if left over), a copy of this session's
    migrated template, made under the template's lock; answers its URL."""
    settings_dict = connection.settings_dict
    stem = TEMPLATE["name"].removesuffix(schema_fingerprint())
    with _server(settings_dict) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [zlib.crc32(stem.encode())])
        try:
            _drop(conn, name)
            conn.execute(
                SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    Identifier(name), Identifier(TEMPLATE["name"])
                )
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [zlib.crc32(stem.encode())])
    return url_of(settings_dict, name)


def drop_database(name: str) -> None:
    """Drop database ``name`` on the test server, whoever is still connected to it."""
    with _server(connection.settings_dict) as conn:
        _drop(conn, name)


def drop_test_database(name: str) -> None:
    """Drop this session's test database (the template stays for the next session)."""
    connection.close()
    with _server(connection.settings_dict) as conn:
        _drop(conn, name)
