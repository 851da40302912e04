"""The rehearsal library: every bundled scenario validates, can be met (a scripted good run scores 1.0) and can be failed (an empty run scores 0)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tabletop.clock import VirtualClock
from tabletop.engine import Session
from tabletop.loader import load_scenario
from tabletop.model import KINDS, Scenario
from tabletop.scoring import Scorecard, score
from tabletop.script import DecisionScript, load_script
from tabletop.sessions import open_session, run_script

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SCRIPTS = ROOT / "tests" / "data" / "scripts"

# The rehearsals the README names, each with the kind that carries it.
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


def run(
    scenario: Scenario, script: DecisionScript | None, folder: Path, *, solo: bool = False
) -> tuple[Session, Scorecard]:
    """Play a script (or nothing) headless in virtual time to the end; score the transcript.

    `solo` (or a script with `mode: solo`) plays the coordinator alone against simulated teammates.
    """
    solo = solo or (script is not None and script.mode == "solo")
    participants = script.participants if script else ()
    session = open_session(
        scenario,
        mode="solo" if solo else "simulate",
        solo_role="coordinator" if solo else None,
        players=participants,
        clock=VirtualClock(),
        transcript=folder / f"{scenario.id}.jsonl",
        start=True,
    ).session
    if script is not None:
        run_script(session, script)
    else:
        try:
            session.run_to_end()
        finally:
            session.writer.close()
    return session, score(scenario, session.events)


def good_script(scenario: Scenario, kind: str = "good") -> DecisionScript:
    path = SCRIPTS / f"{scenario.id}-{kind}.yaml"
    assert path.exists(), f"no {kind}-run decision script for {scenario.id} at {path}"
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


def test_coordinator_alone_solo_good_run_scores_one(scenario, tmp_path):
    """Solo: the coordinator's own work and bringing each simulated teammate in, all on time."""
    script = good_script(scenario, "solo")
    assert script.mode == "solo" and [p.role for p in script.participants] == ["coordinator"]
    session, card = run(scenario, script, tmp_path)
    report = card.to_json()
    short = [
        (e["id"], e["status"], e["flags"])
        for e in report["expectations"]
        if e["scope"] == "yours" and (e["status"] not in ("met", "not_applicable") or e["flags"])
    ]
    assert short == [] and report["findings"] == []
    assert report["score"] == 1.0 and report["solo_role"] == "coordinator"
    involve = [e for e in report["expectations"] if e["id"].startswith("solo-involve-")]
    assert involve and all(e["status"] == "met" for e in involve)
    assert all(
        e["role"] == "coordinator" or e.get("delegated_by") == "coordinator" or e.get("teammate")
        for e in session.events
        if e["type"] == "decision"
    )


def test_solo_empty_run_scores_zero(scenario, tmp_path):
    session, card = run(scenario, None, tmp_path, solo=True)
    report = card.to_json()
    assert report["score"] == 0 and report["passed"] == 0 and report["rated"]
    assert all(
        e["status"] in ("missed", "not_applicable") for e in report["expectations"] if e["scope"] == "yours"
    )
    # the simulated teammates still did their own work, late: shown as the team's, never scored
    assert any(e.get("teammate") for e in session.events if e["type"] == "decision") == bool(card.teammates())


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


# --- each kind's rubric fails the way that kind should ---------------------------------------


def load(scenario_id: str) -> tuple[Scenario, DecisionScript]:
    scenario = load_scenario(ROOT / "scenarios" / f"{scenario_id}.yaml")
    return scenario, good_script(scenario)


def edited(script: DecisionScript, action: str, **changes) -> DecisionScript:
    """The script with the first decision of `action` changed (fields are merged)."""
    entries = list(script.entries)
    index = next(n for n, e in enumerate(entries) if e.action == action)
    if "fields" in changes:
        changes["fields"] = {**entries[index].fields, **changes["fields"]}
    entries[index] = replace(entries[index], **changes)
    return replace(script, entries=tuple(sorted(entries, key=lambda e: (e.at, e.index))))


def results(card: Scorecard) -> dict[str, dict]:
    return {e["id"]: e for e in card.to_json()["expectations"]}


@pytest.mark.parametrize("scenario_id", ["restore-runbook-rehearsal", "failover-runbook-rehearsal"])
def test_runbook_that_ignores_the_stop_condition_is_out_of_order(scenario_id, tmp_path):
    scenario, script = load(scenario_id)
    session, card = run(scenario, without(script, "halt_runbook"), tmp_path)
    found = results(card)
    assert found["stop-honoured"]["status"] == "missed"
    ordered = [r for r in found.values() if "out_of_order" in r["flags"]]
    assert ordered, "a step taken without the halt must be flagged out of order"
    assert any(i.when and i.when.kind == "missed" and i.id in session.released for i in scenario.injects)
    assert card.to_json()["score"] < 0.9


def test_restore_rehearsal_recording_a_pass_is_a_wrong_value(tmp_path):
    scenario, script = load("restore-rehearsal")
    _, card = run(scenario, edited(script, "verify_rpo_rto", fields={"result": "pass"}), tmp_path)
    assert results(card)["rpo-rto-recorded"]["flags"] == ["wrong_value"]
    assert results(card)["rpo-rto-recorded"]["credit"] == 0


def test_restore_rehearsal_without_the_risk_register_entry(tmp_path):
    scenario, script = load("restore-rehearsal")
    _, card = run(scenario, edited(script, "record_risk", fields={"register": False}), tmp_path)
    assert results(card)["risk-registered"]["flags"] == ["wrong_value"]


