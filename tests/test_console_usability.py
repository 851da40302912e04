"""A first-time user's console: what it does on its own, what it explains, and what it leaves alone."""

from __future__ import annotations

import itertools

from console_support import drill_scenario, read_events, settle, text_of

from tabletop.clock import VirtualClock
from tabletop.ui.app import make_console
from tabletop.ui.screens.player import PlayerScreen
from tabletop.ui.widgets.inject_feed import InjectFeed, InjectView


def console(tmp_path, scenario=None, **kwargs):
    clock = VirtualClock()
    out = tmp_path / "run.jsonl"
    kwargs.setdefault("name", "Sam")
    app = make_console(scenario or drill_scenario(), out=out, clock=clock, tick_interval=None, **kwargs)
    return app, clock, out


async def advance(app, pilot, clock, t: float) -> None:
    clock.advance_to(t)
    await app.link.tick()
    await settle(app, pilot)


# --- the channel filter ---------------------------------------------------------------------


async def test_cycling_the_channel_filter_marks_nothing_read(tmp_path):
    app, clock, _out = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await advance(app, pilot, clock, 3600)
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        feed = screen.query_one(InjectFeed)
        view = screen.query_one(InjectView)
        unread = set(feed.unread)
        assert len(unread) >= 2 and view.event["inject"] == "alert"
        channels = {e["channel"] for e in feed.injects}
        for _ in range(len(channels) + 1):  # every channel, then all channels again
            await pilot.press("f")
            await pilot.pause()
            assert feed.unread == unread
            assert view.event["inject"] == "alert"  # the open inject stays open
            cursor = feed.option_list.highlighted
            shown = feed.shown_injects()
            if cursor is not None:
                assert feed.key(shown[cursor]) == feed.opened  # the cursor is only ever on it
        assert feed.channel is None
        assert feed.shown_injects()[feed.option_list.highlighted]["inject"] == "alert"

        # filtered to tickets, moving to one opens it: now, and only now, it is read
        while feed.channel != "ticket":
            await pilot.press("f")
            await pilot.pause()
        assert feed.option_list.highlighted is None
        screen.query_one("#feed-list").focus()
        await pilot.press("down")
        await pilot.pause()
        assert view.event["inject"] == "customer-ticket"
        assert feed.unread == unread - {feed.key(view.event)}


# --- the facilitator's controls ---------------------------------------------------------------


def facilitator(tmp_path, scenario=None, **kwargs):
    return console(tmp_path, scenario, name="Fran", facilitate=True, solo=False, **kwargs)


async def start_facilitating(app, pilot):
    from tabletop.ui.screens.facilitator import FacilitatorScreen

    await pilot.press("enter")
    await settle(app, pilot)
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, FacilitatorScreen)
    return app.screen


