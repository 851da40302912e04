"""`compare` and `trends`, as functions and as CLI twins: their numbers are the scorer's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import review_support as rs
from click.testing import CliRunner

from tabletop.cli import main
from tabletop.review.compare import compare_transcripts
from tabletop.review.index import TranscriptIndex
from tabletop.review.trends import trends
from tabletop.scoring import score_transcript


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return rs.sample_folder(tmp_path / "transcripts")


def card(path: Path) -> dict:
    return score_transcript(path)[1].to_json()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


# --- compare -------------------------------------------------------------------------------


def test_same_scenario_compares_expectation_by_expectation_with_the_scorers_numbers(folder):
    a, b = folder / "2026-03-02-blue.jsonl", folder / "2026-04-06-red.jsonl"
    comparison = compare_transcripts(a, b)
    assert comparison.same_scenario and comparison.by == "expectation"
    card_a, card_b = card(a), card(b)
    assert [row.key for row in comparison.rows] == [e["id"] for e in card_a["expectations"]]
    for row, ea, eb in zip(comparison.rows, card_a["expectations"], card_b["expectations"], strict=False):
        assert row.a["status"] == ea["status"] and row.a["credit"] == ea["credit"]
        assert row.b["status"] == eb["status"] and row.b["credit"] == eb["credit"]
        assert row.b["flags"] == eb["flags"] and row.a["deadline"] == ea["deadline"]
        assert row.delta == pytest.approx(eb["credit"] - ea["credit"])
    assert comparison.a.score == card_a["score"] and comparison.b.score == card_b["score"]
    assert comparison.score_delta == pytest.approx(card_b["score"] - card_a["score"])
    coord = comparison.rows[0]
    assert (coord.key, coord.area, coord.a["status"], coord.b["status"]) == (
        "coord",
        "coordination",
        "met",
        "late",
    )
    assert [f["id"] for f in comparison.b.findings] == ["coord-hands-on"]


def test_different_scenarios_compare_area_by_area(folder):
    a, b = folder / "2026-03-02-blue.jsonl", folder / "solo" / "2026-05-20-sam.jsonl"
    comparison = compare_transcripts(a, b)
    assert not comparison.same_scenario and comparison.by == "area"
    card_a, card_b = card(a), card(b)
    rows = {row.key: row for row in comparison.rows}
    assert set(rows) == set(card_a["areas"]) | set(card_b["areas"])
    for area, row in rows.items():
        assert (row.a or {}).get("ratio") == card_a["areas"].get(area)
        assert (row.b or {}).get("ratio") == card_b["areas"].get(area)
        if row.a and row.b:
            assert row.a["rating"] == card_a["ratings"][area] and row.b["rating"] == card_b["ratings"][area]
    assert rows["technical"].b is None and rows["technical"].delta is None


def test_compare_json_equals_the_scorers_numbers(folder):
    a, b = folder / "2026-03-02-blue.jsonl", folder / "2026-05-11-blue.jsonl"
    code, out, _ = run("compare", str(a), str(b), "--json")
    assert code == 0
    data = json.loads(out)
    card_a, card_b = card(a), card(b)
    assert data["same_scenario"] is True and data["by"] == "expectation"
    for side, expected in (("a", card_a), ("b", card_b)):
        got = data[side]
        assert got["score"] == expected["score"]
        assert (got["passed"], got["applicable"]) == (expected["passed"], expected["applicable"])
        assert got["areas"] == expected["areas"] and got["ratings"] == expected["ratings"]
        assert got["integrity"] == "ok"
    ico = next(r for r in data["rows"] if r["key"] == "ico")
    assert ico["a"]["status"] == "met" and ico["b"]["status"] == "missed"
    assert ico["delta"] == -1.0


def test_compare_on_a_terminal_shows_both_sides_and_marks_a_broken_one(folder):
    code, out, _ = run(
        "compare", str(folder / "2026-03-02-blue.jsonl"), str(folder / "2026-06-01-green.jsonl")
    )
    assert code == 0
    assert "Expectation by expectation" in out
    assert "BROKEN" in out and "2026-06-01-green.jsonl" in out
    assert "Appoint a coordinator" in out


def test_compare_refuses_a_file_that_is_not_a_transcript_without_a_traceback(folder):
    bad = folder / "bad.jsonl"
    bad.write_text("[1, 2]\n", encoding="utf-8")
    code, out, err = run("compare", str(folder / "2026-03-02-blue.jsonl"), str(bad))
    assert code == 1
    assert "bad.jsonl" in err and "Traceback" not in err + out


# --- trends --------------------------------------------------------------------------------


def scored_rows(folder: Path):
    with TranscriptIndex(folder) as index:
        index.refresh()
        return index.entries()


def test_trends_by_team_follow_the_scorers_scores_oldest_first(folder):
    result = trends(scored_rows(folder), "team")
    lines = {s.key: s for s in result.series}
    assert set(lines) == {"blue", "red", "solo: Sam"}
    blue = lines["blue"]
    first, last = card(folder / "2026-03-02-blue.jsonl"), card(folder / "2026-05-11-blue.jsonl")
    assert [p.path for p in blue.points] == ["2026-03-02-blue.jsonl", "2026-05-11-blue.jsonl"]
    assert [p.value for p in blue.points] == [first["score"], last["score"]]
    assert blue.change == pytest.approx(last["score"] - first["score"])
    assert [e.path for e in result.excluded] == ["2026-06-01-green.jsonl"]


def test_trends_by_area_and_scenario(folder):
    rows = scored_rows(folder)
    by_area = {s.key: s for s in trends(rows, "area").series}
    solo = card(folder / "solo" / "2026-05-20-sam.jsonl")
    assert len(by_area["coordination"].points) == 4  # every trusted rehearsal has coordination
    assert len(by_area["technical"].points) == 3  # the solo scenario has no technical expectation
    dp = {p.path: p.value for p in by_area["data_protection"].points}
    assert dp["solo/2026-05-20-sam.jsonl"] == solo["areas"]["data_protection"]
    by_scenario = {s.key: len(s.points) for s in trends(rows, "scenario").series}
    assert by_scenario == {"lost-admin": 3, "suspected-breach": 1}
    only_blue = trends(rows, "area", team="blue")
    assert {len(s.points) for s in only_blue.series} == {2}
    with pytest.raises(ValueError, match="received 'weekday'"):
        trends(rows, "weekday")


def test_trends_json_equals_the_scorers_numbers(folder):
    code, out, _ = run("trends", str(folder), "--json", "--by", "scenario")
    assert code == 0
    data = json.loads(out)
    assert data["by"] == "scenario"
    assert data["excluded"] == [
        {"path": "2026-06-01-green.jsonl", "integrity": "broken", "problem": data["excluded"][0]["problem"]}
    ]
    for series in data["series"]:
        for point in series["points"]:
            assert point["value"] == card(folder / point["path"])["score"]
        assert series["count"] == len(series["points"])
        assert series["last"] == series["points"][-1]["value"]
    code, out, _ = run("trends", str(folder), "--json", "--by", "area")
    for series in json.loads(out)["series"]:
        for point in series["points"]:
            assert point["value"] == card(folder / point["path"])["areas"][series["key"]]


def test_trends_table_on_a_terminal(folder):
    code, out, _ = run("trends", str(folder))
    assert code == 0
    assert "Trends by team" in out and "blue" in out and "red" in out
    assert "Left out (1)" in out and "2026-06-01-green.jsonl" in out


def test_trends_of_a_missing_folder_is_a_clear_error(tmp_path):
    code, _out, err = run("trends", str(tmp_path / "nowhere"))
    assert code == 1 and "nowhere: no such folder of transcripts" in err


def test_review_of_a_missing_folder_is_a_clear_error(tmp_path):
    code, out, err = run("review", str(tmp_path / "nowhere"))
    assert code == 1 and "no such folder" in err and "Traceback" not in out + err


def expected_record(folder: Path) -> dict[tuple[str, str], dict[str, int]]:
    """Counts of met / late / missed per expectation, straight from the scorer, intact files only."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for path in sorted(folder.rglob("*.jsonl")):
        if path.name == "2026-06-01-green.jsonl":  # the tampered one stays out
            continue
        data = card(path)
        for e in data["expectations"]:
            if e["status"] in ("met", "late", "missed") and e.get("scope", "yours") == "yours":
                slot = counts.setdefault((data["scenario"], e["id"]), {"met": 0, "late": 0, "missed": 0})
                slot[e["status"]] += 1
    return counts


