"""Fixtures of the study's settings and design tests: a data manager and her database lock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ecrf.accounts.models import User
from ecrf.quality.models import Lock
from ecrf.quality.services import lock_set
from ecrf.studies.models import Study


@pytest.fixture
def data_manager(make_user: Callable[..., User]) -> User:
    return make_user("data_manager", printed_name="Dana Manager")


@pytest.fixture
def database_lock(study: Study, data_manager: User) -> Lock:
    """The study's database lock, set by the data manager."""
    return lock_set(
        study=study, reason="Database lock for the final analysis", performed_by=data_manager
    )
