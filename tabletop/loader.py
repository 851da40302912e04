"""Load scenario files into resolved, self-contained Scenarios, collecting every problem."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

import tabletop
from tabletop.catalog import Catalog, load_catalog_from, read_doc
from tabletop.model import (
    DECISION_ACTIONS,
    AvoidRule,
    DataPosition,
    Expectation,
    FactCondition,
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
    did_you_mean,
    kind_of,
    show,
    validate_model,
    validation_problems,
)
from tabletop.templating import TemplateProblem, check_syntax, generate_values, render_text
from tabletop.timing import TimeFormatError, parse_at
from tabletop.yamlsource import SourceDoc, display_path, is_yaml, yaml_files

__all__ = [
    "Catalog",
    "Problem",
    "ScenarioError",
    "Validation",
    "data_roots",
    "find_scenario",
    "load_catalog",
    "load_scenario",
    "resolve_scenario",
    "validate_paths",
]

_DATASETS = ("scenarios", "injects", "scoring")
_LIST_FIELDS = ("injects", "phases", "responses", "expectations", "avoid")
_INJECT_TEXT = ("from", "title", "body", "notes")
_RESOLVED_ONLY = ("values", "actions", "role_info")
_PLACEHOLDERS: dict[str, Any] = {"id": "invalid", "title": "", "duration": 0, "roles": ["?"]}


# --- where data lives -------------------------------------------------------------------------


def data_roots() -> list[Path]:
    """The bundled project root(s): the folder above the package, and `tabletop/data/`."""
    package = Path(tabletop.__file__).resolve().parent
    roots = []
    for candidate in (package.parent, package / "data"):
        if any((candidate / name).is_dir() for name in _DATASETS):
            roots.append(candidate)
    return roots


def _nearest(start: Path, name: str) -> Path | None:
    folder = start if start.is_dir() else start.parent
    for parent in [folder, *folder.parents]:
        if (parent / name).is_dir():
            return parent / name
    return None


def data_dirs(start: Path | None, name: str) -> list[Path]:
    """`injects/` or `scoring/` folders to search: the nearest above `start`, then bundled."""
    found: list[Path] = []
    if start is not None:
        nearest = _nearest(start.resolve(), name)
        if nearest is not None:
            found.append(nearest)
    for root in data_roots():
        candidate = (root / name).resolve()
        if candidate.is_dir() and candidate not in found:
            found.append(candidate)
    return found


_catalog_cache: dict[tuple[Any, ...], Catalog] = {}


def _signature(folders: list[Path]) -> tuple[Any, ...]:
    items = []
    for folder in folders:
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            try:
                stat = path.stat()
            except OSError:
                continue
            items.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(items)


def catalog_for(start: Path | None) -> Catalog:
    """The catalog a file at `start` resolves against (cached while the files are unchanged)."""
    folders = data_dirs(start, "scoring")
    key = (tuple(map(str, folders)), _signature(folders))
    catalog = _catalog_cache.get(key)
    if catalog is None:
        catalog = load_catalog_from(folders)
        _catalog_cache.clear()
        _catalog_cache[key] = catalog
    return catalog


def load_catalog(root: Path | str | None = None) -> Catalog:
    """Roles, actions, regimes and rubric sets from `root/scoring` (or `root` if it is one).

    Without a root, the bundled data. Raises ScenarioError when the files have problems.
    """
    if root is None:
        folders = data_dirs(None, "scoring")
    else:
        root = Path(root)
        folder = root / "scoring" if (root / "scoring").is_dir() else root
        folders = [folder.resolve()] + [d for d in data_dirs(None, "scoring") if d != folder.resolve()]
    catalog = load_catalog_from(folders)
    if catalog.problems:
        raise ScenarioError(catalog.problems)
    return catalog


def _scenario_files(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.glob("*.y*ml")) if is_yaml(p)] if folder.is_dir() else []


def scenario_folders() -> list[Path]:
    """`./scenarios` then the bundled `scenarios/` folders (no duplicates)."""
    folders: list[Path] = []
    for candidate in [Path.cwd() / "scenarios"] + [root / "scenarios" for root in data_roots()]:
        resolved = candidate.resolve()
        if resolved.is_dir() and resolved not in folders:
            folders.append(resolved)
    return folders


def find_scenario(name: str | Path) -> Path:
    """A scenario file: `name` itself if it is a file, else the id looked up in ./scenarios,
    then the bundled scenarios/. Raises ScenarioError naming the close ids when not found."""
    path = Path(name)
    if path.is_file():
        return path
    text = str(name)
    known: list[str] = []
    for folder in scenario_folders():
        for candidate in _scenario_files(folder):
            if candidate.stem == text:
                return candidate
            known.append(candidate.stem)
    if text.endswith((".yaml", ".yml")) or "/" in text:
        message = "no such scenario file"
    else:
        message = f"no scenario with id {text!r}{did_you_mean(text, known)}; known: {', '.join(sorted(set(known))) or 'none'}"
    raise ScenarioError([Problem(text, 0, 0, "scenario", message)])


# --- the inject library -----------------------------------------------------------------------


_LIBRARY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.\-]*)+$")
"""`GROUP/NAME` (or deeper): names only, so `use:` never leaves the inject library (no `..`,
no absolute path)."""


def _inside(path: Path, folder: Path) -> bool:
    """True when `path`, links resolved, lies inside `folder` (a link out of the library is refused)."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


