"""The hot wash: each player answers the scenario's questions after the end; the facilitator watches the answers arrive and closes it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from tabletop.model import MAX_HOTWASH_ANSWER, Scenario
from tabletop.port import SessionPort
from tabletop.ui.screens.dialogs import ConfirmDialog
from tabletop.ui.screens.exercise import ExerciseScreen
from tabletop.untrusted import one_line, rich_text, safe

ROOM = "Room"
"""The participant name of a role the people in the room play (as `tabletop.sessions` seats it)."""


def answers_count(count: int) -> str:
    """`1 answer`, `3 answers`."""
    return f"{count} answer" if count == 1 else f"{count} answers"


def _answered_mark(done: bool) -> str:
    return "✓" if done else "·"


class HotwashScreen(ExerciseScreen):
    """One player's hot wash: pick a question, write an answer, record it (ctrl+s).

    An answer shows as recorded only once the session has it signed on disk. `closes` lets
    this player close the hot wash (solo practice: nobody else will); in a team rehearsal the
    facilitator closes it and this screen then says so.
    """

    CSS_PATH = "hotwash.tcss"

    BINDINGS = [
        Binding("ctrl+s", "record", "Record answer", priority=True),
        Binding("ctrl+f", "done", "Done", priority=True, tooltip="Close the hot wash and open the debrief"),
        Binding("escape", "questions", "Questions", show=False),
    ]

    def __init__(
        self, link: SessionPort, scenario: Scenario, *, role: str, name: str, closes: bool = False
    ) -> None:
        super().__init__(link, scenario)
        self.role = role
        self.player = name
        self.closes = closes
        self.questions = list(link.hotwash_questions)
        self.recorded: dict[int, str] = {}
        """Question index -> this player's latest recorded answer."""
        self.drafts: dict[int, str] = {}
        """Question index -> text written and not recorded yet."""
        self.current = 0
        self.closed = False

    def compose(self) -> ComposeResult:
        with Vertical(id="hotwash"):
            yield Static(self._intro(), id="hotwash-intro")
            yield OptionList(id="hotwash-questions")
            yield TextArea(id="hotwash-text", soft_wrap=True, show_line_numbers=False)
            yield Static("", id="hotwash-status")
        yield Footer()

    def _intro(self) -> Text:
        text = Text()
        text.append("Hot wash · ", style="bold")
        text.append(one_line(self.scenario.title) + "\n", style="bold")
        text.append(
            "The rehearsal has ended: answer each question in a few words, from where you sat. "
            "The post-mortem draft quotes your answers under your role, never your name. "
        )
        if self.closes:
            text.append("ctrl+f closes the hot wash and opens the debrief.")
        else:
            text.append("Only the facilitator sees them; the facilitator closes the hot wash.")
        return text

    def on_mount(self) -> None:
        super().on_mount()
        self.show_questions()
        self.load(0)
        self.query_one("#hotwash-text", TextArea).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "done":
            return self.closes
        if action == "record":
            return not self.closed
        return True

    # what arrives -----------------------------------------------------------------------------
    def apply_events(self, events: list[dict[str, Any]], replay: bool) -> None:
        changed = False
        for event in events:
            kind = event.get("type")
            if kind == "hotwash_answer" and event.get("role") == self.role and event.get("by") == self.player:
                if event.get("question") in self.questions:
                    self.recorded[self.questions.index(event["question"])] = str(event.get("text") or "")
                    changed = True
            elif kind == "hotwash_closed":
                self.close_here()
        if changed:
            self.show_questions()

    def close_here(self) -> None:
        """The hot wash is closed: nothing more can be recorded here."""
        if self.closed:
            return
        self.closed = True
        self.query_one("#hotwash-text", TextArea).read_only = True
        self.status("The hot wash is closed: thank you. Press ctrl+q to leave.", "bold")
        self.refresh_bindings()

    # the questions ----------------------------------------------------------------------------
    def show_questions(self) -> None:
        options = self.query_one("#hotwash-questions", OptionList)
        options.clear_options()
        for index, question in enumerate(self.questions):
            label = Text(f"{_answered_mark(index in self.recorded)} {index + 1}. ")
            label.append_text(rich_text(question, newlines=False))
            options.add_option(Option(label, id=f"q{index}"))
        options.highlighted = self.current
        done = len(self.recorded)
        options.border_title = f"Questions · {done} of {len(self.questions)} answered"

    @on(OptionList.OptionHighlighted, "#hotwash-questions")
    def _highlighted(self, message: OptionList.OptionHighlighted) -> None:
        latest = message.option_list.highlighted  # a highlight moved again since is stale
        if message.option_index == latest and message.option_index != self.current:
            self.load(message.option_index)

    @on(OptionList.OptionSelected, "#hotwash-questions")
    def _selected(self, message: OptionList.OptionSelected) -> None:
        self.load(message.option_index)
        self.query_one("#hotwash-text", TextArea).focus()

    def load(self, index: int) -> None:
        """Show question `index` and its answer: the draft being written, else the one recorded."""
        if not 0 <= index < len(self.questions):
            return
        area = self.query_one("#hotwash-text", TextArea)
        if index != self.current:
            self.keep_draft()
        self.current = index
        # a recorded answer comes back from the transcript: its control characters are shown, never sent
        area.load_text(self.drafts.get(index, safe(self.recorded.get(index, ""))))
        area.move_cursor(area.document.end)  # carry on writing where the answer ends
        area.border_title = f"Your answer to {index + 1}"
        area.border_subtitle = "ctrl+s records it" if not self.closed else ""
        if index in self.recorded and index not in self.drafts:
            self.status("Recorded. Change it and press ctrl+s to record a new answer.", "dim")
        elif not self.closed:
            self.status("")

    def keep_draft(self) -> None:
        text = self.query_one("#hotwash-text", TextArea).text
        if text.strip() and text.strip() != safe(self.recorded.get(self.current, "")).strip():
            self.drafts[self.current] = text
        else:
            self.drafts.pop(self.current, None)

    def status(self, message: str, style: str = "") -> None:
        self.query_one("#hotwash-status", Static).update(Text(message, style=style))

    def action_questions(self) -> None:
        self.query_one("#hotwash-questions", OptionList).focus()

    # recording --------------------------------------------------------------------------------
    def action_record(self) -> None:
        # keys typed before ctrl+s may still wait in the editor's queue (a fast typist, a paste
        # in a browser): read the answer once the editor has taken them
        self.query_one("#hotwash-text", TextArea).call_later(self.record_written)

    def record_written(self) -> None:
        if self.closed or not self.questions:
            return
        text = self.query_one("#hotwash-text", TextArea).text.strip()
        if not text:
            self.notify("Write an answer first.", severity="warning")
            return
        if len(text) > MAX_HOTWASH_ANSWER:
            self.notify(
                f"An answer is at most {MAX_HOTWASH_ANSWER} characters; this one has {len(text)}.",
                severity="warning",
            )
            return
        self.status("Recording…", "italic")
        self.record(self.current, text)

    @work(group="hotwash", exclusive=False)
    async def record(self, index: int, text: str) -> None:
        try:
            await self.link.answer_hotwash(self.role, self.questions[index], text, by=self.player)
        except Exception as error:  # shown to the player, the hot wash carries on
            self.status(f"Not recorded: {safe(error) or type(error).__name__}", "bold red")
            self.notify(
                safe(error) or type(error).__name__, title="Not recorded", severity="error", markup=False
            )
            return
        self.recorded[index] = text
        self.drafts.pop(index, None)
        self.show_questions()
        following = [i for i in range(len(self.questions)) if i not in self.recorded and i > index]
        following = following or [i for i in range(len(self.questions)) if i not in self.recorded]
        if following and self.current == index:
            self.query_one("#hotwash-questions", OptionList).highlighted = following[0]
            self.load(following[0])
        if len(self.recorded) == len(self.questions):
            hint = "ctrl+f closes the hot wash." if self.closes else "the facilitator closes the hot wash."
            self.status(f"Every question answered, thank you; {hint}", "bold")
        else:
            self.status(f"Recorded your answer to {index + 1}.", "green")

    def action_done(self) -> None:
        if not self.closes or self.closed:
            return
        self.keep_draft()
        unsaved = sorted(self.drafts)
        if unsaved:
            numbers = ", ".join(str(i + 1) for i in unsaved)
            question = (
                f"Your answer to {numbers} is not recorded. Close the hot wash anyway and open the debrief?"
            )
        elif not self.recorded:
            question = "Skip the hot wash (nothing answered) and open the debrief?"
        else:
            question = "Close the hot wash and open the debrief? No answer can be added after it."

        def answered(yes: bool | None) -> None:
            if yes:
                self.send("close_hotwash", by=self.player, reason="player")

        self.app.push_screen(ConfirmDialog(question, yes="Close"), answered)


