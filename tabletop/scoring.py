"""Score a rehearsal: a pure function of (scenario, transcript events) returning a Scorecard.

These are the scoring rules, version 2 (RULES_VERSION), as the README's "How a rehearsal is
scored" states them; `tabletop.clocks` holds the parts the engine applies alike.

1. Anchors. An expectation runs from its anchor: `start` (T+0); `inject:ID` when that inject
   was released; `marker:NAME` when the marker was first set (a `marker_set` event, an
   inject's `marks`, or a decision whose action `sets_marker`); `action:ID` when that action
   was first recorded (with `from_latest`, each later recording restarts a clock not yet met:
   DORA's final report runs from the latest intermediate report). A duty not done moves what
   follows from it: when an expectation's deadline passes with no decision that counts for it
   (rule 3), its action, and the marker that action sets, count as anchored at that deadline
   unless they already were. An expectation whose anchor never happens, or whose `applies_if`
   field condition does not hold for the decision in force (the latest recorded) of that
   action, is `not_applicable`, left out of every total.
2. Deadline = anchor + `within`, in the law's units (`model.expectation_deadline`, the one rule
   the engine and every view share): clock hours, calendar months to the corresponding date,
   business days less the regime's holidays, the end of the day in the regime's time zone.
   Without `starts_at` a calendar limit is approximated and the scorecard warns.
3. The decision in force. A decision of the expectation's action counts for it when it is
   made at or before the deadline and at or after the anchor; before the anchor only when the
   expectation, or else its catalog action, says `early: allowed`. The last decision that
   counts is graded: `met`. Earlier ones that counted are listed as `revised`, never
   penalised. With none, the first decision after the deadline is graded: `late`. A decision
   after the deadline never replaces the one in force at the deadline.
4. The end. An expectation with no graded decision is `missed`, except when the session
   ended before the scenario's `duration` (the facilitator ended it early; also a live score
   with `until`, and a transcript without `session_ended`): then one whose deadline falls
   after the end is `open`, shown with its due time and left out of the totals. When the
   facilitator ended the session early, the expectations of scheduled injects not yet
   released, and the clocks of the markers those injects set, are `open` too, due from the
   scheduled time.
5. Flags on the graded decision: `wrong_owner` (its role is not the owner, unless the owner
   is `any`), `out_of_order` (a `requires` action was not recorded before it), `no_rationale`
   (rationale required by the expectation, or by the action when the expectation does not
   say, and empty), `wrong_value` (a `value` field differs).
6. Credit: missed or wrong_value = 0; met = 1; late = `late_credit`; each other flag halves it.
   An expectation passes when met with no flags.
7. Findings, each a penalty in weight units: a decision whose role matches an avoid rule's
   role (any role when the rule has none) and whose action is in the rule's `actions` (the
   rule's penalty; a delegated decision counts for the role that carried it out); a decision
   not to notify the regulator (`ico_decision` or `sa_decision` with outcome `not_notify`)
   without a rationale (1); a `premature` decision (1): one of an action that some
   expectation calls for, made when none of that action's expectations had started and none
   allows early action (a media statement before anyone asked, closing before the wrap-up).
   A premature decision counts for nothing else: it anchors nothing, sets no marker, meets
   no `requires` and, in solo practice, brings in no teammate.
8. score = (sum of weight x credit - sum of penalties) / sum of weight, over the scored
   expectations (met, late, missed), kept within [0, 1]. `coverage` = scored weight /
   (scored weight + open weight). With no scored weight the run is "not rated" (score 0 in
   the numbers, never 100%). `areas` are the credit ratio per action area (penalties lower
   the overall score only).
9. Ratings: HSEEP P (performed without challenges) >= 0.9, S (some challenges) >= 0.7, M
   (major challenges) >= 0.4, else U (unable to perform), per area and overall. A missed or
   late regulatory clock (an expectation with a `regime`) caps its area's rating at M and the
   overall rating at S; `caps` says which clocks did it.
10. Solo practice (the transcript's `mode` is solo): the player's score is their own: the
    expectations their role owns or that any role may meet (met only by the player's decisions
    or those carried out on their delegation), plus one coordination
    expectation per simulated teammate whose work applied ("Bring in ..."): met when the
    player involved that role (see `tabletop.teammates`) by the first deadline of that role's
    work, weight 2. The teammates' own expectations are scored and shown as the team's, but
    never enter the totals, the ratings or the caps; findings count when the player made the
    decision or delegated it.
11. Delegation: a delegated decision counts for the role that carried it out; the result
    records `delegated_by` and `delegation_seconds` (decision time - `delegated_at`).
12. A scorecard carries the run's `conditions` (mode, hints, auto-pause, speed) and the rules
    version the run was played under; a run played under an older version warns that its
    score is computed under this one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tabletop import events as ev
from tabletop.clocks import Anchors, Started, anchor_key, counts_for, deadline, early_allowed
from tabletop.model import SCENARIOS_KEPT, Action, AvoidRule, Expectation, Scenario, deadline_warning
from tabletop.teammates import involved_roles
from tabletop.timing import format_duration, format_offset
from tabletop.transcript import TranscriptRun, read_run

RULES_VERSION = 2
"""The version of these rules; a transcript records the version it was played under.
Version 1 counted the first decision of an action wherever it fell and scored every role in
solo practice."""

MET, LATE, MISSED, NOT_APPLICABLE, OPEN = "met", "late", "missed", "not_applicable", "open"
STATUSES = (MET, LATE, MISSED, OPEN, NOT_APPLICABLE)
COUNTED = (MET, LATE, MISSED)
"""Statuses that enter the totals."""

YOURS, TEAMMATES = "yours", "teammates"
"""Whose an expectation is: the scored player's (or team's), or a simulated teammate's in solo."""

