"""One deadline rule: the engine's branches, the solo hints, the live score and the scorecard agree.

The DORA final report runs one calendar month from the LATEST intermediate report, to the end
of that day in Brussels. A run with two intermediate reports and no final report shows the same
due time in the player's hint (read from the live score), on the final scorecard, and when the
engine releases the branch that waits for the clock to be missed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tabletop.clock import VirtualClock
from tabletop.engine import Session
from tabletop.loader import load_scenario
from tabletop.model import Condition, Inject, Scenario, action_anchor, expectation_deadline
from tabletop.scoring import score
from tabletop.transcript import TranscriptWriter
from tabletop.ui.widgets.scorecard import open_deadlines

DAY = 86400
CAST = [
    {"name": "Dana", "role": "incident_lead"},
    {"name": "Alex", "role": "coordinator"},
]


def _scenario() -> Scenario:
    """The payments scenario without its time jumps, long enough for the final report to fall due,
    with a branch waiting for that clock to be missed."""
    scenario = load_scenario("ransomware-payments-dora")
    injects = [i.model_copy(update={"advance_to": None}) for i in scenario.injects]
    chase = Inject(
        id="final-report-chased",
        when=Condition(missed="dora-final"),
        title="The supervisor asks where the final report is",
        channel="email",
        to=["incident_lead"],
    )
    return scenario.model_copy(update={"duration": 60 * DAY, "injects": [*injects, chase]})


def _session(scenario: Scenario, folder: Path) -> Session:
    writer = TranscriptWriter.open(folder / "run.jsonl")
    session = Session(scenario, writer, clock=VirtualClock(), participants=CAST, mode="simulate")
    session.start()
    return session


def _decide(session: Session, t: float, action: str, fields: dict[str, object]) -> None:
    session.run_until(t)
    record = session.decide("incident_lead", action, by="Dana", fields=fields, rationale="as the facts stand")
    assert record["t"] == t


def test_hint_scorecard_and_branch_share_the_final_reports_due_time(tmp_path):
    scenario = _scenario()
    final = scenario.expectation("dora-final")
    assert final.from_latest and final.months == 1 and final.day_end
    session = _session(scenario, tmp_path)
    _decide(session, 3600, "classify_major_incident", {"criteria_met": "clients, duration"})
    _decide(session, 2 * 3600, "dora_initial_report", {"authority": "Central Bank of Ireland"})
    _decide(session, 2 * DAY, "dora_intermediate_report", {"status": "ongoing"})
    _decide(session, 5 * DAY, "dora_intermediate_report", {"status": "recovered"})

    # one month from the second intermediate report (Sun 15 Nov 2026), to the end of the day in Brussels
    starts = scenario.starts_at.replace(tzinfo=ZoneInfo("Europe/Brussels"))
    due = (datetime(2026, 12, 15, 23, 59, 59, tzinfo=ZoneInfo("Europe/Brussels")) - starts).total_seconds()
    from_first = expectation_deadline(scenario, final, 2 * DAY)
    assert expectation_deadline(scenario, final, 5 * DAY) == due and from_first < due

    # the solo hint, read from the live score a week later
    now = 12 * DAY
    session.run_until(now)
    live = score(scenario, session.events, until=now)
    hints = {row["id"]: row for row in open_deadlines(scenario, live.to_json(), "incident_lead")}
    assert hints["dora-final"]["deadline"] == due

    # the branch waiting for the clock is not released at the deadline counted from the first report
    session.run_until(from_first + 60)
    assert "final-report-chased" not in session.released
    session.run_to_end()
    chased = next(e for e in session.events if e.get("inject") == "final-report-chased")
    assert chased["t"] == due and chased["condition"] == "missed: dora-final"

    card = score(scenario, session.events)
    result = card.result("dora-final")
    assert (result.anchor, result.deadline, result.status) == (5 * DAY, due, "missed")


def test_a_report_after_the_final_one_does_not_move_its_clock():
    final = load_scenario("ransomware-payments-dora").expectation("dora-final")
    # intermediate reports on days 2 and 5, the final report on day 20, another "intermediate" on day 30
    assert action_anchor(final, [2 * DAY, 5 * DAY, 30 * DAY], 20 * DAY) == 5 * DAY
    assert action_anchor(final, [2 * DAY, 5 * DAY, 30 * DAY], None) == 30 * DAY
    assert action_anchor(final, [], None) is None
    first_only = final.model_copy(update={"from_latest": False})
    assert action_anchor(first_only, [5 * DAY, 2 * DAY], None) == 2 * DAY


def test_show_writes_a_month_as_a_month():
    from tabletop.cli.authoring import msel

    standing = {e["id"]: e for e in msel(load_scenario("ransomware-payments-dora"))["expectations"]}
    assert standing["dora-final"]["within"] == "1mo"
    assert standing["dora-initial-awareness-cap"]["within"] == "24h"


def test_the_validator_counts_a_missed_branch_on_the_clocks_calendar(tmp_path):
    # received Sat 31 Jan 2026 09:00: one month is Sat 28 Feb 09:00, T+28d; a 27-day scenario ends first
    from tabletop.loader import resolve_scenario

    text = (
        "id: month-clock\ntitle: Month clock\nstarts_at: '2026-01-31T09:00'\nduration: 27d\n"
        "roles: [coordinator, dpo]\n"
        "expectations:\n  - {id: answered, action: respond_to_subject_request, owner: dpo, within: 1mo}\n"
        "injects:\n  - {id: start, at: T+0m, title: Request received}\n"
        "  - {id: chased, when: {missed: answered}, at: +0m, title: The requester chases}\n"
    )
    path = tmp_path / "scenarios" / "month-clock.yaml"
    path.parent.mkdir()
    path.write_text(text)
    _, problems, _ = resolve_scenario(path)
    found = [p for p in problems if "can never fire" in p.message]
    assert len(found) == 1 and "is due at T+672h00m, after the scenario ends at T+648h00m" in found[0].message
    assert found[0].line == 10  # the branch
