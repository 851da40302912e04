"""The host's web pages: the join link for browser players, their console in the browser, and the room display.

One link for a browser player, `http(s)://HOST:PORT/join?token=T`: the page asks for a name
and a free role, gives the player a seat (`TeamHost.claim_seat`) and sends them to
`/play/SEAT`, where textual-serve's terminal (its `textual.js`, served from `/static/`) shows
the same player console `tabletop join` runs. The console runs on the host, one process per
browser player under Textual's web driver, and joins over a private Unix socket with the
player's seat: the browser speaks only keystrokes and screen updates.

`/room/KEY` is a read-only page for a projector in the room: the clock, the phase and the
injects released to everybody or to the roles played in the room; never scores, notes or what is
still to come. Its key is not the players' token, so the projector's address bar gives nobody
a seat.

Nothing here says anything about the rehearsal to someone without the token or the room key.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from tabletop.engine import Session
from tabletop.net.guard import ConnectionGuard
from tabletop.net.protocol import Refused, State
from tabletop.net.seats import Seats
from tabletop.net.views import addressed_to
from tabletop.sessions import ROOM

log = logging.getLogger("tabletop.net.host")

LEAVE_WAIT = 15.0
"""Seconds a reloaded page waits for its seat's previous console to let go of the seat."""

HEADERS = {
    "Referrer-Policy": "no-referrer",  # the join link carries the token
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

STYLE = """
body { font-family: system-ui, sans-serif; background: #0c181f; color: #e6edf3; margin: 0; }
main { max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }
h1 { font-size: 1.4rem; } label { display: block; margin: 1rem 0 .3rem; }
input, select, button { font-size: 1.1rem; padding: .4rem; width: 100%; box-sizing: border-box; }
button { margin-top: 1.2rem; background: #5e0ba7; color: white; border: none; cursor: pointer; }
.error { background: #5c1a1a; padding: .6rem; } .note { color: #9aa7b0; }
"""


def _static_folder() -> Path:
    import textual_serve

    return Path(textual_serve.__file__).parent / "static"


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status, headers=HEADERS)


