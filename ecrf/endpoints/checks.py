"""The edit checks of the endpoint forms, as pure functions, each explained in words.

Hard checks refuse a save; soft checks warn and ask for confirmation. Which checks run,
their severity and their thresholds are study settings (``EditCheckSetting``); the
defaults below are what ``setup_trial`` stores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ecrf.common import messages

HARD = "hard"
SOFT = "soft"

BIOCHEMICAL = "biochemical_pregnancy"
CLINICAL = "clinical_pregnancy"


@dataclass(frozen=True)
class CheckContext:
    """What a check sees: the form being saved, the other endpoint form, the schedule."""

    record: str
    values: dict[str, Any]
    et_date: dt.date | None
    window: tuple[dt.date, dt.date] | None
    biochemical: dict[str, Any] | None
    clinical: dict[str, Any] | None


@dataclass(frozen=True)
class EditCheck:
    """One check: ``fires`` answers the parameters of its finding when it fires (its
    words are the message of the same code in :data:`ecrf.common.messages.MESSAGES`)."""

    code: str
    records: tuple[str, ...]
    default_severity: str
    default_threshold: Decimal | None
    description: Promise
    fires: Callable[[CheckContext, Decimal | None], dict[str, Any] | None]


@dataclass(frozen=True)
class Finding:
    """A check that fired: its code and parameters (stored, and rendered again in each
    reader's language) and its message in the active language (for whoever saves)."""

    code: str
    severity: str
    field: str
    params: dict[str, Any]

    @property
    def message(self) -> str:
        return messages.render(self.code, self.params)


def _assessment_before_et(ctx: CheckContext, _threshold: Decimal | None) -> dict[str, Any] | None:
    assessed = ctx.values.get("assessed_on")
    if ctx.et_date and assessed and assessed < ctx.et_date:
        return messages.freeze({"assessed": assessed, "et": ctx.et_date})
    return None


def _hcg_out_of_range(ctx: CheckContext, threshold: Decimal | None) -> dict[str, Any] | None:
    hcg = ctx.values.get("serum_hcg_miu_ml")
    upper = threshold if threshold is not None else Decimal(1_000_000)
    if hcg is not None and not Decimal(0) <= hcg <= upper:
        return messages.freeze({"value": hcg, "max": upper.normalize()})
    return None


def _outside_window(ctx: CheckContext, _threshold: Decimal | None) -> dict[str, Any] | None:
    assessed = ctx.values.get("assessed_on")
    if ctx.window and assessed and not ctx.window[0] <= assessed <= ctx.window[1]:
        return messages.freeze({"assessed": assessed, "start": ctx.window[0], "end": ctx.window[1]})
    return None


def _positive_below_cutoff(ctx: CheckContext, threshold: Decimal | None) -> dict[str, Any] | None:
    hcg = ctx.values.get("serum_hcg_miu_ml")
    cutoff = threshold if threshold is not None else Decimal(5)
    if ctx.values.get("result") == "positive" and hcg is not None and hcg < cutoff:
        return messages.freeze({"value": hcg, "cutoff": cutoff.normalize()})
    return None


def _clinical_after_negative_biochemical(
    ctx: CheckContext, _t: Decimal | None
) -> dict[str, Any] | None:
    clinical = ctx.clinical or {}
    biochemical = ctx.biochemical or {}
    if clinical.get("result") == "positive" and biochemical.get("result") == "negative":
        return {}
    return None


CHECKS: tuple[EditCheck, ...] = (
    EditCheck(
        "assessment_before_et",
        (BIOCHEMICAL, CLINICAL),
        HARD,
        None,
        _("The assessment cannot be dated before the embryo transfer."),
        _assessment_before_et,
    ),
    EditCheck(
        "hcg_out_of_range",
        (BIOCHEMICAL,),
        HARD,
        Decimal(1_000_000),
        _("Serum hCG must lie from 0 to the upper limit (mIU/mL)."),
        _hcg_out_of_range,
    ),
    EditCheck(
        "assessment_outside_window",
        (BIOCHEMICAL, CLINICAL),
        SOFT,
        None,
        _("An assessment outside its visit window is a deviation to confirm."),
        _outside_window,
    ),
    EditCheck(
        "hcg_positive_below_cutoff",
        (BIOCHEMICAL,),
        SOFT,
        Decimal(5),
        _("A positive result with serum hCG under the study's cut-off (mIU/mL)."),
        _positive_below_cutoff,
    ),
    EditCheck(
        "clinical_after_negative_biochemical",
        (BIOCHEMICAL, CLINICAL),
        SOFT,
        None,
        _("A clinical pregnancy after a negative biochemical result (cross-form)."),
        _clinical_after_negative_biochemical,
    ),
)

#: Which field a finding points at, per check (for the form and for queries).
CHECK_FIELDS = {
    "assessment_before_et": "assessed_on",
    "hcg_out_of_range": "serum_hcg_miu_ml",
    "assessment_outside_window": "assessed_on",
    "hcg_positive_below_cutoff": "serum_hcg_miu_ml",
    "clinical_after_negative_biochemical": "result",
}


@dataclass(frozen=True)
class CheckSetting:
    enabled: bool
    severity: str
    threshold: Decimal | None


def run_checks(ctx: CheckContext, settings: dict[str, CheckSetting]) -> list[Finding]:
    """The findings of every enabled check that applies to the record being saved."""
    findings = []
    for check in CHECKS:
        setting = settings.get(
            check.code, CheckSetting(True, check.default_severity, check.default_threshold)
        )
        if not setting.enabled or ctx.record not in check.records:
            continue
        params = check.fires(ctx, setting.threshold)
        if params is not None:
            findings.append(Finding(check.code, setting.severity, CHECK_FIELDS[check.code], params))
    return findings
