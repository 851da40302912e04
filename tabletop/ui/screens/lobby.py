"""The lobby and briefing: what the rehearsal is about, who plays what, and the controls."""

from __future__ import annotations

from typing import Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, SelectionList, Static

from tabletop.model import Scenario
from tabletop.timing import format_duration, format_offset
from tabletop.ui.apps import ConsoleApp
from tabletop.ui.settling import Debounce, WorkDone
from tabletop.ui.widgets.join_panel import JoinPanel
from tabletop.untrusted import one_line, rich_text, safe

CONTROLS = [
    ("a", "record a decision: search the action catalog, fill in its form"),
    ("n", "write a note for the record"),
    ("f", "filter the inject feed by channel"),
    ("t", "carry out a task delegated to you"),
    ("d", "with hints: delegate the selected open deadline to its owner"),
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


def solo_scope_text(scenario: Any, participants: list[dict[str, Any]], *, hints: bool = False) -> Text:
    """How solo practice is scored, in the lobby's words (README "Solo practice")."""
    player = next((p for p in participants if not p.get("simulated")), None)
    role_id = str(player.get("role", "coordinator")) if player else "coordinator"
    role = one_line(scenario.role_title(role_id)).lower()
    text = Text()
    text.append(f"You are the {role}; the other roles are simulated teammates.\n")
    text.append("• Yours, scored: ", style="bold")
    text.append(
        f"the {role}'s expectations (and those any role may meet), done by you or by a teammate "
        "you delegate them to, and bringing each teammate in before their first deadline.\n"
    )
    text.append("• Your team's, never scored: ", style="bold")
    text.append(
        "once brought in, a teammate does their own role's work on time; "
        "nobody brought in, they do it late. The debrief shows both.\n"
    )
    text.append("• Delegate: ", style="bold")
    text.append("that is how a coordinator gets things done. Handing a teammate work (a, then who does it) ")
    answer = next((r for r in scenario.responses if r.from_ != role_id), None)
    if answer is not None:
        text.append(
            "brings them in; so does recording what they answer ("
            + one_line(_action_title(scenario, answer.on))
            + f" brings in the {one_line(scenario.role_title(answer.from_)).lower()})."
        )
    else:
        text.append("brings them in.")
    avoided = [a for rule in scenario.avoid if rule.role == role_id for a in rule.actions]
    hands_on = [a for a in avoided if _hands_on(scenario, a)] or avoided
    if hands_on:
        named = ", ".join(_action_title(scenario, a) for a in hands_on[:3]) + (
            ", …" if len(hands_on) > 3 else ""
        )
        text.append(f" Hands-on work yourself ({one_line(named)}) is a finding.")
    if hints:
        text.append("\n• Hints: ", style="bold")
        text.append(
            "open deadlines count down; d on one delegates it to its owner, time-boxed to the time left."
        )
    return text


def _hands_on(scenario: Any, action_id: str) -> bool:
    try:
        return bool(scenario.action(action_id).hands_on)
    except KeyError:
        return False


def _action_title(scenario: Any, action_id: str) -> str:
    try:
        return str(scenario.action(action_id).title)
    except KeyError:
        return action_id.replace("_", " ")


class LobbyScreen(Screen):
    """The briefing before the exercise; Enter starts (or resumes) it."""

    BINDINGS = [
        Binding("enter,s", "start", "Start", priority=True),
        Binding("c", "copy_join_link", "Copy join link"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(
        self,
        scenario: Scenario,
        participants: list[dict[str, Any]],
        *,
        mode: str,
        resumed_at: float | None = None,
        join: Any = None,
        link: Any = None,
        seating: bool = False,
        presence: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.participants = participants
        self.mode = mode
        self.resumed_at = resumed_at
        self.join = join
        """How players join (a hosted rehearsal): shown, and `c` copies the browser link."""
        self.link = link
        self.remote = link is not None and getattr(link, "encrypted", None) is not None
        """A player's console on another machine than the session (it says whom the clock waits for)."""
        self.seating = seating
        """Whether the facilitator seats the roles here: in the room, or simulated until someone joins."""
        self.presence = presence
        """Who has joined so far (a hosted rehearsal): a callable giving [{name, role}]."""

    def compose(self) -> ComposeResult:
        """The heading and the prompt to start paint first; the briefing's panels follow."""
        yield Static(self._heading(), id="lobby-heading")
        yield Static(self._prompt(), id="lobby-start")
        yield Footer()

    def _prompt(self) -> Text:
        if not self.remote:
            verb = f"resume at {format_offset(self.resumed_at)}" if self.resumed_at is not None else "start"
            return Text(f"Press Enter to {verb}", style="bold")
        link = self.link
        text = Text()
        waiting = list(getattr(link, "waiting", []) or [])
        if getattr(link, "offline", False):
            text.append("Reconnecting to the host…", style="bold")
        elif waiting:
            names = ", ".join(one_line(self.scenario.role_title(r)) for r in waiting)
            text.append(f"Waiting for {names} to join; the clock starts then. ", style="bold")
            text.append("Press Enter to go in meanwhile")
        elif getattr(link, "started", True) is False:
            text.append("The facilitator has not started the exercise yet. ", style="bold")
            text.append("Press Enter to go in meanwhile")
        else:
            text.append(
                f"Press Enter to join the exercise (the clock is at {format_offset(link.now())})",
                style="bold",
            )
        if not getattr(link, "encrypted", True):
            text.append("\nThe connection to the host is not encrypted.", style="italic")
        return text

    def refresh_prompt(self) -> None:
        self.query_one("#lobby-start", Static).update(self._prompt())

    BRIEF_DELAY = 1 / 30
    """The briefing's panels are mounted a frame after the heading is painted."""

    class Briefed(WorkDone):
        """The briefing's panels are mounted."""

        job = "briefing"

    def on_mount(self) -> None:
        self.briefed = False
        self._briefing = Debounce(self, self.BRIEF_DELAY, self.brief, "briefing")
        self._briefing.request()
        if self.remote:
            self.set_interval(0.5, self.refresh_prompt)
        if self.presence is not None:
            self.set_interval(0.5, self.refresh_joined)

    async def brief(self) -> None:
        """Objectives, context facts, roles and controls, mounted after the first frame."""
        briefing = VerticalScroll(
            *([Static(self._solo(), id="lobby-solo", classes="panel")] if self.mode == "solo" else []),
            Horizontal(
                Vertical(
                    Static(self._objectives(), id="lobby-objectives", classes="panel"),
                    Static(self._facts(), id="lobby-facts", classes="panel"),
                    id="lobby-left",
                ),
                Vertical(
                    *(
                        [JoinPanel(self.join, id="lobby-join", classes="panel")]
                        if self.join is not None
                        else []
                    ),
                    *self._seating_panels(),
                    Static(self._roles(), id="lobby-roles", classes="panel"),
                    Static(self._controls(), id="lobby-controls", classes="panel"),
                    id="lobby-right",
                ),
                id="lobby-columns",
            ),
            id="lobby",
        )
        await self.mount(briefing, before=self.query_one(Footer))
        self.briefed = True
        seatings = list(self.query("#lobby-seating").results(SelectionList))  # none if the app is leaving
        for seating in seatings:
            seating.focus()
        if not seatings and briefing.is_attached:
            briefing.focus()  # page up and down read the briefing; enter still starts
        self.post_message(self.Briefed())

    def _heading(self) -> Text:
        s = self.scenario
        text = Text()
        text.append(one_line(s.title) + "\n", style="bold")
        meta = [s.kind, f"{format_duration(s.duration)} of sim time", f"×{s.speed:g}"]
        if s.starts_at:
            meta.append(f"starts {s.starts_at:%a %d %b %Y %H:%M}")
        meta.append("solo practice" if self.mode == "solo" else f"{self.mode} rehearsal")
        text.append(one_line(" · ".join(meta)) + "\n", style="dim")
        if s.summary:
            text.append("\n" + safe(s.summary.strip()))
        return text

    def _objectives(self) -> Text:
        text = Text.assemble(("Objectives\n", "bold"))
        for objective in self.scenario.objectives or ["(none given)"]:
            text.append(f"• {safe(objective)}\n", style="")
        return text

    def _facts(self) -> Text:
        text = Text.assemble(("Context\n", "bold"))
        context = self.scenario.context

        def fact(name: str, detail: str) -> None:
            text.append(f"• {one_line(name)}: ", style="bold")
            text.append(safe(detail) + "\n")

        for position in context.data_positions:
            detail = [f"we are {position.position}"]
            if position.controller:
                detail.append(f"controller {position.controller}")
            if position.contact:
                detail.append(f"contact {position.contact}")
            if position.contract:
                detail.append(f"contract {position.contract}")
            if position.notify_controller_within is not None:
                detail.append(
                    f"tell the controller within {format_duration(position.notify_controller_within)}"
                )
            if position.data_types:
                detail.append("data: " + ", ".join(position.data_types))
            if position.subjects:
                detail.append(f"subjects: {position.subjects}")
            fact(position.dataset, "; ".join(detail))
        if context.systems:
            fact("systems", ", ".join(context.systems))
        if context.recovery is not None:
            r = context.recovery
            parts = [
                p
                for p in (
                    r.system,
                    f"RPO {format_duration(r.rpo)}" if r.rpo is not None else "",
                    f"RTO {format_duration(r.rto)}" if r.rto is not None else "",
                    f"backup {r.backup}" if r.backup else "",
                )
                if p
            ]
            fact("recovery", ", ".join(parts))
        for key, value in (context.model_extra or {}).items():
            fact(key.replace("_", " "), _fact_value(value))
        if len(text.plain.splitlines()) == 1:
            text.append("No context facts in this scenario.\n", style="dim")
        return text

    def _seating_panels(self) -> list[Any]:
        """The facilitator seats the roles: in the room, or simulated until a player joins."""
        if not self.seating:
            return []
        room = {
            p.get("role") for p in self.participants if p.get("name") == "Room" and not p.get("simulated")
        }
        seating: SelectionList[str] = SelectionList(
            *[
                (rich_text(self.scenario.role_title(r), newlines=False), r, r in room)
                for r in self.scenario.roles
            ],
            id="lobby-seating",
            classes="panel",
        )
        seating.border_title = "In the room (space marks a role)"
        seating.border_subtitle = "the others: simulated until a player joins"
        return [seating, Static(self._joined(), id="lobby-joined", classes="panel")]

    def seats(self) -> dict[str, str]:
        """Each role's seat as chosen here: "room" (marked) or "simulated"."""
        lists = list(self.query("#lobby-seating").results(SelectionList))
        marked = set(lists[0].selected) if lists else set()
        return {role: "room" if role in marked else "simulated" for role in self.scenario.roles}

    def _joined(self) -> Text:
        people = list(self.presence() if self.presence is not None else [])
        text = Text.assemble(("Joined\n", "bold"))
        if not people:
            text.append("nobody yet: send them the link", style="dim")
        for person in people:
            text.append(f"• {one_line(person.get('name'))} ", style="bold")
            text.append(f"{one_line(self.scenario.role_title(str(person.get('role'))))}\n")
        return text

    def refresh_joined(self) -> None:
        for joined in self.query("#lobby-joined").results(Static):
            joined.update(self._joined())

    def _solo(self) -> Text:
        hints = bool(getattr(getattr(self.app, "settings", None), "hints", False))
        text = Text.assemble(("How solo practice is scored\n", "bold"))
        text.append_text(solo_scope_text(self.scenario, self.participants, hints=hints))
        return text

    def _roles(self) -> Text:
        text = Text.assemble(("Roles\n", "bold"))
        players: dict[str, list[str]] = {}
        for person in self.participants:
            label = person.get("name", "?") + (" (simulated)" if person.get("simulated") else "")
            players.setdefault(person.get("role", ""), []).append(label)
        duties = {r.id: r.duty for r in self.scenario.role_info}
        for role in self.scenario.roles:
            who = ", ".join(players.get(role, [])) or ("simulated" if self.mode == "solo" else "open")
            text.append(f"• {one_line(self.scenario.role_title(role))}", style="bold")
            text.append(f" — {one_line(who)}\n")
            if duties.get(role):
                first = duties[role].split(". ")[0].rstrip(".") + "."
                text.append(f"  {one_line(first)}\n", style="dim")
        return text

    def _controls(self) -> Text:
        text = Text.assemble(("Controls\n", "bold"))
        for key, does in CONTROLS:
            text.append(f"{key:>7}  ", style="bold")
            text.append(does + "\n")
        return text

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_join_link":
            return self.join is not None
        return True

    def action_start(self) -> None:
        cast(ConsoleApp, self.app).begin_exercise()

    def action_copy_join_link(self) -> None:
        if self.join is not None:
            self.app.copy_to_clipboard(self.join.link)
            self.notify("The browser players' link is on the clipboard.", title="Copied")
