"""Writes to studies and sites: set-up and audited changes of study settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction

from ecrf.audit.context import change_context

from . import trial
from .models import Site, Study

if TYPE_CHECKING:
    from ecrf.accounts.models import User


@dataclass
class SetupReport:
    study_created: bool = False
    sites_created: list[str] = field(default_factory=list)
    sites_unchanged: list[str] = field(default_factory=list)


@transaction.atomic
def study_setup_trial(
    *, sites: list[tuple[str, str, str]], performed_by: User | None
) -> tuple[Study, SetupReport]:
    """Create the tacrolimus study and any of ``sites`` it lacks; change nothing that exists.

    Running it twice gives the same database as running it once (idempotent).
    """
    report = SetupReport()
    with change_context(performed_by=performed_by, reason="setup_trial"):
        study, report.study_created = Study.objects.get_or_create(
            code=trial.STUDY_CODE,
            defaults={
                "title_en": trial.TITLE_EN,
                "title_ja": trial.TITLE_JA,
                "registry_id": trial.REGISTRY_ID,
                "target_enrollment": trial.TARGET_ENROLLMENT,
            },
        )
        for code, name_en, name_ja in sites:
            site = Site(study=study, code=code, name_en=name_en, name_ja=name_ja)
            if Site.objects.filter(study=study, code=code).exists():
                report.sites_unchanged.append(code)
                continue
            site.full_clean()
            site.save()
            report.sites_created.append(code)
    return study, report


def current_study() -> Study | None:
    """The study this installation runs (the first one set up)."""
    return Study.objects.order_by("pk").first()
