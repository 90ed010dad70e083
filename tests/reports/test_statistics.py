"""Exact binomial statistics of the efficacy analysis (protocol, Analysis sets), no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrf.reports.statistics import (
    clopper_pearson,
    exact_binomial_p,
    percent_one_decimal,
    proportion_result,
)


@pytest.mark.parametrize(
    ("n", "N", "expected"),
    [
        (10, 15, (66.7, 38.4, 88.2)),  # low dose, published
        (5, 9, (55.6, 21.2, 86.3)),  # high dose, published
        (4, 6, (66.7, 22.3, 95.7)),  # the contract's example
    ],
)
@pytest.mark.requirement("PROT-STAT-CI")
def test_published_proportions_and_exact_intervals(n, N, expected):
    result = proportion_result(n, N, null_rate=0.05)
    assert (result.n, result.N) == (n, N)
    assert (result.percent, result.ci_low, result.ci_high) == expected


@pytest.mark.parametrize(("n", "N"), [(10, 15), (5, 9)])
def test_published_arms_beat_the_five_percent_threshold(n, N):
    assert exact_binomial_p(n, N, 0.05) < 0.0001
    assert proportion_result(n, N, null_rate=0.05).significant(0.0125)


@pytest.mark.requirement("PROT-STAT-BINOMIAL")
def test_p_value_is_the_upper_tail_of_the_binomial():
    # P(X >= 1) for X ~ Binomial(2, 0.5) is 3/4; P(X >= 0) is 1.
    assert exact_binomial_p(1, 2, 0.5) == pytest.approx(0.75)
    assert exact_binomial_p(0, 7, 0.05) == pytest.approx(1.0)


def test_interval_is_two_sided_not_one_sided():
    low, high = clopper_pearson(10, 15)
    assert high < 1  # a one-sided (greater) interval would reach 100%


def test_no_participants_gives_no_proportion_and_no_error():
    result = proportion_result(0, 0, null_rate=0.05)
    assert (result.n, result.N) == (0, 0)
    assert result.percent is None and result.ci_low is None and result.ci_high is None
    assert result.p_value is None
    assert not result.significant(0.0125)
    assert clopper_pearson(0, 0) is None
    assert exact_binomial_p(0, 0, 0.05) is None


def test_no_positives_starts_the_interval_at_zero():
    result = proportion_result(0, 9, null_rate=0.05)
    assert (result.percent, result.ci_low) == (0.0, 0.0)
    assert result.ci_high == 33.6
    assert result.p_value == pytest.approx(1.0)


def test_all_positive_ends_the_interval_at_one_hundred():
    result = proportion_result(9, 9, null_rate=0.05)
    assert (result.percent, result.ci_high) == (100.0, 100.0)
    assert result.ci_low == 66.4


def test_percent_rounds_half_up():
    assert percent_one_decimal(1 / 16) == 6.3  # 6.25
    from fractions import Fraction

    assert percent_one_decimal(Fraction(1, 16)) == 6.3
    assert percent_one_decimal(Fraction(2, 3)) == 66.7


@pytest.mark.parametrize(
    ("n", "N", "null_rate"), [(-1, 5, 0.05), (6, 5, 0.05), (1, 5, 0), (1, 5, 1)]
)
def test_impossible_counts_and_rates_are_refused(n, N, null_rate):
    with pytest.raises(ValueError):
        proportion_result(n, N, null_rate=null_rate)


def test_contract_json_of_one_arm():
    assert proportion_result(4, 6, null_rate=0.05).as_dict() == {
        "n": 4,
        "N": 6,
        "percent": 66.7,
        "ci_low": 22.3,
        "ci_high": 95.7,
        "p_value": pytest.approx(8.640625e-05),
    }


counts = st.integers(min_value=1, max_value=400).flatmap(
    lambda N: st.tuples(st.integers(min_value=0, max_value=N), st.just(N))
)


@given(counts, st.floats(min_value=0.001, max_value=0.999))
def test_interval_holds_the_estimate_within_zero_and_one_hundred(n_of_N, null_rate):
    n, N = n_of_N
    result = proportion_result(n, N, null_rate=null_rate)
    assert 0 <= result.ci_low <= result.percent <= result.ci_high <= 100
    assert 0 <= result.p_value <= 1


@given(counts)
def test_more_positives_never_raise_the_p_value(n_of_N):
    n, N = n_of_N
    if n < N:
        assert exact_binomial_p(n + 1, N, 0.05) <= exact_binomial_p(n, N, 0.05)


@given(counts)
def test_raw_interval_contains_the_raw_proportion(n_of_N):
    n, N = n_of_N
    low, high = clopper_pearson(n, N)
    assert 0 <= low <= n / N <= high <= 1


@given(counts)
def test_the_interval_is_scipys_exact_interval(n_of_N):
    """The closed form gives the bounds scipy finds by root finding (method "exact")."""
    from scipy.stats import binomtest

    n, N = n_of_N
    exact = binomtest(n, N).proportion_ci(confidence_level=0.95, method="exact")
    assert clopper_pearson(n, N) == pytest.approx((exact.low, exact.high), abs=1e-9)
