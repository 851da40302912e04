"""Getting players in and keeping them in, over loopback: seats and their secrets, a clock that waits
for the players, TLS, a host that is full or gone for a while, and scripted players that restart."""

from __future__ import annotations

import asyncio
import json
import ssl

import pytest
from factories import breach_scenario, make_scenario, make_session
from net_support import TOKEN, RawPlayer, hello, hosted, self_signed_certificate

from tabletop.clock import ScaledClock, VirtualClock
from tabletop.engine import Session
from tabletop.net import protocol as p
from tabletop.net.client import (
    ConnectionLost,
    JoinRefused,
    PlayerClient,
    RemoteSession,
    ScriptLine,
    SeatStore,
    play_script,
)
from tabletop.net.host import HostSettings, TeamHost, tls_context
from tabletop.net.seats import Seats, seats_path

# --- seats ---------------------------------------------------------------------------------


async def test_the_first_join_gives_a_seat_kept_hashed_beside_the_transcript_and_never_in_it(tmp_path):
    seats = Seats(seats_path(tmp_path / "t.jsonl"))
    async with hosted(tmp_path, seats=seats) as rig:
        priya = await rig.player("dpo", "Priya")
        await priya.decide("assess_personal_data", fields={"records": 3})
    secret = priya.seat
    assert secret and len(secret) >= 24
    kept = tmp_path / "t.seats.json"
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    data = json.loads(kept.read_text())
    assert [(s["name"], s["role"]) for s in data["seats"]] == [("Priya", "dpo")]
    assert secret not in kept.read_text(), "only a hash of the secret is kept"
    assert secret not in (tmp_path / "t.jsonl").read_text(), "the transcript never holds a seat"
    assert data["token"] == TOKEN


async def test_only_the_secret_opens_a_seat_again_even_after_the_host_is_resumed(tmp_path):
    path = tmp_path / "t.jsonl"
    async with hosted(tmp_path, seats=Seats(seats_path(path))) as rig:
        priya = await rig.player("dpo", "Priya", reconnect=False)
        await priya.decide("assess_personal_data", fields={"records": 3})
    rig.session.writer.close()

    # the host comes back from its transcript and the seats kept beside it
    session = Session.continue_transcript(path, clock=VirtualClock())
    seats = Seats.load(seats_path(path))
    host = TeamHost(
        session,
        HostSettings(token=seats.token, tick_interval=0, live_clock=False),
        history=session.events,
        seats=seats,
    )
    await host.start("127.0.0.1", 0)
    mallory = PlayerClient(host.url, TOKEN, "dpo", "Priya", reconnect=False)
    back = PlayerClient(host.url, TOKEN, "dpo", "Priya", seat=priya.seat, reconnect=False)
    try:
        with pytest.raises(JoinRefused) as refused:
            await mallory.connect()  # the token and the name are not enough
        assert refused.value.code == p.NAME_TAKEN
        welcome = await back.connect()
        assert welcome.seat is None, "a seat's secret is given once"
        await back.decide("record_breach")
    finally:
        await mallory.close()
        await back.close()
        await host.stop()
        session.writer.close()
    decisions = [e for e in session.events if e["type"] == "decision"]
    assert [(e["by"], e["action"]) for e in decisions] == [
        ("Priya", "assess_personal_data"),
        ("Priya", "record_breach"),
    ]


@pytest.mark.parametrize("name", ["Fran", "facilitator", "ROOM", " Facilitator "])
async def test_the_facilitators_names_are_reserved(tmp_path, name):
    async with hosted(tmp_path, facilitator="Fran") as rig:
        raw = await RawPlayer.open(rig.host.url, hello("dpo", name))
        frame = await raw.next_frame()
        await raw.close()
    assert frame["code"] == p.NAME_RESERVED and "reserved for the facilitator" in frame["message"]


async def test_a_seat_from_another_rehearsal_at_the_same_address_is_simply_a_new_join(tmp_path):
    async with hosted(tmp_path) as rig:
        priya = await rig.player("dpo", "Priya", seat="a-secret-from-last-week")
        assert priya.seat != "a-secret-from-last-week" and priya.connections == 1


