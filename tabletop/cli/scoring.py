"""`tabletop score` and `tabletop report`: scorecards of transcripts and the post-mortem draft."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tabletop.model import Scenario
    from tabletop.scoring import Scorecard


import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tabletop.untrusted import for_stream, json_dumps, one_line, rich_text, safe, safe_json

STATUS_STYLE = {"met": "green", "late": "yellow", "missed": "red", "open": "cyan", "not_applicable": "dim"}
RATING_STYLE = {"P": "bold green", "S": "green", "M": "yellow", "U": "bold red", "-": "dim"}


def _fail(message: str) -> None:
    click.echo(f"tabletop: {safe(message)}", err=True)
    sys.exit(1)


# --- scoring one transcript (also the worker of a folder run) ------------------------------


def score_file(path: str) -> dict[str, Any]:
    """Verify and score one transcript, read once; never raises: a broken file comes back as
    {"path", "error", "verification"}."""
    from tabletop.scoring import score_run
    from tabletop.transcript import TranscriptError, Verification, read_run, verify_evidence

    def evidence(verification: Verification) -> dict[str, str]:
        return {"status": verification.status, "headline": verification.headline()}

    def failed(error: Exception, verified: dict[str, str]) -> dict[str, Any]:
        if not isinstance(error, TranscriptError):  # a folder run reports every file, whatever broke
            error = TranscriptError(f"{path}: cannot score ({type(error).__name__}: {error})")
        return {"path": path, "error": str(error), "verification": verified}

    try:
        run = read_run(path)
    except Exception as error:
        return failed(error, evidence(verify_evidence(path)))
    verified = evidence(verify_evidence(path, chain=run.verdict))  # the chain read above, not again
    try:
        card, warnings = score_run(run)
    except Exception as error:
        return failed(error, verified)
    data = card.to_json()
    data["warnings"] = warnings
    return {"path": path, "verification": verified, **data}


EVIDENCE_STYLE = {"verified": "bold green", "sample": "bold yellow", "unsigned": "bold yellow"}


def _evidence_text(status: str, headline: str) -> Text:
    return rich_text(headline, EVIDENCE_STYLE.get(status, "bold red"), newlines=False)  # names a signer


def _refused(status: str) -> bool:
    """Forged, invalid or unreadable: shown, never as a normal score (the run exits 1)."""
    return status in ("forged", "invalid", "unreadable")


def _when(seconds: float | None) -> str:
    from tabletop.timing import format_offset

    return "" if seconds is None else format_offset(seconds)


def card_heading(card: Scorecard) -> list[str]:
    """The lines every scorecard opens with: score and rating, coverage, conditions, caps."""
    from tabletop.scoring import RATING_NAMES, RULES_VERSION, conditions_text

    first = f"Score {card.score_text()}  {card.rating} {RATING_NAMES[card.rating]}"
    first += f"   {card.passed} of {card.applicable} scored expectations passed"
    coverage = card.coverage
    lines = [first]
    if coverage is None:
        lines.append("Coverage: nothing was due yet")
    else:
        open_count = len([r for r in card.yours() if r.status == "open"])
        lines.append(
            f"Coverage {coverage:.0%} of the expected weight scored"
            + (f" ({open_count} open, not scored)" if open_count else "")
        )
    who = f"; scored: {card.solo_role} plus bringing in the simulated team" if card.solo_role else ""
    lines.append(
        f"Conditions: {conditions_text(card.conditions)}{who}; rules version {card.rules_version}"
        + (f" (scored with {RULES_VERSION})" if card.rules_version != RULES_VERSION else "")
    )
    lines.extend(f"Capped: {cap.text}" for cap in card.caps)
    return lines


def _print_card(
    console: Console, path: Path, scenario: Scenario, card: Scorecard, warnings: list[str]
) -> None:
    from tabletop.scoring import RATING_NAMES, bands_text

    head = Text()
    head.append(one_line(scenario.title), style="bold")
    head.append(f"  ({one_line(scenario.id)}, {one_line(path.name)})\n", style="dim")
    first, *rest = card_heading(card)
    head.append(f"Score {card.score_text()}  ", style="bold")
    head.append(f" {card.rating} ", style=f"reverse {RATING_STYLE[card.rating]}")
    head.append(first.split(f" {card.rating} ", 1)[1] if f" {card.rating} " in first else "")
    if card.until is not None:
        head.append(f"   live at {_when(card.until)}", style="cyan")
    for line in rest:
        head.append("\n" + one_line(line), style="yellow" if line.startswith("Capped") else "dim")
    console.print(head)

    narrow = console.width < 110  # status and credit in one column, due and done in one
    table = Table(
        title="What was expected, by whom, by when, and what happened",
        title_justify="left",
        expand=True,
        show_lines=console.width < 120,
    )
    if narrow:
        table.add_column("Result", min_width=10, no_wrap=True)
        table.add_column("Expectation (owner)", ratio=3, overflow="fold")
        table.add_column("Due / done", ratio=2, min_width=10, overflow="fold")
    else:
        table.add_column("Status", min_width=8, no_wrap=True)
        table.add_column("Credit", justify="right", no_wrap=True)
        table.add_column("Expectation (owner)", ratio=3, overflow="fold")
        table.add_column("Due", no_wrap=True)
        table.add_column("Done", ratio=1, min_width=9, overflow="fold")
    table.add_column("Why", ratio=3, style="dim", overflow="fold")
    _expectation_rows(table, scenario, card.yours(), narrow)
    console.print(table)
    if card.teammates():
        team = Table(
            title="Your simulated team's own work (shown, never in your score)",
            title_justify="left",
            expand=True,
            show_lines=console.width < 120,
        )
        for column in table.columns:
            team.add_column(
                column.header,
                ratio=column.ratio,
                overflow=column.overflow,
                no_wrap=column.no_wrap,
                min_width=column.min_width,
                justify=column.justify,
                style=column.style,
            )
        _expectation_rows(team, scenario, card.teammates(), narrow)
        console.print(team)

    areas = Table(title=f"Capabilities (HSEEP: {bands_text()})", title_justify="left")
    areas.add_column("Area")
    areas.add_column("Ratio", justify="right")
    areas.add_column("Rating")
    for area, ratio in card.areas.items():
        letter = card.ratings[area]
        areas.add_row(
            rich_text(area.replace("_", " ")),
            f"{ratio:.0%}",
            Text(f"{letter} {RATING_NAMES[letter]}", style=RATING_STYLE[letter]),
        )
    console.print(areas)
    _print_rest(console, card, warnings)


def _expectation_rows(table: Table, scenario: Scenario, results: list[Any], narrow: bool) -> None:
    """One row per result: status and credit first (README "How a rehearsal is scored")."""
    for result in results:
        done = _when(result.done_at)
        if result.by:
            done += f" {scenario.role_title(result.by)}"
        if result.delegated_by:
            done += f" (delegated by {scenario.role_title(result.delegated_by)})"
        status = Text(result.status.replace("_", " "), style=STATUS_STYLE.get(result.status, ""))
        credit = f"{result.credit:g} x {result.weight:g}" if result.counted else ""
        if narrow and credit:
            status.append(f"\n{credit}")
        if result.revised:
            status.append(f"\nrevised {len(result.revised)}x", style="dim")
        if result.flags:
            status.append(
                "\n" + "\n".join(one_line(f).replace("_", " ") for f in result.flags), style="yellow"
            )
        owner = "any role" if result.owner == "any" else scenario.role_title(result.owner)
        title = rich_text(result.title, "bold")
        title.append(f" ({one_line(owner)}; {one_line(result.id)})", style="dim")
        if narrow:
            when = f"due {_when(result.deadline)}"
            if result.done_at is not None:
                when += f"\ndone {_when(result.done_at)}"
                if result.by:
                    when += f"\nby {scenario.role_title(result.by)}"
                if result.delegated_by:
                    when += f" (delegated by {scenario.role_title(result.delegated_by)})"
            table.add_row(status, title, rich_text(when), rich_text(result.reason))
        else:
            table.add_row(
                status, credit, title, _when(result.deadline), rich_text(done), rich_text(result.reason)
            )


def _print_rest(console: Console, card: Scorecard, warnings: list[str]) -> None:
    if card.clocks:
        clocks = Table(title="Notification clocks", title_justify="left", expand=True)
        clocks.add_column("Result", no_wrap=True)
        for column in ("Clock", "Source", "From", "Due", "Done"):
            clocks.add_column(column, overflow="fold")
        for clock in card.clocks:
            clocks.add_row(
                Text(clock.status.replace("_", " "), style=STATUS_STYLE.get(clock.status, "")),
                rich_text(clock.title),
                rich_text(clock.source),
                rich_text(f"{clock.after} {_when(clock.anchor)}".strip()),
                _when(clock.deadline),
                _when(clock.done_at),
            )
        console.print(clocks)
    if card.findings:
        console.print(Text("Findings", style="bold"))
        for finding in card.findings:
            line = Text("  ")
            line.append(_when(finding.at), style="red")
            line.append(f" {one_line(finding.detail)} ")
            line.append(f"(penalty {finding.penalty:g})", style="dim")
            console.print(line)
    for warning in warnings:
        line = Text("warning:", style="yellow")
        line.append(f" {one_line(warning)}")
        console.print(line)


# --- score ---------------------------------------------------------------------------------


def _transcripts_in(folder: Path) -> list[Path]:
    """Every `*.jsonl` under `folder`; folders reached through a symbolic link are not entered."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in files if name.endswith(".jsonl"))
    return sorted(p for p in found if p.is_file())


