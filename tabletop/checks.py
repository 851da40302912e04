"""Cross-reference checks on a scenario being resolved: ids, roles, references and cycles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from tabletop.catalog import Catalog, value_problems
from tabletop.draft import Draft, Located
from tabletop.model import Expectation, Inject
from tabletop.problems import Problem, Span, did_you_mean
from tabletop.reachability import timing_problems
from tabletop.timing import format_offset


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
    """Every cross-reference problem of a scenario being resolved, check by check in this order:
    duplicate ids, the role list, injects, responses, expectations, avoid rules, cycles, then
    timing and reachability (`tabletop/reachability.py`)."""
    injects, phases, problems = _first_of_each_id(draft)
    problems.extend(_role_list_problems(draft))
    known = _Known(
        injects=injects,
        phases=phases,
        expectations={located.item.id: located for located in draft.expectations},
        roles=_known_roles(draft),
        markers=_markers_set(draft),
    )
    problems.extend(_inject_problems(draft, known))
    problems.extend(_response_problems(draft, known))
    problems.extend(_expectation_problems(draft, known))
    problems.extend(_avoid_rule_problems(draft))
    branch_cycles, in_cycle = _branch_cycles(draft, injects)
    problems.extend(branch_cycles)
    problems.extend(_requires_cycles(draft))
    problems.extend(
        timing_problems(
            draft, injects=injects, expectations=known.expectations, markers=known.markers, in_cycle=in_cycle
        )
    )
    return problems


@dataclass(frozen=True)
class _Known:
    """What a scenario names, for its references to be checked against."""

    injects: dict[str, Located]  # the first inject of each id
    phases: dict[str, Located]  # the first phase of each id
    expectations: dict[str, Located]
    roles: list[str] | None  # the scenario's roles the catalog knows; None: any role
    markers: set[str]  # markers something sets: the catalog's actions, injects' and responses' `marks`

    def marker_problem(self, marker: str, span: Span) -> Problem | None:
        if marker in self.markers:
            return None
        return span.problem(
            f"nothing sets marker {marker!r}: no inject or response `marks` it and no action has sets_marker: {marker}"
            f"{did_you_mean(marker, self.markers)}"
        )


def _first_of_each_id(draft: Draft) -> tuple[dict[str, Located], dict[str, Located], list[Problem]]:
    """The first inject and phase of each id, and a problem for each id used again."""
    problems: list[Problem] = []
    injects: dict[str, Located] = {}
    for located in draft.injects:
        inject_id = located.item.id
        if inject_id in injects:
            line, _ = injects[inject_id].span.doc.position(injects[inject_id].span.path)
            problems.append(
                located.span.child("id").problem(f"duplicate inject id {inject_id!r} (first on line {line})")
            )
        else:
            injects[inject_id] = located
    phases: dict[str, Located] = {}
    for located in draft.phases:
        if located.item.id in phases:
            problems.append(located.span.child("id").problem(f"duplicate phase id {located.item.id!r}"))
        else:
            phases[located.item.id] = located
    return injects, phases, problems


def _role_list_problems(draft: Draft) -> list[Problem]:
    """The scenario's `roles`: each listed once, each known to the catalog."""
    roles, catalog = draft.roles, draft.catalog
    if roles is None:
        return []
    problems: list[Problem] = []
    seen_roles: set[str] = set()
    for index, role in enumerate(roles):
        span = _list_span(draft.span, "roles", index, roles)
        if role in seen_roles:
            problems.append(span.problem(f"role {role!r} is listed twice"))
        seen_roles.add(role)
        if catalog.roles and role not in catalog.roles:
            problems.append(
                span.problem(
                    f"unknown role {role!r}{did_you_mean(role, catalog.roles)}; expected one of: {', '.join(catalog.roles)}"
                )
            )
    return problems


