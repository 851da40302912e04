"""Load scenario files into resolved, self-contained Scenarios, collecting every problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tabletop.catalog import Catalog, load_catalog_from, read_doc
from tabletop.checks import check_library_inject, check_scenario
from tabletop.datafolders import (
    DATASETS,
    catalog_for,
    data_dirs,
    data_roots,
    find_scenario,
    load_catalog,
    scenario_folders,
)
from tabletop.draft import Draft, Located
from tabletop.injectlibrary import INJECT_TEXT, InjectResolution
from tabletop.merging import ExpectationMerge
from tabletop.model import (
    AvoidRule,
    Expectation,
    Inject,
    Phase,
    Response,
    Scenario,
)
from tabletop.problems import (
    Problem,
    ScenarioError,
    Span,
    allowed_keys,
    kind_of,
    show,
    validate_model,
    validation_problems,
)
from tabletop.templating import TemplateProblem, check_syntax, generate_values
from tabletop.yamlsource import yaml_files

__all__ = [
    "Catalog",
    "Draft",
    "Located",
    "Problem",
    "ScenarioError",
    "Validation",
    "catalog_for",
    "data_dirs",
    "data_roots",
    "find_scenario",
    "load_catalog",
    "load_scenario",
    "resolve_scenario",
    "scenario_folders",
    "validate_paths",
]

_LIST_FIELDS = ("injects", "phases", "responses", "expectations", "avoid")
_RESOLVED_ONLY = ("values", "actions", "role_info")
_PLACEHOLDERS: dict[str, Any] = {"id": "invalid", "title": "", "duration": 0, "roles": ["?"]}


# --- resolution -------------------------------------------------------------------------------


class _Resolver(InjectResolution, ExpectationMerge):
    """Resolves one scenario file; every mistake becomes a Problem and resolution goes on."""

    # the whole scenario ---------------------------------------------------------------------
    def run(self) -> tuple[Scenario | None, Draft]:
        """The scenario (None when anything is wrong) and the draft the checks looked at."""
        draft = Draft(span=self.span, catalog=self.catalog)
        raw = self.scenario_mapping(self.doc.data)
        if raw is None:
            return None, draft
        self.variables(raw)
        starts_at = self.starts_at(raw, draft)
        # lists validated item by item so that one mistake does not hide the others
        raw_lists: dict[str, Any] = {name: raw.get(name) for name in _LIST_FIELDS}
        own_expectations, own_avoid = self.lists(raw_lists, draft, starts_at)
        header = self.header(self.top_keys(raw, raw_lists, draft))
        if header is None:
            return None, draft
        self.check_hotwash(header, raw.get("hotwash"))
        draft.roles = None if "roles" in self.invalid else list(header.roles)
        draft.duration = None if "duration" in self.invalid else header.duration

        self.merge_expectations(header, own_expectations, own_avoid, draft)
        self.problems.extend(check_scenario(draft))
        if self.problems:
            return None, draft
        return self.assemble(header, draft), draft

    def scenario_mapping(self, raw: Any) -> dict[str, Any] | None:
        """The file's mapping without the keys only loading fills in; None (a problem) when the
        file is not a scenario at all."""
        if not isinstance(raw, dict):
            self.problems.append(
                self.span.problem(
                    f"expected a scenario: a mapping with id, title, duration, roles, injects; received {kind_of(raw)}"
                )
            )
            return None
        if raw and not any(key in raw for key in allowed_keys(Scenario)):
            # not a scenario at all (a password file reads as a mapping of junk keys): say so
            # without quoting a single key of it
            self.problems.append(
                self.span.problem(
                    "expected a scenario: a mapping with id, title, duration, roles, injects; received a "
                    f"mapping with none of these keys ({len(raw)} other keys, not shown)"
                )
            )
            return None
        for key in _RESOLVED_ONLY:
            if key in raw:
                hint = " (did you mean 'variables'?)" if key == "values" else ""
                self.problems.append(
                    self.span.child(key).problem(
                        f"{key!r} is filled in when the scenario is loaded; do not write it{hint}",
                        at_key=True,
                    )
                )
        return {k: v for k, v in raw.items() if k not in _RESOLVED_ONLY}

    def variables(self, raw: dict[str, Any]) -> None:
        """The seed (the caller's, else the scenario's) and the variables' values drawn with it."""
        seed = raw.get("seed", 0)
        if self.seed_override is not None:
            seed = self.seed_override
        self.seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
        variables = raw.get("variables") or {}
        if isinstance(variables, dict):
            self.values, variable_problems = generate_values(variables, self.seed)
            for name, message in variable_problems.items():
                self.problems.append(self.span.child("variables").child(name).problem(message))

    def starts_at(self, raw: dict[str, Any], draft: Draft) -> datetime | None:
        """The scenario's `starts_at` (None when absent or invalid: the model check reports it)."""
        starts_at = None
        if raw.get("starts_at") is not None:
            try:
                starts_at = TypeAdapter(datetime).validate_python(raw["starts_at"])
            except ValidationError:
                starts_at = None  # reported by the model check below
                draft.starts_at_valid = False
        draft.starts_at = starts_at
        return starts_at

    def lists(
        self, raw_lists: dict[str, Any], draft: Draft, starts_at: datetime | None
    ) -> tuple[list[Located], list[Located]]:
        """Injects, phases and responses into the draft, item by item; returns the scenario's
        own expectations (its injects' `expects` and its `expectations`) and avoid rules."""
        injects = raw_lists["injects"]
        if isinstance(injects, list):
            draft.inject_count = len(injects)
            for index, item in enumerate(injects):
                located = self.inject(item, self.span.child("injects").child(index), starts_at)
                if located is not None:
                    draft.injects.append(located)
        if isinstance(raw_lists["phases"], list):
            for index, item in enumerate(raw_lists["phases"]):
                span = self.span.child("phases").child(index)
                data = (
                    self.render_keys(item, ("title", "summary", "questions"), span)
                    if isinstance(item, dict)
                    else item
                )
                phase = self.item(Phase, data, span, "phase")
                if phase is not None:
                    draft.phases.append(Located(phase, span))
        if isinstance(raw_lists["responses"], list):
            for index, item in enumerate(raw_lists["responses"]):
                span = self.span.child("responses").child(index)
                data = self.render_keys(item, ("title", "body"), span) if isinstance(item, dict) else item
                response = self.item(Response, data, span, "response")
                if response is not None:
                    draft.responses.append(Located(response, span))
        own_expectations: list[Located] = []
        for located in draft.injects:
            inject: Inject = located.item
            for index, expectation in enumerate(inject.expects):
                if expectation.after is None:
                    expectation = expectation.model_copy(update={"after": f"inject:{inject.id}"})
                own_expectations.append(Located(expectation, located.span.child("expects").child(index)))
        if isinstance(raw_lists["expectations"], list):
            for index, item in enumerate(raw_lists["expectations"]):
                span = self.span.child("expectations").child(index)
                expectation = self.item(Expectation, self.render_expectation(item, span), span, "expectation")
                if expectation is not None:
                    if expectation.after is None:
                        expectation = expectation.model_copy(update={"after": "start"})
                    own_expectations.append(Located(expectation, span))
        own_avoid: list[Located] = []
        if isinstance(raw_lists["avoid"], list):
            for index, item in enumerate(raw_lists["avoid"]):
                span = self.span.child("avoid").child(index)
                rule = self.item(AvoidRule, item, span, "avoid rule")
                if rule is not None:
                    own_avoid.append(Located(rule, span))
        return own_expectations, own_avoid

    def top_keys(self, raw: dict[str, Any], raw_lists: dict[str, Any], draft: Draft) -> dict[str, Any]:
        """The top-level keys to validate, rendered, with the lists already validated."""
        top = {k: v for k, v in raw.items() if k not in _LIST_FIELDS}
        for key in ("title", "summary", "objectives", "hotwash"):
            if key in top:
                top[key] = self.render_tree(top[key], self.span.child(key))
        if isinstance(top.get("context"), dict):
            top["context"] = self.render_tree(top["context"], self.span.child("context"))
        top["seed"] = self.seed if isinstance(top.get("seed", 0), int) else top.get("seed")
        top["values"] = self.values
        for name in _LIST_FIELDS:
            value = raw_lists[name]
            if value is None and name in raw:
                top[name] = value  # `injects:` written with nothing after it
            elif not isinstance(value, list):
                if name in raw:
                    top[name] = value
            elif name == "injects":
                top[name] = [loc.item for loc in draft.injects] or (
                    [] if not value else [Inject(id="placeholder")]
                )
        return top

    def assemble(self, header: Scenario, draft: Draft) -> Scenario:
        """The resolved, self-contained scenario: the header with everything the draft holds."""
        role_info = [self.catalog.roles[r] for r in header.roles if r in self.catalog.roles]
        scenario = header.model_copy(
            update={
                "injects": [loc.item.model_copy(update={"expects": []}) for loc in draft.injects],
                "phases": [loc.item for loc in draft.phases],
                "responses": [loc.item for loc in draft.responses],
                "expectations": [loc.item for loc in draft.expectations],
                "avoid": [loc.item for loc in draft.avoid],
                "actions": list(self.catalog.actions.values()),
                "role_info": role_info,
                "seed": self.seed,
                "values": self.values,
            }
        )
        return Scenario.model_validate(scenario.model_dump(by_alias=True))

    def header(self, top: dict[str, Any]) -> Scenario | None:
        """Validate the top-level keys; invalid ones are reported and replaced by placeholders."""
        self.invalid = set()
        data = dict(top)
        for _ in range(3):
            try:
                return Scenario.model_validate(data)
            except ValidationError as error:
                failed: set[str] = set()
                for problem_item in error.errors(include_url=False):
                    loc = problem_item.get("loc", ())
                    if loc:
                        failed.add(str(loc[0]))
                if not self.invalid:
                    self.problems.extend(validation_problems(error, self.span, Scenario, data))
                self.invalid |= failed
                for key in failed:
                    if key in _PLACEHOLDERS:
                        data[key] = _PLACEHOLDERS[key]
                    elif key == "injects":
                        data[key] = [Inject(id="placeholder")]
                    else:
                        data.pop(key, None)
        return None

    def check_hotwash(self, header: Scenario, raw: Any) -> None:
        """Each hot-wash question once: an answer names the question it answers by its text."""
        first: dict[str, int] = {}
        for index, question in enumerate(header.hotwash):
            written = raw[index] if isinstance(raw, list) and index < len(raw) else None
            span = self.span.child("hotwash").child(index)
            if isinstance(written, dict):
                span = span.child("question")
            if question.question in first:
                line = self.span.child("hotwash").child(first[question.question]).problem("").line
                self.problems.append(
                    span.problem(
                        f"duplicate hot-wash question {question.question!r} (first on line {line}); "
                        "an answer names its question by its text"
                    )
                )
            else:
                first[question.question] = index

    # injects --------------------------------------------------------------------------------
    # expectations from rubric sets and regimes ----------------------------------------------


