"""Reads of the study this installation runs (its set-up lives in ``ecrf.home``)."""

from __future__ import annotations

from .models import Study


def current_study() -> Study | None:
    """The study this installation runs (the first one set up)."""
    return Study.objects.order_by("pk").first()
