"""The player side of a team rehearsal: a WebSocket client, the session-like object the console drives, and scripted players.

`PlayerClient` speaks the protocol: it joins, keeps what it has seen and its seat's secret,
reconnects sending the last seq it saw (the host replays what it missed), and turns each
request into an awaitable that resolves when the host's transcript holds it, however long the
host is away (it fails only once reconnecting has given up). A refusal that says "not now"
(host full, seat still held by a dead connection) is waited out and tried again. While the
connection is down the client says so (`offline`) and its clock stands still.

`SeatStore` keeps the seats this machine was given in a 0600 file, so a restarted `tabletop
join` comes back to its seat. `RemoteSession` gives the player console the same calls as a
local session's link, so the console has no network code. `play_script` plays a decision
script's lines for one role at their sim times, each with a request id made of the session and
the script's line, so a restarted script records nothing twice.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from tabletop import events as ev
from tabletop.model import Scenario
from tabletop.net import protocol as p
from tabletop.port import SessionListener, SessionPort

log = logging.getLogger("tabletop.net.client")


class JoinRefused(Exception):
    """The host refused this player (wrong token, unknown role, session ended, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RequestRefused(Exception):
    """The host refused a request (the engine's rejection, wrong role, ...); the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConnectionLost(Exception):
    """The connection to the host is gone and could not be re-established."""


class TryLater(Exception):
    """The host said "not now" (full, or the seat still held); `retry_after` seconds, if it said."""

    def __init__(self, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class SeatStore:
    """The seats this machine was given, by host URL, role and name, in a file only its owner reads.

    `tabletop join` uses `SeatStore.default()` ($XDG_STATE_HOME/tabletop/seats.json, or
    ~/.local/state/...), so a player whose console or script restarts comes back to their seat.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data: dict[str, str] = {}
        if path is not None:
            try:
                data = json.loads(Path(path).read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    self._data = {str(k): str(v) for k, v in data.items() if isinstance(v, str)}
            except (OSError, ValueError):
                pass

    @classmethod
    def default(cls) -> SeatStore:
        base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        return cls(Path(base) / "tabletop" / "seats.json")

    @staticmethod
    def _key(url: str, role: str, name: str) -> str:
        return f"{url} {role} {' '.join(name.casefold().split())}"

    def get(self, url: str, role: str, name: str) -> str | None:
        return self._data.get(self._key(url, role, name))

    def put(self, url: str, role: str, name: str, seat: str) -> None:
        self._data[self._key(url, role, name)] = seat
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(str(temporary), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._data, handle, indent=1)
            os.replace(temporary, self.path)
        except OSError as error:
            log.warning("cannot keep the seat in %s: %s", self.path, error)


@dataclass
class _Pending:
    message: p.Request
    future: asyncio.Future


def player_scenario_model(data: dict[str, Any]) -> Scenario:
    """A Scenario object from the player's view, so the console can use its lookups.

    The view holds no injects (players never see what is still to come); the model needs one
    to validate, so a placeholder is validated and then dropped.
    """
    shell = dict(data)
    shell.setdefault("duration", 0)
    shell.setdefault("roles", ["player"])
    shell["injects"] = [{"id": "briefing"}]
    scenario = Scenario.model_validate(shell)
    return scenario.model_copy(update={"injects": []})


class PlayerClient:
    """One player's connection to a host."""

    def __init__(
        self,
        url: str,
        token: str,
        role: str,
        name: str,
        *,
        reconnect: bool = True,
        retry_delays: tuple[float, ...] = (0.2, 0.5, 1, 2, 3, 5, 5, 5, 5, 5, 10, 10, 10),
        open_timeout: float = 10.0,
        get_time: Callable[[], float] = time.monotonic,
        session: aiohttp.ClientSession | None = None,
        seat: str | None = None,
        seats: SeatStore | None = None,
        ssl_context: ssl.SSLContext | None = None,
        unix_socket: str | None = None,
        encrypted: bool | None = None,
        longest_wait: float = 30.0,
    ) -> None:
        self.url = url
        self.token = token
        self.role = role
        self.name = name
        self.reconnect = reconnect
        self.retry_delays = retry_delays
        self.open_timeout = open_timeout
        self.get_time = get_time
        self.events: list[dict[str, Any]] = []
        self.last_seq = -1
        self.presence: list[dict[str, str]] = []
        self.welcome: p.Welcome | None = None
        self.state: p.State | None = None
        self.connections = 0
        self.ended = asyncio.Event()
        self.closed = False
        self.failure: Exception | None = None
        self.seats = seats
        self.seat = seat or (seats.get(url, role, name) if seats is not None else None)
        """The secret that opens this player's seat (from the first welcome)."""
        self.ssl_context = ssl_context
        self.unix_socket = unix_socket
        self.encrypted = url.startswith("wss://") if encrypted is None else encrypted
        """Whether what the player sends crosses the network encrypted."""
        self.online = False
        """Whether the connection is up (False while reconnecting)."""
        self.longest_wait = longest_wait
        """The longest a "try again in N s" from the host is waited out before the next try."""
        self.session_id: str | None = None
        self.waiting: list[str] = []
        """Roles the host waits for before its clock runs."""
        self.hotwash: p.Hotwash | None = None
        """The hot wash's questions once the session has ended (None: none, or not yet)."""
        self._state_at = 0.0
        self._base_t = 0.0
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)  # request ids stay unique across player restarts
        self._pending: dict[str, _Pending] = {}
        self._listeners: list[Callable[[str, Any], None]] = []
        self._changed = asyncio.Event()
        self._http = session
        self._own_http = session is None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._connected = asyncio.Event()

    # connecting -----------------------------------------------------------------------------
    async def connect(self) -> p.Welcome:
        """Join the host; raises JoinRefused with the host's message if it refuses.

        A host that says "not now" (full, or the seat still held by a connection it has not
        yet noticed is dead) is asked again, `retry_delays` apart, before giving up.
        """
        self.failure = None
        try:
            welcome = await self._open_patiently()
        except BaseException:
            if self._own_http and self._http is not None:
                await self._http.close()
                self._http = None
            raise
        self._reader = asyncio.create_task(self._run())
        return welcome

    async def _open_patiently(self) -> p.Welcome:
        for delay in (*self.retry_delays, None):
            try:
                return await self._open()
            except TryLater as later:
                if delay is None or self.closed:
                    raise JoinRefused(later.code, str(later)) from None
                log.info("host: %s", later)
                await asyncio.sleep(max(delay, min(later.retry_after or 0.0, self.longest_wait)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None:
            connector = aiohttp.UnixConnector(path=self.unix_socket) if self.unix_socket else None
            self._http = aiohttp.ClientSession(connector=connector)
        return self._http

    async def _open(self) -> p.Welcome:
        try:
            ws = await self._http_session().ws_connect(
                self.url,
                max_msg_size=p.MAX_HOST_FRAME,
                timeout=aiohttp.ClientWSTimeout(ws_close=5),
                heartbeat=20,
                ssl=self.ssl_context if self.ssl_context is not None else True,
            )
        except aiohttp.ClientConnectorCertificateError as error:
            raise JoinRefused(
                "bad_certificate",
                f"the host at {self.url} has a certificate this machine does not trust ({error.certificate_error}); "
                "if the facilitator gave you its certificate, join with --tls-ca FILE",
            ) from None
        except aiohttp.ClientConnectorError as error:
            raise ConnectionLost(f"cannot reach the host at {self.url}: {error}") from None
        except aiohttp.ClientError as error:  # it answered, then dropped us: busy, not gone
            raise TryLater("host_busy", f"the host at {self.url} is busy ({error})", None) from None
        except OSError as error:
            raise ConnectionLost(f"cannot reach the host at {self.url}: {error}") from None
        hello = p.Hello(
            token=self.token,
            role=self.role,
            name=self.name,
            last_seq=self.last_seq,
            session=self.welcome.session if self.welcome else None,
            seat=self.seat,
        )
        await ws.send_str(hello.to_frame())
        try:
            first = await ws.receive(timeout=self.open_timeout)
        except TimeoutError:
            await ws.close()
            raise ConnectionLost(f"the host at {self.url} did not answer") from None
        if first.type != aiohttp.WSMsgType.TEXT:
            await ws.close()
            raise ConnectionLost(f"the host at {self.url} closed the connection ({ws.close_code})")
        messages = p.parse_host_messages(first.data)
        message = messages[0]
        if isinstance(message, p.Error):
            await ws.close()
            if message.code in p.RETRYABLE:
                raise TryLater(message.code, message.message, message.retry_after)
            raise JoinRefused(message.code, message.message)
        if not isinstance(message, p.Welcome):
            await ws.close()
            raise ConnectionLost(f"expected a welcome from the host, received {message.type}")
        if self.welcome is not None and self.welcome.session and message.session != self.welcome.session:
            self.events.clear()  # another session now answers at this address: start afresh
            self.last_seq = -1
        self._ws = ws
        self.connections += 1
        self.welcome = message
        if message.seat:
            self.seat = message.seat
            if self.seats is not None:
                self.seats.put(self.url, self.role, self.name, message.seat)
        self.session_id = message.session or self.session_id
        if message.hotwash is not None:
            self.hotwash = message.hotwash
        self.online = True
        self._set_state(message.state)
        self.presence = list(message.presence)
        self._emit("welcome", message)
        # the events missed come next; a request recorded before a lost connection (even one
        # the host never acknowledged because it died) is matched against them in `_on_event`
        waiting = message.replay
        for later in messages[1:]:
            self._handle(later)
            waiting -= 1
        while waiting > 0:
            try:
                replayed = await ws.receive(timeout=self.open_timeout)
            except TimeoutError:
                break
            if replayed.type != aiohttp.WSMsgType.TEXT:
                break
            for later in p.parse_host_messages(replayed.data):
                self._handle(later)
                waiting -= 1
        self._connected.set()
        # requests never acknowledged and not in the replay are sent again; the host records
        # a request id once
        for pending in list(self._pending.values()):
            await ws.send_str(pending.message.to_frame())
        return message

    async def _run(self) -> None:
        """Read messages; on a lost connection, reconnect (sending the last seq seen)."""
        try:
            while True:
                await self._read(self._ws)
                self._connected.clear()
                self._go_offline()
                if self.closed or self.done or not self.reconnect or self.failure is not None:
                    break
                self._emit("offline", None)
                if not await self._reconnect():
                    break
        except JoinRefused as refused:
            self.failure = refused
        except Exception as error:  # reported through `failure`
            log.exception("player connection failed")
            self.failure = error
        finally:
            self._connected.clear()
            self._go_offline()
            self._fail_pending(self.failure or ConnectionLost("the connection to the host closed"))
            self._changed.set()
            self._emit("closed", self.failure)

    def _go_offline(self) -> None:
        """The connection dropped: the clock stands still where it was until the host is back."""
        if self.online:
            self._base_t, self._state_at = self.now(), self.get_time()
            self.online = False
            self._changed.set()

    async def _reconnect(self) -> bool:
        wait = 0.0
        for delay in self.retry_delays:
            if self.closed:
                return False
            await asyncio.sleep(max(delay, wait))
            wait = 0.0
            try:
                await self._open()
                return True
            except ConnectionLost as error:
                log.info("reconnecting: %s", error)
            except TryLater as later:
                log.info("reconnecting: %s", later)
                wait = min(later.retry_after or 0.0, self.longest_wait)
        self.failure = ConnectionLost(f"lost the host at {self.url} and could not reconnect")
        return False

    async def _read(self, ws: aiohttp.ClientWebSocketResponse | None) -> None:
        if ws is None:
            return
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            try:
                received = p.parse_host_messages(message.data)
            except p.ProtocolError as error:
                log.warning("ignoring a bad message from the host: %s", error)
                continue
            for item in received:
                self._handle(item)
        if ws.close_code in (p.CLOSE_BAD_TOKEN,):
            raise JoinRefused(p.BAD_TOKEN, "the host refused the token")

    @property
    def hotwash_open(self) -> bool:
        """True from the end of the session until the hot wash is closed (never without questions)."""
        return self.ended.is_set() and self.hotwash is not None and not self.hotwash.closed

    @property
    def done(self) -> bool:
        """Nothing more can be recorded: the session has ended and its hot wash (if any) is closed."""
        return self.ended.is_set() and not self.hotwash_open

    def _handle(self, message: p.HostReply) -> None:
        if isinstance(message, p.EventMessage):
            self._on_event(message.event)
        elif isinstance(message, p.Hotwash):
            self.hotwash = message
            self._emit("hotwash", message)
        elif isinstance(message, p.State):
            self._set_state(message)
            self._emit("state", message)
        elif isinstance(message, p.Ack):
            pending = self._pending.pop(message.id, None)
            if pending and not pending.future.done():
                pending.future.set_result(message.seq)
        elif isinstance(message, p.Error):
            if message.id is not None:
                pending = self._pending.pop(message.id, None)
                if pending and not pending.future.done():
                    pending.future.set_exception(RequestRefused(message.code, message.message))
            else:
                if message.fatal and message.code in p.FINAL and message.code != p.SESSION_ENDED:
                    self.failure = ConnectionLost(f"the host closed the connection: {message.message}")
                if message.code in (p.SESSION_ENDED, p.HOST_STOPPING):
                    log.info("host: %s", message.message)
                    if message.code == p.SESSION_ENDED:
                        self.ended.set()
                else:
                    log.warning("host: %s", message.message)
                self._emit("error", message)
        elif isinstance(message, p.Presence):
            self.presence = list(message.connected)
            self._emit("presence", message)
        self._changed.set()

    def _on_event(self, event: dict[str, Any]) -> None:
        seq = event.get("seq", -1)
        if seq <= self.last_seq:
            return
        self.last_seq = seq
        self.events.append(event)
        t = float(event.get("t", 0.0))
        if t > self.now():
            self._base_t, self._state_at = t, self.get_time()
        if event.get("type") == ev.SESSION_ENDED:
            self.ended.set()
        elif event.get("type") == ev.HOTWASH_CLOSED and self.hotwash is not None:
            self.hotwash = self.hotwash.model_copy(update={"closed": True})
        self._match_unacknowledged(event)
        self._emit("event", event)

    def _match_unacknowledged(self, event: dict[str, Any]) -> None:
        """A line recording one of this player's requests acknowledges it.

        The host records each request's id with its line (`request`) and sends the line
        before the ack, so a connection that drops between the two (or a host that dies
        there) still leaves the player knowing it was recorded, live or from the replay after
        reconnecting; it is then never sent again.
        """
        request_id = event.get("request")
        if request_id is None or event.get("by") != self.name or event.get("role") != self.role:
            return
        pending = self._pending.pop(request_id, None)
        if pending is not None and not pending.future.done():
            pending.future.set_result(event.get("seq"))

    def _set_state(self, state: p.State) -> None:
        self.state = state
        self._base_t = state.t
        self._state_at = self.get_time()
        self.waiting = list(state.waiting)
        self.session_id = state.session or self.session_id
        if state.ended:
            self.ended.set()
        self._changed.set()

    def _fail_pending(self, error: Exception) -> None:
        for pending in self._pending.values():
            if pending.future.done():
                continue
            if (
                isinstance(pending.message, p.HotwashAnswer)
                and self.hotwash is not None
                and self.hotwash.closed
            ):
                pending.future.set_exception(self._too_late())
            else:
                pending.future.set_exception(ConnectionLost(str(error)))
        self._pending.clear()

    @staticmethod
    def _too_late() -> RequestRefused:
        return RequestRefused(p.HOTWASH_CLOSED, "the hot wash is closed; your answer was not recorded")

    # listening ------------------------------------------------------------------------------
    def listen(self, callback: Callable[[str, Any], None]) -> None:
        """Call `callback(kind, payload)` for each welcome, event, presence, error and close."""
        self._listeners.append(callback)

    def _emit(self, kind: str, payload: Any) -> None:
        for callback in list(self._listeners):
            try:
                callback(kind, payload)
            except Exception:  # a listener's bug must not drop the connection
                log.exception("listener failed")

    # time -----------------------------------------------------------------------------------
    def now(self) -> float:
        """The host's sim time, extrapolated from its last state at the rate it gave (while online)."""
        rate = self.state.rate if self.state and self.online else 0.0
        return self._base_t + max(0.0, self.get_time() - self._state_at) * rate

    async def wait_until(self, t: float) -> None:
        """Wait until the host's sim time reaches `t`; raises ConnectionLost if it never will."""
        while self.now() < t:
            if self.ended.is_set():
                raise ConnectionLost(f"the session ended before sim time {t:g}s")
            if self._reader is not None and self._reader.done():
                raise ConnectionLost(str(self.failure or "the connection to the host closed"))
            rate = self.state.rate if self.state and self.online else 0.0
            timeout = (t - self.now()) / rate + 0.001 if rate > 0 else None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                pass

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None = 10.0) -> None:
        """Wait until `predicate()` holds, checking after each message from the host."""
        await p.wait_until(self._changed, predicate, timeout)

    # requests -------------------------------------------------------------------------------
    def _next_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    async def request(self, message: p.Request, timeout: float | None = None) -> int | None:
        """Send a request and wait until the host has recorded it; returns its transcript seq.

        Without a `timeout` it waits as long as the client keeps reconnecting; it raises
        ConnectionLost once reconnecting has given up, RequestRefused if the host refuses.
        """
        if self.closed:
            raise ConnectionLost("the player has left")
        if self._reader is not None and self._reader.done():
            raise ConnectionLost(str(self.failure or "the connection to the host closed"))
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[message.id] = _Pending(message, future)
        if self._connected.is_set() and self._ws is not None:
            try:
                await self._ws.send_str(message.to_frame())
            except (ConnectionResetError, RuntimeError):
                pass  # resent on reconnect
        return await asyncio.wait_for(future, timeout)

    async def decide(
        self,
        action: str,
        *,
        fields: dict[str, Any] | None = None,
        rationale: str = "",
        inject: str | None = None,
        role: str | None = None,
        delegate_to: str | None = None,
        timebox: int | str | None = None,
        request_id: str | None = None,
    ) -> int | None:
        return await self.request(
            p.Decide(
                id=request_id or self._next_id(),
                action=action,
                fields=fields or {},
                rationale=rationale or "",
                inject=inject,
                role=role,
                delegate_to=delegate_to,
                timebox=timebox,
            )
        )

    async def note(
        self, text: str, *, inject: str | None = None, request_id: str | None = None
    ) -> int | None:
        return await self.request(p.Note(id=request_id or self._next_id(), text=text, inject=inject))

    async def complete_task(
        self, task: str, *, fields: dict[str, Any] | None = None, rationale: str = ""
    ) -> int | None:
        return await self.request(
            p.CompleteTask(id=self._next_id(), task=task, fields=fields or {}, rationale=rationale or "")
        )

    async def hotwash_answer(self, question: str, text: str, *, request_id: str | None = None) -> int | None:
        """Answer a hot-wash question (its text, as the host sent it); the seq once recorded."""
        if self.hotwash is not None and self.hotwash.closed:
            raise self._too_late()
        return await self.request(
            p.HotwashAnswer(id=request_id or self._next_id(), question=question, text=text)
        )

    async def drop(self) -> None:
        """Close the socket without leaving (the client reconnects): a network blip."""
        if self._ws is not None:
            await self._ws.close()

    async def close(self) -> None:
        """Leave the session."""
        self.closed = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 10)
            except (TimeoutError, Exception):
                pass
        if self._own_http and self._http is not None:
            await self._http.close()
            self._http = None


class RemoteSession:
    """What the player console drives, for a session on another machine.

    It implements `tabletop.port.SessionPort`, as the console's local session link does, so
    the console needs no network code: events reach attached listeners as the host sends
    them, and a lost connection is reported to them. Facilitator controls (pause, speed, end,
    the MSEL) are refused: only the host's facilitator has them.
    """

    def __init__(self, client: PlayerClient) -> None:
        if client.welcome is None:
            raise ValueError("connect the client before wrapping it")
        self.client = client
        self.role = client.role
        self.name = client.name
        self.scenario = player_scenario_model(client.welcome.scenario)
        self._targets: list[SessionListener] = []
        self._tasks = {t.get("id"): t for t in client.welcome.tasks if isinstance(t, dict)}
        client.listen(self._heard)

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.client.events

    def attach(self, target: SessionListener) -> list[dict[str, Any]]:
        if target not in self._targets:
            self._targets.append(target)
        return list(self.client.events)

    def detach(self, target: SessionListener) -> None:
        if target in self._targets:
            self._targets.remove(target)

    @property
    def encrypted(self) -> bool:
        """Whether this player's connection to the host is encrypted (wss://, or https:// in a browser)."""
        return self.client.encrypted

    @property
    def offline(self) -> bool:
        """True while the connection to the host is down (the client is reconnecting)."""
        return not self.client.online

    @property
    def waiting(self) -> list[str]:
        """Roles the host waits for before its clock runs."""
        return list(self.client.waiting)

    @property
    def started(self) -> bool:
        """Whether the host's session has started (its facilitator may still be in the lobby)."""
        return self.client.session_id is not None

    def _tell(self, title: str, message: str, severity: str) -> None:
        for target in list(self._targets):
            target.session_notice(title, message, severity)

    def _heard(self, kind: str, payload: Any) -> None:
        if kind == "closed" and payload is not None and not self.client.closed:
            for target in list(self._targets):  # tell the player; the console carries on read-only
                target.session_lost(str(payload))
            return
        if kind == "offline":
            self._tell(
                "Offline",
                "Lost the connection to the host; reconnecting. The clock stands still meanwhile; "
                "what you record now is sent once the host is back.",
                "warning",
            )
            return
        if kind == "welcome" and self.client.connections > 1:
            self._tell("Online", "Connected to the host again.", "information")
            return
        if kind != "event":
            return
        for target in list(self._targets):
            target.session_event(payload)

    # time -----------------------------------------------------------------------------------
    def now(self) -> float:
        return self.client.now()

    @property
    def paused(self) -> bool:
        return bool(self.client.state and self.client.state.paused)

    @property
    def speed(self) -> float:
        return float(self.client.state.speed) if self.client.state else 1.0

    @property
    def ended(self) -> bool:
        return self.client.ended.is_set()

    @property
    def hotwash_questions(self) -> list[str]:
        return list(self.client.hotwash.questions) if self.client.hotwash is not None else []

    @property
    def hotwash_open(self) -> bool:
        return self.client.hotwash_open

    # calls ----------------------------------------------------------------------------------
    async def decide(
        self,
        role: str,
        action: str,
        *,
        by: str = "",
        fields: dict[str, Any] | None = None,
        rationale: str = "",
        inject: str | None = None,
        delegate_to: str | None = None,
        timebox: int | str | None = None,
    ) -> int | None:
        """Ask the host to record a decision (`by` is ignored: the host records the name the
        player joined with); the seq of its line once it is on the host's disk."""
        return await self.client.decide(
            action,
            role=role,
            fields=fields,
            rationale=rationale,
            inject=inject,
            delegate_to=delegate_to,
            timebox=timebox,
        )

    async def note(self, role: str, text: str, *, by: str = "", inject: str | None = None) -> int | None:
        if role != self.role:
            raise RequestRefused(p.WRONG_ROLE, f"you play {self.role}; you cannot write a note as {role}")
        return await self.client.note(text, inject=inject)

    async def complete_task(
        self,
        delegation_id: str,
        *,
        by: str = "",
        fields: dict[str, Any] | None = None,
        rationale: str = "",
    ) -> int | None:
        return await self.client.complete_task(delegation_id, fields=fields, rationale=rationale)

    async def answer_hotwash(self, role: str, question: str, text: str, *, by: str = "") -> int | None:
        """Ask the host to record a hot-wash answer (as the name the player joined with)."""
        if role != self.role:
            raise RequestRefused(p.WRONG_ROLE, f"you play {self.role}; you cannot answer as {role}")
        return await self.client.hotwash_answer(question, text)

    async def pending_tasks(self, role: str) -> list[dict[str, Any]]:
        """Tasks delegated to `role` and not yet done, from the events this player has seen."""
        return pending_tasks(self.client.events, role)

    @staticmethod
    def _facilitator_only() -> RequestRefused:
        return RequestRefused(p.WRONG_ROLE, "only the facilitator can pause, change speed or end the session")

    async def pause(self) -> None:
        raise self._facilitator_only()

    async def resume(self) -> None:
        raise self._facilitator_only()

    async def set_speed(self, speed: float) -> None:
        raise self._facilitator_only()

    async def end(self) -> None:
        raise self._facilitator_only()

    async def trigger_now(self, inject_id: str) -> None:
        raise self._facilitator_only()

    async def skip(self, inject_id: str) -> None:
        raise self._facilitator_only()

    async def add_inject(self, title: str, body: str, channel: str, to: list[str], from_: str) -> None:
        raise self._facilitator_only()

    async def upcoming(self) -> list[dict[str, Any]]:
        raise self._facilitator_only()

    async def facilitator_note(self, text: str, *, by: str) -> None:
        raise self._facilitator_only()

    async def close_hotwash(self, *, by: str, reason: str = "facilitator") -> None:
        raise self._facilitator_only()

    async def interrupt(self, reason: str) -> None:
        """The session runs on the host: a player leaving does not interrupt it."""

    async def start(self) -> None:
        """The host's facilitator starts the session; a player has nothing to start."""

    async def tick(self) -> None:
        """The host runs the clock; a player's console has nothing to tick."""

    def close(self) -> None:
        """The console is done with the session (the CLI then closes the connection: `aclose`)."""
        self._targets.clear()

    async def aclose(self) -> None:
        self.close()
        await self.client.close()


def pending_tasks(events: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    """Delegations to `role` that no decision has carried out yet, oldest first."""
    done = {e.get("delegation") for e in events if e.get("type") == ev.DECISION and e.get("delegation")}
    return [
        {
            k: e.get(k)
            for k in (
                "id",
                "role",
                "by",
                "to_role",
                "action",
                "fields",
                "rationale",
                "inject",
                "timebox",
                "t",
            )
        }
        for e in events
        if e.get("type") == ev.DELEGATION and e.get("to_role") == role and e.get("id") not in done
    ]


# --- scripted players ----------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptLine:
    """One line of a decision script, for one role."""

    at: int
    action: str | None = None
    note: str | None = None
    fields: dict[str, Any] | None = None
    rationale: str = ""
    inject: str | None = None
    delegate_to: str | None = None
    timebox: int | None = None
    entry: int | None = None
    """The line's place in the script file (all roles counted): part of its request id."""


@dataclass(frozen=True)
class ScriptResult:
    """What happened to one script line: the seq that recorded it, or why it was refused."""

    line: ScriptLine
    seq: int | None = None
    refused: str | None = None


def script_request_id(session: str, line: ScriptLine, index: int) -> str:
    """A scripted line's request id: the session and the line's place in the script, so that a
    script played again (a restarted player) asks for the same things and gets the same acks."""
    entry = line.entry if line.entry is not None else index
    return f"script-{session[:16]}-{entry}"


async def play_script(client: PlayerClient, lines: list[ScriptLine]) -> list[ScriptResult]:
    """Play each line when the host's sim time reaches its `at`; one request at a time."""
    results = []
    for index, line in sorted(enumerate(lines), key=lambda item: item[1].at):
        await client.wait_until(line.at)
        if client.session_id is None:  # the host has not started yet: ids name the session
            await client.wait_for(lambda: client.session_id is not None or client.ended.is_set(), None)
        request_id = script_request_id(client.session_id or "none", line, index)
        try:
            if line.note is not None:
                seq = await client.note(line.note, inject=line.inject, request_id=request_id)
            else:
                seq = await client.decide(
                    line.action or "",
                    fields=line.fields,
                    rationale=line.rationale,
                    inject=line.inject,
                    delegate_to=line.delegate_to,
                    timebox=line.timebox,
                    request_id=request_id,
                )
            results.append(ScriptResult(line, seq=seq))
        except RequestRefused as refused:
            results.append(ScriptResult(line, refused=str(refused)))
    return results


if TYPE_CHECKING:  # the type checker holds a remote session to the port the screens use

    def _implements_the_port(remote: RemoteSession) -> SessionPort:
        return remote
