"""The review console's programme view: rehearsals per team and kind, follow-ups, risks and the stage, in tabs."""

from __future__ import annotations

import gc
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from tabletop.review import formatting as fmt
from tabletop.ui.review.cells import PlainTable
from tabletop.untrusted import rich_text

if TYPE_CHECKING:
    from tabletop.programme.status import ProgrammeStatus

TABS = (
    ("rehearsals", "Rehearsals"),
    ("followups", "Follow-ups"),
    ("risks", "Risks"),
    ("stage", "Stage"),
    ("excluded", "Not counted"),
)
RATING_STYLE = {"P": "green", "S": "yellow", "M": "dark_orange", "U": "bold red"}
MAX_FOLLOWUP_ROWS = 500
"""The follow-ups table lists at most this many (open ones oldest first, then the latest closed);
`tabletop followups list --all` lists every one."""


def _right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


class ProgrammeScreen(Screen):
    """Where the rehearsal programme of the folder stands on the review console's day."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("1", "tab('rehearsals')", "Rehearsals"),
        Binding("2", "tab('followups')", "Follow-ups"),
        Binding("3", "tab('risks')", "Risks"),
        Binding("4", "tab('stage')", "Stage"),
        Binding("5", "tab('excluded')", "Not counted"),
        Binding("f5", "reload", "Reload"),
        Binding("q", "app.quit", "Quit"),
    ]

    class Loaded(Message):
        """The programme's standing was computed (or could not be: `error` says why)."""

        def __init__(self, status: ProgrammeStatus | None, error: str = "") -> None:
            self.status = status
            self.error = error
            super().__init__()

    def __init__(
        self,
        folder: Path,
        as_of: date,
        *,
        programme_file: Path | None = None,
        trusted: Path | None = None,
    ) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.as_of = as_of
        self.programme_file = programme_file
        self.trusted = trusted
        self.status: ProgrammeStatus | None = None
        self.filled: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Reading the programme…", id="programme-headline")
        with TabbedContent(initial="rehearsals", id="programme-tabs"):
            with TabPane("Rehearsals", id="rehearsals"):
                yield PlainTable(id="programme-schedule", cursor_type="row", zebra_stripes=True)
            with TabPane("Follow-ups", id="followups"):
                yield Static("", id="followups-summary", classes="section-title")
                yield PlainTable(id="programme-followups", cursor_type="row", zebra_stripes=True)
            with TabPane("Risks", id="risks"):
                yield Static("", id="risks-summary", classes="section-title")
                yield PlainTable(id="programme-risks", cursor_type="row", zebra_stripes=True)
            with TabPane("Stage", id="stage"):
                yield Static("", id="programme-stage")
            with TabPane("Not counted", id="excluded"):
                yield PlainTable(id="programme-excluded", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#programme-schedule", DataTable).add_columns(
            "Team", "Kind", "Every", "Runs", "Last run", "Score", "Rating", "Change", "Next due", "Standing"
        )
        self.query_one("#programme-followups", DataTable).add_columns(
            "Id", "Team", "Owner", "Age", "Due", "Standing", "Action"
        )
        self.query_one("#programme-risks", DataTable).add_columns(
            "Team", "Risk", "Inherent", "Residual", "Treatment", "Owner", "Review by", "Company register"
        )
        self.query_one("#programme-excluded", DataTable).add_columns("Transcript", "Why it does not count")
        self.load()

    # --- reading, in a worker thread ------------------------------------------------------------
    @work(thread=True, exclusive=True, group="programme")
    def load(self) -> None:
        from tabletop.programme.folder import ProgrammeError, gc_paused, read_folder

        try:
            with gc_paused():
                data = read_folder(
                    self.folder,
                    programme_file=self.programme_file,
                    trusted=self.trusted,
                    workers=getattr(self.app, "score_workers", None),
                )
                status = data.status(self.as_of)
                # the standing of 10,000 rehearsals is some million long-lived objects: kept out
                # of the collector's walks while this view holds them (see on_unmount)
                gc.freeze()
        except ProgrammeError as error:
            self.post_message(self.Loaded(None, "; ".join(error.problems)))
            return
        except Exception as error:  # the view never crashes on a bad folder
            self.post_message(self.Loaded(None, f"{type(error).__name__}: {error}"))
            return
        self.post_message(self.Loaded(status))

    def on_unmount(self) -> None:
        gc.unfreeze()

    def on_programme_screen_loaded(self, message: Loaded) -> None:
        headline = self.query_one("#programme-headline", Static)
        if message.status is None:
            headline.update(rich_text(f"Cannot read the programme: {message.error}", "bold red"))
            return
        self.status = message.status
        self._show(message.status)

    # --- showing --------------------------------------------------------------------------------
    def _show(self, status: ProgrammeStatus) -> None:
        supported = status.supported
        following = status.next_stage
        line = Text.assemble(
            ("As of ", "bold"),
            str(status.as_of),
            ("  stage: ", "bold"),
            rich_text(status.declared.stage.name),
            (
                " (met)" if status.declared.met else " (not met)",
                "green" if status.declared.met else "bold red",
            ),
            ("  evidence supports: ", "bold"),
            rich_text(supported.stage.name) if supported else Text("no stage yet", style="bold red"),
            ("  next: ", "bold"),
            rich_text(following.stage.name) if following else Text("—"),
            ("  coverage ", "bold"),
            f"{status.coverage:.0%}",
            ("  ", ""),
            (f"{len(status.counted)} rehearsals counted, {len(status.excluded)} not", "dim"),
        )
        self.query_one("#programme-headline", Static).update(line)
        # each tab is filled when first shown: the first frame waits only for the one in view
        self.filled = set()
        self._fill(self.query_one("#programme-tabs", TabbedContent).active)

    def _fill(self, tab: str) -> None:
        status = self.status
        if status is None or tab in self.filled:
            return
        self.filled.add(tab)
        {
            "rehearsals": self._schedule,
            "followups": self._followups,
            "risks": self._risks,
            "stage": self._stage,
            "excluded": self._excluded,
        }[tab](status)

    @on(TabbedContent.TabActivated, "#programme-tabs")
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        self._fill(str(event.pane.id))

    def _excluded(self, status: ProgrammeStatus) -> None:
        excluded = self.query_one("#programme-excluded", DataTable)
        excluded.clear()
        for run, reason in status.excluded[:MAX_FOLLOWUP_ROWS]:
            excluded.add_row(run.path, reason)
        if len(status.excluded) > MAX_FOLLOWUP_ROWS:
            excluded.add_row(
                f"… and {len(status.excluded) - MAX_FOLLOWUP_ROWS} more",
                "tabletop programme --json lists them all",
            )

    def _schedule(self, status: ProgrammeStatus) -> None:
        table = self.query_one("#programme-schedule", DataTable)
        table.clear()
        for item in status.schedule:
            last = item.last
            if last is None:
                standing = Text("never run", style="bold red")
            elif item.overdue:
                standing = Text(f"OVERDUE {item.days_overdue}d", style="bold red")
            else:
                standing = Text("current", style="green")
            change = (
                _right(
                    fmt.delta_text(item.change),
                    "green" if item.change > 0 else ("red" if item.change < 0 else "dim"),
                )
                if item.change is not None
                else _right("n/c" if item.compared else "", "dim")
            )
            table.add_row(
                item.team,
                item.kind,
                item.every,
                _right(str(item.runs)),
                str(last.day) if last else "—",
                _right(fmt.score_text(last.score) if last else "—"),
                Text(last.rating if last else "", style=RATING_STYLE.get(last.rating if last else "", "dim")),
                change,
                str(item.next_due or "—"),
                standing,
            )

    def _followups(self, status: ProgrammeStatus) -> None:
        ages = ", ".join(f"{label} {count}" for label, count in status.open_by_age())
        owners = (
            ", ".join(f"{owner} {len(items)}" for owner, items in status.open_by_owner().items()) or "none"
        )
        closed_items = sorted(
            (f for f in status.followups if not f.open),
            key=lambda f: (f.closed or f.raised, f.id),
            reverse=True,
        )
        shown = [*status.open_followups, *closed_items][:MAX_FOLLOWUP_ROWS]
        listed = (
            f" The first {len(shown)} are listed; tabletop followups list --all lists them all."
            if len(shown) < len(status.followups)
            else ""
        )
        self.query_one("#followups-summary", Static).update(
            rich_text(
                f"{len(status.open_followups)} open, {len(closed_items)} closed. Open by age: {ages}. "
                f"By owner: {owners}.{listed}",
                newlines=False,
            )
        )
        table = self.query_one("#programme-followups", DataTable)
        table.clear()
        for followup in shown:
            standing = Text(*followup.standing)
            table.add_row(
                followup.id,
                followup.team,
                followup.owner_role,
                _right(f"{followup.age}d"),
                str(followup.due),
                standing,
                followup.text,
            )

    def _risks(self, status: ProgrammeStatus) -> None:
        self.query_one("#risks-summary", Static).update(
            Text(
                f"{len(status.risks)} risks; {len(status.material)} for the company register; "
                f"{len(status.past_review)} accepted and past their review date.",
                style="bold red" if status.past_review else "",
            )
        )
        table = self.query_one("#programme-risks", DataTable)
        table.clear()
        for risk in status.risks:
            review = Text(str(risk.review_date or "—"), style="bold red" if risk.past_review else "")
            table.add_row(
                risk.team,
                risk.title,
                risk.inherent,
                risk.residual,
                risk.treatment,
                risk.owner,
                review,
                Text(
                    f"yes: {risk.material_why}" if risk.material else "no",
                    style="bold" if risk.material else "dim",
                ),
            )

    def _stage(self, status: ProgrammeStatus) -> None:
        text = Text()
        for result in status.stages:
            mark = ("✓ ", "green") if result.met else ("✗ ", "bold red")
            text.append(mark[0], style=mark[1])
            text.append_text(rich_text(result.stage.name, "bold", newlines=False))
            if result.stage.id == status.programme.stage:
                text.append("  (the company's stage)", style="dim")
            text.append("\n")
            for missing in result.missing:
                text.append("    missing: ", style="dim")
                text.append_text(rich_text(missing, newlines=False))
                text.append("\n")
        self.query_one("#programme-stage", Static).update(text)

    # --- actions -------------------------------------------------------------------------------
    def action_tab(self, tab: str) -> None:
        self.query_one("#programme-tabs", TabbedContent).active = tab

    def action_reload(self) -> None:
        self.query_one("#programme-headline", Static).update("Reading the programme…")
        self.load()

    def action_back(self) -> None:
        """Back to the list of transcripts: the screen below, or (when the console opened on
        this view) the list opened above it; `p` there comes back here."""
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
            return
        from tabletop.ui.review.listing import ReviewScreen

        self.app.push_screen(ReviewScreen())


def programme_screen(app: Any) -> ProgrammeScreen:
    """The programme view for a review app (its folder, day and programme options)."""
    review = cast(Any, app)
    return ProgrammeScreen(
        review.index.folder,
        review.now().date(),
        programme_file=getattr(review, "programme_file", None),
        trusted=getattr(review, "trusted", None),
    )
