"""Bar-chart geometry for the dashboard's inline SVG, in whole pixels. The templates draw it; no script, no CDN, so
the page works offline and every value is also in the page as text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

COLUMN_WIDTH = 18
COLUMN_GAP = 6
PLOT_HEIGHT = 160
MARGIN = 8
LABEL_AREA = 28  # under the columns: the day of the month

ROW_HEIGHT = 24
ROW_BAR_HEIGHT = 16
ROW_LABEL_WIDTH = 170
ROW_BAR_MAX = 360
ROW_VALUE_WIDTH = 110


@dataclass(frozen=True)
class Point:
    """One value to draw: `label` goes on the chart, `full_label` and `text` into the bar's title."""

    label: str
    full_label: str
    value: int  # never negative: counts and paise
    text: str


@dataclass(frozen=True)
class Bar:
    point: Point
    x: int
    y: int
    width: int
    height: int
    label_x: int
    label_y: int
    value_x: int  # where the value is written beside a row (rows only)


@dataclass(frozen=True)
class BarChart:
    slug: str  # the element ids start with it
    title: str
    description: str
    orientation: str  # "columns" (one per day) or "rows" (one per state)
    width: int
    height: int
    baseline_y: int
    bars: tuple[Bar, ...]


def _scaled(value: int, *, largest: int, extent: int) -> int:
    """`value`'s share of `extent`, rounded down, but at least 1 pixel for any non-zero value so it stays visible."""
    if value <= 0 or largest <= 0:
        return 0
    return max(1, value * extent // largest)


def column_chart(
    *, slug: str, title: str, description: str, points: Sequence[Point], scale_max: int | None = None
) -> BarChart:
    """Columns left to right; the tallest fills the plot, or `scale_max` does (1000 for per-mille rates)."""
    largest = scale_max if scale_max is not None else max((p.value for p in points), default=0)
    baseline = MARGIN + PLOT_HEIGHT
    bars = []
    for n, point in enumerate(points):
        x = MARGIN + n * (COLUMN_WIDTH + COLUMN_GAP)
        height = _scaled(min(point.value, largest), largest=largest, extent=PLOT_HEIGHT)
        bars.append(
            Bar(
                point=point,
                x=x,
                y=baseline - height,
                width=COLUMN_WIDTH,
                height=height,
                label_x=x + COLUMN_WIDTH // 2,
                label_y=baseline + 14,
                value_x=0,
            )
        )
    width = 2 * MARGIN + len(points) * (COLUMN_WIDTH + COLUMN_GAP) - COLUMN_GAP
    return BarChart(
        slug=slug,
        title=title,
        description=description,
        orientation="columns",
        width=max(width, 2 * MARGIN),
        height=baseline + LABEL_AREA,
        baseline_y=baseline,
        bars=tuple(bars),
    )


def row_chart(*, slug: str, title: str, description: str, points: Sequence[Point]) -> BarChart:
    largest = max((p.value for p in points), default=0)
    bars = []
    for n, point in enumerate(points):
        y = MARGIN + n * ROW_HEIGHT
        width = _scaled(point.value, largest=largest, extent=ROW_BAR_MAX)
        bars.append(
            Bar(
                point=point,
                x=ROW_LABEL_WIDTH,
                y=y,
                width=width,
                height=ROW_BAR_HEIGHT,
                label_x=ROW_LABEL_WIDTH - 6,
                label_y=y + ROW_BAR_HEIGHT - 4,
                value_x=ROW_LABEL_WIDTH + width + 6,
            )
        )
    return BarChart(
        slug=slug,
        title=title,
        description=description,
        orientation="rows",
        width=ROW_LABEL_WIDTH + ROW_BAR_MAX + ROW_VALUE_WIDTH,
        height=2 * MARGIN + len(points) * ROW_HEIGHT,
        baseline_y=0,
        bars=tuple(bars),
    )
