"""Evidence-grade transcripts: an append-only, fsync'd, hash-chained and signed JSONL file, its reader and verifier.

Each line is one JSON object with `seq`, `type`, `t`, `wall`, `prev` and `hash` beside the
event's own fields. `hash` is the SHA-256 of the line's canonical JSON without `hash`
(`json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`), and `prev` is the
previous line's hash, so any edit, reordering or deletion breaks the chain. A line is written
in one `write`, then fsync'd, before `append` returns: whatever `append` returned is on disk.

A hash chain alone proves nothing (anyone can recompute it), so the writer also signs: after
`session_started`, every `decision`, a `clock` checkpoint, `session_ended`, every
`hotwash_answer` and `hotwash_closed` it appends a `signature` line, the Ed25519 signature
(`tabletop.keys`) of the hash of the line before it, and `append` returns only once that
signature is on disk. A decision is therefore acknowledged only when it is signed, and a crash
leaves at most an unsigned tail of non-decision events (or one decision never acknowledged).
The writer adds to `session_started` the signing key (`signing_key`: key and name) and
`scenario_json_sha256`, the SHA-256 of the embedded scenario's canonical JSON (the same
canonical form as the lines), so that a swapped scenario is found; it adds `signed_through`
(the seq of the last signature line, or null) to `session_resumed`.

The event grammar (the README's "The transcript: its events and their order"):

    transcript   = session_started  run  [ ending ]
    run          = { event | interruption }
    event        = inject_released | decision signature | delegation | note | marker_set
                 | clock | facilitator | signature
    interruption = [ session_interrupted ]  session_resumed
    ending       = session_ended  signature  [ hotwash ]
    hotwash      = { hotwash_answer signature }  [ hotwash_closed signature ]

A file may stop anywhere (a crash): `verify_evidence` accepts any prefix of the grammar and
reports the unsigned tail. A decision whose signature is missing because the run crashed
right after writing it is reported as never acknowledged. A transcript with no signature at
all (written before signing existed) verifies as "unsigned": its chain, grammar and content
are still checked. `verify_evidence` also checks that `t` is a finite number >= 0 that never
decreases, that `decision`, `delegation`, `note` and `hotwash_answer` name a role of the
scenario and a `decision` or `delegation` an action of its embedded catalog, and that the
embedded scenario matches `scenario_json_sha256`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from tabletop.files import MAX_INPUT_BYTES, file_sha256
from tabletop.model import SCENARIOS_KEPT, Scenario
from tabletop.problems import show

RESERVED = ("seq", "type", "t", "wall", "prev", "hash")
"""Keys every line carries; an event's own fields may not use them."""

FILE_MODE = 0o600

SIGNED_TYPES = frozenset({"session_started", "decision", "session_ended", "hotwash_answer", "hotwash_closed"})
"""Events the writer signs as soon as they are written (and `clock` with op checkpoint)."""

MUST_BE_SIGNED = frozenset({"decision", "session_ended", "hotwash_answer", "hotwash_closed"})
"""Events the grammar requires a signature line right after (in a signed transcript)."""

SESSION_KEY: Any = object()
"""`signer=SESSION_KEY` (the default): sign with `tabletop.keys.session_signer()`."""


class TranscriptError(ValueError):
    """A transcript that cannot be read, written or continued; the message names the file (and
    line) and says why."""


def _signer(signer: Any) -> Any:
    if signer is SESSION_KEY:
        from tabletop.keys import KeyFileError, session_signer

        try:
            return session_signer()
        except KeyFileError as error:
            raise TranscriptError(f"cannot sign the transcript: {error}") from None
    return signer