class BrowserConsole:
    """One browser player's console: a `tabletop join` process under Textual's web driver.

    Speaks the web driver's packets: to the process `D` (keystrokes) and `M` (JSON meta:
    resize, focus, blur, quit), each a type byte, a 4-byte big-endian length and the payload;
    from it, after the line `__GANGLION__`, `D` (screen updates for the browser) and `M`
    (`exit`, `open_url`).
    """

    def __init__(self, command: list[str], env: dict[str, str], ws: web.WebSocketResponse) -> None:
        self.command = command
        self.env = env
        self.ws = ws
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._errors = bytearray()

    async def start(self, width: int, height: int) -> None:
        env = dict(self.env)
        env.update(
            TEXTUAL_DRIVER="textual.drivers.web_driver:WebDriver",
            TEXTUAL_FPS="60",
            TEXTUAL_COLOR_SYSTEM="truecolor",
            TERM_PROGRAM="textual",
            COLUMNS=str(width),
            ROWS=str(height),
        )
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        self._reader = asyncio.create_task(self._run())

    async def _send(self, kind: bytes, payload: bytes) -> None:
        process = self.process
        if process is None or process.stdin is None or process.returncode is not None:
            return
        try:
            process.stdin.write(kind + len(payload).to_bytes(4, "big") + payload)
            await process.stdin.drain()
        except (ConnectionResetError, BrokenPipeError, RuntimeError):
            pass

    async def keys(self, data: str) -> None:
        await self._send(b"D", data.encode("utf-8"))

    async def meta(self, data: dict[str, Any]) -> None:
        await self._send(b"M", json.dumps(data).encode("utf-8"))

    async def _errors_of(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(4096):
            self._errors.extend(chunk)
            del self._errors[:-8192]  # keep the tail: what explains a crash

    async def _run(self) -> None:
        process = self.process
        assert process is not None and process.stdout is not None and process.stderr is not None
        errors = asyncio.create_task(self._errors_of(process.stderr))
        stdout = process.stdout
        try:
            for _ in range(50):  # whatever the process prints before the web driver starts
                line = await stdout.readline()
                if not line or line == b"__GANGLION__\n":
                    break
            while True:
                kind = await stdout.readexactly(1)
                size = int.from_bytes(await stdout.readexactly(4), "big")
                payload = await stdout.readexactly(size)
                if kind == b"D":
                    await self.ws.send_bytes(payload)
                elif kind == b"M":
                    meta = json.loads(payload)
                    if meta.get("type") == "exit":
                        break
                    if meta.get("type") == "open_url":
                        await self.ws.send_str(
                            json.dumps(["open_url", {"url": meta.get("url"), "new_tab": True}])
                        )
        except (asyncio.IncompleteReadError, ConnectionResetError, RuntimeError, ValueError):
            pass
        finally:
            code = await process.wait()
            await errors
            if code not in (0, None):
                tail = self._errors.decode("utf-8", "replace").strip().splitlines()[-5:]
                log.warning("a browser player's console exited with %s: %s", code, " | ".join(tail))
            if not self.ws.closed:
                await self.ws.close()

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            await self.meta({"type": "quit"})
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (TimeoutError, Exception):
                pass


class PageSettings(Protocol):
    """The host's settings the pages read."""

    @property
    def token(self) -> str: ...

    @property
    def browser_players(self) -> int: ...


class PageHost(Protocol):
    """What the pages ask of the host that serves them (`net.host.TeamHost`)."""

    @property
    def session(self) -> Session: ...

    @property
    def settings(self) -> PageSettings: ...

    @property
    def seats(self) -> Seats: ...

    @property
    def guard(self) -> ConnectionGuard: ...

    @property
    def events(self) -> list[dict[str, Any]]: ...

    @property
    def ended(self) -> asyncio.Event: ...

    @property
    def finished(self) -> asyncio.Event: ...

    @property
    def encrypted(self) -> bool: ...

    @property
    def hotwash_open(self) -> bool: ...

    def state(self) -> State: ...

    def titles(self) -> dict[str, str]: ...

    def live(self, name: str) -> object | None: ...

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None = 10.0) -> None: ...

    async def claim_seat(self, name: str, role: str) -> str: ...