WRONG_OWNER, OUT_OF_ORDER, NO_RATIONALE, WRONG_VALUE = (
    "wrong_owner",
    "out_of_order",
    "no_rationale",
    "wrong_value",
)
FLAGS = (WRONG_OWNER, OUT_OF_ORDER, NO_RATIONALE, WRONG_VALUE)

RATING_BANDS: tuple[tuple[float, str], ...] = ((0.9, "P"), (0.7, "S"), (0.4, "M"), (0.0, "U"))
"""HSEEP P/S/M/U from a ratio: the first band whose floor the ratio reaches."""

RATING_NAMES = {
    "P": "Performed without challenges",
    "S": "Performed with some challenges",
    "M": "Performed with major challenges",
    "U": "Unable to be performed",
    "-": "Not rated",
}
NOT_RATED = "-"
"""The rating of a run (or area) with no scored weight."""

LAW_AREA_CAP, LAW_OVERALL_CAP = "M", "S"
"""A missed or late regulatory clock caps its area at M and the overall rating at S."""

NOT_NOTIFY_FINDING = "not-notify-without-rationale"
REGULATOR_DECISIONS = ("ico_decision", "sa_decision")
"""Decisions whether to notify a supervisory authority (UK ICO; EU lead authority)."""
NOT_NOTIFY_PENALTY = 1.0
"""A decision not to notify the regulator must itself be recorded with its reason (Art 33(5))."""

PREMATURE_FINDING = "premature"
PREMATURE_PENALTY = 1.0
"""A decision before anything called for it, like an avoid rule's default penalty."""

INVOLVE_WEIGHT = 2.0
"""Weight of each solo coordination expectation ("Bring in the DPO")."""


def rating(ratio: float) -> str:
    """The HSEEP rating letter for a ratio in [0, 1] (see RATING_BANDS)."""
    for floor, letter in RATING_BANDS:
        if ratio >= floor:
            return letter
    return "U"


def capped(letter: str, ceiling: str) -> str:
    """The worse of a rating and a ceiling (P best, U worst)."""
    order = "PSMU"
    if letter not in order:
        return letter
    return order[max(order.index(letter), order.index(ceiling))]


def bands_text() -> str:
    """The rating bands in words, for the report and the terminal scorecard."""
    parts = [f"{letter} >= {floor:.0%}" for floor, letter in RATING_BANDS[:-1]]
    return (
        ", ".join(parts)
        + f", else {RATING_BANDS[-1][1]}; a missed or late regulatory clock caps its area at "
        f"{LAW_AREA_CAP} and the whole at {LAW_OVERALL_CAP}"
    )


def conditions_text(conditions: dict[str, Any] | None) -> str:
    """The conditions a run was played under, in words (`solo, hints, speed 60`)."""
    if not conditions:
        return "not recorded"
    parts = [str(conditions.get("mode") or "?")]
    if conditions.get("hints"):
        parts.append("hints")
    if conditions.get("auto_pause"):
        parts.append("auto-pause")
    speed = conditions.get("speed")
    if isinstance(speed, (int, float)):
        parts.append(f"speed {speed:g}")
    return ", ".join(parts)


def _num(value: float | None) -> float | int | None:
    """Whole floats as ints, so JSON reads `1200` not `1200.0`."""
    if value is None:
        return None
    if float(value).is_integer():
        return int(value)
    return round(float(value), 3)


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectationResult:
    """How one expectation fared: status, flags, credit, and the facts that explain them."""

    id: str
    action: str
    title: str
    area: str
    owner: str
    after: str
    within: int
    weight: float
    late_credit: float
    status: str
    flags: tuple[str, ...] = ()
    credit: float = 0.0
    anchor: float | None = None
    deadline: float | None = None
    done_at: float | None = None
    by: str | None = None
    by_name: str | None = None
    decision: str | None = None
    delegated_by: str | None = None
    delegation_seconds: float | None = None
    regime: str | None = None
    source: str = ""
    why: str = ""
    reason: str = ""
    scope: str = YOURS
    revised: tuple[tuple[str, float], ...] = ()
    """Decisions that counted but were replaced by the one in force: (decision id, time)."""
    anchor_derived: bool = False
    """The clock started at the deadline of a duty that was not done, not at an event."""

    @property
    def passed(self) -> bool:
        return self.status == MET and not self.flags

    @property
    def counted(self) -> bool:
        return self.status in COUNTED and self.scope == YOURS

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "action": self.action,
            "status": self.status,
            "flags": list(self.flags),
            "credit": round(self.credit, 4),
            "weight": _num(self.weight),
            "anchor": _num(self.anchor),
            "deadline": _num(self.deadline),
            "done_at": _num(self.done_at),
            "by": self.by,
        }
        data.update(
            {
                "owner": self.owner,
                "after": self.after,
                "area": self.area,
                "title": self.title,
                "delegated_by": self.delegated_by,
                "delegation_seconds": _num(self.delegation_seconds),
                "regime": self.regime,
                "source": self.source,
                "why": self.why,
                "reason": self.reason,
                "scope": self.scope,
                "revised": [{"decision": d, "at": _num(t)} for d, t in self.revised],
                "anchor_derived": self.anchor_derived,
            }
        )
        return data


