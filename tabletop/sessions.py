"""Opening a rehearsal: a new session, one resumed from its transcript, a decision script run.

This is the one place where a scenario, a seed, a clock, the participants, a transcript and a
mode become a `Session`. The console (`tabletop run`, `tabletop host`), the headless host,
`tabletop simulate` and the tests all open sessions here, so they agree on what is recorded,
and every problem with what was asked for is one `SessionSetupError` whose message names the
file (and line) it concerns.

Who plays each role is a `Seat`, given per role (`seats`):

- `player`: a person plays it, named up front (`players`: the solo player, a script's
  participants) or joining later (a hosted rehearsal). Until someone plays it, the engine
  plays it as a simulated teammate.
- `simulated`: the engine plays it, recorded as a simulated participant named after the role.
- `room`: the people around the table play it and the facilitator records for them; recorded
  as participant "Room".

The defaults, by mode:

- `solo`: the player's role is `player`, every other role `simulated`.
- `team`: every role `player`. A rehearsal in one room with no network (`tabletop run`
  without `--solo`) seats every role in the `room`; a hosted one (console or headless, the
  same) waits for people to join, and a role nobody has joined is simulated.
- `simulate`: every role `player`: the script's participants play theirs, the engine the rest.

Resuming continues a transcript with the participants, mode, seed and speed it recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from tabletop.clock import Clock, ScaledClock, VirtualClock
from tabletop.engine import MODES, Mode, Participant, Rejected, Session, check_participants
from tabletop.model import Scenario
from tabletop.script import DecisionScript, ScriptError, load_script, play
from tabletop.transcript import TranscriptError, TranscriptWriter, default_transcript_path, utc_now

Seat = Literal["player", "simulated", "room"]
SEATS: tuple[Seat, ...] = ("player", "simulated", "room")
ROOM = "Room"
"""The participant name of a role played by the people in the room."""


class SessionSetupError(Exception):
    """A session that cannot be opened as asked; the message names the file (and line) and why.

    `problems` holds one line per problem (a scenario or a script can have several).
    """

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else [str(p) for p in problems]
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class OpenedSession:
    """A session ready to run: new (not started unless asked) or resumed from its transcript.

    `history` is what the transcript already held when it was opened (empty for a new one).
    """

    session: Session
    transcript: Path
    resumed: bool
    history: list[dict[str, Any]]


# --- the scenario --------------------------------------------------------------------------


def load_scenario(reference: Scenario | str | Path, seed: int | None = None) -> tuple[Scenario, str | None]:
    """The resolved scenario, and the path it came from as shown to the user (None for one
    built in code). `reference` is a Scenario, a scenario id or a file."""
    if isinstance(reference, Scenario):
        return reference, None
    from tabletop.loader import find_scenario
    from tabletop.loader import load_scenario as load
    from tabletop.problems import ScenarioError

    try:
        path = find_scenario(str(reference))
        resolved = load(path, seed=seed)
    except ScenarioError as error:
        problems = [str(p) for p in error.problems] or [f"error: scenario {str(reference)!r} is invalid"]
        raise SessionSetupError(problems) from None
    return resolved, _shown(Path(path))


def _shown(path: Path) -> str:
    """A path relative to the working folder when it is under it (as a transcript records it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def same_scenario(reference: Scenario | str | Path, session: Session) -> bool:
    """Whether `reference` (a Scenario, an id or a file) names the scenario `session` runs."""
    ref = reference.id if isinstance(reference, Scenario) else str(reference)
    return ref in (session.scenario.id, str(session.scenario_path)) or Path(ref).stem == session.scenario.id


# --- who plays what ------------------------------------------------------------------------


def default_seats(scenario: Scenario, mode: Mode, solo_role: str | None = None) -> dict[str, Seat]:
    """Each role's seat when the caller does not say (see the module's docstring)."""
    if mode == "solo":
        return {role: "player" if role == solo_role else "simulated" for role in scenario.roles}
    return dict.fromkeys(scenario.roles, "player")


def seat_participants(
    scenario: Scenario, seats: Mapping[str, Seat], players: Iterable[Participant]
) -> list[Participant]:
    """The participants a session starts with: the named players, then "Room" for each role
    seated in the room and a simulated teammate for each simulated role nobody plays."""
    people = list(players)
    for role, seat in seats.items():
        if seat not in SEATS:
            raise SessionSetupError(
                f"role {role!r}: expected a seat of player, simulated or room, received {seat!r}"
            )
        if role not in scenario.roles:
            raise SessionSetupError(
                f"role {role!r} is not in scenario {scenario.id!r}; expected one of: {', '.join(scenario.roles)}"
            )
    played = {p.role for p in people if not p.simulated}
    for role in scenario.roles:
        seat = seats.get(role, "player")
        if seat == "room" and role not in played:
            people.append(Participant(ROOM, role))
        elif seat == "simulated" and role not in played:
            people.append(Participant(scenario.role_title(role).title(), role, simulated=True))
    return people


def reseat(session: Session, seats: Mapping[str, Seat]) -> None:
    """Seat the roles of a session that has not started yet anew (the facilitator's lobby):
    the named players stay, each role in `seats` gets "Room" or a simulated teammate."""
    players = [p for p in session.participants if not p.simulated and p.name != ROOM]
    try:
        session.set_participants(seat_participants(session.scenario, seats, players))
    except (Rejected, ValueError) as error:
        raise SessionSetupError(str(error)) from None


# --- opening and resuming ------------------------------------------------------------------


def check_speed(speed: float | None) -> None:
    """A speed must be a number of sim seconds per wall second greater than 0."""
    if speed is not None and not speed > 0:
        raise SessionSetupError(f"--speed: expected a number greater than 0, received {speed:g}")


def open_session(
    scenario: Scenario | str | Path,
    *,
    mode: Mode = "solo",
    players: Iterable[Participant | dict[str, Any] | tuple[str, str]] = (),
    seats: Mapping[str, Seat] | Seat | None = None,
    solo_role: str | None = None,
    seed: int | None = None,
    speed: float | None = None,
    clock: Clock | None = None,
    transcript: str | Path | None = None,
    team: str | None = None,
    scenario_path: str | None = None,
    now_utc: Callable[[], datetime] = utc_now,
    fsync: bool = True,
    start: bool = False,
    hints: bool = False,
    auto_pause: bool = False,
) -> OpenedSession:
    """A new session of `scenario` (a Scenario, an id or a file) writing a new transcript.

    The transcript defaults to `transcripts/<scenario>-<time>-<seed>.jsonl` and is never
    overwritten. `seats` gives each role's seat (one seat for every role, or a mapping of
    role to seat; roles it leaves out keep their default). The clock defaults to a real one at `speed` (else the scenario's). In `solo`
    mode the player plays `solo_role` (default: the first player's role). With `start` the
    session is started (its clock runs); otherwise the caller starts it. `hints` and
    `auto_pause` are recorded in the run's conditions; `auto_pause` (solo only) pauses the
    clock when an inject arrives that expects the player's own action (see `tabletop.engine`);
    `tabletop run --solo` turns it on unless `--no-auto-pause`.
    """
    if mode not in MODES:
        raise SessionSetupError(f"mode: expected one of {', '.join(MODES)}, received {mode!r}")
    check_speed(speed)
    resolved, shown = load_scenario(scenario, seed)
    people = [Participant.coerce(p) for p in players]
    try:
        check_participants(resolved, people)
    except ValueError as error:
        raise SessionSetupError(str(error)) from None
    if mode == "solo" and solo_role is None:
        default = "coordinator" if "coordinator" in resolved.roles else resolved.roles[0]
        solo_role = next((p.role for p in people if not p.simulated), default)
    if mode == "solo" and solo_role is not None and solo_role not in resolved.roles:
        raise SessionSetupError(
            f"--role: role {solo_role!r} is not in scenario {resolved.id!r}; "
            f"expected one of: {', '.join(resolved.roles)}"
        )
    chosen = dict(default_seats(resolved, mode, solo_role))
    if isinstance(seats, str):
        seats = dict.fromkeys(resolved.roles, seats)
    chosen.update(seats or {})
    participants = seat_participants(resolved, chosen, people)
    run_seed = resolved.seed if seed is None else seed
    path = Path(transcript) if transcript is not None else default_transcript_path(resolved.id, run_seed)
    try:
        writer = TranscriptWriter.open(path, now_utc=now_utc, fsync=fsync)
    except TranscriptError as error:
        raise SessionSetupError(str(error)) from None
    except OSError as error:
        raise SessionSetupError(f"{path}: cannot write the transcript: {error.strerror or error}") from None
    try:
        session = Session(
            resolved,
            writer,
            clock=clock if clock is not None else ScaledClock(speed or resolved.speed),
            participants=participants,
            seed=run_seed,
            speed=speed,
            mode=mode,
            solo_role=solo_role if mode == "solo" else None,
            team=team,
            scenario_path=scenario_path if scenario_path is not None else shown,
            hints=hints,
            auto_pause=auto_pause,
        )
        if start:
            session.start()
    except ValueError as error:
        writer.close()
        raise SessionSetupError(str(error)) from None
    except BaseException:
        writer.close()
        raise
    return OpenedSession(session, path, False, [])


def resume_session(
    transcript: str | Path,
    *,
    clock: Clock | None = None,
    scenario: Scenario | str | Path | None = None,
    now_utc: Callable[[], datetime] = utc_now,
    fsync: bool = True,
    auto_pause: bool = False,
) -> OpenedSession:
    """Continue the session recorded in `transcript` (after a crash or a stop), appending to it.

    `scenario`, when given, must name the scenario the transcript is of. The clock is put where
    the session stopped, at the speed it ran (a real clock unless one is given).
    """
    path = Path(transcript)
    if not path.exists():
        raise SessionSetupError(f"{path}: no such transcript to resume")
    try:
        session = Session.continue_transcript(
            path,
            clock=clock if clock is not None else ScaledClock(60.0),
            now_utc=now_utc,
            fsync=fsync,
            auto_pause=auto_pause,
        )
    except TranscriptError as error:
        raise SessionSetupError(str(error)) from None
    except (ValueError, OSError, Rejected) as error:
        raise SessionSetupError(f"{path}: cannot resume: {error}") from None
    if scenario is not None and not same_scenario(scenario, session):
        session.writer.close()
        raise SessionSetupError(
            f"{path} is a transcript of scenario {session.scenario.id!r}, not {str(scenario)!r}"
        )
    return OpenedSession(session, path, True, list(session.events))


# --- decision scripts ----------------------------------------------------------------------


def open_scripted(
    scenario: Scenario | str | Path | None,
    script: str | Path,
    *,
    resume: str | Path | None = None,
    seed: int | None = None,
    speed: float | None = None,
    transcript: str | Path | None = None,
    team: str | None = None,
    clock: Clock | None = None,
) -> tuple[OpenedSession, DecisionScript]:
    """A session in virtual time for a decision script (new, or resumed from `resume`), started,
    and the script checked against its scenario. Nothing is written for a script with problems."""
    if resume is not None:
        opened = resume_session(resume, clock=clock or VirtualClock(), scenario=scenario)
        try:
            return opened, load_script(script, opened.session.scenario)
        except ScriptError as error:
            opened.session.writer.close()
            raise SessionSetupError(error.problems) from None
    if scenario is None:
        raise SessionSetupError("a new session needs a scenario (an id or a file), or a transcript to resume")
    check_speed(speed)
    resolved, shown = load_scenario(scenario, seed)
    try:
        decisions = load_script(script, resolved)
    except ScriptError as error:
        raise SessionSetupError(error.problems) from None
    opened = open_session(
        resolved,
        mode="solo" if decisions.mode == "solo" else "simulate",
        players=decisions.participants,
        seed=seed,
        speed=speed,
        clock=clock or VirtualClock(),
        transcript=transcript,
        team=team,
        scenario_path=shown,
        start=True,
    )
    return opened, decisions


def run_script(session: Session, script: DecisionScript) -> None:
    """Play a decision script into a started session, to the end, then close its transcript.

    Raises `tabletop.engine.Rejected` (with the script's file and line) when the session refuses
    an entry, and TranscriptError when the disk fails; what was recorded before stays.
    """
    try:
        play(session, script)
    finally:
        session.writer.close()
