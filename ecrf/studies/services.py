"""Reads of the study this installation runs (its set-up lives in ``ecrf.home``)."""

from __future__ import annotations

from ecrf.common.compiled import CompiledRead

from .models import Study

#: Read by most pages: compiled once (:class:`~ecrf.common.compiled.CompiledRead`).
_FIRST: CompiledRead[Study] = CompiledRead(lambda: Study.objects.order_by("pk")[:1])


def current_study() -> Study | None:
    """The study this installation runs (the first one set up)."""
    return _FIRST.first()
