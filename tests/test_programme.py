"""The rehearsal programme, known answers on 18 months of generated rehearsals by three teams.

The folder is generated once per test process by tests/programme_support.py (its docstring
tells the story every number below follows from). The day is injected: 2026-07-01 unless a
test says otherwise.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from programme_support import build_programme_folder

from tabletop.programme.config import Programme, find_programme, load_programme, parse_interval
from tabletop.programme.folder import read_folder
from tabletop.programme.status import Run, programme_status

AS_OF = date(2026, 7, 1)
COUNTED = [
    "B1", "R1", "B2", "G1", "R2", "B3", "G2", "R3", "B4", "G3", "R4", "B5", "B6", "R5", "G4", "B7",
]  # fmt: skip


@pytest.fixture(scope="session")
def made(tmp_path_factory):
    return build_programme_folder(tmp_path_factory.mktemp("programme"))


@pytest.fixture(scope="session")
def data(made):
    return read_folder(made.folder, workers=1)


@pytest.fixture(scope="session")
def status(data):
    return data.status(AS_OF)


def followup_names(made) -> dict[str, str]:
    actions = ("declare_incident", "contain", "restore_backup", "failover")
    return {made.followup(run, action): f"{run}:{action}" for run in made.first_hashes for action in actions}


# --- what counts ------------------------------------------------------------------------------


def test_only_verified_team_rehearsals_that_ended_count_and_the_rest_say_why(made, status):
    assert [run.path for run in status.counted] == [made.relative(name) for name in COUNTED]
    assert {run.path: reason for run, reason in status.excluded} == {
        made.relative("X4"): "forged: a signature or the hash chain fails",
        made.relative("X5"): "team 'purple' is not in the programme",
        made.relative("X1"): "solo practice: not a team rehearsal",
        made.relative("X2"): "a scripted simulate run: not a team rehearsal",
        made.relative("G5"): "signed with a key this reader does not trust",
        made.relative("X6"): "never ended (no session_ended)",
    }
    # B8 started after the day the programme is judged on: neither counted nor excluded
    assert made.relative("B8") not in {r.path for r in status.counted} | {r.path for r, _ in status.excluded}


def test_trust_is_judged_when_the_programme_is_read_not_when_the_index_was_built(made, data):
    from tabletop.keys import trusted_keys

    extra = made.root / "stranger-trusted"
    extra.write_text(made.keys["stranger"].public.line() + "\n")
    trusting = trusted_keys(made.folder, extra)
    status = programme_status(data.programme, data.runs, data.register, as_of=AS_OF, trust=trusting)
    assert made.relative("G5") in {run.path for run in status.counted}
    green_failover = next(s for s in status.schedule if (s.team, s.kind) == ("green", "failover"))
    assert (str(green_failover.last.day), green_failover.overdue) == ("2026-06-09", False)


# --- the schedule -------------------------------------------------------------------------------


def test_rehearsals_per_team_and_kind_last_run_score_rating_next_due_and_overdue(status):
    rows = [
        (
            s.team,
            s.kind,
            s.every,
            s.runs,
            str(s.last.day) if s.last else None,
            s.last.score if s.last else None,
            s.last.rating if s.last else None,
            str(s.next_due),
            s.overdue,
            s.days_overdue,
            s.change,
        )
        for s in status.schedule
    ]
    assert rows == [
        ("blue", "tabletop", "1y", 2, "2026-01-13", 1.0, "P", "2027-01-13", False, 0, 0.2),
        ("blue", "restore", "6mo", 4, "2026-05-19", 1.0, "P", "2026-11-19", False, 0, 0.0),
        ("blue", "failover", "1y", 1, "2025-06-17", 0.4, "M", "2026-06-17", True, 14, None),
        ("red", "tabletop", "1y", 1, "2025-08-12", 0.6, "M", "2026-08-12", False, 0, None),
        ("red", "restore", "6mo", 4, "2026-03-10", 0.6, "M", "2026-09-10", False, 0, -0.4),
        ("green", "tabletop", "1y", 1, "2025-10-21", 0.8, "S", "2026-10-21", False, 0, None),
        ("green", "restore", "6mo", 2, "2026-04-14", 1.0, "P", "2026-10-14", False, 0, 0.0),
        ("green", "failover", "1y", 1, "2025-04-01", 1.0, "P", "2026-04-01", True, 91, None),
    ]  # red rehearses tabletop and restore only: no failover row


def test_coverage_now_and_at_the_end_of_each_month(status):
    assert status.coverage == 0.75
    assert [(str(day), value) for day, value in status.coverage_history] == [
        ("2025-01-31", 0.125), ("2025-02-28", 0.25), ("2025-03-31", 0.375), ("2025-04-30", 0.5),
        ("2025-05-31", 0.5), ("2025-06-30", 0.625), ("2025-07-31", 0.75), ("2025-08-31", 0.875),
        ("2025-09-30", 0.875), ("2025-10-31", 1.0), ("2025-11-30", 1.0), ("2025-12-31", 1.0),
        ("2026-01-31", 0.875), ("2026-02-28", 0.875), ("2026-03-31", 0.875), ("2026-04-30", 0.875),
        ("2026-05-31", 0.875), ("2026-06-30", 0.75), ("2026-07-01", 0.75),
    ]  # fmt: skip


# --- follow-ups ---------------------------------------------------------------------------------


def test_follow_ups_open_and_closed_with_how_when_and_by_whom(made, status):
    names = followup_names(made)
    found = {
        names[f.id]: (
            f.team,
            f.owner_role,
            str(f.raised),
            str(f.due),
            f.age,
            f.open,
            f.days_overdue,
            str(f.closed) if f.closed else None,
            f.closed_how,
            f.closed_by,
        )
        for f in status.followups
    }
    assert found == {
        "B1:declare_incident": ("blue", "incident_lead", "2025-01-14", "2025-02-13", 364, False, 0, "2026-01-13",
                                "the steps it came from were met again", ""),
        "R1:declare_incident": ("red", "incident_lead", "2025-02-04", "2025-03-06", 91, False, 0, "2025-05-06",
                                "the steps it came from were met again", ""),
        "B3:declare_incident": ("blue", "service_owner", "2025-06-17", "2025-07-17", 379, True, 349, None, "", ""),
        "B3:failover": ("blue", "technical_lead", "2025-06-17", "2025-07-17", 238, False, 0, "2026-02-10",
                        "closed in a rehearsal", "Lena Brandt (incident_lead)"),
        "R3:contain": ("red", "technical_lead", "2025-08-12", "2025-09-11", 111, False, 0, "2025-12-01",
                       "closed by a manager", "Dana Manager"),
        "B4:restore_backup": ("blue", "technical_lead", "2025-09-09", "2025-10-09", 154, False, 0, "2026-02-10",
                              "the steps it came from were met again", ""),
        "G3:declare_incident": ("green", "incident_lead", "2025-10-21", "2025-11-20", 253, True, 223, None, "", ""),
        "R5:restore_backup": ("red", "technical_lead", "2026-03-10", "2026-04-09", 113, True, 83, None, "", ""),
    }  # fmt: skip


def test_open_follow_ups_by_age_and_by_owner(made, status):
    names = followup_names(made)
    assert [names[f.id] for f in status.open_followups] == [
        "B3:declare_incident",
        "G3:declare_incident",
        "R5:restore_backup",
    ]
    assert {owner: [names[f.id] for f in items] for owner, items in status.open_by_owner().items()} == {
        "incident_lead": ["G3:declare_incident"],
        "service_owner": ["B3:declare_incident"],
        "technical_lead": ["R5:restore_backup"],
    }
    assert status.open_by_age() == [
        ("up to 30 days", 0),
        ("31-90 days", 0),
        ("91-180 days", 1),
        ("over 180 days", 2),
    ]


def test_closings_that_do_not_count_are_listed_with_the_reason(made, status):
    by_id = {f.id: f for f in status.followups}
    assert by_id[made.followup("R3", "contain")].claims == [
        {"path": made.relative("X1"), "by": "Lena Brandt", "reason": "solo practice: not a team rehearsal"}
    ]
    stranger = made.keys["stranger"].public.fingerprint
    assert by_id[made.followup("G3", "declare_incident")].claims == [
        {
            "path": made.relative("B6"),
            "by": "Lena Brandt",
            "reason": "recorded by team blue; only a rehearsal of team green closes it",
        },
        {
            "path": "followups.register",
            "by": "Eve Stranger",
            "reason": f"signed with a key the reader does not trust ({stranger})",
        },
    ]
    reowned = by_id[made.followup("B3", "declare_incident")].owners
    assert reowned == [
        {
            "date": "2026-03-01",
            "from": "incident_lead",
            "to": "service_owner",
            "why": "The service owner runs the declaration criteria review",
            "by": "Dana Manager",
        }
    ]


def test_follow_up_ids_are_the_drafts_ids_and_the_same_on_every_read(made, data):
    from tabletop.report import build_postmortem, render_report
    from tabletop.scoring import score
    from tabletop.transcript import read_run

    run = read_run(made.paths["B3"])
    card = score(run.scenario, run.events)
    first = build_postmortem(run.scenario, run.events, card)
    again = build_postmortem(run.scenario, run.events, score(run.scenario, run.events))
    ids = [item.id for item in first.improvement_plan]
    assert ids == [item.id for item in again.improvement_plan]
    assert ids == [made.followup("B3", "declare_incident"), made.followup("B3", "failover")]
    assert [(i.owner_role, i.due_date, i.action_id, i.expectations) for i in first.improvement_plan] == [
        ("incident_lead", "2025-07-17", "declare_incident", ("declare",)),
        ("technical_lead", "2025-07-17", "failover", ("fix",)),
    ]
    markdown = render_report(first, "md")
    assert f"| {ids[0]} | Write the declaration criteria" in markdown


# --- risks ----------------------------------------------------------------------------------


def test_risks_per_team_with_levels_review_dates_and_the_company_register(status):
    rows = [
        (
            r.team, r.title, r.inherent, r.residual, r.lowers, r.likelihood_mitigation, r.impact_mitigation,
            r.treatment, str(r.review_date), r.past_review, r.material, r.material_why, r.records,
            str(r.first_recorded),
        )
        for r in status.risks
    ]  # fmt: skip
    assert rows == [
        ("blue", "Admin tokens never expire", "High", "Moderate", "likelihood", "Tokens expire after 30 days", "",
         "accept", "2026-12-31", False, False, "", 2, "2025-01-14"),
        ("green", "Customer export unreviewed", "Moderate", "Low", "both", "Exports need a second approver",
         "Exports hold pseudonymised ids only", "accept", "2026-01-19", True, True,
         "regulatory duty: UK GDPR Art 33(5)", 1, "2025-10-21"),
        ("red", "Single region database", "Very High", "High", "likelihood", "A warm standby in a second region",
         "", "remediate", "None", False, True, "High is High or above", 1, "2025-08-12"),
    ]  # fmt: skip
    assert [r.title for r in status.past_review] == ["Customer export unreviewed"]
    assert [r.title for r in status.material] == ["Customer export unreviewed", "Single region database"]


def test_a_stricter_rule_sends_more_risks_to_the_company_register(data):
    rule = data.programme.risk_register.material_when.model_copy(
        update={"residual_at_least": "Moderate", "regulatory_duty": False}
    )
    programme = data.programme.model_copy(
        update={"risk_register": data.programme.risk_register.model_copy(update={"material_when": rule})}
    )
    status = programme_status(programme, data.runs, data.register, as_of=AS_OF, trust=data.trust)
    assert [(r.title, r.material_why) for r in status.material] == [
        ("Admin tokens never expire", "Moderate is Moderate or above"),
        ("Single region database", "High is Moderate or above"),
    ]


# --- the stage ------------------------------------------------------------------------------


def test_the_stage_the_evidence_supports_and_what_is_missing_for_the_next(made, status):
    late = ", ".join(
        sorted(
            [
                made.followup("B3", "declare_incident"),
                made.followup("G3", "declare_incident"),
                made.followup("R5", "restore_backup"),
            ]
        )
    )
    assert status.supported is None
    assert status.next_stage.stage.id == "pre_production"
    assert list(status.next_stage.missing) == [
        "blue: failover: last run 2025-06-17, due 2025-09-17 (every 3mo)",
        "red: restore: last run 2026-03-10, due 2026-06-10 (every 3mo)",
        "green: failover: last run 2025-04-01, due 2025-07-01 (every 3mo)",
        f"3 follow-up(s) open past their due date: {late}",
    ]
    assert status.declared.stage.id == "production" and not status.declared.met
    assert list(status.declared.missing) == [
        "blue: failover: last run 2025-06-17, due 2026-06-17 (every 1y)",
        "green: failover: last run 2025-04-01, due 2026-04-01 (every 1y)",
        f"3 follow-up(s) open past their due date: {late}",
        "1 accepted risk(s) past their review date: green: Customer export unreviewed",
    ]
    scaling = status.stages[2]
    assert "red: tabletop: last run rated M, needs S or better" in scaling.missing
    assert (
        scaling.missing[-1]
        == "1 material risk(s) without an owner and a review date: red: Single region database"
    )


def test_a_stage_the_evidence_meets_is_the_one_it_supports(made, data, tmp_path):
    path = tmp_path / "programme.yaml"
    path.write_text(
        "stage: better\n"
        "teams: [{id: blue}, {id: red, kinds: [tabletop, restore]}, {id: green}]\n"
        "stages:\n"
        "  - {id: basic, rehearsals: [{kind: tabletop, every: 2y}]}\n"
        "  - id: better\n"
        "    rehearsals: [{kind: tabletop, every: 1y}, {kind: restore, every: 6mo}]\n"
        "    requires: [{check: followups_on_time}]\n"
    )
    status = programme_status(load_programme(path), data.runs, data.register, as_of=AS_OF, trust=data.trust)
    assert status.supported.stage.id == "basic"
    assert status.next_stage.stage.id == "better"
    assert [m.split(":")[0] for m in status.next_stage.missing] == ["3 follow-up(s) open past their due date"]
    assert status.coverage == 1.0


def test_the_day_is_injected_later_and_earlier(made, data):
    later = data.status(date(2026, 8, 1))
    assert made.relative("B8") in {run.path for run in later.counted}
    failover = next(s for s in later.schedule if (s.team, s.kind) == ("blue", "failover"))
    assert (str(failover.last.day), failover.overdue, failover.change) == ("2026-07-10", False, 0.6)
    assert later.coverage == 0.875
    earlier = data.status(date(2025, 12, 15))
    by_id = {f.id: f for f in earlier.followups}
    assert by_id[made.followup("R3", "contain")].closed == date(2025, 12, 1)  # the register closed it
    assert by_id[made.followup("B3", "declare_incident")].owner_role == "incident_lead"  # not re-owned yet
    assert by_id[made.followup("G3", "declare_incident")].claims == []  # B6 was later
    # blue's acceptance is reviewed by 2025-12-31, green's 90 days run to 2026-01-19
    assert earlier.past_review == []
    assert [r.title for r in data.status(date(2026, 1, 10)).past_review] == ["Admin tokens never expire"]
    assert data.status(date(2026, 1, 13)).past_review == []  # B5 accepted it again, to 2026-12-31


# --- like with like, on hand-made facts ------------------------------------------------------


def _run(path: str, day: str, *, rules: int = 1, score: float = 1.0, **facts) -> Run:
    base = {
        "status": "verified",
        "signers": [],
        "mode": "team",
        "team": "blue",
        "kind": "restore",
        "scenario": "drill-restore",
        "started": f"{day}T09:30:00.000Z",
        "ended": True,
        "rules_version": rules,
        "score": score,
        "rating": "P" if score >= 0.9 else "M",
        "followups": [],
        "closes": [],
        "met": [],
        "not_met": [],
        "risks": [],
    }
    base.update(facts)
    return Run(path, "0" * 64, base)


def _programme() -> Programme:
    return Programme.model_validate(
        {
            "stage": "only",
            "teams": [{"id": "blue"}],
            "stages": [{"id": "only", "rehearsals": [{"kind": "restore", "every": "1y"}]}],
        }
    )


FOLLOWUP = {
    "id": "FU-000000000001",
    "text": "Write the restore runbook",
    "owner_role": "technical_lead",
    "due_date": "2025-02-01",
    "action": "restore_backup",
    "expectations": ["fix"],
}


def test_scores_are_compared_only_under_the_same_rules_version():
    runs = [_run("a.jsonl", "2025-01-01", score=0.4), _run("b.jsonl", "2025-06-01", rules=2, score=1.0)]
    item = programme_status(_programme(), runs, as_of=date(2025, 7, 1)).schedule[0]
    assert item.change is None and item.previous_score is None
    assert item.compared == (
        "not compared: the previous run was played under scoring rules version 1, the last under 2"
    )


def test_meeting_the_steps_again_under_other_rules_or_with_a_flag_does_not_close():
    raised = _run("a.jsonl", "2025-01-01", score=0.6, followups=[FOLLOWUP])
    other_rules = _run("b.jsonl", "2025-03-01", rules=2, met=["fix"])
    flagged = _run("c.jsonl", "2025-04-01", not_met=["fix"])  # met with a flag is not met again
    not_applied = _run("d.jsonl", "2025-05-01")
    status = programme_status(
        _programme(), [raised, other_rules, flagged, not_applied], as_of=date(2025, 7, 1)
    )
    assert status.followups[0].open
    met = _run("e.jsonl", "2025-06-01", met=["fix"])
    status = programme_status(
        _programme(), [raised, other_rules, flagged, not_applied, met], as_of=date(2025, 7, 1)
    )
    assert (str(status.followups[0].closed), status.followups[0].closed_in) == ("2025-06-01", "e.jsonl")


def test_solo_simulate_and_unsigned_runs_never_close_a_follow_up():
    raised = _run("a.jsonl", "2025-01-01", followups=[FOLLOWUP])
    closing = {"id": FOLLOWUP["id"], "by": "Sam", "role": "incident_lead", "evidence": "done"}
    others = [
        _run("solo.jsonl", "2025-02-01", mode="solo", closes=[closing]),
        _run("simulate.jsonl", "2025-02-02", mode="simulate", closes=[closing]),
        _run("unsigned.jsonl", "2025-02-03", status="unsigned", closes=[closing]),
        _run("red.jsonl", "2025-02-04", team="red", closes=[closing]),
    ]
    programme = _programme().model_copy(
        update={"teams": [*_programme().teams, _programme().teams[0].model_copy(update={"id": "red"})]}
    )
    status = programme_status(programme, [raised, *others], as_of=date(2025, 7, 1))
    followup = status.followups[0]
    assert followup.open
    assert [c["reason"] for c in followup.claims] == [
        "recorded by team red; only a rehearsal of team blue closes it",
        "solo practice: not a team rehearsal",
        "a scripted simulate run: not a team rehearsal",
        "unsigned: no signature, so not evidence",
    ]
    closed = programme_status(
        programme, [raised, _run("team.jsonl", "2025-03-01", closes=[closing])], as_of=date(2025, 7, 1)
    )
    assert (closed.followups[0].closed_how, closed.followups[0].closed_by) == (
        "closed in a rehearsal",
        "Sam (incident_lead)",
    )


def test_a_follow_up_the_team_wrote_itself_is_due_on_its_own_date():
    own = dict(FOLLOWUP, id="FU-000000000002", due_date="2025-01-20", expectations=[], action="")
    status = programme_status(
        _programme(), [_run("a.jsonl", "2025-01-01", followups=[own])], as_of=date(2025, 1, 25)
    )
    assert (str(status.followups[0].due), status.followups[0].days_overdue) == ("2025-01-20", 5)


# --- the programme file ---------------------------------------------------------------------


def test_intervals_count_calendar_months_and_years():
    assert parse_interval("3mo").after(date(2025, 11, 30)) == date(2026, 2, 28)
    assert parse_interval("1y").after(date(2024, 2, 29)) == date(2025, 2, 28)
    assert parse_interval("6w").after(date(2025, 1, 1)) == date(2025, 2, 12)
    assert parse_interval("1y6mo").months == 18
    for bad in ("3 months", "0d", "", "11y", "mo"):
        with pytest.raises(ValueError, match="interval"):
            parse_interval(bad)


def test_the_nearest_programme_file_governs_a_folder(made, tmp_path):
    assert find_programme(made.folder / "blue") == made.root / "programme.yaml"
    bundled = find_programme(tmp_path)
    assert bundled is not None and bundled.name == "programme.yaml"
    assert load_programme(bundled).stage == "pre_production"


def test_the_review_index_keeps_the_facts_and_sees_a_signed_end(made):
    from tabletop.review.index import TranscriptIndex

    with TranscriptIndex(made.folder) as index:
        index.refresh()  # the folder may not have been indexed yet (this test run on its own)
        rows = {e.path: e for e in index.entries()}
        facts = index.programme_facts()
    assert rows[made.relative("B1")].ended and not rows[made.relative("X6")].ended
    assert facts[made.relative("B1")]["followups"][0]["id"] == made.followup("B1", "declare_incident")
    assert facts[made.relative("X1")]["mode"] == "solo"


def test_json_output_is_plain_data(status):
    import json

    data = json.loads(json.dumps(status.to_json()))
    assert data["stage"]["supported"] is None and data["stage"]["next"] == "pre_production"
    assert (
        data["followups"]["open"] == 3
        and data["followups"]["closed"] == 5
        and data["followups"]["overdue"] == 3
    )
    assert data["followups"]["by_age"] == {
        "up to 30 days": 0,
        "31-90 days": 0,
        "91-180 days": 1,
        "over 180 days": 2,
    }
    assert [t["id"] for t in data["teams"]] == ["blue", "red", "green"]
    assert len(data["runs"]["counted"]) == 16 and len(data["runs"]["excluded"]) == 6
    assert [r["title"] for r in data["risks"]["company_register"]] == [
        "Customer export unreviewed",
        "Single region database",
    ]


def test_the_bundled_programme_names_every_kind_yearly_and_restore_and_failover_quarterly_first():
    from tabletop.model import KINDS

    programme = load_programme(find_programme(None))
    first, production = programme.stages[0], programme.stage_index("production")
    assert {(r.kind, r.every) for r in first.rehearsals} >= {("restore", "3mo"), ("failover", "3mo")}
    assert {r.kind for r in programme.stages[production].rehearsals} == set(KINDS)
    assert all(r.every == "1y" for r in programme.stages[production].rehearsals)
    assert [s.id for s in programme.stages] == ["pre_production", "production", "scaling"]


def test_a_folder_that_is_not_one_says_so(tmp_path):
    from tabletop.programme.folder import ProgrammeError

    with pytest.raises(ProgrammeError, match="no such folder of transcripts"):
        read_folder(tmp_path / "missing")
    assert Path(tmp_path).is_dir()
