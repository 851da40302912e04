"""Transcripts as evidence: signing keys, signatures the writer places, the event grammar `verify`
checks, and forged transcripts shown as forged by verify, score, report and review."""

from __future__ import annotations

import itertools
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabletop.cli import main
from tabletop.keys import Signer, config_dir, init_keys, trusted_keys
from tabletop.transcript import (
    FORGED,
    INVALID,
    SAMPLE,
    UNSIGNED,
    UNTRUSTED,
    VERIFIED,
    TranscriptWriter,
    canonical,
    line_hash,
    verify_evidence,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "transcripts" / "samples"
GOOD = ROOT / "tests" / "data" / "scripts" / "suspected-breach-good.yaml"


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A fresh config folder: no key yet."""
    folder = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder / "tabletop"


def simulate(out: Path, *more: str) -> None:
    result = CliRunner().invoke(
        main, ["simulate", "suspected-breach", "--script", str(GOOD), "--out", str(out), *more]
    )
    assert result.exit_code == 0, result.output


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(canonical(r) + "\n" for r in records))


def rechain(records: list[dict]) -> list[dict]:
    """What a forger does: recompute every prev and hash with the project's own function."""
    prev = None
    out = []
    for record in records:
        record = dict(record, prev=prev)
        record["hash"] = line_hash(record)
        prev = record["hash"]
        out.append(record)
    return out


# --- keys ----------------------------------------------------------------------------------


def test_keys_init_writes_a_private_key_0600_in_the_xdg_config_folder(config):
    result = CliRunner().invoke(main, ["keys", "init", "--name", "Fran Facilitator"])
    assert result.exit_code == 0, result.output
    private = config / "signing-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    assert config_dir() == config
    line = (config / "signing-key.pub").read_text().strip()
    assert line.startswith("ed25519 ") and line.endswith("Fran Facilitator") and line in result.output
    again = CliRunner().invoke(main, ["keys", "init"])
    assert again.exit_code == 1 and "exists already" in again.output
    assert CliRunner().invoke(main, ["keys", "show"]).output.strip() == line


def test_the_first_session_makes_a_key_when_there_is_none(config, tmp_path):
    assert not config.exists()
    simulate(tmp_path / "t.jsonl")
    assert stat.S_IMODE((config / "signing-key.pem").stat().st_mode) == 0o600


# --- what the writer signs -------------------------------------------------------------------


def test_every_decision_and_the_end_are_followed_by_their_signature(config, tmp_path):
    out = tmp_path / "t.jsonl"
    simulate(out)
    lines = lines_of(out)
    for before, after in itertools.pairwise(lines):
        if before["type"] in ("decision", "session_ended", "session_started"):
            assert after["type"] == "signature" and after["signs"] == before["seq"]
            assert after["prev"] == before["hash"]
    started = lines[0]
    assert started["signing_key"]["key"] == lines[1]["key"]
    result = verify_evidence(out)
    assert result.status == VERIFIED and result.signed_through == lines[-1]["seq"]
    assert result.unsigned == [] and result.unacknowledged == []
    assert [s.self_signed for s in result.signers] == [True], "simulate: the signer played every role"
    cli = CliRunner().invoke(main, ["verify", str(out)])
    assert cli.exit_code == 0 and "VERIFIED: signed by" in cli.output and "self-signed" in cli.output


def test_a_decision_is_acknowledged_only_once_its_signature_is_on_disk(config, tmp_path, monkeypatch):
    from factories import breach_scenario, make_session

    import tabletop.transcript as tr

    session = make_session(tmp_path, breach_scenario())
    written = []
    real = tr.TranscriptWriter._append

    def spy(self, type, t, fields, *, sync=True):
        record = real(self, type, t, fields, sync=sync)
        written.append((record["type"], sync))
        return record

    monkeypatch.setattr(tr.TranscriptWriter, "_append", spy)
    record = session.decide("coordinator", "appoint_coordinator", by="Sam")
    assert written[-2:] == [("decision", False), ("signature", True)], "one fsync, after the signature"
    lines = lines_of(session.path)
    assert lines[-1]["type"] == "signature" and lines[-1]["signs"] == record["seq"]


def test_a_resume_names_the_last_signed_seq(config, tmp_path):
    from factories import breach_scenario, make_session

    from tabletop.clock import VirtualClock
    from tabletop.engine import Session

    session = make_session(tmp_path, breach_scenario())
    session.decide("coordinator", "appoint_coordinator", by="Sam")
    session.run_until(1300)  # injects released after the last signature: an unsigned tail
    signed = session.writer.signed_through
    session.writer.close()
    resumed = Session.continue_transcript(session.path, clock=VirtualClock())
    note = resumed.events[-1]
    assert note["type"] == "session_resumed" and note["signed_through"] == signed
    resumed.end()
    resumed.writer.close()
    result = verify_evidence(session.path)
    assert result.status == VERIFIED
    assert result.unsigned and result.unsigned[0][0] == signed + 1


# --- the grammar and the content rules -------------------------------------------------------


@pytest.fixture
def signed_run(config, tmp_path):
    out = tmp_path / "t.jsonl"
    simulate(out)
    return out


def unsigned_copy(path: Path, target: Path) -> list[dict]:
    """The run as a transcript written before signing existed: no signature lines, no key."""
    records = [r for r in lines_of(path) if r["type"] != "signature"]
    for key in ("signing_key", "scenario_json_sha256"):
        records[0].pop(key)
    records = [dict(r, seq=n) for n, r in enumerate(records)]
    records = rechain([{k: v for k, v in r.items() if k != "signed_through"} for r in records])
    write(target, records)
    return records


def test_a_transcript_written_before_signing_is_unsigned_and_scores_normally(signed_run, tmp_path):
    old = tmp_path / "old.jsonl"
    unsigned_copy(signed_run, old)
    result = verify_evidence(old)
    assert result.status == UNSIGNED and result.exit_code == 3
    cli = CliRunner().invoke(main, ["score", str(old), "--json"])
    assert cli.exit_code == 0
    data = json.loads(cli.stdout)
    assert data["verification"]["status"] == "unsigned" and data["score"] > 0.9


def test_trends_show_which_points_stand_on_unsigned_transcripts(signed_run, tmp_path):
    from tabletop.review.index import TranscriptIndex
    from tabletop.review.trends import trends

    unsigned_copy(signed_run, signed_run.parent / "old.jsonl")
    with TranscriptIndex(signed_run.parent) as index:
        index.refresh()
        result = trends(index.entries(), "scenario")
    (line,) = result.series
    assert sorted(p.evidence for p in line.points) == ["unsigned", "verified"]
    assert line.unverified == {"unsigned": 1}
    assert result.evidence_warnings == (
        "suspected-breach: 1 of 2 rehearsals are not verified evidence (1 unsigned)",
    )
    cli = CliRunner().invoke(main, ["trends", str(signed_run.parent), "--by", "scenario", "--json"])
    data = json.loads(cli.stdout)
    assert data["series"][0]["unverified"] == {"unsigned": 1}
    assert {p["evidence"] for p in data["series"][0]["points"]} == {"unsigned", "verified"}
    table = CliRunner().invoke(main, ["trends", str(signed_run.parent), "--by", "scenario"])
    assert "1 unsigned" in table.output and "not verified evidence" in table.output


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda rs: [*rs, dict(rs[5], seq=None, t=rs[-1]["t"])], "after session_ended"),
        (lambda rs: [*rs[:3], dict(rs[0], seq=None), *rs[3:]], "second session_started"),
        (lambda rs: [dict(r, role="ceo") if r["type"] == "note" else r for r in rs], "role 'ceo'"),
        (lambda rs: [dict(r, action="win") if r["type"] == "decision" else r for r in rs], "action 'win'"),
        (lambda rs: [dict(r, t=-99999) if r["type"] == "decision" else r for r in rs], "-99999"),
        (lambda rs: [dict(r, t="soon") if r["seq"] == 4 else r for r in rs], "not a number"),
        (lambda rs: [dict(r, t=True) if r["seq"] == 4 else r for r in rs], "not a number"),
        (lambda rs: [dict(r, t=0) if r["seq"] == len(rs) - 3 else r for r in rs], "goes back"),
        (lambda rs: [dict(r, type="bribe") if r["seq"] == 4 else r for r in rs], "unknown event type"),
    ],
    ids=[
        "after-end",
        "second-start",
        "unknown-role",
        "unknown-action",
        "negative-t",
        "text-t",
        "bool-t",
        "t-back",
        "type",
    ],
)
def test_grammar_and_content_rules_make_an_unsigned_transcript_invalid(signed_run, tmp_path, change, words):
    old = tmp_path / "old.jsonl"
    records = unsigned_copy(signed_run, old)
    changed = change(records)
    changed = rechain([dict(r, seq=n) for n, r in enumerate(changed)])
    write(old, changed)
    result = verify_evidence(old)
    assert result.status == INVALID, result.problems
    assert words in result.problems[0]
    cli = CliRunner().invoke(main, ["verify", str(old)])
    assert cli.exit_code == 1 and words in cli.output and "Traceback" not in cli.output


