"""When an expectation's clock starts and ends and which decisions count: one rule for engine and scorer.

The README's "How a rehearsal is scored" states the rules; this module holds the parts the
engine (branches on `missed:`, simulated teammates) and the scorer must compute alike:

- `deadline`: `model.expectation_deadline`, in the law's units (hours, calendar months, business days).
- `early_allowed`: the expectation's `early`, else its catalog action's.
- `counts_for`: a decision at `t` counts for an expectation when it is at or before the
  deadline and at or after the anchor (any time before the deadline when early is allowed).
- `Anchors`: the moment each anchor happened, fed in time order. An anchor is the first
  `start`, inject release, marker or recording of an action; when an expectation's deadline
  passes with no decision that counts for it, its action (and the marker that action sets)
  count as anchored at that deadline unless they already were: a skipped or late duty does
  not postpone what follows from it. A *premature* decision (one of an action some
  expectation calls for, made before any of them started, none allowing early action)
  anchors nothing and sets no marker: it counts for nothing but its finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tabletop.model import SCENARIOS_KEPT, Action, Expectation, Scenario, expectation_deadline
from tabletop.model import deadline_from as deadline_from


def deadline(scenario: Scenario, expectation: Expectation, anchor: float) -> float:
    """When an expectation anchored at `anchor` falls due: `model.expectation_deadline`, the one rule."""
    return expectation_deadline(scenario, expectation, anchor)


def early_allowed(expectation: Expectation, actions: dict[str, Action]) -> bool:
    """Whether a decision before the anchor may meet `expectation` (its own `early`, else its action's)."""
    if expectation.early is not None:
        return expectation.early == "allowed"
    action = actions.get(expectation.action)
    return action is not None and action.early == "allowed"


def counts_for(t: float, anchor: float, due: float, early: bool) -> bool:
    """A decision at `t` counts for an expectation running from `anchor` to `due`."""
    return t <= due and (early or t >= anchor)


def anchor_key(expectation: Expectation) -> str:
    """The anchor as a key: `start`, `inject:ID`, `action:ID` or `marker:NAME`."""
    return expectation.after or "start"


@dataclass
class Started:
    """An expectation whose clock has started: from `anchor` to `due`."""

    expectation: Expectation
    anchor: float
    due: float
    derived: bool = False
    """True when the anchor is the deadline of a duty that was not done (not an event)."""


class ClockIndex:
    """What `Anchors` looks up, built once per scenario (scenarios are immutable)."""

    def __init__(self, scenario: Scenario) -> None:
        self.actions = scenario.action_map()
        self.by_key: dict[str, list[Expectation]] = {}
        self.expected: dict[str, list[Expectation]] = {}
        for expectation in scenario.expectations:
            self.by_key.setdefault(anchor_key(expectation), []).append(expectation)
            self.expected.setdefault(expectation.action, []).append(expectation)
        self.early = {e.id: early_allowed(e, self.actions) for e in scenario.expectations}
        self.restarting = {key: [e for e in items if e.from_latest] for key, items in self.by_key.items()}
        self.may_be_premature: dict[str, list[tuple[str, ...]]] = {}
        for action_id, wanted in self.expected.items():
            entry = self.actions.get(action_id)
            if entry is not None and entry.early == "allowed":
                continue
            if any(self.early[e.id] for e in wanted):
                continue
            self.may_be_premature[action_id] = [(anchor_key(e),) for e in wanted]
        self.sets_marker = {a.id: a.sets_marker for a in self.actions.values() if a.sets_marker}


_INDEXES: dict[int, tuple[Scenario, ClockIndex]] = {}


def clock_index(scenario: Scenario) -> ClockIndex:
    """The scenario's ClockIndex, built once per Scenario object."""
    cached = _INDEXES.get(id(scenario))
    if cached is not None and cached[0] is scenario:
        return cached[1]
    index = ClockIndex(scenario)
    if len(_INDEXES) >= SCENARIOS_KEPT:
        del _INDEXES[next(iter(_INDEXES))]  # the oldest out
    _INDEXES[id(scenario)] = (scenario, index)
    return index


@dataclass
class Anchors:
    """The anchors of a run as it unfolds; both the engine and the scorer feed it in time order.

    `start(key, t)` records an anchor (the first time only) and returns the expectations it
    starts; `check(started)` at the deadline says whether a decision counted for it, and when
    none did returns the expectations started by the anchors that the missed duty implies.
    """

    scenario: Scenario
    times: dict[str, float] = field(default_factory=dict)
    derived: set[str] = field(default_factory=set)
    decisions: dict[str, list[float]] = field(default_factory=dict)
    current: dict[str, Started] = field(default_factory=dict)
    """Each started expectation's clock as it runs now (a `from_latest` one may restart)."""

    def __post_init__(self) -> None:
        index = clock_index(self.scenario)
        self.actions = index.actions
        self.by_key = index.by_key
        self.early = index.early
        self.expected = index.expected
        self._index = index

    def start(self, key: str, t: float, *, derived: bool = False) -> list[Started]:
        """Anchor `key` at `t` unless it already is; the expectations this starts."""
        if key in self.times:
            return []
        self.times[key] = t
        if derived:
            self.derived.add(key)
        out = [Started(e, t, deadline(self.scenario, e, t), derived) for e in self.by_key.get(key, ())]
        for item in out:
            self.current[item.expectation.id] = item
        return out

    def record(self, action: str, t: float) -> list[Started]:
        """A decision of `action` at `t`: its first recording anchors `action:ID`; a later one
        restarts each `from_latest` clock it anchors that no decision has met yet."""
        self.decisions.setdefault(action, []).append(t)
        key = f"action:{action}"
        if key not in self.times:
            return self.start(key, t)
        restarted = []
        for expectation in self._index.restarting.get(key, ()):
            running = self.current.get(expectation.id)
            if running is not None and not self.done(running):
                item = Started(expectation, t, deadline(self.scenario, expectation, t))
                self.current[expectation.id] = item
                restarted.append(item)
        return restarted

    def premature(self, action: str, t: float) -> bool:
        """Whether a decision of `action` at `t` comes before anything called for it.

        True when some expectation calls for the action, none of them had started by `t`,
        and neither they nor the catalog entry allow early action.
        """
        keys = self._index.may_be_premature.get(action)
        if keys is None:
            return False
        times = self.times
        return not any(key in times and times[key] <= t for (key,) in keys)

    def decision(self, action: str, t: float) -> tuple[bool, list[Started]]:
        """A decision recorded at `t`: (premature?, the expectations it starts).

        A timely decision anchors `action:ID` and the marker its action sets; a premature one
        neither.
        """
        if self.premature(action, t):
            return True, []
        started = self.record(action, t)
        marker = self._index.sets_marker.get(action)
        if marker:
            started += self.start(f"marker:{marker}", t)
        return False, started

    def done(self, started: Started) -> bool:
        """Whether a decision recorded so far counts for the started expectation."""
        early = self.early.get(started.expectation.id, False)
        return any(
            counts_for(t, started.anchor, started.due, early)
            for t in self.decisions.get(started.expectation.action, ())
        )

    def check(self, started: Started) -> tuple[bool, list[Started]]:
        """At the deadline: (missed?, expectations started by the anchors the missed duty implies)."""
        if self.done(started):
            return False, []
        return True, self.implied(started.expectation.action, started.due)

    def implied(self, action: str, t: float) -> list[Started]:
        """A duty of `action` missed at `t`: `action:ID` and the marker it sets count from `t`."""
        out = self.start(f"action:{action}", t, derived=True)
        setter = self.actions.get(action)
        if setter is not None and setter.sets_marker:
            out += self.start(f"marker:{setter.sets_marker}", t, derived=True)
        return out

    def started_at(self, expectations: Iterable[Expectation]) -> dict[str, float]:
        """Anchor times of the given expectations that have started (by id)."""
        return {e.id: self.times[anchor_key(e)] for e in expectations if anchor_key(e) in self.times}
