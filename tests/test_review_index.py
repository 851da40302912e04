"""The review index: incremental refresh, integrity states, numbers equal to the scorer's."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import review_support as rs

from tabletop.review import index as index_module
from tabletop.review.entry import TranscriptEntry, read_entry
from tabletop.review.index import INDEX_NAME, TranscriptIndex, filter_entries, index_location
from tabletop.scoring import score_transcript


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return rs.sample_folder(tmp_path / "transcripts")


def by_path(index: TranscriptIndex) -> dict[str, TranscriptEntry]:
    return {e.path: e for e in index.entries()}


def test_first_open_scores_every_transcript_and_stores_the_index_in_the_folder(folder):
    with TranscriptIndex(folder) as index:
        result = index.refresh()
        rows = by_path(index)
    assert (result.added, result.changed, result.removed, result.unchanged) == (5, 0, 0, 0)
    assert result.location == folder / INDEX_NAME and result.location.exists()
    assert sorted(rows) == [
        "2026-03-02-blue.jsonl",
        "2026-04-06-red.jsonl",
        "2026-05-11-blue.jsonl",
        "2026-06-01-green.jsonl",
        "solo/2026-05-20-sam.jsonl",
    ]
    blue = rows["2026-03-02-blue.jsonl"]
    assert (blue.scenario, blue.title, blue.team, blue.mode) == (
        "lost-admin",
        "Lost admin account",
        "blue",
        "team",
    )
    assert blue.participants == ("Sam (coordinator)", "Priya (dpo)", "Ana (technical_lead)")
    assert blue.date == "2026-03-02" and blue.duration == 7200 and blue.ended
    solo = rows["solo/2026-05-20-sam.jsonl"]
    assert solo.solo and solo.group == "solo: Sam" and solo.scenario == "suspected-breach"


def test_rows_carry_the_scorers_numbers_unchanged(folder):
    with TranscriptIndex(folder) as index:
        index.refresh()
        rows = by_path(index)
    for path, entry in rows.items():
        _, card, _ = score_transcript(folder / path)
        expected = card.to_json()
        assert entry.score == expected["score"], path
        assert (entry.passed, entry.applicable) == (expected["passed"], expected["applicable"])
        assert dict(entry.areas) == expected["areas"]
        assert dict(entry.ratings) == expected["ratings"]
    assert (
        rows["2026-04-06-red.jsonl"].score
        < rows["2026-05-11-blue.jsonl"].score
        < rows["2026-03-02-blue.jsonl"].score
    )


def test_a_tampered_transcript_is_listed_as_broken_not_hidden(folder):
    with TranscriptIndex(folder) as index:
        index.refresh()
        green = index.entry("2026-06-01-green.jsonl")
    assert green is not None
    assert green.integrity == "broken" and not green.trusted
    assert "hash" in green.problem and "seq 3" in green.problem
    assert green.scenario == "lost-admin"  # still identified, so a manager can find it


def test_the_index_picks_up_added_changed_and_deleted_files(folder):
    with TranscriptIndex(folder) as index:
        index.refresh()
        rs.write_transcript(
            folder / "2026-07-01-new.jsonl",
            team="purple",
            started=datetime(2026, 7, 1, 9, 0, tzinfo=UTC),
        )
        red = folder / "2026-04-06-red.jsonl"
        before = index.entry(red.name)
        rs.write_transcript(red, decisions=rs.GOOD, team="red")  # the red team re-ran and did well
        stat = red.stat()
        os.utime(red, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
        (folder / "2026-03-02-blue.jsonl").unlink()
        plan = index.plan()
        assert plan.new == ("2026-07-01-new.jsonl",)
        assert plan.changed == ("2026-04-06-red.jsonl",)
        assert plan.removed == ("2026-03-02-blue.jsonl",)
        result = index.refresh(plan=plan)
        rows = by_path(index)
    assert (result.added, result.changed, result.removed, result.unchanged) == (1, 1, 1, 3)
    assert "2026-03-02-blue.jsonl" not in rows
    assert rows["2026-07-01-new.jsonl"].team == "purple"
    assert before is not None and before.score == 0.25
    assert rows["2026-04-06-red.jsonl"].score == 1.0
    assert rows["2026-04-06-red.jsonl"].sha256 != before.sha256


def test_a_second_open_rescores_nothing_and_a_touch_alone_is_not_a_change(folder):
    with TranscriptIndex(folder) as index:
        index.refresh()
    blue = folder / "2026-03-02-blue.jsonl"
    stat = blue.stat()
    os.utime(blue, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    scored: list[str] = []
    real = index_module._entry_for

    def spy(file: str, root: str) -> TranscriptEntry:
        scored.append(file)
        return real(file, root)

    index_module._entry_for = spy
    try:
        with TranscriptIndex(folder) as index:
            plan = index.plan()
            result = index.refresh(plan=plan)
            again = index.plan()
    finally:
        index_module._entry_for = real
    assert plan.restat == ("2026-03-02-blue.jsonl",) and plan.to_score == ()
    assert scored == [] and result.scored == 0 and result.unchanged == 5
    assert again.unchanged == 5 and again.restat == ()


def test_an_edit_that_keeps_size_and_mtime_is_found_by_a_rehash(folder):
    with TranscriptIndex(folder) as index:
        index.refresh()
        blue = folder / "2026-03-02-blue.jsonl"
        stat = blue.stat()
        data = blue.read_bytes().replace(b'"by":"Sam"', b'"by":"Sal"', 1)
        assert len(data) == stat.st_size
        blue.write_bytes(data)
        os.utime(blue, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert index.plan().to_score == ()
        assert index.plan(rehash=True).to_score == ("2026-03-02-blue.jsonl",)
        index.refresh(rehash=True)
        assert index.entry("2026-03-02-blue.jsonl").integrity == "broken"


def test_torn_and_unreadable_files_keep_their_rows(folder):
    torn = rs.write_transcript(folder / "torn.jsonl", team="blue")
    with open(torn, "a", encoding="utf-8") as handle:
        handle.write('{"seq": 99, "type": "deci')
    (folder / "notes.jsonl").write_text("this is not a transcript\n", encoding="utf-8")
    (folder / "empty.jsonl").write_text("", encoding="utf-8")
    with TranscriptIndex(folder) as index:
        index.refresh()
        rows = by_path(index)
    assert rows["torn.jsonl"].integrity == "torn" and rows["torn.jsonl"].trusted
    assert rows["torn.jsonl"].score == rows["2026-03-02-blue.jsonl"].score
    for name in ("notes.jsonl", "empty.jsonl"):
        assert rows[name].integrity == "unreadable" and rows[name].score is None
        assert rows[name].problem


def test_every_row_carries_the_sha256_and_size_of_its_file(folder):
    torn = rs.write_transcript(folder / "torn.jsonl", team="blue")
    with open(torn, "a", encoding="utf-8") as handle:
        handle.write('{"seq": 99, "type": "deci')
    (folder / "notes.jsonl").write_text("this is not a transcript\n", encoding="utf-8")
    (folder / "empty.jsonl").write_text("", encoding="utf-8")
    with TranscriptIndex(folder) as index:
        index.refresh()
        rows = by_path(index)
    assert len(rows) == 8
    for name, row in rows.items():
        data = (folder / name).read_bytes()
        assert (row.sha256, row.size) == (hashlib.sha256(data).hexdigest(), len(data)), name


def test_scoring_runs_in_worker_processes_for_many_files(folder, monkeypatch):
    monkeypatch.setattr(index_module, "PARALLEL_MIN", 2)
    inline = {e.path: e for e in (read_entry(p, folder) for p in sorted(folder.rglob("*.jsonl")))}
    progress: list[tuple[int, int]] = []
    with TranscriptIndex(folder) as index:
        index.refresh(workers=2, progress=lambda done, total: progress.append((done, total)))
        rows = by_path(index)
    assert progress[0] == (0, 5) and progress[-1] == (5, 5)
    assert rows == inline


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_workers_are_forked_only_from_a_process_running_no_other_thread(folder, monkeypatch):
    assert index_module._worker_context().get_start_method() == (
        "fork" if threading.active_count() == 1 else "spawn"
    )
    seen = []
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        seen.append(index_module._worker_context().get_start_method())
        monkeypatch.setattr(index_module, "PARALLEL_MIN", 2)
        with TranscriptIndex(folder) as index:  # scored by spawned workers, as a console would
            index.refresh(workers=2)
            rows = by_path(index)
    finally:
        stop.set()
        other.join()
    assert seen == ["spawn"]
    assert rows == {e.path: e for e in (read_entry(p, folder) for p in sorted(folder.rglob("*.jsonl")))}


def test_a_linked_file_is_listed_under_its_own_name_and_not_rescored(folder, tmp_path):
    outside = rs.write_transcript(tmp_path / "elsewhere.jsonl", team="violet")
    (folder / "linked-outside.jsonl").symlink_to(outside)
    (folder / "linked-inside.jsonl").symlink_to(folder / "2026-03-02-blue.jsonl")
    with TranscriptIndex(folder) as index:
        index.refresh()
        rows = by_path(index)
        again = index.refresh()
    assert rows["linked-outside.jsonl"].team == "violet"
    assert rows["linked-inside.jsonl"].team == rows["2026-03-02-blue.jsonl"].team == "blue"
    assert len(rows) == 7 and all(not path.startswith("/") for path in rows)
    assert again.scored == 0 and again.unchanged == 7


def test_an_unwritable_folder_keeps_its_index_in_the_cache(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(index_module.os, "access", lambda path, mode: False)
    cache = tmp_path / "cache"
    location = index_location(folder, cache)
    assert location.parent == cache and location.name.startswith("index-")
    with TranscriptIndex(folder, cache_dir=cache) as index:
        index.refresh()
        assert len(index) == 5
    assert location.exists() and not (folder / INDEX_NAME).exists()


def test_an_index_from_another_version_is_rebuilt(folder):
    with TranscriptIndex(folder) as index:
        index.refresh()
    db = sqlite3.connect(folder / INDEX_NAME)
    db.execute("UPDATE meta SET value = 'old' WHERE key = 'stamp'")
    db.commit()
    db.close()
    with TranscriptIndex(folder) as index:
        assert len(index) == 0
        assert index.refresh().added == 5


def test_search_words_and_fields(folder):
    with TranscriptIndex(folder) as index:
        index.refresh()
        rows = index.entries()
    assert {e.path for e in filter_entries(rows, "team:blue")} == {
        "2026-03-02-blue.jsonl",
        "2026-05-11-blue.jsonl",
    }
    assert [e.path for e in filter_entries(rows, "integrity:broken")] == ["2026-06-01-green.jsonl"]
    assert [e.path for e in filter_entries(rows, "mode:solo")] == ["solo/2026-05-20-sam.jsonl"]
    assert {e.path for e in filter_entries(rows, "rating:u")} == {
        "2026-04-06-red.jsonl",
        "2026-05-11-blue.jsonl",
    }
    assert [e.path for e in filter_entries(rows, "lee")] == ["2026-04-06-red.jsonl"]
    assert [e.path for e in filter_entries(rows, "blue date:2026-05")] == ["2026-05-11-blue.jsonl"]
    assert filter_entries(rows, "") == rows
    assert filter_entries(rows, "nobody-matches-this") == []


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(NotADirectoryError, match="not a folder of transcripts"):
        TranscriptIndex(tmp_path / "nope")
