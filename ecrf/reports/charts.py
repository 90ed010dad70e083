"""Geometry of the reports' charts, drawn as inline SVG by the templates.

Pure functions, no database and no markup: they turn counts and percentages into
coordinates (a line chart of enrollment, a forest plot of confidence intervals, the
boxes and arrows of a CONSORT diagram). The templates draw the SVG with presentation
attributes only, so the Content-Security-Policy needs no inline styles, and every
label passes through the template's escaping.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

#: Colours of the series (site lines, arms), distinguishable in print as well.
PALETTE = ("#0d6efd", "#d63384", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#6c757d")
FONT_SIZE = 12
LINE_HEIGHT = 16


def nice_step(maximum: float, ticks: int = 5) -> int:
    """A whole, round step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    if maximum <= ticks:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(f * power for f in (1, 2, 5, 10) if raw <= f * power)


# -- line chart ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Series:
    label: str
    points: str
    colour: str
    width: float
    last_value: int
    legend_y: float


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    series: list[Series]
    target_y: float | None
    target: int | None

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom


def line_chart(
    *,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    total: tuple[str, Sequence[int]] | None = None,
    target: int | None = None,
    width: int = 760,
    height: int = 340,
) -> LineChart:
    """Cumulative lines over evenly spaced x labels, a thicker total, and a target line."""
    left, right, top, bottom = 48, 170, 16, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, line in series for v in line]
    if total is not None:
        values.extend(total[1])
    highest = max([*values, target or 0, 1])
    step = nice_step(highest)
    y_max = step * math.ceil(highest / step)
    count = len(x_labels)

    def x_of(index: int) -> float:
        return left + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y_of(value: float) -> float:
        return round(top + plot_h * (1 - value / y_max), 1)

    every = max(1, math.ceil(count / 12))
    x_ticks = [Tick(round(x_of(i), 1), label) for i, label in enumerate(x_labels) if i % every == 0]
    y_ticks = []
    for value in range(0, int(y_max) + 1, step):
        y_ticks.append(Tick(y_of(value), str(value)))

    def make(index: int, label: str, line: Sequence[int], colour: str, width_: float) -> Series:
        return Series(
            label=label,
            points=" ".join(f"{round(x_of(i), 1)},{y_of(v)}" for i, v in enumerate(line)),
            colour=colour,
            width=width_,
            last_value=line[-1] if line else 0,
            legend_y=top + LINE_HEIGHT * (index + 1),
        )

    drawn = [
        make(i, label, line, PALETTE[i % len(PALETTE)], 1.5)
        for i, (label, line) in enumerate(series)
    ]
    if total is not None:
        drawn.append(make(len(drawn), total[0], total[1], "#212529", 3))
    return LineChart(
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        series=drawn,
        target_y=y_of(target) if target else None,
        target=target,
    )


# -- forest plot -----------------------------------------------------------------------


@dataclass(frozen=True)
class ForestRow:
    y: float
    label: str
    point_x: float | None
    low_x: float | None
    high_x: float | None
    colour: str

    @property
    def cap_top(self) -> float:
        return self.y - 5

    @property
    def cap_bottom(self) -> float:
        return self.y + 5

    @property
    def marker_x(self) -> float | None:
        return None if self.point_x is None else round(self.point_x - 4, 1)

    @property
    def marker_y(self) -> float:
        return self.y - 4


@dataclass(frozen=True)
class ForestPlot:
    width: int
    height: int
    left: int
    right: int
    top: int
    axis_y: float
    ticks: list[Tick]
    null_x: float
    rows: list[ForestRow]


def forest_plot(
    rows: Sequence[tuple[str, float | None, float | None, float | None]],
    *,
    null_percent: float,
    width: int = 760,
    row_height: int = 28,
) -> ForestPlot:
    """Point estimates with their confidence intervals on a 0-100% axis, and the null rate.

    Each row is ``(label, percent, ci_low, ci_high)``; a row without data (N = 0) is
    labelled but not drawn.
    """
    left, right, top = 300, 30, 12
    plot_w = width - left - right

    def x_of(percent: float) -> float:
        return round(left + plot_w * percent / 100, 1)

    drawn = []
    for index, (label, percent, low, high) in enumerate(rows):
        y = top + row_height * index + row_height / 2
        drawn.append(
            ForestRow(
                y=y,
                label=label,
                point_x=x_of(percent) if percent is not None else None,
                low_x=x_of(low) if low is not None else None,
                high_x=x_of(high) if high is not None else None,
                colour=PALETTE[index % 2],
            )
        )
    axis_y = top + row_height * len(rows) + 4
    return ForestPlot(
        width=width,
        height=int(axis_y + 32),
        left=left,
        right=width - right,
        top=top,
        axis_y=axis_y,
        ticks=[Tick(x_of(p), f"{p}%") for p in range(0, 101, 20)],
        null_x=x_of(null_percent),
        rows=drawn,
    )


