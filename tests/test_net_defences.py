"""The host under attack, over loopback sockets: floods before the hello, players reaching for the future,
one token holder trying to exhaust the host, and malformed numbers, versions and request ids."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest
from factories import make_inject, make_scenario
from net_support import TOKEN, RawPlayer, hello, hosted

from tabletop.model import Phase
from tabletop.net import protocol as p
from tabletop.net.client import ConnectionLost, PlayerClient, RequestRefused
from tabletop.net.guard import GuardSettings
from tabletop.net.host import RateLimit


def other_loopback_works() -> bool:
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return True
    except OSError:
        return False


needs_second_loopback = pytest.mark.skipif(
    not other_loopback_works(), reason="this machine cannot bind 127.0.0.2 (the attacker's address)"
)


# --- floods before the hello ---------------------------------------------------------------


@needs_second_loopback
async def test_sockets_that_never_say_hello_cannot_lock_players_out(tmp_path):
    async with hosted(tmp_path, max_connections=3, pending_per_address=8, hello_timeout=30) as rig:
        flood = []
        for _ in range(30):  # nearly four times what one address may hold waiting; max_connections is 3
            flood.append(await RawPlayer.open(rig.host.url, source="127.0.0.2"))
        refused = 0
        for raw in flood[8:]:
            frame = await raw.next_frame()
            assert frame["code"] == p.HOST_FULL and frame["retry_after"] > 0
            refused += 1
        assert refused == 22
        # the token holders, from their own address, still get in: a slot counts after a valid hello
        sam = await rig.player("coordinator", "Sam")
        priya = await rig.player("dpo", "Priya")
        alex = await rig.player("comms_owner", "Alex")
        assert {c["name"] for c in rig.host.connected()} == {"Sam", "Priya", "Alex"}
        assert await priya.note("we are in") is not None
        for raw in flood:
            await raw.close()
        await rig.host.wait_for(lambda: rig.host._pending_total == 0)
        assert sam.failure is None and alex.failure is None


async def test_a_refused_or_silent_socket_gives_its_place_back_at_once(tmp_path):
    async with hosted(tmp_path, hello_timeout=0.2, pending_per_address=2) as rig:
        silent = [await RawPlayer.open(rig.host.url) for _ in range(2)]
        for raw in silent:  # the deadline passes: each is told why and closed
            frames = [json.loads(f) for f in await raw.frames_until_closed()]
            assert frames[-1]["code"] == p.NOT_WELCOME
            await raw.close()
        assert rig.host._pending_total == 0 and rig.host._pending == {}
        assert await (await rig.player("dpo", "Priya")).note("straight in") is not None


@needs_second_loopback
async def test_connections_that_never_finish_their_headers_are_capped_and_timed_out(tmp_path):
    guard = GuardSettings(untrusted_per_address=5, header_timeout=0.3)
    async with hosted(tmp_path, guard=guard) as rig:
        port = rig.host.port
        slow = []
        for _ in range(12):  # slowloris: a request line, then nothing
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            slow.append((reader, writer))
        closed_at_once = 0
        for reader, _ in slow[5:]:
            assert await asyncio.wait_for(reader.read(), 2) == b""  # closed without a word
            closed_at_once += 1
        assert closed_at_once == 7 and rig.host.guard.refused >= 7
        # a player from another address is not held up by them
        assert await (await rig.player("dpo", "Priya")).note("in") is not None
        for reader, _ in slow[:5]:  # and the five that got in are cut off at the header deadline
            assert await asyncio.wait_for(reader.read(), 3) == b""
        for _, writer in slow:
            writer.close()
        await asyncio.sleep(0)
        assert rig.host.guard.untrusted.get("127.0.0.2", 0) == 0


async def test_the_host_says_nothing_about_the_rehearsal_without_the_token(tmp_path):
    async with (
        hosted(tmp_path, make_scenario(title="Operation Nightingale")) as rig,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{rig.host.web_url}/") as response:
            index = await response.text()
        async with http.get(f"{rig.host.web_url}/join?token=guess") as response:
            wrong = (response.status, await response.text())
        async with http.get(f"{rig.host.web_url}/room/guess/state") as response:
            room = response.status
    assert "Nightingale" not in index and "tabletop join" in index
    assert wrong[0] == 403 and "Nightingale" not in wrong[1]
    assert room == 404


# --- players reaching for the future -------------------------------------------------------


def staged_scenario():
    return make_scenario(
        [
            make_inject("alert", 0, to=["all"], phase="detection"),
            make_inject("for-coordinator", "10m", to=["coordinator"], phase="detection"),
            make_inject("regulator-letter", "3h", to=["dpo"], phase="notification", title="SECRET LETTER"),
        ],
        phases=[
            Phase(id="detection", title="Detection", summary="SUMMARY-ONE", questions=["QUESTION-ONE?"]),
            Phase(
                id="notification", title="Notification", summary="SUMMARY-TWO", questions=["QUESTION-TWO?"]
            ),
        ],
    )


async def test_a_player_may_cite_only_injects_released_to_them_and_is_never_told_of_others(tmp_path):
    async with hosted(tmp_path, staged_scenario()) as rig:
        await rig.host.run_until(600)
        priya = await rig.player("dpo", "Priya")
        answers = {}
        for cited in ("regulator-letter", "regulatr-letter", "no-such-inject", "for-coordinator", "alret"):
            with pytest.raises(RequestRefused) as refused:
                await priya.decide("assess_personal_data", inject=cited)
            answers[cited] = str(refused.value)
        # an inject still to come, one for another role and one that does not exist read the same
        assert answers["regulator-letter"].replace("regulator-letter", "X") == answers[
            "no-such-inject"
        ].replace("no-such-inject", "X")
        assert answers["for-coordinator"].replace("for-coordinator", "X") == answers[
            "no-such-inject"
        ].replace("no-such-inject", "X")
        everything = " ".join(answers.values())
        assert "regulator-letter" not in answers[
            "regulatr-letter"
        ] and "for-coordinator" not in everything.replace("'for-coordinator'", "")
        assert "did you mean 'alert'" in answers["alret"], "a typo of an inject they have is still helped"
        # an invalid delegate_to with an unreleased inject is no oracle either: the inject is refused first
        for cited in ("regulator-letter", "no-such-inject"):
            with pytest.raises(RequestRefused, match="unknown inject"):
                await priya.decide("assess_personal_data", inject=cited, delegate_to="nobody")
        seq = await priya.decide("assess_personal_data", inject="alert")
        assert rig.lines("decision")[-1]["seq"] == seq and rig.lines("decision")[-1]["inject"] == "alert"
        assert len(rig.lines("decision")) == 1


async def test_a_player_learns_a_phase_only_when_an_inject_of_theirs_opens_it(tmp_path):
    async with hosted(tmp_path, staged_scenario()) as rig:
        raw = await RawPlayer.open(rig.host.url, hello("dpo", "Priya"))
        welcome = await raw.next_frame()
        await rig.host.run_until(3 * 3600)
        await rig.host.call(rig.session.end)
        frames = await raw.frames_until_closed()
        await raw.close()
    assert welcome["scenario"]["phases"] == [{"id": "detection", "title": "Detection"}]
    everything = json.dumps(welcome) + "".join(frames)
    for secret in ("SUMMARY-ONE", "QUESTION-ONE", "SUMMARY-TWO", "QUESTION-TWO"):
        assert secret not in everything
    letter = next(json.loads(f)["event"] for f in frames if "SECRET LETTER" in f)
    assert letter["phase"] == "notification" and letter["phase_title"] == "Notification"
    assert "Notification" not in json.dumps(welcome)


async def test_the_facilitators_notes_never_reach_a_player(tmp_path):
    async with hosted(tmp_path) as rig:
        raw = await RawPlayer.open(rig.host.url, hello("dpo", "Priya"))
        await raw.next_frame()
        record = await rig.host.call(rig.session.facilitator_note, "PRIVATE: Priya is struggling", by="Fran")
        await rig.host.call(rig.session.end)
        frames = await raw.frames_until_closed()
        await raw.close()
    assert (record["type"], record["op"], record["detail"]) == (
        "facilitator",
        "note",
        {"text": "PRIVATE: Priya is struggling", "by": "Fran"},
    )
    assert not any(e["type"] == "note" for e in rig.session.events), "not a player's note under some role"
    assert "PRIVATE" not in "".join(frames)


# --- one token holder against the host -----------------------------------------------------


def frozen() -> float:
    return 100.0  # the buckets never refill: only the burst gets through


async def test_reconnecting_after_too_fast_does_not_refill_the_seats_bucket(tmp_path):
    async with hosted(tmp_path, rate=RateLimit(per_second=1, burst=5), get_time=frozen) as rig:
        flood = await rig.player("dpo", "Priya", reconnect=False)
        sent = 0
        for n in range(3):  # three connections, each flooding at once
            if n:
                await flood.connect()
            raw = flood._ws
            for i in range(50):
                try:
                    await raw.send_str(p.Note(id=f"n{n}-{i}", text=f"spam {n}-{i}").to_frame())
                    sent += 1
                except ConnectionResetError:
                    break
            await flood.wait_for(lambda: flood.failure is not None or not flood.online, 5)
            await rig.host.wait_for(lambda: not rig.joined("Priya"))
            flood.failure = None
        notes = rig.lines("note")
        assert len(notes) == 5, f"{len(notes)} notes recorded from {sent} sent over three connections"


async def test_a_seat_that_reconnects_too_often_is_told_to_wait(tmp_path):
    async with hosted(tmp_path, hello_rate=RateLimit(per_second=0.01, burst=3), get_time=frozen) as rig:
        seat = None
        for _ in range(3):
            client = PlayerClient(rig.host.url, TOKEN, "dpo", "Priya", seat=seat, reconnect=False)
            await client.connect()
            seat = client.seat
            await client.close()
            await rig.host.wait_for(lambda: not rig.joined("Priya"))
        raw = await RawPlayer.open(rig.host.url, hello("dpo", "Priya", seat=seat))
        frame = await raw.next_frame()
        await raw.close()
    assert frame["code"] == p.TRY_LATER and "reconnecting too often" in frame["message"]
    assert frame["retry_after"] == 100.0


async def test_large_messages_are_metered_by_their_bytes_per_seat(tmp_path):
    big = "x" * 15_000
    async with hosted(tmp_path, byte_rate=RateLimit(per_second=1, burst=50_000), get_time=frozen) as rig:
        priya = await rig.player("dpo", "Priya", reconnect=False)
        for n in range(3):
            await priya.note(f"{n} {big}")
        with pytest.raises(ConnectionLost):  # cut off: too many bytes for the seat
            await priya.note(f"3 {big}")
        assert len(rig.lines("note")) == 3
        assert "too many messages" in str(priya.failure)


async def test_a_full_replay_is_sent_as_the_player_reads_and_a_socket_that_never_reads_is_dropped(tmp_path):
    scenario = make_scenario(
        [make_inject(f"i{n}", n * 60, body="y" * 2000) for n in range(200)], duration="5h"
    )
    async with hosted(tmp_path, scenario, queue_bytes=64 * 1024) as rig:
        await rig.host.run_until(200 * 60)  # 200 injects of 2 kB: 400 kB to replay to each
        stuck = asyncio.Event()
        real_prepare = rig.host._write

        async def never_drains(player):  # what a socket whose reader stopped reading looks like
            async def blocked(data, *args, **kwargs):
                await stuck.wait()

            player.ws.send_str = blocked
            await real_prepare(player)

        rig.host._write = never_drains
        idle = [await RawPlayer.open(rig.host.url, hello("dpo", f"Idle{n}", last_seq=-1)) for n in range(10)]
        await rig.host.wait_for(lambda: len(rig.host.players) == 10)
        rig.host._write = real_prepare
        # the replay (400 kB each) is produced page by page as the socket takes it: none of it is
        # queued, only the small presence messages of the later joins
        assert max(pl.queued for pl in rig.host.players) < 10_000
        for n in range(40):  # the room carries on: live events pile up for the stuck sockets...
            await rig.host.call(rig.session.add_inject, f"update {n}", "z" * 2000, "chat", ["all"])
        await rig.host.wait_for(lambda: not rig.host.players)  # ...until each is dropped
        for raw in idle:
            frames = await raw.frames_until_closed()
            assert len(frames) <= 1  # at most the welcome got out
            await raw.close()
        # a player who reads gets every missed event, in pages
        priya = await rig.player("dpo", "Priya")
        await priya.wait_for(lambda: len([e for e in priya.events if e["type"] == "inject_released"]) == 240)
        stuck.set()


# --- malformed numbers, versions and request ids ------------------------------------------


@pytest.mark.parametrize(
    "frame, words",
    [
        (
            '{"v": 1, "type": "hello", "token": "t", "role": "dpo", "name": "P", "last_seq": 1%s}'
            % ("0" * 5000),
            "not valid JSON",
        ),
        (
            '{"v": true, "type": "hello", "token": "t", "role": "dpo", "name": "P"}',
            "unsupported protocol version True",
        ),
        (
            '{"v": 1, "type": "hello", "token": "t", "role": "dpo", "name": "P", "last_seq": NaN}',
            "not valid JSON",
        ),
    ],
    ids=["5000-digits", "v-true", "nan"],
)
async def test_a_bad_hello_is_refused_with_a_message_not_a_silent_close(tmp_path, frame, words):
    async with hosted(tmp_path) as rig:
        raw = await RawPlayer.open(rig.host.url, frame)
        frames = [json.loads(f) for f in await raw.frames_until_closed()]
        await raw.close()
    assert frames[-1]["type"] == "error" and frames[-1]["fatal"] and words in frames[-1]["message"]


async def test_a_decision_with_a_huge_number_is_refused_and_the_player_told(tmp_path):
    async with hosted(tmp_path) as rig:
        raw = await RawPlayer.open(rig.host.url, hello("dpo", "Priya"))
        assert (await raw.next_frame())["type"] == "welcome"
        await raw.ws.send_str(
            '{"v": 1, "type": "decide", "id": "r1", "action": "assess_personal_data", "fields": {"records": %s}}'
            % ("9" * 5000)
        )
        frames = [json.loads(f) for f in await raw.frames_until_closed()]
        await raw.close()
        assert frames[-1]["code"] == p.BAD_MESSAGE and "digits" in frames[-1]["message"]
        assert rig.lines("decision") == []


async def test_the_same_request_id_is_recorded_once_and_another_request_under_it_is_refused(tmp_path):
    async with hosted(tmp_path) as rig:
        priya = await rig.player("dpo", "Priya")
        first = await priya.decide("assess_personal_data", fields={"records": 10}, request_id="r-1")
        again = await priya.decide("assess_personal_data", fields={"records": 10}, request_id="r-1")
        assert first == again
        with pytest.raises(RequestRefused) as conflict:
            await priya.decide("assess_personal_data", fields={"records": 99999}, request_id="r-1")
        assert conflict.value.code == p.CONFLICT and "already used for another request" in str(conflict.value)
        decisions = rig.lines("decision")
        assert [(e["request"], e["fields"]) for e in decisions] == [("r-1", {"records": 10})]


# --- out of file descriptors ---------------------------------------------------------------


def test_accept_errors_are_reported_once_a_minute_without_a_traceback_and_others_pass_through(caplog):
    from tabletop.net.guard import QuietAcceptErrors

    passed = []
    clock = [0.0]
    quiet = QuietAcceptErrors(lambda loop, context: passed.append(context), get_time=lambda: clock[0])
    flood = {
        "message": "socket.accept() out of system resource",
        "exception": OSError(24, "Too many open files"),
    }
    with caplog.at_level("WARNING", logger="tabletop.net.host"):
        for _ in range(1000):
            quiet(None, flood)
        clock[0] += 61
        quiet(None, flood)
        quiet(None, {"message": "something else"})
    warnings = [r for r in caplog.records if "cannot accept more connections" in r.getMessage()]
    assert len(warnings) == 2 and not any(r.exc_info for r in warnings)
    assert quiet.quieted == 1001 and passed == [{"message": "something else"}]


@needs_second_loopback
async def test_a_host_short_of_file_descriptors_stays_reachable_and_quiet_under_a_flood(tmp_path):
    """The host process may hold 256 files: a flood of 300 sockets is turned away at the door,
    a player still joins, and stderr does not fill with accept tracebacks."""
    import resource
    import sys

    from test_net_cli import ENV, ROOT

    def small_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tabletop",
        "host",
        "suspected-breach",
        "--headless",
        "--port",
        "0",
        "--token",
        TOKEN,
        "--out",
        str(tmp_path / "fd.jsonl"),
        cwd=ROOT,
        env=ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=small_limit,
    )
    flood = []
    try:
        async with asyncio.timeout(30):
            while True:
                line = (await process.stdout.readline()).decode()
                assert line, "the host exited"
                if line.startswith("Join URL: "):
                    url = line.split(": ", 1)[1].strip()
                    break
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        for _ in range(300):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
            except OSError:
                continue
            writer.write(b"GET / HTTP/1.1\r\n")
            flood.append(writer)
        client = PlayerClient(url, TOKEN, "dpo", "Priya", retry_delays=(0.1,) * 20)
        await client.connect()
        assert await client.note("in, despite the flood") is not None
        await client.close()
    finally:
        for writer in flood:
            writer.close()
        process.send_signal(2)
        async with asyncio.timeout(30):
            _, err = await process.communicate()
    assert len(err) < 10_000, err[-2000:].decode(errors="replace")
