"""The bundled scoring data, inject library and scenarios are complete and consistent.

Everything is read through the loader (`tabletop.loader`), as `tabletop run` and `tabletop validate`
read it: the checks here are what the bundled data must satisfy beyond being valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tabletop import templating
from tabletop.catalog import Catalog
from tabletop.injectlibrary import InjectLibrary
from tabletop.loader import load_catalog, load_scenario, validate, validate_library_file
from tabletop.model import Action, Inject, Regime, Role, RubricSet, Scenario
from tabletop.yamlsource import read_yaml

ROOT = Path(__file__).resolve().parent.parent
SCORING = ROOT / "scoring"
INJECTS = ROOT / "injects"
SCENARIOS = ROOT / "scenarios"

# The minimum catalog: the action ids every bundled catalog must have.
CORE_ACTIONS = [
    "declare_incident",
    "appoint_coordinator",
    "assign_roles",
    "open_incident_channel",
    "status_update",
    "handover",
    "escalate",
    "record_decision",
    "contain",
    "revoke_access",
    "reset_credentials",
    "break_glass",
    "rollback",
    "restore_backup",
    "failover",
    "rotate_keys",
    "preserve_evidence",
    "check_monitoring",
    "confirm_data_integrity",
    "capture_manual_change",
    "reconcile_iac",
    "remove_temporary_fix",
    "involve_dpo",
    "assess_personal_data",
    "determine_controller_processor",
    "confirm_personal_data_breach",
    "assess_risk_to_individuals",
    "ico_decision",
    "notify_ico",
    "notify_controller",
    "data_subject_decision",
    "notify_data_subjects",
    "record_breach",
    "customer_comms",
    "supplier_comms",
    "internal_update",
    "record_risk",
    "accept_risk",
    "schedule_postmortem",
    "create_followup",
    "verify_rpo_rto",
    "close_incident",
]

# Actions that change systems carry `hands_on: true`; those that only look or write down do not.
HANDS_ON = {
    "contain",
    "revoke_access",
    "reset_credentials",
    "break_glass",
    "rotate_keys",
    "emergency_change",
    "reconcile_iac",
    "remove_temporary_fix",
    "rollback",
    "restore_backup",
    "failover",
}

REGIMES = ("uk_gdpr", "eu_gdpr", "nis2", "dora", "sec_8k", "hipaa")
RUBRICS = ("coordination", "breach", "infrastructure_change", "access_recovery")
OUR_SCENARIOS = ("lost-admin-account", "suspected-breach", "manual-infrastructure-change")
LEVELS = ["very_low", "low", "moderate", "high", "very_high"]


def load(path: Path):
    """The YAML an author wrote, unresolved (`on:` is a key, not the boolean True)."""
    return read_yaml(path).data


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT)  # raises on any problem in scoring/, duplicate ids included


@pytest.fixture(scope="module")
def actions(catalog) -> dict[str, Action]:
    items = load(SCORING / "actions.yaml")["actions"]
    assert len(catalog.actions) == len(items), "duplicate action ids"
    return catalog.actions


@pytest.fixture(scope="module")
def roles(catalog) -> dict[str, Role]:
    return catalog.roles


@pytest.fixture(scope="module")
def regimes(catalog) -> dict[str, Regime]:
    return catalog.regimes


@pytest.fixture(scope="module")
def rubrics(catalog) -> dict[str, RubricSet]:
    return catalog.rubrics


LIBRARY = InjectLibrary([INJECTS.resolve()])


def library() -> dict[str, dict]:
    """Every library inject by its `use:` address, as the loader looks it up."""
    found: dict[str, dict] = {}
    for name in LIBRARY.names():
        spec, _span, problems = LIBRARY.lookup(name)
        assert problems == [] and spec is not None, (name, problems)
        found[name] = spec
    return found


def test_the_bundled_data_validates_with_no_problem():
    result = validate([SCORING, INJECTS, SCENARIOS])
    assert result.problems == [], result.summary()
    for path in sorted(INJECTS.rglob("*.yaml")):
        count, problems = validate_library_file(path.resolve())
        assert problems == [] and count >= 1, path


# --- scoring data ----------------------------------------------------------------------------


def test_every_design_action_exists(actions):
    missing = [a for a in CORE_ACTIONS if a not in actions]
    assert not missing


def test_action_owners_are_roles(actions, roles):
    assert {a.default_owner for a in actions.values()} <= set(roles)


NOT_HANDS_ON = {
    "check_monitoring",
    "preserve_evidence",
    "capture_manual_change",
    "confirm_data_integrity",
    "verify_rpo_rto",
    "verify_identity",
    "record_decision",
    "record_risk",
    "status_update",
}


def test_hands_on_marks_the_actions_that_change_systems(actions):
    hands_on = {a.id for a in actions.values() if a.hands_on}
    assert hands_on >= HANDS_ON
    assert not (NOT_HANDS_ON & hands_on)
    assert {actions[a].area for a in hands_on} <= {"technical", "recovery"}


def test_required_roles_and_coordinator_duty(roles):
    assert {"coordinator", "incident_lead", "technical_lead", "comms_owner", "dpo", "scribe"} <= set(roles)
    duty = roles["coordinator"].duty.lower()
    assert "delegate" in duty and "coordinat" in duty and "not" in duty


def test_decision_forms_named_in_the_contract(actions):
    ico = actions["ico_decision"]
    # a processor records that the controller decides (README, "Who decides on notification")
    assert ico.fields["outcome"].choices == ["notify", "not_notify", "controller_decides"]
    assert ico.default_owner == "executive" and actions["data_subject_decision"].default_owner == "executive"
    assert ico.fields["outcome"].required and ico.rationale == "required"
    subjects = actions["data_subject_decision"]
    assert subjects.fields["outcome"].choices == ["notify", "not_notify"]
    assert subjects.rationale == "required"
    assert actions["confirm_personal_data_breach"].sets_marker == "aware"
    assert actions["classify_major_incident"].sets_marker == "major"
    assert actions["determine_materiality"].sets_marker == "material"
    risk = actions["record_risk"].fields
    for name in ("likelihood", "impact", "residual_likelihood", "residual_impact"):
        assert risk[name].choices == LEVELS, name
    assert risk["treatment"].choices == ["remediate", "accept", "track", "transfer"]
    assert risk["mitigation_lowers"].choices == ["likelihood", "impact", "both"]
    assert risk["register"].type == "bool" and "owner" in risk
    rpo = actions["verify_rpo_rto"].fields
    assert rpo["recovery_time"].type == "duration" and rpo["data_loss"].type == "duration"
    assert rpo["result"].choices == ["pass", "fail"] and "witness" in rpo and "backup_used" in rpo


@pytest.mark.parametrize("regime_id", REGIMES)
def test_regime_exists_with_sources(regimes, regime_id):
    regime = regimes[regime_id]
    assert regime.source and regime.clocks
    for clock in regime.clocks:
        assert clock.source.strip(), f"{regime_id}.{clock.id} has no source"


def test_regime_clocks_use_known_actions_roles_and_markers(regimes, actions, roles):
    markers = {a.sets_marker for a in actions.values() if a.sets_marker} | all_inject_marks()
    ids = [c.id for r in regimes.values() for c in r.clocks]
    assert len(ids) == len(set(ids)), "clock ids must be unique across regimes"
    for regime in regimes.values():
        for clock in regime.clocks:
            assert clock.action in actions
            assert clock.owner is None or clock.owner in roles
            assert set(clock.requires) <= set(actions)
            kind, _, target = clock.after.partition(":")
            assert kind in ("marker", "action"), clock.after
            assert target in (markers if kind == "marker" else actions), clock.after


def test_uk_gdpr_ico_and_processor_clocks(regimes):
    clocks = {c.id: c for c in regimes["uk_gdpr"].clocks}
    ico = clocks["uk-gdpr-ico-decision"]
    # the accountable executive decides, with the DPO involved first (README, "Who decides on notification")
    assert (ico.after, ico.within, ico.owner, ico.rationale) == (
        "marker:aware",
        72 * 3600,
        "executive",
        "required",
    )
    assert "involve_dpo" in ico.requires and ico.applies_if.position == "controller"
    controller = clocks["uk-gdpr-notify-controller"]
    assert (controller.after, controller.within, controller.applies_if.position) == (
        "marker:aware",
        "contract",
        "processor",
    )
    processor = clocks["uk-gdpr-processor-ico-decision"]
    assert (
        processor.value == {"outcome": "controller_decides"} and processor.applies_if.position == "processor"
    )
    notify = clocks["uk-gdpr-notify-ico"]
    assert (notify.action, notify.after, notify.within) == ("notify_ico", "marker:aware", 72 * 3600)
    assert (notify.applies_if.field, notify.applies_if.equals) == ("ico_decision.outcome", "notify")


def test_regime_anchors_follow_the_law(regimes):
    def anchors(regime_id):
        return {c.action: (c.after, c.within, c.business_days) for c in regimes[regime_id].clocks}

    # NIS2 and DORA run from awareness of the incident, GDPR from awareness of the personal data breach
    assert anchors("nis2")["nis2_early_warning"] == ("marker:incident_aware", 24 * 3600, False)
    assert anchors("nis2")["nis2_notification"] == ("marker:incident_aware", 72 * 3600, False)
    dora = [(c.after, c.within) for c in regimes["dora"].clocks if c.action == "dora_initial_report"]
    assert sorted(dora) == [("marker:incident_aware", 24 * 3600), ("marker:major", 4 * 3600)]
    final = next(c for c in regimes["dora"].clocks if c.action == "dora_final_report")
    assert (final.after, final.from_latest, final.months) == ("action:dora_intermediate_report", True, 1)
    assert anchors("sec_8k")["sec_8k_filing"] == ("marker:material", 4 * 86400, True)
    assert anchors("hipaa")["hipaa_notify_individuals"] == ("marker:discovered", 60 * 86400, False)


@pytest.mark.parametrize("rubric_id", RUBRICS)
def test_rubric_sets(rubrics, actions, roles, rubric_id):
    rubric = rubrics[rubric_id]
    assert rubric.id == rubric_id and rubric.expectations
    markers = {a.sets_marker for a in actions.values() if a.sets_marker} | all_inject_marks()
    for exp in rubric.expectations:
        assert exp.action in actions
        assert exp.owner in (None, "any") or exp.owner in roles
        assert exp.anchor_kind in ("start", "action", "marker"), f"{exp.id} anchors on {exp.after}"
        if exp.anchor_kind == "action":
            assert exp.anchor_target in actions
        if exp.anchor_kind == "marker":
            assert exp.anchor_target in markers, exp.after
        assert exp.title and exp.why, f"{exp.id} needs a title and a why with its source"
        assert set(exp.requires) <= set(actions)


def test_coordination_forbids_every_hands_on_action_to_the_coordinator(rubrics, actions):
    rules = [r for r in rubrics["coordination"].avoid if r.role == "coordinator"]
    assert rules
    assert {a for r in rules for a in r.actions} >= {a.id for a in actions.values() if a.hands_on}


# --- inject library --------------------------------------------------------------------------


def all_inject_marks() -> set[str]:
    marks = {m for spec in library().values() for m in spec.get("marks", [])}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        for inject in load_scenario(path).injects:
            marks.update(inject.marks)
    return marks


def test_library_has_enough_injects_across_groups():
    items = library()
    assert len(items) >= 15
    groups = {name.split("/")[0] for name in items}
    assert {"breach", "access", "infrastructure", "comms"} <= groups


@pytest.mark.parametrize("name", sorted(library()))
def test_library_inject_validates(name, actions, roles):
    spec = library()[name]
    assert "id" not in spec and "at" not in spec, "library injects carry neither id nor at"
    inject = Inject.model_validate({**spec, "id": "library"})
    assert inject.title and inject.body
    assert all(t == "all" or t in roles for t in inject.to)
    for exp in inject.expects:
        assert exp.action in actions
    used = jinja_variables(" ".join((inject.title, inject.body, inject.from_)))
    documented = set()
    match = re.search(r"Variables: ([^.]*)\.", inject.notes)
    if match:
        documented = {re.sub(r"\s*\(.*\)", "", v).strip() for v in match.group(1).split(",")}
    assert used == documented, "the notes' `Variables:` list names exactly the variables the text uses"


def jinja_variables(text: str) -> set[str]:
    from jinja2 import Environment, meta

    return set(meta.find_undeclared_variables(Environment().parse(text)))


def test_variable_documentation_check_sees_undocumented_variables():
    assert jinja_variables("{{ customer }} lost {{ '{:,}'.format(rows) }} rows") == {"customer", "rows"}


# --- scenarios -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=OUR_SCENARIOS)
def scenario(request) -> tuple[str, dict, Scenario]:
    """The scenario's id, the YAML as written, and the scenario the loader resolves from it."""
    path = SCENARIOS / f"{request.param}.yaml"
    return request.param, load(path), load_scenario(path)