def test_a_swapped_easier_scenario_is_found(signed_run, tmp_path):
    old = tmp_path / "old.jsonl"
    records = list(lines_of(signed_run))
    records[0]["scenario"]["expectations"] = records[0]["scenario"]["expectations"][:1]
    write(old, rechain(records))
    result = verify_evidence(old)
    assert result.status == FORGED and "scenario_json_sha256" in result.problems[0]


def test_a_decision_without_its_signature_is_invalid(signed_run, tmp_path):
    cut = tmp_path / "cut.jsonl"
    records = lines_of(signed_run)
    first = next(n for n, r in enumerate(records) if r["type"] == "decision")
    del records[first + 1]
    write(cut, rechain([dict(r, seq=n) for n, r in enumerate(records)]))
    result = verify_evidence(cut)
    assert result.status in (FORGED, INVALID)
    assert any("must be followed by its signature" in p or "signature" in p for p in result.problems)


# --- forged transcripts, everywhere ----------------------------------------------------------


@pytest.fixture
def forged(signed_run, tmp_path):
    """A poor decision rewritten as a good one, the chain recomputed with the project's own hash."""
    records = lines_of(signed_run)
    target = next(r for r in records if r["type"] == "decision")
    target["rationale"] = "we did everything right, and on time"
    target["t"] = 0 if target["seq"] < 3 else records[target["seq"] - 1]["t"]
    path = tmp_path / "forged.jsonl"
    write(path, rechain(records))
    return path


