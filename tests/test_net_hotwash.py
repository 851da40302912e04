"""The hot wash over loopback sockets: players answer after the end, the host signs each answer
before the ack, nobody sees another's answer, and an answer after the close is refused."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from factories import breach_scenario
from net_support import TOKEN, RawPlayer, hosted

from tabletop.net import protocol as p
from tabletop.net.client import JoinRefused, RemoteSession, RequestRefused
from tabletop.transcript import verify_evidence

WORKED = "What went well?"
CHANGE = "What would we change?"


def scenario_with_questions():
    from tabletop.model import HotwashQuestion

    return breach_scenario().model_copy(
        update={
            "hotwash": [
                HotwashQuestion(question=WORKED, kind="worked"),
                HotwashQuestion(question=CHANGE, kind="change"),
            ]
        }
    )


def on_disk(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_a_remote_answer_is_acked_once_signed_on_the_hosts_disk_and_seen_by_its_author_only(tmp_path):
    async with hosted(tmp_path, scenario_with_questions()) as rig:
        priya = await rig.player("dpo", "Priya")
        sam = await rig.player("coordinator", "Sam")
        assert priya.hotwash is None  # nothing before the end
        await rig.host.call(rig.session.end)
        await priya.wait_for(lambda: priya.hotwash_open)
        await sam.wait_for(lambda: sam.hotwash_open)
        assert priya.hotwash.questions == [WORKED, CHANGE]
        assert not priya.done and rig.joined("Priya") and rig.joined("Sam")  # the host keeps them

        seq = await priya.hotwash_answer(WORKED, "The alert named the table.")
        lines = on_disk(rig.path)
        answer = next(line for line in lines if line["seq"] == seq)
        assert (answer["type"], answer["role"], answer["by"], answer["question"], answer["text"]) == (
            "hotwash_answer",
            "dpo",
            "Priya",
            WORKED,
            "The alert named the table.",
        )
        signature = next(line for line in lines if line["seq"] == seq + 1)
        assert signature["type"] == "signature" and signature["signs"] == seq
        await priya.wait_for(lambda: any(e.get("seq") == seq for e in priya.events))
        await sam.hotwash_answer(CHANGE, "Page the DPO with the alert.")
        await sam.wait_for(lambda: any(e["type"] == "hotwash_answer" for e in sam.events))
        assert [e["by"] for e in priya.events if e["type"] == "hotwash_answer"] == ["Priya"]
        assert [e["by"] for e in sam.events if e["type"] == "hotwash_answer"] == ["Sam"]

        # the console's port: the same answer, the same refusals
        remote = RemoteSession(priya)
        assert remote.hotwash_open and remote.hotwash_questions == [WORKED, CHANGE]
        with pytest.raises(RequestRefused, match="you play dpo"):
            await remote.answer_hotwash("coordinator", WORKED, "Not mine.")
        with pytest.raises(RequestRefused, match="unknown hot-wash question"):
            await remote.answer_hotwash("dpo", "What went badly?", "Nothing.")
        with pytest.raises(RequestRefused, match="only the facilitator"):
            await remote.close_hotwash(by="Priya")


async def test_a_player_comes_back_to_their_seat_during_the_hot_wash_and_nobody_new_joins(tmp_path):
    async with hosted(tmp_path, scenario_with_questions()) as rig:
        priya = await rig.player("dpo", "Priya")
        await rig.host.call(rig.session.end)
        await priya.wait_for(lambda: priya.hotwash_open)
        await priya.drop()  # a dropped line: the client reconnects by itself
        await priya.wait_for(lambda: priya.connections == 2 and priya.online)
        assert priya.hotwash_open
        seq = await priya.hotwash_answer(CHANGE, "After the drop.")
        assert any(e["seq"] == seq and e["type"] == "hotwash_answer" for e in rig.lines())
        with pytest.raises(JoinRefused, match="only the people who played come back"):
            await rig.player("technical_lead", "Newcomer")


async def test_closing_tells_players_closes_their_connections_and_refuses_late_answers(tmp_path):
    async with hosted(tmp_path, scenario_with_questions()) as rig:
        priya = await rig.player("dpo", "Priya")
        await rig.host.call(rig.session.end)
        await priya.wait_for(lambda: priya.hotwash_open)
        await priya.hotwash_answer(WORKED, "On time.")

        # an answer still on its way when the hot wash closes: the session thread closes it first
        held = threading.Event()
        blocker = asyncio.ensure_future(rig.host.call(held.wait))
        closing = asyncio.ensure_future(
            rig.host.call(rig.session.close_hotwash, "facilitator", by="Facilitator")
        )
        await asyncio.sleep(0.05)
        late = asyncio.ensure_future(priya.hotwash_answer(CHANGE, "Too late."))
        async with asyncio.timeout(5):
            while not rig.host._in_flight:
                await asyncio.sleep(0.01)
        held.set()
        await blocker
        await closing
        with pytest.raises(
            RequestRefused, match="the hot wash is closed; your answer was not recorded"
        ) as refused:
            await late
        assert refused.value.code == p.HOTWASH_CLOSED

        await asyncio.wait_for(rig.host.finished.wait(), 5)
        await priya.wait_for(lambda: priya.done and not priya.online)
        assert any(e["type"] == "hotwash_closed" for e in priya.events)
        with pytest.raises(RequestRefused, match="the hot wash is closed"):
            await priya.hotwash_answer(CHANGE, "Even later.")
        with pytest.raises(JoinRefused, match="the session has ended"):
            await rig.player("dpo", "Priya")
        texts = [e["text"] for e in rig.lines("hotwash_answer")]
        assert texts == ["On time."]
    assert verify_evidence(rig.path).ok


async def test_an_answer_frame_is_validated_like_the_other_requests(tmp_path):
    async with hosted(tmp_path, scenario_with_questions()) as rig:
        raw = await RawPlayer.open(
            rig.host.url, {"v": 1, "type": "hello", "token": TOKEN, "role": "dpo", "name": "Raw"}
        )
        try:
            hello = json.loads((await raw.ws.receive()).data)
            assert hello["type"] in ("welcome", "batch")
            await rig.host.call(rig.session.end)
            too_long = "x" * 5000
            await raw.ws.send_str(
                json.dumps(
                    {"v": 1, "type": "hotwash_answer", "id": "a1", "question": WORKED, "text": too_long}
                )
            )
            frames = await raw.frames_until_closed()
        finally:
            await raw.ws.close()
            await raw.http.close()
        error = next(json.loads(f) for f in frames if json.loads(f).get("type") == "error")
        assert error["code"] == p.BAD_MESSAGE and "hotwash_answer.text" in error["message"]
        assert not rig.lines("hotwash_answer")


def p_rate(burst: int):
    from tabletop.net.host import RateLimit

    return RateLimit(per_second=0.001, burst=burst)


async def test_answers_are_rate_limited_per_seat(tmp_path):
    async with hosted(tmp_path, scenario_with_questions(), rate=p_rate(burst=3)) as rig:
        priya = await rig.player("dpo", "Priya", reconnect=False)
        await rig.host.call(rig.session.end)
        await priya.wait_for(lambda: priya.hotwash_open)
        results = await asyncio.gather(
            *(priya.hotwash_answer(WORKED, f"Answer {n}") for n in range(6)), return_exceptions=True
        )
        recorded = [r for r in results if isinstance(r, int)]
        assert len(recorded) == 3 and len(rig.lines("hotwash_answer")) == 3
        assert "too many messages" in str(priya.failure)


async def test_an_answer_sent_again_is_recorded_once_and_an_id_reused_for_another_is_refused(tmp_path):
    async with hosted(tmp_path, scenario_with_questions()) as rig:
        priya = await rig.player("dpo", "Priya")
        await rig.host.call(rig.session.end)
        await priya.wait_for(lambda: priya.hotwash_open)
        first = await priya.hotwash_answer(WORKED, "Once.", request_id="hw-1")
        again = await priya.hotwash_answer(WORKED, "Once.", request_id="hw-1")
        assert first == again and [e["text"] for e in rig.lines("hotwash_answer")] == ["Once."]
        with pytest.raises(RequestRefused, match="already used for another request") as refused:
            await priya.hotwash_answer(WORKED, "Something else.", request_id="hw-1")
        assert refused.value.code == p.CONFLICT


def test_the_hot_wash_messages_are_validated_like_the_others():
    answer = p.parse_player_message(
        json.dumps({"v": 1, "type": "hotwash_answer", "id": "a", "question": WORKED, "text": "Fine."})
    )
    assert isinstance(answer, p.HotwashAnswer) and answer.text == "Fine."
    for bad, words in (
        ({"id": "a", "question": WORKED}, "hotwash_answer.text: missing"),
        ({"id": "a", "question": "", "text": "x"}, "hotwash_answer.question"),
        ({"id": "a", "question": WORKED, "text": "x", "who": "Sam"}, "hotwash_answer.who: unknown key"),
        ({"question": WORKED, "text": "x"}, "hotwash_answer.id: missing"),
    ):
        with pytest.raises(p.ProtocolError, match=words):
            p.parse_player_message(json.dumps({"v": 1, "type": "hotwash_answer", **bad}))
    [opened] = p.parse_host_messages(p.Hotwash(questions=[WORKED]).to_frame())
    assert isinstance(opened, p.Hotwash) and opened.questions == [WORKED] and not opened.closed
    event = {"type": "hotwash_answer", "question": WORKED, "text": "Fine."}
    assert p.digest_of(answer) == p.digest_of_event(event)


def test_a_player_sees_their_own_answers_only():
    from tabletop.net.views import player_event, visible

    answer = {
        "seq": 9,
        "type": "hotwash_answer",
        "t": 1.0,
        "wall": "w",
        "role": "dpo",
        "by": "Priya",
        "question": WORKED,
        "text": "Mine.",
        "hash": "h",
        "prev": "p",
    }
    assert player_event(answer, "dpo", name="Priya") == {
        "seq": 9,
        "type": "hotwash_answer",
        "t": 1.0,
        "wall": "w",
        "role": "dpo",
        "by": "Priya",
        "question": WORKED,
        "text": "Mine.",
    }
    for role, name in (("dpo", "Dana"), ("coordinator", "Priya"), ("dpo", None)):
        assert player_event(answer, role, name=name) is None and not visible(answer, role, name)
    closed = {
        "seq": 11,
        "type": "hotwash_closed",
        "t": 1.0,
        "wall": "w",
        "reason": "facilitator",
        "by": "Fran",
    }
    assert player_event(closed, "dpo") == {"seq": 11, "type": "hotwash_closed", "t": 1.0, "wall": "w"}


# --- a headless host: it stays up for the hot wash, closes it after --hotwash, resumes it ---


async def _headless(*args: str):
    from test_net_cli import start_headless

    return await start_headless(*args)


async def _finish(process, *, signal_to_send=None) -> str:
    if signal_to_send is not None:
        process.send_signal(signal_to_send)
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()


async def test_a_headless_host_keeps_the_hot_wash_open_then_resumes_and_closes_it_after_its_time(tmp_path):
    import signal

    from tabletop.net.client import PlayerClient

    transcript = tmp_path / "headless.jsonl"
    host, printed = await _headless(
        "suspected-breach",
        "--speed",
        "200000",
        "--wait-for",
        "dpo",
        "--hotwash",
        "1h",
        "--out",
        str(transcript),
    )
    url = next(line for line in printed if line.startswith("Join URL: ")).removeprefix("Join URL: ")
    token = next(line for line in printed if line.startswith("Token: ")).removeprefix("Token: ")
    priya = PlayerClient(url, token, "dpo", "Priya", retry_delays=(0.05, 0.1, 0.2, 0.5, 1, 2, 3))
    try:
        await priya.connect()  # the clock starts: the rehearsal runs to its end in about a second
        await priya.wait_for(lambda: priya.hotwash_open, timeout=30)
        question = priya.hotwash.questions[0]
        seq = await priya.hotwash_answer(question, "The export alert reached the DPO late.")
        assert isinstance(seq, int)
    finally:
        await priya.close()
    out = await _finish(host, signal_to_send=signal.SIGINT)  # stopped while the hot wash is open
    assert "Hot wash open: players answer its 5 questions" in out
    assert f"continue it with:\n  tabletop host --resume {transcript} --headless" in out
    stopped = verify_evidence(transcript)
    assert stopped.ok and not stopped.unsigned, stopped.problems
    assert [e["type"] for e in stopped.events][-2:] == ["hotwash_answer", "signature"]

    again, printed = await _headless("--resume", str(transcript), "--hotwash", "1s")
    out = await _finish(again)  # it closes the hot wash after one second and stops by itself
    assert "Hot wash closed after 1s with 1 answer." in out
    result = verify_evidence(transcript)
    assert result.ok, result.problems
    events = [e for e in result.events if e["type"] != "signature"]
    assert not any(e["type"] == "session_resumed" for e in events)
    assert (events[-1]["type"], events[-1]["reason"], events[-1]["answers"]) == ("hotwash_closed", "time", 1)


async def test_a_headless_host_skips_the_hot_wash_with_zero(tmp_path):
    transcript = tmp_path / "skipped.jsonl"
    host, _ = await _headless(
        "suspected-breach", "--speed", "200000", "--hotwash", "0", "--out", str(transcript)
    )
    out = await _finish(host)
    assert "Hot wash skipped (--hotwash 0)." in out
    events = [e for e in verify_evidence(transcript).events if e["type"] != "signature"]
    assert [e["type"] for e in events][-2:] == ["session_ended", "hotwash_closed"]
    assert events[-1]["reason"] == "skipped"


def test_hotwash_needs_headless_and_a_duration():
    from click.testing import CliRunner

    from tabletop.cli import main

    console = CliRunner().invoke(main, ["host", "suspected-breach", "--hotwash", "5m"])
    assert console.exit_code == 2 and "--hotwash needs --headless" in console.output
    bad = CliRunner().invoke(main, ["host", "suspected-breach", "--headless", "--hotwash", "soon"])
    assert (
        bad.exit_code == 2 and "expected a duration like 30s" in bad.output and "Traceback" not in bad.output
    )


async def test_a_remote_players_console_answers_the_hot_wash_and_is_told_when_it_closes(tmp_path):
    from net_support import hosted as _hosted
    from test_net_console import wait_until
    from textual.widgets import TextArea

    from tabletop.cli.team import _remote_console_class
    from tabletop.ui.app import ConsoleSettings
    from tabletop.ui.screens.hotwash import HotwashScreen
    from tabletop.ui.screens.player import PlayerScreen

    async with _hosted(tmp_path, scenario_with_questions()) as rig:
        client = await rig.player("dpo", "Priya")
        app = _remote_console_class()(
            RemoteSession(client),
            ConsoleSettings(role="dpo", name="Priya", mode="team", tick_interval=None, resumed=True),
            participants=list(client.presence),
        )
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("enter")
            await wait_until(pilot, client, lambda: isinstance(app.screen, PlayerScreen))
            await rig.host.call(rig.session.end)
            await wait_until(pilot, client, lambda: isinstance(app.screen, HotwashScreen))
            screen = app.screen
            assert not screen.closes and "the facilitator closes the hot wash" in str(
                screen.query_one("#hotwash-intro").content
            )
            area = screen.query_one("#hotwash-text", TextArea)
            area.focus()
            area.load_text("The DPO heard first from the corridor.")
            await pilot.press("ctrl+s")
            await wait_until(pilot, client, lambda: 0 in screen.recorded)
            answer = rig.lines("hotwash_answer")[0]
            assert (answer["role"], answer["by"], answer["text"]) == (
                "dpo",
                "Priya",
                "The DPO heard first from the corridor.",
            )
            await pilot.press("ctrl+f")  # only a solo player closes the hot wash
            await pilot.pause()
            assert app.screen is screen and not rig.lines("hotwash_closed")

            await rig.host.call(rig.session.close_hotwash, "facilitator", by="Facilitator")
            await wait_until(pilot, client, lambda: screen.closed)
            await wait_until(
                pilot,
                client,
                lambda: any("closed the hot wash" in str(n.message) for n in app.notices),
            )
            assert screen.query_one("#hotwash-text", TextArea).read_only
