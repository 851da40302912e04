"""Lobby, debrief and the `run` command: what they show, what they write, how they fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from console_support import drill_scenario, read_events, settle, text_of
from textual.widgets import TabbedContent

from tabletop.cli import main
from tabletop.clock import VirtualClock
from tabletop.report import postmortem_path
from tabletop.sessions import SessionSetupError, open_session
from tabletop.ui.app import make_console
from tabletop.ui.screens.debrief import DebriefScreen, MarkdownScreen
from tabletop.ui.screens.hotwash import HotwashScreen
from tabletop.ui.screens.lobby import LobbyScreen
from tabletop.ui.screens.player import PlayerScreen
from tabletop.ui.widgets.markdown_view import MarkdownView


async def test_lobby_briefs_the_player_and_holds_the_clock(tmp_path):
    clock = VirtualClock()
    app = make_console(
        drill_scenario(), out=tmp_path / "t.jsonl", clock=clock, tick_interval=None, name="Sam"
    )
    async with app.run_test(size=(120, 40)) as pilot:
        lobby = app.screen
        assert isinstance(lobby, LobbyScreen)
        await settle(app, pilot)
        assert lobby.briefed
        shown = "\n".join(text_of(w) for w in lobby.query("Static"))
        for words in (
            "Console drill: suspected breach at a processor",
            "Decide on ICO notification with a recorded rationale",
            "CRM contact records: we are processor; controller Acme Ltd",
            "contract DPA-2024-17; tell the controller within 24h",
            "Incident coordinator — Sam",
            "Data protection officer — Data Protection Officer (simulated)",
            "Press Enter to start",
            "ctrl+p",
            "How solo practice is scored",
            "Yours, scored:",
            "the incident coordinator's expectations",
            "Your team's, never scored:",
            "Delegate:",
            "that is how a coordinator gets things done",
            "Involve the DPO brings in the data",
            "(Contain the affected system) is a finding",
        ):
            assert words in shown, words
        assert app.link.paused is False and clock.paused  # held, not paused by anyone
        assert read_events(tmp_path / "t.jsonl") == []  # nothing is recorded before the start
        await pilot.press("enter", "enter")  # an impatient double press starts it once
        await settle(app, pilot)
        assert isinstance(app.screen, PlayerScreen)
        assert [e["type"] for e in read_events(tmp_path / "t.jsonl")][:2] == [
            "session_started",
            "inject_released",
        ]
        assert read_events(tmp_path / "t.jsonl")[1]["t"] == 0
        assert [e["type"] for e in read_events(tmp_path / "t.jsonl")].count("session_started") == 1
        assert not app.notices


async def test_debrief_shows_the_scorecard_and_opens_the_post_mortem(tmp_path):
    opened: list[str] = []
    clock = VirtualClock()
    out = tmp_path / "debrief.jsonl"
    app = make_console(
        drill_scenario(),
        out=out,
        clock=clock,
        tick_interval=None,
        name="Sam",
        open_url=lambda u: opened.append(u) or True,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(300)
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam", rationale="first")
        clock.advance_to(2000)
        await app.link.decide("coordinator", "contain", by="Sam")
        await app.link.end()
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        debrief = app.screen
        assert isinstance(debrief, DebriefScreen)
        summary = text_of(debrief.query_one("#debrief-summary"))
        assert "Score" in summary and str(postmortem_path(out, "md")) in text_of(
            debrief.query_one("#debrief-more")
        )
        table = debrief.query_one("#debrief-table")
        by_title = {table.cell(i, "expected"): i for i in range(table.row_count)}
        appoint = by_title["Appoint an incident coordinator"]
        assert [table.cell(appoint, k) for k in ("result", "credit", "due", "done", "owner")] == [
            "✓ met",
            "1×3",
            "T+15m",
            "T+5m",
            "coordinator",
        ]
        # solo: the simulated DPO's own duty is the team's, shown apart and never scored; ended
        # at T+33m20s, before its deadline, it is open
        assert "Notify the controller" not in by_title
        bring_in = by_title["Bring in the data protection officer"]
        assert table.cell(bring_in, "result") == "… open" and table.cell(bring_in, "credit") == "—"
        tabs = debrief.query_one(TabbedContent)
        assert str(tabs.get_tab("tab-yours").label) == f"Yours ({table.row_count})"
        assert str(tabs.get_tab("tab-team").label) == "Your team's (1)"
        team = debrief.query_one("#debrief-team")
        assert team.row_count == 1
        assert (team.cell(0, "expected"), team.cell(0, "owner"), team.cell(0, "result")) == (
            "Notify the controller",
            "dpo",
            "… open",
        )
        assert "Score 67%" in summary and "coverage 43%" in summary
        assert (
            "Solo: Yours is scored" in summary
            and "Your team's is the teammates' own work, never scored" in summary
        )
        assert "Played: solo, speed 60" in text_of(debrief.query_one("#debrief-more"))
        findings = text_of(debrief.query_one("#debrief-findings"))
        assert "coord-hands-on" in findings and "Played: solo, speed 60" in findings
        assert str(tabs.get_tab("tab-findings").label) == "Findings (1)"
        assert postmortem_path(out, "md").read_text().startswith("#")
        assert "<html" in postmortem_path(out, "html").read_text().lower()

        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, MarkdownScreen)
        view = app.screen.query_one(MarkdownView)
        assert view.markdown.startswith("#") and view.markdown in postmortem_path(out, "md").read_text()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DebriefScreen)

        await pilot.press("b")
        await app.workers.wait_for_complete()
        assert opened == [postmortem_path(out, "html").resolve().as_uri()]


async def test_the_bundled_suspected_breach_runs_from_its_id(tmp_path, monkeypatch):
    """`make run`'s path: the shipped scenario, solo, coordinator, first decision, end, debrief."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    clock = VirtualClock()
    out = tmp_path / "breach.jsonl"
    app = make_console("suspected-breach", out=out, clock=clock, tick_interval=None, name="Sam")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, PlayerScreen)
        assert app.screen.query_one("#feed").injects
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam", fields={"coordinator": "Sam"})
        await app.link.end()
        await settle(app, pilot)
        assert isinstance(app.screen, HotwashScreen)  # its hot-wash questions come first
        await pilot.press("ctrl+f", "y")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, DebriefScreen)
        assert app.screen.result.error is None
    assert [e["type"] for e in read_events(out)][-2:] == ["session_ended", "hotwash_closed"]


