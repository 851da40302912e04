"""What a remote player may see: the scenario and transcript lines with facilitator-only content removed.

Everything here is an allow-list: a key or event type not named is never sent to a player, so a
field added to the scenario or the transcript later stays on the host until someone decides
that players should see it. Players never see the injects still to come (the MSEL), inject
`notes`, expectations, avoid-rules, simulated responses, markers or any score.
"""

from __future__ import annotations

from typing import Any

from tabletop import events

SCENARIO_KEYS = (
    "id",
    "title",
    "summary",
    "kind",
    "objectives",
    "starts_at",
    "duration",
    "speed",
    "roles",
    "context",
    "phases",
    "actions",
    "role_info",
)
"""The resolved scenario's keys a player sees; injects, expectations, avoid, responses,
variables, values and hotwash stay with the facilitator."""

_COMMON = ("seq", "type", "t", "wall")
EVENT_KEYS: dict[str, tuple[str, ...]] = {
    events.INJECT_RELEASED: (*_COMMON, "inject", "title", "channel", "from", "to", "phase", "body"),
    events.DECISION: (
        *_COMMON,
        "id",
        "role",
        "by",
        "action",
        "fields",
        "rationale",
        "inject",
        "delegated_by",
        "delegation",
        "delegated_at",
    ),
    events.DELEGATION: (
        *_COMMON,
        "id",
        "role",
        "by",
        "to_role",
        "action",
        "fields",
        "rationale",
        "inject",
        "timebox",
    ),
    events.NOTE: (*_COMMON, "role", "by", "text", "inject"),
    events.CLOCK: (*_COMMON, "op", "speed", "paused", "from_t", "to_t"),
    events.SESSION_ENDED: (*_COMMON, "reason"),
}
"""Per event type, the keys a player sees; types not listed (session_started with its full
scenario, marker_set, facilitator) are never sent to players."""


def player_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    """The part of a resolved scenario (as JSON) a player may see."""
    return {key: scenario[key] for key in SCENARIO_KEYS if key in scenario}


def addressed_to(to: Any, role: str) -> bool:
    """Whether an inject addressed to `to` (a role, a list of roles, or `all`) reaches `role`."""
    if isinstance(to, str):
        to = [to]
    return isinstance(to, list) and ("all" in to or role in to)


def player_event(event: dict[str, Any], role: str) -> dict[str, Any] | None:
    """The transcript line as the player in `role` sees it, or None if they do not see it."""
    keys = EVENT_KEYS.get(event.get("type"))  # type: ignore[arg-type]
    if keys is None:
        return None
    if event["type"] == events.INJECT_RELEASED and not addressed_to(event.get("to"), role):
        return None
    return {key: event[key] for key in keys if key in event}
