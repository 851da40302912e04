"""Parse the durations and inject times that scenario files use, and format sim times."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^\s*((?:\d+(?:\.\d+)?\s*[wdhms]\s*)+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])")
_CLOCK = re.compile(r"^\s*(?:day\s+(\d+)\s+)?(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)


MAX_SECONDS = 10 * 366 * 86400
"""The longest duration or time a scenario may use: ten years (no rehearsal spans more)."""
MAX_DAY = MAX_SECONDS // 86400
_MAX_TEXT = 64


class TimeFormatError(ValueError):
    """A duration or time string that cannot be read; the message says what was expected."""


def _bounded(seconds: float, value: object) -> int:
    if not math.isfinite(seconds):
        raise TimeFormatError(f"expected a finite duration like 30m, 1h30m or 72h, received {_brief(value)}")
    if seconds < 0:
        raise TimeFormatError(f"expected a positive duration, received {_brief(value)}")
    if seconds > MAX_SECONDS:
        raise TimeFormatError(
            f"{_brief(value)} is longer than the ten years a scenario may cover; expected a duration like 72h or 30d"
        )
    return round(seconds)


def _brief(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_duration(value: object) -> int:
    """Seconds in a duration such as `30s`, `20m`, `1h30m`, `72h`, `2d` (an int is seconds)."""
    if isinstance(value, bool):
        raise TimeFormatError(f"expected a duration like 30m, 1h30m or 72h, received {value!r}")
    if isinstance(value, int):
        if abs(value) > MAX_SECONDS:  # compared as an int: never turned into a float
            return _bounded(math.copysign(math.inf, value) if value < 0 else MAX_SECONDS + 1, value)
        return _bounded(value, value)
    if isinstance(value, float):
        return _bounded(value, value)
    if not isinstance(value, str):
        raise TimeFormatError(f"expected a duration like 30m, 1h30m or 72h, received {_brief(value)}")
    text = value.strip().lower()
    if len(text) > _MAX_TEXT:
        raise TimeFormatError(
            f"expected a duration like 30s, 20m, 1h30m, 72h or 2d, received {_brief(value)}"
        )
    if text.isdigit():
        return _bounded(int(text), value)
    if not _DURATION.match(text):
        raise TimeFormatError(f"expected a duration like 30s, 20m, 1h30m, 72h or 2d, received {value!r}")
    seconds = 0.0
    units_seen: list[str] = []
    for number, unit in _PART.findall(text):
        if unit in units_seen:
            raise TimeFormatError(f"unit {unit!r} appears twice in duration {value!r}")
        units_seen.append(unit)
        seconds += float(number) * _UNITS[unit]
    return _bounded(seconds, value)


def format_duration(seconds: float) -> str:
    """The shortest duration string for a number of seconds (`1h30m`, `72h`, `0s`)."""
    seconds = round(seconds)
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + "".join(parts)


def format_offset(seconds: float) -> str:
    """A sim time as `T+1h05m` (hours may exceed 24; seconds shown only when non-zero)."""
    total = round(seconds)
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"T{sign}{hours}h{minutes:02d}m" if hours else f"T{sign}{minutes}m"
    if secs:
        text += f"{secs:02d}s"
    return text


def parse_at(value: object, starts_at: datetime | None = None) -> tuple[int, bool]:
    """Read an inject's `at`: returns (seconds, relative).

    `relative` is true for `+10m` (relative to a branch condition). `T+20m` and `20m` are
    offsets from the start; `09:30` and `day 2 09:30` are clock times that need `starts_at`
    (day 1 is the start's date).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return parse_duration(value), False
    if not isinstance(value, str):
        raise TimeFormatError(
            f"expected a time like T+20m, 20m, +10m, 09:30 or 'day 2 09:30', received {value!r}"
        )
    text = value.strip()
    if len(text) > _MAX_TEXT:
        raise TimeFormatError(
            f"expected a time like T+20m, 20m, +10m, 09:30 or 'day 2 09:30', received {_brief(value)}"
        )
    if text.upper().startswith("T+"):
        return parse_duration(text[2:]), False
    if text.startswith("+"):
        return parse_duration(text[1:]), True
    clock = _CLOCK.match(text)
    if clock:
        if starts_at is None:
            raise TimeFormatError(
                f"clock time {value!r} needs the scenario's starts_at; use an offset like T+20m"
            )
        day = int(clock.group(1) or 1)
        hour, minute = int(clock.group(2)), int(clock.group(3))
        if day < 1 or day > MAX_DAY or hour > 23 or minute > 59:
            raise TimeFormatError(f"expected a clock time like 09:30 or 'day 2 08:00', received {value!r}")
        target = datetime.combine(starts_at.date() + timedelta(days=day - 1), datetime.min.time())
        target = target.replace(hour=hour, minute=minute, tzinfo=starts_at.tzinfo)
        offset = int((target - starts_at).total_seconds())
        if offset < 0:
            raise TimeFormatError(
                f"clock time {value!r} is before the scenario starts ({starts_at:%Y-%m-%d %H:%M})"
            )
        return offset, False
    try:
        return parse_duration(text), False
    except TimeFormatError:
        raise TimeFormatError(
            f"expected a time like T+20m, 20m, +10m, 09:30 or 'day 2 09:30', received {value!r}"
        ) from None


def sim_datetime(starts_at: datetime | None, seconds: float) -> datetime | None:
    """The scenario date-time at a sim time, or None when the scenario has no `starts_at`."""
    if starts_at is None:
        return None
    return starts_at + timedelta(seconds=seconds)


def add_business_days(start: datetime, days: int) -> datetime:
    """`start` plus a number of business days (Monday to Friday), keeping the time of day."""
    current = start
    remaining = max(0, int(days))
    if remaining and current.weekday() >= 5:  # from a weekend: Monday is the first business day
        while current.weekday() >= 5:
            current += timedelta(days=1)
        remaining -= 1
    weeks, remaining = divmod(remaining, 5)
    current += timedelta(weeks=weeks)  # from a weekday, five business days are one calendar week
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current
