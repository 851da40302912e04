"""The player's journey through the console: lobby, injects, decisions, delegation, pause, end, debrief."""

from __future__ import annotations

import itertools

import pytest
from console_support import drill_scenario, read_events, settle, text_of
from textual.widgets import Select, TextArea

from tabletop.clock import VirtualClock
from tabletop.report import postmortem_path
from tabletop.sessions import open_session
from tabletop.ui.app import make_console
from tabletop.ui.screens.debrief import DebriefScreen
from tabletop.ui.screens.dialogs import ActionPalette, DecisionForm
from tabletop.ui.screens.lobby import LobbyScreen
from tabletop.ui.screens.player import PlayerScreen
from tabletop.ui.widgets.decisions import DecisionList
from tabletop.ui.widgets.inject_feed import InjectFeed, InjectView
from tabletop.ui.widgets.scorecard import DeadlineHints


def console(tmp_path, **kwargs):
    clock = VirtualClock()
    out = tmp_path / "run.jsonl"
    opened: list[str] = []
    app = make_console(
        drill_scenario(),
        out=out,
        clock=clock,
        tick_interval=None,
        name="Sam",
        open_url=lambda url: opened.append(url) or True,
        **kwargs,
    )
    return app, clock, out, opened


async def advance(app, pilot, clock, t: float) -> None:
    clock.advance_to(t)
    await app.link.tick()
    await settle(app, pilot)


async def decide(pilot, app, query: str, rationale: str = "", **values) -> DecisionForm:
    """Open the palette, search, choose, fill the form; returns the form (still open)."""
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(app.screen, ActionPalette)
    await pilot.press(*query)
    await pilot.press("enter")
    await pilot.pause()
    form = app.screen
    assert isinstance(form, DecisionForm)
    if rationale:
        form.query_one("#rationale", TextArea).text = rationale
    for widget_id, value in values.items():
        form.query_one(f"#{widget_id}").value = value
    return form


async def test_player_journey_records_what_the_screen_shows(tmp_path):
    app, clock, out, _ = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, LobbyScreen)
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PlayerScreen)

        # the alert is released at T+0 and shown, newest on top
        feed = screen.query_one(InjectFeed)
        assert [e["inject"] for e in feed.injects] == ["alert"]
        await advance(app, pilot, clock, 1200)
        assert [e["inject"] for e in feed.shown_injects()] == ["customer-ticket", "alert"]
        assert "Anomalous CRM export" in text_of(screen.query_one("#inject-text"))
        assert feed.unread == {feed.key(feed.shown_injects()[0])}

        # reading the ticket marks it read and shows its text
        screen.query_one("#feed-list").focus()
        await pilot.press("home")
        await pilot.pause()
        assert feed.unread == set()
        assert screen.query_one(InjectView).event["inject"] == "customer-ticket"

        # a decision with a rationale, answering the selected inject
        form = await decide(pilot, app, "appoint", rationale="I coordinate; others fix")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, PlayerScreen)
        decisions = [e for e in read_events(out) if e["type"] == "decision"]
        assert [(d["action"], d["role"], d["by"], d["rationale"], d["inject"]) for d in decisions] == [
            ("appoint_coordinator", "coordinator", "Sam", "I coordinate; others fix", "customer-ticket")
        ]
        assert screen.query_one(DecisionList).entries[-1]["action"] == "appoint_coordinator"

        # delegate to the (simulated) DPO with a time-box; the teammate carries it out later
        form = await decide(pilot, app, "notify controller", rationale="DPA clause 9.2", delegate="dpo")
        form.query_one("#timebox").value = "30m"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        delegations = [e for e in read_events(out) if e["type"] == "delegation"]
        assert [(d["to_role"], d["action"], d["timebox"]) for d in delegations] == [
            ("dpo", "notify_controller", 1800)
        ]
        await advance(app, pilot, clock, 1200 + 3600)
        done = [e for e in read_events(out) if e["type"] == "decision" and e["action"] == "notify_controller"]
        assert done and done[0]["role"] == "dpo" and done[0]["delegated_by"] == "coordinator"
        rendered = "\n".join(str(o.prompt) for o in screen.query_one(DecisionList).options)
        assert "dpo: Notify the controller" in rendered and "done" in rendered

        # pause and resume from the keyboard
        await pilot.press("space")
        await settle(app, pilot)
        assert app.link.paused
        await pilot.press("space")
        await settle(app, pilot)
        assert not app.link.paused
        ops = [e["op"] for e in read_events(out) if e["type"] == "clock"]
        assert ops[-2:] == ["pause", "resume"]

        # end, confirm, and the debrief writes the post-mortem next to the transcript
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, DebriefScreen)
        assert read_events(out)[-1]["type"] == "session_ended"
        assert app.screen.result is not None and app.screen.result.error is None
        assert postmortem_path(out, "md").exists() and postmortem_path(out, "html").exists()
        table = app.screen.query_one("#debrief-table")
        expected = {table.cell(i, "expected") for i in range(table.row_count)}
        assert "Appoint an incident coordinator" in expected


