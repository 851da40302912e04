"""Transcripts: durable hash-chained lines, a reader that survives damage, a verifier that finds it.

These are the line mechanics, so the writers here do not sign (`signer=None`); signing and the
event grammar are in test_evidence.py.
"""

from __future__ import annotations

import errno
import json
import os
import stat

import pytest
from factories import FixedWall
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabletop import transcript as tr
from tabletop.transcript import (
    TranscriptError,
    TranscriptWriter,
    canonical,
    line_hash,
    read_transcript,
    verify_transcript,
)


def write_sample(path, n=8):
    """A small valid transcript: session_started, then n-1 decisions."""
    with TranscriptWriter.open(path, now_utc=FixedWall(), fsync=False, signer=None) as writer:
        writer.append("session_started", 0.0, scenario_id="x", scenario={"id": "x"})
        for i in range(1, n):
            writer.append(
                "decision",
                float(i * 60),
                role="coordinator",
                by="Sam",
                action="status_update",
                fields={"summary": f"update {i} – café"},
            )
    return path.read_bytes()


def lines_of(path):
    return path.read_bytes().split(b"\n")[:-1]


# --- writing -------------------------------------------------------------------------------


def test_append_returns_the_full_record_and_writes_it_canonically(tmp_path):
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter.open(path, now_utc=FixedWall(), signer=None)
    first = writer.append("session_started", 0.0, scenario_id="x")
    second = writer.append("note", 12.5, role="dpo", by="Priya", text="Ünïcode stays as is")
    writer.close()
    assert (first["seq"], first["prev"]) == (0, None)
    assert (second["seq"], second["prev"]) == (1, first["hash"])
    assert second["wall"] == "2026-03-02T09:00:00.002Z"
    assert second["hash"] == line_hash(second)
    raw = lines_of(path)
    assert [json.loads(line) for line in raw] == [first, second]
    assert raw[1].decode("utf-8") == canonical(second)
    assert "Ünïcode" in raw[1].decode("utf-8")


def test_transcript_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        writer = TranscriptWriter.open(tmp_path / "sub" / "t.jsonl", signer=None)
        writer.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "sub" / "t.jsonl").st_mode) == 0o600


def test_an_existing_file_is_never_overwritten(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("precious\n")
    with pytest.raises(TranscriptError, match="already exists"):
        TranscriptWriter.open(path, signer=None)
    assert path.read_text() == "precious\n"


def test_each_line_is_fsynced_before_append_returns(tmp_path, monkeypatch):
    path = tmp_path / "t.jsonl"
    seen_at_fsync = []
    real_fsync = os.fsync

    def spying_fsync(fd):
        seen_at_fsync.append(path.read_bytes().count(b"\n") if path.exists() else 0)
        real_fsync(fd)

    writer = TranscriptWriter.open(path, now_utc=FixedWall(), signer=None)
    monkeypatch.setattr(tr.os, "fsync", spying_fsync)
    writer.append("session_started", 0.0)
    assert seen_at_fsync == [1]
    writer.append("note", 1.0, text="x")
    assert seen_at_fsync == [1, 2]
    writer.close()


def test_reserved_keys_and_non_json_values_are_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter.open(path, now_utc=FixedWall(), fsync=False, signer=None)
    with pytest.raises(ValueError, match="reserved"):
        writer.append("note", 0.0, seq=5)
    with pytest.raises(ValueError, match="not JSON"):
        writer.append("note", 0.0, value=float("nan"))
    with pytest.raises(ValueError, match="not JSON"):
        writer.append("note", 0.0, value=object())
    assert path.read_bytes() == b""
    assert writer.seq == 0


def test_a_failed_write_leaves_no_partial_line(tmp_path, monkeypatch):
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter.open(path, now_utc=FixedWall(), fsync=False, signer=None)
    writer.append("session_started", 0.0)
    real_write = os.write

    def disk_fills_up(fd, data):
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tr.os, "write", disk_fills_up)
    with pytest.raises(TranscriptError, match="disk full"):
        writer.append("note", 1.0, text="this does not fit")
    monkeypatch.setattr(tr.os, "write", real_write)
    assert verify_transcript(path).ok
    record = writer.append("note", 2.0, text="space again")
    assert record["seq"] == 1
    writer.close()
    assert verify_transcript(path).ok


def test_reopen_continues_seq_and_chain(tmp_path):
    path = tmp_path / "t.jsonl"
    write_sample(path, n=3)
    writer = TranscriptWriter.reopen(path, now_utc=FixedWall(), signer=None)
    assert writer.seq == 3 and writer.dropped_tail == 0
    assert [e["seq"] for e in writer.recovered] == [0, 1, 2]
    record = writer.append("note", 500.0, text="after the crash")
    writer.close()
    assert record["seq"] == 3 and record["prev"] == json.loads(lines_of(path)[2])["hash"]
    assert verify_transcript(path).ok


