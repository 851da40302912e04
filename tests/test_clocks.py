"""Known-answer tests for the regulatory clocks, on concrete dates, and the validator rules on them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tabletop.loader import load_catalog, load_scenario, resolve_scenario
from tabletop.model import Expectation
from tabletop.scoring import score
from tabletop.timing import deadline_seconds, due_at, format_span, parse_span

ROOT = Path(__file__).resolve().parent.parent
LONDON, EASTERN = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")


def clock(regime: str, clock_id: str):
    return next(c for c in load_catalog().regimes[regime].clocks if c.id == clock_id)


def due(regime: str, clock_id: str, start: datetime) -> datetime:
    """When a bundled regime clock that starts at `start` runs out."""
    found, catalog = clock(regime, clock_id), load_catalog().regimes[regime]
    return due_at(
        start,
        seconds=found.within,
        months=found.months,
        business_days=found.business_days,
        day_end=found.day_end,
        roll=found.roll,
        timezone=catalog.timezone,
        holidays=catalog.holidays or None,
    )


# --- SEC Form 8-K: four business days, US federal holidays, end of day US Eastern -------------


def test_8k_determination_before_christmas_is_due_the_next_tuesday_end_of_day_eastern():
    # Wed 23, Thu 24, (Fri 25 Christmas Day, weekend), Mon 28, Tue 29
    assert due("sec_8k", "sec-8k-item-105", datetime(2026, 12, 22, 15, 0)) == datetime(
        2026, 12, 29, 23, 59, 59, tzinfo=EASTERN
    )


def test_8k_on_an_ordinary_week_ends_on_the_fourth_business_day():
    # Mon 2 Mar 2026 -> Fri 6 Mar, whatever the time of day of the determination
    assert due("sec_8k", "sec-8k-item-105", datetime(2026, 3, 2, 8, 0)) == datetime(
        2026, 3, 6, 23, 59, 59, tzinfo=EASTERN
    )
    # Thu 2 Jul 2026: Fri 3 Jul is Independence Day observed
    assert due("sec_8k", "sec-8k-item-105", datetime(2026, 7, 2, 10, 0)).date().isoformat() == "2026-07-09"


# --- UK GDPR subject access: the ICO's calendar month -----------------------------------------


def test_subject_access_request_received_31_january_is_due_on_the_next_working_day_after_28_february():
    # no 31 February: the last day of the month, Sat 28 Feb 2026, rolls to Mon 2 Mar
    assert due("uk_gdpr_dsr", "uk-gdpr-dsr-response", datetime(2026, 1, 31, 11, 0)) == datetime(
        2026, 3, 2, 23, 59, 59, tzinfo=LONDON
    )


def test_subject_access_request_received_2_february_is_due_2_march():
    assert due("uk_gdpr_dsr", "uk-gdpr-dsr-response", datetime(2026, 2, 2, 9, 0)).date().isoformat() == (
        "2026-03-02"
    )


def test_subject_access_due_on_a_bank_holiday_moves_to_the_next_working_day():
    # received Fri 3 Apr 2026 (Good Friday), due Sun 3 May, Mon 4 May is the Early May bank holiday
    assert due("uk_gdpr_dsr", "uk-gdpr-dsr-response", datetime(2026, 4, 3, 9, 0)).date().isoformat() == (
        "2026-05-05"
    )
    # leap year: received 31 Jan 2028, due Tue 29 Feb 2028
    assert due("uk_gdpr_dsr", "uk-gdpr-dsr-response", datetime(2028, 1, 31, 9, 0)).date().isoformat() == (
        "2028-02-29"
    )


# --- hours, days and months -----------------------------------------------------------------


def test_gdpr_72_hours_are_clock_hours_across_the_clocks_going_forward():
    # aware Fri 27 Mar 2026 10:00 GMT; British Summer Time starts Sun 29 Mar: 72 real hours later
    # is Mon 30 Mar 11:00 BST
    assert due("uk_gdpr", "uk-gdpr-ico-decision", datetime(2026, 3, 27, 10, 0)) == datetime(
        2026, 3, 30, 11, 0, tzinfo=LONDON
    )


def test_hipaa_60_calendar_days_end_at_the_end_of_the_60th_day():
    assert due("hipaa", "hipaa-individuals", datetime(2026, 1, 10, 14, 30)) == datetime(
        2026, 3, 11, 23, 59, 59, tzinfo=EASTERN
    )


def test_nis2_and_dora_final_reports_are_a_calendar_month():
    assert due("nis2", "nis2-final-report", datetime(2026, 1, 31, 9, 0)).date().isoformat() == "2026-02-28"
    assert due("dora", "dora-final", datetime(2026, 11, 13, 10, 0)).date().isoformat() == "2026-12-13"


def test_time_limits_read_and_print_months():
    assert (
        parse_span("1mo") == (1, 0)
        and parse_span("1mo12h") == (1, 43200)
        and parse_span("72h") == (0, 259200)
    )
    assert (
        format_span(1, 0) == "1 month" and format_span(0, 4 * 86400, business_days=True) == "4 business days"
    )
    assert Expectation(id="x", action="a", within="2mo").months == 2


def test_a_calendar_limit_without_starts_at_is_approximated_and_says_so():
    expectation = Expectation(id="x", action="a", within="1mo", day_end=True)
    seconds, warning = deadline_seconds(None, 100, expectation)
    assert seconds == 100 + 30 * 86400 and "30 days" in warning


# --- applies_if on recorded fields and the latest anchor, scored ------------------------------


def _released(scenario, until: float) -> list[dict]:
    """The scheduled injects released up to `until`: decisions count only after what calls for them."""
    return [
        {"type": "inject_released", "t": i.at, "inject": i.id}
        for i in scenario.injects
        if i.when is None and i.at <= until
    ]


def _decision(t, action, role, fields=None):
    return {
        "type": "decision",
        "t": t,
        "action": action,
        "role": role,
        "fields": fields or {},
        "rationale": "r",
    }


def test_hipaa_media_notice_applies_only_above_500_residents_of_one_state(tmp_path):
    scenario = _hipaa_scenario(tmp_path)
    base = [
        {"type": "session_started", "t": 0},
        {"type": "inject_released", "t": 0, "inject": "found"},
    ]
    small = score(scenario, [*base, _decision(60, "record_discovery", "dpo", {"most_in_one_state": 420})])
    large = score(scenario, [*base, _decision(60, "record_discovery", "dpo", {"most_in_one_state": 501})])
    assert small.result("hipaa-media").status == "not_applicable"
    assert large.result("hipaa-media").status in ("missed", "open")
    assert small.result("hipaa-individuals").status in ("missed", "open")


def _hipaa_scenario(tmp_path: Path):
    data = {
        "id": "clinic-breach",
        "title": "Clinic breach",
        "starts_at": "2026-01-10T14:30",
        "duration": "62d",  # long enough to reach HIPAA's 60 days (a time jump gets there)
        "roles": ["coordinator", "dpo", "comms_owner", "executive"],
        "regimes": ["hipaa"],
        "context": {
            "data_positions": [{"id": "records", "dataset": "Patient records", "position": "controller"}]
        },
        "injects": [
            {
                "id": "found",
                "at": "T+0m",
                "title": "Records found exposed",
                "marks": ["discovered"],
                "affects": ["records"],
            },
            {"id": "weeks-pass", "at": "T+1h", "title": "Two months pass", "advance_to": "day 62 09:00"},
        ],
    }
    path = tmp_path / "scenarios" / "clinic-breach.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_scenario(path)


def test_a_notify_decision_must_become_a_notification_and_a_not_notify_one_need_not():
    scenario = load_scenario("lost-admin-account")
    aware = next(i for i in scenario.injects if "aware" in i.marks)
    base = [
        {"type": "session_started", "t": 0},
        {"type": "inject_released", "t": aware.at, "inject": aware.id},
    ]
    end = {"type": "session_ended", "t": scenario.duration, "reason": "duration"}  # a full run
    notify = score(
        scenario, [*base, _decision(aware.at + 60, "ico_decision", "executive", {"outcome": "notify"}), end]
    )
    hold = score(
        scenario,
        [*base, _decision(aware.at + 60, "ico_decision", "executive", {"outcome": "not_notify"}), end],
    )
    assert notify.result("uk-gdpr-notify-ico").status == "missed"
    assert hold.result("uk-gdpr-notify-ico").status == "not_applicable"


def test_dora_final_report_runs_from_the_latest_intermediate_report():
    scenario = load_scenario("ransomware-payments-dora")
    day = 86400
    events = [
        {"type": "session_started", "t": 0},
        *_released(scenario, 1 * day),
        _decision(1 * day, "dora_initial_report", "incident_lead", {"authority": "CBI"}),
        _decision(2 * day, "dora_intermediate_report", "incident_lead", {"status": "ongoing"}),
        _decision(5 * day, "dora_intermediate_report", "incident_lead", {"status": "recovered"}),
        _decision(34 * day, "dora_final_report", "incident_lead", {"root_cause": "phish"}),
    ]
    final = score(scenario, events).result("dora-final")
    assert final.anchor == 5 * day and final.status == "met"


# --- the validator -----------------------------------------------------------------------------


def _good() -> dict:
    """The fixture scenario as the loader reads it (`on:` stays a key)."""
    from tabletop.yamlsource import read_yaml

    return read_yaml(ROOT / "tests" / "data" / "scenarios" / "good.yaml").data


def _scenario(tmp_path: Path, **changes) -> list:
    data = _good()
    data.update(changes)
    folder = tmp_path / "tree"
    (folder / "scenarios").mkdir(parents=True)
    for name in ("injects", "scoring"):
        (folder / name).symlink_to(ROOT / "tests" / "data" / name)
    path = folder / "scenarios" / "good.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    _, problems, _ = resolve_scenario(path)
    return problems


def test_a_regime_clock_only_a_decision_can_start_is_a_problem_with_file_and_line(tmp_path):
    data = _good()
    injects = [{k: v for k, v in i.items() if k != "marks" or v != ["aware"]} for i in data["injects"]]
    problems = _scenario(tmp_path, injects=injects)
    found = [p for p in problems if "which no inject sets" in p.message]
    assert found and found[0].line > 0 and found[0].path.endswith("good.yaml")
    assert "marks: [aware]" in found[0].message


def test_clocks_bind_only_on_the_affected_data(tmp_path):
    # suspected-breach: processor for the CRM contacts (affected), controller for platform accounts (not)
    text = (ROOT / "scenarios" / "suspected-breach.yaml").read_text()
    assert "    affects: [crm-contacts]\n" in text
    ids = {e.id for e in load_scenario(ROOT / "scenarios" / "suspected-breach.yaml").expectations}
    assert "uk-gdpr-notify-controller" in ids and "uk-gdpr-ico-decision" not in ids
    both = tmp_path / "suspected-breach.yaml"
    both.write_text(
        text.replace("    affects: [crm-contacts]\n", "    affects: [crm-contacts, platform-accounts]\n")
    )
    ids = {e.id for e in load_scenario(both).expectations}
    assert {"uk-gdpr-notify-controller", "uk-gdpr-ico-decision", "uk-gdpr-processor-ico-decision"} <= ids


def test_an_unknown_affected_dataset_and_a_missing_decision_owner_are_problems(tmp_path):
    data = _good()
    injects = [dict(i, affects=["nope"]) if i["id"] == "alert" else i for i in data["injects"]]
    problems = _scenario(
        tmp_path, injects=injects, roles=["coordinator", "technical_lead", "comms_owner", "dpo"]
    )
    messages = " | ".join(p.message for p in problems)
    assert "unknown dataset 'nope'" in messages and "accountable decision maker" in messages


def test_the_dpo_decides_only_with_a_stated_delegation(tmp_path):
    data = _good()
    problems = _scenario(tmp_path, context={**data["context"], "decision_owner": "dpo"})
    assert any("decision_delegation" in p.message for p in problems)
    problems = _scenario(
        tmp_path / "b",
        context={**data["context"], "decision_owner": "dpo", "decision_delegation": "Board minute 2025-14"},
    )
    assert not any("decision_delegation" in p.message for p in problems)


def test_every_regime_clock_names_its_source(tmp_path):
    folder = tmp_path / "scoring"
    folder.mkdir()
    (folder / "regimes.yaml").write_text(
        "- id: r\n  title: R\n  source: S\n  clocks:\n"
        "    - {id: c, title: C, action: ico_decision, after: aware, within: 72h}\n"
    )
    from tabletop.catalog import load_catalog_from

    problems = load_catalog_from([folder]).problems
    assert any("source" in p.key and "missing" in p.message for p in problems)


def test_every_breach_record_field_is_filled_by_an_action_field(tmp_path):
    from tabletop.breach_record import BREACH_RECORD, breach_record_problems
    from tabletop.catalog import load_catalog_from

    actions = load_catalog().actions
    assert breach_record_problems(actions) == []
    assert {
        "Possibly started",
        "Systems affected",
        "Customers affected",
        "Data sensitivity",
        "Evidence reviewed",
        "Containment",
        "Recovery",
        "Notification evidence kept at",
        "Follow-up actions",
        "Incident lead",
    } <= {row.label for row in BREACH_RECORD}
    text = (
        (ROOT / "scoring" / "actions.yaml")
        .read_text()
        .replace("      started_at: {type: text,", "      started_when: {type: text,")
    )
    folder = tmp_path / "scoring"
    folder.mkdir()
    (folder / "actions.yaml").write_text(text)
    (folder / "roles.yaml").write_text((ROOT / "scoring" / "roles.yaml").read_text())
    problems = load_catalog_from([folder]).problems
    assert any("record_breach.started_at" in p.message and p.line > 0 for p in problems)


@pytest.mark.parametrize("name", ["suspected-breach", "customer-notification"])
def test_a_processor_records_that_the_controller_decides(name):
    scenario = load_scenario(name)
    ids = {e.id: e for e in scenario.expectations}
    assert ids["uk-gdpr-processor-ico-decision"].value == {"outcome": "controller_decides"}
    assert ids["uk-gdpr-processor-ico-decision"].owner == "executive"
    assert "uk-gdpr-ico-decision" not in ids


# --- informing clients (DORA Art 19(3)) and recipients of the service (NIS2 Art 23(1)) ---------

BRUSSELS = ZoneInfo("Europe/Brussels")


def test_dora_clients_are_told_within_the_rubrics_24_hours_of_the_classification():
    found = clock("dora", "dora-inform-clients")
    assert "19(3)" in found.source and found.after == "marker:major" and found.starts_on == "decision"
    assert found.applies_if.variable == "clients_financial_impact" and found.applies_if.equals is True
    notes = load_catalog().regimes["dora"].notes
    assert "gives no hours" in notes and "24 hours of the classification" in notes
    # classified major Tue 10 Nov 2026 07:20 Brussels: clients told by Wed 11 Nov 07:20
    assert due("dora", "dora-inform-clients", datetime(2026, 11, 10, 7, 20)) == datetime(
        2026, 11, 11, 7, 20, tzinfo=BRUSSELS
    )


def test_dora_client_notice_is_scored_from_the_classification_in_the_payments_scenario():
    scenario = load_scenario("ransomware-payments-dora")
    assert scenario.values["clients_financial_impact"] is True
    hour = 3600
    base = [
        {"type": "session_started", "t": 0},
        *_released(scenario, 1 * hour),
        _decision(
            1 * hour, "classify_major_incident", "incident_lead", {"criteria_met": "clients, duration"}
        ),
    ]
    told = {"audience": "All merchants", "measures": "Restore under way", "channel": "email"}
    on_time = score(scenario, [*base, _decision(25 * hour, "dora_inform_clients", "comms_owner", told)])
    late = score(scenario, [*base, _decision(25 * hour + 60, "dora_inform_clients", "comms_owner", told)])
    result = on_time.result("dora-inform-clients")
    assert (result.anchor, result.deadline, result.status) == (1 * hour, 25 * hour, "met")
    assert late.result("dora-inform-clients").status == "late"


def test_dora_client_notice_binds_only_when_clients_money_is_affected(tmp_path):
    text = (ROOT / "scenarios" / "ransomware-payments-dora.yaml").read_text()
    assert "  clients_financial_impact: {value: true}\n" in text
    unaffected = tmp_path / "ransomware-payments-dora.yaml"
    unaffected.write_text(
        text.replace("clients_financial_impact: {value: true}", "clients_financial_impact: {value: false}")
    )
    assert "dora-inform-clients" not in {e.id for e in load_scenario(unaffected).expectations}
    silent = tmp_path / "silent" / "ransomware-payments-dora.yaml"
    silent.parent.mkdir()
    silent.write_text(text.replace("  clients_financial_impact: {value: true}\n", ""))
    _, problems, _ = resolve_scenario(silent)
    found = [p for p in problems if "clients_financial_impact" in p.message]
    assert found and found[0].line > 0 and found[0].path.endswith("ransomware-payments-dora.yaml")
    assert "dora-inform-clients" in found[0].message


def _nis2_scenario(tmp_path: Path, affected: object) -> Path:
    data = {
        "id": "hosting-outage",
        "title": "Hosting outage",
        "starts_at": "2026-11-27T22:00",
        "duration": "31d",  # long enough to reach the final report's month (a time jump gets there)
        "roles": ["coordinator", "incident_lead", "comms_owner", "executive"],
        "regimes": ["nis2"],
        "variables": {} if affected is None else {"service_recipients_affected": {"value": affected}},
        "injects": [
            {"id": "outage", "at": "T+0m", "title": "Hosting platform down", "marks": ["incident_aware"]},
            {"id": "next-day", "at": "T+29h", "title": "Still recovering"},
            {"id": "month-passes", "at": "T+29h30m", "title": "A month passes", "advance_to": "day 31 09:00"},
        ],
    }
    path = tmp_path / "scenarios" / "hosting-outage.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_nis2_recipients_are_told_within_the_rubrics_24_hours_of_awareness(tmp_path):
    found = clock("nis2", "nis2-inform-recipients")
    assert "23(1)" in found.source and found.after == "marker:incident_aware"
    assert "gives no hours" in load_catalog().regimes["nis2"].notes
    # aware Fri 27 Nov 2026 22:00 Brussels: clock hours, the weekend counts
    assert due("nis2", "nis2-inform-recipients", datetime(2026, 11, 27, 22, 0)) == datetime(
        2026, 11, 28, 22, 0, tzinfo=BRUSSELS
    )
    scenario = load_scenario(_nis2_scenario(tmp_path, True))
    events = [
        {"type": "session_started", "t": 0},
        {"type": "inject_released", "t": 0, "inject": "outage"},
        _decision(23 * 3600, "nis2_inform_recipients", "comms_owner", {"audience": "All hosting customers"}),
    ]
    result = score(scenario, events).result("nis2-inform-recipients")
    assert (result.anchor, result.deadline, result.status) == (0, 24 * 3600, "met")


def test_nis2_recipient_notice_binds_only_when_the_service_is_likely_affected(tmp_path):
    unaffected = load_scenario(_nis2_scenario(tmp_path / "a", False))
    assert "nis2-inform-recipients" not in {e.id for e in unaffected.expectations}
    assert "nis2-early-warning" in {e.id for e in unaffected.expectations}
    _, problems, _ = resolve_scenario(_nis2_scenario(tmp_path / "b", None))
    found = [p for p in problems if "service_recipients_affected" in p.message]
    assert found and found[0].line > 0 and "nis2-inform-recipients" in found[0].message