async def test_required_rationale_is_enforced_and_nothing_is_recorded(tmp_path):
    app, _clock, out, _ = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        form = await decide(pilot, app, "ico")
        form.query_one("#field-outcome", Select).value = "notify"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert "rationale is required" in text_of(form.query_one("#form-error"))
        await pilot.press("escape")
        await settle(app, pilot)
        assert not [e for e in read_events(out) if e["type"] in ("decision", "delegation")]


async def test_a_decision_is_listed_only_once_the_engine_recorded_it(tmp_path):
    """A rejected decision (a simulated role's own action) is reported and never listed."""
    app, _clock, out, _ = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        screen.record(
            __import__("tabletop.ui.screens.dialogs", fromlist=["DecisionDraft"]).DecisionDraft(
                action="notify_controller", role="dpo"
            )
        )
        await settle(app, pilot)
        assert screen.query_one(DecisionList).entries == []
        assert not [e for e in read_events(out) if e["type"] == "decision"]
        assert any("simulated" in n.message for n in app.notices)


async def test_hints_show_open_deadlines_as_countdowns(tmp_path):
    app, _clock, _out, _ = console(tmp_path, hints=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        hints = app.screen.query_one(DeadlineHints)
        text = text_of(hints)
        assert "in 15m" in text and "Appoint an incident coordinator" in text
        # the simulated DPO's deadline shows too, marked as theirs: the coordinator chases it
        assert "dpo: Notify the controller" in text
        assert text.index("Appoint an incident coordinator") < text.index("Notify the controller")


async def test_no_hints_without_the_flag(tmp_path):
    app, _clock, _out, _ = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        assert not app.screen.query(DeadlineHints)


async def test_channel_filter_and_the_command_palette_offer_every_action(tmp_path):
    app, clock, _out, _ = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await advance(app, pilot, clock, 3600)
        feed = app.screen.query_one(InjectFeed)
        assert len(feed.shown_injects()) == 3
        await pilot.press("f")
        await pilot.pause()
        assert feed.channel == "alert" and [e["inject"] for e in feed.shown_injects()] == ["alert"]
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Decide", "Note", "Channel", "Pause", "Faster", "Slower", "End"} <= titles
        assert "Tasks" not in titles  # nobody hands a solo player a task


async def test_ctrl_c_keeps_the_transcript_open_for_resume(tmp_path):
    app, _clock, out, _ = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await decide(pilot, app, "appoint", rationale="first")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
    events = read_events(out)
    assert events[-1]["type"] != "session_ended"
    assert [e["action"] for e in events if e["type"] == "decision"] == ["appoint_coordinator"]
    assert app.return_value is not None and app.return_value.ended is False

    resumed = make_console(resume=out, clock=VirtualClock(), tick_interval=None)
    async with resumed.run_test(size=(120, 40)) as pilot:
        assert isinstance(resumed.screen, LobbyScreen)
        await pilot.press("enter")
        await settle(resumed, pilot)
        screen = resumed.screen
        assert isinstance(screen, PlayerScreen)
        assert screen.player == "Sam"
        assert [e["action"] for e in screen.query_one(DecisionList).entries] == ["appoint_coordinator"]
        assert [e["inject"] for e in screen.query_one(InjectFeed).injects] == ["alert"]


async def test_team_player_carries_out_a_task_delegated_to_their_role(tmp_path):
    """In a team rehearsal the DPO's console lists the coordinator's request as a task."""
    from tabletop.engine import Participant
    from tabletop.ui.app import ConsoleSettings, TabletopConsole
    from tabletop.ui.link import SessionLink
    from tabletop.ui.screens.dialogs import TaskPicker

    out = tmp_path / "team.jsonl"
    clock = VirtualClock()
    scenario = drill_scenario()
    session = open_session(
        scenario,
        mode="team",
        players=[Participant("Sam", "coordinator"), Participant("Priya", "dpo")],
        clock=clock,
        transcript=out,
    ).session
    link = SessionLink(session, clock, scenario)
    link.hold()
    app = TabletopConsole(
        link,
        ConsoleSettings(role="dpo", name="Priya", mode="team", transcript=out, tick_interval=None),
        [p.to_json() for p in session.participants],
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PlayerScreen) and not screen.controls  # players do not pause a team session
        titles = {c.title for c in app.get_system_commands(screen)}
        assert "Tasks" in titles and "Pause" not in titles and "End" not in titles
        clock.advance_to(300)
        await link.decide(
            "coordinator", "notify_controller", by="Sam", delegate_to="dpo", timebox=1800, rationale="DPA 9.2"
        )
        await settle(app, pilot)
        assert any("asks you to" in n.message for n in app.notices)
        await pilot.press("t")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskPicker)
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DecisionForm) and form.delegation is not None
        assert not form.query("#delegate")  # a task is carried out, not handed on
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        done = [e for e in read_events(out) if e["type"] == "decision"]
        assert [(d["role"], d["by"], d["action"], d["delegated_by"]) for d in done] == [
            ("dpo", "Priya", "notify_controller", "coordinator")
        ]
        await pilot.press("space")
        await settle(app, pilot)
        assert not any(e["type"] == "clock" for e in read_events(out))


