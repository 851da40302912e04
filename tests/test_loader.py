"""The loader resolves a scenario into a self-contained, rendered, seeded Scenario."""

import shutil
from pathlib import Path

import pytest

import tabletop
from tabletop.files import file_sha256
from tabletop.loader import (
    Catalog,
    Problem,
    ScenarioError,
    data_roots,
    find_scenario,
    load_catalog,
    load_scenario,
)
from tabletop.model import Scenario, session_end
from tabletop.yamlsource import parse_text

DATA = Path(__file__).parent / "data"
GOOD = DATA / "scenarios" / "good.yaml"


@pytest.fixture(scope="module")
def good() -> Scenario:
    return load_scenario(GOOD)


def test_use_copies_the_library_inject_and_scenario_fields_override(good):
    alert = good.inject("alert")
    assert alert.use == "breach/anomalous-export"
    assert alert.channel == "alert" and alert.from_ == "SIEM" and alert.to == ["technical_lead"]
    assert alert.phase == "detection"
    assert "rows exported" in alert.body and good.values["customer"] in alert.body
    press = good.inject("press")
    assert press.channel == "phone" and press.at == 3600


def test_times_are_seconds_clock_times_use_starts_at(good):
    assert good.inject("alert").at == 0
    assert good.inject("ticket").at == 20 * 60  # 09:30 with starts_at 09:10
    assert good.inject("morning").at == 23 * 3600 + 20 * 60  # day 2 08:30
    jump = good.inject("jump")
    assert jump.at == 7200 and jump.advance_to == 22 * 3600 + 50 * 60  # day 2 08:00
    assert session_end(good) == 74 * 3600  # duration covers the jumped time too


def test_branch_at_is_the_delay_after_its_condition(good):
    chase = good.inject("dpo-chases")
    assert chase.when.kind == "missed" and chase.when.target == "dpo-in"
    assert chase.at == 600
    assert good.inject("after-ico").at == 0


def test_inline_expects_move_to_the_scenario_anchored_on_their_inject(good):
    assert all(i.expects == [] for i in good.injects)
    dpo_in = good.expectation("dpo-in")
    assert dpo_in.after == "inject:ticket" and dpo_in.owner == "coordinator" and dpo_in.within == 1800
    contained = good.expectation("contained")  # from the library inject
    assert contained.after == "inject:alert"
    assert contained.owner == "technical_lead"  # the action's default owner


def test_scenario_expectations_default_to_start_and_action_defaults(good):
    ico = good.expectation("ico-decided")
    assert ico.after == "marker:aware"
    assert ico.owner == "dpo" and ico.rationale == "required"
    assert good.expectation("coord-appointed").after == "start"


def test_rubric_sets_merge_and_the_scenario_overrides_by_id(good):
    ids = [e.id for e in good.expectations]
    assert len(ids) == len(set(ids))
    assert {"coord-appointed", "dpo-involved", "evidence"} <= set(ids)
    # the scenario redefines the rubric's first-update with a tighter clock
    assert good.expectation("first-update").within == 30 * 60
    assert [a.id for a in good.avoid] == ["no-panic", "coord-hands-on"]
    assert good.values["customer"] in good.expectation("dpo-involved").why


def test_regime_clocks_become_expectations(good):
    ico = good.expectation("ico-72h")
    assert ico.regime == "uk_gdpr" and ico.after == "marker:aware" and ico.within == 72 * 3600
    assert ico.source == "UK GDPR Art 33(1)" and ico.rationale == "required"
    controller = good.expectation("controller-notice")
    assert controller.within == 24 * 3600  # `within: contract` from the processor data position
    assert controller.owner == "dpo"


def test_regime_clock_applies_only_to_a_processor(tmp_path):
    tree = _copy_tree(tmp_path)
    path = tree / "scenarios" / "good.yaml"
    path.write_text(path.read_text().replace("position: processor", "position: controller"))
    scenario = load_scenario(path)
    ids = {e.id for e in scenario.expectations}
    assert "ico-72h" in ids and "controller-notice" not in ids


def test_resolved_scenario_is_self_contained(good):
    assert {a.id for a in good.actions} >= {"ico_decision", "involve_dpo", "contain"}
    assert [r.id for r in good.role_info] == good.roles
    again = Scenario.from_json(good.to_json())
    assert again == good


def test_every_text_is_rendered(good):
    customer = good.values["customer"]
    assert good.title == f"A breach at {customer}"
    assert customer in good.summary
    assert good.phases[0].title == "Detection at acme-prod-eu"
    assert good.inject("ticket").from_ == f"{customer} support"
    assert str(good.values["records"]) in good.inject("ticket").title
    assert customer in good.responses[0].body
    assert customer in good.hotwash[0].question
    assert good.context.data_positions[0].controller == customer
    assert all("{{" not in text for text in (good.title, good.summary, *good.hotwash_questions()))


def test_same_seed_same_text_other_seed_other_names():
    first = load_scenario(GOOD, seed=11)
    second = load_scenario(GOOD, seed=11)
    other = load_scenario(GOOD, seed=12)
    assert first.values == second.values and first.title == second.title
    assert first.seed == 11
    assert first.values["customer"] != other.values["customer"]
    assert first.values["admin"] != other.values["admin"]
    assert first.values["tenant"] == other.values["tenant"] == "acme-prod-eu"
    assert 1200 <= first.values["records"] <= 48000


