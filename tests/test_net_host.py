"""A team rehearsal over real loopback sockets: players join a host, decide, drop out, misbehave; the transcript stays whole."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from factories import breach_scenario, make_inject, make_scenario, make_session
from net_support import TOKEN, RawPlayer, hello, hosted

from tabletop.clock import VirtualClock
from tabletop.net import protocol as p
from tabletop.net.client import (
    JoinRefused,
    PlayerClient,
    RemoteSession,
    RequestRefused,
    ScriptLine,
    play_script,
)
from tabletop.net.host import HostSettings, RateLimit, TeamHost
from tabletop.net.rehearsal import read_script
from tabletop.scoring import score
from tabletop.script import load_script, play
from tabletop.sessions import open_session
from tabletop.transcript import read_transcript, verify_evidence, verify_transcript

# --- one team, one transcript --------------------------------------------------------------

SCRIPT = """\
participants:
  - {name: Sam, role: coordinator}
  - {name: Priya, role: dpo}
  - {name: Alex, role: comms_owner}
decisions:
  - {at: 2m, role: coordinator, action: appoint_coordinator}
  - {at: 5m, role: coordinator, action: declare_incident}
  - {at: 21m, role: coordinator, action: involve_dpo, inject: customer-ticket}
  - {at: 30m, role: dpo, action: assess_personal_data, fields: {records: 1200}}
  - {at: 40m, role: dpo, action: confirm_personal_data_breach}
  - {at: 45m, role: comms_owner, action: customer_comms}
  - {at: 50m, role: coordinator, note: "DPO briefed; waiting on the export logs"}
  - {at: 1h, role: dpo, action: ico_decision, fields: {outcome: notify}, rationale: "High risk to individuals"}
  - {at: 1h10m, role: comms_owner, action: status_update, fields: {audience: customer}}
  - {at: 1h10m, role: coordinator, action: status_update, fields: {audience: exec}}
