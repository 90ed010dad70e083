"""Two writers at once, each on a connection of its own."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from tests.conftest import database_url


def second_writer_waits(
    first: tuple[str, Sequence[Any]], second: tuple[str, Sequence[Any]]
) -> None:
    """Run the ``first`` statement (SQL, parameters) on one connection and, before it
    commits, the ``second`` on another: the second must wait for a lock the first holds,
    and go on once the first has committed; both are committed."""
    writer = psycopg.connect(database_url())
    other = psycopg.connect(database_url())
    try:
        writer.execute(*first)
        done = threading.Event()

        def write_second() -> None:
            other.execute(*second)
            other.commit()
            done.set()

        thread = threading.Thread(target=write_second)
        thread.start()
        assert not done.wait(0.5), "the second writer did not wait for the first's lock"
        writer.commit()
        thread.join(10)
        assert done.is_set(), "the second writer did not go on once the first committed"
    finally:
        writer.close()
        other.close()
