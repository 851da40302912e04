"""What a decision may be: the checks the engine, decision scripts, the console and the network host share.

A decision names an action of the scenario's catalog and gives its fields; `check_decision`
says everything wrong with one (an empty list: nothing). The session refuses what is wrong by
raising `Rejected`, and records nothing.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any

from tabletop.model import Action, Scenario
from tabletop.timing import TimeFormatError, parse_duration


class Rejected(Exception):
    """A decision or facilitator action the session refuses; nothing was recorded.

    The message says what is wrong and what was expected.
    """


def close_match(word: str, options: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the option closest to `word`, or nothing."""
    match = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def check_action(scenario: Scenario, action: str) -> str | None:
    """None if `action` is in the scenario's catalog, else what is wrong."""
    actions = scenario.action_map()
    if action in actions:
        return None
    if not actions:
        return f"unknown action {action!r}: the scenario has no action catalog"
    return f"unknown action {action!r}{close_match(action, actions)}; expected one of the catalog's actions"


def check_fields(action: Action, fields: dict[str, Any] | None, *, complete: bool = True) -> list[str]:
    """What is wrong with a decision's field values for `action` (empty list: all good).

    With `complete` false (a delegation: the delegate fills the form) a required field may be
    missing; what is given must still fit.
    """
    problems: list[str] = []
    fields = fields or {}
    if not isinstance(fields, dict):
        return [f"fields of {action.id!r} must be a mapping of field name to value, received {fields!r}"]
    for name, value in fields.items():
        spec = action.fields.get(name)
        if spec is None:
            expected = ", ".join(action.fields) or "no fields"
            problems.append(
                f"unknown field {name!r} for action {action.id!r}{close_match(str(name), action.fields)}; "
                f"expected {expected}"
            )
            continue
        if value is None or value == "":
            continue
        if spec.type == "choice" and str(value) not in spec.choices:
            problems.append(
                f"field {name!r} of {action.id!r}: expected one of {', '.join(spec.choices)}, "
                f"received {value!r}"
            )
        elif spec.type == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            try:
                float(str(value))
            except ValueError:
                problems.append(f"field {name!r} of {action.id!r}: expected a number, received {value!r}")
        elif spec.type == "bool" and not isinstance(value, bool):
            problems.append(f"field {name!r} of {action.id!r}: expected true or false, received {value!r}")
        elif spec.type == "text" and isinstance(value, (dict, list)):
            problems.append(f"field {name!r} of {action.id!r}: expected text, received {value!r}")
        elif spec.type == "duration":
            try:
                parse_duration(value)
            except TimeFormatError:
                problems.append(
                    f"field {name!r} of {action.id!r}: expected a duration like 30m or 72h, "
                    f"received {value!r}"
                )
    for name, spec in action.fields.items():
        if complete and spec.required and (fields.get(name) is None or fields.get(name) == ""):
            hint = f" (one of {', '.join(spec.choices)})" if spec.choices else ""
            problems.append(f"field {name!r} is required for action {action.id!r}{hint}")
    return problems


def check_decision(
    scenario: Scenario, action: str, fields: dict[str, Any] | None = None, *, complete: bool = True
) -> list[str]:
    """Everything wrong with recording `action` with `fields` in this scenario (`complete`: see
    `check_fields`)."""
    problem = check_action(scenario, action)
    if problem:
        return [problem]
    return check_fields(scenario.action(action), fields, complete=complete)


def origin(script_entry: int | None, request: str | None) -> dict[str, Any]:
    """The optional keys saying where a decision came from: a script's entry, a player's request id."""
    extra: dict[str, Any] = {}
    if script_entry is not None:
        extra["script_entry"] = script_entry
    if request is not None:
        extra["request"] = str(request)
    return extra


def plain_json(value: Any) -> Any:
    """Plain JSON data (tuples to lists), so that what is returned is what is read back."""
    try:
        return json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError):
        raise Rejected(
            f"expected plain text, numbers or true/false as field values, received {value!r}"
        ) from None


def check_by(by: str) -> str:
    """`by` (who made a decision) when it names someone; Rejected when it is empty."""
    if not isinstance(by, str) or not by.strip():
        raise Rejected("say who made it: `by` (a person's name) is empty")
    return by
