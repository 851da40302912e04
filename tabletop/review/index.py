"""The on-disk SQLite index of a folder of transcripts, refreshed incrementally and scored in parallel.

Each transcript's row is keyed by its path (relative to the folder), size, mtime and SHA-256.
Opening a folder again only rescores files that were added or whose content changed; rows of
deleted files go away. The index lives in the folder as `.tabletop-index.sqlite` when the
folder is writable, else in the user's cache directory.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import orjson

from tabletop import __version__
from tabletop.files import file_sha256
from tabletop.review.entry import TranscriptEntry, dumps, json_text, read_entry
from tabletop.review.trends import ExpectationRecord

INDEX_NAME = ".tabletop-index.sqlite"
SCHEMA_VERSION = 5
PARALLEL_MIN = 48
"""Below this many files to score, scoring runs in this process (starting workers costs more)."""
COMMIT_EVERY = 256

Progress = Callable[[int, int], None]
"""Called as progress(done, total) while transcripts are scored."""


@dataclass(frozen=True)
class RefreshPlan:
    """What a refresh has to do: files to score, rows to drop, rows whose stat alone changed."""

    to_score: tuple[str, ...]
    new: tuple[str, ...]
    removed: tuple[str, ...]
    restat: tuple[str, ...]  # size/mtime changed but the content hash did not
    unchanged: int

    @property
    def changed(self) -> tuple[str, ...]:
        new = set(self.new)
        return tuple(p for p in self.to_score if p not in new)


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did: counts of added, changed (rescored), removed and unchanged files."""

    added: int
    changed: int
    removed: int
    unchanged: int
    location: Path

    @property
    def scored(self) -> int:
        return self.added + self.changed


