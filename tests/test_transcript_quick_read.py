"""The reader's quick path for an intact transcript and its careful line-by-line path agree.

`verify_transcript` first tries the quick path (one tight loop that gives up at the first line
that is not a canonical, chained, in-order event) and only then reads the file line by line.
Whatever a file holds, what it reports must be exactly what the careful path alone reports: the
same events, problems, damage and digests. The files here are built to be hostile: re-chained
after each edit, so that only the edit itself is left to find.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabletop import transcript as tr
from tabletop.transcript import canonical, verify_transcript


def stdlib_text(record):
    return canonical(record).encode("utf-8")


def orjson_text(record):
    """The line as orjson writes it: equal to the canonical text except for some numbers."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


REMOVED = object()
"""A value that takes the key out of the line."""


def chained(records, dump=stdlib_text):
    """The file's bytes: `records` chained and hashed as written by `dump` (a `prev` or `hash`
    a record already has is kept as it is)."""
    out, prev = [], None
    for record in records:
        record = dict(record)
        record.setdefault("prev", prev)
        record = {k: v for k, v in record.items() if v is not REMOVED}
        if "hash" not in record:
            record["hash"] = hashlib.sha256(dump(record)).hexdigest()
        prev = record["hash"]
        out.append(dump(record))
    return b"\n".join(out) + b"\n"


def events(count=6):
    started = {
        "seq": 0,
        "type": "session_started",
        "t": 0.0,
        "wall": "2026-03-10T09:00:00.000Z",
        "scenario_id": "x",
        "scenario": {"id": "x", "roles": ["coordinator"], "values": {"speed": 60.0, "note": "time-boxed"}},
    }
    rest = [
        {
            "seq": n,
            "type": "decision",
            "t": float(n * 60),
            "wall": f"2026-03-10T09:0{n}:00.000Z",
            "role": "coordinator",
            "action": "status_update",
            "fields": {"summary": f"update {n} – café", "hash": "not the line's"},
        }
        for n in range(1, count)
    ]
    return [started, *rest]


def both_ways(path, monkeypatch):
    """`verify_transcript` as it is and with the careful path alone, and the same two ways for
    `read_transcript` (no chain check): both pairs must agree (see `assert_same`)."""
    quick, plain = verify_transcript(path), tr.read_transcript(path)
    with monkeypatch.context() as patch:
        patch.setattr(tr, "_scan_intact", lambda data, report: False)
        patch.setattr(tr, "_scan_plain", lambda data, report: False)
        careful, careful_plain = verify_transcript(path), tr.read_transcript(path)
    assert_same(plain, careful_plain)
    return quick, careful


def assert_same(quick, careful):
    for item in fields(tr.TranscriptRead):
        if item.name not in ("quick", "scenario_digest"):
            assert getattr(quick, item.name) == getattr(careful, item.name), item.name
    assert not careful.quick
    if careful.scenario_digest is not None:
        assert quick.scenario_digest is not None
        assert quick.scenario_digest[1] == careful.scenario_digest[1]
    if quick.scenario_digest is not None:  # whichever path took it, it is the scenario's digest
        assert quick.scenario_digest[0] is quick.records[0]["scenario"]
        assert quick.scenario_digest[1] == tr.scenario_json_sha256(quick.records[0]["scenario"])


def test_an_intact_transcript_takes_the_quick_path_and_reads_the_same(tmp_path, monkeypatch):
    path = tmp_path / "t.jsonl"
    data = chained(events())
    path.write_bytes(data)
    assert tr._scan_intact(data, tr.TranscriptRead()) is True  # else the comparisons prove nothing
    assert tr._scan_plain(data, tr.TranscriptRead()) is True
    assert verify_transcript(path).quick and tr.read_transcript(path).quick
    quick, careful = both_ways(path, monkeypatch)
    assert quick.ok and len(quick.events) == 6 and quick.good_bytes == len(data)
    assert_same(quick, careful)


