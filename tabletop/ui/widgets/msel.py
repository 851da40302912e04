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

    def on_mount(self) -> None:
        self.add_column("status", key="status")
        self.add_column("due", key="due")
        self.add_column("title", key="title")
        self.add_column("condition", key="condition")
        self.add_column("inject", key="inject")
        self.add_column("channel", key="channel")
        self.add_column("to", key="to")

    def selected_inject(self) -> str | None:
        if not self.rows_data or self.cursor_row < 0 or self.cursor_row >= len(self.rows_data):
            return None
        return self._inject_id(self.rows_data[self.cursor_row])

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
        if keep is not None:
            for index, row in enumerate(self.rows_data):
                if self._inject_id(row) == keep:
                    self.move_cursor(row=index)
                    break
