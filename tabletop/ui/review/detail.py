"""One transcript opened for review: scorecard, timeline, findings, breach record and post-mortem draft."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane, Tabs

from tabletop.report import PostMortem
from tabletop.review import formatting as fmt
from tabletop.review.entry import TranscriptEntry
from tabletop.review.evidence import Evidence
from tabletop.timing import format_offset
from tabletop.ui.apps import ReviewerApp
from tabletop.ui.review.cells import PlainTable
from tabletop.ui.texts import credit_cell, explain_result, result_cell
from tabletop.ui.widgets.fitted_table import Column, FittedTable
from tabletop.ui.widgets.markdown_view import MarkdownView
from tabletop.untrusted import one_line, one_line_each, rich_text, safe

STATUS_STYLE = {
    "met": "green",
    "late": "yellow",
    "missed": "bold red",
    "open": "cyan",
    "not_applicable": "dim",
}


@dataclass(frozen=True)
class Draft:
    """The post-mortem draft of a transcript, rendered; `problem` says why it is missing."""

    markdown: str = ""
    breach: str = ""
    problem: str = ""
    postmortem: PostMortem | None = None


def draft_postmortem(evidence: Evidence, generated_at: datetime) -> Draft:
    """Build and render the post-mortem with the report module (no Textual here)."""
    if evidence.scenario is None or evidence.scorecard is None:
        return Draft(problem="This transcript could not be scored, so there is no post-mortem draft.")
    try:
        from tabletop.programme.config import register_rule
        from tabletop.report import build_postmortem, render_report

        warnings = [f"Transcript integrity: {evidence.problem}"] if evidence.problem else []
        link = export_paths(Path(evidence.path))["md"].name
        postmortem = build_postmortem(
            evidence.scenario,
            evidence.events,
            evidence.scorecard,
            link=link,
            warnings=warnings,
            register_rule=register_rule(evidence.path),
        )
        markdown = render_report(postmortem, "md", generated_at)
    except Exception as error:
        return Draft(problem=f"The post-mortem draft could not be built: {type(error).__name__}: {error}")
    return Draft(markdown=markdown, breach=breach_section(markdown), postmortem=postmortem)


RECORD_WORDS = ("breach", "ico", "notification", "clock")


def breach_section(markdown: str) -> str:
    """The breach record of a post-mortem in Markdown, with the ICO decision and clocks after it.

    Starts at the first section heading naming a breach record (not the title) and keeps the
    sections right after it that are about the ICO decision or notification clocks.
    """
    sections: list[tuple[str, list[str]]] = []
    for line in markdown.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].lower(), [line]))
        elif sections:
            sections[-1][1].append(line)
    out: list[str] = []
    for heading, lines in sections:
        if not out:
            if "breach" in heading and "record" in heading:
                out.extend(lines)
        elif any(word in heading for word in RECORD_WORDS):
            out.extend(lines)
        else:
            break
    return "\n".join(out).strip() + "\n" if out else ""


def export_paths(transcript: Path) -> dict[str, Path]:
    """Where the post-mortem exports go: next to the transcript."""
    from tabletop.report import postmortem_path

    return {fmt_: postmortem_path(transcript, fmt_) for fmt_ in ("md", "html")}


SCORECARD_COLUMNS = [
    Column("status", "Status"),
    Column("credit", "Credit", justify="right"),
    Column("expectation", "Expectation", flex=True, min_width=28, min_share=0.45),
    Column("due", "Due"),
    Column("done", "Done", optional=2),
    Column("owner", "Owner", max_width=22, optional=3),
    Column("flags", "Flags", max_width=24, optional=4),
    Column("area", "Area", max_width=16, optional=5),
    Column("by", "By", max_width=22, optional=6),
]
"""Status and credit (credit × weight) first; narrower, the columns on the right are left out."""

EXPLAIN_FROM = 32
"""From this many lines the selected expectation's explanation shows below the scorecard; shorter, enter shows it."""


class ScorecardTable(FittedTable):
    """The review's scorecard: enter shows or hides the selected row's explanation."""

    BINDINGS = [Binding("enter", "select_cursor", "Explain", tooltip="Show or hide why, for the row")]


