"""Modal dialogs: action palette, decision form, note, ad-hoc inject, tasks and confirmations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from tabletop.model import CHANNELS, Action
from tabletop.timing import TimeFormatError, format_duration, format_offset, parse_duration
from tabletop.ui.widgets.action_palette import ActionSearch
from tabletop.untrusted import one_line, rich_text


def after_typing(screen: Screen[Any], record: Callable[[], None]) -> None:
    """Run `record` once the focused editor has taken every key typed before ctrl+s.

    ctrl+s is a priority binding: it runs as soon as it arrives, while keys typed just before it
    (a fast typist, a paste in a browser) may still wait in the editor's own queue, and reading
    the editor then would record a truncated text.
    """
    focused = screen.focused
    if focused is None:
        record()
    else:
        focused.call_later(record)


@dataclass(frozen=True)
class DecisionDraft:
    """What the decision form hands back: everything `Session.decide` needs."""

    action: str
    role: str
    fields: dict[str, Any] = field(default_factory=dict)
    rationale: str = ""
    inject: str | None = None
    delegate_to: str | None = None
    timebox: int | None = None
    delegation: str | None = None


@dataclass(frozen=True)
class AdhocInject:
    """An inject the facilitator writes during the exercise."""

    title: str
    body: str
    channel: str
    to: list[str]
    from_: str


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="dialog")
        self.question = question
        self.yes, self.no = yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(rich_text(self.question), classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes", compact=True)
                yield Button(f"{self.no} (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, message: Button.Pressed) -> None:
        self.dismiss(message.button.id == "yes")


class ActionPalette(ModalScreen[str | None]):
    """Pick an action from the catalog by fuzzy search."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [
        Binding("escape", "dismiss_none", "Cancel"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, actions: list[Any], role: str | None = None) -> None:
        super().__init__(classes="dialog")
        self.actions = actions
        self.role = role

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box palette"):
            yield Label("Record a decision: choose the action", classes="dialog-title")
            yield ActionSearch(self.actions, self.role, id="action-search")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    def action_move(self, delta: int) -> None:
        self.query_one(ActionSearch).move(delta)

    @on(ActionSearch.Chosen)
    def _chosen(self, message: ActionSearch.Chosen) -> None:
        self.dismiss(message.action_id)


@dataclass(frozen=True)
class FormProblem:
    """What is wrong with a form, and the widget (its id) to put right."""

    message: str
    widget: str


