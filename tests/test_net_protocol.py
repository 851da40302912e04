"""The team protocol's messages: what a player may send, what is refused and why, what a player sees."""

import json

import pytest

from tabletop.net import protocol
from tabletop.net.protocol import (
    Ack,
    Decide,
    Error,
    Hello,
    ProtocolError,
    State,
    Welcome,
    parse_host_message,
    parse_player_message,
)
from tabletop.net.views import player_event, player_scenario


def frame(**data):
    return json.dumps({"v": 1, **data})


def test_hello_is_read_with_its_last_seq():
    message = parse_player_message(frame(type="hello", token="t0k", role="dpo", name="Priya", last_seq=12))
    assert message == Hello(token="t0k", role="dpo", name="Priya", last_seq=12)


def test_a_first_hello_has_seen_nothing():
    message = parse_player_message(frame(type="hello", token="t", role="dpo", name="Priya"))
    assert message.last_seq == -1


def test_decide_round_trips_through_a_frame():
    sent = Decide(id="r1", action="ico_decision", fields={"outcome": "notify"}, rationale="risk", timebox=600)
    assert parse_player_message(sent.to_frame()) == sent


def test_decide_timebox_takes_a_duration():
    message = parse_player_message(
        frame(type="decide", id="r1", action="contain", delegate_to="technical_lead", timebox="20m")
    )
    assert message.timebox == 1200


def test_a_bad_timebox_says_what_was_expected():
    with pytest.raises(ProtocolError) as caught:
        parse_player_message(frame(type="decide", id="r1", action="contain", timebox="soon"))
    assert "decide.timebox" in str(caught.value)
    assert "30m" in str(caught.value)
    assert caught.value.request_id == "r1"


