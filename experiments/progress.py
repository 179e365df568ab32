"""How far a fit has come, as the experiment's page, the API and
`run_experiment` say it: "iteration 120 / 200, val loss 0.0041, about 40 s left"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from experiments.fit_progress import FitProgress
from experiments.models import Experiment, Phase, Status
from mlplatform import numbers


@dataclass(frozen=True)
class FitProgressView:
    """A fit's progress as recorded on its experiment, with the time left."""

    unit: str
    done: int
    total: int
    at_most: bool
    detail: str
    seconds_left: float | None

    @property
    def text(self) -> str:
        return describe(
            unit=self.unit,
            done=self.done,
            total=self.total,
            at_most=self.at_most,
            detail=self.detail,
            seconds_left=self.seconds_left,
        )


def progress_detail(progress: FitProgress) -> str:
    """The early-stopping validation score of the last iteration: "val loss 0.0041"."""
    if progress.validation_value is None:
        return ""
    return f"val {progress.validation_name} {numbers.score(progress.validation_value)}"


def seconds_left(*, done: int, total: int, fit_seconds: float) -> float | None:
    """The rest of the fit at the pace so far; None until a twentieth of it
    (at least two steps) is done: the first step carries the fit's set-up
    (gradient boosting bins the data first), which made the first estimate of
    a 5-second fit "about 2 min 11 s"."""
    if done < max(2, -(-total // 20)) or fit_seconds < 0:
        return None
    return fit_seconds / done * max(0, total - done)


def describe(
    *,
    unit: str,
    done: int,
    total: int,
    at_most: bool = False,
    detail: str = "",
    seconds_left: float | None = None,
) -> str:
    """With early stopping the total and the time left are upper bounds,
    and are said to be."""
    bound = "at most " if at_most else ""
    parts = [f"{unit} {numbers.count(done)} / {bound}{numbers.count(total)}"]
    if detail:
        parts.append(detail)
    if seconds_left is not None and done < total:
        word = "at most" if at_most else "about"
        left = f"{word} {numbers.duration(seconds_left)} left" if seconds_left >= 1 else "finishing"
        parts.append(left)
    return ", ".join(parts)


def fit_progress_of(
    experiment: Experiment, *, now: datetime | None = None
) -> FitProgressView | None:
    """The recorded progress of a RUNNING experiment's fit, or None (another
    phase, or an estimator that does not tell). The time left is reckoned
    from the pace at the last report, less the time since it."""
    if experiment.status != Status.RUNNING or experiment.phase != Phase.FITTING:
        return None
    done, total = experiment.progress_done, experiment.progress_total
    if done is None or total is None:
        return None
    left = None
    if experiment.progress_at is not None and experiment.phase_started_at is not None:
        fit_seconds = (experiment.progress_at - experiment.phase_started_at).total_seconds()
        left = seconds_left(done=done, total=total, fit_seconds=fit_seconds)
        if left is not None:
            since = ((now or timezone.now()) - experiment.progress_at).total_seconds()
            left = max(0.0, left - max(0.0, since))
    return FitProgressView(
        unit=experiment.progress_unit,
        done=done,
        total=total,
        at_most=experiment.progress_at_most,
        detail=experiment.progress_detail,
        seconds_left=left,
    )
