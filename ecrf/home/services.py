"""Setting up the trial: the study, its sites and what every other app needs of them.

It lives at the top because it creates things in the apps above ``studies`` (edit-check
settings, normal ranges, randomization lists), and ``studies`` orchestrates none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from ecrf.accounts.policy import enforce, may_change_study_settings
from ecrf.audit.context import change_context
from ecrf.audit.services import changed_values, require_reason
from ecrf.common import catalogue
from ecrf.common.locks import standing_study_lock
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

_SETTING_NAMES = frozenset(setting.name for setting in catalogue.STUDY_SETTINGS)


@dataclass
class SetupReport:
    study_created: bool = False
    sites_created: list[str] = field(default_factory=list)
    sites_unchanged: list[str] = field(default_factory=list)
    lists_created: list[str] = field(default_factory=list)
    #: The study database was locked, so nothing was added to the study.
    study_locked: bool = False


@transaction.atomic
def study_setup_trial(
    *, sites: list[tuple[str, str, str]], performed_by: User | None
) -> tuple[Study, SetupReport]:
    """Create the tacrolimus study, its arms, the missing ``sites`` and their lists.

    Changes nothing that exists: running it twice gives the same database as running
    it once (idempotent). Each site without a randomization list gets one, generated
    from a recorded secure seed and activated. A study whose database is locked gets
    nothing added (no site, arm, visit, check, range or list), as its design is frozen.
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
        if standing_study_lock(study.pk) is not None:
            report.study_locked = True
            report.sites_unchanged = list(
                study.sites.order_by("code").values_list("code", flat=True)
            )
            return study, report
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


def study_settings_changes(
    *, study: Study, changes: Mapping[str, Any], reason: str, performed_by: User
) -> dict[str, tuple[Any, Any]]:
    """What ``changes`` would change of the study's settings, as ``{name: (old, new)}``,
    once it is known that they may: only administrators change settings (403); a design
    or analysis setting never while the study database is locked (409, before the reason
    is asked for); any change of a saved setting needs a reason (400 on ``reason``).

    The admin's form asks this before it saves, to show a refusal as a form error.
    """
    enforce(may_change_study_settings(performed_by))
    unknown = sorted(name for name in changes if name not in _SETTING_NAMES)
    if unknown:
        raise ValidationError({name: _("This is not a setting of the study.") for name in unknown})
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        try:
            model_field = cast("models.Field[Any, Any]", Study._meta.get_field(name))
            values[name] = model_field.to_python(value)
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    found = changed_values(study, values)
    enforce(may_change_study_settings(performed_by, study, found))
    require_reason(found, reason, Study)
    return found


@transaction.atomic
def study_settings_change(
    *, study: Study, changes: Mapping[str, Any], reason: str, performed_by: User
) -> dict[str, tuple[Any, Any]]:
    """Change the study's settings (``changes`` maps setting names to new values).

    Study settings are study data: administrators only; a design or analysis setting
    does not change while the study database is locked (409, as the database guard
    refuses it on any other path); any change of a saved setting needs a reason; the
    change is audited with the old value, the new value and the reason. Values are
    validated as the study's constraints require. Returns the changes made (nothing is
    written when nothing changed).
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    found = study_settings_changes(
        study=study, changes=changes, reason=reason, performed_by=performed_by
    )
    if not found:
        return found
    for name, (_old, new) in found.items():
        setattr(study, name, new)
    study.full_clean()
    with change_context(performed_by=performed_by, reason=reason.strip()):
        study.save(update_fields=list(found))
    return found
