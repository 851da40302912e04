"""Known-answer tests for each scoring rule (`tabletop/scoring.py`; the README, "How a rehearsal is scored")."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from scoring_cases import decision, ended, marker, note, released, scenario, write_transcript

from tabletop.scoring import (
    NOT_NOTIFY_FINDING,
    rating,
    score,
    score_transcript,
)
from tabletop.transcript import TranscriptError, read_run


def one(expectation: dict, events: list[dict], **kw):
    card = score(scenario(expectations=[expectation], **kw), events)
    return card, card.expectations[0]


# --- status and credit ----------------------------------------------------------------------


def test_met_at_the_deadline_gets_full_credit():
    card, r = one(
        {"id": "coord", "action": "appoint_coordinator", "within": "15m"},
        [decision(900, "appoint_coordinator"), ended(3600)],
    )
    assert (r.status, r.credit, r.flags, r.deadline, r.done_at, r.by) == (
        "met",
        1.0,
        (),
        900,
        900,
        "coordinator",
    )
    assert r.passed and card.score == 1.0 and card.passed == 1 and card.applicable == 1


def test_late_gets_late_credit():
    card, r = one(
        {"id": "coord", "action": "appoint_coordinator", "within": "15m", "late_credit": 0.25},
        [decision(901, "appoint_coordinator"), ended(3600)],
    )
    assert (r.status, r.credit) == ("late", 0.25)
    assert not r.passed and card.score == 0.25 and card.passed == 0


def test_missed_gets_nothing():
    card, r = one({"id": "coord", "action": "appoint_coordinator", "within": "15m"}, [ended(3600)])
    assert (r.status, r.credit, r.done_at) == ("missed", 0.0, None)
    assert card.score == 0.0 and card.applicable == 1


def test_a_decision_before_the_anchor_does_not_count():
    # rule 3 (changed from "the first decision counts, even before the anchor"): only a
    # decision from the anchor to the deadline meets the expectation
    exp = {"id": "dpo-in", "action": "involve_dpo", "within": "30m", "after": "inject:ticket"}
    events = [
        decision(60, "involve_dpo"),
        released(1200, "ticket"),
        decision(9000, "involve_dpo", role="dpo"),
        ended(10000),
    ]
    _, r = one(exp, events, injects=[{"id": "alert"}, {"id": "ticket", "at": 1200}])
    assert (r.status, r.anchor, r.deadline, r.done_at, r.by) == ("late", 1200, 3000, 9000, "dpo")


def test_weighted_score_and_areas():
    exps = [
        {"id": "a", "action": "appoint_coordinator", "within": "15m", "weight": 3},
        {"id": "b", "action": "involve_dpo", "within": "30m", "weight": 1},
    ]
    card = score(scenario(expectations=exps), [decision(60, "appoint_coordinator"), ended(7200)])
    assert card.score == pytest.approx(0.75)
    assert card.areas == {"coordination": 1.0, "data_protection": 0.0}
    assert card.ratings == {"coordination": "P", "data_protection": "U"}
    assert card.to_json()["areas"] == {"coordination": 1.0, "data_protection": 0.0}


# --- not applicable -------------------------------------------------------------------------


def test_unreleased_branch_inject_makes_its_expectations_not_applicable():
    exps = [
        {"id": "coord", "action": "appoint_coordinator", "within": "15m"},
        {"id": "chase", "action": "involve_dpo", "within": "10m", "after": "inject:dpo-chases", "weight": 5},
    ]
    injects = [{"id": "alert"}, {"id": "dpo-chases", "at": 600, "when": {"missed": "coord"}}]
    card = score(
        scenario(expectations=exps, injects=injects), [decision(60, "appoint_coordinator"), ended(7200)]
    )
    chase = card.result("chase")
    assert chase.status == "not_applicable" and "never released" in chase.reason
    assert card.applicable == 1 and card.score == 1.0 and card.weight_total == 1


def test_action_anchor_not_applicable_until_the_action_is_recorded():
    exp = {"id": "verify", "action": "verify_rpo_rto", "within": "30m", "after": "action:restore_backup"}
    _, r = one(exp, [ended(7200)])
    assert r.status == "not_applicable"
    _, r = one(exp, [decision(600, "restore_backup", role="technical_lead"), ended(7200)])
    assert (r.status, r.anchor, r.deadline) == ("missed", 600, 2400)


def test_marker_never_set_is_not_applicable():
    exp = {"id": "ico", "action": "ico_decision", "within": "72h", "after": "marker:aware"}
    _, r = one(exp, [released(0, "alert"), ended(7200)])
    assert r.status == "not_applicable" and "never set" in r.reason


# --- flags ----------------------------------------------------------------------------------


def test_wrong_owner_halves_credit():
    _, r = one(
        {"id": "coord", "action": "appoint_coordinator", "within": "15m"},
        [decision(60, "appoint_coordinator", role="dpo"), ended(3600)],
    )
    assert (r.status, r.flags, r.credit) == ("met", ("wrong_owner",), 0.5)
    assert not r.passed


def test_owner_any_accepts_every_role():
    _, r = one(
        {"id": "upd", "action": "status_update", "within": "1h", "owner": "any"},
        [decision(60, "status_update", role="comms_owner"), ended(3600)],
    )
    assert (r.flags, r.credit) == ((), 1.0)


def test_out_of_order_when_required_action_not_recorded_before():
    exp = {"id": "notify", "action": "notify_ico", "within": "2h", "requires": ["ico_decision"]}
    _, r = one(
        exp,
        [
            decision(60, "notify_ico", role="dpo"),
            decision(120, "ico_decision", role="dpo", rationale="x", fields={"outcome": "notify"}),
            ended(9000),
        ],
    )
    assert (r.flags, r.credit) == (("out_of_order",), 0.5)
    _, r = one(
        exp,
        [
            decision(60, "ico_decision", role="dpo", rationale="x"),
            decision(120, "notify_ico", role="dpo"),
            ended(9000),
        ],
    )
    assert (r.flags, r.credit) == ((), 1.0)
    _, r = one(exp, [decision(120, "notify_ico", role="dpo"), ended(9000)])
    assert r.flags == ("out_of_order",)


def test_no_rationale_from_the_expectation_or_the_action():
    exp = {"id": "coord", "action": "appoint_coordinator", "within": "15m", "rationale": "required"}
    _, r = one(exp, [decision(60, "appoint_coordinator", rationale="   "), ended(3600)])
    assert (r.flags, r.credit) == (("no_rationale",), 0.5)
    # the action's catalog entry requires one when the expectation does not say
    exp = {"id": "ico", "action": "ico_decision", "within": "72h"}
    _, r = one(exp, [decision(60, "ico_decision", role="dpo", fields={"outcome": "notify"}), ended(3600)])
    assert r.flags == ("no_rationale",)
    _, r = one(
        exp,
        [
            decision(60, "ico_decision", role="dpo", fields={"outcome": "notify"}, rationale="risk likely"),
            ended(3600),
        ],
    )
    assert r.flags == ()


def test_wrong_value_gives_zero_credit():
    exp = {"id": "ico", "action": "ico_decision", "within": "72h", "value": {"outcome": "notify"}}
    _, r = one(
        exp,
        [
            decision(60, "ico_decision", role="dpo", fields={"outcome": "not_notify"}, rationale="low risk"),
            ended(3600),
        ],
    )
    assert (r.status, r.flags, r.credit) == ("met", ("wrong_value",), 0.0)
    _, r = one(
        exp,
        [
            decision(60, "ico_decision", role="dpo", fields={"outcome": "notify"}, rationale="risk"),
            ended(3600),
        ],
    )
    assert (r.flags, r.credit) == ((), 1.0)


def test_each_flag_halves_again_and_late_credit_is_the_base():
    exp = {
        "id": "ico",
        "action": "ico_decision",
        "within": "1h",
        "requires": ["involve_dpo"],
        "late_credit": 0.5,
    }
    _, r = one(
        exp, [decision(7200, "ico_decision", role="coordinator", fields={"outcome": "notify"}), ended(9000)]
    )
    assert r.status == "late"
    assert set(r.flags) == {"wrong_owner", "out_of_order", "no_rationale"}
    assert r.credit == pytest.approx(0.5 / 8)
    assert r.reason.endswith("late credit 0.5 halved 3 times = 0.0625")


# --- penalties and findings -----------------------------------------------------------------


def test_avoid_rule_penalty_lowers_the_score_and_floors_at_zero():
    exps = [{"id": "coord", "action": "appoint_coordinator", "within": "15m", "weight": 2}]
    avoid = [
        {
            "id": "coord-hands-on",
            "role": "coordinator",
            "actions": ["contain", "restore_backup"],
            "penalty": 1,
        }
    ]
    scn = scenario(expectations=exps, avoid=avoid)
    card = score(scn, [decision(60, "appoint_coordinator"), decision(900, "contain"), ended(3600)])
    assert card.score == pytest.approx(0.5)
    (finding,) = card.findings
    assert (finding.id, finding.at, finding.penalty, finding.role) == (
        "coord-hands-on",
        900,
        1,
        "coordinator",
    )
    card = score(
        scn,
        [
            decision(60, "appoint_coordinator"),
            decision(900, "contain"),
            decision(950, "restore_backup"),
            decision(990, "contain"),
            ended(3600),
        ],
    )
    assert len(card.findings) == 3 and card.score == 0.0


def test_avoid_rule_without_role_matches_everyone_and_other_roles_do_not_match_a_role_rule():
    avoid = [
        {"id": "no-restore", "actions": ["restore_backup"], "penalty": 0.5},
        {"id": "coord-hands-on", "role": "coordinator", "actions": ["contain"]},
    ]
    card = score(
        scenario(expectations=[], avoid=avoid),
        [
            decision(10, "restore_backup", role="technical_lead"),
            decision(20, "contain", role="technical_lead"),
            ended(60),
        ],
    )
    assert [f.id for f in card.findings] == ["no-restore"]


def test_delegated_action_counts_for_the_doer_not_the_delegator():
    exps = [{"id": "contain", "action": "contain", "within": "1h"}]
    avoid = [{"id": "coord-hands-on", "role": "coordinator", "actions": ["contain"]}]
    events = [
        {
            "type": "delegation",
            "t": 300,
            "id": "g1",
            "role": "coordinator",
            "by": "Sam",
            "to_role": "technical_lead",
            "action": "contain",
            "fields": {},
            "rationale": "",
            "inject": None,
            "timebox": 900,
        },
        decision(
            840,
            "contain",
            role="technical_lead",
            delegated_by="coordinator",
            delegation="g1",
            delegated_at=300,
        ),
        ended(3600),
    ]
    card = score(scenario(expectations=exps, avoid=avoid), events)
    r = card.result("contain")
    assert (r.status, r.flags, r.by, r.delegated_by, r.delegation_seconds) == (
        "met",
        (),
        "technical_lead",
        "coordinator",
        540,
    )
    assert card.findings == () and card.score == 1.0
    assert card.to_json()["expectations"][0]["delegated_by"] == "coordinator"


def test_not_notify_without_rationale_is_a_finding():
    card = score(
        scenario(expectations=[]),
        [decision(60, "ico_decision", role="dpo", fields={"outcome": "not_notify"}), ended(600)],
    )
    assert [f.id for f in card.findings] == [NOT_NOTIFY_FINDING]
    assert card.score == 0.0 and not card.rated and card.rating == "-"
    card = score(
        scenario(expectations=[]),
        [
            decision(
                60,
                "ico_decision",
                role="dpo",
                fields={"outcome": "not_notify"},
                rationale="encrypted laptop, risk unlikely",
            ),
            ended(600),
        ],
    )
    # nothing was expected, so nothing is rated: never 100% for a run with no scored weight
    assert card.findings == () and not card.rated and card.score_text() == "not rated"
    card = score(
        scenario(expectations=[]),
        [decision(60, "sa_decision", role="dpo", fields={"outcome": "not_notify"}), ended(600)],
    )
    assert [f.id for f in card.findings] == [NOT_NOTIFY_FINDING]
    card = score(
        scenario(expectations=[]),
        [decision(60, "ico_decision", role="dpo", fields={"outcome": "notify"}), ended(600)],
    )
    assert card.findings == ()


# --- markers and regime clocks --------------------------------------------------------------


GDPR_ICO = {
    "id": "uk-gdpr-ico",
    "action": "ico_decision",
    "within": "72h",
    "after": "marker:aware",
    "weight": 2,
    "regime": "uk_gdpr",
    "source": "GDPR Art 33(1)",
    "title": "ICO decision within 72h of awareness",
}


def test_72_hours_run_from_awareness_not_from_the_first_alert():
    injects = [{"id": "alert", "at": 0}, {"id": "confirmed", "at": 7200, "marks": ["aware"]}]
    events = [
        released(0, "alert"),
        released(7200, "confirmed"),
        decision(
            72 * 3600 + 3600, "ico_decision", role="dpo", fields={"outcome": "notify"}, rationale="risk"
        ),
        ended(80 * 3600),
    ]
    card, r = one(GDPR_ICO, events, injects=injects)
    # 73h after the alert, but 71h after awareness: met
    assert (r.status, r.anchor, r.deadline) == ("met", 7200, 7200 + 72 * 3600)
    (clock,) = card.clocks
    assert (clock.regime, clock.source, clock.status, clock.anchor, clock.after) == (
        "uk_gdpr",
        "GDPR Art 33(1)",
        "met",
        7200,
        "marker:aware",
    )


def test_marker_set_by_a_decision_that_sets_it_and_the_earliest_source_wins():
    events = [
        decision(1800, "confirm_personal_data_breach", role="dpo", rationale="CRM export confirmed"),
        marker(3600, "aware"),
        decision(1800 + 73 * 3600, "ico_decision", role="dpo", fields={"outcome": "notify"}, rationale="r"),
        ended(80 * 3600),
    ]
    card, r = one(GDPR_ICO, events)
    assert (r.status, r.anchor) == ("late", 1800)
    assert card.clocks[0].status == "late"


def test_processor_tells_controller_within_the_contracts_time():
    exp = {
        "id": "uk-gdpr-controller",
        "action": "notify_controller",
        "within": "24h",
        "after": "marker:aware",
        "regime": "uk_gdpr",
        "source": "GDPR Art 33(2); DPA-2024-17",
    }
    base = [marker(600, "aware")]
    _, r = one(exp, [*base, decision(600 + 24 * 3600, "notify_controller", role="dpo"), ended(30 * 3600)])
    assert r.status == "met"
    _, r = one(exp, [*base, decision(600 + 24 * 3600 + 1, "notify_controller", role="dpo"), ended(30 * 3600)])
    assert r.status == "late"


def test_business_days_from_starts_at():
    exp = {"id": "sec", "action": "notify_ico", "within": "4d", "business_days": True, "owner": "any"}
    # Thursday 09:00 + 4 business days = Wednesday 09:00 (6 calendar days)
    card, r = one(exp, [ended(60)], starts_at=datetime(2026, 3, 5, 9, 0))
    assert r.deadline == 6 * 86400 and card.warnings[:1] != ["counted as calendar days"]
    card, r = one(exp, [ended(60)])
    assert r.deadline == 4 * 86400
    assert any("calendar days" in w for w in card.warnings)


# --- live score -----------------------------------------------------------------------------


def test_live_score_shows_open_expectations_and_matches_final_rules():
    exps = [
        {"id": "coord", "action": "appoint_coordinator", "within": "15m"},
        {"id": "dpo", "action": "involve_dpo", "within": "1h"},
    ]
    events = [
        decision(300, "appoint_coordinator"),
        note(400, "thinking"),
        decision(5000, "involve_dpo"),
        ended(7200),
    ]
    scn = scenario(expectations=exps)
    live = score(scn, events, until=1000)
    assert [r.status for r in live.expectations] == ["met", "open"]
    assert live.applicable == 1 and live.score == 1.0 and not live.ended
    live = score(scn, events, until=4000)
    assert [r.status for r in live.expectations] == ["met", "missed"] and live.score == 0.5
    final = score(scn, events)
    assert [r.status for r in final.expectations] == ["met", "late"] and final.score == 0.75
    after_the_end = score(scn, events, until=9000)
    assert after_the_end.ended and after_the_end.to_json()["expectations"] == final.to_json()["expectations"]


def test_rating_bands():
    assert [rating(x) for x in (1.0, 0.9, 0.89, 0.7, 0.69, 0.4, 0.39, 0.0)] == [
        "P",
        "P",
        "S",
        "S",
        "M",
        "M",
        "U",
        "U",
    ]


def test_json_has_the_design_shape():
    card, _ = one(
        {"id": "dpo-in", "action": "involve_dpo", "within": "30m", "weight": 2, "after": "inject:ticket"},
        [released(1200, "ticket"), decision(3300, "involve_dpo"), ended(4000)],
        injects=[{"id": "alert"}, {"id": "ticket", "at": 1200}],
    )
    data = json.loads(json.dumps(card.to_json()))
    assert {"scenario", "score", "passed", "applicable", "areas", "expectations", "findings"} <= set(data)
    exp = data["expectations"][0]
    assert {
        k: exp[k]
        for k in (
            "id",
            "action",
            "status",
            "flags",
            "credit",
            "weight",
            "anchor",
            "deadline",
            "done_at",
            "by",
        )
    } == {
        "id": "dpo-in",
        "action": "involve_dpo",
        "status": "late",
        "flags": [],
        "credit": 0.5,
        "weight": 2,
        "anchor": 1200,
        "deadline": 3000,
        "done_at": 3300,
        "by": "coordinator",
    }


# --- transcripts ----------------------------------------------------------------------------


def test_score_transcript_uses_the_embedded_scenario(tmp_path):
    scn = scenario(expectations=[{"id": "coord", "action": "appoint_coordinator", "within": "15m"}])
    path = write_transcript(tmp_path / "run.jsonl", scn, [decision(60, "appoint_coordinator"), ended(600)])
    scenario_back, card, warnings = score_transcript(path)
    assert scenario_back == scn and card.score == 1.0 and warnings == []


def test_score_transcript_warns_when_the_scenario_file_changed(tmp_path):
    scn = scenario(expectations=[])
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text("id: test-breach\n")
    path = write_transcript(tmp_path / "run.jsonl", scn, [ended(60)], scenario_path=str(scenario_file))
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["scenario_sha256"] = "0" * 64
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    _, _, warnings = score_transcript(path)
    assert any("has changed since this run" in w for w in warnings)


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    scn = scenario(expectations=[{"id": "coord", "action": "appoint_coordinator", "within": "15m"}])
    path = write_transcript(tmp_path / "run.jsonl", scn, [decision(60, "appoint_coordinator")])
    with path.open("a") as handle:
        handle.write('{"seq": 2, "type": "no')
    _, card, warnings = score_transcript(path)
    assert card.score == 1.0
    assert any(":3: torn last line" in w for w in warnings)
    assert any("no session_ended" in w for w in warnings)


@pytest.mark.parametrize(
    "content, words",
    [
        ("", "empty transcript"),
        ('{"type": "decision"}\n', ":1: expected type 'session_started'"),
        ('{"type": "session_started"}\n', "key 'scenario'"),
        ('{"type": "session_started", "scenario": {"id": "x"}}\n', "key 'scenario."),
        ('{"type": "session_started"}\nnot json\n{"type": "note"}\n', ":2: not valid JSON"),
    ],
)
def test_broken_transcripts_raise_a_clear_error(tmp_path, content, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(TranscriptError) as caught:
        read_run(path)
    assert words in str(caught.value) and "bad.jsonl" in str(caught.value)


# --- through the real engine ----------------------------------------------------------------


def test_engine_transcript_scores_delegation_for_the_doer_and_clocks_from_awareness(tmp_path):
    from factories import make_expectation, make_inject, make_scenario, make_session

    from tabletop.model import AvoidRule

    scn = make_scenario(
        [make_inject("alert", 0), make_inject("confirmed", "2h", marks=["aware"])],
        duration="80h",
        expectations=[
            make_expectation("contained", "contain", "1h", owner="technical_lead"),
            make_expectation(
                "ico",
                "ico_decision",
                "72h",
                after="marker:aware",
                owner="dpo",
                regime="uk_gdpr",
                source="UK GDPR Art 33(1)",
            ),
        ],
        avoid=[AvoidRule(id="coord-hands-on", role="coordinator", actions=["contain"])],
    )
    session = make_session(tmp_path, scn, name="run.jsonl")
    session.run_until(600)
    task = session.decide(
        "coordinator", "contain", by="P-coordinator", delegate_to="technical_lead", timebox="15m"
    )
    session.run_until(1500)
    session.complete_task(task["id"], by="P-technical_lead")
    session.run_until(73 * 3600)  # 73h after the alert, 71h after awareness
    session.decide("dpo", "ico_decision", by="P-dpo", fields={"outcome": "notify"}, rationale="risk likely")
    live = score(session.scenario, session.events, until=session.now)
    session.run_to_end()
    session.writer.close()

    _, card, warnings = score_transcript(tmp_path / "run.jsonl")
    contained = card.result("contained")
    assert (contained.status, contained.by, contained.delegated_by, contained.delegation_seconds) == (
        "met",
        "technical_lead",
        "coordinator",
        900,
    )
    assert card.findings == ()
    ico = card.result("ico")
    assert (ico.status, ico.anchor) == ("met", 7200)
    assert card.clocks[0].status == "met" and card.score == 1.0
    assert live.score == card.score and [r.status for r in live.expectations] == ["met", "met"]
    assert not any("session_ended" in w for w in warnings)


def test_embedded_scenarios_that_differ_deep_down_are_never_confused(tmp_path):
    # same id, seed and values (the cache's fingerprint); only an expectation's `within` differs
    events = [decision(1200, "appoint_coordinator"), ended(3600)]
    tight = scenario(expectations=[{"id": "coord", "action": "appoint_coordinator", "within": "15m"}])
    loose = scenario(expectations=[{"id": "coord", "action": "appoint_coordinator", "within": "30m"}])
    statuses = []
    for round_ in range(3):  # seen once, then cached, then served from the cache
        for name, scn in (("tight", tight), ("loose", loose)):
            path = write_transcript(tmp_path / f"{name}-{round_}.jsonl", scn, events)
            run = read_run(path)
            statuses.append((name, score(run.scenario, run.events).result("coord").status))
            run.events[0]["scenario"]["expectations"][0]["within"] = 1  # a caller scribbling on its copy
    assert statuses == [("tight", "late"), ("loose", "met")] * 3
