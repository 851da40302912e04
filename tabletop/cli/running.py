"""Commands `tabletop simulate` (a scripted session, headless, in virtual time) and `tabletop verify`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tabletop.untrusted import one_line, one_line_each, safe

if TYPE_CHECKING:
    from tabletop.transcript import Verification


def _fail(message: str, code: int = 1) -> None:
    click.echo(safe(message), err=True)
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
        _fail(one_line_each(error.problems))
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
    click.echo(safe(_display(opened.transcript)))


@click.command()
@click.argument("transcript", type=click.Path(dir_okay=True))
@click.option(
    "--trusted-keys",
    "trusted_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also trust the keys in this file (besides yours and the nearest trusted_keys file).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verification as JSON.")
def verify(transcript: str, trusted_file: str | None, as_json: bool) -> None:
    """Check TRANSCRIPT as evidence: hash chain, event grammar, content and signatures.

    Exit 0: signed by a trusted key. 1: forged, invalid, damaged or not a transcript (the
    first bad seq and line are named). 3: unsigned. 4: signed by a key you do not trust.
    5: signed by the repository's sample key (trusted for the committed samples only).
    """
    import json

    from tabletop.keys import trusted_keys
    from tabletop.transcript import FORGED, INVALID, UNREADABLE, verify_evidence

    result = verify_evidence(transcript, trust=trusted_keys(transcript, trusted_file))
    if as_json:
        click.echo(
            json.dumps({"path": transcript, "events": len(result.events), **result.to_json()}, indent=2)
        )
        sys.exit(result.exit_code)
    if result.status == UNREADABLE and result.first_bad_line in (None, 0):
        _fail(
            one_line(result.problems[0]) if result.problems else f"{one_line(transcript)}: not a transcript"
        )
    if result.status in (FORGED, INVALID, UNREADABLE) or result.torn:
        problem = (result.problems or result.notes)[0]
        lines = [
            f"{one_line(transcript)}: first bad seq {result.first_bad_seq} at line {result.first_bad_line}",
            f"  {one_line(problem)}",
        ]
        if len(result.problems) > 1:
            lines.append(f"  ({len(result.problems) - 1} more problem(s) after it)")
        lines.append(f"  {len(result.events)} events before it are intact")
        if result.status not in (FORGED, INVALID, UNREADABLE):
            lines.append(f"  {one_line(result.headline())}")
            lines.extend(_signed_lines(result))
        else:
            lines.insert(0, one_line(result.headline()))
        _fail("\n".join(lines), result.exit_code)
    click.echo(f"intact: {len(result.events)} events (hash chain, event grammar and content checked)")
    click.echo(one_line(result.headline()))  # it names the signer, from a key file
    for line in _signed_lines(result):
        click.echo(one_line(line))
    if result.events and not any(e.get("type") == "session_ended" for e in result.events):
        click.echo("note: the session has no session_ended event (still running, or interrupted)", err=True)
    sys.exit(result.exit_code)


def _signed_lines(result: Verification) -> list[str]:
    lines = []
    if result.signed_through is not None:
        lines.append(f"signed through seq {result.signed_through}")
    for first, last in result.unsigned:
        span = f"seq {first}" if first == last else f"seq {first}-{last}"
        lines.append(f"unsigned: {span} (written but not signed before the run stopped)")
    for seq in result.unacknowledged:
        lines.append(
            f"unacknowledged: the decision at seq {seq} was never signed, so never shown as recorded"
        )
    lines.extend(f"note: {note}" for note in result.notes)
    return lines
