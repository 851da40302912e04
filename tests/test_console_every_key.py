"""Every screen the facilitator console can reach, every tab clicked, every bound key pressed.

The walk is driven by the screens' own bindings: each screen reached is a station; at a
station every key bound on it (the screen's BINDINGS, the App's and the focused widget's) is
pressed in turn, each tab of every TabbedContent is clicked with the mouse, and any new screen
of ours that a key opens becomes a station too. A binding or a screen added later is walked
without touching this file. Nothing may raise. The scenario and the names are hostile (markup
and escape sequences after every text): no station may let one reach the terminal raw.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from console_support import (
    HOSTILE,
    assert_nothing_raw_reaches_the_terminal,
    drill_scenario,
    hostile_drill,
    settle,
    terminal_output,
)
from textual.app import App
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import TabbedContent

import tabletop.ui.screens.debrief as debrief_screens
import tabletop.ui.screens.dialogs as dialog_screens
import tabletop.ui.screens.facilitator as facilitator_screens
import tabletop.ui.screens.hotwash as hotwash_screens
import tabletop.ui.screens.lobby as lobby_screens
import tabletop.ui.screens.player as player_screens
from tabletop.clock import VirtualClock
from tabletop.ui.app import TabletopConsole, make_console
from tabletop.ui.screens.facilitator import FacilitatorScreen
from tabletop.ui.screens.lobby import LobbyScreen
from tabletop.ui.widgets.join_panel import JoinDetails
from tabletop.ui.widgets.participants import Participants

SIZE = (80, 24)
QUITS = ("quit", "app.quit", "interrupt", "app.interrupt")
"""Actions that leave the console (ctrl+q quits, ctrl+c interrupts): pressed last."""


@dataclass
class Start:
    """How a console is built and made ready, and the screens its walk covers: those are
    walked (every key pressed), any other screen a key opens is only opened. Together the
    starts cover every screen; each walks the ones only it can reach, or reaches differently."""

    name: str
    build: Callable[[Any], TabletopConsole]
    reaches: set[str]
    prepare: Callable[[TabletopConsole], Any] | None = None
    path: tuple[str, ...] = ()
    """Keys pressed before the walk starts."""


@dataclass
class Walk:
    """What a walk reached and pressed."""

    stations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pressed: dict[str, set[str]] = field(default_factory=dict)
    tabs: dict[str, set[str]] = field(default_factory=dict)


def ours(node: DOMNode) -> bool:
    return type(node).__module__.startswith("tabletop.")


def bound_keys(screen: Screen) -> list[str]:
    """Every key bound on the screen (its class's BINDINGS, inherited ones included), on the App,
    and on the focused widget when that widget is one of ours (a text field's editing keys are
    Textual's own business, but its enter, which submits, is pressed); in a stable order,
    quitting keys last."""
    keys: dict[str, None] = {}
    for key in screen._bindings.key_to_bindings:
        keys[key] = None
    for key in screen.app._bindings.key_to_bindings:
        keys[key] = None
    for key, active in screen.active_bindings.items():
        if active.node is screen or active.node is screen.app or ours(active.node) or key == "enter":
            keys[key] = None
    quits = [k for k in keys if any(b.action in QUITS for b in all_bindings(screen, k))]
    return [k for k in keys if k not in quits] + quits


def all_bindings(screen: Screen, key: str) -> list[Any]:
    found = list(screen._bindings.key_to_bindings.get(key, []))
    found += screen.app._bindings.key_to_bindings.get(key, [])
    active = screen.active_bindings.get(key)
    if active is not None:
        found.append(active.binding)
    return found


async def step(app: App, pilot: Any) -> None:
    """Let what a key started run: the session call it made and the messages that follow.
    Timers it set (a rescore, an MSEL refresh) run while the next keys are pressed; a failure
    in one is caught at the next check, and each station ends with a full settle."""
    if not app.link._closed:
        await app.link.call(lambda: None)
    await pilot.pause()
    await pilot.pause()


def station_name(screen: Screen, opener: str) -> str:
    """A screen and the action that opened it: the same dialog asks different things (skip an
    inject, end the exercise), and each is walked."""
    name = type(screen).__name__
    return f"{name}@{opener}" if screen.is_modal and opener else name


def failure(app: App) -> BaseException | None:
    return getattr(app, "_exception", None)


async def click_every_tab(app: App, pilot: Any, screen: Screen, walk: Walk, where: str) -> None:
    """Click each tab of every TabbedContent on the screen, with the mouse, and let it render."""
    for tabs in screen.query(TabbedContent):
        for pane in tabs.query("TabPane"):
            await pilot.click(f"#--content-tab-{pane.id}")
            await pilot.pause()
            assert failure(app) is None, f"{where}: clicking tab {pane.id!r} raised {failure(app)!r}"
            assert tabs.active == pane.id, f"{where}: clicking tab {pane.id!r} did not open it"
            walk.tabs.setdefault(type(screen).__name__, set()).add(pane.id)


@dataclass
class Station:
    """A screen being walked, and how to get back to it when a key closes it."""

    app: Any
    pilot: Any
    screen: Screen
    below: Screen | None
    """The screen it was opened over (None for the first screen)."""
    again: tuple[str, ...]
    """The keys that open it again from `below`."""


async def walk_console(start: Start, tmp_path: Any) -> Walk:
    """Breadth-first over the screens of ours reached by bound keys. A key that closes the
    screen being walked is followed by the keys that open it again; when that cannot be done
    (a switch to another screen, the debrief, quitting) a fresh console is built."""
    walk = Walk()
    queue: deque[tuple[tuple[str, ...], str]] = deque([(start.path, "")])
    queued: set[str] = set()
    runs = 0

    async with contextlib.AsyncExitStack() as stack:

        async def fresh(path: tuple[str, ...]) -> Station:
            nonlocal runs
            runs += 1
            await stack.aclose()
            app = start.build(tmp_path / f"{start.name}-{runs}.jsonl")
            pilot = await stack.enter_async_context(app.run_test(size=SIZE))
            await pilot.pause()
            if start.prepare is not None:
                await start.prepare(app)
            shown = [app.screen]
            for key in path:
                await pilot.press(key)
                await settle(app, pilot)
                assert failure(app) is None, f"{start.name}: {' '.join(path)} raised {failure(app)!r}"
                shown.append(app.screen)
            below = app.screen_stack[-2] if len(app.screen_stack) > 1 else None
            at = max((i for i, screen in enumerate(shown) if screen is below), default=len(path))
            return Station(app, pilot, app.screen, below, path[at:])

        async def back(here: Station, path: tuple[str, ...]) -> Station:
            app, pilot = here.app, here.pilot
            if app.is_running and here.below is not None and here.below in app.screen_stack:
                while app.screen is not here.below:
                    app.pop_screen()
                    await pilot.pause()
                for key in here.again:
                    await pilot.press(key)
                    await step(app, pilot)
                if type(app.screen) is type(here.screen) and failure(app) is None:
                    return dataclasses.replace(here, screen=app.screen)
            return await fresh(path)

        while queue:
            path, opener = queue.popleft()
            here = await fresh(path)
            name = station_name(here.screen, opener)
            walk.stations[name] = path
            where = f"{start.name}: {name} (keys {' '.join(path) or '-'})"
            assert_nothing_raw_reaches_the_terminal(terminal_output(here.app), where)
            await click_every_tab(here.app, here.pilot, here.screen, walk, where)
            for key in bound_keys(here.screen):
                if here.app.screen is not here.screen:
                    here = await back(here, path)
                app, pilot, station = here.app, here.pilot, here.screen
                action = next((b.action for b in all_bindings(station, key)), key)
                await pilot.press(key)
                await step(app, pilot)
                walk.pressed.setdefault(name, set()).add(key)
                assert failure(app) is None, f"{where}: key {key!r} raised {failure(app)!r}"
                if not app.is_running:
                    continue
                reached = app.screen
                if (
                    reached is not station
                    and type(reached).__name__ in start.reaches
                    and station_name(reached, action) not in queued
                ):
                    queued.add(station_name(reached, action))
                    queue.append(((*path, key), action))
                if station in app.screen_stack:
                    while app.screen is not station:  # close what the key opened, keep the station
                        app.pop_screen()
                        await pilot.pause()
            if here.app.is_running:
                await settle(here.app, here.pilot)
                assert failure(here.app) is None, f"{where}: after the last key: {failure(here.app)!r}"
                if here.app.screen is here.screen:
                    await click_every_tab(here.app, here.pilot, here.screen, walk, f"{where} after every key")
                    assert_nothing_raw_reaches_the_terminal(
                        terminal_output(here.app), f"{where} after every key"
                    )
        await stack.aclose()
    return walk


def screen_classes(*modules: Any) -> set[str]:
    return {
        name
        for module in modules
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and issubclass(cls, Screen) and cls.__module__ == module.__name__
    }


def console_for(solo: bool) -> Callable[[Any], TabletopConsole]:
    def build(out: Any) -> TabletopConsole:
        return make_console(
            hostile_drill(),
            out=out,
            clock=VirtualClock(),
            tick_interval=None,
            name="Fran" + HOSTILE,
            solo=solo,
            facilitate=True,
            open_url=lambda url: True,
        )

    return build


def hosting(out: Any) -> TabletopConsole:
    """The console `tabletop host` runs: roles seated in the lobby, how players join on screen."""
    app = make_console(
        hostile_drill(),
        out=out,
        clock=VirtualClock(),
        tick_interval=None,
        name="Fran" + HOSTILE,
        solo=False,
        facilitate=True,
        seats="player",
        open_url=lambda url: True,
    )
    app.join = JoinDetails(
        link="http://host.example:8765/join?token=tok",
        command="tabletop join ws://host.example:8765/ws --token tok --role ROLE --name NAME",
        token="tok",
        room="http://host.example:8765/room/key",
    )
    app.presence = lambda: [{"name": "Priya" + HOSTILE, "role": "dpo"}]
    return app


def team_player(out: Any) -> TabletopConsole:
    """A team player's console (as `join` shows it), with a task delegated to them waiting."""
    app = make_console(hostile_drill(), out=out, clock=VirtualClock(), tick_interval=None, solo=False)
    app.settings = dataclasses.replace(app.settings, facilitate=False, role="dpo", name="Priya" + HOSTILE)
    return app


async def delegate_to_dpo(app: TabletopConsole) -> None:
    await app.link.start()
    await app.link.decide(
        "coordinator",
        "notify_controller",
        by="Sam" + HOSTILE,
        delegate_to="dpo",
        timebox=3600,
        rationale=HOSTILE,
    )
    await app.link.note("dpo", "Noted" + HOSTILE, by="Priya" + HOSTILE)


def hotwash_drill() -> Any:
    """The hostile drill with hostile hot-wash questions of every kind."""
    from tabletop.model import HotwashQuestion

    return hostile_drill().model_copy(
        update={
            "hotwash": [
                HotwashQuestion(question="What went well?" + HOSTILE, kind="worked"),
                HotwashQuestion(question="What would you change?" + HOSTILE, kind="change"),
                HotwashQuestion(question="Anything else?" + HOSTILE),
            ]
        }
    )


def hotwash_console(solo: bool) -> Callable[[Any], TabletopConsole]:
    def build(out: Any) -> TabletopConsole:
        return make_console(
            hotwash_drill(),
            out=out,
            clock=VirtualClock(),
            tick_interval=None,
            name="Fran" + HOSTILE,
            solo=solo,
            facilitate=not solo,
            open_url=lambda url: True,
        )

    return build


async def end_with_answers(app: TabletopConsole) -> None:
    """Started, a player joined for the DPO, ended, and hostile answers given."""
    await app.link.start()
    questions = app.link.hotwash_questions
    if app.settings.mode == "solo":
        await app.link.end()
        await app.link.answer_hotwash(app.settings.role, questions[0], "Well" + HOSTILE, by=app.settings.name)
        return
    await app.link.call(app.link.session.set_role, "Priya" + HOSTILE, "dpo")  # type: ignore[attr-defined]
    await app.link.end()
    await app.link.answer_hotwash("dpo", questions[2], "Said" + HOSTILE, by="Priya" + HOSTILE)


FACILITATOR_SCREENS = {
    "LobbyScreen",
    "FacilitatorScreen",
    "ConfirmDialog",
    "ActionPalette",
    "DecisionForm",
    "NoteDialog",
    "AdhocInjectDialog",
    "DebriefScreen",
    "MarkdownScreen",
}

STARTS = [
    Start("facilitator", console_for(solo=False), FACILITATOR_SCREENS),
    # the facilitator's dialogs and the debrief are walked above; here the views and the switch
    Start("solo-facilitate", console_for(solo=True), {"LobbyScreen", "FacilitatorScreen", "PlayerScreen"}),
    # hosting: the lobby seats the roles and shows how to join; the facilitator has a Join tab
    Start("hosting", hosting, {"LobbyScreen", "FacilitatorScreen"}),
    # a team player's console, as `join` shows it: the tasks others hand them, their own dialogs
    Start(
        "team-player",
        team_player,
        {"PlayerScreen", "ActionPalette", "NoteDialog", "TaskPicker", "DecisionForm"},
        delegate_to_dpo,
        path=("enter",),
    ),
    # the hot wash: a solo player answers and closes it; a facilitator watches and records the room
    Start("hotwash-solo", hotwash_console(solo=True), {"HotwashScreen"}, end_with_answers, path=("enter",)),
    Start(
        "hotwash-facilitator",
        hotwash_console(solo=False),
        {"HotwashMonitor", "HotwashAnswerDialog"},
        end_with_answers,
        path=("enter",),
    ),
]


def test_the_walks_start_from_every_screen_of_the_console() -> None:
    """A screen left out of every walk would go untested: each must be named by a start."""
    modules = (
        lobby_screens,
        facilitator_screens,
        player_screens,
        dialog_screens,
        debrief_screens,
        hotwash_screens,
    )
    named = set().union(*(start.reaches for start in STARTS))
    assert screen_classes(*modules) - {"ExerciseScreen"} == named


@pytest.mark.parametrize("start", STARTS, ids=[s.name for s in STARTS])
async def test_every_screen_every_tab_every_key(start: Start, tmp_path: Any) -> None:
    walk = await walk_console(start, tmp_path)
    reached = {name.split("@")[0] for name in walk.stations}
    assert start.reaches <= reached, f"not reached: {start.reaches - reached}"
    modules = (
        lobby_screens,
        facilitator_screens,
        player_screens,
        dialog_screens,
        debrief_screens,
        hotwash_screens,
    )
    classes = {n: c for m in modules for n, c in vars(m).items() if inspect.isclass(c)}
    for name, path in walk.stations.items():
        for binding in getattr(classes.get(name.split("@")[0]), "BINDINGS", []):
            for key in binding.key.split(","):
                assert key.strip() in walk.pressed[name], f"{name} ({path}): key {key!r} not pressed"
    if "FacilitatorScreen" in walk.stations:
        hosted = {"tab-join"} if start.build is hosting else set()
        assert walk.tabs["FacilitatorScreen"] == {"tab-score", "tab-room", "tab-questions"} | hosted


async def test_clicking_the_room_tab_with_the_mouse_shows_the_room(tmp_path: Any) -> None:
    app = make_console(
        drill_scenario(), out=tmp_path / "room.jsonl", clock=VirtualClock(), tick_interval=None, solo=False
    )
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, LobbyScreen)
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, FacilitatorScreen)
        await pilot.click("#--content-tab-tab-room")
        await settle(app, pilot)
        assert screen.query_one(TabbedContent).active == "tab-room"
        room = screen.query_one(Participants)
        assert room.region.height > 0, "the Room tab is open but the participants are not laid out"
        assert "Room" in str(room.render())
    assert app.return_code in (None, 0)
