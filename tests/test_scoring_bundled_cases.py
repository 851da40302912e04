"""Known answers on the bundled scenarios: a score rewards what a good team does.

Each case is built from the scenario's own good-run script, changed the way a gaming, a
sloppy or an honest team would change it, and scored with the exact number it must get
(README, "How a rehearsal is scored").
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tabletop.clock import VirtualClock
from tabletop.engine import Participant, Session
from tabletop.loader import load_scenario
from tabletop.model import Scenario
from tabletop.scoring import OPEN, PREMATURE_FINDING, Scorecard, score
from tabletop.script import DecisionScript, ScriptEntry, load_script, play
from tabletop.sessions import open_session

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "data" / "scripts"


def scenario(scenario_id: str) -> Scenario:
    return load_scenario(ROOT / "scenarios" / f"{scenario_id}.yaml")


def good(s: Scenario) -> DecisionScript:
    return load_script(SCRIPTS / f"{s.id}-good.yaml", s)


def run(
    s: Scenario, script: DecisionScript, tmp_path: Path, *, end_at: float | None = None, solo: bool = False
) -> tuple[Session, Scorecard]:
    """Play the script headless; with `end_at` the facilitator ends the session there."""
    player = [p for p in script.participants if p.role == "coordinator"][:1] if solo else script.participants
    session = open_session(
        s,
        mode="solo" if solo else "simulate",
        players=[Participant(p.name, p.role) for p in player],
        solo_role="coordinator" if solo else None,
        clock=VirtualClock(),
        transcript=tmp_path / "run.jsonl",
        fsync=False,
        start=True,
    ).session
    try:
        if end_at is not None:
            script = replace(script, entries=tuple(e for e in script.entries if e.at <= end_at))
        play(session, script, to_end=end_at is None)
        if end_at is not None:
            if session.now < end_at:
                session.run_until(end_at)
            session.end()
    finally:
        session.writer.close()
    return session, score(s, session.events)


def without(script: DecisionScript, *actions: str) -> DecisionScript:
    return replace(script, entries=tuple(e for e in script.entries if e.action not in actions))


def plus(script: DecisionScript, *extra: ScriptEntry) -> DecisionScript:
    return replace(script, entries=tuple(sorted([*script.entries, *extra], key=lambda e: (e.at, e.index))))


def entry(index: int, at: float, role: str, action: str, fields: dict, rationale: str = "") -> ScriptEntry:
    return ScriptEntry(
        index=index,
        line=0,
        at_text=str(at),
        role=role,
        action=action,
        fields=fields,
        rationale=rationale,
        at=int(at),
    )


def minute_one(s: Scenario, script: DecisionScript) -> DecisionScript:
    """Every action the scenario expects, recorded once at T+1m by whoever the good run had do it."""
    wanted = {e.action for e in s.expectations}
    first: dict[str, ScriptEntry] = {}
    for e in script.entries:
        if e.action and e.action not in first:
            first[e.action] = e
    entries = [
        replace(e, at=60, role=e.delegate or e.role, delegate=None, timebox=None)
        for a, e in first.items()
        if a in wanted
    ]
    return replace(script, entries=tuple(sorted(entries, key=lambda e: e.index)))


FOLLOW_UPS = (
    "open_incident_channel",
    "status_update",
    "record_decision",
    "internal_update",
    "schedule_postmortem",
)
"""What the coordination rubric anchors on `action:declare_incident`."""


# --- gaming ------------------------------------------------------------------------------------------


def test_recording_every_expected_action_at_minute_one_is_premature_not_perfect(tmp_path):
    s = scenario("suspected-breach")
    _, card = run(s, minute_one(s, good(s)), tmp_path)
    assert card.score == pytest.approx(0.3091, abs=1e-4)
    assert card.rating == "U" and card.caps  # and the regulatory clocks it pretended to meet are missed
    premature = {f.action for f in card.findings if f.id == PREMATURE_FINDING}
    assert {"media_statement", "reassess_breach", "handover", "close_incident"} <= premature


# --- follow-ups cannot be dodged -------------------------------------------------------------------


def test_never_declaring_scores_below_declaring_and_missing_the_follow_ups(tmp_path):
    s = scenario("suspected-breach")
    _, never = run(s, without(good(s), "declare_incident", *FOLLOW_UPS), tmp_path / "never")
    _, declared = run(s, without(good(s), *FOLLOW_UPS), tmp_path / "declared")
    assert never.score == pytest.approx(0.7870, abs=1e-4) and never.rating == "S"
    assert declared.score == pytest.approx(0.8241, abs=1e-4) and declared.rating == "S"
    follow = [r for r in never.expectations if r.after == "action:declare_incident"]
    assert follow and all(r.status == "missed" and r.anchor_derived for r in follow)


def test_never_classifying_a_major_incident_scores_below_reporting_late_but_honestly(tmp_path):
    s = scenario("ransomware-payments-dora")
    script = good(s)
    reports = sorted({e.action for e in script.entries if e.action and e.action.startswith("dora_")})
    _, never = run(s, without(script, "classify_major_incident", *reports), tmp_path / "never")
    classified = next(e for e in script.entries if e.action == "classify_major_incident")
    initial = next(e for e in script.entries if e.action == "dora_initial_report")
    late = replace(initial, at=classified.at + 6 * 3600)  # 2 hours after the 4-hour clock
    honest = replace(
        script,
        entries=tuple(
            sorted([late if e is initial else e for e in script.entries], key=lambda e: (e.at, e.index))
        ),
    )
    _, reported = run(s, honest, tmp_path / "late")
    assert never.score == pytest.approx(0.8163, abs=1e-4) and never.rating == "S"
    assert reported.score == pytest.approx(0.9792, abs=1e-4) and reported.rating == "S"
    assert reported.result("dora-initial-after-classification").status == "late"
    assert never.result("dora-initial-after-classification").status == "missed"


# --- the decision in force --------------------------------------------------------------------------


def test_a_provisional_ico_decision_revised_on_awareness_is_judged_on_the_revision(tmp_path):
    s = scenario("lost-admin-account")
    script = good(s)
    final = next(e for e in script.entries if e.action == "ico_decision")
    aware = next(i for i in s.injects if "aware" in i.marks)
    provisional = entry(
        900,
        aware.at + 300,
        final.role,
        "ico_decision",
        {"outcome": "not_notify"},
        "Provisional: unclear yet whether the export was protected; reassess once confirmed",
    )
    _, card = run(s, plus(script, provisional), tmp_path)
    right = card.result("ico-right-call")
    assert (right.status, right.credit, right.flags, len(right.revised)) == ("met", 1.0, (), 1)
    assert card.score == 1.0 and card.rating == "P"


def test_a_suspected_breach_recorded_at_first_suspicion_then_closed_as_no_breach_meets_the_record(tmp_path):
    s = scenario("incident-coordinator-rehearsal")
    script = good(s)
    final = next(e for e in script.entries if e.action == "record_breach")
    involved = next(e for e in script.entries if e.action == "involve_dpo")
    first = entry(
        901, involved.at + 300, final.role, "record_breach", {**final.fields, "status": "suspected"}
    )
    _, card = run(s, plus(script, first), tmp_path)
    recorded = card.result("suspicion-recorded")
    assert (recorded.status, recorded.credit, len(recorded.revised)) == ("met", 1.0, 1)
    assert card.findings == () and card.score == 1.0


# --- open at an early end ---------------------------------------------------------------------------


def test_ending_before_the_72_hours_leaves_the_notification_decision_open(tmp_path):
    s = scenario("suspected-breach")
    script = without(good(s), "ico_decision", "notify_ico", "data_subject_decision")
    _, card = run(s, script, tmp_path, end_at=27 * 3600 + 1800)
    ico = card.result("uk-gdpr-processor-ico-decision")
    assert (ico.status, ico.deadline) == (OPEN, 70 * 60 + 72 * 3600)
    assert card.score == 1.0 and card.coverage == pytest.approx(0.9815, abs=1e-4) and card.ended_early


def test_ending_at_29m46s_leaves_the_dpo_open_not_missed(tmp_path):
    s = scenario("suspected-breach")
    _, card = run(s, without(good(s), "involve_dpo"), tmp_path, end_at=29 * 60 + 46)
    assert (card.result("breach-dpo-in").status, card.result("breach-dpo-in").deadline) == (OPEN, 1800)
    assert card.score == 1.0 and card.coverage == pytest.approx(0.3958, abs=1e-4)


# --- the law caps the rating ------------------------------------------------------------------------


def test_never_deciding_on_the_ico_cannot_rate_p(tmp_path):
    s = scenario("lost-admin-account")
    _, card = run(s, without(good(s), "ico_decision", "notify_ico"), tmp_path)
    assert card.score == pytest.approx(0.9375, abs=1e-4)
    assert card.rating == "S" and card.ratings["notification"] == "M"
    overall = card.caps[-1]
    assert (overall.area, overall.uncapped, overall.clocks) == (None, "P", ("uk-gdpr-ico-decision",))


# --- solo practice scores the player's own work -----------------------------------------------------


def test_solo_coordinator_is_scored_on_their_work_not_the_teams(tmp_path):
    s = scenario("suspected-breach")
    script = good(s)
    own = replace(script, entries=tuple(e for e in script.entries if e.role == "coordinator"))
    _, card = run(s, own, tmp_path, solo=True)
    assert card.score == pytest.approx(0.7571, abs=1e-4) and card.rating == "S"
    assert (card.applicable, len(card.teammates())) == (19, 17)
    assert card.result("solo-involve-dpo").status == "met"  # involve_dpo brings the DPO in