def test_scenario_shape(scenario):
    name, data, resolved = scenario
    assert data["id"] == name and resolved.id == name
    injects = resolved.injects
    assert len(injects) >= 8
    assert len([p for p in resolved.phases if p.questions]) >= 2
    conditions = [i.when for i in injects if i.when is not None]
    assert any(c.kind == "missed" for c in conditions)
    assert any(c.kind == "done" for c in conditions)
    # a branch's `at` is its delay after the condition (the loader refuses a clock time for one)
    assert all(i.at == 10 * 60 for i in injects if i.when is not None and i.when.missed)
    assert any(i.advance_to is not None for i in injects)
    assert resolved.hotwash and resolved.objectives and resolved.variables
    assert resolved.starts_at and resolved.duration and data["seed"] is not None


def test_scenario_library_uses_resolve(scenario):
    _, data, resolved = scenario
    lib = library()
    uses = [i["use"] for i in data["injects"] if "use" in i]
    assert uses, "a scenario draws some injects from the library"
    assert [u for u in uses if u not in lib] == []
    assert any("use" not in i for i in data["injects"]), "and writes some inline"
    assert [i.use for i in resolved.injects if i.use] == uses
    for inject in resolved.injects:  # resolved: the library's text, under the scenario's own id
        if inject.use:
            assert inject.title and inject.body, inject.id


