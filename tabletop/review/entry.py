"""One transcript as the review console lists it: who, what, when, its score and its integrity."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tabletop.files import file_sha256
from tabletop.review.evidence import (
    INTEGRITY_OK,
    INTEGRITY_TORN,
    INTEGRITY_UNREADABLE,
    Evidence,
    load_evidence,
)
from tabletop.scoring import (
    COUNTED,  # the expectation statuses that enter the scorer's totals
    conditions_text,
)


@dataclass(frozen=True)
class TranscriptEntry:
    """A row of the review table: a transcript's identity, summary score and integrity.

    The numbers (`score`, `passed`, `applicable`, `areas`) are the scorer's, copied from its
    scorecard unrounded; `ratings` are its P/S/M/U capability ratings per area. A transcript
    that cannot be read or scored keeps its row with `integrity` and `problem` saying why.
    """

    path: str  # relative to the folder under review, with `/` separators
    size: int
    mtime_ns: int
    sha256: str
    integrity: str = INTEGRITY_OK
    problem: str = ""
    evidence: str = ""  # what `tabletop verify` says: verified, unsigned, untrusted, sample, forged, ...
    started: str = ""  # wall-clock UTC ISO time the session started
    scenario: str = ""
    title: str = ""
    kind: str = ""
    mode: str = ""  # solo | team | simulate
    team: str = ""
    participants: tuple[str, ...] = ()  # "Name (role)"
    events: int = 0
    duration: float = 0.0  # sim seconds covered (the last event's t)
    ended: bool = False
    score: float | None = None
    passed: int | None = None
    applicable: int | None = None
    areas: Mapping[str, float] = field(default_factory=dict)
    ratings: Mapping[str, str] = field(default_factory=dict)
    conditions: str = ""  # what the run was played under, in words ("solo, hints, speed 60")
    rules_version: int = 0  # the scoring rules version the run was played under
    coverage: float | None = None  # scored weight / (scored + open weight)
    outcomes: tuple[tuple[str, str, str, str], ...] = field(default=(), compare=False, repr=False)
    """(expectation id, title, area, status) of each counted expectation; kept by the index in
    its own table (not in the row) and empty on rows read back from the index."""
    programme: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """What the rehearsal programme needs from the run (`tabletop.review.facts`); kept by the
    index in its own table, like `outcomes`, and empty on rows read back from the index."""

    @property
    def trusted(self) -> bool:
        """True when the hash chain is intact (a torn tail alone keeps what came before)."""
        return self.integrity in (INTEGRITY_OK, INTEGRITY_TORN)

    @property
    def scored(self) -> bool:
        return self.score is not None

    @property
    def date(self) -> str:
        """The session's start date, `YYYY-MM-DD` (empty when unknown)."""
        return self.started[:10]

    @property
    def started_at(self) -> str:
        """The session's start, `YYYY-MM-DD HH:MM` in UTC (as recorded), so that runs of the
        same day can be told apart; the date alone when the time is unknown."""
        time = self.started[11:16]
        return f"{self.date} {time}" if len(time) == 5 and time[2] == ":" else self.date

    @property
    def solo(self) -> bool:
        return self.mode == "solo"

    @property
    def group(self) -> str:
        """Who rehearsed: the team, else `solo: NAME` for solo practice, else `(no team)`."""
        if self.team:
            return self.team
        if self.mode == "solo" and self.participants:
            return "solo: " + self.participants[0].split(" (")[0]
        return "(no team)"

    def to_json(self) -> dict[str, Any]:
        # the row's own fields, flat (`outcomes` and `programme` are kept in their own tables):
        # `asdict` would deep-copy both before they are dropped, the index's largest cost
        data = {name: getattr(self, name) for name in _ROW_FIELDS}
        data["participants"] = list(self.participants)
        data["areas"] = dict(self.areas)
        data["ratings"] = dict(self.ratings)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TranscriptEntry:
        values = dict(data)
        values["participants"] = tuple(values.get("participants") or ())
        values["areas"] = dict(values.get("areas") or {})
        values["ratings"] = dict(values.get("ratings") or {})
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> TranscriptEntry:
        """Rebuild a row the index wrote with `to_json` (trusted input; fast for 10,000 rows)."""
        if data.keys() != _STORED_NAMES:
            return cls.from_json(data)
        data["participants"] = tuple(data["participants"])
        data["outcomes"] = ()
        data["programme"] = {}
        entry = object.__new__(cls)
        entry.__dict__.update(data)
        return entry