def scenario_json_sha256(scenario: Any) -> str:
    """SHA-256 (hex) of an embedded scenario's canonical JSON (see `canonical`)."""
    return hashlib.sha256(canonical(scenario).encode("utf-8")).hexdigest()


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
        signer: Any = None,
        signed_through: int | None = None,
    ) -> None:
        self._fd: int | None = fd
        self.signer = signer
        """The `tabletop.keys.Signer` that signs (None: an unsigned transcript, for benchmarks)."""
        self.signed_through = signed_through
        """The seq of the last signature line written (None before the first)."""
        self.last_signature: dict[str, Any] | None = None
        """The last signature line this writer wrote."""
        self.path = Path(path)
        self._seq = seq
        self._prev = prev
        self._size = size
        self._now_utc = now_utc
        self._fsync = fsync
        self._lock = threading.RLock()
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
        signer: Any = SESSION_KEY,
    ) -> TranscriptWriter:
        """Create a new transcript at `path` (parents created); an existing file is an error.

        `signer` signs it (default: the user's key, made on first use; None: unsigned).
        """
        path = Path(path)
        signer = _signer(signer)
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
        return cls(fd, path, now_utc=now_utc, fsync=fsync, signer=signer)

    @classmethod
    def reopen(
        cls,
        path: str | Path,
        *,
        now_utc: Callable[[], datetime] = utc_now,
        fsync: bool = True,
        signer: Any = SESSION_KEY,
    ) -> TranscriptWriter:
        """Continue an existing transcript: verify it, cut a torn last line, append after it.

        Raises TranscriptError if the chain is broken anywhere but a torn tail: a damaged or
        edited transcript is never appended to.
        """
        path = Path(path)
        signer = _signer(signer)
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
            signer=signer,
            signed_through=max(
                (e["seq"] for e in report.events if e.get("type") == "signature"), default=None
            ),
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
        """Write one event durably and return the full record (with seq, wall, prev, hash).

        An event the grammar wants signed (a decision, the end, a hot-wash answer, ...) is
        followed by its `signature` line before this returns (with a signer).
        """
        for key in RESERVED:
            if key in fields:
                raise ValueError(f"event field {key!r} is reserved for the transcript")
        with self._lock:
            if type == "session_started":
                if self.signer is not None and "signing_key" not in fields:
                    fields["signing_key"] = {"key": self.signer.public.text, "name": self.signer.name}
                if isinstance(fields.get("scenario"), dict) and "scenario_json_sha256" not in fields:
                    fields["scenario_json_sha256"] = scenario_json_sha256(fields["scenario"])
            elif type == "session_resumed" and "signed_through" not in fields:
                fields["signed_through"] = self.signed_through
            signed = self.signer is not None and (
                type in SIGNED_TYPES or (type == "clock" and fields.get("op") == "checkpoint")
            )
            # one fsync for the event and its signature: neither is acknowledged before both are
            record = self._append(type, t, fields, sync=not signed)
            if signed:
                self._sign(record)
            return record

    def sign(self) -> dict[str, Any] | None:
        """Sign the chain head now (a checkpoint); None without a signer or before any line."""
        with self._lock:
            if self.signer is None or self._prev is None:
                return None
            return self._sign({"seq": self._seq - 1, "t": self.last_t or 0})

    def _sign(self, record: dict[str, Any]) -> dict[str, Any]:
        head = self._prev
        assert head is not None and self.signer is not None
        signature = self._append(
            "signature",
            record.get("t") or 0,
            {
                "key": self.signer.public.text,
                "signer": self.signer.name,
                "signs": record["seq"],
                "sig": self.signer.sign(head),
            },
        )
        self.signed_through = signature["seq"]
        self.last_signature = signature
        return signature

    def _append(self, type: str, t: float, fields: dict[str, Any], *, sync: bool = True) -> dict[str, Any]:
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
        self._write_all(data, sync=sync)
        self._seq += 1
        self._prev = digest
        self._size += len(data)
        self.last_t = t
        return record

    def _write_all(self, data: bytes, *, sync: bool = True) -> None:
        fd = self._fd
        assert fd is not None
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
            if self._fsync and sync:
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
    scenario_digest: tuple[dict[str, Any], str] | None = field(default=None, repr=False, compare=False)
    """Line 1's embedded scenario and its `scenario_json_sha256`, computed by the quick path from
    orjson's text of it (the standard library's, checked; None when it was not computed)."""
    data: bytes = field(default=b"", repr=False, compare=False)
    """The bytes that were read (empty when the file could not be read)."""
    chain_checked: bool = False
    """Whether the hash chain and canonical form were checked (`verify_transcript`), not only
    JSON and order (`read_transcript`)."""
    quick: bool = field(default=False, repr=False, compare=False)
    """Read by the quick path: every line a JSON object orjson parsed, in order (no NaN)."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.torn_tail

    @property
    def only_torn_tail(self) -> bool:
        """Damaged only by an incomplete last line (what a crash mid-write leaves)."""
        return self.torn_tail and self.problems == [self.torn_problem]

    def file_sha256(self) -> str:
        """SHA-256 (hex) of the file as it was read: the bytes these events came from."""
        return hashlib.sha256(self.data).hexdigest()

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
    """The file's bytes if it is a regular file within `MAX_TRANSCRIPT_BYTES` (never a FIFO or a device)."""
    from tabletop.files import MAX_TRANSCRIPT_BYTES, open_regular

    try:
        with open_regular(path, limit=MAX_TRANSCRIPT_BYTES, what="transcript") as handle:
            # read the size the file has (asking for 512 MB at once allocates them first), and
            # whatever was appended since, up to the limit as before
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(size + 1)
            if len(data) > size:
                data += handle.read(MAX_TRANSCRIPT_BYTES + 1 - len(data))
            return data
    except OSError as error:
        report.missing = True
        report._bad(0, None, f"{path}: {error}")
    return None


def _parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str, str]:
    """A line's JSON object, or what is wrong with it: as the verifier says it, and as the
    reader says it (with the parser's detail).

    orjson parses (2-3x faster); the standard library takes what orjson refuses (NaN) and gives
    the precise message.
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
fraction); matched where a JSON value starts, so the hex digits of a hash never match. The
precise guard, used when the quick one (`_may_differ`) cannot be trusted with this orjson."""


_EXPONENT = re.compile(rb"e[-+](?<=[0-9]e[-+])")
"""An exponent: `e-` or `e+` with a digit before it (the literal first, so the search is quick)."""

_NUMBER_START = frozenset(b":,[")
"""What comes before a number in JSON text: a member's colon, an element's comma, a bracket."""


def _in_a_number(raw: bytes, at: int) -> bool:
    """Whether the digits and dots ending at `at` start a JSON number: after them (going back)
    an optional minus, then a colon, a comma or a bracket. Base64 (`...2e+3P...`) and text
    (`page 10.0000`) have a letter or a space there instead."""
    while at >= 0 and (0x30 <= raw[at] <= 0x39 or raw[at] == 0x2E):
        at -= 1
    if at >= 0 and raw[at] == 0x2D:
        at -= 1
    return at >= 0 and raw[at] in _NUMBER_START


def _quick_may_differ(raw: bytes) -> bool:
    """Whether `raw`, known to be orjson's own output, may hold a number the standard library
    spells otherwise. They differ only on an exponent (orjson always writes its sign: `1e-7`,
    `1e+16`) or a fraction below 1e-4 (`0.00001`, where the standard library writes `1e-05`).
    Both searches start from a literal, so a file is scanned at memory speed; a hash's hex digits
    never hold a sign or a dot, and each rare hit is kept only when it is in a number."""
    at = raw.find(b".0000")
    while at >= 0:
        if _in_a_number(raw, at):
            return True
        at = raw.find(b".0000", at + 5)
    return any(_in_a_number(raw, match.start() - 1) for match in _EXPONENT.finditer(raw))


def _precise_may_differ(raw: bytes) -> bool:
    return _NOT_PLAIN_NUMBER.search(raw) is not None