class BrowserPages:
    """The join form, the browser players' consoles and the room display of one host."""

    def __init__(self, host: PageHost) -> None:
        self.host = host
        self.consoles: dict[str, BrowserConsole] = {}
        self.leaving: dict[str, asyncio.Future[None]] = {}
        """Seats whose console is shutting down (its page closed or reloaded), until it has left."""
        self.folder: str | None = None
        self.socket_path: str | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/join", self.join_form)
        app.router.add_post("/join", self.join)
        app.router.add_get("/play/{seat}", self.play_page)
        app.router.add_get("/play/{seat}/ws", self.play_socket)
        app.router.add_get("/room/{key}", self.room_page)
        app.router.add_get("/room/{key}/state", self.room_state)
        app.router.add_static("/static/", _static_folder(), show_index=False)

    async def start(self, runner: web.AppRunner) -> None:
        """Listen on a private Unix socket too: the browser players' consoles join through it."""
        self.folder = tempfile.mkdtemp(prefix="tabletop-host-")
        os.chmod(self.folder, 0o700)
        self.socket_path = os.path.join(self.folder, "players.sock")
        site = web.UnixSite(runner, self.socket_path)
        await site.start()

    async def stop(self) -> None:
        consoles = list(self.consoles.values())
        self.consoles.clear()
        await asyncio.gather(*(c.stop() for c in consoles), return_exceptions=True)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # join --------------------------------------------------------------------------------
    def _token_ok(self, token: str | None) -> bool:
        import hmac

        return bool(token) and hmac.compare_digest(str(token).encode(), self.host.settings.token.encode())

    def _roles(self) -> list[tuple[str, str, bool]]:
        """(role, title, free) for each role of the scenario; free: nobody has a seat in it."""
        scenario = self.host.session.scenario
        taken = {seat.role for seat in self.host.seats}
        return [(role, scenario.role_title(role), role not in taken) for role in scenario.roles]

    def _form(self, token: str, name: str = "", error: str = "", status: int = 200) -> web.Response:
        scenario = self.host.session.scenario
        roles = self._roles()
        free = [r for r in roles if r[2]] or roles
        options = "".join(
            f"<option value='{html.escape(role)}'>{html.escape(title)}</option>" for role, title, _ in free
        )
        note = (
            ""
            if any(r[2] for r in roles)
            else "<p class='note'>Every role has a player; you can join one too.</p>"
        )
        problem = f"<p class='error'>{html.escape(error)}</p>" if error else ""
        body = (
            f"<h1>{html.escape(scenario.title)}</h1>"
            "<p>Join this team rehearsal in your browser.</p>"
            f"{problem}<form method='post' action='/join'>"
            f"<input type='hidden' name='token' value='{html.escape(token)}'>"
            f"<label for='name'>Your name</label><input id='name' name='name' required maxlength='80' "
            f"value='{html.escape(name)}' autocomplete='name'>"
            f"<label for='role'>Your role</label><select id='role' name='role'>{options}</select>{note}"
            "<button type='submit' id='join'>Join</button></form>"
            + ("" if self.host.encrypted else "<p class='note'>This connection is not encrypted.</p>")
        )
        return _page("Join the rehearsal", body, status)

    async def join_form(self, request: web.Request) -> web.Response:
        token = request.query.get("token")
        if not self._token_ok(token):
            return _page(
                "Not a valid link",
                "<h1>This join link is not valid.</h1><p>Ask the facilitator for the link.</p>",
                403,
            )
        if self.host.ended.is_set():
            return _page("Ended", "<h1>This rehearsal has ended.</h1>", 410)
        return self._form(str(token))

    async def join(self, request: web.Request) -> web.Response:
        try:
            form = await asyncio.wait_for(request.post(), 10)
        except (TimeoutError, ValueError):
            return _page("Bad request", "<h1>The form did not arrive.</h1>", 400)
        token, name, role = (str(form.get(k) or "") for k in ("token", "name", "role"))
        if not self._token_ok(token):
            return _page("Not a valid link", "<h1>This join link is not valid.</h1>", 403)
        name = " ".join(name.split())[:80]
        if self.host.ended.is_set():
            return _page("Ended", "<h1>This rehearsal has ended.</h1>", 410)
        try:
            secret = await self.host.claim_seat(name, role)
        except Refused as refused:
            return self._form(token, name, refused.message, 409)
        raise web.HTTPSeeOther(f"/play/{secret}", headers=HEADERS)

    # play --------------------------------------------------------------------------------
    def _seat(self, request: web.Request) -> Any:
        return self.host.seats.by_secret(request.match_info["seat"])

    async def play_page(self, request: web.Request) -> web.Response:
        seat = self._seat(request)
        if seat is None:
            return _page(
                "Not a valid link",
                "<h1>This seat is not known.</h1><p>Join again from the link the facilitator sent.</p>",
                404,
            )
        scheme = "wss" if request.secure else "ws"
        socket_url = f"{scheme}://{request.host}/play/{request.match_info['seat']}/ws"
        text = (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>tabletop: {html.escape(seat.name)} ({html.escape(seat.role)})</title>"
            "<link rel='stylesheet' href='/static/css/xterm.css'>"
            "<script src='/static/js/textual.js'></script>"
            "<style>html, body { margin: 0; height: 100%; background: #0c181f; }"
            " #terminal { height: 100vh; } .closed { display: none; color: #e6edf3; padding: 2rem;"
            " font-family: system-ui, sans-serif; } body.-closed .closed { display: block; }</style>"
            "</head><body>"
            "<p class='closed'>The console has closed. Reload the page to come back to your seat.</p>"
            f"<div id='terminal' class='textual-terminal' data-session-websocket-url='{html.escape(socket_url)}'"
            " data-font-size='16'></div></body></html>"
        )
        return web.Response(text=text, content_type="text/html", headers=HEADERS)

    def _command(self, seat: Any) -> list[str]:
        assert self.socket_path is not None
        return [
            sys.executable,
            "-m",
            "tabletop",
            "join",
            "ws://localhost/ws",
            "--via-socket",
            self.socket_path,
            "--role",
            seat.role,
            "--name",
            seat.name,
        ]

    async def play_socket(self, request: web.Request) -> web.StreamResponse:
        seat = self._seat(request)
        if seat is None:
            raise web.HTTPNotFound(text="this seat is not known")
        key = seat.name
        previous = self.leaving.get(key)
        if previous is not None:  # a reload: the page's last console still holds the seat for a moment
            try:
                await asyncio.wait_for(asyncio.shield(previous), LEAVE_WAIT)
            except TimeoutError:
                pass  # still there: refused below, as a second tab would be
        if key in self.consoles or self.host.live(seat.name) is not None:
            raise web.HTTPConflict(text=f"{seat.name} is already connected")
        if len(self.consoles) >= self.host.settings.browser_players:
            raise web.HTTPServiceUnavailable(text="the host runs as many browser consoles as it can")
        if self.host.finished.is_set():  # a player comes back to their seat during the hot wash
            raise web.HTTPGone(text="the session has ended")
        ws = web.WebSocketResponse(heartbeat=15, max_msg_size=64 * 1024)
        await ws.prepare(request)
        self.host.guard.trust(request.transport)
        env = dict(os.environ)
        env["TABLETOP_TOKEN"] = self.host.settings.token
        env["TABLETOP_SEAT"] = request.match_info["seat"]
        env["TABLETOP_LINK_ENCRYPTED"] = "1" if request.secure else "0"
        console = BrowserConsole(self._command(seat), env, ws)
        self.consoles[key] = console
        try:
            width = _int(request.query.get("width"), 80)
            height = _int(request.query.get("height"), 24)
            await console.start(width, height)
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    envelope = json.loads(message.data)
                    kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
                except (ValueError, TypeError, IndexError, KeyError):
                    continue
                if kind == "stdin" and isinstance(data, str):
                    await console.keys(data)
                elif kind == "resize" and isinstance(data, dict):
                    await console.meta(
                        {
                            "type": "resize",
                            "width": _int(data.get("width"), 80),
                            "height": _int(data.get("height"), 24),
                        }
                    )
                elif kind == "ping":
                    await ws.send_str(json.dumps(["pong", data]))
                elif kind in ("focus", "blur"):
                    await console.meta({"type": kind})
        finally:
            if self.consoles.get(key) is console:
                del self.consoles[key]
            leaving = asyncio.ensure_future(self._leave(key, console))
            self.leaving[key] = leaving
            try:
                await leaving
            finally:
                if self.leaving.get(key) is leaving:
                    del self.leaving[key]
        return ws

    async def _leave(self, key: str, console: BrowserConsole) -> None:
        """Stop `console` and wait until the host no longer counts its player as connected: a
        reloaded page that asks for the seat meanwhile waits for this, instead of being
        refused as a second connection while the old console is still on its way out."""
        try:
            await console.stop()
            await self.host.wait_for(lambda: self.host.live(key) is None, LEAVE_WAIT)
        except Exception:  # best effort: a console that cannot be stopped is refused its seat again
            pass

    # room display ------------------------------------------------------------------------
    def _room_ok(self, request: web.Request) -> bool:
        import hmac

        return hmac.compare_digest(request.match_info["key"].encode(), self.host.seats.room_key.encode())

    def room_view(self) -> dict[str, Any]:
        """What the projector shows: clock, phase and the injects the room has received."""
        host = self.host
        room_roles = [
            p.role for p in host.session.participants if p.name == ROOM and not p.simulated
        ]  # the roles the people around the table play
        state = host.state()
        titles = host.titles()
        injects = []
        phase = None
        for event in host.events:
            if event.get("type") != "inject_released":
                continue
            to = event.get("to")
            if not (addressed_to(to, "all") or any(addressed_to(to, r) for r in room_roles)):
                continue
            if event.get("phase"):
                phase = titles.get(event["phase"], event["phase"])
            injects.append({key: event.get(key) for key in ("t", "title", "channel", "from", "to", "body")})
        started = getattr(host.session.scenario, "starts_at", None)
        return {
            "title": host.session.scenario.title,
            "t": state.t,
            "rate": state.rate,
            "paused": state.paused,
            "ended": state.ended,
            "hotwash": host.hotwash_open,
            "waiting": state.waiting,
            "starts_at": started.isoformat() if started is not None else None,
            "phase": phase,
            "injects": injects[::-1],
        }

    async def room_state(self, request: web.Request) -> web.Response:
        if not self._room_ok(request):
            raise web.HTTPNotFound()
        return web.json_response(self.room_view(), headers=HEADERS)

    async def room_page(self, request: web.Request) -> web.Response:
        if not self._room_ok(request):
            return _page("Not found", "<h1>Not found</h1>", 404)
        text = ROOM_PAGE.replace("__STATE__", html.escape(f"/room/{request.match_info['key']}/state"))
        return web.Response(text=text, content_type="text/html", headers=HEADERS)


