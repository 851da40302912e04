"""Open a team rehearsal's session for the host (new or resumed) and read a scripted player's lines, without a console."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabletop.net.client import ScriptLine
from tabletop.transcript import default_transcript_path


class RehearsalError(Exception):
    """Something the user asked for cannot be done; the message says what and where."""


@dataclass(frozen=True)
class OpenedSession:
    """A session ready to host: new (not started) or resumed from its transcript."""

    session: Any
    transcript: Path
    resumed: bool
    history: list[dict[str, Any]]


def open_session(
    scenario: str | None,
    *,
    speed: float | None = None,
    seed: int | None = None,
    out: Path | None = None,
    resume: Path | None = None,
    clock: Any = None,
) -> OpenedSession:
    """A team-mode session for SCENARIO writing to `out`, or the one recorded in `resume`."""
    from tabletop.clock import ScaledClock
    from tabletop.engine import Session
    from tabletop.transcript import TranscriptError, TranscriptWriter

    if resume is not None:
        if not Path(resume).exists():
            raise RehearsalError(f"{resume}: no such transcript to resume")
        try:
            session = Session.resume(resume, clock=clock or ScaledClock(speed or 60.0))
        except (OSError, ValueError, TranscriptError) as error:
            raise RehearsalError(f"{resume}: cannot resume: {error}") from None
        return OpenedSession(session, Path(resume), True, list(session.events))

    from tabletop.loader import ScenarioError, load_scenario

    try:
        loaded = load_scenario(scenario, seed=seed)  # type: ignore[arg-type]
    except ScenarioError as error:
        problems = getattr(error, "problems", None) or [error]
        raise RehearsalError("\n".join(str(p) for p in problems)) from None
    run_speed = float(speed if speed is not None else loaded.speed)
    transcript = Path(out) if out is not None else default_transcript_path(loaded.id, loaded.seed)
    if transcript.exists():
        raise RehearsalError(f"{transcript}: already exists; choose another --out, or --resume it")
    try:
        transcript.parent.mkdir(parents=True, exist_ok=True)
        writer = TranscriptWriter.open(transcript)
    except (OSError, TranscriptError) as error:
        raise RehearsalError(f"{transcript}: cannot write the transcript: {error}") from None
    session = Session(
        loaded,
        writer,
        clock=clock or ScaledClock(run_speed),
        participants=[],
        seed=seed if seed is not None else loaded.seed,
        speed=run_speed,
        mode="team",
    )
    return OpenedSession(session, transcript, False, [])


def _referenced_injects(path: Path) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # load_script reports it with its line
    entries = data.get("decisions") if isinstance(data, dict) else None
    refs = {e.get("inject") for e in entries or [] if isinstance(e, dict)}
    return sorted(r for r in refs if isinstance(r, str) and r)


def read_script(path: Path, role: str, scenario: Any = None) -> list[ScriptLine]:
    """The lines of a decision script (the `simulate` format) that `role` plays.

    `scenario` is what the player sees of it (from the host's welcome): with it, clock times
    like `day 2 09:10` are read and actions and fields are checked before anything is sent.
    The player never sees the scenario's injects, so the ones the script names are taken on
    trust; the host checks them.
    """
    from tabletop.model import Inject
    from tabletop.script import ScriptError, load_script

    if scenario is not None:
        stand_ins = [Inject(id=ref) for ref in _referenced_injects(path)]
        scenario = scenario.model_copy(update={"injects": stand_ins})
    try:
        script = load_script(path, scenario)
    except ScriptError as error:
        raise RehearsalError(str(error)) from None
    lines = [
        ScriptLine(
            at=entry.at,
            action=entry.action,
            note=entry.note,
            fields=dict(entry.fields) or None,
            rationale=entry.rationale,
            inject=entry.inject,
            delegate_to=entry.delegate,
            timebox=entry.timebox,
        )
        for entry in script.entries
        if entry.role == role
    ]
    if not lines:
        roles = sorted({entry.role for entry in script.entries})
        raise RehearsalError(
            f"{path}: no lines for role {role!r}; the script has lines for {', '.join(roles) or 'no role'}"
        )
    return lines