def test_make_console_refuses_a_role_the_scenario_does_not_have(tmp_path):
    with pytest.raises(
        SessionSetupError,
        match="role 'ciso' is not in scenario 'console-drill'; expected one of: coordinator, dpo",
    ):
        make_console(drill_scenario(), role="ciso", out=tmp_path / "x.jsonl", clock=VirtualClock())
    assert not (tmp_path / "x.jsonl").exists()


def test_make_console_never_overwrites_a_transcript(tmp_path):
    out = tmp_path / "x.jsonl"
    out.write_text("keep me\n")
    with pytest.raises(SessionSetupError, match="already exists"):
        make_console(drill_scenario(), out=out, clock=VirtualClock())
    assert out.read_text() == "keep me\n"


def test_run_reports_an_unknown_scenario_without_a_traceback(tmp_path):
    result = CliRunner().invoke(main, ["run", "no-such-scenario", "--out", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 2
    assert "no-such-scenario" in result.output and "Traceback" not in result.output


def test_run_needs_a_scenario_or_a_transcript():
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 2
    assert "give a SCENARIO to run, or --resume TRANSCRIPT" in result.output


def test_run_reports_a_bad_role_and_speed(tmp_path):
    result = CliRunner().invoke(
        main, ["run", "suspected-breach", "--role", "ciso", "--out", str(tmp_path / "t.jsonl")]
    )
    assert (
        result.exit_code == 2 and "--role: role 'ciso' is not in scenario 'suspected-breach'" in result.output
    )
    result = CliRunner().invoke(
        main, ["run", "suspected-breach", "--speed", "0", "--out", str(tmp_path / "t.jsonl")]
    )
    assert result.exit_code == 2 and "--speed: expected a number greater than 0" in result.output
    assert not (tmp_path / "t.jsonl").exists()


def test_resume_refuses_a_finished_session(tmp_path):
    from tabletop.engine import Participant

    path = tmp_path / "done.jsonl"
    session = open_session(
        drill_scenario(), players=[Participant("Sam", "coordinator")], clock=VirtualClock(), transcript=path
    ).session
    session.start()
    session.end()
    session.writer.close()
    result = CliRunner().invoke(main, ["run", "--resume", str(path)])
    assert result.exit_code == 2
    assert "already ended" in result.output and "Traceback" not in result.output


async def test_the_end_dialog_lists_what_ending_now_leaves_open(tmp_path):
    from tabletop.ui.screens.dialogs import ConfirmDialog

    clock = VirtualClock()
    app = make_console(
        drill_scenario(), out=tmp_path / "t.jsonl", clock=clock, tick_interval=None, name="Sam"
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(300)
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam")
        clock.advance_to(1200)
        await app.link.tick()  # the customer's ticket: the DPO is due in by T+50m
        clock.advance_to(1786)  # T+29m46s
        await app.link.tick()
        await pilot.press("e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        question = text_of(dialog.query_one(".dialog-title"))
        assert "Ending now leaves 2 expected step(s) open, not scored:" in question
        assert "• Involve the DPO, due T+50m" in question
        assert "• Bring in the data protection officer, due T+1h00m" in question
        await pilot.press("n")
        await pilot.pause()
        assert not app.link.ended


async def test_the_live_score_and_the_debrief_are_the_same_function(tmp_path, monkeypatch):
    import tabletop.scoring

    calls: list[float | None] = []
    real = tabletop.scoring.score

    def spy(scenario, events, *, until=None):
        calls.append(until)
        return real(scenario, events, until=until)

    monkeypatch.setattr(tabletop.scoring, "score", spy)
    clock = VirtualClock()
    app = make_console(
        drill_scenario(),
        out=tmp_path / "t.jsonl",
        clock=clock,
        tick_interval=None,
        name="Sam",
        facilitate=True,
    )
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(300)
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        live = app.screen.score_card
        await app.link.end()
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        final = app.screen.result.card
    assert any(u is not None for u in calls) and None in calls  # the live view and the debrief
    assert live["passed"] == final["passed"] == 1 and live["scored_with"] == final["scored_with"]
