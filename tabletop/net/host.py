"""The team rehearsal host: an aiohttp WebSocket server that owns the Session and its players.

The host is the only writer of the transcript. Every call on the session runs, in order, on one
worker thread (the engine fsyncs each line, which must not stall the network loop); events come
back to the loop and fan out to each connected player through a per-connection queue, cut down
by `views.player_event` to what that player may see. A request is acknowledged only after the
session call that records it has returned, its line on disk (the subscriber fires after fsync),
so an `ack` is a promise that the decision survives the host dying the next instant.

Who gets in, and how much they may ask for:

- A socket is a guest until its hello proves it: guests are counted per address and in all
  (`pending_per_address`, `max_pending`) and have `hello_timeout` seconds; below that,
  `tabletop.net.guard` limits untrusted TCP connections per address and gives each
  `header_timeout` seconds to send its request headers. A player's slot (`max_connections`)
  is counted only after a valid hello.
- A hello needs the token, a role of the scenario and a name. The first hello under a name
  gives a seat (`tabletop.net.seats`): its secret comes back in the welcome, and only that
  secret opens the seat again; a seat holds one live connection. Facilitator names are reserved.
- Each seat's messages, bytes and reconnections are metered by token buckets that survive
  reconnecting. What a player missed is replayed in pages, sent only as fast as they read;
  a player whose queue of unsent messages passes `queue_bytes` is disconnected.
- A player may cite only an inject released to them; a refusal never names another inject.
- A request id is recorded in the transcript with the event it made (`request`), so a request
  sent again, even after either side restarted, is acknowledged with its first seq and recorded
  once; the same id asking for something else is refused (`conflict`).

After the end the host stays up for the hot wash (when the scenario has questions): every
player is sent the questions and answers them, seeing only their own answers; the players who
played come back to their seats (nobody new joins). Once the hot wash is closed
(`hotwash_closed`: by the facilitator, or by a headless host's time limit) every connection is
closed and `finished` is set; a scenario without questions finishes at the end.
"""

from __future__ import annotations

import asyncio
import difflib
import hmac
import logging
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from tabletop import events as ev
from tabletop.engine import Session
from tabletop.net import protocol as p
from tabletop.net.guard import (
    ConnectionGuard,
    GuardedSite,
    GuardSettings,
    QuietAcceptErrors,
    RateLimit,
    TokenBucket,
)
from tabletop.net.protocol import Refused
from tabletop.net.seats import SeatError, Seats, name_key
from tabletop.net.views import (
    addressed_to,
    phase_titles,
    player_event,
    player_scenario,
    reached_phases,
    visible,
)

__all__ = ["HostSettings", "RateLimit", "TeamHost", "TokenBucket"]

log = logging.getLogger("tabletop.net.host")

BATCH_ITEMS = 500
BATCH_CHARS = 1024 * 1024
"""A batch frame holds at most this many messages and about this many characters."""

Call = Callable[..., Awaitable[Any]]
"""Runs a session method on the session's thread: `await call(fn, *args, **kwargs)`."""


@dataclass(frozen=True)
class HostSettings:
    """How the host listens and protects itself."""

    token: str
    max_msg_size: int = p.MAX_MESSAGE_BYTES
    rate: RateLimit = field(default_factory=RateLimit)
    """Messages per seat (it survives reconnecting)."""
    byte_rate: RateLimit = field(default_factory=lambda: RateLimit(per_second=64 * 1024, burst=1024 * 1024))
    """Bytes of messages per seat."""
    hello_rate: RateLimit = field(default_factory=lambda: RateLimit(per_second=0.2, burst=10))
    """Connections per seat: a seat reconnecting faster is told to wait."""
    hello_timeout: float = 5.0
    """Seconds a new socket has to send a valid hello."""
    queue_limit: int = 10_000
    queue_bytes: int = 4 * 1024 * 1024
    """Characters of messages waiting for one player before the host gives up on them."""
    tick_interval: float = 0.05
    """Wall seconds between clock ticks (0: the host does not tick; the caller does)."""
    state_interval: float = 1.0
    """Wall seconds between clock state messages while time runs."""
    tick_session: bool = True
    """Whether the host ticks the session (False when a console on the same session does)."""
    live_clock: bool = True
    """Whether sim time runs with wall time (ScaledClock); False for a hand-driven clock."""
    heartbeat: float = 20.0
    max_connections: int = 500
    """Players connected at once, counted after a valid hello; more are told to try later."""
    pending_per_address: int = 48
    """Sockets one address may have waiting to say hello."""
    max_pending: int = 256
    """Sockets waiting to say hello, from all addresses."""
    guard: GuardSettings = field(default_factory=GuardSettings)
    ssl: ssl.SSLContext | None = None
    """TLS for the port (players then join with wss:// and browsers open https://)."""
    wait_for: tuple[str, ...] = ()
    """Roles that must have a player before the clock runs (`begin`)."""
    facilitator: str = "Facilitator"
    """The facilitator's name: nobody may join under it."""
    browser_players: int = 32
    """Browser players' consoles running at once (each is a process on the host)."""


