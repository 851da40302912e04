"""The scoring data scenarios draw on: roles, the action catalog, regimes and rubric sets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabletop.breach_record import breach_record_problems
from tabletop.model import Action, Regime, Role, RubricSet
from tabletop.problems import Problem, Span, did_you_mean, kind_of, show, validate_model
from tabletop.yamlsource import SourceDoc, YamlSyntaxError, is_yaml, read_yaml

CATALOG_FILES = {"roles": Role, "actions": Action, "regimes": Regime}
"""scoring/NAME.yaml for these names; every other YAML file in scoring/ is a rubric set."""


@dataclass(frozen=True, eq=False)
class Catalog:
    """Roles, actions, regimes and rubric sets by id, with where each was written."""

    roles: dict[str, Role] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    regimes: dict[str, Regime] = field(default_factory=dict)
    rubrics: dict[str, RubricSet] = field(default_factory=dict)
    spans: dict[tuple[str, str], Span] = field(default_factory=dict, repr=False)
    problems: tuple[Problem, ...] = ()
    files: tuple[Path, ...] = ()

    @property
    def markers(self) -> set[str]:
        """Markers some action sets when recorded."""
        return {a.sets_marker for a in self.actions.values() if a.sets_marker}

    def span(self, kind: str, item_id: str) -> Span | None:
        return self.spans.get((kind, item_id))


def read_doc(path: Path, problems: list[Problem]) -> SourceDoc | None:
    """Parse a YAML file, turning syntax errors and duplicate keys into problems."""
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as error:
        problems.append(Problem(SourceDoc(path).display, error.line, error.col, "(file)", error.message))
        return None
    for key_path, (line, col), (first_line, _) in doc.duplicates:
        problems.append(
            Problem(
                doc.display,
                line,
                col,
                ".".join(map(str, key_path)),
                f"key written twice in the same mapping (first on line {first_line}); the second would silently win",
            )
        )
    return doc


def entries(doc: SourceDoc, plural: str) -> Iterator[tuple[dict[str, Any], Span]]:
    """The items of a catalog file, as a list of mappings with `id`, or a mapping by id.

    `roles.yaml` may hold `[{id: dpo, ...}]`, `{dpo: {...}}` or either under a `roles:` key.
    """
    data = doc.data
    span = Span(doc, ())
    if isinstance(data, dict) and set(data) == {plural}:
        data = data[plural]
        span = span.child(plural)
    if isinstance(data, list):
        for index, item in enumerate(data):
            yield item, span.child(index)
    elif isinstance(data, dict):
        for key, item in data.items():
            item_span = span.child(key)
            if isinstance(item, dict):
                merged = {"id": key, **item}
                fields = {k: item_span.child(k) for k in item}
                fields.setdefault("id", Span(doc, item_span.path))
                yield merged, Span(doc, item_span.path, fields)
            elif plural == "roles" and isinstance(item, str):
                yield (
                    {"id": key, "title": item},
                    Span(doc, item_span.path, {"title": item_span, "id": item_span}),
                )
            else:
                yield item, item_span
    elif data is not None:
        yield data, span


def _add(
    kind: str,
    model: Any,
    item: Any,
    span: Span,
    table: dict[str, Any],
    spans: dict[tuple[str, str], Span],
    problems: list[Problem],
) -> None:
    if not isinstance(item, dict):
        problems.append(span.problem(f"expected a mapping describing one {kind[:-1]}, received {show(item)}"))
        return
    obj = validate_model(model, item, span, problems)
    if obj is None:
        return
    if obj.id in table:
        first = spans[(kind, obj.id)]
        line, _ = first.doc.position(first.path)
        problems.append(
            span.child("id").problem(
                f"duplicate {kind[:-1]} id {obj.id!r} (first defined in {first.doc.display}:{line})"
            )
        )
        return
    table[obj.id] = obj
    spans[(kind, obj.id)] = span


def _rubric_item(doc: SourceDoc) -> tuple[Any, Span]:
    span = Span(doc, ())
    data = doc.data
    if isinstance(data, dict) and "id" not in data:
        data = {"id": doc.path.stem, **data}
        fields = {k: span.child(k) for k in doc.data}
        fields["id"] = Span(doc, ())
        span = Span(doc, (), fields)
    return data, span


def load_catalog_from(scoring_dirs: list[Path]) -> Catalog:
    """Read a catalog from scoring folders: each file from the first folder that has it.

    Rubric sets: every other YAML file of the first folder that has any.
    Never raises for the author's mistakes: they are in `problems`.
    """
    problems: list[Problem] = []
    tables: dict[str, dict[str, Any]] = {"roles": {}, "actions": {}, "regimes": {}, "rubrics": {}}
    spans: dict[tuple[str, str], Span] = {}
    files: list[Path] = []
    for plural, model in CATALOG_FILES.items():
        for folder in scoring_dirs:
            path = next(
                (
                    folder / f"{plural}{ext}"
                    for ext in (".yaml", ".yml")
                    if (folder / f"{plural}{ext}").is_file()
                ),
                None,
            )
            if path is None:
                continue
            files.append(path)
            doc = read_doc(path, problems)
            if doc is not None:
                for item, span in entries(doc, plural):
                    _add(plural, model, item, span, tables[plural], spans, problems)
            break
    for folder in scoring_dirs:
        rubric_files = (
            [
                p
                for p in sorted(folder.iterdir())
                if p.is_file() and is_yaml(p) and p.stem not in CATALOG_FILES
            ]
            if folder.is_dir()
            else []
        )
        if not rubric_files:
            continue
        for path in rubric_files:
            files.append(path)
            doc = read_doc(path, problems)
            if doc is None:
                continue
            if not isinstance(doc.data, dict):
                problems.append(
                    Span(doc).problem(
                        f"expected a rubric set (a mapping with title, expectations, avoid), received {kind_of(doc.data)}"
                    )
                )
                continue
            item, span = _rubric_item(doc)
            _add("rubrics", RubricSet, item, span, tables["rubrics"], spans, problems)
        break  # rubric sets come from the nearest folder that has any
    catalog = Catalog(
        roles=tables["roles"],
        actions=tables["actions"],
        regimes=tables["regimes"],
        rubrics=tables["rubrics"],
        spans=spans,
        files=tuple(files),
    )
    problems.extend(check_catalog(catalog))
    return Catalog(
        roles=catalog.roles,
        actions=catalog.actions,
        regimes=catalog.regimes,
        rubrics=catalog.rubrics,
        spans=spans,
        problems=tuple(dict.fromkeys(problems)),
        files=tuple(files),
    )


def check_catalog(catalog: Catalog) -> list[Problem]:
    """Cross-references inside the scoring data: owners are roles, actions exist, values fit."""
    problems: list[Problem] = []
    roles, actions = catalog.roles, catalog.actions

    def role_ok(role: str | None, span: Span, key: str, allow_any: bool = True) -> None:
        if role is None or not roles or role in roles or (allow_any and role == "any"):
            return
        problems.append(
            span.child(key).problem(
                f"unknown role {role!r}{did_you_mean(role, roles)}; expected one of: {', '.join(roles)}"
            )
        )

    def action_ok(action: str, span: Span) -> None:
        if not actions or action in actions:
            return
        problems.append(span.problem(f"unknown action {action!r}{did_you_mean(action, actions)}"))

    for action in actions.values():
        span = catalog.spans[("actions", action.id)]
        role_ok(action.default_owner, span, "default_owner", allow_any=True)
        role_ok(action.improvement_owner, span, "improvement_owner", allow_any=False)
    if "record_breach" in actions:  # a catalog for breaches fills every field of the breach record
        for row, action_id, field_name in breach_record_problems(actions):
            source = actions.get(action_id)
            where = (
                catalog.spans[("actions", action_id)]
                if source
                else catalog.spans[("actions", "record_breach")]
            )
            problems.append(
                where.problem(
                    f"the breach record's {row.label!r} is filled from {action_id}.{field_name}, which "
                    + (f"action {action_id!r} does not have" if action else "is not in the catalog")
                    + "; add the field (every breach-record field is recorded by an action field)"
                )
            )
    for regime in catalog.regimes.values():
        span = catalog.spans[("regimes", regime.id)]
        for index, clock in enumerate(regime.clocks):
            if not clock.source.strip():
                problems.append(
                    span.child("clocks")
                    .child(index)
                    .problem("every clock names its legal source: `source` is empty")
                )
    for regime in catalog.regimes.values():
        span = catalog.spans[("regimes", regime.id)]
        for index, clock in enumerate(regime.clocks):
            clock_span = span.child("clocks").child(index)
            action_ok(clock.action, clock_span.child("action"))
            role_ok(clock.owner, clock_span, "owner")
            for r_index, required in enumerate(clock.requires):
                action_ok(required, clock_span.child("requires").child(r_index))
            problems.extend(value_problems(clock.value, actions.get(clock.action), clock_span.child("value")))
    for rubric in catalog.rubrics.values():
        span = catalog.spans[("rubrics", rubric.id)]
        for index, expectation in enumerate(rubric.expectations):
            e_span = span.child("expectations").child(index)
            action_ok(expectation.action, e_span.child("action"))
            role_ok(expectation.owner, e_span, "owner")
            for r_index, required in enumerate(expectation.requires):
                action_ok(required, e_span.child("requires").child(r_index))
            problems.extend(
                value_problems(expectation.value, actions.get(expectation.action), e_span.child("value"))
            )
        for index, rule in enumerate(rubric.avoid):
            a_span = span.child("avoid").child(index)
            role_ok(rule.role, a_span, "role", allow_any=False)
            for a_index, avoided in enumerate(rule.actions):
                action_ok(avoided, a_span.child("actions").child(a_index))
        seen: dict[str, int] = {}
        for index, expectation in enumerate(rubric.expectations):
            if expectation.id in seen:
                problems.append(
                    span.child("expectations")
                    .child(index)
                    .child("id")
                    .problem(
                        f"duplicate expectation id {expectation.id!r} (also entry {seen[expectation.id]})"
                    )
                )
            seen.setdefault(expectation.id, index)
    return problems


def value_problems(value: dict[str, Any], action: Action | None, span: Span) -> list[Problem]:
    """`value` keys must be fields of the action, choice values among its choices."""
    if action is None or not value:
        return []
    problems = []
    for key, wanted in value.items():
        spec = action.fields.get(key)
        if spec is None:
            fields = ", ".join(action.fields) or "none"
            problems.append(
                span.child(key).problem(
                    f"action {action.id!r} has no field {key!r}{did_you_mean(key, action.fields)}; its fields: {fields}",
                    at_key=True,
                )
            )
        elif spec.type == "choice" and wanted not in spec.choices:
            problems.append(
                span.child(key).problem(
                    f"expected one of: {', '.join(spec.choices)}; received {show(wanted)}{did_you_mean(wanted, spec.choices)}"
                )
            )
    return problems
