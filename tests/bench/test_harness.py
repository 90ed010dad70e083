"""The benchmarks' harness: sides timed one operation at a time, in rotating order, and
each figure a median of per-repeat ratios with its range."""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench_common", Path(__file__).resolve().parents[2] / "bench" / "common.py"
)
assert _spec is not None and _spec.loader is not None
common = sys.modules["bench_common"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)


def test_sides_alternate_one_operation_at_a_time_in_rotating_order():
    calls: list[tuple[str, int]] = []
    sides = {name: (lambda index, name=name: calls.append((name, index))) for name in "abc"}
    comparison = common.interleaved(sides, samples=4, repeats=2)
    # Every round runs each side once on the same index, the first side rotating.
    assert calls[:12] == [
        ("a", 0), ("b", 0), ("c", 0),
        ("b", 1), ("c", 1), ("a", 1),
        ("c", 2), ("a", 2), ("b", 2),
        ("a", 3), ("b", 3), ("c", 3),
    ]  # fmt: skip
    assert [index for name, index in calls if name == "a"] == list(range(8))
    assert {name: [len(r) for r in repeats] for name, repeats in comparison.times.items()} == {
        "a": [4, 4],
        "b": [4, 4],
        "c": [4, 4],
    }
    assert comparison.samples == 8


def test_the_ratio_is_the_median_of_the_repeats_ratios_with_their_range():
    comparison = common.Comparison(
        {
            "mine": [[2.0, 2.0, 2.0], [3.0, 3.0, 9.0], [1.0, 1.5, 1.5]],
            "base": [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]],
        }
    )
    assert comparison.ratios("mine", "base") == [2.0, 3.0, 1.5]
    fields = comparison.ratio_fields("mine", "base")
    assert fields == {
        "ratio": 2.0,
        "ratio_min": 1.5,
        "ratio_max": 3.0,
        "samples": 9,
        "repeats": 3,
    }
    assert comparison.ratios("mine", "base", p95=True) == [2.0, 9.0, 1.5]
    assert comparison.median_ms("base") == pytest.approx(1000.0)
    assert statistics.median(comparison.ratios("mine", "base")) == fields["ratio"]


def test_the_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert common.percentile(values, 0.95) == 95.0
    assert common.percentile([4.0], 0.95) == 4.0
