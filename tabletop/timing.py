"""Parse the durations and inject times that scenario files use, and format sim times."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    if text.isascii() and text.isdigit():
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


# --- calendar deadlines --------------------------------------------------------------------

_MONTHS = re.compile(r"^\s*(\d+)\s*mo(?:nths?)?\s*(.*)$", re.IGNORECASE)


def parse_span(value: object) -> tuple[int, int]:
    """(months, seconds) in a time limit: `1mo` is one calendar month, `72h` 259200 seconds.

    A month is a calendar unit (counted to the corresponding date of a later month, see
    `due_at`), never a fixed number of seconds; `1mo12h` is a month and twelve hours.
    """
    if isinstance(value, str):
        found = _MONTHS.match(value) if len(value) <= _MAX_TEXT else None
        if found:
            if len(found.group(1)) > 3 or int(found.group(1)) > MAX_DAY // 28:
                raise TimeFormatError(
                    f"{_brief(value)} is longer than the ten years a scenario may cover; expected a limit like 1mo"
                )
            months = int(found.group(1))
            rest = found.group(2).strip()
            return months, parse_duration(rest) if rest else 0
    return 0, parse_duration(value)


def format_span(months: int, seconds: float, business_days: bool = False, day_end: bool = False) -> str:
    """A time limit as authored: `1 month`, `72h`, `4 business days`, `60 days`."""
    parts = []
    if months:
        parts.append(f"{months} month{'s' if months != 1 else ''}")
    whole = round(seconds)
    if whole or not months:
        days, rest = divmod(whole, 86400)
        if days and not rest and (business_days or day_end):
            kind = "business day" if business_days else "day"
            parts.append(f"{days} {kind}{'s' if days != 1 else ''}")
        else:
            parts.append(format_duration(whole))
    return " ".join(parts)


HOLIDAY_CALENDARS = {
    "US": ("US", None, "US federal holidays"),
    "GB-ENG": ("GB", "ENG", "England and Wales bank holidays"),
    "GB-SCT": ("GB", "SCT", "Scotland bank holidays"),
    "GB-NIR": ("GB", "NIR", "Northern Ireland bank holidays"),
    "IE": ("IE", None, "Ireland public holidays"),
    "DE": ("DE", None, "Germany national public holidays"),
    "FR": ("FR", None, "France public holidays"),
    "NL": ("NL", None, "Netherlands public holidays"),
}
"""Holiday calendars a regime may name, as (country, subdivision, description) for `holidays`."""


def holiday_calendar(name: str | None, years: range) -> set[date]:
    """The dates of a named holiday calendar (HOLIDAY_CALENDARS) over `years`; none for ''."""
    if not name:
        return set()
    try:
        country, subdiv, _ = HOLIDAY_CALENDARS[name]
    except KeyError:
        raise TimeFormatError(
            f"unknown holiday calendar {name!r}; expected one of: {', '.join(HOLIDAY_CALENDARS)}"
        ) from None
    import holidays as holiday_data

    return set(holiday_data.country_holidays(country, subdiv=subdiv, years=list(years)).keys())


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeFormatError(
            f"unknown time zone {name!r}; expected an IANA name like Europe/London"
        ) from None


def check_zone(name: str) -> str:
    """`name` if it is an IANA time zone, else TimeFormatError."""
    _zone(name)
    return name


def due_at(
    start: datetime,
    *,
    seconds: int = 0,
    months: int = 0,
    business_days: bool = False,
    day_end: bool = False,
    roll: bool = False,
    timezone: str | None = None,
    holidays: str | None = None,
) -> datetime:
    """When a time limit that starts at `start` runs out, as an aware date-time.

    - Hours and minutes are clock time (`72h` is 72 real hours, weekends included).
    - `months` counts calendar months to the corresponding date (dateutil's relativedelta:
      31 Jan + 1 month is the last day of February).
    - `business_days` counts the whole days of `seconds` as working days: Monday to Friday,
      less the holiday calendar's dates.
    - `roll` moves a due date that falls on a weekend or holiday to the next working day.
    - `day_end` ends the deadline at the end of its day (23:59:59) in `timezone`.

    A naive `start` is local time in `timezone` (UTC when none is named).
    """
    from dateutil.relativedelta import relativedelta

    zone = _zone(timezone)
    local = start.replace(tzinfo=zone) if start.tzinfo is None else start.astimezone(zone)
    off_days = holiday_calendar(holidays, range(local.year, local.year + 3 + months // 12))

    def working(day: date) -> bool:
        return day.weekday() < 5 and day not in off_days

    if not (months or business_days or day_end or roll):
        return (local.astimezone(_zone("UTC")) + timedelta(seconds=seconds)).astimezone(zone)
    day = local.date()
    clock = local.time()
    if months:
        day = day + relativedelta(months=months)
    days, rest = divmod(seconds, 86400)
    if business_days:
        while days > 0:
            day += timedelta(days=1)
            if working(day):
                days -= 1
    else:
        day += timedelta(days=days)
    moment = datetime.combine(day, clock) + timedelta(seconds=rest)
    day = moment.date()
    if roll:
        while not working(day):
            day += timedelta(days=1)
        if day != moment.date():
            moment = datetime.combine(day, moment.time())
    if day_end:
        moment = datetime.combine(day, datetime.max.time().replace(microsecond=0))
    return moment.replace(tzinfo=zone)


def deadline_seconds(starts_at: datetime | None, anchor: float, limit: Any) -> tuple[float, str | None]:
    """The sim second an expectation's time limit runs out, and a warning when it is approximate.

    `limit` is an Expectation (its `within`, `months`, `business_days`, `day_end`, `roll`,
    `timezone`, `holidays`). Plain hours are added to the anchor. A calendar limit needs the
    scenario's `starts_at`: without it a month counts as 30 days, business days as calendar
    days, and the warning says so.
    """
    calendar = limit.months or limit.business_days or limit.day_end or limit.roll
    if not calendar:
        return anchor + limit.within, None
    if starts_at is None:
        warning = (
            f"expectation {limit.id!r} counts calendar days or months but the scenario has no "
            "starts_at: a month counted as 30 days, business days as calendar days"
        )
        return anchor + limit.months * 30 * 86400 + limit.within, warning
    zone = _zone(limit.timezone)
    start = starts_at.replace(tzinfo=zone) if starts_at.tzinfo is None else starts_at
    due = due_at(
        start + timedelta(seconds=anchor),
        seconds=limit.within,
        months=limit.months,
        business_days=limit.business_days,
        day_end=limit.day_end,
        roll=limit.roll,
        timezone=limit.timezone,
        holidays=limit.holidays,
    )
    return (due - start).total_seconds(), None


def authored_limit(months: int, seconds: int) -> str:
    """A time limit as a scenario file writes it: `1mo`, `72h`, `1mo12h`."""
    if not months:
        return format_duration(seconds)
    return f"{months}mo" + (format_duration(seconds) if seconds else "")
