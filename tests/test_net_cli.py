"""`tabletop host`, `join` and `serve` from the command line: clear errors, scripted players, clean stops."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from click.testing import CliRunner
from factories import breach_scenario, make_session

from tabletop.cli import main
from tabletop.clock import VirtualClock
from tabletop.net.host import HostSettings, TeamHost
from tabletop.transcript import read_transcript, verify_evidence

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "cli-token"
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hosting_an_unknown_scenario_says_so_without_a_traceback():
    result = CliRunner().invoke(main, ["host", "no-such-scenario", "--headless", "--port", "0"])
    assert result.exit_code == 2
    assert "no-such-scenario" in result.output and "Traceback" not in result.output


def test_resuming_a_missing_transcript_says_so(tmp_path):
    result = CliRunner().invoke(main, ["host", "--resume", str(tmp_path / "gone.jsonl"), "--headless"])
    assert result.exit_code == 2
    assert "gone.jsonl: no such transcript to resume" in result.output


def test_host_needs_a_scenario_or_a_transcript():
    result = CliRunner().invoke(main, ["host", "--headless"])
    assert result.exit_code == 2 and "give a SCENARIO to host, or --resume TRANSCRIPT" in result.output


def test_join_wants_a_websocket_url():
    result = CliRunner().invoke(
        main, ["join", "localhost:8765", "--token", "t", "--role", "dpo", "--name", "P"]
    )
    assert result.exit_code == 2 and "expected a URL like ws://HOST:PORT/ws" in result.output


def test_joining_a_host_that_is_not_there_says_so(tmp_path):
    script = tmp_path / "s.yaml"
    script.write_text(
        "participants: [{name: P, role: dpo}]\ndecisions: [{at: 1m, role: dpo, action: involve_dpo}]\n"
    )
    url = f"ws://127.0.0.1:{free_port()}/ws"
    result = CliRunner().invoke(
        main, ["join", url, "--token", "t", "--role", "dpo", "--name", "P", "--script", str(script)]
    )
    assert result.exit_code == 2
    assert f"cannot join: cannot reach the host at {url}" in result.output


def test_serve_runs_the_join_command_in_textual_serve(monkeypatch):
    import textual_serve.server

    served = {}

    def fake_serve(self, debug: bool = False) -> None:
        served.update(command=self.command, host=self.host, port=self.port)

    monkeypatch.setattr(textual_serve.server.Server, "serve", fake_serve)
    result = CliRunner().invoke(
        main,
        [
            "serve",
            "ws://10.0.0.5:8765/ws",
            "--token",
            "tok en",
            "--role",
            "dpo",
            "--name",
            "Priya Nair",
            "--port",
            "8001",
        ],
    )
    assert result.exit_code == 0, result.output
    assert served["port"] == 8001 and served["host"] == "127.0.0.1"
    assert served["command"].endswith(
        "-m tabletop join ws://10.0.0.5:8765/ws --token 'tok en' --role dpo --name 'Priya Nair'"
    )


# --- against a real host -------------------------------------------------------------------

SCRIPT = """\
participants: [{name: Priya, role: dpo}, {name: Sam, role: coordinator}]
decisions:
  - {at: 1m, role: coordinator, action: appoint_coordinator}
  - {at: 2m, role: dpo, action: assess_personal_data, fields: {records: 500}}
  - {at: 3m, role: dpo, note: "Waiting for the export logs"}
  - {at: 4m, role: dpo, action: involve_dpo, rationale: "I am the DPO"}