"""


def recorded(events: list[dict[str, Any]]) -> list[tuple]:
    return [
        (
            e["t"],
            e["type"],
            e.get("role"),
            e.get("by"),
            e.get("action"),
            e.get("fields"),
            e.get("rationale"),
            e.get("text"),
        )
        for e in events
        if e["type"] in ("decision", "delegation", "note")
    ]


async def test_a_team_over_the_network_scores_exactly_like_the_same_script_run_headless(tmp_path):
    script_path = tmp_path / "team.yaml"
    script_path.write_text(SCRIPT)
    scenario = breach_scenario()

    # the same decisions played straight into a headless session, as `simulate` does
    script = load_script(script_path, scenario)
    baseline = open_session(
        scenario,
        mode="simulate",
        players=script.participants,
        clock=VirtualClock(),
        transcript=tmp_path / "baseline.jsonl",
        fsync=False,
        start=True,
    ).session
    play(baseline, script)

    async with hosted(tmp_path, scenario) as rig:
        players = {person.role: await rig.player(person.role, person.name) for person in script.participants}
        plays = [
            asyncio.create_task(play_script(client, read_script(script_path, role)))
            for role, client in players.items()
        ]
        for at in sorted({entry.at for entry in script.entries}):
            due = sum(1 for entry in script.entries if entry.at <= at)
            await rig.host.run_until(at)
            await rig.host.wait_for(lambda due=due: len(recorded(rig.session.events)) == due)
        results = await asyncio.wait_for(asyncio.gather(*plays), 10)
        await rig.host.call(rig.session.run_to_end)
        await asyncio.wait_for(asyncio.gather(*(c.ended.wait() for c in players.values())), 5)

    assert all(r.seq is not None and r.refused is None for rs in results for r in rs)
    network = read_transcript(rig.path)
    assert verify_transcript(rig.path).ok
    evidence = verify_evidence(rig.path)  # request ids, joins and leaves: the grammar holds
    assert evidence.status == "verified", evidence.problems
    # two players deciding at the same sim time reach the host in either order
    assert sorted(recorded(network.events), key=repr) == sorted(recorded(baseline.events), key=repr)
    # the same numbers; only the recorded conditions say one was a team over the network
    over_network, headless = (
        score(scenario, network.events).to_json(),
        score(scenario, baseline.events).to_json(),
    )
    assert (over_network.pop("conditions")["mode"], headless.pop("conditions")["mode"]) == (
        "team",
        "simulate",
    )
    assert over_network == headless
    assert over_network["score"] > 0
    ended = [e for e in network.events if e["type"] == "session_ended"]
    assert [e["reason"] for e in ended] == ["duration"]


async def test_players_see_their_injects_and_never_facilitator_content(tmp_path):
    scenario = make_scenario(
        [
            make_inject(
                "alert",
                0,
                to=["all"],
                notes="FACILITATOR-ONLY: push them on the 72 hours",
                marks=["detected"],
            ),
            make_inject("for-dpo", "10m", to=["dpo"], title="Controller asks for a call"),
            make_inject("for-coordinator", "10m", to=["coordinator"], title="Exec wants a briefing"),
            make_inject("later", "3h", title="SECRET-FUTURE-INJECT"),
        ]
    )
    async with hosted(tmp_path, scenario) as rig:
        raw = await RawPlayer.open(rig.host.url, hello("dpo", "Priya"))
        welcome = await raw.next_frame()
        await rig.host.run_until(600)
        await rig.host.wait_for(lambda: any(e.get("inject") == "for-coordinator" for e in rig.session.events))
        await rig.host.call(rig.session.end)
        frames = await raw.frames_until_closed()
        await raw.close()

    assert welcome["type"] == "welcome" and welcome["role"] == "dpo"
    assert "injects" not in welcome["scenario"] and "expectations" not in welcome["scenario"]
    events = [json.loads(f)["event"] for f in frames if json.loads(f)["type"] == "event"]
    assert [e["inject"] for e in events if e["type"] == "inject_released"] == ["alert", "for-dpo"]
    assert {e["type"] for e in events} <= {
        "inject_released",
        "clock",
        "decision",
        "delegation",
        "note",
        "session_ended",
    }
    everything = json.dumps(welcome) + "".join(frames)
    for secret in (
        "FACILITATOR-ONLY",
        "SECRET-FUTURE-INJECT",
        "Exec wants a briefing",
        "marker_set",
        "detected",
        "session_started",
    ):
        assert secret not in everything
    assert any(json.loads(f)["type"] == "state" for f in frames)


async def test_a_decision_is_acknowledged_only_once_its_line_is_on_disk(tmp_path):
    async with hosted(tmp_path, fsync=True) as rig:
        sam = await rig.player("coordinator", "Sam")
        seq = await sam.decide("appoint_coordinator", rationale="I have the most context")
        on_disk = read_transcript(rig.path).events
    line = next(e for e in on_disk if e["seq"] == seq)
    assert (line["type"], line["role"], line["by"], line["action"]) == (
        "decision",
        "coordinator",
        "Sam",
        "appoint_coordinator",
    )
    assert line["rationale"] == "I have the most context"


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["wrong-token", ""])
async def test_a_wrong_or_missing_token_is_refused_with_a_clear_message(tmp_path, token):
    async with hosted(tmp_path) as rig:
        with pytest.raises(JoinRefused) as refused:
            await rig.player("coordinator", "Mallory", token=token)
        assert refused.value.code == p.BAD_TOKEN
        assert "wrong or missing token" in str(refused.value)
        assert rig.host.connected() == []
        assert not any(e.get("detail", {}).get("name") == "Mallory" for e in rig.lines("facilitator"))


async def test_an_unknown_role_is_refused_naming_the_roles(tmp_path):
    async with hosted(tmp_path) as rig:
        with pytest.raises(
            JoinRefused, match="role 'ceo' is not in this scenario; expected one of coordinator"
        ):
            await rig.player("ceo", "Pat")


async def test_a_player_cannot_record_another_roles_decision(tmp_path):
    async with hosted(tmp_path) as rig:
        sam = await rig.player("coordinator", "Sam")
        await rig.player("dpo", "Priya")
        with pytest.raises(RequestRefused) as refused:
            await sam.decide(
                "ico_decision", role="dpo", fields={"outcome": "not_notify"}, rationale="low risk"
            )
        assert refused.value.code == p.WRONG_ROLE
        assert "you play coordinator" in str(refused.value)
        # the same request through the console's session object is refused too
        remote = RemoteSession(sam)
        with pytest.raises(RequestRefused):
            await remote.decide(
                "dpo", "ico_decision", by="Priya", fields={"outcome": "notify"}, rationale="x"
            )
        with pytest.raises(RequestRefused, match="only the facilitator"):
            await remote.pause()
        assert rig.lines("decision") == []
        # refused requests leave the connection usable
        seq = await sam.decide("appoint_coordinator")
        assert rig.lines("decision")[-1]["seq"] == seq


async def test_the_engines_rejection_reaches_the_player_and_nothing_is_recorded(tmp_path):
    async with hosted(tmp_path) as rig:
        priya = await rig.player("dpo", "Priya")
        with pytest.raises(RequestRefused) as refused:
            await priya.decide("ico_decision", fields={"outcome": "maybe"})
        assert refused.value.code == p.REJECTED
        assert "maybe" in str(refused.value)
        assert rig.lines("decision") == []


async def test_a_second_connection_may_not_take_a_name_playing_another_role(tmp_path):
    async with hosted(tmp_path) as rig:
        await rig.player("coordinator", "Sam")
        with pytest.raises(JoinRefused) as refused:
            await rig.player("dpo", "Sam")
        assert refused.value.code == p.NAME_TAKEN
        assert "'Sam' already has a seat in this session (playing coordinator)" in str(refused.value)


# --- misbehaving clients -------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage, words",
    [
        ("this is not json", "not valid JSON"),
        ('{"v": 1, "type": "decide", "id": "r1"}', "decide.action: missing"),
        ('{"v": 9, "type": "note", "id": "r1", "text": "hi"}', "unsupported protocol version 9"),
        ('{"v": 1, "type": "hello", "token": "x", "role": "dpo", "name": "Z"}', "hello was already received"),
    ],
)
async def test_a_malformed_message_disconnects_only_its_sender(tmp_path, garbage, words):
    async with hosted(tmp_path) as rig:
        priya = await rig.player("dpo", "Priya")
        raw = await RawPlayer.open(rig.host.url, hello())
        assert (await raw.next_frame())["type"] == "welcome"
        await raw.ws.send_str(garbage)
        frames = [json.loads(f) for f in await raw.frames_until_closed()]
        errors = [f for f in frames if f["type"] == "error"]
        assert errors and errors[-1]["fatal"] and words in errors[-1]["message"]
        assert raw.ws.close_code == p.CLOSE_BAD_MESSAGE
        await raw.close()
        await rig.host.wait_for(lambda: not rig.joined("Sam"))
        seq = await priya.decide("assess_personal_data", fields={"records": 10})
        assert rig.lines("decision")[-1]["seq"] == seq
    assert verify_transcript(rig.path).ok


async def test_garbage_instead_of_hello_is_refused(tmp_path):
    async with hosted(tmp_path) as rig:
        for first in ("\x00\x01garbage", json.dumps({"v": 1, "type": "note", "id": "n", "text": "hi"})):
            raw = await RawPlayer.open(rig.host.url, first)
            frames = [json.loads(f) for f in await raw.frames_until_closed()]
            assert frames[-1]["type"] == "error" and frames[-1]["fatal"]
            await raw.close()
        raw = await RawPlayer.open(rig.host.url)
        await raw.ws.send_bytes(b"\x89PNG")
        frames = [json.loads(f) for f in await raw.frames_until_closed()]
        assert "hello" in frames[-1]["message"]
        await raw.close()
        assert rig.host.connected() == []


async def test_an_oversized_frame_closes_that_connection_and_the_session_carries_on(tmp_path):
    async with hosted(tmp_path, max_msg_size=4096) as rig:
        priya = await rig.player("dpo", "Priya")
        raw = await RawPlayer.open(rig.host.url, hello())
        assert (await raw.next_frame())["type"] == "welcome"
        await raw.ws.send_str(json.dumps({"v": 1, "type": "note", "id": "n1", "text": "x" * 20_000}))
        await raw.frames_until_closed()
        assert raw.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        await raw.close()
        assert rig.lines("note") == []
        assert await priya.note("still here") is not None
    assert verify_transcript(rig.path).ok


async def test_a_flooding_client_is_cut_off_after_its_burst(tmp_path):
    def frozen():
        return 100.0  # the bucket never refills: exactly `burst` messages get through

    async with hosted(tmp_path, rate=RateLimit(per_second=1, burst=5), get_time=frozen) as rig:
        priya = await rig.player("dpo", "Priya")
        raw = await RawPlayer.open(rig.host.url, hello())
        assert (await raw.next_frame())["type"] == "welcome"
        for n in range(200):
            try:
                await raw.ws.send_str(
                    json.dumps({"v": 1, "type": "note", "id": f"n{n}", "text": f"spam {n}"})
                )
            except ConnectionResetError:
                break
        frames = [json.loads(f) for f in await raw.frames_until_closed()]
        await raw.close()
        assert raw.ws.close_code == p.CLOSE_TOO_FAST
        assert frames[-1]["code"] == p.TOO_FAST
        spam = [e for e in rig.lines("note") if e["by"] == "Sam"]
        assert len(spam) == 5
        assert await priya.note("the rest of us carry on") is not None


# --- coming and going ----------------------------------------------------------------------


async def test_a_player_who_reconnects_gets_exactly_what_they_missed(tmp_path):
    async with hosted(tmp_path) as rig:
        priya = await rig.player("dpo", "Priya", reconnect=False)
        sam = await rig.player("coordinator", "Sam")
        await rig.host.run_until(60)
        await sam.decide("appoint_coordinator")
        await priya.wait_for(lambda: any(e["type"] == "decision" for e in priya.events))
        seen_before = priya.last_seq

        await priya.drop()
        await rig.host.wait_for(lambda: not rig.joined("Priya"))
        await rig.host.run_until(25 * 60)  # customer-ticket (20m) is for the coordinator only
        await rig.host.call(
            rig.session.add_inject, "Controller on the phone", "They want an answer", "phone", ["dpo"]
        )
        await sam.decide("involve_dpo")

        await priya.connect()  # sends the last seq it saw
        await priya.wait_for(lambda: any(e.get("title") == "Controller on the phone" for e in priya.events))

    missed = [e for e in priya.events if e["seq"] > seen_before]
    assert [(e["type"], e.get("action") or e.get("title")) for e in missed] == [
        ("inject_released", "Controller on the phone"),
        ("decision", "involve_dpo"),
    ]
    seqs = [e["seq"] for e in priya.events]
    assert seqs == sorted(set(seqs)), "no event twice, none out of order"
    assert priya.connections == 2


async def test_a_dropped_player_reconnects_by_itself_and_resends_what_was_not_acknowledged(tmp_path):
    async with hosted(tmp_path) as rig:
        priya = await rig.player("dpo", "Priya")
        await priya.drop()
        seq = await asyncio.wait_for(priya.note("written while the line was down"), 10)
        assert priya.connections == 2
        notes = [e for e in rig.lines("note") if e["by"] == "Priya"]
        assert [e["seq"] for e in notes] == [seq]


async def test_presence_is_recorded_and_shown_to_everyone(tmp_path):
    async with hosted(tmp_path) as rig:
        sam = await rig.player("coordinator", "Sam")
        priya = await rig.player("dpo", "Priya")
        await sam.wait_for(lambda: len(sam.presence) == 2)
        assert {(x["name"], x["role"]) for x in sam.presence} == {("Sam", "coordinator"), ("Priya", "dpo")}
        await priya.close()
        await rig.host.wait_for(lambda: any(e.get("op") == "leave" for e in rig.lines("facilitator")))
        await sam.wait_for(lambda: len(sam.presence) == 1)
        ops = [(e["op"], e["detail"]["name"]) for e in rig.lines("facilitator")]
        assert ops == [("join", "Sam"), ("join", "Priya"), ("leave", "Priya")]
        assert rig.host.connected() == [{"name": "Sam", "role": "coordinator"}]


async def test_a_delegated_task_is_carried_out_by_a_player_of_that_role_only(tmp_path):
    async with hosted(tmp_path) as rig:
        sam = await rig.player("coordinator", "Sam")
        priya = await rig.player("dpo", "Priya")
        alex = await rig.player("comms_owner", "Alex")
        await sam.decide("assess_personal_data", delegate_to="dpo", timebox="15m", fields={"records": 40})
        remote = RemoteSession(priya)
        await priya.wait_for(lambda: any(e["type"] == "delegation" for e in priya.events))
        tasks = await remote.pending_tasks("dpo")
        assert [(t["action"], t["role"], t["timebox"]) for t in tasks] == [
            ("assess_personal_data", "coordinator", 900)
        ]
        with pytest.raises(RequestRefused, match="no task"):
            await alex.complete_task(tasks[0]["id"])
        seq = await remote.complete_task(tasks[0]["id"], by="ignored", fields=None, rationale="")
        done = next(e for e in rig.lines("decision") if e["seq"] == seq)
        assert (done["role"], done["by"], done["delegated_by"], done["delegation"]) == (
            "dpo",
            "Priya",
            "coordinator",
            tasks[0]["id"],
        )
        await priya.wait_for(lambda: any(e["seq"] == seq for e in priya.events))
        assert await remote.pending_tasks("dpo") == []


async def test_the_end_of_the_session_reaches_players_and_closes_the_door(tmp_path):
    async with hosted(tmp_path) as rig:
        sam = await rig.player("coordinator", "Sam")
        await rig.host.call(rig.session.end)
        await asyncio.wait_for(sam.ended.wait(), 5)
        assert sam.events[-1]["type"] == "session_ended"
        with pytest.raises(JoinRefused, match="the session has ended"):
            await rig.player("dpo", "Late")


async def test_the_player_console_gets_a_scenario_it_can_use(tmp_path):
    async with hosted(tmp_path) as rig:
        priya = await rig.player("dpo", "Priya")
        remote = RemoteSession(priya)
        assert remote.scenario.role_title("dpo") == "Data protection officer"
        assert remote.scenario.action("ico_decision").fields["outcome"].choices == ["notify", "not_notify"]
        assert remote.scenario.injects == [] and remote.scenario.expectations == []
        await rig.host.run_until(120)
        await priya.wait_for(lambda: priya.state is not None and priya.state.t == 120)
        assert remote.now() == 120 and not remote.paused
        await rig.host.call(rig.session.pause)
        await priya.wait_for(lambda: remote.paused)


async def test_script_lines_for_one_role_are_read_from_the_simulate_format(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCRIPT)
    lines = read_script(path, "dpo")
    assert [(line.at, line.action) for line in lines] == [
        (1800, "assess_personal_data"),
        (2400, "confirm_personal_data_breach"),
        (3600, "ico_decision"),
    ]
    assert lines[-1] == ScriptLine(
        at=3600,
        action="ico_decision",
        fields={"outcome": "notify"},
        rationale="High risk to individuals",
        entry=7,  # its place in the whole script: with the session, the line's request id
    )


@pytest.mark.parametrize("line_seen", [True, False], ids=["line-seen-live", "line-only-in-replay"])
async def test_a_decision_recorded_just_before_the_line_dropped_is_not_recorded_twice(tmp_path, line_seen):
    async with hosted(tmp_path) as rig:
        priya = await rig.player("dpo", "Priya")
        answer, send = rig.host._answer, rig.host._send
        muted: set[str] = set()
        rig.host._send = lambda player, frame: None if player.name in muted else send(player, frame)

        async def record_then_drop(player, request):
            if not line_seen:
                muted.add(player.name)  # nothing more reaches this socket, not even the line
            frame = await answer(player, request)  # recorded and durable...
            await player.ws.close()  # ...but the acknowledgement never leaves the host
            muted.clear()
            rig.host._answered.clear()  # as after a host restart: the host has forgotten the request
            return frame

        rig.host._answer = record_then_drop
        request = asyncio.create_task(priya.decide("assess_personal_data", fields={"records": 3}))
        await rig.host.wait_for(lambda: len(rig.lines("decision")) == 1)
        rig.host._answer = answer
        seq = await asyncio.wait_for(request, 10)
        await priya.wait_for(lambda: priya.connections == 2)
        await priya.note("back")  # anything resent on reconnecting would be recorded before this
        assert [e["seq"] for e in rig.lines("decision")] == [seq]


async def test_a_second_connection_cannot_take_over_a_connected_players_seat(tmp_path):
    # the same name and role used to replace the connected player for good; now the seat is theirs
    async with hosted(tmp_path) as rig:
        first = await rig.player("dpo", "Priya")
        with pytest.raises(JoinRefused) as refused:
            await rig.player("dpo", "Priya")  # knows the token, not Priya's seat
        assert refused.value.code == p.NAME_TAKEN
        stolen = PlayerClient(
            rig.host.url, TOKEN, "dpo", "Priya", seat=first.seat, retry_delays=(0.01, 0.02), longest_wait=0.01
        )
        rig.clients.append(stolen)
        with pytest.raises(JoinRefused) as busy:  # even with the secret: one live connection a seat
            await stolen.connect()
        assert busy.value.code == p.SEAT_BUSY
        assert await first.note("still me") is not None
        assert first.connections == 1 and first.failure is None
        assert rig.host.connected() == [{"name": "Priya", "role": "dpo"}]
        assert [e["by"] for e in rig.lines("note")] == ["Priya"]


async def test_a_socket_that_never_says_hello_is_closed(tmp_path):
    async with hosted(tmp_path, hello_timeout=0.2) as rig:
        raw = await RawPlayer.open(rig.host.url)
        frames = [json.loads(f) for f in await raw.frames_until_closed()]
        await raw.close()
        assert frames[-1]["code"] == p.NOT_WELCOME and "no hello" in frames[-1]["message"]


async def test_connections_beyond_the_limit_are_refused(tmp_path):
    async with hosted(tmp_path, max_connections=2) as rig:
        await rig.player("dpo", "Priya")
        await rig.player("coordinator", "Sam")
        with pytest.raises(JoinRefused, match="too many players connected; try again later") as full:
            await rig.player("comms_owner", "Alex")
        assert full.value.code == p.HOST_FULL


async def test_a_last_seq_from_another_session_is_ignored(tmp_path):
    async with hosted(tmp_path) as rig:
        raw = await RawPlayer.open(
            rig.host.url, hello("coordinator", "Sam", last_seq=10_000, session="an-old-rehearsal")
        )
        welcome = await raw.next_frame()
        first = await raw.next_frame()
        await raw.close()
    assert welcome["session"] == rig.session.events[0]["hash"]
    assert welcome["replay"] >= 1 and first["event"]["inject"] == "alert", "everything is replayed"


async def test_the_same_session_replays_only_what_was_missed(tmp_path):
    async with hosted(tmp_path) as rig:
        session_id = rig.session.events[0]["hash"]
        last = rig.session.events[-1]["seq"]
        raw = await RawPlayer.open(
            rig.host.url, hello("coordinator", "Sam", last_seq=last, session=session_id)
        )
        welcome = await raw.next_frame()
        await raw.close()
    assert welcome["replay"] == 0


async def test_scripted_lines_are_played_at_their_sim_times_on_a_running_clock(tmp_path):
    from tabletop.clock import ScaledClock

    clock = ScaledClock(speed=120)  # two sim minutes a wall second
    session = make_session(tmp_path, breach_scenario(), clock=clock, participants=[], start=False)
    host = TeamHost(session, HostSettings(token=TOKEN, tick_interval=0.02, state_interval=0.1))
    await host.start("127.0.0.1", 0)
    await host.call(session.start)
    client = PlayerClient(host.url, TOKEN, "coordinator", "Sam")
    try:
        await client.connect()
        lines = [
            ScriptLine(at=30, action="appoint_coordinator"),
            ScriptLine(at=90, note="channel open"),
            ScriptLine(at=150, action="declare_incident"),
        ]
        results = await asyncio.wait_for(play_script(client, lines), 10)
    finally:
        await client.close()
        await host.stop()
        session.writer.close()
    by_seq = {e["seq"]: e for e in session.events}
    for line, result in zip(lines, results, strict=False):
        t = by_seq[result.seq]["t"]
        assert line.at <= t <= line.at + 60, f"{line} recorded at {t}"