def _quick_guard_holds() -> bool:
    """The quick guard relies on how this orjson spells numbers: check it on numbers that both
    spell differently (every kind the two libraries disagree on) before trusting it."""
    probes = (
        1e-05,
        1.234e-05,
        2.5e-05,
        1e-06,
        1e-07,
        5e-324,
        1e16,
        1.5e16,
        1e22,
        1.5e300,
        1.7976931348623157e308,
    )
    for number in probes:
        fast = orjson.dumps(number)
        if fast != json.dumps(number).encode("ascii") and not _quick_may_differ(b"[" + fast + b"]"):
            return False
    return True


_may_differ = _quick_may_differ if _quick_guard_holds() else _precise_may_differ


def _canonical_digest(
    record: dict[str, Any], raw: bytes, guard: bool = True
) -> tuple[bool, str | None, bool]:
    """Whether `raw` is exactly `canonical(record)`, the line's hash (`line_hash(record)`; None
    when the record is not JSON data), and whether orjson wrote the line as `canonical` would.

    The answer is always the standard library's: orjson's sorted output is compared first, and
    when it equals the line and no number in it may be spelled otherwise (`_may_differ`), the
    line is canonical and the hash is taken from its own bytes, its top-level `hash` member
    removed. Anything else takes the standard library's path. `guard=False` skips the number
    guard for a line already known to hold no such number (the whole file was searched at once).
    """
    try:
        fast = orjson.dumps(record, option=orjson.OPT_SORT_KEYS) == raw and not (guard and _may_differ(raw))
    except TypeError:  # orjson.JSONEncodeError: integers beyond 64 bits
        fast = False
    if fast:
        stored = record.get("hash")
        if type(stored) is str and stored.isascii() and stored.isalnum():  # written as is
            member = b'"hash":"' + stored.encode("ascii") + b'"'
            at = raw.find(member)
            after = at + len(member)
            if at > 0 and raw.find(member, after) < 0:  # the one top-level member (keys are unique)
                if raw[at - 1] == 0x2C:  # `,"hash":"..."`
                    body = raw[: at - 1] + raw[after:]
                elif raw[after] == 0x2C:  # `{"hash":"...",` (the first key)
                    body = raw[:at] + raw[after + 1 :]
                else:  # `{"hash":"..."}`
                    body = raw[:at] + raw[after:]
                return True, hashlib.sha256(body).hexdigest(), True
    try:
        is_canonical = fast or canonical(record).encode("utf-8") == raw
    except ValueError:  # NaN or Infinity, or text that is not UTF-8
        is_canonical = False
    try:
        return is_canonical, line_hash(record), fast
    except ValueError:
        return is_canonical, None, fast


_LONG_NUMBER = re.compile(rb"[0-9]{20}")
"""Twenty digits in a row: perhaps an integer beyond 64 bits, which orjson reads as a float."""


def _exactly(raw: bytes, record: dict[str, Any]) -> dict[str, Any]:
    """The line read by the standard library when it may hold an integer beyond 64 bits (orjson
    reads one as a float, so its record is not what was written); else `record`."""
    if _LONG_NUMBER.search(raw) is None:
        return record
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return record
    return value if type(value) is dict else record


def _here(line_no: int, seq: int | None, record: dict[str, Any]) -> str:
    return f"line {line_no} (seq {seq if seq is not None else record.get('seq')!r})"


_PLAIN_SCENARIOS: set[str] = set()
"""SHA-256 of embedded scenarios' orjson text known to hold no number the standard library spells
otherwise (see `_may_differ`)."""