"""


async def run_cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tabletop",
        *args,
        cwd=ROOT,
        env=ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    return process.returncode, out.decode()


async def test_a_scripted_player_plays_its_roles_lines(tmp_path):
    script = tmp_path / "team.yaml"
    script.write_text(SCRIPT)
    session = make_session(tmp_path, breach_scenario(), clock=VirtualClock(), participants=[], start=False)
    host = TeamHost(session, HostSettings(token=TOKEN, tick_interval=0, live_clock=False))
    await host.start("127.0.0.1", 0)
    try:
        await host.call(session.start)
        await host.run_until(300)  # every line is due: each is recorded at once
        code, output = await run_cli(
            "join", host.url, "--token", TOKEN, "--role", "dpo", "--name", "Priya", "--script", str(script)
        )
    finally:
        await host.stop()
        session.writer.close()
    assert code == 0, output
    assert "Priya (dpo): 3 recorded, 0 refused" in output
    mine = [
        e
        for e in read_transcript(session.path).events
        if e.get("by") == "Priya" and e["type"] in ("decision", "note")
    ]
    assert [(e["type"], e.get("action") or e.get("text")) for e in mine] == [
        ("decision", "assess_personal_data"),
        ("note", "Waiting for the export logs"),
        ("decision", "involve_dpo"),
    ]


async def test_a_script_with_a_mistake_is_reported_at_its_line_before_anything_is_sent(tmp_path):
    script = tmp_path / "bad.yaml"
    script.write_text(SCRIPT.replace("action: involve_dpo", "action: involve_the_dpo"))
    session = make_session(tmp_path, breach_scenario(), clock=VirtualClock(), participants=[], start=False)
    host = TeamHost(session, HostSettings(token=TOKEN, tick_interval=0, live_clock=False))
    await host.start("127.0.0.1", 0)
    try:
        await host.call(session.start)
        code, output = await run_cli(
            "join", host.url, "--token", TOKEN, "--role", "dpo", "--name", "Priya", "--script", str(script)
        )
    finally:
        await host.stop()
        session.writer.close()
    assert code == 2
    assert "bad.yaml:6:" in output and "involve_the_dpo" in output and "Traceback" not in output
    assert not any(e["type"] == "decision" for e in session.events)


async def test_a_headless_host_stops_cleanly_on_sigint(tmp_path):
    transcript = tmp_path / "stopped.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tabletop",
        "host",
        "suspected-breach",
        "--headless",
        "--port",
        "0",
        "--out",
        str(transcript),
        cwd=ROOT,
        env=ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    printed = []
    async with asyncio.timeout(30):
        while not printed or not printed[-1].startswith("Transcript:"):
            line = await process.stdout.readline()
            assert line, "the host exited before printing its transcript:\n" + "\n".join(printed)
            printed.append(line.decode().strip())
    process.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        rest, _ = await process.communicate()
    assert process.returncode == 0, rest.decode()
    assert printed[0].startswith("Join URL: ws://127.0.0.1:")
    token = printed[1].removeprefix("Token: ")
    assert len(token) >= 16, "a generated token is long enough not to be guessed"
    # a stop by signal is an interruption, not an end: `--resume` continues the session
    assert "Session interrupted (SIGINT)" in rest.decode()
    lines = read_transcript(transcript).events
    assert lines[-2]["type"] == "signature", "everything before the interruption is signed"
    events = [e for e in lines if e["type"] != "signature"]
    assert events[-1]["type"] == "session_interrupted" and events[-1]["reason"] == "SIGINT"
    assert not any(e["type"] == "session_ended" for e in events)
    assert oct(transcript.stat().st_mode & 0o777) == "0o600"


async def start_headless(*args: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tabletop",
        "host",
        *args,
        "--headless",
        "--port",
        "0",
        cwd=ROOT,
        env=ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    printed: list[str] = []
    async with asyncio.timeout(30):
        while not printed or not printed[-1].startswith("Transcript:"):
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError("the host exited: " + "".join(printed))
            printed.append(line.strip())
    return process, printed


async def test_an_interrupted_host_is_resumed_with_its_token_and_its_clock_where_it_stopped(tmp_path):
    transcript = tmp_path / "interrupted.jsonl"
    first, printed = await start_headless("suspected-breach", "--speed", "600", "--out", str(transcript))
    token = next(line for line in printed if line.startswith("Token: ")).removeprefix("Token: ")
    assert any(line.startswith("Browser players open: http://127.0.0.1:") for line in printed)
    assert any("not encrypted" in line for line in printed)
    await asyncio.sleep(0.3)
    first.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        out, _ = await first.communicate()
    assert first.returncode == 0 and f"tabletop host --resume {transcript}" in out.decode()
    signed, stopped_at = read_transcript(transcript).events[-2:]
    assert stopped_at["type"] == "session_interrupted" and stopped_at["t"] > 0
    assert signed["type"] == "signature" and signed["signs"] == signed["seq"] - 1, "signed up to the stop"

    second, printed = await start_headless("--resume", str(transcript))
    assert f"Token: {token}" in printed, "the token is kept beside the transcript"
    second.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        await second.communicate()
    events = read_transcript(transcript).events
    resumed = next(e for e in events if e["type"] == "session_resumed")
    assert resumed["from_t"] >= stopped_at["t"] and resumed["signed_through"] == signed["seq"]
    assert [e["type"] for e in events].count("session_interrupted") == 2
    evidence = verify_evidence(transcript)
    assert evidence.status == "verified", evidence.problems


def test_wait_for_names_only_roles_of_the_scenario_and_needs_headless(tmp_path):
    wrong = CliRunner().invoke(
        main,
        [
            "host",
            "suspected-breach",
            "--headless",
            "--port",
            "0",
            "--out",
            str(tmp_path / "a.jsonl"),
            "--wait-for",
            "coordinator,ceo",
        ],
    )
    assert wrong.exit_code == 2 and "--wait-for: ceo not in scenario 'suspected-breach'" in wrong.output
    assert not (tmp_path / "a.jsonl").exists(), "no empty transcript is left behind"
    console = CliRunner().invoke(main, ["host", "suspected-breach", "--wait-for", "coordinator"])
    assert console.exit_code == 2 and "--wait-for needs --headless" in console.output


def test_tls_needs_both_a_certificate_and_its_key(tmp_path):
    result = CliRunner().invoke(main, ["host", "suspected-breach", "--headless", "--tls-cert", "x.pem"])
    assert result.exit_code == 2 and "--tls-cert and --tls-key go together" in result.output
