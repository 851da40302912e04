"""Problems found in authored files, located at FILE:LINE:COL with a dotted key."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from tabletop.yamlsource import KeyPath, SourceDoc, dotted


@dataclass(frozen=True)
class Problem:
    """One mistake in one file: `str(p)` is `FILE:LINE:COL: dotted.key: message`."""

    path: str
    line: int
    col: int
    key: str
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.path}: {self.key}: {self.message}"
        return f"{self.path}:{self.line}:{self.col}: {self.key}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "key": self.key,
            "message": self.message,
        }


class ScenarioError(Exception):
    """A scenario (or the data it draws on) has problems; `problems` lists every one."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid scenario")


@dataclass(frozen=True, eq=False)
class Span:
    """Where a piece of data was written: a document and a key path in it.

    `fields` overrides the span of some child keys (an inject merged from a library file and
    the scenario); `note` is appended to problems located here (says which scenario used it).
    """

    doc: SourceDoc
    path: KeyPath = ()
    fields: Mapping[str, Span] | None = None
    note: str = ""

    def child(self, key: str | int) -> Span:
        if self.fields is not None and isinstance(key, str) and key in self.fields:
            span = self.fields[key]
            if self.note and not span.note:
                span = Span(span.doc, span.path, span.fields, self.note)
            return span
        return Span(self.doc, (*self.path, key), None, self.note)

    def resolve(self, loc: Iterable[str | int]) -> Span:
        span = self
        for part in loc:
            span = span.child(part)
        return span

    def problem(self, message: str, at_key: bool = False) -> Problem:
        line, col = self.doc.position(self.path, prefer_key=at_key)
        if self.note:
            message = f"{message} ({self.note})"
        return Problem(self.doc.display, line, col, dotted(self.path), message)


def did_you_mean(word: Any, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a close candidate exists, else an empty string."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def show(value: Any) -> str:
    """A received value as the user should read it in a message."""
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value!r} (a number)"
    if isinstance(value, BaseModel):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def kind_of(value: Any) -> str:
    """What a whole file turned out to hold, without quoting it (a file that is not our input
    may be anything, a password file included: its content is never echoed)."""
    if isinstance(value, str):
        return "a text" if value.strip() else "an empty text"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return show(value)


# --- pydantic errors as problems ------------------------------------------------------------

HIDDEN_FIELDS = {"values", "actions", "role_info"}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def allowed_keys(model: type[BaseModel]) -> list[str]:
    return [(info.alias or name) for name, info in model.model_fields.items() if name not in HIDDEN_FIELDS]


def _model_at(model: type[BaseModel] | None, loc: KeyPath) -> type[BaseModel] | None:
    current = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        fields = {(info.alias or name): info for name, info in current.model_fields.items()}
        info = fields.get(part)
        if info is None:
            return None
        current = _inner_model(info.annotation)
    return current


def _clean_loc(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """Drop pydantic's type tags (`function-before[...]`, `str`) from an error location."""
    clean: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if isinstance(current, dict) and part in current:
            clean.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            clean.append(part)
            current = current[int(part)]
        elif isinstance(current, BaseModel):
            clean.append(part)
            current = None
        elif isinstance(current, dict) and isinstance(part, str) and index == len(loc) - 1:
            clean.append(part)  # a missing key: keep it, positions fall back on the parent
        elif isinstance(current, dict) and isinstance(part, str) and not re.search(r"[\[\]-]", part):
            clean.append(part)
            current = None
        else:
            current = None if not isinstance(current, (dict, list)) else current
            continue
    return tuple(clean)


def _expected_literals(ctx: Mapping[str, Any] | None) -> list[str]:
    if not ctx or "expected" not in ctx:
        return []
    return re.findall(r"'([^']*)'", str(ctx["expected"]))


def error_message(error: Mapping[str, Any], model: type[BaseModel] | None, loc: tuple[str | int, ...]) -> str:
    """A pydantic error as `expected ..., received ...`, with `did you mean` where it helps."""
    kind = error.get("type", "")
    received = error.get("input")
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        parent = _model_at(model, loc[:-1])
        allowed = allowed_keys(parent) if parent else []
        hint = did_you_mean(key, allowed)
        tail = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {key!r}{hint}{tail}"
    if kind == "missing":
        key = loc[-1] if loc else "?"
        return f"missing required key {key!r}"
    if kind in ("literal_error", "enum"):
        options = _expected_literals(error.get("ctx"))
        hint = did_you_mean(received, options)
        return f"expected one of: {', '.join(options)}; received {show(received)}{hint}"
    if kind.startswith(("datetime_", "date_")):
        return f"expected a date and time like 2026-03-02T09:10, received {show(received)}"
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if message.startswith("Input should be "):
        message = "expected " + message[len("Input should be ") :]
    elif message.startswith("String should match pattern"):
        message = "expected an id of lower-case letters, digits, '-' and '_' (like dpo-in)"
    elif message.startswith("List should have at least 1 item"):
        message = "expected at least one entry"
    if "received" not in message:
        message = f"{message}, received {show(received)}"
    return message


def validation_problems(
    error: ValidationError, span: Span, model: type[BaseModel] | None, data: Any
) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = _clean_loc(tuple(item.get("loc", ())), data)
        message = error_message(item, model, loc)
        problems.append(span.resolve(loc).problem(message, at_key=item.get("type") == "extra_forbidden"))
    return problems


def validate_model(model: type[BaseModel], data: Any, span: Span, problems: list[Problem]) -> Any:
    """`model.model_validate(data)`, adding located problems and returning None on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems.extend(validation_problems(error, span, model, data))
        return None
