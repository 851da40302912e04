"""Known answers for each scoring rule of the README's "How a rehearsal is scored", on small scenarios."""

from __future__ import annotations

import json

import pytest
from scoring_cases import ACTIONS, decision, ended, marker, released, scenario, write_transcript

from tabletop.scoring import (
    PREMATURE_FINDING,
    RULES_VERSION,
    open_if_ended,
    read_run,
    score,
    score_transcript,
)


def catalog(**early: str) -> list[dict]:
    """The test catalog with `early` set on some actions (`involve_dpo="allowed"`)."""
    return [{**a, "early": early[a["id"]]} if a["id"] in early else dict(a) for a in ACTIONS]


def stopped(t: float, reason: str = "facilitator") -> dict:
    return {"type": "session_ended", "t": t, "reason": reason}


def started(mode: str = "team", solo_role: str | None = None, **extra) -> dict:
    """A session_started line as the engine writes it (without the embedded scenario)."""
    return {
        "type": "session_started",
        "t": 0,
        "mode": mode,
        "solo_role": solo_role,
        "conditions": {"mode": mode, "hints": False, "auto_pause": False, "speed": 60},
        "rules_version": RULES_VERSION,
        **extra,
    }


# --- rule 1 and 3: anchors mean something; early action only where it is good practice -----------

JOURNALIST = [{"id": "alert"}, {"id": "journalist", "at": 3600}]
HOLDING = [
    {"id": "coord", "action": "appoint_coordinator", "within": "15m", "weight": 2},
    {"id": "holding", "action": "customer_comms", "after": "inject:journalist", "within": "1h", "weight": 2},
]


def test_a_statement_before_anyone_asked_does_not_count_and_is_premature():
    events = [
        decision(60, "appoint_coordinator"),
        decision(120, "customer_comms", role="comms_owner"),
        released(3600, "journalist"),
        ended(7200),
    ]
    card = score(scenario(expectations=HOLDING, injects=JOURNALIST), events)
    holding = card.result("holding")
    assert (holding.status, holding.anchor, holding.deadline) == ("missed", 3600, 7200)
    assert "recorded only before inject journalist (at T+2m)" in holding.reason
    (finding,) = card.findings
    assert (finding.id, finding.at, finding.penalty, finding.action) == (
        PREMATURE_FINDING,
        120,
        1,
        "customer_comms",
    )
    assert card.score == pytest.approx((2 - 1) / 4)  # coord met 2, holding 0, premature -1


def test_saying_it_again_once_asked_meets_it_but_the_premature_one_stays_a_finding():
    events = [
        decision(60, "appoint_coordinator"),
        decision(120, "customer_comms", role="comms_owner"),
        released(3600, "journalist"),
        decision(3700, "customer_comms", role="comms_owner"),
        ended(7200),
    ]
    card = score(scenario(expectations=HOLDING, injects=JOURNALIST), events)
    assert card.result("holding").status == "met" and card.result("holding").done_at == 3700
    assert card.result("holding").revised == ()  # the early one never counted, so it was not revised
    assert [f.id for f in card.findings] == [PREMATURE_FINDING]
    assert card.score == pytest.approx((4 - 1) / 4)


def test_early_allowed_in_the_catalog_meets_before_the_anchor_without_a_finding():
    exps = [{"id": "dpo-in", "action": "involve_dpo", "after": "inject:ticket", "within": "30m"}]
    events = [decision(60, "involve_dpo"), released(1200, "ticket"), ended(7200)]
    injects = [{"id": "alert"}, {"id": "ticket", "at": 1200}]
    card = score(scenario(expectations=exps, injects=injects, actions=catalog(involve_dpo="allowed")), events)
    assert (card.result("dpo-in").status, card.result("dpo-in").done_at) == ("met", 60)
    assert card.findings == () and card.score == 1.0
    # the same decision under the default catalog: not met, and premature
    card = score(scenario(expectations=exps, injects=injects), events)
    assert card.result("dpo-in").status == "missed"
    assert [f.id for f in card.findings] == [PREMATURE_FINDING] and card.score == 0.0


