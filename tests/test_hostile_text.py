"""Hostile text in scenarios and transcripts never acts on the reader's terminal.

A scenario and a decision script whose titles, names, notes, rationales and field values
carry Rich markup (`[/x]` used to crash `score`, `show` and `list`; `[link=...]` made a live
link) and escape sequences (a window title, a screen clear, OSC 8 hyperlinks): every command
prints them literally, with control characters visible, whether its output goes to a pipe
(CliRunner) or to a real terminal (a pseudo-terminal, where Rich adds its own colours).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from console_support import HOSTILE, HOSTILE_SHOWN, assert_nothing_raw_reaches_the_terminal, terminal_output

from tabletop.cli import main

# YAML double-quoted escapes: \e is ESC, \a is BEL, \x9b the 8-bit CSI.
MARK = r" [/x] [link=http://evil.example]x[/link] \e]0;pwned\a\e[2J\e]8;;http://evil.example/\e\\here\e]8;;\e\\\x9b"
SHOWN = " [/x] [link=http://evil.example]x[/link] ␛]0;pwned␇␛[2J␛]8;;http://evil.example/␛\\here␛]8;;␛\\\\x9b"
RAW = " [/x] [link=http://evil.example]x[/link] \x1b]0;pwned\x07\x1b[2J\x1b]8;;http://evil.example/\x1b\\here\x1b]8;;\x1b\\\x9b"

SCENARIO = f"""\
id: hostile
title: "Hostile{MARK}"
summary: "Summary{MARK}"
kind: tabletop
duration: 2h
seed: 1
roles: [coordinator, dpo]
objectives: ["Objective{MARK}"]
phases:
  - {{id: detection, title: "Detection{MARK}", questions: ["Who?{MARK}"]}}
injects:
  - id: alert
    at: 0
    phase: detection
    channel: alert
    from: "SIEM{MARK}"
    title: "Alert{MARK}"
    body: "First line{MARK}\\nsecond line"
    expects:
      - {{id: coord, action: appoint_coordinator, owner: coordinator, within: 15m}}
  - {{id: later, at: 30m, title: "Later{MARK}", body: "Later body{MARK}"}}
"""

SCRIPT = f"""\
participants:
  - {{name: "Sam{MARK}", role: coordinator}}
  - {{name: "Priya{MARK}", role: dpo}}
decisions:
  - at: 5m
    role: coordinator
    action: appoint_coordinator
    fields: {{coordinator: "Sam{MARK}"}}
    rationale: "Because{MARK}"
  - {{at: 10m, role: dpo, note: "Note{MARK}"}}
"""

BAD = f"""\
id: bad
title: "Bad"
"extra{MARK}\\nFAKE.yaml:1:1: id: forged": 1
duration: "2h{MARK}"
roles: [coordinator]
injects:
  - {{id: alert, at: 0, title: "x", to: ["dpo{MARK}"]}}