def _plain_digest(scenario: dict[str, Any]) -> str | None:
    """`scenario_json_sha256` of a scenario orjson parsed, from orjson's own text: None when that
    text holds a number the standard library spells otherwise (the caller goes the careful way).
    The number guard runs once per content."""
    text = orjson.dumps(scenario, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(text).hexdigest()
    if digest not in _PLAIN_SCENARIOS:
        if _may_differ(text):
            return None
        if len(_PLAIN_SCENARIOS) > 4096:
            _PLAIN_SCENARIOS.clear()
        _PLAIN_SCENARIOS.add(digest)
    return digest


def _scan_plain(data: bytes, report: TranscriptRead) -> bool:
    """`_scan` without the chain check for the usual file, in a tight loop: every line a JSON
    object orjson parses, with `seq` in order, a `type`, and a `t` that never goes back, ending
    with a newline. Fills `report` and returns True for such a file; returns False at the first
    line that is anything else (nothing filled), and `_scan` reads it again line by line."""
    if not data.endswith(b"\n"):
        return False
    lines = data[:-1].split(b"\n")
    records: list[dict[str, Any]] = []
    append = records.append
    loads = orjson.loads
    last_t: float = 0.0
    for seq, raw in enumerate(lines):
        try:
            record = loads(raw)
        except orjson.JSONDecodeError:
            return False
        if type(record) is not dict:
            return False
        number = record.get("seq")
        t = record.get("t")
        if (
            type(number) is not int  # never a boolean (`true == 1`) nor `1.0`
            or number != seq
            or (type(t) is not float and type(t) is not int)
            or (seq and t < last_t)
            or "type" not in record
        ):
            return False
        append(record)
        last_t = t
    scenario = records[0].get("scenario")
    if type(scenario) is dict:
        digest = _plain_digest(scenario)
        if digest is not None:
            report.scenario_digest = (scenario, digest)
    report.records = records
    report.events = list(records)
    report.lines = report.last_line = len(lines)
    report.good_bytes = len(data)
    return True


def _scan_intact(data: bytes, report: TranscriptRead) -> bool:
    """The chain check of `_scan` for the usual file, in a tight loop: every line a canonical
    JSON object written by orjson as the standard library would, in seq order, hash and prev
    chained, time never going back, ending with a newline. Fills `report` and returns True
    for such a file; returns False at the first line that is anything else (nothing filled),
    and `_scan` reads the file again line by line to say what is wrong where.
    """
    if not data.endswith(b"\n") or _may_differ(data[data.find(b"\n") :]):  # line 1 comes below
        return False
    lines = data[:-1].split(b"\n")
    records: list[dict[str, Any]] = []
    append = records.append
    loads = orjson.loads
    dumps = orjson.dumps
    sort_keys = orjson.OPT_SORT_KEYS
    sha256 = hashlib.sha256
    prev: str | None = None
    last_t: float = 0.0
    for seq, raw in enumerate(lines):
        try:
            record = loads(raw)
            if type(record) is not dict or dumps(record, option=sort_keys) != raw:
                return False
        except orjson.JSONDecodeError:
            return False
        t = record.get("t")
        stored = record.get("hash")
        if (
            type(record.get("seq")) is not int  # never a boolean (`true == 1`) nor `1.0`
            or record["seq"] != seq
            or (type(t) is not float and type(t) is not int)
            or (seq and t < last_t)
            or record.get("prev", 0) != prev
            or "type" not in record
            or "wall" not in record
            or type(stored) is not str
            or len(stored) != 64
        ):
            return False
        # the line without its top-level `hash` member is what was hashed; the member is found
        # exactly once as written (the canonical text is orjson's own here, so a hash needing an
        # escape is not found as is, and the line goes the careful way)
        parts = raw.split(b'"hash":"' + stored.encode() + b'"')
        if len(parts) != 2:
            return False
        before, after = parts
        if before[-1] == 0x2C:  # `,"hash":"..."`
            hashed = sha256(before[:-1])
            hashed.update(after)
        elif after[0] == 0x2C:  # `{"hash":"...",` (the first key)
            hashed = sha256(before)
            hashed.update(after[1:])
        else:  # `{"hash":"..."}`
            hashed = sha256(before)
            hashed.update(after)
        if hashed.hexdigest() != stored:
            return False
        append(record)
        prev = stored
        last_t = t
    started = records[0]
    if started["type"] != "session_started":
        return False
    scenario = started.get("scenario")
    if type(scenario) is dict:
        # line 1 is orjson's canonical text, so the embedded scenario's is orjson's too; the
        # number guard covers the line without the scenario, and the scenario's text once per
        # content (most of the file, the same in every run of a scenario)
        digest = _plain_digest(scenario)
        if digest is None:
            return False
        if _may_differ(dumps({k: v for k, v in started.items() if k != "scenario"}, option=sort_keys)):
            return False
        report.scenario_digest = (scenario, digest)
    elif _may_differ(lines[0]):
        return False
    report.records = records
    report.events = list(records)
    report.lines = report.last_line = len(lines)
    report.good_bytes = len(data)
    return True


def _scan(path: str | Path, *, check_chain: bool) -> TranscriptRead:
    """Read a transcript in one pass: parse every line, and check order (and the chain).

    Written for speed (a review opens thousands): the usual line takes orjson's path
    throughout (`_canonical_digest`) and the messages are only built for a line that fails.
    """
    path = Path(path)
    report = TranscriptRead()
    data = _read_bytes(path, report)
    if data is None:
        return report
    report.data = data
    report.chain_checked = check_chain
    if _scan_intact(data, report) if check_chain else _scan_plain(data, report):
        report.quick = True
        return report
    lines, tail = _split(data)
    report.lines = len(lines) + (1 if tail else 0)
    records = report.records
    events = report.events
    guard = check_chain and _may_differ(data)  # one search of the file, not one per line
    last_index = len(lines) - 1
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
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
        if index == last_index and not tail and not raw.strip(b"\x00 \t\r"):
            # zero-filled blocks a crash can leave at the end of a file
            if not blank:
                report.unreadable.append((line_no, "not valid JSON (zero bytes)"))
            _torn(report, line_no, raw, expected_seq)
            break
        try:
            record = loads(raw)
        except decode_error:
            record = None
        if type(record) is not dict:
            record, error, detail = _parse_line(raw)
            if record is None:
                if not blank:
                    report.unreadable.append((line_no, detail))
                report._bad(line_no, expected_seq, f"line {line_no} (seq {expected_seq}): {error}")
                broken = True
                expected_seq += 1
                prev_hash = None
                continue
        records.append(record)
        seq = record.get("seq")
        if type(seq) is not int:  # a whole number, never a boolean
            seq = None
        if not (
            "seq" in record
            and "type" in record
            and "t" in record
            and (not check_chain or ("wall" in record and "prev" in record and "hash" in record))
        ):
            missing = [k for k in ("seq", "type", "t") if k not in record]
            if check_chain:
                missing += [k for k in ("wall", "prev", "hash") if k not in record]
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
        t = record["t"]
        number = type(t) is float or type(t) is int  # never a boolean
        line_problem = None
        if seq != expected_seq:
            here = _here(line_no, seq, record)
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
        elif not number:
            line_problem = f"{_here(line_no, seq, record)}: t is not a number"
        elif check_chain:
            is_canonical, digest, fast = _canonical_digest(record, raw, guard)
            if digest != record["hash"] or not is_canonical:
                exact = _exactly(raw, record)
                if exact is not record:
                    record = records[-1] = exact
                    is_canonical, digest, fast = _canonical_digest(record, raw, guard)
            if digest != record["hash"]:
                line_problem = (
                    f"{_here(line_no, seq, record)}: hash does not match the line's content (edited?)"
                )
            elif not is_canonical:
                line_problem = f"{_here(line_no, seq, record)}: not written in canonical form (edited?)"
            elif record["prev"] != prev_hash:
                line_problem = (
                    f"{_here(line_no, seq, record)}: prev does not match the hash of the line before it "
                    "(a line was removed, inserted or reordered)"
                )
            elif index == 0 and record["type"] != "session_started":
                line_problem = (
                    f"{_here(line_no, seq, record)}: the first event is {record['type']!r}, "
                    "expected 'session_started'"
                )
            elif index == 0 and fast and type(record.get("scenario")) is dict:
                # the line is orjson's canonical text, so the embedded scenario's is orjson's too
                scenario = record["scenario"]
                report.scenario_digest = (
                    scenario,
                    hashlib.sha256(orjson.dumps(scenario, option=orjson.OPT_SORT_KEYS)).hexdigest(),
                )
        if line_problem is None and number and prev_t is not None and t < prev_t:
            line_problem = f"{_here(line_no, seq, record)}: t goes back from {prev_t:g} to {t:g}"
        if line_problem is not None:
            report._bad(line_no, seq if seq is not None else expected_seq, line_problem)
            broken = True
        elif not broken:
            events.append(record)
            report.good_bytes = line_end
        expected_seq = (seq if seq is not None else expected_seq) + 1
        stored = record.get("hash")
        prev_hash = stored if isinstance(stored, str) else None
        if number:
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
    event, what looked off, and the verifier's verdict on the same bytes (see `read_run`)."""

    path: Path
    scenario: Scenario
    events: list[dict[str, Any]]
    warnings: tuple[str, ...]
    verdict: TranscriptRead

    @property
    def started(self) -> dict[str, Any]:
        return self.events[0]


def read_run(path: str | Path, *, verify: bool = True) -> TranscriptRun:
    """Read a transcript in one pass: verify its chain (the verdict) and recover its events.

    Every line that is a JSON object is an event of the run, so a damaged transcript is still
    scored and shown (with its verdict); a torn last line (a crash mid-write) is skipped with a
    warning. Any other unreadable line, or a missing or invalid embedded scenario, raises
    TranscriptError naming the file and line.

    `verify=False` reads the same events without checking the hash chain, for a caller that
    does not use the verdict (scoring alone): the verdict then covers JSON and order only
    (`chain_checked` is false, and `verify_evidence` reads such a file again).
    """
    path = Path(path)
    verdict = _scan(path, check_chain=verify)
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
    # a good read has a number for every t (never NaN: canonical, or parsed by orjson), never
    # going back: its first and last bound them all
    bounded = (
        verdict.ok
        and (verdict.chain_checked or verdict.quick)
        and events[0]["t"] >= 0
        and events[-1]["t"] <= MAX_T
    )
    for number, event in enumerate(() if bounded else events, start=1):
        t = event.get("t", 0)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0 <= t <= MAX_T):
            raise TranscriptError(
                f"{path}:{number}: key 't': expected the sim time as a finite number of seconds, at least 0, "
                f"received {show(t)}"
            )
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
    known = verdict.scenario_digest  # computed from line 1's bytes while its hash was checked
    try:
        scenario = embedded_scenario(
            embedded, known[1] if known is not None and known[0] is embedded else None
        )
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


