"""`tabletop review`, `compare` and `trends`: browse, compare and follow scored rehearsals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tabletop.review.compare import Comparison, Side
    from tabletop.review.trends import Trends


import sys
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tabletop.model import AREAS
from tabletop.review import formatting as fmt
from tabletop.untrusted import json_dumps, one_line, rich_text, safe


def _fail(message: str) -> None:
    click.echo(f"tabletop: {safe(message)}", err=True)
    sys.exit(1)


def _progress_index(folder: Path, console: Console, quiet: bool):
    """Open and refresh the folder's index, with a Rich progress bar when anything is scored."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from tabletop.review.index import TranscriptIndex

    try:
        index = TranscriptIndex(folder)
    except NotADirectoryError as error:
        _fail(str(error))
    plan = index.plan()
    if quiet or not plan.to_score:
        index.refresh(plan=plan)
        return index
    with Progress(
        TextColumn("scoring transcripts"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("score", total=len(plan.to_score))
        index.refresh(plan=plan, progress=lambda done, total: bar.update(task, completed=done))
    return index


# --- review --------------------------------------------------------------------------------


@click.command()
@click.argument("folder", default="transcripts", type=click.Path(path_type=Path))
def review(folder: Path) -> None:
    """Browse, compare and follow the scored transcripts in FOLDER (default: transcripts/)."""
    if not folder.is_dir():
        _fail(f"{folder}: no such folder of transcripts (expected a folder holding *.jsonl files)")
    from tabletop.ui.review.app import make_review_app

    make_review_app(folder).run()


# --- compare -------------------------------------------------------------------------------


@click.command()
@click.argument("a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(a: Path, b: Path, as_json: bool) -> None:
    """Compare two scored transcripts side by side.

    Same scenario: expectation by expectation; different scenarios: area by area.
    """
    from tabletop.review.compare import compare_transcripts
    from tabletop.review.evidence import EvidenceError

    try:
        comparison = compare_transcripts(a, b)
    except EvidenceError as error:
        _fail(str(error))
    if as_json:
        click.echo(json_dumps(comparison.to_json(), indent=2, ensure_ascii=False))
        return
    print_comparison(comparison, Console(markup=False, emoji=False))  # names are shown as typed


def print_comparison(comparison: Comparison, console: Console) -> None:
    a, b = comparison.a, comparison.b
    head = Table(title="Comparison", show_lines=False)
    head.add_column("")
    head.add_column("A", overflow="fold")
    head.add_column("B", overflow="fold")
    head.add_row("transcript", rich_text(a.path), rich_text(b.path))
    head.add_row("scenario", rich_text(a.scenario), rich_text(b.scenario))
    head.add_row("started", rich_text(a.started), rich_text(b.started))
    head.add_row("team", rich_text(a.group), rich_text(b.group))
    head.add_row("participants", rich_text(", ".join(a.participants)), rich_text(", ".join(b.participants)))
    head.add_row("integrity", _integrity(a.integrity, a.evidence), _integrity(b.integrity, b.evidence))
    head.add_row("score", fmt.score_text(a.score), fmt.score_text(b.score) + _delta(comparison.score_delta))
    head.add_row("passed", fmt.passed_text(a.passed, a.applicable), fmt.passed_text(b.passed, b.applicable))
    head.add_row("played", a.conditions or "not recorded", b.conditions or "not recorded")
    if comparison.same_scenario:
        areas = list(a.areas) + [area for area in b.areas if area not in a.areas]
        head.add_row("areas", rich_text(_areas_line(a, areas)), rich_text(_areas_line(b, areas)))
    console.print(head)
    for warning in comparison.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"), soft_wrap=True)
    for label, side in (("A", a), ("B", b)):
        if side.integrity != "ok" or side.evidence not in ("verified", ""):
            line = Text(f"{label} {fmt.evidence_text(side.integrity, side.evidence)}:", style="bold red")
            line.append(f" {one_line(side.path)}: {one_line(side.problem)}")
            console.print(line, soft_wrap=True)
    if comparison.same_scenario:
        wide = console.width >= 120  # room for each expectation's title
        table = Table(title="Expectation by expectation", box=box.SIMPLE_HEAD)
        table.add_column("expectation", no_wrap=True, max_width=20, overflow="ellipsis")
        if wide:
            table.add_column("what", no_wrap=True, overflow="ellipsis", max_width=34)
        table.add_column("area", no_wrap=True, max_width=15, overflow="ellipsis")
        table.add_column("A", no_wrap=True, min_width=6)
        table.add_column("credit", justify="right", no_wrap=True, min_width=6)
        table.add_column("B", no_wrap=True, min_width=6)
        table.add_column("credit", justify="right", no_wrap=True, min_width=6)
        table.add_column("change", justify="right", no_wrap=True, min_width=6)
        for row in comparison.rows:
            cells = [rich_text(row.key), rich_text(row.label)] if wide else [rich_text(row.key)]
            table.add_row(
                *cells,
                rich_text(fmt.area_label(row.area) if wide else fmt.area_short(row.area)),
                _status(row.a, flags=wide),
                _credit(row.a),
                _status(row.b, flags=wide),
                _credit(row.b),
                fmt.delta_text(row.delta),
            )
    else:
        table = Table(title="Different scenarios: area by area")
        for name in ("area", "A", "B", "change"):
            table.add_column(name, justify="left" if name == "area" else "right")
        for row in comparison.rows:
            table.add_row(rich_text(row.label), _area(row.a), _area(row.b), fmt.delta_text(row.delta))
    console.print(table)


def _status(figures: Mapping[str, Any] | None, flags: bool = True) -> str:
    if not figures:
        return "—"
    text = fmt.status_text(figures.get("status"))
    shown = (figures.get("flags") or []) if flags else []
    return text + (f" [{one_line(', '.join(shown))}]" if shown else "")


def _areas_line(side: Side, areas: list[str]) -> str:
    return "  ".join(
        f"{fmt.area_short(area)} {fmt.score_text(side.areas[area])} {side.ratings.get(area, '')}".strip()
        for area in areas
        if area in side.areas
    )


def _credit(figures: Mapping[str, Any] | None) -> str:
    if not figures or figures.get("status") in ("not_applicable", "open"):
        return "—"
    return fmt.score_text(figures.get("credit"))


def _area(figures: Mapping[str, Any] | None) -> str:
    if not figures:
        return "—"
    return f"{fmt.score_text(figures['ratio'])} {figures.get('rating') or ''}".strip()


def _delta(delta: float | None) -> str:
    text = fmt.delta_text(delta)
    return f" ({text})" if text else ""


def _integrity(integrity: str, evidence: str = "") -> Text:
    good = integrity == "ok" and evidence in ("verified", "")
    return Text(fmt.evidence_text(integrity, evidence), style="" if good else "bold red")


# --- trends --------------------------------------------------------------------------------


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the trends as JSON.")
@click.option(
    "--by",
    "by",
    type=click.Choice(["team", "scenario", "area"]),
    default="team",
    show_default=True,
    help="One trend line per team, per scenario or per action area.",
)
@click.option("--team", default=None, help="Only this team's rehearsals.")
@click.option("--scenario", default=None, help="Only this scenario's rehearsals.")
def trends(folder: Path, as_json: bool, by: str, team: str | None, scenario: str | None) -> None:
    """Scores over time in FOLDER, per team, scenario or area."""
    from tabletop.review.trends import most_missed
    from tabletop.review.trends import trends as build_trends

    if not folder.is_dir():
        _fail(f"{folder}: no such folder of transcripts (expected a folder holding *.jsonl files)")
    console = (
        Console(stderr=True, markup=False, emoji=False) if as_json else Console(markup=False, emoji=False)
    )
    index = _progress_index(folder, console, quiet=as_json or not console.is_terminal)
    with index:
        result = build_trends(index.entries(), by, team=team, scenario=scenario)
        missed = most_missed(index.expectation_record(team=team, scenario=scenario))
    if as_json:
        data = result.to_json()
        data["most_missed"] = [record.to_json() for record in missed]
        click.echo(json_dumps(data, indent=2, ensure_ascii=False))
        return
    print_trends(result, console)
    print_most_missed(missed[:10], console)


def print_trends(result: Trends, console: Console) -> None:
    what = "area ratio" if result.by == "area" else "score"
    table = Table(title=f"Trends by {result.by} ({what}, oldest to newest)")
    for name in (result.by, "rehearsals", "first", "last", "change", "mean", "best", "over time", "evidence"):
        table.add_column(name, justify="left" if name in (result.by, "over time", "evidence") else "right")
    order = {area: i for i, area in enumerate(AREAS)}
    series = (
        sorted(result.series, key=lambda s: (order.get(s.key, 99), s.key))
        if result.by == "area"
        else result.series
    )
    for line in series:
        table.add_row(
            rich_text(fmt.area_label(line.key) if result.by == "area" else line.key),
            str(len(line.points)),
            fmt.score_text(line.first),
            fmt.score_text(line.last),
            fmt.delta_text(line.change),
            fmt.score_text(line.mean),
            fmt.score_text(line.best),
            fmt.sparkline(p.value for p in line.points),
            _evidence_cell(line.unverified),
        )
    if not result.series:
        console.print("No scored transcripts with an intact hash chain to show.")
    else:
        console.print(table)
    for warning in result.warnings:
        console.print(Text(f"warning: {warning}: compare like with like", style="yellow"), soft_wrap=True)
    for warning in result.evidence_warnings:
        console.print(rich_text(f"evidence: {warning}", newlines=False, style="bold red"), soft_wrap=True)
    if result.excluded:
        left_out = Text(f"Left out ({len(result.excluded)}):", style="bold red")
        left_out.append(" not trusted or not scored")
        console.print(left_out)
        for entry in result.excluded:
            console.print(
                rich_text(
                    f"  {entry.path}: {fmt.integrity_text(entry.integrity)} {entry.problem}", newlines=False
                ),
                soft_wrap=True,
            )


def _evidence_cell(unverified: dict[str, int]) -> Text:
    """`verified` when every point is verified evidence, else what the others are, in red."""
    if not unverified:
        return Text("verified")
    return Text(
        ", ".join(f"{n} {fmt.EVIDENCE_TEXT.get(kind, kind)}" for kind, n in unverified.items()),
        style="bold red",
    )


def print_most_missed(records: list[Any], console: Console) -> None:
    if not records:
        return
    table = Table(title="What keeps being missed", box=box.SIMPLE_HEAD)
    table.add_column("scenario", no_wrap=True, max_width=24, overflow="ellipsis")
    table.add_column("expectation", no_wrap=True, max_width=24, overflow="ellipsis")
    table.add_column("area", no_wrap=True)
    for name in ("missed", "late", "applied", "miss rate"):
        table.add_column(name, justify="right", no_wrap=True)
    for record in records:
        table.add_row(
            rich_text(record.scenario),
            rich_text(record.expectation),
            rich_text(fmt.area_short(record.area)),
            str(record.missed),
            str(record.late),
            str(record.applied),
            f"{record.miss_rate:.0%}",
        )
    console.print(table)