# -- CONSORT diagram -------------------------------------------------------------------


def text_units(text: str) -> int:
    """Width of a text in half-width units: a Japanese character is two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, units: int) -> list[str]:
    """Break a line into lines no wider than ``units`` (at spaces, or anywhere in CJK)."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if text_units(candidate) <= units:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for ch in word:
            if text_units(current + ch) > units:
                lines.append(current)
                current = ""
            current += ch
    if current or not lines:
        lines.append(current)
    return lines


@dataclass(frozen=True)
class TextLine:
    x: float
    y: float
    text: str
    bold: bool


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float
    lines: list[TextLine]

    @property
    def centre(self) -> float:
        return self.x + self.width / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True)
class Arrow:
    x1: float
    y1: float
    x2: float
    y2: float
    head: bool


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    boxes: list[Box]
    arrows: list[Arrow]


PAD = 8


def _box(x: float, y: float, width: float, lines: Sequence[str], height: float = 0) -> Box:
    units = max(8, int((width - 2 * PAD) / (FONT_SIZE * 0.55)))
    wrapped: list[tuple[str, bool]] = []
    for index, line in enumerate(lines):
        wrapped.extend((part, index == 0) for part in wrap(line, units))
    needed = 2 * PAD + LINE_HEIGHT * len(wrapped)
    return Box(
        x=x,
        y=y,
        width=width,
        height=max(height, needed),
        lines=[
            TextLine(x + PAD, y + PAD + LINE_HEIGHT * (i + 1) - 4, text, bold)
            for i, (text, bold) in enumerate(wrapped)
        ],
    )


def consort_layout(
    *,
    screened: Sequence[str],
    excluded: Sequence[str],
    randomized: Sequence[str],
    arm_stages: Sequence[Sequence[Sequence[str]]],
    width: int = 880,
) -> Diagram:
    """The CONSORT diagram: screened, excluded beside it, randomized, then one column per
    arm with a box per stage (allocation, follow-up, analysis), arrows between them.

    Each box is a list of lines, the first its heading.
    """
    gap = 24
    centre = width / 2
    main_w = 300
    boxes: list[Box] = []
    arrows: list[Arrow] = []
    top = _box(centre - main_w / 2, 8, main_w, screened)
    side_x = centre + 40
    side = _box(side_x, top.bottom + gap, width - side_x - 8, excluded)
    middle = _box(centre - main_w / 2, side.bottom + gap, main_w, randomized)
    boxes += [top, side, middle]
    arrows.append(Arrow(centre, top.bottom, centre, middle.y, True))
    arrows.append(Arrow(centre, side.y + side.height / 2, side.x, side.y + side.height / 2, True))
    columns = max(1, len(arm_stages))
    col_w = (width - gap * (columns + 1)) / columns
    branch_y = middle.bottom + gap / 2
    y = middle.bottom + gap
    if arm_stages:
        arrows.append(Arrow(centre, middle.bottom, centre, branch_y, False))
        first_centre = gap + col_w / 2
        last_centre = gap + (columns - 1) * (col_w + gap) + col_w / 2
        arrows.append(Arrow(first_centre, branch_y, last_centre, branch_y, False))
    stages = max((len(s) for s in arm_stages), default=0)
    previous = [branch_y] * columns
    for stage in range(stages):
        drafts = [
            _box(gap + i * (col_w + gap), y, col_w, arm[stage] if stage < len(arm) else [])
            for i, arm in enumerate(arm_stages)
        ]
        height = max(b.height for b in drafts)
        row = [_box(b.x, b.y, b.width, arm_stages[i][stage], height) for i, b in enumerate(drafts)]
        for i, box in enumerate(row):
            arrows.append(Arrow(box.centre, previous[i], box.centre, box.y, True))
            previous[i] = box.bottom
        boxes += row
        y += height + gap
    return Diagram(width=width, height=int(y), boxes=boxes, arrows=arrows)