"""

TEAM = "Red" + RAW
EVIL_FILE = "evil\x1b]0;pwned\x07[x].jsonl"


VISIBLE = ("[/x]", "[link=http://evil.example]x[/link]", "␛]0;pwned␇", "␛[2J", "␛]8;;")
"""Pieces of SHOWN short enough to stay whole where a table folds a long cell."""


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "400"}, catch_exceptions=False)


def assert_safe(result: Any, *shown: str) -> None:
    """No traceback, nothing raw from the files, and each visible form present."""
    out = result.output
    assert "Traceback" not in out, out
    for raw in ("\x1b", "\x07", "\x9b"):
        assert raw not in out, f"{raw!r} reached the output: {out[:2000]!r}"
    for text in shown:
        assert text in out, f"{text!r} is not shown in: {out[:3000]}"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scenarios/hostile.yaml, bad.yaml, and two transcripts of it by hostile players."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "scenarios").mkdir()
    (root / "scenarios" / "hostile.yaml").write_text(SCENARIO, encoding="utf-8")
    (root / "bad.yaml").write_text(BAD, encoding="utf-8")
    (root / "script.yaml").write_text(SCRIPT, encoding="utf-8")
    folder = root / "transcripts"
    folder.mkdir()
    scenario = str(root / "scenarios" / "hostile.yaml")
    for name, team in (("a.jsonl", "Blue" + RAW), ("b.jsonl", TEAM)):
        result = invoke(
            "simulate",
            scenario,
            "--script",
            str(root / "script.yaml"),
            "--out",
            str(folder / name),
            "--team",
            team,
        )
        assert result.exit_code == 0, result.output
    shutil.copy(folder / "a.jsonl", folder / EVIL_FILE)
    return root


def test_the_transcripts_hold_the_hostile_text_as_typed(repo):
    """The evidence keeps what was typed, character for character; only what is shown is made safe."""
    lines = (repo / "transcripts" / "a.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert [p["name"] for p in events[0]["participants"]] == ["Sam" + RAW, "Priya" + RAW]
    assert [e["rationale"] for e in events if e["type"] == "decision"] == ["Because" + RAW]


def test_show_prints_the_msel_literally(repo):
    result = invoke("show", str(repo / "scenarios" / "hostile.yaml"))
    assert result.exit_code == 0
    assert_safe(result, "hostile: Hostile" + SHOWN, "Alert [/x]", "SIEM [/x]", *VISIBLE)


def test_list_prints_titles_literally(repo, monkeypatch):
    monkeypatch.chdir(repo)
    result = invoke("list")
    assert result.exit_code == 0
    assert_safe(result, "Hostile [/x]", *VISIBLE)


def test_validate_quotes_file_content_on_one_safe_line(repo):
    result = invoke("validate", str(repo / "bad.yaml"))
    assert result.exit_code == 1
    assert_safe(result, "␛]0;pwned␇")
    lines = result.output.splitlines()
    assert not any(line.startswith("FAKE.yaml") for line in lines), "a newline in a key forged a problem line"
    assert next(line for line in lines if "forged" in line).startswith(str(repo / "bad.yaml"))
    assert lines[-1].endswith("3 problems in 1 file")


def test_score_prints_the_scorecard_literally(repo):
    result = invoke("score", str(repo / "transcripts" / "a.jsonl"))
    assert result.exit_code == 0
    assert_safe(result, "Hostile" + SHOWN, *VISIBLE)


def test_score_of_a_folder_names_hostile_files_safely(repo):
    result = invoke("score", str(repo / "transcripts"))
    assert result.exit_code == 0
    assert_safe(result, "evil␛]0;pwned␇[x].jsonl")


@pytest.mark.parametrize(
    "args",
    [
        ("score", "transcripts/a.jsonl", "--json"),
        ("score", "transcripts", "--json"),
        ("compare", "transcripts/a.jsonl", "transcripts/b.jsonl", "--json"),
        ("trends", "transcripts", "--json"),
        ("report", "transcripts/a.jsonl", "-o", "-", "--format", "json"),
    ],
    ids=lambda a: " ".join(a[:1] + a[2:] if a[0] == "compare" else a[:1] + a[-1:]),
)
def test_json_output_keeps_the_data_exact_and_escaped(repo, args):
    args = tuple(str(repo / a) if a.startswith("transcripts") else a for a in args)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert_safe(result)
    json.loads(result.stdout)  # still JSON, whatever the names hold
    if args[0] in ("compare", "trends"):
        assert json.dumps(TEAM)[1:-1] in result.stdout


def test_compare_shows_names_and_teams_literally(repo):
    result = invoke("compare", str(repo / "transcripts" / "a.jsonl"), str(repo / "transcripts" / "b.jsonl"))
    assert result.exit_code == 0
    assert_safe(result, "Sam [/x]", "Red [/x]", *VISIBLE)


def test_trends_shows_teams_literally(repo):
    result = invoke("trends", str(repo / "transcripts"))
    assert result.exit_code == 0
    assert_safe(result, "Red [/x]", *VISIBLE)


def test_verify_names_a_hostile_file_safely(repo):
    result = invoke("verify", str(repo / "transcripts" / EVIL_FILE))
    assert result.exit_code == 0
    assert_safe(result)


def test_simulate_errors_quote_the_script_safely(repo, tmp_path):
    script = tmp_path / "bad-script.yaml"
    script.write_text(
        f'decisions:\n  - {{at: 5m, role: "coordinator{MARK}\\nFAKE: forged", action: appoint_coordinator}}\n',
        encoding="utf-8",
    )
    result = invoke(
        "simulate",
        str(repo / "scenarios" / "hostile.yaml"),
        "--script",
        str(script),
        "--out",
        str(tmp_path / "t.jsonl"),
    )
    assert result.exit_code != 0
    assert_safe(result, "\\x1b]0;pwned\\x07")  # the problem quotes the value with its escapes
    assert not any(line.startswith("FAKE") for line in result.output.splitlines())


# --- a real terminal -------------------------------------------------------------------------

SGR = re.compile(r"\x1b\[[0-9;]*m")
RICH_OWN = re.compile(r"\x1b\[(?:[0-9;]*m|\?25[lh]|2K|[0-9]*[AG])")
"""What Rich itself writes: colours, and for a progress bar (shown only when indexing takes
long enough) hiding the cursor, erasing the line and moving up."""


def run_in_terminal(*args: str, cwd: Path, width: int = 250) -> bytes:
    """Run `tabletop ARGS` with a pseudo-terminal as stdin, stdout and stderr; its output."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, width, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES", "CI")}
    env.update(TERM="xterm-256color", COLUMNS=str(width), FORCE_COLOR="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "tabletop", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    output = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed its side
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
        process.wait(timeout=60)
    assert process.returncode == 0, output.decode("utf-8", "replace")
    return output


@pytest.mark.parametrize(
    "args",
    [
        ("show", "scenarios/hostile.yaml"),
        ("score", "transcripts/a.jsonl"),
        ("compare", "transcripts/a.jsonl", "transcripts/b.jsonl"),
        ("trends", "transcripts"),
        ("report", "transcripts/a.jsonl", "-o", "-"),
    ],
    ids=lambda a: a[0],
)
def test_nothing_from_a_file_reaches_a_real_terminal(repo, args):
    output = run_in_terminal(*args, cwd=repo)
    text = output.decode("utf-8")
    assert "\x1b]" not in text, "an OSC sequence (window title, hyperlink) reached the terminal"
    assert "\x1b[2J" not in text and "\x07" not in text and "\x9b" not in text
    own = RICH_OWN.sub("", text)  # Rich's colours and progress bar are the only escapes allowed
    assert "\x1b" not in own, own[own.index("\x1b") - 40 :][:80]
    acted_on = {chr(c) for c in (*range(0x09), *range(0x0B, 0x0D), *range(0x0E, 0x20))}
    assert not acted_on & set(own), sorted(acted_on & set(own))  # \r is the terminal's own (onlcr)
    assert "␛]0;pwned␇" in text or "␛\\]0;pwned␇" in text  # Markdown escapes the bracket
    if args[0] in ("show", "score"):
        assert SGR.search(text), "Rich did not take the pseudo-terminal for a terminal"


# --- the host's log lines --------------------------------------------------------------------


@pytest.fixture
def cli_log_handler():
    from tabletop.cli import team

    team._log_to_stderr()
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, team._StderrLog)]:
        root.removeHandler(handler)


