"""The facilitator's console: MSEL, clock controls, live score, participants, decisions, questions."""

from __future__ import annotations

from typing import Any, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, TabbedContent, TabPane

from tabletop.model import Scenario
from tabletop.port import SessionPort
from tabletop.timing import format_offset
from tabletop.ui.apps import ConsoleApp
from tabletop.ui.screens.dialogs import (
    ActionPalette,
    AdhocInject,
    AdhocInjectDialog,
    ConfirmDialog,
    DecisionDraft,
    DecisionForm,
    NoteDialog,
)
from tabletop.ui.screens.exercise import SPEED, ExerciseScreen
from tabletop.ui.settling import Debounce, WorkDone
from tabletop.ui.widgets.clock_bar import ClockBar
from tabletop.ui.widgets.decisions import DecisionLog
from tabletop.ui.widgets.join_panel import JoinDetails, JoinPanel
from tabletop.ui.widgets.msel import MselTable
from tabletop.ui.widgets.participants import Participants, PhaseQuestions
from tabletop.ui.widgets.scorecard import LiveScorecard
from tabletop.untrusted import one_line, safe

MSEL_CHANGES = ("session_started", "inject_released", "decision", "marker_set", "facilitator", "clock")


class FacilitatorScreen(ExerciseScreen):
    """Runs the exercise: reusable by the network host, it only needs a session link."""

    CSS_PATH = ["exercise.tcss", "facilitator.tcss"]

    BINDINGS = [
        Binding("space", "toggle_pause", "Pause", tooltip="Pause or resume the exercise clock"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+", group=SPEED),
        Binding("minus", "slower", "Slower", key_display="-", group=SPEED),
        Binding("t", "trigger_now", "Trigger", tooltip="Release the selected inject now"),
        Binding("k", "skip", "Skip", tooltip="Never release the selected inject"),
        Binding("i", "adhoc", "Ad-hoc", tooltip="Write an inject and release it now"),
        # the rarer controls stay off the footer so it fits 80 columns; ctrl+p lists them all
        Binding("d", "decide", "Decide", tooltip="Record a decision for a role", show=False),
        Binding("n", "note", "Note", show=False, tooltip="Your own note: recorded, never shown to players"),
        Binding("e", "end", "End"),
        Binding("v", "switch_view", "Player view", show=False),
        Binding(
            "c", "copy_join_link", "Copy join link", show=False, tooltip="Copy the browser players' link"
        ),
    ]

    MSEL_DELAY = 0.2
    """Seconds to gather events before asking the session for the MSEL again."""

    class MselRefreshed(WorkDone):
        """The MSEL was read from the session again and is shown (or said to be unavailable)."""

        job = "msel"

    def __init__(
        self,
        link: SessionPort,
        scenario: Scenario,
        *,
        name: str = "Facilitator",
        roles: list[str] | None = None,
        can_switch: bool = False,
        join: JoinDetails | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(link, scenario, **kwargs)
        self.join = join
        self.facilitator = name
        self.record_roles = list(roles or scenario.roles)
        """Roles the facilitator may record decisions and notes for (those people play here)."""
        self.can_switch = can_switch
        self._msel = Debounce(self, self.MSEL_DELAY, self.refresh_msel, "msel")

    def compose(self) -> ComposeResult:
        yield ClockBar(self.link, self.scenario, who=f"Facilitator · {self.facilitator}", id="clock")
        with Horizontal(id="facilitator-body"):
            with Vertical(id="facilitator-main"):
                yield MselTable(self.scenario, id="msel")
                yield DecisionLog(self.scenario, id="decision-log")
            with TabbedContent(id="facilitator-side"):
                with TabPane("Score", id="tab-score"), VerticalScroll():
                    yield LiveScorecard(self.scenario, id="live-score")
                with TabPane("Room", id="tab-room"), VerticalScroll():
                    yield Participants(self.scenario, id="participants")
                with TabPane("Discussion", id="tab-questions"), VerticalScroll():
                    yield PhaseQuestions(self.scenario, id="questions")
                if self.join is not None:
                    with TabPane("Join", id="tab-join"), VerticalScroll():
                        yield JoinPanel(self.join, id="join")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(MselTable).focus()
        self.refresh_msel()
        self.rescore()
        self.set_interval(5.0, self.rescore)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_join_link":
            return self.join is not None
        return True  # v without a player's view says why (action_switch_view)

    def apply_events(self, events: list[dict[str, Any]], replay: bool) -> None:
        self.query_one(DecisionLog).add(*events)
        self.query_one(Participants).add(*events)
        phases = [e.get("phase") for e in events if e.get("type") == "inject_released" and e.get("phase")]
        if phases:
            self.query_one(ClockBar).set_phase(phases[-1])
            self.query_one(PhaseQuestions).set_phase(phases[-1])
        if any(e.get("type") == "session_ended" for e in events):
            self.query_one(ClockBar).ended = True
        if not replay:
            if any(e.get("type") in MSEL_CHANGES for e in events):
                self.request_msel()
            self.request_rescore()

    def request_msel(self) -> None:
        """Refresh the MSEL once per burst of events."""
        self._msel.request()

    @work(group="msel", exclusive=True)
    async def refresh_msel(self) -> None:
        try:
            rows = await self.link.upcoming()
        except Exception as error:
            self.notify(f"MSEL unavailable: {safe(error)}", severity="warning", markup=False)
        else:
            self.query_one(MselTable).show(rows)
        self.post_message(self.MselRefreshed())

    def show_score(self, card: dict[str, Any], now: float) -> None:
        super().show_score(card, now)
        self.query_one(LiveScorecard).show(card, now)

    # actions ----------------------------------------------------------------------------------
    def _selected_inject(self) -> str | None:
        inject = self.query_one(MselTable).selected_inject()
        if inject is None:
            self.notify("Choose an inject in the MSEL first.", severity="warning")
        return inject

    def _selected_unreleased(self, verb: str) -> tuple[str, str] | None:
        """The selected inject's id and title, when it is still to come; else say why not."""
        table = self.query_one(MselTable)
        row = table.selected_row()
        inject = self._selected_inject()
        if row is None or inject is None:
            return None
        title = table.title_of(row)
        if not table.unreleased(row):
            due = table.due_of(inject)
            if table.status_of(row) == "released":
                state = "was already released" + (f" at {format_offset(due)}" if due is not None else "")
            else:
                state = f"is {table.status_of(row)}"
            self.notify(
                f"“{one_line(title)}” {state}: only an inject still to come can be {verb}.", timeout=6
            )
            return None
        return inject, title

    def action_trigger_now(self) -> None:
        chosen = self._selected_unreleased("released now")
        if chosen is not None:
            self.trigger(chosen[0])

    @work(group="control")
    async def trigger(self, inject: str) -> None:
        """Release the inject now; once it is out, the MSEL cursor moves on to the next to come."""
        if await self.call("trigger_now", inject) is not None:
            self.query_one(MselTable).advance_from = inject
            self.request_msel()

    def action_skip(self) -> None:
        chosen = self._selected_unreleased("skipped")
        if chosen is None:
            return
        inject, title = chosen
        due = self.query_one(MselTable).due_of(inject)
        when = f" (due {format_offset(due)})" if due is not None else ""

        def answered(yes: bool | None) -> None:
            if yes:
                self.send("skip", inject)

        self.app.push_screen(
            ConfirmDialog(f"Skip “{one_line(title)}”{when}? It will not be released.", yes="Skip"), answered
        )

    def action_adhoc(self) -> None:
        def written(inject: AdhocInject | None) -> None:
            if inject is not None:
                self.send("add_inject", inject.title, inject.body, inject.channel, inject.to, inject.from_)

        self.app.push_screen(AdhocInjectDialog(list(self.scenario.roles)), written)

    def action_decide(self) -> None:
        self.app.push_screen(ActionPalette(list(self.scenario.actions)), self._action_chosen)

    def _action_chosen(self, action_id: str | None) -> None:
        if not action_id:
            return
        action = self.scenario.action(action_id)
        roles = self.record_roles
        default = action.default_owner if action.default_owner in roles else roles[0]
        injects = [e for e in self.link.events if e.get("type") == "inject_released"]
        form = DecisionForm(action, default, roles=roles, injects=injects, choose_role=True)
        self.app.push_screen(form, self._record)

    def _record(self, draft: DecisionDraft | None) -> None:
        if draft is None:
            return
        self.send(
            "decide",
            draft.role,
            draft.action,
            by=self.facilitator,
            fields=draft.fields,
            rationale=draft.rationale,
            inject=draft.inject,
            delegate_to=draft.delegate_to,
            timebox=draft.timebox,
        )

    def action_note(self) -> None:
        """The facilitator's own note: recorded for the debrief, never sent to a player."""

        def saved(text: str | None) -> None:
            if text:
                self.send("facilitator_note", text, by=self.facilitator)

        self.app.push_screen(NoteDialog(classes="dialog"), saved)

    def action_copy_join_link(self) -> None:
        if self.join is not None:
            self.app.copy_to_clipboard(self.join.link)
            self.notify("The browser players' link is on the clipboard.", title="Copied")

    def action_switch_view(self) -> None:
        if self.can_switch:
            cast(ConsoleApp, self.app).switch_view()
        else:
            self.notify(
                "There is no player's screen here: v switches views in solo practice "
                "(tabletop run SCENARIO --solo --facilitate). In a team rehearsal each player "
                "has their own console.",
                title="No player's view",
                timeout=8,
            )
