"""Hostile files (tests/data/hostile/, and special files made here) through the command line, in a
subprocess under memory and CPU limits: a clear FILE:LINE problem, never a traceback, a hang or
an exhausted machine; and never the content of a file that is not valid input."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = Path("tests/data/hostile")
GOOD_SCENARIO = "tests/data/scenarios/good.yaml"
MEMORY = 2 * 1024**3
CPU_SECONDS = 120
CASE_SECONDS = 15.0
"""A hostile case must be refused well within this (the render budget is 1 s a text)."""
SECRET = "s3cr3t-hash-do-not-echo"


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def run_cases(cases: list[list[str]], tmp_path: Path) -> list[dict]:
    """Each argv through `tabletop` in one subprocess under the limits; the results in order."""
    plan = tmp_path / "cases.json"
    plan.write_text(json.dumps([{"argv": argv} for argv in cases]))
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "hostile_support.py"), str(plan)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CPU_SECONDS * 2,
        preexec_fn=_limits,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


def check(result: dict, where: str) -> None:
    """Refused with exit 1 or 2, naming `where` (a regex), no traceback, in bounded time."""
    argv = " ".join(result["argv"])
    assert result["exception"] is None, f"{argv}: traceback\n{result['exception']}"
    assert "Traceback" not in result["output"], argv
    assert result["exit"] in (1, 2), f"{argv}: exit {result['exit']}\n{result['output'][-2000:]}"
    assert re.search(where, result["output"]), f"{argv}: expected {where!r} in\n{result['output'][-2000:]}"
    assert result["seconds"] < CASE_SECONDS, f"{argv}: took {result['seconds']} s"


def test_hostile_scenarios_scripts_transcripts_and_msels_are_refused_with_file_and_line(tmp_path):
    cases: list[tuple[list[str], str]] = []
    for path in sorted(HOSTILE.glob("scenario-*.yaml")):
        cases.append((["validate", str(path)], rf"{re.escape(str(path))}:\d+"))
    for path in sorted(HOSTILE.glob("script-*.yaml")):
        cases.append(
            (
                [
                    "simulate",
                    GOOD_SCENARIO,
                    "--script",
                    str(path),
                    "--out",
                    str(tmp_path / f"{path.stem}.jsonl"),
                ],
                rf"{re.escape(str(path))}:\d+",
            )
        )
    for path in sorted(HOSTILE.glob("transcript-*.jsonl")):
        cases.append((["score", str(path)], rf"{re.escape(str(path))}:\d+"))
        cases.append((["verify", str(path)], r"line \d+"))
    for path in sorted(HOSTILE.glob("msel-*.csv")):
        cases.append(
            (
                ["msel", "import", str(path), "-o", str(tmp_path / f"{path.stem}.yaml")],
                rf"{re.escape(str(path))}: (row \d+|more than)",
            )
        )
    assert len(cases) >= 30
    results = run_cases([argv for argv, _ in cases], tmp_path)
    for (_argv, where), result in zip(cases, results, strict=False):
        check(result, where)
        assert SECRET not in result["output"]
    assert max(r["max_rss_mb"] for r in results) < 1500
    assert not any((tmp_path / f"{p.stem}.yaml").exists() for p in HOSTILE.glob("msel-*.csv"))


@pytest.fixture
def special(tmp_path):
    """Special files where inputs are expected: links to a device and to a secret, a FIFO, a big file."""
    folder = tmp_path / "special"
    folder.mkdir()
    secret = tmp_path / "shadow"
    secret.write_text(f"root:{SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    for name in ("zero.yaml", "zero.jsonl", "zero.csv"):
        (folder / name).symlink_to("/dev/zero")
    for name in ("shadow.yaml", "shadow.jsonl", "shadow.csv"):
        (folder / name).symlink_to(secret)
    for name in ("fifo.yaml", "fifo.jsonl"):
        os.mkfifo(folder / name)
    with open(folder / "big.yaml", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB without writing them
    return folder


def test_special_files_are_refused_unread_and_never_echoed(special, tmp_path):
    cases = [
        (["validate", str(special / "zero.yaml")], r"zero\.yaml:1:.*device"),
        (["validate", str(special / "fifo.yaml")], r"fifo\.yaml:1:.*FIFO"),
        (["validate", str(special / "big.yaml")], r"big\.yaml:1:.*at most 5\.0 MB"),
        (["validate", str(special / "shadow.yaml")], r"shadow\.yaml:\d+"),
        (["simulate", GOOD_SCENARIO, "--script", str(special / "zero.yaml")], r"zero\.yaml:1"),
        (["simulate", GOOD_SCENARIO, "--script", str(special / "fifo.yaml")], r"fifo\.yaml:1"),
        (["simulate", GOOD_SCENARIO, "--script", str(special / "shadow.yaml")], r"shadow\.yaml:1"),
        (["verify", str(special / "zero.jsonl")], r"zero\.jsonl.*device"),
        (["verify", str(special / "fifo.jsonl")], r"fifo\.jsonl.*FIFO"),
        (["verify", str(special / "shadow.jsonl")], r"line 1"),
        (["score", str(special / "zero.jsonl")], r"zero\.jsonl.*device"),
        (["score", str(special / "fifo.jsonl")], r"fifo\.jsonl.*FIFO"),
        (["score", str(special / "shadow.jsonl")], r"shadow\.jsonl:1"),
        (["msel", "import", str(special / "zero.csv"), "-o", str(tmp_path / "z.yaml")], r"zero\.csv"),
        (["msel", "import", str(special / "shadow.csv"), "-o", str(tmp_path / "s.yaml")], r"shadow\.csv"),
    ]
    results = run_cases([argv for argv, _ in cases], tmp_path)
    for (argv, where), result in zip(cases, results, strict=False):
        check(result, where)
        assert SECRET not in result["output"], f"{argv}: echoed the secret"


def test_a_transcript_pointing_at_dev_zero_is_scored_without_reading_it(tmp_path):
    sample = (ROOT / "transcripts" / "samples" / "suspected-breach-poor.jsonl").read_text().splitlines()
    first = json.loads(sample[0])
    first["scenario_path"] = "/dev/zero"
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join([json.dumps(first), *sample[1:]]) + "\n")
    (result,) = run_cases([["score", str(path), "--json"]], tmp_path)
    assert result["exception"] is None and result["seconds"] < CASE_SECONDS
    assert result["exit"] == 1, "edited, so forged: still scored, and said so"
    assert json.loads(result["output"])["verification"]["status"] == "forged"


def test_review_and_trends_never_follow_folder_links(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    sample = ROOT / "transcripts" / "samples" / "suspected-breach-poor.jsonl"
    (folder / "one.jsonl").write_bytes(sample.read_bytes())
    for name in "abcdefgh":
        (folder / name).symlink_to(".")
    (result,) = run_cases([["trends", str(folder), "--json"]], tmp_path)
    assert result["exit"] == 0 and result["seconds"] < CASE_SECONDS, result["output"][-2000:]
    from tabletop.review.index import scan_folder

    assert list(scan_folder(folder)) == ["one.jsonl"]


def test_exports_are_private_atomic_and_never_written_through_a_link(tmp_path):
    from click.testing import CliRunner

    from tabletop.cli import main

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    runner = CliRunner()
    for argv in (
        ["msel", "export", "suspected-breach", "-o", str(link)],
        ["guide", "suspected-breach", "-o", str(link), "--force"],
    ):
        link.unlink(missing_ok=True)
        link.symlink_to(victim)
        result = runner.invoke(main, argv)
        assert result.exit_code == 0, (argv, result.output)
        assert victim.read_text() == "precious\n", "never written through the link"
        assert not link.is_symlink() and link.stat().st_mode & 0o777 == 0o600, "the link is replaced"
    target = tmp_path / "msel.csv"
    assert runner.invoke(main, ["msel", "export", "suspected-breach", "-o", str(target)]).exit_code == 0
    assert target.stat().st_mode & 0o777 == 0o600
    again = runner.invoke(main, ["msel", "export", "suspected-breach", "-o", str(target)])
    assert again.exit_code == 1 and "--force" in again.output
    assert (
        runner.invoke(main, ["msel", "export", "suspected-breach", "-o", str(target), "--force"]).exit_code
        == 0
    )
    xlsx = tmp_path / "msel.xlsx"
    assert (
        runner.invoke(main, ["msel", "export", "suspected-breach", "--xlsx", "-o", str(xlsx)]).exit_code == 0
    )
    assert xlsx.stat().st_mode & 0o777 == 0o600


def test_report_redoes_its_own_draft_but_never_overwrites_another_file(tmp_path):
    from click.testing import CliRunner

    from tabletop.cli import main

    transcript = tmp_path / "t.jsonl"
    transcript.write_bytes((ROOT / "transcripts" / "samples" / "suspected-breach-poor.jsonl").read_bytes())
    runner = CliRunner()
    assert runner.invoke(main, ["report", str(transcript)]).exit_code == 0
    draft = tmp_path / "t.postmortem.md"
    assert draft.stat().st_mode & 0o777 == 0o600
    assert runner.invoke(main, ["report", str(transcript)]).exit_code == 0, "its own draft is redone"
    draft.write_text("my own notes\n")
    result = runner.invoke(main, ["report", str(transcript)])
    assert result.exit_code == 1 and "--force" in result.output
    assert draft.read_text() == "my own notes\n"
    assert runner.invoke(main, ["report", str(transcript), "--force"]).exit_code == 0
