"""Two transcripts side by side: expectation by expectation for one scenario, else area by area."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tabletop.review import formatting as fmt
from tabletop.review.compare import Comparison, Side
from tabletop.review.entry import TranscriptEntry
from tabletop.ui.apps import ReviewerApp
from tabletop.ui.review.cells import plain
from tabletop.ui.widgets.fitted_table import Column, FittedTable
from tabletop.untrusted import one_line, rich_text

STATUS_STYLE = {"met": "green", "late": "yellow", "missed": "bold red", "open": "cyan"}
RATING_STYLE = {"P": "green", "S": "yellow", "M": "dark_orange", "U": "bold red"}


BY_EXPECTATION = [
    Column("a", "A"),
    Column("credit_a", "Credit A", justify="right"),
    Column("b", "B"),
    Column("credit_b", "Credit B", justify="right"),
    Column("change", "Change", justify="right"),
    Column("expectation", "Expectation", flex=True, min_width=24, min_share=0.35),
    Column("flags_a", "Flags A", max_width=20, optional=2),
    Column("flags_b", "Flags B", max_width=20, optional=2),
    Column("area", "Area", max_width=16, optional=3),
]
"""Both results (⚑: flagged) and the change first; narrower, the area and the flags are left
out and the title cut."""
BY_AREA = [
    Column("a", "A"),
    Column("b", "B"),
    Column("change", "Change", justify="right"),
    Column("area", "Area", flex=True, min_width=16),
]


def sides_table(comparison: Comparison) -> Table:
    """The two transcripts' identity and totals as a two-column Rich table."""
    a, b = comparison.a, comparison.b
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("A", ratio=1, overflow="fold")
    table.add_column("B", ratio=1, overflow="fold")
    table.add_row("transcript", _cut(a.path), _cut(b.path))
    delta = fmt.delta_text(comparison.score_delta)
    table.add_row(
        "score",
        f"{fmt.score_text(a.score)} · {fmt.passed_text(a.passed, a.applicable)} passed",
        f"{fmt.score_text(b.score)} · {fmt.passed_text(b.passed, b.applicable)} passed"
        + (f"  ({delta})" if delta else ""),
    )
    table.add_row("integrity", _integrity(a.integrity), _integrity(b.integrity))
    table.add_row("played", plain(a.conditions or "not recorded"), plain(b.conditions or "not recorded"))
    for warning in comparison.warnings:
        table.add_row(Text("warning", style="yellow"), Text(warning, style="yellow"), "")
    areas = list(a.areas) + [area for area in b.areas if area not in a.areas]
    if comparison.same_scenario and areas:
        table.add_row("areas", _areas_text(a, areas), _areas_text(b, areas))
    table.add_row("scenario", _cut(a.scenario), _cut(b.scenario))
    table.add_row(
        "started · team",
        _cut(f"{a.started[:16].replace('T', ' ')} · {a.group}"),
        _cut(f"{b.started[:16].replace('T', ' ')} · {b.group}"),
    )
    table.add_row("participants", _cut(", ".join(a.participants)), _cut(", ".join(b.participants)))
    return table


def _cut(value: str) -> Text:
    """One line, ending in "…" when it does not fit (names, paths: shown as typed)."""
    text = rich_text(value, newlines=False)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def _areas_text(side: Side, areas: list[str]) -> Text:
    """Each area's ratio and P/S/M/U rating, in one line."""
    text = Text()
    for area in areas:
        if area in side.areas:
            letter = side.ratings.get(area, "")
            text.append(f"{one_line(fmt.area_short(area))} ")
            text.append(f"{fmt.score_text(side.areas[area])} {letter}  ", style=RATING_STYLE.get(letter, ""))
    return text


def _integrity(integrity: str) -> Text:
    return Text(fmt.integrity_text(integrity), style="green" if integrity == "ok" else "bold red")


