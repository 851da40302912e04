"""`tabletop score` and `tabletop report` as a user runs them: files, folders, broken transcripts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tabletop.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "transcripts" / "samples"
GOOD = SAMPLES / "suspected-breach-good.jsonl"
POOR = SAMPLES / "suspected-breach-poor.jsonl"


def run(*args: str):
    return CliRunner(env={"COLUMNS": "160"}).invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def folder(tmp_path):
    for path in SAMPLES.glob("*.jsonl"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "broken.jsonl").write_text('{"type": "decision", "t": 0}\n')
    return tmp_path


def test_score_prints_a_scorecard():
    result = run("score", POOR)
    assert result.exit_code == 0, result.output
    assert "Suspected personal data breach at a processor" in result.output
    assert "Score 14%" in result.output and "Unable to be performed" in result.output
    assert "Findings" in result.output and "coordinator" in result.output.lower()
    assert "Notification clocks" in result.output


def test_score_json_is_the_design_shape():
    result = run("score", GOOD, "--json")
    data = json.loads(result.output)
    assert data["scenario"] == "suspected-breach" and data["score"] == 1.0
    assert {"passed", "applicable", "areas", "expectations", "findings", "clocks", "ratings"} <= set(data)


def test_score_until_gives_the_live_score():
    data = json.loads(run("score", POOR, "--json", "--until", "30m").output)
    statuses = {e["status"] for e in data["expectations"]}
    assert "open" in statuses and data["until"] == 1800 and data["ended"] is False


def test_score_folder_in_parallel_reports_the_broken_file(folder):
    result = run("score", folder, "--workers", "2")
    assert result.exit_code == 1
    assert "5 transcripts" in result.output
    assert "suspected-breach-team.jsonl" in result.output
    assert "broken.jsonl" in result.output and "session_started" in result.output
    assert "Traceback" not in result.output


def test_score_folder_json(folder):
    result = run("score", folder, "--json", "--workers", "2")
    data = json.loads(result.output)
    assert len(data) == 5
    broken = [d for d in data if "error" in d]
    assert len(broken) == 1 and broken[0]["path"].endswith("broken.jsonl")
    scores = {Path(d["path"]).name: d["score"] for d in data if "error" not in d}
    assert scores["suspected-breach-good.jsonl"] == 1.0


@pytest.mark.parametrize(
    "content, words",
    [
        ("not json at all\n", ":1: not valid JSON"),
        ('{"type": "session_started", "scenario": {"id": "x"}}\n', "key 'scenario."),
    ],
)
def test_score_broken_transcript_is_a_clear_error(tmp_path, content, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    result = CliRunner().invoke(main, ["score", str(path)])
    assert result.exit_code == 1 and words in result.output and "bad.jsonl" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_score_missing_target():
    result = CliRunner().invoke(main, ["score", "no/such/file.jsonl"])
    assert result.exit_code == 1 and "no such transcript or folder" in result.output


def test_report_writes_markdown_and_html_next_to_the_transcript(tmp_path):
    transcript = tmp_path / "run.jsonl"
    shutil.copy(POOR, transcript)
    result = run("report", transcript, "--generated-at", "2026-03-10T09:00")
    assert result.exit_code == 0, result.output
    md, html = tmp_path / "run.postmortem.md", tmp_path / "run.postmortem.html"
    assert result.output.split() == [str(md), str(html)]
    assert md.read_text().startswith("# Post-mortem (draft): Suspected personal data breach")
    assert "<svg" in html.read_text() and "run.postmortem.html" in md.read_text()


def test_report_to_stdout_and_json(tmp_path):
    result = run("report", GOOD, "-o", "-", "--generated-at", "2026-03-10")
    assert (
        result.output.startswith("# Post-mortem (draft)")
        and "Generated 2026-03-10 00:00 UTC" in result.output
    )
    out = tmp_path / "pm.json"
    run("report", GOOD, "-o", out)
    data = json.loads(out.read_text())
    assert data["scenario_id"] == "suspected-breach" and data["score"] == 1.0


def test_report_notes_a_tampered_transcript(tmp_path):
    transcript = tmp_path / "run.jsonl"
    lines = POOR.read_text().splitlines()
    record = json.loads(lines[5])
    record["tampered"] = True  # an edit after the fact: the line no longer matches its hash
    lines[5] = json.dumps(record)
    transcript.write_text("\n".join(lines) + "\n")
    result = run("report", transcript, "-o", "-")
    assert "integrity:" in result.output


def test_report_broken_transcript(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("")
    result = CliRunner().invoke(main, ["report", str(path)])
    assert result.exit_code == 1 and "empty transcript" in result.output


def test_hand_edited_events_of_the_wrong_shape_are_tolerated(tmp_path):
    transcript = tmp_path / "edited.jsonl"
    lines = POOR.read_text().splitlines()
    odd = [
        {"seq": 900, "type": "decision", "t": 60, "action": ["contain"], "role": None, "fields": ["x"]},
        {
            "seq": 901,
            "type": "decision",
            "t": 61,
            "action": "ico_decision",
            "role": "dpo",
            "fields": "notify",
        },
        {"seq": 902, "type": "marker_set", "t": 62, "marker": {"bad": 1}},
        {"seq": 903, "type": "inject_released", "t": 63, "inject": 7},
    ]
    transcript.write_text("\n".join([lines[0], *(json.dumps(e) for e in odd), *lines[1:]]) + "\n")
    # scored without a traceback, but an edited transcript is shown as forged, never as a normal score
    result = CliRunner().invoke(main, ["score", str(transcript), "--json"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert json.loads(result.stdout)["verification"]["status"] == "forged"
    result = CliRunner().invoke(main, ["report", str(transcript), "-o", "-"])
    assert result.exit_code == 1 and result.stdout.startswith("# Post-mortem (draft)")
    assert "**Evidence: FORGED:" in result.stdout


@pytest.mark.parametrize(
    "t",
    ['"soon"', "true", "-99999", "1e999", "9" * 5000],
    ids=["text", "bool", "negative", "inf", "5000-digits"],
)
def test_a_time_that_is_not_a_finite_number_of_seconds_is_refused_with_its_line(tmp_path, t):
    transcript = tmp_path / "edited.jsonl"
    lines = POOR.read_text().splitlines()
    odd = f'{{"seq": 1, "type": "decision", "t": {t}, "action": "contain", "role": "coordinator"}}'
    transcript.write_text("\n".join([lines[0], odd, *lines[1:]]) + "\n")
    result = CliRunner().invoke(main, ["score", str(transcript), "--json"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{transcript}:2:" in result.output
    assert ("'t'" if len(t) < 100 else "number too long") in result.output


def test_a_transcript_is_read_once_to_verify_and_score_it(monkeypatch):
    """`score` over a folder verifies and scores each file from one read of it, with the same
    verdict and score as verifying and scoring it apart."""
    from tabletop import transcript
    from tabletop.cli.scoring import score_file
    from tabletop.scoring import score_transcript

    sample = str(GOOD)
    apart = transcript.verify_evidence(sample)
    _, card, _ = score_transcript(sample)
    reads: list[object] = []
    real = transcript._scan

    def counting(path, **options):
        reads.append(path)
        return real(path, **options)

    monkeypatch.setattr(transcript, "_scan", counting)
    result = score_file(sample)
    assert len(reads) == 1
    assert result["verification"]["status"] == apart.status == "sample"
    assert result["score"] == card.score