@dataclass(frozen=True)
class Finding:
    """A penalty: an avoid-rule hit, an unexplained decision not to notify, or a premature decision."""

    id: str
    at: float
    penalty: float
    detail: str
    role: str = ""
    by_name: str = ""
    action: str = ""
    decision: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _num(self.at),
            "penalty": _num(self.penalty),
            "detail": self.detail,
            "role": self.role,
            "action": self.action,
            "decision": self.decision,
        }


@dataclass(frozen=True)
class ClockResult:
    """A regulatory notification clock (an expectation with a `regime`), met, late or missed."""

    id: str
    title: str
    regime: str
    action: str
    rule: str
    source: str
    after: str
    status: str
    anchor: float | None
    deadline: float | None
    done_at: float | None
    by: str | None
    scope: str = YOURS

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "regime": self.regime,
            "action": self.action,
            "rule": self.rule,
            "source": self.source,
            "after": self.after,
            "status": self.status,
            "anchor": _num(self.anchor),
            "deadline": _num(self.deadline),
            "done_at": _num(self.done_at),
            "by": self.by,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class Cap:
    """A rating held down by the law: `area` (None for the overall rating), from what to what, and why."""

    area: str | None
    ceiling: str
    uncapped: str
    clocks: tuple[str, ...]
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "ceiling": self.ceiling,
            "uncapped": self.uncapped,
            "clocks": list(self.clocks),
            "text": self.text,
        }


@dataclass(frozen=True)
class Scorecard:
    """The whole score of a run: totals, per-area ratios and ratings, results, findings, clocks."""

    scenario: str
    title: str
    score: float
    passed: int
    applicable: int
    areas: dict[str, float]
    ratings: dict[str, str]
    rating: str
    expectations: tuple[ExpectationResult, ...]
    findings: tuple[Finding, ...]
    clocks: tuple[ClockResult, ...]
    weight_total: float
    credit_total: float
    penalty_total: float
    ended_at: float
    until: float | None = None
    ended: bool = True
    warnings: tuple[str, ...] = field(default=())
    open_weight: float = 0.0
    caps: tuple[Cap, ...] = ()
    ended_early: bool = False
    solo_role: str | None = None
    conditions: dict[str, Any] | None = None
    rules_version: int = RULES_VERSION
    """The rules version the run was played under (1 for transcripts that predate the field)."""

    @property
    def rated(self) -> bool:
        """False when nothing was scored: the score means nothing and is shown as "not rated"."""
        return self.weight_total > 0

    @property
    def coverage(self) -> float | None:
        """Scored weight / (scored weight + open weight); None when there is neither."""
        whole = self.weight_total + self.open_weight
        return self.weight_total / whole if whole > 0 else None

    def result(self, expectation_id: str) -> ExpectationResult:
        for result in self.expectations:
            if result.id == expectation_id:
                return result
        raise KeyError(expectation_id)

    def by_status(self, status: str) -> list[ExpectationResult]:
        return [r for r in self.expectations if r.status == status]

    def yours(self) -> list[ExpectationResult]:
        return [r for r in self.expectations if r.scope == YOURS]

    def teammates(self) -> list[ExpectationResult]:
        return [r for r in self.expectations if r.scope == TEAMMATES]

    def score_text(self) -> str:
        """`83%`, or `not rated`."""
        return f"{self.score:.0%}" if self.rated else "not rated"

    def to_json(self) -> dict[str, Any]:
        """README "How a rehearsal is scored": the score output, plus ratings, clocks, caps and totals."""
        coverage = self.coverage
        return {
            "scenario": self.scenario,
            "score": round(self.score, 4) if self.rated else None,
            "passed": self.passed,
            "applicable": self.applicable,
            "areas": {k: round(v, 4) for k, v in self.areas.items()},
            "expectations": [r.to_json() for r in self.expectations],
            "findings": [f.to_json() for f in self.findings],
            "title": self.title,
            "rated": self.rated,
            "rating": self.rating,
            "ratings": dict(self.ratings),
            "rating_bands": bands_text(),
            "caps": [c.to_json() for c in self.caps],
            "coverage": round(coverage, 4) if coverage is not None else None,
            "clocks": [c.to_json() for c in self.clocks],
            "weight_total": _num(self.weight_total),
            "open_weight": _num(self.open_weight),
            "credit_total": round(self.credit_total, 4),
            "penalty_total": _num(self.penalty_total),
            "ended_at": _num(self.ended_at),
            "until": _num(self.until),
            "ended": self.ended,
            "ended_early": self.ended_early,
            "solo_role": self.solo_role,
            "conditions": dict(self.conditions) if self.conditions is not None else None,
            "rules_version": self.rules_version,
            "scored_with": RULES_VERSION,
            "warnings": list(self.warnings),
        }


# --- the scorer ----------------------------------------------------------------------------


@dataclass
class _Decision:
    """A decision as the scorer sees it: its place in the transcript, time and event."""

    index: int
    t: float
    event: dict[str, Any]
    premature: bool = False

    @property
    def role(self) -> str:
        return _str(self.event.get("role"))