_EMBEDDED: OrderedDict[str, Scenario] = OrderedDict()
_EMBEDDED_KEEP = SCENARIOS_KEPT


def embedded_scenario(data: dict[str, Any], digest: str | None = None) -> Scenario:
    """The Scenario for an embedded scenario's JSON, validated once per distinct content.

    The cache is keyed by the SHA-256 of the scenario's canonical JSON (`scenario_json_sha256`):
    equal keys mean equal JSON, so a Scenario validated once is reused for every transcript that
    embeds the same scenario, whatever dict it arrives in. `digest` is that SHA-256 when the
    caller has it already (the read path takes it from line 1's own bytes); without it, it is
    computed here. Data that is not JSON (NaN, say) is validated every time and never cached.
    """
    if digest is None:
        try:
            digest = scenario_json_sha256(data)
        except (TypeError, ValueError):
            return Scenario.model_validate(data)
    scenario = _EMBEDDED.get(digest)
    if scenario is not None:
        _EMBEDDED.move_to_end(digest)
        return scenario
    scenario = Scenario.model_validate(data)
    _EMBEDDED[digest] = scenario
    if len(_EMBEDDED) > _EMBEDDED_KEEP:
        _EMBEDDED.popitem(last=False)
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
            digest = file_sha256(path, limit=MAX_INPUT_BYTES)  # never /dev/zero, a FIFO or 50 MB
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


# --- evidence: grammar, content and signatures -----------------------------------------------

VERIFIED, UNSIGNED, UNTRUSTED, SAMPLE, FORGED, INVALID, UNREADABLE = (
    "verified",
    "unsigned",
    "untrusted",
    "sample",
    "forged",
    "invalid",
    "unreadable",
)
EXIT_CODES = {VERIFIED: 0, FORGED: 1, INVALID: 1, UNREADABLE: 1, UNSIGNED: 3, UNTRUSTED: 4, SAMPLE: 5}
"""`tabletop verify` exit codes (the README lists them); a torn last line alone exits 1 too."""

KNOWN_TYPES = frozenset(
    {
        "session_started",
        "inject_released",
        "decision",
        "delegation",
        "note",
        "marker_set",
        "clock",
        "facilitator",
        "session_ended",
        "session_resumed",
        "session_interrupted",
        "hotwash_answer",
        "hotwash_closed",
        "signature",
    }
)
MAX_T = 10 * 366 * 86400
"""No rehearsal covers more than ten years of sim time."""


@dataclass(frozen=True)
class SignerInfo:
    """Who signed (part of) a transcript, and how far the verifier trusts them."""

    key: str
    name: str
    fingerprint: str
    trust: str  # "trusted" | "sample" | "untrusted"
    trusted_as: str = ""  # the name the trust list gives the key
    source: str = ""  # where the key is trusted: "your own key", FILE:LINE
    self_signed: bool = False
    signatures: int = 0

    def describe(self) -> str:
        who = self.trusted_as or self.name
        if self.trust == "sample":
            text = (
                f"the sample key ({who}, {self.fingerprint}): trusted for the committed samples only; "
                "its private half is in the repository, so anyone can sign with it: not evidence"
            )
        elif self.trust == "trusted":
            text = f"{who} ({self.fingerprint}, trusted: {self.source})"
        else:
            text = f"{self.name} ({self.fingerprint}, a key you do not trust)"
        return text + (", self-signed: the signer played in this run" if self.self_signed else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.trusted_as or self.name,
            "declared_name": self.name,
            "fingerprint": self.fingerprint,
            "trust": self.trust,
            "trusted_by": self.source,
            "self_signed": self.self_signed,
            "signatures": self.signatures,
        }