def test_an_expectation_can_refuse_the_early_action_its_catalog_allows():
    exps = [
        {
            "id": "scope",
            "action": "preserve_evidence",
            "after": "marker:aware",
            "within": "1h",
            "early": "not_allowed",
        },
        {"id": "coord", "action": "appoint_coordinator", "within": "15m"},
    ]
    events = [
        decision(60, "appoint_coordinator"),
        decision(120, "preserve_evidence", role="technical_lead"),
        marker(600, "aware"),
        ended(7200),
    ]
    card = score(
        scenario(expectations=exps, actions=catalog(preserve_evidence="allowed")),
        events,
    )
    assert card.result("scope").status == "missed"
    assert card.findings == ()  # the catalog allows preserving evidence early: no finding
    assert card.score == 0.5


def test_a_decision_at_its_anchor_counts_and_is_not_premature():
    events = [released(3600, "journalist"), decision(3600, "customer_comms", role="comms_owner"), ended(7200)]
    card = score(scenario(expectations=HOLDING[1:], injects=JOURNALIST), events)
    assert card.result("holding").status == "met" and card.findings == ()


# --- rule 2: a duty not done starts what follows from it ------------------------------------------

DECLARE = [
    {"id": "declare", "action": "declare_incident", "within": "20m", "weight": 2},
    {
        "id": "update",
        "action": "status_update",
        "after": "action:declare_incident",
        "within": "30m",
        "weight": 2,
    },
]


def test_never_declaring_costs_the_declaration_and_what_follows_from_it():
    card = score(scenario(expectations=DECLARE), [ended(7200)])
    update = card.result("update")
    assert (update.status, update.anchor, update.deadline, update.anchor_derived) == (
        "missed",
        1200,
        3000,
        True,
    )
    assert "its clock started at T+20m, when action declare_incident was due and not done" in update.reason
    assert card.score == 0.0 and card.applicable == 2


def test_declaring_and_missing_the_follow_up_scores_more_than_never_declaring():
    declared = score(scenario(expectations=DECLARE), [decision(300, "declare_incident"), ended(7200)])
    never = score(scenario(expectations=DECLARE), [ended(7200)])
    assert (declared.score, never.score) == (0.5, 0.0)


def test_a_late_duty_does_not_postpone_what_follows():
    events = [decision(1800, "declare_incident"), decision(2000, "status_update"), ended(7200)]
    card = score(scenario(expectations=DECLARE), events)
    assert card.result("declare").status == "late"
    update = card.result("update")
    assert (update.status, update.anchor, update.deadline) == ("met", 1200, 3000)
    assert card.score == pytest.approx((1 + 2) / 4)


def test_a_missed_duty_that_sets_a_marker_starts_the_marker_clocks():
    exps = [
        {
            "id": "confirm",
            "action": "confirm_personal_data_breach",
            "after": "inject:forensics",
            "within": "1h",
            "weight": 2,
        },
        {"id": "ico", "action": "ico_decision", "after": "marker:aware", "within": "72h", "weight": 3},
    ]
    injects = [{"id": "alert"}, {"id": "forensics", "at": 3600}]
    events = [released(3600, "forensics"), ended(80 * 3600)]
    card = score(scenario(expectations=exps, injects=injects, duration="80h"), events)
    ico = card.result("ico")
    assert (ico.status, ico.anchor, ico.deadline) == ("missed", 7200, 7200 + 72 * 3600)
    assert card.score == 0.0
    decided = [
        *events[:1],
        decision(10 * 3600, "ico_decision", role="dpo", fields={"outcome": "notify"}, rationale="risk"),
        events[-1],
    ]
    card = score(scenario(expectations=exps, injects=injects, duration="80h"), decided)
    assert card.result("ico").status == "met" and card.score == pytest.approx(3 / 5)


def test_an_anchor_nobody_expected_leaves_its_expectation_not_applicable():
    exp = [{"id": "verify", "action": "verify_rpo_rto", "after": "action:restore_backup", "within": "30m"}]
    card = score(scenario(expectations=exp), [ended(7200)])
    assert card.result("verify").status == "not_applicable"
    assert "no expectation called for it" in card.result("verify").reason


# --- rule 3: the decision in force is graded; revisions are not penalised -------------------------

RIGHT_CALL = [
    {
        "id": "right-call",
        "action": "ico_decision",
        "after": "marker:aware",
        "within": "72h",
        "value": {"outcome": "notify"},
    }
]


