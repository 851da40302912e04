"""Evidence-grade transcripts: an append-only, fsync'd, SHA-256 hash-chained JSONL file, its reader and verifier.

Each line is one JSON object with `seq`, `type`, `t`, `wall`, `prev` and `hash` beside the
event's own fields. `hash` is the SHA-256 of the line's canonical JSON without `hash`
(`json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`), and `prev` is the
previous line's hash, so any edit, reordering or deletion breaks the chain. A line is written
in one `write`, then fsync'd, before `append` returns: whatever `append` returned is on disk.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from tabletop.files import file_sha256
from tabletop.model import Scenario

RESERVED = ("seq", "type", "t", "wall", "prev", "hash")
"""Keys every line carries; an event's own fields may not use them."""

FILE_MODE = 0o600


class TranscriptError(ValueError):
    """A transcript that cannot be read, written or continued; the message names the file (and
    line) and says why."""


def utc_now() -> datetime:
    """The default wall-clock source for `wall` (inject another for tests)."""
    return datetime.now(UTC)


def canonical(record: dict[str, Any]) -> str:
    """The canonical JSON text of a record (the text that is hashed and written)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def line_hash(record: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of `record` without its `hash` key."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def format_wall(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path.parent or Path(".")), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class TranscriptWriter:
    """Appends events to a transcript, one durable line at a time.

    Use `TranscriptWriter.open(path)` for a new transcript (created with mode 0600, never
    overwriting an existing file) and `TranscriptWriter.reopen(path)` to continue one after a
    crash (the chain is verified first and a torn last line is cut off). `fsync=False` exists
    for benchmarks only.
    """

    def __init__(
        self,
        fd: int,
        path: Path,
        *,
        seq: int = 0,
        prev: str | None = None,
        size: int = 0,
        now_utc: Callable[[], datetime] = utc_now,
        fsync: bool = True,
        last_t: float | None = None,
    ) -> None:
        self._fd: int | None = fd
        self.path = Path(path)
        self._seq = seq
        self._prev = prev
        self._size = size
        self._now_utc = now_utc
        self._fsync = fsync
        self._lock = threading.Lock()
        self.last_t = last_t
        self.dropped_tail = 0
        """Bytes of a torn last line cut off by `reopen` (0 when there was none)."""
        self.recovered: list[dict[str, Any]] = []
        """The events already in the file when it was reopened (empty for a new one)."""

    # opening --------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        now_utc: Callable[[], datetime] = utc_now,
        fsync: bool = True,
    ) -> TranscriptWriter:
        """Create a new transcript at `path` (parents created); an existing file is an error."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, FILE_MODE)
        except FileExistsError:
            raise TranscriptError(
                f"{path}: already exists; a transcript is never overwritten "
                "(choose another path, or resume it)"
            ) from None
        except OSError as error:
            raise TranscriptError(f"{path}: cannot create: {error.strerror}") from None
        try:
            os.fchmod(fd, FILE_MODE)  # whatever the umask, the file is private
        except OSError:
            pass
        if fsync:
            _fsync_dir(path)
        return cls(fd, path, now_utc=now_utc, fsync=fsync)

    @classmethod
    def reopen(
        cls,
        path: str | Path,
        *,
        now_utc: Callable[[], datetime] = utc_now,
        fsync: bool = True,
    ) -> TranscriptWriter:
        """Continue an existing transcript: verify it, cut a torn last line, append after it.

        Raises TranscriptError if the chain is broken anywhere but a torn tail: a damaged or
        edited transcript is never appended to.
        """
        path = Path(path)
        report = verify_transcript(path)
        if report.missing:
            raise TranscriptError(f"{path}: cannot resume: {report.problems[0]}")
        serious = [p for p in report.problems if p != report.torn_problem]
        if serious:
            raise TranscriptError(f"{path}: cannot resume a damaged transcript: {serious[0]}")
        if not report.events:
            raise TranscriptError(f"{path}: cannot resume: the transcript has no complete event")
        try:
            fd = os.open(str(path), os.O_RDWR | os.O_APPEND)
        except OSError as error:
            raise TranscriptError(f"{path}: cannot open for append: {error.strerror}") from None
        size = report.good_bytes
        dropped = os.fstat(fd).st_size - size
        if dropped:
            os.ftruncate(fd, size)
            if fsync:
                os.fsync(fd)
        last = report.events[-1]
        writer = cls(
            fd,
            path,
            seq=last["seq"] + 1,
            prev=last["hash"],
            size=size,
            now_utc=now_utc,
            fsync=fsync,
            last_t=last.get("t"),
        )
        writer.dropped_tail = dropped
        writer.recovered = report.events
        return writer

    # writing --------------------------------------------------------------------------------
    @property
    def seq(self) -> int:
        """The seq the next appended line will carry."""
        return self._seq

    @property
    def prev(self) -> str | None:
        """The hash of the last line written (None before the first)."""
        return self._prev

    @property
    def closed(self) -> bool:
        return self._fd is None

    def append(self, type: str, t: float, **fields: Any) -> dict[str, Any]:
        """Write one event durably and return the full record (with seq, wall, prev, hash)."""
        for key in RESERVED:
            if key in fields:
                raise ValueError(f"event field {key!r} is reserved for the transcript")
        with self._lock:
            if self._fd is None:
                raise TranscriptError(f"{self.path}: the transcript is closed")
            record: dict[str, Any] = dict(fields)
            record["seq"] = self._seq
            record["type"] = type
            record["t"] = t
            record["wall"] = format_wall(self._now_utc())
            record["prev"] = self._prev
            try:
                body = canonical(record)
            except (TypeError, ValueError) as error:
                raise ValueError(f"event {type!r} is not JSON data: {error}") from None
            digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
            record["hash"] = digest
            data = (canonical(record) + "\n").encode("utf-8")
            self._write_all(data)
            self._seq += 1
            self._prev = digest
            self._size += len(data)
            self.last_t = t
            return record

    def _write_all(self, data: bytes) -> None:
        fd = self._fd
        assert fd is not None
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
            if self._fsync:
                os.fsync(fd)
        except OSError as error:
            # leave no partial line behind: cut the file back to the last good line
            try:
                os.ftruncate(fd, self._size)
                if self._fsync:
                    os.fsync(fd)
            except OSError:
                pass
            reason = "disk full" if error.errno == errno.ENOSPC else error.strerror
            raise TranscriptError(f"{self.path}: cannot write the transcript: {reason}") from None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> TranscriptWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            if self._fd is not None:
                os.close(self._fd)
        except Exception:
            pass


