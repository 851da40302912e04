"""Score a rehearsal: a pure function of (scenario, transcript events) returning a Scorecard.

The rules (the README's "How a rehearsal is scored", in full), applied line by line:

1. An expectation applies only if its anchor happened and its `applies_if` holds (a field
   condition reads the decision in force: the latest one of that action recorded). Anchors:
   `start` always; `inject:ID` when that inject was released; `action:ID` when that action
   was first recorded (a `decision`; with `from_latest`, the latest one recorded at or before
   the expectation's own decision: `model.action_anchor`); `marker:NAME` when the marker was first set (a `marker_set`
   event, an inject's `marks`, or a decision whose action `sets_marker`; whichever came
   first). Otherwise it is `not_applicable` and left
   out of every total.
2. Deadline = anchor + `within`, on the expectation's calendar (`model.expectation_deadline`,
   the one rule the engine's branches and every view share):
   `months` count to the corresponding date, `business_days` skip weekends and the regime's
   holidays, `day_end` ends the deadline at the end of that day in the regime's time zone,
   `roll` moves a due date off a weekend or holiday. Calendar limits need the scenario's
   `starts_at`; without it a month counts as 30 days and business days as calendar days,
   and the scorecard carries a warning saying so.
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

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tabletop import events as ev
from tabletop.model import (
    Action,
    AvoidRule,
    Expectation,
    Scenario,
    action_anchor,
    deadline_warning,
    expectation_deadline,
)
from tabletop.timing import format_duration, format_offset
from tabletop.transcript import read_run

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
        """What `tabletop score --json` prints: the results, plus ratings, clocks, warnings and totals."""
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
    """The expectation's deadline (`model.expectation_deadline`, the rule the engine and every
    view share), warning once where a calendar limit is approximated for want of a `starts_at`."""
    warning = deadline_warning(scenario, expectation)
    if warning and warning not in warnings:
        warnings.append(warning)
    return expectation_deadline(scenario, expectation, anchor)


def _anchor_text(expectation: Expectation) -> str:
    kind, target = expectation.anchor_kind, expectation.anchor_target
    return {
        "start": "the start",
        "inject": f"inject {target}",
        "action": f"{'the latest ' if expectation.from_latest else ''}action {target}",
        "marker": f"marker {target}",
    }[kind]


_Prepared = tuple[dict[str, Action], dict[str, list[str]], dict[str, list[AvoidRule]]]
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
    latest: dict[str, dict[str, Any]] = {}
    times: dict[str, list[float]] = {}
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
            latest[action_id] = event
            times.setdefault(action_id, []).append(t)
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
            _evaluate(
                scenario,
                expectation,
                actions,
                released,
                markers,
                first,
                end_t,
                final,
                warnings,
                latest,
                times,
            )
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
    latest: dict[str, dict[str, Any]] | None = None,
    times: dict[str, list[float]] | None = None,
) -> ExpectationResult:
    action = actions.get(expectation.action)
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
    )
    condition = expectation.applies_if
    if condition is not None and condition.field:
        action_id, _, field_name = condition.field.partition(".")
        in_force = (latest or {}).get(action_id)
        if in_force is None or not condition.holds(_fields(in_force).get(field_name)):
            return result(
                status=NOT_APPLICABLE,
                reason=f"not applicable: applies only if {condition.describe()}"
                + ("" if final else " (yet)"),
            )
    kind, target = expectation.anchor_kind, expectation.anchor_target
    if kind == "start":
        anchor: float | None = 0.0
    elif kind == "inject":
        anchor = released.get(target or "")
    elif kind == "action":
        own = first.get(expectation.action)
        anchor = action_anchor(expectation, (times or {}).get(target or "", ()), own.t if own else None)
    else:
        anchor = markers.get(target or "")
    if anchor is None:
        never = {
            "inject": "was never released",
            "action": "was never recorded",
            "marker": "was never set",
        }[kind]
        return result(
            status=NOT_APPLICABLE,
            reason=f"not applicable: {_anchor_text(expectation)} {never}" + ("" if final else " (yet)"),
        )
    deadline = _deadline(scenario, expectation, anchor, warnings)
    done = first.get(expectation.action)
    if done is None:
        if not final and deadline > end_t:
            return result(
                status=OPEN,
                anchor=anchor,
                deadline=deadline,
                reason=f"open: due by {format_offset(deadline)}",
            )
        return result(
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
        reason += "; " + ", ".join(f"{flag} ({note})" for flag, note in zip(flags, notes, strict=False))
    if WRONG_VALUE in flags:
        credit = 0.0
        reason += ": credit 0"
    else:
        for _ in flags:
            credit /= 2
        if flags:
            halvings = "once" if len(flags) == 1 else f"{len(flags)} times"
            reason += f": {base_text} halved {halvings} = {credit:g}"
        else:
            reason += f": {base_text}" if status == LATE else ": credit 1"

    delegated_at = event.get("delegated_at")
    delegation_seconds = done.t - float(delegated_at) if isinstance(delegated_at, (int, float)) else None
    return result(
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


def score_transcript(path: str | Path) -> tuple[Scenario, Scorecard, list[str]]:
    """Read a transcript and score it with the scenario embedded in its session_started line."""
    run = read_run(path)
    card = score(run.scenario, run.events)
    warnings = list(run.warnings) + [w for w in card.warnings if w not in run.warnings]
    return run.scenario, card, warnings