def ico(t: float, outcome: str, rationale: str = "reasoned") -> dict:
    return decision(t, "ico_decision", role="dpo", fields={"outcome": outcome}, rationale=rationale)


def test_a_provisional_decision_revised_in_time_is_judged_on_the_revision():
    events = [marker(600, "aware"), ico(1200, "not_notify"), ico(3000, "notify"), ended(80 * 3600)]
    card = score(scenario(expectations=RIGHT_CALL), events)
    result = card.result("right-call")
    assert (result.status, result.flags, result.credit, result.done_at) == ("met", (), 1.0, 3000)
    assert result.revised == (("d1200-ico_decision", 1200),)
    assert card.to_json()["expectations"][0]["revised"] == [{"decision": "d1200-ico_decision", "at": 1200}]
    assert card.score == 1.0


def test_a_decision_after_the_deadline_never_replaces_the_one_in_force():
    events = [marker(600, "aware"), ico(1200, "notify"), ico(73 * 3600, "not_notify"), ended(80 * 3600)]
    result = score(scenario(expectations=RIGHT_CALL), events).result("right-call")
    assert (result.status, result.done_at, result.flags) == ("met", 1200, ())


def test_with_nothing_in_force_the_first_late_decision_is_graded():
    events = [marker(600, "aware"), ico(73 * 3600, "not_notify"), ico(74 * 3600, "notify"), ended(80 * 3600)]
    result = score(scenario(expectations=RIGHT_CALL), events).result("right-call")
    assert (result.status, result.done_at, result.flags, result.credit) == (
        "late",
        73 * 3600,
        ("wrong_value",),
        0.0,
    )


def test_a_suspected_breach_recorded_early_then_closed_as_no_breach_is_judged_on_the_record_in_force():
    exps = [
        {
            "id": "recorded",
            "action": "record_breach",
            "after": "inject:source-found",
            "within": "2h",
            "weight": 2,
            "value": {"status": "not_a_breach"},
        }
    ]
    injects = [{"id": "alert"}, {"id": "source-found", "at": 4800}]
    events = [
        decision(600, "record_breach", role="dpo", fields={"status": "suspected"}),
        released(4800, "source-found"),
        decision(6600, "record_breach", role="dpo", fields={"status": "not_a_breach"}),
        ended(20000),
    ]
    card = score(
        scenario(expectations=exps, injects=injects, actions=catalog(record_breach="allowed")), events
    )
    result = card.result("recorded")
    assert (result.status, result.flags, result.revised) == ("met", (), (("d600-record_breach", 600),))
    assert card.findings == () and card.score == 1.0


# --- rule 4: open at an early end, coverage, not rated ---------------------------------------------

DPO_AND_COORD = [
    {"id": "coord", "action": "appoint_coordinator", "within": "15m", "weight": 3},
    {"id": "dpo-in", "action": "involve_dpo", "within": "30m", "weight": 2},
]


def test_ended_before_a_deadline_by_the_facilitator_leaves_it_open_and_out_of_the_score():
    card = score(scenario(expectations=DPO_AND_COORD), [decision(300, "appoint_coordinator"), stopped(1786)])
    dpo = card.result("dpo-in")
    assert (dpo.status, dpo.deadline) == ("open", 1800)
    assert "due by T+30m, after the session stopped at T+29m46s" in dpo.reason
    assert (card.score, card.applicable, card.open_weight, card.coverage) == (1.0, 1, 2, pytest.approx(3 / 5))
    assert card.to_json()["coverage"] == 0.6 and card.ended_early


def test_a_run_to_its_full_duration_misses_what_it_did_not_do():
    scn = scenario(expectations=DPO_AND_COORD, duration="29m46s")
    card = score(scn, [decision(300, "appoint_coordinator"), stopped(1786, "duration")])
    assert card.result("dpo-in").status == "missed"
    assert (card.score, card.coverage) == (pytest.approx(3 / 5), 1.0)


