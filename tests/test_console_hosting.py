"""The facilitator's console when it hosts a rehearsal: how players join is on screen, the facilitator's
notes stay with the facilitator, quitting interrupts rather than ends, and a remote player's lobby
says whom the clock waits for."""

from __future__ import annotations

from console_support import drill_scenario, read_events, settle, text_of

from tabletop.clock import VirtualClock
from tabletop.transcript import verify_evidence
from tabletop.ui.app import make_console
from tabletop.ui.screens.dialogs import NoteDialog
from tabletop.ui.screens.facilitator import FacilitatorScreen
from tabletop.ui.screens.lobby import LobbyScreen
from tabletop.ui.widgets.join_panel import JoinDetails, JoinPanel

JOIN = JoinDetails(
    link="http://host.example:8765/join?token=tok-123",
    command="tabletop join ws://host.example:8765/ws --token tok-123 --role ROLE --name NAME",
    token="tok-123",
    room="http://host.example:8765/room/room-key",
    encrypted=False,
)


def hosting_console(tmp_path, **kwargs):
    app = make_console(
        drill_scenario(),
        out=tmp_path / "hosted.jsonl",
        clock=VirtualClock(),
        tick_interval=None,
        name="Fran",
        solo=False,
        facilitate=True,
        seats="player",  # as `tabletop host` opens it: roles are played by the people who join
        **kwargs,
    )
    app.join = JOIN
    app.presence = lambda: [{"name": "Priya", "role": "dpo"}]
    return app


async def test_the_join_link_and_token_are_in_the_lobby_and_in_a_tab_and_c_copies_the_link(tmp_path):
    app = hosting_console(tmp_path)
    async with app.run_test(size=(140, 50)) as pilot:
        lobby = app.screen
        assert isinstance(lobby, LobbyScreen)
        await settle(app, pilot)  # the briefing's panels come a frame after the heading
        shown = text_of(lobby.query_one(JoinPanel))
        for part in (JOIN.link, JOIN.command, "tok-123", JOIN.room, "Not encrypted"):
            assert part in shown
        await pilot.press("c")
        assert app.clipboard == JOIN.link
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, FacilitatorScreen)
        await pilot.click("#--content-tab-tab-join")
        await pilot.pause()
        assert JOIN.link in text_of(screen.query_one(JoinPanel))
        app.copy_to_clipboard("")
        await pilot.press("c")
        assert app.clipboard == JOIN.link


async def test_without_a_network_host_there_is_no_join_panel_and_c_does_nothing(tmp_path):
    app = make_console(
        drill_scenario(), out=tmp_path / "room.jsonl", clock=VirtualClock(), tick_interval=None, solo=False
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert not app.screen.query(JoinPanel)
        await pilot.press("c")
        assert app.clipboard == ""


async def test_the_facilitators_note_is_a_facilitator_event_not_a_players_note(tmp_path):
    app = hosting_console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NoteDialog)
        await pilot.press(*"Sam hesitates on the ICO call")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    events = read_events(tmp_path / "hosted.jsonl")
    notes = [e for e in events if e["type"] == "facilitator" and e["op"] == "note"]
    assert [n["detail"] for n in notes] == [{"text": "Sam hesitates on the ICO call", "by": "Fran"}]
    assert not any(e["type"] == "note" for e in events), "never recorded as some role's note"


async def test_quitting_a_running_console_interrupts_the_session_so_it_can_be_resumed(tmp_path):
    app = hosting_console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
    events = read_events(tmp_path / "hosted.jsonl")
    assert events[-1]["type"] == "session_interrupted" and events[-1]["reason"] == "quit"
    assert not any(e["type"] == "session_ended" for e in events)

    resumed = make_console(resume=tmp_path / "hosted.jsonl", clock=VirtualClock(), tick_interval=None)
    async with resumed.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(resumed, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
    kinds = [e["type"] for e in read_events(tmp_path / "hosted.jsonl") if e["type"] != "signature"]
    assert kinds[-2:] == ["session_resumed", "session_interrupted"]
    evidence = verify_evidence(tmp_path / "hosted.jsonl")
    assert evidence.status == "verified", evidence.problems


async def test_quitting_from_the_lobby_before_the_start_records_nothing(tmp_path):
    app = hosting_console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert read_events(tmp_path / "hosted.jsonl") == []


class RemoteStub:
    """What a remote player's lobby reads from its session: the clock, whom it waits for, the link."""

    encrypted = False
    offline = False
    paused = False
    speed = 1.0
    ended = False

    def __init__(self) -> None:
        self.waiting = ["dpo", "comms_owner"]

    def now(self) -> float:
        return 510.0


async def test_a_remote_players_lobby_says_whom_the_clock_waits_for_and_that_the_link_is_not_encrypted():
    from textual.app import App

    stub = RemoteStub()

    class Lobby(App):
        def get_default_screen(self):
            return LobbyScreen(drill_scenario(), [], mode="team", resumed_at=510.0, link=stub)

    app = Lobby()
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = text_of(app.screen.query_one("#lobby-start"))
        assert "Waiting for Data protection officer, Communications owner to join" in prompt
        assert "not encrypted" in prompt and "resume" not in prompt
        stub.waiting = []
        app.screen.refresh_prompt()  # what its half-second timer does
        await pilot.pause()
        prompt = text_of(app.screen.query_one("#lobby-start"))
        assert "Press Enter to join the exercise (the clock is at T+8m30s)" in prompt
        stub.started = False  # a console host whose facilitator is still in the lobby
        app.screen.refresh_prompt()
        await pilot.pause()
        assert "The facilitator has not started the exercise yet" in text_of(
            app.screen.query_one("#lobby-start")
        )


async def test_the_facilitator_seats_each_role_in_the_room_or_simulated_and_the_simulated_do_their_work(
    tmp_path,
):
    app = hosting_console(tmp_path)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(app, pilot)
        lobby = app.screen
        seating = lobby.query_one("#lobby-seating")
        assert seating.has_focus
        assert "Priya" in text_of(lobby.query_one("#lobby-joined")), "who has joined is shown"
        await pilot.press("space")  # the first role, the coordinator, is played at the table
        await pilot.press("down", "down", "space")  # and the communications owner
        assert lobby.seats() == {
            "coordinator": "room",
            "dpo": "simulated",
            "comms_owner": "room",
            "technical_lead": "simulated",
        }
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, FacilitatorScreen)
        assert screen.record_roles == ["coordinator", "comms_owner"], "the facilitator records for the room"
        session = app.link.session
        # the room hands work to the simulated DPO: it is carried out, not left waiting
        await app.link.call(
            session.decide, "coordinator", "notify_controller", by="Fran", delegate_to="dpo", timebox="10m"
        )
        await app.link.call(session.run_until, 15 * 60)
        await settle(app, pilot)
    events = read_events(tmp_path / "hosted.jsonl")
    started = events[0]
    assert {(p["name"], p["role"], p["simulated"]) for p in started["participants"]} == {
        ("Room", "coordinator", False),
        ("Room", "comms_owner", False),
        ("Data Protection Officer", "dpo", True),
        ("Technical Lead", "technical_lead", True),
    }
    done = [e for e in events if e["type"] == "decision" and e.get("delegation")]
    assert [(d["role"], d["by"], d["action"]) for d in done] == [
        ("dpo", "Data Protection Officer", "notify_controller")
    ]
