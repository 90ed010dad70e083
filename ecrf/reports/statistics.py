"""Exact binomial statistics of the efficacy analysis (protocol, Analysis sets).

Pure functions, no database: each arm's rate of positives is reported with its exact
(Clopper-Pearson) two-sided confidence interval and tested alone against the
protocol's threshold rate by a one-sided exact binomial test (alternative: the rate
is greater). Percentages are rounded half up to one decimal, as the contract shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

#: The protocol's confidence level for every reported proportion.
CONFIDENCE = 0.95
ONE_DECIMAL = Decimal("0.1")


def _check_counts(n: int, N: int) -> None:
    if N < 0 or n < 0:
        raise ValueError(f"Counts cannot be negative (n={n}, N={N}).")
    if n > N:
        raise ValueError(f"More positives than participants (n={n}, N={N}).")


def percent_one_decimal(value: Fraction | float) -> float:
    """A proportion (0 to 1) as a percentage rounded half up to one decimal."""
    exact = Fraction(value) * 100
    rounded = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        ONE_DECIMAL, rounding=ROUND_HALF_UP
    )
    return float(rounded)


def clopper_pearson(
    n: int,
    N: int,
    confidence: float = CONFIDENCE,
) -> tuple[float, float] | None:
    """The exact two-sided confidence interval of n/N, as proportions; ``None`` when N is 0.

    The bounds are 0 when n is 0 and 1 when n is N, as the exact interval has them.
    """
    _check_counts(n, N)
    if not 0 < confidence < 1:
        raise ValueError(f"The confidence level lies between 0 and 1, not {confidence}.")
    if N == 0:
        return None
    from scipy.stats import beta  # noqa: PLC0415  (heavy: loaded only to analyse)

    # The exact interval in closed form, from the beta distribution's quantiles
    # (the same bounds as scipy's binomtest(...).proportion_ci(method="exact"), without
    # its root finding).
    tail = (1 - confidence) / 2
    low = 0.0 if n == 0 else float(beta.ppf(tail, n, N - n + 1))
    high = 1.0 if n == N else float(beta.ppf(1 - tail, n + 1, N - n))
    return low, high


def exact_binomial_p(n: int, N: int, null_rate: float) -> float | None:
    """One-sided exact binomial test of n/N against ``null_rate`` (alternative: greater).

    The p-value is P(X >= n) for X ~ Binomial(N, null_rate); ``None`` when N is 0.
    """
    _check_counts(n, N)
    if not 0 < null_rate < 1:
        raise ValueError(f"The null rate lies between 0 and 1, not {null_rate}.")
    if N == 0:
        return None
    from scipy.stats import binomtest  # noqa: PLC0415  (heavy: loaded only to analyse)

    return float(binomtest(n, N, p=null_rate, alternative="greater").pvalue)


@dataclass(frozen=True)
class ProportionResult:
    """One arm's result for one endpoint: n of N, percent, exact 95% CI, one-sided p."""

    n: int
    N: int
    percent: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None

    def significant(self, alpha: float) -> bool:
        """Whether the arm's rate exceeds the null rate at the per-arm significance level."""
        return self.p_value is not None and self.p_value < alpha

    def as_dict(self) -> dict[str, int | float | None]:
        """The contract's JSON of one arm (``n``, ``N``, ``percent``, ``ci_low``, ...)."""
        return {
            "n": self.n,
            "N": self.N,
            "percent": self.percent,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
        }


def proportion_result(
    n: int,
    N: int,
    *,
    null_rate: float,
    confidence: float = CONFIDENCE,
) -> ProportionResult:
    """n/N with its percentage, exact confidence interval (percent) and one-sided p-value.

    With N = 0 there is no proportion: percent, interval and p-value are ``None``.
    """
    interval = clopper_pearson(n, N, confidence)
    p_value = exact_binomial_p(n, N, null_rate)
    if interval is None:
        return ProportionResult(n=n, N=N, percent=None, ci_low=None, ci_high=None, p_value=None)
    low, high = interval
    return ProportionResult(
        n=n,
        N=N,
        percent=percent_one_decimal(Fraction(n, N)),
        ci_low=percent_one_decimal(low),
        ci_high=percent_one_decimal(high),
        p_value=p_value,
    )
