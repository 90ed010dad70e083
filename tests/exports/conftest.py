from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from ecrf.accounts.models import User
from ecrf.exports import formats
from ecrf.exports.formats import ExportFormat, ExportScope, Progress
from ecrf.exports.models import ExportJob


@pytest.fixture(autouse=True)
def export_media(settings: Any, tmp_path: Path) -> Path:
    """Export files of each test in a folder of its own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media" / "exports"


@pytest.fixture
def monitor_a(make_user: Callable[..., User]) -> User:
    return make_user("monitor", ["S01"], username="monitor_a")


@pytest.fixture
def data_manager(make_user: Callable[..., User]) -> User:
    return make_user("data_manager", username="data_manager")


@pytest.fixture
def statistician(make_user: Callable[..., User]) -> User:
    return make_user("statistician", username="statistician")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_of(job: ExportJob, folder: Path) -> Path:
    job.refresh_from_db()
    return folder / job.file_name


@pytest.fixture
def register_format(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ExportFormat]]:
    """Put a writer of the test's own in the formats table, for this test only."""

    def register(
        kind: str,
        format: str,
        write: Callable[[ExportScope, BinaryIO], None] | Callable[..., None],
        *,
        extension: str = ".txt",
    ) -> ExportFormat:
        entry = ExportFormat(
            kind=kind, format=format, media_type="text/plain", extension=extension, write=write
        )
        monkeypatch.setitem(formats.FORMATS, (kind, format), entry)
        return entry

    yield register


def lines_writer(
    lines: int, *, fail_after: int | None = None, error: Exception | None = None
) -> Callable[..., None]:
    """A writer of numbered lines, reporting progress per line, failing if asked to."""

    def write(scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str) -> None:
        for number in range(lines):
            if fail_after is not None and number == fail_after:
                raise error or RuntimeError("the writer broke")
            out.write(f"line {number} of sites {scope.site_ids}\n".encode())
            progress(number + 1, lines)

    return write