def _time(event: dict[str, Any]) -> float:
    value = event.get("t", 0.0)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _str(value: Any) -> str:
    """A transcript field that should be text; anything else (a hand-edited file) counts as empty."""
    return value if isinstance(value, str) else ""


def _fields(event: dict[str, Any]) -> dict[str, Any]:
    fields = event.get("fields")
    return fields if isinstance(fields, dict) else {}


def _in_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events by sim time, keeping the recorded order of events at the same time."""
    last = float("-inf")
    for event in events:
        t = _time(event)
        if t < last:
            return sorted(events, key=_time)
        last = t
    return events


def _rationale_required(expectation: Expectation, action: Action | None) -> bool:
    if expectation.rationale is not None:
        return expectation.rationale == "required"
    return action is not None and action.rationale == "required"


def _same_value(expected: Any, received: Any) -> bool:
    if expected == received:
        return True
    if received is None:
        return False
    if isinstance(expected, str) or isinstance(received, str):
        return str(expected).strip().lower() == str(received).strip().lower()
    return False


def _anchor_text(expectation: Expectation) -> str:
    kind, target = expectation.anchor_kind, expectation.anchor_target
    return {
        "start": "the start",
        "inject": f"inject {target}",
        "action": f"{'the latest ' if expectation.from_latest else ''}action {target}",
        "marker": f"marker {target}",
    }[kind]


_Prepared = tuple[
    dict[str, Action], dict[str, list[str]], dict[str, list[AvoidRule]], dict[str, list[Expectation]]
]
_PREPARED: dict[int, tuple[Scenario, _Prepared]] = {}


def _prepared(scenario: Scenario) -> _Prepared:
    """Lookups the scorer needs, built once per Scenario object (scenarios are immutable)."""
    cached = _PREPARED.get(id(scenario))
    if cached is not None and cached[0] is scenario:
        return cached[1]
    avoid_by_action: dict[str, list[AvoidRule]] = {}
    for rule in scenario.avoid:
        for action_id in rule.actions:
            avoid_by_action.setdefault(action_id, []).append(rule)
    expected: dict[str, list[Expectation]] = {}
    for expectation in scenario.expectations:
        expected.setdefault(expectation.action, []).append(expectation)
    prepared: _Prepared = (
        scenario.action_map(),
        {i.id: i.marks for i in scenario.injects if i.marks},
        avoid_by_action,
        expected,
    )
    if len(_PREPARED) >= SCENARIOS_KEPT:
        del _PREPARED[next(iter(_PREPARED))]  # the oldest out
    _PREPARED[id(scenario)] = (scenario, prepared)
    return prepared


def _run_conditions(started: dict[str, Any] | None) -> tuple[dict[str, Any] | None, int]:
    """The conditions and rules version a transcript's `session_started` recorded."""
    if started is None:
        return None, RULES_VERSION
    conditions = started.get("conditions")
    version = started.get("rules_version")
    if not isinstance(version, int) or isinstance(version, bool):
        version = 1
    return (dict(conditions) if isinstance(conditions, dict) else None), version


def score(scenario: Scenario, events: Iterable[dict[str, Any]], *, until: float | None = None) -> Scorecard:
    """Score a run. Pure: the same scenario and events give the same Scorecard anywhere.

    `until` gives the live score: only events at or before `until` are seen, as if the session
    had been stopped there (rule 4). The facilitator's live score and the debrief both call it.
    """
    ordered = _in_order(list(events))
    actions, inject_marks, avoid_by_action, expected = _prepared(scenario)
    started_event = ordered[0] if ordered and ordered[0].get("type") == ev.SESSION_STARTED else None
    conditions, rules_version = _run_conditions(started_event)
    solo_role = _solo_role(scenario, started_event)

    run = _Replay(scenario, inject_marks, solo_role)
    run.replay(ordered, until)
    warnings: list[str] = []
    if until is not None and not run.ended:
        run.end_t = until
    elif until is None and not run.ended and ordered:
        warnings.append("the transcript has no session_ended: scored as stopped at its last event")
    run.checks(run.end_t, inclusive=True)
    end_t = run.end_t
    full = run.ended and (run.end_reason == "duration" or end_t >= scenario.duration)
    final = run.ended or until is None
    ended_early = not full
    projected = _projected(scenario, run.anchors, run.skipped, end_t) if run.ended and ended_early else {}
    warnings += _rule_warnings(scenario, rules_version, warnings)

    context = _Context(
        scenario, actions, run.anchors, run.starts, run.decisions, projected, end_t, ended_early, solo_role
    )
    results = [_evaluate(context, expectation) for expectation in scenario.expectations]
    if solo_role is not None:
        results += _involvement(context, results, run.involved)

    findings = _findings(context, run.all_decisions, avoid_by_action, expected)
    return _totals(
        scenario,
        results,
        findings,
        warnings,
        end_t=end_t,
        until=until,
        final=final,
        ended_early=ended_early,
        solo_role=solo_role,
        conditions=conditions,
        rules_version=rules_version,
    )


def _solo_role(scenario: Scenario, started_event: dict[str, Any] | None) -> str | None:
    """The player's role in a solo run (None in a team run, or when the transcript does not say)."""
    if started_event is None or started_event.get("mode") != "solo":
        return None
    role = started_event.get("solo_role")
    return role if isinstance(role, str) and role in scenario.roles else None