def test_an_early_end_leaves_the_clocks_of_injects_still_to_come_open():
    exps = [
        {"id": "coord", "action": "appoint_coordinator", "within": "15m", "weight": 3},
        {
            "id": "confirm",
            "action": "confirm_personal_data_breach",
            "after": "inject:forensics",
            "within": "1h",
            "weight": 2,
        },
        {"id": "ico", "action": "ico_decision", "after": "marker:aware", "within": "72h", "weight": 3},
    ]
    injects = [{"id": "alert"}, {"id": "forensics", "at": 7200, "marks": ["aware"]}]
    scn = scenario(expectations=exps, injects=injects, duration="80h")
    card = score(scn, [decision(300, "appoint_coordinator"), stopped(3600)])
    assert [(r.id, r.status, r.anchor, r.deadline) for r in card.expectations] == [
        ("coord", "met", 0, 900),
        ("confirm", "open", 7200, 10800),
        ("ico", "open", 7200, 7200 + 72 * 3600),
    ]
    assert card.coverage == pytest.approx(3 / 8)
    # the end dialog's list is the same rule applied as if ended now
    listed = open_if_ended(scn, [decision(300, "appoint_coordinator")], 3600)
    assert [r.id for r in listed] == ["confirm", "ico"]


def test_with_no_scored_weight_a_run_is_not_rated_never_100_percent():
    card = score(scenario(expectations=DPO_AND_COORD), [stopped(60)])
    assert (card.rated, card.score_text(), card.rating, card.coverage) == (False, "not rated", "-", 0.0)
    data = card.to_json()
    assert (data["score"], data["rated"], data["rating"]) == (None, False, "-")


def test_a_live_score_and_an_unfinished_transcript_leave_future_deadlines_open():
    events = [decision(300, "appoint_coordinator")]
    live = score(scenario(expectations=DPO_AND_COORD), events, until=1000)
    assert [r.status for r in live.expectations] == ["met", "open"] and not live.ended
    unfinished = score(scenario(expectations=DPO_AND_COORD), events)
    assert [r.status for r in unfinished.expectations] == ["met", "open"]
    assert any("no session_ended" in w for w in unfinished.warnings)


# --- rule 9: a missed or late regulatory clock caps the rating -----------------------------------

CLOCKED = [
    {"id": "coord", "action": "appoint_coordinator", "within": "15m", "weight": 20},
    {
        "id": "uk-ico",
        "action": "ico_decision",
        "after": "marker:aware",
        "within": "72h",
        "weight": 2,
        "late_credit": 1.0,
        "regime": "uk_gdpr",
        "source": "UK GDPR Art 33(1)",
        "title": "ICO decision within 72 hours",
    },
]


def test_a_late_regulatory_clock_caps_its_area_at_m_and_the_whole_at_s():
    events = [
        decision(60, "appoint_coordinator"),
        marker(600, "aware"),
        ico(80 * 3600, "notify"),
        ended(90 * 3600),
    ]
    card = score(scenario(expectations=CLOCKED, duration="90h"), events)
    assert card.score == 1.0  # late credit 1: every point earned, but the law was broken
    assert (card.rating, card.ratings["notification"], card.ratings["coordination"]) == ("S", "M", "P")
    area, overall = card.caps
    assert (area.area, area.ceiling, area.uncapped, area.clocks) == ("notification", "M", "P", ("uk-ico",))
    assert (overall.area, overall.ceiling, overall.uncapped) == (None, "S", "P")
    assert "ICO decision within 72 hours (UK GDPR Art 33(1)) was late" in area.text
    assert card.to_json()["caps"][1]["ceiling"] == "S"


def test_a_rating_already_below_the_cap_stays_and_a_met_clock_caps_nothing():
    events = [marker(600, "aware"), ended(90 * 3600)]  # coordinator and clock both missed
    card = score(scenario(expectations=CLOCKED, duration="90h"), events)
    assert (card.rating, card.ratings["notification"]) == ("U", "U")
    assert [c.uncapped for c in card.caps] == ["U", "U"]
    met = [decision(60, "appoint_coordinator"), marker(600, "aware"), ico(3600, "notify"), ended(90 * 3600)]
    card = score(scenario(expectations=CLOCKED, duration="90h"), met)
    assert (card.rating, card.caps) == ("P", ())


# --- rule 10: solo practice scores the player's own work and bringing the team in ----------------