def test_reopen_cuts_a_torn_tail(tmp_path):
    path = tmp_path / "t.jsonl"
    data = write_sample(path, n=4)
    path.write_bytes(data + b'{"seq":4,"type":"dec')
    writer = TranscriptWriter.reopen(path, now_utc=FixedWall(), signer=None)
    assert writer.dropped_tail == len(b'{"seq":4,"type":"dec')
    writer.append("note", 999.0, text="continued")
    writer.close()
    report = verify_transcript(path)
    assert report.ok and len(report.events) == 5


def test_reopen_refuses_a_tampered_transcript(tmp_path):
    path = tmp_path / "t.jsonl"
    data = write_sample(path, n=4)
    path.write_bytes(data.replace(b"update 2", b"update 9"))
    with pytest.raises(TranscriptError, match="damaged"):
        TranscriptWriter.reopen(path, signer=None)
    assert path.read_bytes() == data.replace(b"update 2", b"update 9")


# --- verifying -----------------------------------------------------------------------------


def test_an_intact_transcript_verifies(tmp_path):
    path = tmp_path / "t.jsonl"
    write_sample(path)
    report = verify_transcript(path)
    assert report.ok and report.problems == [] and len(report.events) == 8
    assert report.summary() == "intact: 8 events"


def test_an_edit_is_found_at_its_line(tmp_path):
    path = tmp_path / "t.jsonl"
    data = write_sample(path)
    path.write_bytes(data.replace(b"update 3", b"update 4", 1))
    report = verify_transcript(path)
    assert not report.ok
    assert (report.first_bad_seq, report.first_bad_line) == (3, 4)
    assert "hash does not match" in report.problems[0]
    assert len(report.events) == 3


def test_an_edit_with_a_recomputed_hash_breaks_the_chain_after_it(tmp_path):
    path = tmp_path / "t.jsonl"
    write_sample(path)
    raw = lines_of(path)
    record = json.loads(raw[3])
    record["by"] = "Somebody else"
    record["hash"] = line_hash(record)
    raw[3] = canonical(record).encode()
    path.write_bytes(b"\n".join(raw) + b"\n")
    report = verify_transcript(path)
    assert (report.first_bad_seq, report.first_bad_line) == (4, 5)
    assert "prev does not match" in report.problems[0]


def test_a_reformatted_line_is_found_even_with_the_same_content(tmp_path):
    path = tmp_path / "t.jsonl"
    write_sample(path)
    raw = lines_of(path)
    raw[2] = json.dumps(json.loads(raw[2]), sort_keys=True).encode()  # spaces after separators
    path.write_bytes(b"\n".join(raw) + b"\n")
    report = verify_transcript(path)
    assert (report.first_bad_seq, report.first_bad_line) == (2, 3)
    assert "canonical" in report.problems[0]


def test_reordering_is_found(tmp_path):
    path = tmp_path / "t.jsonl"
    write_sample(path)
    raw = lines_of(path)
    raw[4], raw[5] = raw[5], raw[4]
    path.write_bytes(b"\n".join(raw) + b"\n")
    report = verify_transcript(path)
    assert (report.first_bad_seq, report.first_bad_line) == (5, 5)
    assert "missing before it" in report.problems[0]


def test_deletion_is_found(tmp_path):
    path = tmp_path / "t.jsonl"
    write_sample(path)
    raw = lines_of(path)
    del raw[3]
    path.write_bytes(b"\n".join(raw) + b"\n")
    report = verify_transcript(path)
    assert (report.first_bad_seq, report.first_bad_line) == (4, 4)
    assert "1 line(s) missing" in report.problems[0]


def test_a_torn_tail_is_reported_and_everything_before_it_recovered(tmp_path):
    path = tmp_path / "t.jsonl"
    data = write_sample(path)
    path.write_bytes(data[:-30])
    for report in (verify_transcript(path), read_transcript(path)):
        assert report.torn_tail and report.only_torn_tail
        assert (report.first_bad_seq, report.first_bad_line) == (7, 8)
        assert "torn tail" in report.problems[0]
        assert len(report.events) == 7


def test_zero_filled_tail_counts_as_torn(tmp_path):
    path = tmp_path / "t.jsonl"
    data = write_sample(path, n=3)
    path.write_bytes(data + b"\x00" * 64)
    report = verify_transcript(path)
    assert report.only_torn_tail and len(report.events) == 3


def test_missing_and_empty_files_are_reported_not_raised(tmp_path):
    report = verify_transcript(tmp_path / "nope.jsonl")
    assert not report.ok and "no such transcript" in report.problems[0]
    (tmp_path / "empty.jsonl").write_bytes(b"")
    report = read_transcript(tmp_path / "empty.jsonl")
    assert not report.ok and "empty" in report.problems[0]
    report = read_transcript(tmp_path)
    assert not report.ok and "directory" in report.problems[0]


