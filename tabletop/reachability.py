"""Timing and reachability checks on a scenario being resolved: what falls after the end, which
branches can fire, which regime clocks can start and fall due, and what must come before a close."""

from __future__ import annotations

from dataclasses import dataclass, field

from tabletop.draft import Draft, Located
from tabletop.model import Expectation, deadline_from
from tabletop.problems import Problem
from tabletop.timing import format_duration, format_offset


def timing_problems(
    draft: Draft,
    *,
    injects: dict[str, Located],
    expectations: dict[str, Located],
    markers: set[str],
    in_cycle: set[str],
) -> list[Problem]:
    """The timing and reachability problems, in this order: injects and jumps after the end,
    clocks nobody starts, closes without recovery, clocks beyond the end, branches that can never
    fire. `injects` and `expectations` are the first of each id, `markers` the markers something
    sets, `in_cycle` the branches already reported as waiting on each other."""
    end = draft.duration  # `model.session_end` on a draft: duration, time jumps included
    problems = _after_the_end(draft, end) if end is not None else []
    reach = _reachability(draft, end, injects, expectations, in_cycle)
    problems.extend(_clocks_nobody_starts(draft, expectations, end, markers))
    problems.extend(_closing_without_recovery(draft, reach.release_time))
    if end is not None:
        problems.extend(_clocks_beyond_the_end(draft, end))
    problems.extend(_branches_that_never_fire(draft, reach, injects, expectations, markers, in_cycle))
    return problems


def _after_the_end(draft: Draft, end: int) -> list[Problem]:
    """Injects scheduled, and time jumps landing, after the scenario ends."""
    problems: list[Problem] = []
    for located in draft.injects:
        inject = located.item
        if inject.when is None and inject.at > end:
            problems.append(
                located.span.child("at").problem(
                    f"scheduled at {format_offset(inject.at)}, after the scenario ends at {format_offset(end)} "
                    f"(duration {format_duration(end)}); lengthen `duration` or move the inject"
                )
            )
        if inject.advance_to is not None and inject.advance_to > end:
            problems.append(
                located.span.child("advance_to").problem(
                    f"jumps to {format_offset(inject.advance_to)}, after the scenario ends at {format_offset(end)} "
                    f"(duration {format_duration(end)}); lengthen `duration` or jump less far"
                )
            )
    return problems


@dataclass
class _Reach:
    """What a run can get to: released injects, when scheduled ones are released, markers that
    can be set, and why each branch that cannot fire does not."""

    reachable: set[str] = field(default_factory=set)
    release_time: dict[str, int] = field(default_factory=dict)
    markers_possible: set[str] = field(default_factory=set)
    reasons: dict[str, str] = field(default_factory=dict)


def _reachability(
    draft: Draft,
    end: int | None,
    injects: dict[str, Located],
    expectations: dict[str, Located],
    in_cycle: set[str],
) -> _Reach:
    """Scheduled injects before the end are released; a branch is, once what it waits for can
    happen (repeated until nothing more is reached)."""
    catalog = draft.catalog
    reach = _Reach()
    for located in draft.injects:
        inject = located.item
        if inject.when is None and (end is None or inject.at <= end):
            reach.reachable.add(inject.id)
            reach.release_time[inject.id] = inject.at
    reach.markers_possible.update(catalog.markers)
    for located in draft.responses:
        if located.item.on in catalog.actions or not catalog.actions:
            reach.markers_possible.update(located.item.marks)
    reachable, markers_possible, reasons = reach.reachable, reach.markers_possible, reach.reasons

    def anchor_possible(expectation: Expectation) -> tuple[bool, str]:
        kind, target = expectation.anchor_kind, expectation.anchor_target
        if kind == "start":
            return True, ""
        if kind == "inject":
            return target in reachable, f"it runs from inject {target!r}, which is never released"
        if kind == "marker":
            return target in markers_possible, f"it runs from marker {target!r}, which is never set"
        return (target in catalog.actions or not catalog.actions), f"it runs from unknown action {target!r}"

    changed = True
    while changed:
        changed = False
        for located in draft.injects:
            inject = located.item
            if inject.id in reachable:
                markers_possible.update(inject.marks)
                continue
            when = inject.when
            if when is None or inject.id in in_cycle:
                continue
            ok = False
            if when.kind == "after":
                ok = when.target in reachable
                reasons[inject.id] = f"it waits for inject {when.target!r}, which is never released"
            elif when.kind == "done":
                ok = when.target in catalog.actions or not catalog.actions
                reasons[inject.id] = f"action {when.target!r} does not exist"
            elif when.kind == "marker":
                ok = when.target in markers_possible
                reasons[inject.id] = f"marker {when.target!r} is never set"
            elif when.kind == "missed":
                missed = expectations.get(when.target)
                if missed is not None:
                    ok, why = anchor_possible(missed.item)
                    reasons[inject.id] = f"expectation {when.target!r} never applies: {why}"
                    if ok and end is not None:
                        due = _fixed_due(draft, missed.item, injects)
                        if due is not None and due > end:
                            ok = False
                            reasons[inject.id] = (
                                f"expectation {when.target!r} is due at {format_offset(due)}, "
                                f"after the scenario ends at {format_offset(end)}"
                            )
            if ok:
                reachable.add(inject.id)
                markers_possible.update(inject.marks)
                changed = True
    return reach


