"""The console says when its background work is done: debounced refreshes, WorkDone messages, `settled()`."""

from __future__ import annotations

import asyncio

import pytest
from console_support import drill_scenario, settle, text_of
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import WorkerFailed

from tabletop.clock import VirtualClock
from tabletop.ui.app import make_console
from tabletop.ui.screens.debrief import DebriefScreen
from tabletop.ui.screens.exercise import ExerciseScreen
from tabletop.ui.screens.facilitator import FacilitatorScreen
from tabletop.ui.screens.lobby import LobbyScreen
from tabletop.ui.settling import Debounce, Settling, StillBusy, WorkDone
from tabletop.ui.widgets.scorecard import LiveScorecard


class Bare(Settling[None]):
    """The settling machinery on an App of its own, with one screen that counts its refreshes."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.refreshed = 0

    def get_default_screen(self) -> Screen:
        return Screen()

    def on_mount(self) -> None:
        self.debounce = Debounce(self.screen, self.delay, self.refresh_count, "count")

    def refresh_count(self) -> None:
        self.refreshed += 1


@pytest.mark.parametrize("delay", [0, 0.05])
async def test_a_burst_of_requests_runs_the_refresh_once_even_with_no_delay(delay):
    app = Bare(delay)
    async with app.run_test() as pilot:
        for _ in range(5):
            app.debounce.request()
        assert app.debounce.pending and app.busy() == ["count"]
        await app.settled(timeout=5)
        assert app.refreshed == 1 and not app.debounce.pending and app.busy() == []
        app.debounce.request()
        await app.settled(timeout=5)
        assert app.refreshed == 2
        await pilot.pause()


async def test_settled_fails_loudly_naming_what_never_finished():
    app = Bare(0)
    async with app.run_test():
        release = asyncio.Event()
        app.run_worker(release.wait(), group="stuck")
        with pytest.raises(StillBusy, match=r"still busy after 0\.2 s: stuck"):
            await app.settled(timeout=0.2)
        release.set()
        await app.settled(timeout=5)


async def test_settled_raises_the_failure_of_a_worker_it_waits_for():
    app = Bare(0)
    async with app.run_test():

        async def broken() -> None:
            await asyncio.sleep(0.05)  # still running when `settled` looks
            raise ValueError("scoring broke")

        app.run_worker(broken(), group="broken", exit_on_error=False)
        with pytest.raises(WorkerFailed, match="scoring broke"):
            await app.settled(timeout=5)


def work_done(seen: list[Message]) -> list[WorkDone]:
    """The WorkDone messages among those handled, each once (the hook sees it at every node it bubbles through)."""
    return list({id(m): m for m in seen if isinstance(m, WorkDone)}.values())


def console(tmp_path, **kwargs):
    clock = VirtualClock()
    app = make_console(
        drill_scenario(), out=tmp_path / "s.jsonl", clock=clock, tick_interval=None, name="Fran", **kwargs
    )
    return app, clock


async def test_each_refresh_posts_its_message_and_a_zero_rescore_delay_still_scores(tmp_path, monkeypatch):
    """A Textual timer of 0 s never fires: a zero delay must still refresh the score."""
    monkeypatch.setattr(ExerciseScreen, "RESCORE_DELAY", 0)
    monkeypatch.setattr(FacilitatorScreen, "MSEL_DELAY", 0)
    seen: list[Message] = []
    app, clock = console(tmp_path, solo=False, facilitate=True)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(app, pilot)
        assert [m.job for m in work_done(seen)] == ["briefing"]
        assert isinstance(app.screen, LobbyScreen) and app.screen.briefed
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, FacilitatorScreen)

        del seen[:]
        clock.advance_to(300)
        await app.link.decide("coordinator", "appoint_coordinator", by="Fran")
        await settle(app, pilot)
        done = work_done(seen)
        assert {m.job for m in done} == {"rescore", "msel"}
        scored = [m for m in done if isinstance(m, ExerciseScreen.Scored)][-1]
        assert {r["id"]: r["status"] for r in scored.card["expectations"]}["coord"] == "met"
        assert screen.query_one(LiveScorecard).card == scored.card
        assert "Appoint an incident coordinator" in text_of(screen.query_one(LiveScorecard))

        del seen[:]
        await app.link.end()
        await settle(app, pilot)
        assert isinstance(app.screen, DebriefScreen)
        assert "debrief" in [m.job for m in work_done(seen)]
        assert app.screen.result is not None
        assert "Score" in str(app.screen.query_one("#debrief-summary", Static).content)


async def test_the_console_keeps_every_notification_it_showed(tmp_path):
    app, _clock = console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.notices == []
        app.notify("first", title="One")
        app.screen.notify("second", severity="warning")
        await pilot.pause()
        app.clear_notifications()  # gone from the screen, still on record
        await pilot.pause()
        assert [(n.title, n.message, n.severity) for n in app.notices] == [
            ("One", "first", "information"),
            ("", "second", "warning"),
        ]