# --- property tests: the reader never raises and says what it found ------------------------

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample") / "t.jsonl"
    data = write_sample(path, n=10)
    events = verify_transcript(path).events
    return data, events


@SETTINGS
@given(cut=st.integers(min_value=1, max_value=10_000))
def test_any_truncation_is_intact_or_a_torn_tail(sample, tmp_path, cut):
    data, events = sample
    cut = cut % len(data) or len(data)
    path = tmp_path / "cut.jsonl"
    path.write_bytes(data[:cut])
    report = verify_transcript(path)
    complete = data[:cut].count(b"\n")
    assert report.events == events[:complete]
    if data[:cut].endswith(b"\n"):
        assert report.ok
    else:
        assert report.only_torn_tail and report.first_bad_line == complete + 1
    assert read_transcript(path).events == events[:complete]


@SETTINGS
@given(position=st.integers(min_value=0, max_value=10_000), byte=st.integers(min_value=0, max_value=255))
def test_any_changed_byte_is_found_at_its_line(sample, tmp_path, position, byte):
    data, events = sample
    position %= len(data)
    if data[position] == byte:
        byte = (byte + 1) % 256
    corrupted = data[:position] + bytes([byte]) + data[position + 1 :]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(corrupted)
    report = verify_transcript(path)
    line = data[:position].count(b"\n") + 1
    assert not report.ok
    assert report.first_bad_line == line
    assert report.events == events[: line - 1]
    assert report.problems and all(isinstance(p, str) and p for p in report.problems)
    read_transcript(path)  # never raises


@SETTINGS
@given(junk=st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(tmp_path, junk):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(junk)
    for report in (verify_transcript(path), read_transcript(path)):
        assert isinstance(report.ok, bool)
        if not report.ok:
            assert report.problems


@SETTINGS
@given(order=st.permutations(list(range(10))))
def test_any_reordering_is_found(sample, tmp_path, order):
    data, _ = sample
    raw = data.split(b"\n")[:-1]
    path = tmp_path / "shuffled.jsonl"
    path.write_bytes(b"\n".join(raw[i] for i in order) + b"\n")
    report = verify_transcript(path)
    assert report.ok == (list(order) == sorted(order))
    if not report.ok:
        first_moved = next(i for i, j in enumerate(order) if i != j)
        assert report.first_bad_line == first_moved + 1


def test_fields_named_hash_inside_an_event_do_not_confuse_the_verifier(tmp_path):
    path = tmp_path / "t.jsonl"
    with TranscriptWriter.open(path, now_utc=FixedWall(), fsync=False, signer=None) as writer:
        first = writer.append("session_started", 0.0)
        writer.append(
            "decision", 1.0, fields={"hash": first["hash"], "sha256": "x"}, action="preserve_evidence"
        )
        writer.append("note", 2.0, text='"hash":"' + first["hash"] + '"')
    assert verify_transcript(path).ok
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"sha256":"x"', b'"sha256":"y"'))
    report = verify_transcript(path)
    assert (report.first_bad_line, "hash does not match" in report.problems[0]) == (2, True)


# --- the one read path, and numbers the fast parser writes its own way ------------------------


def test_read_run_verifies_while_it_reads(tmp_path):
    from review_support import scenario, tamper, write_transcript

    good = write_transcript(tmp_path / "good.jsonl", scenario())
    run = tr.read_run(good)
    assert run.verdict.ok and run.events == verify_transcript(good).events
    bad = write_transcript(tmp_path / "bad.jsonl", scenario())
    tamper(bad, seq=3)
    run = tr.read_run(bad)
    assert not run.verdict.ok and run.verdict.first_bad_seq == 3
    assert len(run.events) == len(read_transcript(bad).records) > len(run.verdict.events)


@pytest.mark.parametrize(
    "number, spelling", [(1e-05, "0.00001"), (1.234e-05, "0.00001234"), (1e16, "1e16"), (1.5e300, "1.5e300")]
)
def test_a_number_spelled_as_the_fast_parser_would_is_not_canonical(tmp_path, number, spelling):
    path = tmp_path / "t.jsonl"
    with TranscriptWriter.open(path, now_utc=FixedWall(), fsync=False, signer=None) as writer:
        writer.append("session_started", 0.0, scenario_id="x", value=number)
    assert verify_transcript(path).ok
    record = json.loads(path.read_text())
    written = json.dumps(number)
    assert written != spelling and float(spelling) == number
    path.write_text(canonical(record).replace(f'"value":{written}', f'"value":{spelling}') + "\n")
    report = verify_transcript(path)
    assert not report.ok and "not written in canonical form" in report.problems[0]
