"""Score a rehearsal: a pure function of (scenario, transcript events) returning a Scorecard.

The rules are DESIGN.md "Scoring semantics", applied line by line:

1. An expectation applies only if its anchor happened: `start` always; `inject:ID` when that
   inject was released; `action:ID` when that action was first recorded (a `decision`);
   `marker:NAME` when the marker was first set (a `marker_set` event, an inject's `marks`, or
   a decision whose action `sets_marker`, whichever came first). Otherwise it is
   `not_applicable` and left out of every total.
2. Deadline = anchor + `within`. With `business_days`, whole days of `within` are counted as
   business days (Monday to Friday) from the anchor's date-time, computed from the scenario's
   `starts_at`; a scenario without `starts_at` has no calendar, so its business days are
   counted as calendar days and the scorecard carries a warning saying so.
3. The FIRST decision with the expectation's action counts, even one made before the anchor.
   `met` if it is at or before the deadline, `late` if after, `missed` if there is none by the
   end of the session. With `until` (a live score) the same rules see only the events up to
   `until`, and an undone expectation whose deadline is still ahead is `open`: shown, but left
   out of the totals, like `not_applicable`, until it is met or its deadline passes.
4. Flags on a met or late decision: `wrong_owner` (its role is not the owner, unless the
   owner is `any`), `out_of_order` (a `requires` action was not recorded before it),
   `no_rationale` (rationale required by the expectation, or by the action when the
   expectation does not say, and empty), `wrong_value` (a `value` field differs).
5. Credit: missed or wrong_value = 0; met = 1; late = late_credit; each other flag halves it.
   An expectation passes when met with no flags.
6. score = (sum of weight x credit - sum of avoid-rule penalties) / sum of weight over the
   applicable expectations, kept within [0, 1]. With no applicable weight the score is 1.0,
   or 0.0 if there is any penalty. `areas` are the credit ratio per action area (penalties
   lower the overall score only: an avoid rule is about who acted, not about an area).
7. Findings: every decision whose role matches an avoid rule's role (any role when the rule
   has none) and whose action is in the rule's `actions`; a delegated decision counts for the
   role that carried it out. A decision not to notify the regulator (`ico_decision` with
   outcome `not_notify`) recorded without a rationale is a finding too (penalty 1); so is
   `sa_decision`, its EU GDPR counterpart.
8. Delegation: a delegated decision counts for the role that did it; the result records
   `delegated_by` and `delegation_seconds` (decision time - `delegated_at`).

HSEEP capability ratings per area use these bands on the area ratio: P (performed without
challenges) >= 0.9, S (some challenges) >= 0.7, M (major challenges) >= 0.4, else U (unable
to perform).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterable

from tabletop import events as ev
from tabletop.model import Action, Expectation, Scenario
from tabletop.problems import show
from tabletop.timing import add_business_days, format_duration, format_offset

MET, LATE, MISSED, NOT_APPLICABLE, OPEN = "met", "late", "missed", "not_applicable", "open"
STATUSES = (MET, LATE, MISSED, OPEN, NOT_APPLICABLE)
COUNTED = (MET, LATE, MISSED)
"""Statuses that enter the totals."""

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
}

NOT_NOTIFY_FINDING = "not-notify-without-rationale"
REGULATOR_DECISIONS = ("ico_decision", "sa_decision")
"""Decisions whether to notify a supervisory authority (UK ICO; EU lead authority)."""
NOT_NOTIFY_PENALTY = 1.0
"""A decision not to notify the regulator must itself be recorded with its reason (Art 33(5))."""


def rating(ratio: float) -> str:
    """The HSEEP rating letter for a ratio in [0, 1] (see RATING_BANDS)."""
    for floor, letter in RATING_BANDS:
        if ratio >= floor:
            return letter
    return "U"


def bands_text() -> str:
    """The rating bands in words, for the report and the terminal scorecard."""
    parts = [f"{letter} >= {floor:.0%}" for floor, letter in RATING_BANDS[:-1]]
    return ", ".join(parts) + f", else {RATING_BANDS[-1][1]}"


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

    @property
    def passed(self) -> bool:
        return self.status == MET and not self.flags

    @property
    def counted(self) -> bool:
        return self.status in COUNTED

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
                "reason": self.reason,
            }
        )
        return data


@dataclass(frozen=True)
class Finding:
    """An avoid-rule hit (or an unexplained decision not to notify), with its penalty."""

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

    def result(self, expectation_id: str) -> ExpectationResult:
        for result in self.expectations:
            if result.id == expectation_id:
                return result
        raise KeyError(expectation_id)

    def by_status(self, status: str) -> list[ExpectationResult]:
        return [r for r in self.expectations if r.status == status]

    def to_json(self) -> dict[str, Any]:
        """DESIGN.md "Score output", plus ratings, clocks, warnings and totals."""
        return {
            "scenario": self.scenario,
            "score": round(self.score, 4),
            "passed": self.passed,
            "applicable": self.applicable,
            "areas": {k: round(v, 4) for k, v in self.areas.items()},
            "expectations": [r.to_json() for r in self.expectations],
            "findings": [f.to_json() for f in self.findings],
            "title": self.title,
            "rating": self.rating,
            "ratings": dict(self.ratings),
            "rating_bands": bands_text(),
            "clocks": [c.to_json() for c in self.clocks],
            "weight_total": _num(self.weight_total),
            "credit_total": round(self.credit_total, 4),
            "penalty_total": _num(self.penalty_total),
            "ended_at": _num(self.ended_at),
            "until": _num(self.until),
            "ended": self.ended,
            "warnings": list(self.warnings),
        }


# --- the scorer ----------------------------------------------------------------------------


@dataclass
class _Done:
    """The first decision recorded for an action."""

    index: int
    t: float
    event: dict[str, Any]


def _time(event: dict[str, Any]) -> float:
    value = event.get("t", 0.0)
    return float(value) if isinstance(value, (int, float)) else 0.0


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


def _deadline(scenario: Scenario, expectation: Expectation, anchor: float, warnings: list[str]) -> float:
    if not expectation.business_days:
        return anchor + expectation.within
    days, rest = divmod(expectation.within, 86400)
    if scenario.starts_at is None:
        message = (
            f"expectation {expectation.id!r} counts business days but the scenario has no "
            "starts_at: counted as calendar days"
        )
        if message not in warnings:
            warnings.append(message)
        return anchor + expectation.within
    start = scenario.starts_at + timedelta(seconds=anchor)
    due = add_business_days(start, days) + timedelta(seconds=rest)
    return (due - scenario.starts_at).total_seconds()


def _anchor_text(expectation: Expectation) -> str:
    kind, target = expectation.anchor_kind, expectation.anchor_target
    return {
        "start": "the start",
        "inject": f"inject {target}",
        "action": f"action {target}",
        "marker": f"marker {target}",
    }[kind]


_PREPARED: dict[int, tuple[Scenario, tuple[Any, ...]]] = {}


def _prepared(scenario: Scenario) -> tuple[dict[str, Action], dict[str, list[str]], dict[str, list]]:
    """Lookups the scorer needs, built once per Scenario object (scenarios are immutable)."""
    cached = _PREPARED.get(id(scenario))
    if cached is not None and cached[0] is scenario:
        return cached[1]  # type: ignore[return-value]
    avoid_by_action: dict[str, list] = {}
    for rule in scenario.avoid:
        for action_id in rule.actions:
            avoid_by_action.setdefault(action_id, []).append(rule)
    prepared = (scenario.action_map(), {i.id: i.marks for i in scenario.injects if i.marks}, avoid_by_action)
    if len(_PREPARED) >= 32:
        _PREPARED.clear()
    _PREPARED[id(scenario)] = (scenario, prepared)
    return prepared


def score(scenario: Scenario, events: Iterable[dict[str, Any]], *, until: float | None = None) -> Scorecard:
    """Score a run. Pure: the same scenario and events give the same Scorecard anywhere.

    `until` gives the live score: only events at or before `until` are seen, and undone
    expectations whose deadline is still ahead are `open`.
    """
    ordered = _in_order(list(events))
    actions, inject_marks, avoid_by_action = _prepared(scenario)

    released: dict[str, float] = {}
    markers: dict[str, float] = {}
    first: dict[str, _Done] = {}
    findings: list[Finding] = []
    warnings: list[str] = []
    ended = False
    end_t = 0.0

    def mark(name: str, t: float) -> None:
        if name not in markers or t < markers[name]:
            markers[name] = t

    for index, event in enumerate(ordered):
        t = _time(event)
        if until is not None and t > until:
            continue
        if t > end_t:
            end_t = t
        kind = event.get("type")
        if kind == ev.DECISION:
            action_id = _str(event.get("action"))
            if action_id not in first:
                first[action_id] = _Done(index, t, event)
            action = actions.get(action_id)
            if action is not None and action.sets_marker:
                mark(action.sets_marker, t)
            role = _str(event.get("role"))
            for rule in avoid_by_action.get(action_id, ()):
                if rule.role is None or rule.role == role:
                    title = action.title if action else action_id
                    detail = rule.detail or (
                        f"{scenario.role_title(role)} recorded '{title}' ({action_id}), "
                        f"an action rule {rule.id} says to avoid"
                    )
                    findings.append(
                        Finding(
                            id=rule.id,
                            at=t,
                            penalty=rule.penalty,
                            detail=detail,
                            role=role,
                            by_name=event.get("by") or "",
                            action=action_id,
                            decision=event.get("id"),
                        )
                    )
            if action_id in REGULATOR_DECISIONS:
                outcome = str(_fields(event).get("outcome", "")).strip().lower()
                if (
                    outcome in ("not_notify", "not notify", "no")
                    and not str(event.get("rationale") or "").strip()
                ):
                    findings.append(
                        Finding(
                            id=NOT_NOTIFY_FINDING,
                            at=t,
                            penalty=NOT_NOTIFY_PENALTY,
                            detail="decision not to notify the regulator recorded without a "
                            "rationale (the reason must be recorded: GDPR Art 33(5))",
                            role=role,
                            by_name=event.get("by") or "",
                            action=action_id,
                            decision=event.get("id"),
                        )
                    )
        elif kind == ev.INJECT_RELEASED:
            inject_id = _str(event.get("inject"))
            if inject_id not in released:
                released[inject_id] = t
            for name in inject_marks.get(inject_id, ()):
                mark(name, t)
        elif kind == ev.MARKER_SET:
            name = _str(event.get("marker"))
            if name:
                mark(name, t)
        elif kind == ev.SESSION_ENDED:
            ended = True

    if until is not None and not ended:
        end_t = until
        final = False
    elif until is not None:  # the session ended before `until`: the live score is the final one
        final = True
    else:
        final = True
        if not ended and ordered:
            warnings.append("the transcript has no session_ended: scored as ended at its last event")

    results: list[ExpectationResult] = []
    for expectation in scenario.expectations:
        results.append(
            _evaluate(scenario, expectation, actions, released, markers, first, end_t, final, warnings)
        )

    weight_total = credit_total = 0.0
    area_weight: dict[str, float] = {}
    area_credit: dict[str, float] = {}
    passed = applicable = 0
    for result in results:
        if not result.counted:
            continue
        applicable += 1
        passed += result.passed
        weight_total += result.weight
        credit_total += result.weight * result.credit
        area_weight[result.area] = area_weight.get(result.area, 0.0) + result.weight
        area_credit[result.area] = area_credit.get(result.area, 0.0) + result.weight * result.credit
    penalty_total = sum(f.penalty for f in findings)
    if weight_total > 0:
        total = (credit_total - penalty_total) / weight_total
    else:
        total = 0.0 if penalty_total > 0 else 1.0
    total = min(1.0, max(0.0, total))
    areas = {area: (area_credit[area] / w if w > 0 else 1.0) for area, w in sorted(area_weight.items())}
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
        ratings={area: rating(ratio) for area, ratio in areas.items()},
        rating=rating(total),
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
    )


def _evaluate(
    scenario: Scenario,
    expectation: Expectation,
    actions: dict[str, Action],
    released: dict[str, float],
    markers: dict[str, float],
    first: dict[str, _Done],
    end_t: float,
    final: bool,
    warnings: list[str],
) -> ExpectationResult:
    action = actions.get(expectation.action)
    area = action.area if action else "other"
    title = expectation.title or (action.title if action else expectation.action)
    owner = expectation.owner or (action.default_owner if action else "any")
    base = dict(
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
    )
    kind, target = expectation.anchor_kind, expectation.anchor_target
    if kind == "start":
        anchor: float | None = 0.0
    elif kind == "inject":
        anchor = released.get(target or "")
    elif kind == "action":
        done = first.get(target or "")
        anchor = done.t if done else None
    else:
        anchor = markers.get(target or "")
    if anchor is None:
        never = {
            "inject": "was never released",
            "action": "was never recorded",
            "marker": "was never set",
        }[kind]
        return ExpectationResult(
            **base,
            status=NOT_APPLICABLE,
            reason=f"not applicable: {_anchor_text(expectation)} {never}" + ("" if final else " (yet)"),
        )
    deadline = _deadline(scenario, expectation, anchor, warnings)
    done = first.get(expectation.action)
    if done is None:
        if not final and deadline > end_t:
            return ExpectationResult(
                **base,
                status=OPEN,
                anchor=anchor,
                deadline=deadline,
                reason=f"open: due by {format_offset(deadline)}",
            )
        return ExpectationResult(
            **base,
            status=MISSED,
            anchor=anchor,
            deadline=deadline,
            reason=f"missed: no '{title}' recorded by {format_offset(end_t)} "
            f"(due {format_offset(deadline)}): credit 0",
        )

    event = done.event
    role = _str(event.get("role"))
    status = MET if done.t <= deadline else LATE
    flags: list[str] = []
    notes: list[str] = []
    if owner != "any" and role != owner:
        flags.append(WRONG_OWNER)
        notes.append(f"done by {role or 'no role'}, expected {owner}")
    for required in expectation.requires:
        before = first.get(required)
        if before is None or before.index > done.index:
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
        reason = f"met at {format_offset(done.t)} (due {format_offset(deadline)})"
        base_text = "full credit"
    else:
        credit = expectation.late_credit
        reason = f"late by {format_duration(done.t - deadline)} at {format_offset(done.t)} (due {format_offset(deadline)})"
        base_text = f"late credit {expectation.late_credit:g}"
    if flags:
        reason += "; " + ", ".join(f"{flag} ({note})" for flag, note in zip(flags, notes))
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
    delegation_seconds = done.t - float(delegated_at) if isinstance(delegated_at, (int, float)) else None
    return ExpectationResult(
        **base,
        status=status,
        flags=tuple(flags),
        credit=credit,
        anchor=anchor,
        deadline=deadline,
        done_at=done.t,
        by=role or None,
        by_name=event.get("by") or None,
        decision=event.get("id"),
        delegated_by=event.get("delegated_by") or None,
        delegation_seconds=delegation_seconds,
        reason=reason,
    )


# --- transcripts ---------------------------------------------------------------------------


class TranscriptError(ValueError):
    """A transcript that cannot be scored; the message names the file and line."""


@dataclass(frozen=True)
class TranscriptRun:
    """A transcript read for scoring: its embedded scenario, its events, and what looked off."""

    path: Path
    scenario: Scenario
    events: list[dict[str, Any]]
    warnings: tuple[str, ...]

    @property
    def started(self) -> dict[str, Any]:
        return self.events[0]


try:  # orjson parses transcript lines about 2-3x faster than the standard library
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    _fast_loads = json.loads


def _loads(line: str | bytes) -> Any:
    """One transcript line as JSON: orjson first, the standard library for what orjson refuses
    (NaN, integers beyond 64 bits) and for its precise error message."""
    try:
        return _fast_loads(line)
    except ValueError:
        return json.loads(line)


def _json_problem(error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at column {error.colno}"
    return str(error).split("\n")[0] or type(error).__name__


def _check_time(path: Path, number: int, event: dict[str, Any]) -> None:
    if "t" not in event:
        return  # `tabletop verify` names a line without its time; the scorer reads it as 0
    t = event.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0 <= t <= MAX_T):
        raise TranscriptError(
            f"{path}:{number}: key 't': expected the sim time as a finite number of seconds, at least 0, "
            f"received {show(t)}"
        )


MAX_T = 10 * 366 * 86400
"""No rehearsal covers more than ten years of sim time."""


def read_run(path: str | Path) -> TranscriptRun:
    """Read a transcript for scoring, once and fast (no hash-chain check: `tabletop verify` does that).

    Only a regular file is read, line by line (at most `tabletop.files.MAX_TRANSCRIPT_BYTES`).
    A torn last line (a crash mid-write) is skipped with a warning; any other unreadable line,
    a `t` that is not a finite number of seconds, or a missing or invalid embedded scenario,
    raises TranscriptError naming file and line.
    """
    from tabletop.files import MAX_TRANSCRIPT_BYTES, MAX_TRANSCRIPT_LINE, open_regular

    path = Path(path)
    warnings: list[str] = []
    events: list[dict[str, Any]] = []
    loads = _loads
    try:
        handle = open_regular(path, limit=MAX_TRANSCRIPT_BYTES, what="transcript")
    except OSError as error:
        raise TranscriptError(f"{path}: cannot read the transcript ({error})") from None
    pending: tuple[int, str] | None = None  # a bad line is fatal unless it is the last one
    with handle:
        number = 0
        while True:
            raw = handle.readline(MAX_TRANSCRIPT_LINE + 1)
            if not raw:
                break
            number += 1
            if len(raw) > MAX_TRANSCRIPT_LINE:
                raise TranscriptError(f"{path}:{number}: line longer than {MAX_TRANSCRIPT_LINE:,} bytes")
            if not raw.strip():
                continue
            if pending is not None:
                raise TranscriptError(pending[1])
            try:
                event = loads(raw)
            except (ValueError, RecursionError) as error:
                pending = (number, f"{path}:{number}: not valid JSON ({_json_problem(error)})")
                continue
            if not isinstance(event, dict):
                raise TranscriptError(
                    f"{path}:{number}: expected a JSON object, received {type(event).__name__}"
                )
            _check_time(path, number, event)
            events.append(event)
    if pending is not None:
        if not events:
            raise TranscriptError(pending[1])
        warnings.append(f"{path}:{pending[0]}: torn last line skipped (the run was interrupted mid-write)")
    if not events:
        raise TranscriptError(f"{path}: empty transcript (expected a session_started line first)")
    started = events[0]
    if started.get("type") != ev.SESSION_STARTED:
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
    except Exception as error:  # pydantic ValidationError: report the first problem plainly
        first_error = getattr(error, "errors", lambda: [])()
        if first_error:
            where = ".".join(str(p) for p in first_error[0].get("loc", ()))
            message = first_error[0].get("msg", str(error))
            raise TranscriptError(f"{path}:1: key 'scenario.{where}': {message}") from None
        raise TranscriptError(f"{path}:1: key 'scenario': {error}") from None
    warnings.extend(_scenario_drift(path, started))
    return TranscriptRun(path=path, scenario=scenario, events=events, warnings=tuple(warnings))


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
    _EMBEDDED.insert(0, (fingerprint, pickle.loads(pickle.dumps(data, pickle.HIGHEST_PROTOCOL)), scenario))
    del _EMBEDDED[_EMBEDDED_KEEP:]
    return scenario


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str | None:
    """SHA-256 of a file, remembered by (path, mtime, size) so a folder run reads it once."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    digest = _FILE_HASHES.get(key)
    if digest is None:
        from tabletop.files import sha256_of

        digest = sha256_of(path)  # a regular file of at most 5 MB: never /dev/zero or a FIFO
        if digest is None:
            return None
        if len(_FILE_HASHES) > 256:
            _FILE_HASHES.clear()
        _FILE_HASHES[key] = digest
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
        digest = _file_sha256(option)
        if digest is None:
            continue
        if digest != recorded:
            return [f"scenario file {source} has changed since this run; scored with the embedded copy"]
        return []
    return []


def score_transcript(path: str | Path) -> tuple[Scenario, Scorecard, list[str]]:
    """Read a transcript and score it with the scenario embedded in its session_started line."""
    run = read_run(path)
    card = score(run.scenario, run.events)
    warnings = list(run.warnings) + [w for w in card.warnings if w not in run.warnings]
    return run.scenario, card, warnings
