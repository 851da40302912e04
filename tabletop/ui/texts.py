"""Turn sim times, injects and decisions into the short texts the console shows.

Titles, names and bodies come from scenario files and players: they go through
`tabletop.untrusted` (control characters shown, never markup) before they are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tabletop.model import Scenario
from tabletop.review.formatting import status_text
from tabletop.timing import format_duration, format_offset, sim_datetime
from tabletop.untrusted import one_line, rich_text, safe

RESULT_STYLE = {
    "met": "green",
    "late": "yellow",
    "missed": "bold red",
    "open": "cyan",
    "not_applicable": "dim",
}
COUNTED = ("met", "late", "missed")
"""The statuses that enter a score (README "How a rehearsal is scored", rule 8)."""
FLAG_MARK = "⚑"


def sim_time(scenario: Scenario, seconds: float) -> str:
    """`T+1h05m`, followed by the scenario's date and time when it has `starts_at`."""
    text = format_offset(seconds)
    when = sim_datetime(getattr(scenario, "starts_at", None), seconds)
    if when is not None:
        text += f"  {when:%a %d %b %H:%M}"
    return text


def sim_time_of(scenario: Scenario | None, seconds: float) -> str:
    """`sim_time` when the scenario is known, else `T+1h05m`."""
    return sim_time(scenario, seconds) if scenario is not None else format_offset(seconds)


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


def inject_detail(scenario: Scenario, event: dict[str, Any]) -> Group:
    """The whole of an inject: heading, addressing, time, phase and body (see `body_blocks`)."""
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
    return Group(text, *render_body(event.get("body") or ""))


# --- inject bodies: paragraphs, not the line breaks of the YAML they were written in --------

_LIST_ITEM = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*+•]|\d{1,3}[.)])\s+(?P<text>\S.*)$")


@dataclass(frozen=True)
class BodyLine:
    """One line of an inject body as shown: prose (re-wrapped to the pane), a list item (its
    continuation lines joined, wrapped under its text), or a preformatted line kept as it is."""

    kind: Literal["prose", "item", "pre"]
    text: str
    marker: str = ""
    indent: int = 0


def body_blocks(body: str) -> list[list[BodyLine]]:
    """An inject body as paragraphs of lines, for a pane of any width.

    Authors hard-wrap bodies in YAML; a blank line separates paragraphs. Inside a paragraph the
    lines of running text join into one line that the pane wraps. A list item (`-`, `*`, `•`,
    `1.`) starts a line of its own and takes in the more indented lines after it; any other
    indented line (a log excerpt, a table) is kept exactly as written.
    """
    paragraphs: list[list[BodyLine]] = []
    for chunk in re.split(r"\n[ \t]*\n", body.replace("\r\n", "\n").strip("\n")):
        lines: list[BodyLine] = []
        for raw in chunk.split("\n"):
            line = raw.rstrip()
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            item = _LIST_ITEM.match(line)
            last = lines[-1] if lines else None
            if item:
                lines.append(BodyLine("item", item["text"].strip(), item["marker"], len(item["indent"])))
            elif last is not None and last.kind == "item" and indent > last.indent:
                lines[-1] = BodyLine("item", f"{last.text} {line.strip()}", last.marker, last.indent)
            elif indent:
                lines.append(BodyLine("pre", line))
            elif last is not None and last.kind == "prose":
                lines[-1] = BodyLine("prose", f"{last.text} {line.strip()}")
            else:
                lines.append(BodyLine("prose", line.strip()))
        if lines:
            paragraphs.append(lines)
    return paragraphs


def render_body(body: str) -> list[RenderableType]:
    """The body's paragraphs as Rich renderables, a blank line before each; its text shown as
    written (`tabletop.untrusted.rich_text`: control characters visible, never markup)."""
    paragraphs = body_blocks(body)
    if not paragraphs:
        return [Text(""), Text("(no further text)")]
    out: list[RenderableType] = []
    for paragraph in paragraphs:
        out.append(Text(""))
        for line in paragraph:
            if line.kind == "item":  # wrapped lines hang under the item's text, not its marker
                item = Table.grid()
                item.add_column(no_wrap=True)
                item.add_column(ratio=1)
                item.add_row(Text(" " * line.indent + line.marker + " "), rich_text(line.text))
                out.append(item)
            else:  # a preformatted line is never joined; one wider than the pane wraps at its edge
                out.append(rich_text(line.text, overflow="fold"))
    return out


def _phase_title(scenario: Scenario, phase_id: str) -> str:
    try:
        return one_line(scenario.phase(phase_id).title)
    except (KeyError, AttributeError):
        return one_line(phase_id)