def test_scenario_responses_cover_every_other_role(scenario, actions):
    _, data, resolved = scenario
    assert {r.from_ for r in resolved.responses} >= set(data["roles"]) - {"coordinator"}
    assert all(r.on in actions for r in resolved.responses)


def test_scenario_has_coordinator_avoid_rule(scenario, actions):
    _, data, resolved = scenario
    written = {r["id"] for r in data["avoid"]}
    rules = [r for r in resolved.avoid if r.id in written]
    assert any(r.role == "coordinator" for r in rules)
    assert all(set(r.actions) <= set(actions) for r in resolved.avoid)


def test_scenario_references_are_consistent(scenario, actions, roles, rubrics, regimes):
    _, _, resolved = scenario
    assert set(resolved.roles) <= set(roles) and "coordinator" in resolved.roles
    assert set(resolved.rubric) <= set(rubrics)
    assert set(resolved.regimes) <= set(regimes)
    injects = resolved.injects
    inject_ids = [i.id for i in injects]
    assert len(inject_ids) == len(set(inject_ids))
    phase_ids = {p.id for p in resolved.phases}
    assert {i.phase for i in injects if i.phase} <= phase_ids
    for inject in injects:
        assert all(t == "all" or t in resolved.roles for t in inject.to), inject.id
    # the loader's resolution: inline, inject-level, rubric and the regime clocks that apply
    exps = resolved.expectations
    ids = [e.id for e in exps]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
    assert any(e.regime for e in exps) == bool(resolved.regimes)
    scenario_roles = set(resolved.roles) | {"any"}
    for e in exps:
        assert e.action in actions, e.id
        assert set(e.requires) <= set(actions), e.id
        owner = e.owner or actions[e.action].default_owner
        assert owner in scenario_roles, f"{e.id}: owner {owner} plays no part here"
    markers = {a.sets_marker for a in actions.values() if a.sets_marker}
    markers |= {m for i in injects for m in i.marks}
    anchors = {e.after for e in exps if e.after} | {
        f"marker:{i.when.marker}" for i in injects if i.when is not None and i.when.marker
    }
    for anchor in anchors:
        kind, _, target = anchor.partition(":")
        if kind == "marker":
            assert target in markers, f"marker {target} is never set"
        elif kind == "inject":
            assert target in inject_ids
        elif kind == "action":
            assert target in actions
    for inject in injects:
        when = inject.when
        if when is None:
            continue
        if when.missed:
            assert when.missed in ids
        if when.done:
            assert when.done in actions
        if when.after:
            assert when.after in inject_ids


