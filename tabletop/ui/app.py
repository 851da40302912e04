"""The console App and `make_console`, the one composition function the CLI and the tests call."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from textual import on
from textual.app import SystemCommand
from textual.binding import Binding
from textual.notifications import Notification, Notify
from textual.screen import Screen

from tabletop import sessions
from tabletop.clock import Clock, ScaledClock
from tabletop.engine import Mode, Participant
from tabletop.model import Scenario
from tabletop.port import SessionPort
from tabletop.sessions import Seat, SessionSetupError
from tabletop.ui.link import SessionEvent, SessionLink, lost_connection_notice
from tabletop.ui.settling import Settling
from tabletop.ui.widgets.join_panel import JoinDetails
from tabletop.untrusted import safe

INTERRUPTED = 130
"""The exit status after ctrl+c (128 + SIGINT), as a shell reports an interrupted program."""


@dataclass(frozen=True)
class ConsoleSettings:
    """How this console runs: who is at the keyboard and what they may see and do."""

    role: str = "coordinator"
    name: str = "Player"
    mode: str = "solo"
    hints: bool = False
    auto_pause: bool = False
    facilitate: bool = False
    transcript: Path | None = None
    resumed: bool = False
    speed: float | None = None
    """A speed asked for on the command line; a resumed session is set to it when it starts."""
    tick_interval: float | None = 60.0
    """None: time is driven by the caller (tests in virtual time, a remote session whose host
    drives it). Otherwise the console's clock loop releases what falls due as it falls due
    (`SessionLink.run_clock`), sleeping at most this many seconds between looks."""
    generated_at: datetime | None = None
    open_url: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class ConsoleOutcome:
    """What the CLI prints after the console closes."""

    transcript: Path | None
    ended: bool
    report: Path | None = None


class TabletopConsole(Settling[ConsoleOutcome]):
    """Lobby, then the exercise (player or facilitator), then the debrief.

    `settled()` (from `tabletop.ui.settling.Settling`) waits until the work the console
    started has finished; `notices` lists the notifications it has shown."""

    CSS_PATH = "console.tcss"
    TITLE = "tabletop"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (170, "-wide")]
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+c", "interrupt", "Quit", show=False),
    ]

    def __init__(
        self, link: SessionPort, settings: ConsoleSettings, participants: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__()
        self.link = link
        self.scenario = link.scenario
        self.settings = settings
        self.participants = participants or []
        self.started = settings.resumed
        self.join: JoinDetails | None = None
        """How players join, when this console hosts a rehearsal over the network (set by the CLI)."""
        self.presence: Callable[[], list[dict[str, str]]] | None = None
        """Who has joined over the network so far (set by the CLI with `join`)."""
        self.debrief_shown = False
        self.hotwash_shown = False
        self._begun = False
        self._tick_failed = False
        self.notices: list[Notification] = []
        """Every notification shown since the start, oldest first (expired or cleared ones too)."""

    # flow ------------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        """The lobby is the first screen (no blank screen is painted before it)."""
        from tabletop.ui.screens.lobby import LobbyScreen

        resumed_at = self.link.now() if self.settings.resumed else None
        return LobbyScreen(
            self.scenario,
            self.participants,
            mode=self.settings.mode,
            resumed_at=resumed_at,
            join=self.join,
            link=self.link,
            seating=self.join is not None and not self.settings.resumed,
            presence=self.presence,
        )

    def on_mount(self) -> None:
        self.link.attach(self)

    def begin_exercise(self) -> None:
        """Start (or resume) once, however often the start key is pressed."""
        if not self._begun:
            self._begun = True
            self.run_worker(self._begin(), group="begin")

    async def _begin(self) -> None:
        from tabletop.ui.screens.lobby import LobbyScreen

        lobby = self.screen
        if isinstance(lobby, LobbyScreen) and lobby.seating and isinstance(self.link, SessionLink):
            try:  # as the facilitator seated the roles: in the room, or simulated until someone joins
                await self.link.seat(lobby.seats())  # type: ignore[arg-type]
            except SessionSetupError as error:
                self.notify(str(error), title="Not seated", severity="error")
            self.participants = [p.to_json() for p in self.link.session.participants]
        await self.link.start()
        self.started = True
        if self.link.ended:
            self.show_debrief()
            return
        speed = self.settings.speed
        if self.settings.resumed and speed is not None and abs(self.link.speed - speed) > 1e-9:
            await self.link.set_speed(speed)  # --speed given again with --resume
        if self.has_player:
            self.install_screen(self.player_screen(), "player")
        if self.settings.facilitate:
            self.install_screen(self.facilitator_screen(), "facilitator")
            self.push_screen("facilitator")
        else:
            self.push_screen("player")
        if self.settings.tick_interval:
            self.drive_clock()

    def drive_clock(self) -> None:
        """Run the session's clock loop: woken at the next due time, or by a call, never polled."""

        def failed(error: Exception) -> None:
            self._tick_failed = True
            self.notify(f"The session stopped: {error}", severity="error", timeout=30)

        link = self.link
        if isinstance(link, SessionLink):
            self.run_worker(
                link.run_clock(self.settings.tick_interval, on_error=failed),
                group="clock",
                exit_on_error=False,
            )

    @property
    def has_player(self) -> bool:
        return not self.settings.facilitate or self.settings.mode == "solo"

    def player_screen(self) -> Screen:
        from tabletop.ui.screens.player import PlayerScreen

        s = self.settings
        return PlayerScreen(
            self.link,
            self.scenario,
            role=s.role,
            name=s.name,
            hints=s.hints and s.mode == "solo",
            controls=s.mode == "solo",
            see_all=s.mode == "solo",
            can_switch=s.facilitate,
        )

    def facilitator_screen(self) -> Screen:
        from tabletop.ui.screens.facilitator import FacilitatorScreen

        played = [p["role"] for p in self.participants if not p.get("simulated")]
        roles = [r for r in self.scenario.roles if r in played] or list(self.scenario.roles)
        return FacilitatorScreen(
            self.link,
            self.scenario,
            name=self.settings.name,
            roles=roles,
            can_switch=self.has_player,
            join=self.join,
        )

    def switch_view(self) -> None:
        """Between the facilitator console and the player's screen (solo with --facilitate)."""
        current = self.screen
        from tabletop.ui.screens.facilitator import FacilitatorScreen

        if isinstance(current, FacilitatorScreen) and self.has_player:
            self.switch_screen("player")
        elif self.settings.facilitate:
            self.switch_screen("facilitator")

    async def tick(self) -> None:
        """Let the engine release what is due; runs on the session thread, never the UI's."""
        if self._tick_failed or self.link.ended:
            return
        try:
            await self.link.tick()
        except Exception as error:
            self._tick_failed = True
            self.notify(f"The session stopped: {safe(error)}", severity="error", timeout=30, markup=False)

    # tabletop.port.SessionListener: events arrive from the session's thread as messages
    def session_event(self, event: dict[str, Any]) -> None:
        self.post_message(SessionEvent(event))

    def session_lost(self, reason: str) -> None:
        self.notify(
            lost_connection_notice(reason), title="Offline", severity="error", timeout=30, markup=False
        )

    def session_notice(self, title: str, message: str, severity: str) -> None:
        """The connection to a remote session dropped (shown until it is back) or is back."""
        if severity == "information":
            self.clear_notifications()
        level = severity if severity in ("information", "warning", "error") else "information"
        self.notify(message, title=title, severity=level, timeout=5 if level == "information" else 3600)  # type: ignore[arg-type]

    @on(Notify)
    def _record_notice(self, message: Notify) -> None:
        self.notices.append(message.notification)

    def on_session_event(self, message: SessionEvent) -> None:
        if message.type == "session_ended" or (message.type == "hotwash_closed" and self.hotwash_shown):
            self.show_debrief()

    def _show(self, screen: Screen) -> None:
        """Put `screen` up in place of the exercise (or the hot wash), closing any dialog."""
        while len(self.screen_stack) > 1 and self.screen.is_modal:
            self.pop_screen()
        show = self.switch_screen if len(self.screen_stack) > 1 else self.push_screen
        show(screen)

    def show_hotwash(self) -> bool:
        """The hot wash after the end, when the scenario asks one (see `tabletop.ui.screens.hotwash`):
        a player answers (solo: then closes it), a facilitator watches answers arrive and closes
        it. False when this console has no hot wash to show."""
        from tabletop.ui.screens.hotwash import HotwashMonitor, HotwashScreen

        if self.hotwash_shown:
            return True
        if not self.link.hotwash_open or not self.link.hotwash_questions:
            return False
        s = self.settings
        screen: Screen
        if s.mode == "solo" or not s.facilitate:
            screen = HotwashScreen(
                self.link, self.scenario, role=s.role, name=s.name, closes=s.mode == "solo"
            )
        else:
            screen = HotwashMonitor(self.link, self.scenario, name=s.name)
        self.hotwash_shown = True
        self._show(screen)
        return True

    def show_debrief(self) -> None:
        from tabletop.ui.screens.debrief import DebriefScreen

        if self.debrief_shown or (self.link.hotwash_open and self.show_hotwash()):
            return
        self.debrief_shown = True
        self._show(
            DebriefScreen(
                self.scenario,
                list(self.link.events),
                self.settings.transcript,
                generated_at=self.settings.generated_at,
                open_url=self.settings.open_url,
            )
        )

    # commands --------------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every binding of the current screen, footer or not, then Textual's own commands."""
        seen: set[str] = set()
        for _key, active in screen.active_bindings.items():
            binding = active.binding
            if active.node is not screen or not active.enabled or not binding.description:
                continue
            if binding.action in seen:
                continue
            seen.add(binding.action)
            display = binding.key_display or self.get_key_display(binding)
            yield SystemCommand(
                binding.description,
                f"{binding.tooltip or binding.description} (key: {display})",
                partial(self.run_action, binding.action, active.node),
            )
        yield from super().get_system_commands(screen)

    # exit ------------------------------------------------------------------------------------
    def outcome(self) -> ConsoleOutcome:
        report = None
        if self.settings.transcript is not None and self.debrief_shown:
            from tabletop.report import postmortem_path

            candidate = postmortem_path(self.settings.transcript, "md")
            report = candidate if candidate.exists() else None
        return ConsoleOutcome(self.settings.transcript, self.link.ended, report)

    async def action_quit(self) -> None:
        await self.leave("quit")

    async def leave(self, reason: str) -> None:
        """Leave; a session that was running and did not end is recorded as interrupted
        (`reason`: "quit", or the signal that stopped the console), so it can be resumed."""
        if self.started and not self.link.ended:
            try:
                await self.link.interrupt(reason)
            except Exception:  # leaving must work even if the record cannot be written
                pass
        self.exit(self.outcome())

    async def action_interrupt(self) -> None:
        """ctrl+c: leave as an interrupted program does (status 130); the transcript is kept."""
        self.exit(self.outcome(), return_code=INTERRUPTED)

    def on_unmount(self) -> None:
        self.link.detach(self)
        self.link.close()


