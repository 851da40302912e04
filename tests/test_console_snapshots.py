"""One snapshot per console screen, in virtual time (frozen clock, no cursor blink)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from console_support import drill_scenario, settle

from tabletop.clock import VirtualClock
from tabletop.ui.app import make_console

GENERATED_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def build(tmp_path, monkeypatch):
    """A console on the drill scenario writing `run.jsonl` in a scratch folder (paths shown are stable)."""
    monkeypatch.chdir(tmp_path)

    def make(**kwargs):
        clock = VirtualClock()
        app = make_console(
            drill_scenario(),
            out=Path("run.jsonl"),
            clock=clock,
            tick_interval=None,
            name="Sam",
            generated_at=GENERATED_AT,
            open_url=lambda url: True,
            **kwargs,
        )
        return app, clock

    return make


async def _quiet(app, pilot) -> None:
    """Finish background work and clear toasts so the picture is the steady screen."""
    await settle(app, pilot)
    await app.workers.wait_for_complete()
    await pilot.pause()
    app.clear_notifications()
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    await pilot.pause()


def test_lobby_snapshot(build, snap_compare):
    app, _ = build()

    async def run_before(pilot):
        await _quiet(app, pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_player_snapshot(build, snap_compare):
    app, clock = build(hints=True)

    async def run_before(pilot):
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(1500)
        await app.link.tick()
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam", rationale="I coordinate")
        await app.link.decide("coordinator", "notify_controller", by="Sam", delegate_to="dpo", timebox=1800)
        await _quiet(app, pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_decision_form_snapshot(build, snap_compare):
    app, _clock = build()

    async def run_before(pilot):
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("a", *"ico", "enter")
        await _quiet(app, pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_facilitator_snapshot(build, snap_compare):
    app, clock = build(solo=False, facilitate=True)

    async def run_before(pilot):
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(1500)
        await app.link.tick()
        await app.link.decide("dpo", "notify_controller", by="Sam", rationale="DPA clause 9.2")
        await _quiet(app, pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def _debrief(app, clock):
    """Play to the debrief: one decision met, one hands-on finding, the rest missed by T+2h."""

    async def run_before(pilot):
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(600)
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam")
        clock.advance_to(900)
        await app.link.decide("coordinator", "contain", by="Sam")
        clock.advance_to(7201)  # past the scenario's duration: the engine ends the session
        await app.link.tick()
        await _quiet(app, pilot)
        await _quiet(app, pilot)

    return run_before


def test_debrief_snapshot(build, snap_compare):
    """120x40: status and credit first, the selected row's whole explanation below."""
    app, clock = build()
    assert snap_compare(app, terminal_size=(120, 40), run_before=_debrief(app, clock))


def test_debrief_snapshot_at_80x24(build, snap_compare):
    """80x24: the rows that fit, result and credit first; enter shows the explanation."""
    app, clock = build()
    assert snap_compare(app, terminal_size=(80, 24), run_before=_debrief(app, clock))


def test_debrief_snapshot_at_80x24_explaining(build, snap_compare):
    app, clock = build()
    play = _debrief(app, clock)

    async def run_before(pilot):
        await play(pilot)
        await pilot.press("enter")
        await _quiet(app, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_player_snapshot_at_80x24(build, snap_compare):
    app, clock = build()

    async def run_before(pilot):
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(1500)
        await app.link.tick()
        await _quiet(app, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_player_snapshot_at_200x60(build, snap_compare):
    app, clock = build(hints=True)

    async def run_before(pilot):
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(1500)
        await app.link.tick()
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam", rationale="I coordinate")
        await app.link.decide("coordinator", "notify_controller", by="Sam", delegate_to="dpo", timebox=1800)
        await _quiet(app, pilot)

    assert snap_compare(app, terminal_size=(200, 60), run_before=run_before)