def test_what_keeps_being_missed_counts_the_scorers_statuses(folder):
    expected = expected_record(folder)
    _code, out, _ = run("trends", str(folder), "--json")
    missed = json.loads(out)["most_missed"]
    assert missed, "the sample folder has missed expectations"
    for row in missed:
        counts = expected[(row["scenario"], row["expectation"])]
        assert (row["met"], row["late"], row["missed"]) == (counts["met"], counts["late"], counts["missed"])
        assert row["applied"] == sum(counts.values())
        assert row["miss_rate"] == row["missed"] / row["applied"]
    every_missed = {key for key, counts in expected.items() if counts["missed"]}
    assert {(r["scenario"], r["expectation"]) for r in missed} == every_missed
    rates = [r["miss_rate"] for r in missed]
    assert rates == sorted(rates, reverse=True)
    # the solo run never brought its simulated DPO in (the DPO's own "record" is the team's, unscored)
    assert (missed[0]["scenario"], missed[0]["expectation"]) == ("suspected-breach", "solo-involve-dpo")
    _code, out, _ = run("trends", str(folder), "--json", "--team", "red")
    assert {r["expectation"] for r in json.loads(out)["most_missed"]} == {"declare", "ico"}


def test_the_missed_record_follows_changed_and_deleted_files(folder):
    with TranscriptIndex(folder) as index:
        index.refresh()
        before = {(r.scenario, r.expectation): r for r in index.expectation_record()}
        (folder / "2026-04-06-red.jsonl").unlink()
        index.refresh()
        after = {(r.scenario, r.expectation): r for r in index.expectation_record()}
    assert before[("lost-admin", "declare")].missed == 1
    assert after[("lost-admin", "declare")].missed == 0
    assert after[("lost-admin", "ico")].applied == before[("lost-admin", "ico")].applied - 1