_ROW_FIELDS = tuple(
    name for name in TranscriptEntry.__dataclass_fields__ if name not in ("outcomes", "programme")
)
_STORED_NAMES = TranscriptEntry.__dataclass_fields__.keys() - {"outcomes", "programme"}


def read_entry(
    path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, *, relative: str | None = None
) -> TranscriptEntry:
    """Read, verify and score one transcript into its review row; never raises for bad files.

    `root` is the folder under review (the row's `path` is relative to it); `relative` is that
    path when the caller has it (the index: the name it found the file under, a linked file's
    own name included).
    """
    path = Path(path)
    if relative is None:
        relative = _relative(path, root)
    try:
        stat = path.stat()
    except OSError as error:
        return _cannot_read(relative, error)
    try:
        evidence = load_evidence(path)
    except Exception as error:  # a bad file is a row that says so, never a crash
        try:
            sha = file_sha256(path)
        except OSError as cause:
            return _cannot_read(relative, cause)
        return TranscriptEntry(
            path=relative,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            sha256=sha,
            integrity=INTEGRITY_UNREADABLE,
            problem=_one_line(error),
        )
    sha = evidence.verification.chain.file_sha256()  # of the bytes read, not a second read
    return summarize(evidence, path=relative, size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha)


def _cannot_read(relative: str, error: OSError) -> TranscriptEntry:
    return TranscriptEntry(
        path=relative,
        size=0,
        mtime_ns=0,
        sha256="",
        integrity=INTEGRITY_UNREADABLE,
        problem=f"cannot read: {error.strerror or error}",
    )


def summarize(evidence: Evidence, **base: Any) -> TranscriptEntry:
    """The review row for loaded evidence."""
    from tabletop.review.facts import facts_of

    started = evidence.started or {}
    participants = tuple(
        f"{p.get('name') or '?'} ({p.get('role') or '?'})" for p in started.get("participants") or ()
    )
    scenario = started.get("scenario") or {}
    card = evidence.card or {}
    return TranscriptEntry(
        **base,
        integrity=evidence.integrity,
        problem=evidence.problem,
        evidence=evidence.evidence,
        started=str(evidence.started_wall or ""),
        scenario=str(started.get("scenario_id") or scenario.get("id") or ""),
        title=str(scenario.get("title") or ""),
        kind=str(scenario.get("kind") or ""),
        mode=str(started.get("mode") or ""),
        team=str(started.get("team") or ""),
        participants=participants,
        events=evidence.event_count,
        duration=float(evidence.duration),
        ended=evidence.ended,
        score=card.get("score"),
        passed=card.get("passed"),
        applicable=card.get("applicable"),
        areas=dict(card.get("areas") or {}),
        ratings=dict(ratings_of(card)),
        conditions=conditions_text(card.get("conditions")) if card else "",
        rules_version=int(card.get("rules_version") or 0),
        coverage=card.get("coverage"),
        outcomes=tuple(
            (
                str(e.get("id")),
                str(e.get("title") or e.get("action") or ""),
                str(e.get("area") or ""),
                str(e.get("status")),
            )
            for e in card.get("expectations") or ()
            if e.get("status") in COUNTED and e.get("scope", "yours") == "yours"
        ),
        programme=facts_of(evidence),
    )


def ratings_of(card: Mapping[str, Any]) -> dict[str, str]:
    """The P/S/M/U rating per area from a scorecard's JSON."""
    ratings = card.get("ratings") or card.get("capabilities") or {}
    out: dict[str, str] = {}
    for area, value in ratings.items():
        if isinstance(value, Mapping):
            value = value.get("rating") or value.get("code") or ""
        out[str(area)] = str(value)
    return out


def _relative(path: Path, root: str | os.PathLike[str] | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    message = text[0] if text else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def dumps(entry: TranscriptEntry) -> str:
    """The row as the index stores it (JSON)."""
    return json_text(entry.to_json())


def json_text(data: Any) -> str:
    """Compact JSON text: orjson's (a tenth of the time), the standard library's for what orjson
    does not write (an integer beyond 64 bits); a float that is not finite is written null."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
    except TypeError:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
