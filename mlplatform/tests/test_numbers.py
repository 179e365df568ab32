from __future__ import annotations

import math

import pytest

from mlplatform import numbers


@pytest.mark.parametrize(
    ("value", "text"), [(3304.0, "3,304"), (0.0, "0"), (56962, "56,962"), (None, "-")]
)
def test_it_shows_counts_as_integers_with_separators(value: float | None, text: str) -> None:
    assert numbers.count(value) == text


def test_it_shows_scores_with_four_decimals() -> None:
    assert numbers.score(0.96216) == "0.9622"
    assert numbers.score(0.00172987) == "0.0017"
    assert numbers.score(math.nan) == "-"


def test_it_signs_deltas_and_relative_changes() -> None:
    assert numbers.signed(0.239) == "+0.2390"
    assert numbers.signed(-0.01) == "-0.0100"
    assert numbers.signed_percent(0.1234) == "+12.34%"
    assert numbers.signed_percent(-0.05) == "-5.00%"


@pytest.mark.parametrize(
    ("size_bytes", "text"),
    [
        (512, "512 bytes"),
        (200 * 1024 * 1024, "200.0 MiB"),
        (143805570, "137.1 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (1536, "1.5 KiB"),
    ],
)
def test_it_shows_sizes_in_binary_units(size_bytes: int, text: str) -> None:
    assert numbers.size(size_bytes) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(2.8, "2.8 s"), (42, "42 s"), (125, "2 min 5 s"), (3725, "1 h 2 min")]
)
def test_it_shows_durations(seconds: float, text: str) -> None:
    assert numbers.duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.0234, "23 ms"), (0.0001, "<1 ms"), (0.1, "0.1 s"), (0.0, "<1 ms")]
)
def test_it_shows_short_durations_in_milliseconds(seconds: float, text: str) -> None:
    assert numbers.duration(seconds) == text


def test_it_signs_count_and_duration_differences() -> None:
    assert numbers.signed_count(1204.0) == "+1,204"
    assert numbers.signed_count(-3.0) == "-3"
    assert numbers.signed_count(0.0) == "0"
    assert numbers.signed_duration(2.25) == "+2.2 s"
    assert numbers.signed_duration(-125) == "-2 min 5 s"


def test_it_rounds_both_ends_of_an_interval_alike() -> None:
    assert numbers.interval(-0.012, 0.03456) == "[-0.0120, +0.0346]"
    assert numbers.interval(None, 0.1) == "-"


def test_it_shows_a_share_as_a_percentage() -> None:
    assert numbers.percent(492, 284807) == "0.17%"
    assert numbers.percent(1, 0) == "-"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (172792.0, "172,792"),
        (-56.40751, "-56.4075"),
        (0.0005926, "0.0006"),  # the probe: "0.0005926", "0.000988", "-0.0028" side by side
        (0.000988, "0.0010"),
        (-0.0028, "-0.0028"),
        (0.0000123, "1.23e-05"),
        (None, "-"),
    ],
)
def test_it_shows_data_values_readably(value: float | None, text: str) -> None:
    assert numbers.quantity(value) == text


@pytest.mark.parametrize(
    ("change", "value", "base", "text"),
    [
        (0.1234, 0.9, 0.8, "+12.34%"),
        (-0.5, 0.4, 0.8, "-50.00%"),
        (48.5882, 0.0999, 0.002, "\u00d750.0"),  # the probe read "+4858.82 %"
        (0.3, 0.1, 0.0, ""),  # a base of (nearly) zero says nothing relative
        (None, 0.1, 0.1, ""),
    ],
)
def test_it_shows_a_relative_change_or_a_ratio_beyond_1000_percent(
    change: float | None, value: float, base: float, text: str
) -> None:
    assert numbers.relative_change(change, value=value, base=base) == text
