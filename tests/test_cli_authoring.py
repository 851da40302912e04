"""`tabletop validate`, `list` and `show` as an author uses them."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tabletop.cli import main

DATA = Path(__file__).parent / "data"
GOOD = DATA / "scenarios" / "good.yaml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def team_repo(tmp_path, monkeypatch) -> Path:
    """A team's own scenario repo with scenarios/, injects/ and scoring/, as the cwd."""
    for name in ("scenarios", "injects", "scoring"):
        shutil.copytree(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_validate_clean_files_exit_0_with_a_summary(runner):
    result = runner.invoke(
        main, ["validate", str(DATA / "scenarios"), str(DATA / "injects"), str(DATA / "scoring")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 scenario, 12 injects, 2 rubric sets: no problems"


def test_validate_prints_each_problem_and_exits_1(runner):
    bad = DATA / "bad" / "unknown-after.yaml"
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].endswith(
        "unknown-after.yaml:9:19: injects.1.when.after: unknown inject 'alrt' (did you mean 'alert'?)"
    )
    assert "unknown-after.yaml:12:" in lines[1]
    assert lines[-1] == "1 scenario, 2 injects, 0 rubric sets: 2 problems in 1 file"
    assert "Traceback" not in result.output


def test_validate_json(runner):
    result = runner.invoke(main, ["validate", "--json", str(DATA / "bad" / "unknown-role.yaml")])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["problems"][0]["line"] == 10 and data["problems"][0]["key"] == "injects.0.to.0"


def test_validate_syntax_error_has_no_traceback(runner):
    result = runner.invoke(main, ["validate", str(DATA / "bad" / "yaml-syntax.yaml")])
    assert result.exit_code == 1
    assert "yaml-syntax.yaml:6:8: (file): invalid YAML" in result.output
    assert "Traceback" not in result.output


def test_validate_internal_error_is_one_line_and_exit_2(runner, monkeypatch):
    import tabletop.loader

    def broken(paths):
        raise RuntimeError("boom")

    monkeypatch.setattr(tabletop.loader, "validate", broken)
    result = runner.invoke(main, ["validate", str(GOOD)])
    assert result.exit_code == 2
    assert "internal error: RuntimeError: boom; please report" in result.output
    assert "Traceback" not in result.output


def test_list_json_shows_local_scenarios(runner, team_repo):
    result = runner.invoke(main, ["list", "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    good = next(e for e in entries if e["id"] == "good")
    from tabletop.loader import load_scenario

    assert good["title"] == load_scenario(GOOD).title  # rendered with the scenario's seed
    assert "{{" not in good["title"]
    assert good["kind"] == "tabletop" and good["duration"] == "74h" and good["duration_seconds"] == 74 * 3600
    assert good["injects"] == 8 and good["roles"] == [
        "coordinator",
        "technical_lead",
        "comms_owner",
        "dpo",
        "executive",
    ]
    assert good["path"] == "scenarios/good.yaml" and good["error"] is None
    assert entries[0]["id"] == "good"  # ./scenarios first


def test_list_table(runner, team_repo):
    result = runner.invoke(main, ["list"])
    assert result.exit_code == 0
    for words in ("id", "title", "kind", "duration", "injects", "roles", "good", "74h", "coordinator"):
        assert words in result.output


def test_list_reports_a_broken_file_instead_of_crashing(runner, team_repo):
    (team_repo / "scenarios" / "broken.yaml").write_text("id: [broken\n")
    result = runner.invoke(main, ["list", "--json"])
    assert result.exit_code == 0
    broken = next(e for e in json.loads(result.output) if e["id"] == "broken")
    assert broken["error"].startswith("line 2:")


def test_show_json_is_the_msel_in_time_order(runner):
    result = runner.invoke(main, ["show", str(GOOD), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["scenario"] == "good" and data["seed"] == 7 and data["duration"] == "74h"
    rows = data["injects"]
    assert [r["id"] for r in rows] == [
        "alert",
        "ticket",
        "dpo-chases",
        "press",
        "jump",
        "morning",
        "days-pass",
        "after-ico",
    ]
    assert [r["seq"] for r in rows] == list(range(1, 9))
    ticket = rows[1]
    assert ticket["time"] == "T+20m" and ticket["clock"] == "09:30"
    assert ticket["from"].endswith(" support") and ticket["to"] == ["coordinator"]
    assert ticket["expects"] == [
        {
            "id": "dpo-in",
            "action": "involve_dpo",
            "owner": "coordinator",
            "within": "30m",
            "weight": 2.0,
            "deadline": "T+50m",
            "deadline_seconds": 3000,
        }
    ]
    chase = rows[2]
    assert chase["at"] is None and chase["estimate"] == 3600
    assert chase["when"] == {
        "kind": "missed",
        "target": "dpo-in",
        "delay": 600,
        "text": "missed: dpo-in +10m",
    }
    assert rows[4]["advance_to_clock"] == "day 2 08:00"
    assert rows[5]["clock"] == "day 2 08:30"
    assert rows[7]["time"] is None and rows[7]["when"]["kind"] == "done"
    assert {e["id"] for e in data["expectations"]} >= {"ico-72h", "coord-appointed"}


def test_show_seed_changes_names_and_is_stable(runner):
    first = json.loads(runner.invoke(main, ["show", str(GOOD), "--json", "--seed", "3"]).output)
    again = json.loads(runner.invoke(main, ["show", str(GOOD), "--json", "--seed", "3"]).output)
    other = json.loads(runner.invoke(main, ["show", str(GOOD), "--json", "--seed", "4"]).output)
    assert first == again
    assert first["title"] != other["title"]


def test_show_table(runner):
    result = runner.invoke(main, ["show", str(GOOD)])
    assert result.exit_code == 0, result.output
    for words in (
        "T+20m",
        "09:30",
        "involve_dpo (coordinator)",
        "by T+50m",
        "missed: dpo-in +10m",
        "jumps to day 2 08:00",
        "ico-72h",
    ):
        assert words in result.output, words


def test_show_by_id_from_the_team_repo(runner, team_repo):
    result = runner.invoke(main, ["show", "good", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["scenario"] == "good"


def test_show_a_bad_scenario_prints_problems_and_exits_1(runner):
    result = runner.invoke(main, ["show", str(DATA / "bad" / "unknown-phase.yaml")])
    assert result.exit_code == 1
    assert "unknown-phase.yaml:11:12: injects.0.phase: unknown phase 'detecton'" in result.output
    assert "Traceback" not in result.output


def test_show_unknown_id_suggests(runner, team_repo):
    result = runner.invoke(main, ["show", "goood"])
    assert result.exit_code == 1
    assert "no scenario with id 'goood' (did you mean 'good'?)" in result.output