class DecisionForm(ModalScreen[DecisionDraft | None]):
    """Who does it (me, or a role it is delegated to), then the action's fields and the
    rationale; delegating asks only for the time-box and a brief, since the delegate fills the
    fields in. The inject it answers, either way."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [
        Binding("ctrl+s", "submit", "Record", priority=True),
        Binding("escape", "dismiss_none", "Cancel"),
    ]

    def __init__(
        self,
        action: Action,
        role: str,
        *,
        roles: list[str],
        injects: list[dict[str, Any]],
        inject: str | None = None,
        choose_role: bool = False,
        allow_delegate: bool = True,
        delegation: str | None = None,
        preset: dict[str, Any] | None = None,
        brief: str = "",
        delegate_to: str | None = None,
        timebox: int | None = None,
    ) -> None:
        super().__init__(classes="dialog")
        self.action = action
        self.role = role
        self.roles = roles
        self.injects = injects
        self.inject = inject
        self.choose_role = choose_role
        self.allow_delegate = allow_delegate
        self.delegation = delegation
        self.preset = preset or {}
        self.brief = brief
        """A task's brief from whoever delegated it, shown above the form."""
        self.preset_delegate = delegate_to if delegate_to in roles and delegate_to != role else None
        """Delegate to this role (a hint's owner) unless the player changes it."""
        self.preset_timebox = timebox
        """The time-box filled in (a hint's time left), in seconds."""

    def compose(self) -> ComposeResult:
        action = self.action
        with Vertical(classes="dialog-box form"):
            yield Label(rich_text(action.title, newlines=False), classes="dialog-title")
            with VerticalScroll(id="form-body"):
                if action.description:
                    yield Static(rich_text(action.description), classes="help")
                if self.brief:
                    yield Static(Text.assemble("Brief: ", rich_text(self.brief)), id="task-brief")
                if self.choose_role:
                    yield Label("Recorded for role")
                    yield Select(
                        [(rich_text(r, newlines=False), r) for r in self.roles],
                        value=self.role,
                        allow_blank=False,
                        compact=True,
                        id="role",
                    )
                if self.allow_delegate:
                    yield Label("Who does it")
                    others = [r for r in self.roles if r != self.role]
                    yield Select(
                        [(Text.assemble("delegate to ", rich_text(r, newlines=False)), r) for r in others],
                        prompt="I do it myself",
                        value=self.preset_delegate if self.preset_delegate in others else Select.NULL,
                        compact=True,
                        id="delegate",
                    )
                    with Vertical(id="delegation", classes="form-part"):
                        yield Label("Time-box (the delegate reports back within it)")
                        yield Input(
                            format_duration(self.preset_timebox) if self.preset_timebox else "",
                            placeholder="e.g. 30m",
                            compact=True,
                            id="timebox",
                        )
                with Vertical(id="own-fields", classes="form-part"):
                    yield from self._fields()
                yield Label(rich_text(self._rationale_label(None), newlines=False), id="rationale-label")
                yield TextArea(compact=True, id="rationale", soft_wrap=True, show_line_numbers=False)
                yield Label("Answers inject")
                options = [
                    (
                        rich_text(
                            f"{format_offset(e.get('t', 0))} {e.get('title') or e.get('inject')}",
                            newlines=False,
                        ),
                        e.get("inject"),
                    )
                    for e in reversed(self.injects)
                ]
                valid = {value for _, value in options}
                yield Select(
                    options,
                    value=self.inject if self.inject in valid else Select.NULL,
                    prompt="(none)",
                    compact=True,
                    id="inject",
                )
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Record (ctrl+s)", variant="primary", id="record", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def _fields(self) -> ComposeResult:
        for name, spec in self.action.fields.items():
            label = name.replace("_", " ") + (" *" if spec.required else "")
            yield Label(rich_text(label, newlines=False))
            preset = self.preset.get(name)
            if spec.type == "choice":
                value = preset if preset in spec.choices else Select.NULL
                yield Select(
                    [(rich_text(c, newlines=False), c) for c in spec.choices],
                    value=value,
                    compact=True,
                    id=f"field-{name}",
                )
            elif spec.type == "bool":
                yield Checkbox(
                    rich_text(spec.help or name), value=bool(preset), compact=True, id=f"field-{name}"
                )
            else:
                placeholder = one_line(spec.help) or {"duration": "e.g. 30m", "number": "a number"}.get(
                    spec.type, ""
                )
                yield Input(
                    "" if preset is None else str(preset),
                    placeholder=placeholder,
                    type="number" if spec.type == "number" else "text",
                    compact=True,
                    id=f"field-{name}",
                )

    def _rationale_label(self, delegate_to: str | None) -> str:
        if delegate_to is not None:
            return f"Brief for the {delegate_to}: what you need from them"
        return "Rationale *" if self.action.rationale == "required" else "Rationale"

    def on_mount(self) -> None:
        if self.allow_delegate:  # a hint's delegation opens with its role and time-box filled in
            self._delegate_changed()
        first = self.query(
            "#form-body Select, #form-body Input, #form-body Checkbox, #form-body TextArea"
        ).first()
        first.focus()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    def delegate_to(self) -> str | None:
        """The role the work is delegated to, or None (I do it myself)."""
        if not self.allow_delegate:
            return None
        value = self.query_one("#delegate", Select).value
        return None if value is Select.NULL else str(value)

    @on(Select.Changed, "#delegate")
    def _delegate_changed(self) -> None:
        """Delegating hides the action's fields (the delegate fills them) and asks for a brief."""
        delegate_to = self.delegate_to()
        self.query_one("#delegation").display = delegate_to is not None
        self.query_one("#own-fields").display = delegate_to is None
        self.query_one("#rationale-label", Label).update(
            rich_text(self._rationale_label(delegate_to), newlines=False)
        )

    @on(Select.Changed, "#role")
    def _role_changed(self, message: Select.Changed) -> None:
        """The roles one may delegate to are the others."""
        if not self.allow_delegate or message.value is Select.NULL:
            return
        delegate = self.query_one("#delegate", Select)
        keep = delegate.value
        delegate.set_options(
            [
                (Text.assemble("delegate to ", rich_text(r, newlines=False)), r)
                for r in self.roles
                if r != message.value
            ]
        )
        if keep is not Select.NULL and keep != message.value:
            delegate.value = keep

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#record")
    def _record(self) -> None:
        self.action_submit()

    def _error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(rich_text(text))

    def action_submit(self) -> None:
        after_typing(self, self._submit)

    def _submit(self) -> None:
        draft = self.collect()
        if isinstance(draft, FormProblem):
            self._error(draft.message)
            widget = self.query_one(f"#{draft.widget}")
            widget.focus()  # and scrolled into view
            self.query_one("#form-body", VerticalScroll).scroll_to_widget(widget, animate=False)
            return
        self.dismiss(draft)

    def collect(self) -> DecisionDraft | FormProblem:
        """The draft, or the first problem with what was entered and where it is."""
        role = self.role
        if self.choose_role:
            role = str(self.query_one("#role", Select).value)
        delegate_to = self.delegate_to()
        if delegate_to is not None and delegate_to == role:
            return FormProblem("Delegate to another role, or do it yourself", "delegate")
        fields: dict[str, Any] = {}
        if delegate_to is None:  # the delegate fills the fields in, not the one who delegates
            for name, spec in self.action.fields.items():
                value = self._field_value(name, spec)
                if isinstance(value, FormProblem):
                    return value
                if value is None:
                    if spec.required:
                        return FormProblem(f"{name.replace('_', ' ')} is required", f"field-{name}")
                    continue
                fields[name] = value
        rationale = self.query_one("#rationale", TextArea).text.strip()
        if delegate_to is None and self.action.rationale == "required" and not rationale:
            return FormProblem("A rationale is required for this action", "rationale")
        inject_select = self.query_one("#inject", Select)
        inject = None if inject_select.value is Select.NULL else str(inject_select.value)
        timebox = None
        if delegate_to is not None:
            raw = self.query_one("#timebox", Input).value.strip()
            if raw:
                try:
                    timebox = parse_duration(raw)
                except TimeFormatError as error:
                    return FormProblem(f"time-box: {error}", "timebox")
        return DecisionDraft(
            action=self.action.id,
            role=role,
            fields=fields,
            rationale=rationale,
            inject=inject,
            delegate_to=delegate_to,
            timebox=timebox,
            delegation=self.delegation,
        )

    def _field_value(self, name: str, spec: Any) -> Any:
        """A field's value as entered (None when empty), or the problem with it."""
        widget = self.query_one(f"#field-{name}")
        if isinstance(widget, Select):
            return None if widget.value is Select.NULL else widget.value
        if isinstance(widget, Checkbox):
            return widget.value
        assert isinstance(widget, (Input, TextArea)), widget
        raw = (widget.value if isinstance(widget, Input) else widget.text).strip()
        if not raw:
            return None
        if spec.type == "number":
            try:
                return float(raw) if "." in raw else int(raw)
            except ValueError:
                return FormProblem(f"{name}: expected a number, received {raw!r}", f"field-{name}")
        if spec.type == "duration":
            try:
                return parse_duration(raw)
            except TimeFormatError as error:
                return FormProblem(f"{name}: {error}", f"field-{name}")
        return raw


