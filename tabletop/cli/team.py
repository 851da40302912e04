"""`tabletop host`, `join` and `serve`: a team rehearsal with players on their own machines or in their browsers."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tabletop.cli import default_player_name
from tabletop.untrusted import SafeLogFormatter, one_line, one_line_each, rich_text, safe

if TYPE_CHECKING:
    from tabletop.sessions import OpenedSession


def _fail(message: str, code: int = 2) -> None:
    click.echo(safe(message), err=True)
    raise SystemExit(code)


class _StderrLog(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (as logging's last resort does)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _log_to_stderr() -> None:
    """Warnings to stderr as before, each message on one line with control characters shown:
    they name players and quote what they sent, and a name may hold ESC or a newline."""
    root = logging.getLogger()
    if not any(isinstance(handler, _StderrLog) for handler in root.handlers):
        handler = _StderrLog()
        handler.setFormatter(SafeLogFormatter("%(message)s"))
        root.addHandler(handler)


# --- host ------------------------------------------------------------------------------------


def _roles_list(value: str | None) -> tuple[str, ...]:
    return tuple(r.strip() for r in (value or "").split(",") if r.strip())


@click.command()
@click.argument("scenario", required=False)
@click.option(
    "--bind",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 opens it to the network).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--token",
    default=None,
    help="The token players need to join (default: a new random one; a resumed session keeps its own).",
)
@click.option(
    "--speed", type=float, default=None, help="Sim seconds per wall second (default: the scenario's)."
)
@click.option(
    "--seed", type=int, default=None, help="Seed for the scenario's variables (default: the scenario's)."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the transcript.",
)
@click.option(
    "--headless",
    is_flag=True,
    help="No console: run to the end of the scenario or until stopped (SIGINT/SIGTERM).",
)
@click.option(
    "--resume",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Continue the session recorded in this transcript (after the host stopped or died).",
)
@click.option("--name", default="Facilitator", show_default=True, help="The facilitator's name.")
@click.option(
    "--wait-for",
    "wait_for",
    default=None,
    metavar="ROLE,ROLE",
    help="With --headless: hold the clock until a player has joined in each of these roles.",
)
@click.option(
    "--hotwash",
    "hotwash",
    default=None,
    metavar="DURATION",
    help="With --headless: how long the hot wash stays open after the end, in wall time "
    "(default 15m; 0 skips it); the console's facilitator closes it with x.",
)
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Serve TLS with this certificate (PEM; players join with wss://, browsers open https://).",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The private key of --tls-cert (PEM).",
)
def host(
    scenario: str | None,
    bind: str,
    port: int,
    token: str | None,
    speed: float | None,
    seed: int | None,
    out: Path | None,
    headless: bool,
    resume: Path | None,
    name: str,
    wait_for: str | None,
    hotwash: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Host a team rehearsal of SCENARIO: players join from the browser link it prints, or with
    `tabletop join URL --token T --role R`."""
    if scenario is None and resume is None:
        raise click.UsageError("give a SCENARIO to host, or --resume TRANSCRIPT")
    _log_to_stderr()
    if speed is not None and speed <= 0:
        raise click.BadParameter(
            f"expected a number greater than 0, received {speed:g}", param_hint="--speed"
        )
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together: the certificate and its private key")
    roles = _roles_list(wait_for)
    if roles and not headless:
        raise click.UsageError(
            "--wait-for needs --headless; the console's lobby holds the clock until you press Enter"
        )
    if hotwash is not None and not headless:
        raise click.UsageError(
            "--hotwash needs --headless; in the console the facilitator closes the hot wash (x)"
        )
    hotwash_seconds = _hotwash_seconds(hotwash)
    tls = None
    if tls_cert is not None and tls_key is not None:
        from tabletop.net.host import tls_context

        try:
            tls = tls_context(tls_cert, tls_key)
        except ValueError as error:
            _fail(f"--tls-cert/--tls-key: {error}")
    # The session thread waits on fsync while the network loop is busy fanning events out; at
    # Python's default 5 ms GIL switch interval each durable line then queues behind the loop
    # (a convoy that cut throughput threefold in bench_net). Hand the GIL over sooner.
    sys.setswitchinterval(0.0005)
    from tabletop.net.guard import raise_descriptor_limit

    raise_descriptor_limit()  # sockets beyond 1024 are refused by the host, not by the kernel
    if headless:
        from tabletop import sessions
        from tabletop.clock import ScaledClock

        try:  # roles are played by the people who join (a role nobody joins is simulated)
            if resume is not None:
                opened = sessions.resume_session(resume, clock=ScaledClock(speed or 60.0))
            else:
                assert scenario is not None  # checked above
                opened = sessions.open_session(
                    scenario, mode="team", seats="player", speed=speed, seed=seed, transcript=out
                )
        except sessions.SessionSetupError as error:
            _fail(one_line_each(error.problems))
        unknown = [r for r in roles if r not in opened.session.scenario.roles]
        if unknown:
            opened.session.writer.close()
            if not opened.resumed:
                _discard_unstarted(opened.transcript)
            _fail(
                f"--wait-for: {', '.join(unknown)} not in scenario {opened.session.scenario.id!r}; "
                f"expected roles among {', '.join(opened.session.scenario.roles)}"
            )
        seats, token = _seats(opened.transcript, token, name, resumed=opened.resumed)
        code = asyncio.run(
            _host_headless(opened, bind, port, token, seats, tls, roles, name, hotwash_seconds)
        )
        raise SystemExit(code)
    _host_console(scenario, bind, port, token, speed, seed, out, resume, name, tls)