def _fixed_due(draft: Draft, expectation: Expectation, injects: dict[str, Located]) -> float | None:
    """When an expectation falls due, if its anchor's time is known in advance (the start, or a
    scheduled inject)."""
    anchor_at = None
    if expectation.anchor_kind == "start":
        anchor_at = 0
    elif expectation.anchor_kind == "inject":
        target_inject = injects.get(expectation.anchor_target or "")
        if target_inject is not None and target_inject.item.when is None:
            anchor_at = target_inject.item.at
    return deadline_from(draft.starts_at, expectation, anchor_at) if anchor_at is not None else None


def _branches_that_never_fire(
    draft: Draft,
    reach: _Reach,
    injects: dict[str, Located],
    expectations: dict[str, Located],
    markers: set[str],
    in_cycle: set[str],
) -> list[Problem]:
    """A branch no run can release, unless its condition names something unknown or it waits in
    a cycle (both reported already)."""
    catalog = draft.catalog
    problems: list[Problem] = []
    for located in draft.injects:
        inject = located.item
        if inject.when is None or inject.id in reach.reachable or inject.id in in_cycle:
            continue
        unknown_target = (
            (inject.when.kind == "missed" and inject.when.target not in expectations)
            or (inject.when.kind == "after" and inject.when.target not in injects)
            or (inject.when.kind == "marker" and inject.when.target not in markers)
            or (inject.when.kind == "done" and catalog.actions and inject.when.target not in catalog.actions)
        )
        if unknown_target:
            continue  # already reported as an unknown reference
        problems.append(
            located.span.child("when").problem(
                f"branch {inject.id!r} can never fire: {reach.reasons.get(inject.id, 'its condition never holds')}"
            )
        )
    return problems


