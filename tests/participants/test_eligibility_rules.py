"""The eligibility rules of the protocol, without a database."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrf.participants.eligibility import (
    CRITERIA,
    EligibilityAnswers,
    EligibilityRules,
    age_on,
    evaluate,
)

RULES = EligibilityRules()

ELIGIBLE = EligibilityAnswers(
    prior_good_quality_transfers=3,
    prior_embryos_transferred=4,
    prior_biochemical_pregnancy=False,
    other_infertility_factor=False,
    th1_th2_ratio=Decimal("10.3"),
    frozen_embryos_available=True,
    able_to_attend_visits=True,
    antiphospholipid_syndrome=False,
    coagulation_abnormality=False,
    thyroid_dysfunction=False,
    other_pregnancy_loss_factor=False,
    tacrolimus_contraindication=False,
    pregnant=False,
    investigator_judges_unsuitable=False,
)


def codes(answers: EligibilityAnswers, age: int = 30, rules: EligibilityRules = RULES) -> list[str]:
    return [f.code for f in evaluate(answers, age, rules)]


@pytest.mark.requirement(
    "PROT-ELIG-PRIOR-TRANSFERS",
    "PROT-ELIG-TH1TH2",
    "PROT-ELIG-OTHER-INCLUSION",
    "PROT-ELIG-EXCLUSION",
)
def test_a_woman_meeting_every_criterion_at_its_threshold_is_eligible():
    assert codes(ELIGIBLE) == []


@pytest.mark.requirement("PROT-ELIG-AGE")
@pytest.mark.parametrize(("age", "eligible"), [(17, False), (18, True), (39, True), (40, False)])
def test_age_bounds_are_18_inclusive_and_40_exclusive(age, eligible):
    assert (codes(ELIGIBLE, age) == []) is eligible


@pytest.mark.requirement(
    "PROT-ELIG-PRIOR-TRANSFERS",
    "PROT-ELIG-TH1TH2",
    "PROT-ELIG-OTHER-INCLUSION",
    "PROT-ELIG-EXCLUSION",
    "PROT-ELIG-RESULT",
)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prior_good_quality_transfers", 2),
        ("prior_embryos_transferred", 3),
        ("prior_biochemical_pregnancy", True),
        ("other_infertility_factor", True),
        ("th1_th2_ratio", Decimal("10.29")),
        ("frozen_embryos_available", False),
        ("able_to_attend_visits", False),
        ("antiphospholipid_syndrome", True),
        ("coagulation_abnormality", True),
        ("thyroid_dysfunction", True),
        ("other_pregnancy_loss_factor", True),
        ("tacrolimus_contraindication", True),
        ("pregnant", True),
        ("investigator_judges_unsuitable", True),
    ],
)
def test_each_criterion_fails_alone_with_its_own_code(field, value):
    assert codes(dataclasses.replace(ELIGIBLE, **{field: value})) == [field]


@pytest.mark.requirement("API-ELIGIBILITY", "PROT-ELIG-OTHER-INCLUSION", "PROT-ELIG-EXCLUSION")
def test_every_contract_field_is_a_criterion():
    fields = {f.name for f in dataclasses.fields(EligibilityAnswers)}
    assert {c.code for c in CRITERIA} == fields | {"age"}


@pytest.mark.requirement("PROT-SETTINGS", "PROT-ELIG-TH1TH2", "PROT-ELIG-PRIOR-TRANSFERS")
def test_thresholds_are_settings():
    strict = EligibilityRules(min_prior_transfers=5, th1_th2_min=Decimal("12"))
    assert codes(ELIGIBLE, rules=strict) == ["prior_good_quality_transfers", "th1_th2_ratio"]


@pytest.mark.requirement("PROT-ELIG-TH1TH2", "PROT-ELIG-RESULT")
def test_failures_say_why_in_words():
    (failure,) = evaluate(dataclasses.replace(ELIGIBLE, th1_th2_ratio=Decimal("8.1")), 30, RULES)
    assert "8.1" in failure.message and "10.3" in failure.message


@pytest.mark.requirement("PROT-ELIG-AGE")
@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        ("1990-05-17", "2026-05-16", 35),
        ("1990-05-17", "2026-05-17", 36),
        ("1992-02-29", "2026-02-28", 33),
        ("1992-02-29", "2026-03-01", 34),
    ],
)
def test_age_is_completed_years(birth, day, age):
    assert age_on(dt.date.fromisoformat(birth), dt.date.fromisoformat(day)) == age


@pytest.mark.requirement("PROT-ELIG-AGE", "PROT-ELIG-PRIOR-TRANSFERS", "PROT-ELIG-TH1TH2")
@given(
    transfers=st.integers(0, 20),
    embryos=st.integers(0, 40),
    ratio=st.decimals(min_value=0, max_value=100, places=2),
    age=st.integers(10, 60),
)
def test_eligible_exactly_when_every_threshold_is_met(transfers, embryos, ratio, age):
    answers = dataclasses.replace(
        ELIGIBLE,
        prior_good_quality_transfers=transfers,
        prior_embryos_transferred=embryos,
        th1_th2_ratio=ratio,
    )
    expected = transfers >= 3 and embryos >= 4 and ratio >= Decimal("10.3") and 18 <= age < 40
    assert (codes(answers, age) == []) is expected


@pytest.mark.requirement("PROT-ELIG-RESULT", "ICH-E6R3-4.2.1-CAPTURE")
def test_partial_answers_report_only_the_criteria_already_answered():
    from ecrf.participants.eligibility import evaluate_partial

    failures = evaluate_partial({"th1_th2_ratio": Decimal("9"), "pregnant": None}, 41, RULES)
    assert [f.code for f in failures] == ["age", "th1_th2_ratio"]
    assert evaluate_partial({}, 30, RULES) == []