HOSTILE = [
    # (what, line, key, value): set `key` to `value` on that line, then re-chain every line
    ("seq is true", 1, "seq", True),
    ("seq is 1.0", 1, "seq", 1.0),
    ("seq is a string", 2, "seq", "2"),
    ("t is true", 2, "t", True),
    ("t is a string", 2, "t", "120"),
    ("t goes back", 3, "t", 1.0),
    ("t is negative on line 1", 0, "t", -1.0),
    ("no wall", 2, "wall", REMOVED),
    ("no type", 2, "type", REMOVED),
    ("no seq", 2, "seq", REMOVED),
    ("no t", 2, "t", REMOVED),
    ("no prev on line 1", 0, "prev", REMOVED),
    ("a prev that is not the line before's", 2, "prev", "0" * 64),
    ("a second session_started", 3, "type", "session_started"),
    ("the first line is no session start", 0, "type", "note"),
    ("a hash that is not hex", 2, "hash", "Z" * 64),
    ("a hash that needs an escape", 2, "hash", '"' * 64),
    ("a hash of another length", 2, "hash", "0" * 63),
    ("a number orjson writes its own way", 2, "value", 1e-05),
    ("a small exponent", 2, "value", 1e-07),
    ("a small number in the scenario", 0, "scenario", {"id": "x", "roles": [], "limit": 1e-05}),
    ("a small exponent on line 1", 0, "value", -1e-07),
    ("an integer beyond 64 bits", 2, "value", 2**70),
    ("a top-level list", 2, None, None),
]


NOT_DAMAGE = {
    ("a number orjson writes its own way", "standard"),
    ("a small exponent", "standard"),
    ("a small number in the scenario", "standard"),
    ("a small exponent on line 1", "standard"),
    # rules of the grammar and content (`verify_evidence`), not of the chain
    ("t is negative on line 1", "standard"),
    ("t is negative on line 1", "orjson"),
    ("a second session_started", "standard"),
    ("a second session_started", "orjson"),
}
"""Edits that leave an intact chain (when that library writes the line)."""


@pytest.mark.parametrize("dump", [stdlib_text, orjson_text], ids=["standard", "orjson"])
@pytest.mark.parametrize("what, line, key, value", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_re_chained_hostile_line_reads_as_the_careful_path_says(
    tmp_path, monkeypatch, dump, what, line, key, value
):
    records = events()
    if key is not None:
        records[line][key] = value
    try:
        data = chained(records, dump)
    except TypeError:  # orjson cannot write an integer beyond 64 bits: the standard library does
        data = chained(records)
    if key is None:  # a line that is a JSON list, not an object
        lines = data.split(b"\n")
        lines[line] = b"[" + lines[line] + b"]"
        data = b"\n".join(lines)
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    quick, careful = both_ways(path, monkeypatch)
    assert_same(quick, careful)
    if (what, "standard" if dump is stdlib_text else "orjson") in NOT_DAMAGE or what.startswith("an integer"):
        assert quick.ok, what
    else:
        assert not quick.ok, what  # damage, or a number not written as the standard library would


@pytest.mark.parametrize(
    "edit",
    [
        lambda data: data.replace(b"\n", b"\r\n"),  # CRLF line ends
        lambda data: data + b"\n",  # a blank last line
        lambda data: data[:-1],  # no newline at the end: a torn tail
        lambda data: b" " + data,  # a space before line 1
        lambda data: data.replace(b'"t":60.0', b'"t":60.00'),  # another spelling of the same number
        lambda data: data.replace(b'"seq":2,', b'"seq":2 ,'),
        lambda data: data + b"\x00" * 16 + b"\n",  # zeros a crash can leave
        lambda data: b"",
    ],
)
def test_an_edited_file_reads_as_the_careful_path_says(tmp_path, monkeypatch, edit):
    path = tmp_path / "t.jsonl"
    path.write_bytes(edit(chained(events())))
    quick, careful = both_ways(path, monkeypatch)
    assert_same(quick, careful)
    assert not quick.ok


def test_a_duplicated_hash_member_inside_an_event_reads_as_the_careful_path_says(tmp_path, monkeypatch):
    records = events()
    data = chained(records)
    third = json.loads(data.split(b"\n")[2])
    records[3]["fields"] = {"hash": third["hash"]}  # a nested member spelled like line 3's own
    records[2]["fields"] = {"copy": '"hash":"' + third["hash"] + '"'}
    path = tmp_path / "t.jsonl"
    path.write_bytes(chained(records))
    quick, careful = both_ways(path, monkeypatch)
    assert_same(quick, careful)
    assert quick.ok


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    line=st.integers(min_value=0, max_value=5),
    key=st.sampled_from(["seq", "t", "type", "wall", "prev", "hash", "fields", "scenario", "hash "]),
    value=JSON_VALUES,
    writer=st.sampled_from(["standard", "orjson"]),
)
def test_any_re_chained_value_reads_as_the_careful_path_says(tmp_path, monkeypatch, line, key, value, writer):
    records = events()
    records[line][key] = value
    dump = stdlib_text if writer == "standard" else orjson_text
    try:
        data = chained(records, dump)
    except (TypeError, ValueError):  # orjson cannot write an integer beyond 64 bits
        data = chained(records)
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    quick, careful = both_ways(path, monkeypatch)
    assert_same(quick, careful)


