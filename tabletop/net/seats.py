"""Seats at a team rehearsal: who joined under which name and role, and the secret each needs to come back.

A player's first join gives them a seat: their name and role, and a secret the host returns
once (in the welcome) and keeps only as a SHA-256. Coming back after a dropped line or a
restart, the player shows the secret; without it nobody can take their name, so a second person
with the token cannot record decisions as someone else. Names the facilitator uses (their own,
"Facilitator", "Room") and the simulated teammates' names are reserved.

The seats live in a file beside the transcript (`T.seats.json`, mode 0600, written whole and
renamed into place), never in the transcript itself, so that `tabletop host --resume` gives every
player their seat back. The file also keeps the session's token and the room display's key,
so a resumed host needs neither again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_MODE = 0o600
RESERVED = ("Facilitator", "Room", "In the room")
"""Names nobody may join under: the facilitator records with them."""


class SeatError(Exception):
    """A seat that cannot be given or read; `code` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def name_key(name: str) -> str:
    """Names compare without case, accents' composition or surrounding and repeated spaces."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def seats_path(transcript: Path) -> Path:
    """Where the seats of the session recorded in `transcript` are kept."""
    transcript = Path(transcript)
    return transcript.with_name(transcript.stem + ".seats.json")


@dataclass
class Seat:
    """One player's place in the session."""

    name: str
    role: str
    sha256: str

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.sha256, _digest(secret))


class Seats:
    """The session's seats, its token and room key, and the names nobody may take."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        token: str | None = None,
        room_key: str | None = None,
        reserved: Iterable[str] = (),
    ) -> None:
        self.path = path
        self.token = token
        self.room_key = room_key or secrets.token_urlsafe(16)
        self.reserved = {name_key(n) for n in (*RESERVED, *reserved) if n}
        self._seats: dict[str, Seat] = {}
        self._writing = threading.Lock()

    # reading and writing ------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path, *, reserved: Iterable[str] = ()) -> Seats:
        """The seats saved at `path`; an absent file is no seats. A damaged one is an error."""
        seats = cls(path, reserved=reserved)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return seats
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise SeatError("bad_seats", f"{path}: cannot read the seats: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("seats", []), list):
            raise SeatError("bad_seats", f"{path}: expected an object with a list of seats")
        seats.token = data.get("token") if isinstance(data.get("token"), str) else None
        if isinstance(data.get("room_key"), str):
            seats.room_key = data["room_key"]
        for n, item in enumerate(data.get("seats", [])):
            try:
                seat = Seat(name=str(item["name"]), role=str(item["role"]), sha256=str(item["sha256"]))
            except (KeyError, TypeError):
                raise SeatError("bad_seats", f"{path}: seats[{n}]: expected name, role and sha256") from None
            seats._seats[name_key(seat.name)] = seat
        return seats

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "room_key": self.room_key,
            "seats": [{"name": s.name, "role": s.role, "sha256": s.sha256} for s in self._seats.values()],
        }

    def snapshot(self) -> bytes:
        """The file's content as the seats are now (take it where the seats change)."""
        return (json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")

    def save(self, data: bytes | None = None) -> None:
        """Write the seats (or a `snapshot` of them) to their file (0600), whole: a crash leaves
        the old file or the new one. Safe to run on another thread with a snapshot."""
        if self.path is None:
            return
        data = self.snapshot() if data is None else data
        with self._writing:  # one writer at a time
            self._save(Path(self.path), data)

    def _save(self, path: Path, data: bytes) -> None:
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(str(temporary), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        try:
            folder = os.open(str(path.parent), os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(folder)
        except OSError:
            pass
        finally:
            os.close(folder)

    # seats --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._seats)

    def __iter__(self) -> Iterator[Seat]:
        return iter(list(self._seats.values()))

    def find(self, name: str) -> Seat | None:
        return self._seats.get(name_key(name))

    def reserved_name(self, name: str) -> bool:
        return name_key(name) in self.reserved

    def reserve(self, *names: str) -> None:
        self.reserved.update(name_key(n) for n in names if n)

    def check_new(self, name: str, role: str) -> None:
        """Raise SeatError when `name` cannot have a new seat."""
        if self.reserved_name(name):
            raise SeatError(
                "name_reserved", f"the name {name!r} is reserved for the facilitator; join with your own name"
            )
        seat = self.find(name)
        if seat is not None:
            raise SeatError(
                "name_taken",
                f"{seat.name!r} already has a seat in this session (playing {seat.role}); "
                "reconnect from where you joined, or join with another name",
            )

    def claim(self, name: str, role: str) -> str:
        """Give `name` a seat playing `role`; returns its secret (shown once, kept as a hash)."""
        self.check_new(name, role)
        secret = secrets.token_urlsafe(24)
        self._seats[name_key(name)] = Seat(name=name, role=role, sha256=_digest(secret))
        return secret

    def by_secret(self, secret: str) -> Seat | None:
        """The seat this secret opens, or None."""
        digest = _digest(secret)
        for seat in self._seats.values():
            if hmac.compare_digest(seat.sha256, digest):
                return seat
        return None

    def release(self, name: str) -> Seat | None:
        """Free a seat (the facilitator's call: the player lost their secret); returns it."""
        return self._seats.pop(name_key(name), None)