def test_default_seed_is_the_scenarios(good):
    assert good.seed == 7
    assert load_scenario(GOOD, seed=7).values == good.values


def test_problems_raise_scenario_error_with_every_problem():
    with pytest.raises(ScenarioError) as caught:
        load_scenario(DATA / "bad" / "unknown-response-action.yaml")
    problems = caught.value.problems
    assert len(problems) == 2 and all(isinstance(p, Problem) for p in problems)
    assert str(problems[0]) == (
        f"{problems[0].path}:9:9: responses.0.on: unknown action 'involve_dop' (did you mean 'involve_dpo'?)"
    )
    assert str(caught.value).count("\n") == 1


def test_find_scenario_by_path_and_by_id(tmp_path, monkeypatch):
    assert find_scenario(GOOD) == GOOD
    (tmp_path / "scenarios").mkdir()
    shutil.copy(GOOD, tmp_path / "scenarios" / "local-one.yaml")
    monkeypatch.chdir(tmp_path)
    assert find_scenario("local-one").resolve() == (tmp_path / "scenarios" / "local-one.yaml").resolve()
    with pytest.raises(ScenarioError) as caught:
        find_scenario("local-on")
    assert "did you mean 'local-one'" in str(caught.value)


def test_scenario_finds_the_nearest_injects_and_scoring(tmp_path):
    tree = _copy_tree(tmp_path)
    nested = tree / "scenarios" / "team" / "deep"
    nested.mkdir(parents=True)
    shutil.copy(tree / "scenarios" / "good.yaml", nested / "good.yaml")
    # a change in the copied scoring data is seen: the copy is the nearest
    actions = tree / "scoring" / "actions.yaml"
    actions.write_text(
        actions.read_text().replace(
            "default_owner: coordinator}", "default_owner: coordinator, description: moved}", 1
        )
    )
    scenario = load_scenario(nested / "good.yaml")
    assert scenario.action("declare_incident").description == "moved"


def test_scenario_without_data_tree_falls_back_on_bundled_data(tmp_path):
    roots = data_roots()
    assert Path(tabletop.__file__).resolve().parents[1] in roots
    bundled = roots[0] / "scoring"
    if not (bundled / "actions.yaml").is_file():
        pytest.skip("bundled scoring data not present")
    scenario_path = tmp_path / "mini.yaml"
    scenario_path.write_text(
        "id: mini\ntitle: Mini\nduration: 1h\nroles: [coordinator]\n"
        "injects:\n  - {id: a, at: T+0m, title: Start}\n"
        "expectations:\n  - {id: coord, action: appoint_coordinator, within: 15m}\n"
    )
    scenario = load_scenario(scenario_path)
    assert scenario.expectation("coord").owner == "coordinator"
    assert len(scenario.actions) >= 40


def test_yaml_11_traps_are_read_as_authors_mean():
    doc = parse_text("on: involve_dpo\nat: 10:30\nflag: yes\nreal: true\nn: 3\n", Path("x.yaml"))
    assert doc.data == {"on": "involve_dpo", "at": "10:30", "flag": "yes", "real": True, "n": 3}
    assert doc.keys[("at",)] == (2, 1) and doc.values[("at",)] == (2, 5)


def test_load_catalog_reads_the_fixture_tree():
    catalog = load_catalog(DATA)
    assert isinstance(catalog, Catalog)
    assert set(catalog.roles) == {
        "coordinator",
        "technical_lead",
        "comms_owner",
        "dpo",
        "scribe",
        "executive",
    }
    assert catalog.actions["ico_decision"].fields["outcome"].choices == ["notify", "not_notify"]
    assert set(catalog.regimes) == {"uk_gdpr"} and set(catalog.rubrics) == {"coordination", "breach"}
    assert catalog.markers == {"aware"}


def test_load_catalog_raises_on_bad_scoring_data(tmp_path):
    tree = _copy_tree(tmp_path)
    (tree / "scoring" / "roles.yaml").write_text("- {id: coordinator, titel: Coordinator}\n")
    with pytest.raises(ScenarioError) as caught:
        load_catalog(tree)
    messages = [str(p) for p in caught.value.problems]
    assert any("roles.yaml:1:" in m and "unknown key 'titel'" in m for m in messages)


def test_scenario_sha256_is_of_the_file_bytes():
    import hashlib

    assert file_sha256(GOOD) == hashlib.sha256(GOOD.read_bytes()).hexdigest()


def _copy_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for name in ("scenarios", "injects", "scoring"):
        shutil.copytree(DATA / name, tree / name)
    return tree


def test_seeded_values_are_deterministic_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    from tabletop.templating import generate_values

    variables = {
        "customer": "company",
        "person": "name",
        "n": {"faker": "random_int", "min": 1, "max": 10**9},
    }
    expected = {seed: generate_values(variables, seed)[0] for seed in range(8)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda seed: (seed, generate_values(variables, seed)[0]), list(range(8)) * 5))
    assert all(values == expected[seed] for seed, values in results)
    assert len({v["customer"] for v in expected.values()}) > 1
