"""The review console's main screen: every transcript of the folder in a sortable, searchable table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, cast

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Static

from tabletop.model import AREAS
from tabletop.review import formatting as fmt
from tabletop.review.entry import TranscriptEntry
from tabletop.review.index import RefreshResult, filter_entries, search_problems
from tabletop.ui.apps import ReviewerApp
from tabletop.untrusted import one_line, rich_text


def _none_last(value: Any) -> tuple[int, Any]:
    return (1, 0) if value in (None, "") else (0, value)


RATING_ORDER = {"P": 0, "S": 1, "M": 2, "U": 3}


def _rating_key(area: str, entry: TranscriptEntry) -> tuple[int, Any]:
    return _none_last(RATING_ORDER.get(entry.ratings.get(area, "")))


# column key -> (label, sort key)
COLUMNS: dict[str, tuple[str, Callable[[TranscriptEntry], Any]]] = {
    "mark": (" ", lambda e: 0),
    "date": ("Started (UTC)", lambda e: _none_last(e.started)),
    "scenario": ("Scenario", lambda e: _none_last(e.scenario)),
    "team": ("Team", lambda e: _none_last(e.group.lower())),
    "who": ("Participants", lambda e: _none_last(", ".join(e.participants).lower())),
    "mode": ("Mode", lambda e: _none_last(e.mode)),
    "score": ("Score", lambda e: _none_last(e.score)),
    "passed": ("Passed", lambda e: _none_last(None if e.passed is None else (e.passed, e.applicable))),
    **{
        f"area:{area}": (
            fmt.area_short(area),
            partial(_rating_key, area),
        )
        for area in AREAS
    },
    "duration": ("Sim time", lambda e: _none_last(e.duration)),
    "integrity": ("Integrity", lambda e: (e.integrity != "ok", e.integrity)),
}
SORTABLE = [key for key in COLUMNS if key != "mark"]
RATING_STYLE = {"P": "green", "S": "yellow", "M": "dark_orange", "U": "bold red"}


class Cell:
    """A table cell kept as plain text and a style; turned into Rich Text only when drawn.

    Thousands of rows stay cheap to add: only the visible ones are ever rendered.
    """

    __slots__ = ("justify", "plain", "style")

    def __init__(self, plain: str, style: str = "", justify: str = "left") -> None:
        self.plain = one_line(plain)  # file names, scenarios, teams, names: shown as typed
        self.style = style
        self.justify = justify

    def __rich__(self) -> Text:
        return Text(self.plain, style=self.style, justify=self.justify)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.plain


def mark_cell(marked: bool) -> Cell:
    return Cell("●" if marked else " ", "bold magenta")


def row_cells(entry: TranscriptEntry, marked: bool) -> list[Cell]:
    """The table cells of one transcript (never markup), with broken rows standing out."""
    broken = not entry.trusted
    participants = ", ".join(entry.participants)
    if len(participants) > 28:
        participants = participants[:27] + "…"
    cells = [
        mark_cell(marked),
        Cell(entry.started_at or "—"),
        Cell(entry.scenario) if entry.scenario else Cell(entry.path, "italic"),
        Cell(entry.group if entry.scenario else ""),
        Cell(participants),
        Cell(entry.mode or ""),
        Cell(fmt.score_text(entry.score), justify="right"),
        Cell(fmt.passed_text(entry.passed, entry.applicable), justify="right"),
    ]
    for area in AREAS:
        letter = entry.ratings.get(area, "")
        cells.append(Cell(letter or "·", RATING_STYLE.get(letter, "dim"), "center"))
    cells.append(Cell(fmt.duration_text(entry.duration), justify="right"))
    cells.append(
        Cell(
            fmt.evidence_text(entry.integrity, entry.evidence),
            "bold red"
            if broken
            else ("yellow" if entry.integrity != "ok" or entry.evidence != "verified" else "green"),
        )
    )
    return cells


class TranscriptTable(DataTable):
    """The table of transcripts; one row per file, keyed by its path.

    Column widths are computed from the cells' text as rows are added (`set_widths`), so a
    folder of 10,000 transcripts does not pay for measuring every cell's renderable.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.widths: dict[str, int] | None = None

    def set_widths(self, widths: dict[str, int]) -> None:
        self.widths = widths

    def add_many(self, rows: list[tuple[str, list[Cell]]]) -> None:
        """Add rows in one go: what `add_row` does per row, with the per-row bookkeeping once.

        Falls back to `add_row` if the table's internals are not the expected ones.
        """
        try:
            from textual.widgets.data_table import Row, RowKey

            locations, data, table_rows = self._row_locations, self._data, self.rows
            columns = [column.key for column in self.ordered_columns]
            start = self.row_count
            for offset, (key, cells) in enumerate(rows):
                row_key = RowKey(key)
                locations[row_key] = start + offset
                data[row_key] = dict(zip(columns, cells, strict=False))
                table_rows[row_key] = Row(row_key, 1, None, False)
                self._new_rows.add(row_key)
        except (AttributeError, ImportError, TypeError):  # pragma: no cover - another Textual
            for key, cells in rows[self.row_count :]:
                self.add_row(*cells, key=key)
            return
        if self.widths is not None:  # widths are known: size the columns now, not on a later idle,
            self._new_rows.clear()  # so the first frame after populating is already laid out
            self._update_dimensions(())
        else:
            self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        self._update_count += 1
        self.check_idle()

    def _update_dimensions(self, new_rows: Iterable[Any]) -> None:
        if self.widths is None:
            super()._update_dimensions(new_rows)
            return
        for key, column in self.columns.items():
            column.content_width = max(self.widths.get(str(key.value), 0), cell_len(column.label.plain))
        header_height = self.header_height if self.show_header else 0
        width = sum(column.get_render_width(self) for column in self.columns.values())
        self.virtual_size = Size(width + self._row_label_column_width, self._total_row_height + header_height)

    class Marked(Message):
        """The set of transcripts marked for comparison changed."""

        def __init__(self, marked: tuple[str, ...]) -> None:
            self.marked = marked
            super().__init__()


