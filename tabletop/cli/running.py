"""Commands `tabletop simulate` (a scripted session, headless, in virtual time) and `tabletop verify`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tabletop.transcript import default_transcript_path


def _fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@click.command()
@click.argument("scenario", required=False)
@click.option(
    "--script",
    "script_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Decision script (YAML): participants and timed decisions.",
)
@click.option("--seed", type=int, default=None, help="Seed for the scenario's variable values.")
@click.option(
    "--speed",
    type=float,
    default=None,
    help="Sim seconds per wall second recorded for the run (time is virtual here).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Transcript to write (default: transcripts/<scenario>-<time>-<seed>.jsonl).",
)
@click.option("--team", default=None, help="Team name recorded in the transcript.")
@click.option(
    "--resume",
    "resume_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Continue the session in this transcript after a crash.",
)
def simulate(
    scenario: str | None,
    script_path: str,
    seed: int | None,
    speed: float | None,
    out: str | None,
    team: str | None,
    resume_path: str | None,
) -> None:
    """Run SCENARIO headless with a decision script, to the end, and print the transcript's path."""
    from tabletop.clock import VirtualClock
    from tabletop.engine import Rejected, Session
    from tabletop.script import ScriptError, load_script, play
    from tabletop.transcript import TranscriptError, TranscriptWriter

    if speed is not None and not speed > 0:
        _fail(f"--speed: expected a number greater than 0, received {speed:g}")

    if resume_path is not None:
        path = Path(resume_path)
        if out is not None or seed is not None or speed is not None:
            _fail("--resume continues a transcript as it was started: drop --out, --seed and --speed")
        try:
            session = Session.resume(path, clock=VirtualClock())
        except TranscriptError as error:
            _fail(f"error: {error}")
            return
        if scenario is not None and scenario not in (session.scenario.id, session.scenario_path):
            session.writer.close()
            _fail(f"error: {path} is a transcript of scenario {session.scenario.id!r}, not {scenario!r}")
        try:
            script = load_script(script_path, session.scenario)
        except ScriptError as error:
            session.writer.close()
            _fail("\n".join(error.problems))
            return
        _play(session, script, play, Rejected, path)
        return

    if scenario is None:
        _fail("Missing argument 'SCENARIO' (a scenario id or file); or give --resume TRANSCRIPT")
    try:
        from tabletop.loader import find_scenario, load_scenario
        from tabletop.problems import ScenarioError
    except ImportError as error:  # pragma: no cover - the loader ships with the package
        _fail(f"error: cannot load scenarios: {error}")
        return
    try:
        scenario_file = find_scenario(scenario)
        resolved = load_scenario(scenario_file, seed=seed)
    except ScenarioError as error:
        _fail("\n".join(str(p) for p in error.problems) or f"error: scenario {scenario!r} is invalid")
        return
    try:
        script = load_script(script_path, resolved)
    except ScriptError as error:
        _fail("\n".join(error.problems))
        return
    run_seed = resolved.seed if seed is None else seed
    path = Path(out) if out is not None else default_transcript_path(resolved.id, run_seed)
    try:
        writer = TranscriptWriter.open(path)
    except TranscriptError as error:
        _fail(f"error: {error}")
        return
    session = Session(
        resolved,
        writer,
        clock=VirtualClock(),
        participants=script.participants,
        seed=run_seed,
        speed=speed,
        mode="solo" if script.mode == "solo" else "simulate",
        team=team,
        scenario_path=_display(scenario_file),
    )
    session.start()
    _play(session, script, play, Rejected, path)


def _play(session, script, play, Rejected, path: Path) -> None:  # type: ignore[no-untyped-def]
    from tabletop.transcript import TranscriptError

    try:
        play(session, script)
    except Rejected as error:
        _fail(
            f"error: {error}\nthe transcript so far is in {_display(path)}; "
            "fix the script and continue with --resume"
        )
    except TranscriptError as error:
        _fail(f"error: {error}")
    finally:
        session.writer.close()
    click.echo(_display(path))


@click.command()
@click.argument("transcript", type=click.Path(dir_okay=True))
def verify(transcript: str) -> None:
    """Check TRANSCRIPT's hash chain: exit 0 when intact, 1 naming the first bad seq and line."""
    from tabletop.transcript import verify_transcript

    report = verify_transcript(transcript)
    if report.ok:
        click.echo(f"intact: {len(report.events)} events")
        if report.events and report.events[-1].get("type") != "session_ended":
            click.echo(
                "note: the session has no session_ended event (still running, or interrupted)", err=True
            )
        return
    if report.missing or report.first_bad_line in (None, 0):
        _fail(report.problems[0])
    lines = [
        f"{transcript}: first bad seq {report.first_bad_seq} at line {report.first_bad_line}",
        f"  {report.problems[0]}",
    ]
    if len(report.problems) > 1:
        lines.append(f"  ({len(report.problems) - 1} more problem(s) after it)")
    lines.append(f"  {len(report.events)} events before it are intact")
    _fail("\n".join(lines))