@dataclass
class Verification:
    """What `verify_evidence` found: a status, who signed, what is unsigned, and every problem.

    `status` is one of verified, unsigned, untrusted, sample (the chain, grammar, content
    and every signature are good; they differ in who signed), forged (the chain or a signature
    fails), invalid (the grammar or a content rule fails) or unreadable. `torn` is set when the
    last line is incomplete (a crash mid-write): everything before it is judged as usual.
    """

    path: Path
    status: str = UNREADABLE
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    signers: list[SignerInfo] = field(default_factory=list)
    signed_through: int | None = None
    """The seq of the last signature line (None when nothing is signed)."""
    unsigned: list[tuple[int, int]] = field(default_factory=list)
    """Spans (first seq, last seq) not signed when written: an unsigned tail, or what a crash
    left before a `session_resumed`."""
    unacknowledged: list[int] = field(default_factory=list)
    """Seqs of decisions written but never signed (a crash between the two lines)."""
    first_bad_line: int | None = None
    first_bad_seq: int | None = None
    torn: bool = False
    chain: TranscriptRead | None = None
    declared_key: bool = False
    """Line 0 names a signing key (the run was signed as it was written)."""

    @property
    def ok(self) -> bool:
        """True when nothing is wrong with the file (its signer may still be untrusted)."""
        return self.status in (VERIFIED, UNSIGNED, UNTRUSTED, SAMPLE) and not self.torn

    @property
    def trustworthy(self) -> bool:
        """Signed by a trusted key, every line up to the last signature intact."""
        return self.status == VERIFIED

    @property
    def exit_code(self) -> int:
        return 1 if self.torn else EXIT_CODES[self.status]

    def headline(self) -> str:
        """One line for every output: the status in capitals and why."""
        if self.status == VERIFIED:
            names = "; ".join(s.describe() for s in self.signers)
            return f"VERIFIED: signed by {names}"
        if self.status == SAMPLE:
            return "SAMPLE: signed by " + "; ".join(s.describe() for s in self.signers)
        if self.status == UNTRUSTED:
            names = "; ".join(s.describe() for s in self.signers)
            return f"UNTRUSTED: the signatures are good but made with {names}"
        if self.status == UNSIGNED and self.declared_key:
            return (
                "UNSIGNED: the run names a signing key but no signature line survives (the file "
                "ends before its first signature); the hash chain is intact: not evidence"
            )
        if self.status == UNSIGNED:
            return (
                "UNSIGNED: no signature (written before transcripts were signed); "
                "the hash chain is intact, which anyone could recompute: not evidence"
            )
        return f"{self.status.upper()}: {self.problems[0] if self.problems else 'not a transcript'}"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ok": self.ok,
            "headline": self.headline(),
            "signers": [s.to_json() for s in self.signers],
            "signed_through": self.signed_through,
            "unsigned": [list(span) for span in self.unsigned],
            "unacknowledged": list(self.unacknowledged),
            "torn": self.torn,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "first_bad_line": self.first_bad_line,
            "first_bad_seq": self.first_bad_seq,
        }

    def _fail(self, status: str, line: int, seq: int | None, message: str) -> None:
        if self.status not in (FORGED, INVALID):
            self.status = status
            self.first_bad_line = line
            self.first_bad_seq = seq
        self.problems.append(message)


_SCENARIO_NAMES: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
"""The role and action ids of an embedded scenario, by its `scenario_json_sha256`."""