class _Replay:
    """The run replayed in time order: which expectation clocks started when, the decisions,
    who the solo player brought in, what was skipped, and how it ended."""

    def __init__(self, scenario: Scenario, inject_marks: dict[str, list[str]], solo_role: str | None) -> None:
        self.scenario = scenario
        self.inject_marks = inject_marks
        self.solo_role = solo_role
        self.anchors = Anchors(scenario)
        self.starts: dict[str, Started] = {}
        self._heap: list[tuple[float, int, Started]] = []
        self._counter = 0
        self.decisions: dict[str, list[_Decision]] = {}
        self.all_decisions: list[_Decision] = []
        self.involved: dict[str, float] = {}
        self.skipped: set[str] = set()
        self.ended = False
        self.end_reason = ""
        self.end_t = 0.0

    def begin(self, items: list[Started]) -> None:
        for item in items:
            self.starts[item.expectation.id] = item  # a restarted clock (from_latest) replaces the old one
            self._counter += 1
            heapq.heappush(self._heap, (item.due, self._counter, item))

    def checks(self, limit: float, inclusive: bool) -> None:
        """Check every clock due before `limit` (or at it, when `inclusive`)."""
        heap = self._heap
        while heap and (heap[0][0] < limit or (inclusive and heap[0][0] <= limit)):
            _, _, item = heapq.heappop(heap)
            if self.starts.get(item.expectation.id) is not item:
                continue  # restarted since
            _, implied = self.anchors.check(item)
            self.begin(implied)

    def replay(self, ordered: list[dict[str, Any]], until: float | None) -> None:
        """Feed the events in order, up to `until` (None: all of them)."""
        self.begin(self.anchors.start("start", 0.0))
        for index, event in enumerate(ordered):
            t = _time(event)
            if until is not None and t > until:
                break
            self.checks(t, inclusive=False)
            self.end_t = max(self.end_t, t)
            self.feed(index, event, t)

    def feed(self, index: int, event: dict[str, Any], t: float) -> None:
        anchors, begin = self.anchors, self.begin
        kind = event.get("type")
        if kind == ev.DECISION:
            action_id = _str(event.get("action"))
            premature, begun = anchors.decision(action_id, t)
            decision = _Decision(index, t, event, premature)
            self.decisions.setdefault(action_id, []).append(decision)
            self.all_decisions.append(decision)
            begin(begun)
        elif kind == ev.INJECT_RELEASED:
            inject_id = _str(event.get("inject"))
            begin(anchors.start(f"inject:{inject_id}", t))
            for name in self.inject_marks.get(inject_id, ()):
                begin(anchors.start(f"marker:{name}", t))
        elif kind == ev.MARKER_SET:
            # a marker set by a decision is taken from the decision itself (a premature one sets none)
            name = _str(event.get("marker"))
            if name and not _str(event.get("source")).startswith("action:"):
                begin(anchors.start(f"marker:{name}", t))
        elif kind == ev.FACILITATOR and event.get("op") == "skip":
            self.skipped.add(_str(event.get("inject")))
        elif kind == ev.SESSION_ENDED:
            self.ended = True
            self.end_reason = _str(event.get("reason"))
        if self.solo_role is not None and not (
            kind == ev.DECISION and self.decisions[_str(event.get("action"))][-1].premature
        ):
            for role in involved_roles(self.scenario, event, self.solo_role):
                self.involved.setdefault(role, t)


def _projected(scenario: Scenario, anchors: Anchors, skipped: set[str], end_t: float) -> dict[str, float]:
    """A run ended early: when the scheduled injects still to come (and their markers) would
    have started the clocks waiting on them."""
    projected: dict[str, float] = {}
    for inject in scenario.injects:
        key = f"inject:{inject.id}"
        if inject.when is not None or inject.id in skipped or key in anchors.times or inject.at <= end_t:
            continue
        projected.setdefault(key, float(inject.at))
        for name in inject.marks:
            if f"marker:{name}" not in anchors.times:
                marker_key = f"marker:{name}"
                projected[marker_key] = min(projected.get(marker_key, float("inf")), float(inject.at))
    return projected


def _rule_warnings(scenario: Scenario, rules_version: int, warnings: list[str]) -> list[str]:
    """Warnings about the rules the score is computed under (not already in `warnings`):
    deadlines only approximated, an older version of the scoring rules."""
    more: list[str] = []
    for expectation in scenario.expectations:
        approximated = deadline_warning(scenario, expectation)
        if approximated and approximated not in warnings and approximated not in more:
            more.append(approximated)
    if rules_version < RULES_VERSION:
        more.append(
            f"this run was played under scoring rules version {rules_version}; it is scored here under "
            f"version {RULES_VERSION}, so its score may differ from the one shown when it was played"
        )
    return more


@dataclass
class _Context:
    """What `_evaluate` needs to know about the run."""

    scenario: Scenario
    actions: dict[str, Action]
    anchors: Anchors
    starts: dict[str, Started]
    decisions: dict[str, list[_Decision]]
    projected: dict[str, float]
    end_t: float
    ended_early: bool
    solo_role: str | None

    def scope(self, owner: str) -> str:
        if self.solo_role is None or owner in (self.solo_role, "any"):
            return YOURS
        return TEAMMATES


