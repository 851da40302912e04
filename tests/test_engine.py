"""The exercise engine, in virtual time: schedules, branches, markers, decisions, delegation, facilitator controls."""

from __future__ import annotations

import json
import math
import os

import pytest
from factories import (
    breach_scenario,
    make_expectation,
    make_inject,
    make_response,
    make_scenario,
    make_session,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabletop.clock import ScaledClock, VirtualClock
from tabletop.engine import Participant, Rejected, Session
from tabletop.model import Scenario, session_end
from tabletop.transcript import verify_transcript


class FakeWall:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def of_type(session, kind):
    return [e for e in session.events if e["type"] == kind]


def released(session):
    return [(e["inject"], e["t"]) for e in of_type(session, "inject_released")]


def without_volatile(events):
    return [{k: v for k, v in e.items() if k not in ("wall", "prev", "hash")} for e in events]


# --- starting and scheduling ---------------------------------------------------------------


def test_start_embeds_the_resolved_scenario_and_the_run_settings(tmp_path):
    scenario = breach_scenario()
    session = make_session(tmp_path, scenario, seed=11, speed=30)
    started = session.events[0]
    assert started["type"] == "session_started" and started["seq"] == 0
    assert Scenario.from_json(started["scenario"]) == scenario
    assert started["scenario_id"] == "breach-test"
    assert len(started["scenario_sha256"]) == 64
    assert (started["seed"], started["speed"], started["mode"]) == (11, 30.0, "team")
    assert {"name": "P-dpo", "role": "dpo", "simulated": False} in started["participants"]
    assert started["tool_version"]
    assert released(session) == [("alert", 0.0)]


def test_injects_are_released_at_their_times(tmp_path):
    scenario = make_scenario([make_inject("a", 0), make_inject("b", "20m"), make_inject("c", "1h")])
    session = make_session(tmp_path, scenario)
    session.run_until(1199)
    assert session.released == ["a"]
    session.run_until(1200)
    assert released(session) == [("a", 0.0), ("b", 1200.0)]
    session.run_until(3600)
    assert released(session)[-1] == ("c", 3600.0)
    assert session.events[-1]["due"] == 3600.0


def test_simultaneous_events_come_out_in_a_deterministic_order(tmp_path):
    scenario = make_scenario(
        [
            make_inject("z-first", "10m"),
            make_inject("a-second", "10m", marks=["m"]),
            make_inject("on-marker", 0, when={"marker": "m"}),
            make_inject("after-z", 0, when={"after": "z-first"}),
            make_inject("m-third", "10m"),
        ]
    )
    orders = []
    for n in range(3):
        session = make_session(tmp_path, scenario, name=f"{n}.jsonl")
        session.run_until(600)
        orders.append([(e["type"], e.get("inject") or e.get("marker")) for e in session.events[1:]])
    assert orders[0] == orders[1] == orders[2]
    assert orders[0] == [
        ("inject_released", "z-first"),
        ("inject_released", "a-second"),
        ("marker_set", "m"),
        ("inject_released", "m-third"),
        ("inject_released", "after-z"),
        ("inject_released", "on-marker"),
    ]


def test_the_session_ends_at_its_duration(tmp_path):
    session = make_session(tmp_path, make_scenario(duration="1h"))
    session.run_to_end()
    assert session.ended
    assert session.events[-1]["type"] == "session_ended"
    assert (session.events[-1]["t"], session.events[-1]["reason"]) == (3600.0, "duration")
    with pytest.raises(Rejected, match="ended"):
        session.decide("coordinator", "appoint_coordinator", by="Sam")
    assert verify_transcript(session.path).ok


def test_same_scenario_same_decisions_same_transcript(tmp_path):
    def run(name):
        session = make_session(
            tmp_path,
            breach_scenario(),
            name=name,
            mode="solo",
            participants=[Participant("Sam", "coordinator")],
        )
        session.run_until(300)
        session.decide("coordinator", "appoint_coordinator", by="Sam")
        session.decide("coordinator", "involve_dpo", by="Sam", delegate_to="dpo", timebox="5m")
        session.run_until(1500)
        session.note("coordinator", "DPO on the call", by="Sam")
        session.run_to_end()
        return without_volatile(session.events)

    assert run("one.jsonl") == run("two.jsonl")


# --- branches ------------------------------------------------------------------------------


def test_missed_branch_fires_at_the_deadline_plus_its_delay_exactly_once(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(3599)
    assert "dpo-chases" not in session.released
    session.run_until(3600)  # ticket at 20m + 30m deadline + 10m delay
    assert ("dpo-chases", 3600.0) in released(session)
    chase = next(e for e in of_type(session, "inject_released") if e["inject"] == "dpo-chases")
    assert (chase["trigger"], chase["condition"]) == ("branch", "missed: dpo-in")
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_to_end()
    assert session.released.count("dpo-chases") == 1


def test_missed_branch_does_not_fire_when_the_action_is_on_time(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(1300)
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_until(20000)
    assert "dpo-chases" not in session.released


def test_a_decision_exactly_at_the_deadline_is_on_time(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(3000)  # the deadline: ticket at 1200 + 30m
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_until(20000)
    assert "dpo-chases" not in session.released


def test_a_decision_before_the_anchor_counts_only_where_early_action_is_allowed(tmp_path):
    # the branch follows the scorer's rule 3: before its anchor a decision meets an expectation
    # only when the expectation (or its catalog action) allows early action
    session = make_session(tmp_path, breach_scenario())
    session.run_until(60)
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_until(20000)
    assert ("dpo-chases", 3600.0) in released(session)  # ticket at 20m + 30m, chased 10m later

    early = breach_scenario()
    early = early.model_copy(
        update={
            "expectations": [
                e.model_copy(update={"early": "allowed"}) if e.id == "dpo-in" else e
                for e in early.expectations
            ]
        }
    )
    (tmp_path / "early").mkdir()
    session = make_session(tmp_path / "early", early)
    session.run_until(60)
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_until(20000)
    assert "dpo-chases" not in session.released


def test_a_missed_duty_starts_the_clocks_of_what_follows_from_it(tmp_path):
    # `follow-up` runs from action:contain; contain is expected within 15m and never done,
    # so its clock starts at T+15m and the branch on it fires 15m + 30m + 10m in
    scenario = make_scenario(
        [
            make_inject("alert", 0),
            make_inject("chase", "10m", when={"missed": "follow-up"}),
        ],
        expectations=[
            make_expectation("contained", "contain", "15m", owner="technical_lead"),
            make_expectation("follow-up", "preserve_evidence", "30m", after="action:contain"),
        ],
    )
    session = make_session(tmp_path, scenario)
    session.run_until(3 * 3600)
    assert ("chase", 3300.0) in released(session)


def test_done_branch_fires_after_the_first_decision_only(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(900)
    session.decide("comms_owner", "customer_comms", by="Ana")
    session.run_until(1000)
    session.decide("comms_owner", "customer_comms", by="Ana")
    session.run_to_end()
    press = [e for e in of_type(session, "inject_released") if e["inject"] == "press-call"]
    assert [(e["t"], e["condition"]) for e in press] == [(1200.0, "done: customer_comms")]


def test_done_branch_time(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(900)
    session.decide("comms_owner", "customer_comms", by="Ana")
    session.run_until(1199)
    assert "press-call" not in session.released
    session.run_until(1200)  # 15m + 5m
    assert ("press-call", 1200.0) in released(session)


def test_after_branch_follows_its_inject(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(2099)
    assert "ticket-follow-up" not in session.released
    session.run_until(2100)  # ticket at 20m + 15m
    assert ("ticket-follow-up", 2100.0) in released(session)


def test_marker_from_a_decision_fires_the_marker_branch_once(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(600)
    session.decide("dpo", "confirm_personal_data_breach", by="Priya")
    session.run_until(700)
    session.decide("dpo", "confirm_personal_data_breach", by="Priya")
    assert session.markers == {"aware": 600.0}
    markers = of_type(session, "marker_set")
    assert [(m["marker"], m["source"], m["t"]) for m in markers] == [
        ("aware", "action:confirm_personal_data_breach", 600.0)
    ]
    session.run_until(2400)  # 10m + 30m
    assert ("regulator-asks", 2400.0) in released(session)
    session.run_to_end()
    assert session.released.count("regulator-asks") == 1


def test_marker_from_an_inject(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(1200)
    assert session.markers == {"reported": 1200.0}
    marker = of_type(session, "marker_set")[0]
    assert marker["source"] == "inject:customer-ticket"


def test_expectation_anchored_on_a_marker_and_on_an_action(tmp_path):
    scenario = make_scenario(
        [
            make_inject("alert", 0),
            make_inject("ico-chase", 0, when={"missed": "ico"}),
            make_inject("roles-chase", "1m", when={"missed": "roles"}),
        ],
        expectations=[
            make_expectation("ico", "ico_decision", "72h", after="marker:aware"),
            make_expectation("roles", "assign_roles", "15m", after="action:appoint_coordinator"),
        ],
        duration="100h",
    )
    session = make_session(tmp_path, scenario)
    session.run_until(3600)
    session.decide("dpo", "confirm_personal_data_breach", by="Priya")
    session.decide("coordinator", "appoint_coordinator", by="Sam")
    session.run_until(3600 + 900 + 60)
    assert ("roles-chase", 4560.0) in released(session)
    session.run_until(3600 + 72 * 3600)
    assert "ico-chase" not in session.released
    session.run_until(3600 + 72 * 3600 + 1)
    assert ("ico-chase", 3600.0 + 72 * 3600) in released(session)
    chase = next(e for e in of_type(session, "inject_released") if e["inject"] == "ico-chase")
    assert chase["due"] == 3600 + 72 * 3600


# --- decisions and rejections --------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (
            {"role": "coordinator", "action": "appoint_coordinatr"},
            "unknown action 'appoint_coordinatr' (did you mean 'appoint_coordinator'?)",
        ),
        (
            {"role": "dpo", "action": "ico_decision", "fields": {"outcome": "maybe"}},
            "expected one of notify, not_notify, received 'maybe'",
        ),
        ({"role": "dpo", "action": "ico_decision"}, "field 'outcome' is required"),
        (
            {"role": "dpo", "action": "ico_decision", "fields": {"outcome": "notify", "colour": "red"}},
            "unknown field 'colour'",
        ),
        (
            {"role": "dpo", "action": "assess_personal_data", "fields": {"records": "lots"}},
            "expected a number",
        ),
        (
            {"role": "dpo", "action": "assess_personal_data", "fields": {"special_category": "yes"}},
            "expected true or false",
        ),
        (
            {"role": "coordinator", "action": "restore_backup", "fields": {"rpo": "soon"}},
            "expected a duration",
        ),
        (
            {"role": "coordinator", "action": "restore_backup", "fields": {"backup": ["a", "b"]}},
            "expected text",
        ),
        ({"role": "coordinator", "action": "escalate", "fields": {"to": object()}}, "plain text"),
        ({"role": "ceo", "action": "appoint_coordinator"}, "role 'ceo' is not in scenario"),
        ({"role": "coordinator", "action": "appoint_coordinator", "by": " "}, "`by`"),
        ({"role": "coordinator", "action": "appoint_coordinator", "inject": "nope"}, "unknown inject 'nope'"),
        (
            {"role": "coordinator", "action": "contain", "delegate_to": "intern"},
            "cannot delegate to role 'intern'",
        ),
        ({"role": "coordinator", "action": "contain", "timebox": "10m"}, "timebox needs delegate_to"),
        (
            {"role": "coordinator", "action": "contain", "delegate_to": "technical_lead", "timebox": "soon"},
            "timebox",
        ),
    ],
)
def test_rejections_record_nothing(tmp_path, call, message):
    session = make_session(tmp_path, breach_scenario())
    before = session.path.read_bytes()
    call.setdefault("by", "Sam")
    with pytest.raises(Rejected) as error:
        session.decide(call.pop("role"), call.pop("action"), **call)
    assert message in str(error.value)
    assert session.path.read_bytes() == before
    assert len(session.events) == 2


def test_a_role_nobody_plays_is_rejected(tmp_path):
    session = make_session(tmp_path, breach_scenario(), participants=[Participant("Sam", "coordinator")])
    with pytest.raises(Rejected, match="nobody plays role 'dpo'"):
        session.decide("dpo", "ico_decision", by="Priya", fields={"outcome": "notify"})
    with pytest.raises(Rejected, match="nobody plays"):
        session.note("dpo", "hello", by="Priya")


def test_missing_rationale_is_recorded_not_rejected(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    record = session.decide("dpo", "ico_decision", by="Priya", fields={"outcome": "not_notify"})
    assert record["type"] == "decision" and record["rationale"] == ""


def test_decision_record_fields(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(1250)
    record = session.decide(
        "dpo",
        "ico_decision",
        by="Priya",
        fields={"outcome": "notify"},
        rationale="High risk",
        inject="customer-ticket",
    )
    assert record["id"] == f"d{record['seq']}"
    assert {
        k: record[k]
        for k in (
            "type",
            "t",
            "role",
            "by",
            "action",
            "fields",
            "rationale",
            "inject",
            "delegated_by",
            "delegation",
            "delegated_at",
        )
    } == {
        "type": "decision",
        "t": 1250.0,
        "role": "dpo",
        "by": "Priya",
        "action": "ico_decision",
        "fields": {"outcome": "notify"},
        "rationale": "High risk",
        "inject": "customer-ticket",
        "delegated_by": None,
        "delegation": None,
        "delegated_at": None,
    }


def test_notes(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    record = session.note("coordinator", "Bridge opened", by="Sam", inject="alert")
    assert (record["type"], record["text"], record["inject"]) == ("note", "Bridge opened", "alert")
    with pytest.raises(Rejected, match="text"):
        session.note("coordinator", "  ", by="Sam")


# --- solo practice: responses and delegation -----------------------------------------------


def solo(tmp_path, scenario=None, **kw):
    return make_session(
        tmp_path,
        scenario or breach_scenario(),
        mode="solo",
        participants=[Participant("Sam", "coordinator")],
        **kw,
    )


def test_solo_adds_simulated_teammates_and_refuses_their_roles(tmp_path):
    session = solo(tmp_path)
    roles = {p.role: p.simulated for p in session.participants}
    assert roles == {"coordinator": False, "technical_lead": True, "comms_owner": True, "dpo": True}
    with pytest.raises(Rejected, match="simulated teammate; delegate"):
        session.decide("dpo", "ico_decision", by="Sam", fields={"outcome": "notify"})


def test_solo_response_from_the_simulated_role_fires_once(tmp_path):
    session = solo(tmp_path)
    session.run_until(300)
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_until(400)
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_until(899)
    assert not [i for i in session.released if i.startswith("response-")]
    session.run_until(900)  # 5m + 10m
    response = session.events[-1]
    assert (response["inject"], response["trigger"], response["title"]) == (
        "response-involve-dpo",
        "response",
        "DPO assessment",
    )
    assert response["from_role"] == "dpo"
    session.run_to_end()
    assert session.released.count("response-involve-dpo") == 1


def test_responses_are_not_simulated_for_a_role_a_player_plays(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.decide("coordinator", "involve_dpo", by="Sam")
    session.run_until(5000)
    assert not [i for i in session.released if i.startswith("response-")]


def test_solo_delegation_is_carried_out_by_the_teammate_after_the_timebox(tmp_path):
    session = solo(tmp_path)
    session.run_until(600)
    delegation = session.decide(
        "coordinator",
        "contain",
        by="Sam",
        delegate_to="technical_lead",
        timebox="15m",
        rationale="stop the export",
    )
    assert delegation["type"] == "delegation" and delegation["id"] == f"g{delegation['seq']}"
    assert (delegation["to_role"], delegation["timebox"]) == ("technical_lead", 900)
    assert session.pending_tasks("technical_lead") == []
    session.run_until(1499)
    assert session.done_at("contain") is None
    session.run_until(1500)
    done = session.events[-1]
    assert (done["type"], done["role"], done["action"], done["t"]) == (
        "decision",
        "technical_lead",
        "contain",
        1500.0,
    )
    assert (done["delegated_by"], done["delegation"], done["delegated_at"]) == (
        "coordinator",
        delegation["id"],
        600.0,
    )
    assert done["by"] == "Technical Lead"
    assert done["rationale"] == "stop the export"


def test_solo_delegation_without_timebox_uses_the_scenario_delay(tmp_path):
    scenario = breach_scenario().model_copy(update={"delegate_delay": 420})
    session = solo(tmp_path, scenario)
    session.decide("coordinator", "preserve_evidence", by="Sam", delegate_to="technical_lead")
    session.run_until(420)
    assert session.done_at("preserve_evidence") == 420.0


def test_team_delegation_is_a_pending_task_until_carried_out(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    delegation = session.decide(
        "coordinator", "revoke_access", by="Sam", delegate_to="technical_lead", timebox="10m"
    )
    session.run_until(3600)
    assert session.done_at("revoke_access") is None
    tasks = session.pending_tasks("technical_lead")
    assert [t["id"] for t in tasks] == [delegation["id"]]
    assert session.pending_tasks("dpo") == []
    record = session.complete_task(delegation["id"], by="Tom", rationale="token revoked")
    assert (record["role"], record["by"], record["delegated_by"], record["delegated_at"]) == (
        "technical_lead",
        "Tom",
        "coordinator",
        0.0,
    )
    assert session.pending_tasks() == []
    with pytest.raises(Rejected, match="already been carried out"):
        session.complete_task(delegation["id"], by="Tom")
    with pytest.raises(Rejected, match="no pending task"):
        session.complete_task("g999", by="Tom")


# --- facilitator controls ------------------------------------------------------------------


def scaled(tmp_path, scenario=None, speed=60):
    wall = FakeWall()
    clock = ScaledClock(speed=speed, get_time=wall)
    session = make_session(tmp_path, scenario or breach_scenario(), clock=clock, speed=speed)
    return session, wall


def test_pause_stops_releases_and_never_shifts_released_injects(tmp_path):
    session, wall = scaled(tmp_path)
    wall.now = 10  # 600 sim seconds
    session.tick()
    pause = session.pause()
    assert (pause["op"], pause["t"], pause["paused"]) == ("pause", 600.0, True)
    wall.now = 1000  # a long break
    assert session.tick() == []
    assert session.now == 600
    session.unpause()
    wall.now = 1000 + 10  # ten more wall seconds: sim 1200, the ticket is due
    session.tick()
    assert released(session) == [("alert", 0.0), ("customer-ticket", 1200.0)]


def test_trigger_now_while_paused_and_after_a_pause(tmp_path):
    session, wall = scaled(tmp_path)
    wall.now = 5  # sim 300
    session.pause()
    wall.now = 500
    record = session.trigger_now("customer-ticket")
    assert (record["inject"], record["trigger"], record["t"]) == ("customer-ticket", "facilitator", 300.0)
    facilitator = of_type(session, "facilitator")[0]
    assert (facilitator["op"], facilitator["inject"], facilitator["seq"]) == (
        "trigger_now",
        "customer-ticket",
        record["seq"] - 1,
    )
    session.unpause()
    wall.now = 502  # 2 wall seconds after the pause ended: sim 300 + 120
    record = session.trigger_now("morning")
    assert record["t"] == 420.0
    with pytest.raises(Rejected, match="already released"):
        session.trigger_now("morning")
    wall.now = 504
    session.tick()  # the ticket's own `after` branch runs from its real release time
    assert ("ticket-follow-up", 300.0 + 900) not in released(session)
    wall.now = 500 + 900 / 60
    session.tick()
    assert ("ticket-follow-up", 1200.0) in released(session)
    with pytest.raises(Rejected, match="unknown inject 'mornin' \\(did you mean 'morning'\\?\\)"):
        session.trigger_now("mornin")


def test_trigger_now_releases_a_waiting_branch_once(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(100)
    session.trigger_now("dpo-chases")
    session.run_to_end()
    assert session.released.count("dpo-chases") == 1
    assert [e["trigger"] for e in of_type(session, "inject_released") if e["inject"] == "dpo-chases"] == [
        "facilitator"
    ]


def test_set_speed_keeps_sim_time_continuous(tmp_path):
    session, wall = scaled(tmp_path, speed=60)
    wall.now = 10
    record = session.set_speed(6)
    assert (record["op"], record["speed"], record["t"]) == ("speed", 6.0, 600.0)
    wall.now = 110  # 100 wall seconds at 6x: sim 1200
    session.tick()
    assert ("customer-ticket", 1200.0) in released(session)
    with pytest.raises(Rejected, match="greater than 0"):
        session.set_speed(0)


def test_jump_releases_the_skipped_interval_at_the_jump_in_time_order(tmp_path):
    scenario = make_scenario(
        [
            make_inject("alert", 0),
            make_inject("night", "1h", advance_to=10 * 3600),
            make_inject("at-3h", "3h"),
            make_inject("at-2h", "2h"),
            make_inject("late-chase", "10m", when={"missed": "coord"}),
            make_inject("morning", "10h"),
            make_inject("after-morning", "10h30m"),
        ],
        expectations=[make_expectation("coord", "appoint_coordinator", "90m")],
        duration="21h",
    )
    session = make_session(tmp_path, scenario)
    session.run_until(3600)
    jump = of_type(session, "clock")[0]
    assert (jump["op"], jump["from_t"], jump["to_t"], jump["t"], jump["inject"]) == (
        "jump",
        3600.0,
        36000.0,
        3600.0,
        "night",
    )
    assert session.now == 36000
    rows = [(e["inject"], e["t"], e["due"]) for e in of_type(session, "inject_released")]
    assert rows == [
        ("alert", 0.0, 0.0),
        ("night", 3600.0, 3600.0),
        ("late-chase", 36000.0, 5400.0 + 600),
        ("at-2h", 36000.0, 7200.0),
        ("at-3h", 36000.0, 10800.0),
        ("morning", 36000.0, 36000.0),
    ]
    session.run_until(37800)
    assert released(session)[-1] == ("after-morning", 37800.0)
    assert session_end(scenario) == 21 * 3600
    session.run_to_end()
    assert session.events[-1]["t"] == 21 * 3600


def test_skip_means_never_released_and_its_after_branches_never_fire(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    record = session.skip("customer-ticket")
    assert (record["type"], record["op"], record["inject"]) == ("facilitator", "skip", "customer-ticket")
    session.run_until(8000)
    assert "customer-ticket" not in session.released
    assert "ticket-follow-up" not in session.released
    statuses = {r["inject"]: r["status"] for r in session.upcoming()}
    assert statuses["customer-ticket"] == "skipped"
    with pytest.raises(Rejected, match="already skipped"):
        session.skip("customer-ticket")
    with pytest.raises(Rejected, match="already released"):
        session.skip("alert")


def test_add_inject_is_released_now(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(700)
    record = session.add_inject(
        "Power cut at the office", body="Laptops on battery", channel="chat", to=["coordinator"]
    )
    assert (record["inject"], record["trigger"], record["t"], record["to"]) == (
        "adhoc-1",
        "adhoc",
        700.0,
        ["coordinator"],
    )
    assert session.events[-2]["op"] == "adhoc"
    assert session.add_inject("Second")["inject"] == "adhoc-2"
    with pytest.raises(Rejected, match="channel"):
        session.add_inject("x", channel="pigeon")
    with pytest.raises(Rejected, match="recipient"):
        session.add_inject("x", to=["ceo"])


def test_set_role_join_and_leave(tmp_path):
    session = make_session(tmp_path, breach_scenario(), participants=[Participant("Sam", "coordinator")])
    change = session.set_role("Priya", "dpo")
    assert (change["op"], change["detail"]) == ("join", {"name": "Priya", "from": None, "to": "dpo"})
    session.decide("dpo", "involve_dpo", by="Priya")
    change = session.set_role("Sam", "comms_owner")
    assert change["op"] == "role_change" and change["detail"]["from"] == "coordinator"
    with pytest.raises(Rejected, match="nobody plays role 'coordinator'"):
        session.decide("coordinator", "appoint_coordinator", by="Sam")
    session.leave("Priya")
    with pytest.raises(Rejected, match="nobody plays role 'dpo'"):
        session.decide("dpo", "record_breach", by="Priya")


def test_end_by_the_facilitator(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(100)
    record = session.end()
    assert (record["type"], record["reason"], record["t"]) == ("session_ended", "facilitator", 100.0)
    assert session.tick() == []
    with pytest.raises(Rejected):
        session.end()


def test_upcoming_is_the_msel(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(1300)
    rows = {r["inject"]: r for r in session.upcoming()}
    assert (rows["alert"]["status"], rows["alert"]["due"]) == ("released", 0.0)
    assert (rows["ticket-follow-up"]["status"], rows["ticket-follow-up"]["due"]) == ("scheduled", 2100.0)
    assert (rows["dpo-chases"]["status"], rows["dpo-chases"]["due"], rows["dpo-chases"]["condition"]) == (
        "waiting",
        None,
        "missed: dpo-in",
    )
    dues = [r["due"] for r in session.upcoming() if r["due"] is not None]
    assert dues == sorted(dues)


def test_next_due(tmp_path):
    session = make_session(
        tmp_path, make_scenario([make_inject("a", 0), make_inject("b", "20m")], duration="1h")
    )
    assert session.next_due() == 1200
    session.run_until(1200)
    # the session ends once time has passed its end (as a deadline is checked): just after 1h,
    # so that a clock loop sleeping until next_due wakes when tick() will end it
    assert session.next_due() == math.nextafter(3600, math.inf)
    session.run_to_end()
    assert session.next_due() is None


def test_run_until_refuses_a_paused_virtual_clock(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.pause()
    with pytest.raises(Rejected, match="paused"):
        session.run_until(100)
    with pytest.raises(Rejected, match="already paused"):
        session.pause()


# --- durability contract: subscribers see only what is on disk -----------------------------


def test_subscribers_see_events_only_after_they_are_on_disk(tmp_path, monkeypatch):
    import tabletop.transcript as tr

    synced = []
    real_fsync = os.fsync

    def spy(fd):
        real_fsync(fd)
        synced.append(os.fstat(fd).st_size)

    session = make_session(tmp_path, breach_scenario(), start=False, fsync=True)
    monkeypatch.setattr(tr.os, "fsync", spy)
    checks = []

    def subscriber(event):
        # the event is on disk, and so is everything written with it (a decision's signature)
        data = session.path.read_bytes()
        lines = data.split(b"\n")[:-1]
        on_disk = json.loads(lines[event["seq"]]) == event
        signed = event["type"] != "decision" or json.loads(lines[event["seq"] + 1])["type"] == "signature"
        checks.append((on_disk and signed, bool(synced) and synced[-1] == len(data)))

    session.subscribe(subscriber)
    session.start()
    session.decide("coordinator", "appoint_coordinator", by="Sam")
    session.run_until(2000)
    assert checks and all(a and b for a, b in checks)


def test_a_failing_subscriber_does_not_stop_the_recording(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    seen = []

    def broken(event):
        raise RuntimeError("view crashed")

    session.subscribe(broken)
    unsubscribe = session.subscribe(seen.append)
    session.decide("coordinator", "appoint_coordinator", by="Sam")
    assert [e["type"] for e in seen] == ["decision"]
    unsubscribe()
    session.run_until(1200)
    assert len(seen) == 1
    assert verify_transcript(session.path).ok


# --- resume --------------------------------------------------------------------------------


def test_resume_continues_seq_and_clock(tmp_path):
    session = make_session(tmp_path, breach_scenario(), fsync=True)
    session.run_until(1500)
    session.decide("comms_owner", "customer_comms", by="Ana")  # press-call due at 1800
    last_seq = session.writer.seq - 1  # the decision's signature line
    session.writer.close()  # the laptop dies

    resumed = Session.continue_transcript(session.path, clock=VirtualClock())
    assert resumed.now == 1500
    note = resumed.events[-1]
    assert (note["type"], note["seq"], note["from_t"], note["dropped_bytes"]) == (
        "session_resumed",
        last_seq + 1,
        1500.0,
        0,
    )
    assert resumed.released == session.released
    resumed.run_until(1800)
    assert ("press-call", 1800.0) in released(resumed)
    resumed.run_to_end()
    assert verify_transcript(session.path).ok
    lines = verify_transcript(session.path).events
    assert [e["seq"] for e in lines] == list(range(len(lines)))
    assert resumed.events == [e for e in lines if e["type"] != "signature"]


def test_resume_after_a_torn_write_and_mid_consequence_crash(tmp_path):
    session = make_session(tmp_path, breach_scenario())
    session.run_until(600)
    session.writer.append(
        "decision",
        600.0,
        id="d9",
        role="dpo",
        by="Priya",
        action="confirm_personal_data_breach",
        fields={},
        rationale="",
        inject=None,
        delegated_by=None,
        delegation=None,
        delegated_at=None,
    )
    session.writer.close()  # crashed before marker_set was written ...
    with open(session.path, "ab") as handle:
        handle.write(b'{"seq":99,"type":"no')  # ... and in the middle of a write
    resumed = Session.continue_transcript(session.path, clock=VirtualClock())
    assert resumed.events[-2]["type"] == "session_resumed" and resumed.events[-2]["dropped_bytes"] == 20
    assert (resumed.events[-1]["type"], resumed.events[-1]["marker"]) == ("marker_set", "aware")
    assert resumed.markers == {"aware": 600.0}
    resumed.run_until(2400)
    assert ("regulator-asks", 2400.0) in released(resumed)
    assert verify_transcript(session.path).ok


def test_resume_with_a_scaled_clock_restores_speed_and_pause(tmp_path):
    session, wall = scaled(tmp_path, speed=60)
    wall.now = 10
    session.set_speed(30)
    session.pause()
    session.writer.close()
    wall2 = FakeWall()
    clock = ScaledClock(speed=1, get_time=wall2)
    resumed = Session.continue_transcript(session.path, clock=clock)
    assert (resumed.now, resumed.speed, resumed.paused) == (600, 30, True)
    wall2.now = 100
    assert resumed.now == 600
    resumed.unpause()
    wall2.now = 120
    resumed.tick()
    assert ("customer-ticket", 1200.0) in released(resumed)


def test_resume_continues_pending_delegations_and_missed_deadlines(tmp_path):
    session = make_session(
        tmp_path, breach_scenario(), mode="solo", participants=[Participant("Sam", "coordinator")]
    )
    session.run_until(60)
    session.decide("coordinator", "contain", by="Sam", delegate_to="technical_lead", timebox="30m")
    session.run_until(1300)
    session.writer.close()
    resumed = Session.continue_transcript(session.path, clock=VirtualClock())
    resumed.run_until(3600)
    assert resumed.done_at("contain") == 1860.0
    assert ("dpo-chases", 3600.0) in released(resumed)
    assert resumed.released.count("dpo-chases") == 1


def test_resume_refuses_ended_and_tampered_transcripts(tmp_path):
    from tabletop.transcript import TranscriptError

    session = make_session(tmp_path, breach_scenario(), name="ended.jsonl")
    session.run_to_end()
    with pytest.raises(TranscriptError, match="already ended"):
        Session.continue_transcript(session.path, clock=VirtualClock())
    other = make_session(tmp_path, breach_scenario(), name="edited.jsonl")
    other.run_until(1300)
    other.writer.close()
    other.path.write_bytes(other.path.read_bytes().replace(b"customer-ticket", b"customer-tickex", 1))
    with pytest.raises(TranscriptError, match="damaged"):
        Session.continue_transcript(other.path, clock=VirtualClock())


def test_responses_fire_in_solo_but_not_when_the_responder_joins(tmp_path):
    scenario = make_scenario(
        [make_inject("alert", 0)],
        responses=[make_response("status_update", "comms_owner", "2m", title="Comms acks")],
    )
    session = make_session(tmp_path, scenario, mode="solo", participants=[Participant("Sam", "coordinator")])
    session.decide("coordinator", "status_update", by="Sam", fields={"audience": "internal"})
    session.run_until(120)
    assert session.released[-1] == "response-status-update"


def test_a_failed_write_during_a_tick_is_retried_not_lost(tmp_path, monkeypatch):
    import errno

    import tabletop.transcript as tr
    from tabletop.transcript import TranscriptError

    session = make_session(tmp_path, breach_scenario())
    real_write = os.write
    failures = iter([True])

    def flaky(fd, data):
        if next(failures, False):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(tr.os, "write", flaky)
    with pytest.raises(TranscriptError, match="disk full"):
        session.run_until(1200)
    assert "customer-ticket" not in session.released
    session.tick()
    assert ("customer-ticket", 1200.0) in released(session)
    assert verify_transcript(session.path).ok


def test_end_releases_what_was_due_first(tmp_path):
    session, wall = scaled(tmp_path)
    wall.now = 21  # sim 1260: the ticket is due but nobody ticked
    session.end()
    assert session.events[-1]["type"] == "session_ended"
    assert ("customer-ticket", 1260.0) in released(session)


# --- property: any sequence of operations keeps the transcript sound, and resume is exact ---

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("run"), st.integers(min_value=0, max_value=5400)),
        st.tuples(
            st.just("decide"),
            st.sampled_from(
                [
                    ("coordinator", "appoint_coordinator"),
                    ("coordinator", "involve_dpo"),
                    ("comms_owner", "customer_comms"),
                    ("dpo", "confirm_personal_data_breach"),
                ]
            ),
        ),
        st.tuples(st.just("delegate"), st.sampled_from(["technical_lead", "dpo"])),
        st.tuples(
            st.just("trigger"), st.sampled_from(["dpo-chases", "press-call", "customer-ticket", "overnight"])
        ),
        st.tuples(st.just("skip"), st.sampled_from(["ticket-follow-up", "regulator-asks", "morning"])),
        st.tuples(st.just("adhoc"), st.just("x")),
    ),
    max_size=14,
)


def apply_ops(session, ops):
    for op, arg in ops:
        try:
            if op == "run":
                session.run_until(session.now + arg)
            elif op == "decide":
                session.decide(arg[0], arg[1], by="P")
            elif op == "delegate":
                session.decide("coordinator", "contain", by="Sam", delegate_to=arg, timebox="7m")
            elif op == "trigger":
                session.trigger_now(arg)
            elif op == "skip":
                session.skip(arg)
            else:
                session.add_inject("Ad hoc")
        except Rejected:
            pass


def stable(events):
    drop = ("wall", "prev", "hash", "seq", "id", "delegation")
    return [{k: v for k, v in e.items() if k not in drop} for e in events if e["type"] != "session_resumed"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, mode=st.sampled_from(["team", "solo"]))
def test_any_operations_keep_the_transcript_sound_and_resume_exact(tmp_path_factory, ops, mode):
    folder = tmp_path_factory.mktemp("ops")
    people = [
        Participant("Sam", "coordinator"),
        Participant("Ana", "comms_owner"),
        Participant("Priya", "dpo"),
    ]
    if mode == "solo":
        people = [Participant("Sam", "coordinator")]
        ops = [(op, arg) for op, arg in ops if not (op == "decide" and arg[0] != "coordinator")]
    live = make_session(folder, breach_scenario(), name="live.jsonl", mode=mode, participants=people)
    apply_ops(live, ops)
    cut = live.path.read_bytes()
    (folder / "crashed.jsonl").write_bytes(cut)
    if not live.ended:
        live.run_to_end()

    report = verify_transcript(live.path)
    assert report.ok
    times = [e["t"] for e in live.events]
    assert times == sorted(times)
    releases = [e["inject"] for e in live.events if e["type"] == "inject_released"]
    assert len(releases) == len(set(releases))
    markers = [e["marker"] for e in live.events if e["type"] == "marker_set"]
    assert len(markers) == len(set(markers))
    for event in live.events:
        if event["type"] == "inject_released" and event["trigger"] == "branch":
            assert event["t"] >= event["due"]

    if b"session_ended" not in cut:
        resumed = Session.continue_transcript(folder / "crashed.jsonl", clock=VirtualClock())
        resumed.run_to_end()
        assert stable(resumed.events) == stable(live.events)
        assert verify_transcript(folder / "crashed.jsonl").ok
