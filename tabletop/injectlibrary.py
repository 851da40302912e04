"""The inject library: `use: GROUP/NAME` targets in `injects/`, and each scenario inject resolved with what it uses.

A library inject is `injects/GROUP/NAME.yaml`, or key NAME of `injects/GROUP.yaml`; the
scenario's inject gives its `id` and `at` and may override any other key. `use:` takes names
only, so it never reads outside the library.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from tabletop.catalog import read_doc
from tabletop.datafolders import data_dirs
from tabletop.draft import Located
from tabletop.model import Inject
from tabletop.problems import Problem, Span, did_you_mean, show, validate_model
from tabletop.resolving import ResolverBase
from tabletop.timing import TimeFormatError, parse_at
from tabletop.yamlsource import SourceDoc, display_path, yaml_files

INJECT_TEXT = ("from", "title", "body", "notes")
"""The keys of an inject that are rendered with the scenario's variables."""

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


class InjectResolution(ResolverBase):
    """Resolving a scenario's injects: `use:` merged in, times parsed, text rendered, validated."""

    def __init__(self, doc: SourceDoc, seed: int | None) -> None:
        super().__init__(doc, seed)
        self.library = InjectLibrary(data_dirs(doc.path, "injects")[:1])

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
        merged = self.render_keys(merged, INJECT_TEXT, ispan)
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