SOLO_EXPECTATIONS = [
    {"id": "coord", "action": "appoint_coordinator", "within": "15m", "weight": 3},
    {"id": "assess", "action": "assess_personal_data", "owner": "dpo", "within": "1h", "weight": 2},
]
SOLO_RESPONSES = [{"on": "involve_dpo", "from": "dpo", "after": "5m", "title": "DPO joins"}]


def solo_scenario():
    return scenario(expectations=SOLO_EXPECTATIONS, responses=SOLO_RESPONSES)


def test_solo_scores_the_players_role_and_bringing_in_the_teammate():
    events = [
        started("solo", "coordinator"),
        decision(300, "appoint_coordinator"),
        decision(600, "involve_dpo"),
        decision(1200, "assess_personal_data", role="dpo", by="Dpo (simulated)"),
        ended(14400),
    ]
    card = score(solo_scenario(), events)
    involve = card.result("solo-involve-dpo")
    assert (involve.status, involve.done_at, involve.deadline, involve.weight, involve.scope) == (
        "met",
        600,
        3600,
        2,
        "yours",
    )
    assert card.result("assess").scope == "teammates" and card.result("assess").status == "met"
    assert (card.score, card.applicable, card.weight_total, card.solo_role) == (1.0, 2, 5, "coordinator")


def test_a_solo_run_that_brings_nobody_in_scores_only_its_own_work():
    events = [
        started("solo", "coordinator"),
        decision(300, "appoint_coordinator"),
        decision(4200, "assess_personal_data", role="dpo", by="Dpo (simulated)"),  # the team, late
        ended(14400),
    ]
    card = score(solo_scenario(), events)
    assert card.result("solo-involve-dpo").status == "missed"
    assert card.result("assess").status == "late"  # shown as the team's, never in the score
    assert card.score == pytest.approx(3 / 5)


def test_bringing_a_teammate_in_after_their_first_deadline_is_late_and_delegation_counts():
    delegation = {
        "type": "delegation",
        "t": 5000,
        "id": "g1",
        "role": "coordinator",
        "by": "Sam",
        "to_role": "dpo",
        "action": "assess_personal_data",
        "fields": {},
        "rationale": "",
        "inject": None,
        "timebox": 600,
    }
    events = [started("solo", "coordinator"), decision(300, "appoint_coordinator"), delegation, ended(14400)]
    card = score(solo_scenario(), events)
    assert (card.result("solo-involve-dpo").status, card.result("solo-involve-dpo").credit) == ("late", 0.5)
    assert card.score == pytest.approx((3 + 1) / 5)


def test_an_empty_solo_run_scores_zero():
    card = score(solo_scenario(), [started("solo", "coordinator"), ended(14400)])
    assert (card.score, card.rated, card.passed) == (0.0, True, 0)


def test_a_teammates_own_findings_never_enter_the_solo_score_but_a_delegated_one_does():
    avoid = [{"id": "dpo-hands-on", "role": "dpo", "actions": ["contain"], "penalty": 1}]
    scn = scenario(expectations=SOLO_EXPECTATIONS[:1], avoid=avoid)
    own = [
        started("solo", "coordinator"),
        decision(60, "appoint_coordinator"),
        decision(100, "contain", role="dpo"),
    ]
    assert score(scn, [*own, ended(600)]).findings == ()
    delegated = decision(
        200, "contain", role="dpo", delegated_by="coordinator", delegation="g1", delegated_at=100
    )
    card = score(scn, [*own[:2], delegated, ended(600)])
    assert [f.id for f in card.findings] == ["dpo-hands-on"] and card.score == pytest.approx(2 / 3)


# --- rule 11: like with like ------------------------------------------------------------------------


def test_the_scorecard_carries_the_conditions_and_rules_version_of_the_run(tmp_path):
    scn = scenario(expectations=DPO_AND_COORD[:1])
    path = write_transcript(
        tmp_path / "run.jsonl",
        scn,
        [decision(60, "appoint_coordinator"), ended(600)],
        started={
            "mode": "solo",
            "solo_role": "coordinator",
            "conditions": {"mode": "solo", "hints": True, "auto_pause": False, "speed": 30},
        },
    )
    _, card, warnings = score_transcript(path)
    data = card.to_json()
    assert data["conditions"] == {"mode": "solo", "hints": True, "auto_pause": False, "speed": 30}
    assert (data["rules_version"], data["scored_with"], warnings) == (RULES_VERSION, RULES_VERSION, [])