def resolve_scenario(
    path: Path | str, seed: int | None = None
) -> tuple[Scenario | None, list[Problem], Draft | None]:
    """Resolve a scenario file; returns (scenario or None, problems, draft). Never raises for
    the author's mistakes."""
    problems: list[Problem] = []
    doc = read_doc(Path(path), problems)
    if doc is None:
        return None, problems, None
    resolver = _Resolver(doc, seed)
    resolver.problems.extend(problems)
    scenario, draft = resolver.run()
    unique = list(dict.fromkeys(resolver.problems))
    return (scenario if not unique else None), unique, draft


def load_scenario(name: str | Path, seed: int | None = None) -> Scenario:
    """A resolved, self-contained Scenario from an id or a path; raises ScenarioError."""
    path = find_scenario(name)
    scenario, problems, _ = resolve_scenario(path, seed)
    if problems or scenario is None:
        raise ScenarioError(problems)
    return scenario


# --- validating files and folders -------------------------------------------------------------


@dataclass
class Validation:
    """The outcome of `validate_paths`: every problem and what was checked."""

    problems: list[Problem] = field(default_factory=list)
    scenarios: int = 0
    injects: int = 0
    rubric_sets: int = 0
    files: int = 0

    def summary(self) -> str:
        def plural(n: int, word: str) -> str:
            return f"{n} {word}{'' if n == 1 else 's'}"

        head = ", ".join(
            [
                plural(self.scenarios, "scenario"),
                plural(self.injects, "inject"),
                plural(self.rubric_sets, "rubric set"),
            ]
        )
        if not self.problems:
            return f"{head}: no problems"
        files = len({p.path for p in self.problems})
        return f"{head}: {plural(len(self.problems), 'problem')} in {plural(files, 'file')}"


