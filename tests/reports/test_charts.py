"""Geometry of the report charts (no database)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ecrf.reports.charts import (
    consort_layout,
    forest_plot,
    line_chart,
    nice_step,
    text_units,
    wrap,
)


def test_steps_are_round_and_whole():
    assert [nice_step(m) for m in (0, 3, 5, 26, 90, 400)] == [1, 1, 1, 10, 20, 100]


def test_enrollment_lines_start_at_the_baseline_and_the_target_sits_above():
    chart = line_chart(
        x_labels=["2025-12", "2026-01", "2026-02"],
        series=[("S01", [0, 2, 3]), ("S02", [0, 0, 1])],
        total=("Total", [0, 2, 4]),
        target=26,
    )
    assert [tick.label for tick in chart.y_ticks] == ["0", "10", "20", "30"]
    baseline = chart.plot_bottom
    for series in chart.series:
        first_x, first_y = series.points.split(" ")[0].split(",")
        assert float(first_x) == chart.left and float(first_y) == baseline
    assert [s.last_value for s in chart.series] == [3, 1, 4]
    assert chart.target_y is not None and chart.top < chart.target_y < baseline
    assert chart.series[-1].width > chart.series[0].width  # the total stands out


def test_forest_plot_places_estimates_on_a_percent_axis():
    plot = forest_plot(
        [("low", 66.7, 38.4, 88.2), ("empty", None, None, None)], null_percent=5, width=500
    )
    span = plot.right - plot.left
    low = plot.rows[0]
    assert low.low_x < low.point_x < low.high_x
    assert round((low.point_x - plot.left) / span * 100, 0) == 67
    assert plot.null_x == round(plot.left + span * 0.05, 1)
    assert plot.rows[1].point_x is None and plot.rows[1].marker_x is None


def test_japanese_text_counts_double_and_wraps_without_spaces():
    assert text_units("FAS") == 3 and text_units("最大の解析対象集団") == 18
    lines = wrap("最大の解析対象集団（FAS）で解析", 10)
    assert all(text_units(line) <= 10 for line in lines)
    assert "".join(lines) == "最大の解析対象集団（FAS）で解析"


@given(st.text(alphabet="ab 解析", max_size=60), st.integers(min_value=2, max_value=30))
def test_wrapping_keeps_every_character_and_the_width(text, units):
    lines = wrap(text, units)
    assert all(text_units(line) <= units for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_consort_layout_has_a_column_per_arm_with_arrows_between_stages():
    stages = [[["Allocation", "n = 3"], ["Follow-up"], ["Analysis"]]] * 2
    diagram = consort_layout(
        screened=["Screened (n = 9)"],
        excluded=["Excluded (n = 4)", "a", "b"],
        randomized=["Randomized (n = 5)"],
        arm_stages=stages,
    )
    assert len(diagram.boxes) == 3 + 6
    # screened->randomized, ->excluded, the branch (2 lines), and one into each of 6 boxes
    assert len(diagram.arrows) == 2 + 2 + 6
    arm_boxes = diagram.boxes[3:]
    for row in range(3):
        left, right = arm_boxes[2 * row], arm_boxes[2 * row + 1]
        assert left.y == right.y and left.height == right.height
        assert left.x + left.width < right.x
    assert all(box.bottom <= diagram.height for box in diagram.boxes)
    assert diagram.boxes[0].lines[0].bold and not diagram.boxes[1].lines[1].bold
