"""A host on loopback for the network tests: a rig around a team session, and raw sockets that misbehave."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from factories import breach_scenario, make_session

from tabletop.clock import VirtualClock
from tabletop.engine import Session
from tabletop.net.client import PlayerClient
from tabletop.net.host import HostSettings, TeamHost

TOKEN = "s3cret-token"
FAST_RETRY = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)


class Rig:
    """A host on 127.0.0.1 (ephemeral port) serving a started team session on a virtual clock."""

    def __init__(self, host: TeamHost, session: Session, clock: VirtualClock, path: Path) -> None:
        self.host = host
        self.session = session
        self.clock = clock
        self.path = path
        self.clients: list[PlayerClient] = []

    async def player(self, role: str, name: str, **kwargs: Any) -> PlayerClient:
        kwargs.setdefault("retry_delays", FAST_RETRY)
        kwargs.setdefault("longest_wait", 0.05)
        client = PlayerClient(self.host.url, kwargs.pop("token", TOKEN), role, name, **kwargs)
        self.clients.append(client)
        await client.connect()
        return client

    def lines(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.session.events if kind is None or e["type"] == kind]

    def joined(self, name: str) -> bool:
        return any(pl["name"] == name for pl in self.host.connected())


@asynccontextmanager
async def hosted(
    tmp_path: Path, scenario=None, *, fsync: bool = False, start: bool = True, **settings: Any
) -> AsyncIterator[Rig]:
    """A host serving a session on a virtual clock (started unless `start=False`)."""
    clock = VirtualClock()
    session = make_session(
        tmp_path, scenario or breach_scenario(), clock=clock, participants=[], start=False, fsync=fsync
    )
    get_time = settings.pop("get_time", None)
    seats = settings.pop("seats", None)
    host = TeamHost(
        session,
        HostSettings(token=TOKEN, tick_interval=0, live_clock=False, **settings),
        **({"get_time": get_time} if get_time else {}),
        seats=seats,
    )
    await host.start("127.0.0.1", 0)
    if start:
        await host.call(session.start)
    rig = Rig(host, session, clock, Path(session.path))
    try:
        yield rig
    finally:
        for client in rig.clients:
            await client.close()
        await host.stop()
        session.writer.close()


class RawPlayer:
    """A bare WebSocket to the host, for sending what a well-behaved client never would."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self.buffer: list[str] = []

    @classmethod
    async def open(
        cls, url: str, hello: dict[str, Any] | str | None = None, *, source: str | None = None
    ) -> RawPlayer:
        """A WebSocket to `url`, from the loopback address `source` (e.g. 127.0.0.2) if given."""
        connector = aiohttp.TCPConnector(local_addr=(source, 0)) if source else None
        http = aiohttp.ClientSession(connector=connector)
        try:
            ws = await http.ws_connect(url)
        except BaseException:
            await http.close()
            raise
        raw = cls(http, ws)
        if hello is not None:
            await ws.send_str(hello if isinstance(hello, str) else json.dumps(hello))
        return raw

    @staticmethod
    def unpack(data: str) -> list[str]:
        """The messages in a frame (a batch holds several), each as its own JSON text."""
        message = json.loads(data)
        if message.get("type") == "batch":
            return [json.dumps(item) for item in message["items"]]
        return [data]

    async def frames_until_closed(self, timeout: float = 5.0) -> list[str]:
        frames = list(self.buffer)
        self.buffer.clear()
        async with asyncio.timeout(timeout):
            async for message in self.ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    frames.extend(self.unpack(message.data))
        return frames

    async def next_frame(self, timeout: float = 5.0) -> dict[str, Any]:
        if not self.buffer:
            message = await self.ws.receive(timeout=timeout)
            assert message.type == aiohttp.WSMsgType.TEXT, message
            self.buffer.extend(self.unpack(message.data))
        return json.loads(self.buffer.pop(0))

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


def hello(role: str = "coordinator", name: str = "Sam", token: str = TOKEN, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "type": "hello", "token": token, "role": role, "name": name, **extra}


def self_signed_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throwaway self-signed certificate for `host` and its key, as PEM files in `folder`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "host.crt", folder / "host.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
