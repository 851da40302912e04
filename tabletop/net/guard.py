"""The host's defences below the protocol: sockets counted per address, a header deadline, token buckets.

Anyone who can reach the port can open sockets without knowing the token. `ConnectionGuard`
counts every TCP connection by peer address from the moment it is accepted until the host
trusts it (a player's valid hello, a browser player's valid seat): an address may hold only so
many untrusted connections, the host only so many connections in all (kept below the process's
file-descriptor limit), and a connection must finish its first request's headers within a
deadline (slowloris). `GuardedSite` is aiohttp's TCP site with each connection's protocol
wrapped in a `GuardedProtocol` that enforces this before aiohttp sees a byte.

`TokenBucket` meters a seat's messages, bytes and reconnections (see `tabletop.net.host`).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

log = logging.getLogger("tabletop.net.host")


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `per_second` sustained, `burst` at once (messages, bytes or hellos)."""

    per_second: float = 20.0
    burst: float = 100.0


class TokenBucket:
    """Counts against a RateLimit; `take(n)` spends n tokens if there are that many."""

    def __init__(self, limit: RateLimit, get_time: Callable[[], float]) -> None:
        self.limit = limit
        self.get_time = get_time
        self.tokens = limit.burst
        self.stamp = get_time()

    def _refill(self) -> None:
        now = self.get_time()
        self.tokens = min(self.limit.burst, self.tokens + (now - self.stamp) * self.limit.per_second)
        self.stamp = now

    def take(self, amount: float = 1.0) -> bool:
        self._refill()
        if self.tokens < min(amount, self.limit.burst):
            return False
        self.tokens -= amount
        return True

    def wait(self, amount: float = 1.0) -> float:
        """Seconds until `take(amount)` would succeed (0 if it would now)."""
        self._refill()
        missing = min(amount, self.limit.burst) - self.tokens
        if missing <= 0:
            return 0.0
        if self.limit.per_second <= 0:
            return float("inf")
        return missing / self.limit.per_second


@dataclass(frozen=True)
class GuardSettings:
    """Limits on connections before the host trusts them."""

    untrusted_per_address: int = 64
    """Connections one address may hold open before any of them is trusted."""
    max_sockets: int = 4096
    """Connections open at once, trusted or not (lowered to fit the file-descriptor limit)."""
    header_timeout: float = 10.0
    """Seconds a connection has to send its first request's headers."""


def usable_descriptors(reserve: int = 64) -> int:
    """File descriptors this process may open, less a reserve for files, the transcript and logs."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 1024 - reserve
    if soft == resource.RLIM_INFINITY:
        return 1 << 16
    return max(16, soft - reserve)


def raise_descriptor_limit() -> int:
    """Raise this process's soft file-descriptor limit to its hard limit; returns the new soft limit."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        return soft
    except (OSError, ValueError):
        return usable_descriptors(0)


class ConnectionGuard:
    """Who is connected from where, and whether the host trusts them yet."""

    def __init__(self, settings: GuardSettings) -> None:
        self.settings = settings
        self.max_sockets = min(settings.max_sockets, usable_descriptors())
        self.untrusted: dict[str, int] = {}
        self.open = 0
        self.refused = 0
        self._by_transport: dict[int, GuardedProtocol] = {}

    def admit(self, connection: GuardedProtocol) -> bool:
        """Count a new connection; False when it must be closed at once."""
        address = connection.address
        if (
            self.open >= self.max_sockets
            or self.untrusted.get(address, 0) >= self.settings.untrusted_per_address
        ):
            self.refused += 1
            return False
        self.open += 1
        self.untrusted[address] = self.untrusted.get(address, 0) + 1
        return True

    def register(self, transport: Any, connection: GuardedProtocol) -> None:
        self._by_transport[id(transport)] = connection

    def trust(self, transport: Any) -> None:
        """The connection on `transport` has proved itself (valid hello or seat): stop counting it
        against its address."""
        connection = self._by_transport.get(id(transport))
        if connection is not None and not connection.trusted:
            connection.trusted = True
            self._untrusted_gone(connection.address)

    def _untrusted_gone(self, address: str) -> None:
        left = self.untrusted.get(address, 0) - 1
        if left > 0:
            self.untrusted[address] = left
        else:
            self.untrusted.pop(address, None)

    def gone(self, transport: Any, connection: GuardedProtocol) -> None:
        self._by_transport.pop(id(transport), None)
        self.open -= 1
        if not connection.trusted:
            self._untrusted_gone(connection.address)


class GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind the guard's door and header deadline."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard, loop: asyncio.AbstractEventLoop):
        self.inner = inner
        self.guard = guard
        self.loop = loop
        self.address = "?"
        self.trusted = False
        self.admitted = False
        self.transport: asyncio.BaseTransport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._headers_done = False
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self.guard.admit(self):
            transport.abort() if hasattr(transport, "abort") else transport.close()
            return
        self.admitted = True
        self.guard.register(transport, self)
        self._deadline = self.loop.call_later(self.guard.settings.header_timeout, self._too_slow)
        self.inner.connection_made(transport)

    def _too_slow(self) -> None:
        if not self._headers_done and self.transport is not None:
            log.info("closed a connection from %s: no request headers in time", self.address)
            self.transport.abort() if hasattr(self.transport, "abort") else self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            return
        if not self._headers_done:
            seen = self._tail + data[:65536]
            if b"\r\n\r\n" in seen:
                self._headers_done = True
                if self._deadline is not None:
                    self._deadline.cancel()
            else:
                self._tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if not self.admitted:
            return None
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        if self.admitted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.admitted:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        if not self.admitted:
            return
        self.admitted = False
        if self.transport is not None:
            self.guard.gone(self.transport, self)
        self.inner.connection_lost(exc)


class GuardedSite(web.TCPSite):
    """aiohttp's TCP site, each connection behind a ConnectionGuard."""

    __slots__ = ("_guard",)

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard, **kwargs: Any):
        super().__init__(runner, host, port, **kwargs)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        guard = self._guard
        self._server = await loop.create_server(
            lambda: GuardedProtocol(server(), guard, loop),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
            ssl_handshake_timeout=guard.settings.header_timeout if self._ssl_context else None,
        )
        if self._server.sockets:
            self._bound_port = self._server.sockets[0].getsockname()[1]
        else:
            self._bound_port = self._port


class QuietAcceptErrors:
    """A loop exception handler that reports 'out of file descriptors' on accept once a minute,
    without a traceback, and passes everything else to the handler it replaced."""

    MESSAGES = ("socket.accept() out of system resource",)

    def __init__(self, previous: Any, get_time: Callable[[], float] = time.monotonic) -> None:
        self.previous = previous
        self.get_time = get_time
        self.last = -1e9
        self.quieted = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if any(message.startswith(m) for m in self.MESSAGES):
            self.quieted += 1
            now = self.get_time()
            if now - self.last >= 60:
                self.last = now
                log.warning("cannot accept more connections: %s", context.get("exception") or message)
            return
        if self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)
