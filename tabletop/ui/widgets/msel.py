"""The master scenario events list: released, upcoming and branch injects with their conditions."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tabletop.model import Scenario
from tabletop.timing import format_offset
from tabletop.untrusted import one_line, rich_text

STATUS_STYLE = {
    "released": "green",
    "scheduled": "bold",
    "waiting": "yellow",
    "skipped": "dim strike",
}


def _field(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, dict):
        return row.get(name, default)
    return getattr(row, name, default)


class MselTable(DataTable):
    """One row per inject; the cursor picks the inject to trigger now or skip."""

    def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.scenario = scenario
        self.rows_data: list[Any] = []
        self.border_title = "MSEL"
        self.advance_from: str | None = None
        """An inject just released by trigger-now: the next refresh moves the cursor past it."""

    def on_mount(self) -> None:
        self.add_column("status", key="status")
        self.add_column("due", key="due")
        self.add_column("title", key="title")
        self.add_column("condition", key="condition")
        self.add_column("inject", key="inject")
        self.add_column("channel", key="channel")
        self.add_column("to", key="to")

    def selected_inject(self) -> str | None:
        row = self.selected_row()
        return None if row is None else self._inject_id(row)

    def selected_row(self) -> Any:
        """The row under the cursor (an `upcoming()` entry), or None."""
        if not self.rows_data or self.cursor_row < 0 or self.cursor_row >= len(self.rows_data):
            return None
        return self.rows_data[self.cursor_row]

    def title_of(self, row: Any) -> str:
        """The inject's title as the facilitator knows it (its id when it has none)."""
        inject_id = self._inject_id(row)
        try:
            title = self.scenario.inject(inject_id).title
        except KeyError:
            title = _field(row, "title", "") or ""
        return title or inject_id

    @staticmethod
    def status_of(row: Any) -> str:
        return str(_field(row, "status", "") or "")

    @classmethod
    def unreleased(cls, row: Any) -> bool:
        """Still to come: scheduled, or waiting for its condition."""
        return cls.status_of(row) in ("scheduled", "waiting")

    def due_of(self, inject_id: str) -> float | None:
        """When the inject is due (or was released), if known."""
        for row in self.rows_data:
            if self._inject_id(row) == inject_id:
                due = _field(row, "due")
                return float(due) if isinstance(due, (int, float)) else None
        return None

    @staticmethod
    def _inject_id(row: Any) -> str:
        inject = _field(row, "inject")
        return inject if isinstance(inject, str) else getattr(inject, "id", str(inject))

    def show(self, rows: list[Any]) -> None:
        """Replace the rows with the session's `upcoming()` list, keeping the cursor's inject."""
        keep = self.selected_inject()
        self.rows_data = list(rows)
        self.clear()
        released = 0
        for row in self.rows_data:
            inject_id = self._inject_id(row)
            status = str(_field(row, "status", "") or "")
            released += status == "released"
            try:
                inject = self.scenario.inject(inject_id)
                title, channel, to = inject.title, str(inject.channel), ", ".join(inject.to)
            except KeyError:
                title = _field(row, "title", "") or "(ad-hoc)"
                channel, to = _field(row, "channel", "") or "", ", ".join(_field(row, "to", []) or [])
            due = _field(row, "due")
            condition = _field(row, "condition")
            if condition is not None and not isinstance(condition, str):
                condition = condition.describe() if hasattr(condition, "describe") else str(condition)
            title, to = one_line(title), one_line(to)
            self.add_row(  # Text cells: a str cell would be read as markup
                Text(status, style=STATUS_STYLE.get(status, "")),
                format_offset(due) if isinstance(due, (int, float)) else "—",
                rich_text(title if len(title) <= 36 else title[:35] + "…"),
                rich_text(condition or "", newlines=False),
                rich_text(inject_id, newlines=False),
                rich_text(channel, newlines=False),
                rich_text(to if len(to) <= 24 else to[:23] + "…"),
                key=inject_id,
            )
        self.border_subtitle = f"{released} released · {len(self.rows_data) - released} to come"
        ids = [self._inject_id(row) for row in self.rows_data]
        if self.advance_from is not None and self.advance_from in ids:
            # after trigger-now: on to the next inject still to come (below it, else the first)
            start = ids.index(self.advance_from)
            order = [*range(start + 1, len(ids)), *range(start)]
            target = next((i for i in order if self.unreleased(self.rows_data[i])), start)
            self.advance_from = None
            self.move_cursor(row=target)
        elif keep is not None and keep in ids:
            self.move_cursor(row=ids.index(keep))