class TranscriptScreen(Screen):
    """The evidence of one rehearsal."""

    VERTICAL_BREAKPOINTS = [(0, "-short"), (EXPLAIN_FROM, "-tall")]

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("e", "export", "Export md+html"),
        Binding("1", "tab('scorecard')", "Scorecard", show=False),
        Binding("2", "tab('timeline')", "Timeline", show=False),
        Binding("3", "tab('findings')", "Findings", show=False),
        Binding("4", "tab('breach')", "Breach", show=False),
        Binding("5", "tab('postmortem')", "Post-mortem", show=False),
    ]

    class Loaded(Message):
        def __init__(self, evidence: Evidence | None, draft: Draft, error: str = "") -> None:
            self.evidence = evidence
            self.draft = draft
            self.error = error
            super().__init__()

    class Exported(Message):
        def __init__(self, paths: list[Path], error: str = "") -> None:
            self.paths = paths
            self.error = error
            super().__init__()

    def __init__(self, entry: TranscriptEntry) -> None:
        super().__init__()
        self.entry = entry
        self.evidence: Evidence | None = None
        self.draft: Draft | None = None
        self.expectation_rows: list[dict[str, Any]] = []
        self.explain_wanted: bool | None = None
        """Shown or hidden with enter; None: shown when the terminal is tall enough."""

    @property
    def transcript_path(self) -> Path:
        return Path(cast(ReviewerApp, self.app).index.folder) / self.entry.path

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="headline-box"):
            yield Static(self._identity(), id="identity")
            yield Static(self._headline(), id="headline")
        with TabbedContent(initial="scorecard", id="tabs"):
            with TabPane("Scorecard", id="scorecard"):
                yield Static("", id="areas")
                yield Static("", id="caps")
                yield Static("", id="bands")
                yield ScorecardTable(SCORECARD_COLUMNS, id="expectations")
                with VerticalScroll(id="expectation-why-panel"):
                    yield Static("", id="expectation-why")
            with TabPane("Timeline", id="timeline"):
                yield PlainTable(id="events", cursor_type="row", zebra_stripes=True)
            with TabPane("Findings", id="findings"):
                yield Static("Findings", id="findings-title", classes="section-title")
                yield PlainTable(id="findings-table", cursor_type="row")
                yield Static("Notification clocks", id="clocks-title", classes="section-title")
                yield PlainTable(id="clocks", cursor_type="row")
                yield Static("", id="warnings")
            with TabPane("Breach record", id="breach"):
                yield MarkdownView(id="breach-md")  # laid out in a worker when first shown
            with TabPane("Post-mortem", id="postmortem"):
                yield MarkdownView(id="postmortem-md")
        yield Footer()

    def _identity(self) -> Text:
        """Which rehearsal: two lines, each cut to the width rather than wrapped (see review.tcss)."""
        e = self.entry
        text = Text()
        text.append(one_line(e.scenario or e.path), style="bold")
        if e.title:
            text.append(f" · {one_line(e.title)}")
        who = f"{e.path} · started {e.started or '—'} · {e.mode or '?'}"
        if e.group:
            who += f" · {e.group}"
        who += f" · {', '.join(e.participants) or 'no participants'}"
        text.append("\n" + one_line(who))
        return text

    def _headline(self) -> Text:
        """The rehearsal's score, coverage and integrity, then the conditions it was played under."""
        e = self.entry
        text = Text()
        text.append(
            f"score {fmt.score_text(e.score)} · passed {fmt.passed_text(e.passed, e.applicable)}"
            f" · coverage {fmt.score_text(e.coverage)} · integrity "
        )
        text.append(
            fmt.evidence_text(e.integrity, e.evidence),
            style="green" if e.integrity == "ok" and e.evidence == "verified" else "bold red",
        )
        if e.problem:
            text.append(f" ({one_line(e.problem)})", style="red")
        text.append(
            f"\nplayed {e.conditions or 'not recorded'} (rules v{e.rules_version or '?'})"
            f" · sim time {fmt.duration_text(e.duration)}",
            style="dim",
        )
        return text

    def on_mount(self) -> None:
        self._show_explanation()
        self.query_one("#events", DataTable).add_columns(
            "Sim time", "Wall (UTC)", "Seq", "Event", "Who", "What"
        )
        self.query_one("#findings-table", DataTable).add_columns("Finding", "At", "Penalty", "Who", "Detail")
        self.query_one("#clocks", DataTable).add_columns("Clock", "Regime", "Status", "Due", "Done", "Rule")
        self.load()

    @work(thread=True, exclusive=True, group="evidence")
    def load(self) -> None:
        from tabletop.review.evidence import load_evidence

        try:
            evidence = load_evidence(self.transcript_path)
        except Exception as error:
            self.post_message(self.Loaded(None, Draft(), f"{error}"))
            return
        draft = draft_postmortem(evidence, cast(ReviewerApp, self.app).now())
        self.post_message(self.Loaded(evidence, draft))

    def on_transcript_screen_loaded(self, message: Loaded) -> None:
        if message.error:
            text = f"**This transcript cannot be read.**\n\n{message.error}"
            self.query_one("#breach-md", MarkdownView).update(text)
            self.query_one("#postmortem-md", MarkdownView).update(text)
            self.query_one("#areas", Static).update(rich_text(message.error, "bold red"))
            return
        self.evidence, self.draft = message.evidence, message.draft
        if message.evidence is None:
            return
        self._fill_scorecard(message.evidence)
        self._fill_timeline(message.evidence)
        self._fill_findings(message.evidence)
        draft = message.draft
        # the drafts quote players and authors: the view shows control characters, never acts on them
        self.query_one("#postmortem-md", MarkdownView).update(draft.markdown or f"*{draft.problem}*")
        self.query_one("#breach-md", MarkdownView).update(
            draft.breach or (f"*{draft.problem}*" if draft.problem else "*The draft has no breach record.*")
        )

    def _fill_scorecard(self, evidence: Evidence) -> None:
        card = evidence.card
        ratings = card.get("ratings") or {}
        text = Text()
        for area, ratio in (card.get("areas") or {}).items():
            letter = ratings.get(area, "")
            text.append(f"{one_line(fmt.area_label(area))} ", style="bold")
            text.append(f"{fmt.score_text(ratio)} {letter}   ", style=_rating_style(letter))
        caps = Text()
        for cap in card.get("caps") or ():
            caps.append(f"Capped: {one_line(cap.get('text', ''))}\n", style="yellow")
        caps.rstrip()
        self.query_one("#caps", Static).update(caps)
        self.query_one("#caps").set_class(not caps, "-empty")
        if card.get("solo_role"):
            text.append(
                "\nSolo: 'team' rows are the simulated teammates' own work, never scored.",
                style="dim",
            )
        self.query_one("#areas", Static).update(text)
        bands = f"HSEEP ratings: {one_line(card['rating_bands'])}" if card.get("rating_bands") else ""
        self.query_one("#bands", Static).update(Text(bands, style="dim"))
        rows = list(card.get("expectations") or ())
        self.expectation_rows = rows
        cells: list[dict[str, Any]] = []
        for row in rows:
            owner = row.get("owner") or ""
            cells.append(
                {
                    "status": result_cell(row),
                    "credit": credit_cell(row),
                    "expectation": str(row.get("title") or row.get("action") or row.get("id") or ""),
                    "due": _offset(row.get("deadline")),
                    "done": _offset(row.get("done_at")),
                    "owner": owner + (" (team)" if row.get("scope") == "teammates" else ""),
                    "flags": ", ".join(str(f).replace("_", " ") for f in row.get("flags") or ()),
                    "area": fmt.area_label(row.get("area") or ""),
                    "by": row.get("by") or "",
                }
            )
        table = self.query_one("#expectations", ScorecardTable)
        table.set_rows(cells)
        if self.query_one(TabbedContent).active == "scorecard":
            table.focus()  # up and down pick the row to explain, enter shows it
        self._explain(0)

    def _explain(self, index: int | None) -> None:
        rows = self.expectation_rows
        if index is None or not 0 <= index < len(rows):
            return
        scenario = self.evidence.scenario if self.evidence is not None else None
        text = explain_result(rows[index], scenario)
        text.append(f"\nExpectation id: {one_line(rows[index].get('id'))}", style="dim")
        self.query_one("#expectation-why", Static).update(text)
        self.query_one("#expectation-why-panel", VerticalScroll).scroll_home(animate=False)

    @on(DataTable.RowHighlighted, "#expectations")
    def _row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        self._explain(message.cursor_row)

    @on(DataTable.RowSelected, "#expectations")
    def _toggle_explanation(self) -> None:
        self.explain_wanted = not self.explanation_shown()
        self._show_explanation()

    def explanation_shown(self) -> bool:
        """Whether the selected expectation's explanation is on screen (enter shows or hides it)."""
        if self.explain_wanted is not None:
            return self.explain_wanted
        return self.app.size.height >= EXPLAIN_FROM

    def _show_explanation(self) -> None:
        shown = self.explanation_shown()
        self.query_one("#expectation-why-panel").display = shown
        self.set_class(shown, "-explaining")  # a short terminal keeps the rows, not the areas

    def on_resize(self) -> None:
        self._show_explanation()

    def _fill_timeline(self, evidence: Evidence) -> None:
        table = self.query_one("#events", DataTable)
        table.clear()
        for event in evidence.events:
            who_text, what_text = _describe(event)
            who, what = _clip(who_text, 32), _clip(what_text, 160)
            table.add_row(
                _offset(event.get("t")),
                str(event.get("wall") or "")[:19].replace("T", " "),
                str(event.get("seq", "")),
                event.get("type", ""),
                who,
                what,
            )

    def _fill_findings(self, evidence: Evidence) -> None:
        card = evidence.card
        findings = self.query_one("#findings-table", DataTable)
        findings.clear()
        for row in card.get("findings") or ():
            findings.add_row(
                row.get("id", ""),
                _offset(row.get("at")),
                str(row.get("penalty", "")),
                row.get("by_name") or row.get("role") or "",
                row.get("detail") or "",
            )
        clocks = self.query_one("#clocks", DataTable)
        clocks.clear()
        for row in card.get("clocks") or ():
            status = row.get("status") or ""
            clocks.add_row(
                row.get("title") or row.get("id", ""),
                row.get("regime") or "",
                Text(fmt.status_text(status), style=STATUS_STYLE.get(status, "")),
                _offset(row.get("deadline")),
                _offset(row.get("done_at")),
                row.get("rule") or "",
            )
        count = len(card.get("findings") or ())
        findings.display = bool(count)
        self.query_one("#findings-title", Static).update(
            Text(
                f"Findings ({count})" if count else "Findings: none (no avoid-rule was broken)", style="bold"
            )
        )
        clocks.display = bool(card.get("clocks"))
        self.query_one("#clocks-title", Static).update(
            Text(
                "Notification clocks" if card.get("clocks") else "Notification clocks: none in this scenario",
                style="bold",
            )
        )
        notes = list(card.get("warnings") or ())
        if self.entry.problem:
            notes.insert(0, f"Integrity: {self.entry.problem}")
        self.query_one("#warnings", Static).update(rich_text(one_line_each(notes)))

    # --- actions ----------------------------------------------------------------------------
    def action_tab(self, tab: str) -> None:
        tabbed = self.query_one(TabbedContent)
        tabbed.active = tab
        # focus follows the tab: a focused widget left in a hidden pane would bring its pane back
        if tab == "scorecard":
            self.query_one("#expectations").focus()
        else:
            tabbed.query_one(Tabs).focus()

    def action_export(self) -> None:
        if self.evidence is None or self.draft is None or self.draft.postmortem is None:
            self.notify("There is no post-mortem draft to export for this transcript.", severity="warning")
            return
        self.export()

    @work(thread=True, exclusive=True, group="export")
    def export(self) -> None:
        from tabletop.files import is_draft_of, write_private
        from tabletop.report import render_report
        from tabletop.report.formats import mark_draft

        written: list[Path] = []
        draft = self.draft
        try:
            if draft is None or draft.postmortem is None:
                raise ValueError("there is no post-mortem draft to export")
            generated_at = cast(ReviewerApp, self.app).now()
            for kind, path in export_paths(self.transcript_path).items():
                text = (
                    draft.markdown
                    if kind == "md" and draft.markdown
                    else render_report(draft.postmortem, kind, generated_at)
                )
                events = self.evidence.events if self.evidence is not None else []
                draft_id = str(events[0].get("hash") if events else path.stem)

                def own_draft(existing: Path, draft_id: str = draft_id) -> bool:
                    return is_draft_of(existing, draft_id)

                written.append(write_private(path, mark_draft(text, kind, draft_id), may_replace=own_draft))
        except Exception as error:
            self.post_message(self.Exported(written, f"{type(error).__name__}: {error}"))
            return
        self.post_message(self.Exported(written))

    def on_transcript_screen_exported(self, message: Exported) -> None:
        if message.error:
            self.notify(
                f"Export failed: {safe(message.error)}", title="Export", severity="error", markup=False
            )
        else:
            self.notify("Wrote " + " and ".join(p.name for p in message.paths), title="Export", markup=False)

    def review_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Export post-mortem",
            "Write the draft as Markdown and HTML next to the transcript",
            self.action_export,
        )
        for tab, title in (
            ("scorecard", "Scorecard"),
            ("timeline", "Timeline"),
            ("findings", "Findings"),
            ("breach", "Breach record"),
            ("postmortem", "Post-mortem draft"),
        ):
            yield SystemCommand(f"Show {title}", f"Switch to the {title} tab", partial(self.action_tab, tab))