class InjectLibrary:
    """`use: GROUP/NAME` targets: `injects/GROUP/NAME.yaml` or key NAME of `injects/GROUP.yaml`."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        self._docs: dict[Path, SourceDoc | None] = {}
        self._problems: dict[Path, list[Problem]] = {}

    def doc(self, path: Path) -> tuple[SourceDoc | None, list[Problem]]:
        if path not in self._docs:
            problems: list[Problem] = []
            self._docs[path] = read_doc(path, problems)
            self._problems[path] = problems
        return self._docs[path], self._problems[path]

    def lookup(self, name: str) -> tuple[dict[str, Any] | None, Span | None, list[Problem]]:
        """The inject's data and span, or (None, None, problems of the file that holds it)."""
        group, _, leaf = name.rpartition("/")
        if not group or not leaf or not _LIBRARY_NAME.match(name):
            return None, None, []
        for folder in self.folders:
            for ext in (".yaml", ".yml"):
                single = folder / group / f"{leaf}{ext}"
                if single.is_file() and _inside(single, folder):
                    doc, problems = self.doc(single)
                    if doc is None:
                        return None, None, problems
                    return doc.data, Span(doc, ()), problems
            for ext in (".yaml", ".yml"):
                several = folder / f"{group}{ext}"
                if several.is_file() and _inside(several, folder):
                    doc, problems = self.doc(several)
                    if doc is None:
                        return None, None, problems
                    if isinstance(doc.data, dict) and leaf in doc.data:
                        return doc.data[leaf], Span(doc, (leaf,)), problems
        return None, None, []

    def names(self) -> list[str]:
        """Every `GROUP/NAME` the library offers (for did-you-mean)."""
        found: list[str] = []
        for folder in self.folders:
            for path in yaml_files(folder):
                relative = path.relative_to(folder).with_suffix("")
                if len(relative.parts) == 1:
                    doc, _ = self.doc(path)
                    if doc is not None and isinstance(doc.data, dict):
                        found.extend(f"{relative.as_posix()}/{key}" for key in doc.data)
                else:
                    found.append(relative.as_posix())
        return found


# --- resolution -------------------------------------------------------------------------------


@dataclass
class Located:
    """A validated piece of a scenario with where it was written, and (for rubric and
    regime expectations) the scenario entry that brought it in."""

    item: Any
    span: Span
    via: Span | None = None
    origin: str = ""


