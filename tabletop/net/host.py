"""The team rehearsal host: an aiohttp WebSocket server that owns the Session and its players.

The host is the only writer of the transcript. Every call on the session runs, in order, on one
worker thread (the engine fsyncs each line, which must not stall the network loop); events come
back to the loop and fan out to each connected player through a per-connection queue, cut down
by `views.player_event` to what that player may see. A request is acknowledged only after the
session has made its line durable (its subscriber fires after fsync), so an `ack` is a promise
that the decision survives the host dying the next instant.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from tabletop import events as ev
from tabletop.engine import Session
from tabletop.net import protocol as p
from tabletop.net.views import player_event, player_scenario

log = logging.getLogger("tabletop.net.host")

BATCH_ITEMS = 500
BATCH_CHARS = 1024 * 1024
"""A batch frame holds at most this many messages and about this many characters."""

Call = Callable[..., Awaitable[Any]]
"""Runs a session method on the session's thread: `await call(fn, *args, **kwargs)`."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per connection: `per_second` messages sustained, `burst` at once."""

    per_second: float = 20.0
    burst: float = 100.0


class TokenBucket:
    """Counts a connection's messages against its RateLimit."""

    def __init__(self, limit: RateLimit, get_time: Callable[[], float]) -> None:
        self.limit = limit
        self.get_time = get_time
        self.tokens = limit.burst
        self.stamp = get_time()

    def take(self) -> bool:
        now = self.get_time()
        self.tokens = min(self.limit.burst, self.tokens + (now - self.stamp) * self.limit.per_second)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True)
class HostSettings:
    """How the host listens and protects itself."""

    token: str
    max_msg_size: int = p.MAX_MESSAGE_BYTES
    rate: RateLimit = RateLimit()
    hello_timeout: float = 10.0
    queue_limit: int = 10_000
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
    """Sockets open at once (players and those still saying hello); more are refused."""


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

    @property
    def who(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role}


