"""The player's console runs unchanged against a session on another machine (RemoteSession over loopback)."""

from __future__ import annotations

from factories import breach_scenario, make_session

from tabletop.cli.team import _remote_console_class
from tabletop.clock import VirtualClock
from tabletop.net.client import PlayerClient, RemoteSession
from tabletop.net.host import HostSettings, TeamHost
from tabletop.ui.app import ConsoleSettings
from tabletop.ui.screens.dialogs import DecisionDraft
from tabletop.ui.screens.player import PlayerScreen
from tabletop.ui.widgets.inject_feed import InjectFeed

TOKEN = "console-token"


async def wait_until(pilot, client: PlayerClient, predicate, rounds: int = 50) -> None:
    """Let the app handle what the host sent until `predicate()` holds (bounded, no sleeping)."""
    for _ in range(rounds):
        await pilot.pause()
        if predicate():
            return
        try:
            await client.wait_for(predicate, timeout=0.2)  # the next message from the host
        except TimeoutError:
            pass
    raise AssertionError("condition never held")


async def test_a_remote_player_sees_injects_and_records_decisions_from_the_console(tmp_path):
    clock = VirtualClock()
    session = make_session(tmp_path, breach_scenario(), clock=clock, participants=[], start=False)
    host = TeamHost(session, HostSettings(token=TOKEN, tick_interval=0, live_clock=False))
    await host.start("127.0.0.1", 0)
    await host.call(session.start)
    client = PlayerClient(host.url, TOKEN, "coordinator", "Sam")
    await client.connect()
    remote = RemoteSession(client)
    app = _remote_console_class()(
        remote,
        ConsoleSettings(role="coordinator", name="Sam", mode="team", tick_interval=None, resumed=True),
        participants=list(client.presence),
    )
    try:
        async with app.run_test(size=(140, 45)) as pilot:
            await pilot.press("enter")  # the lobby: join the exercise
            await wait_until(pilot, client, lambda: isinstance(app.screen, PlayerScreen))
            screen = app.screen
            assert not screen.controls, "a remote player cannot pause or end the session"

            await host.run_until(25 * 60)  # customer-ticket (20m) is addressed to the coordinator
            await wait_until(
                pilot,
                client,
                lambda: any(
                    e.get("inject") == "customer-ticket" for e in screen.query_one(InjectFeed).injects
                ),
            )

            screen.record(
                DecisionDraft(action="appoint_coordinator", role="coordinator", rationale="I have context")
            )
            await host.wait_for(lambda: any(e["type"] == "decision" for e in session.events))
            decision = next(e for e in session.events if e["type"] == "decision")
            assert (decision["role"], decision["by"], decision["action"]) == (
                "coordinator",
                "Sam",
                "appoint_coordinator",
            )
            assert decision["t"] == 25 * 60

            screen.record(
                DecisionDraft(action="ico_decision", role="dpo", fields={"outcome": "notify"}, rationale="x")
            )
            await wait_until(
                pilot,
                client,
                lambda: any("you play coordinator" in str(n.message) for n in app.notices),
            )
            assert [e["action"] for e in session.events if e["type"] == "decision"] == ["appoint_coordinator"]

            await host.call(session.end)
            await wait_until(pilot, client, lambda: app.debrief_shown)
            assert isinstance(app.screen, PlayerScreen), (
                "a remote player gets no scorecard of their partial view"
            )
            assert any("facilitator runs the debrief" in str(n.message) for n in app.notices)
    finally:
        await remote.aclose()
        await host.stop()
        session.writer.close()


async def test_the_facilitator_console_hosts_remote_players_and_sees_who_is_connected(tmp_path):
    from tabletop.ui.app import make_console
    from tabletop.ui.screens.facilitator import FacilitatorScreen
    from tabletop.ui.widgets.participants import Participants

    app = make_console(
        breach_scenario(),
        name="Fran",
        solo=False,
        facilitate=True,
        clock=VirtualClock(),
        tick_interval=None,
        out=tmp_path / "hosted.jsonl",
    )
    link = app.link
    host = TeamHost(
        link.session,
        HostSettings(token=TOKEN, tick_interval=0, tick_session=False, live_clock=False),
        call=link.call,
    )
    await host.start("127.0.0.1", 0)
    client = PlayerClient(host.url, TOKEN, "dpo", "Priya")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await client.connect()  # in the lobby, before the session has started
            await pilot.press("enter")
            await wait_until(pilot, client, lambda: isinstance(app.screen, FacilitatorScreen))
            await host.wait_for(lambda: any(e.get("op") == "join" for e in link.events))
            await wait_until(pilot, client, lambda: "Priya" in app.screen.query_one(Participants).people)
            assert app.screen.query_one(Participants).people["Priya"]["role"] == "dpo"
            seq = await client.decide("assess_personal_data", fields={"records": 12})
            assert any(e["seq"] == seq and e["by"] == "Priya" for e in link.events)
            await client.close()
            await host.wait_for(lambda: any(e.get("op") == "leave" for e in link.events))
            await wait_until(
                pilot,
                client,
                lambda: app.screen.query_one(Participants).people["Priya"].get("connected") is False,
            )
    finally:
        await client.close()
        await host.stop()
