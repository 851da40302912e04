"""Tables that fit their width: the result columns first at their own width, one long text
column (a title) taking what is left and ending in "…" when cut, optional columns left out
when there is no room, so a scorecard reads at 80 columns without scrolling sideways."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from tabletop.untrusted import rich_text

Cell = str | Text
"""A cell: a str is shown as typed (never markup, control characters visible), Text as styled."""


@dataclass(frozen=True)
class Column:
    """How one column fits.

    `flex`: the column takes the width the others leave (never less than `min_width`, nor
    than `min_share` of the table) and its text is cut with "…". Otherwise the column is as wide as its widest cell, at most
    `max_width` (longer text ends in "…"). `optional`: 0 for a column always shown; otherwise
    the column is left out when the table is too narrow, the highest number first, or when
    none of its cells has anything in it.
    """

    key: str
    label: str
    flex: bool = False
    min_width: int = 12
    min_share: float = 0.0
    max_width: int | None = None
    optional: int = 0
    justify: str = "left"


def cell_text(value: Cell | None) -> Text:
    """A cell as Text: a str is shown literally (see `tabletop.untrusted`)."""
    if value is None:
        return Text("")
    if isinstance(value, Text):
        return value
    return rich_text(value, newlines=False)


def _width(text: Text) -> int:
    return max((line.cell_len for line in text.split(allow_blank=True)), default=0)


def fit_widths(
    columns: Sequence[Column], rows: Sequence[Sequence[Text]], room: int, padding: int
) -> dict[str, int]:
    """Each shown column's content width for a table `room` cells wide (padding is per side).

    Optional columns are dropped, the highest `optional` first, until the flexible column gets
    at least its least width; the flexible column then takes every cell left over.
    """

    def least(column: Column) -> int:
        return max(column.min_width, int(column.min_share * room))

    natural: dict[str, int] = {}
    for index, column in enumerate(columns):
        widest = max([_width(Text(column.label))] + [_width(row[index]) for row in rows if index < len(row)])
        if column.max_width is not None and not column.flex:
            widest = min(widest, max(column.max_width, _width(Text(column.label))))
        natural[column.key] = widest
    # an optional column with nothing in it is left out at any width
    shown = [
        c
        for i, c in enumerate(columns)
        if not c.optional or any(i < len(row) and row[i].plain.strip() for row in rows)
    ]

    def need(cols: list[Column]) -> int:
        # a flexible column needs its least width, or less when its widest cell is narrower
        return sum((min(least(c), natural[c.key]) if c.flex else natural[c.key]) + 2 * padding for c in cols)

    droppable = sorted((c for c in shown if c.optional), key=lambda c: -c.optional)
    while need(shown) > room and droppable:
        shown.remove(droppable.pop(0))
    widths = {c.key: natural[c.key] for c in shown if not c.flex}
    flexible = [c for c in shown if c.flex]
    if flexible:
        left = room - sum(w + 2 * padding for w in widths.values()) - len(flexible) * 2 * padding
        share = left // len(flexible)
        for column in flexible:  # never wider than its widest cell
            least_width = min(column.min_width, natural[column.key], max(left, 1))
            widths[column.key] = max(least_width, min(share, natural[column.key]))
    return {c.key: widths[c.key] for c in shown}


class FittedTable(DataTable):
    """A DataTable whose columns are laid out again whenever its width changes (see `Column`).

    Fill it with `set_columns` and `set_rows`; `cell(row, key)` gives back a cell as given, whole,
    even when the screen shows it cut.
    """

    DEFAULT_CSS = """
    FittedTable {
        overflow-x: hidden;
    }
    """

    def __init__(self, columns: Sequence[Column] = (), **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self.fit_columns: list[Column] = list(columns)
        self.fit_rows: list[list[Text]] = []
        self.fit_keys: list[str | None] = []
        self._fitted: tuple[int, int] | None = None
        self._version = 0

    # --- filling --------------------------------------------------------------------------
    def set_columns(self, columns: Sequence[Column]) -> None:
        self.fit_columns = list(columns)
        self._changed()

    def set_rows(
        self,
        rows: Iterable[Sequence[Cell | None] | Mapping[str, Cell | None]],
        keys: Iterable[str | None] | None = None,
    ) -> None:
        """Replace the rows; each maps column keys to cells (or lists the cells in the columns' order)."""
        self.fit_rows = [
            [cell_text(row.get(c.key)) for c in self.fit_columns]
            if isinstance(row, Mapping)
            else [cell_text(value) for value in row]
            for row in rows
        ]
        self.fit_keys = list(keys) if keys is not None else [None] * len(self.fit_rows)
        self._changed()

    def cell(self, row: int, key: str) -> str:
        """The whole plain text of a row's cell in column `key` (as given, before any cut)."""
        index = [c.key for c in self.fit_columns].index(key)
        cells = self.fit_rows[row]
        return cells[index].plain if index < len(cells) else ""

    def shown_columns(self) -> list[str]:
        """The keys of the columns on screen now, left to right."""
        return [str(key.value) for key in self.columns]

    # --- fitting --------------------------------------------------------------------------
    def _changed(self) -> None:
        self._version += 1
        self._fitted = None
        self.refit()

    def room(self) -> int:
        """The cells a row may take: the content width, less a vertical scrollbar when the rows need one."""
        region = self.content_region
        width = region.width
        if self.fit_rows and len(self.fit_rows) + self.header_height > region.height:
            width -= self.styles.scrollbar_size_vertical
        return width

    def refit(self) -> None:
        """Lay the columns out for the current width (nothing to do when it has not changed).

        A table not laid out yet (in a tab not shown) gets every column at its natural width
        meanwhile, and is fitted once it has a width.
        """
        if not self.is_mounted:
            return
        room = self.room() if self.content_region.width > 0 else 0
        if self._fitted == (room, self._version):
            return
        self._fitted = (room, self._version)
        if room <= 0:
            room = 1_000_000
        widths = fit_widths(self.fit_columns, self.fit_rows, room, self.cell_padding)
        cursor = self.cursor_row
        self.clear(columns=True)
        index = {c.key: i for i, c in enumerate(self.fit_columns)}
        for column in self.fit_columns:
            if column.key in widths:
                self.add_column(
                    Text(column.label, justify=column.justify),  # type: ignore[arg-type]
                    width=widths[column.key],
                    key=column.key,
                )
        for n, row in enumerate(self.fit_rows):
            cells = []
            for key in widths:
                value = row[index[key]] if index[key] < len(row) else Text("")
                cells.append(self._cut(value, self.fit_columns[index[key]]))
            self.add_row(*cells, key=self.fit_keys[n] if n < len(self.fit_keys) else None)
        if self.fit_rows and cursor > 0:
            self.move_cursor(row=min(cursor, len(self.fit_rows) - 1), animate=False)

    @staticmethod
    def _cut(value: Text, column: Column) -> Text:
        text = value.copy()
        text.no_wrap = True
        text.overflow = "ellipsis"
        if column.justify != "left":
            text.justify = column.justify  # type: ignore[assignment]
        return text

    def on_resize(self, event: events.Resize) -> None:
        self.refit()

    def on_mount(self) -> None:
        self.call_after_refresh(self.refit)
