"""Cross-reference checks on a scenario being resolved: references, cycles, reachability, timing."""

from __future__ import annotations

from typing import Any

import networkx as nx

from tabletop.catalog import Catalog, value_problems
from tabletop.draft import Draft, Located
from tabletop.model import Expectation, Inject, deadline_from
from tabletop.problems import Problem, Span, did_you_mean
from tabletop.timing import format_duration, format_offset


def _role_problem(
    role: str, span: Span, catalog: Catalog, roles: list[str] | None, what: str
) -> Problem | None:
    """A role reference must be in the catalog, and (when `roles` is known) in the scenario."""
    if catalog.roles and role not in catalog.roles:
        return span.problem(
            f"unknown role {role!r}{did_you_mean(role, catalog.roles)}; expected one of: {', '.join(catalog.roles)}"
        )
    if roles is not None and role not in roles:
        return span.problem(
            f"{what} {role!r} is not one of this scenario's roles ({', '.join(roles)}); add it to `roles` or pick another"
        )
    return None


def _action_problem(action: str, span: Span, catalog: Catalog) -> Problem | None:
    if catalog.actions and action not in catalog.actions:
        return span.problem(f"unknown action {action!r}{did_you_mean(action, catalog.actions)}")
    return None


def check_library_inject(inject: Inject, span: Span, catalog: Catalog) -> list[Problem]:
    """A library inject checked on its own: roles in `to` and actions in `expects` exist."""
    problems: list[Problem] = []
    for index, role in enumerate(inject.to):
        if role != "all":
            problem = _role_problem(
                role, _list_span(span, "to", index, inject.to), catalog, None, "recipient"
            )
            if problem:
                problems.append(problem)
    for index, expectation in enumerate(inject.expects):
        e_span = span.child("expects").child(index)
        problem = _action_problem(expectation.action, e_span.child("action"), catalog)
        if problem:
            problems.append(problem)
        if expectation.owner and expectation.owner != "any":
            problem = _role_problem(expectation.owner, e_span.child("owner"), catalog, None, "owner")
            if problem:
                problems.append(problem)
        problems.extend(
            value_problems(expectation.value, catalog.actions.get(expectation.action), e_span.child("value"))
        )
    return problems


def _list_span(span: Span, key: str, index: int, values: list[str] | None = None) -> Span:
    """The span of entry `index` of a list key (or of the key itself for `to: all`)."""
    child = span.child(key)
    if child.doc.exists((*child.path, index)):
        return child.child(index)
    return child


def _cycle_text(cycle: list[Any]) -> str:
    return " -> ".join(str(n) for n in [*cycle, cycle[0]])


def _cycles(graph: nx.DiGraph[str]) -> list[list[Any]]:
    """One cycle per strongly connected component that has one (self-loops included)."""
    found = []
    for component in nx.strongly_connected_components(graph):
        nodes = sorted(component, key=str)
        if len(nodes) == 1 and not graph.has_edge(nodes[0], nodes[0]):
            continue
        try:
            edges = nx.find_cycle(graph.subgraph(component), source=nodes[0])
        except nx.NetworkXNoCycle:
            continue
        found.append([edge[0] for edge in edges])
    return found


