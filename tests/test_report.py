"""The post-mortem draft: every section and breach-record field, escaping, and golden files of a sample run."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scoring_cases import decision, ended, marker, note, released, scenario

from tabletop.breach_record import BREACH_RECORD
from tabletop.report import NOT_RECORDED, build_postmortem, render_report
from tabletop.risk import risk_level
from tabletop.scoring import score
from tabletop.timing import format_duration
from tabletop.transcript import read_run

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "transcripts" / "samples"
GOLDEN = Path(__file__).resolve().parent / "golden"
GENERATED_AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

# Every row from the action field that records it (tabletop.breach_record), then the rows
# built from whole decisions.
BREACH_FIELDS = [row.label for row in BREACH_RECORD] + [
    "DPO involvement",
    "ICO decision owner",
    "ICO decision time",
    "ICO decision rationale",
    "Data subject contact",
    "Communications sent",
    "Communications deliberately not sent",
    "Residual risk",
    "Post-mortem",
]
IMPACT_ROWS = 8  # scenario + systems, customers, data types, sensitivity, subjects, records, impact
SECTIONS = [
    "Summary",
    "What happened",
    "Impact",
    "Contributing factors",
    "Signals that were available and not acted on",
    "Where we got lucky",
    "What worked",
    "Improvement actions",
    "Risks remediated, accepted or tracked",
    "Breach or suspected-breach record",
    "ICO decision",
    "Notification clocks",
    "Recovery objectives (RPO and RTO)",
    "Appendix: score and ratings",
]


def run_of(events, **kw):
    scn = scenario(
        expectations=kw.pop(
            "expectations",
            [
                {"id": "coord", "action": "appoint_coordinator", "within": "15m", "weight": 2},
                {
                    "id": "ico",
                    "action": "ico_decision",
                    "within": "72h",
                    "after": "marker:aware",
                    "regime": "uk_gdpr",
                    "source": "UK GDPR Art 33(1)",
                    "title": "ICO decision within 72 hours of awareness",
                },
                {"id": "followup", "action": "create_followup", "within": "1d"},
            ],
        ),
        injects=[{"id": "alert", "at": 0, "title": "Anomalous export", "from": "SIEM"}],
        starts_at=datetime(2026, 3, 2, 9, 0),
        summary="Anomalous export from the CRM.",
        **kw,
    )
    card = score(scn, events)
    return scn, card, build_postmortem(scn, events, card, link="run.postmortem.html")


def field(pm, label):
    return next(f for f in pm.breach_record if f.label == label)


# --- content ---------------------------------------------------------------------------------


def test_a_run_with_nothing_established_marks_every_player_field_not_recorded():
    _, _, pm = run_of([released(0, "alert", **{"from": "SIEM"}), ended(3600)])
    assert [f.label for f in pm.breach_record] == BREACH_FIELDS
    derived = {"Post-mortem"}
    for f in pm.breach_record:
        if f.label not in derived:
            assert f.value == NOT_RECORDED, f.label
    # never guessed: who reported it is a field of the record, not the first inject's sender
    assert field(pm, "Reported by").value == NOT_RECORDED
    text = render_report(pm, "md", GENERATED_AT)
    assert (
        text.count("*not recorded*") == len(BREACH_FIELDS) - len(derived) + 4 + IMPACT_ROWS - 1
    )  # + the ICO section and Impact


def test_established_fields_carry_their_value_and_who_established_them():
    events = [
        released(0, "alert"),
        decision(120, "appoint_coordinator", fields={"coordinator": "Sam Okafor"}, by="Sam Okafor"),
        decision(
            900,
            "assess_personal_data",
            role="dpo",
            by="Priya",
            fields={
                "data_types": "names, emails",
                "records": 23000,
                "subjects": "contacts",
                "encrypted": False,
            },
        ),
        decision(
            1000,
            "determine_controller_processor",
            role="dpo",
            by="Priya",
            fields={
                "position": "processor",
                "controller": "Acme",
                "contract": "DPA-7",
                "notify_controller_within": "24h",
            },
        ),
        decision(
            1100, "record_breach", role="dpo", by="Priya", fields={"reference": "BR-1", "status": "confirmed"}
        ),
        decision(1200, "contain", role="technical_lead", by="Tom", fields={"target": "sync integration"}),
        decision(
            1300, "preserve_evidence", role="technical_lead", by="Tom", fields={"evidence": "gateway logs"}
        ),
        decision(1400, "involve_dpo", by="Sam Okafor", fields={"dpo": "Priya"}),
        decision(
            1500,
            "assess_risk_to_individuals",
            role="dpo",
            by="Priya",
            fields={"risk": "high_risk", "consequences": "phishing"},
        ),
        decision(
            1600,
            "ico_decision",
            role="dpo",
            by="Priya",
            fields={"outcome": "notify"},
            rationale="risk likely",
        ),
        decision(1700, "customer_comms", role="comms_owner", by="Ana", fields={"audience": "Acme DPO"}),
        decision(
            1800,
            "data_subject_decision",
            role="dpo",
            by="Priya",
            fields={"outcome": "not_notify"},
            rationale="controller decides",
        ),
        ended(3600),
    ]
    _, _, pm = run_of(events)
    assert field(pm, "Identifier").value == "BR-1"
    assert field(pm, "Coordinator").value == "Sam Okafor"
    assert "T+2m" in field(pm, "Coordinator").source and "Sam Okafor" in field(pm, "Coordinator").source
    assert field(pm, "Data types").value == "names, emails"
    assert field(pm, "Records").value == "23000"
    assert field(pm, "Controller/processor position").value == "processor"
    assert field(pm, "Contract notification requirement").value == "DPA-7; 24h"
    assert field(pm, "Breach or not").value == "confirmed"
    # never guessed from containment: systems affected are what the breach record says
    assert field(pm, "Systems affected").value == NOT_RECORDED
    assert field(pm, "Evidence preserved").value == "gateway logs"
    assert field(pm, "Impact on individuals").value == "high risk"
    assert field(pm, "Likely consequences").value == "phishing"
    assert "Priya" in field(pm, "DPO involvement").value
    assert field(pm, "ICO decision").value == "notify"
    assert field(pm, "ICO decision owner").value == "Priya (Data protection officer)"
    assert field(pm, "Controller").value == "Acme"
    assert field(pm, "ICO decision time").value == "T+26m40s (Mon 02 Mar 09:26)"
    assert field(pm, "ICO decision rationale").value == "risk likely"
    assert "decision: not notify, because controller decides" in field(pm, "Data subject contact").value
    assert "Customer communication" in field(pm, "Communications sent").value
    assert (
        "not notified, because controller decides" in field(pm, "Communications deliberately not sent").value
    )
    assert field(pm, "Possibly started").value == NOT_RECORDED
    assert field(pm, "Post-mortem").value == "run.postmortem.html"


def test_risks_get_nist_levels_and_a_register_answer():
    events = [
        decision(
            100,
            "record_risk",
            fields={
                "risk": "Tokens never expire",
                "likelihood": "high",
                "impact": "high",
                "treatment": "remediate",
                "residual_likelihood": "low",
                "residual_impact": "moderate",
                "mitigation_lowers": "likelihood",
                "owner": "Lena",
            },
        ),
        decision(
            200,
            "record_risk",
            fields={
                "risk": "Shared admin",
                "likelihood": "moderate",
                "impact": "very_high",
                "treatment": "track",
                "residual_likelihood": "moderate",
                "residual_impact": "very_high",
                "owner": "Tom",
                "register": False,
            },
        ),
        decision(
            300,
            "accept_risk",
            fields={"risk": "Legacy export API", "review_by": "2026-06-30"},
            rationale="replaced in Q3",
        ),
        ended(600),
    ]
    _, _, pm = run_of(events)
    tokens, admin, legacy = pm.risks
    assert (
        (tokens.inherent, tokens.residual)
        == (risk_level("high", "high"), risk_level("low", "moderate"))
        == ("High", "Low")
    )
    # one rule with the programme (programme.yaml's risk_register: residual High or above, or a
    # duty; the team may add a risk, never keep one off)
    assert (tokens.register, tokens.lowers) == ("no", "likelihood")
    assert tokens.register_reason == "residual risk Low, below High"
    assert (admin.residual, admin.register, admin.register_recorded) == ("High", "yes", False)
    assert admin.register_reason == "residual risk High is High or above; the team recorded no"
    assert (legacy.treatment, legacy.review_by, legacy.inherent, legacy.register) == (
        "accept",
        "2026-06-30",
        NOT_RECORDED,
        NOT_RECORDED,
    )
    assert (
        field(pm, "Residual risk").value
        == "Tokens never expire: Low (owner Lena); Shared admin: High (owner Tom)"
    )


def test_the_draft_and_the_programme_judge_the_register_by_one_rule(tmp_path):
    """A programme file beside the transcripts sets the rule the draft applies."""
    from tabletop.programme.config import MaterialRule, register_rule

    events = [
        decision(
            100,
            "record_risk",
            fields={
                "risk": "Shared admin",
                "likelihood": "moderate",
                "impact": "moderate",
                "residual_likelihood": "moderate",
                "residual_impact": "moderate",
                "register": True,
            },
        ),
        decision(
            200,
            "record_risk",
            fields={
                "risk": "Old certificate",
                "likelihood": "moderate",
                "impact": "moderate",
                "residual_likelihood": "moderate",
                "residual_impact": "moderate",
            },
        ),
        ended(600),
    ]
    _, _, pm = run_of(events)
    shared, old = pm.risks
    assert (shared.register, shared.register_reason) == ("yes", "the team recorded it for the register")
    assert (old.register, old.register_reason) == ("no", "residual risk Moderate, below High")
    strict = MaterialRule(residual_at_least="Moderate", regulatory_duty=True)
    scn, card, _ = run_of(events)
    stricter = build_postmortem(scn, events, card, register_rule=strict)
    assert stricter.risks[1].register == "yes"
    assert stricter.risks[1].register_reason == "residual risk Moderate is Moderate or above"
    bundled = register_rule(None)
    assert (bundled.residual_at_least, bundled.regulatory_duty) == ("High", True)
    folder = tmp_path / "repo" / "transcripts"
    folder.mkdir(parents=True)
    source = (Path(__file__).resolve().parent.parent / "programme.yaml").read_text()
    (tmp_path / "repo" / "programme.yaml").write_text(
        source.replace("residual_at_least: High", "residual_at_least: Moderate")
    )
    assert register_rule(folder / "t.jsonl").residual_at_least == "Moderate"


def test_improvement_plan_from_followups_and_missed_expectations():
    events = [
        {"type": "session_started", "t": 0, "wall": "2026-03-02T10:00:00Z"},
        decision(
            100,
            "create_followup",
            fields={"action": "Expire idle tokens", "owner": "Tom", "due": "2026-04-01", "ticket": "SEC-1"},
        ),
        ended(3600),
    ]
    scn, _, pm = run_of(events)
    first, *rest = pm.improvement_plan
    assert (first.action, first.owner, first.due, first.ticket) == (
        "Expire idle tokens",
        "Tom",
        "2026-04-01",
        "SEC-1",
    )
    # the catalog's improvement for the missed step, owned by its improvement owner, due 30 days
    # after the rehearsal date (the transcript's wall time), not the scenario's fictional start
    missed = [i for i in rest if "Appoint an incident coordinator" in i.source]
    assert len(missed) == 1 and missed[0].due.startswith("2026-04-01 (proposed")
    catalog_action = scn.action("appoint_coordinator")
    assert missed[0].action == (
        catalog_action.improvement
        or f"Write '{catalog_action.title}' into the runbook, with who does it and when"
    )
    assert "put it in the runbook and rehearse it" not in " ".join(i.action for i in pm.improvement_plan)


def test_notification_clocks_and_not_notify_without_reason():
    events = [
        released(0, "alert"),
        marker(3600, "aware"),
        decision(3600 + 80 * 3600, "ico_decision", role="dpo", fields={"outcome": "not_notify"}),
        ended(90 * 3600),
    ]
    _, _card, pm = run_of(events)
    (clock,) = pm.clocks
    assert clock.status.startswith("late") and clock.source == "UK GDPR Art 33(1)"
    assert "marker 'aware' at T+1h00m" in clock.anchor
    # a finding is the score's business (the appendix), not a contributing factor of the system
    assert [f.id for f in _card.findings] == ["not-notify-without-rationale"]
    assert not any("not-notify" in o.text or "Dpo" in o.text or "DPO recorded" in o.text for o in pm.harder)
    assert field(pm, "Communications deliberately not sent").value.startswith(
        "Decide on ICO notification: not notified, because no reason"
    )


BLAME = re.compile(
    r"\b(fail(ed|s|ure)?|forg(o|e)t\w*|should have|did not|didn't|neglect\w*|careless\w*|blame\w*|"
    r"fault\w*|mistakes?|error by|too slow|missed|late)\b",
    re.IGNORECASE,
)
"""Words that turn a contributing factor into a judgement of people."""


@pytest.mark.parametrize(
    "sample",
    ["suspected-breach-poor", "suspected-breach-team", "restore-rehearsal-good", "suspected-breach-good"],
)
def test_contributing_factors_are_short_and_blame_nobody(sample):
    from tabletop.report.postmortem import MAX_FACTORS

    run = read_run(SAMPLES / f"{sample}.jsonl")
    pm = build_postmortem(run.scenario, run.events, score(run.scenario, run.events))
    assert len(pm.harder) <= MAX_FACTORS
    for factor in pm.harder:
        assert not BLAME.search(factor.text), factor.text
        assert not factor.text.startswith(
            ("The coordinator", "Coordinator", "The DPO", "Sam", "Priya", "Tom")
        )
    if sample.endswith("good"):
        assert pm.harder == ()


def test_contributing_factors_name_the_contract_clause_and_the_handover_of_the_poor_run():
    run = read_run(SAMPLES / "suspected-breach-poor.jsonl")
    card = score(run.scenario, run.events)
    assert card.result("uk-gdpr-notify-controller").status == "late"
    texts = [o.text for o in build_postmortem(run.scenario, run.events, card).harder]
    contract = next(t for t in texts if "clause 9.2" in t)
    assert (
        "comes from the contract, not from the law" in contract and "24h to tell the controller" in contract
    )
    assert "Data Protection Officer, Wells-Byrne" in contract
    assert "'Tell the controller within the time the contract (DPA) sets'" in contract
    handover = next(t for t in texts if t.startswith("The shift changed"))
    assert (
        "'18:30: the coordinator's shift ends; the incident does not'" in handover
        and "still open" in handover
    )
    assert not any(t.startswith("Condition in place") for t in texts)  # no dump of the context


def test_a_signal_for_a_role_nobody_held_is_a_contributing_factor():
    scn = scenario(
        expectations=[
            {
                "id": "dpo-assesses",
                "action": "assess_personal_data",
                "after": "inject:dpa-mail",
                "within": "1h",
            },
        ],
        injects=[
            {"id": "alert", "at": 0, "title": "Anomalous export"},
            {
                "id": "dpa-mail",
                "at": 600,
                "title": "Controller's DPA email",
                "channel": "email",
                "to": ["dpo"],
            },
        ],
    )
    started = {
        "type": "session_started",
        "t": 0,
        "participants": [{"name": "Sam", "role": "coordinator", "simulated": False}],
    }
    events = [
        started,
        released(0, "alert"),
        released(600, "dpa-mail", title="Controller's DPA email", channel="email", to=["dpo"]),
        ended(3 * 3600),
    ]
    card = score(scn, events)
    assert card.result("dpo-assesses").status == "missed"
    (factor,) = build_postmortem(scn, events, card).harder
    assert factor.text == (
        "'Controller's DPA email' arrived by email for the data protection officer only, a role held by "
        "nobody in this session: 'Assess personal data involved' waited on it."
    )
    # the same signal with the DPO at the table is not a factor of the system
    events[0] = {**started, "participants": [*started["participants"], {"name": "Priya", "role": "dpo"}]}
    assert build_postmortem(scn, events, score(scn, events)).harder == ()


def test_recovery_objectives_expected_vs_achieved():
    events = [
        decision(
            600,
            "verify_rpo_rto",
            role="technical_lead",
            fields={"recovery_time": "3h", "data_loss": "2h", "witness": "Alex", "result": "fail"},
        ),
        ended(4 * 3600),
    ]
    _, _, pm = run_of(events, context={"recovery": {"rpo": "1h", "rto": "4h"}})
    rto, rpo = pm.recovery
    assert (rto.objective, rto.achieved, rto.status) == ("4h", "3h", "met")
    assert (rpo.objective, rpo.achieved, rpo.status) == ("1h", "2h", "missed")
    assert "witness: Alex" in rpo.note
    _, _, pm = run_of([ended(60)], context={"recovery": {"rpo": "1h"}})
    assert [(r.measure, r.achieved, r.status) for r in pm.recovery] == [
        ("RPO (data loss)", NOT_RECORDED, "not verified")
    ]
    _, _, pm = run_of([ended(60)])
    assert pm.recovery == ()


def test_every_section_is_in_markdown_and_html():
    _, _, pm = run_of([released(0, "alert"), decision(60, "appoint_coordinator"), ended(600)])
    md = render_report(pm, "md", GENERATED_AT)
    html = render_report(pm, "html", GENERATED_AT)
    for section in SECTIONS:
        assert f"## {section}\n" in md, section
        assert f"<h2>{section}</h2>" in html.replace("&amp;", "&"), section
    assert "Generated 2026-03-10 09:00 UTC" in md and "P &gt;= 90%" in html


# --- escaping and self-containment -----------------------------------------------------------


def hostile_run():
    evil = "<script>alert('x')</script>"
    events = [
        released(0, "alert"),
        decision(60, "appoint_coordinator", fields={"coordinator": evil}, by="<b>Eve</b>"),
        note(90, f"{evil} | [link](http://evil.example) *bold*"),
        ended(600),
    ]
    return run_of(events)


def test_html_escapes_what_players_typed():
    _, _, pm = hostile_run()
    html = render_report(pm, "html", GENERATED_AT)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<b>Eve</b>" not in html and "&lt;b&gt;Eve&lt;/b&gt;" in html


def test_html_is_self_contained_and_printable():
    _, _, pm = hostile_run()
    html = render_report(pm, "html", GENERATED_AT)
    assert not re.search(r"<(link|script|img|iframe)\b", html, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert "<svg" in html and "@media print" in html and "<style>" in html


def test_markdown_keeps_player_text_inert_and_tables_intact():
    _, _, pm = hostile_run()
    md = render_report(pm, "md", GENERATED_AT)
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "\\| \\[link\\](http://evil.example) \\*bold\\*" in md
    for line in md.splitlines():
        if line.startswith("| T+1m30s"):
            assert (
                len(re.findall(r"(?<!\\)\|", line)) == 6
            )  # five columns, no cell split by the player's pipe


def test_json_report_and_stable_output():
    _, _, pm = hostile_run()
    data = json.loads(render_report(pm, "json", GENERATED_AT))
    assert data["generated_at"] == "2026-03-10T09:00:00+00:00"
    assert data["scorecard"]["score"] == round(pm.score, 4) and data["score"] == pm.score
    assert len(data["breach_record"]) == len(BREACH_FIELDS)
    for fmt in ("md", "html", "json"):
        assert render_report(pm, fmt, GENERATED_AT) == render_report(pm, fmt, GENERATED_AT)
    with pytest.raises(ValueError, match="expected a format among md, html, json"):
        render_report(pm, "pdf", GENERATED_AT)


# --- golden files of a committed sample transcript ---------------------------------------------


@pytest.mark.parametrize(
    "sample", ["suspected-breach-poor", "suspected-breach-team", "restore-rehearsal-good"]
)
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_golden_report_of_sample(sample, fmt):
    path = SAMPLES / f"{sample}.jsonl"
    run = read_run(path)
    card = score(run.scenario, run.events)
    pm = build_postmortem(run.scenario, run.events, card, link=f"{sample}.postmortem.html")
    text = render_report(pm, fmt, GENERATED_AT)
    golden = GOLDEN / f"{sample}.postmortem.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"regenerate with UPDATE_GOLDEN=1 if the change is intended: {golden}"
    )


def test_sample_scores_are_what_the_scripts_were_written_for():
    scores = {}
    for name in ("good", "poor", "team"):
        run = read_run(SAMPLES / f"suspected-breach-{name}.jsonl")
        scores[name] = score(run.scenario, run.events)
    assert scores["good"].score > scores["team"].score > scores["poor"].score
    assert scores["good"].rating == "P" and scores["poor"].rating == "U"
    poor = scores["poor"]
    assert {f.id for f in poor.findings} >= {"coordinator-heads-down", "not-notify-without-rationale"}
    assert poor.result("uk-gdpr-notify-controller").status == "late"
    team = scores["team"]
    delegated = [r for r in team.expectations if r.delegated_by]
    assert delegated and all(r.by != "coordinator" and r.delegated_by == "coordinator" for r in delegated)
    assert not team.findings


def test_restore_sample_reports_recovery_objectives():
    run = read_run(SAMPLES / "restore-rehearsal-good.jsonl")
    card = score(run.scenario, run.events)
    pm = build_postmortem(run.scenario, run.events, card)
    measures = {r.measure: r for r in pm.recovery}
    recovery = run.scenario.context.recovery
    assert measures["RTO (recovery time)"].objective == format_duration(recovery.rto)
    assert measures["RPO (data loss)"].objective == format_duration(recovery.rpo)
    assert all(r.achieved != NOT_RECORDED and r.status in ("met", "missed") for r in pm.recovery)


# --- where drafts go, and how they are written -----------------------------------------------


def test_every_draft_is_named_after_its_transcript():
    from tabletop.report import postmortem_path

    assert [postmortem_path(Path("runs/T.jsonl"), f).as_posix() for f in ("md", "html", "json")] == [
        "runs/T.postmortem.md",
        "runs/T.postmortem.html",
        "runs/T.postmortem.json",
    ]


def test_drafts_are_private_whole_and_never_written_through_a_symlink(tmp_path):
    import stat

    from tabletop.report import write_postmortem

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "T.postmortem.md").symlink_to(victim)
    written = write_postmortem(
        tmp_path / "T.jsonl", {"md": "# draft\n", "html": "<html></html>"}, draft_id="h0"
    )
    assert written == [tmp_path / "T.postmortem.md", tmp_path / "T.postmortem.html"]
    assert victim.read_text() == "keep me"
    for path in written:
        assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "T.postmortem.md").read_text() == "# draft\n<!-- tabletop-draft-of: h0 -->\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "T.postmortem.html",
        "T.postmortem.md",
        "victim.txt",
    ]
