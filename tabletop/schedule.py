"""The session's release schedule: a heap of typed items, each due at a sim time with a priority.

SimPy style: an entry is ordered by `(time, priority, sequence)`, so items due at the same sim
time always come out in the same order: consequences of the event just recorded (`PRIO_NOW`:
markers, trigger-now, ad-hoc injects, time jumps), then scheduled injects in scenario order,
branches, simulated responses, simulated teammates carrying out delegated work; expectation
deadlines (checked only once time has moved past them) and the session's end come last.
What an item does when it comes out, and whether it still has to, is the session's business
(`tabletop.engine`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

PRIO_NOW = 0
PRIO_INJECT = 10
PRIO_BRANCH = 20
PRIO_RESPONSE = 30
PRIO_DELEGATE = 40
PRIO_DEADLINE = 50
PRIO_END = 90


@dataclass(frozen=True, slots=True)
class Release:
    """Release an inject; `trigger` says why (schedule, branch, response, facilitator, adhoc)."""

    inject: str
    trigger: str
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class SetMarker:
    """Set a marker; `source` says what set it (`inject:ID`, `action:ID`)."""

    name: str
    source: str


@dataclass(frozen=True, slots=True)
class Jump:
    """Move the clock forward to `to_t` at once, as inject `inject` asks (`advance_to`)."""

    inject: str
    to_t: float


@dataclass(frozen=True, slots=True)
class Deadline:
    """Check an expectation whose clock runs until `due`."""

    expectation: str
    due: float


@dataclass(frozen=True, slots=True)
class TeammateTurn:
    """A simulated teammate records its own expectation (solo practice)."""

    expectation: str


@dataclass(frozen=True, slots=True)
class DelegatedWork:
    """A simulated teammate (or a scripted player) carries out delegation `delegation`."""

    delegation: str


@dataclass(frozen=True, slots=True)
class End:
    """The session ends at its duration."""


Item = Release | SetMarker | Jump | Deadline | TeammateTurn | DelegatedWork | End


class Due(NamedTuple):
    """One entry of the schedule, ordered by time, then priority, then the order it was pushed
    (sequence numbers are unique, so the item itself is never compared)."""

    time: float
    prio: int
    seq: int
    item: Item


class Schedule:
    """A min-heap of `Due` entries."""

    def __init__(self) -> None:
        self._heap: list[Due] = []
        self._counter = 0

    def __bool__(self) -> bool:
        return bool(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, time: float, prio: int, item: Item) -> Due:
        self._counter += 1
        entry = Due(float(time), prio, self._counter, item)
        heapq.heappush(self._heap, entry)
        return entry

    def put_back(self, entry: Due) -> None:
        """Return an entry taken out but not dealt with (it keeps its place in the order)."""
        heapq.heappush(self._heap, entry)

    def first(self) -> Due:
        """The entry due first (the schedule must not be empty)."""
        return self._heap[0]

    def pop(self) -> Due:
        return heapq.heappop(self._heap)

    def drop_stale(self, stale: Callable[[Item], bool]) -> None:
        """Take out the entries at the head that no longer need doing."""
        while self._heap and stale(self._heap[0].item):
            heapq.heappop(self._heap)