HOTWASH_DEFAULT = 15 * 60
"""Wall seconds a headless host keeps the hot wash open after the end (`--hotwash`)."""


def _hotwash_seconds(value: str | None) -> int:
    from tabletop.timing import TimeFormatError, parse_duration

    if value is None:
        return HOTWASH_DEFAULT
    try:
        return parse_duration(value)
    except TimeFormatError as error:
        raise click.BadParameter(str(error), param_hint="--hotwash") from None


def _seats(transcript: Path, token: str | None, name: str, *, resumed: bool) -> tuple[Any, str]:
    """The seats kept beside `transcript` (restored on resume) and the token to use."""
    from tabletop.net.seats import SeatError, Seats, seats_path

    try:
        seats = Seats.load(seats_path(transcript), reserved=[name])
    except SeatError as error:
        _fail(str(error))
    if token is None:
        token = seats.token if resumed and seats.token else secrets.token_urlsafe(16)
        if resumed and seats.token is None:
            click.echo(
                "No --token given and none kept beside the transcript: players join again with the new token.",
                err=True,
            )
    seats.token = token
    return seats, token


def _announce(team: Any, transcript: Any, roles: tuple[str, ...] = ()) -> None:
    click.echo(f"Join URL: {one_line(team.url)}")
    click.echo(f"Token: {one_line(team.settings.token)}")
    click.echo(f"Players join with: {one_line(team.join_command())}")
    click.echo(f"Browser players open: {one_line(team.join_link)}")
    click.echo(f"Room display (read-only, for a projector): {one_line(team.room_link)}")
    if not team.encrypted:
        click.echo("The connection is not encrypted (--tls-cert/--tls-key serve TLS).")
    if roles:
        click.echo(f"The clock starts once these roles have joined: {one_line(', '.join(roles))}")
    click.echo(f"Transcript: {one_line(transcript)}")
    sys.stdout.flush()


