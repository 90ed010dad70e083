"""The protocol's eligibility rules, as pure functions (no database).

Inclusion (all must hold) and exclusion (any excludes), from ../shared/protocol.md
"Who is eligible" and the API contract's eligibility answers. The numeric thresholds
are study settings, passed in as :class:`EligibilityRules`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class EligibilityRules:
    """Thresholds of the eligibility criteria (study settings)."""

    age_min: int = 18
    age_max_exclusive: int = 40
    min_prior_transfers: int = 3
    min_prior_embryos: int = 4
    th1_th2_min: Decimal = Decimal("10.3")


@dataclass(frozen=True)
class EligibilityAnswers:
    """The answers of the eligibility form, named as the API contract spells them."""

    prior_good_quality_transfers: int
    prior_embryos_transferred: int
    prior_biochemical_pregnancy: bool
    other_infertility_factor: bool
    th1_th2_ratio: Decimal
    frozen_embryos_available: bool
    able_to_attend_visits: bool
    antiphospholipid_syndrome: bool
    coagulation_abnormality: bool
    thyroid_dysfunction: bool
    other_pregnancy_loss_factor: bool
    tacrolimus_contraindication: bool
    pregnant: bool
    investigator_judges_unsuitable: bool


@dataclass(frozen=True)
class Criterion:
    code: str
    kind: str  # "inclusion" or "exclusion"
    statement: Promise
    holds: Callable[[EligibilityAnswers, int, EligibilityRules], bool]
    explain: Callable[[EligibilityAnswers, int, EligibilityRules], str]


def _must_be_false(code: str, statement: Promise, kind: str = "exclusion") -> Criterion:
    return Criterion(
        code=code,
        kind=kind,
        statement=statement,
        holds=lambda a, _age, _r: not getattr(a, code),
        explain=lambda _a, _age, _r: str(
            _("Answered yes: %(statement)s") % {"statement": statement}
        ),
    )


def _must_be_true(code: str, statement: Promise) -> Criterion:
    return Criterion(
        code=code,
        kind="inclusion",
        statement=statement,
        holds=lambda a, _age, _r: bool(getattr(a, code)),
        explain=lambda _a, _age, _r: str(
            _("Answered no: %(statement)s") % {"statement": statement}
        ),
    )


#: Every criterion, in the order of the protocol; ``age`` first, then the API's fields.
CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        code="age",
        kind="inclusion",
        statement=_("Aged at least the minimum and under the maximum age at consent"),
        holds=lambda _a, age, r: r.age_min <= age < r.age_max_exclusive,
        explain=lambda _a, age, r: str(
            _("She is %(age)s; the protocol requires %(min)s or over and under %(max)s.")
            % {"age": age, "min": r.age_min, "max": r.age_max_exclusive}
        ),
    ),
    Criterion(
        code="prior_good_quality_transfers",
        kind="inclusion",
        statement=_("At least the minimum number of prior embryo transfers"),
        holds=lambda a, _age, r: a.prior_good_quality_transfers >= r.min_prior_transfers,
        explain=lambda a, _age, r: str(
            _("%(n)s prior transfers; at least %(min)s are required.")
            % {"n": a.prior_good_quality_transfers, "min": r.min_prior_transfers}
        ),
    ),
    Criterion(
        code="prior_embryos_transferred",
        kind="inclusion",
        statement=_("At least the minimum number of good-quality embryos transferred in total"),
        holds=lambda a, _age, r: a.prior_embryos_transferred >= r.min_prior_embryos,
        explain=lambda a, _age, r: str(
            _("%(n)s embryos transferred; at least %(min)s are required.")
            % {"n": a.prior_embryos_transferred, "min": r.min_prior_embryos}
        ),
    ),
    _must_be_false(
        "prior_biochemical_pregnancy",
        _("A biochemical pregnancy after any prior transfer"),
        kind="inclusion",
    ),
    _must_be_false(
        "other_infertility_factor",
        _("An identified cause of infertility after appropriate work-up"),
        kind="inclusion",
    ),
    Criterion(
        code="th1_th2_ratio",
        kind="inclusion",
        statement=_("Th1/Th2 ratio at or above the threshold"),
        holds=lambda a, _age, r: a.th1_th2_ratio >= r.th1_th2_min,
        explain=lambda a, _age, r: str(
            _("Th1/Th2 ratio %(ratio)s is below the threshold of %(min)s.")
            % {"ratio": a.th1_th2_ratio, "min": r.th1_th2_min}
        ),
    ),
    _must_be_true("frozen_embryos_available", _("Frozen embryos available for transfer")),
    _must_be_true("able_to_attend_visits", _("Able to attend all study visits")),
    _must_be_false("antiphospholipid_syndrome", _("Antiphospholipid syndrome")),
    _must_be_false("coagulation_abnormality", _("Coagulation abnormality")),
    _must_be_false("thyroid_dysfunction", _("Thyroid dysfunction")),
    _must_be_false("other_pregnancy_loss_factor", _("Another recurrent pregnancy loss factor")),
    _must_be_false(
        "tacrolimus_contraindication",
        _("Contraindication to tacrolimus (hypersensitivity or a contraindicated drug)"),
    ),
    _must_be_false("pregnant", _("Currently pregnant")),
    _must_be_false(
        "investigator_judges_unsuitable", _("The investigator judges participation inappropriate")
    ),
)


def criterion_statements(codes: Iterable[str]) -> list[str]:
    """The criteria of ``codes`` in words, in the active language (an unknown code as is)."""
    statements = {criterion.code: criterion.statement for criterion in CRITERIA}
    return [str(statements.get(code, code)) for code in codes]


@dataclass(frozen=True)
class Failure:
    code: str
    kind: str
    message: str


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Completed years of age on ``day``."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - before_birthday


def evaluate(answers: EligibilityAnswers, age: int, rules: EligibilityRules) -> list[Failure]:
    """The criteria that fail, in protocol order; empty when she is eligible."""
    return [
        Failure(c.code, c.kind, c.explain(answers, age, rules))
        for c in CRITERIA
        if not c.holds(answers, age, rules)
    ]


def evaluate_partial(values: Mapping[str, Any], age: int, rules: EligibilityRules) -> list[Failure]:
    """The failing criteria among those already answered (the form, as she types)."""
    answers = SimpleNamespace(**values)
    return [
        Failure(c.code, c.kind, c.explain(answers, age, rules))  # type: ignore[arg-type]
        for c in CRITERIA
        if (c.code == "age" or values.get(c.code) is not None) and not c.holds(answers, age, rules)  # type: ignore[arg-type]
    ]