# --- reading -------------------------------------------------------------------------------


@dataclass
class TranscriptRead:
    """What was read from a transcript: the good events and a clear account of any damage.

    `events` holds the events up to the first damage (what `verify` vouches for); `records`
    every line that parsed as a JSON object, whatever the damage around it (what a scorer
    recovers), and `unreadable` the lines that did not, as (line, what is wrong).
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    torn_tail: bool = False
    first_bad_seq: int | None = None
    first_bad_line: int | None = None
    lines: int = 0
    good_bytes: int = 0
    """Bytes from the start of the file up to the end of the last complete, good line."""
    torn_problem: str | None = None
    missing: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    last_line: int = 0
    """The number of the last line that is not blank (0 for none)."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.torn_tail

    @property
    def only_torn_tail(self) -> bool:
        """Damaged only by an incomplete last line (what a crash mid-write leaves)."""
        return self.torn_tail and self.problems == [self.torn_problem]

    def summary(self) -> str:
        if self.ok:
            return f"intact: {len(self.events)} events"
        return self.problems[0]

    def _bad(self, line: int, seq: int | None, message: str) -> None:
        self.problems.append(message)
        if self.first_bad_line is None:
            self.first_bad_line = line
            self.first_bad_seq = seq


def _split(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (without their newline) and the incomplete tail after the last newline."""
    end = data.rfind(b"\n")
    if end < 0:
        return [], data
    return data[:end].split(b"\n"), data[end + 1 :]


def _read_bytes(path: Path, report: TranscriptRead) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        report.missing = True
        report._bad(0, None, f"{path}: no such transcript")
    except IsADirectoryError:
        report.missing = True
        report._bad(0, None, f"{path}: is a directory, not a transcript")
    except OSError as error:
        report.missing = True
        report._bad(0, None, f"{path}: cannot read: {error.strerror}")
    return None


def _parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str, str]:
    """A line's JSON object, or what is wrong with it: as the verifier says it, and as the
    reader says it (with the parser's detail).

    orjson parses (2-3x faster); the standard library takes what orjson refuses (NaN, integers
    beyond 64 bits) and gives the precise message.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, "is not valid UTF-8", "not valid UTF-8"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            return None, "is not valid JSON", f"not valid JSON ({error.msg} at column {error.colno})"
        except (ValueError, RecursionError):
            return None, "is not valid JSON", "not valid JSON (nested too deeply, or a number too long)"
    if not isinstance(value, dict):
        return None, "is not a JSON object", f"expected a JSON object, received {type(value).__name__}"
    return value, "", ""


def _seq_of(record: dict[str, Any] | None) -> int | None:
    if record is None:
        return None
    seq = record.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _torn(report: TranscriptRead, line_no: int, tail: bytes, expected_seq: int) -> None:
    report.torn_tail = True
    message = (
        f"line {line_no} (seq {expected_seq}): torn tail: the last line is incomplete "
        f"({len(tail)} bytes, no newline); the {len(report.events)} events before it are intact"
    )
    report.torn_problem = message
    report._bad(line_no, expected_seq, message)


_NOT_PLAIN_NUMBER = re.compile(rb"[:,\[]-?\d+(?:\.\d+)?[eE]|[:,\[]-?0\.0000")
"""A number orjson and the standard library may spell differently (an exponent, a tiny
fraction); matched where a JSON value starts, so the hex digits of a hash never match."""


def _is_canonical(record: dict[str, Any], raw: bytes) -> bool:
    """Whether `raw` is exactly `canonical(record)`: orjson's sorted output first, the standard
    library where the two may differ (so the answer is always the standard library's)."""
    try:
        if orjson.dumps(record, option=orjson.OPT_SORT_KEYS) == raw and not _NOT_PLAIN_NUMBER.search(raw):
            return True
    except TypeError:  # orjson.JSONEncodeError: integers beyond 64 bits
        pass
    try:
        return canonical(record).encode("utf-8") == raw
    except ValueError:  # NaN or Infinity in the line
        return False


def _content_hash(record: dict[str, Any], raw: bytes, is_canonical: bool) -> str | None:
    """The line's hash, computed from its own bytes when they are canonical (one JSON pass less)."""
    stored = record.get("hash")
    if is_canonical and isinstance(stored, str):
        member = b'"hash":' + json.dumps(stored, ensure_ascii=False).encode("utf-8")
        if raw.count(member) == 1:  # the top-level member: remove it and its comma
            body = (
                raw.replace(b"," + member, b"", 1)
                if b"," + member in raw
                else raw.replace(member + b",", b"", 1)
            )
            return hashlib.sha256(body).hexdigest()
    try:
        return line_hash(record)
    except ValueError:
        return None


def _scan(path: str | Path, *, check_chain: bool) -> TranscriptRead:
    """Read a transcript in one pass: parse every line, and check order (and the chain)."""
    path = Path(path)
    report = TranscriptRead()
    data = _read_bytes(path, report)
    if data is None:
        return report
    lines, tail = _split(data)
    report.lines = len(lines) + (1 if tail else 0)
    offset = 0
    expected_seq = 0
    prev_hash: str | None = None
    prev_t: float | None = None
    broken = False  # once the chain breaks, events after it are not trusted
    for index, raw in enumerate(lines):
        line_no = index + 1
        line_end = offset + len(raw) + 1
        offset = line_end
        blank = not raw.strip()
        if not blank:
            report.last_line = line_no
        if not raw.strip(b"\x00 \t\r") and index == len(lines) - 1 and not tail:
            # zero-filled blocks a crash can leave at the end of a file
            if not blank:
                report.unreadable.append((line_no, "not valid JSON (zero bytes)"))
            _torn(report, line_no, raw, expected_seq)
            break
        record, error, detail = _parse_line(raw)
        if record is None:
            if not blank:
                report.unreadable.append((line_no, detail))
            report._bad(line_no, expected_seq, f"line {line_no} (seq {expected_seq}): {error}")
            broken = True
            expected_seq += 1
            prev_hash = None
            continue
        report.records.append(record)
        seq = _seq_of(record)
        missing = [k for k in ("seq", "type", "t") if k not in record]
        if check_chain:
            missing += [k for k in ("wall", "prev", "hash") if k not in record]
        if missing:
            report._bad(
                line_no,
                seq if seq is not None else expected_seq,
                f"line {line_no} (seq {seq if seq is not None else expected_seq}): "
                f"missing {', '.join(missing)}",
            )
            broken = True
            expected_seq = (seq if seq is not None else expected_seq) + 1
            prev_hash = record.get("hash") if isinstance(record.get("hash"), str) else None
            continue
        here = f"line {line_no} (seq {seq if seq is not None else record.get('seq')!r})"
        line_problem = None
        if seq != expected_seq:
            if seq is None:
                line_problem = f"{here}: seq is not a whole number"
            elif seq < expected_seq:
                line_problem = (
                    f"{here}: out of order: expected seq {expected_seq} (a line was moved or repeated)"
                )
            else:
                line_problem = (
                    f"{here}: expected seq {expected_seq}: "
                    f"{seq - expected_seq} line(s) missing before it (deleted?)"
                )
        t = record.get("t")
        if line_problem is None and (not isinstance(t, (int, float)) or isinstance(t, bool)):
            line_problem = f"{here}: t is not a number"
        if check_chain and line_problem is None:
            is_canonical = _is_canonical(record, raw)
            if _content_hash(record, raw, is_canonical) != record.get("hash"):
                line_problem = f"{here}: hash does not match the line's content (edited?)"
            elif not is_canonical:
                line_problem = f"{here}: not written in canonical form (edited?)"
            elif record.get("prev") != prev_hash:
                line_problem = (
                    f"{here}: prev does not match the hash of the line before it "
                    "(a line was removed, inserted or reordered)"
                )
            elif index == 0 and record.get("type") != "session_started":
                line_problem = (
                    f"{here}: the first event is {record.get('type')!r}, expected 'session_started'"
                )
        if line_problem is None and prev_t is not None and isinstance(t, (int, float)) and t < prev_t:
            line_problem = f"{here}: t goes back from {prev_t:g} to {t:g}"
        if line_problem is not None:
            report._bad(line_no, seq if seq is not None else expected_seq, line_problem)
            broken = True
        elif not broken:
            report.events.append(record)
            report.good_bytes = line_end
        expected_seq = (seq if seq is not None else expected_seq) + 1
        prev_hash = record.get("hash") if isinstance(record.get("hash"), str) else None
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            prev_t = t
    if tail:
        line_no = len(lines) + 1
        if tail.strip():
            report.last_line = line_no
            # a line cut short is never an event the chain vouches for; a reader may still use it
            record, _, detail = _parse_line(tail)
            if record is None:
                report.unreadable.append((line_no, detail))
            else:
                report.records.append(record)
        _torn(report, line_no, tail, expected_seq)
    if not lines and not tail and not report.missing:
        report._bad(0, None, f"{path}: the transcript is empty")
    return report


def default_transcript_path(
    scenario_id: str, seed: int, folder: Path | None = None, moment: datetime | None = None
) -> Path:
    """`transcripts/<scenario>-<YYYYmmdd-HHMMSS>-<seed>.jsonl` under the working folder, never an existing file.

    `moment` defaults to the wall clock: naming a file is the caller's edge, not the engine's.
    """
    folder = folder if folder is not None else Path("transcripts")
    stamp = (moment or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    path = folder / f"{scenario_id}-{stamp}-{seed}.jsonl"
    n = 2
    while path.exists():
        path = folder / f"{scenario_id}-{stamp}-{seed}-{n}.jsonl"
        n += 1
    return path


def read_transcript(path: str | Path) -> TranscriptRead:
    """Read a transcript's events; never raises on bad content.

    Checks JSON, seq order and sim-time order (not the hash chain: see `verify_transcript`).
    `events` holds every good line up to the first damaged one; a torn last line (a crash
    mid-write) is reported with `torn_tail` and everything before it is recovered.
    """
    return _scan(path, check_chain=False)


def verify_transcript(path: str | Path) -> TranscriptRead:
    """Read a transcript and check its hash chain, canonical form, seq order and JSON.

    `ok` is true only for an intact transcript; otherwise `first_bad_seq` and
    `first_bad_line` point at the first damage (an edit, a reordering, a deletion, a torn tail).
    """
    return _scan(path, check_chain=True)


# --- a run, for scoring and review ---------------------------------------------------------


@dataclass(frozen=True)
class TranscriptRun:
    """A transcript read once for scoring or review: its embedded scenario, every readable
    event, what looked off, and the verifier's verdict on the same bytes."""

    path: Path
    scenario: Scenario
    events: list[dict[str, Any]]
    warnings: tuple[str, ...]
    verdict: TranscriptRead

    @property
    def started(self) -> dict[str, Any]:
        return self.events[0]


def read_run(path: str | Path) -> TranscriptRun:
    """Read a transcript in one pass: verify its chain (the verdict) and recover its events.

    Every line that is a JSON object is an event of the run, so a damaged transcript is still
    scored and shown (with its verdict); a torn last line (a crash mid-write) is skipped with a
    warning. Any other unreadable line, or a missing or invalid embedded scenario, raises
    TranscriptError naming the file and line.
    """
    path = Path(path)
    verdict = _scan(path, check_chain=True)
    if verdict.missing:
        raise TranscriptError(
            f"{path}: cannot read the transcript ({verdict.problems[0].split(': ', 1)[-1]})"
        )
    warnings: list[str] = []
    events = verdict.records
    for number, problem in verdict.unreadable:
        if number == verdict.last_line and events and number == verdict.unreadable[-1][0]:
            warnings.append(f"{path}:{number}: torn last line skipped (the run was interrupted mid-write)")
            continue
        raise TranscriptError(f"{path}:{number}: {problem}")
    if not events:
        raise TranscriptError(f"{path}: empty transcript (expected a session_started line first)")
    started = events[0]
    if started.get("type") != "session_started":
        raise TranscriptError(
            f"{path}:1: expected type 'session_started' on the first line, received {started.get('type')!r}"
        )
    embedded = started.get("scenario")
    if not isinstance(embedded, dict):
        raise TranscriptError(
            f"{path}:1: key 'scenario': expected the resolved scenario embedded as an object"
        )
    try:
        scenario = embedded_scenario(embedded)
    except ValidationError as error:  # report the first problem plainly
        first_error = error.errors()
        if first_error:
            where = ".".join(str(p) for p in first_error[0].get("loc", ()))
            message = first_error[0].get("msg", str(error))
            raise TranscriptError(f"{path}:1: key 'scenario.{where}': {message}") from None
        raise TranscriptError(f"{path}:1: key 'scenario': {error}") from None
    except (TypeError, ValueError) as error:
        raise TranscriptError(f"{path}:1: key 'scenario': {error}") from None
    warnings.extend(_scenario_drift(path, started))
    return TranscriptRun(
        path=path, scenario=scenario, events=events, warnings=tuple(warnings), verdict=verdict
    )


_EMBEDDED: list[tuple[str, dict[str, Any], Scenario]] = []
_EMBEDDED_KEEP = 8
_SEEN: set[str] = set()


def embedded_scenario(data: dict[str, Any]) -> Scenario:
    """The Scenario for an embedded scenario's JSON, validated once per distinct content.

    Many transcripts of one scenario and seed embed equal JSON: a cached Scenario is reused only
    when the data compares equal to a private copy of what it was validated from (a cheap
    fingerprint of id, seed and values first, so a different scenario costs no deep compare).
    """
    fingerprint = repr((data.get("id"), data.get("seed"), data.get("values"), len(data.get("injects") or ())))
    for index, (known_print, known, scenario) in enumerate(_EMBEDDED):
        if known_print == fingerprint and known == data:
            if index:
                _EMBEDDED.insert(0, _EMBEDDED.pop(index))
            return scenario
    scenario = Scenario.model_validate(data)
    if fingerprint not in _SEEN:  # cache from the second sighting on: distinct runs never pay for the copy
        if len(_SEEN) > 1024:
            _SEEN.clear()
        _SEEN.add(fingerprint)
        return scenario
    copy = pickle.loads(pickle.dumps(data, pickle.HIGHEST_PROTOCOL))
    _EMBEDDED.insert(0, (fingerprint, copy, scenario))
    del _EMBEDDED[_EMBEDDED_KEEP:]
    return scenario


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def _remembered_sha256(path: Path) -> str | None:
    """`file_sha256`, remembered by (path, mtime, size) so a folder run reads a scenario file
    once; None when the file cannot be read."""
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        digest = _FILE_HASHES.get(key)
        if digest is None:
            digest = file_sha256(path)
            if len(_FILE_HASHES) > 256:
                _FILE_HASHES.clear()
            _FILE_HASHES[key] = digest
    except OSError:
        return None
    return digest


def _scenario_drift(path: Path, started: dict[str, Any]) -> list[str]:
    """A warning when the scenario file on disk no longer matches the one the run used."""
    recorded = started.get("scenario_sha256")
    source = started.get("scenario_path")
    if not recorded or not source:
        return []
    candidate = Path(source)
    candidates = [candidate] if candidate.is_absolute() else [candidate, path.parent / candidate]
    for option in candidates:
        digest = _remembered_sha256(option)
        if digest is None:
            continue
        if digest != recorded:
            return [f"scenario file {source} has changed since this run; scored with the embedded copy"]
        return []
    return []
