"""The follow-up register: a manager's closures and re-ownings of follow-ups, appended and signed, never edited.

`followups.register` in the transcripts folder holds JSON lines, hash-chained and signed as a
transcript is (`tabletop.transcript`): every line has `seq`, `type`, `wall` (UTC), `prev` (the
hash of the line before, null on the first) and `hash` (SHA-256 of the line's canonical JSON
without `hash`). Each entry is followed by a `signature` line: the Ed25519 signature, with the
key of the person who ran the command (`tabletop.keys`), of the entry's hash after
REGISTER_PREFIX (so a register signature can never pass for a transcript's).

    {"seq":0,"type":"followup_closed","id":"FU-3f2a9c1b7d4e","why":"...","by":"Dana", ...}
    {"seq":1,"type":"signature","key":"...","signer":"Dana","signs":0,"sig":"...", ...}
    {"seq":2,"type":"followup_reowned","id":"FU-...","to":"service_owner","from":"incident_lead","why":"...", ...}

Entries are only ever appended (under a lock, each line fsync'd): a closure is undone by
nobody, a wrong owner is fixed by a second re-owning. Reading checks the chain and every
signature; from the first damaged line on, nothing counts, and the damage is reported. An
entry counts only when it is signed with a key the reader trusts (the user's own, or one in
the nearest `trusted_keys`); the others are listed with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tabletop.followups import is_followup_id, session_date
from tabletop.transcript import canonical, format_wall, line_hash, utc_now

REGISTER_NAME = "followups.register"
REGISTER_PREFIX = b"tabletop follow-up register signature v1\n"
CLOSED, REOWNED = "followup_closed", "followup_reowned"
ENTRY_TYPES = (CLOSED, REOWNED)
MAX_REGISTER_BYTES = 64 * 1024 * 1024
MAX_WHY = 2000
"""A reason is at most this many characters."""


class RegisterError(Exception):
    """The register cannot be read or appended to; the message names the file and why."""


@dataclass(frozen=True)
class RegisterEntry:
    """One signed entry: a follow-up closed or given to another role, by whom, when and why."""

    seq: int
    type: str
    id: str
    why: str
    by: str
    wall: str
    to: str = ""
    previous_owner: str = ""
    key: str = ""
    fingerprint: str = ""
    trust: str = "untrusted"  # trusted | sample | untrusted ("" when not judged yet)
    trusted_as: str = ""

    @property
    def counted(self) -> bool:
        return self.trust == "trusted"

    @property
    def day(self) -> date | None:
        return session_date(self.wall)

    @property
    def reason(self) -> str:
        """Why the entry does not count (empty when it does)."""
        if self.trust == "sample":
            return "signed with the repository's sample key: not evidence"
        if self.trust == "untrusted":
            return f"signed with a key the reader does not trust ({self.fingerprint})"
        return ""

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "id": self.id,
            "why": self.why,
            "to": self.to,
            "from": self.previous_owner,
            "by": self.trusted_as or self.by,
            "wall": self.wall,
            "fingerprint": self.fingerprint,
            "trust": self.trust,
            "counted": self.counted,
            "reason": self.reason,
        }


@dataclass
class Register:
    """What the register holds: its signed entries up to any damage, and the damage."""

    path: Path
    entries: list[RegisterEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    exists: bool = False
    sha256: str = ""
    good_bytes: int = 0
    torn: bool = False

    @property
    def intact(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "exists": self.exists,
            "sha256": self.sha256,
            "intact": self.intact,
            "problems": list(self.problems),
            "entries": [e.to_json() for e in self.entries],
        }


def register_path(folder: Path | str) -> Path:
    return Path(folder) / REGISTER_NAME


# --- reading --------------------------------------------------------------------------------


def _parse(data: bytes, path: Path, trust: Any) -> Register:
    from tabletop.keys import PublicKey, decode_key

    register = Register(path=path, exists=True, sha256=hashlib.sha256(data).hexdigest())
    end = data.rfind(b"\n")
    lines = data[: end + 1].split(b"\n")[:-1] if end >= 0 else []
    tail = data[end + 1 :]
    prev: str | None = None
    pending: dict[str, Any] | None = None
    offset = 0
    for number, raw in enumerate(lines, start=1):
        where = f"{path}:{number}"
        try:
            record = json.loads(raw)
        except ValueError:
            register.problems.append(f"{where}: not a JSON line; nothing from here on counts")
            return register
        if not isinstance(record, dict):
            register.problems.append(f"{where}: not a JSON object; nothing from here on counts")
            return register
        problem = None
        if record.get("seq") != number - 1:
            problem = (
                f"seq is {record.get('seq')!r}, expected {number - 1} (a line was removed, moved or added)"
            )
        elif record.get("prev") != prev:
            problem = "prev does not match the hash of the line before it (a line was removed or changed)"
        else:
            try:
                good = line_hash(record) == record.get("hash") and canonical(record).encode() == raw
            except ValueError:
                good = False
            if not good:
                problem = "the hash does not match the line's content (edited?)"
        kind = record.get("type")
        if problem is None:
            if pending is None and kind not in ENTRY_TYPES:
                problem = f"expected an entry ({', '.join(ENTRY_TYPES)}), found {kind!r}"
            elif pending is not None and kind != "signature":
                problem = f"the entry on line {number - 1} must be followed by its signature, not by {kind!r}"
        if problem is None and kind == "signature":
            assert pending is not None
            raw_key = decode_key(record.get("key"))
            signature = record.get("sig")
            if (
                raw_key is None
                or not isinstance(signature, str)
                or record.get("signs") != pending["seq"]
                or not PublicKey(raw_key, "").verifies(signature, str(record.get("prev")), REGISTER_PREFIX)
            ):
                problem = "the signature does not match the entry before it (forged or edited)"
            else:
                key = PublicKey(raw_key, str(record.get("signer") or ""))
                known = trust.get(key.text) if trust is not None else None
                level = "untrusted" if known is None else ("sample" if known.samples_only else "trusted")
                register.entries.append(_entry(pending, key, level, known.name if known is not None else ""))
                register.good_bytes = offset + len(raw) + 1
                pending = None
        elif problem is None:
            problem = _entry_problem(record)
            if problem is None:
                pending = record
        if problem is not None:
            register.problems.append(f"{where}: {problem}; nothing from here on counts")
            return register
        prev = record["hash"]
        offset += len(raw) + 1
    if pending is not None:
        register.problems.append(f"{path}:{len(lines)}: the last entry has no signature; it does not count")
    if tail.strip():
        register.torn = True
        if not register.problems:
            register.problems.append(
                f"{path}:{len(lines) + 1}: the last line is incomplete (a write was interrupted); it does not count"
            )
    return register


def _entry_problem(record: dict[str, Any]) -> str | None:
    if not is_followup_id(record.get("id")):
        return f"id {record.get('id')!r} is not a follow-up id"
    why = record.get("why")
    if not isinstance(why, str) or not why.strip():
        return "an entry must say why"
    if record.get("type") == REOWNED and not (isinstance(record.get("to"), str) and record["to"]):
        return "a re-owning must name the role it goes to"
    if not isinstance(record.get("wall"), str) or session_date(record.get("wall")) is None:
        return "wall is not a UTC time"
    return None


def _entry(record: dict[str, Any], key: Any, trust: str, trusted_as: str) -> RegisterEntry:
    return RegisterEntry(
        seq=int(record["seq"]),
        type=str(record["type"]),
        id=str(record["id"]),
        why=str(record["why"]),
        by=str(record.get("by") or key.name),
        wall=str(record["wall"]),
        to=str(record.get("to") or ""),
        previous_owner=str(record.get("from") or ""),
        key=key.text,
        fingerprint=key.fingerprint,
        trust=trust,
        trusted_as=trusted_as,
    )


def read_register(folder_or_file: Path | str, trust: Any = None) -> Register:
    """The register of a transcripts folder (or the register file itself), checked.

    `trust` is a `tabletop.keys.TrustStore` (default: the user's key and the nearest
    `trusted_keys`). A missing register is an empty one.
    """
    path = Path(folder_or_file)
    if path.is_dir() or not path.name.endswith(".register"):
        path = register_path(path)
    if trust is None:
        from tabletop.keys import trusted_keys

        trust = trusted_keys(path.parent)
    if not os.path.lexists(path):
        return Register(path=path)
    from tabletop.files import open_regular

    try:
        with open_regular(path, limit=MAX_REGISTER_BYTES, what="follow-up register") as handle:
            data = handle.read(MAX_REGISTER_BYTES + 1)
    except OSError as error:
        return Register(path=path, exists=True, problems=[f"{path}: {error}"])
    return _parse(data, path, trust)


# --- appending ------------------------------------------------------------------------------


def append_entry(
    folder: Path | str,
    kind: str,
    followup: str,
    why: str,
    *,
    signer: Any,
    to: str = "",
    previous_owner: str = "",
    now_utc: Callable[[], datetime] = utc_now,
) -> RegisterEntry:
    """Append one signed entry to the register of `folder` and return it (its trust not judged:
    `read_register` says whether the reader trusts the key it was signed with).

    The register is locked while it is checked and appended to; a damaged register is never
    appended to (RegisterError says where it is damaged). An incomplete last line (a write cut
    short) is removed first: it was never acknowledged.
    """
    if kind not in ENTRY_TYPES:
        raise ValueError(f"expected one of {', '.join(ENTRY_TYPES)}, received {kind!r}")
    why = " ".join(why.split())
    if not why:
        raise RegisterError("--why: say why (it is recorded with the entry)")
    if len(why) > MAX_WHY:
        raise RegisterError(f"--why: at most {MAX_WHY} characters")
    if not is_followup_id(followup):
        raise RegisterError(f"{followup!r} is not a follow-up id (FU- and 12 hex digits)")
    path = register_path(folder)
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    created = not os.path.lexists(path)
    try:
        fd = os.open(str(path), flags, 0o600)
    except OSError as error:
        raise RegisterError(f"{path}: cannot open the register: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RegisterError(f"{path}: not a regular file; the register is not written")
        _lock(fd)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            if sum(map(len, chunks)) > MAX_REGISTER_BYTES:
                raise RegisterError(f"{path}: larger than {MAX_REGISTER_BYTES // (1024 * 1024)} MB")
        data = b"".join(chunks)
        current = _parse(data, path, None)
        if current.problems and not (current.torn and len(current.problems) == 1):
            raise RegisterError(
                f"{current.problems[0]}; the register is not appended to (restore it from version control)"
            )
        if current.torn:
            os.ftruncate(fd, current.good_bytes)
        seq = len(current.entries) * 2
        prev = _last_hash(data[: current.good_bytes])
        entry: dict[str, Any] = {"type": kind, "id": followup, "why": why, "by": signer.name}
        if kind == REOWNED:
            entry["to"] = to
            entry["from"] = previous_owner
        wall = format_wall(now_utc())
        entry.update(seq=seq, wall=wall, prev=prev)
        entry["hash"] = line_hash(entry)
        signature: dict[str, Any] = {
            "type": "signature",
            "key": signer.public.text,
            "signer": signer.name,
            "signs": seq,
            "sig": signer.sign(entry["hash"], REGISTER_PREFIX),
            "seq": seq + 1,
            "wall": wall,
            "prev": entry["hash"],
        }
        signature["hash"] = line_hash(signature)
        payload = (canonical(entry) + "\n" + canonical(signature) + "\n").encode("utf-8")
        written = 0
        while written < len(payload):
            written += os.write(fd, payload[written:])
        os.fsync(fd)
        os.fchmod(fd, 0o600)
    except OSError as error:
        raise RegisterError(f"{path}: cannot write the register: {error.strerror or error}") from None
    finally:
        os.close(fd)
    if created:
        try:
            folder_fd = os.open(str(path.parent), os.O_RDONLY)
            try:
                os.fsync(folder_fd)
            finally:
                os.close(folder_fd)
        except OSError:
            pass
    from tabletop.keys import PublicKey

    return _entry(entry, PublicKey(signer.public.raw, signer.name), "", "")


def _last_hash(data: bytes) -> str | None:
    lines = data.rstrip(b"\n").split(b"\n") if data.strip() else []
    if not lines:
        return None
    last = json.loads(lines[-1])
    value = last.get("hash")
    return value if isinstance(value, str) else None


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: appends are not serialised
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