@dataclass
class Draft:
    """A scenario being resolved: what validated so far, for the cross-reference checks."""

    span: Span
    catalog: Catalog
    roles: list[str] | None = None
    duration: int | None = None
    starts_at: datetime | None = None
    starts_at_valid: bool = True
    injects: list[Located] = field(default_factory=list)
    phases: list[Located] = field(default_factory=list)
    responses: list[Located] = field(default_factory=list)
    expectations: list[Located] = field(default_factory=list)
    avoid: list[Located] = field(default_factory=list)
    inject_count: int = 0


class _Resolver:
    """Resolves one scenario file; every mistake becomes a Problem and resolution goes on."""

    def __init__(self, doc: SourceDoc, seed: int | None) -> None:
        self.doc = doc
        self.seed_override = seed
        self.problems: list[Problem] = []
        self.span = Span(doc, ())
        self.catalog = catalog_for(doc.path)
        self.problems.extend(self.catalog.problems)
        self.library = InjectLibrary(data_dirs(doc.path, "injects")[:1])
        self.values: dict[str, Any] = {}
        self.seed = 0
        self.invalid: set[str] = set()

    # text ---------------------------------------------------------------------------------
    def render(self, value: Any, span: Span) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return render_text(value, self.values)
        except TemplateProblem as error:
            self.problems.append(span.problem(str(error)))
            return value

    def render_tree(self, value: Any, span: Span) -> Any:
        if isinstance(value, str):
            return self.render(value, span)
        if isinstance(value, dict):
            return {k: self.render_tree(v, span.child(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render_tree(v, span.child(i)) for i, v in enumerate(value)]
        return value

    def render_keys(self, data: dict[str, Any], keys: tuple[str, ...], span: Span) -> dict[str, Any]:
        out = dict(data)
        for key in keys:
            if key in out:
                if isinstance(out[key], list):
                    out[key] = [self.render(v, span.child(key).child(i)) for i, v in enumerate(out[key])]
                else:
                    out[key] = self.render(out[key], span.child(key))
        return out

    def render_expectation(self, data: Any, span: Span) -> Any:
        return self.render_keys(data, ("title", "why"), span) if isinstance(data, dict) else data

    # the whole scenario ---------------------------------------------------------------------
    def run(self) -> tuple[Scenario | None, Draft]:
        raw = self.doc.data
        draft = Draft(span=self.span, catalog=self.catalog)
        if not isinstance(raw, dict):
            self.problems.append(
                self.span.problem(
                    f"expected a scenario: a mapping with id, title, duration, roles, injects; received {kind_of(raw)}"
                )
            )
            return None, draft
        if raw and not any(key in raw for key in allowed_keys(Scenario)):
            # not a scenario at all (a password file reads as a mapping of junk keys): say so
            # without quoting a single key of it
            self.problems.append(
                self.span.problem(
                    "expected a scenario: a mapping with id, title, duration, roles, injects; received a "
                    f"mapping with none of these keys ({len(raw)} other keys, not shown)"
                )
            )
            return None, draft
        for key in _RESOLVED_ONLY:
            if key in raw:
                hint = " (did you mean 'variables'?)" if key == "values" else ""
                self.problems.append(
                    self.span.child(key).problem(
                        f"{key!r} is filled in when the scenario is loaded; do not write it{hint}",
                        at_key=True,
                    )
                )
        raw = {k: v for k, v in raw.items() if k not in _RESOLVED_ONLY}

        seed = raw.get("seed", 0)
        if self.seed_override is not None:
            seed = self.seed_override
        self.seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
        variables = raw.get("variables") or {}
        if isinstance(variables, dict):
            self.values, variable_problems = generate_values(variables, self.seed)
            for name, message in variable_problems.items():
                self.problems.append(self.span.child("variables").child(name).problem(message))

        starts_at = None
        if raw.get("starts_at") is not None:
            try:
                starts_at = TypeAdapter(datetime).validate_python(raw["starts_at"])
            except ValidationError:
                starts_at = None  # reported by the model check below
                draft.starts_at_valid = False
        draft.starts_at = starts_at

        # lists validated item by item so that one mistake does not hide the others
        raw_lists: dict[str, Any] = {}
        for name in _LIST_FIELDS:
            value = raw.get(name)
            raw_lists[name] = value
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

        # top-level keys, with the lists already validated
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
        header = self.header(top)
        if header is None:
            return None, draft
        self.check_hotwash(header, raw.get("hotwash"))
        draft.roles = None if "roles" in self.invalid else list(header.roles)
        draft.duration = None if "duration" in self.invalid else header.duration

        self.merge_expectations(header, own_expectations, own_avoid, draft)
        from tabletop.checks import check_scenario

        self.problems.extend(check_scenario(draft))
        if self.problems:
            return None, draft
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
        return Scenario.model_validate(scenario.model_dump(by_alias=True)), draft

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

    def item(self, model: Any, data: Any, span: Span, what: str) -> Any:
        if not isinstance(data, dict):
            keys = ", ".join(allowed_keys(model))
            self.problems.append(
                span.problem(f"expected a mapping describing one {what} ({keys}), received {show(data)}")
            )
            return None
        return validate_model(model, data, span, self.problems)

    # injects --------------------------------------------------------------------------------
    def inject(self, item: Any, span: Span, starts_at: datetime | None) -> Located | None:
        if not isinstance(item, dict):
            self.problems.append(
                span.problem(
                    f"expected a mapping describing one inject (id, at, title, ...), received {show(item)}"
                )
            )
            return None
        merged = dict(item)
        fields: dict[str, Span] = {}
        origin = ""
        use = item.get("use")
        if use is not None:
            library_data, library_span, library_problems = self.resolve_use(use, span.child("use"))
            self.problems.extend(library_problems)
            if library_data is not None and library_span is not None:
                inject_id = item.get("id", "?")
                note = f"used by inject {inject_id!r} of {self.doc.display}"
                library_span = Span(library_span.doc, library_span.path, None, note)
                origin = f"{library_span.doc.display}"
                if not isinstance(library_data, dict):
                    self.problems.append(
                        library_span.problem(
                            f"expected a mapping describing one inject, received {show(library_data)}"
                        )
                    )
                else:
                    for key in ("id", "at"):
                        if key in library_data:
                            self.problems.append(
                                library_span.child(key).problem(
                                    f"a library inject takes no {key!r}: the scenario that uses it gives it",
                                    at_key=True,
                                )
                            )
                    for key, value in library_data.items():
                        if key in ("id", "at", "use"):
                            continue
                        if key not in item:
                            merged[key] = value
                            fields[key] = library_span.child(key)
        ispan = Span(span.doc, span.path, fields, span.note) if fields else span
        is_branch = merged.get("when") is not None
        if "at" in merged:
            try:
                seconds, relative = parse_at(merged["at"], starts_at)
                text = merged["at"].strip() if isinstance(merged["at"], str) else ""
                if is_branch and (text.upper().startswith("T+") or ":" in text):
                    raise TimeFormatError(
                        f"a branch's `at` is the delay after its `when` condition, like +10m; received {merged['at']!r}"
                    )
                if relative and not is_branch:
                    raise TimeFormatError(
                        f"{merged['at']!r} is relative to a branch condition, but this inject has no `when`; "
                        f"write T+{merged['at'].strip()[1:]} for a time from the start"
                    )
                merged["at"] = seconds
            except TimeFormatError as error:
                self.problems.append(ispan.child("at").problem(str(error)))
                merged.pop("at")
        elif not is_branch:
            self.problems.append(
                ispan.problem("missing required key 'at' (when the inject is released, like T+20m or 09:30)")
            )
        if merged.get("advance_to") is not None:
            try:
                seconds, relative = parse_at(merged["advance_to"], starts_at)
                if relative:
                    raise TimeFormatError(
                        f"expected an absolute time like T+24h or 'day 2 08:00', received {merged['advance_to']!r}"
                    )
                merged["advance_to"] = seconds
            except TimeFormatError as error:
                self.problems.append(ispan.child("advance_to").problem(str(error)))
                merged.pop("advance_to")
        merged = self.render_keys(merged, _INJECT_TEXT, ispan)
        if isinstance(merged.get("expects"), list):
            merged["expects"] = [
                self.render_expectation(e, ispan.child("expects").child(i))
                for i, e in enumerate(merged["expects"])
            ]
        inject = validate_model(Inject, merged, ispan, self.problems)
        if inject is None:
            return None
        return Located(inject, ispan, origin=origin)

    def resolve_use(self, use: Any, span: Span) -> tuple[Any, Span | None, list[Problem]]:
        if not isinstance(use, str) or "/" not in use:
            return (
                None,
                None,
                [
                    span.problem(
                        f"expected GROUP/NAME of an inject in injects/, like breach/anomalous-export; received {show(use)}"
                    )
                ],
            )
        if not _LIBRARY_NAME.match(use):
            return (
                None,
                None,
                [
                    span.problem(
                        "expected GROUP/NAME of an inject in the inject library, like breach/anomalous-export "
                        "(names only: `use:` never reads outside injects/, so no '..' and no absolute path)"
                    )
                ],
            )
        data, library_span, problems = self.library.lookup(use)
        if library_span is None and not problems:
            names = self.library.names()
            hint = did_you_mean(use, names)
            where = ", ".join(display_path(f) for f in self.library.folders) or "no injects/ folder found"
            return (
                None,
                None,
                [span.problem(f"no inject {use!r} in the inject library{hint} (searched {where})")],
            )
        return data, library_span, problems

    # expectations from rubric sets and regimes ----------------------------------------------
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
        catalog = self.catalog
        included: list[Located] = []
        included_avoid: list[Located] = []
        rubric_names = header.rubric if "rubric" not in self.invalid else []
        for index, name in enumerate(rubric_names):
            via = (
                self.span.child("rubric").child(index)
                if isinstance(self.doc.data.get("rubric"), list)
                else self.span.child("rubric")
            )
            if name in rubric_names[:index]:
                self.problems.append(via.problem(f"rubric set {name!r} is listed twice"))
                continue
            rubric = catalog.rubrics.get(name)
            if rubric is None:
                self.problems.append(
                    via.problem(
                        f"unknown rubric set {name!r}{did_you_mean(name, catalog.rubrics)}; expected one of: {', '.join(sorted(catalog.rubrics)) or 'none'}"
                    )
                )
                continue
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
        for index, name in enumerate(regime_names):
            via = (
                self.span.child("regimes").child(index)
                if isinstance(self.doc.data.get("regimes"), list)
                else self.span.child("regimes")
            )
            if name in regime_names[:index]:
                self.problems.append(via.problem(f"regime {name!r} is listed twice"))
                continue
            regime = catalog.regimes.get(name)
            if regime is None:
                self.problems.append(
                    via.problem(
                        f"unknown regime {name!r}{did_you_mean(name, catalog.regimes)}; expected one of: {', '.join(sorted(catalog.regimes)) or 'none'}"
                    )
                )
                continue
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
        actions = catalog.actions
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
        draft.expectations = merged

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
        draft.avoid = avoid


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
        if parent.name in _DATASETS:
            return parent.name
        if any((parent / name).is_dir() for name in _DATASETS):
            break
    return "scenarios"


def default_paths() -> list[Path]:
    names = (*_DATASETS, "programme.yaml")
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
        for key in _INJECT_TEXT:
            if isinstance(checked.get(key), str):
                try:
                    check_syntax(checked[key])
                except TemplateProblem as error:
                    problems.append(item_span.child(key).problem(str(error)))
        inject = validate_model(Inject, {"id": "library", **checked}, item_span, problems)
        if inject is None:
            continue
        from tabletop.checks import check_library_inject

        problems.extend(check_library_inject(inject, item_span, catalog))
    return len(items), problems