class _Grammar:
    """Checks the event grammar, the content rules and the signatures, line by line."""

    def __init__(self, result: Verification, trust: Any) -> None:
        self.result = result
        self.trust = trust
        self.roles: frozenset[str] = frozenset()
        self.actions: frozenset[str] = frozenset()
        self.signed = False  # does this transcript sign (declared on line 0 or any signature)?
        self.expect_signature: dict[str, Any] | None = None  # the line that must be signed next
        self.ended = False
        self.closed = False
        self.interrupted = False
        self.last_t = 0.0
        self.signers: dict[str, SignerInfo] = {}  # by key, as its first signature names it
        self.signed_by: dict[str, int] = {}  # signatures per key
        self.keys: dict[str, tuple[Any, str]] = {}  # a signature's `key` -> (PublicKey, its text)
        self.players: set[str] = set()
        self.mode = ""
        self.last_signature: int | None = None
        self.signatures: dict[str, list[tuple[int, dict[str, Any], Any]]] = {}

    def fail(self, line: int, record: dict[str, Any], message: str, status: str = INVALID) -> None:
        self.result._fail(
            status, line, record.get("seq"), f"line {line} (seq {record.get('seq')}): {message}"
        )

    def run(self, events: list[dict[str, Any]]) -> None:
        if events:
            self.signed = isinstance(events[0].get("signing_key"), dict) or any(
                e.get("type") == "signature" for e in events
            )
        for index, record in enumerate(events):
            self.line(index + 1, record, events[index + 1] if index + 1 < len(events) else None)
            if self.result.status in (FORGED, INVALID):
                return
        self.check_signatures()

    def line(self, line: int, record: dict[str, Any], following: dict[str, Any] | None) -> None:
        kind = record.get("type")
        raw_t = record.get("t")
        if not isinstance(kind, str) or kind not in KNOWN_TYPES:
            return self.fail(line, record, f"unknown event type {kind!r}")
        if (
            isinstance(raw_t, bool)
            or not isinstance(raw_t, (int, float))
            or not math.isfinite(raw_t)
            or not 0 <= raw_t <= MAX_T
        ):
            return self.fail(
                line, record, f"t must be a finite number of seconds, at least 0; it is {raw_t!r}"
            )
        t = float(raw_t)
        if t < self.last_t:
            return self.fail(line, record, f"t goes back from {self.last_t:g} to {t:g}")
        self.last_t = t
        if self.expect_signature is not None and kind != "signature":
            pending = self.expect_signature
            if pending.get("type") == "decision" and kind == "session_resumed":
                self.result.unacknowledged.append(pending["seq"])  # a crash before its signature
            else:
                return self.fail(
                    line,
                    record,
                    f"a {pending.get('type')} (seq {pending.get('seq')}) must be followed by its signature, "
                    f"not by {kind}",
                )
            self.expect_signature = None
        if line == 1:
            if kind != "session_started":
                return self.fail(line, record, f"the first event is {kind!r}, expected 'session_started'")
            return self.started(line, record)
        if kind == "session_started":
            return self.fail(line, record, "a second session_started (a transcript holds one session)")
        if self.interrupted and kind != "session_resumed":
            return self.fail(line, record, f"after session_interrupted comes session_resumed, not {kind}")
        if kind == "signature":
            return self.signature(line, record)
        if self.ended and kind not in ("hotwash_answer", "hotwash_closed"):
            return self.fail(
                line, record, f"{kind} after session_ended (only the hot wash may follow the end)"
            )
        if self.closed:
            return self.fail(line, record, f"{kind} after hotwash_closed")
        if kind in ("decision", "delegation", "note", "hotwash_answer"):
            role = record.get("role")
            if not isinstance(role, str) or role not in self.roles:
                return self.fail(line, record, f"role {role!r} is not a role of the embedded scenario")
        if kind in ("decision", "delegation"):
            action = record.get("action")
            if not isinstance(action, str) or action not in self.actions:
                return self.fail(line, record, f"action {action!r} is not in the embedded action catalog")
        if kind == "delegation":
            to_role = record.get("to_role")
            if not isinstance(to_role, str) or to_role not in self.roles:
                return self.fail(line, record, f"to_role {to_role!r} is not a role of the embedded scenario")
        if kind == "session_ended":
            if self.ended:
                return self.fail(line, record, "a second session_ended")
            self.ended = True
        elif kind == "hotwash_closed":
            self.closed = True
        elif kind == "session_interrupted":
            self.interrupted = True
        elif kind == "session_resumed":
            self.interrupted = False
            if self.signed:
                claimed = record.get("signed_through")
                if claimed != self.last_signature:
                    return self.fail(
                        line,
                        record,
                        f"signed_through is {claimed!r} but the last signature before it is seq "
                        f"{self.last_signature}",
                    )
                first = (self.last_signature + 1) if self.last_signature is not None else 0
                if first <= record["seq"] - 1:
                    self.result.unsigned.append((first, record["seq"] - 1))
        if self.signed and kind in MUST_BE_SIGNED:
            self.expect_signature = record
        return None

    def started(self, line: int, record: dict[str, Any]) -> None:
        scenario = record.get("scenario")
        if not isinstance(scenario, dict):
            return self.fail(line, record, "session_started does not embed the scenario")
        known = self.result.chain.scenario_digest if self.result.chain is not None else None
        # the read path hashed this very scenario from line 1's canonical bytes (None: it did not)
        digest = known[1] if known is not None and known[0] is scenario else None
        names = _SCENARIO_NAMES.get(digest) if digest is not None else None
        if names is None:
            roles = scenario.get("roles")
            actions = scenario.get("actions")
            names = (
                frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset(),
                frozenset(
                    str(a["id"]) for a in actions if isinstance(a, dict) and isinstance(a.get("id"), str)
                )
                if isinstance(actions, list)
                else frozenset(),
            )
            if digest is not None:
                if len(_SCENARIO_NAMES) > 1024:
                    _SCENARIO_NAMES.clear()
                _SCENARIO_NAMES[digest] = names
        self.roles, self.actions = names
        recorded = record.get("scenario_json_sha256")
        if recorded is not None:
            if (digest or scenario_json_sha256(scenario)) != recorded:
                return self.fail(
                    line,
                    record,
                    "the embedded scenario does not match its scenario_json_sha256 (the scenario was swapped)",
                    FORGED,
                )
        elif self.signed:
            return self.fail(line, record, "a signed transcript must carry scenario_json_sha256")
        else:
            self.result.notes.append(
                "the embedded scenario has no scenario_json_sha256 (written before it existed): not checked"
            )
        self.mode = str(record.get("mode") or "")
        people = record.get("participants")
        if isinstance(people, list):
            self.players = {
                " ".join(str(p.get("name")).split()).casefold()
                for p in people
                if isinstance(p, dict) and p.get("name") and not p.get("simulated")
            }
        if self.signed:
            self.expect_signature = record
        return None

    def signature(self, line: int, record: dict[str, Any]) -> None:
        from tabletop.keys import PublicKey, decode_key

        written = record.get("key")
        known = self.keys.get(written) if type(written) is str else None
        if known is None:
            raw = decode_key(written)
            if raw is not None:
                decoded = PublicKey(raw, "")
                known = self.keys[str(written)] = (decoded, decoded.text)
        sig = record.get("sig")
        if known is None or not isinstance(sig, str):
            return self.fail(line, record, "a signature line without a valid key and sig", FORGED)
        if record.get("signs") != record["seq"] - 1:
            return self.fail(
                line, record, f"signs {record.get('signs')!r}, but it follows seq {record['seq'] - 1}"
            )
        key, text = known
        # checked in `check_signatures`: the hash chain up to here is intact, so the last
        # signature of each key vouches for every line before it, its earlier ones included
        self.signatures.setdefault(text, []).append((line, record, key))
        self.expect_signature = None
        self.last_signature = record["seq"]
        if text in self.signers:
            self.signed_by[text] += 1
            return None
        declared = record.get("signer")
        name = declared if isinstance(declared, str) else ""
        trusted = self.trust.get(text) if self.trust is not None else None
        trust = "untrusted" if trusted is None else ("sample" if trusted.samples_only else "trusted")
        holder = trusted.name if trusted is not None else name
        self_signed = self.mode in ("solo", "simulate") or " ".join(holder.split()).casefold() in self.players
        self.signers[text] = SignerInfo(
            key=text,
            name=name,
            fingerprint=key.fingerprint,
            trust=trust,
            trusted_as=trusted.name if trusted is not None else "",
            source=trusted.source if trusted is not None else "",
            self_signed=self_signed and trust != "sample",
        )
        self.signed_by[text] = 1
        return None

    def check_signatures(self) -> None:
        """Verify the last signature of each key; when one fails, find the first that does."""
        for signed in self.signatures.values():
            _, last, key = signed[-1]
            if key.verifies(str(last["sig"]), str(last.get("prev"))):
                continue
            line, record = next(
                (n, r) for n, r, k in signed if not k.verifies(str(r["sig"]), str(r.get("prev")))
            )
            return self.fail(
                line,
                record,
                "the signature does not match the transcript up to here: the lines before it were "
                "changed after they were signed (or the signature was copied)",
                FORGED,
            )
        return None

    def finish(self, events: list[dict[str, Any]]) -> None:
        result = self.result
        result.signers = [
            replace(info, signatures=self.signed_by[text]) for text, info in self.signers.items()
        ]
        result.signed_through = self.last_signature
        if not events:
            return
        last = events[-1]["seq"]
        if self.signed:
            first = (self.last_signature + 1) if self.last_signature is not None else 0
            if first <= last:
                result.unsigned.append((first, last))
                if self.expect_signature is not None and self.expect_signature.get("type") == "decision":
                    result.unacknowledged.append(self.expect_signature["seq"])