def _clip(text: str, width: int) -> Text:
    """One line of at most `width` cells (never markup: players typed it)."""
    text = one_line(" ".join(text.split()))
    return Text(text if len(text) <= width else text[: width - 1] + "…")


def _rating_style(letter: str) -> str:
    return {"P": "green", "S": "yellow", "M": "dark_orange", "U": "bold red"}.get(letter, "")


def _offset(seconds: Any) -> str:
    if seconds is None or seconds == "":
        return "—"
    try:
        return format_offset(float(seconds))
    except (TypeError, ValueError):
        return str(seconds)


def _describe(event: dict[str, Any]) -> tuple[str, str]:
    """Who and what, for one timeline row."""
    kind = event.get("type")
    if kind == "session_started":
        people = ", ".join(f"{p.get('name')} ({p.get('role')})" for p in event.get("participants") or ())
        return "", f"{event.get('scenario_id')} · {event.get('mode')} · {people}"
    if kind == "inject_released":
        return str(
            event.get("from") or ""
        ), f"[{event.get('channel')}] {event.get('title') or event.get('inject')}"
    if kind == "decision":
        who = f"{event.get('by') or ''} ({event.get('role')})"
        fields = event.get("fields") or {}
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        rationale = f" — {event.get('rationale')}" if event.get("rationale") else ""
        return who, f"{event.get('action')} {extra}".strip() + rationale
    if kind == "delegation":
        return (
            f"{event.get('by') or ''} ({event.get('role')})",
            f"delegates {event.get('action')} to {event.get('to_role')}",
        )
    if kind == "note":
        return f"{event.get('by') or ''} ({event.get('role')})", str(event.get("text") or "")
    if kind == "marker_set":
        return "", f"marker {event.get('marker')} ({event.get('source')})"
    if kind == "clock":
        return "", f"{event.get('op')} (speed {event.get('speed')})"
    if kind == "facilitator":
        return "facilitator", f"{event.get('op')} {event.get('inject') or ''}".strip()
    if kind == "session_ended":
        return "", f"ended: {event.get('reason')}"
    if kind == "hotwash_answer":  # by role, as the draft quotes it: the hot wash is blameless
        return f"({event.get('role')})", f"hot wash: {event.get('question')} — {event.get('text')}"
    if kind == "hotwash_closed":
        return "", f"hot wash closed: {event.get('reason')}"
    return "", ""