class NoteDialog(ModalScreen[str | None]):
    """A free-text note for the record."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [
        Binding("ctrl+s", "submit", "Save", priority=True),
        Binding("escape", "dismiss_none", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Note for the record", classes="dialog-title")
            yield TextArea(compact=True, id="note", soft_wrap=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.add_class("dialog")
        self.query_one("#note", TextArea).focus()

    def action_submit(self) -> None:
        after_typing(self, self._submit)

    def _submit(self) -> None:
        text = self.query_one("#note", TextArea).text.strip()
        self.dismiss(text or None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, message: Button.Pressed) -> None:
        if message.button.id == "save":
            self.action_submit()
        else:
            self.dismiss(None)


class AdhocInjectDialog(ModalScreen[AdhocInject | None]):
    """The facilitator writes an inject and releases it now."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [
        Binding("ctrl+s", "submit", "Release", priority=True),
        Binding("escape", "dismiss_none", "Cancel"),
    ]

    def __init__(self, roles: list[str]) -> None:
        super().__init__(classes="dialog")
        self.roles = roles

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box form"):
            yield Label("Ad-hoc inject", classes="dialog-title")
            with VerticalScroll(id="form-body"):
                yield Label("Title *")
                yield Input(compact=True, id="title")
                yield Label("Body")
                yield TextArea(compact=True, id="body", soft_wrap=True)
                yield Label("Channel")
                yield Select(
                    [(c, c) for c in CHANNELS], value="chat", allow_blank=False, compact=True, id="channel"
                )
                yield Label("To")
                yield Select(
                    [("all", "all"), *[(rich_text(r, newlines=False), r) for r in self.roles]],
                    value="all",
                    allow_blank=False,
                    compact=True,
                    id="to",
                )
                yield Label("From")
                yield Input(placeholder="e.g. Service desk", compact=True, id="from")
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Release (ctrl+s)", variant="primary", id="release", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()

    def action_submit(self) -> None:
        after_typing(self, self._submit)

    def _submit(self) -> None:
        title = self.query_one("#title", Input).value.strip()
        if not title:
            self.query_one("#form-error", Static).update("A title is required")
            return
        self.dismiss(
            AdhocInject(
                title=title,
                body=self.query_one("#body", TextArea).text,
                channel=str(self.query_one("#channel", Select).value),
                to=[str(self.query_one("#to", Select).value)],
                from_=self.query_one("#from", Input).value.strip(),
            )
        )

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, message: Button.Pressed) -> None:
        if message.button.id == "release":
            self.action_submit()
        else:
            self.dismiss(None)


class TaskPicker(ModalScreen[dict[str, Any] | None]):
    """Tasks delegated to my role that are waiting for me to carry them out."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, tasks: list[dict[str, Any]], describe: Callable[[dict[str, Any]], str]) -> None:
        super().__init__(classes="dialog")
        self.tasks = tasks
        self.describe = describe

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box palette"):
            yield Label("Tasks delegated to you", classes="dialog-title")
            yield OptionList(
                *[Option(rich_text(self.describe(t)), id=str(i)) for i, t in enumerate(self.tasks)],
                id="tasks",
            )

    def on_mount(self) -> None:
        self.query_one("#tasks", OptionList).focus()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected, "#tasks")
    def _chosen(self, message: OptionList.OptionSelected) -> None:
        self.dismiss(self.tasks[int(message.option.id or 0)])