def test_verify_reports_a_rechained_edit_as_forged(forged):
    from tabletop.transcript import verify_transcript

    assert verify_transcript(forged).ok, "the hash chain alone cannot tell"
    result = verify_evidence(forged)
    assert result.status == FORGED and "changed after they were signed" in result.problems[0]
    cli = CliRunner().invoke(main, ["verify", str(forged)])
    assert cli.exit_code == 1 and "FORGED" in cli.output


def test_score_shows_a_forged_transcript_as_forged(forged):
    cli = CliRunner().invoke(main, ["score", str(forged)])
    assert cli.exit_code == 1 and "FORGED" in cli.output and "NOT A VALID SCORE" in cli.output
    cli = CliRunner().invoke(main, ["score", str(forged), "--json"])
    assert cli.exit_code == 1 and json.loads(cli.stdout)["verification"]["status"] == "forged"
    folder = CliRunner().invoke(main, ["score", str(forged.parent), "--json"])
    rows = {Path(r["path"]).name: r for r in json.loads(folder.stdout)}
    assert folder.exit_code == 1 and rows["forged.jsonl"]["verification"]["status"] == "forged"
    assert rows["t.jsonl"]["verification"]["status"] == "verified"


def test_report_shows_a_forged_transcript_as_forged(forged, tmp_path):
    for fmt in ("md", "html", "json"):
        out = tmp_path / f"pm.{fmt}"
        cli = CliRunner().invoke(main, ["report", str(forged), "-o", str(out)])
        assert cli.exit_code == 1 and "FORGED" in cli.output
        assert "FORGED" in out.read_text()
        assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_review_shows_a_forged_transcript_as_forged_and_leaves_it_out_of_trends(forged):
    from tabletop.review.entry import read_entry
    from tabletop.review.index import TranscriptIndex
    from tabletop.review.trends import trends

    entry = read_entry(forged, forged.parent)
    assert entry.integrity == "forged" and not entry.trusted and "FORGED" in entry.problem
    with TranscriptIndex(forged.parent) as index:
        index.refresh()
        result = trends(index.entries(), "team")
    assert [e.path for e in result.excluded] == ["forged.jsonl"]
    cli = CliRunner().invoke(main, ["compare", str(forged), str(forged.parent / "t.jsonl")])
    assert "FORGED" in cli.output


