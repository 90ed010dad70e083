"""Setting up the trial: the study, its sites and what every other app needs of them.

It lives at the top because it creates things in the apps above ``studies`` (edit-check
settings, normal ranges, randomization lists), and ``studies`` orchestrates none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction

from ecrf.audit.context import change_context
from ecrf.endpoints.checks import CHECKS
from ecrf.endpoints.models import EditCheckSetting
from ecrf.labs.services import normal_ranges_setup
from ecrf.studies import trial
from ecrf.studies.models import Arm, Site, Study, VisitDefinition
from randomization.models import RandomizationList
from randomization.services import list_activate, list_generate

if TYPE_CHECKING:
    from ecrf.accounts.models import User

#: Slots generated for each site when the trial is set up (extendable later).
INITIAL_LIST_LENGTH = 60


@dataclass
class SetupReport:
    study_created: bool = False
    sites_created: list[str] = field(default_factory=list)
    sites_unchanged: list[str] = field(default_factory=list)
    lists_created: list[str] = field(default_factory=list)


@transaction.atomic
def study_setup_trial(
    *, sites: list[tuple[str, str, str]], performed_by: User | None
) -> tuple[Study, SetupReport]:
    """Create the tacrolimus study, its arms, the missing ``sites`` and their lists.

    Changes nothing that exists: running it twice gives the same database as running
    it once (idempotent). Each site without a randomization list gets one, generated
    from a recorded secure seed and activated.
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
                "consent_versions": list(trial.CONSENT_VERSIONS),
                "randomization_block_sizes": list(trial.BLOCK_SIZES),
                "dosing_start_offset": trial.DOSING_START_OFFSET,
                "dosing_days": trial.DOSING_DAYS,
                "efficacy_null_rate": Decimal(trial.EFFICACY_NULL_RATE),
                "efficacy_alpha": Decimal(trial.EFFICACY_ALPHA),
            },
        )
        for order, (code, name_en, name_ja, dose, weight) in enumerate(trial.ARMS):
            Arm.objects.get_or_create(
                study=study,
                code=code,
                defaults={
                    "name_en": name_en,
                    "name_ja": name_ja,
                    "daily_dose_mg": Decimal(dose),
                    "allocation_weight": weight,
                    "capsule_mg": Decimal(trial.CAPSULE_MG),
                    "intakes_per_day": trial.INTAKES_PER_DAY,
                    "order": order,
                },
            )
        for order, (code, name_en, name_ja, target, start, end) in enumerate(trial.VISITS):
            VisitDefinition.objects.get_or_create(
                study=study,
                code=code,
                defaults={
                    "name_en": name_en,
                    "name_ja": name_ja,
                    "target_offset": target,
                    "window_start_offset": start,
                    "window_end_offset": end,
                    "order": order,
                },
            )
        for code, name_en, name_ja in sites:
            if Site.objects.filter(study=study, code=code).exists():
                report.sites_unchanged.append(code)
                continue
            site = Site(study=study, code=code, name_en=name_en, name_ja=name_ja)
            site.full_clean()
            site.save()
            report.sites_created.append(code)
    _store_default_edit_checks(study, performed_by)
    for site in study.sites.all():
        normal_ranges_setup(site=site, performed_by=performed_by)
    strata: list[Site | None] = (
        list(study.sites.order_by("code")) if study.stratify_by_site else [None]
    )
    for stratum in strata:
        if RandomizationList.objects.filter(study=study, site=stratum).exists():
            continue
        randomization_list = list_generate(
            study=study, site=stratum, length=INITIAL_LIST_LENGTH, performed_by=None
        )
        list_activate(randomization_list=randomization_list, performed_by=None)
        report.lists_created.append(stratum.code if stratum else study.code)
    return study, report


def _store_default_edit_checks(study: Study, performed_by: User | None) -> None:
    """Each edit check gets its study setting, with the protocol's defaults, once."""
    with change_context(performed_by=performed_by, reason="setup_trial"):
        for check in CHECKS:
            EditCheckSetting.objects.get_or_create(
                study=study,
                code=check.code,
                defaults={"severity": check.default_severity, "threshold": check.default_threshold},
            )