# --- a clock that waits for the players ----------------------------------------------------


async def test_a_headless_host_holds_its_clock_until_the_roles_it_waits_for_have_joined(tmp_path):
    wall = [1000.0]
    clock = ScaledClock(speed=60, get_time=lambda: wall[0])
    session = make_session(tmp_path, make_scenario(), clock=clock, participants=[], start=False)
    host = TeamHost(
        session,
        HostSettings(token=TOKEN, tick_interval=0, wait_for=("coordinator", "dpo")),
    )
    await host.start("127.0.0.1", 0)
    begun = asyncio.create_task(host.begin())
    sam = PlayerClient(host.url, TOKEN, "coordinator", "Sam")
    priya = PlayerClient(host.url, TOKEN, "dpo", "Priya")
    try:
        welcome = await sam.connect()
        assert welcome.state.waiting == ["dpo"] and welcome.state.rate == 0
        assert sam.waiting == ["dpo"]
        wall[0] += 600  # ten wall minutes pass before the DPO joins
        assert not session.started and clock.now() == 0
        await priya.connect()
        await asyncio.wait_for(begun, 5)
        await sam.wait_for(lambda: sam.waiting == [] and sam.session_id is not None)
        assert session.events[0]["type"] == "session_started" and session.events[0]["t"] == 0
        wall[0] += 5  # five wall seconds after the start
        seq = await sam.decide("appoint_coordinator")
        speed = session.speed
    finally:
        await sam.close()
        await priya.close()
        await host.stop()
        session.writer.close()
    decision = next(e for e in session.events if e["seq"] == seq)
    assert decision["t"] == 5 * speed, "the clock ran from the moment both had joined"
    joins = [
        (e["op"], e["detail"]["name"], e["t"])
        for e in session.events
        if e["type"] == "facilitator" and e["op"] == "join"
    ]
    assert joins == [("join", "Sam", 0), ("join", "Priya", 0)]


# --- TLS -----------------------------------------------------------------------------------


