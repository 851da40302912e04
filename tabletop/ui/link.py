"""Drives an engine Session from the console: every call on one worker thread, events back as messages."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Protocol

from textual.message import Message


class SessionEvent(Message):
    """A transcript event the engine has made durable, delivered to a screen or the app."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event

    @property
    def type(self) -> str:
        return self.event.get("type", "")


class EventTarget(Protocol):
    def post_message(self, message: Message) -> bool: ...


class SessionLink:
    """The console's handle on a running session.

    The engine fsyncs every event before acknowledging it, so its calls are kept off the UI
    thread: each one runs, in order, on a single worker thread and is awaited from the UI.
    Events reach attached screens as `SessionEvent` messages, after they are durable. The
    network host and a remote player's link offer the same coroutine methods.
    """

    def __init__(self, session: Any, clock: Any, scenario: Any) -> None:
        self.session = session
        self.clock = clock
        self.scenario = scenario
        self.events: list[dict[str, Any]] = []
        self._targets: list[EventTarget] = []
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
            seen = {e.get("seq") for e in self.events}
            self.events[:0] = [e for e in events if e.get("seq") not in seen]

    def _on_event(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)
            targets = list(self._targets)
        for target in targets:
            target.post_message(SessionEvent(event))

    def attach(self, target: EventTarget) -> list[dict[str, Any]]:
        """Deliver future events to `target`; returns the events so far, to replay."""
        with self._lock:
            if target not in self._targets:
                self._targets.append(target)
            return list(self.events)

    def detach(self, target: EventTarget) -> None:
        with self._lock:
            if target in self._targets:
                self._targets.remove(target)

    @property
    def ended(self) -> bool:
        return any(e.get("type") == "session_ended" for e in self.events)

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
    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn` on the session thread and await its result (exceptions propagate)."""
        if self._closed:
            raise RuntimeError("the session link is closed")
        return await asyncio.wrap_future(self._executor.submit(fn, *args, **kwargs))

    async def start(self) -> None:
        """Let the held clock run and start the session (a resumed one is already started)."""

        def begin() -> None:
            if not getattr(self.session, "started", False):
                self.session.start()  # at the held time, so what is due at T+0 is released at T+0
            if self.held:
                self.held = False
                self.clock.resume()

        await self.call(begin)

    async def tick(self) -> Any:
        return await self.call(self.session.tick)

    async def decide(self, role: str, action: str, **kwargs: Any) -> Any:
        return await self.call(self.session.decide, role, action, **kwargs)

    async def note(self, role: str, text: str, **kwargs: Any) -> Any:
        return await self.call(self.session.note, role, text, **kwargs)

    async def pause(self) -> Any:
        return await self.call(self.session.pause)

    async def resume(self) -> Any:
        return await self.call(self.session.resume)

    async def set_speed(self, speed: float) -> Any:
        return await self.call(self.session.set_speed, speed)

    async def trigger_now(self, inject_id: str) -> Any:
        return await self.call(self.session.trigger_now, inject_id)

    async def skip(self, inject_id: str) -> Any:
        return await self.call(self.session.skip, inject_id)

    async def add_inject(self, title: str, body: str, channel: str, to: list[str], from_: str) -> Any:
        return await self.call(self.session.add_inject, title, body, channel, to, from_)

    async def end(self) -> Any:
        return await self.call(self.session.end)

    async def upcoming(self) -> list[dict[str, Any]]:
        return await self.call(self.session.upcoming)

    async def pending_tasks(self, role: str) -> list[Any]:
        return await self.call(self.session.pending_tasks, role)

    async def complete_task(self, delegation_id: str, **kwargs: Any) -> Any:
        return await self.call(self.session.complete_task, delegation_id, **kwargs)

    def close(self, close_transcript: bool = True) -> None:
        """Finish queued calls (so nothing acknowledged is lost), stop the worker, close the file."""
        if not self._closed:
            self._closed = True
            self._executor.shutdown(wait=True)
            writer = getattr(self.session, "writer", None)
            if close_transcript and writer is not None and hasattr(writer, "close"):
                writer.close()