class HotwashAnswerDialog(ModalScreen[tuple[str, str, str] | None]):
    """The facilitator records an answer for a role played in the room: role, question, text."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [
        Binding("ctrl+s", "submit", "Record", priority=True),
        Binding("escape", "dismiss_none", "Cancel"),
    ]

    def __init__(self, roles: list[tuple[str, str]], questions: list[str]) -> None:
        super().__init__(classes="dialog")
        self.roles = roles
        self.questions = questions

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("An answer from the room", classes="dialog-title")
            yield Label("Role")
            yield Select(
                [(rich_text(title, newlines=False), role) for role, title in self.roles],
                value=self.roles[0][0],
                allow_blank=False,
                compact=True,
                id="hotwash-role",
            )
            yield Label("Question")
            yield Select(
                [
                    (rich_text(f"{index + 1}. {q}", newlines=False), index)
                    for index, q in enumerate(self.questions)
                ],
                value=0,
                allow_blank=False,
                compact=True,
                id="hotwash-question",
            )
            yield Label("What the room said")
            yield TextArea(compact=True, id="hotwash-answer", soft_wrap=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Record (ctrl+s)", variant="primary", id="record", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#hotwash-answer", TextArea).focus()

    def action_submit(self) -> None:
        text = self.query_one("#hotwash-answer", TextArea).text.strip()
        if not text:
            self.notify("Write what the room said first.", severity="warning")
            return
        role = self.query_one("#hotwash-role", Select).value
        index = self.query_one("#hotwash-question", Select).value
        self.dismiss((str(role), self.questions[int(str(index))], text))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, message: Button.Pressed) -> None:
        if message.button.id == "record":
            self.action_submit()
        else:
            self.dismiss(None)


class HotwashMonitor(ExerciseScreen):
    """The facilitator's hot wash: who has answered which question, the answers as they arrive,
    and the key that closes it (after a confirmation) and opens the debrief."""

    CSS_PATH = "hotwash.tcss"

    BINDINGS = [
        Binding("x", "close_hotwash", "Close hot wash"),
        Binding("a", "answer", "Answer for the room", tooltip="Record what the people in the room said"),
    ]

    def __init__(self, link: SessionPort, scenario: Scenario, *, name: str = "Facilitator") -> None:
        super().__init__(link, scenario)
        self.facilitator = name
        self.questions = list(link.hotwash_questions)
        self.answers: list[dict[str, Any]] = []
        self.people: dict[str, set[str]] = {}
        """Role -> the names of the people who played it (simulated teammates never)."""
        self.closed = False

    def compose(self) -> ComposeResult:
        with Vertical(id="hotwash"):
            yield Static("", id="monitor-summary")
            yield DataTable(id="monitor-table", cursor_type="cell", zebra_stripes=True)
            with VerticalScroll(id="monitor-answers-box"):
                yield Static("", id="monitor-answers")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).border_title = "Answers per role and question (arrows: which answers below)"
        self.show()
        self.query_one(DataTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer":
            return not self.closed and bool(self.room_roles())
        if action == "close_hotwash":
            return not self.closed
        return True

    def room_roles(self) -> list[str]:
        return [role for role in self.scenario.roles if ROOM in self.people.get(role, set())]

    def apply_events(self, events: list[dict[str, Any]], replay: bool) -> None:
        arrived = []
        for event in events:
            kind = event.get("type")
            if kind == "session_started":
                for person in event.get("participants") or []:
                    if isinstance(person, dict) and not person.get("simulated"):
                        self.people.setdefault(str(person.get("role")), set()).add(str(person.get("name")))
            elif kind == "facilitator" and event.get("op") in ("join", "role_change"):
                detail = event.get("detail") or {}
                if detail.get("to"):
                    self.people.setdefault(str(detail["to"]), set()).add(str(detail.get("name")))
            elif kind == "hotwash_answer":
                self.answers.append(event)
                arrived.append(event)
            elif kind == "hotwash_closed":
                self.closed = True
        self.show()
        if not replay:
            for event in arrived:
                self.toast(
                    f"Answer from {one_line(self.scenario.role_title(str(event.get('role'))))}",
                    title="Hot wash",
                )
        self.refresh_bindings()

    def roles(self) -> list[str]:
        """The table's columns: the roles people played, and any role that answered."""
        answered = {str(a.get("role")) for a in self.answers}
        shown = [r for r in self.scenario.roles if self.people.get(r) or r in answered]
        return shown or list(self.scenario.roles)

    def latest(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """(question, role, person) -> that person's latest answer."""
        latest: dict[tuple[str, str, str], dict[str, Any]] = {}
        for answer in self.answers:
            latest[(str(answer.get("question")), str(answer.get("role")), str(answer.get("by")))] = answer
        return latest

    def show(self) -> None:
        latest = self.latest()
        roles = self.roles()
        answered = {role for (_, role, _) in latest}
        summary = Text()
        summary.append("Hot wash · ", style="bold")
        summary.append(one_line(self.scenario.title) + "\n", style="bold")
        state = "closed" if self.closed else "open"
        summary.append(
            f"{answers_count(len(latest))} · {len(answered & set(roles))} of {len(roles)} roles answered · {state}",
            style="bold" if not self.closed else "dim",
        )
        if not self.closed:
            how = "Players answer in their own consoles; only you see their answers here."
            if self.room_roles():
                how += " a records what the room says."
            summary.append(
                f"\n{how} x closes the hot wash (players are told) and opens the debrief.", style="dim"
            )
        self.query_one("#monitor-summary", Static).update(summary)
        table = self.query_one(DataTable)
        row, column = table.cursor_coordinate
        table.clear(columns=True)
        table.add_column("role", key="role")
        for index in range(len(self.questions)):
            table.add_column(f"Q{index + 1}", key=f"q{index}")
        for role in roles:
            cells: list[Any] = [rich_text(self.scenario.role_title(role), newlines=False)]
            for question in self.questions:
                count = sum(1 for (q, r, _) in latest if q == question and r == role)
                cells.append(Text("✓" * min(count, 3) or "·", style="green" if count else "dim"))
            table.add_row(*cells, key=role)
        if roles and self.questions:
            table.cursor_coordinate = Coordinate(
                min(row, len(roles) - 1), min(max(column, 1), len(self.questions))
            )
        self.show_answers()

    @on(DataTable.CellHighlighted, "#monitor-table")
    def _highlighted(self, message: DataTable.CellHighlighted) -> None:
        self.show_answers()

    def selected_question(self) -> int:
        """The question of the highlighted column (the first one on the role column)."""
        column = self.query_one(DataTable).cursor_coordinate.column
        return min(max(column - 1, 0), len(self.questions) - 1)

    def show_answers(self) -> None:
        """The highlighted question and every answer to it, the highlighted role's first."""
        if not self.questions:
            return
        table = self.query_one(DataTable)
        index = self.selected_question()
        question = self.questions[index]
        roles = self.roles()
        row = table.cursor_coordinate.row
        role = roles[row] if 0 <= row < len(roles) else None
        text = Text()
        text.append_text(rich_text(f"Q{index + 1}. {question}", "bold"))
        answers = [a for (q, _, _), a in self.latest().items() if q == question]
        answers.sort(key=lambda a: a.get("role") != role)
        if not answers:
            text.append("\nNo answer yet.", style="dim")
        for answer in answers:
            who = f"{self.scenario.role_title(str(answer.get('role')))} · {answer.get('by')}"
            text.append("\n")
            text.append_text(rich_text(who, "bold", newlines=False))
            text.append(": ")
            text.append_text(rich_text(str(answer.get("text") or "")))
        self.query_one("#monitor-answers", Static).update(text)

    def action_close_hotwash(self) -> None:
        if self.closed:
            return
        latest = self.latest()

        def answered(yes: bool | None) -> None:
            if yes:
                self.send("close_hotwash", by=self.facilitator)

        self.app.push_screen(
            ConfirmDialog(
                f"Close the hot wash ({answers_count(len(latest))})? Players can no longer answer and are "
                "told it is over; then the debrief.",
                yes="Close",
            ),
            answered,
        )

    def action_answer(self) -> None:
        roles = self.room_roles()
        if self.closed or not roles:
            return

        def written(answer: tuple[str, str, str] | None) -> None:
            if answer is not None:
                role, question, text = answer
                self.send("answer_hotwash", role, question, text, by=ROOM)

        choices = [(role, self.scenario.role_title(role)) for role in roles]
        self.app.push_screen(HotwashAnswerDialog(choices, self.questions), written)