def _kind_of(path: Path) -> str:
    """What a file holds, from the nearest folder named for a dataset; the search stops at a
    data root (a folder holding scenarios/, injects/ or scoring/), whose own name says nothing."""
    if path.name in ("programme.yaml", "programme.yml"):
        return "programme"
    for parent in path.resolve().parents:
        if parent.name in DATASETS:
            return parent.name
        if any((parent / name).is_dir() for name in DATASETS):
            break
    return "scenarios"


def default_paths() -> list[Path]:
    names = (*DATASETS, "programme.yaml")
    return [root / name for root in data_roots()[:1] for name in names if (root / name).exists()]


def validate_paths(paths: list[Path | str] | None = None) -> list[Problem]:
    """Every problem in the given files and folders (default: the bundled data)."""
    return validate(paths).problems


def validate(paths: list[Path | str] | None = None) -> Validation:
    """Validate scenario, inject library and scoring files; collects every problem."""
    result = Validation()
    targets = [Path(p) for p in paths] if paths else default_paths()
    files: list[Path] = []
    for target in targets:
        if target.is_dir():
            files.extend(yaml_files(target))
        elif target.exists():
            files.append(target)
        else:
            result.problems.append(Problem(str(target), 0, 0, "(file)", "no such file or folder"))
    files = list(dict.fromkeys(files))
    result.files = len(files)
    scoring_dirs_done: set[Path] = set()
    for path in files:
        kind = _kind_of(path)
        if kind == "scoring":
            folder = next(p for p in path.resolve().parents if p.name == "scoring")
            if folder not in scoring_dirs_done:
                scoring_dirs_done.add(folder)
                catalog = load_catalog_from([folder])
                result.problems.extend(catalog.problems)
                result.rubric_sets += len(catalog.rubrics)
        elif kind == "programme":
            from tabletop.programme.config import check_programme

            result.problems.extend(check_programme(path)[1])
        elif kind == "injects":
            count, problems = validate_library_file(path)
            result.injects += count
            result.problems.extend(problems)
        else:
            _scenario, problems, draft = resolve_scenario(path)
            result.scenarios += 1
            result.injects += draft.inject_count if draft is not None else 0
            result.problems.extend(problems)
    result.problems = list(dict.fromkeys(result.problems))
    return result


