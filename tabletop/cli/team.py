"""`tabletop host`, `join` and `serve`: a team rehearsal with players on their own machines or in their browsers."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tabletop.cli import default_player_name
from tabletop.untrusted import SafeLogFormatter, one_line, one_line_each, safe

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
@click.option("--token", default=None, help="The token players need to join (default: a new random one).")
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
    help="Continue the session recorded in this transcript (after the host died).",
)
@click.option("--name", default="Facilitator", show_default=True, help="The facilitator's name.")
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
) -> None:
    """Host a team rehearsal of SCENARIO: players join with `tabletop join URL --token T --role R`."""
    if scenario is None and resume is None:
        raise click.UsageError("give a SCENARIO to host, or --resume TRANSCRIPT")
    _log_to_stderr()
    if speed is not None and speed <= 0:
        raise click.BadParameter(
            f"expected a number greater than 0, received {speed:g}", param_hint="--speed"
        )
    if resume is not None and token is None:
        click.echo(
            "No --token given: players must join again with the new token (pass the old one to let them reconnect).",
            err=True,
        )
    token = token or secrets.token_urlsafe(16)
    # The session thread waits on fsync while the network loop is busy fanning events out; at
    # Python's default 5 ms GIL switch interval each durable line then queues behind the loop
    # (a convoy that cut throughput threefold in bench_net). Hand the GIL over sooner.
    sys.setswitchinterval(0.0005)
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
        code = asyncio.run(_host_headless(opened, bind, port, token))
        raise SystemExit(code)
    _host_console(scenario, bind, port, token, speed, seed, out, resume, name)


def _announce(url: str, token: str, transcript: Path | None) -> None:
    click.echo(f"Join URL: {url}")
    click.echo(f"Token: {token}")
    click.echo(f"Players join with: tabletop join {url} --token {token} --role ROLE --name NAME")
    click.echo(f"Transcript: {transcript}")
    sys.stdout.flush()


async def _host_headless(opened: OpenedSession, bind: str, port: int, token: str) -> int:
    from tabletop.net.host import HostSettings, TeamHost

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # from the first moment: a stop is always clean
        loop.add_signal_handler(signum, stop.set)
    team = TeamHost(opened.session, HostSettings(token=token), history=opened.history)
    try:
        try:
            url = await team.start(bind, port)
        except OSError as error:
            click.echo(f"cannot listen on {bind}:{port}: {error.strerror or error}", err=True)
            await team.stop()
            return 2
        if opened.resumed:
            await team.leave_absent()  # the players' connections died with the last host
        else:
            await team.call(opened.session.start)
        _announce(url, token, opened.transcript)
        ended = asyncio.create_task(team.ended.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([ended, stopped], return_when=asyncio.FIRST_COMPLETED)
        for task in (ended, stopped):
            task.cancel()
        await team.stop(None if team.ended.is_set() else "interrupted")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    how = "end of scenario" if not stop.is_set() else "interrupted"
    click.echo(f"Session ended ({how}); transcript: {opened.transcript}")
    return 0


def _host_console(
    scenario: str | None,
    bind: str,
    port: int,
    token: str,
    speed: float | None,
    seed: int | None,
    out: Path | None,
    resume: Path | None,
    name: str,
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

    async def main() -> int:
        from tabletop.net.host import HostSettings, TeamHost

        link = app.link
        assert isinstance(link, SessionLink)  # make_console drives a session in this process
        team = TeamHost(
            link.session,
            HostSettings(token=token, tick_session=False),
            call=link.call,
            history=list(link.events),
        )
        try:
            url = await team.start(bind, port)
        except OSError as error:
            click.echo(f"cannot listen on {bind}:{port}: {error.strerror or error}", err=True)
            await team.stop()
            return 2
        if app.settings.resumed:
            await team.leave_absent()  # the players' connections died with the last host
        _announce(url, token, app.settings.transcript)
        app.sub_title = f"join: {url}  token: {token}"
        try:
            await app.run_async()
        finally:
            await team.stop()
        return app.return_code or 0

    code = asyncio.run(main())
    click.echo(f"Transcript: {app.settings.transcript}")
    if not app.link.ended:
        click.echo(
            f"The rehearsal was not ended; continue it with: tabletop host --resume {app.settings.transcript}"
        )
    raise SystemExit(code)


# --- join ------------------------------------------------------------------------------------


@click.command()
@click.argument("url")
@click.option("--token", required=True, help="The session's token (the facilitator has it).")
@click.option("--role", required=True, help="The role you play.")
@click.option("--name", default=None, help="Your name in the transcript (default: your login name).")
@click.option(
    "--script",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Play this decision script's lines for your role at their sim times, with no console.",
)
def join(url: str, token: str, role: str, name: str | None, script: Path | None) -> None:
    """Join the team rehearsal at URL as ROLE: the player's console, or a scripted player."""
    _log_to_stderr()
    name = name or default_player_name()
    if not url.startswith(("ws://", "wss://", "http://", "https://")):
        raise click.BadParameter(f"expected a URL like ws://HOST:PORT/ws, received {url!r}", param_hint="URL")
    url = "ws" + url[4:] if url.startswith("http") else url
    if script is not None:
        raise SystemExit(asyncio.run(_join_scripted(url, token, role, name, script)))
    raise SystemExit(asyncio.run(_join_console(url, token, role, name)))


