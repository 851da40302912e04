"""Rehearsal library commands: `tabletop msel export|import`, `tabletop new` and `tabletop guide`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tabletop.untrusted import for_stream, one_line, safe

if TYPE_CHECKING:
    from tabletop.model import Scenario


def _fail(message: str, code: int = 1) -> None:
    click.echo(safe(message), err=True)
    sys.exit(code)


def _internal_error(error: BaseException) -> None:
    _fail(f"tabletop: internal error: {type(error).__name__}: {error}; please report this", 2)


def _resolve(ref: str, seed: int | None) -> tuple[Path, Scenario]:
    """(path, resolved scenario) for an id or a file; prints the problems and exits when invalid."""
    from tabletop.loader import find_scenario, load_scenario
    from tabletop.problems import ScenarioError

    try:
        path = find_scenario(ref)
        return path, load_scenario(path, seed=seed)
    except ScenarioError as error:
        _fail("\n".join(one_line(p) for p in error.problems) or f"error: scenario {ref!r} is invalid")
        raise SystemExit(1) from None  # for type checkers; _fail exits


def _write_text(text: str | bytes, output: str | None, *, force: bool = False) -> None:
    """Print `text`, or write it to `output` (mode 0600, atomically, never through a symlink,
    never over an existing file without --force)."""
    from tabletop.files import OutputFileError, write_private

    if output is None or output == "-":
        if isinstance(text, bytes):
            _fail("error: an XLSX workbook is not printed; give -o FILE")
            return
        # a terminal shows control characters visibly
        click.echo(for_stream(text, sys.stdout), nl=not text.endswith("\n"))
        return
    try:
        target = write_private(Path(output), text, force=force)
    except OutputFileError as error:
        _fail(f"error: {error}")
        return
    click.echo(str(target))


# --- msel ------------------------------------------------------------------------------------


@click.group()
def msel() -> None:
    """Exchange the master scenario events list (MSEL) with spreadsheets: CSV or XLSX."""


@msel.command("export")
@click.argument("scenario")
@click.option("--csv", "fmt", flag_value="csv", default=True, help="Comma-separated values (the default).")
@click.option("--xlsx", "fmt", flag_value="xlsx", help="An Excel workbook: sheets MSEL and Scenario.")
@click.option(
    "-o",
    "--output",
    default=None,
    help="File to write (CSV default: stdout; XLSX default: SCENARIO-msel.xlsx).",
)
@click.option(
    "--seed", type=int, default=None, help="Render the text with this seed (default: the scenario's)."
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def msel_export(scenario: str, fmt: str, output: str | None, seed: int | None, force: bool) -> None:
    """Export SCENARIO's MSEL: one row per inject with the HSEEP columns (sequence, time, inject
    type, delivery method, from, to, description, expected player action, objective or
    capability, responsible controller) plus what a round trip needs (inject id, title, phase,
    condition, time jump, marks, expectations, notes). The scenario's other settings follow the
    table as `#key` rows (CSV) or on the Scenario sheet (XLSX)."""
    from tabletop.msel import build_msel, to_csv, to_xlsx

    path, resolved = _resolve(scenario, seed)
    try:
        table = build_msel(resolved, path, seed)
        if fmt == "xlsx":
            target = output if output and output != "-" else f"{resolved.id}-msel.xlsx"
            _write_text(to_xlsx(table), target, force=force)
        else:
            _write_text(to_csv(table), output, force=force)
    except OSError as error:
        _fail(f"error: cannot write {output}: {error.strerror or error}")
    except Exception as error:  # a user never sees a traceback
        _internal_error(error)


@msel.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Scenario YAML to write, e.g. scenarios/my-exercise.yaml.",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def msel_import(file: Path, output: Path, force: bool) -> None:
    """Import an MSEL (.csv or .xlsx) as a scenario YAML file.

    Every malformed row is reported as `FILE: row N, column C: message`; nothing is written
    until the whole sheet reads and the scenario validates. A facilitator's own MSEL without the
    Expectations column imports too: its expected player actions become controller notes.
    """
    from tabletop.msel import MselError, import_msel

    if (output.exists() or output.is_symlink()) and not force:
        _fail(f"error: {output} exists; use --force to overwrite it")
    try:
        written, problems = import_msel(file, output)
    except MselError as error:
        _fail(
            "\n".join(map(one_line, error.problems)) + f"\n{len(error.problems)} problem(s); nothing written"
        )
        return
    except OSError as error:
        _fail(f"error: {error.strerror or error}: {getattr(error, 'filename', '') or file}")
        return
    except Exception as error:
        _internal_error(error)
        return
    if problems:
        _fail("\n".join(map(one_line, problems)) + f"\n{len(problems)} problem(s); nothing written")
    from tabletop.loader import load_scenario

    scenario = load_scenario(written)
    click.echo(f"{written}: {len(scenario.injects)} injects, {len(scenario.expectations)} expectations")


# --- new -------------------------------------------------------------------------------------


@click.command()
@click.argument("name")
@click.option(
    "--kind", required=True, help="Rehearsal kind: tabletop, restore, failover, restore-runbook, ..."
)
@click.option(
    "-o", "--output", default=None, help="File to write (default: scenarios/ID.yaml; `-` for stdout)."
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def new(name: str, kind: str, output: str | None, force: bool) -> None:
    """Write a valid scenario skeleton of KIND named NAME, ready to edit."""
    from tabletop.model import KINDS
    from tabletop.problems import did_you_mean
    from tabletop.skeleton import SkeletonError, scenario_id, skeleton

    if kind not in KINDS:
        _fail(
            f"error: --kind: unknown kind {kind!r}{did_you_mean(kind, KINDS)}; expected one of {', '.join(KINDS)}"
        )
    try:
        text = skeleton(name, kind)
    except SkeletonError as error:
        _fail(f"error: {error}")
        return
    if output is None:
        output = str(Path("scenarios") / f"{scenario_id(name)}.yaml")
    _write_text(text, output, force=force)


# --- guide -----------------------------------------------------------------------------------


@click.command()
@click.argument("scenario")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option("-o", "--output", default=None, help="File to write (default: stdout).")
@click.option(
    "--seed", type=int, default=None, help="Render the text with this seed (default: the scenario's)."
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def guide(scenario: str, fmt: str, output: str | None, seed: int | None, force: bool) -> None:
    """The situation manual and facilitator guide of SCENARIO: modules with timings, injects,
    discussion questions, expected actions and hot-wash questions (printable HTML)."""
    from tabletop.guide import build_guide, render_guide

    _path, resolved = _resolve(scenario, seed)
    try:
        text = render_guide(build_guide(resolved), fmt)
    except Exception as error:
        _internal_error(error)
        return
    _write_text(text, output, force=force)
