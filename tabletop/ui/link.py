"""Drives an engine Session from the console: every call on one worker thread, events back as messages."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
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


MIN_SLEEP = 0.001
"""The shortest sleep of the clock loop: an item due a hair from now (a deadline is checked just
after it passes) waits a millisecond, not a spin of the event loop."""


async def _wait_for_change(changed: asyncio.Event, seconds: float | None) -> None:
    """Until `changed` is set, or `seconds` have passed (None: no time limit)."""
    try:
        await asyncio.wait_for(changed.wait(), seconds)
    except TimeoutError:
        pass


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
        self._changed: asyncio.Event | None = None
        self.held = False
        self.wakeups = 0
        """How often `run_clock` woke to release what fell due (a benchmark reads it)."""
        session.subscribe(self._on_event)

    def hold(self) -> None:
        """Stop the clock while nobody is playing yet (the lobby); `start` lets it run."""
        if not self.clock.paused:
            self.clock.pause()
            self.held = True
        elif not self.session.started:  # a new session's clock, stopped until the start
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

    @property
    def hotwash_questions(self) -> list[str]:
        return self.scenario.hotwash_questions()

    @property
    def hotwash_open(self) -> bool:
        """Read from the events this link has delivered, so it agrees with what screens saw."""
        if not self.session.has_hotwash or not self.ended:
            return False
        return not any(e.get("type") == "hotwash_closed" for e in self._events)

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
        """Run `fn` on the session thread and await its result (exceptions propagate).

        A call may change what is due next (a decision brings a response, a resume restarts
        the clock): `run_clock` wakes to look again once it returns.
        """
        try:
            return await self._query(fn, *args, **kwargs)
        finally:
            if self._changed is not None:
                self._changed.set()

    async def _query(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`call` for what only reads, or only releases what is already due: no wake-up."""
        if self._closed:
            raise RuntimeError("the session link is closed")
        return await asyncio.wrap_future(self._executor.submit(fn, *args, **kwargs))

    # the clock ------------------------------------------------------------------------------
    def _seconds_to_next_due(self) -> float | None:
        """Wall seconds until the session's next scheduled item or clock checkpoint (None:
        nothing will fall due by itself, e.g. paused, or a virtual clock, or nothing left)."""
        times = [t for t in (self.session.next_due(), self.session.next_checkpoint()) if t is not None]
        due = min(times) if times else None
        seconds_until = getattr(self.clock, "seconds_until", None)
        if due is None or seconds_until is None:
            return None
        wait: float | None = seconds_until(due)
        if wait is None or wait <= 0:
            return wait
        return max(wait, MIN_SLEEP)

    async def run_clock(
        self,
        ceiling: float | None = None,
        on_error: Callable[[Exception], None] | None = None,
        wait: Callable[[asyncio.Event, float | None], Awaitable[None]] | None = None,
    ) -> None:
        """Release what falls due, as it falls due, until the session ends or the link closes.

        Sleeps until the next item is due on the clock, or until a call (a decision, a pause,
        a resume, a speed change...) may have changed that; never longer than `ceiling` seconds
        when given. Nothing is polled: an idle, paused session does not wake at all. `wait`
        (tests) replaces the sleep: it is given the event a call sets and the seconds to wait.
        """
        self._changed = asyncio.Event()
        sleep = wait or _wait_for_change
        while not self._closed and not self.ended:
            delay = await self._query(self._seconds_to_next_due)
            if ceiling is not None:
                delay = ceiling if delay is None else min(delay, ceiling)
            await sleep(self._changed, delay)
            self._changed.clear()
            if self._closed:
                break
            self.wakeups += 1
            try:
                await self.tick()
            except Exception as error:
                if on_error is None:
                    raise
                on_error(error)
                return

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
        """Release what is due now."""
        return await self._query(self.session.tick)

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

    async def answer_hotwash(self, role: str, question: str, text: str, *, by: str) -> Event:
        return await self.call(self.session.answer_hotwash, role, by, question, text)

    async def close_hotwash(self, *, by: str, reason: str = "facilitator") -> Event:
        return await self.call(self.session.close_hotwash, reason, by=by)

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
        return await self._query(self.session.upcoming)

    async def pending_tasks(self, role: str) -> list[Event]:
        return await self._query(self.session.pending_tasks, role)

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
            if self._changed is not None:
                self._changed.set()  # run_clock stops
            self._executor.shutdown(wait=True)
            if close_transcript:
                self.session.writer.close()


if TYPE_CHECKING:  # the type checker holds the link to the port the screens use

    def _implements_the_port(link: SessionLink) -> SessionPort:
        return link