def schedule_problems(scenario: Scenario) -> list[str]:
    """Injects scheduled after the end or inside a time jump, jumps backwards, a weekend start
    (times as the loader resolves them; a branch's `at` is a delay after its condition)."""
    problems, scheduled, jumps = [], [], []
    for inject in scenario.injects:
        if inject.when is not None:
            continue
        scheduled.append((inject.at, inject.id))
        if inject.advance_to is not None:
            if inject.advance_to <= inject.at:
                problems.append(f"{inject.id}: jumps backwards")
            jumps.append((inject.at, inject.advance_to))
    for seconds, inject_id in scheduled:
        if seconds > scenario.duration:
            problems.append(f"{inject_id} at {seconds}s is after the end ({scenario.duration}s)")
        if any(at < seconds < target for at, target in jumps):
            problems.append(f"{inject_id} falls inside a time jump")
    if scenario.starts_at is None or scenario.starts_at.weekday() >= 5:
        problems.append("scenarios start on a weekday")
    return problems


def test_scenario_injects_fall_within_duration(scenario):
    _, _, resolved = scenario
    assert schedule_problems(resolved) == []


def test_schedule_check_catches_late_and_skipped_injects():
    from datetime import datetime

    from tabletop.timing import parse_at

    resolved = load_scenario(SCENARIOS / "suspected-breach.yaml")
    late = resolved.model_copy(update={"duration": 20 * 3600})
    assert any("after the end" in p for p in schedule_problems(late))
    at, _ = parse_at("15:00", resolved.starts_at)
    lost = Inject(id="lost", at=at, title="x")
    skipped = resolved.model_copy(update={"injects": [*resolved.injects, lost]})
    assert any("lost falls inside a time jump" in p for p in schedule_problems(skipped))
    weekend = resolved.model_copy(update={"starts_at": datetime(2026, 3, 7, 8, 40)})
    assert "scenarios start on a weekday" in schedule_problems(weekend)


