"""The test databases' template is named after everything that shapes the schema, the
functions and triggers installed after ``migrate`` included: a change to them builds a
new template rather than testing against the old SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from .. import databases


def test_the_sql_installed_after_migrate_is_in_the_fingerprint():
    names = {
        str(path.relative_to(databases.BASE_DIR)) for path in databases._installed_after_migrate()
    }
    assert {
        "ecrf/audit/chain.py",
        "ecrf/reports/summary.py",
        "ecrf/reports/safety_counts.py",
        "ecrf/reports/apps.py",
    } <= names


def test_a_change_to_that_sql_changes_the_fingerprint(monkeypatch: pytest.MonkeyPatch):
    before = databases.schema_fingerprint()
    summary = databases.BASE_DIR / "ecrf/reports/summary.py"
    original = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        text = original(path)
        return text + b"\n# changed\n" if path == summary else text

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert databases.schema_fingerprint() != before