async def test_after_trigger_now_the_cursor_moves_on_and_skip_names_the_inject(tmp_path):
    from tabletop.ui.screens.dialogs import ConfirmDialog
    from tabletop.ui.widgets.msel import MselTable

    app, _clock, out = facilitator(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_facilitating(app, pilot)
        table = screen.query_one(MselTable)
        table.focus()
        table.move_cursor(row=[r["inject"] for r in table.rows_data].index("customer-ticket"))
        await pilot.press("t")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        rows = table.rows_data
        assert {r["inject"]: r["status"] for r in rows}["customer-ticket"] == "released"
        # the cursor is on the next inject still to come, not on the one just released
        assert rows[table.cursor_row]["inject"] == "press"
        assert rows[table.cursor_row]["status"] == "scheduled"

        # skip asks about the inject by its title and due time, and it is skipped
        await pilot.press("k")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.question == "Skip “Reporter asks about a leak” (due T+1h00m)? It will not be released."
        await pilot.press("y")
        await settle(app, pilot)
        skips = [e for e in read_events(out) if e["type"] == "facilitator" and e["op"] == "skip"]
        assert [e["inject"] for e in skips] == ["press"]
        assert not any(n.severity == "error" for n in app.notices)

        # a released inject cannot be skipped: said by its title, and nothing is recorded
        table.move_cursor(row=[r["inject"] for r in table.rows_data].index("customer-ticket"))
        await pilot.press("k")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        assert any(
            "“Customer asks whether their data is affected” was already released at T+0m" in n.message
            for n in app.notices
        )
        assert len([e for e in read_events(out) if e["type"] == "facilitator"]) == 2


async def test_the_live_score_lists_deadlines_in_the_order_they_fall_due(tmp_path):
    from tabletop.ui.widgets.scorecard import LiveScorecard

    scenario = drill_scenario()
    # the scenario lists the latest deadline first
    scenario = scenario.model_copy(update={"expectations": list(reversed(scenario.expectations))})
    app, clock, _out = facilitator(tmp_path, scenario)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_facilitating(app, pilot)
        await advance(app, pilot, clock, 1200)
        screen.rescore()
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = text_of(screen.query_one(LiveScorecard))
        order = [
            text.index("Appoint an incident coordinator"),  # T+15m
            text.index("Involve the DPO"),  # T+20m + 30m
            text.index("Notify the controller"),  # T+1h
        ]
        assert order == sorted(order)


async def test_v_says_why_there_is_no_other_view(tmp_path):
    app, _clock, _out = facilitator(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_facilitating(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        assert app.screen is screen
        assert any("solo practice" in n.message and "--solo --facilitate" in n.message for n in app.notices)

    app, _clock, _out = console(tmp_path / "solo")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("v")
        await pilot.pause()
        assert app.screen is screen
        assert any("--facilitate" in n.message for n in app.notices)
        assert "Facilitator" not in {c.title for c in app.get_system_commands(screen)}


async def test_the_speed_keys_step_through_the_scenarios_own_speed(tmp_path):
    scenario = drill_scenario().model_copy(update={"speed": 20})
    app, _clock, out = console(tmp_path, scenario)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.link.speed == 20
        for key in ("minus", "plus", "plus", "minus"):
            await pilot.press(key)
            await settle(app, pilot)
        speeds = [e["speed"] for e in read_events(out) if e["type"] == "clock" and e["op"] == "speed"]
        assert speeds == [15, 20, 30, 20]


# --- inject bodies ---------------------------------------------------------------------------

HARD_WRAPPED = """\
[EXP-07] severity=high tenant=eu-prod-0181
  principal   : api-token "mkt-sync-LdGn" (integration)
  bytes out   : 412 MB over 11m 04s

No rate-limit hit: the token belongs to a paid tier with the limit raised last quarter.
The on-call engineer acknowledged the page and is asking in #ops whether anyone is
running a migration for Acme.

Quick findings, not final:
- Acme's admin confirms nobody on their side uses the token since their
  old marketing agency left in January.
- Same IP hit the login page of two other tenants.
  1. first numbered
  2. second numbered
The API gateway keeps 7 days of logs.
"""


def test_body_blocks_join_running_text_and_keep_lists_and_indented_lines():
    from tabletop.ui.texts import body_blocks

    paragraphs = body_blocks(HARD_WRAPPED)
    shown = [[(line.kind, line.marker, line.text) for line in p] for p in paragraphs]
    assert shown == [
        [
            ("prose", "", "[EXP-07] severity=high tenant=eu-prod-0181"),
            ("pre", "", '  principal   : api-token "mkt-sync-LdGn" (integration)'),
            ("pre", "", "  bytes out   : 412 MB over 11m 04s"),
        ],
        [
            (
                "prose",
                "",
                "No rate-limit hit: the token belongs to a paid tier with the limit raised last quarter. "
                "The on-call engineer acknowledged the page and is asking in #ops whether anyone is "
                "running a migration for Acme.",
            )
        ],
        [
            ("prose", "", "Quick findings, not final:"),
            (
                "item",
                "-",
                "Acme's admin confirms nobody on their side uses the token since their old marketing "
                "agency left in January.",
            ),
            ("item", "-", "Same IP hit the login page of two other tenants."),
            ("item", "1.", "first numbered"),
            ("item", "2.", "second numbered"),
            ("prose", "", "The API gateway keeps 7 days of logs."),
        ],
    ]
    assert paragraphs[2][3].indent == 2
    assert body_blocks("\n\n  \n") == []
    assert [[line.text for line in p] for p in body_blocks("one\r\ntwo\r\n\r\nthree")] == [
        ["one two"],
        ["three"],
    ]


def pane_lines(widget) -> list[str]:
    """What a widget shows, line by line, at its size on screen."""
    from textual.geometry import Region

    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return ["".join(segment.text for segment in strip).rstrip() for strip in strips]


async def test_an_inject_body_reads_as_paragraphs_in_the_pane(tmp_path):
    from tabletop.model import Inject

    scenario = drill_scenario()
    injects = [
        i.model_copy(update={"body": HARD_WRAPPED}) if i.id == "alert" else i for i in scenario.injects
    ]
    app, _clock, _out = console(tmp_path, scenario.model_copy(update={"injects": injects}))
    assert isinstance(injects[0], Inject)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        text = app.screen.query_one("#inject-text")
        lines = pane_lines(text)
        width = text.size.width
        assert 40 < width < 100
        start = next(i for i, line in enumerate(lines) if line.startswith("No rate-limit hit"))
        paragraph = lines[start : lines.index("", start)]
        # re-wrapped to the pane: every line but the last is filled, none is a ragged stub
        assert len(paragraph) >= 3
        assert all(len(line) > width - 15 for line in paragraph[:-1])
        assert " ".join(paragraph).replace("  ", " ").endswith("running a migration for Acme.")
        # the indented excerpt keeps its own lines, the list its items with their text aligned
        assert '  principal   : api-token "mkt-sync-LdGn" (integration)' in lines
        item = next(i for i, line in enumerate(lines) if line.startswith("- Acme's admin"))
        assert lines[item + 1].startswith("  ") and not lines[item + 1].startswith("   ")
        assert any(line.startswith("  1. first numbered") for line in lines)


# --- the review console ---------------------------------------------------------------------


def test_an_unknown_search_key_is_named_with_the_keys_there_are():
    from tabletop.review.index import SEARCH_KEYS, search_problems

    assert search_problems("team:blue rating:u 09:30 plain words") == []
    [problem] = search_problems("blue scor:1")
    assert problem.startswith("unknown search key scor:;")
    assert all(f"{key}:" in problem for key in SEARCH_KEYS)
    [problem] = search_problems("scenaro:lost")
    assert "did you mean scenario:?" in problem


async def test_review_search_explains_an_unknown_key_and_the_list_shows_the_time_of_day(
    tmp_path, monkeypatch
):
    from datetime import UTC, datetime

    import review_support as rs

    from tabletop.ui.review.app import make_review_app
    from tabletop.ui.review.listing import ReviewScreen, TranscriptTable

    rs.sample_folder(tmp_path / "transcripts")
    # a second run of the same day, later
    rs.write_transcript(
        tmp_path / "transcripts" / "2026-05-11-blue-again.jsonl",
        team="blue",
        started=datetime(2026, 5, 11, 15, 45, tzinfo=UTC),
    )
    monkeypatch.chdir(tmp_path)
    app = make_review_app("transcripts", now=lambda: datetime(2026, 7, 1, 12, 0, tzinfo=UTC), workers=1)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        table = screen.query_one(TranscriptTable)
        started = {
            path: table.get_cell(path, "date").plain
            for path in ("2026-05-11-blue.jsonl", "2026-05-11-blue-again.jsonl")
        }
        assert started == {
            "2026-05-11-blue.jsonl": "2026-05-11 10:00",
            "2026-05-11-blue-again.jsonl": "2026-05-11 15:45",
        }
        assert "Started (UTC)" in str(table.columns["date"].label)

        await pilot.press("slash", *"scor:1")
        await pilot.press("enter")
        await pilot.pause()
        status = str(screen.query_one("#status").render())
        assert "unknown search key scor:" in status and "rating:" in status and "0 shown" in status
        await pilot.press("escape")
        await pilot.pause()
        assert "unknown" not in str(screen.query_one("#status").render())


# --- stopping and resuming ------------------------------------------------------------------


def with_ordered_form(scenario):
    """The drill with an action whose form fields are not in alphabetical order."""
    from tabletop.model import Action, FieldSpec

    handover = Action(
        id="handover",
        title="Hand over a role",
        area="coordination",
        default_owner="coordinator",
        fields={
            "role": FieldSpec(required=True),
            "to": FieldSpec(required=True),
            "acknowledged": FieldSpec(type="bool"),
            "open_deadlines": FieldSpec(),
        },
    )
    return scenario.model_copy(update={"actions": [*scenario.actions, handover]})


async def test_after_resume_the_form_keeps_the_catalogs_field_order_and_ctrl_c_exits_130(tmp_path):
    from tabletop.ui.app import INTERRUPTED
    from tabletop.ui.screens.dialogs import DecisionForm

    def field_ids(form) -> list[str]:
        return [w.id for w in form.query("#form-body *") if (w.id or "").startswith("field-")]

    app, _clock, out = console(tmp_path, with_ordered_form(drill_scenario()))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("a", *"hand over", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DecisionForm)
        before = field_ids(app.screen)
        assert before == ["field-role", "field-to", "field-acknowledged", "field-open_deadlines"]
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == INTERRUPTED
    assert read_events(out)[-1]["type"] != "session_ended"

    resumed = make_console(resume=out, clock=VirtualClock(), tick_interval=None)
    async with resumed.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(resumed, pilot)
        await pilot.press("a", *"hand over", "enter")
        await pilot.pause()
        assert field_ids(resumed.screen) == before
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert resumed.return_code in (0, None)


def test_the_resume_command_repeats_every_option_given(tmp_path, monkeypatch):
    """ctrl+c (status 130) prints how to continue, with the options the run was started with."""
    from types import SimpleNamespace

    from click.testing import CliRunner

    import tabletop.ui.app
    from tabletop.cli import main

    out = tmp_path / "my run.jsonl"
    out.write_text("{}\n")
    given: dict = {}

    def fake_console(scenario, **kwargs):
        given.update(kwargs, scenario=scenario)
        return SimpleNamespace(
            run=lambda: tabletop.ui.app.ConsoleOutcome(out, ended=False),
            settings=SimpleNamespace(transcript=out),
            started=True,
            link=SimpleNamespace(ended=False),
            return_code=130,
        )

    monkeypatch.setattr(tabletop.ui.app, "make_console", fake_console)
    args = ["run", "suspected-breach", "--solo", "--hints", "--no-auto-pause", "--speed", "30"]
    args += ["--name", "Sam Lee", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 130
    assert given["hints"] is True and given["auto_pause"] is False and given["speed"] == 30
    assert (
        f"Interrupted; the exercise was not ended. Continue it with: tabletop run --resume '{out}' "
        "--solo --hints --no-auto-pause --speed 30 --name 'Sam Lee'"
    ) in result.output
    # nothing given, nothing repeated (the role, seed and file come from the transcript)
    result = CliRunner().invoke(main, ["run", "--resume", str(out)])
    assert f"Continue it with: tabletop run --resume '{out}'\n" in result.output


async def test_speed_given_again_with_resume_sets_the_speed_when_the_run_continues(tmp_path):
    app, _clock, out = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("plus")  # 60 -> 120
        await settle(app, pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
    resumed = make_console(resume=out, clock=VirtualClock(), tick_interval=None, speed=30)
    async with resumed.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(resumed, pilot)
        assert resumed.link.speed == 30
    events = read_events(out)
    after = events[next(i for i, e in enumerate(events) if e["type"] == "session_resumed") :]
    assert after[0]["speed"] == 120
    assert [(e["op"], e["speed"]) for e in after if e["type"] == "clock"] == [("speed", 30)]


# --- joining a hosted rehearsal ---------------------------------------------------------------


async def test_a_joiners_lobby_waits_for_the_facilitator_instead_of_offering_to_resume(tmp_path):
    """(The wording is the hosting console's; what matters here: a joiner at T+0 is never
    offered to resume.)"""
    from factories import breach_scenario, make_session

    from tabletop.cli.team import _remote_console_class
    from tabletop.net.client import PlayerClient, RemoteSession
    from tabletop.net.host import HostSettings, TeamHost
    from tabletop.ui.app import ConsoleSettings
    from tabletop.ui.screens.lobby import LobbyScreen

    session = make_session(tmp_path, breach_scenario(), clock=VirtualClock(), participants=[], start=False)
    host = TeamHost(session, HostSettings(token="t0k3n", tick_interval=0, live_clock=False))
    await host.start("127.0.0.1", 0)
    client = PlayerClient(host.url, "t0k3n", "dpo", "Priya")
    await client.connect()
    app = _remote_console_class()(
        RemoteSession(client),
        ConsoleSettings(role="dpo", name="Priya", mode="team", tick_interval=None, resumed=True),
        participants=list(client.presence),
    )
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            lobby = app.screen
            assert isinstance(lobby, LobbyScreen)
            prompt = text_of(lobby.query_one("#lobby-start"))
            assert "The facilitator has not started the exercise yet" in prompt
            assert "resume" not in prompt

            await host.call(session.start)
            await host.run_until(12 * 60)
            await client.wait_for(lambda: client.now() >= 12 * 60, timeout=5)
            assert lobby._prompt().plain.startswith(
                "Press Enter to join the exercise (the clock is at T+12m)"
            )
    finally:
        await client.close()
        await host.stop()


# --- delegating -------------------------------------------------------------------------------


def with_evidence(scenario):
    """The drill with Preserve evidence (a required field), answered by the technical lead."""
    from tabletop.model import Action, FieldSpec, Response

    evidence = Action(
        id="preserve_evidence",
        title="Preserve evidence",
        area="technical",
        default_owner="technical_lead",
        fields={
            "evidence": FieldSpec(required=True, help="What was preserved"),
            "location": FieldSpec(),
            "sha256": FieldSpec(),
            "custody": FieldSpec(help="Who holds it"),
            "notes": FieldSpec(),
            "integrity": FieldSpec(type="choice", choices=["hashed", "not_hashed"], required=True),
        },
    )
    answer = Response(
        on="preserve_evidence",
        title="Evidence preserved",
        body="Gateway logs for 7 days\n  exported to the evidence bucket.",
        after=300,
        fields={"location": "s3://evidence/inc-1"},
        **{"from": "technical_lead"},
    )
    return scenario.model_copy(
        update={"actions": [*scenario.actions, evidence], "responses": [*scenario.responses, answer]}
    )


async def test_a_delegation_needs_only_the_role_the_time_box_and_a_brief(tmp_path):
    from textual.widgets import Input, Select, TextArea

    from tabletop.ui.screens.dialogs import DecisionForm

    app, clock, out = console(tmp_path, with_evidence(drill_scenario()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("a", *"preserve evid", "enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DecisionForm)
        assert form.query_one("#own-fields").display and not form.query_one("#delegation").display
        form.query_one("#delegate", Select).value = "technical_lead"
        await pilot.pause()
        # the action's fields are hidden: the delegate fills them; a time-box and a brief instead
        assert not form.query_one("#own-fields").display and form.query_one("#delegation").display
        assert "Brief for the technical_lead" in str(form.query_one("#rationale-label").render())
        form.query_one("#timebox", Input).value = "20m"
        form.query_one("#rationale", TextArea).text = "Keep the gateway logs before anyone revokes the token"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, DecisionForm), text_of(form.query_one("#form-error"))
        [delegation] = [e for e in read_events(out) if e["type"] == "delegation"]
        assert (delegation["to_role"], delegation["fields"], delegation["timebox"]) == (
            "technical_lead",
            {},
            1200,
        )
        assert delegation["rationale"] == "Keep the gateway logs before anyone revokes the token"

        # the simulated technical lead carries it out after the time-box, filling the form in
        await advance(app, pilot, clock, 1200)
        [done] = [e for e in read_events(out) if e["type"] == "decision"]
        assert (done["role"], done["action"], done["delegated_by"]) == (
            "technical_lead",
            "preserve_evidence",
            "coordinator",
        )
        assert done["fields"] == {
            "evidence": "Gateway logs for 7 days exported to the evidence bucket.",  # what they say they did
            "location": "s3://evidence/inc-1",  # the scenario's response gives it
            "integrity": "hashed",  # a required choice nothing gives: the first
        }
        assert done["rationale"] == "Keep the gateway logs before anyone revokes the token"


async def test_a_form_error_scrolls_to_the_field_and_focuses_it(tmp_path):
    from textual.containers import VerticalScroll

    from tabletop.ui.screens.dialogs import DecisionForm

    app, _clock, out = console(tmp_path, with_ordered_form(with_evidence(drill_scenario())))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("a", *"preserve evid", "enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DecisionForm)
        form.query_one("#field-evidence").value = "Gateway logs"
        body = form.query_one("#form-body", VerticalScroll)
        body.scroll_home(animate=False)
        await pilot.pause()
        # the required choice below the fold is left empty
        target = form.query_one("#field-integrity")
        assert not body.region.contains_region(target.region)
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.pause()
        assert app.screen is form
        assert "integrity is required" in text_of(form.query_one("#form-error"))
        assert app.focused is target
        assert body.region.contains_region(target.region)
        assert not [e for e in read_events(out) if e["type"] in ("decision", "delegation")]


def test_a_teammate_fills_the_form_from_the_scenario_then_from_defaults():
    from tabletop.model import Expectation
    from tabletop.teammates import delegated_work as teammate_work

    scenario = with_evidence(drill_scenario())
    fields, rationale = teammate_work(scenario, "preserve_evidence", "technical_lead", {}, "", "coordinator")
    assert fields["evidence"].startswith("Gateway logs") and rationale == ""
    # the DPO asked for an ICO decision: the value the scenario expects, and a rationale it needs
    expects = Expectation(
        id="ico", action="ico_decision", owner="dpo", within=600, value={"outcome": "not_notify"}
    )
    scenario = scenario.model_copy(update={"expectations": [*scenario.expectations, expects]})
    fields, rationale = teammate_work(scenario, "ico_decision", "dpo", {}, "", "coordinator")
    assert fields == {"outcome": "not_notify"}
    assert (
        rationale == "Done by the simulated data protection officer as delegated by the incident coordinator"
    )
    # what the delegator gave stays
    fields, rationale = teammate_work(
        scenario, "ico_decision", "dpo", {"outcome": "notify"}, "DPA 9.2", "coordinator"
    )
    assert (fields, rationale) == ({"outcome": "notify"}, "DPA 9.2")


def test_what_an_inject_sets_off_is_recorded_at_its_time_even_when_its_time_was_rounded_up(tmp_path):
    """A record's `t` is rounded to the millisecond; a marker the inject sets is not left for a
    later tick because the clock had not yet reached the rounded-up time."""
    from tabletop.clock import ScaledClock
    from tabletop.sessions import open_session

    now = [0.0]
    clock = ScaledClock(speed=1, get_time=lambda: now[0])
    scenario = drill_scenario()
    injects = [
        i.model_copy(update={"marks": ["suspected"]}) if i.id == "alert" else i for i in scenario.injects
    ]
    opened = open_session(
        scenario.model_copy(update={"injects": injects}), clock=clock, transcript=tmp_path / "r.jsonl"
    )
    now[0] = 0.0166  # recorded as t 0.017, a little after the clock
    opened.session.start()
    events = opened.session.events
    assert [(e["type"], e["t"]) for e in events[:3]] == [
        ("session_started", 0.017),
        ("inject_released", 0.017),
        ("marker_set", 0.017),
    ]
    opened.session.writer.close()


# --- solo practice waits for the player ---------------------------------------------------------


def footer_keys(screen) -> dict[str, str]:
    """The footer's keys and what they say, as the screen offers them now."""
    return {
        binding.key: binding.description
        for _key, (node, binding, enabled, _tooltip) in screen.active_bindings.items()
        if node is screen and enabled and binding.show and binding.description
    }


async def test_solo_practice_pauses_when_an_inject_expects_the_players_action(tmp_path):
    from tabletop.ui.widgets.clock_bar import ClockBar

    app, clock, out = console(tmp_path, auto_pause=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        # the alert comes with the start, and the coordinator's first clocks run from the start
        pauses = [e for e in read_events(out) if e["type"] == "clock"]
        assert [(e["op"], e.get("reason"), e.get("inject"), e["t"]) for e in pauses] == [
            ("pause", "auto", "alert", 0)
        ]
        assert app.link.paused
        bar = text_of(screen.query_one(ClockBar))
        assert "PAUSED for your action · space resumes" in bar
        assert footer_keys(screen).get("space") == "Resume"
        assert any(
            n.title == "Your move" and "“Anomalous CRM export” expects your action" in n.message
            for n in app.notices
        )

        await pilot.press("space")
        await settle(app, pilot)
        assert not app.link.paused and footer_keys(screen).get("space") == "Pause"
        assert "PAUSED" not in text_of(screen.query_one(ClockBar))

        # the ticket starts the clock on involving the DPO, the coordinator's: paused again
        await advance(app, pilot, clock, 1200)
        ops = [(e["op"], e.get("inject")) for e in read_events(out) if e["type"] == "clock"]
        assert ops == [("pause", "alert"), ("resume", None), ("pause", "customer-ticket")]
        assert app.link.paused

        # a manual pause says nothing about injects; the press inject expects nothing: no pause
        await pilot.press("space")
        await settle(app, pilot)
        await pilot.press("space")
        await settle(app, pilot)
        assert app.link.paused and "for your action" not in text_of(screen.query_one(ClockBar))
        await pilot.press("space")
        await settle(app, pilot)
        await advance(app, pilot, clock, 3600 + 1)
        last = [e for e in read_events(out) if e["type"] == "clock"][-1]
        assert last["op"] == "resume" and not app.link.paused


async def test_no_auto_pause_leaves_the_clock_running(tmp_path):
    app, clock, out = console(tmp_path, auto_pause=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await advance(app, pilot, clock, 1200)
        assert not app.link.paused
        assert not [e for e in read_events(out) if e["type"] == "clock"]


def test_the_auto_pause_stops_time_run_forward_where_it_paused(tmp_path):
    from tabletop.sessions import open_session

    opened = open_session(
        drill_scenario(), clock=VirtualClock(), transcript=tmp_path / "a.jsonl", auto_pause=True, start=True
    )
    session = opened.session
    assert session.paused and session.pause_recorded
    session.unpause()
    session.run_until(3000)  # the ticket at T+20m expects the coordinator: time stops there
    assert session.paused and session.now == 1200
    assert session.events[-1]["op"] == "pause" and session.events[-1]["inject"] == "customer-ticket"
    # the player is the only one it waits for: a team run never pauses by itself
    team = open_session(
        drill_scenario(),
        mode="team",
        clock=VirtualClock(),
        transcript=tmp_path / "t.jsonl",
        auto_pause=True,
        start=True,
    ).session
    team.run_until(3000)
    assert not team.paused and not [e for e in team.events if e["type"] == "clock"]
    opened.session.writer.close()
    team.writer.close()


# --- the clock loop: woken when something falls due, never polled -----------------------------


async def test_the_clock_loop_wakes_at_each_due_time_and_on_a_command_only(tmp_path):
    """A scaled clock on a fake wall clock: the loop asks to sleep exactly until the next item
    falls due, so every inject is released at its time; paused, it sleeps until a call wakes it."""
    from tabletop.clock import ScaledClock
    from tabletop.sessions import open_session
    from tabletop.ui.link import SessionLink

    wall = [0.0]
    clock = ScaledClock(speed=60, get_time=lambda: wall[0])
    session = open_session(drill_scenario(), clock=clock, transcript=tmp_path / "c.jsonl").session
    session.checkpoint_every = None  # checkpoints: see the next test
    link = SessionLink(session, clock, session.scenario)
    link.hold()
    await link.start()
    delays: list[float | None] = []

    async def wait(changed, seconds):
        delays.append(seconds)
        assert len(delays) < 50, f"the loop spins: {delays[-5:]}"
        if seconds is None:  # paused: only a call wakes the loop
            assert not changed.is_set()
            await link.resume()
            assert changed.is_set()
        elif not changed.is_set():
            wall[0] += seconds  # time passes, exactly as long as asked

    await link.pause()
    await link.run_clock(wait=wait)
    assert session.ended
    events = session.events
    released = {e["inject"]: (e["t"], e["due"]) for e in events if e["type"] == "inject_released"}
    assert released["customer-ticket"] == (1200, 1200) and released["press"] == (3600, 3600)
    assert released["dpo-chases"] == (3600, 3600)  # a branch ten minutes after the missed deadline
    assert events[-1]["type"] == "session_ended" and events[-1]["t"] == 7200
    # one look per thing falling due, and one to resume: no polling
    assert delays[0] is None
    assert link.wakeups == len(delays) <= 8
    assert all(d is None or d > 0 for d in delays)
    link.close()


async def test_the_clock_loop_also_wakes_for_each_clock_checkpoint(tmp_path):
    """While the clock runs, a checkpoint is written every `checkpoint_every` sim seconds with
    nothing else recorded (what a resume after a crash continues from): the loop wakes for it."""
    from tabletop.clock import ScaledClock
    from tabletop.sessions import open_session
    from tabletop.ui.link import SessionLink

    wall = [0.0]
    clock = ScaledClock(speed=60, get_time=lambda: wall[0])
    session = open_session(drill_scenario(), clock=clock, transcript=tmp_path / "k.jsonl").session
    link = SessionLink(session, clock, session.scenario)
    link.hold()
    await link.start()

    async def wait(changed, seconds):
        assert seconds is not None and seconds > 0 and link.wakeups < 500
        wall[0] += seconds

    await link.run_clock(wait=wait)
    times = [e["t"] for e in session.events]
    assert max(b - a for a, b in itertools.pairwise(times)) <= session.checkpoint_every + 0.01
    checkpoints = [e for e in session.events if e["type"] == "clock" and e["op"] == "checkpoint"]
    assert len(checkpoints) >= 7200 / session.checkpoint_every - 10
    assert link.wakeups <= len(checkpoints) + 10  # one wake-up each, and one per release
    link.close()


async def test_the_console_drives_the_clock_by_itself_only_when_asked(tmp_path):
    """Virtual-time tests pass tick_interval=None and move time themselves: no loop runs."""
    app, clock, _out = console(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        assert not [w for w in app.workers if w.group == "clock"]
        clock.advance_to(1200)
        await pilot.pause()
        assert app.link.wakeups == 0
        assert len(app.screen.query_one(InjectFeed).injects) == 1  # nothing released behind the test's back


# --- reading the post-mortem draft ----------------------------------------------------------------


async def test_the_draft_viewer_shows_loading_at_once_and_lays_the_draft_out_in_a_worker(tmp_path):
    import threading

    from textual.app import App

    import tabletop.ui.widgets.markdown_view as markdown_view
    from tabletop.ui.screens.debrief import MarkdownScreen
    from tabletop.ui.widgets.markdown_view import LOADING, MarkdownView

    draft = "# Post-mortem\n\n" + "\n\n".join(
        f"## Section {n}\n\nSome text that runs on and on about section {n}.\n\n| a | b |\n|---|---|\n| {n} | x |"
        for n in range(40)
    )
    threads: list[str] = []
    release = threading.Event()
    real = markdown_view.layout_markdown

    def layout(markdown: str, width: int):
        threads.append(threading.current_thread().name)
        release.wait(5)  # the worker takes its time: the screen must not wait for it
        return real(markdown, width)

    class Host(App):
        pass

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        original = markdown_view.layout_markdown
        markdown_view.layout_markdown = layout
        try:
            await app.push_screen(MarkdownScreen(draft, "T.postmortem.md"))
            await pilot.pause()
            view = app.screen.query_one(MarkdownView)
            assert not view.ready
            assert view.render_line(0).text.startswith(LOADING)
            release.set()
            await app.workers.wait_for_complete()
            await pilot.pause()
        finally:
            markdown_view.layout_markdown = original
        assert view.ready and view.laid_out_at == view.scrollable_content_region.width
        assert threads and threading.main_thread().name not in threads
        shown = [view.render_line(y).text for y in range(view.size.height)]
        assert any("Post-mortem" in line for line in shown)
        # the keys scroll it
        await pilot.press("end")
        await pilot.pause()
        assert view.scroll_y > 0
        assert any(
            "Section 39" in view.render_line(y).text or "39" in view.render_line(y).text
            for y in range(view.size.height)
        )


async def test_the_run_records_whether_it_auto_paused_and_a_resume_keeps_to_it(tmp_path):
    app, _clock, out = console(tmp_path, auto_pause=True, hints=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
    conditions = read_events(out)[0]["conditions"]
    assert conditions["mode"] == "solo" and conditions["auto_pause"] is True and conditions["hints"] is True
    # resumed without asking for it, the run still pauses for the player: its conditions say so
    resumed = make_console(resume=out, clock=VirtualClock(), tick_interval=None)
    assert resumed.link.session.auto_pause is True
    resumed.link.close()

    team, _clock, team_out = facilitator(tmp_path / "team", auto_pause=True)
    async with team.run_test(size=(80, 24)) as pilot:
        await start_facilitating(team, pilot)
    assert read_events(team_out)[0]["conditions"]["auto_pause"] is False  # it never applies to a team


async def test_a_new_session_starts_at_t_0_however_long_opening_it_took(tmp_path):
    """The console's own clock is stopped from the moment it exists: opening the transcript
    and loading keys does not put the first inject at T+0m01s."""
    app = make_console(drill_scenario(), out=tmp_path / "z.jsonl", name="Sam", tick_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
    first = read_events(tmp_path / "z.jsonl")
    assert [(e["type"], e["t"]) for e in first[:3] if e["type"] != "signature"][:2] == [
        ("session_started", 0),
        ("inject_released", 0),
    ]