def test_scenario_marks_awareness_when_personal_data_is_involved(scenario):
    _, _, resolved = scenario
    if resolved.regimes:
        assert any("aware" in i.marks for i in resolved.injects)
        assert resolved.context.data_positions


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scenario_texts_render_with_seeded_values(scenario, seed):
    name, data, _ = scenario
    values, problems = templating.generate_values(data["variables"], seed)
    assert problems == {}
    # the loader renders every text with the seed's values; a text that cannot be rendered is a problem
    rendered = load_scenario(SCENARIOS / f"{name}.yaml", seed=seed)
    texts = [rendered.title, rendered.summary]
    for inject in rendered.injects:
        texts += [inject.title, inject.body, inject.from_]
    texts += [r.title + r.body for r in rendered.responses]
    texts += [yaml.safe_dump(rendered.context.model_dump())]
    for text in texts:
        assert "{{" not in text and "{%" not in text, text
    assert rendered.values == values


def test_seed_varies_the_story(scenario):
    _, data, _ = scenario
    first, _ = templating.generate_values(data["variables"], 1)
    second, _ = templating.generate_values(data["variables"], 2)
    again, _ = templating.generate_values(data["variables"], 1)
    assert first == again
    assert first != second


# --- the data scores as the doctrine says ------------------------------------------------------


def play_script(name: str, decisions: list[dict], folder: Path, participants: list[dict]):
    """Play a few decisions through the engine in virtual time; return (session, scorecard json)."""
    from tabletop.scoring import score
    from tabletop.sessions import open_scripted, run_script

    script_path = folder / "script.yaml"
    script_path.write_text(yaml.safe_dump({"participants": participants, "decisions": decisions}))
    opened, script = open_scripted(SCENARIOS / f"{name}.yaml", script_path, transcript=folder / "run.jsonl")
    session = opened.session
    run_script(session, script)
    card = score(session.scenario, session.events).to_json()
    return session, card


def expectation(card: dict, expectation_id: str) -> dict:
    return next(e for e in card["expectations"] if e["id"] == expectation_id)


CAST = [{"name": "Sam", "role": "coordinator"}, {"name": "Tom", "role": "technical_lead"}]


@pytest.mark.parametrize("name", OUR_SCENARIOS)
def test_coordinator_fixing_things_is_a_finding(name, tmp_path):
    hands_on = [
        {
            "at": "10m",
            "role": "coordinator",
            "action": "contain",
            "fields": {"target": "the thing", "method": "other"},
        }
    ]
    _, card = play_script(name, hands_on, tmp_path, CAST)
    assert "coordinator-hands-on" in {f["id"] for f in card["findings"]}
    delegated = [
        {
            "at": "10m",
            "role": "technical_lead",
            "action": "contain",
            "fields": {"target": "the thing", "method": "other"},
        }
    ]
    (tmp_path / "delegated").mkdir()
    _, card = play_script(name, delegated, tmp_path / "delegated", CAST)
    assert "coordinator-hands-on" not in {f["id"] for f in card["findings"]}


