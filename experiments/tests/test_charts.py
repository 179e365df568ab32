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
    run = charts.Run("a", {}, losses={"validation_loss": [(1, 0.3), (2, 0.3)]})
    chart = charts.loss_chart([run], name="validation_loss")
    assert chart is not None
    assert len(chart.lines[0].points.split()) == 2
    assert all(math.isfinite(tick.position) for tick in chart.y_ticks)


CURVE = {
    "pr": {"recall": [0, 1], "precision": [1, 0], "threshold": [0.9, 0.1]},
    "roc": {"fpr": [0, 1], "tpr": [0, 1], "threshold": [0.9, 0.1]},
}


def test_it_overlays_one_coloured_line_per_experiment() -> None:
    chart = charts.roc_chart([charts.Run("#1", CURVE), charts.Run("#2", CURVE)])
    assert chart is not None
    assert [line.color for line in chart.lines] == list(charts.PALETTE[:2])
    assert chart.reference  # the chance diagonal


def test_it_names_the_area_under_each_curve_in_the_legend() -> None:
    runs = [
        charts.Run("#1 a", CURVE, {"average_precision": 0.81234, "roc_auc": 0.9}),
        charts.Run("#2 b", CURVE, {}),
    ]
    pr = charts.pr_chart(runs)
    assert pr is not None
    assert [line.legend for line in pr.lines] == ["#1 a · AP 0.8123", "#2 b"]
    roc = charts.roc_chart(runs)
    assert roc is not None
    assert roc.lines[0].legend == "#1 a · ROC-AUC 0.9000"


def test_it_gives_each_hover_point_its_threshold_and_values() -> None:
    chart = charts.pr_chart([charts.Run("#1", CURVE)])
    assert chart is not None
    assert [point.title for point in chart.points] == [
        "#1: threshold 0.9000, precision 1.0000, recall 0.0000",
        "#1: threshold 0.1000, precision 0.0000, recall 1.0000",
    ]


def test_it_keeps_the_hover_points_of_many_long_curves_within_budget() -> None:
    long_curve = {"pr": {"recall": [i / 299 for i in range(300)], "precision": [0.5] * 300}}
    runs = [charts.Run(f"#{n}", long_curve) for n in range(10)]
    chart = charts.pr_chart(runs, wide=True)
    assert chart is not None
    assert len(chart.points) <= charts.HOVER_BUDGET
    assert chart.width == charts.WIDE_WIDTH


def test_it_draws_nothing_without_curves() -> None:
    assert charts.pr_chart([charts.Run("#1", {})]) is None
    assert charts.roc_chart([]) is None
    assert charts.loss_chart([charts.Run("#1", {})], name="validation_loss") is None


def test_it_draws_a_sweep_on_a_log_axis_when_the_parameter_spans_decades() -> None:
    points = [
        charts.SweepPoint(1.0, 0.7, "#3", "#000"),
        charts.SweepPoint(0.01, 0.5, "#1", "#111"),
        charts.SweepPoint(0.1, 0.6, "#2", "#222"),
    ]
    chart = charts.sweep_chart(points, parameter="learning_rate", metric="average_precision")
    assert chart is not None
    assert chart.x_label == "learning_rate (log scale)"
    assert [tick.label for tick in chart.x_ticks] == ["0.01", "0.1", "1"]
    assert [point.color for point in chart.points] == ["#111", "#222", "#000"]
    assert chart.points[0].title == "#1: learning_rate 0.01, average_precision 0.5000"
    linear = charts.sweep_chart(points[:1] + points[2:], parameter="p", metric="f1")
    assert linear is not None
    assert linear.x_label == "p"


def test_it_escapes_the_names_in_hover_points() -> None:
    chart = charts.pr_chart([charts.Run("#1 <b>x</b>", CURVE)])
    assert chart is not None
    assert "<b>" not in chart.points_svg
    assert "#1 &lt;b&gt;x&lt;/b&gt;: threshold 0.9000" in chart.points_svg