async def test_a_host_with_tls_is_joined_over_wss_and_says_the_link_is_encrypted(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    async with hosted(tmp_path, ssl=tls_context(cert, key)) as rig:
        assert rig.host.url.startswith("wss://") and rig.host.join_link.startswith("https://")
        trusting = ssl.create_default_context(cafile=str(cert))
        priya = await rig.player("dpo", "Priya", ssl_context=trusting)
        assert priya.encrypted and RemoteSession(priya).encrypted
        assert await priya.note("over TLS") is not None
        with pytest.raises(JoinRefused) as untrusted:
            await rig.player("coordinator", "Sam")  # does not trust the self-signed certificate
        assert untrusted.value.code == "bad_certificate" and "--tls-ca" in str(untrusted.value)
        plain = PlayerClient(
            rig.host.url.replace("wss://", "ws://"), TOKEN, "coordinator", "Sam", retry_delays=(0.01,)
        )
        with pytest.raises((JoinRefused, ConnectionLost)):  # a TLS port does not speak plain WebSocket
            await plain.connect()


async def test_a_plain_connection_is_said_to_be_unencrypted(tmp_path):
    async with hosted(tmp_path) as rig:
        priya = await rig.player("dpo", "Priya")
        assert not priya.encrypted and not RemoteSession(priya).encrypted
        assert not rig.host.encrypted


def test_a_certificate_that_does_not_load_is_named(tmp_path):
    _, key = self_signed_certificate(tmp_path)
    with pytest.raises(ValueError, match="no such file"):
        tls_context(tmp_path / "missing.crt", key)
    with pytest.raises(ValueError, match="not a certificate and its private key"):
        tls_context(key, key)


# --- a host that is full or gone for a while -----------------------------------------------


async def test_a_full_host_is_waited_out_not_given_up_on(tmp_path):
    async with hosted(tmp_path, max_connections=1) as rig:
        sam = await rig.player("coordinator", "Sam")
        priya = PlayerClient(
            rig.host.url, TOKEN, "dpo", "Priya", retry_delays=(0.05,) * 100, longest_wait=0.05
        )
        rig.clients.append(priya)
        joining = asyncio.create_task(priya.connect())
        await asyncio.sleep(0.2)
        assert not joining.done(), "host_full says try again later: the player does"
        await sam.close()
        await asyncio.wait_for(joining, 5)
        assert await priya.note("in at last") is not None


class Screen:
    """Stands in for a console: a SessionListener that keeps what it is told."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.events: list[dict] = []

    def session_event(self, event: dict) -> None:
        self.events.append(event)

    def session_lost(self, reason: str) -> None:
        self.notes.append(f"lost: {reason}")

    def session_notice(self, title: str, message: str, severity: str) -> None:
        self.notes.append(message)


async def test_a_player_is_told_when_the_host_is_gone_and_what_they_record_meanwhile_is_kept(tmp_path):
    session = make_session(tmp_path, breach_scenario(), clock=VirtualClock(), participants=[], start=False)
    settings = HostSettings(token=TOKEN, tick_interval=0, live_clock=True)
    host = TeamHost(session, settings)
    await host.start("127.0.0.1", 0)
    port = host.port
    await host.call(session.start)
    priya = PlayerClient(host.url, TOKEN, "dpo", "Priya", retry_delays=(0.05,) * 200)
    second = None
    try:
        await priya.connect()
        screen = Screen()
        remote = RemoteSession(priya)
        remote.attach(screen)
        await host.stop()
        await priya.wait_for(lambda: not priya.online)
        assert remote.offline and any("Lost the connection to the host" in n for n in screen.notes)
        frozen = priya.now()
        await asyncio.sleep(0.05)
        assert priya.now() == frozen, "the clock stands still while the host is away"
        held = asyncio.create_task(priya.note("typed while the host was away"))
        await asyncio.sleep(0.1)
        assert not held.done()
        second = TeamHost(session, settings, history=session.events, seats=host.seats)
        await second.start("127.0.0.1", port)
        seq = await asyncio.wait_for(held, 10)
        assert any("Connected to the host again" in n for n in screen.notes) and not remote.offline
        assert [e["seq"] for e in session.events if e["type"] == "note"] == [seq]
    finally:
        await priya.close()
        if second is not None:
            await second.stop()
        session.writer.close()


# --- scripted players that restart ---------------------------------------------------------

LINES = [
    ScriptLine(at=0, action="appoint_coordinator", entry=0),
    ScriptLine(at=60, note="channel open", entry=2),
    ScriptLine(at=120, action="declare_incident", entry=3),
    ScriptLine(at=180, action="involve_dpo", rationale="processor data", entry=5),
]


async def test_a_scripted_player_restarted_records_nothing_twice_even_across_a_host_restart(tmp_path):
    store = SeatStore(tmp_path / "state" / "seats.json")
    async with hosted(tmp_path) as rig:
        await rig.host.run_until(600)
        first = await rig.player("coordinator", "Sam", seats=store)
        results = await play_script(first, LINES)
        await first.close()
        again = await rig.player("coordinator", "Sam", seats=store)  # a restarted `tabletop join`
        replayed = await play_script(again, LINES)
        await again.close()
        await rig.host.wait_for(lambda: not rig.joined("Sam"))
        history = list(rig.session.events)
    assert [r.seq for r in replayed] == [r.seq for r in results]
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"

    # the host restarts from its transcript: the requests it recorded are still recognised
    session = rig.session
    host = TeamHost(
        session,
        HostSettings(token=TOKEN, tick_interval=0, live_clock=False),
        history=history,
        seats=rig.host.seats,
    )
    await host.start("127.0.0.1", 0)
    kept = SeatStore(store.path).get(rig.host.url, "coordinator", "Sam")  # what a restart reads back
    third = PlayerClient(host.url, TOKEN, "coordinator", "Sam", seat=kept)
    try:
        await third.connect()
        final = await play_script(third, LINES)
    finally:
        await third.close()
        await host.stop()
    assert [r.seq for r in final] == [r.seq for r in results]
    recorded = [e for e in session.events if e["type"] in ("decision", "note")]
    assert len(recorded) == 4 and all(e["request"].startswith("script-") for e in recorded)