@pytest.mark.parametrize(
    "raw, words",
    [
        ("not json at all", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, received list"),
        (json.dumps({"type": "hello"}), "unsupported protocol version None"),
        (json.dumps({"v": 2, "type": "hello"}), "unsupported protocol version 2"),
        (frame(type="launch_missiles"), "unknown message type 'launch_missiles'"),
        (frame(type="decide", id="r1"), "decide.action: missing"),
        (frame(type="decide", id="r1", action="contain", fields=[1]), "decide.fields"),
        (frame(type="decide", id="r1", action="contain", colour="red"), "decide.colour: unknown key"),
        (frame(type="note", id="n1", text=""), "note.text"),
        (frame(type="hello", token="t", role="dpo", name="P", last_seq=-5), "hello.last_seq"),
    ],
)
def test_malformed_frames_are_refused_with_a_clear_message(raw, words):
    with pytest.raises(ProtocolError) as caught:
        parse_player_message(raw)
    assert words in str(caught.value)


def test_a_binary_frame_is_refused():
    with pytest.raises(ProtocolError, match="binary"):
        parse_player_message(b"\x00\x01")


def test_an_oversized_frame_is_refused_before_parsing():
    raw = frame(type="note", id="n1", text="x" * (protocol.MAX_MESSAGE_BYTES + 10))
    with pytest.raises(ProtocolError) as caught:
        parse_player_message(raw)
    assert caught.value.code == protocol.TOO_BIG


def test_too_many_fields_are_refused():
    fields = {f"f{i}": i for i in range(protocol.MAX_FIELDS + 1)}
    with pytest.raises(ProtocolError, match=r"decide\.fields"):
        parse_player_message(frame(type="decide", id="r1", action="contain", fields=fields))


def test_deeply_nested_json_is_refused_not_crashing():
    raw = '{"v": 1, "type": "note", "id": "n", "text": ' + "[" * 20_000 + "]" * 20_000 + "}"
    assert len(raw) < protocol.MAX_MESSAGE_BYTES
    with pytest.raises(ProtocolError):
        parse_player_message(raw)


def test_a_player_cannot_send_host_messages():
    with pytest.raises(ProtocolError, match="unknown message type 'ack'"):
        parse_player_message(Ack(id="r1", seq=3).to_frame())


def test_host_messages_round_trip():
    state = State(t=60.0, speed=60, paused=False, rate=60)
    welcome = Welcome(role="dpo", name="Priya", scenario={"id": "x"}, seq=4, state=state)
    for message in (
        welcome,
        state,
        Ack(id="r1", seq=9),
        Error(id=None, code="bad_token", message="m", fatal=True),
    ):
        assert parse_host_message(message.to_frame()) == message


# --- what a player sees ---------------------------------------------------------------------

SCENARIO = {
    "id": "suspected-breach",
    "title": "Suspected breach",
    "roles": ["coordinator", "dpo"],
    "actions": [{"id": "involve_dpo"}],
    "injects": [{"id": "alert", "notes": "facilitator: push them on the 72 hours"}],
    "expectations": [{"id": "dpo-in"}],
    "avoid": [{"id": "coord-hands-on"}],
    "responses": [],
    "values": {"customer": "Acme"},
    "hotwash": ["What went well?"],
}


def test_the_player_scenario_has_no_msel_notes_or_expectations():
    seen = player_scenario(SCENARIO)
    assert seen["id"] == "suspected-breach" and seen["actions"] == [{"id": "involve_dpo"}]
    for secret in ("injects", "expectations", "avoid", "responses", "values", "hotwash"):
        assert secret not in seen
    assert "push them" not in json.dumps(seen)


def released(to, **extra):
    return {
        "seq": 3,
        "type": "inject_released",
        "t": 60.0,
        "wall": "w",
        "prev": "a",
        "hash": "b",
        "inject": "alert",
        "title": "Alert",
        "channel": "alert",
        "from": "SOC",
        "to": to,
        "phase": None,
        "body": "...",
        "trigger": "branch",
        "condition": {"missed": "dpo-in"},
        **extra,
    }


def test_a_player_sees_injects_for_their_role_or_all():
    assert player_event(released(["dpo"]), "dpo")["inject"] == "alert"
    assert player_event(released(["all"]), "dpo")["inject"] == "alert"
    assert player_event(released("all"), "dpo")["inject"] == "alert"
    assert player_event(released(["coordinator"]), "dpo") is None


def test_an_inject_reaches_a_player_without_notes_or_conditions():
    seen = player_event(released(["all"], notes="secret facilitator note"), "dpo")
    assert "notes" not in seen and "condition" not in seen and "trigger" not in seen
    assert seen["seq"] == 3 and seen["t"] == 60.0


@pytest.mark.parametrize("kind", ["session_started", "marker_set", "facilitator", "score", "something_new"])
def test_facilitator_only_lines_never_reach_players(kind):
    assert player_event({"seq": 1, "type": kind, "t": 0.0, "scenario": SCENARIO}, "dpo") is None


def test_players_see_the_team_decisions_and_the_clock():
    decision = {
        "seq": 5,
        "type": "decision",
        "t": 9.0,
        "wall": "w",
        "id": "d5",
        "role": "coordinator",
        "by": "Sam",
        "action": "appoint_coordinator",
        "fields": {},
        "rationale": "",
    }
    assert player_event(decision, "dpo")["action"] == "appoint_coordinator"
    clock = {"seq": 6, "type": "clock", "t": 9.0, "wall": "w", "op": "pause", "speed": 60}
    assert player_event(clock, "dpo")["op"] == "pause"


def test_a_batch_holds_host_messages_in_order():
    from tabletop.net.protocol import EventMessage, batch_frame, event_frame, parse_host_messages

    frames = [
        event_frame({"seq": 4, "type": "note"}),
        Ack(id="r1", seq=4).to_frame(),
        State(t=1, speed=1, paused=False, rate=1).to_frame(),
    ]
    messages = parse_host_messages(batch_frame(frames))
    assert [m.type for m in messages] == ["event", "ack", "state"]
    assert isinstance(messages[0], EventMessage) and messages[0].event["seq"] == 4
    assert parse_host_messages(frames[1]) == [Ack(id="r1", seq=4)]


def test_a_batch_with_a_bad_item_is_refused():
    from tabletop.net.protocol import batch_frame, parse_host_messages

    with pytest.raises(ProtocolError, match="unknown message type 'hello'"):
        parse_host_messages(batch_frame([Hello(token="t", role="r", name="n").to_frame()]))
