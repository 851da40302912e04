"""Commands `tabletop simulate` (a scripted session, headless, in virtual time) and `tabletop verify`."""

from __future__ import annotations

import sys
from pathlib import Path

import click


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
    from tabletop.engine import Rejected
    from tabletop.sessions import SessionSetupError, open_scripted, run_script
    from tabletop.transcript import TranscriptError

    if resume_path is not None and (out is not None or seed is not None or speed is not None):
        _fail("--resume continues a transcript as it was started: drop --out, --seed and --speed")
    if resume_path is None and scenario is None:
        _fail("Missing argument 'SCENARIO' (a scenario id or file); or give --resume TRANSCRIPT")
    try:
        opened, script = open_scripted(
            scenario, script_path, resume=resume_path, seed=seed, speed=speed, transcript=out, team=team
        )
    except SessionSetupError as error:
        _fail(str(error))
        return
    try:
        run_script(opened.session, script)
    except Rejected as error:
        _fail(
            f"error: {error}\nthe transcript so far is in {_display(opened.transcript)}; "
            "fix the script and continue with --resume"
        )
    except TranscriptError as error:
        _fail(f"error: {error}")
    click.echo(_display(opened.transcript))


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
