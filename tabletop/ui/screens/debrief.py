"""The debrief: final scorecard, findings, and the post-mortem draft written next to the transcript."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane, Tabs

from tabletop.model import Scenario
from tabletop.timing import format_offset
from tabletop.ui.settling import WorkDone
from tabletop.ui.texts import credit_cell, explain_result, result_cell, row_title
from tabletop.ui.widgets.fitted_table import Cell, Column, FittedTable
from tabletop.ui.widgets.markdown_view import MarkdownView
from tabletop.untrusted import one_line, rich_text, safe

ORDER = {"missed": 0, "late": 1, "met": 2, "open": 3, "not_applicable": 4}


@dataclass(frozen=True)
class DebriefResult:
    """The final scorecard and where the post-mortem draft was written."""

    card: dict[str, Any]
    markdown_path: Path | None
    html_path: Path | None
    markdown: str
    error: str | None = None


def write_debrief(
    scenario: Scenario, events: list[dict[str, Any]], transcript: Path | None, generated_at: Any
) -> DebriefResult:
    """Score the run and write the post-mortem draft (Markdown and HTML) next to the transcript."""
    from tabletop.programme.config import register_rule
    from tabletop.report import build_postmortem, render_report, write_postmortem
    from tabletop.scoring import score

    card = score(scenario, events)
    data = card.to_json()
    error = None
    markdown = ""
    md_path = html_path = None
    try:
        postmortem = build_postmortem(scenario, events, card, register_rule=register_rule(transcript))
        markdown = render_report(postmortem, "md", generated_at)
        if transcript is not None:
            html = render_report(postmortem, "html", generated_at)
            draft_id = str(events[0].get("hash") or transcript.name) if events else transcript.name
            md_path, html_path = write_postmortem(
                transcript, {"md": markdown, "html": html}, draft_id=draft_id
            )
    except Exception as problem:  # the scorecard is still shown
        error = f"The post-mortem draft could not be written: {problem}"
    return DebriefResult(data, md_path, html_path, markdown, error)


def _conditions_line(card: dict[str, Any]) -> str:
    from tabletop.scoring import RULES_VERSION, conditions_text

    line = f"Played: {conditions_text(card.get('conditions'))} · rules version {card.get('rules_version')}"
    if card.get("rules_version") != RULES_VERSION:
        line += f" (scored with {RULES_VERSION})"
    return line


SOLO_DEBRIEF = (
    "Solo: Yours is scored (your role's work, done or delegated, and bringing each teammate "
    "in); Your team's is the teammates' own work, never scored."
)
FINDINGS_NOTE = (
    "A finding is a penalty in weight units: hands-on work the coordinator should have "
    "delegated (an avoid rule), a decision not to notify recorded without its reason, or a "
    "premature decision (an action made before anything called for it). Findings lower the "
    "overall score, not the areas."
)


class MarkdownScreen(Screen):
    """The post-mortem draft, rendered in the console: "Loading…" at once, the draft when a
    worker has laid it out (see `tabletop.ui.widgets.markdown_view`)."""

    CSS_PATH = "debrief.tcss"

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]
    AUTO_FOCUS = "#markdown-view"

    def __init__(self, markdown: str, title: str) -> None:
        super().__init__()
        self.markdown = markdown
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield MarkdownView(self.markdown, id="markdown-view")  # laid out in a worker
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = one_line(self.title_text)


class ScorecardTable(FittedTable):
    """A debrief scorecard: the result and credit first; enter shows or hides the explanation."""

    BINDINGS = [Binding("enter", "select_cursor", "Explain", tooltip="Show or hide why, for the row")]


DEBRIEF_COLUMNS = [
    Column("result", "Result"),
    Column("credit", "Credit", justify="right"),
    Column("expected", "Expected", flex=True, min_width=30, min_share=0.5),
    Column("due", "Due"),
    Column("done", "Done", optional=2),
    Column("owner", "Owner", max_width=18, optional=3),
    Column("by", "By", max_width=28, optional=4),
]
"""Left out first when narrow: who did it, then the owner, then when it was done."""

TALL = 32
"""From this many lines the explanation is shown below the table unless hidden; below it, enter shows it."""


class DebriefScreen(Screen):
    """What was expected, by whom, by when, and what happened; findings; the post-mortem.

    The result and credit come first in each table and the titles are cut to the width, so
    every row reads at 80 columns; the selected row's whole explanation (what happened and how
    it was scored, then why it matters and its source) is below the tables (beside them on a
    wide terminal), or, on a short one, shown with enter.
    """

    CSS_PATH = "debrief.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (150, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (TALL, "-tall")]

    BINDINGS = [
        Binding("m", "open_markdown", "Post-mortem"),
        Binding("b", "open_browser", "Open HTML"),
        Binding("1", "tab('tab-yours')", "Yours", show=False),
        Binding("2", "tab('tab-team')", "Your team's", show=False),
        Binding("3", "tab('tab-findings')", "Findings", show=False),
        Binding("q", "app.quit", "Quit", show=False),
    ]
    AUTO_FOCUS = "#debrief-table"

    class Ready(WorkDone):
        """The rehearsal is scored, the post-mortem drafted and both are shown."""

        job = "debrief"

    def __init__(
        self,
        scenario: Scenario,
        events: list[dict[str, Any]],
        transcript: Path | None,
        *,
        generated_at: datetime | None = None,
        open_url: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__()
        self.scenario = scenario
        self.events = events
        self.transcript = transcript
        self.generated_at = generated_at
        self.open_url = open_url
        self.result: DebriefResult | None = None
        self.rows: list[dict[str, Any]] = []
        self.team_rows: list[dict[str, Any]] = []
        self.why_wanted: bool | None = None
        """Shown or hidden with enter; None: shown when the terminal is tall enough."""

    def compose(self) -> ComposeResult:
        with Vertical(id="debrief"):
            yield Static("Scoring the rehearsal and drafting the post-mortem…", id="debrief-summary")
            yield Static("", id="debrief-more")
            with Horizontal(id="debrief-body"):
                with TabbedContent(id="debrief-tabs"):
                    with TabPane("Scorecard", id="tab-yours"):
                        yield ScorecardTable(DEBRIEF_COLUMNS, id="debrief-table")
                    with TabPane("Your team's", id="tab-team"):
                        yield ScorecardTable(DEBRIEF_COLUMNS, id="debrief-team")
                    with TabPane("Findings", id="tab-findings"), VerticalScroll(id="debrief-findings-scroll"):
                        yield Static("", id="debrief-findings")
                with VerticalScroll(id="debrief-why-panel"):
                    yield Static("", id="debrief-why")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TabbedContent).hide_tab("tab-team")  # until the score says there is a team
        self.query_one("#debrief-why-panel").border_title = "Why"
        self._show_why()
        self.prepare()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def prepare(self) -> None:
        generated_at = self.generated_at
        if generated_at is None:
            from datetime import datetime

            generated_at = datetime.now(UTC)
        try:
            result = write_debrief(self.scenario, self.events, self.transcript, generated_at)
        except Exception as problem:
            result = DebriefResult({}, None, None, "", f"Scoring failed: {problem}")
        self.app.call_from_thread(self.show, result)

    def show(self, result: DebriefResult) -> None:
        self.result = result
        card = result.card
        self.query_one("#debrief-summary", Static).update(self._summary(card, result))
        self.query_one("#debrief-more", Static).update(self._more(card, result))
        expectations = card.get("expectations", [])
        team = [r for r in expectations if r.get("scope") == "teammates"]
        self.rows = self._fill(
            self.query_one("#debrief-table", ScorecardTable),
            [r for r in expectations if r.get("scope") != "teammates"],
        )
        tabs = self.query_one(TabbedContent)
        solo = bool(card.get("solo_role")) or bool(team)
        tabs.get_tab("tab-yours").label = Text(f"{'Yours' if solo else 'Scorecard'} ({len(self.rows)})")
        if team:
            self.team_rows = self._fill(self.query_one("#debrief-team", ScorecardTable), team)
            tabs.get_tab("tab-team").label = Text(f"Your team's ({len(self.team_rows)})")
            tabs.show_tab("tab-team")
        else:  # no simulated teammates' own work: no tab for it
            tabs.remove_pane("tab-team")
        findings = card.get("findings", [])
        tabs.get_tab("tab-findings").label = Text(f"Findings ({len(findings)})")
        self.query_one("#debrief-findings", Static).update(self._findings(card, result))
        self._explain_current()
        self.post_message(self.Ready())

    def _summary(self, card: dict[str, Any], result: DebriefResult) -> Text:
        """The heading: score, rating, passed, coverage, caps and, solo, what is yours."""
        from tabletop.scoring import RATING_NAMES

        summary = Text()
        summary.append("Debrief · ", style="bold")
        summary.append(one_line(self.scenario.title), style="bold")
        if card:
            summary.append("\n")
            rated = card.get("rated", True) and card.get("score") is not None
            if rated:
                summary.append(f"Score {card['score']:.0%}", style="bold")
                rating = card.get("rating")
                if rating in RATING_NAMES:
                    summary.append(f" {rating} ({RATING_NAMES[rating].lower()})")
            else:
                summary.append("Not rated: nothing you were expected to do was due", style="bold")
            summary.append(f" · {card.get('passed', 0)} of {card.get('applicable', 0)} passed")
            coverage = card.get("coverage")
            if coverage is not None and coverage < 1:
                summary.append(f" · coverage {coverage:.0%}: open steps are not scored")
            for cap in card.get("caps") or ():
                summary.append("\n" + one_line(cap.get("text", "")), style="yellow")
            if card.get("solo_role"):
                summary.append("\n" + SOLO_DEBRIEF, style="italic")
        if result.error:
            summary.append("\n" + safe(result.error), style="bold red")
        return summary

    def _more(self, card: dict[str, Any], result: DebriefResult) -> Text:
        """Areas, the conditions played under and the draft's path (on a short terminal: in Findings)."""
        more = Text(style="dim")
        if card:
            areas = card.get("areas") or {}
            ratings = card.get("ratings") or {}
            if areas:
                more.append(
                    "Areas: "
                    + one_line(
                        " · ".join(
                            f"{a.replace('_', ' ')} {v:.0%} {ratings.get(a, '')}".rstrip()
                            for a, v in areas.items()
                            if v is not None
                        )
                    )
                    + "\n"
                )
            more.append(_conditions_line(card) + "\n")
        if result.markdown_path:
            more.append(f"Post-mortem draft: {one_line(result.markdown_path)}  (m: read here, b: open HTML)")
        more.rstrip()
        return more

    def _findings(self, card: dict[str, Any], result: DebriefResult) -> Text:
        findings = Text()
        for finding in card.get("findings", []):
            findings.append(f"⚑ {format_offset(finding.get('at', 0))} ", style="red")
            findings.append(f"{one_line(finding.get('id'))}: {one_line(finding.get('detail', ''))} ")
            findings.append(f"(−{finding.get('penalty', 0):g})\n", style="dim")
        if not card.get("findings"):
            findings.append("No findings.\n", style="dim")
        findings.append("\n" + FINDINGS_NOTE + "\n\n", style="italic")
        findings.append_text(self._more(card, result))
        return findings

    def _fill(self, table: ScorecardTable, expectations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows of one scorecard table, missed first; returns them in the order shown."""
        rows = sorted(
            expectations,
            key=lambda r: (
                ORDER.get(r.get("status", ""), 3),
                r.get("deadline") is None,
                r.get("deadline") or 0,
            ),
        )
        cells: list[dict[str, Cell]] = []
        for row in rows:
            try:
                owner = self.scenario.expectation(row["id"]).owner or row.get("owner", "")
            except KeyError:
                owner = row.get("owner", "")
            deadline = row.get("deadline")
            by = row.get("by") or ""
            if row.get("delegated_by"):
                by += f" for {row['delegated_by']}"
            cells.append(
                {
                    "result": result_cell(row),
                    "credit": credit_cell(row),
                    "expected": rich_text(row.get("title") or row_title(self.scenario, row), newlines=False),
                    "due": format_offset(deadline) if deadline is not None else "—",
                    "done": format_offset(row["done_at"]) if row.get("done_at") is not None else "",
                    "owner": rich_text(owner, newlines=False),
                    "by": rich_text(by, newlines=False),
                }
            )
        table.set_rows(cells)
        return rows

    # --- the explanation -----------------------------------------------------------------
    def _table_rows(self, table_id: str | None) -> list[dict[str, Any]]:
        return self.team_rows if table_id == "debrief-team" else self.rows

    @on(DataTable.RowHighlighted, "#debrief-table, #debrief-team")
    def _explain(self, message: DataTable.RowHighlighted) -> None:
        """The highlighted row's whole explanation (of the table on show: both are filled at once)."""
        shown = "debrief-team" if self.query_one(TabbedContent).active == "tab-team" else "debrief-table"
        if message.data_table.id == shown:
            self._explain_row(message.data_table.id, message.cursor_row)

    def _explain_row(self, table_id: str | None, index: int | None) -> None:
        rows = self._table_rows(table_id)
        if index is None or not 0 <= index < len(rows):
            return
        self.query_one("#debrief-why", Static).update(explain_result(rows[index], self.scenario))
        self.query_one("#debrief-why-panel", VerticalScroll).scroll_home(animate=False)

    def _explain_current(self) -> None:
        """Explain the selected row of the active tab's table (the findings explain themselves)."""
        active = self.query_one(TabbedContent).active
        self._show_why()
        if active == "tab-findings":
            return
        table_id = "debrief-team" if active == "tab-team" else "debrief-table"
        table = self.query_one(f"#{table_id}", ScorecardTable)
        self._explain_row(table_id, table.cursor_row if table.row_count else None)

    @on(TabbedContent.TabActivated, "#debrief-tabs")
    def _tab_changed(self) -> None:
        self._explain_current()

    @on(DataTable.RowSelected, "#debrief-table, #debrief-team")
    def _toggle_why(self) -> None:
        """enter on a row: show the explanation, or hide it again."""
        self.why_wanted = not self.why_shown()
        self._show_why()

    def why_shown(self) -> bool:
        """Whether the explanation is on screen: as asked with enter, else when the terminal is tall."""
        if self.why_wanted is not None:
            return self.why_wanted
        return self.app.size.height >= TALL

    def _show_why(self) -> None:
        findings = self.query_one(TabbedContent).active == "tab-findings"
        self.query_one("#debrief-why-panel").display = self.why_shown() and not findings

    def on_resize(self) -> None:
        self._show_why()

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one(TabbedContent)
        if tab == "tab-team" and not self.team_rows:
            return
        tabs.active = tab
        # focus follows the tab: a focused widget left in a hidden pane would bring its pane back
        table = {"tab-yours": "#debrief-table", "tab-team": "#debrief-team"}.get(tab)
        if table:
            self.query_one(table).focus()
        else:
            tabs.query_one(Tabs).focus()

    def action_open_markdown(self) -> None:
        if self.result is None or not self.result.markdown:
            self.notify("The post-mortem draft is not ready yet.", severity="warning")
            return
        self.app.push_screen(MarkdownScreen(self.result.markdown, str(self.result.markdown_path or "")))

    def action_open_browser(self) -> None:
        if self.result is None or self.result.html_path is None:
            self.notify("The HTML post-mortem is not ready yet.", severity="warning")
            return
        self.open_in_browser(self.result.html_path.resolve().as_uri())

    @work(thread=True, exit_on_error=False)
    def open_in_browser(self, url: str) -> None:
        import webbrowser

        opener = self.open_url or webbrowser.open
        opened = opener(url)
        if not opened:
            self.app.call_from_thread(
                self.notify, f"No browser found; open {one_line(url)}", timeout=10, markup=False
            )