def earliest_anchors(draft: Draft) -> dict[str, float]:
    """The earliest sim second each anchor can happen in a run that follows the rules.

    An inject at its scheduled time (a branch: its condition's earliest moment plus its `at`);
    a marker at the earliest inject, response or action that sets it; an action at the
    earliest anchor of its expectations (at the start when one allows early action, or none
    calls for it): in a good run an action comes after what calls for it.
    """
    from tabletop.clocks import anchor_key, early_allowed

    catalog = draft.catalog
    inf = float("inf")
    times: dict[str, float] = {"start": 0.0}
    expectations = [located.item for located in draft.expectations]
    by_action: dict[str, list[Expectation]] = {}
    for expectation in expectations:
        by_action.setdefault(expectation.action, []).append(expectation)

    def at(key: str) -> float:
        return times.get(key, inf)

    def lower(key: str, value: float) -> bool:
        if value < at(key):
            times[key] = value
            return True
        return False

    for action_id in catalog.actions:
        if action_id not in by_action:
            times[f"action:{action_id}"] = 0.0
    by_id = {e.id: e for e in expectations}
    changed = True
    rounds = 0
    while changed and rounds < 10 * (len(expectations) + len(draft.injects) + 2):
        changed = False
        rounds += 1
        for located in draft.injects:
            inject = located.item
            if inject.when is None:
                when = float(inject.at)
            else:
                kind, target = inject.when.kind, inject.when.target
                if kind == "after":
                    base = at(f"inject:{target}")
                elif kind == "done":
                    base = at(f"action:{target}")
                elif kind == "marker":
                    base = at(f"marker:{target}")
                else:
                    missed = by_id.get(target)
                    start = at(anchor_key(missed)) if missed is not None else inf
                    base = deadline_from(draft.starts_at, missed, start) if missed and start < inf else inf
                when = base + inject.at
            if when < inf:
                changed |= lower(f"inject:{inject.id}", when)
                for marker in inject.marks:
                    changed |= lower(f"marker:{marker}", when)
        for located in draft.responses:
            response = located.item
            base = at(f"action:{response.on}")
            for marker in response.marks:
                if base < inf:
                    changed |= lower(f"marker:{marker}", base + response.after)
        for action_id, expected in by_action.items():
            allowed = any(early_allowed(e, catalog.actions) for e in expected)
            changed |= lower(
                f"action:{action_id}", 0.0 if allowed else min(at(anchor_key(e)) for e in expected)
            )
        for action_id, action in catalog.actions.items():
            if action.sets_marker:
                changed |= lower(f"marker:{action.sets_marker}", at(f"action:{action_id}"))
    return {key: value for key, value in times.items() if value < inf}


def _clocks_beyond_the_end(draft: Draft, end: int) -> list[Problem]:
    """A regime clock the scenario switches on must be able to fall due before it ends."""
    from tabletop.clocks import anchor_key

    problems: list[Problem] = []
    earliest = earliest_anchors(draft)
    for located in draft.expectations:
        expectation = located.item
        if not expectation.regime:
            continue
        start = earliest.get(anchor_key(expectation))
        if start is None:
            continue
        due = deadline_from(draft.starts_at, expectation, start)
        if due <= end:
            continue
        where = draft.span.child("duration") if draft.span.doc.exists(("duration",)) else draft.span
        problems.append(
            where.problem(
                f"the scenario ends at {format_offset(end)}, before regime clock {expectation.id!r} "
                f"({expectation.regime}) can fall due: it runs {expectation.within_text} "
                f"from {expectation.after}, at the earliest {format_offset(start)}, so it is due at "
                f"{format_offset(due)} at the earliest; lengthen `duration` to reach it and add a time "
                "jump (`advance_to`) to get there"
            )
        )
    return problems


def _clocks_nobody_starts(
    draft: Draft, expectations: dict[str, Located], end: int | None, markers_set: set[str]
) -> list[Problem]:
    """Regime clocks that run from facts (awareness, discovery, receipt) must be started by an
    inject: a marker only a player's decision sets would let a team that never says "we are
    aware" dodge the clock. Clocks the law starts from a decision (classification as major,
    the materiality determination: `starts_on: decision`) are exempt."""
    facts: set[str] = set()
    released: set[str] = set()
    changed = True
    while changed:
        changed = False
        for located in draft.injects:
            inject = located.item
            if inject.id in released:
                continue
            when = inject.when
            if when is None:
                ok = end is None or inject.at <= end
            elif when.kind == "after":
                ok = when.target in released
            elif when.kind == "marker":
                ok = when.target in facts
            elif when.kind == "missed":
                ok = when.target in expectations
            else:  # done: only after a player's decision
                ok = False
            if ok:
                released.add(inject.id)
                facts.update(inject.marks)
                changed = True
    problems = []
    for located in draft.expectations:
        expectation = located.item
        if not expectation.regime or expectation.anchor_kind != "marker":
            continue
        regime = draft.catalog.regimes.get(expectation.regime)
        clock = next((c for c in regime.clocks if c.id == expectation.id), None) if regime else None
        if clock is None or clock.starts_on != "facts" or expectation.anchor_target in facts:
            continue
        if expectation.anchor_target not in markers_set:
            continue  # nothing sets it at all: reported with the anchor
        where = located.via or located.span
        problems.append(
            where.problem(
                f"clock {expectation.id!r} of regime {expectation.regime!r} runs from marker "
                f"{expectation.anchor_target!r}, which no inject sets: only a player's decision can start it, "
                f"so a team that never records it dodges the clock; add `marks: [{expectation.anchor_target}]` "
                "to the inject where the facts arrive"
            )
        )
    return problems