def _evaluate(run: _Context, expectation: Expectation) -> ExpectationResult:
    scenario = run.scenario
    action = run.actions.get(expectation.action)
    area = action.area if action else "other"
    title = expectation.title or (action.title if action else expectation.action)
    owner = expectation.owner or (action.default_owner if action else "any")
    result = partial(
        ExpectationResult,
        id=expectation.id,
        action=expectation.action,
        title=title,
        area=area,
        owner=owner,
        after=expectation.after or "start",
        within=expectation.within,
        weight=expectation.weight,
        late_credit=expectation.late_credit,
        regime=expectation.regime,
        source=expectation.source,
        why=expectation.why,
        scope=run.scope(owner),
    )
    condition = expectation.applies_if
    if condition is not None and condition.field:
        action_id, _, field_name = condition.field.partition(".")
        recorded = [d for d in run.decisions.get(action_id, ()) if not d.premature]
        if not recorded or not condition.holds(_fields(recorded[-1].event).get(field_name)):
            return result(
                status=NOT_APPLICABLE,
                reason=f"not applicable: applies only if {condition.describe()}"
                + (" (yet)" if run.ended_early else ""),
            )
    started = run.starts.get(expectation.id)
    if started is None:
        key = anchor_key(expectation)
        if key in run.projected:
            anchor = run.projected[key]
            due = deadline(scenario, expectation, anchor)
            return result(
                status=OPEN,
                anchor=anchor,
                deadline=due,
                reason=f"open: the session ended at {format_offset(run.end_t)}, before "
                f"{_anchor_text(expectation)} (due at {format_offset(anchor)}); due by {format_offset(due)}",
            )
        never = {
            "inject": "was never released",
            "action": "was never recorded, and no expectation called for it",
            "marker": "was never set",
            "start": "",
        }[expectation.anchor_kind]
        return result(
            status=NOT_APPLICABLE,
            reason=f"not applicable: {_anchor_text(expectation)} {never}"
            + (" (yet)" if run.ended_early else ""),
        )
    anchor, due = started.anchor, started.due
    start_note = ""
    if started.derived:
        start_note = (
            f"its clock started at {format_offset(anchor)}, when {_anchor_text(expectation)} "
            "was due and not done; "
        )
    early = early_allowed(expectation, run.actions)
    candidates = run.decisions.get(expectation.action, [])
    if run.solo_role is not None and run.scope(owner) == YOURS:
        # the player's own work: decided by them or carried out on their delegation
        candidates = [d for d in candidates if run.solo_role in (d.role, d.event.get("delegated_by"))]
    in_force = [d for d in candidates if counts_for(d.t, anchor, due, early)]
    revised: tuple[tuple[str, float], ...] = ()
    if in_force:
        graded = in_force[-1]
        revised = tuple((_str(d.event.get("id")), d.t) for d in in_force[:-1])
        status = MET
    else:
        late = [d for d in candidates if d.t > due]
        if not late:
            if due > run.end_t and run.ended_early:
                return result(
                    status=OPEN,
                    anchor=anchor,
                    deadline=due,
                    anchor_derived=started.derived,
                    reason=f"open: {start_note}due by {format_offset(due)}, after the session "
                    f"stopped at {format_offset(run.end_t)}",
                )
            early_ones = [d for d in candidates if d.t < anchor]
            before = (
                f"; recorded only before {_anchor_text(expectation)} (at {format_offset(early_ones[0].t)}), "
                "which does not count"
                if early_ones
                else ""
            )
            return result(
                status=MISSED,
                anchor=anchor,
                deadline=due,
                anchor_derived=started.derived,
                reason=f"missed: {start_note}no '{title}' recorded from {format_offset(anchor)} to "
                f"{format_offset(due)}{before}: credit 0",
            )
        graded = late[0]
        status = LATE

    event = graded.event
    role = graded.role
    flags: list[str] = []
    notes: list[str] = []
    if owner != "any" and role != owner:
        flags.append(WRONG_OWNER)
        notes.append(f"done by {role or 'no role'}, expected {owner}")
    for required in expectation.requires:
        if not any(d.index < graded.index and not d.premature for d in run.decisions.get(required, ())):
            flags.append(OUT_OF_ORDER)
            notes.append(f"{required} not recorded before it")
            break
    if _rationale_required(expectation, action) and not str(event.get("rationale") or "").strip():
        flags.append(NO_RATIONALE)
        notes.append("rationale required but empty")
    fields = _fields(event)
    wrong = [k for k, v in expectation.value.items() if not _same_value(v, fields.get(k))]
    if wrong:
        flags.append(WRONG_VALUE)
        notes.append(
            "; ".join(
                f"{k} was {fields.get(k, 'not given')!r}, expected {expectation.value[k]!r}" for k in wrong
            )
        )

    if status == MET:
        credit = 1.0
        reason = f"{start_note}met at {format_offset(graded.t)} (due {format_offset(due)})"
        if revised:
            reason += f", revising {len(revised)} earlier decision{'s' if len(revised) > 1 else ''}"
        base_text = "full credit"
    else:
        credit = expectation.late_credit
        reason = (
            f"{start_note}late by {format_duration(graded.t - due)} at {format_offset(graded.t)} "
            f"(due {format_offset(due)})"
        )
        base_text = f"late credit {expectation.late_credit:g}"
    if flags:
        reason += "; " + ", ".join(f"{flag} ({note})" for flag, note in zip(flags, notes, strict=False))
    if WRONG_VALUE in flags:
        credit = 0.0
        reason += ": credit 0"
    else:
        for _ in flags:
            credit /= 2
        if flags:
            times = "once" if len(flags) == 1 else f"{len(flags)} times"
            reason += f": {base_text} halved {times} = {credit:g}"
        else:
            reason += f": {base_text}" if status == LATE else ": credit 1"

    delegated_at = event.get("delegated_at")
    delegation_seconds = (
        graded.t - float(delegated_at)
        if isinstance(delegated_at, (int, float)) and not isinstance(delegated_at, bool)
        else None
    )
    return result(
        status=status,
        flags=tuple(flags),
        credit=credit,
        anchor=anchor,
        deadline=due,
        done_at=graded.t,
        by=role or None,
        by_name=event.get("by") or None,
        decision=event.get("id"),
        delegated_by=event.get("delegated_by") or None,
        delegation_seconds=delegation_seconds,
        revised=revised,
        anchor_derived=started.derived,
        reason=reason,
    )