def _looks_like_inject(data: dict[str, Any]) -> bool:
    fields = set(allowed_keys(Inject))
    return any(key in fields for key in data)


def validate_library_file(path: Path) -> tuple[int, list[Problem]]:
    """Check an inject library file on its own: keys, types, template syntax, roles, actions."""
    problems: list[Problem] = []
    doc = read_doc(path, problems)
    if doc is None:
        return 0, problems
    folder = next(p for p in path.resolve().parents if p.name == "injects")
    relative = path.resolve().relative_to(folder).with_suffix("")
    span = Span(doc, ())
    if not isinstance(doc.data, dict):
        return 0, [
            *problems,
            span.problem(
                f"expected a mapping (one inject, or several by name), received {kind_of(doc.data)}"
            ),
        ]
    if len(relative.parts) > 1 and _looks_like_inject(doc.data):
        items = [(doc.data, span)]
    else:
        items = [(value, span.child(key)) for key, value in doc.data.items()]
    catalog = catalog_for(path)
    for data, item_span in items:
        if not isinstance(data, dict):
            problems.append(
                item_span.problem(f"expected a mapping describing one inject, received {show(data)}")
            )
            continue
        for key in ("id", "at"):
            if key in data:
                problems.append(
                    item_span.child(key).problem(
                        f"a library inject takes no {key!r}: the scenario that uses it gives it", at_key=True
                    )
                )
        checked = {k: v for k, v in data.items() if k not in ("id", "at", "use", "when", "advance_to")}
        for key in INJECT_TEXT:
            if isinstance(checked.get(key), str):
                try:
                    check_syntax(checked[key])
                except TemplateProblem as error:
                    problems.append(item_span.child(key).problem(str(error)))
        inject = validate_model(Inject, {"id": "library", **checked}, item_span, problems)
        if inject is None:
            continue
        problems.extend(check_library_inject(inject, item_span, catalog))
    return len(items), problems
