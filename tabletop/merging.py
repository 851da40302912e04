"""Expectations and avoid rules a scenario brings in from rubric sets and regimes, merged with its own.

A regime's clocks bind only on the data the incident affects (each inject's `affects`) and
only when their `applies_if` holds; the scenario's own expectation of the same id tunes an
included one; two included ones of the same id from different sources are a problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from tabletop.draft import Draft, Located
from tabletop.model import DECISION_ACTIONS, DataPosition, Expectation, FactCondition, Inject, Scenario
from tabletop.problems import Span, did_you_mean, validation_problems
from tabletop.resolving import ResolverBase

_Entry = TypeVar("_Entry")


class ExpectationMerge(ResolverBase):
    """The rubric-set and regime part of resolving a scenario."""

    def affected_positions(self, header: Scenario, draft: Draft) -> list[DataPosition]:
        """The data positions of the datasets the incident affects (every inject's `affects`).

        Unknown dataset ids are problems; a scenario with data positions and regimes whose
        injects name no affected dataset is a problem too, because no clock could bind.
        """
        positions = header.context.data_positions
        known = {p.id: p for p in positions if p.id}
        affected: list[str] = []
        for located in draft.injects:
            inject: Inject = located.item
            for index, dataset in enumerate(inject.affects):
                if dataset not in known:
                    span = located.span.child("affects")
                    if span.doc.exists((*span.path, index)):
                        span = span.child(index)
                    self.problems.append(
                        span.problem(
                            f"unknown dataset {dataset!r}{did_you_mean(dataset, known)}; the ids of "
                            f"context.data_positions: {', '.join(known) or 'none (give each dataset an id)'}"
                        )
                    )
                elif dataset not in affected:
                    affected.append(dataset)
        if positions and header.regimes and not affected and "regimes" not in self.invalid:
            self.problems.append(
                self.span.child("regimes").problem(
                    "the regimes' clocks bind only on the data the incident affects, and no inject says which: "
                    "give each dataset of context.data_positions an id and add `affects: [id]` to the inject "
                    "where that data is involved",
                    at_key=True,
                )
            )
        return [known[d] for d in affected]

    def condition_holds(
        self, condition: FactCondition, positions: list[DataPosition], via: Span, clock_id: str
    ) -> bool:
        """Whether a regime clock's load-time condition holds (a `field` one is left to the scorer)."""
        if condition.position is not None and not any(
            p.position == condition.position or p.position == "both" for p in positions
        ):
            return False
        if condition.variable is not None:
            if condition.variable not in self.values:
                self.problems.append(
                    via.problem(
                        f"clock {clock_id!r} applies only if variable {condition.variable!r} holds, but the scenario "
                        f"has no such variable{did_you_mean(condition.variable, self.values)}"
                    )
                )
                return False
            return condition.holds(self.values[condition.variable])
        return True

    def merge_expectations(
        self, header: Scenario, own: list[Located], own_avoid: list[Located], draft: Draft
    ) -> None:
        """The draft's expectations and avoid rules: the scenario's own, then those its rubric
        sets and regimes bring in."""
        included: list[Located] = []
        included_avoid: list[Located] = []
        self.from_rubrics(header, included, included_avoid)
        self.from_regimes(header, draft, included)
        draft.expectations = self.merged(own, included)
        draft.avoid = self.merged_avoid(own_avoid, included_avoid)

    def listed(
        self, key: str, names: list[str], known: Mapping[str, _Entry], what: str
    ) -> Iterator[tuple[str, Span, _Entry]]:
        """Each name the scenario lists under `key`, with where it is listed and its catalog entry;
        a name listed twice or not in the catalog is a problem, and skipped."""
        listed_as_list = isinstance(self.doc.data.get(key), list)
        for index, name in enumerate(names):
            via = self.span.child(key).child(index) if listed_as_list else self.span.child(key)
            if name in names[:index]:
                self.problems.append(via.problem(f"{what} {name!r} is listed twice"))
                continue
            entry = known.get(name)
            if entry is None:
                self.problems.append(
                    via.problem(
                        f"unknown {what} {name!r}{did_you_mean(name, known)}; expected one of: "
                        f"{', '.join(sorted(known)) or 'none'}"
                    )
                )
                continue
            yield name, via, entry

    def from_rubrics(self, header: Scenario, included: list[Located], included_avoid: list[Located]) -> None:
        """The expectations and avoid rules of the scenario's rubric sets."""
        catalog = self.catalog
        rubric_names = header.rubric if "rubric" not in self.invalid else []
        for name, via, rubric in self.listed("rubric", rubric_names, catalog.rubrics, "rubric set"):
            rspan = catalog.span("rubrics", name) or via  # where the catalog defined it
            note = f"included by {self.doc.display}"
            for e_index, expectation in enumerate(rubric.expectations):
                e_span = Span(rspan.doc, rspan.path, rspan.fields, note).child("expectations").child(e_index)
                data = expectation.model_dump(by_alias=True, exclude_unset=True)
                rendered = self.render_expectation(data, e_span)
                if rendered != data:
                    expectation = expectation.model_copy(
                        update={k: rendered[k] for k in ("title", "why") if k in rendered}
                    )
                if expectation.after is None:
                    expectation = expectation.model_copy(update={"after": "start"})
                included.append(Located(expectation, e_span, via, origin=f"rubric set {name}"))
            for a_index, rule in enumerate(rubric.avoid):
                a_span = Span(rspan.doc, rspan.path, rspan.fields, note).child("avoid").child(a_index)
                included_avoid.append(Located(rule, a_span, via, origin=f"rubric set {name}"))

    def from_regimes(self, header: Scenario, draft: Draft, included: list[Located]) -> None:
        """The clocks of the scenario's regimes that bind on the data the incident affects."""
        catalog = self.catalog
        regime_names = header.regimes if "regimes" not in self.invalid else []
        positions = self.affected_positions(header, draft)
        context = header.context
        if context.decision_owner == "dpo" and not context.decision_delegation.strip():
            self.problems.append(
                self.span.child("context")
                .child("decision_owner")
                .problem(
                    "the DPO advises on notification and must not decide it (GDPR Art 38(6), Art 39(1)(a)); "
                    "name the accountable decision maker, or say in context.decision_delegation who delegated "
                    "the decision to the DPO and why"
                )
            )
        decider = context.decision_owner or "executive"
        if regime_names and "roles" not in self.invalid and decider not in header.roles:
            self.problems.append(
                self.span.child("roles").problem(
                    f"a scenario that switches on a regime has its accountable decision maker, role {decider!r} "
                    "(the controller decides on notification, the DPO advises); add it to `roles` "
                    "(in solo practice it is a simulated teammate)"
                    + ("" if context.decision_owner else ", or name another with context.decision_owner")
                )
            )
        for name, via, regime in self.listed("regimes", regime_names, catalog.regimes, "regime"):
            rspan = catalog.span("regimes", name) or via  # where the catalog defined it
            for c_index, clock in enumerate(regime.clocks):
                c_span = (
                    Span(rspan.doc, rspan.path, rspan.fields, f"regime of {self.doc.display}")
                    .child("clocks")
                    .child(c_index)
                )
                condition = clock.applies_if
                if condition is not None and not self.condition_holds(condition, positions, via, clock.id):
                    continue
                within: int
                if clock.within == "contract":
                    contract = [
                        p.notify_controller_within
                        for p in positions
                        if p.position in ("processor", "both") and p.notify_controller_within is not None
                    ]
                    if not contract:
                        self.problems.append(
                            via.problem(
                                f"regime {name!r} clock {clock.id!r} runs for the contract's time: add "
                                "notify_controller_within to the processor entry of context.data_positions "
                                "that the incident affects"
                            )
                        )
                        continue
                    within = min(contract)
                else:
                    within = clock.within
                after = clock.after
                if after != "start" and ":" not in after:
                    after = f"marker:{after}"
                owner = clock.owner
                if clock.action in DECISION_ACTIONS and context.decision_owner:
                    owner = context.decision_owner
                runtime_condition = (
                    FactCondition(field=condition.field, equals=condition.equals, above=condition.above)
                    if condition is not None and condition.field
                    else None
                )
                try:
                    expectation = Expectation(
                        id=clock.id,
                        action=clock.action,
                        owner=owner,
                        after=after,
                        within=within,
                        months=clock.months,
                        weight=clock.weight,
                        late_credit=clock.late_credit,
                        requires=clock.requires,
                        value=clock.value,
                        rationale=clock.rationale,
                        early=clock.early,
                        business_days=clock.business_days,
                        day_end=clock.day_end,
                        roll=clock.roll,
                        from_latest=clock.from_latest,
                        timezone=regime.timezone,
                        holidays=regime.holidays or None,
                        applies_if=runtime_condition,
                        title=self.render(clock.title, c_span.child("title")),
                        why=self.render(clock.why, c_span.child("why")),
                        source=clock.source,
                        regime=regime.id,
                    )
                except ValidationError as error:
                    self.problems.extend(validation_problems(error, c_span, Expectation, clock.model_dump()))
                    continue
                included.append(Located(expectation, c_span, via, origin=f"regime {name}"))

    def merged(self, own: list[Located], included: list[Located]) -> list[Located]:
        """The scenario's own expectations, then the included ones it does not tune, each
        completed with its catalog action's owner, rationale and early rule."""
        own_ids = {loc.item.id for loc in own}
        seen: dict[str, Located] = {}
        merged: list[Located] = []
        for located in own:
            previous = seen.get(located.item.id)
            if previous is not None:
                line, _ = previous.span.doc.position(previous.span.path)
                self.problems.append(
                    located.span.child("id").problem(
                        f"duplicate expectation id {located.item.id!r} (first defined on line {line})"
                    )
                )
                continue
            seen[located.item.id] = located
            merged.append(located)
        for located in included:
            if located.item.id in own_ids:
                continue  # the scenario tunes a rubric or regime expectation
            previous = seen.get(located.item.id)
            if previous is not None:
                self.problems.append(
                    (located.via or located.span).problem(
                        f"expectation id {located.item.id!r} comes from both {previous.origin} and {located.origin}; "
                        "define it in the scenario to choose one"
                    )
                )
                continue
            seen[located.item.id] = located
            merged.append(located)
        actions = self.catalog.actions
        for located in merged:
            expectation = located.item
            update: dict[str, Any] = {}
            action = actions.get(expectation.action)
            if expectation.owner is None and action is not None:
                update["owner"] = action.default_owner
            if expectation.rationale is None and action is not None:
                update["rationale"] = action.rationale
            if expectation.early is None and action is not None:
                update["early"] = action.early
            if update:
                located.item = expectation.model_copy(update=update)
        return merged

    def merged_avoid(self, own_avoid: list[Located], included_avoid: list[Located]) -> list[Located]:
        """The scenario's own avoid rules, then the included ones of other ids."""
        own_avoid_ids: dict[str, Located] = {}
        avoid: list[Located] = []
        for located in own_avoid:
            if located.item.id in own_avoid_ids:
                self.problems.append(
                    located.span.child("id").problem(f"duplicate avoid rule id {located.item.id!r}")
                )
                continue
            own_avoid_ids[located.item.id] = located
            avoid.append(located)
        seen_avoid = set(own_avoid_ids)
        for located in included_avoid:
            if located.item.id in seen_avoid:
                continue
            seen_avoid.add(located.item.id)
            avoid.append(located)
        return avoid