@dataclass
class SeatMeter:
    """What one seat may still send: messages, bytes and reconnections."""

    messages: TokenBucket
    bytes: TokenBucket
    hellos: TokenBucket


@dataclass
class Player:
    """One connected player."""

    name: str
    role: str
    ws: web.WebSocketResponse
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    writer: asyncio.Task | None = None
    closing: bool = False
    close_code: int = WSCloseCode.OK
    queued: int = 0
    """Characters waiting in `queue`."""
    first: str = ""
    """The welcome frame, sent before anything else."""
    replay: tuple[int, int] = (-1, 0)
    """(last seq the player saw, index in `events` where the live feed starts): what to replay."""
    transport: Any = None

    @property
    def who(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role}


def _plain(value: Any) -> Any:
    """Data from the engine (dataclass, pydantic model, dict) as JSON-ready values."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _close_match(word: str, options: list[str]) -> str:
    match = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


class TeamHost:
    """Serves one Session to remote players over WebSocket (and to browsers, see `pages`).

    `call` runs session methods on the thread that owns the session (the facilitator console
    passes its link's); without it the host keeps its own single worker thread. `history` is
    the transcript so far when the session was resumed, so reconnecting players get what they
    missed from before the restart too. `seats` are the seats kept beside the transcript
    (`Seats.load`), restored on resume; without them the host keeps seats in memory.
    """

    def __init__(
        self,
        session: Session,
        settings: HostSettings,
        *,
        call: Call | None = None,
        history: list[dict[str, Any]] | None = None,
        get_time: Callable[[], float] = time.monotonic,
        seats: Seats | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.get_time = get_time
        self.events: list[dict[str, Any]] = []
        self.players: list[Player] = []
        self.ended = asyncio.Event()
        """Set once the session has ended (the hot wash, if any, may still be open)."""
        self.finished = asyncio.Event()
        """Set once nothing more can be recorded: the session has ended and its hot wash is
        closed (or it has none)."""
        self._hotwash_closed = False
        self.changed = asyncio.Event()
        """Set whenever an event is dispatched or someone joins or leaves (for `wait_for`)."""
        self.url: str | None = None
        """The players' WebSocket URL (ws:// or wss://)."""
        self.web_url: str | None = None
        """The same host for browsers (http:// or https://)."""
        self.port: int | None = None
        self.seats = seats if seats is not None else Seats(token=settings.token)
        self.seats.token = settings.token
        self.seats.reserve(settings.facilitator)
        self.guard = ConnectionGuard(settings.guard)
        self._executor: ThreadPoolExecutor | None = None
        self.call = call or self._own_call
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task | None = None
        self._handlers: set[asyncio.Task] = set()
        self._pending: dict[str, int] = {}
        self._pending_total = 0
        self._meters: dict[str, SeatMeter] = {}
        self._unrecorded_joins: list[tuple[str, str]] = []
        self._answered: dict[tuple[str, str, str], tuple[str | None, int | None]] = {}
        self._in_flight: dict[tuple[str, str, str], asyncio.Future] = {}
        self._released: dict[str, Any] = {}
        """Inject id -> its `to`, for every inject released so far."""
        self._last_state: tuple[float, float, bool, tuple[str, ...]] | None = None
        self._last_state_wall = 0.0
        self._subscribed = False
        self._stopping = False
        self._presence_lock = asyncio.Lock()
        self._scenario_json: dict[str, Any] | None = None
        self._titles: dict[str, str] | None = None
        self._previous_handler: Any = None
        self._quiet: QuietAcceptErrors | None = None
        self.begun = not settings.wait_for
        """False while the host holds the clock for the roles in `wait_for` (see `begin`)."""
        self._held = False
        self._abandoned = False
        self.browser: Any = None
        """The browser pages (join form, browser players, room display), once started."""
        for event in history or ():
            self._remember(event)
        for role in session.scenario.roles:  # the names simulated teammates are given
            self.seats.reserve(session.scenario.role_title(role).title())

    # session thread ---------------------------------------------------------------------------
    async def _own_call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tabletop-host")
        return await asyncio.wrap_future(self._executor.submit(fn, *args, **kwargs))

    def _on_session_event(self, event: dict[str, Any]) -> None:
        """Session subscriber: runs on the session's thread once the line is durable."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == getattr(self, "_loop_thread", None):
            self._dispatch(event)
        else:
            loop.call_soon_threadsafe(self._dispatch, event)

    # lifecycle ------------------------------------------------------------------------------
    async def start(self, bind: str = "127.0.0.1", port: int = 8765) -> str:
        """Listen on bind:port (0 for any free port); returns the players' join URL."""
        from tabletop.net.pages import BrowserPages

        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        if not self._subscribed:
            self.session.subscribe(self._on_session_event)
            self._subscribed = True
        self._previous_handler = self._loop.get_exception_handler()
        self._quiet = QuietAcceptErrors(self._previous_handler)
        self._loop.set_exception_handler(self._quiet)
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._websocket)
        self.browser = BrowserPages(self)
        self.browser.add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=30)
        await self._runner.setup()
        site = GuardedSite(self._runner, bind, port, self.guard, ssl_context=self.settings.ssl)
        await site.start()
        self.port = site.port
        await self.browser.start(self._runner)
        shown = socket.gethostname() if bind in ("0.0.0.0", "::", "") else bind  # reachable by name
        shown = f"[{shown}]" if ":" in shown else shown
        secure = self.settings.ssl is not None
        self.url = f"{'wss' if secure else 'ws'}://{shown}:{self.port}/ws"
        self.web_url = f"{'https' if secure else 'http'}://{shown}:{self.port}"
        if self.settings.tick_interval > 0:
            self._ticker = asyncio.create_task(self._run_clock())
        return self.url

    @property
    def encrypted(self) -> bool:
        return self.settings.ssl is not None

    @property
    def join_link(self) -> str | None:
        """The one link a facilitator sends browser players (it carries the token)."""
        return None if self.web_url is None else f"{self.web_url}/join?token={self.settings.token}"

    @property
    def room_link(self) -> str | None:
        """The read-only room display, for a projector."""
        return None if self.web_url is None else f"{self.web_url}/room/{self.seats.room_key}"

    @property
    def hotwash_open(self) -> bool:
        """True from the end until the hot wash is closed (never without hot-wash questions)."""
        return self.ended.is_set() and self.session.has_hotwash and not self._hotwash_closed

    def hotwash_message(self) -> p.Hotwash:
        return p.Hotwash(questions=self.session.scenario.hotwash_questions(), closed=self._hotwash_closed)

    def join_command(self, role: str = "ROLE", name: str = "NAME") -> str:
        """The command a terminal player runs to join."""
        return f"tabletop join {self.url} --token {self.settings.token} --role {role} --name {name}"

    async def stop(self, reason: str | None = None) -> None:
        """End the session (if `reason`), tell the players, close their sockets and the server."""
        self._stopping = True
        if reason and not self.ended.is_set():
            try:
                await self.call(self.session.end, reason)
            except Exception:  # the session may have ended meanwhile
                log.exception("ending the session")
        await self._shut()

    async def interrupt(self, reason: str) -> None:
        """Stop without ending: record `session_interrupted` (resumable), then close everything."""
        self._stopping = True
        if not self.ended.is_set() and getattr(self.session, "started", False):
            try:
                await self.call(self.session.interrupt, reason)
            except Exception:
                log.exception("recording the interruption")
        await self._shut()

    async def _shut(self) -> None:
        if self._ticker:
            self._ticker.cancel()
            try:
                await self._ticker
            except (asyncio.CancelledError, Exception):
                pass
        if self.browser is not None:
            await self.browser.stop()
        for player in list(self.players):
            self._close(player, p.CLOSE_ENDED, p.HOST_STOPPING, "the host has stopped")
        writers = [pl.writer for pl in self.players if pl.writer]
        if writers:
            await asyncio.wait(writers, timeout=5)
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        if self._executor:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._loop is not None and self._loop.get_exception_handler() is self._quiet:
            self._loop.set_exception_handler(self._previous_handler)

    async def tick(self) -> None:
        """Advance the session to its clock's now and tell players where the clock is."""
        if self.settings.tick_session and not self.ended.is_set():
            await self.call(self.session.tick)
        self._send_state()

    async def run_until(self, t: float) -> None:
        """Virtual time: run the session forward to sim time `t`, then tell players."""
        await self.call(self.session.run_until, t)
        self._send_state(force=True)

    async def _run_clock(self) -> None:
        while not self.ended.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("clock tick failed")
            await asyncio.sleep(self.settings.tick_interval)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None = 10.0) -> None:
        """Wait until `predicate()` holds, checking after each event or presence change."""
        await p.wait_until(self.changed, predicate, timeout)

    # waiting for the players ------------------------------------------------------------------
    def waiting(self) -> list[str]:
        """Roles in `wait_for` with nobody connected, while the host holds the clock for them."""
        if self.begun:
            return []
        playing = {pl.role for pl in self.players if not pl.closing}
        return [role for role in self.settings.wait_for if role not in playing]

    async def begin(self, *, resumed: bool = False) -> None:
        """Start the session (or, `resumed`, let its clock run) once every `wait_for` role has a
        player; players who join meanwhile are told whom the clock waits for."""
        clock = getattr(self.session, "clock", None)
        if (not resumed or self.waiting()) and clock is not None and not clock.paused:
            clock.pause()  # held, not a recorded pause: the clock starts when the players are in
            self._held = True
        await self.wait_for(lambda: not self.waiting() or self._abandoned, timeout=None)
        if self._abandoned:
            return

        def go() -> None:
            if self._held:
                self._held = False
                clock.resume()  # type: ignore[union-attr]
            if not resumed:
                self.session.start()

        await self.call(go)
        self.begun = True
        await self._record_waiting_joins()  # who was waiting joined at the start
        self._send_state(force=True)

    def abandon_begin(self) -> None:
        """Stop waiting in `begin` (the host is stopping): the session is not started after all."""
        self._abandoned = True
        self.changed.set()

    # what players see -----------------------------------------------------------------------
    def connected(self) -> list[dict[str, str]]:
        """Who is connected right now, in join order."""
        return [pl.who for pl in self.players if not pl.closing]

    def state(self) -> p.State:
        t = float(self.session.now)
        speed = float(getattr(self.session, "speed", 1.0))
        paused = bool(getattr(self.session, "paused", False))
        waiting = self.waiting()
        stopped = paused or waiting or not self.settings.live_clock or self.ended.is_set()
        rate = 0.0 if stopped or not getattr(self.session, "started", True) else speed
        return p.State(
            t=t,
            speed=speed,
            paused=paused and not self._held,
            rate=rate,
            ended=self.ended.is_set(),
            waiting=waiting,
            session=self.session_id(),
        )

    def _scenario(self) -> dict[str, Any]:
        if self._scenario_json is None:
            self._scenario_json = self.session.scenario.to_json()
        return self._scenario_json

    def titles(self) -> dict[str, str]:
        """Phase id -> title."""
        if self._titles is None:
            self._titles = phase_titles(self._scenario())
        return self._titles

    def _send_state(self, force: bool = False) -> None:
        if not self.players:
            return
        state = self.state()
        key = (round(state.t, 3), state.speed, state.paused, tuple(state.waiting))
        now = self.get_time()
        moved = key != self._last_state
        due = not self.settings.live_clock or now - self._last_state_wall >= self.settings.state_interval
        if force or (moved and due) or (moved and self._last_state and key[3] != self._last_state[3]):
            self._last_state, self._last_state_wall = key, now
            frame = state.to_frame()
            for player in self.players:
                self._send(player, frame)

    def _remember(self, event: dict[str, Any]) -> None:
        """Keep a durable event: for replays, released injects and requests already answered."""
        self.events.append(event)
        kind = event.get("type")
        if kind == ev.INJECT_RELEASED and event.get("inject"):
            self._released[event["inject"]] = event.get("to")
        elif kind in (ev.DECISION, ev.DELEGATION, ev.NOTE, ev.HOTWASH_ANSWER) and event.get("request"):
            key = (str(event.get("by")), str(event.get("role")), str(event["request"]))
            self._answered.setdefault(key, (p.digest_of_event(event), event.get("seq")))
        elif kind == ev.SESSION_ENDED:
            self.ended.set()
        elif kind == ev.HOTWASH_CLOSED:
            self._hotwash_closed = True
        if self.ended.is_set() and not self.hotwash_open:
            self.finished.set()

    def _dispatch(self, event: dict[str, Any]) -> None:
        """A durable event: keep it for reconnecting players and send it to those who see it."""
        self._remember(event)
        self.changed.set()
        kind = event.get("type")
        if kind == ev.SESSION_ENDED and self.hotwash_open:  # the questions come before the end
            opened = self.hotwash_message().to_frame()
            for player in list(self.players):
                self._send(player, opened)
        frames: dict[str, str | None] = {}  # one frame per role: what a role sees is the same for all
        titles = self.titles()
        for player in list(self.players):
            if kind == ev.HOTWASH_ANSWER:  # an answer goes back to the one who gave it only
                own = player_event(event, player.role, titles, player.name)
                if own is not None:
                    self._send(player, p.event_frame(own))
                continue
            if player.role not in frames:
                seen = player_event(event, player.role, titles)
                frames[player.role] = None if seen is None else p.event_frame(seen)
            frame = frames[player.role]
            if frame is not None:
                self._send(player, frame)
        if kind == ev.SESSION_STARTED:
            self._send_state(force=True)
            if self._unrecorded_joins:
                self._spawn(self._record_waiting_joins())
        elif kind == ev.CLOCK:
            self._send_state(force=True)
        elif kind == ev.SESSION_ENDED:
            self._send_state(force=True)
            if not self.hotwash_open:
                for player in list(self.players):
                    self._close(player, p.CLOSE_ENDED, p.SESSION_ENDED, "the session has ended")
        elif kind == ev.HOTWASH_CLOSED:
            self._spawn(self._close_after_hotwash())

    async def _close_after_hotwash(self) -> None:
        """Close every connection once the hot wash is closed, after the answers on their way
        have had their reply (an answer that came too late is told so, not cut off)."""
        flying = list(self._in_flight.values())
        if flying:
            await asyncio.wait([asyncio.shield(f) for f in flying], timeout=10)
        for player in list(self.players):
            self._close(
                player, p.CLOSE_ENDED, p.SESSION_ENDED, "the hot wash is closed: the rehearsal is over"
            )

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    def _send(self, player: Player, frame: str | None) -> None:
        if player.closing:
            return
        size = len(frame) if frame else 0
        if (
            player.queue.qsize() >= self.settings.queue_limit
            or player.queued + size > self.settings.queue_bytes
        ):
            log.warning("%s (%s) is not reading; disconnecting", player.name, player.role)
            self._close(player, p.CLOSE_SLOW, None, None)
            if player.transport is not None:  # it does not read: a close frame would never get through
                player.transport.abort()
            return
        player.queued += size
        player.queue.put_nowait(frame)

    def _close(self, player: Player, code: int, error_code: str | None, message: str | None) -> None:
        """Send an optional fatal error, then close the socket once the queue is flushed."""
        if player.closing:
            return
        if error_code:
            frame = p.Error(code=error_code, message=message or "", fatal=True).to_frame()
            player.queued += len(frame)
            player.queue.put_nowait(frame)
        player.queue.put_nowait(None)
        player.closing = True
        player.close_code = code

    def _replay_frames(self, player: Player) -> Any:
        """The events the player missed, as frames, computed a page at a time as they are sent."""
        since, end = player.replay
        titles = self.titles()
        start = since + 1 if 0 <= since + 1 < end and self.events[since + 1].get("seq") == since + 1 else 0
        for index in range(start, end):
            event = self.events[index]
            if event.get("seq", -1) <= since:
                continue
            seen = player_event(event, player.role, titles, player.name)
            if seen is not None:
                yield p.event_frame(seen)

    async def _write(self, player: Player) -> None:
        ws = player.ws
        queue = player.queue
        try:
            await ws.send_str(player.first)
            batch: list[str] = []
            size = 0
            for frame in self._replay_frames(player):  # paged: each page waits for the socket to drain
                batch.append(frame)
                size += len(frame)
                if len(batch) >= BATCH_ITEMS or size >= BATCH_CHARS:
                    await ws.send_str(batch[0] if len(batch) == 1 else p.batch_frame(batch))
                    batch, size = [], 0
                if player.closing:  # the session ended or the player was cut off meanwhile
                    break
            if batch:
                await ws.send_str(batch[0] if len(batch) == 1 else p.batch_frame(batch))
            done = False
            while not done:
                frame = await queue.get()
                if frame is None:
                    break
                player.queued -= len(frame)
                # what queued up meanwhile goes in one frame: fewer, larger writes under load
                batch, size = [frame], len(frame)
                while not queue.empty() and len(batch) < BATCH_ITEMS and size < BATCH_CHARS:
                    more = queue.get_nowait()
                    if more is None:
                        done = True
                        break
                    player.queued -= len(more)
                    batch.append(more)
                    size += len(more)
                await ws.send_str(frame if len(batch) == 1 else p.batch_frame(batch))
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            player.closing = True
            if not ws.closed:
                try:
                    await ws.close(code=player.close_code)
                except Exception:
                    pass

    # HTTP -----------------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.Response:
        """Says nothing about the rehearsal to someone without the token."""
        return web.Response(
            text="tabletop team rehearsal host. Open the join link the facilitator sent you, "
            "or run: tabletop join URL --token TOKEN --role ROLE --name NAME\n"
        )

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            max_msg_size=self.settings.max_msg_size, heartbeat=self.settings.heartbeat, timeout=2.0
        )
        peer = request.remote or "?"
        await ws.prepare(request)
        if (
            self._pending.get(peer, 0) >= self.settings.pending_per_address
            or self._pending_total >= self.settings.max_pending
        ):
            await self._refuse(
                ws,
                Refused(
                    p.HOST_FULL, "the host has too many connections waiting to join; try again later", 1.0
                ),
                WSCloseCode.TRY_AGAIN_LATER,
            )
            return ws
        self._pending[peer] = self._pending.get(peer, 0) + 1
        self._pending_total += 1
        guest = [True]

        def admitted() -> None:
            if guest[0]:
                guest[0] = False
                self._pending_total -= 1
                left = self._pending[peer] - 1
                if left:
                    self._pending[peer] = left
                else:
                    del self._pending[peer]

        task = asyncio.current_task()
        if task:
            self._handlers.add(task)
        try:
            await self._serve(ws, request, admitted)
        finally:
            admitted()
            if task:
                self._handlers.discard(task)
        return ws

    async def _refuse(self, ws: web.WebSocketResponse, refused: Refused, close: int) -> None:
        try:
            error = p.Error(
                code=refused.code, message=refused.message, fatal=True, retry_after=refused.retry_after
            )
            await ws.send_str(error.to_frame())
            await ws.close(code=close, message=refused.message[:120].encode())
        except Exception:
            pass

    async def _hello(self, ws: web.WebSocketResponse) -> p.Hello:
        """The first message, which must be a valid hello; raises Refused."""
        try:
            first = await ws.receive(timeout=self.settings.hello_timeout)
        except TimeoutError:
            raise Refused(p.NOT_WELCOME, "no hello within the time allowed") from None
        if first.type != WSMsgType.TEXT:
            raise Refused(p.BAD_MESSAGE, "expected a hello message first")
        try:
            hello = p.parse_player_message(first.data)
        except p.ProtocolError as error:
            raise Refused(error.code, str(error)) from None
        if not isinstance(hello, p.Hello):
            raise Refused(p.NOT_WELCOME, f"expected a hello message first, received {hello.type}")
        if not hmac.compare_digest(hello.token.encode(), self.settings.token.encode()):
            raise Refused(p.BAD_TOKEN, "wrong or missing token: ask the facilitator for this session's token")
        roles = list(self.session.scenario.roles)
        if hello.role not in roles:
            raise Refused(
                p.WRONG_ROLE,
                f"role {hello.role!r} is not in this scenario; expected one of {', '.join(roles)}",
            )
        if self.finished.is_set():
            raise Refused(p.SESSION_ENDED, "the session has ended")
        return hello

    def session_id(self) -> str | None:
        return self.events[0].get("hash") if self.events else None

    def meter(self, name: str) -> SeatMeter:
        key = name_key(name)
        meter = self._meters.get(key)
        if meter is None:
            s = self.settings
            meter = SeatMeter(
                TokenBucket(s.rate, self.get_time),
                TokenBucket(s.byte_rate, self.get_time),
                TokenBucket(s.hello_rate, self.get_time),
            )
            self._meters[key] = meter
        return meter

    def live(self, name: str) -> Player | None:
        key = name_key(name)
        return next((pl for pl in self.players if not pl.closing and name_key(pl.name) == key), None)

    async def claim_seat(self, name: str, role: str) -> str:
        """A new seat for `name` playing `role` (saved before it is given); raises Refused."""
        name = name.strip()
        if not name:
            raise Refused(p.BAD_MESSAGE, "a player needs a name")
        if role not in self.session.scenario.roles:
            raise Refused(p.WRONG_ROLE, f"role {role!r} is not in this scenario")
        if self.ended.is_set():
            raise Refused(
                p.SESSION_ENDED,
                "the session has ended; only the people who played come back, for the hot wash",
            )
        if len(self.seats) >= self.settings.max_connections * 4:
            raise Refused(p.HOST_FULL, "the session has no more seats", None)
        try:
            secret = self.seats.claim(name, role)
        except SeatError as error:
            raise Refused(error.code, error.message) from None
        try:
            await asyncio.to_thread(self.seats.save, self.seats.snapshot())
        except OSError as error:
            self.seats.release(name)
            log.error("cannot save the seats: %s", error)
            raise Refused(
                p.HOST_STOPPING, "the host cannot keep your seat right now; try again later", 5.0
            ) from None
        return secret

    async def _seat(self, hello: p.Hello) -> str | None:
        """Check the hello against the seats; returns a new seat's secret (None: an existing seat).

        A secret the host does not know (from another rehearsal at this address) counts as
        none; a known one must be shown with its own name and role.
        """
        seat = self.seats.by_secret(hello.seat) if hello.seat else None
        if seat is not None:
            if name_key(seat.name) != name_key(hello.name) or seat.role != hello.role:
                raise Refused(
                    p.BAD_SEAT, f"your seat is {seat.name} playing {seat.role}; join with that name and role"
                )
        else:
            try:
                self.seats.check_new(hello.name, hello.role)
            except SeatError as error:
                raise Refused(error.code, error.message) from None
        meter = self.meter(hello.name)
        if not meter.hellos.take():
            wait = round(meter.hellos.wait(), 1)
            raise Refused(p.TRY_LATER, f"reconnecting too often; try again in {wait:g} s", wait)
        if seat is not None and self.live(seat.name) is not None:
            raise Refused(
                p.SEAT_BUSY,
                f"{seat.name} is already connected; a seat has one connection at a time",
                self.settings.heartbeat,
            )
        if sum(1 for pl in self.players if not pl.closing) >= self.settings.max_connections:
            raise Refused(p.HOST_FULL, "the host has too many players connected; try again later", 5.0)
        if seat is None:
            return await self.claim_seat(hello.name, hello.role)
        return None

    async def _serve(
        self, ws: web.WebSocketResponse, request: web.Request, admitted: Callable[[], None]
    ) -> None:
        peer = request.remote or "?"
        try:
            hello = await self._hello(ws)
        except Refused as refused:
            admitted()  # a refused socket holds no place while it closes
            if refused.code == p.BAD_TOKEN:
                log.warning("refused %s: wrong token", peer)
            await self._refuse(
                ws, refused, p.CLOSE_BAD_TOKEN if refused.code == p.BAD_TOKEN else p.CLOSE_BAD_MESSAGE
            )
            return
        try:
            secret = await self._seat(hello)
        except Refused as refused:
            admitted()
            close = WSCloseCode.TRY_AGAIN_LATER if refused.code in p.RETRYABLE else p.CLOSE_BAD_MESSAGE
            await self._refuse(ws, refused, close)
            return
        admitted()
        self.guard.trust(request.transport)
        player = Player(name=hello.name, role=hello.role, ws=ws, transport=request.transport)
        try:
            tasks = await self.call(self.session.pending_tasks, player.role)
        except Exception:
            tasks = []
        if self.finished.is_set():
            await self._refuse(ws, Refused(p.SESSION_ENDED, "the session has ended"), p.CLOSE_ENDED)
            return
        if self.live(player.name) is not None:  # the same seat raced in meanwhile
            await self._refuse(
                ws,
                Refused(p.SEAT_BUSY, f"{player.name} is already connected", 1.0),
                WSCloseCode.TRY_AGAIN_LATER,
            )
            return
        # From here to the writer's start nothing awaits: no event can slip between the replay
        # and the live feed.
        session_id = self.session_id()
        # a seq from another session (a new rehearsal on the same address) means nothing here
        since = hello.last_seq if hello.session is None or hello.session == session_id else -1
        end = len(self.events)
        missed = sum(
            1 for e in self.events[:end] if e.get("seq", -1) > since and visible(e, player.role, player.name)
        )
        titles = self.titles()
        self.players.append(player)
        welcome = p.Welcome(
            role=player.role,
            name=player.name,
            scenario=player_scenario(self._scenario(), reached_phases(self.events, player.role, titles)),
            seq=self.events[-1]["seq"] if self.events else -1,
            state=self.state(),
            presence=self.connected(),
            tasks=[seen for seen in (player_event(_plain(t), player.role) for t in tasks or []) if seen],
            replay=missed,
            session=session_id,
            seat=secret,
            hotwash=self.hotwash_message() if self.hotwash_open else None,
        )
        player.first = welcome.to_frame()
        player.replay = (since, end)
        player.writer = asyncio.create_task(self._write(player))
        log.info("%s joined as %s from %s", player.name, player.role, peer)
        await self._presence("join", player)
        try:
            await self._read(player)
        finally:
            if player in self.players:
                self.players.remove(player)
                if not player.closing:
                    self._close(player, WSCloseCode.OK, None, None)
                await self._presence("leave", player)
            if player.writer:
                await asyncio.wait([player.writer], timeout=5)

    async def _presence(self, op: str, player: Player) -> None:
        """Tell everyone who is connected, and record the join or leave in the transcript."""
        frame = p.Presence(connected=self.connected()).to_frame()
        for other in self.players:
            self._send(other, frame)
        self.changed.set()
        if not self.begun:
            self._send_state(force=True)
        if self.ended.is_set() or self._stopping:  # a stopping host does not record players leaving
            return
        async with self._presence_lock:
            if not getattr(self.session, "started", True):  # recorded once the session starts
                if op == "join":
                    self._unrecorded_joins.append((player.name, player.role))
                elif (player.name, player.role) in self._unrecorded_joins:
                    self._unrecorded_joins.remove((player.name, player.role))
                return
            await self._record_presence(op, player.name, player.role)

    def _plays(self, name: str, role: str) -> bool:
        return any(
            person.name == name and person.role == role and not person.simulated
            for person in getattr(self.session, "participants", ())
        )

    async def _record_presence(self, op: str, name: str, role: str) -> None:
        """Record a join or leave (the caller holds the presence lock)."""
        try:
            if op == "join" and not self._plays(name, role):
                await self.call(self.session.set_role, name, role)
            elif op == "leave" and self._plays(name, role) and not self._connected_as(name, role):
                await self.call(self.session.leave, name)
        except Exception as error:  # the session carries on without the record
            log.warning("could not record %s of %s (%s): %s", op, name, role, error)

    def _connected_as(self, name: str, role: str) -> bool:
        return any(pl.name == name and pl.role == role and not pl.closing for pl in self.players)

    async def _record_waiting_joins(self) -> None:
        async with self._presence_lock:
            waiting, self._unrecorded_joins = self._unrecorded_joins, []
            for name, role in waiting:
                if self._connected_as(name, role):
                    await self._record_presence("join", name, role)

    async def leave_absent(self) -> None:
        """After a resume, record every remote player not connected (yet) as having left
        (after the end nothing but the hot wash is recorded)."""
        if self.ended.is_set():
            return
        async with self._presence_lock:
            remote = {
                (e.get("detail") or {}).get("name")
                for e in self.events
                if e.get("type") == ev.FACILITATOR and e.get("op") == "join"
            }
            for person in list(getattr(self.session, "participants", ())):
                if (
                    person.name in remote
                    and not person.simulated
                    and not self._connected_as(person.name, person.role)
                ):
                    await self._record_presence("leave", person.name, person.role)

    async def release_seat(self, name: str) -> bool:
        """Free `name`'s seat (they lost their secret): the next hello under that name gets a new one."""
        seat = self.seats.release(name)
        if seat is None:
            return False
        await asyncio.to_thread(self.seats.save, self.seats.snapshot())
        live = self.live(name)
        if live is not None:
            self._close(live, p.CLOSE_REPLACED, p.REPLACED, "the facilitator gave your seat back")
        return True

    async def _read(self, player: Player) -> None:
        meter = self.meter(player.name)
        ws = player.ws
        while not player.closing:
            message = await ws.receive()
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return
            if message.type == WSMsgType.ERROR:
                log.warning("%s (%s): %s", player.name, player.role, ws.exception())
                return
            size = len(message.data) if isinstance(message.data, (str, bytes)) else 0
            if not meter.messages.take() or not meter.bytes.take(size):
                log.warning("%s (%s) is flooding; disconnecting", player.name, player.role)
                self._close(
                    player, p.CLOSE_TOO_FAST, p.TOO_FAST, "too many messages; slow down and reconnect"
                )
                return
            try:
                request = p.parse_player_message(message.data)
            except p.ProtocolError as error:
                self._close(player, p.CLOSE_BAD_MESSAGE, error.code, str(error))
                return
            if isinstance(request, p.Hello):
                self._close(player, p.CLOSE_BAD_MESSAGE, p.BAD_MESSAGE, "hello was already received")
                return
            self._send(player, await self._answer(player, request))

    async def _answer(self, player: Player, request: p.Request) -> str:
        key = (player.name, player.role, request.id)
        digest = p.digest_of(request)
        while key in self._in_flight:  # the same request on another connection, still being recorded
            try:
                await asyncio.shield(self._in_flight[key])
            except Exception:
                break
        if key in self._answered:  # a request resent after a reconnect: recorded once only
            known, seq = self._answered[key]
            if known is not None and known != digest:
                return p.Error(
                    id=request.id,
                    code=p.CONFLICT,
                    message=f"request id {request.id!r} was already used for another request; not recorded",
                ).to_frame()
            return p.Ack(id=request.id, seq=seq).to_frame()
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        self._in_flight[key] = done
        try:
            seq = await self._record(player, request)
        except Refused as refused:
            return p.Error(id=request.id, code=refused.code, message=refused.message).to_frame()
        except Exception as error:  # the engine's Rejected, or anything it refuses
            message = str(error) or type(error).__name__
            if type(error).__name__ != "Rejected":
                log.exception("request %s from %s failed", request.id, player.name)
            return p.Error(id=request.id, code=p.REJECTED, message=message).to_frame()
        finally:
            del self._in_flight[key]
            done.set_result(None)
        self._answered[key] = (digest, seq)
        return p.Ack(id=request.id, seq=seq).to_frame()

    def _check_inject(self, role: str, inject: str | None) -> None:
        """A player may cite only an inject released to them; the refusal names no other."""
        if inject is None:
            return
        if inject in self._released and addressed_to(self._released[inject], role):
            return
        theirs = [i for i, to in self._released.items() if addressed_to(to, role)]
        if not theirs:
            raise Refused(p.REJECTED, f"unknown inject {inject!r}: no inject has reached you yet")
        raise Refused(
            p.REJECTED,
            f"unknown inject {inject!r}{_close_match(inject, theirs)}; you can answer the injects you have received",
        )

    async def _record(self, player: Player, request: p.Request) -> int | None:
        session = self.session
        if isinstance(request, p.HotwashAnswer):
            return await self._record_answer(player, request)
        if self.ended.is_set():
            raise Refused(p.SESSION_ENDED, "the session has ended")
        if isinstance(request, p.Decide):
            if request.role is not None and request.role != player.role:
                raise Refused(
                    p.WRONG_ROLE,
                    f"you play {player.role}; a decision as {request.role} can only be recorded by a {request.role} player",
                )
            self._check_inject(player.role, request.inject)
            kwargs: dict[str, Any] = {
                "by": player.name,
                "fields": dict(request.fields),
                "rationale": request.rationale,
                "inject": request.inject,
                "request": request.id,
            }
            if request.delegate_to is not None:
                kwargs["delegate_to"] = request.delegate_to
                kwargs["timebox"] = request.timebox
            record = await self.call(session.decide, player.role, request.action, **kwargs)
        elif isinstance(request, p.Note):
            self._check_inject(player.role, request.inject)
            record = await self.call(
                session.note,
                player.role,
                request.text,
                by=player.name,
                inject=request.inject,
                request=request.id,
            )
        elif isinstance(request, p.CompleteTask):
            tasks = await self.call(session.pending_tasks, player.role)
            if not any(_plain(task).get("id") == request.task for task in tasks or []):
                raise Refused(
                    p.WRONG_ROLE,
                    f"no task {request.task!r} is waiting for {player.role}; "
                    f"waiting: {', '.join(_plain(t).get('id', '?') for t in tasks) or 'none'}",
                )
            record = await self.call(
                session.complete_task,
                request.task,
                by=player.name,
                fields=dict(request.fields) or None,
                rationale=request.rationale or None,
                request=request.id,
            )
        else:
            raise Refused(p.BAD_MESSAGE, f"cannot handle {request.type}")
        return record.get("seq") if isinstance(record, dict) else None

    async def _record_answer(self, player: Player, request: p.HotwashAnswer) -> int | None:
        """A hot-wash answer, recorded by the engine (which checks the rest) as the player's own."""
        closed = Refused(p.HOTWASH_CLOSED, "the hot wash is closed; your answer was not recorded")
        if self._hotwash_closed:
            raise closed
        try:
            record = await self.call(
                self.session.answer_hotwash,
                player.role,
                player.name,
                request.question,
                request.text,
                request=request.id,
            )
        except Exception:
            if getattr(self.session, "hotwash_closed", False):  # closed while it was on its way
                raise closed from None
            raise
        return record.get("seq") if isinstance(record, dict) else None


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server TLS context from a certificate chain and its key; ValueError names the bad file."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for path in (cert, key):
        if not Path(path).is_file():
            raise ValueError(f"{path}: no such file")
    try:
        context.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as error:
        raise ValueError(
            f"{cert}, {key}: not a certificate and its private key: {error.reason or error}"
        ) from None
    return context
