"""Solo practice in the engine: simulated teammates do their own role's work once brought in, and the run records its conditions."""

from __future__ import annotations

from factories import make_expectation, make_inject, make_response, make_scenario, make_session

from tabletop.clock import VirtualClock
from tabletop.engine import Participant, Session
from tabletop.scoring import RULES_VERSION, score
from tabletop.transcript import TranscriptWriter


def teammate_decisions(session):
    return [(e["action"], e["role"], e["t"], e["teammate"]) for e in session.events if e.get("teammate")]


def drill(**kw):
    """A DPO who assesses the data within 1h of the alert and decides on the ICO after assessing risk."""
    return make_scenario(
        [make_inject("alert", 0), make_inject("confirmed", "2h", marks=["aware"])],
        duration="80h",
        expectations=[
            make_expectation("coord", "appoint_coordinator", "15m", owner="coordinator", weight=3),
            make_expectation("assess", "assess_personal_data", "1h", owner="dpo", weight=2),
            make_expectation(
                "ico",
                "ico_decision",
                "72h",
                after="marker:aware",
                owner="dpo",
                requires=["record_breach"],
                value={"outcome": "notify"},
            ),
        ],
        responses=[make_response("involve_dpo", "dpo", "5m", title="DPO joins")],
        **kw,
    )


def solo(tmp_path, scenario, **kw):
    return make_session(
        tmp_path, scenario, participants=[Participant("Sam", "coordinator")], mode="solo", **kw
    )


def test_session_started_records_the_conditions_and_the_rules_version(tmp_path):
    session = solo(tmp_path, drill(), hints=True, speed=30)
    first = session.events[0]
    assert first["conditions"] == {"mode": "solo", "hints": True, "auto_pause": False, "speed": 30.0}
    assert first["rules_version"] == RULES_VERSION
    (tmp_path / "team").mkdir()
    team = make_session(tmp_path / "team", drill())
    assert team.events[0]["conditions"] == {
        "mode": "team",
        "hints": False,
        "auto_pause": False,
        "speed": 60.0,
    }


def test_a_teammate_brought_in_does_its_own_work_after_its_delay_and_by_its_deadline(tmp_path):
    session = solo(tmp_path, drill())
    session.run_until(300)
    session.decide("coordinator", "appoint_coordinator", by="Sam")
    session.run_until(600)
    session.decide("coordinator", "involve_dpo", by="Sam")  # the DPO answers involve_dpo: brought in
    session.run_until(3 * 3600)
    # the scenario's delegate_delay (10m) after being brought in; within the 1h
    assert teammate_decisions(session) == [("assess_personal_data", "dpo", 1200.0, "assess")]
    done = next(e for e in session.events if e.get("teammate") == "assess")
    assert done["by"] == "Data Protection Officer" and done["role"] == "dpo"
    card = score(session.scenario, session.events, until=session.now)
    assert card.result("assess").scope == "teammates" and card.result("assess").status == "met"
    assert card.result("solo-involve-dpo").status == "met"


def test_a_teammate_nobody_brought_in_does_its_work_late(tmp_path):
    session = solo(tmp_path, drill())
    session.run_until(3 * 3600)
    assert teammate_decisions(session) == [("assess_personal_data", "dpo", 3600.0 + 600, "assess")]


def test_a_teammate_waits_for_the_step_its_work_requires_and_records_the_expected_value(tmp_path):
    session = solo(tmp_path, drill())
    session.run_until(600)
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_until(10 * 3600)
    assert [d[0] for d in teammate_decisions(session)] == ["assess_personal_data"]  # the ICO call waits
    session.decide("coordinator", "record_breach", by="Sam")
    session.run_until(11 * 3600)
    ico = [e for e in session.events if e.get("teammate") == "ico"]
    assert [(e["t"], e["fields"]["outcome"], e["role"]) for e in ico] == [(10 * 3600.0, "notify", "dpo")]
    assert ico[0]["rationale"].startswith("Done by the simulated data protection officer")


def test_work_handed_over_is_done_as_delegated_not_twice(tmp_path):
    session = solo(tmp_path, drill())
    session.run_until(60)
    session.decide("coordinator", "assess_personal_data", by="Sam", delegate_to="dpo", timebox="30m")
    session.run_until(3 * 3600)
    done = [
        (e["t"], e.get("delegated_by"), e.get("teammate")) for e in session.events if e["type"] == "decision"
    ]
    assert done == [(1860.0, "coordinator", None)]


def test_teammates_only_act_on_their_own_in_solo_practice(tmp_path):
    scripted = Session(
        drill(),
        TranscriptWriter.open(tmp_path / "sim.jsonl", fsync=False),
        clock=VirtualClock(),
        participants=[Participant("Sam", "coordinator")],
        mode="simulate",
    )
    scripted.start()
    scripted.decide("coordinator", "involve_dpo", by="Sam")
    scripted.run_to_end()
    assert teammate_decisions(scripted) == []


def test_a_resumed_solo_session_does_not_repeat_a_teammates_work(tmp_path):
    session = solo(tmp_path, drill())
    session.run_until(600)
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_until(1800)
    before = teammate_decisions(session)
    session.writer.close()
    resumed = Session.continue_transcript(session.path, clock=VirtualClock(), fsync=False)
    resumed.run_until(3 * 3600)
    assert teammate_decisions(resumed) == before == [("assess_personal_data", "dpo", 1200.0, "assess")]


def test_an_empty_solo_run_scores_zero_though_the_team_worked(tmp_path):
    session = solo(tmp_path, drill())
    session.run_to_end()
    card = score(session.scenario, session.events)
    assert teammate_decisions(session)  # the simulated DPO did its work, late
    assert (card.score, card.passed) == (0.0, 0)
    assert {r.id for r in card.yours()} == {"coord", "solo-involve-dpo"}
