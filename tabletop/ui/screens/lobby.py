"""The lobby and briefing: what the rehearsal is about, who plays what, and the controls."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tabletop.timing import format_duration, format_offset

CONTROLS = [
    ("a", "record a decision: search the action catalog, fill in its form"),
    ("n", "write a note for the record"),
    ("f", "filter the inject feed by channel"),
    ("t", "carry out a task delegated to you"),
    ("space", "pause or resume (solo and facilitator)"),
    ("+ / -", "change the speed"),
    ("e", "end the exercise and go to the debrief"),
    ("ctrl+p", "every command, searchable"),
    ("ctrl+q", "quit; the transcript is kept and can be resumed"),
]


def _fact_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_fact_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fact_value(v)}" for k, v in value.items())
    return str(value)


class LobbyScreen(Screen):
    """The briefing before the exercise; Enter starts (or resumes) it."""

    BINDINGS = [
        Binding("enter,s", "start", "Start", priority=True),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, scenario: Any, participants: list[dict[str, Any]], *, mode: str, resumed_at: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.participants = participants
        self.mode = mode
        self.resumed_at = resumed_at

    def compose(self) -> ComposeResult:
        s = self.scenario
        with VerticalScroll(id="lobby"):
            yield Static(self._heading(), id="lobby-heading")
            with Horizontal(id="lobby-columns"):
                with VerticalScroll(id="lobby-left"):
                    yield Static(self._objectives(), id="lobby-objectives", classes="panel")
                    yield Static(self._facts(), id="lobby-facts", classes="panel")
                with VerticalScroll(id="lobby-right"):
                    yield Static(self._roles(), id="lobby-roles", classes="panel")
                    yield Static(self._controls(), id="lobby-controls", classes="panel")
            verb = f"resume at {format_offset(self.resumed_at)}" if self.resumed_at is not None else "start"
            yield Static(Text(f"Press Enter to {verb} · {s.title}", style="bold"), id="lobby-start")
        yield Footer()

    def _heading(self) -> Text:
        s = self.scenario
        text = Text()
        text.append(s.title + "\n", style="bold")
        meta = [s.kind, f"{format_duration(s.duration)} of sim time", f"×{s.speed:g}"]
        if s.starts_at:
            meta.append(f"starts {s.starts_at:%a %d %b %Y %H:%M}")
        meta.append("solo practice" if self.mode == "solo" else f"{self.mode} rehearsal")
        text.append(" · ".join(meta) + "\n", style="dim")
        if s.summary:
            text.append("\n" + s.summary.strip())
        return text

    def _objectives(self) -> Text:
        text = Text("Objectives\n", style="bold")
        for objective in self.scenario.objectives or ["(none given)"]:
            text.append(f"• {objective}\n", style="")
        return text

    def _facts(self) -> Table:
        table = Table(title="Context", title_justify="left", expand=True, show_lines=False, box=None)
        table.add_column("fact", style="bold", no_wrap=True)
        table.add_column("detail", ratio=1)
        context = self.scenario.context
        for position in context.data_positions:
            detail = [f"we are {position.position}"]
            if position.controller:
                detail.append(f"controller {position.controller}")
            if position.contact:
                detail.append(f"contact {position.contact}")
            if position.contract:
                detail.append(f"contract {position.contract}")
            if position.notify_controller_within is not None:
                detail.append(f"tell the controller within {format_duration(position.notify_controller_within)}")
            if position.data_types:
                detail.append("data: " + ", ".join(position.data_types))
            table.add_row(position.dataset, "; ".join(detail))
        if context.systems:
            table.add_row("systems", ", ".join(context.systems))
        if context.recovery is not None:
            r = context.recovery
            parts = [p for p in (
                r.system,
                f"RPO {format_duration(r.rpo)}" if r.rpo is not None else "",
                f"RTO {format_duration(r.rto)}" if r.rto is not None else "",
                f"backup {r.backup}" if r.backup else "",
            ) if p]
            table.add_row("recovery", ", ".join(parts))
        for key, value in (context.model_extra or {}).items():
            table.add_row(key.replace("_", " "), _fact_value(value))
        if not table.row_count:
            table.add_row("—", "no context facts in this scenario")
        return table

    def _roles(self) -> Table:
        table = Table(title="Roles", title_justify="left", expand=True, box=None)
        table.add_column("role", style="bold", no_wrap=True)
        table.add_column("played by")
        table.add_column("duty", ratio=1, style="dim")
        players: dict[str, list[str]] = {}
        for person in self.participants:
            label = person.get("name", "?") + (" (simulated)" if person.get("simulated") else "")
            players.setdefault(person.get("role", ""), []).append(label)
        duties = {r.id: r.duty for r in self.scenario.role_info}
        for role in self.scenario.roles:
            who = ", ".join(players.get(role, [])) or ("simulated" if self.mode == "solo" else "open")
            table.add_row(self.scenario.role_title(role), who, duties.get(role, ""))
        return table

    def _controls(self) -> Table:
        table = Table(title="Controls", title_justify="left", expand=True, box=None)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does", ratio=1)
        for key, does in CONTROLS:
            table.add_row(key, does)
        return table

    def action_start(self) -> None:
        self.app.begin_exercise()