@settings(max_examples=400, deadline=None)
@given(value=JSON_VALUES)
def test_a_line_the_number_guard_passes_is_spelled_as_the_standard_library_spells_it(value):
    record = {"value": value, "note": "page 2e+3 of 10.0000, base64 9e-Q/2e+3"}
    try:
        fast = orjson_text(record)
    except TypeError:  # an integer beyond 64 bits: orjson does not write it
        return
    if not tr._quick_may_differ(fast):
        assert fast == stdlib_text(record)
    assert tr._quick_may_differ(fast) or not tr._precise_may_differ(fast)


@pytest.mark.parametrize("number", [1e-05, 2.5e-06, -1e-07, 1e-09, 5e-324, 1e16, -1.5e300, 0.00012])
def test_numbers_the_two_libraries_spell_apart_are_caught_in_every_place(number):
    for record in ({"a": number}, {"a": [number]}, {"a": [1, number]}, {"a": {"b": number}}):
        fast = orjson_text(record)
        assert fast == stdlib_text(record) or tr._quick_may_differ(fast), fast


def test_a_read_without_the_chain_check_is_never_taken_for_a_verdict(tmp_path):
    from review_support import scenario, tamper, write_transcript

    path = write_transcript(tmp_path / "t.jsonl", scenario())
    tamper(path, seq=3)  # an edit, its hash left as it was
    run = tr.read_run(path, verify=False)
    assert not run.verdict.chain_checked
    assert tr.read_run(path).events == run.events
    verification = tr.verify_evidence(path, chain=run.verdict)
    assert verification.status == tr.FORGED and "hash does not match" in verification.problems[0]
    assert verification.chain is not None and verification.chain.chain_checked


@pytest.mark.parametrize("where", ["middle", "last"])
@pytest.mark.parametrize("t", [float("nan"), float("inf"), -1.0, 10.0**12])
def test_a_bad_time_anywhere_is_refused_by_read_run_whichever_path_reads_it(tmp_path, t, where):
    from review_support import scenario, write_transcript

    path = write_transcript(tmp_path / "t.jsonl", scenario())
    lines = path.read_bytes().split(b"\n")[:-1]
    number = 4 if where == "middle" else len(lines)
    line = json.loads(lines[number - 1])
    line["t"] = t
    lines[number - 1] = json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    for verify in (True, False):
        with pytest.raises(tr.TranscriptError, match=f":{number}: key 't'"):
            tr.read_run(path, verify=verify)
