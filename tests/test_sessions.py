"""Opening sessions: who plays each role, resuming, scripts, and one setup error for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import make_scenario

from tabletop.clock import VirtualClock
from tabletop.engine import Participant
from tabletop.sessions import (
    SessionSetupError,
    open_scripted,
    open_session,
    resume_session,
    run_script,
)
from tabletop.transcript import read_transcript, verify_transcript

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "tests" / "data" / "scripts" / "suspected-breach-good.yaml"


def started(path: Path) -> dict:
    return read_transcript(path).events[0]


def people(path: Path) -> list[tuple[str, str, bool]]:
    return [(p["name"], p["role"], p["simulated"]) for p in started(path)["participants"]]


def test_solo_plays_one_role_and_simulates_the_others(tmp_path):
    out = tmp_path / "solo.jsonl"
    opened = open_session(make_scenario(), players=[("Sam", "dpo")], clock=VirtualClock(), transcript=out)
    opened.session.start()
    assert people(out) == [
        ("Sam", "dpo", False),
        ("Incident Coordinator", "coordinator", True),
        ("Technical Lead", "technical_lead", True),
        ("Communications Owner", "comms_owner", True),
    ]
    assert started(out)["solo_role"] == "dpo" and not opened.resumed and opened.history == []


def test_each_role_has_its_seat_player_simulated_or_room(tmp_path):
    out = tmp_path / "mixed.jsonl"
    open_session(
        make_scenario(),
        mode="team",
        players=[Participant("Sam", "coordinator")],
        seats={"dpo": "simulated", "comms_owner": "room"},
        clock=VirtualClock(),
        transcript=out,
        start=True,
    )
    # technical_lead keeps its default seat (a player who has not joined yet): not recorded
    assert people(out) == [
        ("Sam", "coordinator", False),
        ("Room", "comms_owner", False),
        ("Data Protection Officer", "dpo", True),
    ]


def test_a_hosted_rehearsal_waits_for_people_and_a_room_rehearsal_seats_the_room(tmp_path):
    hosted = open_session(
        make_scenario(), mode="team", seats="player", clock=VirtualClock(), transcript=tmp_path / "h.jsonl"
    ).session
    hosted.start()
    assert people(tmp_path / "h.jsonl") == []
    assert all(hosted.is_simulated(role) for role in hosted.roles)
    room = open_session(
        make_scenario(), mode="team", seats="room", clock=VirtualClock(), transcript=tmp_path / "r.jsonl"
    ).session
    room.start()
    assert people(tmp_path / "r.jsonl") == [("Room", role, False) for role in room.roles]
    assert not any(room.is_simulated(role) for role in room.roles)


def test_the_console_host_seats_roles_as_the_headless_host_does(tmp_path):
    from tabletop.ui.app import make_console

    app = make_console(
        make_scenario(),
        solo=False,
        facilitate=True,
        out=tmp_path / "c.jsonl",
        clock=VirtualClock(),
        seats="player",
    )
    assert app.participants == []
    app.link.session.writer.close()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"scenario": "no-such-scenario"}, "no scenario with id 'no-such-scenario'"),
        ({"solo_role": "ciso"}, "role 'ciso' is not in scenario 'test-scenario'"),
        ({"players": [("Sam", "ciso")]}, "participant 'Sam' plays role 'ciso'"),
        ({"seats": {"dpo": "absent"}}, "expected a seat of player, simulated or room"),
        ({"speed": 0}, "--speed: expected a number greater than 0"),
    ],
)
def test_every_setup_mistake_is_one_error_and_writes_nothing(tmp_path, kwargs, words):
    out = tmp_path / "x.jsonl"
    arguments = {"scenario": make_scenario(), "clock": VirtualClock(), "transcript": out, **kwargs}
    with pytest.raises(SessionSetupError) as caught:
        open_session(arguments.pop("scenario"), **arguments)
    assert words in str(caught.value)
    assert not out.exists()


def test_a_transcript_is_never_overwritten(tmp_path):
    out = tmp_path / "x.jsonl"
    out.write_text("keep me\n")
    with pytest.raises(SessionSetupError, match=r"x\.jsonl: already exists"):
        open_session(make_scenario(), clock=VirtualClock(), transcript=out)
    assert out.read_text() == "keep me\n"


def test_resume_continues_the_transcript_and_names_what_is_wrong(tmp_path):
    out = tmp_path / "run.jsonl"
    first = open_session(make_scenario(), clock=VirtualClock(), transcript=out, start=True).session
    first.run_until(600)
    first.writer.close()
    with pytest.raises(SessionSetupError, match=r"gone\.jsonl: no such transcript to resume"):
        resume_session(tmp_path / "gone.jsonl")
    with pytest.raises(SessionSetupError, match="is a transcript of scenario 'test-scenario', not 'other'"):
        resume_session(out, clock=VirtualClock(), scenario="other")
    opened = resume_session(out, clock=VirtualClock(), scenario="test-scenario")
    assert opened.resumed and opened.history[-1]["type"] == "session_resumed"
    opened.session.end()
    opened.session.writer.close()
    with pytest.raises(SessionSetupError, match="already ended"):
        resume_session(out, clock=VirtualClock())
    assert verify_transcript(out).ok


def test_a_script_runs_to_the_end_and_a_bad_one_writes_nothing(tmp_path):
    opened, script = open_scripted("suspected-breach", GOOD, transcript=tmp_path / "run.jsonl", team="blue")
    run_script(opened.session, script)
    assert opened.session.ended and opened.session.writer.closed
    first = started(tmp_path / "run.jsonl")
    assert (first["mode"], first["team"], first["scenario_path"]) == (
        "simulate",
        "blue",
        "scenarios/suspected-breach.yaml",
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "participants: [{name: Sam, role: coordinator}]\ndecisions:\n  - {at: 5m, role: ciso, action: x}\n"
    )
    with pytest.raises(SessionSetupError) as caught:
        open_scripted("suspected-breach", bad, transcript=tmp_path / "never.jsonl")
    assert "bad.yaml:3" in str(caught.value) and not (tmp_path / "never.jsonl").exists()