class Refused(Exception):
    """A request the host refuses; the player gets `code` and `message`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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


class TeamHost:
    """Serves one Session to remote players over WebSocket.

    `call` runs session methods on the thread that owns the session (the facilitator console
    passes its link's); without it the host keeps its own single worker thread. `history` is
    the transcript so far when the session was resumed, so reconnecting players get what they
    missed from before the restart too.
    """

    def __init__(
        self,
        session: Session,
        settings: HostSettings,
        *,
        call: Call | None = None,
        history: list[dict[str, Any]] | None = None,
        get_time: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.settings = settings
        self.get_time = get_time
        self.events: list[dict[str, Any]] = list(history or [])
        self.players: list[Player] = []
        self.ended = asyncio.Event()
        self.changed = asyncio.Event()
        """Set whenever an event is dispatched or someone joins or leaves (for `wait_for`)."""
        self.url: str | None = None
        self.port: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.call = call or self._own_call
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task | None = None
        self._handlers: set[asyncio.Task] = set()
        self._unrecorded_joins: list[tuple[str, str]] = []
        self._answered: dict[tuple[str, str, str], int | None] = {}
        self._last_state: tuple[float, float, bool] | None = None
        self._last_state_wall = 0.0
        self._subscribed = False
        self._stopping = False
        self._scenario_view: dict[str, Any] | None = None
        if any(e.get("type") == ev.SESSION_ENDED for e in self.events):
            self.ended.set()

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
        """Listen on bind:port (0 for any free port); returns the join URL."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        if not self._subscribed:
            self.session.subscribe(self._on_session_event)
            self._subscribed = True
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._websocket)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, bind, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []  # an asyncio.Server once started
        self.port = sockets[0].getsockname()[1] if sockets else port
        shown = socket.gethostname() if bind in ("0.0.0.0", "::", "") else bind  # reachable by name
        shown = f"[{shown}]" if ":" in shown else shown
        self.url = f"ws://{shown}:{self.port}/ws"
        if self.settings.tick_interval > 0:
            self._ticker = asyncio.create_task(self._run_clock())
        return self.url

    async def stop(self, reason: str | None = None) -> None:
        """End the session (if `reason`), tell the players, close their sockets and the server."""
        self._stopping = True
        if reason and not self.ended.is_set():
            try:
                await self.call(self.session.end, reason)
            except Exception:  # the session may have ended meanwhile
                log.exception("ending the session")
        if self._ticker:
            self._ticker.cancel()
            try:
                await self._ticker
            except (asyncio.CancelledError, Exception):
                pass
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

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds, checking after each event or presence change."""
        await p.wait_until(self.changed, predicate, timeout)

    # what players see -----------------------------------------------------------------------
    def connected(self) -> list[dict[str, str]]:
        """Who is connected right now, in join order."""
        return [pl.who for pl in self.players if not pl.closing]

    def state(self) -> p.State:
        t = float(self.session.now)
        speed = float(getattr(self.session, "speed", 1.0))
        paused = bool(getattr(self.session, "paused", False))
        rate = 0.0 if paused or not self.settings.live_clock or self.ended.is_set() else speed
        return p.State(t=t, speed=speed, paused=paused, rate=rate, ended=self.ended.is_set())

    def _scenario(self) -> dict[str, Any]:
        if self._scenario_view is None:
            self._scenario_view = player_scenario(self.session.scenario.to_json())
        return self._scenario_view

    def _send_state(self, force: bool = False) -> None:
        if not self.players:
            return
        state = self.state()
        key = (round(state.t, 3), state.speed, state.paused)
        now = self.get_time()
        moved = key != self._last_state
        due = not self.settings.live_clock or now - self._last_state_wall >= self.settings.state_interval
        if force or (moved and due):
            self._last_state, self._last_state_wall = key, now
            frame = state.to_frame()
            for player in self.players:
                self._send(player, frame)

    def _dispatch(self, event: dict[str, Any]) -> None:
        """A durable event: keep it for reconnecting players and send it to those who see it."""
        self.events.append(event)
        self.changed.set()
        frames: dict[str, str | None] = {}  # one frame per role: what a role sees is the same for all
        for player in list(self.players):
            if player.role not in frames:
                seen = player_event(event, player.role)
                frames[player.role] = None if seen is None else p.event_frame(seen)
            frame = frames[player.role]
            if frame is not None:
                self._send(player, frame)
        kind = event.get("type")
        if kind == ev.SESSION_STARTED and self._unrecorded_joins:
            task = asyncio.ensure_future(self._record_waiting_joins())
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        elif kind == ev.CLOCK:
            self._send_state(force=True)
        elif kind == ev.SESSION_ENDED:
            self.ended.set()
            self._send_state(force=True)
            for player in list(self.players):
                self._close(player, p.CLOSE_ENDED, p.SESSION_ENDED, "the session has ended")

    def _send(self, player: Player, frame: str | None) -> None:
        if player.closing:
            return
        if player.queue.qsize() >= self.settings.queue_limit:
            log.warning("%s (%s) is not reading; disconnecting", player.name, player.role)
            self._close(player, p.CLOSE_SLOW, None, None)
            return
        player.queue.put_nowait(frame)

    def _close(self, player: Player, code: int, error_code: str | None, message: str | None) -> None:
        """Send an optional fatal error, then close the socket once the queue is flushed."""
        if player.closing:
            return
        if error_code:
            player.queue.put_nowait(p.Error(code=error_code, message=message or "", fatal=True).to_frame())
        player.queue.put_nowait(None)
        player.closing = True
        player.close_code = code

    async def _write(self, player: Player) -> None:
        ws = player.ws
        queue = player.queue
        try:
            done = False
            while not done:
                frame = await queue.get()
                if frame is None:
                    break
                # what queued up meanwhile goes in one frame: fewer, larger writes under load
                batch, size = [frame], len(frame)
                while not queue.empty() and len(batch) < BATCH_ITEMS and size < BATCH_CHARS:
                    more = queue.get_nowait()
                    if more is None:
                        done = True
                        break
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
        title = getattr(self.session.scenario, "title", "")
        return web.Response(
            text=f"tabletop team rehearsal: {title}\nJoin with: tabletop join {self.url} --token TOKEN --role ROLE --name NAME\n"
        )

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=self.settings.max_msg_size, heartbeat=self.settings.heartbeat)
        await ws.prepare(request)
        if len(self._handlers) >= self.settings.max_connections:
            await self._refuse(
                ws,
                p.HOST_FULL,
                "the host has too many connections; try again later",
                WSCloseCode.TRY_AGAIN_LATER,
            )
            return ws
        task = asyncio.current_task()
        if task:
            self._handlers.add(task)
        try:
            await self._serve(ws, request.remote or "?")
        finally:
            if task:
                self._handlers.discard(task)
        return ws

    async def _refuse(self, ws: web.WebSocketResponse, code: str, message: str, close: int) -> None:
        try:
            await ws.send_str(p.Error(code=code, message=message, fatal=True).to_frame())
            await ws.close(code=close, message=message[:120].encode())
        except Exception:
            pass

    async def _serve(self, ws: web.WebSocketResponse, peer: str) -> None:
        try:
            first = await ws.receive(timeout=self.settings.hello_timeout)
        except TimeoutError:
            await self._refuse(ws, p.NOT_WELCOME, "no hello within the time allowed", p.CLOSE_BAD_MESSAGE)
            return
        if first.type != WSMsgType.TEXT:
            await self._refuse(ws, p.BAD_MESSAGE, "expected a hello message first", p.CLOSE_BAD_MESSAGE)
            return
        try:
            hello = p.parse_player_message(first.data)
        except p.ProtocolError as error:
            await self._refuse(ws, error.code, str(error), p.CLOSE_BAD_MESSAGE)
            return
        if not isinstance(hello, p.Hello):
            await self._refuse(
                ws,
                p.NOT_WELCOME,
                f"expected a hello message first, received {hello.type}",
                p.CLOSE_BAD_MESSAGE,
            )
            return
        if not hmac.compare_digest(hello.token.encode(), self.settings.token.encode()):
            log.warning("refused %s: wrong token", peer)
            await self._refuse(
                ws,
                p.BAD_TOKEN,
                "wrong or missing token: ask the facilitator for this session's token",
                p.CLOSE_BAD_TOKEN,
            )
            return
        roles = list(self.session.scenario.roles)
        if hello.role not in roles:
            await self._refuse(
                ws,
                p.WRONG_ROLE,
                f"role {hello.role!r} is not in this scenario; expected one of {', '.join(roles)}",
                p.CLOSE_BAD_MESSAGE,
            )
            return
        if self.ended.is_set():
            await self._refuse(ws, p.SESSION_ENDED, "the session has ended", p.CLOSE_ENDED)
            return
        taken = next((pl for pl in self.players if pl.name == hello.name and pl.role != hello.role), None)
        if taken is not None:
            await self._refuse(
                ws,
                p.WRONG_ROLE,
                f"{hello.name!r} is already connected playing {taken.role}; join with another --name",
                p.CLOSE_BAD_MESSAGE,
            )
            return

        player = Player(name=hello.name, role=hello.role, ws=ws)
        for other in list(self.players):  # the same person reconnecting replaces the old socket
            if other.name == player.name and other.role == player.role:
                self._close(other, p.CLOSE_REPLACED, p.REPLACED, "you connected again from elsewhere")
                self.players.remove(other)
        try:
            tasks = await self.call(self.session.pending_tasks, player.role)
        except Exception:
            tasks = []
        # From here to `players.append` nothing awaits: no event can slip between the replay
        # and the live feed.
        session_id = self.events[0].get("hash") if self.events else None
        # a seq from another session (a new rehearsal on the same address) means nothing here
        since = hello.last_seq if hello.session is None or hello.session == session_id else -1
        missed = []
        for event in self.events:
            if event.get("seq", -1) > since:
                seen = player_event(event, player.role)
                if seen is not None:
                    missed.append(p.event_frame(seen))
        welcome = p.Welcome(
            role=player.role,
            name=player.name,
            scenario=self._scenario(),
            seq=self.events[-1]["seq"] if self.events else -1,
            state=self.state(),
            presence=[*self.connected(), player.who],
            tasks=[seen for seen in (player_event(_plain(t), player.role) for t in tasks or []) if seen],
            replay=len(missed),
            session=session_id,
        )
        player.queue.put_nowait(welcome.to_frame())
        for frame in missed:
            player.queue.put_nowait(frame)
        self.players.append(player)
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
        if self.ended.is_set() or self._stopping:  # a stopping host does not record players leaving
            return
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
        waiting, self._unrecorded_joins = self._unrecorded_joins, []
        for name, role in waiting:
            if self._connected_as(name, role):
                await self._record_presence("join", name, role)

    async def leave_absent(self) -> None:
        """After a resume nobody is connected yet: record every remote player as having left."""
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

    async def _read(self, player: Player) -> None:
        bucket = TokenBucket(self.settings.rate, self.get_time)
        ws = player.ws
        while not player.closing:
            message = await ws.receive()
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return
            if message.type == WSMsgType.ERROR:
                log.warning("%s (%s): %s", player.name, player.role, ws.exception())
                return
            if not bucket.take():
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

    async def _answer(self, player: Player, request: p.Decide | p.Note | p.CompleteTask) -> str:
        key = (player.name, player.role, request.id)
        if key in self._answered:  # a request resent after a reconnect: recorded once only
            return p.Ack(id=request.id, seq=self._answered[key]).to_frame()
        try:
            seq = await self._record(player, request)
        except Refused as refused:
            return p.Error(id=request.id, code=refused.code, message=refused.message).to_frame()
        except Exception as error:  # the engine's Rejected, or anything it refuses
            message = str(error) or type(error).__name__
            if type(error).__name__ != "Rejected":
                log.exception("request %s from %s failed", request.id, player.name)
            return p.Error(id=request.id, code=p.REJECTED, message=message).to_frame()
        self._answered[key] = seq
        return p.Ack(id=request.id, seq=seq).to_frame()

    async def _record(self, player: Player, request: p.Decide | p.Note | p.CompleteTask) -> int | None:
        if self.ended.is_set():
            raise Refused(p.SESSION_ENDED, "the session has ended")
        session = self.session
        if isinstance(request, p.Decide):
            if request.role is not None and request.role != player.role:
                raise Refused(
                    p.WRONG_ROLE,
                    f"you play {player.role}; a decision as {request.role} can only be recorded by a {request.role} player",
                )
            kwargs: dict[str, Any] = {
                "by": player.name,
                "fields": dict(request.fields),
                "rationale": request.rationale,
                "inject": request.inject,
            }
            if request.delegate_to is not None:
                kwargs["delegate_to"] = request.delegate_to
                kwargs["timebox"] = request.timebox
            record = await self.call(session.decide, player.role, request.action, **kwargs)
        elif isinstance(request, p.Note):
            record = await self.call(
                session.note, player.role, request.text, by=player.name, inject=request.inject
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
            )
        else:
            raise Refused(p.BAD_MESSAGE, f"cannot handle {request.type}")
        return record.get("seq") if isinstance(record, dict) else None
