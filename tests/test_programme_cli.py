"""`tabletop programme`, `followups`, `evidence` and `validate` on programme files, as a manager and an auditor use them.

The folder is the one tests/programme_support.py generates (18 months, three teams); tests
that write to it work on a private copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from programme_support import build_programme_folder, copy_folder

from tabletop.cli import main
from tabletop.programme.config import check_programme
from tabletop.programme.register import CLOSED, REOWNED, RegisterError, append_entry, read_register

BAD = Path(__file__).parent / "data" / "programme-bad"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return build_programme_folder(tmp_path_factory.mktemp("programme-cli"))


@pytest.fixture
def mine(made, tmp_path):
    return copy_folder(made, tmp_path / "copy")


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def as_manager(made) -> dict[str, str]:
    return {"TABLETOP_SIGNING_KEY": str(made.root / "keys" / "manager.pem")}


# --- programme --json -----------------------------------------------------------------------


def test_programme_json_is_the_standing_on_the_given_day(made):
    result = run("programme", made.folder, "--json", "--as-of", "2026-07-01")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["as_of"] == "2026-07-01"
    assert data["coverage"] == 0.75
    assert data["stage"]["declared"] == "production" and data["stage"]["supported"] is None
    assert [(r["team"], r["kind"], r["overdue"]) for r in data["overdue"]] == [
        ("blue", "failover", True),
        ("green", "failover", True),
    ]
    assert data["followups"]["open"] == 3
    assert [r["title"] for r in data["risks"]["accepted_past_review"]] == ["Customer export unreviewed"]
    later = json.loads(run("programme", made.folder, "--json", "--as-of", "2026-08-01").output)
    assert later["coverage"] == 0.875


def test_programme_names_a_bad_day_and_a_bad_programme_file(made, tmp_path):
    result = run("programme", made.folder, "--json", "--as-of", "1 July")
    assert result.exit_code == 1
    assert "--as-of: expected a date like 2026-07-01, received '1 July'" in result.output
    result = run("programme", made.folder, "--json", "--programme", BAD / "bad-stage.yaml")
    assert result.exit_code == 1
    assert "bad-stage.yaml:1:8: stage: expected one of the stages' ids" in result.output
    assert "did you mean 'production'" in result.output
    result = run("programme", tmp_path / "missing", "--json")
    assert result.exit_code == 1 and "no such folder of transcripts" in result.output
    result = run("programme", tmp_path / "missing")  # the console is never opened on a bad folder
    assert result.exit_code == 1 and "no such folder of transcripts" in result.output


# --- followups ------------------------------------------------------------------------------


def test_followups_list_shows_open_ones_oldest_first_with_their_owner(made):
    result = run("followups", "list", made.folder, "--as-of", "2026-07-01")
    assert result.exit_code == 0, result.output
    text = result.output
    ids = [
        made.followup("B3", "declare_incident"),
        made.followup("G3", "declare_incident"),
        made.followup("R5", "restore_backup"),
    ]
    positions = [text.index(i) for i in ids]
    assert positions == sorted(positions)
    assert "OVERDUE 349d" in text and "OVERDUE 83d" in text
    assert made.followup("B1", "declare_incident") not in text  # closed: only with --all
    assert (
        "3 open (91-180 days: 1, over 180 days: 2); by owner: incident_lead: 1, service_owner: 1, technical_lead: 1"
        in " ".join(text.split())
    )
    everything = json.loads(
        run("followups", "list", made.folder, "--as-of", "2026-07-01", "--all", "--json").output
    )
    assert len(everything) == 8
    assert [f["status"] for f in everything] == ["open"] * 3 + ["closed"] * 5


def test_a_manager_closes_a_follow_up_with_a_reason_signed_in_the_register(mine):
    followup = mine.followup("R5", "restore_backup")
    result = run(
        "followups", "close", followup[:9], "--why", "Restore runbook timed at 41 minutes", "--dir", mine.folder,
        env=as_manager(mine),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "recorded in" in result.output and "signed by Dana Manager" in result.output
    register = read_register(mine.folder)
    assert register.intact and [e.type for e in register.entries] == [CLOSED, REOWNED, CLOSED, CLOSED]
    last = register.entries[-1]
    assert (last.id, last.why, last.by, last.counted) == (
        followup,
        "Restore runbook timed at 41 minutes",
        "Dana Manager",
        True,
    )
    assert stat.S_IMODE(os.stat(register.path).st_mode) == 0o600
    later = json.loads(
        run("followups", "list", mine.folder, "--as-of", "2100-01-01", "--all", "--json").output
    )
    closed = next(f for f in later if f["id"] == followup)
    assert (closed["status"], closed["closed_how"], closed["closed_by"], closed["closed_why"]) == (
        "closed",
        "closed by a manager",
        "Dana Manager",
        "Restore runbook timed at 41 minutes",
    )
    again = run("followups", "close", followup, "--why", "again", "--dir", mine.folder, env=as_manager(mine))
    assert again.exit_code == 1 and f"{followup} is closed already" in again.output


def test_a_manager_gives_a_follow_up_to_another_role(mine):
    followup = mine.followup("G3", "declare_incident")
    result = run(
        "followups", "reown", followup, "--to", "servise_owner", "--why", "x", "--dir", mine.folder,
        env=as_manager(mine),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--to: unknown role 'servise_owner' (did you mean 'service_owner'?)" in result.output
    result = run(
        "followups", "reown", followup, "--to", "dpo", "--why", "The DPO owns the criteria for personal data",
        "--dir", mine.folder, env=as_manager(mine),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    items = json.loads(run("followups", "list", mine.folder, "--as-of", "2100-01-01", "--json").output)
    found = next(f for f in items if f["id"] == followup)
    assert found["owner_role"] == "dpo"
    assert [(r["from"], r["to"]) for r in found["reowned"]] == [("incident_lead", "dpo")]


def test_closing_needs_a_known_id_and_a_reason(mine):
    result = run(
        "followups", "close", "FU-000000000000", "--why", "x", "--dir", mine.folder, env=as_manager(mine)
    )
    assert result.exit_code == 1 and "no follow-up 'FU-000000000000'" in result.output
    result = run("followups", "close", "FU-", "--why", "x", "--dir", mine.folder, env=as_manager(mine))
    assert result.exit_code == 1 and "names several follow-ups" in result.output
    result = run("followups", "close", mine.followup("R5", "restore_backup"), "--dir", mine.folder)
    assert result.exit_code == 2 and "--why" in result.output


def test_a_closing_signed_with_an_untrusted_key_is_recorded_but_does_not_count(mine):
    env = {"TABLETOP_SIGNING_KEY": str(mine.root / "keys" / "stranger.pem")}
    followup = mine.followup("R5", "restore_backup")
    result = CliRunner().invoke(
        main, ["followups", "close", followup, "--why", "done", "--dir", str(mine.folder)], env=env
    )
    assert result.exit_code == 0
    assert "signed with a key the reader does not trust" in result.stderr
    items = json.loads(run("followups", "list", mine.folder, "--as-of", "2100-01-01", "--json").output)
    assert next(f for f in items if f["id"] == followup)["status"] == "open"


# --- the register ---------------------------------------------------------------------------


def test_an_edited_register_counts_nothing_from_the_edit_on_and_is_never_appended_to(mine):
    path = mine.folder / "followups.register"
    lines = path.read_text().splitlines()
    assert len(lines) == 6  # three entries, each followed by its signature
    record = json.loads(lines[2])
    record["why"] = "Someone else's reason"
    lines[2] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    register = read_register(mine.folder)
    assert [e.seq for e in register.entries] == [0]
    assert register.problems == [
        f"{path}:3: the hash does not match the line's content (edited?); nothing from here on counts"
    ]
    with pytest.raises(RegisterError, match="the register is not appended to"):
        append_entry(
            mine.folder, CLOSED, mine.followup("R5", "restore_backup"), "x", signer=mine.keys["manager"]
        )
    assert len(path.read_text().splitlines()) == 6


def test_a_rechained_register_fails_on_the_signature(mine):
    from tabletop.transcript import canonical, line_hash

    path = mine.folder / "followups.register"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0]["why"] = "Quietly changed"
    prev = None
    for record in records:
        record["prev"] = prev
        record["hash"] = line_hash(record)
        prev = record["hash"]
    path.write_text("".join(canonical(r) + "\n" for r in records))
    register = read_register(mine.folder)
    assert register.entries == []
    assert "the signature does not match the entry before it" in register.problems[0]


def test_a_torn_last_line_is_cut_before_the_next_entry(mine):
    path = mine.folder / "followups.register"
    with open(path, "a") as handle:
        handle.write('{"seq":6,"type":"followup_clo')
    assert "incomplete" in read_register(mine.folder).problems[0]
    append_entry(
        mine.folder,
        CLOSED,
        mine.followup("R5", "restore_backup"),
        "Done",
        signer=mine.keys["manager"],
        now_utc=lambda: datetime(2026, 6, 1, tzinfo=UTC),
    )
    register = read_register(mine.folder)
    assert register.intact and len(register.entries) == 4


def test_the_register_is_never_written_through_a_link(tmp_path, made):
    target = tmp_path / "elsewhere"
    target.write_text("")
    folder = tmp_path / "transcripts"
    folder.mkdir()
    (folder / "followups.register").symlink_to(target)
    with pytest.raises(RegisterError, match="cannot open the register"):
        append_entry(folder, CLOSED, "FU-000000000001", "x", signer=made.keys["manager"])
    assert target.read_text() == ""


# --- evidence packs -------------------------------------------------------------------------


def test_an_evidence_pack_lists_every_transcript_with_its_hash_verification_and_signer(made, tmp_path):
    pack = tmp_path / "pack"
    result = run("evidence", made.folder, "--since", "2025-07-01", "--as-of", "2026-07-01", "-o", pack)
    assert result.exit_code == 0, result.output
    assert "10 rehearsals counted as evidence, 13 transcripts excluded" in result.output
    names = sorted(p.name for p in pack.iterdir())
    assert names == ["evidence.html", "evidence.json", "manifest.json"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in pack.iterdir())
    manifest = json.loads((pack / "manifest.json").read_text())
    rows = {row["path"]: row for row in manifest["transcripts"]}
    assert len(rows) == 23 and (manifest["counted"], manifest["excluded"]) == (10, 13)
    for name, path in made.paths.items():
        row = rows[made.relative(name)]
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), name
    assert rows[made.relative("X4")]["verification"] == "forged"
    assert rows[made.relative("G5")]["verification"] == "untrusted"
    assert rows[made.relative("G5")]["signers"][0]["name"] == "Eve Stranger"
    assert not rows[made.relative("G5")]["signers"][0]["trusted"]
    counted = rows[made.relative("R5")]
    assert (counted["verification"], counted["evidence"], counted["excluded_because"]) == (
        "verified",
        True,
        "",
    )
    assert [s["name"] for s in counted["signers"]] == ["Test Facilitator"]
    assert rows[made.relative("B1")]["excluded_because"] == (
        "before the period (started 2025-01-14, the pack starts 2025-07-01)"
    )
    assert rows[made.relative("B8")]["excluded_because"] == (
        "after the period (started 2026-07-10, the pack runs to 2026-07-01)"
    )
    assert rows[made.relative("X1")]["excluded_because"] == "solo practice: not a team rehearsal"
    for name in ("evidence.html", "evidence.json"):
        assert manifest["files"][name] == hashlib.sha256((pack / name).read_bytes()).hexdigest()
    assert manifest["register"]["entries"] == 3 and manifest["register"]["intact"]
    evidence = json.loads((pack / "evidence.json").read_text())
    assert len(evidence["evidence"]) == 10 and evidence["period"] == {
        "since": "2025-07-01",
        "as_of": "2026-07-01",
    }


def test_the_pack_html_is_self_contained_and_escapes_what_files_say(made, tmp_path):
    pack = tmp_path / "pack"
    assert (
        run("evidence", made.folder, "--since", "2025-07-01", "--as-of", "2026-07-01", "-o", pack).exit_code
        == 0
    )
    html = (pack / "evidence.html").read_text()
    for fetching in ("http://", "https://", "<script", "<link", "@import", "url(", "<img", "<iframe"):
        assert fetching not in html
    assert html.count("<svg") == 2 and html.count("<polyline") == 4  # three teams' scores, one coverage
    for followup in (made.followup("B3", "declare_incident"), made.followup("R5", "restore_backup")):
        assert followup in html
    assert "Customer export unreviewed" in html and "no stage yet" in html


def test_a_pack_is_never_written_over_without_force(made, tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "notes.txt").write_text("mine")
    result = run("evidence", made.folder, "--since", "2025-07-01", "--as-of", "2026-07-01", "-o", pack)
    assert result.exit_code == 1 and "exists; an evidence pack goes into a new folder" in result.output
    assert sorted(p.name for p in pack.iterdir()) == ["notes.txt"]
    result = run(
        "evidence", made.folder, "--since", "2025-07-01", "--as-of", "2026-07-01", "-o", pack, "--force"
    )
    assert result.exit_code == 0
    assert (pack / "notes.txt").read_text() == "mine" and (pack / "manifest.json").exists()
    result = run(
        "evidence", made.folder, "--since", "2026-08-01", "--as-of", "2026-07-01", "-o", tmp_path / "x"
    )
    assert result.exit_code == 1 and "--since 2026-08-01 is after --as-of 2026-07-01" in result.output


def test_write_pack_takes_the_day_and_the_stamp(made, tmp_path):
    from tabletop.programme.pack import write_pack

    stamp = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    first = write_pack(
        made.folder, tmp_path / "a", since=date(2025, 7, 1), as_of=date(2026, 7, 1), generated_at=stamp
    )
    second = write_pack(
        made.folder, tmp_path / "b", since=date(2025, 7, 1), as_of=date(2026, 7, 1), generated_at=stamp
    )
    assert (first.counted, first.excluded) == (10, 13)
    html_a = (tmp_path / "a" / "evidence.html").read_text().replace(str(tmp_path / "a"), "")
    html_b = (tmp_path / "b" / "evidence.html").read_text().replace(str(tmp_path / "b"), "")
    assert html_a == html_b and "generated 2026-07-01 12:00 UTC" in html_a
    assert second.files[-1].name == "manifest.json"


# --- programme.yaml is validated like a scenario --------------------------------------------

CASES = [
    ("unknown-key.yaml", 3, "teams.0.titel", ["unknown key 'titel'", "did you mean 'title'"]),
    ("bad-kind.yaml", 7, "stages.0.rehearsals.0.kind", ["received 'restor'", "did you mean 'restore'"]),
    ("bad-every.yaml", 7, "stages.0.rehearsals.0.every", ["expected an interval like 3mo, 1y, 6w or 90d", "'3 months'"]),
    ("bad-stage.yaml", 1, "stage", ["expected one of the stages' ids: pre_production, production", "did you mean 'production'"]),
    ("duplicate-team.yaml", 5, "teams.2.id", ["team id 'blue' is given twice (first as teams.0)"]),
    ("bad-check.yaml", 7, "stages.0.requires.0.check", ["received 'followups_ontime'", "did you mean 'followups_on_time'"]),
    ("bad-level.yaml", 5, "risk_register.material_when.residual_at_least", ["expected one of Very Low", "'Huge'"]),
    ("missing-teams.yaml", 1, "teams", ["missing required key 'teams'"]),
    ("repeated-kind.yaml", 8, "stages.0.rehearsals.1.kind", ["kind 'restore' is listed twice in this stage"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "line", "key", "words"), CASES)
def test_a_bad_programme_file_names_the_file_line_key_and_fix(name, line, key, words):
    _, problems = check_programme(BAD / name)
    matching = [p for p in problems if p.line == line and p.key == key]
    assert matching, "\n".join(map(str, problems))
    assert Path(matching[0].path).name == name
    for word in words:
        assert word in matching[0].message


def test_every_bad_programme_file_has_a_case():
    assert {p.name for p in BAD.glob("*.yaml")} == {case[0] for case in CASES}


def test_validate_checks_programme_yaml_in_a_repo_with_every_problem_at_once(tmp_path):
    (tmp_path / "programme.yaml").write_text((BAD / "repeated-kind.yaml").read_text())
    result = run("validate", tmp_path)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "programme.yaml:" in line]
    assert [line.split(": ")[0].split("programme.yaml:")[1] for line in lines] == ["3:33", "8:16"]
    assert "did you mean 'failover'" in lines[0]


def test_the_bundled_programme_validates_with_the_bundled_data():
    result = run("validate")
    assert result.exit_code == 0, result.output
    from tabletop.programme.config import find_programme

    assert check_programme(find_programme(None))[1] == []


def test_what_players_typed_reaches_the_terminal_inert():
    import io

    from rich.console import Console

    from tabletop.cli.programme import print_followups
    from tabletop.programme.config import Programme
    from tabletop.programme.status import Run, programme_status

    hostile = "Rotate keys \x1b]0;pwned\x07 [link=http://evil.example]now[/link]"
    facts = {
        "status": "verified", "signers": [], "mode": "team", "team": "blue", "kind": "restore",
        "scenario": "drill-restore", "started": "2025-01-01T09:30:00.000Z", "ended": True, "rules_version": 2,
        "score": 0.5, "rating": "M", "closes": [], "met": [], "not_met": [], "risks": [],
        "followups": [{"id": "FU-000000000009", "text": hostile, "owner_role": "Sam\x9b31m", "due_date": "2025-02-01"}],
    }  # fmt: skip
    programme = Programme.model_validate({"stage": "s", "teams": [{"id": "blue"}], "stages": [{"id": "s"}]})
    status = programme_status(programme, [Run("a.jsonl", "0" * 64, facts)], as_of=date(2025, 3, 1))
    out = io.StringIO()
    print_followups(
        status.open_followups, status, Console(file=out, force_terminal=True, width=200, markup=False)
    )
    text = out.getvalue()
    assert "\x1b]0;" not in text and "\x9b" not in text and "\x07" not in text
    assert "␛]0;pwned␇" in text and "[link=http://evil.example]now[/link]" in " ".join(text.split())