class ReviewScreen(Screen):
    """Every transcript of the folder: sort, filter, open one, mark two to compare, see trends."""

    BINDINGS = [
        Binding("enter", "open", "Open", show=True),
        Binding("space", "mark", "Mark", show=True),
        Binding("c", "compare", "Compare 2"),
        Binding("t", "trends", "Trends"),
        Binding("s", "sort_next", "Sort"),
        Binding("r", "reverse", "Reverse"),
        Binding("slash", "search", "Search"),
        Binding("escape", "clear_search", "Clear", show=False),
        Binding("f5", "refresh", "Rescan"),
        Binding("q", "app.quit", "Quit"),
    ]

    class IndexProgress(Message):
        def __init__(self, done: int, total: int) -> None:
            self.done = done
            self.total = total
            super().__init__()

    class IndexReady(Message):
        def __init__(
            self, entries: list[TranscriptEntry], result: RefreshResult | None, error: str = ""
        ) -> None:
            self.entries = entries
            self.result = result
            self.error = error
            super().__init__()

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[TranscriptEntry] = []
        self.shown: list[TranscriptEntry] = []
        self.marked: list[str] = []
        self.sort_key = "date"
        self.sort_reverse = True
        self.search_text = ""
        self.summary = ""
        self._search_timer: Any = None
        self._cells: dict[str, tuple[TranscriptEntry, list[Cell]]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="search-bar"):
            yield Input(
                placeholder="search: words, or scenario: team: mode: integrity: rating:U date:2026-03",
                id="search",
            )
            yield ProgressBar(id="progress", show_eta=False)
        table = TranscriptTable(id="transcripts", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("Opening…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(TranscriptTable)
        for key, (label, _) in COLUMNS.items():
            table.add_column(self._header(key, label), key=key)
        table.focus()
        self.refresh_index()

    # --- the index, refreshed in a worker thread -----------------------------------------
    @work(thread=True, exclusive=True, group="index")
    def refresh_index(self) -> None:
        index = cast(ReviewerApp, self.app).index
        try:
            plan = index.plan()
            step = max(1, len(plan.to_score) // 100)

            def progress(done: int, total: int) -> None:
                if done == total or done % step == 0:
                    self.post_message(self.IndexProgress(done, total))

            result = index.refresh(
                plan=plan, progress=progress, workers=getattr(self.app, "score_workers", None)
            )
            entries = index.entries()
        except Exception as error:  # the view must never crash on a bad folder or index
            self.post_message(self.IndexReady([], None, f"{type(error).__name__}: {error}"))
            return
        self.post_message(self.IndexReady(entries, result))

    def on_review_screen_index_progress(self, message: IndexProgress) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=max(1, message.total), progress=message.done)
        self._status(f"Scoring {message.done}/{message.total} new or changed transcripts…")

    def on_review_screen_index_ready(self, message: IndexReady) -> None:
        self.query_one(ProgressBar).display = False
        if message.error:
            self._status(f"Cannot open the index: {message.error}")
            return
        self.entries = message.entries
        result = message.result
        if result is not None:
            self.summary = (
                f"{result.added} new, {result.changed} changed, {result.removed} removed, "
                f"{result.unchanged} unchanged"
            )
        self.populate()

    # --- table contents ---------------------------------------------------------------------
    def populate(self) -> None:
        table = self.query_one(TranscriptTable)
        previous = self._cursor_path()
        rows = filter_entries(self.entries, self.search_text)
        sort_key = COLUMNS[self.sort_key][1]
        rows.sort(key=lambda e: e.path)
        rows.sort(key=sort_key, reverse=self.sort_reverse)
        self.shown = rows
        for column_key, (label, _) in COLUMNS.items():
            table.columns[column_key].label = Text(self._header(column_key, label))  # type: ignore[index]
        table.clear()
        widths = dict.fromkeys(COLUMNS, 1)
        keys = list(COLUMNS)[1:]
        batch = []
        cache = self._cells
        for entry in rows:
            cells = cache.get(entry.path)
            if cells is None or cells[0] is not entry:
                cells = cache[entry.path] = (entry, row_cells(entry, False)[1:])
            for key, cell in zip(keys, cells[1], strict=False):
                size = cell_len(cell.plain)
                if size > widths[key]:
                    widths[key] = size
            batch.append((entry.path, [mark_cell(entry.path in self.marked), *cells[1]]))
        table.set_widths(widths)
        table.add_many(batch)
        table.refresh()
        if previous is not None:
            for number, entry in enumerate(rows):
                if entry.path == previous:
                    table.move_cursor(row=number, animate=False)
                    break
        self._update_status()

    def _header(self, key: str, label: str) -> str:
        if key == self.sort_key:
            return f"{label} {'▼' if self.sort_reverse else '▲'}"
        return label

    def _update_status(self) -> None:
        if not self.entries:
            folder = getattr(self.app, "label", "this folder")
            self._status(
                f"No transcripts (*.jsonl) in {folder} yet: run `tabletop simulate` or a rehearsal first."
            )
            return
        broken = sum(1 for e in self.entries if not e.trusted)
        problems = search_problems(self.search_text)
        if problems:  # a mistyped key matches nothing: say so, and which keys there are
            self._status(
                rich_text(" · ".join(problems) + f" · {len(self.shown)} shown", "bold yellow", newlines=False)
            )
            return
        parts = [f"{len(self.shown)} of {len(self.entries)} transcripts"]
        if broken:
            parts.append(f"{broken} BROKEN or unreadable")
        kinds = {e.conditions for e in self.shown if e.conditions}
        if len(kinds) > 1:
            parts.append(f"played under {len(kinds)} different conditions: compare like with like")
        versions = {e.rules_version for e in self.shown if e.rules_version}
        if len(versions) > 1:
            parts.append(f"scoring rules versions {', '.join(map(str, sorted(versions)))}")
        if self.marked:
            parts.append(f"marked: {', '.join(self.marked)}")
        if self.summary:
            parts.append(f"index: {self.summary}")
        self._status(" · ".join(parts))

    def _status(self, text: str | Text) -> None:
        self.query_one("#status", Static).update(
            text if isinstance(text, Text) else rich_text(text, newlines=False)
        )

    def _cursor_path(self) -> str | None:
        table = self.query_one(TranscriptTable)
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row].path

    def current(self) -> TranscriptEntry | None:
        path = self._cursor_path()
        return next((e for e in self.shown if e.path == path), None)

    # --- actions ----------------------------------------------------------------------------
    @on(DataTable.HeaderSelected, "#transcripts")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key not in SORTABLE:
            return
        self.sort_by(key)

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = (not self.sort_reverse) if key == self.sort_key else key in ("date", "score")
        self.sort_key, self.sort_reverse = key, reverse
        self.populate()

    def action_sort_next(self) -> None:
        position = SORTABLE.index(self.sort_key) if self.sort_key in SORTABLE else -1
        self.sort_by(SORTABLE[(position + 1) % len(SORTABLE)], reverse=False)

    def action_reverse(self) -> None:
        self.sort_by(self.sort_key, reverse=not self.sort_reverse)

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#search", Input)
        search.value = ""
        self.query_one(TranscriptTable).focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search_text = event.value
        if self._search_timer is not None:
            self._search_timer.stop()
        # typing into a large folder's search refilters once the typing pauses
        delay = 0.0 if len(self.entries) < 2000 else 0.25
        self._search_timer = self.set_timer(delay, self.populate) if delay else None
        if not delay:
            self.populate()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
            self.populate()
        self.query_one(TranscriptTable).focus()

    @on(DataTable.RowSelected, "#transcripts")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        entry = self.current()
        if entry is None:
            return
        from tabletop.ui.review.detail import TranscriptScreen

        self.app.push_screen(TranscriptScreen(entry))

    def action_mark(self) -> None:
        entry = self.current()
        if entry is None:
            return
        if entry.path in self.marked:
            self.marked.remove(entry.path)
        else:
            self.marked.append(entry.path)
            if len(self.marked) > 2:
                dropped = self.marked.pop(0)
                self._set_mark(dropped, False)
        self._set_mark(entry.path, entry.path in self.marked)
        self._update_status()
        self.post_message(TranscriptTable.Marked(tuple(self.marked)))

    def _set_mark(self, path: str, marked: bool) -> None:
        table = self.query_one(TranscriptTable)
        try:
            table.update_cell(path, "mark", mark_cell(marked))
        except Exception:  # the row is filtered out of view
            pass

    def action_compare(self) -> None:
        if len(self.marked) != 2:
            self.notify(
                "Mark two transcripts with space, then press c to compare them.",
                title="Compare",
                severity="warning",
            )
            return
        by_path = {e.path: e for e in self.entries}
        first, second = (by_path.get(p) for p in self.marked)
        if first is None or second is None:
            self.notify("A marked transcript is no longer in the folder.", severity="error")
            return
        from tabletop.ui.review.side_by_side import CompareScreen

        self.app.push_screen(CompareScreen(first, second))

    def action_trends(self) -> None:
        from tabletop.ui.review.trends import TrendsScreen

        index = cast(ReviewerApp, self.app).index

        def records(team: str | None) -> list:
            try:
                return index.expectation_record(team=team)
            except Exception:  # the index is busy or gone: trends without the missed list
                return []

        self.app.push_screen(TrendsScreen(list(self.entries), records))

    def action_refresh(self) -> None:
        self._status("Rescanning the folder…")
        self.refresh_index()

    def review_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Open transcript", "Open the transcript under the cursor", self.action_open)
        yield SystemCommand(
            "Mark for comparison", "Mark or unmark the transcript under the cursor", self.action_mark
        )
        yield SystemCommand(
            "Compare marked", "Compare the two marked transcripts side by side", self.action_compare
        )
        yield SystemCommand("Trends", "Scores over time per team, scenario and area", self.action_trends)
        yield SystemCommand(
            "Rescan folder", "Pick up added, changed and deleted transcripts", self.action_refresh
        )
        for key in SORTABLE:
            label = COLUMNS[key][0]
            if key.startswith("area:"):
                label = f"{fmt.area_label(key[5:])} rating"
            yield SystemCommand(f"Sort by {label}", f"Sort the table by {label}", partial(self.sort_by, key))
