"""The facilitator's console: MSEL, trigger now, skip, ad-hoc inject, decisions for a role, live score, end."""

from __future__ import annotations

from console_support import drill_scenario, read_events, settle, text_of
from textual.widgets import Input, Select, TextArea

from tabletop.clock import VirtualClock
from tabletop.ui.app import make_console
from tabletop.ui.screens.debrief import DebriefScreen
from tabletop.ui.screens.dialogs import AdhocInjectDialog, ConfirmDialog, DecisionForm
from tabletop.ui.screens.facilitator import FacilitatorScreen
from tabletop.ui.screens.player import PlayerScreen
from tabletop.ui.widgets.decisions import DecisionLog
from tabletop.ui.widgets.msel import MselTable
from tabletop.ui.widgets.participants import Participants, PhaseQuestions
from tabletop.ui.widgets.scorecard import LiveScorecard


def console(tmp_path, **kwargs):
    clock = VirtualClock()
    out = tmp_path / "room.jsonl"
    app = make_console(
        drill_scenario(), out=out, clock=clock, tick_interval=None, name="Fran", facilitate=True, **kwargs
    )
    return app, clock, out


async def start(app, pilot) -> FacilitatorScreen:
    await pilot.press("enter")
    await settle(app, pilot)
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, FacilitatorScreen)
    return app.screen


def msel_row(screen, inject_id):
    table = screen.query_one(MselTable)
    return next(r for r in table.rows_data if r["inject"] == inject_id)


async def test_facilitator_journey(tmp_path):
    app, _clock, out = console(tmp_path, solo=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(app, pilot)
        table = screen.query_one(MselTable)
        assert msel_row(screen, "alert")["status"] == "released"
        assert msel_row(screen, "customer-ticket")["status"] == "scheduled"
        assert msel_row(screen, "dpo-chases")["condition"] == "missed: dpo-in"

        # trigger the ticket now: the MSEL cursor picks it
        table.focus()
        table.move_cursor(row=[r["inject"] for r in table.rows_data].index("customer-ticket"))
        await pilot.press("t")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        released = [e for e in read_events(out) if e["type"] == "inject_released"]
        assert [e["inject"] for e in released] == ["alert", "customer-ticket"]
        assert any(e["type"] == "facilitator" and e["op"] == "trigger_now" for e in read_events(out))
        assert msel_row(screen, "customer-ticket")["status"] == "released"

        # skip the press inject, after confirming
        table.move_cursor(row=[r["inject"] for r in table.rows_data].index("press"))
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(app, pilot)
        assert any(
            e["type"] == "facilitator" and e["op"] == "skip" and e["inject"] == "press"
            for e in read_events(out)
        )

        # an ad-hoc inject
        await pilot.press("i")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, AdhocInjectDialog)
        await pilot.press(*"Power cut")
        dialog.query_one("#body", TextArea).text = "Laptops on battery."
        dialog.query_one("#to", Select).value = "coordinator"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        adhoc = [e for e in read_events(out) if e["type"] == "inject_released" and e["trigger"] == "adhoc"]
        assert [(e["title"], e["to"]) for e in adhoc] == [("Power cut", ["coordinator"])]

        # a decision recorded for the DPO, with its rationale
        await pilot.press("d")
        await pilot.pause()
        await pilot.press(*"ico")
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DecisionForm)
        form.query_one("#role", Select).value = "dpo"
        form.query_one("#field-outcome", Select).value = "not_notify"
        form.query_one("#rationale", TextArea).text = "Contact data only; low risk"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        decision = [e for e in read_events(out) if e["type"] == "decision"][-1]
        assert (decision["role"], decision["by"], decision["fields"], decision["rationale"]) == (
            "dpo",
            "Fran",
            {"outcome": "not_notify"},
            "Contact data only; low risk",
        )
        log = screen.query_one(DecisionLog)
        assert log.row_count == 1 and "Decide whether to notify the ICO" in str(log.get_row_at(0)[3])

        # the coordinator hands the controller notification to the DPO with a time-box
        await pilot.press("d")
        await pilot.pause()
        await pilot.press(*"notify controller")
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        form.query_one("#role", Select).value = "coordinator"
        await pilot.pause()
        form.query_one("#delegate", Select).value = "dpo"
        form.query_one("#timebox", Input).value = "1h"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        delegation = [e for e in read_events(out) if e["type"] == "delegation"]
        assert [(d["role"], d["to_role"], d["action"], d["timebox"]) for d in delegation] == [
            ("coordinator", "dpo", "notify_controller", 3600)
        ]
        assert log.row_count == 2 and "→ dpo: Notify the controller" in str(log.get_row_at(1)[3])

        # the live score, the room and the phase questions
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.query_one(LiveScorecard).card is not None
        assert "Appoint an incident coordinator" in text_of(screen.query_one(LiveScorecard))
        assert "Room" in text_of(screen.query_one(Participants))
        assert "Who is the incident coordinator?" in text_of(screen.query_one(PhaseQuestions))

        # pause, speed, resume
        await pilot.press("space")
        await settle(app, pilot)
        await pilot.press("plus")
        await settle(app, pilot)
        await pilot.press("space")
        await settle(app, pilot)
        clock_ops = [(e["op"], e["speed"]) for e in read_events(out) if e["type"] == "clock"]
        assert [op for op, _ in clock_ops] == ["pause", "speed", "resume"]
        assert clock_ops[1][1] == 120

        # end: the debrief
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, DebriefScreen)
        assert read_events(out)[-1] == {
            **read_events(out)[-1],
            "type": "session_ended",
            "reason": "facilitator",
        }


async def test_branch_condition_fires_and_shows_in_the_msel(tmp_path):
    app, clock, _out = console(tmp_path, solo=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(app, pilot)
        for t in (1200, 3000, 3001, 3601, 4300):  # the engine ticks as time passes, as in play
            clock.advance_to(t)
            await app.link.tick()
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        assert msel_row(screen, "dpo-chases")["status"] == "released"
        card = screen.query_one(LiveScorecard).card
        assert {r["id"]: r["status"] for r in card["expectations"]}["dpo-in"] == "missed"


async def test_solo_with_facilitate_switches_between_views(tmp_path):
    app, _clock, _out = console(tmp_path, solo=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, FacilitatorScreen)


async def test_trigger_now_needs_an_inject_that_is_not_yet_released(tmp_path):
    app, _clock, out = console(tmp_path, solo=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(app, pilot)
        table = screen.query_one(MselTable)
        table.move_cursor(row=[r["inject"] for r in table.rows_data].index("alert"))
        await pilot.press("t")
        await settle(app, pilot)
        assert any("already released" in n.message for n in app.notices)
        assert sum(1 for e in read_events(out) if e["type"] == "inject_released") == 1


async def test_the_room_follows_joins_role_changes_and_leaves(tmp_path):
    app, _clock, out = console(tmp_path, solo=False, seats="player")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(app, pilot)
        await app.link.call(app.link.session.set_role, "Priya", "dpo")
        await app.link.call(app.link.session.set_role, "Sam", "coordinator")
        await app.link.call(app.link.session.set_role, "Sam", "comms_owner")
        await app.link.call(app.link.session.leave, "Priya")
        await settle(app, pilot)
        room = text_of(screen.query_one(Participants))
        assert "Data protection officer  Priya (left)" in room
        assert "Communications owner  Sam" in room
        assert "Incident coordinator  unfilled" in room
        ops = [e["op"] for e in read_events(out) if e["type"] == "facilitator"]
        assert ops == ["join", "join", "role_change", "leave"]
