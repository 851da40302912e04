"""The live scorecard (facilitator only) and, in solo practice with hints, open deadlines."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tabletop.model import Scenario
from tabletop.port import SessionPort
from tabletop.timing import format_offset
from tabletop.ui.render import countdown, row_title
from tabletop.untrusted import one_line, rich_text

DONE = ("met", "late", "missed", "not_applicable")
"""Statuses that are settled; anything else is still open."""
STATUS_STYLE = {"met": "green", "late": "yellow", "missed": "red", "not_applicable": "dim"}


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
    """The score so far and every expectation's status; players never see it."""

    def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__("Scoring starts with the first event.", **kwargs)
        self.scenario = scenario
        self.card: dict[str, Any] | None = None
        self.border_title = "Live score"

    def show(self, card: dict[str, Any], now: float) -> None:
        self.card = card
        score = card.get("score")
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(ratio=1)
        table.add_column(justify="right")
        shown = f"{score:.0%}" if card.get("rated", True) and score is not None else "not rated"
        table.add_row(Text("score", style="bold"), Text(shown, style="bold"))
        table.add_row("passed", f"{card.get('passed', 0)}/{card.get('applicable', 0)}")
        coverage = card.get("coverage")
        table.add_row("coverage", "—" if coverage is None else f"{coverage:.0%}")
        for cap in card.get("caps") or ():
            if cap.get("area") is None:
                table.add_row(
                    Text("capped", style="yellow"), Text(f"at {cap.get('ceiling')}", style="yellow")
                )
        for area, value in (card.get("areas") or {}).items():
            table.add_row(rich_text(area.replace("_", " ")), "—" if value is None else f"{value:.0%}")
        table.add_row("", "")
        for row in by_deadline(card.get("expectations", [])):
            status = row.get("status", "")
            if status == "not_applicable":
                continue
            label = Text(row_title(self.scenario, row), overflow="ellipsis", no_wrap=True)
            if status in DONE:
                right = Text(status, style=STATUS_STYLE.get(status, ""))
            elif row.get("deadline") is not None:
                right = Text(countdown(row["deadline"] - now), style="cyan")
            else:
                right = Text("open", style="cyan")
            table.add_row(label, right)
        for finding in card.get("findings", []):
            table.add_row(
                Text(f"⚑ {one_line(finding.get('id'))}", style="red"), f"-{finding.get('penalty', 0):g}"
            )
        self.update(table)


class DeadlineHints(Static):
    """Open deadlines for the player's role as countdowns (solo practice with --hints)."""

    def __init__(self, scenario: Scenario, role: str, link: SessionPort, **kwargs: Any) -> None:
        super().__init__("No open deadlines yet.", **kwargs)
        self.scenario = scenario
        self.role = role
        self.link = link
        self.rows: list[dict[str, Any]] = []
        self.border_title = "Hints: open deadlines"

    def on_mount(self) -> None:
        self.set_interval(1.0, self.redraw)

    def show(self, card: dict[str, Any]) -> None:
        # every open deadline: a solo coordinator chases the simulated teammates' ones too
        self.rows = open_deadlines(self.scenario, card, None)
        self.redraw()

    def redraw(self) -> None:
        now = self.link.now()
        if not self.rows:
            self.update(Text("No open deadlines.", style="dim"))
            return
        text = Text()
        for row in self.rows:
            left = row["deadline"] - now
            style = "bold red" if left < 0 else ("yellow" if left < 600 else "")
            text.append(countdown(left).ljust(12), style=style)
            text.append(row_title(self.scenario, row))
            owner = row.get("owner")
            if owner and owner not in (self.role, "any"):
                text.append(f" ({one_line(owner)})", style="italic")
            text.append(f"  by {format_offset(row['deadline'])}\n", style="dim")
        self.update(text)