async def test_a_hostile_player_name_reaches_the_hosts_stderr_as_one_safe_line(
    tmp_path, capsys, cli_log_handler
):
    import aiohttp
    from factories import breach_scenario, make_session

    from tabletop.clock import VirtualClock
    from tabletop.net.host import HostSettings, RateLimit, TeamHost

    session = make_session(tmp_path, breach_scenario(), clock=VirtualClock(), participants=[], start=False)
    host = TeamHost(
        session,
        HostSettings(token="t", tick_interval=0, live_clock=False, rate=RateLimit(per_second=1, burst=3)),
        get_time=lambda: 100.0,
    )
    await host.start("127.0.0.1", 0)
    await host.call(session.start)
    name = "Sam [/x] \x1b]0;pwned\x07\x1b[2J\nrefused everyone: wrong token"  # a name is at most 80
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(host.url) as ws:
            hello = {"v": 1, "type": "hello", "token": "t", "role": "coordinator", "name": name}
            await ws.send_str(json.dumps(hello))
            await ws.receive(timeout=5)
            for n in range(20):
                try:
                    await ws.send_str(json.dumps({"v": 1, "type": "note", "id": f"n{n}", "text": "spam"}))
                except ConnectionResetError:
                    break
            async for _ in ws:
                pass
    finally:
        await host.stop()
        session.writer.close()
    err = capsys.readouterr().err
    flooding = [line for line in err.splitlines() if "is flooding" in line]
    assert flooding == [
        "Sam [/x] ␛]0;pwned␇␛[2J␊refused everyone: wrong token (coordinator) is flooding; disconnecting"
    ]
    assert "\x1b" not in err and "\x07" not in err
    assert not any(line.startswith("refused everyone") for line in err.splitlines())


# --- the consoles ----------------------------------------------------------------------------