def phase_title(scenario: Scenario, phase_id: str | None) -> str:
    return _phase_title(scenario, phase_id) if phase_id else "—"


# --- scorecard rows -----------------------------------------------------------------------------


def result_cell(row: dict[str, Any]) -> Text:
    """A scorecard row's status as the tables show it first: `✗ missed`, `◑ late ⚑` (flagged)."""
    status = str(row.get("status") or "")
    text = Text(status_text(status), style=RESULT_STYLE.get(status, ""))
    if row.get("flags"):
        text.append(f" {FLAG_MARK}", style="magenta")
    return text


def counted(row: dict[str, Any]) -> bool:
    """Whether the row enters the score: met, late or missed, and not a simulated teammate's own."""
    return row.get("status") in COUNTED and row.get("scope") != "teammates"


def credit_cell(row: dict[str, Any]) -> Text:
    """`0.5×2` (credit × weight) for a row in the score; `—` for one that is not."""
    if not counted(row):
        return Text("—", style="dim", justify="right")
    return Text(f"{row.get('credit', 0):g}×{row.get('weight', 1):g}", justify="right")


def _role(scenario: Scenario | None, role: Any) -> str:
    if role == "any":
        return "any role"
    if scenario is not None and role:
        return one_line(scenario.role_title(str(role)))
    return one_line(role or "")


def explain_result(row: dict[str, Any], scenario: Scenario | None = None) -> Text:
    """One scorecard row in full: what happened and how it was scored first, then the facts
    (owner, due, who did it), then why it matters and where the rule comes from."""
    status = str(row.get("status") or "")
    title = row.get("title") or (row_title(scenario, row) if scenario is not None else row.get("id"))
    text = Text()
    text.append(status_text(status), style=RESULT_STYLE.get(status, ""))
    text.append("  ")
    text.append(one_line(title), style="bold")
    if row.get("reason"):
        text.append("\nScored: ", style="bold")
        text.append(safe(row["reason"]))
    weight = float(row.get("weight") or 0)
    if row.get("scope") == "teammates":
        text.append(
            "\nYour team's: a simulated teammate's own work, shown here and never in your score.",
            style="italic",
        )
    elif counted(row):
        earned = float(row.get("credit") or 0) * weight
        text.append(
            f"\nCounts {earned:g} of {weight:g} toward the score "
            f"(credit {float(row.get('credit') or 0):g} × weight {weight:g}).",
            style="italic",
        )
    elif status == "open":
        text.append(
            "\nOpen: due after the session stopped, so it is not scored; it lowers the coverage, not the score.",
            style="italic",
        )
    elif status == "not_applicable":
        text.append("\nNot applicable in this run: left out of every total.", style="italic")
    facts = [f"Owner: {_role(scenario, row.get('owner'))}" if row.get("owner") else ""]
    if row.get("area"):
        facts.append(f"area {one_line(str(row['area']).replace('_', ' '))}")
    if row.get("deadline") is not None:
        facts.append(f"due {sim_time_of(scenario, float(row['deadline']))}")
    if row.get("anchor") is not None:
        facts.append(f"clock from {format_offset(float(row['anchor']))}")
    facts = [fact for fact in facts if fact]
    if facts:
        text.append("\n" + " · ".join(facts), style="dim")
    if row.get("done_at") is not None:
        done = f"\nDone at {sim_time_of(scenario, float(row['done_at']))}"
        if row.get("by"):
            done += f" by {_role(scenario, row['by'])}"
            if row.get("by_name"):
                done += f" ({one_line(row['by_name'])})"
        if row.get("delegated_by"):
            done += f", delegated by {_role(scenario, row['delegated_by'])}"
            if row.get("delegation_seconds") is not None:
                done += f" {format_duration(float(row['delegation_seconds']))} earlier"
        text.append(done)
    revised = row.get("revised") or ()
    if revised:
        text.append(
            f"\nRevised: {len(revised)} earlier decision{'s' if len(revised) > 1 else ''} replaced "
            "by the one in force (never penalised)."
        )
    if row.get("flags"):
        text.append(f"\n{FLAG_MARK} Flags: ", style="magenta")
        text.append(
            one_line(", ".join(str(f).replace("_", " ") for f in row["flags"]))
            + " (each halves the credit; a wrong value makes it 0)"
        )
    why, source = row.get("why") or "", row.get("source") or ""
    if scenario is not None and row.get("id"):
        try:
            expectation = scenario.expectation(str(row["id"]))
        except KeyError:
            expectation = None
        if expectation is not None:
            why, source = why or expectation.why, source or expectation.source
    if why:
        text.append("\nWhy it matters: ", style="bold")
        text.append(safe(why))
    if source:
        text.append(f"\nSource: {safe(source)}", style="dim")
    return text
