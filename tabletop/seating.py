"""Who plays which role in a session: participants, the three modes, and the seating of a solo run.

In solo practice the player plays one role (`solo_role`: the first player's, else the
coordinator, else the scenario's first role) and a simulated teammate plays every role nobody
else does. A team run and a decision script's run (`simulate`) seat whoever was named.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from tabletop.model import Scenario

Mode = Literal["solo", "team", "simulate"]
MODES = ("solo", "team", "simulate")


@dataclass(frozen=True)
class Participant:
    """A person (or a simulated teammate) playing a role in a session."""

    name: str
    role: str
    simulated: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def coerce(cls, value: Participant | dict[str, Any] | tuple[str, str]) -> Participant:
        if isinstance(value, Participant):
            return value
        if isinstance(value, dict):
            return cls(
                name=str(value["name"]),
                role=str(value["role"]),
                simulated=bool(value.get("simulated", False)),
            )
        name, role = value
        return cls(name=str(name), role=str(role))


def check_participants(scenario: Scenario, people: Iterable[Participant]) -> None:
    """Raise ValueError naming the first participant whose role is not in the scenario."""
    for person in people:
        if person.role not in scenario.roles:
            raise ValueError(
                f"participant {person.name!r} plays role {person.role!r}, which is not in "
                f"scenario {scenario.id!r}; expected one of {', '.join(scenario.roles)}"
            )


def seat(
    scenario: Scenario, people: list[Participant], mode: str, solo_role: str | None
) -> tuple[list[Participant], str | None]:
    """The participants of a session and its solo role (None unless `mode` is solo).

    Solo: the player's role is `solo_role`, else the first player's, else the coordinator,
    else the scenario's first role; a "Player" plays it when nobody named does, and a
    simulated teammate plays every role left. Raises ValueError for a solo role not in the
    scenario.
    """
    if mode != "solo":
        return people, None
    if solo_role is None:
        players = [p for p in people if not p.simulated]
        solo_role = (
            players[0].role
            if players
            else ("coordinator" if "coordinator" in scenario.roles else scenario.roles[0])
        )
    if solo_role not in scenario.roles:
        raise ValueError(
            f"solo role {solo_role!r} is not in scenario {scenario.id!r}; "
            f"expected one of {', '.join(scenario.roles)}"
        )
    if not any(p.role == solo_role and not p.simulated for p in people):
        people.insert(0, Participant(name="Player", role=solo_role))
    played = {p.role for p in people}
    for role in scenario.roles:
        if role not in played:
            people.append(Participant(name=scenario.role_title(role).title(), role=role, simulated=True))
    return people, solo_role