def _int(value: Any, default: int) -> int:
    try:
        return max(10, min(1000, int(value)))
    except (TypeError, ValueError):
        return default


ROOM_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Room display</title>
<style>
body { font-family: system-ui, sans-serif; background: #0c181f; color: #e6edf3; margin: 0; }
header { display: flex; gap: 2rem; align-items: baseline; padding: 1rem 2rem; background: #12232d; }
#clock { font-size: 3rem; font-variant-numeric: tabular-nums; font-weight: bold; }
#phase, #status { font-size: 1.5rem; } #title { font-size: 1.2rem; color: #9aa7b0; }
main { padding: 1rem 2rem; } article { border-left: .3rem solid #5e0ba7; margin: 1rem 0; padding: .2rem 1rem; }
article h2 { margin: .2rem 0; font-size: 1.6rem; } .meta { color: #9aa7b0; }
article p { font-size: 1.3rem; white-space: pre-wrap; }
</style></head><body>
<header><span id="clock">T+0:00:00</span><span id="phase"></span><span id="status"></span>
<span id="title"></span></header><main id="injects"></main>
<script>
"use strict";
const STATE = "__STATE__";
let state = null, received = 0;
function offset(t) {
  t = Math.max(0, Math.floor(t));
  const h = Math.floor(t / 3600), m = Math.floor(t % 3600 / 60), s = t % 60;
  return "T+" + h + ":" + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
}
function now() {
  if (!state) return 0;
  return state.t + (performance.now() / 1000 - received) * state.rate;
}
function text(tag, value, cls) {
  const node = document.createElement(tag);
  node.textContent = value == null ? "" : String(value);
  if (cls) node.className = cls;
  return node;
}
function show() {
  if (!state) return;
  const t = now();
  let clock = offset(t);
  if (state.starts_at) {
    const when = new Date(new Date(state.starts_at).getTime() + t * 1000);
    clock += "  " + when.toLocaleString([], {weekday: "short", hour: "2-digit", minute: "2-digit"});
  }
  document.getElementById("clock").textContent = clock;
  document.getElementById("phase").textContent = state.phase || "";
  document.getElementById("status").textContent = state.hotwash ? "HOT WASH" : state.ended ? "ENDED" :
    (state.waiting && state.waiting.length ? "waiting for " + state.waiting.join(", ") :
    (state.paused ? "PAUSED" : ""));
  document.getElementById("title").textContent = state.title;
}
async function poll() {
  try {
    const response = await fetch(STATE, {cache: "no-store"});
    if (response.ok) {
      state = await response.json();
      received = performance.now() / 1000;
      const list = document.getElementById("injects");
      list.replaceChildren(...state.injects.map((inject) => {
        const article = document.createElement("article");
        article.append(text("div", offset(inject.t) + " · " + inject.channel + " · from " + (inject.from || ""), "meta"),
                       text("h2", inject.title), text("p", inject.body));
        return article;
      }));
      show();
    }
  } catch (error) { /* the host may be restarting: try again */ }
  setTimeout(poll, 2000);
}
setInterval(show, 250);
poll();
</script></body></html>
"""
