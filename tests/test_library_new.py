"""`tabletop new`: the skeleton of every rehearsal kind validates as written and has the shape of a real scenario."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from tabletop.cli import main
from tabletop.loader import resolve_scenario
from tabletop.model import KINDS
from tabletop.skeleton import SkeletonError, scenario_id, skeleton


@pytest.mark.parametrize("kind", KINDS)
def test_new_output_validates_for_every_kind(kind, tmp_path):
    path = tmp_path / "scenarios" / f"drill-{kind}.yaml"
    result = CliRunner().invoke(main, ["new", f"Drill {kind}", "--kind", kind, "-o", str(path)])
    assert result.exit_code == 0, result.output
    scenario, problems, _ = resolve_scenario(path)
    assert problems == []
    assert scenario is not None and scenario.kind == kind and scenario.id == f"drill-{kind}"
    assert len(scenario.phases) >= 2 and all(p.questions for p in scenario.phases)
    conditions = {i.when.kind for i in scenario.injects if i.when}
    assert {"missed", "done"} <= conditions
    assert any(i.advance_to is not None for i in scenario.injects)
    assert {r.from_ for r in scenario.responses} == set(scenario.roles) - {"coordinator"}
    assert scenario.expectations and scenario.hotwash and scenario.avoid


def test_the_skeleton_is_commented_and_marks_what_to_edit():
    text = skeleton("Quarterly restore", "restore")
    assert text.startswith("# Quarterly restore: a restore rehearsal skeleton")
    assert "EDIT" in text
    data = yaml.safe_load(text)
    assert data["context"]["recovery"] == {
        "system": "EDIT: the system restored",
        "backup": "EDIT: the backup used",
        "rpo": "1h",
        "rto": "4h",
    }
    assert [e["action"] for i in data["injects"] for e in i.get("expects", [])][-2:] == [
        "verify_rpo_rto",
        "record_risk",
    ]


def test_kind_specific_scoring_is_in_the_skeleton():
    runbook = yaml.safe_load(skeleton("RB", "restore-runbook"))
    chained = [e for i in runbook["injects"] for e in i.get("expects", []) if e.get("requires")]
    assert len(chained) >= 4 and any(e["action"] == "halt_runbook" for e in chained)
    dsr = yaml.safe_load(skeleton("SAR", "data-subject-request"))
    assert dsr["regimes"] == ["uk_gdpr_dsr"] and dsr["injects"][0]["marks"] == ["dsr_received"]
    change = yaml.safe_load(skeleton("Night fix", "manual-change-recovery"))
    closing = change["injects"][-1]["expects"][0]
    assert closing["action"] == "close_incident"
    assert closing["requires"] == ["capture_manual_change", "reconcile_iac", "remove_temporary_fix"]


def test_scenario_ids_are_kebab_case():
    assert scenario_id("  Restore test: Q3 / ledger ") == "restore-test-q3-ledger"
    with pytest.raises(SkeletonError, match="cannot make a scenario id"):
        skeleton("!!!", "restore")
    with pytest.raises(SkeletonError, match="unknown kind 'drill'"):
        skeleton("x", "drill")


def test_cli_refuses_an_unknown_kind_and_an_existing_file(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["new", "x", "--kind", "failovr"])
    assert result.exit_code == 1 and "did you mean 'failover'" in result.output
    target = tmp_path / "x.yaml"
    target.write_text("keep me")
    result = runner.invoke(main, ["new", "x", "--kind", "failover", "-o", str(target)])
    assert result.exit_code == 1 and "exists" in result.output
    assert target.read_text() == "keep me"
    result = runner.invoke(main, ["new", "x", "--kind", "failover", "-o", str(target), "--force"])
    assert result.exit_code == 0 and target.read_text().startswith("# x: a failover rehearsal")


def test_cli_default_path_and_stdout(tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["new", "Team drill", "--kind", "incident-coordinator"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "scenarios" / "team-drill.yaml").is_file()
    result = runner.invoke(main, ["new", "Team drill", "--kind", "post-mortem", "-o", "-"])
    assert result.exit_code == 0 and "kind: post-mortem" in result.output
