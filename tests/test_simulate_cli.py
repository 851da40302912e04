"""`tabletop simulate` and `tabletop verify` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tabletop.cli import main
from tabletop.clock import VirtualClock
from tabletop.loader import find_scenario, load_scenario
from tabletop.script import DecisionScript, ScriptError, load_script, play
from tabletop.sessions import open_session
from tabletop.transcript import verify_transcript

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "suspected-breach.yaml"
GOOD = ROOT / "tests" / "data" / "scripts" / "suspected-breach-good.yaml"


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch):
    """These tests are about content, not durability (test_durability.py covers that)."""
    import tabletop.transcript as tr

    monkeypatch.setattr(tr.os, "fsync", lambda fd: None)


def simulate(*args):
    return CliRunner().invoke(main, ["simulate", *map(str, args)], catch_exceptions=False)


def comparable(path: Path, drop=("wall", "prev", "hash")) -> list[dict]:
    """The events without `drop` and without signature lines (a signature signs the wall time)."""
    events = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in e.items() if k not in drop} for e in events if e["type"] != "signature"]


def test_simulate_writes_a_verifiable_transcript_and_prints_its_path(tmp_path):
    out = tmp_path / "run.jsonl"
    result = simulate(SCENARIO, "--script", GOOD, "--out", out, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("run.jsonl")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[-1]["type"] == "signature" and lines[-1]["signs"] == lines[-2]["seq"], "the end is signed"
    events = [e for e in lines if e["type"] != "signature"]
    started, ended = events[0], events[-1]
    assert (started["type"], started["mode"], started["seed"]) == ("session_started", "simulate", 3)
    assert started["scenario"]["id"] == "suspected-breach"
    assert (ended["type"], ended["reason"]) == ("session_ended", "duration")
    decisions = [e for e in events if e["type"] == "decision"]
    assert len(decisions) >= 25
    delegated = [e for e in decisions if e["delegated_by"]]
    assert [(e["role"], e["action"], e["delegated_by"]) for e in delegated] == [
        ("technical_lead", "contain", "coordinator")
    ]
    assert all(isinstance(e.get("script_entry"), int) for e in decisions if not e["delegated_by"])
    assert verify_transcript(out).ok
    result = CliRunner().invoke(main, ["verify", str(out)])
    assert result.exit_code == 0 and result.output.startswith(f"intact: {len(lines)} events")
    assert "VERIFIED: signed by" in result.output


def test_the_good_script_scores_well(tmp_path):
    from tabletop.scoring import score_transcript

    out = tmp_path / "run.jsonl"
    assert simulate(SCENARIO, "--script", GOOD, "--out", out).exit_code == 0
    _, card, _ = score_transcript(out)
    assert card.to_json()["score"] >= 0.9


def test_same_scenario_seed_and_script_give_the_same_transcript(tmp_path):
    for name in ("a.jsonl", "b.jsonl"):
        assert simulate(SCENARIO, "--script", GOOD, "--out", tmp_path / name, "--seed", 5).exit_code == 0
    assert comparable(tmp_path / "a.jsonl") == comparable(tmp_path / "b.jsonl")
    assert simulate(SCENARIO, "--script", GOOD, "--out", tmp_path / "c.jsonl", "--seed", 6).exit_code == 0
    assert comparable(tmp_path / "a.jsonl") != comparable(tmp_path / "c.jsonl")


def test_default_path_is_under_transcripts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = simulate("suspected-breach", "--script", GOOD)
    assert result.exit_code == 0, result.output
    printed = result.output.strip()
    assert re.fullmatch(r"transcripts/suspected-breach-\d{8}-\d{6}-7\.jsonl", printed), printed
    assert (tmp_path / printed).is_file()
    second = simulate("suspected-breach", "--script", GOOD).output.strip()
    assert second != printed and (tmp_path / second).is_file() and (tmp_path / printed).is_file()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "entry, line, words",
    [
        (
            "{at: 5m, role: coordinator, action: apoint_coordinator}",
            5,
            "unknown action 'apoint_coordinator' (did you mean 'appoint_coordinator'?)",
        ),
        (
            "{at: 5m, role: dpo, action: involve_dpo}",
            5,
            "nobody plays role 'dpo'; participants play coordinator",
        ),
        ("{at: 5m, role: ceo, action: involve_dpo}", 5, "role 'ceo' is not in scenario 'suspected-breach'"),
        (
            "{at: 5m, role: coordinator, action: declare_incident, fields: {severity: sev9, summary: x}}",
            5,
            "expected one of sev1, sev2, sev3, received 'sev9'",
        ),
        ("{at: 5m, role: coordinator, action: declare_incident}", 5, "field 'severity' is required"),
        ("{at: soon, role: coordinator, action: involve_dpo}", 5, "expected a time like"),
        ("{at: day 9 08:00, role: coordinator, action: involve_dpo}", 5, "after the session ends"),
        (
            "{at: 5m, role: coordinator, action: involve_dpo, delegate: intern}",
            5,
            "cannot delegate to role 'intern'",
        ),
        ("{at: 5m, role: coordinator, action: involve_dpo, inject: nope}", 5, "unknown inject 'nope'"),
        ("{at: 5m, role: coordinator, action: involve_dpo, colour: red}", 5, "unknown key 'colour'"),
        ("{at: 5m, role: coordinator}", 5, "expected exactly one of action or note"),
    ],
)
def test_a_bad_script_is_refused_with_file_and_line_before_anything_is_written(
    tmp_path, monkeypatch, entry, line, words
):
    monkeypatch.chdir(tmp_path)
    script = write(
        tmp_path / "bad.yaml",
        "participants:\n  - {name: Sam, role: coordinator}\ndecisions:\n"
        "  - {at: 1m, role: coordinator, action: appoint_coordinator, fields: {coordinator: Sam}}\n"
        f"  - {entry}\n",
    )
    result = simulate(SCENARIO, "--script", script)
    assert result.exit_code == 1
    assert f"bad.yaml:{line}: " in result.output
    assert words in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "transcripts").exists()


def test_every_problem_of_a_script_is_listed(tmp_path):
    script = write(
        tmp_path / "bad.yaml",
        "participants:\n  - {name: Sam, role: coordinator}\ndecisions:\n"
        "  - {at: 1m, role: coordinator, action: nope}\n"
        "  - {at: 2m, role: dpo, action: involve_dpo}\n",
    )
    with pytest.raises(ScriptError) as error:
        load_script(script, load_scenario(SCENARIO))
    assert [p.split(": ")[0].split(":")[-1] for p in error.value.problems] == ["4", "5"]


def test_yaml_syntax_errors_name_the_line(tmp_path):
    script = write(tmp_path / "broken.yaml", "participants: [\n  {name: Sam\ndecisions: []\n")
    result = simulate(SCENARIO, "--script", script, "--out", tmp_path / "x.jsonl")
    assert result.exit_code == 1 and "broken.yaml:" in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_an_unknown_scenario_is_a_clear_error(tmp_path):
    result = simulate("suspected-breech", "--script", GOOD, "--out", tmp_path / "x.jsonl")
    assert result.exit_code == 1
    assert "suspected-breach" in result.output and "Traceback" not in result.output


def test_an_existing_out_file_is_never_overwritten(tmp_path):
    out = write(tmp_path / "keep.jsonl", "precious\n")
    result = simulate(SCENARIO, "--script", GOOD, "--out", out)
    assert result.exit_code == 1 and "already exists" in result.output
    assert out.read_text() == "precious\n"


# --- verify --------------------------------------------------------------------------------


@pytest.fixture
def transcript(tmp_path):
    out = tmp_path / "run.jsonl"
    assert simulate(SCENARIO, "--script", GOOD, "--out", out).exit_code == 0
    return out


def verify(path):
    return CliRunner().invoke(main, ["verify", str(path)])


def test_verify_names_the_first_bad_seq_and_line_of_an_edit(transcript):
    lines = transcript.read_text().splitlines(keepends=True)
    lines[10] = lines[10].replace('"t":', '"t":1', 1)
    transcript.write_text("".join(lines))
    result = verify(transcript)
    assert result.exit_code == 1
    assert "first bad seq 10 at line 11" in result.output


def test_verify_finds_reordering_deletion_and_torn_tail(transcript):
    original = transcript.read_text().splitlines(keepends=True)
    swapped = original[:]
    swapped[20], swapped[21] = swapped[21], swapped[20]
    transcript.write_text("".join(swapped))
    assert "first bad seq 21 at line 21" in verify(transcript).output
    transcript.write_text("".join(original[:30] + original[31:]))
    result = verify(transcript)
    assert result.exit_code == 1 and "first bad seq 31 at line 31" in result.output
    transcript.write_text("".join(original)[:-25])
    result = verify(transcript)
    last = len(original) - 1
    assert result.exit_code == 1
    assert f"first bad seq {last} at line {last + 1}" in result.output and "torn tail" in result.output


def test_verify_a_missing_file(tmp_path):
    result = verify(tmp_path / "nope.jsonl")
    assert result.exit_code == 1 and "no such transcript" in result.output


# --- resume --------------------------------------------------------------------------------


def test_resume_after_a_crash_gives_the_same_run(tmp_path):
    scenario = load_scenario(SCENARIO)
    script = load_script(GOOD, scenario)
    full = tmp_path / "full.jsonl"
    assert simulate(SCENARIO, "--script", GOOD, "--out", full).exit_code == 0

    crashed = tmp_path / "crashed.jsonl"
    session = open_session(
        scenario,
        mode="simulate",
        players=script.participants,
        clock=VirtualClock(),
        transcript=crashed,
        scenario_path=str(find_scenario(SCENARIO).relative_to(ROOT)),
        start=True,
    ).session
    writer = session.writer
    half = DecisionScript(path=script.path, participants=script.participants, entries=script.entries[:12])
    play(session, half, to_end=False)
    writer.close()
    with open(crashed, "ab") as handle:
        handle.write(b'{"seq":')  # the crash tore the last write

    result = simulate("--resume", crashed, "--script", GOOD)
    assert result.exit_code == 0, result.output
    assert verify_transcript(crashed).ok
    drop = ("wall", "prev", "hash", "seq", "id", "delegation", "scenario_path")
    resumed = [e for e in comparable(crashed, drop) if e["type"] != "session_resumed"]
    assert resumed == comparable(full, drop)
    again = simulate("--resume", crashed, "--script", GOOD)
    assert again.exit_code == 1 and "already ended" in again.output


def test_a_solo_script_plays_the_coordinator_against_simulated_teammates(tmp_path):
    out = tmp_path / "solo.jsonl"
    solo = ROOT / "tests" / "data" / "scripts" / "suspected-breach-solo.yaml"
    result = simulate(SCENARIO, "--script", solo, "--out", out)
    assert result.exit_code == 0, result.output
    events = [e for e in comparable(out) if e["type"] != "signature"]
    started = events[0]
    assert (started["mode"], started["solo_role"]) == ("solo", "coordinator")
    assert started["conditions"] == {"mode": "solo", "hints": False, "auto_pause": False, "speed": 20.0}
    assert [p["role"] for p in started["participants"] if not p["simulated"]] == ["coordinator"]
    assert any(e.get("teammate") for e in events if e["type"] == "decision")
    scored = CliRunner().invoke(main, ["score", str(out), "--json"], catch_exceptions=False)
    data = json.loads(scored.output)
    assert (data["score"], data["solo_role"], data["rules_version"]) == (1.0, "coordinator", 2)


def test_a_solo_script_has_one_participant_and_a_known_mode(tmp_path):
    script = tmp_path / "bad.yaml"
    script.write_text(
        "mode: solo\n"
        "participants:\n"
        "  - {name: Sam, role: coordinator}\n"
        "  - {name: Priya, role: dpo}\n"
        "decisions: []\n"
    )
    result = simulate(SCENARIO, "--script", script, "--out", tmp_path / "x.jsonl")
    assert result.exit_code == 1
    assert "bad.yaml:3: a solo script has one participant, the player; received 2" in result.output
    script.write_text("mode: duo\nparticipants: [{name: Sam, role: coordinator}]\ndecisions: []\n")
    result = simulate(SCENARIO, "--script", script, "--out", tmp_path / "y.jsonl")
    assert (
        result.exit_code == 1
        and "bad.yaml:1: expected mode simulate or solo, received 'duo'" in result.output
    )
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "y.jsonl").exists()
