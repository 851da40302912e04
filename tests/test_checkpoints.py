"""Clock checkpoints and interruptions: a resumed session never goes back in time, and a stop is not an end."""

from __future__ import annotations

import pytest
from factories import make_scenario, make_session

from tabletop.clock import ScaledClock
from tabletop.engine import Rejected, Session
from tabletop.transcript import verify_evidence, verify_transcript


class Wall:
    """A hand-driven wall clock for a ScaledClock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def running(tmp_path, speed: float = 60.0) -> tuple[Session, Wall]:
    wall = Wall()
    clock = ScaledClock(speed=speed, get_time=wall)
    session = make_session(tmp_path, make_scenario(duration="8h", speed=speed), clock=clock)
    return session, wall


def checkpoints(session: Session) -> list[float]:
    return [e["t"] for e in session.events if e["type"] == "clock" and e["op"] == "checkpoint"]


def test_a_running_clock_is_checkpointed_once_a_sim_minute_passes_without_a_line(tmp_path):
    session, wall = running(tmp_path)
    wall.now = 0.5  # 30 sim seconds: nothing to record
    session.tick()
    assert checkpoints(session) == []
    wall.now = 1.0  # 60 sim seconds since the last line
    session.tick()
    assert checkpoints(session) == [60.0]
    wall.now = 1.5
    session.tick()
    assert checkpoints(session) == [60.0], "not again until another minute has passed"
    session.pause()
    wall.now = 100.0
    session.tick()
    assert checkpoints(session) == [60.0], "a paused clock does not move: nothing to checkpoint"
    assert verify_transcript(session.path).ok


def test_a_session_resumed_after_a_crash_goes_on_from_its_last_checkpoint_not_its_last_decision(tmp_path):
    session, wall = running(tmp_path)
    wall.now = 2.0
    session.decide("coordinator", "appoint_coordinator", by="Sam")  # at T+2m
    for second in range(3, 30):  # the clock runs on to T+29m with nobody deciding
        wall.now = float(second)
        session.tick()
    last = checkpoints(session)[-1]
    assert last >= 28 * 60
    session.writer.close()  # the host dies here (kill -9): no interruption, no end

    resumed = Session.continue_transcript(session.path, clock=ScaledClock(speed=60, get_time=Wall()))
    assert resumed.now >= last, "the clock never goes back to the last decision"
    line = resumed.events[-1] if resumed.events[-1]["type"] == "session_resumed" else None
    line = line or next(e for e in resumed.events if e["type"] == "session_resumed")
    assert line["from_t"] == last
    resumed.writer.close()


def test_an_interruption_is_recorded_and_the_session_continues_from_it(tmp_path):
    session, wall = running(tmp_path)
    wall.now = 10.0
    session.decide("coordinator", "appoint_coordinator", by="Sam")
    wall.now = 12.5
    record = session.interrupt("SIGTERM")
    assert (record["type"], record["reason"], record["t"]) == ("session_interrupted", "SIGTERM", 750.0)
    assert session.interrupted and not session.ended
    with pytest.raises(Rejected, match="interrupted; resume it"):
        session.decide("coordinator", "declare_incident", by="Sam")
    assert session.tick() == []
    session.writer.close()

    resumed = Session.continue_transcript(session.path, clock=ScaledClock(speed=60, get_time=Wall()))
    kinds = [e["type"] for e in resumed.events]
    assert kinds.count("session_interrupted") == 1 and kinds[-1] == "session_resumed"
    assert resumed.events[-1]["from_t"] == 750.0 and resumed.now == 750.0
    resumed.decide("coordinator", "declare_incident", by="Sam")
    resumed.writer.close()
    report = verify_transcript(session.path)
    assert report.ok and not any(e["type"] == "session_ended" for e in report.events)
    evidence = verify_evidence(session.path)
    assert evidence.status == "verified", evidence.problems
    interrupted = next(e for e in evidence.events if e["type"] == "session_interrupted")
    assert evidence.unsigned == [(interrupted["seq"], interrupted["seq"])], "all signed up to the stop"


def test_nothing_is_checkpointed_before_the_start_or_after_the_end(tmp_path):
    wall = Wall()
    session = make_session(
        tmp_path, make_scenario(duration="1h"), clock=ScaledClock(speed=60, get_time=wall), start=False
    )
    wall.now = 10
    assert session.tick() == [] and session.events == []
    session.start()
    wall.now = 100  # past the end: the session ends by itself, nothing after it
    session.tick()
    assert session.events[-1]["type"] == "session_ended" and checkpoints(session) == []