def test_a_run_played_under_older_rules_says_its_number_is_computed_under_these(tmp_path):
    scn = scenario(expectations=DPO_AND_COORD[:1])
    path = write_transcript(
        tmp_path / "old.jsonl",
        scn,
        [decision(60, "appoint_coordinator"), ended(600)],
        started={"rules_version": None, "conditions": None},
    )
    _, card, warnings = score_transcript(path)
    assert card.rules_version == 1 and card.conditions is None
    assert any(
        "played under scoring rules version 1" in w and f"version {RULES_VERSION}" in w for w in warnings
    )
    assert json.loads(path.read_text().splitlines()[0])["rules_version"] is None
    assert read_run(path).scenario == scn


def test_a_premature_decision_starts_no_clock_and_unlocks_nothing():
    # confirming awareness at minute one does not open the 72-hour window for decisions made
    # before the facts arrive: the premature confirmation anchors nothing and sets no marker
    exps = [
        {
            "id": "confirm",
            "action": "confirm_personal_data_breach",
            "after": "inject:forensics",
            "within": "1h",
            "weight": 2,
        },
        {"id": "ico", "action": "ico_decision", "after": "marker:aware", "within": "72h", "weight": 3},
        {"id": "notify", "action": "notify_ico", "within": "80h", "requires": ["ico_decision"]},
    ]
    injects = [{"id": "alert"}, {"id": "forensics", "at": 3600, "marks": ["aware"]}]
    scn = scenario(expectations=exps, injects=injects, duration="80h")
    events = [
        decision(60, "confirm_personal_data_breach", role="dpo", rationale="sure"),
        marker(60, "aware", source="action:confirm_personal_data_breach"),  # what the engine records
        ico(60, "notify"),
        decision(120, "notify_ico", role="dpo"),
        released(3600, "forensics"),
        ended(80 * 3600),
    ]
    card = score(scn, events)
    assert [(r.id, r.status, r.anchor) for r in card.expectations] == [
        ("confirm", "missed", 3600),
        ("ico", "missed", 3600),
        ("notify", "met", 0),
    ]
    assert card.result("notify").flags == ("out_of_order",)  # a premature decision satisfies no requirement
    assert [f.id for f in card.findings] == [PREMATURE_FINDING, PREMATURE_FINDING]


def test_in_solo_a_teammates_own_work_never_meets_the_players_expectation():
    exps = [{"id": "evidence", "action": "preserve_evidence", "owner": "any", "within": "1h", "weight": 2}]
    own = decision(600, "preserve_evidence", role="technical_lead", teammate="x")
    card = score(scenario(expectations=exps), [started("solo", "coordinator"), own, ended(7200)])
    assert card.result("evidence").status == "missed" and card.score == 0.0
    handed = decision(
        600, "preserve_evidence", role="technical_lead", delegated_by="coordinator", delegated_at=300
    )
    card = score(scenario(expectations=exps), [started("solo", "coordinator"), handed, ended(7200)])
    assert card.result("evidence").status == "met" and card.score == 1.0


def test_a_hundred_scenarios_in_turn_are_each_indexed_once(monkeypatch):
    """Transcripts of a hundred scenarios scored in turn (a folder of them) build the scorer's
    lookups once per scenario, not again every time the cache fills (it kept 32)."""
    from tabletop import clocks, scoring
    from tabletop.model import SCENARIOS_KEPT

    built: list[int] = []
    real = clocks.ClockIndex

    class Counting(real):
        def __init__(self, scenario):
            built.append(id(scenario))
            super().__init__(scenario)

    monkeypatch.setattr(clocks, "ClockIndex", Counting)
    monkeypatch.setattr(clocks, "_INDEXES", {})
    monkeypatch.setattr(scoring, "_PREPARED", {})
    base = scenario()
    many = [base.model_copy() for _ in range(100)]
    assert len(many) <= SCENARIOS_KEPT
    for _ in range(3):
        for each in many:
            clocks.clock_index(each)
            scoring._prepared(each)
    assert len(built) == len(many)
    assert len(scoring._PREPARED) == len(many)
