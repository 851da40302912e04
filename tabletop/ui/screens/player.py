"""The player's screen: clock, inject feed, the selected inject, decisions, notes and hints."""

from __future__ import annotations

from typing import Any, cast

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from tabletop.model import Scenario
from tabletop.port import SessionPort
from tabletop.timing import format_duration
from tabletop.ui.apps import ConsoleApp
from tabletop.ui.screens.dialogs import ActionPalette, DecisionDraft, DecisionForm, NoteDialog, TaskPicker
from tabletop.ui.screens.exercise import SPEED, ExerciseScreen
from tabletop.ui.texts import action_title
from tabletop.ui.widgets.clock_bar import ClockBar
from tabletop.ui.widgets.decisions import DecisionList
from tabletop.ui.widgets.inject_feed import InjectFeed, InjectView
from tabletop.ui.widgets.scorecard import DeadlineHints
from tabletop.untrusted import one_line, safe

THREE_COLUMNS_AT = 170
"""From this terminal width (the console's "-wide" breakpoint) the feed, the inject and
"My decisions" with the hints each get their own column; narrower, feed and decisions share one."""


def _get(item: Any, name: str, default: Any = None) -> Any:
    return item.get(name, default) if isinstance(item, dict) else getattr(item, name, default)


class PlayerScreen(ExerciseScreen):
    """One role's console. `controls` lets a solo player pause, change speed and end."""

    CSS_PATH = ["exercise.tcss", "player.tcss"]

    BINDINGS = [
        Binding("a", "decide", "Decide"),
        Binding("n", "note", "Note"),
        Binding("f", "filter", "Channel"),
        Binding("t", "tasks", "Tasks"),
        Binding("space", "pause_clock", "Pause", tooltip="Pause the exercise clock"),
        Binding("space", "resume_clock", "Resume", tooltip="Resume the exercise clock"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+", group=SPEED),
        Binding("minus", "slower", "Slower", key_display="-", group=SPEED),
        Binding("e", "end", "End"),
        Binding("v", "switch_view", "Facilitator", show=True),
        Binding("v", "explain_switch", "", show=False),
        # with --hints: the hints panel's own d and enter act on the hint it has selected
        Binding("d", "delegate_hint", "Delegate", show=False, tooltip="Delegate the selected open deadline"),
    ]

    def __init__(
        self,
        link: SessionPort,
        scenario: Scenario,
        *,
        role: str,
        name: str,
        hints: bool = False,
        controls: bool = True,
        see_all: bool = False,
        can_switch: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(link, scenario, **kwargs)
        self.role = role
        self.player = name
        self.hints = hints
        self.controls = controls
        self.see_all = see_all
        self.can_switch = can_switch
        self.selected: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        who = f"{self.scenario.role_title(self.role)} · {self.player}"
        three = self.app.size.width >= THREE_COLUMNS_AT
        self.set_class(three, "-three-columns")
        bar = ClockBar(self.link, self.scenario, who=who, id="clock")
        bar.resume_key = "space" if self.controls else None
        yield bar
        with Horizontal(id="player-body"):
            with Vertical(id="player-left"):
                yield InjectFeed(id="feed")
                if not three:
                    yield self._decision_list()
            with Vertical(id="player-right"):
                yield InjectView(self.scenario, id="inject-view")
                if not three and self.hints:
                    yield self._deadline_hints()
            with Vertical(id="player-side"):
                if three:
                    yield self._decision_list()
                    if self.hints:
                        yield self._deadline_hints()
        yield Footer(compact=True)

    def _decision_list(self) -> DecisionList:
        return DecisionList(self.scenario, self.role, id="decisions")

    def _deadline_hints(self) -> DeadlineHints:
        return DeadlineHints(self.scenario, self.role, self.link, id="hints")

    def on_mount(self) -> None:
        self.query_one("#feed-list").focus()

    async def on_resize(self, event: events.Resize) -> None:
        await self.arrange_columns(event.size.width >= THREE_COLUMNS_AT)

    async def on_screen_resume(self) -> None:
        # a resize while a dialog covered this screen reached only the dialog
        await self.arrange_columns(self.app.size.width >= THREE_COLUMNS_AT)

    async def arrange_columns(self, three: bool) -> None:
        """Move "My decisions" (and the hints) to a third column on a wide terminal, or back.

        Textual cannot move a widget to another parent, so both are replaced by new widgets
        that take over what the old ones show (entries, highlight, hint rows and focus).
        """
        if three == self.has_class("-three-columns"):
            return
        old = self.query_one(DecisionList)
        old_hints = self.query(DeadlineHints).first() if self.hints else None
        focused = old.has_focus
        decisions = self._decision_list()
        hints = self._deadline_hints() if self.hints else None
        if hints is not None and old_hints is not None:
            hints.rows = list(old_hints.rows)
            hints.selected_id = old_hints.selected_id
        await old.remove()
        if old_hints is not None:
            await old_hints.remove()
        self.set_class(three, "-three-columns")
        if three:
            await self.query_one("#player-side").mount(decisions, *([hints] if hints else []))
        else:
            await self.query_one("#player-left").mount(decisions)
            if hints is not None:
                await self.query_one("#player-right").mount(hints)
        decisions.take_over(old)
        if hints is not None:
            hints.redraw()
        if focused:
            decisions.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause_clock":  # space pauses a running clock and resumes a paused one
            return self.controls and not self.link.paused
        if action == "resume_clock":
            return self.controls and self.link.paused
        if action in ("toggle_pause", "faster", "slower", "end"):
            return self.controls
        if action == "tasks":  # in solo practice nobody hands the player a task
            return not self.controls
        if action == "switch_view":
            return self.can_switch
        if action == "explain_switch":  # v without a facilitator console says why
            return not self.can_switch
        if action == "delegate_hint":
            return self.hints
        return True

    # events -----------------------------------------------------------------------------------
    def addressed_to_me(self, event: dict[str, Any]) -> bool:
        to = event.get("to") or ["all"]
        return self.see_all or "all" in to or self.role in to

    def apply_events(self, events: list[dict[str, Any]], replay: bool) -> None:
        injects = [e for e in events if e.get("type") == "inject_released" and self.addressed_to_me(e)]
        if injects:
            self.query_one(InjectFeed).add(*injects, unread=not replay)
            phased = [e for e in injects if e.get("phase")]
            if phased:
                self.query_one(ClockBar).set_phase(phased[-1]["phase"], phased[-1].get("phase_title"))
            if not replay:
                latest = injects[-1]
                self.toast(  # never markup (see ExerciseScreen.toast)
                    one_line(latest.get("title") or latest.get("inject", "")),
                    title=f"New {one_line(latest.get('channel', 'inject'))}",
                    timeout=4,
                )
        self.query_one(DecisionList).add(*events)
        clock_events = [e for e in events if e.get("type") == "clock"]
        if clock_events:
            last = clock_events[-1]
            self.query_one(ClockBar).note_clock(last)
            self.refresh_bindings()  # space: Pause or Resume
            if last.get("op") == "pause" and last.get("reason") == "auto" and self.link.paused:
                inject = next(
                    (
                        e
                        for e in reversed(self.link.events)
                        if e.get("type") == "inject_released" and e.get("inject") == last.get("inject")
                    ),
                    {},
                )
                title = inject.get("title") or inject.get("inject") or "The new inject"
                self.notify(
                    f"“{title}” expects your action, so the clock is paused. Read it, decide (a) "
                    "or delegate, then press space to let time run again.",
                    title="Your move",
                    timeout=10,
                )
        for event in events:
            kind = event.get("type")
            if replay:
                continue
            if kind == "decision" and (
                event.get("role") == self.role or event.get("delegated_by") == self.role
            ):
                title = action_title(self.scenario, event.get("action", ""))
                if event.get("role") == self.role:
                    self.notify(f"Recorded: {title}", timeout=3, markup=False)
                else:
                    self.notify(
                        f"{one_line(event.get('role'))} did it: {title}",
                        title="Delegated task done",
                        timeout=4,
                        markup=False,
                    )
            elif kind == "delegation" and event.get("to_role") == self.role:
                self.notify(
                    f"{one_line(event.get('role'))} asks you to: "
                    f"{action_title(self.scenario, event.get('action', ''))} (t)",
                    title="New task",
                    timeout=6,
                    markup=False,
                )
            elif kind == "session_ended":
                self.query_one(ClockBar).ended = True
        if self.hints and any(e.get("type") != "clock" for e in events):
            self.request_rescore()

    def show_score(self, card: dict[str, Any], now: float) -> None:
        super().show_score(card, now)
        if self.hints:
            self.query_one(DeadlineHints).show(card)

    @on(InjectFeed.Highlighted, "#feed")
    def _inject_highlighted(self, message: InjectFeed.Highlighted) -> None:
        self.selected = message.event
        self.query_one(InjectView).show(message.event)

    # actions ----------------------------------------------------------------------------------
    def action_pause_clock(self) -> None:
        self.send("pause")

    def action_resume_clock(self) -> None:
        self.send("resume")

    def action_filter(self) -> None:
        self.query_one(InjectFeed).cycle_channel()

    def action_decide(self) -> None:
        self.app.push_screen(ActionPalette(list(self.scenario.actions), self.role), self._action_chosen)

    def _action_chosen(self, action_id: str | None) -> None:
        if action_id:
            self.open_form(action_id)

    def open_form(
        self, action_id: str, *, delegate_to: str | None = None, timebox: int | None = None
    ) -> None:
        """The decision form for an action, optionally delegated to a role with a time-box."""
        form = DecisionForm(
            self.scenario.action(action_id),
            self.role,
            roles=list(self.scenario.roles),
            injects=self.query_one(InjectFeed).injects,
            inject=self.selected.get("inject") if self.selected else None,
            delegate_to=delegate_to,
            timebox=timebox,
        )
        self.app.push_screen(form, self.record)

    def action_delegate_hint(self) -> None:
        """d anywhere on the screen: delegate the hint the hints panel has selected."""
        if self.hints:
            self.query_one(DeadlineHints).action_choose(True)

    @on(DeadlineHints.Chosen)
    def _hint_chosen(self, message: DeadlineHints.Chosen) -> None:
        """A hint's d (delegate to its owner, time-boxed to the time left) or enter (do it myself)."""
        chosen = message.chosen
        try:
            self.scenario.action(chosen.action)
        except KeyError:
            self.notify(f"{one_line(chosen.action)} is not in this scenario's catalog.", severity="warning")
            return
        self.open_form(chosen.action, delegate_to=chosen.delegate_to, timebox=chosen.timebox)

    def record(self, draft: DecisionDraft | None) -> None:
        """Send a decision to the engine; it is listed once the engine has recorded it."""
        if draft is None:
            return
        if draft.delegation:
            self.send(
                "complete_task",
                draft.delegation,
                by=self.player,
                fields=draft.fields,
                rationale=draft.rationale,
            )
            return
        self.send(
            "decide",
            draft.role,
            draft.action,
            by=self.player,
            fields=draft.fields,
            rationale=draft.rationale,
            inject=draft.inject,
            delegate_to=draft.delegate_to,
            timebox=draft.timebox,
        )

    def action_note(self) -> None:
        def saved(text: str | None) -> None:
            if text:
                inject = self.selected.get("inject") if self.selected else None
                self.send("note", self.role, text, by=self.player, inject=inject)

        self.app.push_screen(NoteDialog(classes="dialog"), saved)

    async def action_tasks(self) -> None:
        try:
            tasks = await self.link.pending_tasks(self.role)
        except Exception as error:
            self.notify(safe(error), severity="error", markup=False)
            return
        if not tasks:
            self.notify("No tasks are waiting for you.", timeout=3)
            return

        def describe(task: dict[str, Any]) -> str:
            text = f"{action_title(self.scenario, _get(task, 'action', ''))} — from {one_line(_get(task, 'role', '?'))}"
            if _get(task, "timebox"):
                text += f" (time-box {format_duration(_get(task, 'timebox'))})"
            return text

        def picked(task: dict[str, Any] | None) -> None:
            if task is None:
                return
            action = self.scenario.action(_get(task, "action"))
            form = DecisionForm(
                action,
                self.role,
                roles=list(self.scenario.roles),
                injects=self.query_one(InjectFeed).injects,
                inject=_get(task, "inject"),
                allow_delegate=False,
                delegation=_get(task, "id"),
                preset=_get(task, "fields") or {},
                brief=str(_get(task, "rationale") or ""),
            )
            self.app.push_screen(form, self.record)

        self.app.push_screen(TaskPicker(tasks, describe), picked)

    def action_switch_view(self) -> None:
        if self.can_switch:
            cast(ConsoleApp, self.app).switch_view()

    def action_explain_switch(self) -> None:
        if self.controls:
            why = (
                "v switches to the facilitator console when you start with --facilitate "
                "(tabletop run SCENARIO --solo --facilitate)."
            )
        else:
            why = "The facilitator console runs on the facilitator's machine; yours shows your role's view."
        self.notify(why, title="No facilitator console here", timeout=8)
