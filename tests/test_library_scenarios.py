"""The rehearsal library: every bundled scenario validates, can be met (a scripted good run scores 1.0) and can be failed (an empty run scores 0)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tabletop.clock import VirtualClock
from tabletop.engine import Session
from tabletop.loader import load_scenario
from tabletop.model import KINDS, Scenario
from tabletop.script import DecisionScript, load_script, play
from tabletop.scoring import Scorecard, score
from tabletop.transcript import TranscriptWriter

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SCRIPTS = ROOT / "tests" / "data" / "scripts"

# The rehearsals the guidance names (DESIGN.md), each with the kind that carries it.
REHEARSAL_KINDS = {
    "tabletop incident exercise": "tabletop",
    "restore rehearsal": "restore",
    "failover rehearsal": "failover",
    "restore runbook rehearsal": "restore-runbook",
    "failover runbook rehearsal": "failover-runbook",
    "lost admin account": "lost-admin-account",
    "data subject request": "data-subject-request",
    "customer notification": "customer-notification",
    "incident coordinator rehearsal": "incident-coordinator",
    "post-mortem rehearsal on a realistic timeline": "post-mortem",
    "recovery from a temporary manual infrastructure change": "manual-change-recovery",
    "reconciliation of emergency changes back into IaC": "iac-reconciliation",
}


def scenario_ids() -> list[str]:
    return [path.stem for path in SCENARIOS]


def run(scenario: Scenario, script: DecisionScript | None, folder: Path) -> tuple[Session, Scorecard]:
    """Play a script (or nothing) headless in virtual time to the end; score the transcript."""
    writer = TranscriptWriter.open(folder / f"{scenario.id}.jsonl")
    participants = script.participants if script else ()
    session = Session(scenario, writer, clock=VirtualClock(), participants=participants, mode="simulate")
    session.start()
    try:
        if script is not None:
            play(session, script)
        else:
            session.run_to_end()
    finally:
        writer.close()
    return session, score(scenario, session.events)


def good_script(scenario: Scenario) -> DecisionScript:
    path = SCRIPTS / f"{scenario.id}-good.yaml"
    assert path.exists(), f"no good-run decision script for {scenario.id} at {path}"
    return load_script(path, scenario)


def without(script: DecisionScript, action: str) -> DecisionScript:
    """The same script with every decision of one action left out."""
    return replace(script, entries=tuple(e for e in script.entries if e.action != action))


# --- the library as a whole ------------------------------------------------------------------


def test_at_least_twelve_scenarios_over_at_least_eight_kinds():
    kinds = {load_scenario(path).kind for path in SCENARIOS}
    assert len(SCENARIOS) >= 12
    assert len(kinds) >= 8


def test_every_named_rehearsal_has_a_scenario():
    kinds = {load_scenario(path).kind for path in SCENARIOS}
    missing = [name for name, kind in REHEARSAL_KINDS.items() if kind not in kinds]
    assert missing == []
    assert set(REHEARSAL_KINDS.values()) <= set(KINDS)


# --- each scenario ---------------------------------------------------------------------------


@pytest.fixture(params=scenario_ids())
def scenario(request) -> Scenario:
    return load_scenario(ROOT / "scenarios" / f"{request.param}.yaml")


def test_scripted_good_run_scores_one(scenario, tmp_path):
    session, card = run(scenario, good_script(scenario), tmp_path)
    report = card.to_json()
    short = [
        (e["id"], e["status"], e["flags"])
        for e in report["expectations"]
        if e["status"] not in ("met", "not_applicable") or e["flags"]
    ]
    assert short == [] and report["findings"] == []
    assert report["score"] == 1.0
    assert report["applicable"] >= 8
    assert session.ended


def test_empty_run_scores_zero(scenario, tmp_path):
    _, card = run(scenario, None, tmp_path)
    report = card.to_json()
    assert report["score"] == 0
    assert report["passed"] == 0
    assert report["applicable"] > 0
    assert all(e["status"] in ("missed", "not_applicable") for e in report["expectations"])


def test_good_run_releases_the_decision_branch_and_not_the_missed_one(scenario, tmp_path):
    session, _ = run(scenario, good_script(scenario), tmp_path)
    released = set(session.released)
    done_branches = [i.id for i in scenario.injects if i.when and i.when.kind == "done"]
    missed_branches = [i.id for i in scenario.injects if i.when and i.when.kind == "missed"]
    assert done_branches and missed_branches
    assert any(branch in released for branch in done_branches)
    assert not any(branch in released for branch in missed_branches)


def test_empty_run_releases_a_missed_branch(scenario, tmp_path):
    session, _ = run(scenario, None, tmp_path)
    missed_branches = [i.id for i in scenario.injects if i.when and i.when.kind == "missed"]
    assert any(branch in session.released for branch in missed_branches)


def test_scenario_is_written_like_the_first_three(scenario):
    assert len(scenario.injects) >= 8
    assert len(scenario.phases) >= 2 and all(p.questions for p in scenario.phases)
    assert any(i.advance_to is not None for i in scenario.injects)
    assert scenario.hotwash
    assert scenario.starts_at is not None
    answered = {r.from_ for r in scenario.responses}
    assert set(scenario.roles) - {"coordinator"} <= answered
    assert any(rule.role == "coordinator" or rule.role is None for rule in scenario.avoid)
    if scenario.context.data_positions:
        assert scenario.regimes, "personal data is involved but no regime clock runs"