async def _join_scripted(url: str, token: str, role: str, name: str, script: Path) -> int:
    from tabletop.net.client import (
        ConnectionLost,
        JoinRefused,
        PlayerClient,
        play_script,
        player_scenario_model,
    )
    from tabletop.net.rehearsal import read_script
    from tabletop.sessions import SessionSetupError

    client = PlayerClient(url, token, role, name)
    try:
        welcome = await client.connect()
    except (JoinRefused, ConnectionLost) as error:
        click.echo(f"cannot join: {one_line(error)}", err=True)
        return 2
    try:
        lines = read_script(script, role, player_scenario_model(welcome.scenario))
    except SessionSetupError as error:
        click.echo(one_line_each(error.problems), err=True)
        await client.close()
        return 2
    try:
        results = await play_script(client, lines)
    except ConnectionLost as error:
        click.echo(f"stopped: {one_line(error)}", err=True)
        return 1
    finally:
        await client.close()
    refused = [r for r in results if r.refused]
    for result in refused:
        what = result.line.action or "note"
        click.echo(f"{script}: at {result.line.at}s {what}: refused: {one_line(result.refused)}", err=True)
    click.echo(f"{name} ({role}): {len(results) - len(refused)} recorded, {len(refused)} refused")
    return 1 if refused else 0


async def _join_console(url: str, token: str, role: str, name: str) -> int:
    from tabletop.net.client import ConnectionLost, JoinRefused, PlayerClient, RemoteSession

    client = PlayerClient(url, token, role, name)
    try:
        await client.connect()
    except (JoinRefused, ConnectionLost) as error:
        click.echo(f"cannot join: {one_line(error)}", err=True)
        return 2
    from tabletop.ui.app import ConsoleSettings

    remote = RemoteSession(client)
    app = _remote_console_class()(
        remote,
        ConsoleSettings(role=role, name=name, mode="team", tick_interval=None, resumed=True),
        participants=list(client.presence),
    )
    try:
        await app.run_async()
    finally:
        await client.close()
    return app.return_code or 0


def _remote_console_class() -> type:
    """The console for a remote player: at the end, no scorecard (the player has only their
    own view, and the score is the facilitator's), just word that the session is over."""
    import tabletop.ui.app
    from tabletop.ui.app import TabletopConsole

    class RemotePlayerConsole(TabletopConsole):
        CSS_PATH = str(Path(tabletop.ui.app.__file__).with_name(str(TabletopConsole.CSS_PATH)))

        def show_debrief(self) -> None:
            if self.debrief_shown:
                return
            self.debrief_shown = True
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
