"""A first-time user's console: what it does on its own, what it explains, and what it leaves alone."""

from __future__ import annotations

from console_support import drill_scenario, settle

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
