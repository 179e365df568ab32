from __future__ import annotations

import math

from experiments.views import charts


def test_it_maps_data_corners_to_the_plot_corners() -> None:
    chart = charts.line_chart(
        [charts.Series("a", [0.0, 1.0], [0.0, 1.0])],
        title="t",
        x_label="x",
        y_label="y",
        x_range=(0.0, 1.0),
        y_range=(0.0, 1.0),
    )
    bottom_left, top_right = chart.lines[0].points.split()
    assert bottom_left == f"{charts.LEFT:.1f},{charts.HEIGHT - charts.BOTTOM:.1f}"
    assert top_right == f"{charts.WIDTH - charts.RIGHT:.1f},{charts.TOP:.1f}"
    assert [tick.label for tick in chart.x_ticks] == ["0", "0.2", "0.4", "0.6", "0.8", "1"]


def test_it_skips_points_that_are_not_finite() -> None:
    chart = charts.line_chart(
        [charts.Series("a", [0.0, 0.5, 1.0], [0.1, math.nan, 0.9])],
        title="t",
        x_label="x",
        y_label="y",
    )
    assert len(chart.lines[0].points.split()) == 2


def test_it_handles_a_flat_series() -> None:
    chart = charts.loss_chart([(1, 0.3), (2, 0.3)], name="validation_loss")
    assert chart is not None
    assert len(chart.lines[0].points.split()) == 2
    assert all(math.isfinite(tick.position) for tick in chart.y_ticks)


def test_it_overlays_one_coloured_line_per_experiment() -> None:
    curve = {"pr": {"recall": [0, 1], "precision": [1, 0]}, "roc": {"fpr": [0, 1], "tpr": [0, 1]}}
    chart = charts.roc_chart([("#1", curve), ("#2", curve)])
    assert chart is not None
    assert [line.color for line in chart.lines] == list(charts.PALETTE[:2])
    assert chart.reference  # the chance diagonal


def test_it_draws_nothing_without_curves() -> None:
    assert charts.pr_chart([("#1", {})]) is None
    assert charts.roc_chart([]) is None
    assert charts.loss_chart([], name="validation_loss") is None
