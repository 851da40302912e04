"""Drives an engine Session from the console: every call on one worker thread, events back as messages."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from textual.message import Message

from tabletop.clock import Clock
from tabletop.engine import Session
from tabletop.model import Scenario
from tabletop.port import Event, SessionListener, SessionPort
from tabletop.sessions import Seat, reseat
from tabletop.untrusted import one_line

T = TypeVar("T")


class SessionEvent(Message):
    """A transcript event the engine has made durable, delivered to a screen or the app."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event

    @property
    def type(self) -> str:
        return str(self.event.get("type", ""))


def lost_connection_notice(reason: str) -> str:
    """What a console says when the session it follows is out of reach."""
    return f"Disconnected from the host: {one_line(reason)}"


class SessionLink:
    """The console's handle on a running session.

    The engine fsyncs every event before acknowledging it, so its calls are kept off the UI
    thread: each one runs, in order, on a single worker thread and is awaited from the UI.
    Events reach attached listeners after they are durable. It implements
    `tabletop.port.SessionPort`, as a remote player's `RemoteSession` does.
    """

    def __init__(self, session: Session, clock: Clock, scenario: Scenario) -> None:
        self.session = session
        self.clock = clock
        self.scenario = scenario
        self._events: list[Event] = []
        self._targets: list[SessionListener] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tabletop-session")
        self._closed = False
        self.held = False
        session.subscribe(self._on_event)

    def hold(self) -> None:
        """Stop the clock while nobody is playing yet (the lobby); `start` lets it run."""
        if not self.clock.paused:
            self.clock.pause()
            self.held = True

    # events ---------------------------------------------------------------------------------
    def preload(self, events: list[dict[str, Any]]) -> None:
        """Events already in the transcript before this link existed (a resumed session)."""
        with self._lock:
            seen = {e.get("seq") for e in self._events}
            self._events[:0] = [e for e in events if e.get("seq") not in seen]

    @property
    def events(self) -> list[Event]:
        return self._events

    def _on_event(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            targets = list(self._targets)
        for target in targets:
            target.session_event(event)

    def attach(self, target: SessionListener) -> list[Event]:
        """Deliver future events to `target`; returns the events so far, to replay."""
        with self._lock:
            if target not in self._targets:
                self._targets.append(target)
            return list(self._events)

    def detach(self, target: SessionListener) -> None:
        with self._lock:
            if target in self._targets:
                self._targets.remove(target)

    @property
    def ended(self) -> bool:
        return any(e.get("type") == "session_ended" for e in self._events)

    # time -----------------------------------------------------------------------------------
    def now(self) -> float:
        return float(self.clock.now())

    @property
    def paused(self) -> bool:
        return bool(getattr(self.clock, "paused", False)) and not self.held

    @property
    def speed(self) -> float:
        return float(getattr(self.clock, "speed", 1.0))

    # calls ----------------------------------------------------------------------------------
    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the session thread and await its result (exceptions propagate)."""
        if self._closed:
            raise RuntimeError("the session link is closed")
        return await asyncio.wrap_future(self._executor.submit(fn, *args, **kwargs))

    async def start(self) -> None:
        """Let the held clock run and start the session (a resumed one is already started)."""

        def begin() -> None:
            if not self.session.started:
                self.session.start()  # at the held time, so what is due at T+0 is released at T+0
            if self.held:
                self.held = False
                if not self.session.pause_recorded:  # an inject at T+0 may have paused it for the player
                    self.clock.resume()

        await self.call(begin)

    async def tick(self) -> list[Event]:
        return await self.call(self.session.tick)

    async def decide(
        self,
        role: str,
        action: str,
        *,
        by: str,
        fields: dict[str, Any] | None = None,
        rationale: str = "",
        inject: str | None = None,
        delegate_to: str | None = None,
        timebox: int | str | None = None,
    ) -> Event:
        return await self.call(
            self.session.decide,
            role,
            action,
            by=by,
            fields=fields,
            rationale=rationale,
            inject=inject,
            delegate_to=delegate_to,
            timebox=timebox,
        )

    async def note(self, role: str, text: str, *, by: str, inject: str | None = None) -> Event:
        return await self.call(self.session.note, role, text, by=by, inject=inject)

    async def pause(self) -> Event:
        return await self.call(self.session.pause)

    async def resume(self) -> Event:
        return await self.call(self.session.unpause)

    async def set_speed(self, speed: float) -> Event:
        return await self.call(self.session.set_speed, speed)

    async def trigger_now(self, inject_id: str) -> Event:
        return await self.call(self.session.trigger_now, inject_id)

    async def skip(self, inject_id: str) -> Event:
        return await self.call(self.session.skip, inject_id)

    async def add_inject(self, title: str, body: str, channel: str, to: list[str], from_: str) -> Event:
        return await self.call(self.session.add_inject, title, body, channel, to, from_)

    async def end(self) -> Event:
        return await self.call(self.session.end)

    async def seat(self, seats: Mapping[str, Seat]) -> None:
        """Seat the roles anew before the start (the facilitator's lobby): see `sessions.reseat`."""
        await self.call(reseat, self.session, seats)

    async def interrupt(self, reason: str) -> Event | None:
        """Record that the session stopped without ending (`session_interrupted`): resumable."""

        def stop() -> Event | None:
            if self.session.started and not self.session.ended and not self.session.interrupted:
                return self.session.interrupt(reason)
            return None

        return await self.call(stop)

    async def facilitator_note(self, text: str, *, by: str) -> Event:
        """The facilitator's own note: recorded, never sent to players."""
        return await self.call(self.session.facilitator_note, text, by=by)

    async def upcoming(self) -> list[Event]:
        return await self.call(self.session.upcoming)

    async def pending_tasks(self, role: str) -> list[Event]:
        return await self.call(self.session.pending_tasks, role)

    async def complete_task(
        self,
        delegation_id: str,
        *,
        by: str,
        fields: dict[str, Any] | None = None,
        rationale: str = "",
    ) -> Event:
        return await self.call(
            self.session.complete_task, delegation_id, by=by, fields=fields, rationale=rationale
        )

    def close(self, close_transcript: bool = True) -> None:
        """Finish queued calls (so nothing acknowledged is lost), stop the worker, close the file."""
        if not self._closed:
            self._closed = True
            self._executor.shutdown(wait=True)
            if close_transcript:
                self.session.writer.close()


if TYPE_CHECKING:  # the type checker holds the link to the port the screens use

    def _implements_the_port(link: SessionLink) -> SessionPort:
        return link