async def test_a_crash_loses_no_recorded_decision(tmp_path):
    app, _clock, out, _ = console(tmp_path)

    def crash() -> None:
        raise RuntimeError("the console fell over")

    with pytest.raises(RuntimeError, match="fell over"):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("enter")
            await settle(app, pilot)
            await decide(pilot, app, "appoint", rationale="before the crash")
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            app.call_later(crash)
            await pilot.pause()
    events = read_events(out)
    assert [e["rationale"] for e in events if e["type"] == "decision"] == ["before the crash"]
    assert events[-1]["type"] != "session_ended"
    resumed = make_console(resume=out, clock=VirtualClock(), tick_interval=None)
    assert [e["action"] for e in resumed.link.events if e["type"] == "decision"] == ["appoint_coordinator"]
    resumed.link.close()


async def test_the_mouse_picks_an_inject_and_opens_the_palette(tmp_path):
    app, clock, _out, _ = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await advance(app, pilot, clock, 1200)
        screen = app.screen
        await pilot.click("#feed-list", offset=(5, 2))  # the second entry: the older alert
        await pilot.pause()
        assert screen.query_one(InjectView).event["inject"] == "alert"
        await pilot.click("#feed-list", offset=(5, 0))
        await pilot.pause()
        assert screen.query_one(InjectView).event["inject"] == "customer-ticket"
        assert screen.query_one(InjectFeed).unread == set()


def _side_by_side(*widgets) -> bool:
    """Each widget starts right of where the previous one ends and they share rows."""
    regions = [w.region for w in widgets]
    return all(a.right <= b.x and a.y < b.bottom and b.y < a.bottom for a, b in itertools.pairwise(regions))


async def test_wide_terminal_gives_feed_inject_and_decisions_a_column_each(tmp_path):
    app, clock, _out, _ = console(tmp_path, hints=True)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await advance(app, pilot, clock, 1500)
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam")
        await settle(app, pilot)
        screen = app.screen
        feed, view = screen.query_one(InjectFeed), screen.query_one(InjectView)
        decisions, hints = screen.query_one(DecisionList), screen.query_one(DeadlineHints)
        assert _side_by_side(feed, view, decisions)
        assert hints.region.x == decisions.region.x and hints.region.y >= decisions.region.bottom
        assert feed.region.width >= 50 and view.region.width >= 50 and decisions.region.width >= 50

        # narrower: back to two columns, with the decisions (and what they list) under the feed
        await pilot.resize_terminal(120, 40)
        await settle(app, pilot)
        feed, view = screen.query_one(InjectFeed), screen.query_one(InjectView)
        decisions, hints = screen.query_one(DecisionList), screen.query_one(DeadlineHints)
        assert len(screen.query(DecisionList)) == 1 and len(screen.query(DeadlineHints)) == 1
        assert not _side_by_side(feed, view, decisions)
        assert _side_by_side(feed, view)
        assert decisions.region.x == feed.region.x and decisions.region.y >= feed.region.bottom
        assert hints.region.x == view.region.x and hints.region.y >= view.region.bottom
        assert [e["action"] for e in decisions.entries] == ["appoint_coordinator"]
        assert "Appoint an incident coordinator" in "\n".join(str(o.prompt) for o in decisions.options)
        assert "Notify the controller" in text_of(hints)

        # and wide again
        await pilot.resize_terminal(200, 60)
        await settle(app, pilot)
        assert _side_by_side(
            screen.query_one(InjectFeed), screen.query_one(InjectView), screen.query_one(DecisionList)
        )
        assert [e["action"] for e in screen.query_one(DecisionList).entries] == ["appoint_coordinator"]


async def test_two_columns_at_120(tmp_path):
    app, _clock, _out, _ = console(tmp_path, hints=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        feed, view, decisions = (
            screen.query_one(InjectFeed),
            screen.query_one(InjectView),
            screen.query_one(DecisionList),
        )
        assert _side_by_side(feed, view)
        assert not _side_by_side(feed, view, decisions)
        assert decisions.region.x == feed.region.x
