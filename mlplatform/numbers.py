"""How numbers read, the same on every page, in the admin and on the command
line: counts as integers with thousands separators, scores with four
decimals, deltas signed, sizes in binary units (KiB, MiB, GiB), durations in
h / min / s. No Django here, so commands and templates share it.
"""

from __future__ import annotations

import math

BINARY_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")
MISSING = "-"


def _finite(value: float | None) -> float | None:
    """The value, or None when it is missing or not a finite number (NaN, inf)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def count(value: float | None) -> str:
    """3304 -> "3,304"; 0.0 -> "0"."""
    number = _finite(value)
    return MISSING if number is None else f"{round(number):,}"


def score(value: float | None) -> str:
    """0.96215 -> "0.9622"."""
    number = _finite(value)
    return MISSING if number is None else f"{number:.4f}"


def quantity(value: float | None) -> str:
    """A data value (a column's min, max or mean): whole numbers as counts,
    others with four decimals like scores, and only values that four decimals
    would show as 0 in scientific notation: 172792.0 -> "172,792",
    -56.40751 -> "-56.4075", 0.0005926 -> "0.0006", 0.0000123 -> "1.23e-05"."""
    number = _finite(value)
    if number is None:
        return MISSING
    if float(number).is_integer():
        return count(number)
    return f"{number:,.4f}" if abs(number) >= 0.00005 else f"{number:.2e}"


def signed(value: float | None) -> str:
    """A delta: 0.239 -> "+0.2390", -0.01 -> "-0.0100"."""
    number = _finite(value)
    return MISSING if number is None else f"{number:+.4f}"


def signed_percent(value: float | None) -> str:
    """A relative change given as a fraction: 0.1234 -> "+12.34%"."""
    number = _finite(value)
    return MISSING if number is None else f"{100 * number:+.2f}%"


# A relative change beyond this many times the base reads as a ratio.
RELATIVE_LIMIT = 10.0
NEAR_ZERO = 1e-9


def relative_change(
    change: float | None, *, value: float | None = None, base: float | None = None
) -> str:
    """A relative change, signed: 0.1234 -> "+12.34%". Beyond +-1000 % it
    reads as the ratio of the values, "x48.6" (value / base) when both are
    given, else it is left out; and it is left out when the base is (near) 0."""
    number = _finite(change)
    if number is None or (base is not None and abs(base) < NEAR_ZERO):
        return ""
    if abs(number) <= RELATIVE_LIMIT:
        return signed_percent(number)
    ratio = None if value is None or base is None else value / base
    return f"\u00d7{ratio:,.1f}" if ratio is not None and ratio > 0 else ""


def signed_count(value: float | None) -> str:
    """A difference of counts: 1204 -> "+1,204", 0 -> "0"."""
    number = _finite(value)
    if number is None:
        return MISSING
    whole = round(number)
    return f"{whole:+,}" if whole else "0"


def signed_duration(seconds: float | None) -> str:
    """A difference of durations: 2.25 -> "+2.2 s", -125 -> "-2 min 5 s"."""
    number = _finite(seconds)
    if number is None:
        return MISSING
    sign = "-" if number < 0 else "+"
    return sign + duration(abs(number))


def interval(low: float | None, high: float | None) -> str:
    """A confidence interval of a delta, both ends signed alike: "[-0.0120, +0.0345]"."""
    if _finite(low) is None or _finite(high) is None:
        return MISSING
    return f"[{signed(low)}, {signed(high)}]"


def percent(part: float | None, whole: float | None) -> str:
    """A share: (492, 284807) -> "0.17%"; "-" when the whole is 0."""
    numerator, denominator = _finite(part), _finite(whole)
    if numerator is None or not denominator:
        return MISSING
    return f"{100 * numerator / denominator:.2f}%"


def size(size_bytes: int | None) -> str:
    """209715200 -> "200.0 MiB"; 512 -> "512 bytes"."""
    if size_bytes is None:
        return MISSING
    magnitude = float(size_bytes)
    for unit in BINARY_UNITS:
        if abs(magnitude) < 1024 or unit == BINARY_UNITS[-1]:
            break
        magnitude /= 1024
    return f"{int(magnitude)} bytes" if unit == "bytes" else f"{magnitude:.1f} {unit}"


def duration(seconds: float | None) -> str:
    """0.0234 -> "23 ms", 0.4 -> "0.4 s", 2.8 -> "2.8 s", 125 -> "2 min 5 s",
    3725 -> "1 h 2 min"."""
    number = _finite(seconds)
    if number is None:
        return MISSING
    if number < 0.1:
        # A prediction pass can take a few milliseconds: "0.0 s" would hide it.
        return f"{number * 1000:.0f} ms" if number >= 0.0005 else "<1 ms"
    if number < 10:
        return f"{number:.1f} s"
    whole = round(number)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