async def _host_headless(
    opened: OpenedSession,
    bind: str,
    port: int,
    token: str,
    seats: Any,
    tls: Any,
    roles: tuple[str, ...],
    name: str,
    hotwash: int = HOTWASH_DEFAULT,
) -> int:
    from tabletop.net.host import HostSettings, TeamHost

    stop = asyncio.Event()
    stopped_by: list[str] = []
    loop = asyncio.get_running_loop()

    def stopping(signum: int) -> None:
        stopped_by.append(signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):  # from the first moment: a stop is always clean
        loop.add_signal_handler(signum, stopping, signum)
    settings = HostSettings(token=token, ssl=tls, wait_for=roles, facilitator=name)
    team = TeamHost(opened.session, settings, history=opened.history, seats=seats)
    try:
        try:
            await team.start(bind, port)
        except OSError as error:
            click.echo(f"cannot listen on {bind}:{port}: {error.strerror or error}", err=True)
            await team.stop()
            return 2
        await asyncio.to_thread(seats.save, seats.snapshot())
        if opened.resumed:
            await team.leave_absent()  # the players' connections died with the last host
        begun = asyncio.create_task(team.begin(resumed=opened.resumed))
        _announce(team, opened.transcript, roles)
        ended = asyncio.create_task(team.ended.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([ended, stopped], return_when=asyncio.FIRST_COMPLETED)
        for task in (ended, stopped):
            task.cancel()
        team.abandon_begin()
        await begun  # a start already under way finishes first: the interruption comes after it
        if team.ended.is_set():
            if not stop.is_set():
                await _headless_hotwash(team, hotwash, stop)
            await team.stop()
        else:
            await team.interrupt(stopped_by[0] if stopped_by else "SIGTERM")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if not getattr(opened.session, "started", True):
            opened.session.writer.close()
    if not getattr(opened.session, "started", True):
        _discard_unstarted(opened.transcript)
        click.echo("Stopped before the session started: no transcript was written.")
        return 0
    if team.ended.is_set():
        click.echo(f"Session ended (end of scenario); transcript: {one_line(opened.transcript)}")
        if team.hotwash_open:
            click.echo("The hot wash was left open (stopped before it closed); continue it with:")
            click.echo(f"  tabletop host --resume {one_line(opened.transcript)} --headless")
    else:
        how = stopped_by[0] if stopped_by else "stopped"
        click.echo(f"Session interrupted ({how}); transcript: {one_line(opened.transcript)}")
        click.echo(f"Continue it with: tabletop host --resume {one_line(opened.transcript)} --headless")
    return 0


async def _headless_hotwash(team: Any, seconds: int, stop: asyncio.Event) -> None:
    """Keep the host up for the hot wash: until `seconds` of wall time have passed (then it is
    closed), or a stop signal (then it is left open, resumable). 0 closes it at once."""
    from tabletop.timing import format_duration

    if not team.hotwash_open:
        return
    session = team.session
    if seconds <= 0:
        await team.call(session.close_hotwash, "skipped")
        click.echo("Hot wash skipped (--hotwash 0).")
        return
    questions = len(session.scenario.hotwash)
    click.echo(
        f"Hot wash open: players answer its {questions} questions in their consoles; "
        f"it closes in {format_duration(seconds)} (--hotwash)."
    )
    sys.stdout.flush()
    waits = [asyncio.create_task(team.finished.wait()), asyncio.create_task(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    if stop.is_set() or not team.hotwash_open:
        return
    try:
        await team.call(session.close_hotwash, "time")
    except Exception as error:  # closed meanwhile
        click.echo(f"could not close the hot wash: {one_line(error)}", err=True)
        return
    answers = len(session.hotwash_answers)
    click.echo(
        f"Hot wash closed after {format_duration(seconds)} with {answers} answer{'' if answers == 1 else 's'}."
    )


def _discard_unstarted(transcript: Path) -> None:
    """Remove the empty transcript (and its seats) of a session stopped before it started."""
    from tabletop.net.seats import seats_path

    for path in (Path(transcript), seats_path(transcript)):
        try:
            if path == Path(transcript) and path.stat().st_size > 0:
                continue
            path.unlink()
        except OSError:
            pass


def _host_console(
    scenario: str | None,
    bind: str,
    port: int,
    token: str | None,
    speed: float | None,
    seed: int | None,
    out: Path | None,
    resume: Path | None,
    name: str,
    tls: Any,
) -> None:
    from tabletop.sessions import SessionSetupError
    from tabletop.ui.app import make_console
    from tabletop.ui.link import SessionLink

    try:  # roles are played by the people who join (a role nobody joins is simulated)
        app = make_console(
            scenario,
            name=name,
            solo=False,
            facilitate=True,
            speed=speed,
            seed=seed,
            resume=resume,
            out=out,
            seats="player",
        )
    except SessionSetupError as error:
        _fail(one_line_each(error.problems))
    transcript = app.settings.transcript
    assert transcript is not None  # a console that hosts writes a transcript
    seats, token = _seats(transcript, token, name, resumed=app.settings.resumed)

    async def main() -> int:
        from tabletop.net.host import HostSettings, TeamHost

        link = app.link
        assert isinstance(link, SessionLink)  # make_console drives a session in this process
        team = TeamHost(
            link.session,
            HostSettings(token=token, tick_session=False, ssl=tls, facilitator=name),
            call=link.call,
            history=list(link.events),
            seats=seats,
        )
        try:
            await team.start(bind, port)
        except OSError as error:
            click.echo(f"cannot listen on {bind}:{port}: {error.strerror or error}", err=True)
            await team.stop()
            return 2
        await asyncio.to_thread(seats.save, seats.snapshot())
        if app.settings.resumed:
            await team.leave_absent()  # the players' connections died with the last host
        _announce(team, app.settings.transcript)
        from tabletop.ui.widgets.join_panel import JoinDetails

        assert team.join_link is not None  # the host is listening
        app.join = JoinDetails(
            link=team.join_link,
            command=team.join_command(),
            token=token,
            room=team.room_link,
            encrypted=team.encrypted,
        )
        app.presence = team.connected
        app.sub_title = f"join: {team.join_link}"
        loop = asyncio.get_running_loop()
        leaving: set[asyncio.Task[None]] = set()

        def terminated() -> None:  # a shutdown or `kill`: an interruption, resumable, like ctrl+q
            task = asyncio.ensure_future(app.leave("SIGTERM"))
            leaving.add(task)
            task.add_done_callback(leaving.discard)

        loop.add_signal_handler(signal.SIGTERM, terminated)
        try:
            await app.run_async()
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            await team.stop()
        return app.return_code or 0

    code = asyncio.run(main())
    click.echo(f"Transcript: {app.settings.transcript}")
    if not app.link.ended:
        click.echo(
            f"The rehearsal was not ended; continue it with: tabletop host --resume {app.settings.transcript}"
        )
    elif app.link.hotwash_open:
        click.echo(
            f"The hot wash is still open; continue it with: tabletop host --resume {app.settings.transcript}"
        )
    raise SystemExit(code)


# --- join ------------------------------------------------------------------------------------


@click.command()
@click.argument("url")
@click.option(
    "--token",
    required=True,
    envvar="TABLETOP_TOKEN",
    help="The session's token (the facilitator has it; or set TABLETOP_TOKEN).",
)
@click.option("--role", required=True, help="The role you play.")
@click.option("--name", default=None, help="Your name in the transcript (default: your login name).")
@click.option(
    "--script",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Play this decision script's lines for your role at their sim times, with no console.",
)
@click.option(
    "--tls-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Trust this certificate (PEM) for a wss:// host, e.g. the facilitator's self-signed one.",
)
@click.option("--seat", envvar="TABLETOP_SEAT", default=None, hidden=True)
@click.option("--via-socket", type=click.Path(path_type=Path), default=None, hidden=True)
def join(
    url: str,
    token: str,
    role: str,
    name: str | None,
    script: Path | None,
    tls_ca: Path | None,
    seat: str | None,
    via_socket: Path | None,
) -> None:
    """Join the team rehearsal at URL as ROLE: the player's console, or a scripted player."""
    _log_to_stderr()
    import os

    name = name or default_player_name()
    if not url.startswith(("ws://", "wss://", "http://", "https://")):
        raise click.BadParameter(f"expected a URL like ws://HOST:PORT/ws, received {url!r}", param_hint="URL")
    url = "ws" + url[4:] if url.startswith("http") else url
    from tabletop.net.client import PlayerClient, SeatStore

    context = None
    if tls_ca is not None:
        import ssl

        try:
            context = ssl.create_default_context(cafile=str(tls_ca))
        except (ssl.SSLError, OSError) as error:
            _fail(f"--tls-ca: {tls_ca}: not a PEM certificate: {error}")
    browser = via_socket is not None
    client = PlayerClient(
        url,
        token,
        role,
        name,
        seat=seat,
        seats=None if browser else SeatStore.default(),
        ssl_context=context,
        unix_socket=str(via_socket) if browser else None,
        encrypted=os.environ.get("TABLETOP_LINK_ENCRYPTED") == "1" if browser else None,
    )
    if script is not None:
        raise SystemExit(asyncio.run(_join_scripted(client, script)))
    raise SystemExit(asyncio.run(_join_console(client, browser)))


async def _join_scripted(client: Any, script: Path) -> int:
    from tabletop.net.client import ConnectionLost, JoinRefused, play_script, player_scenario_model
    from tabletop.net.rehearsal import read_script
    from tabletop.sessions import SessionSetupError

    try:
        welcome = await client.connect()
    except (JoinRefused, ConnectionLost) as error:
        click.echo(f"cannot join: {one_line(error)}", err=True)
        return 2
    try:
        lines = read_script(script, client.role, player_scenario_model(welcome.scenario))
    except SessionSetupError as error:
        click.echo(one_line_each(error.problems), err=True)
        await client.close()
        return 2
    try:
        results = await play_script(client, lines)
    except (TimeoutError, ConnectionLost) as error:
        click.echo(f"stopped: {one_line(error) or 'the host did not answer'}", err=True)
        return 1
    finally:
        await client.close()
    refused = [r for r in results if r.refused]
    for result in refused:
        what = result.line.action or "note"
        click.echo(f"{script}: at {result.line.at}s {what}: refused: {one_line(result.refused)}", err=True)
    click.echo(
        f"{one_line(client.name)} ({client.role}): {len(results) - len(refused)} recorded, {len(refused)} refused"
    )
    return 1 if refused else 0


async def _join_console(client: Any, browser: bool = False) -> int:
    from tabletop.net.client import ConnectionLost, JoinRefused, RemoteSession

    try:
        await client.connect()
    except (JoinRefused, ConnectionLost) as error:
        if browser:  # the browser shows the console's screen, not this process's output
            return await _show_refusal(one_line(error))
        click.echo(f"cannot join: {one_line(error)}", err=True)
        return 2
    from tabletop.ui.app import ConsoleSettings

    remote = RemoteSession(client)
    app = _remote_console_class()(
        remote,
        ConsoleSettings(role=client.role, name=client.name, mode="team", tick_interval=None, resumed=True),
        participants=list(client.presence),
    )
    try:
        await app.run_async()
    finally:
        await client.close()
    return app.return_code or 0


async def _show_refusal(message: str) -> int:
    """A browser player the host refused: say why on their screen."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Refusal(App[None]):
        BINDINGS = [("ctrl+q", "quit", "Quit")]

        def compose(self) -> ComposeResult:
            yield Static(rich_text(f"Cannot join: {message}\n\nClose this page, or reload it to try again."))

    await Refusal().run_async()
    return 2


def _remote_console_class() -> type:
    """The console for a remote player: at the end, the hot wash when the scenario asks one,
    then no scorecard (the player has only their own view, and the score is the
    facilitator's), just word that the session is over."""
    import tabletop.ui.app
    from tabletop.ui.app import TabletopConsole

    class RemotePlayerConsole(TabletopConsole):
        CSS_PATH = str(Path(tabletop.ui.app.__file__).with_name(str(TabletopConsole.CSS_PATH)))

        def show_debrief(self) -> None:
            if self.debrief_shown or (self.link.hotwash_open and self.show_hotwash()):
                return  # the player answers the hot wash first
            self.debrief_shown = True
            if self.hotwash_shown:
                self.notify(
                    "The facilitator closed the hot wash: thank you. Press ctrl+q to leave.",
                    title="Hot wash closed",
                    timeout=3600,
                )
                return
            self.notify(
                "The session has ended. The facilitator runs the debrief; press ctrl+q to leave.",
                title="Session ended",
                timeout=3600,
            )

    return RemotePlayerConsole


# --- serve -----------------------------------------------------------------------------------


@click.command()
@click.argument("url")
@click.option("--token", required=True, help="The session's token.")
@click.option("--role", required=True, help="The role the browser player plays.")
@click.option("--name", required=True, help="The browser player's name.")
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address the web server listens on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port of the web server."
)
@click.option("--public-url", default=None, help="The URL browsers use, when behind a proxy.")
def serve(url: str, token: str, role: str, name: str, bind: str, port: int, public_url: str | None) -> None:
    """Serve the player console for URL in a browser (textual-serve runs `tabletop join`)."""
    from textual_serve.server import Server

    command = " ".join(
        shlex.quote(part)
        for part in (
            sys.executable,
            "-m",
            "tabletop",
            "join",
            url,
            "--token",
            token,
            "--role",
            role,
            "--name",
            name,
        )
    )
    click.echo(f"Open http://{bind}:{port} in a browser to play {role} as {name}")
    Server(command, host=bind, port=port, title=f"tabletop: {name} ({role})", public_url=public_url).serve()
