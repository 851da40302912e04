"""Turn sim times, injects and decisions into the short texts the console shows.

Titles, names and bodies come from scenario files and players: they go through
`tabletop.untrusted` (control characters shown, never markup) before they are shown.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tabletop.model import Scenario
from tabletop.timing import format_duration, format_offset, sim_datetime
from tabletop.untrusted import one_line, safe


def sim_time(scenario: Scenario, seconds: float) -> str:
    """`T+1h05m`, followed by the scenario's date and time when it has `starts_at`."""
    text = format_offset(seconds)
    when = sim_datetime(getattr(scenario, "starts_at", None), seconds)
    if when is not None:
        text += f"  {when:%a %d %b %H:%M}"
    return text


def countdown(seconds: float) -> str:
    """`in 12m`, or `overdue 3m` once the deadline has passed."""
    whole = int(seconds)
    if whole >= 0:
        return f"in {_coarse(whole)}"
    return f"overdue {_coarse(-whole)}"


def _coarse(seconds: int) -> str:
    """Whole minutes once a minute or more is left; seconds only in the last minute."""
    return format_duration(seconds - seconds % 60) if seconds >= 60 else format_duration(seconds)


def action_title(scenario: Scenario, action_id: str) -> str:
    try:
        return one_line(scenario.action(action_id).title)
    except KeyError:
        return one_line(action_id.replace("_", " "))


def row_title(scenario: Any, row: dict[str, Any]) -> str:
    """A scorecard row's name: its action's title, or its own title when it has no action
    (solo practice's "Bring in the ..." rows)."""
    action = row.get("action") or ""
    return action_title(scenario, action) if action else str(row.get("title") or row.get("id") or "")


def inject_line(event: dict[str, Any], unread: bool) -> Text:
    """A feed entry: unread dot, time, channel and title, then who it is from."""
    channel = event.get("channel") or "briefing"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("● " if unread else "  ", style="bold dark_orange" if unread else "")
    text.append(format_offset(event.get("t", 0)), style="dim")
    text.append(f"  {one_line(channel)}", style="italic")
    text.append("\n  ")
    title = event.get("title") or event.get("inject") or "(untitled)"
    text.append(one_line(title), style="bold" if unread else "")
    sender = event.get("from")
    if sender:
        text.append(f"  — {one_line(sender)}", style="dim")
    return text


def inject_detail(scenario: Scenario, event: dict[str, Any]) -> Text:
    """The whole of an inject: heading, addressing, time, phase and body."""
    channel = event.get("channel") or "briefing"
    text = Text()
    text.append(one_line(event.get("title") or event.get("inject") or "(untitled)"), style="bold")
    text.append("\n")
    meta = [one_line(channel), sim_time(scenario, event.get("t", 0))]
    if event.get("from"):
        meta.append(f"from {one_line(event['from'])}")
    to = event.get("to") or ["all"]
    meta.append("to " + one_line(", ".join(map(str, to))))
    text.append(" · ".join(meta), style="dim")
    if event.get("phase"):
        text.append("\n")
        text.append(
            f"phase: {one_line(event['phase_title']) if event.get('phase_title') else _phase_title(scenario, event['phase'])}",
            style="dim",
        )
    text.append("\n\n")
    text.append(safe((event.get("body") or "").rstrip()) or "(no further text)")
    return text


def _phase_title(scenario: Scenario, phase_id: str) -> str:
    try:
        return one_line(scenario.phase(phase_id).title)
    except (KeyError, AttributeError):
        return one_line(phase_id)


def phase_title(scenario: Scenario, phase_id: str | None) -> str:
    return _phase_title(scenario, phase_id) if phase_id else "—"