def _known_roles(draft: Draft) -> list[str] | None:
    """The scenario's roles that the catalog knows (all of them when the catalog names none)."""
    roles, catalog = draft.roles, draft.catalog
    return [r for r in roles if r in catalog.roles] if roles is not None and catalog.roles else roles


def _markers_set(draft: Draft) -> set[str]:
    markers: set[str] = set(draft.catalog.markers)
    for located in draft.injects:
        markers.update(located.item.marks)
    for located in draft.responses:
        markers.update(located.item.marks)
    return markers


def _inject_problems(draft: Draft, known: _Known) -> list[Problem]:
    """Each inject's phase, recipients, `when:` condition and time jump."""
    catalog = draft.catalog
    problems: list[Problem] = []
    add = problems.append
    for located in draft.injects:
        inject: Inject = located.item
        span = located.span
        if inject.phase is not None and inject.phase not in known.phases:
            add(
                span.child("phase").problem(
                    f"unknown phase {inject.phase!r}{did_you_mean(inject.phase, known.phases)}; "
                    f"the scenario's phases: {', '.join(known.phases) or 'none'}"
                )
            )
        for index, role in enumerate(inject.to):
            if role == "all":
                continue
            problem = _role_problem(
                role, _list_span(span, "to", index, inject.to), catalog, known.roles, "recipient"
            )
            if problem:
                add(problem)
        if inject.when is not None:
            kind, target = inject.when.kind, inject.when.target
            w_span = span.child("when").child(kind)
            if kind == "missed" and target not in known.expectations:
                add(
                    w_span.problem(
                        f"unknown expectation {target!r}{did_you_mean(target, known.expectations)}"
                    )
                )
            elif kind == "after" and target not in known.injects:
                add(w_span.problem(f"unknown inject {target!r}{did_you_mean(target, known.injects)}"))
            elif kind == "done":
                problem = _action_problem(target, w_span, catalog)
                if problem:
                    add(problem)
            elif kind == "marker":
                problem = known.marker_problem(target, w_span)
                if problem:
                    add(problem)
        if inject.advance_to is not None and inject.when is None and inject.advance_to <= inject.at:
            add(
                span.child("advance_to").problem(
                    f"a time jump goes forward: {format_offset(inject.advance_to)} is not after the inject's own time {format_offset(inject.at)}"
                )
            )
    return problems


def _response_problems(draft: Draft, known: _Known) -> list[Problem]:
    """Each simulated response's action, responder, fields and recipients."""
    catalog = draft.catalog
    problems: list[Problem] = []
    add = problems.append
    for located in draft.responses:
        response = located.item
        span = located.span
        problem = _action_problem(response.on, span.child("on"), catalog)
        if problem:
            add(problem)
        problem = _role_problem(response.from_, span.child("from"), catalog, known.roles, "responder")
        if problem:
            add(problem)
        for value_problem in value_problems(
            response.fields, catalog.actions.get(response.on), span.child("fields")
        ):
            add(value_problem)
        for index, role in enumerate(response.to):
            if role != "all":
                problem = _role_problem(
                    role, _list_span(span, "to", index, response.to), catalog, known.roles, "recipient"
                )
                if problem:
                    add(problem)
    return problems


def _expectation_problems(draft: Draft, known: _Known) -> list[Problem]:
    """Each expectation's action, owner, requires, value, `early:`, business days and anchor."""
    problems: list[Problem] = []
    for located in draft.expectations:
        problems.extend(_one_expectation_problems(draft, known, located))
    return problems