def check_scenario(draft: Draft) -> list[Problem]:
    """Every cross-reference problem of a scenario being resolved."""
    problems: list[Problem] = []
    catalog = draft.catalog
    roles = draft.roles
    add = problems.append

    # duplicate ids ---------------------------------------------------------------------------
    injects: dict[str, Located] = {}
    for located in draft.injects:
        inject_id = located.item.id
        if inject_id in injects:
            line, _ = injects[inject_id].span.doc.position(injects[inject_id].span.path)
            add(located.span.child("id").problem(f"duplicate inject id {inject_id!r} (first on line {line})"))
        else:
            injects[inject_id] = located
    phases: dict[str, Located] = {}
    for located in draft.phases:
        if located.item.id in phases:
            add(located.span.child("id").problem(f"duplicate phase id {located.item.id!r}"))
        else:
            phases[located.item.id] = located
    expectations: dict[str, Located] = {loc.item.id: loc for loc in draft.expectations}

    # roles ------------------------------------------------------------------------------------
    if roles is not None:
        seen_roles: set[str] = set()
        for index, role in enumerate(roles):
            span = _list_span(draft.span, "roles", index, roles)
            if role in seen_roles:
                add(span.problem(f"role {role!r} is listed twice"))
            seen_roles.add(role)
            if catalog.roles and role not in catalog.roles:
                add(
                    span.problem(
                        f"unknown role {role!r}{did_you_mean(role, catalog.roles)}; expected one of: {', '.join(catalog.roles)}"
                    )
                )
    role_list = [r for r in roles if r in catalog.roles] if roles is not None and catalog.roles else roles

    markers_set: set[str] = set(catalog.markers)
    for located in draft.injects:
        markers_set.update(located.item.marks)
    for located in draft.responses:
        markers_set.update(located.item.marks)

    def check_marker(marker: str, span: Span) -> None:
        if marker not in markers_set:
            add(
                span.problem(
                    f"nothing sets marker {marker!r}: no inject or response `marks` it and no action has sets_marker: {marker}"
                    f"{did_you_mean(marker, markers_set)}"
                )
            )

    # injects ------------------------------------------------------------------------------------
    for located in draft.injects:
        inject: Inject = located.item
        span = located.span
        if inject.phase is not None and inject.phase not in phases:
            add(
                span.child("phase").problem(
                    f"unknown phase {inject.phase!r}{did_you_mean(inject.phase, phases)}; "
                    f"the scenario's phases: {', '.join(phases) or 'none'}"
                )
            )
        for index, role in enumerate(inject.to):
            if role == "all":
                continue
            problem = _role_problem(
                role, _list_span(span, "to", index, inject.to), catalog, role_list, "recipient"
            )
            if problem:
                add(problem)
        if inject.when is not None:
            kind, target = inject.when.kind, inject.when.target
            w_span = span.child("when").child(kind)
            if kind == "missed" and target not in expectations:
                add(w_span.problem(f"unknown expectation {target!r}{did_you_mean(target, expectations)}"))
            elif kind == "after" and target not in injects:
                add(w_span.problem(f"unknown inject {target!r}{did_you_mean(target, injects)}"))
            elif kind == "done":
                problem = _action_problem(target, w_span, catalog)
                if problem:
                    add(problem)
            elif kind == "marker":
                check_marker(target, w_span)
        if inject.advance_to is not None and inject.when is None and inject.advance_to <= inject.at:
            add(
                span.child("advance_to").problem(
                    f"a time jump goes forward: {format_offset(inject.advance_to)} is not after the inject's own time {format_offset(inject.at)}"
                )
            )

    # responses ----------------------------------------------------------------------------------
    for located in draft.responses:
        response = located.item
        span = located.span
        problem = _action_problem(response.on, span.child("on"), catalog)
        if problem:
            add(problem)
        problem = _role_problem(response.from_, span.child("from"), catalog, role_list, "responder")
        if problem:
            add(problem)
        for value_problem in value_problems(
            response.fields, catalog.actions.get(response.on), span.child("fields")
        ):
            add(value_problem)
        for index, role in enumerate(response.to):
            if role != "all":
                problem = _role_problem(
                    role, _list_span(span, "to", index, response.to), catalog, role_list, "recipient"
                )
                if problem:
                    add(problem)

    # expectations --------------------------------------------------------------------------------
    for located in draft.expectations:
        expectation: Expectation = located.item
        span = located.span
        include = located.via
        problem = _action_problem(expectation.action, span.child("action"), catalog)
        if problem:
            add(problem)
        owner = expectation.owner
        if owner and owner != "any":
            if catalog.roles and owner not in catalog.roles:
                add(
                    span.child("owner").problem(
                        f"unknown role {owner!r}{did_you_mean(owner, catalog.roles)}; expected one of: any, {', '.join(catalog.roles)}"
                    )
                )
            elif role_list is not None and owner not in role_list:
                written = span.doc.exists((*span.path, "owner"))
                if include is not None:
                    add(
                        include.problem(
                            f"expectation {expectation.id!r} of {located.origin} is owned by {owner!r}, which is not one of "
                            f"this scenario's roles ({', '.join(role_list)}); add the role, or redefine {expectation.id!r} "
                            "in the scenario's expectations with another owner"
                        )
                    )
                elif written:
                    add(
                        span.child("owner").problem(
                            f"owner {owner!r} is not one of this scenario's roles ({', '.join(role_list)})"
                        )
                    )
                else:
                    add(
                        span.child("action").problem(
                            f"the default owner of {expectation.action!r} is {owner!r}, which is not one of this scenario's "
                            f"roles ({', '.join(role_list)}); set `owner:` or add the role"
                        )
                    )
        for index, required in enumerate(expectation.requires):
            problem = _action_problem(
                required, _list_span(span, "requires", index, expectation.requires), catalog
            )
            if problem:
                add(problem)
        problems.extend(
            value_problems(expectation.value, catalog.actions.get(expectation.action), span.child("value"))
        )
        if expectation.early == "allowed" and expectation.anchor_kind == "start" and include is None:
            written = span.doc.exists((*span.path, "early"))
            if written:
                add(
                    span.child("early").problem(
                        f"expectation {expectation.id!r} runs from the start, so nothing can come before its "
                        "anchor: drop `early: allowed`, or anchor it on the inject, action or marker that "
                        "calls for it"
                    )
                )
        if expectation.business_days and draft.starts_at is None and draft.starts_at_valid:
            where = include if include is not None else span.child("business_days")
            source = f" of {located.origin}" if located.origin else ""
            add(
                where.problem(
                    f"expectation {expectation.id!r}{source} counts business days, which needs the scenario's "
                    "starts_at (the date to count from); add starts_at"
                )
            )
        kind, target = expectation.anchor_kind, expectation.anchor_target or ""
        a_span = include if include is not None else span.child("after")
        if kind == "inject" and target not in injects:
            add(
                a_span.problem(
                    f"anchor inject {target!r} is not an inject of this scenario{did_you_mean(target, injects)}"
                )
            )
        elif kind == "action":
            problem = _action_problem(target, a_span, catalog)
            if problem:
                add(problem)
        elif kind == "marker" and target not in markers_set:
            add(
                a_span.problem(
                    f"expectation {expectation.id!r} runs from marker {target!r}, but nothing sets it: no inject or response "
                    f"`marks` it and no action has sets_marker: {target}{did_you_mean(target, markers_set)}"
                )
            )

    # avoid rules -----------------------------------------------------------------------------------
    for located in draft.avoid:
        rule = located.item
        span = located.span
        if rule.role is not None and catalog.roles and rule.role not in catalog.roles:
            add(
                span.child("role").problem(
                    f"unknown role {rule.role!r}{did_you_mean(rule.role, catalog.roles)}"
                )
            )
        for index, action in enumerate(rule.actions):
            problem = _action_problem(action, _list_span(span, "actions", index, rule.actions), catalog)
            if problem:
                add(problem)

    # cycles ----------------------------------------------------------------------------------------
    after_graph: nx.DiGraph[str] = nx.DiGraph()
    for located in draft.injects:
        when = located.item.when
        if when is not None and when.kind == "after" and when.target in injects:
            after_graph.add_edge(located.item.id, when.target)
    in_cycle: set[str] = set()
    for cycle in _cycles(after_graph):
        in_cycle.update(cycle)
        first = injects[cycle[0]]
        add(
            first.span.child("when")
            .child("after")
            .problem(f"branches wait on each other in a cycle, so none can fire: {_cycle_text(cycle)}")
        )
    requires_graph: nx.DiGraph[str] = nx.DiGraph()
    requires_span: dict[tuple[str, str], Span] = {}
    for located in draft.expectations:
        expectation = located.item
        for index, required in enumerate(expectation.requires):
            requires_graph.add_edge(expectation.action, required)
            requires_span.setdefault(
                (expectation.action, required),
                located.via or _list_span(located.span, "requires", index, expectation.requires),
            )
    for cycle in _cycles(requires_graph):
        span = requires_span[(cycle[0], cycle[1] if len(cycle) > 1 else cycle[0])]
        add(span.problem(f"expectations require each other's actions in a cycle: {_cycle_text(cycle)}"))

    # timing and reachability -----------------------------------------------------------------------
    end = None
    if draft.duration is not None:
        end = draft.duration  # `model.session_end` on a draft: duration, time jumps included
        for located in draft.injects:
            inject = located.item
            if inject.when is None and inject.at > end:
                add(
                    located.span.child("at").problem(
                        f"scheduled at {format_offset(inject.at)}, after the scenario ends at {format_offset(end)} "
                        f"(duration {format_duration(draft.duration)}); lengthen `duration` or move the inject"
                    )
                )
            if inject.advance_to is not None and inject.advance_to > end:
                add(
                    located.span.child("advance_to").problem(
                        f"jumps to {format_offset(inject.advance_to)}, after the scenario ends at {format_offset(end)} "
                        f"(duration {format_duration(draft.duration)}); lengthen `duration` or jump less far"
                    )
                )

    reachable: set[str] = set()
    release_time: dict[str, int] = {}
    for located in draft.injects:
        inject = located.item
        if inject.when is None and (end is None or inject.at <= end):
            reachable.add(inject.id)
            release_time[inject.id] = inject.at
    markers_possible: set[str] = set(catalog.markers)
    for located in draft.responses:
        if located.item.on in catalog.actions or not catalog.actions:
            markers_possible.update(located.item.marks)
    reasons: dict[str, str] = {}

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
                        anchor_at = None
                        if missed.item.anchor_kind == "start":
                            anchor_at = 0
                        elif missed.item.anchor_kind == "inject":
                            target_inject = injects.get(missed.item.anchor_target or "")
                            if target_inject is not None and target_inject.item.when is None:
                                anchor_at = target_inject.item.at
                        due = (
                            deadline_from(draft.starts_at, missed.item, anchor_at)
                            if anchor_at is not None
                            else None
                        )
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
    problems.extend(_clocks_nobody_starts(draft, expectations, end, markers_set))
    problems.extend(_closing_without_recovery(draft, release_time))
    if end is not None:
        problems.extend(_clocks_beyond_the_end(draft, end, injects, expectations, markers_possible))
    for located in draft.injects:
        inject = located.item
        if inject.when is None or inject.id in reachable or inject.id in in_cycle:
            continue
        unknown_target = (
            (inject.when.kind == "missed" and inject.when.target not in expectations)
            or (inject.when.kind == "after" and inject.when.target not in injects)
            or (inject.when.kind == "marker" and inject.when.target not in markers_set)
            or (inject.when.kind == "done" and catalog.actions and inject.when.target not in catalog.actions)
        )
        if unknown_target:
            continue  # already reported as an unknown reference
        add(
            located.span.child("when").problem(
                f"branch {inject.id!r} can never fire: {reasons.get(inject.id, 'its condition never holds')}"
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


def _clocks_beyond_the_end(
    draft: Draft,
    end: int,
    injects: dict[str, Located],
    expectations: dict[str, Located],
    markers_possible: set[str],
) -> list[Problem]:
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
