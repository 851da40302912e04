"""Decisions as the engine recorded them: the player's own list and the facilitator's log of all."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable, OptionList
from textual.widgets.option_list import Option

from tabletop.model import Scenario
from tabletop.timing import format_duration, format_offset
from tabletop.ui.texts import action_title
from tabletop.untrusted import one_line, rich_text


def _shorten(text: str, width: int) -> str:
    """Players' words on one line, cut to `width`, control characters shown (never markup)."""
    text = one_line(" ".join((text or "").split()))
    return text if len(text) <= width else text[: width - 1] + "…"


class DecisionList(OptionList):
    """My decisions, notes and delegations, newest first; each appears only once recorded."""

    def __init__(self, scenario: Scenario, role: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.role = role
        self.entries: list[dict[str, Any]] = []
        self.done_by_delegation: dict[str, dict[str, Any]] = {}
        self.border_title = "My decisions"

    def mine(self, event: dict[str, Any]) -> bool:
        kind = event.get("type")
        if self.role is None:
            return kind in ("decision", "delegation", "note")
        if kind == "decision":
            return event.get("role") == self.role or event.get("delegated_by") == self.role
        if kind in ("delegation", "note"):
            return event.get("role") == self.role
        return False

    def add(self, *events: dict[str, Any]) -> None:
        changed = False
        for event in events:
            if event.get("type") == "decision" and event.get("delegation"):
                self.done_by_delegation[event["delegation"]] = event
                changed = True
            if self.mine(event):
                self.entries.append(event)
                changed = True
        if changed:
            self._rebuild()

    def take_over(self, other: DecisionList) -> None:
        """Show what `other` shows (the screen replaces the list when it moves to another column)."""
        self.entries = list(other.entries)
        self.done_by_delegation = dict(other.done_by_delegation)
        self._rebuild()
        self.highlighted = other.highlighted

    def _rebuild(self) -> None:
        self.set_options(Option(self._line(e)) for e in reversed(self.entries))
        recorded = sum(1 for e in self.entries if e.get("type") == "decision")
        self.border_subtitle = f"{recorded} recorded"

    def _line(self, event: dict[str, Any]) -> Text:
        kind = event.get("type")
        text = Text()
        text.append(format_offset(event.get("t", 0)), style="dim")
        if kind == "decision":
            text.append("  ✓ ", style="bold green")
            text.append(action_title(self.scenario, event.get("action", "")))
            if event.get("role") != self.role and self.role is not None:
                text.append(f"  by {one_line(event.get('role'))}", style="italic")
            if event.get("fields"):
                values = ", ".join(f"{k}={v}" for k, v in event["fields"].items())
                text.append(f"\n      {one_line(values)}", style="dim")
        elif kind == "delegation":
            done = self.done_by_delegation.get(event.get("id", ""))
            text.append("  → ", style="bold cyan")
            text.append(
                f"{one_line(event.get('to_role'))}: {action_title(self.scenario, event.get('action', ''))}"
            )
            if done is not None:
                took = done.get("t", 0) - event.get("t", 0)
                text.append(
                    f"\n      done {format_offset(done.get('t', 0))} ({format_duration(took)})", style="green"
                )
            elif event.get("timebox"):
                text.append(f"\n      time-box {format_duration(event['timebox'])}", style="dim")
        else:
            text.append("  ✎ ", style="bold")
            text.append(_shorten(event.get("text", ""), 60))
        return text


class DecisionLog(DataTable):
    """Every decision, delegation and note as it arrives (facilitator)."""

    def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.scenario = scenario
        self.border_title = "Decisions"
        self.count = 0

    def on_mount(self) -> None:
        self.add_columns("time", "role", "by", "what", "answers", "rationale")

    def add(self, *events: dict[str, Any]) -> None:
        for event in events:
            kind = event.get("type")
            if kind == "decision":
                what = action_title(self.scenario, event.get("action", ""))
                if event.get("delegated_by"):
                    what += f" (for {one_line(event['delegated_by'])})"
                rationale = event.get("rationale", "")
            elif kind == "delegation":
                what = f"→ {one_line(event.get('to_role'))}: {action_title(self.scenario, event.get('action', ''))}"
                rationale = event.get("rationale", "")
            elif kind == "note":
                what = "note"
                rationale = event.get("text", "")
            elif kind == "facilitator" and event.get("op") == "note":
                detail = event.get("detail") or {}
                self.count += 1
                self.add_row(  # Text cells: a str cell would be read as markup
                    format_offset(event.get("t", 0)),
                    "facilitator",
                    rich_text(detail.get("by", ""), newlines=False),
                    "facilitator's note",
                    "",
                    rich_text(_shorten(str(detail.get("text", "")), 60)),
                    key=f"s{event.get('seq', self.count)}",
                )
                continue
            else:
                continue
            self.count += 1
            self.add_row(  # Text cells: a str cell would be read as markup
                format_offset(event.get("t", 0)),
                rich_text(event.get("role", ""), newlines=False),
                rich_text(event.get("by", ""), newlines=False),
                rich_text(_shorten(what, 44)),
                rich_text(event.get("inject") or "", newlines=False),
                rich_text(_shorten(rationale, 60)),
                key=f"s{event.get('seq', self.count)}",
            )
        self.border_subtitle = f"{self.count}"
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
