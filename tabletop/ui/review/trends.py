"""Trends over time: scores per team and scenario, and each area's ratio, as plots and tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from tabletop.model import AREAS
from tabletop.review import formatting as fmt
from tabletop.review.entry import TranscriptEntry
from tabletop.review.trends import (
    BY_AREA,
    BY_SCENARIO,
    BY_TEAM,
    ExpectationRecord,
    Trends,
    most_missed,
    trends,
)
from tabletop.ui.review.cells import PlainTable
from tabletop.ui.widgets.fitted_table import Column, FittedTable
from tabletop.untrusted import one_line

TABS = ((BY_TEAM, "Per team"), (BY_AREA, "Per area"), (BY_SCENARIO, "Per scenario"))
COLORS = ("blue+", "red+", "green+", "orange+", "magenta+", "cyan+", "yellow+", "gray+")
MAX_LINES = len(COLORS)
"""Plot at most this many lines (the most rehearsed); the table lists them all."""


def plot_trends(plot: PlotextPlot, result: Trends, title: str) -> None:
    """Draw each trend line against the rehearsal dates."""
    plt = plot.plt
    plt.clear_figure()
    plt.date_form("Y-m-d")
    plt.title(one_line(title))  # plotext's output is read as ANSI: nothing raw from a file
    plt.ylim(0, 1)
    lines = sorted(result.series, key=lambda s: (-len(s.points), s.key))[:MAX_LINES]
    for color, line in zip(COLORS, sorted(lines, key=lambda s: s.key), strict=False):
        dates = [p.started[:10] for p in line.points]
        values = [p.value for p in line.points]
        label = one_line(fmt.area_label(line.key) if result.by == BY_AREA else line.key)
        plt.plot(dates, values, label=label, marker="braille", color=color)
        plt.scatter(dates, values, marker="●", color=color)
    plot.refresh()


MISSED_COLUMNS = [
    Column("rate", "Miss rate", justify="right"),
    Column("missed", "Missed", justify="right"),
    Column("late", "Late", justify="right"),
    Column("applied", "Applied", justify="right"),
    Column("expectation", "Expectation", flex=True, min_width=24, min_share=0.35),
    Column("scenario", "Scenario", max_width=24, optional=1),
    Column("area", "Area", max_width=16, optional=2),
]
"""The counts first; narrower, the area and then the scenario are left out and the title cut."""

RecordSource = Callable[[str | None], list[ExpectationRecord]]
"""Gives the per-expectation record, for one team (or every team with None)."""


class TrendsScreen(Screen):
    """Trend lines of the folder's trusted, scored transcripts, for every team or one."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("1", "tab('team')", "Per team"),
        Binding("2", "tab('area')", "Per area"),
        Binding("3", "tab('scenario')", "Per scenario"),
        Binding("4", "tab('missed')", "Most missed"),
        Binding("g", "next_team", "Team"),
    ]

    def __init__(self, entries: list[TranscriptEntry], records: RecordSource | None = None) -> None:
        super().__init__()
        self.entries = entries
        self.records = records or (lambda team: [])
        self.teams: list[str | None] = [None, *sorted({e.group for e in entries if e.trusted and e.scored})]
        self.team: str | None = None
        self.results: dict[str, Trends] = {}
        self.missed: list[ExpectationRecord] = []
        self._compute()

    def _compute(self) -> None:
        team = self.team
        self.results = {by: trends(self.entries, by, team=None if by == BY_TEAM else team) for by, _ in TABS}
        self.missed = most_missed(self.records(team), limit=None)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="team-filter")
        with TabbedContent(initial=BY_TEAM, id="trend-tabs"):
            for by, title in TABS:
                with TabPane(title, id=by):
                    yield PlotextPlot(id=f"plot-{by}", classes="trend-plot")
                    yield PlainTable(id=f"table-{by}", cursor_type="row", classes="trend-table")
            with TabPane("Most missed", id="missed"):
                yield Static("", id="missed-title", classes="section-title")
                yield FittedTable(MISSED_COLUMNS, id="table-missed")
        yield Static(self._excluded_text(), id="excluded")
        yield Footer()

    def on_mount(self) -> None:
        for by, _ in TABS:
            self.query_one(f"#table-{by}", DataTable).add_columns(
                by.title(), "Rehearsals", "First", "Last", "Change", "Mean", "Best", "Over time"
            )
        self._show()

    def _show(self) -> None:
        who = one_line(self.team or "all teams")
        self.query_one("#team-filter", Static).update(
            Text.assemble(
                ("Team: ", "bold"),
                who,
                ("   (g: next team; the per-team tab always shows every team)", "dim"),
            )
        )
        titles = {
            BY_TEAM: "Score per team",
            BY_AREA: f"Ratio per area ({who})",
            BY_SCENARIO: f"Score per scenario ({who})",
        }
        order = {area: i for i, area in enumerate(AREAS)}
        for by, _ in TABS:
            result = self.results[by]
            plot_trends(self.query_one(f"#plot-{by}", PlotextPlot), result, titles[by])
            table = self.query_one(f"#table-{by}", DataTable)
            table.clear()
            series = result.series
            if by == BY_AREA:
                series = tuple(sorted(series, key=lambda s: (order.get(s.key, 99), s.key)))
            for line in series:
                change = line.change
                table.add_row(
                    fmt.area_label(line.key) if by == BY_AREA else line.key,
                    Text(str(len(line.points)), justify="right"),
                    Text(fmt.score_text(line.first), justify="right"),
                    Text(fmt.score_text(line.last), justify="right"),
                    Text(
                        fmt.delta_text(change),
                        justify="right",
                        style="green" if change > 0.005 else ("red" if change < -0.005 else "dim"),
                    ),
                    Text(fmt.score_text(line.mean), justify="right"),
                    Text(fmt.score_text(line.best), justify="right"),
                    fmt.sparkline(p.value for p in line.points),
                )
        self.query_one("#missed-title", Static).update(
            Text(
                f"What keeps being missed ({who}, intact transcripts, most often missed first)", style="bold"
            )
        )
        self.query_one("#table-missed", FittedTable).set_rows(
            {
                "rate": Text(
                    f"{record.miss_rate:.0%}",
                    justify="right",
                    style="bold red" if record.miss_rate >= 0.5 else "yellow",
                ),
                "missed": Text(str(record.missed), justify="right"),
                "late": Text(str(record.late), justify="right"),
                "applied": Text(str(record.applied), justify="right"),
                "expectation": f"{record.title} ({record.expectation})",
                "scenario": record.scenario,
                "area": fmt.area_label(record.area),
            }
            for record in self.missed
        )

    def _excluded_text(self) -> Text:
        excluded = self.results[BY_TEAM].excluded
        if not excluded:
            kept = len(self.entries)
            text = Text(f"{kept} transcripts, all with an intact hash chain.", style="dim")
        else:
            text = Text(f"Left out of the trends ({len(excluded)}): ", style="bold red")
            text.append(
                one_line(", ".join(f"{e.path} ({fmt.integrity_text(e.integrity)})" for e in excluded[:6]))
            )
            if len(excluded) > 6:
                text.append(f", … {len(excluded) - 6} more")
        warnings = dict.fromkeys(w for result in self.results.values() for w in result.warnings)
        for warning in list(warnings)[:3]:
            text.append(f"\nWarning: {one_line(warning)}: compare like with like.", style="yellow")
        if len(warnings) > 3:
            text.append(f"\n… and {len(warnings) - 3} more lines mix unlike runs.", style="yellow")
        for warning in self.results[BY_TEAM].evidence_warnings:
            text.append(f"\nEvidence: {one_line(warning)}.", style="bold red")
        return text

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_next_team(self) -> None:
        position = self.teams.index(self.team) if self.team in self.teams else 0
        self.show_team(self.teams[(position + 1) % len(self.teams)])

    def show_team(self, team: str | None) -> None:
        """Narrow the area, scenario and most-missed views to one team (None: every team)."""
        self.team = team
        self._compute()
        self._show()

    def plotted(self, by: str) -> Any:
        """The trend lines behind a tab (for tests and the command palette)."""
        return self.results[by]
