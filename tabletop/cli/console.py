"""`tabletop run`: a rehearsal in the terminal, from the lobby through the exercise to the debrief."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
from click.core import ParameterSource

from tabletop.cli import default_player_name
from tabletop.untrusted import one_line_each

FIXED_BY_THE_TRANSCRIPT = ("scenario", "resume", "out", "seed")
"""What a resumed run takes from its transcript, so a resume command does not repeat it."""


def resume_command(ctx: click.Context, transcript: Path) -> str:
    """`tabletop run --resume T` with every other option the user gave on the command line."""
    words = ["tabletop", "run", "--resume", str(transcript)]
    for param in ctx.command.params:
        name = param.name
        if not isinstance(param, click.Option) or name is None or name in FIXED_BY_THE_TRANSCRIPT:
            continue
        if ctx.get_parameter_source(name) not in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            continue
        value = ctx.params[name]
        longest = max(param.opts, key=len)
        if param.is_flag and param.secondary_opts:  # --x/--no-x
            words.append(longest if value else max(param.secondary_opts, key=len))
        elif param.is_flag:
            if value:
                words.append(longest)
        elif value is not None:
            words += [longest, f"{value:g}" if isinstance(value, float) else str(value)]
    return shlex.join(words)


@click.command()
@click.argument("scenario", required=False)
@click.option("--role", default="coordinator", show_default=True, help="The role you play.")
@click.option("--solo", is_flag=True, help="Solo practice: the other roles are simulated.")
@click.option("--hints", is_flag=True, help="Solo: show open deadlines as countdowns.")
@click.option(
    "--auto-pause/--no-auto-pause",
    default=True,
    show_default=True,
    help="Solo: pause the clock when an inject arrives that expects your own action (space resumes).",
)
@click.option(
    "--speed",
    type=float,
    default=None,
    help="Sim seconds per wall second (default: the scenario's; with --resume, the speed it stopped at).",
)
@click.option(
    "--seed", type=int, default=None, help="Seed for the scenario's variables (default: the scenario's)."
)
@click.option("--name", default=None, help="Your name in the transcript (default: your login name).")
@click.option("--facilitate", is_flag=True, help="Run the facilitator console (MSEL, controls, live score).")
@click.option(
    "--resume",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Continue the session recorded in this transcript.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the transcript.",
)
@click.pass_context
def run(
    ctx: click.Context,
    scenario: str | None,
    role: str,
    solo: bool,
    hints: bool,
    auto_pause: bool,
    speed: float | None,
    seed: int | None,
    name: str | None,
    facilitate: bool,
    resume: Path | None,
    out: Path | None,
) -> None:
    """Rehearse SCENARIO (an id from scenarios/ or a path): lobby, exercise, debrief."""
    from tabletop.sessions import SessionSetupError
    from tabletop.ui.app import INTERRUPTED, make_console

    if scenario is None and resume is None:
        raise click.UsageError("give a SCENARIO to run, or --resume TRANSCRIPT")
    if hints and facilitate and not solo:
        raise click.UsageError("--hints is for solo practice (--solo)")
    try:
        app = make_console(
            scenario,
            role=role,
            name=name or default_player_name(),
            solo=solo or not facilitate,
            hints=hints,
            auto_pause=auto_pause,
            facilitate=facilitate,
            speed=speed,
            seed=seed,
            resume=resume,
            out=out,
        )
    except SessionSetupError as error:
        click.echo(one_line_each(error.problems), err=True)
        raise SystemExit(2) from None
    outcome = app.run()
    transcript = app.settings.transcript
    if transcript is None:
        raise SystemExit(app.return_code or 0)
    if not app.started and transcript.exists() and transcript.stat().st_size == 0:
        transcript.unlink()  # left from the lobby before starting: nothing to keep or resume
        click.echo("Left before the start; nothing was recorded.")
        raise SystemExit(app.return_code or 0)
    click.echo(f"Transcript: {transcript}")
    if outcome is not None and outcome.report is not None:
        click.echo(f"Post-mortem draft: {outcome.report} (and {outcome.report.with_suffix('.html')})")
    if not app.link.ended:
        stopped = "Interrupted" if app.return_code == INTERRUPTED else "Stopped"
        click.echo(
            f"{stopped}; the exercise was not ended. Continue it with: {resume_command(ctx, transcript)}"
        )
    elif app.link.hotwash_open:
        click.echo(f"The hot wash is still open; answer it with: {resume_command(ctx, transcript)}")
    if app.return_code:
        raise SystemExit(app.return_code)
