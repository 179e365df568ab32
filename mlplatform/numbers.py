"""How numbers read, the same on every page, in the admin and on the command
line: counts as integers with thousands separators, scores with four
decimals, deltas signed, sizes in binary units (KiB, MiB, GiB), durations in
h / min / s. No Django here, so commands and templates share it.
"""

from __future__ import annotations

import math

BINARY_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")
MISSING = "-"


def _absent(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def count(value: float | None) -> str:
    """3304 -> "3,304"; 0.0 -> "0"."""
    return MISSING if _absent(value) else f"{round(value):,}"


def score(value: float | None) -> str:
    """0.96215 -> "0.9622"."""
    return MISSING if _absent(value) else f"{value:.4f}"


def quantity(value: float | None) -> str:
    """A data value (a column's min, max or mean): whole numbers as counts,
    others with four decimals, tiny ones in four significant digits:
    172792.0 -> "172,792", -56.40751 -> "-56.4075", 0.0000123 -> "1.23e-05"."""
    if _absent(value):
        return MISSING
    if float(value).is_integer():
        return count(value)
    return f"{value:,.4f}" if abs(value) >= 0.001 else f"{value:.4g}"


def signed(value: float | None) -> str:
    """A delta: 0.239 -> "+0.2390", -0.01 -> "-0.0100"."""
    return MISSING if _absent(value) else f"{value:+.4f}"


def signed_percent(value: float | None) -> str:
    """A relative change given as a fraction: 0.1234 -> "+12.34%"."""
    return MISSING if _absent(value) else f"{100 * value:+.2f}%"


def signed_count(value: float | None) -> str:
    """A difference of counts: 1204 -> "+1,204", 0 -> "0"."""
    if _absent(value):
        return MISSING
    whole = round(value)
    return f"{whole:+,}" if whole else "0"


def signed_duration(seconds: float | None) -> str:
    """A difference of durations: 2.25 -> "+2.2 s", -125 -> "-2 min 5 s"."""
    if _absent(seconds):
        return MISSING
    sign = "-" if seconds < 0 else "+"
    return sign + duration(abs(seconds))


def interval(low: float | None, high: float | None) -> str:
    """A confidence interval of a delta, both ends signed alike: "[-0.0120, +0.0345]"."""
    if _absent(low) or _absent(high):
        return MISSING
    return f"[{signed(low)}, {signed(high)}]"


def percent(part: float | None, whole: float | None) -> str:
    """A share: (492, 284807) -> "0.17%"; "-" when the whole is 0."""
    if _absent(part) or _absent(whole) or not whole:
        return MISSING
    return f"{100 * part / whole:.2f}%"


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
    if _absent(seconds):
        return MISSING
    if seconds < 0.1:
        # A prediction pass can take a few milliseconds: "0.0 s" would hide it.
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.0005 else "<1 ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
