"""What a remote player may see: the scenario and transcript lines with facilitator-only content removed.

Everything here is an allow-list: a key or event type not named is never sent to a player, so a
field added to the scenario or the transcript later stays on the host until someone decides
that players should see it. Players never see the injects still to come (the MSEL), inject
`notes`, expectations, avoid-rules, simulated responses, markers, the facilitator's notes or any
score. Of the phases a player sees only those an inject addressed to them has opened, by title
(no summary, no discussion questions), and they may cite only injects released to them.
"""

from __future__ import annotations

from typing import Any

from tabletop import events as ev

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
    "actions",
    "role_info",
)
"""The resolved scenario's keys a player sees; injects, phases (see `reached_phases`),
expectations, avoid, responses, variables, values and hotwash stay with the facilitator."""

_COMMON = ("seq", "type", "t", "wall")
EVENT_KEYS: dict[str, tuple[str, ...]] = {
    ev.INJECT_RELEASED: (
        *_COMMON,
        "inject",
        "title",
        "channel",
        "from",
        "to",
        "phase",
        "phase_title",
        "body",
    ),
    ev.DECISION: (
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
        "request",
    ),
    ev.DELEGATION: (
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
        "request",
    ),
    ev.NOTE: (*_COMMON, "role", "by", "text", "inject", "request"),
    ev.CLOCK: (*_COMMON, "op", "speed", "paused", "from_t", "to_t"),
    ev.SESSION_ENDED: (*_COMMON, "reason"),
    ev.HOTWASH_ANSWER: (*_COMMON, "role", "by", "question", "text", "request"),
    ev.HOTWASH_CLOSED: (*_COMMON,),
}
"""Per event type, the keys a player sees; types not listed (session_started with its full
scenario, marker_set, facilitator, session_interrupted) are never sent to players, nor are clock
checkpoints (a player follows the clock through `state` messages). A hot-wash answer reaches
only the person who gave it (`player_event`'s `name`): answers are for the facilitator and,
by role, the post-mortem draft, so that each player answers for themselves, unswayed by what
the others said first."""


def player_scenario(scenario: dict[str, Any], phases: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The part of a resolved scenario (as JSON) a player may see, with the `phases` they reached."""
    view = {key: scenario[key] for key in SCENARIO_KEYS if key in scenario}
    view["phases"] = list(phases or [])
    return view


def phase_titles(scenario: dict[str, Any]) -> dict[str, str]:
    """Phase id -> title, from a resolved scenario as JSON."""
    return {
        str(p.get("id")): str(p.get("title") or p.get("id"))
        for p in scenario.get("phases") or []
        if isinstance(p, dict) and p.get("id")
    }


def reached_phases(events: list[dict[str, Any]], role: str, titles: dict[str, str]) -> list[dict[str, Any]]:
    """The phases injects released to `role` have opened, in order, as {id, title}."""
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        phase = event.get("phase")
        if (
            event.get("type") == ev.INJECT_RELEASED
            and phase
            and phase not in seen
            and addressed_to(event.get("to"), role)
        ):
            seen[phase] = {"id": phase, "title": titles.get(phase, phase)}
    return list(seen.values())


def visible_injects(events: list[dict[str, Any]], role: str) -> list[str]:
    """Ids of the injects released to `role` so far, in the order they were released."""
    return [
        e["inject"]
        for e in events
        if e.get("type") == ev.INJECT_RELEASED and e.get("inject") and addressed_to(e.get("to"), role)
    ]


def addressed_to(to: Any, role: str) -> bool:
    """Whether an inject addressed to `to` (a role, a list of roles, or `all`) reaches `role`."""
    if isinstance(to, str):
        to = [to]
    return isinstance(to, list) and ("all" in to or role in to)


def _own_answer(event: dict[str, Any], role: str, name: str | None) -> bool:
    return name is not None and event.get("by") == name and event.get("role") == role


def player_event(
    event: dict[str, Any], role: str, titles: dict[str, str] | None = None, name: str | None = None
) -> dict[str, Any] | None:
    """The transcript line as the player `name` in `role` sees it, or None if they do not see it.

    With `titles` (phase id -> title), a released inject carries its phase's title, so the
    player learns a phase's name only when an inject of it reaches them. A hot-wash answer is
    seen only by the player who gave it (`name`; without one, by nobody).
    """
    keys = EVENT_KEYS.get(event.get("type"))  # type: ignore[arg-type]
    if keys is None:
        return None
    kind = event["type"]
    if kind == ev.HOTWASH_ANSWER and not _own_answer(event, role, name):
        return None
    if kind == ev.INJECT_RELEASED and not addressed_to(event.get("to"), role):
        return None
    if kind == ev.CLOCK and event.get("op") == "checkpoint":
        return None
    seen = {key: event[key] for key in keys if key in event}
    if titles is not None and kind == ev.INJECT_RELEASED and event.get("phase"):
        seen["phase_title"] = titles.get(event["phase"], event["phase"])
    return seen


def visible(event: dict[str, Any], role: str, name: str | None = None) -> bool:
    """Whether the player `name` in `role` is sent this transcript line at all (cheaper than `player_event`)."""
    kind = event.get("type")
    if kind not in EVENT_KEYS:
        return False
    if kind == ev.HOTWASH_ANSWER:
        return _own_answer(event, role, name)
    if kind == ev.INJECT_RELEASED:
        return addressed_to(event.get("to"), role)
    return not (kind == ev.CLOCK and event.get("op") == "checkpoint")