def _score_folder(folder: Path, as_json: bool, workers: int | None) -> int:
    from concurrent.futures import ProcessPoolExecutor

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tabletop.scoring import conditions_text

    paths = [str(p) for p in _transcripts_in(folder)]
    if not paths:
        _fail(f"{folder}: no transcripts (*.jsonl) in this folder")
    workers = max(1, min(workers or os.cpu_count() or 1, len(paths)))
    err = Console(stderr=True)
    results: list[dict[str, Any]] = []
    chunk = max(1, min(64, len(paths) // (workers * 8)))
    with Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("score", total=len(paths))
        if workers == 1:
            for path in paths:
                results.append(score_file(path))
                bar.advance(task)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(score_file, paths, chunksize=chunk):
                    results.append(result)
                    bar.advance(task)
    broken = [r for r in results if "error" in r or _refused(r["verification"]["status"])]
    if as_json:
        click.echo(json_dumps(results, indent=2, ensure_ascii=False))
        return 1 if broken else 0
    console = Console(markup=False, emoji=False)
    table = Table(title=rich_text(f"{len(results)} transcripts in {folder}"), title_justify="left")
    table.add_column("Transcript", no_wrap=True)
    table.add_column("Evidence", no_wrap=True)
    table.add_column("Scenario", overflow="fold")
    for column in ("Score", "Rating", "Passed", "Coverage", "Findings"):
        table.add_column(column, justify="left" if column == "Rating" else "right", no_wrap=True)
    table.add_column("Notes", overflow="fold", ratio=1)
    for result in results:
        name = rich_text(os.path.relpath(result["path"], folder), newlines=False)
        status = result["verification"]["status"]
        evidence = Text(status.upper(), style=EVIDENCE_STYLE.get(status, "bold red"))
        if "error" in result:
            table.add_row(name, evidence, "", "", "", "", "", "", rich_text(result["error"], "red"))
            continue
        shown = f"{result['score']:.0%}" if result.get("rated", True) else "not rated"
        coverage = result.get("coverage")
        table.add_row(
            name,
            evidence,
            rich_text(result["scenario"]),
            shown if not _refused(status) else Text(f"({shown})", style="red"),
            Text(result["rating"], style=RATING_STYLE.get(result["rating"], "")),
            f"{result['passed']}/{result['applicable']}",
            f"{coverage:.0%}" if coverage is not None else "-",
            str(len(result["findings"])),
            rich_text(
                conditions_text(result.get("conditions")) + "".join(f"; {w}" for w in result["warnings"]),
            ),
        )
    console.print(table)
    scored = [r for r in results if "error" not in r and r.get("rated", True)]
    if scored:
        mean = sum(r["score"] for r in scored) / len(scored)
        console.print(f"mean score {mean:.0%} over {len(scored)} rated; {len(broken)} could not be scored")
    kinds = {conditions_text(r.get("conditions")) for r in scored}
    if len(kinds) > 1:
        console.print(
            rich_text(
                f"warning: these runs were played under different conditions ({'; '.join(sorted(kinds))}): "
                "compare like with like",
                "yellow",
            )
        )
    versions = {r.get("rules_version") for r in scored}
    if len(versions) > 1:
        console.print(
            rich_text(
                "warning: these runs were played under different scoring rules versions "
                f"({', '.join(str(v) for v in sorted(v for v in versions if v is not None))}); all are "
                "scored with this tool's rules",
                "yellow",
            )
        )
    return 1 if broken else 0


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the scorecard as JSON (a list for a folder).")
@click.option(
    "--until",
    type=str,
    default=None,
    help="Live score: apply the rules to the events up to this sim time (e.g. 45m).",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Processes for a folder (default: CPU count)."
)
def score(target: Path, as_json: bool, until: str | None, workers: int | None) -> None:
    """Score TARGET: a transcript (.jsonl) or a folder of them (scored in parallel).

    Exits 1 when a transcript cannot be scored; every broken file is named with the reason.
    """
    from tabletop.scoring import score as score_run
    from tabletop.timing import TimeFormatError, parse_duration
    from tabletop.transcript import TranscriptError, read_run

    if target.is_dir():
        if until is not None:
            _fail("--until scores one transcript, not a folder")
        sys.exit(_score_folder(target, as_json, workers))
    if not target.exists():
        _fail(f"{target}: no such transcript or folder")
    limit = None
    if until is not None:
        try:
            limit = float(parse_duration(until))
        except TimeFormatError as error:
            _fail(f"--until: {error}")
    from tabletop.transcript import verify_evidence

    try:
        run = read_run(target)
    except TranscriptError as error:
        _fail(f"{error}\n{verify_evidence(target).headline()}")
    verification = verify_evidence(target, chain=run.verdict)
    try:
        card = score_run(run.scenario, run.events, until=limit)
    except Exception as error:  # a malformed transcript is reported, not a traceback
        _fail(f"{target}: cannot score ({type(error).__name__}: {error})")
    warnings = list(run.warnings) + [w for w in card.warnings if w not in run.warnings]
    code = 1 if _refused(verification.status) else 0
    if as_json:
        data = card.to_json()
        data["warnings"] = warnings
        data["verification"] = verification.to_json()
        click.echo(json_dumps(data, indent=2, ensure_ascii=False))
        sys.exit(code)
    console = Console(markup=False, emoji=False)
    console.print(_evidence_text(verification.status, f"Evidence: {verification.headline()}"))
    _print_card(console, target, run.scenario, card, warnings)
    if code:
        console.print(
            _evidence_text(
                verification.status,
                f"NOT A VALID SCORE: the transcript is {verification.status}; the figures above are what "
                "its content claims, not evidence.",
            )
        )
    sys.exit(code)


# --- report --------------------------------------------------------------------------------


@click.command()
@click.argument("transcript", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=str,
    default=None,
    help="Where to write (`-` for stdout). Default: <transcript>.postmortem.md and .html next to it.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json"]),
    default=None,
    help="md, html or json (default: from -o's suffix, else both md and html).",
)
@click.option(
    "--generated-at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
    default=None,
    help="Date stamped in the report (default: now, UTC); fix it for reproducible files.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite an existing file (a draft of the same transcript is always redone).",
)
def report(
    transcript: Path, output: str | None, fmt: str | None, generated_at: datetime | None, force: bool
) -> None:
    """Draft the blameless post-mortem of TRANSCRIPT: Markdown, self-contained HTML, or JSON.

    Files are written with mode 0600 and never over an existing file, unless --force or the file
    is the draft this command wrote for the same transcript.
    """
    from tabletop.programme.config import register_rule
    from tabletop.report import build_postmortem, postmortem_path, render_report
    from tabletop.scoring import score as score_run
    from tabletop.transcript import TranscriptError, read_run, verify_evidence

    if not transcript.is_file():
        _fail(f"{transcript}: no such transcript")
    try:
        run = read_run(transcript)
    except TranscriptError as error:
        _fail(str(error))
    stamp = generated_at.replace(tzinfo=UTC) if generated_at else datetime.now(UTC)
    notes = list(run.warnings)
    verification = verify_evidence(transcript, chain=run.verdict)
    if verification.problems:
        notes.append(f"integrity: {verification.problems[0]}")

    targets: list[Path | None]
    if output is None:
        formats = [fmt] if fmt else ["md", "html"]
        targets = [postmortem_path(transcript, f) for f in formats]
    elif output == "-":
        formats, targets = [fmt or "md"], [None]
    else:
        out = Path(output)
        suffix = out.suffix.lstrip(".").lower()
        formats = [fmt or (suffix if suffix in ("md", "html", "json") else "md")]
        targets = [out]
    link = targets[0].with_suffix(".html").name if targets[0] is not None else ""
    try:
        card = score_run(run.scenario, run.events)
        postmortem = build_postmortem(
            run.scenario,
            run.events,
            card,
            link=link,
            warnings=notes,
            verification=verification,
            register_rule=register_rule(transcript),
        )
    except Exception as error:  # a malformed transcript is reported, not a traceback
        _fail(f"{transcript}: cannot draft the post-mortem ({type(error).__name__}: {error})")
    from tabletop.files import OutputFileError, is_draft_of, write_private
    from tabletop.report.formats import mark_draft

    draft_id = str(run.events[0].get("hash") or transcript.name)
    for form, target in zip(formats, targets, strict=False):
        text = render_report(postmortem, form, stamp)
        if target is None:  # stdout: a terminal shows the draft's control characters visibly
            click.echo(safe_json(text) if form == "json" else for_stream(text, sys.stdout), nl=False)
            continue
        try:
            write_private(
                target,
                mark_draft(text, form, draft_id),
                force=force,
                may_replace=lambda existing: is_draft_of(existing, draft_id),
            )
        except OutputFileError as error:
            _fail(f"cannot write the report: {error}")
        click.echo(str(target))
    if _refused(verification.status):
        click.echo(f"tabletop: {one_line(transcript)}: {one_line(verification.headline())}", err=True)
        sys.exit(1)