def user_cache_dir() -> Path:
    """The per-user cache directory for tabletop (XDG on Linux, the platform's elsewhere)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "tabletop" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "tabletop"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tabletop"


def index_location(folder: Path, cache_dir: Path | None = None) -> Path:
    """Where the index of `folder` lives: in it when writable, else in the cache directory."""
    folder = Path(folder)
    if os.access(folder, os.W_OK):
        return folder / INDEX_NAME
    digest = hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:16]
    return Path(cache_dir or user_cache_dir()) / f"index-{digest}.sqlite"


def scan_folder(folder: Path) -> dict[str, tuple[int, int]]:
    """Every `*.jsonl` under `folder` (hidden folders and linked folders skipped): relative path ->
    (size, mtime_ns). A folder reached through a symbolic link is never entered, so links such as
    `a -> .` cannot make the scan loop or repeat."""
    found: dict[str, tuple[int, int]] = {}
    stack = [(Path(folder), "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            with os.scandir(directory) as listing:
                for item in listing:
                    if item.name.startswith("."):
                        continue
                    try:
                        if item.is_dir(follow_symlinks=False):  # a linked folder is never entered
                            stack.append((Path(item.path), f"{prefix}{item.name}/"))
                        elif item.name.endswith(".jsonl") and item.is_file():
                            stat = item.stat()
                            found[prefix + item.name] = (stat.st_size, stat.st_mtime_ns)
                    except OSError:
                        continue
        except OSError:
            continue
    return found


class TranscriptIndex:
    """The index of one folder of transcripts.

    >>> index = TranscriptIndex(folder)
    >>> index.refresh(progress=lambda done, total: ...)
    >>> rows = index.entries()
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        location: Path | None = None,
        cache_dir: Path | None = None,
        threaded: bool = False,
    ) -> None:
        """`threaded` lets one other thread at a time use the index (a UI's worker thread)."""
        self.folder = Path(folder)
        self._threaded = threaded
        if not self.folder.is_dir():
            raise NotADirectoryError(f"{self.folder}: not a folder of transcripts")
        self.location = Path(location) if location else index_location(self.folder, cache_dir)
        try:
            self._db = self._connect(self.location)
        except (sqlite3.Error, OSError):
            if location is not None:
                raise
            digest = hashlib.sha256(str(self.folder.resolve()).encode("utf-8")).hexdigest()[:16]
            self.location = Path(cache_dir or user_cache_dir()) / f"index-{digest}.sqlite"
            self._db = self._connect(self.location)

    # --- storage ---------------------------------------------------------------------------
    def _connect(self, location: Path) -> sqlite3.Connection:
        from tabletop.files import OutputFileError, create_private

        location.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-journal", "-wal", "-shm"):
            if os.path.islink(f"{location}{suffix}"):
                raise OutputFileError(Path(f"{location}{suffix}"), "is a symbolic link; not written through")
        create_private(location)  # mode 0600 (titles, teams, participants), never through a link
        db = sqlite3.connect(location, timeout=10, check_same_thread=not self._threaded)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS transcripts (path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
                " mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, entry TEXT NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS outcomes (path TEXT NOT NULL, scenario TEXT NOT NULL,"
                " team TEXT NOT NULL, trusted INTEGER NOT NULL, expectation TEXT NOT NULL,"
                " status TEXT NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS expectations (scenario TEXT NOT NULL, expectation TEXT NOT NULL,"
                " title TEXT NOT NULL, area TEXT NOT NULL, PRIMARY KEY (scenario, expectation))"
            )
            db.execute("CREATE INDEX IF NOT EXISTS outcomes_path ON outcomes (path)")
            db.execute("CREATE TABLE IF NOT EXISTS programme (path TEXT PRIMARY KEY, facts TEXT NOT NULL)")
            from tabletop.review.facts import FACTS_VERSION
            from tabletop.scoring import RULES_VERSION

            # rows scored under other rules, or with other programme facts, are rescored
            stamp = f"{SCHEMA_VERSION}:{__version__}:{RULES_VERSION}:{FACTS_VERSION}"
            row = db.execute("SELECT value FROM meta WHERE key = 'stamp'").fetchone()
            if row is None or row[0] != stamp:
                # another schema or another scorer: every row is rescored
                db.execute("DELETE FROM transcripts")
                db.execute("DELETE FROM outcomes")
                db.execute("DELETE FROM expectations")
                db.execute("DELETE FROM programme")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('stamp', ?)", (stamp,))
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TranscriptIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _known(self) -> dict[str, tuple[int, int, str]]:
        return {
            path: (size, mtime, sha)
            for path, size, mtime, sha in self._db.execute(
                "SELECT path, size, mtime_ns, sha256 FROM transcripts"
            )
        }

    # --- refresh ---------------------------------------------------------------------------
    def plan(self, *, rehash: bool = False) -> RefreshPlan:
        """Compare the folder with the index. `rehash` hashes every file, not just changed ones."""
        on_disk = scan_folder(self.folder)
        known = self._known()
        to_score: list[str] = []
        new: list[str] = []
        restat: list[str] = []
        unchanged = 0
        for path, (size, mtime) in sorted(on_disk.items()):
            row = known.get(path)
            if row is None:
                to_score.append(path)
                new.append(path)
                continue
            if row[0] == size and row[1] == mtime and not rehash:
                unchanged += 1
                continue
            try:
                sha = file_sha256(self.folder / path)
            except OSError:
                to_score.append(path)
                continue
            if sha == row[2] and row[0] == size:
                if row[1] == mtime:
                    unchanged += 1
                else:
                    restat.append(path)
            else:
                to_score.append(path)
        removed = tuple(sorted(set(known) - set(on_disk)))
        return RefreshPlan(tuple(to_score), tuple(new), removed, tuple(restat), unchanged)

    def refresh(
        self,
        *,
        progress: Progress | None = None,
        workers: int | None = None,
        rehash: bool = False,
        plan: RefreshPlan | None = None,
    ) -> RefreshResult:
        """Bring the index up to date with the folder; scores new and changed files in parallel."""
        plan = plan or self.plan(rehash=rehash)
        db = self._db
        if plan.removed:
            db.executemany("DELETE FROM transcripts WHERE path = ?", [(p,) for p in plan.removed])
            db.executemany("DELETE FROM outcomes WHERE path = ?", [(p,) for p in plan.removed])
            db.executemany("DELETE FROM programme WHERE path = ?", [(p,) for p in plan.removed])
        for path in plan.restat:
            size, mtime = _stat(self.folder / path)
            db.execute("UPDATE transcripts SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime, path))
        db.commit()
        total = len(plan.to_score)
        if progress:
            progress(0, total)
        described: set[tuple[str, str]] = set()  # expectations whose title and area are stored
        batch: list[TranscriptEntry] = []
        titles: list[tuple[str, str, str, str]] = []
        for done, entry in enumerate(self._score(plan.to_score, workers), start=1):
            batch.append(entry)
            titles.extend(
                (entry.scenario, expectation, title, area)
                for expectation, title, area, _ in entry.outcomes
                if (entry.scenario, expectation) not in described
            )
            described.update((entry.scenario, outcome[0]) for outcome in entry.outcomes)
            if done % COMMIT_EVERY == 0:
                self._store(batch, titles)
            if progress:
                progress(done, total)
        self._store(batch, titles)
        return RefreshResult(
            added=len(plan.new),
            changed=total - len(plan.new),
            removed=len(plan.removed),
            unchanged=plan.unchanged + len(plan.restat),
            location=self.location,
        )

    def _store(self, batch: list[TranscriptEntry], titles: list[tuple[str, str, str, str]]) -> None:
        """Write scored rows (a statement per table for the lot, not per row) and commit; empties
        both lists."""
        db = self._db
        db.executemany(
            "INSERT OR REPLACE INTO transcripts VALUES (?, ?, ?, ?, ?)",
            [(e.path, e.size, e.mtime_ns, e.sha256, dumps(e)) for e in batch],
        )
        db.executemany("DELETE FROM outcomes WHERE path = ?", [(e.path,) for e in batch])
        db.executemany(
            "INSERT OR REPLACE INTO programme VALUES (?, ?)",
            [(e.path, json_text(dict(e.programme))) for e in batch],
        )
        outcomes: list[tuple[str, str, str, int, str, str]] = []
        for e in batch:
            path, scenario, group, trusted = e.path, e.scenario, e.group, int(e.trusted)
            outcomes.extend(
                (path, scenario, group, trusted, expectation, status)
                for expectation, _, _, status in e.outcomes
            )
        db.executemany("INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?)", outcomes)
        db.executemany("INSERT OR REPLACE INTO expectations VALUES (?, ?, ?, ?)", titles)
        db.commit()
        batch.clear()
        titles.clear()

    def _score(self, paths: tuple[str, ...], workers: int | None) -> Iterator[TranscriptEntry]:
        files = [str(self.folder / p) for p in paths]
        workers = workers or os.cpu_count() or 1
        if workers <= 1 or len(files) < PARALLEL_MIN:
            for file, relative in zip(files, paths, strict=True):
                yield _entry_for(file, relative)
            return
        chunk = max(1, min(16, len(files) // (workers * 8)))  # small: no worker idles long at the end
        context = _worker_context()
        done = 0
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for entry in pool.map(_entry_for, files, paths, chunksize=chunk):
                    done += 1
                    yield entry
        except (OSError, ValueError, RuntimeError, BrokenProcessPool):
            # no worker processes here (a sandbox, a redirected stderr): score in this one
            for file, relative in zip(files[done:], paths[done:], strict=True):
                yield _entry_for(file, relative)

    # --- reading ---------------------------------------------------------------------------
    def entries(self) -> list[TranscriptEntry]:
        """Every indexed transcript, newest session first."""
        # one JSON document for all rows: far cheaper than decoding 10,000 small ones
        (text,) = self._db.execute(
            "SELECT '[' || COALESCE(group_concat(entry, ','), '') || ']' FROM transcripts"
        ).fetchone()
        rebuild = TranscriptEntry.from_stored
        rows = [rebuild(data) for data in json.loads(text)]
        rows.sort(key=lambda e: (e.started, e.path), reverse=True)
        return rows

    def programme_facts(self) -> dict[str, dict[str, Any]]:
        """What the rehearsal programme needs from each indexed transcript, by path
        (`tabletop.review.facts`)."""
        (text,) = self._db.execute(
            "SELECT '{' || COALESCE(group_concat(json_quote(path) || ':' || facts, ','), '') || '}' FROM programme"
        ).fetchone()
        facts: dict[str, dict[str, Any]] = orjson.loads(text)
        return facts

    def entry(self, path: str) -> TranscriptEntry | None:
        row = self._db.execute("SELECT entry FROM transcripts WHERE path = ?", (path,)).fetchone()
        return TranscriptEntry.from_json(json.loads(row[0])) if row else None

    def expectation_record(
        self, *, team: str | None = None, scenario: str | None = None
    ) -> list[ExpectationRecord]:
        """How often each expectation was met, late or missed across the trusted transcripts."""
        sql = (
            "SELECT o.scenario, o.expectation, COALESCE(MAX(e.title), ''), COALESCE(MAX(e.area), ''),"
            " COUNT(*), SUM(o.status = 'met'), SUM(o.status = 'late'), SUM(o.status = 'missed')"
            " FROM outcomes o LEFT JOIN expectations e"
            " ON e.scenario = o.scenario AND e.expectation = o.expectation WHERE o.trusted = 1"
        )
        args: list[str] = []
        if team is not None:
            sql += " AND o.team = ?"
            args.append(team)
        if scenario is not None:
            sql += " AND o.scenario = ?"
            args.append(scenario)
        sql += " GROUP BY o.scenario, o.expectation"
        return [ExpectationRecord(*row) for row in self._db.execute(sql, args)]

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0])


def _worker_context() -> BaseContext:
    """How scoring workers start: forked from a process with no other thread (on Linux), so each
    starts with this one's modules already imported (a spawned worker imports the scorer, the
    model and the report anew: a quarter of a second each); spawned otherwise, as forking a
    process that runs other threads (a console's workers) is not safe. The pool starts its
    workers before its own thread."""
    import multiprocessing
    import threading

    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _entry_for(file: str, relative: str) -> TranscriptEntry:
    """Score one file into its row, keyed by the path the folder scan found it under (module
    level so worker processes can run it)."""
    return read_entry(file, relative=relative)


def _stat(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def open_index(
    folder: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    cache_dir: Path | None = None,
) -> tuple[TranscriptIndex, RefreshResult]:
    """Open (or build) the index of `folder` and bring it up to date."""
    index = TranscriptIndex(folder, cache_dir=cache_dir)
    result = index.refresh(progress=progress, workers=workers)
    return index, result


SEARCH_KEYS = ("scenario", "team", "mode", "integrity", "who", "date", "rating")
"""The `key:value` words a search understands (see `filter_entries`)."""

_KEY_WORD = re.compile(r"^(?P<key>[a-z_]+):(?P<value>.*)$")


def search_problems(text: str) -> list[str]:
    """What a search cannot use as it is written: each `key:` that is not a search key.

    Such a word is still looked for as plain text (so it usually matches nothing); this says
    which keys exist.
    """
    problems = []
    for word in text.lower().split():
        match = _KEY_WORD.match(word)
        if match and match["key"] not in SEARCH_KEYS:
            close = difflib.get_close_matches(match["key"], SEARCH_KEYS, n=1)
            hint = f" (did you mean {close[0]}:?)" if close else ""
            problems.append(
                f"unknown search key {match['key']}:{hint}; the keys are "
                + ", ".join(f"{k}:" for k in SEARCH_KEYS)
            )
    return problems


def filter_entries(entries: Iterable[TranscriptEntry], text: str) -> list[TranscriptEntry]:
    """Rows matching every word of `text` (in path, scenario, title, team, participants, mode, integrity).

    A word `key:value` matches one field: `scenario:`, `team:`, `mode:`, `integrity:`, `who:`,
    `rating:` (any area rated so, e.g. `rating:U`).
    """
    words = text.lower().split()
    if not words:
        return list(entries)
    out = []
    for entry in entries:
        haystack = " ".join(
            (
                entry.path,
                entry.scenario,
                entry.title,
                entry.team,
                entry.mode,
                entry.integrity,
                entry.date,
                " ".join(entry.participants),
                entry.problem,
            )
        ).lower()
        if all(_matches(entry, word, haystack) for word in words):
            out.append(entry)
    return out


def _matches(entry: TranscriptEntry, word: str, haystack: str) -> bool:
    key, sep, value = word.partition(":")
    if sep and value:
        fields = {
            "scenario": entry.scenario,
            "team": entry.group,
            "mode": entry.mode,
            "integrity": entry.integrity,
            "who": " ".join(entry.participants),
            "date": entry.date,
        }
        if key in fields:
            return value in fields[key].lower()
        if key == "rating":
            return any(r.lower() == value for r in entry.ratings.values())
    return word in haystack