# --- a transcript cut anywhere ---------------------------------------------------------------


def test_a_transcript_cut_inside_its_first_signature_is_unsigned_and_says_why(signed_run, tmp_path):
    data = signed_run.read_bytes()
    first, second = data.index(b"\n") + 1, data.index(b"\n", data.index(b"\n") + 1)
    path = tmp_path / "cut.jsonl"
    path.write_bytes(data[: (first + second) // 2])
    result = verify_evidence(path)
    assert result.status == UNSIGNED and result.torn and result.declared_key
    assert result.headline().startswith("UNSIGNED: the run names a signing key but no signature line")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(min_value=0.05, max_value=1.0))
def test_a_transcript_cut_at_any_byte_verifies_as_signed_up_to_its_last_signature(
    signed_run, tmp_path, fraction
):
    data = signed_run.read_bytes()
    cut = max(1, int(len(data) * fraction))
    path = tmp_path / "cut.jsonl"
    path.write_bytes(data[:cut])
    whole = [json.loads(line) for line in data[:cut].split(b"\n")[:-1]]
    result = verify_evidence(path)
    if not whole:
        return
    signatures = [r["seq"] for r in whole if r["type"] == "signature"]
    if not signatures:  # cut before the first signature line was whole: nothing is signed
        assert result.status == UNSIGNED and result.declared_key, result.problems
        assert "no signature line survives" in result.headline()
        return
    assert result.status == VERIFIED, result.problems
    assert result.signed_through == (signatures[-1] if signatures else None)
    assert result.torn == (not data[:cut].endswith(b"\n"))
    assert all(seq > (result.signed_through or -1) for seq in result.unacknowledged)


# --- who is trusted --------------------------------------------------------------------------


def test_a_key_nobody_trusts_is_untrusted_and_a_trusted_keys_file_trusts_it(
    signed_run, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "someone-else"))
    result = verify_evidence(signed_run)
    assert result.status == UNTRUSTED and result.exit_code == 4
    key = lines_of(signed_run)[0]["signing_key"]
    (tmp_path / "trusted_keys").write_text(f"# our facilitators\ned25519 {key['key']} Fran Facilitator\n")
    result = verify_evidence(signed_run)
    assert result.status == VERIFIED and result.signers[0].trusted_as == "Fran Facilitator"


def test_the_committed_samples_verify_as_signed_by_the_sample_key_only():
    for path in sorted(SAMPLES.glob("*.jsonl")):
        result = verify_evidence(path)
        assert result.status == SAMPLE and result.exit_code == 5, (path, result.problems)
        assert "anyone can sign with it" in result.headline()
    cli = CliRunner().invoke(main, ["verify", str(SAMPLES / "suspected-breach-team.jsonl")])
    assert cli.exit_code == 5 and "SAMPLE" in cli.output and "not evidence" in cli.output