def test_ico_clock_runs_from_awareness_not_from_the_first_alert(tmp_path):
    _, card = play_script("suspected-breach", [], tmp_path, CAST)
    # a processor for the affected data: its ICO decision records that the controller decides
    ico = expectation(card, "uk-gdpr-processor-ico-decision")
    assert not any(e["id"] == "uk-gdpr-ico-decision" for e in card["expectations"])
    aware_at = 70 * 60  # the forensics inject marks `aware` at T+1h10m
    assert ico["anchor"] == aware_at
    assert ico["deadline"] == aware_at + 72 * 3600
    assert ico["status"] == "missed"
    controller = expectation(card, "uk-gdpr-notify-controller")
    assert controller["deadline"] == aware_at + 24 * 3600  # the DPA's 24 hours


def test_recording_awareness_before_the_facts_arrive_is_premature_and_starts_no_clock(tmp_path):
    # the rule changed on purpose: awareness is a reasonable certainty, which the forensics
    # inject brings at T+1h10m; a confirmation before it counts for nothing but its finding
    early = [
        {
            "at": "30m",
            "role": "dpo",
            "action": "confirm_personal_data_breach",
            "fields": {"breach_type": "confidentiality", "basis": "token not ours"},
            "rationale": "export by an unknown party",
        }
    ]
    cast = [*CAST, {"name": "Priya", "role": "dpo"}]
    _, card = play_script("suspected-breach", early, tmp_path, cast)
    assert expectation(card, "uk-gdpr-processor-ico-decision")["anchor"] == 70 * 60
    premature = [f for f in card["findings"] if f["id"] == "premature"]
    assert [(f["action"], f["at"]) for f in premature] == [("confirm_personal_data_breach", 30 * 60)]


def test_missed_dpa_clock_brings_the_controllers_formal_notice(tmp_path):
    session, card = play_script("suspected-breach", [], tmp_path, CAST)
    assert "dpa-clock-chase" in session.released
    assert expectation(card, "late-controller-notice")["status"] == "missed"


def test_an_approved_emergency_change_starts_the_capture_clock(tmp_path):
    change = [
        {
            "at": "15m",
            "role": "technical_lead",
            "action": "emergency_change",
            "fields": {"change": "max_connections 400 to 1200"},
            "rationale": "pool saturated",
        }
    ]
    session, card = play_script("manual-infrastructure-change", change, tmp_path, CAST)
    assert expectation(card, "infra-capture")["anchor"] == 15 * 60
    assert expectation(card, "change-approved")["status"] == "met"
    assert "going-ahead-alone" not in session.released


def test_right_ico_call_is_scored_on_its_value(tmp_path):
    cast = [*CAST, {"name": "Priya", "role": "dpo"}, {"name": "Dana", "role": "executive"}]
    wrong = [
        {
            "at": "2h20m",
            "role": "dpo",
            "action": "assess_risk_to_individuals",
            "fields": {"risk": "unlikely"},
            "rationale": "it is only contact data",
        },
        {
            "at": "2h30m",
            "role": "executive",
            "action": "ico_decision",
            "fields": {"outcome": "not_notify"},
            "rationale": "unlikely to result in a risk",
        },
    ]
    _, card = play_script("lost-admin-account", wrong, tmp_path, cast)
    assert expectation(card, "ico-right-call")["flags"] == ["wrong_value"]
    assert expectation(card, "ico-right-call")["credit"] == 0
    assert expectation(card, "uk-gdpr-ico-decision")["status"] == "met"


@pytest.mark.parametrize("name", OUR_SCENARIOS)
def test_an_inject_reaches_who_must_act_on_it(name):
    """In solo practice the coordinator delegates: they and the owner both see the inject."""
    from tabletop.loader import load_scenario

    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    unseen = [
        (inject.id, exp.id, role)
        for inject in scenario.injects
        for exp in scenario.expectations_for(inject.id)
        for role in {"coordinator", exp.owner} - {"any"}
        if not inject.addressed_to(role)
    ]
    assert unseen == []
