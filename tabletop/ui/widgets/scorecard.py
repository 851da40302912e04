"""The live scorecard (facilitator only) and, in solo practice with hints, open deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from tabletop.model import Scenario
from tabletop.port import SessionPort
from tabletop.timing import format_offset
from tabletop.ui.texts import countdown, credit_cell, result_cell, row_title
from tabletop.untrusted import one_line, rich_text

DONE = ("met", "late", "missed", "not_applicable")
"""Statuses that are settled; anything else is still open."""


def open_deadlines(scenario: Scenario, card: dict[str, Any], role: str | None) -> list[dict[str, Any]]:
    """Expectations that apply, are not yet done and have a deadline; `role`'s own and `any`."""
    rows = []
    for row in card.get("expectations", []):
        if row.get("status") in DONE or row.get("done_at") is not None:
            continue
        if row.get("deadline") is None:
            continue
        owner = row.get("owner")
        if owner is None:
            try:
                owner = scenario.expectation(row["id"]).owner
            except KeyError:
                owner = None
        if role is not None and owner not in (role, "any", None):
            continue
        rows.append({**row, "owner": owner})
    rows.sort(key=lambda r: r["deadline"])
    return rows


def by_deadline(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expectations in the order they fall due; those without a deadline last (stable)."""
    return sorted(rows, key=lambda r: (r.get("deadline") is None, r.get("deadline") or 0.0))


class LiveScorecard(Static):
    """The score so far and every expectation's status; players never see it.

    Each expectation reads status (or the time left) and credit first, then its title cut to
    the panel's width, so the panel reads at 80 columns.
    """

    def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__("Scoring starts with the first event.", **kwargs)
        self.scenario = scenario
        self.card: dict[str, Any] | None = None
        self.border_title = "Live score"

    def show(self, card: dict[str, Any], now: float) -> None:
        self.card = card
        score = card.get("score")
        totals = Table.grid(padding=(0, 1), expand=True)
        totals.add_column(ratio=1)
        totals.add_column(justify="right")
        shown = f"{score:.0%}" if card.get("rated", True) and score is not None else "not rated"
        totals.add_row(Text("score", style="bold"), Text(shown, style="bold"))
        totals.add_row("passed", f"{card.get('passed', 0)}/{card.get('applicable', 0)}")
        coverage = card.get("coverage")
        totals.add_row("coverage", "—" if coverage is None else f"{coverage:.0%}")
        for cap in card.get("caps") or ():
            if cap.get("area") is None:
                totals.add_row(
                    Text("capped", style="yellow"), Text(f"at {cap.get('ceiling')}", style="yellow")
                )
        for area, value in (card.get("areas") or {}).items():
            totals.add_row(rich_text(area.replace("_", " ")), "—" if value is None else f"{value:.0%}")
        rows = Table.grid(padding=(0, 1), expand=True)
        rows.add_column(no_wrap=True)
        rows.add_column(justify="right", no_wrap=True)
        rows.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for row in by_deadline(card.get("expectations", [])):
            status = row.get("status", "")
            if status == "not_applicable":
                continue
            if status in DONE:
                state = result_cell(row)
            elif row.get("deadline") is not None:
                state = Text(countdown(row["deadline"] - now), style="cyan")
            else:
                state = Text("open", style="cyan")
            label = Text(row_title(self.scenario, row), overflow="ellipsis", no_wrap=True)
            if row.get("scope") == "teammates":
                label.append(" (team)", style="dim")
            rows.add_row(state, credit_cell(row) if status in DONE else Text(""), label)
        findings = Table.grid(padding=(0, 1), expand=True)
        findings.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        findings.add_column(justify="right")
        for finding in card.get("findings", []):
            findings.add_row(
                Text(f"⚑ {one_line(finding.get('id'))}", style="red"), f"-{finding.get('penalty', 0):g}"
            )
        self.update(Group(totals, Text(""), rows, findings))


@dataclass(frozen=True)
class HintAction:
    """What a hint asks of the player: an action, and whom to delegate it to (None: themselves)."""

    action: str
    delegate_to: str | None
    timebox: int | None
    """The time left to the deadline, in whole minutes (seconds in the last minute); None when overdue."""
    expectation: str


class DeadlineHints(Static, can_focus=True):
    """Open deadlines as countdowns (solo practice with --hints); d on one delegates it.

    The selected hint (▸, up and down move it) is the one `d` delegates (to its owner, with
    the time left as the time-box) and enter does; either opens the decision form filled in.
    """

    BINDINGS = [
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("down", "move(1)", "Next", show=False),
        Binding("d", "choose(True)", "Delegate", tooltip="Delegate the selected deadline to its owner"),
        Binding(
            "enter",
            "choose(False)",
            "Do it",
            show=False,
            tooltip="Record the selected deadline's action yourself",
        ),
    ]
    DEFAULT_CSS = """
    DeadlineHints {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    class Chosen(Message):
        """The player asked to delegate (or do) what a hint asks for."""

        def __init__(self, hints: DeadlineHints, chosen: HintAction) -> None:
            self.hints = hints
            self.chosen = chosen
            super().__init__()

    def __init__(self, scenario: Scenario, role: str, link: SessionPort, **kwargs: Any) -> None:
        super().__init__("No open deadlines yet.", **kwargs)
        self.scenario = scenario
        self.role = role
        self.link = link
        self.rows: list[dict[str, Any]] = []
        self.selected_id: str | None = None
        self.border_title = "Hints: open deadlines"
        self.border_subtitle = "d delegates the ▸ one"

    def on_mount(self) -> None:
        self.set_interval(1.0, self.redraw)

    def show(self, card: dict[str, Any]) -> None:
        # every open deadline: a solo coordinator chases the simulated teammates' ones too
        self.rows = open_deadlines(self.scenario, card, None)
        self.redraw()

    def selected(self) -> dict[str, Any] | None:
        """The hint `d` and enter act on: the one picked with up and down, else the most urgent."""
        for row in self.rows:
            if row.get("id") == self.selected_id:
                return row
        return self.rows[0] if self.rows else None

    def action_move(self, step: int) -> None:
        if not self.rows:
            return
        current = self.selected()
        index = self.rows.index(current) if current in self.rows else 0
        self.selected_id = self.rows[max(0, min(len(self.rows) - 1, index + step))].get("id")
        self.redraw()

    def action_choose(self, delegate: bool) -> None:
        chosen = self.chosen(delegate)
        if chosen is None:
            self.notify("No open deadline to act on.", timeout=3)
            return
        self.post_message(self.Chosen(self, chosen))

    def chosen(self, delegate: bool) -> HintAction | None:
        """The action the selected hint asks for, and (delegating) to whom and for how long."""
        row = self.selected()
        if row is None:
            return None
        action, owner = str(row.get("action") or ""), row.get("owner")
        after = str(row.get("after") or "")
        if not action and after.startswith("role:"):
            # "Bring in the ...": delegating that teammate's first open duty brings them in
            owner = after.split(":", 1)[1]
            theirs = [r for r in self.rows if r.get("owner") == owner and r.get("action")]
            if not theirs:
                return None
            action = str(theirs[0]["action"])
        if not action:
            return None
        if not delegate:
            return HintAction(action, None, None, str(row.get("id")))
        to = owner if owner not in (None, "any", self.role) else None
        if to is None:  # the player's own, or anyone's: the action's usual owner, if not the player
            try:
                default = self.scenario.action(action).default_owner
            except KeyError:
                default = None
            to = default if default in self.scenario.roles and default != self.role else None
        return HintAction(action, to, time_left(row["deadline"] - self.link.now()), str(row.get("id")))

    def redraw(self) -> None:
        now = self.link.now()
        if not self.rows:
            self.update(Text("No open deadlines.", style="dim"))
            return
        picked = self.selected()
        text = Text(no_wrap=True, overflow="ellipsis")  # one line a hint: the ▸ marks a whole one
        for row in self.rows:
            left = row["deadline"] - now
            style = "bold red" if left < 0 else ("yellow" if left < 600 else "")
            mine = row is picked
            text.append("▸ " if mine else "  ", style="bold")
            text.append(countdown(left).ljust(11), style=style)
            owner = row.get("owner")
            if owner and owner not in (self.role, "any"):
                text.append(f"{one_line(owner).replace('_', ' ')}: ", style="italic")
            text.append(row_title(self.scenario, row), style="bold" if mine and self.has_focus else "")
            text.append(f"  by {format_offset(row['deadline'])}\n", style="dim")
        text.rstrip()
        self.update(text)

    def on_focus(self) -> None:
        self.redraw()

    def on_blur(self) -> None:
        self.redraw()


def time_left(seconds: float) -> int | None:
    """A time-box for the time left: whole minutes, or whole seconds in the last minute; None when overdue.

    A simulated teammate carries delegated work out when its time-box runs out, so this much
    still meets the deadline.
    """
    whole = int(seconds)
    if whole <= 0:
        return None
    return whole - whole % 60 if whole >= 60 else whole