def _one_expectation_problems(draft: Draft, known: _Known, located: Located) -> list[Problem]:
    catalog = draft.catalog
    problems: list[Problem] = []
    add = problems.append
    expectation: Expectation = located.item
    span = located.span
    include = located.via
    problem = _action_problem(expectation.action, span.child("action"), catalog)
    if problem:
        add(problem)
    problem = _owner_problem(draft, known, located)
    if problem:
        add(problem)
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
    if kind == "inject" and target not in known.injects:
        add(
            a_span.problem(
                f"anchor inject {target!r} is not an inject of this scenario{did_you_mean(target, known.injects)}"
            )
        )
    elif kind == "action":
        problem = _action_problem(target, a_span, catalog)
        if problem:
            add(problem)
    elif kind == "marker" and target not in known.markers:
        add(
            a_span.problem(
                f"expectation {expectation.id!r} runs from marker {target!r}, but nothing sets it: no inject or response "
                f"`marks` it and no action has sets_marker: {target}{did_you_mean(target, known.markers)}"
            )
        )
    return problems


def _owner_problem(draft: Draft, known: _Known, located: Located) -> Problem | None:
    """An expectation's owner is a known role and one of the scenario's, wherever it was written
    (the expectation itself, an included rubric or regime, or the action's default owner)."""
    catalog = draft.catalog
    expectation: Expectation = located.item
    span, include = located.span, located.via
    owner = expectation.owner
    if not owner or owner == "any":
        return None
    if catalog.roles and owner not in catalog.roles:
        return span.child("owner").problem(
            f"unknown role {owner!r}{did_you_mean(owner, catalog.roles)}; expected one of: any, {', '.join(catalog.roles)}"
        )
    if known.roles is None or owner in known.roles:
        return None
    roles = ", ".join(known.roles)
    if include is not None:
        return include.problem(
            f"expectation {expectation.id!r} of {located.origin} is owned by {owner!r}, which is not one of "
            f"this scenario's roles ({roles}); add the role, or redefine {expectation.id!r} "
            "in the scenario's expectations with another owner"
        )
    if span.doc.exists((*span.path, "owner")):
        return span.child("owner").problem(f"owner {owner!r} is not one of this scenario's roles ({roles})")
    return span.child("action").problem(
        f"the default owner of {expectation.action!r} is {owner!r}, which is not one of this scenario's "
        f"roles ({roles}); set `owner:` or add the role"
    )


def _avoid_rule_problems(draft: Draft) -> list[Problem]:
    """Each avoid rule's role and actions."""
    catalog = draft.catalog
    problems: list[Problem] = []
    for located in draft.avoid:
        rule = located.item
        span = located.span
        if rule.role is not None and catalog.roles and rule.role not in catalog.roles:
            problems.append(
                span.child("role").problem(
                    f"unknown role {rule.role!r}{did_you_mean(rule.role, catalog.roles)}"
                )
            )
        for index, action in enumerate(rule.actions):
            problem = _action_problem(action, _list_span(span, "actions", index, rule.actions), catalog)
            if problem:
                problems.append(problem)
    return problems


def _branch_cycles(draft: Draft, injects: dict[str, Located]) -> tuple[list[Problem], set[str]]:
    """Branches that wait (`when: {after: ...}`) on each other in a cycle, and the injects in one."""
    after_graph: nx.DiGraph[str] = nx.DiGraph()
    for located in draft.injects:
        when = located.item.when
        if when is not None and when.kind == "after" and when.target in injects:
            after_graph.add_edge(located.item.id, when.target)
    problems: list[Problem] = []
    in_cycle: set[str] = set()
    for cycle in _cycles(after_graph):
        in_cycle.update(cycle)
        first = injects[cycle[0]]
        problems.append(
            first.span.child("when")
            .child("after")
            .problem(f"branches wait on each other in a cycle, so none can fire: {_cycle_text(cycle)}")
        )
    return problems, in_cycle


def _requires_cycles(draft: Draft) -> list[Problem]:
    """Expectations whose `requires` name each other's actions in a cycle."""
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
    problems: list[Problem] = []
    for cycle in _cycles(requires_graph):
        span = requires_span[(cycle[0], cycle[1] if len(cycle) > 1 else cycle[0])]
        problems.append(
            span.problem(f"expectations require each other's actions in a cycle: {_cycle_text(cycle)}")
        )
    return problems