CLOSING_ACTION = "close_incident"
RISK_ACTIONS = ("record_risk", "accept_risk")


def _closing_without_recovery(draft: Draft, release_time: dict[str, int]) -> list[Problem]:
    """An incident is not closed before the fix is made permanent and the residual risk owned.

    A scenario that expects `close_incident` must also expect, before it, at least one step of
    the recovery area (capturing manual changes, reconciling IaC, removing temporary fixes,
    failing back: making the fix permanent) and an owned residual risk (`record_risk`, or
    `accept_risk` with an owner role). "Before" is the close's `requires` (followed through the
    `requires` of the actions it names, and its own `action:` anchor), or anchor order: an
    expectation anchored at a known time earlier than the close's anchor.
    """
    actions = draft.catalog.actions
    recovery_actions = sorted(a.id for a in actions.values() if a.area == "recovery")
    located = list(draft.expectations)
    marker_time: dict[str, int] = {}
    for inject_located in draft.injects:
        at = release_time.get(inject_located.item.id)
        if at is None:
            continue
        for marker in inject_located.item.marks:
            marker_time[marker] = min(at, marker_time.get(marker, at))

    def anchored_at(expectation: Expectation) -> int | None:
        kind, target = expectation.anchor_kind, expectation.anchor_target or ""
        if kind == "start":
            return 0
        if kind == "inject":
            return release_time.get(target)
        if kind == "marker":
            return marker_time.get(target)
        return None  # an action's time is not known in advance

    requires_of: dict[str, set[str]] = {}
    for entry in located:
        requires_of.setdefault(entry.item.action, set()).update(entry.item.requires)

    def before(close: Expectation) -> set[str]:
        """Actions the close cannot come before: its requires, followed through, and its anchor."""
        seeds = set(close.requires)
        if close.anchor_kind == "action" and close.anchor_target:
            seeds.add(close.anchor_target)
        found: set[str] = set()
        while seeds:
            action = seeds.pop()
            if action in found:
                continue
            found.add(action)
            seeds.update(requires_of.get(action, ()))
        return found

    def owned_risk(expectation: Expectation) -> bool:
        if expectation.action == "record_risk":
            return True
        return expectation.action == "accept_risk" and expectation.owner not in (None, "", "any")

    def recovery(expectation: Expectation) -> bool:
        action = actions.get(expectation.action)
        return action is not None and action.area == "recovery"

    problems = []
    for closing in located:
        close = closing.item
        if close.action != CLOSING_ACTION:
            continue
        required = before(close)
        close_at = anchored_at(close)
        earlier = [
            entry.item
            for entry in located
            if entry.item.id != close.id
            and (
                entry.item.action in required
                or (close_at is not None and (at := anchored_at(entry.item)) is not None and at < close_at)
            )
        ]
        missing = []
        if not any(recovery(e) for e in earlier):
            missing.append(
                "no recovery step before it (one of "
                + ", ".join(recovery_actions or ["the recovery area's actions"])
                + ": the fix made permanent)"
            )
        if not any(owned_risk(e) for e in earlier):
            missing.append("no owned residual risk before it (record_risk, or accept_risk with an owner)")
        if not missing:
            continue
        where = closing.via or (
            closing.span.child("requires")
            if closing.span.doc.exists((*closing.span.path, "requires"))
            else closing.span.child("action")
        )
        problems.append(
            where.problem(
                f"expectation {close.id!r} closes the incident with "
                + " and ".join(missing)
                + "; expect them and name their actions in its `requires`, or anchor them on an "
                "earlier inject"
            )
        )
    return problems