def _involvement(
    run: _Context, results: list[ExpectationResult], involved: dict[str, float]
) -> list[ExpectationResult]:
    """Solo practice: one "Bring in ..." expectation per simulated teammate whose work applied."""
    out: list[ExpectationResult] = []
    player = run.solo_role or ""
    for role in run.scenario.roles:
        if role == player:
            continue
        work = [
            r
            for r in results
            if r.scope == TEAMMATES and r.owner == role and r.anchor is not None and r.deadline is not None
        ]
        if not work:
            continue
        first = min(work, key=lambda r: (r.deadline, r.anchor))
        anchor = min(r.anchor for r in work if r.anchor is not None)
        due = first.deadline or 0.0
        title = f"Bring in the {run.scenario.role_title(role).lower()}"
        result = partial(
            ExpectationResult,
            id=f"solo-involve-{role}",
            action="",
            title=title,
            area="coordination",
            owner=player,
            after=f"role:{role}",
            within=int(due - anchor),
            weight=INVOLVE_WEIGHT,
            late_credit=0.5,
            why=(
                f"In solo practice the simulated {run.scenario.role_title(role).lower()} does their own "
                "work once you bring them in (delegate to them, or record the action they answer); "
                f"their first duty here is '{first.title}', due {format_offset(due)}."
            ),
            scope=YOURS,
        )
        at = involved.get(role)
        if at is not None and at <= due:
            out.append(
                result(
                    status=MET,
                    credit=1.0,
                    anchor=anchor,
                    deadline=due,
                    done_at=at,
                    by=player,
                    reason=f"met: brought in at {format_offset(at)} (due {format_offset(due)}): credit 1",
                )
            )
        elif at is not None:
            out.append(
                result(
                    status=LATE,
                    credit=0.5,
                    anchor=anchor,
                    deadline=due,
                    done_at=at,
                    by=player,
                    reason=f"late by {format_duration(at - due)}: brought in at {format_offset(at)} "
                    f"(due {format_offset(due)}): late credit 0.5",
                )
            )
        elif due > run.end_t and run.ended_early:
            out.append(
                result(
                    status=OPEN,
                    anchor=anchor,
                    deadline=due,
                    reason=f"open: due by {format_offset(due)}, after the session stopped",
                )
            )
        else:
            out.append(
                result(
                    status=MISSED,
                    anchor=anchor,
                    deadline=due,
                    reason=f"missed: never brought in (due {format_offset(due)}): credit 0",
                )
            )
    return out


def _findings(
    run: _Context,
    all_decisions: list[_Decision],
    avoid_by_action: dict[str, list[AvoidRule]],
    expected: dict[str, list[Expectation]],
) -> list[Finding]:
    scenario = run.scenario
    findings: list[Finding] = []
    for decision in all_decisions:
        event, t, role = decision.event, decision.t, decision.role
        if run.solo_role is not None and run.solo_role not in (role, event.get("delegated_by")):
            continue  # a simulated teammate's own doing
        action_id = _str(event.get("action"))
        action = run.actions.get(action_id)
        title = action.title if action else action_id
        finding = partial(
            Finding,
            at=t,
            role=role,
            by_name=event.get("by") or "",
            action=action_id,
            decision=event.get("id"),
        )
        for rule in avoid_by_action.get(action_id, ()):
            if rule.role is None or rule.role == role:
                detail = rule.detail or (
                    f"{scenario.role_title(role)} recorded '{title}' ({action_id}), "
                    f"an action rule {rule.id} says to avoid"
                )
                findings.append(finding(id=rule.id, penalty=rule.penalty, detail=detail))
        if action_id in REGULATOR_DECISIONS:
            outcome = str(_fields(event).get("outcome", "")).strip().lower()
            unexplained = not str(event.get("rationale") or "").strip()
            if outcome in ("not_notify", "not notify", "no") and unexplained:
                findings.append(
                    finding(
                        id=NOT_NOTIFY_FINDING,
                        penalty=NOT_NOTIFY_PENALTY,
                        detail="decision not to notify the regulator recorded without a "
                        "rationale (the reason must be recorded: GDPR Art 33(5))",
                    )
                )
        if not decision.premature:
            continue
        wanted = expected[action_id]
        first = min(wanted, key=lambda e: run.anchors.times.get(anchor_key(e), float("inf")))
        findings.append(
            finding(
                id=PREMATURE_FINDING,
                penalty=PREMATURE_PENALTY,
                detail=f"'{title}' recorded at {format_offset(t)}, before anything called for it: it is "
                f"expected after {_anchor_text(first)} ('{first.title or title}'), which had not happened",
            )
        )
    return findings


