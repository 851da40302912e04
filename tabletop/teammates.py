"""Simulated teammates in solo practice: when the player brought a role in, and how it does its own work.

The README's "Solo practice" states the rule. A simulated role is *involved* from the first
moment the player hands it work (a `delegation` to it) or records an action that the
scenario's `responses` from that role answer (`involve_dpo` brings in the DPO). From then on
the teammate carries out each expectation its role owns, `delay` after the expectation's
anchor (or after being involved, whichever is later), and never after the deadline; a
teammate nobody involved still does its work, `delay` after the deadline (late). The delay
is the `after` of the scenario's response from that role to that action, else the scenario's
`delegate_delay`.
"""

from __future__ import annotations

from typing import Any

from tabletop import events as ev
from tabletop.model import Action, Expectation, Scenario


def involved_roles(scenario: Scenario, event: dict[str, Any], player: str) -> set[str]:
    """The roles (other than the player's) that one of the player's events brings in."""
    if event.get("role") != player:
        return set()
    kind = event.get("type")
    if kind == ev.DELEGATION:
        to_role = event.get("to_role")
        return {to_role} if isinstance(to_role, str) and to_role != player else set()
    if kind == ev.DECISION and not event.get("delegated_by"):
        action = event.get("action")
        return {r.from_ for r in scenario.responses if r.on == action and r.from_ != player}
    return set()


def delay(scenario: Scenario, role: str, action: str) -> int:
    """How long the simulated `role` takes over `action`: its response's `after`, else `delegate_delay`."""
    for response in scenario.responses:
        if response.on == action and response.from_ == role:
            return response.after
    return scenario.delegate_delay


def act_at(anchor: float, due: float, involved: float | None, pause: float) -> float:
    """When a teammate carries out an expectation running from `anchor` to `due`.

    Involved by the deadline: `pause` after the later of the anchor and the involvement, but
    no later than the deadline. Involved later, or never (`None`): `pause` after the later of
    the deadline and the involvement.
    """
    if involved is not None and involved <= due:
        return min(max(anchor, involved) + pause, due)
    return max(due, involved if involved is not None else due) + pause


def fields_for(scenario: Scenario, role: str, action: Action) -> dict[str, Any]:
    """The fields a teammate records: what the scenario's expectations of that role ask for,
    and a plain placeholder for any other required field."""
    fields: dict[str, Any] = {}
    for name, spec in action.fields.items():
        if not spec.required:
            continue
        if spec.type == "choice":
            fields[name] = spec.choices[0]
        elif spec.type == "bool":
            fields[name] = True
        elif spec.type == "number":
            fields[name] = 0
        elif spec.type == "duration":
            fields[name] = "1h"
        else:
            fields[name] = f"recorded by the simulated {scenario.role_title(role)}"
    for expectation in scenario.expectations:
        if expectation.action == action.id and expectation.owner == role:
            fields.update(expectation.value)
    return fields


def owned(scenario: Scenario, role: str) -> list[Expectation]:
    """The expectations a role owns (not `any`)."""
    return [e for e in scenario.expectations if e.owner == role]


def delegated_work(
    scenario: Scenario, action_id: str, role: str, given: dict[str, Any], brief: str, delegated_by: str
) -> tuple[dict[str, Any], str]:
    """The fields and rationale a simulated `role` records for work delegated to it.

    A delegation carries what the delegator chose to give (usually nothing but a brief); the
    teammate fills in the rest of the form as for its own work (`fields_for`), with what the
    scenario's response from that role to that action says: its `fields`, and its body (what
    the teammate says it did) for a required text field. What was given stays. The rationale
    is the brief, or, where the action needs one, the response's body or a note that it was
    done as delegated.
    """
    action = scenario.action_map().get(action_id)
    if action is None:
        return dict(given), brief
    response = next((r for r in scenario.responses if r.on == action_id and r.from_ == role), None)
    said = " ".join((response.body if response else "").split())
    filled = fields_for(scenario, role, action)
    if said:
        for name, spec in action.fields.items():
            if spec.required and spec.type == "text" and name in filled:
                filled[name] = said
    if response is not None:
        filled.update(response.fields)
    filled.update({name: value for name, value in given.items() if value not in (None, "")})
    done = (
        f"Done by the simulated {scenario.role_title(role).lower()} as delegated by the "
        f"{scenario.role_title(delegated_by).lower()}"
    )
    rationale = brief or ((said or done) if action.rationale == "required" else "")
    return filled, rationale