def test_the_terminal_tables_show_names_that_look_like_markup_as_typed(tmp_path):
    folder = tmp_path / "odd"
    odd = [{"name": "[/] Mal [bold]lory", "role": "coordinator", "simulated": False}]
    a = rs.write_transcript(folder / "a.jsonl", team="[red]team[/red]", participants=odd)
    b = rs.write_transcript(folder / "b.jsonl", team="blue")
    code, out, err = run("compare", str(a), str(b))
    assert code == 0, err
    assert "[/] Mal [bold]lory" in out and "[red]team[/red]" in out
    code, out, err = run("trends", str(folder))
    assert code == 0, err
    assert "[red]team[/red]" in out


# --- like with like ----------------------------------------------------------------------------


def test_compare_warns_when_the_runs_were_played_under_different_conditions(folder):
    alike = compare_transcripts(folder / "2026-03-02-blue.jsonl", folder / "2026-04-06-red.jsonl")
    assert alike.warnings == () and alike.a.conditions == "team, speed 60"
    solo = folder / "solo" / "2026-05-20-sam.jsonl"
    unlike = compare_transcripts(folder / "2026-03-02-blue.jsonl", solo)
    assert unlike.warnings == (
        "played under different conditions (A: team, speed 60; B: solo, speed 60): solo and team, "
        "hints and speed change what a score means",
    )
    code, out, _ = run("compare", str(folder / "2026-03-02-blue.jsonl"), str(solo))
    assert code == 0 and "warning: played under different conditions" in out
    assert "solo, speed 60" in out


def test_compare_warns_when_the_runs_were_played_under_different_rules(folder, tmp_path):
    old = rs.write_transcript(tmp_path / "old.jsonl", team="blue")
    lines = old.read_text().splitlines()
    first = json.loads(lines[0])
    first.pop("rules_version")
    first.pop("conditions")
    rs_lines = rs.chain([first, *(json.loads(line) for line in lines[1:])])
    old.write_text("\n".join(rs_lines) + "\n")
    comparison = compare_transcripts(folder / "2026-03-02-blue.jsonl", old)
    assert comparison.b.rules_version == 1
    assert any("different scoring rules versions" in w for w in comparison.warnings)
    assert comparison.to_json()["warnings"] == list(comparison.warnings)


def test_trends_warn_when_a_line_mixes_conditions(folder):
    with TranscriptIndex(folder) as index:
        index.refresh()
        entries = index.entries()
    by_area = trends(entries, "area")
    assert any(
        "runs played under different conditions (solo, speed 60; team, speed 60)" in w
        for w in by_area.warnings
    )
    by_team = trends(entries, "team")
    assert by_team.warnings == ()  # each team played under one set of conditions
    code, out, _ = run("trends", str(folder), "--by", "area")
    assert code == 0 and "warning: coordination: runs played under different conditions" in out
