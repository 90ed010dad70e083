"""A slow export writer for the killed-worker test (put in place by :mod:`.slow_worker`).

It writes :data:`LINES` numbered lines, one every :data:`SECONDS_PER_LINE`, reporting
progress after each.
"""

from __future__ import annotations

import os
import time
from typing import BinaryIO

from ecrf.exports.formats import ExportScope, Progress

LINES = int(os.environ.get("SLOW_EXPORT_LINES", "60"))
SECONDS_PER_LINE = float(os.environ.get("SLOW_EXPORT_SECONDS_PER_LINE", "0.1"))


def expected_bytes(lines: int = LINES) -> bytes:
    """Exactly what a complete run writes."""
    return b"".join(line(number) for number in range(lines))


def line(number: int) -> bytes:
    return f"{number:06d} slow export line\n".encode()


def write_slowly(scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str) -> None:
    for number in range(LINES):
        out.write(line(number))
        out.flush()
        progress(number + 1, LINES)
        time.sleep(SECONDS_PER_LINE)