def _totals(
    scenario: Scenario,
    results: list[ExpectationResult],
    findings: list[Finding],
    warnings: list[str],
    *,
    end_t: float,
    until: float | None,
    final: bool,
    ended_early: bool,
    solo_role: str | None,
    conditions: dict[str, Any] | None,
    rules_version: int,
) -> Scorecard:
    weight_total = credit_total = open_weight = 0.0
    area_weight: dict[str, float] = {}
    area_credit: dict[str, float] = {}
    passed = applicable = 0
    for result in results:
        if result.scope != YOURS:
            continue
        if result.status == OPEN:
            open_weight += result.weight
        if not result.counted:
            continue
        applicable += 1
        passed += result.passed
        weight_total += result.weight
        credit_total += result.weight * result.credit
        area_weight[result.area] = area_weight.get(result.area, 0.0) + result.weight
        area_credit[result.area] = area_credit.get(result.area, 0.0) + result.weight * result.credit
    penalty_total = sum(f.penalty for f in findings)
    total = (credit_total - penalty_total) / weight_total if weight_total > 0 else 0.0
    total = min(1.0, max(0.0, total))
    areas = {area: area_credit[area] / w for area, w in sorted(area_weight.items()) if w > 0}
    ratings = {area: rating(ratio) for area, ratio in areas.items()}
    overall = rating(total) if weight_total > 0 else NOT_RATED

    caps: list[Cap] = []
    broken = [r for r in results if r.regime and r.counted and r.status in (MISSED, LATE)]
    by_area: dict[str, list[ExpectationResult]] = {}
    for result in broken:
        by_area.setdefault(result.area, []).append(result)
    for area, late_clocks in sorted(by_area.items()):
        letter = ratings.get(area)
        if letter is None:
            continue
        ratings[area] = capped(letter, LAW_AREA_CAP)
        caps.append(
            Cap(
                area=area,
                ceiling=LAW_AREA_CAP,
                uncapped=letter,
                clocks=tuple(r.id for r in late_clocks),
                text=f"{area.replace('_', ' ')} rated at most {LAW_AREA_CAP}: "
                + "; ".join(f"{r.title} ({r.source or r.regime}) was {r.status}" for r in late_clocks),
            )
        )
    if broken and overall != NOT_RATED:
        uncapped, overall = overall, capped(overall, LAW_OVERALL_CAP)
        caps.append(
            Cap(
                area=None,
                ceiling=LAW_OVERALL_CAP,
                uncapped=uncapped,
                clocks=tuple(r.id for r in broken),
                text=f"overall rated at most {LAW_OVERALL_CAP}: a regulatory clock was missed or late "
                f"({', '.join(r.id for r in broken)}); P means performed in line with the laws as well",
            )
        )

    clocks = tuple(
        ClockResult(
            id=r.id,
            title=r.title,
            regime=r.regime or "",
            action=r.action,
            rule=r.why or r.title,
            source=r.source,
            after=r.after,
            status=r.status,
            anchor=r.anchor,
            deadline=r.deadline,
            done_at=r.done_at,
            by=r.by,
            scope=r.scope,
        )
        for r in results
        if r.regime
    )
    return Scorecard(
        scenario=scenario.id,
        title=scenario.title,
        score=total,
        passed=passed,
        applicable=applicable,
        areas=areas,
        ratings=ratings,
        rating=overall,
        expectations=tuple(results),
        findings=tuple(findings),
        clocks=clocks,
        weight_total=weight_total,
        credit_total=credit_total,
        penalty_total=penalty_total,
        ended_at=end_t,
        until=until,
        ended=final,
        warnings=tuple(warnings),
        open_weight=open_weight,
        caps=tuple(caps),
        ended_early=ended_early,
        solo_role=solo_role,
        conditions=conditions,
        rules_version=rules_version,
    )


def open_if_ended(scenario: Scenario, events: Iterable[dict[str, Any]], at: float) -> list[ExpectationResult]:
    """What would be `open` (not scored) if the session were ended at `at`: the end dialog's list."""
    stopped = [e for e in _in_order(list(events)) if _time(e) <= at]
    stopped.append({"type": ev.SESSION_ENDED, "t": at, "reason": "facilitator"})
    card = score(scenario, stopped)
    return [r for r in card.expectations if r.status == OPEN and r.scope == YOURS]


# --- transcripts ---------------------------------------------------------------------------


def score_transcript(path: str | Path) -> tuple[Scenario, Scorecard, list[str]]:
    """Read a transcript and score it with the scenario embedded in its session_started line."""
    run = read_run(path, verify=False)  # the verdict is not used here: the chain is not checked
    card, warnings = score_run(run)
    return run.scenario, card, warnings


def score_run(run: TranscriptRun) -> tuple[Scorecard, list[str]]:
    """Score a transcript already read (`read_run`), with the read's warnings before the score's."""
    card = score(run.scenario, run.events)
    return card, list(run.warnings) + [w for w in card.warnings if w not in run.warnings]
