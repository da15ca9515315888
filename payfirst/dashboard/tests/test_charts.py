"""Bar geometry in whole pixels: scaled to the largest value, visible when non-zero, one bar per point."""

from __future__ import annotations

from payfirst.dashboard.charts import (
    COLUMN_GAP,
    COLUMN_WIDTH,
    MARGIN,
    PLOT_HEIGHT,
    ROW_BAR_MAX,
    Point,
    column_chart,
    row_chart,
)


def points(*values: int) -> list[Point]:
    return [Point(label=str(n), full_label=f"day {n}", value=v, text=str(v)) for n, v in enumerate(values)]


def test_column_chart_scales_to_the_largest_value_and_sits_on_the_baseline():
    chart = column_chart(slug="c", title="t", description="d", points=points(0, 1, 500, 1000))
    assert [bar.height for bar in chart.bars] == [0, 1, PLOT_HEIGHT // 2, PLOT_HEIGHT]  # 1 of 1000 still shows
    assert all(bar.y + bar.height == chart.baseline_y for bar in chart.bars)
    assert [bar.x for bar in chart.bars] == [MARGIN + n * (COLUMN_WIDTH + COLUMN_GAP) for n in range(4)]
    assert chart.width == chart.bars[-1].x + COLUMN_WIDTH + MARGIN


def test_column_chart_of_zeros_draws_empty_bars():
    chart = column_chart(slug="c", title="t", description="d", points=points(0, 0, 0))
    assert len(chart.bars) == 3
    assert {bar.height for bar in chart.bars} == {0}


def test_row_chart_scales_widths_and_writes_values_after_the_bar():
    chart = row_chart(slug="r", title="t", description="d", points=points(3, 0, 12))
    assert [bar.width for bar in chart.bars] == [ROW_BAR_MAX // 4, 0, ROW_BAR_MAX]
    assert all(bar.value_x > bar.x + bar.width for bar in chart.bars)
    assert chart.height > chart.bars[-1].y + chart.bars[-1].height


def test_column_chart_on_a_fixed_scale():
    chart = column_chart(slug="c", title="t", description="d", points=points(0, 250, 1000), scale_max=1000)
    assert [bar.height for bar in chart.bars] == [0, PLOT_HEIGHT // 4, PLOT_HEIGHT]
    tall = column_chart(slug="c", title="t", description="d", points=points(5), scale_max=1)
    assert tall.bars[0].height == PLOT_HEIGHT  # never taller than the plot
