"""Continuing a session from its transcript: what it was started with, and where its clock stood."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from tabletop import events as ev
from tabletop.clock import Clock
from tabletop.model import Scenario
from tabletop.seating import MODES, Mode, Participant
from tabletop.transcript import TranscriptError


def started_with(
    path: str | Path, first: dict[str, Any], *, auto_pause: bool
) -> tuple[Scenario, dict[str, Any]]:
    """The scenario a transcript's `session_started` embeds, and the Session options it recorded
    (participants, seed, speed, mode, solo role, team, scenario file and digest, auto-pause).

    A run continues under the conditions it was started with, when it recorded them;
    `auto_pause` applies only to one that did not.
    """
    if first.get("type") != ev.SESSION_STARTED or not isinstance(first.get("scenario"), dict):
        raise TranscriptError(f"{path}: the first event is not a session_started with its scenario")
    try:
        scenario = Scenario.from_json(first["scenario"])
    except Exception as error:  # pydantic ValidationError and friends
        raise TranscriptError(f"{path}: the embedded scenario cannot be read: {error}") from None
    options: dict[str, Any] = {
        "participants": [Participant.coerce(p) for p in first.get("participants") or []],
        "seed": first.get("seed"),
        "speed": first.get("speed"),
        "mode": cast(Mode, first["mode"]) if first.get("mode") in MODES else "team",
        "solo_role": first.get("solo_role"),
        "team": first.get("team"),
        "scenario_path": first.get("scenario_path"),
        "scenario_sha256": first.get("scenario_sha256"),
        "auto_pause": bool((first.get("conditions") or {}).get("auto_pause", auto_pause)),
    }
    return scenario, options


@dataclass
class StoppedClock:
    """Where a session's clock stood when it stopped, followed event by event: the latest sim
    time recorded (a time jump's target included), the speed and whether it was paused."""

    speed: float
    t: float = 0.0
    paused: bool = False

    def follow(self, record: dict[str, Any]) -> None:
        """Take one recorded event into account."""
        self.t = max(self.t, float(record.get("t") or 0.0))
        if record.get("type") != ev.CLOCK:
            return
        if record.get("op") == "jump" and record.get("to_t") is not None:
            self.t = max(self.t, float(record["to_t"]))
        if record.get("speed"):
            self.speed = float(record["speed"])
        if record.get("op") == "pause":
            self.paused = True
        elif record.get("op") == "resume":
            self.paused = False

    def put_back(self, clock: Clock) -> None:
        """Set `clock` where the session stopped: its time (never back), speed, paused or not."""
        if clock.now() < self.t:
            clock.jump_to(self.t)
        if clock.speed != self.speed:
            clock.set_speed(self.speed)
        if self.paused and not clock.paused:
            clock.pause()
        elif not self.paused and clock.paused:
            clock.resume()

    def hold(self, clock: Clock) -> None:
        """Set `clock` at the time the session stopped, paused: its hot wash goes on after the end."""
        if clock.now() < self.t:
            clock.jump_to(self.t)
        if not clock.paused:
            clock.pause()
