"""A frozen clock on a given day in Tokyo, for tests of dates and windows."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import time_machine

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def at(day: str, hour: int = 10) -> time_machine.travel:
    """Freeze the clock at ``hour`` o'clock, Tokyo time, on ``day`` (YYYY-MM-DD)."""
    return time_machine.travel(
        dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=TOKYO), tick=False
    )