class CompareScreen(Screen):
    """Two marked transcripts compared."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("x", "swap", "Swap A/B")]

    class Compared(Message):
        def __init__(self, comparison: Comparison | None, error: str = "") -> None:
            self.comparison = comparison
            self.error = error
            super().__init__()

    def __init__(self, first: TranscriptEntry, second: TranscriptEntry) -> None:
        super().__init__()
        self.first, self.second = first, second
        self.comparison: Comparison | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="sides-scroll"):
            yield Static("Comparing…", id="sides")
        yield Static("", id="compare-title")
        yield FittedTable(id="comparison")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="compare")
    def load(self) -> None:
        from tabletop.review.compare import compare_transcripts

        folder = Path(cast(ReviewerApp, self.app).index.folder)
        try:
            comparison = compare_transcripts(folder / self.first.path, folder / self.second.path, root=folder)
        except Exception as error:
            self.post_message(self.Compared(None, str(error)))
            return
        self.post_message(self.Compared(comparison))

    def on_compare_screen_compared(self, message: Compared) -> None:
        if message.error:
            self.query_one("#sides", Static).update(rich_text(f"Cannot compare: {message.error}", "bold red"))
            return
        self.comparison = message.comparison
        self._show()

    def _show(self) -> None:
        comparison = self.comparison
        if comparison is None:
            return
        self.query_one("#sides", Static).update(sides_table(comparison))
        table = self.query_one("#comparison", FittedTable)
        if comparison.same_scenario:
            self.query_one("#compare-title", Static).update(
                Text("Same scenario: expectation by expectation", style="bold")
            )
            table.set_columns(BY_EXPECTATION)
            table.set_rows(
                {
                    "a": _status(row.a),
                    "credit_a": _credit(row.a),
                    "b": _status(row.b),
                    "credit_b": _credit(row.b),
                    "change": _change(row.delta),
                    "expectation": row.label,
                    "flags_a": _flags(row.a),
                    "flags_b": _flags(row.b),
                    "area": fmt.area_label(row.area),
                }
                for row in comparison.rows
            )
        else:
            self.query_one("#compare-title", Static).update(
                Text("Different scenarios: area by area", style="bold")
            )
            table.set_columns(BY_AREA)
            table.set_rows(
                {"a": _area(row.a), "b": _area(row.b), "change": _change(row.delta), "area": row.label}
                for row in comparison.rows
            )

    def action_swap(self) -> None:
        self.first, self.second = self.second, self.first
        self.load()


def _status(figures: Mapping[str, Any] | None) -> Text:
    if not figures:
        return Text("—", style="dim")
    status = figures.get("status") or ""
    text = Text(fmt.status_text(status), style=STATUS_STYLE.get(status, ""))
    if figures.get("flags"):
        text.append(" ⚑", style="magenta")
    return text


def _flags(figures: Mapping[str, Any] | None) -> Text:
    flags = (figures or {}).get("flags") or ()
    return Text(one_line(", ".join(str(f).replace("_", " ") for f in flags)), style="magenta")


def _credit(figures: Mapping[str, Any] | None) -> Text:
    """Credit × weight, as every scorecard shows it; `—` where the row is not scored."""
    if (
        not figures
        or figures.get("status") in ("not_applicable", "open")
        or figures.get("scope") == "teammates"
    ):
        return Text("—", style="dim", justify="right")
    credit, weight = figures.get("credit"), figures.get("weight")
    if not isinstance(credit, (int, float)):
        return Text("—", style="dim", justify="right")
    return Text(
        f"{credit:g}×{weight:g}" if isinstance(weight, (int, float)) else f"{credit:g}", justify="right"
    )


def _area(figures: Mapping[str, Any] | None) -> str:
    if not figures:
        return "—"
    return f"{fmt.score_text(figures['ratio'])} {figures.get('rating') or ''}".strip()


def _change(delta: float | None) -> Text:
    text = fmt.delta_text(delta)
    style = "green" if delta and delta > 0.005 else ("red" if delta and delta < -0.005 else "dim")
    return Text(text, style=style, justify="right")
