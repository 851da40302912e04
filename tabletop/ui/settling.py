"""Background work of the console: debounced refreshes, the message each posts when done, and idleness.

The console keeps its UI thread free: the live score is computed on a worker thread, the MSEL is
asked of the session, the debrief is scored and drafted on a worker thread, and a burst of
session events is gathered into one refresh (`Debounce`). Each of these posts a `WorkDone`
message (a subclass naming the job) once its result is on screen, which bubbles up to the App.

`Settling.settled()` is the App's answer to "has everything this console started finished?":
queued messages handled, no debounced refresh waiting, no worker running (the clock loop
aside). It wakes on those messages and on the workers' ends, never by polling, and raises
`StillBusy` (naming what is still going) when the time it is given runs out.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from textual import on
from textual.app import App
from textual.message import Message
from textual.message_pump import MessagePump
from textual.worker import Worker, WorkerCancelled, WorkerState

R = TypeVar("R")

BACKGROUND_GROUPS = frozenset({"clock"})
"""Worker groups that run for as long as the session does: `settled` does not wait for them."""


class WorkDone(Message):
    """A piece of background work has finished and what it produced is on screen.

    `job` names it: "rescore", "msel", "debrief", "briefing", "markdown". Screens and widgets
    post subclasses (e.g. `ExerciseScreen.Scored`); the message bubbles up to the App.
    """

    job = "work"

    def __init__(self) -> None:
        super().__init__()


class StillBusy(TimeoutError):
    """`settled` ran out of time: the message names what was still going."""


class Debounce:
    """Runs `callback` once, `delay` seconds after the first of a burst of `request`s.

    A delay of 0 runs it on the next turn of the owner's message loop: a Textual timer set to
    0 seconds never fires (its task fails on a division by zero), so one is never set.
    """

    def __init__(self, owner: MessagePump, delay: float, callback: Callable[[], Any], name: str) -> None:
        self.owner = owner
        self.delay = delay
        self.callback = callback
        self.name = name
        self.pending = False
        """True from a request until the callback has run."""

    def request(self) -> None:
        """Run the callback soon, once for however many requests arrive meanwhile."""
        if self.pending:
            return
        self.pending = True
        app = self.owner.app
        if isinstance(app, Settling):
            app.follow(self)
        if self.delay > 0:
            self.owner.set_timer(self.delay, self._fire)
        else:
            self.owner.call_later(self._fire)

    async def _fire(self) -> None:
        self.pending = False
        try:
            result = self.callback()
            if inspect.isawaitable(result):
                await result
        finally:
            app = self.owner.app
            if isinstance(app, Settling):
                app.wake()


def _ended(worker: Worker[Any]) -> asyncio.Future[Any]:
    """A future done when `worker` ends (with its failure, if it failed). Cancelling the future
    leaves the worker running: awaiting `Worker.wait` directly would cancel the worker with it."""
    waiting = asyncio.ensure_future(worker.wait())
    waiting.add_done_callback(lambda task: task.cancelled() or task.exception())  # retrieved, never logged
    return asyncio.shield(waiting)


class Settling(App[R]):
    """An App that can say when the work it started has finished (`settled`)."""

    SETTLE_TIMEOUT = 30.0
    """Seconds `settled` waits by default before it raises `StillBusy`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._debounces: list[Debounce] = []
        self._woken: asyncio.Event | None = None

    def follow(self, debounce: Debounce) -> None:
        """Count `debounce` as work in hand while it is pending (`Debounce.request` calls it)."""
        self._debounces = [d for d in self._debounces if d.owner.is_attached]
        if debounce not in self._debounces:
            self._debounces.append(debounce)

    def wake(self) -> None:
        """Something finished: a waiting `settled` looks again."""
        if self._woken is not None:
            self._woken.set()

    @on(WorkDone)
    def _work_done(self, message: WorkDone) -> None:
        self.wake()

    def busy(self) -> list[str]:
        """What is still going: pending debounced refreshes and running workers, by name."""
        pending = [d.name for d in self._debounces if d.pending and d.owner.is_attached]
        running = [w.group if w.group != "default" else w.name for w in self._running_workers()]
        return pending + running

    def _running_workers(self) -> list[Worker[Any]]:
        return [
            w
            for w in self.workers
            if w.state in (WorkerState.PENDING, WorkerState.RUNNING) and w.group not in BACKGROUND_GROUPS
        ]

    async def _drain(self) -> None:
        """Until every message queued so far for the App and its screens has been handled."""
        nodes: list[MessagePump] = [self]
        for screen in list(self.screen_stack):
            nodes.extend(screen.walk_children(with_self=True))
        marks: list[asyncio.Future[None]] = []
        loop = asyncio.get_running_loop()
        for node in nodes:
            mark: asyncio.Future[None] = loop.create_future()

            def reached(mark: asyncio.Future[None] = mark) -> None:
                if not mark.done():
                    mark.set_result(None)

            if node.call_later(reached):
                marks.append(mark)
        if marks:
            await asyncio.wait(marks)

    async def settled(self, timeout: float | None = None) -> None:
        """Return once everything started has finished (see the module docstring); twice in a
        row nothing queued and nothing running. Raises `StillBusy` after `timeout` seconds
        (default `SETTLE_TIMEOUT`), and a worker's own failure as Textual's `WorkerFailed`."""
        loop = asyncio.get_running_loop()
        limit = self.SETTLE_TIMEOUT if timeout is None else timeout
        deadline = loop.time() + limit
        quiet = 0
        while quiet < 2:
            self._woken = asyncio.Event()
            await self._drain()
            busy = self.busy()
            if not busy:
                quiet += 1
                continue
            quiet = 0
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise StillBusy(f"still busy after {limit:g} s: {', '.join(busy)}")
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._woken.wait())]
            running = [w for w in self._running_workers() if w.state == WorkerState.RUNNING]
            waits += [_ended(w) for w in running]
            done, pending = await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in pending:
                with suppress(asyncio.CancelledError, Exception):
                    await task
            for task in done:
                error = None if task.cancelled() else task.exception()
                if error is not None and not isinstance(error, WorkerCancelled):
                    raise error  # a worker failed: WorkerFailed, with its cause
        self._woken = None