async def test_the_console_shows_hostile_titles_and_names_literally(tmp_path):
    from console_support import hostile_drill, settle, text_of
    from textual.widgets import DataTable

    from tabletop.clock import VirtualClock
    from tabletop.ui.app import make_console
    from tabletop.ui.screens.dialogs import DecisionForm
    from tabletop.ui.screens.facilitator import FacilitatorScreen
    from tabletop.ui.widgets.decisions import DecisionLog
    from tabletop.ui.widgets.msel import MselTable
    from tabletop.ui.widgets.participants import Participants

    app = make_console(
        hostile_drill(),
        out=tmp_path / "t.jsonl",
        clock=VirtualClock(),
        tick_interval=None,
        name="Fran" + HOSTILE,
        solo=True,
        facilitate=True,
    )
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(app, pilot)
        heading = text_of(app.screen.query_one("#lobby-heading"))
        assert "Console drill: suspected breach at a processor" + HOSTILE_SHOWN in heading
        assert_nothing_raw_reaches_the_terminal(terminal_output(app), "lobby")
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, FacilitatorScreen)
        await app.link.decide(
            "coordinator",
            "appoint_coordinator",
            by="Sam" + HOSTILE,
            rationale="Because" + HOSTILE,
        )
        await app.link.note("coordinator", "Note" + HOSTILE, by="Sam" + HOSTILE)
        await settle(app, pilot)
        msel = screen.query_one(MselTable)
        titles = [str(msel.get_row_at(i)[2]) for i in range(msel.row_count)]
        assert any(t.startswith("Anomalous CRM export [/x] [link=") for t in titles), titles
        log = screen.query_one(DecisionLog)
        cells = [str(c) for i in range(log.row_count) for c in log.get_row_at(i)]
        assert any("Because [/x] [link=http://evil.example]x[/link] ␛]0;pwned␇" in c for c in cells), cells
        assert any(c.startswith("Sam [/x] [link=") for c in cells)
        await pilot.click("#--content-tab-tab-room")
        await settle(app, pilot)
        room = " ".join(text_of(screen.query_one(Participants)).split())
        assert "Fran [/x] [link=http://evil.example]x[/link] ␛]0;pwned␇" in room, room
        assert_nothing_raw_reaches_the_terminal(terminal_output(app), "facilitator, Room tab")

        await pilot.press("d")  # the decision form's title is the action's, from the catalog
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DecisionForm)
        assert "[/x] [link=http://evil.example]x[/link] ␛]0;pwned␇" in str(
            app.screen.query_one(".dialog-title").render()
        )
        assert_nothing_raw_reaches_the_terminal(terminal_output(app), "decision form")
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("v")  # the player's view: the feed and the inject's body
        await settle(app, pilot)
        assert_nothing_raw_reaches_the_terminal(terminal_output(app), "player")
        body = text_of(app.screen.query_one("#inject-text"))
        assert "48,000 rows exported by svc-sync at 03:12." + HOSTILE_SHOWN in body

        await pilot.press("e", "y")  # the debrief
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert_nothing_raw_reaches_the_terminal(terminal_output(app), "debrief")
        table = app.screen.query_one("#debrief-table", DataTable)
        assert any("[/x]" in str(table.get_row_at(i)[2]) for i in range(table.row_count))  # the title


async def test_the_review_app_shows_hostile_transcripts_literally(repo):
    from textual.widgets import DataTable

    from tabletop.ui.review.app import make_review_app
    from tabletop.ui.review.detail import TranscriptScreen

    app = make_review_app(repo / "transcripts", workers=1)

    async def settled(pilot: Any) -> None:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()

    async with app.run_test(size=(200, 50)) as pilot:
        await settled(pilot)
        assert_nothing_raw_reaches_the_terminal(terminal_output(app), "review list")
        shown = [e.path for e in app.screen.shown]
        assert EVIL_FILE in shown
        await pilot.press(*["down"] * shown.index("a.jsonl"), "enter")
        await settled(pilot)
        detail = app.screen
        assert isinstance(detail, TranscriptScreen)
        events = detail.query_one("#events", DataTable)
        cells = [str(c) for i in range(events.row_count) for c in events.get_row_at(i)]
        assert "Note [/x] [link=http://evil.example]x[/link] ␛]0;pwned␇␛[2J␛]8;;" in "".join(cells), cells
        for tab in ("scorecard", "timeline", "findings", "breach", "postmortem"):
            await pilot.click(f"#--content-tab-{tab}")
            await settled(pilot)
            assert_nothing_raw_reaches_the_terminal(terminal_output(app), f"review detail, {tab}")
        await pilot.press("escape")
        await settled(pilot)
        await pilot.press("home", "space", "down", "space", "c")  # compare two
        await settled(pilot)
        assert_nothing_raw_reaches_the_terminal(terminal_output(app), "review compare")
        await pilot.press("escape", "t")  # trends per team: the teams are hostile
        await settled(pilot)
        assert_nothing_raw_reaches_the_terminal(terminal_output(app), "review trends")
