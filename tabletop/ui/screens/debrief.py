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
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tabletop.model import Scenario
from tabletop.timing import format_offset
from tabletop.ui.render import action_title, row_title
from tabletop.ui.widgets.markdown_view import MarkdownView
from tabletop.untrusted import one_line, rich_text, safe

STATUS_STYLE = {
    "met": "green",
    "late": "yellow",
    "missed": "bold red",
    "open": "cyan",
    "not_applicable": "dim",
}
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
    if card.get("solo_role"):
        line += " · solo: your own role's work and bringing the team in are scored"
    return line


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


class DebriefScreen(Screen):
    """What was expected, by whom, by when, and what happened; findings; the post-mortem."""

    CSS_PATH = "debrief.tcss"

    BINDINGS = [
        Binding("m", "open_markdown", "Post-mortem"),
        Binding("b", "open_browser", "Open HTML"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

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

    def compose(self) -> ComposeResult:
        with Vertical(id="debrief"):
            yield Static("Scoring the rehearsal and drafting the post-mortem…", id="debrief-summary")
            yield DataTable(id="debrief-table", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="debrief-team", cursor_type="row", zebra_stripes=True)
            yield Static("", id="debrief-why")
            yield Static("", id="debrief-findings")
        yield Footer()

    def on_mount(self) -> None:
        for table_id in ("#debrief-table", "#debrief-team"):
            table = self.query_one(table_id, DataTable)
            table.add_columns("expected", "owner", "by when", "what happened", "by", "credit")
        self.query_one("#debrief-table", DataTable).border_title = "Scorecard"
        team = self.query_one("#debrief-team", DataTable)
        team.border_title = "Your team's: what the simulated teammates did (never in your score)"
        team.display = False
        self.rows: list[dict[str, Any]] = []
        self.team_rows: list[dict[str, Any]] = []
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
        summary = Text()
        summary.append("Debrief · ", style="bold")
        summary.append(one_line(self.scenario.title) + "\n", style="bold")
        if card:
            summary.append(
                f"Score {card['score']:.0%}"
                if card.get("rated", True) and card.get("score") is not None
                else "Not rated: nothing you were expected to do was due",
                style="bold",
            )
            summary.append(f"  ·  {card.get('passed', 0)} of {card.get('applicable', 0)} expectations passed")
            coverage = card.get("coverage")
            if coverage is not None and coverage < 1:
                summary.append(f"  ·  coverage {coverage:.0%}: the open ones below are not scored")
            for cap in card.get("caps") or ():
                summary.append("\n" + one_line(cap.get("text", "")), style="yellow")
            summary.append("\n" + _conditions_line(card), style="dim")
            areas = card.get("areas") or {}
            if areas:
                summary.append(
                    "\n"
                    + one_line(
                        "  ".join(f"{a.replace('_', ' ')} {v:.0%}" for a, v in areas.items() if v is not None)
                    ),
                    style="dim",
                )
        if result.markdown_path:
            summary.append(
                f"\nPost-mortem draft: {one_line(result.markdown_path)}  (m: read here, b: open HTML)",
                style="italic",
            )
        if result.error:
            summary.append("\n" + safe(result.error), style="bold red")
        self.query_one("#debrief-summary", Static).update(summary)
        expectations = card.get("expectations", [])
        self.rows = self._fill(
            self.query_one("#debrief-table", DataTable),
            [r for r in expectations if r.get("scope") != "teammates"],
        )
        team = [r for r in expectations if r.get("scope") == "teammates"]
        team_table = self.query_one("#debrief-team", DataTable)
        self.team_rows = self._fill(team_table, team)
        team_table.display = bool(team)
        if team:
            self.query_one("#debrief-table", DataTable).border_title = "Yours: what you were scored on"
        findings = Text.assemble(("Findings\n", "bold"))
        for finding in card.get("findings", []):
            findings.append(
                f"⚑ {one_line(finding.get('id'))} at {format_offset(finding.get('at', 0))}: "
                f"{one_line(finding.get('detail', ''))} (−{finding.get('penalty', 0):g})\n"
            )
        if not card.get("findings"):
            findings.append("No findings.\n", style="dim")
        self.query_one("#debrief-findings", Static).update(findings)

    def _fill(self, table: DataTable, expectations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows of one scorecard table, missed first; returns them in the order shown."""
        table.clear()
        rows = sorted(
            expectations,
            key=lambda r: (
                ORDER.get(r.get("status", ""), 3),
                r.get("deadline") is None,
                r.get("deadline") or 0,
            ),
        )
        for row in rows:
            status = row.get("status", "")
            try:
                expectation = self.scenario.expectation(row["id"])
                owner = expectation.owner or ""
            except KeyError:
                owner = row.get("owner", "")
            deadline = row.get("deadline")
            happened = status.replace("_", " ")
            if row.get("done_at") is not None:
                happened += f" at {format_offset(row['done_at'])}"
            if row.get("flags"):
                happened += " (" + ", ".join(f.replace("_", " ") for f in row["flags"]) + ")"
            if row.get("revised"):
                happened += f", revised {len(row['revised'])}x"
            by = row.get("by") or ""
            if row.get("delegated_by"):
                by += f" for {row['delegated_by']}"
            table.add_row(  # Text cells: a str cell would be read as markup
                rich_text(row_title(self.scenario, row)),
                rich_text(owner, newlines=False),
                format_offset(deadline) if deadline is not None else "—",
                rich_text(happened, STATUS_STYLE.get(status, ""), newlines=False),
                rich_text(by, newlines=False),
                f"{row.get('credit', 0):g}×{row.get('weight', 1):g}"
                if row.get("status") in ("met", "late", "missed")
                else "",
            )
        return rows

    @on(DataTable.RowHighlighted, "#debrief-table, #debrief-team")
    def _explain(self, message: DataTable.RowHighlighted) -> None:
        """Why the highlighted expectation exists and why it got its credit."""
        rows = self.team_rows if message.data_table.id == "debrief-team" else self.rows
        if message.cursor_row is None or not 0 <= message.cursor_row < len(rows):
            return
        row = rows[message.cursor_row]
        text = Text()
        text.append(
            one_line(row.get("title") or action_title(self.scenario, row.get("action", ""))), style="bold"
        )
        try:
            expectation = self.scenario.expectation(row["id"])
        except KeyError:
            expectation = None
        why = expectation.why if expectation is not None else row.get("why", "")
        if why:
            text.append(f"\nWhy: {safe(why)}")
        if expectation is not None and expectation.source:
            text.append(f"\nSource: {safe(expectation.source)}", style="dim")
        if row.get("reason"):
            text.append(f"\nScored: {safe(row['reason'])}", style="italic")
        self.query_one("#debrief-why", Static).update(text)

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