def test_a_coordinator_who_restores_gets_a_finding(tmp_path):
    scenario, script = load("restore-rehearsal")
    _, card = run(scenario, edited(script, "restore_backup", role="coordinator"), tmp_path)
    report = card.to_json()
    assert [f["id"] for f in report["findings"]] == ["coordinator-restores"]
    assert results(card)["restore-run"]["flags"] == ["wrong_owner"]


def test_data_subject_request_answered_after_a_month_is_late_on_the_statutory_clock(tmp_path):
    scenario, script = load("data-subject-request")
    _, card = run(scenario, edited(script, "respond_to_subject_request", at=32 * 86400), tmp_path)
    found = results(card)
    clock = found["uk-gdpr-dsr-response"]
    # received Mon 2 Feb 2026 09:00: due on the corresponding date, Mon 2 Mar 2026, end of day
    assert clock["status"] in ("late", "missed") and clock["deadline"] == 28 * 86400 + 15 * 3600 - 1
    assert found["pack-sent"]["status"] in ("late", "missed")


def test_data_subject_request_extension_without_complexity_is_a_finding(tmp_path):
    from tabletop.script import ScriptEntry

    scenario, script = load("data-subject-request")
    extension = ScriptEntry(
        index=999,
        line=0,
        at_text="day 10 12:00",
        role="dpo",
        action="extend_subject_request",
        fields={"extension": "two_months", "subject_told": True},
        rationale="Lots of redaction",
        at=scenario.injects[0].at + 8 * 86400 + 3 * 3600,
    )
    longer = replace(script, entries=tuple(sorted([*script.entries, extension], key=lambda e: e.at)))
    session, card = run(scenario, longer, tmp_path)
    assert "extension-complaint" in session.released
    assert [f["id"] for f in card.to_json()["findings"]] == ["unjustified-extension"]


def test_customer_notification_past_the_contract_clock_is_late(tmp_path):
    scenario, script = load("customer-notification")
    late = edited(script, "notify_controller", at=30 * 3600)
    _, card = run(scenario, late, tmp_path)
    clock = results(card)["uk-gdpr-notify-controller"]
    assert clock["status"] == "late"
    assert clock["deadline"] - clock["anchor"] == 24 * 3600


def test_processor_deciding_for_the_controller_is_wrong_and_notifying_the_ico_a_finding(tmp_path):
    from tabletop.script import ScriptEntry

    scenario, script = load("customer-notification")
    overreach = ScriptEntry(
        index=998,
        line=0,
        at_text="T+2h",
        role="executive",
        action="notify_ico",
        fields={"reference": "ICO-1"},
        rationale="Get ahead of it",
        at=7200,
    )
    entries = [
        e if e.action != "ico_decision" else replace(e, fields={"outcome": "notify"}) for e in script.entries
    ]
    _, card = run(
        scenario,
        replace(script, entries=tuple(sorted([*entries, overreach], key=lambda e: e.at))),
        tmp_path,
    )
    # README, "Who decides on notification": a processor records that the controller decides
    assert [f["id"] for f in card.to_json()["findings"]] == ["processor-notifies-ico"]
    assert results(card)["uk-gdpr-processor-ico-decision"]["flags"] == ["wrong_value"]


def test_post_mortem_scores_the_risk_language(tmp_path):
    scenario, script = load("post-mortem-rehearsal")
    muddled = edited(script, "record_risk", fields={"mitigation_lowers": "impact"})
    muddled = edited(muddled, "record_mitigation", fields={"lowers": "likelihood"})
    muddled = edited(muddled, "record_contributing_factors", fields={"blameless": False})
    _, card = run(scenario, muddled, tmp_path)
    found = results(card)
    assert found["risk-recorded"]["flags"] == ["wrong_value"]
    assert found["impact-mitigation"]["flags"] == ["wrong_value"]
    assert found["factors"]["flags"] == ["wrong_value"]
    assert found["on-the-register"]["status"] == "met" and not found["on-the-register"]["flags"]


def test_residual_risk_accepted_by_the_wrong_role(tmp_path):
    scenario, script = load("post-mortem-rehearsal")
    _, card = run(scenario, edited(script, "accept_risk", role="incident_lead"), tmp_path)
    assert results(card)["residual-owned"]["flags"] == ["wrong_owner"]


@pytest.mark.parametrize("scenario_id", ["iac-reconciliation", "manual-infrastructure-change"])
def test_manual_change_work_is_not_done_until_the_temporary_fix_is_removed(scenario_id, tmp_path):
    scenario, script = load(scenario_id)
    _, card = run(scenario, without(script, "remove_temporary_fix"), tmp_path)
    found = results(card)
    closing = next(r for r in found.values() if r["action"] == "close_incident")
    assert "out_of_order" in closing["flags"]
    assert found["infra-remove-fix"]["status"] == "missed"


def test_dora_initial_report_runs_on_both_clocks_and_nis2_does_not_apply(tmp_path):
    from tabletop.script import ScriptEntry

    scenario, script = load("ransomware-payments-dora")
    late = edited(script, "dora_initial_report", at=8 * 3600)  # classified at T+1h: due at T+5h
    nis2 = ScriptEntry(
        index=997,
        line=0,
        at_text="T+6h",
        role="incident_lead",
        action="nis2_early_warning",
        fields={"suspected_malicious": True, "cross_border": False},
        at=6 * 3600,
    )
    late = replace(late, entries=tuple(sorted([*late.entries, nis2], key=lambda e: e.at)))
    _, card = run(scenario, late, tmp_path)
    found = results(card)
    assert found["dora-initial-after-classification"]["status"] == "late"
    assert found["dora-initial-awareness-cap"]["status"] == "met"  # 24 hours from awareness not yet past
    assert [f["id"] for f in card.to_json()["findings"]] == ["nis2-for-a-financial-entity"]