# --- composition ---------------------------------------------------------------------------


def _held(clock: ScaledClock) -> ScaledClock:
    """A new session's clock, stopped at T+0 from the start: it runs once the player starts
    (opening the session, loading keys, must not eat into the exercise's first seconds)."""
    clock.pause()
    return clock


def make_console(
    scenario: Scenario | str | Path | None = None,
    *,
    role: str = "coordinator",
    name: str = "Player",
    solo: bool = True,
    hints: bool = False,
    auto_pause: bool = False,
    facilitate: bool = False,
    speed: float | None = None,
    seed: int | None = None,
    resume: Path | None = None,
    out: Path | None = None,
    clock: Clock | None = None,
    tick_interval: float | None = 60.0,
    generated_at: datetime | None = None,
    open_url: Callable[[str], bool] | None = None,
    seats: Mapping[str, Seat] | Seat | None = None,
) -> TabletopConsole:
    """Open (or resume) the session with `tabletop.sessions` and build the App around it.

    `scenario` is a Scenario, or a reference for the loader (an id or a path). Tests pass a
    VirtualClock as `clock` and `tick_interval=None`, then drive time themselves. The clock is
    held still in the lobby and runs from the moment the player starts. `seats` says who plays
    each role (see `tabletop.sessions`); without it a solo run simulates the other roles and a
    team rehearsal in one room seats every role in the room. A networked host passes every
    role as `player`: roles are played by the people who join. `auto_pause` (solo) stops the
    clock when an inject arrives that expects the player's own action; `tabletop run --solo`
    turns it on unless `--no-auto-pause`.
    """
    sessions.check_speed(speed)
    mode: Mode
    if resume is not None:
        opened = sessions.resume_session(
            resume, clock=clock or ScaledClock(speed or 60.0), scenario=scenario, auto_pause=auto_pause
        )
        session = opened.session
        mode = "solo" if session.mode == "solo" else "team"
        players = [p for p in session.participants if not p.simulated]
        if mode == "solo" and players:
            role, name = players[0].role, players[0].name
    else:
        if scenario is None:
            raise SessionSetupError("give a SCENARIO to run, or --resume TRANSCRIPT")
        scenario_obj, shown = sessions.load_scenario(scenario, seed)
        if role not in scenario_obj.roles:
            raise SessionSetupError(
                f"--role: role {role!r} is not in scenario {scenario_obj.id!r}; "
                f"expected one of: {', '.join(scenario_obj.roles)}"
            )
        mode = "solo" if solo else "team"
        if seats is None and mode == "team":
            seats = "room"  # a facilitated rehearsal in one room: the facilitator records for every role
        opened = sessions.open_session(
            scenario_obj,
            mode=mode,
            players=[Participant(name, role)] if mode == "solo" else [],
            seats=seats,
            solo_role=role if mode == "solo" else None,
            seed=seed,
            speed=speed,
            clock=clock or _held(ScaledClock(speed or scenario_obj.speed)),
            transcript=out,
            scenario_path=shown,
            hints=hints and mode == "solo",
            auto_pause=auto_pause and mode == "solo",
        )
        session = opened.session
    link = SessionLink(session, session.clock, session.scenario)
    link.preload(session.events)
    link.hold()
    settings = ConsoleSettings(
        role=role,
        name=name,
        mode=mode,
        hints=hints,
        auto_pause=auto_pause,
        facilitate=facilitate or mode == "team",
        transcript=opened.transcript,
        resumed=opened.resumed,
        speed=speed,
        tick_interval=tick_interval,
        generated_at=generated_at,
        open_url=open_url,
    )
    participants = [p.to_json() for p in session.participants]
    return TabletopConsole(link, settings, participants)