def test_resign_signs_with_the_given_key_and_verify_names_it(signed_run, tmp_path, config):
    signer = init_keys("Sample Holder", folder=tmp_path / "k")
    cli = CliRunner().invoke(main, ["keys", "resign", "--key", str(signer.path), str(signed_run)])
    assert cli.exit_code == 0, cli.output
    store = trusted_keys(None)
    assert verify_evidence(signed_run, trust=store).status == UNTRUSTED
    (signed_run.parent / "trusted_keys").write_text(f"samples-only {signer.public.line()}\n")
    assert verify_evidence(signed_run).status == SAMPLE


def test_a_signature_by_another_key_for_the_same_head_is_checked_by_its_own_key(signed_run, tmp_path):
    records = lines_of(signed_run)
    other = Signer.generate("Mallory")
    last = records[-1]
    assert last["type"] == "signature"
    last["sig"] = other.sign(last["prev"])  # a real signature, but not by the key the line names
    path = tmp_path / "swapped.jsonl"
    write(path, rechain(records))
    assert verify_evidence(path).status == FORGED


def test_tests_never_touch_the_real_config_folder():
    assert os.environ["XDG_CONFIG_HOME"] != str(Path.home() / ".config")
    assert not str(config_dir()).startswith(str(Path.home() / ".config"))


# --- the whole grammar, written by the writer -------------------------------------------------


def _scenario_json() -> dict:
    return {"id": "x", "roles": ["coordinator", "dpo"], "actions": [{"id": "appoint_coordinator"}]}


def test_interruption_resume_checkpoint_end_and_hot_wash_verify(config, tmp_path):
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter.open(path, fsync=False)
    writer.append("session_started", 0.0, scenario=_scenario_json(), participants=[], mode="team")
    writer.append("decision", 10.0, role="coordinator", by="Sam", action="appoint_coordinator")
    writer.append("clock", 20.0, op="checkpoint")
    writer.append("facilitator", 25.0, op="note", detail={"text": "slow start"})
    writer.append("session_interrupted", 30.0, signal="SIGINT")
    writer.close()
    writer = TranscriptWriter.reopen(path, fsync=False)
    resumed = writer.append("session_resumed", 30.0, from_t=30.0)
    writer.append("session_ended", 40.0, reason="facilitator")
    writer.append("hotwash_answer", 40.0, role="dpo", by="Priya", question="What went well?", text="…")
    writer.append("hotwash_closed", 40.0)
    writer.close()
    lines = lines_of(path)
    checkpoint = next(r for r in lines if r["type"] == "clock")
    assert lines[checkpoint["seq"] + 1]["type"] == "signature", "a checkpoint is signed"
    assert resumed["signed_through"] == checkpoint["seq"] + 1
    result = verify_evidence(path)
    assert result.status == VERIFIED, result.problems
    assert result.unsigned == [(checkpoint["seq"] + 2, resumed["seq"] - 1)], "the note and the interruption"
    assert lines[-1]["type"] == "signature" and lines[-2]["type"] == "hotwash_closed"

    after = tmp_path / "after.jsonl"
    writer = TranscriptWriter.open(after, fsync=False)
    writer.append("session_started", 0.0, scenario=_scenario_json(), participants=[], mode="team")
    writer.append("session_ended", 5.0, reason="duration")
    writer.append("hotwash_closed", 5.0)
    writer.append("note", 6.0, role="coordinator", by="Sam", text="too late")
    writer.close()
    result = verify_evidence(after)
    assert result.status == INVALID and "only the hot wash may follow the end" in result.problems[0]


def test_an_interruption_is_followed_by_a_resume_only(config, tmp_path):
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter.open(path, fsync=False)
    writer.append("session_started", 0.0, scenario=_scenario_json(), participants=[], mode="team")
    writer.append("session_interrupted", 3.0, signal="SIGTERM")
    assert verify_evidence(path).status == VERIFIED, "a file may stop after the interruption"
    writer.append("note", 4.0, role="coordinator", by="Sam", text="sneaked in")
    writer.close()
    result = verify_evidence(path)
    assert result.status == INVALID and "comes session_resumed" in result.problems[0]
