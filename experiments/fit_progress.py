"""Progress during a fit, told by the estimator itself. No Django.

scikit-learn has no progress hook for the ensembles we train (its callback
API covers only LogisticRegression's lbfgs solver so far, and is
experimental), so each estimator is read where it tells:

- HistGradientBoosting with verbose >= 2 prints, after each iteration,
  `[12/200] 1 tree, 31 leaves, max depth = 8, train loss: 0.01234, val loss:
  0.01456, in 0.010s` (scikit-learn 1.9.1); the train and val parts appear
  only with early stopping (which may end the fit before 200: the total is
  then an upper bound) and read `score` instead of `loss` when `scoring` is a
  scorer. `verbose` is set for the fit and put back after it, so that the
  model's get_params (and its saved artifact) are those of a fit without
  reporting; sys.stdout is read line by line meanwhile.
- RandomForest builds each tree in `sklearn.ensemble._forest._parallel_build_trees`,
  from joblib's worker threads when n_jobs > 1. That function is wrapped for
  the fit to count the trees built. Its own verbose output would do too
  (`building tree 3 of 100`), but it turns on joblib's as well, which fails
  with an AttributeError of its own when a timeout interrupts the fit.
- LogisticRegression: not reported. lbfgs prints its iterations from Fortran
  straight to file descriptor 1, out of reach of sys.stdout, and the callback
  API stays on the estimator. The run keeps its "fitting" phase, which the
  command line's ticker covers.

Neither changes what is computed: `verbose` only prints, and the wrapper calls
the function it wraps with the same arguments (the tests compare metrics and
predictions to 1e-12). sys.stdout and a module's function are process-wide:
one fit at a time per process, as in a work-horse or `run_experiment`. Lines
that are not HistGradientBoosting's verbose output pass through to stdout.
"""

from __future__ import annotations

import importlib
import io
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Any, TextIO

ITERATION = "iteration"
TREE = "tree"

_HGB_ITERATION = re.compile(
    r"^\[(?P<done>\d+)/(?P<total>\d+)\] .*?"
    r"(?P<train>train (?:loss|score): [^,]+, )?"
    r"(?:val (?P<name>loss|score): (?P<value>[^,]+), )?in [\d.]+s$"
)
# The function of sklearn.ensemble._forest that fits one tree.
_FOREST_BUILD_TREE = "_parallel_build_trees"
# An iteration's line as it starts, cut short by an error in the iteration.
_HGB_START = re.compile(r"^\[\d+/\d+\] $")
# The rest of the verbose output: binning, the summary and its timings.
_CHATTER = re.compile(
    r"^(Binning |Fitting gradient boosted rounds:|Fit \d+ trees? in |Time spent )"
)


@dataclass(frozen=True)
class FitProgress:
    """`done` of `total` iterations or trees (`unit`). `at_most`: the fit may
    stop early, so `total` is an upper bound. `validation_name` ("loss" or
    "score") and `validation_value`: the early-stopping validation score of
    the last iteration, when there is one."""

    unit: str
    done: int
    total: int
    at_most: bool = False
    validation_name: str = ""
    validation_value: float | None = None


ProgressReceiver = Callable[[FitProgress], None]


def _final_estimator(model: Any) -> Any:
    # A Pipeline, told by its steps: importing scikit-learn here would cost
    # every command that only formats progress.
    steps = getattr(model, "steps", None)
    return steps[-1][1] if isinstance(steps, list) and steps else model


def _kind(model: Any) -> str:
    """ITERATION or TREE for an estimator whose fit tells its progress, else ""."""
    name = type(_final_estimator(model)).__name__
    if name.startswith("HistGradientBoosting"):
        return ITERATION
    if name.startswith("RandomForest"):
        return TREE
    return ""


def reports_progress(model: Any) -> bool:
    return bool(_kind(model))


@contextmanager
def reporting_fit_progress(model: Any, receive: ProgressReceiver) -> Iterator[None]:
    """For the block (one `model.fit`), call `receive` with a FitProgress for
    each iteration or tree. `receive` may be called from the estimator's
    worker threads; it should be quick and must not raise."""
    kind = _kind(model)
    reporting = {ITERATION: _boosting_iterations, TREE: _forest_trees}.get(kind)
    if reporting is None:
        yield
        return
    with reporting(_final_estimator(model), receive):
        yield


@contextmanager
def _boosting_iterations(estimator: Any, receive: ProgressReceiver) -> Iterator[None]:
    original_verbose = estimator.get_params()["verbose"]
    lines = _VerboseLines(receive, original=sys.stdout)
    estimator.set_params(verbose=2)
    try:
        with redirect_stdout(lines):
            yield
    finally:
        estimator.set_params(verbose=original_verbose)
        lines.close_lines()


@contextmanager
def _forest_trees(estimator: Any, receive: ProgressReceiver) -> Iterator[None]:
    forest_module = importlib.import_module("sklearn.ensemble._forest")
    build_tree = getattr(forest_module, _FOREST_BUILD_TREE)
    total = int(estimator.get_params()["n_estimators"])
    lock = threading.Lock()
    built = 0

    def build_and_count(*args: Any, **kwargs: Any) -> Any:
        nonlocal built
        tree = build_tree(*args, **kwargs)
        with lock:  # the trees finish in joblib's threads, in any order
            built += 1
            progress = FitProgress(unit=TREE, done=built, total=total)
        receive(progress)
        return tree

    setattr(forest_module, _FOREST_BUILD_TREE, build_and_count)
    try:
        yield
    finally:
        setattr(forest_module, _FOREST_BUILD_TREE, build_tree)


def parse_progress_line(line: str) -> FitProgress | None:
    """The FitProgress a HistGradientBoosting verbose line reports, or None."""
    match = _HGB_ITERATION.match(line)
    if match is None:
        return None
    value = match["value"]
    return FitProgress(
        unit=ITERATION,
        done=int(match["done"]),
        total=int(match["total"]),
        at_most=match["train"] is not None,
        validation_name=match["name"] or "",
        validation_value=_number(value) if value is not None else None,
    )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class _VerboseLines(io.TextIOBase):
    """A text stream standing in for sys.stdout that hands complete lines on:
    a progress line to `receive`, the estimator's other verbose lines to
    nowhere, anything else to the stream it stands in for. HGB writes
    `[12/200] ` and the rest of the line separately."""

    def __init__(self, receive: ProgressReceiver, *, original: TextIO) -> None:
        super().__init__()
        self.receive = receive
        self.original = original
        self.lock = threading.Lock()
        self.pending = ""

    def write(self, text: str) -> int:
        with self.lock:
            self.pending += text
            *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._line(line)
        return len(text)

    def _line(self, text: str) -> None:
        progress = parse_progress_line(text)
        if progress is not None:
            self.receive(progress)
        elif not _CHATTER.match(text):
            self.original.write(text + "\n")

    def flush(self) -> None:
        self.original.flush()

    def close_lines(self) -> None:
        """Pass on an unfinished last line (without a newline, as written)."""
        with self.lock:
            rest, self.pending = self.pending, ""
        if rest and not _CHATTER.match(rest) and not _HGB_START.match(rest):
            self.original.write(rest)

    def isatty(self) -> bool:
        return self.original.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.original.encoding
