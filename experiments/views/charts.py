"""Line charts as inline SVG geometry: pure Python, no JavaScript, nothing
fetched at run time. Works offline, prints, and tests can read the numbers.
templates/experiments/_chart.html draws a Chart."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 380, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 14, 44
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


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    points: str  # "x,y x,y ..." in SVG coordinates


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
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM

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


def _points(series: Series, x: _Scale, y: _Scale) -> str:
    return " ".join(
        f"{x(px):.1f},{y(py):.1f}"
        for px, py in zip(series.xs, series.ys, strict=False)
        if math.isfinite(px) and math.isfinite(py)
    )


def _range(values: list[float]) -> tuple[float, float]:
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if low == high:
        pad = abs(low) * 0.05 or 0.5
        return low - pad, high + pad
    return low, high


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    diagonal: bool = False,
) -> Chart:
    """One chart with a line per series. Ranges default to the data's extent."""
    x_low, x_high = x_range or _range([value for item in series for value in item.xs])
    y_low, y_high = y_range or _range([value for item in series for value in item.ys])
    x = _Scale(x_low, x_high, LEFT, WIDTH - RIGHT)
    y = _Scale(y_low, y_high, HEIGHT - BOTTOM, TOP)
    lines = tuple(
        Line(label=item.label, color=PALETTE[index % len(PALETTE)], points=_points(item, x, y))
        for index, item in enumerate(series)
    )
    reference = ""
    if diagonal:
        reference = f"{x(x_low):.1f},{y(y_low):.1f} {x(x_high):.1f},{y(y_high):.1f}"
    return Chart(
        title=title,
        x_label=x_label,
        y_label=y_label,
        lines=lines,
        x_ticks=tuple(Tick(x(v), _tick_label(v)) for v in _nice_ticks(x_low, x_high)),
        y_ticks=tuple(Tick(y(v), _tick_label(v)) for v in _nice_ticks(y_low, y_high)),
        reference=reference,
    )


def pr_chart(curves: Sequence[tuple[str, dict]]) -> Chart | None:
    """Precision-recall curves from the stored `curves["pr"]` of each experiment."""
    series = [
        Series(label, curve["pr"]["recall"], curve["pr"]["precision"])
        for label, curve in curves
        if curve.get("pr")
    ]
    if not series:
        return None
    return line_chart(
        series,
        title="Precision-recall",
        x_label="recall",
        y_label="precision",
        x_range=(0.0, 1.0),
        y_range=(0.0, 1.0),
    )


def roc_chart(curves: Sequence[tuple[str, dict]]) -> Chart | None:
    series = [
        Series(label, curve["roc"]["fpr"], curve["roc"]["tpr"])
        for label, curve in curves
        if curve.get("roc")
    ]
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
    )


def loss_chart(steps: Sequence[tuple[int, float]], *, name: str) -> Chart | None:
    if not steps:
        return None
    return line_chart(
        [Series(name, [step for step, _ in steps], [value for _, value in steps])],
        title=f"{name} per iteration",
        x_label="iteration",
        y_label=name,
    )
