"""Line charts as inline SVG geometry: pure Python, nothing fetched at run
time. Works offline, prints, and tests can read the numbers.
templates/experiments/_chart.html draws a Chart: each line, a legend entry per
line (with its AP or ROC-AUC where that applies) and hover points whose SVG
<title> holds the point's values (static/js/charts.js shows them at once)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any

from mlplatform import numbers

WIDTH, HEIGHT = 380, 300
WIDE_WIDTH, WIDE_HEIGHT = 1100, 380
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 14, 44
# Hover points per chart, shared among its lines: a page with ten runs stays light.
HOVER_BUDGET = 400
HOVER_PER_LINE = 100
# Distinguishable for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = (
    "#0072b2",
    "#d55e00",
    "#009e73",
    "#cc79a7",
    "#e69f00",
    "#56b4e9",
    "#000000",
    "#f0e442",
    "#999999",
    "#882255",
)


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    legend: str = ""  # the legend entry; the label when empty
    # Hover text of the point at an index; called only for the points kept for
    # hovering (a tenth of a long curve), not for every point.
    title: Callable[[int], str] | None = None
    color: str = ""  # a fixed colour (the run's colour on the page)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    color: str
    title: str


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    points: str  # "x,y x,y ..." in SVG coordinates
    legend: str = ""


@dataclass(frozen=True)
class Tick:
    position: float  # SVG coordinate along its axis
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    reference: str = ""  # a dashed guide line, e.g. ROC's chance diagonal
    width: int = WIDTH
    height: int = HEIGHT
    points: tuple[Point, ...] = ()
    markers: bool = False  # points always visible (a sweep), not only on hover
    wide: bool = False
    note: str = ""
    left: int = LEFT
    top: int = TOP
    right: int = field(default=0)
    bottom: int = field(default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "right", self.right or self.width - RIGHT)
        object.__setattr__(self, "bottom", self.bottom or self.height - BOTTOM)

    @property
    def points_svg(self) -> str:
        """The hover points as SVG markup, built here rather than in a template
        loop (a thousand points took a template 100 ms). Titles are escaped:
        they hold experiment names."""
        radius = 5 if self.markers else 4
        return "".join(
            f'<circle class="point" cx="{point.x}" cy="{point.y}" r="{radius}" '
            f'fill="{escape(point.color)}"><title>{escape(point.title)}</title></circle>'
            for point in self.points
        )

    @property
    def x_label_y(self) -> int:
        return self.height - 8

    @property
    def y_label_x(self) -> int:
        return 14

    @property
    def middle_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def middle_y(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class _Scale:
    low: float
    high: float
    start: float  # SVG coordinate of `low`
    end: float  # SVG coordinate of `high`

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.start + (value - self.low) / span * (self.end - self.start)

    @property
    def linear(self) -> tuple[float, float]:
        """(offset, factor) with value -> offset + factor * value, for long loops."""
        factor = (self.end - self.start) / (self.high - self.low or 1.0)
        return self.start - self.low * factor, factor


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw_step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _tick_label(value: float) -> str:
    return f"{value:.6g}"


def _finite_pairs(xs: Sequence[float], ys: Sequence[float]) -> list[tuple[int, float, float]]:
    return [
        (index, x, y)
        for index, (x, y) in enumerate(zip(xs, ys, strict=False))
        if math.isfinite(x) and math.isfinite(y)
    ]


def _points(series: Series, x: _Scale, y: _Scale) -> str:
    # The hot loop of a compare page (thousands of points): no call per coordinate.
    (x0, xk), (y0, yk) = x.linear, y.linear
    return " ".join(
        f"{x0 + xk * px:.1f},{y0 + yk * py:.1f}"
        for px, py in zip(series.xs, series.ys, strict=False)
        if math.isfinite(px) and math.isfinite(py)
    )


def _spread(count: int, limit: int) -> list[int]:
    """Up to `limit` indices of 0..count-1, evenly spread, both ends kept."""
    if count <= limit:
        return list(range(count))
    return sorted({round(step * (count - 1) / (limit - 1)) for step in range(limit)})


def _hover_points(series: Series, color: str, x: _Scale, y: _Scale, per_line: int) -> list[Point]:
    if series.title is None:
        return []
    pairs = _finite_pairs(series.xs, series.ys)
    return [
        Point(round(x(pairs[i][1]), 1), round(y(pairs[i][2]), 1), color, series.title(pairs[i][0]))
        for i in _spread(len(pairs), per_line)
    ]


def _range(values: list[float]) -> tuple[float, float]:
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if low == high:
        pad = abs(low) * 0.05 or 0.5
        return low - pad, high + pad
    return low, high


def _log_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Ticks on a log10 axis (values are exponents), labelled in data units."""
    decades = list(range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1))
    exponents = decades if len(decades) >= 2 else _nice_ticks(low, high)
    return [(value, f"{10**value:.3g}") for value in exponents]


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    diagonal: bool = False,
    wide: bool = False,
    markers: bool = False,
    x_log: bool = False,
    note: str = "",
) -> Chart:
    """One chart with a line per series. Ranges default to the data's extent.
    With x_log the series' xs are already log10 values."""
    width, height = (WIDE_WIDTH, WIDE_HEIGHT) if wide else (WIDTH, HEIGHT)
    x_low, x_high = x_range or _range([value for item in series for value in item.xs])
    y_low, y_high = y_range or _range([value for item in series for value in item.ys])
    x = _Scale(x_low, x_high, LEFT, width - RIGHT)
    y = _Scale(y_low, y_high, height - BOTTOM, TOP)
    colors = [item.color or PALETTE[index % len(PALETTE)] for index, item in enumerate(series)]
    per_line = min(HOVER_PER_LINE, max(20, HOVER_BUDGET // max(1, len(series))))
    lines = tuple(
        Line(label=item.label, color=color, points=_points(item, x, y), legend=item.legend)
        for item, color in zip(series, colors, strict=True)
    )
    points = tuple(
        point
        for item, color in zip(series, colors, strict=True)
        for point in _hover_points(item, color, x, y, per_line)
    )
    reference = ""
    if diagonal:
        reference = f"{x(x_low):.1f},{y(y_low):.1f} {x(x_high):.1f},{y(y_high):.1f}"
    x_tick_values = (
        _log_ticks(x_low, x_high)
        if x_log
        else [(v, _tick_label(v)) for v in _nice_ticks(x_low, x_high)]
    )
    return Chart(
        title=title,
        x_label=x_label,
        y_label=y_label,
        lines=lines,
        x_ticks=tuple(Tick(x(value), label) for value, label in x_tick_values),
        y_ticks=tuple(Tick(y(v), _tick_label(v)) for v in _nice_ticks(y_low, y_high)),
        reference=reference,
        width=width,
        height=height,
        points=points,
        markers=markers,
        wide=wide,
        note=note,
    )


# ------------------------------------------------------------ experiment charts


@dataclass(frozen=True)
class Run:
    """One experiment as the charts see it: its stored curves, its scalar
    metrics (for the legends) and its per-iteration losses."""

    label: str
    curves: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    losses: Mapping[str, Sequence[tuple[int, float]]] = field(default_factory=dict)
    color: str = ""


def _legend(run: Run, metric: str, short: str) -> str:
    value = run.metrics.get(metric)
    return f"{run.label} · {short} {numbers.score(value)}" if value is not None else run.label


def _curve_title(run: Run, curve: dict[str, Any], names: tuple[str, str]) -> Callable[[int], str]:
    """Hover text of a point: its threshold and the two plotted values."""
    x_name, y_name = names
    thresholds = curve.get("threshold") or []

    def title(index: int) -> str:
        threshold = thresholds[index] if index < len(thresholds) else None
        return (
            f"{run.label}: threshold {numbers.score(threshold)}, "
            f"{y_name} {numbers.score(curve[y_name][index])}, "
            f"{x_name} {numbers.score(curve[x_name][index])}"
        )

    return title


def _curve_series(
    runs: Sequence[Run], kind: str, names: tuple[str, str], legend: Callable[[Run], str]
) -> list[Series]:
    x_name, y_name = names
    return [
        Series(
            run.label,
            run.curves[kind][x_name],
            run.curves[kind][y_name],
            legend=legend(run),
            title=_curve_title(run, run.curves[kind], names),
            color=run.color,
        )
        for run in runs
        if (run.curves or {}).get(kind)
    ]


def pr_chart(runs: Sequence[Run], *, wide: bool = False) -> Chart | None:
    """Precision-recall curves from the stored `curves["pr"]` of each run."""
    series = _curve_series(
        runs, "pr", ("recall", "precision"), lambda run: _legend(run, "average_precision", "AP")
    )
    if not series:
        return None
    return line_chart(
        series,
        title="Precision-recall",
        x_label="recall",
        y_label="precision",
        x_range=(0.0, 1.0),
        y_range=(0.0, 1.0),
        wide=wide,
    )


def roc_chart(runs: Sequence[Run], *, wide: bool = False) -> Chart | None:
    series = _curve_series(
        runs, "roc", ("fpr", "tpr"), lambda run: _legend(run, "roc_auc", "ROC-AUC")
    )
    if not series:
        return None
    return line_chart(
        series,
        title="ROC",
        x_label="false positive rate",
        y_label="true positive rate",
        x_range=(0.0, 1.0),
        y_range=(0.0, 1.0),
        diagonal=True,
        wide=wide,
    )


def loss_chart(
    runs: Sequence[Run], *, name: str = "validation_loss", wide: bool = False
) -> Chart | None:
    """A per-iteration metric (the boosted models' holdout loss), one line per run."""
    series = []
    for run in runs:
        steps = run.losses.get(name) or []
        if not steps:
            continue
        last_step, last_value = steps[-1]
        series.append(
            Series(
                run.label,
                [step for step, _ in steps],
                [value for _, value in steps],
                legend=f"{run.label} · {numbers.score(last_value)} at iteration {last_step:,}",
                title=_loss_title(run, name, steps),
                color=run.color,
            )
        )
    if not series:
        return None
    return line_chart(
        series, title=f"{name} per iteration", x_label="iteration", y_label=name, wide=wide
    )


def _loss_title(run: Run, name: str, steps: Sequence[tuple[int, float]]) -> Callable[[int], str]:
    def title(index: int) -> str:
        step, value = steps[index]
        return f"{run.label}: iteration {step:,}, {name} {numbers.score(value)}"

    return title


@dataclass(frozen=True)
class SweepPoint:
    parameter: float
    value: float
    label: str
    color: str


def sweep_chart(points: Sequence[SweepPoint], *, parameter: str, metric: str) -> Chart | None:
    """A metric against the one numeric parameter the runs differ in: one
    marker per run (in its colour), joined in parameter order. A parameter
    spanning two decades or more is drawn on a log axis."""
    ordered = sorted(
        (point for point in points if math.isfinite(point.value)), key=lambda p: p.parameter
    )
    if len(ordered) < 2:
        return None
    xs = [point.parameter for point in ordered]
    x_log = xs[0] > 0 and xs[-1] / xs[0] >= 100
    plotted = [math.log10(value) for value in xs] if x_log else xs

    def title(index: int) -> str:
        point = ordered[index]
        return (
            f"{point.label}: {parameter} {point.parameter:g}, {metric} {numbers.score(point.value)}"
        )

    chart = line_chart(
        [Series(metric, plotted, [p.value for p in ordered], title=title, color="#5f6b7a")],
        title=f"{metric} by {parameter}",
        x_label=parameter + (" (log scale)" if x_log else ""),
        y_label=metric,
        markers=True,
        x_log=x_log,
    )
    colored = tuple(
        Point(point.x, point.y, run.color, point.title)
        for point, run in zip(chart.points, ordered, strict=True)
    )
    return replace(chart, points=colored)