def verify_evidence(path: str | Path, trust: Any = None, chain: TranscriptRead | None = None) -> Verification:
    """Verify a transcript as evidence: hash chain, grammar, content rules and signatures.

    `trust` is a `tabletop.keys.TrustStore` (default: the user's own key and the nearest
    `trusted_keys` file above the transcript); `chain` is what `verify_transcript` (or
    `read_run`'s verdict) already found in the file, so it is not read twice.
    """
    path = Path(path)
    if trust is None:
        from tabletop.keys import trusted_keys

        trust = trusted_keys(path)
    if chain is None or not chain.chain_checked:  # a read without the chain check is not reused
        chain = verify_transcript(path)
    result = Verification(path=path, chain=chain)
    result.events = chain.events
    if chain.missing:
        result.problems.append(chain.problems[0])
        return result
    if not chain.events:
        result.problems.extend(chain.problems or [f"{path}: the transcript is empty"])
        result.first_bad_line = chain.first_bad_line
        result.first_bad_seq = chain.first_bad_seq
        if re.search(r"hash does not match|canonical form|prev does not match", result.problems[0]):
            result.status = FORGED  # a readable first line, edited
        return result
    result.status = VERIFIED
    grammar = _Grammar(result, trust)
    grammar.run(chain.events)
    grammar.finish(chain.events)
    serious = [p for p in chain.problems if p != chain.torn_problem]
    if serious and result.status not in (FORGED, INVALID):
        # a time that is not a number or goes back breaks a content rule; the rest is tampering
        result.status = INVALID if re.search(r": t (is not a number|goes back)", serious[0]) else FORGED
        result.first_bad_line = chain.first_bad_line
        result.first_bad_seq = chain.first_bad_seq
        result.problems.insert(0, serious[0])
        result.problems.extend(serious[1:])
    elif serious:
        result.problems.extend(serious)
    if chain.torn_tail:
        result.torn = True
        if chain.torn_problem:
            result.notes.insert(0, chain.torn_problem)
        if result.first_bad_line is None:
            result.first_bad_line = chain.first_bad_line
            result.first_bad_seq = chain.first_bad_seq
    if result.status == VERIFIED:
        trusts = {s.trust for s in result.signers}
        if not result.signers:
            result.status = UNSIGNED
            result.declared_key = bool(chain.events[0].get("signing_key"))
        elif "untrusted" in trusts:
            result.status = UNTRUSTED
        elif "sample" in trusts:
            result.status = SAMPLE
    return result


def resign(events: list[dict[str, Any]], signer: Any) -> bytes:
    """The transcript `events` re-chained and signed with `signer`, old signatures dropped.

    For the committed samples (`tabletop keys resign`): `t` and `wall` are kept, `seq`,
    `prev` and `hash` are recomputed, and signatures are placed where the writer places them.
    The result is signed by `signer` alone, and verification names it as such.
    """
    out: list[bytes] = []
    seq = 0
    prev: str | None = None
    signed_through: int | None = None

    def emit(fields: dict[str, Any], type_: str, t: Any, wall: Any) -> dict[str, Any]:
        nonlocal seq, prev
        record = dict(fields)
        record.update(seq=seq, type=type_, t=t, wall=wall, prev=prev)
        record["hash"] = line_hash(record)
        out.append((canonical(record) + "\n").encode("utf-8"))
        seq += 1
        prev = record["hash"]
        return record

    for event in events:
        kind = event.get("type")
        if kind == "signature":
            continue
        fields = {k: v for k, v in event.items() if k not in RESERVED}
        if kind == "session_started":
            fields["signing_key"] = {"key": signer.public.text, "name": signer.name}
            if isinstance(fields.get("scenario"), dict):
                fields["scenario_json_sha256"] = scenario_json_sha256(fields["scenario"])
        elif kind == "session_resumed":
            fields["signed_through"] = signed_through
        record = emit(fields, str(kind), event.get("t"), event.get("wall"))
        if kind in SIGNED_TYPES or (kind == "clock" and fields.get("op") == "checkpoint"):
            assert prev is not None
            signature = emit(
                {
                    "key": signer.public.text,
                    "signer": signer.name,
                    "signs": record["seq"],
                    "sig": signer.sign(prev),
                },
                "signature",
                record["t"],
                record["wall"],
            )
            signed_through = signature["seq"]
    return b"".join(out)
