"""Authoring commands: `tabletop validate`, `tabletop list` and `tabletop show` (the MSEL)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tabletop.loader import ScenarioError, find_scenario, resolve_scenario, scenario_folders
from tabletop.model import Scenario, expectation_deadline, session_end
from tabletop.problems import Problem
from tabletop.timing import authored_limit, format_duration, format_offset, parse_duration, sim_datetime
from tabletop.untrusted import one_line, rich_text, safe
from tabletop.yamlsource import YamlSyntaxError, display_path, read_yaml


def _internal_error(error: BaseException) -> None:
    click.echo(
        f"tabletop: internal error: {type(error).__name__}: {safe(error)}; please report this", err=True
    )
    sys.exit(2)


def _console():
    """A console that never reads markup: scenario text is printed as `rich_text` cells."""
    from rich.console import Console

    console = Console(markup=False, emoji=False)
    if not console.is_terminal:
        console = Console(width=160, no_color=True, highlight=False, markup=False, emoji=False)
    return console


# --- validate -----------------------------------------------------------------------------------


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print {problems: [{path, line, col, key, message}], summary}."
)
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check scenario, inject library and scoring files and print every problem.

    PATHS are files or folders (default: the bundled scenarios/, injects/, scoring/ and
    programme.yaml). Each problem prints as FILE:LINE:COL: dotted.key: message. Exit 0 when
    clean, 1 when any problem.
    """
    from tabletop.loader import validate as run_validation

    try:
        result = run_validation(list(paths) or None)
    except Exception as error:  # a user never sees a traceback
        _internal_error(error)
        return
    if as_json:
        click.echo(
            json.dumps(
                {"problems": [p.to_json() for p in result.problems], "summary": result.summary()}, indent=2
            )
        )
    else:
        for problem in result.problems:  # each quotes the file: one safe line
            click.echo(one_line(problem))
        click.echo(result.summary())
    sys.exit(1 if result.problems else 0)


# --- list ---------------------------------------------------------------------------------------


def scenario_entries() -> list[dict[str, Any]]:
    """One entry per scenario file in ./scenarios and the bundled scenarios/ (nearest first)."""
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for folder in scenario_folders():
        for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")):
            entry: dict[str, Any] = {
                "id": path.stem,
                "title": "",
                "kind": "",
                "duration": None,
                "duration_seconds": None,
                "injects": 0,
                "roles": [],
                "path": display_path(path),
                "error": None,
            }
            try:
                data = read_yaml(path).data
            except YamlSyntaxError as error:
                entry["error"] = f"line {error.line}: {error.message}"
                data = None
            if isinstance(data, dict):
                if isinstance(data.get("id"), str):
                    entry["id"] = data["id"]
                entry["title"] = _title(data)
                entry["kind"] = str(data.get("kind", "tabletop"))
                duration = data.get("duration")
                try:
                    entry["duration_seconds"] = parse_duration(duration)
                    entry["duration"] = format_duration(entry["duration_seconds"])
                except ValueError:
                    entry["duration"] = None if duration is None else str(duration)
                injects = data.get("injects")
                entry["injects"] = len(injects) if isinstance(injects, list) else 0
                roles = data.get("roles")
                entry["roles"] = [str(r) for r in roles] if isinstance(roles, list) else []
            elif entry["error"] is None:
                entry["error"] = "not a scenario (expected a mapping)"
            if entry["id"] in seen:
                continue  # ./scenarios overrides a bundled scenario with the same id
            seen.add(entry["id"])
            entries.append(entry)
    return entries


def _title(data: dict[str, Any]) -> str:
    """The scenario's title rendered with its default seed (the raw text if that fails)."""
    from tabletop.templating import TemplateProblem, generate_values, has_template, render_text

    title = str(data.get("title", ""))
    variables = data.get("variables")
    if not has_template(title) or not isinstance(variables, dict):
        return title
    seed = data.get("seed", 0)
    values, _ = generate_values(
        variables, seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
    )
    try:
        return render_text(title, values)
    except TemplateProblem:
        return title


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_scenarios(as_json: bool) -> None:
    """List the scenarios in ./scenarios and the bundled ones.

    With --json: a list of {id, title, kind, duration (like 4h), duration_seconds, injects
    (count), roles, path, error (null, or why the file could not be read)}.
    """
    try:
        entries = scenario_entries()
    except Exception as error:
        _internal_error(error)
        return
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    from rich.table import Table

    table = Table(title="Scenarios", show_lines=False)
    for column in ("id", "title", "kind", "duration", "injects", "roles"):
        table.add_column(column, justify="right" if column == "injects" else "left")
    for entry in entries:
        title = rich_text(entry["title"]) if not entry["error"] else rich_text(entry["error"], "red")
        table.add_row(
            rich_text(entry["id"]),
            title,
            rich_text(entry["kind"]),
            rich_text(entry["duration"] or "?"),
            str(entry["injects"]),
            rich_text(", ".join(entry["roles"])),
        )
    _console().print(table)
    if not entries:
        click.echo("no scenarios found in ./scenarios or the bundled scenarios/")


# --- show (the MSEL) ----------------------------------------------------------------------------


def _clock(scenario: Scenario, seconds: float | None) -> str | None:
    moment = sim_datetime(scenario.starts_at, seconds) if seconds is not None else None
    if moment is None or scenario.starts_at is None:
        return None
    day = (moment.date() - scenario.starts_at.date()).days + 1
    return f"{moment:%H:%M}" if day == 1 else f"day {day} {moment:%H:%M}"


def _estimates(scenario: Scenario) -> dict[str, float | None]:
    """Release time of each inject: exact when scheduled, estimated for branches when the
    condition's moment is known (`after` an inject, `missed` with a known anchor)."""
    times: dict[str, float | None] = {i.id: (i.at if i.when is None else None) for i in scenario.injects}
    expectations = {e.id: e for e in scenario.expectations}
    for _ in range(len(scenario.injects)):
        changed = False
        for inject in scenario.injects:
            if inject.when is None or times[inject.id] is not None:
                continue
            condition_at: float | None = None
            if inject.when.kind == "after":
                condition_at = times.get(inject.when.target)
            elif inject.when.kind == "missed":
                expectation = expectations.get(inject.when.target)
                if expectation is not None:
                    anchor = (
                        0
                        if expectation.anchor_kind == "start"
                        else (
                            times.get(expectation.anchor_target or "")
                            if expectation.anchor_kind == "inject"
                            else None
                        )
                    )
                    if anchor is not None:
                        condition_at = expectation_deadline(scenario, expectation, anchor)
            if condition_at is not None:
                times[inject.id] = condition_at + inject.at
                changed = True
        if not changed:
            break
    return times


def msel(scenario: Scenario) -> dict[str, Any]:
    """The scenario's master scenario events list as plain JSON data (see `show --help`)."""
    times = _estimates(scenario)
    order = sorted(
        range(len(scenario.injects)),
        key=lambda i: (times[scenario.injects[i].id] is None, times[scenario.injects[i].id] or 0, i),
    )
    rows = []
    for seq, index in enumerate(order, start=1):
        inject = scenario.injects[index]
        estimate = times[inject.id]
        expects = []
        for expectation in scenario.expectations_for(inject.id):
            deadline = expectation_deadline(scenario, expectation, estimate) if estimate is not None else None
            expects.append(
                {
                    "id": expectation.id,
                    "action": expectation.action,
                    "owner": expectation.owner,
                    "within": authored_limit(expectation.months, expectation.within),
                    "weight": expectation.weight,
                    "deadline": format_offset(deadline) if deadline is not None else None,
                    "deadline_seconds": deadline,
                }
            )
        rows.append(
            {
                "seq": seq,
                "id": inject.id,
                "at": inject.at if inject.when is None else None,
                "estimate": estimate,
                "time": format_offset(estimate) if estimate is not None else None,
                "clock": _clock(scenario, estimate),
                "phase": inject.phase,
                "channel": inject.channel,
                "from": inject.from_,
                "to": list(inject.to),
                "title": inject.title,
                "marks": list(inject.marks),
                "expects": expects,
                "when": (
                    {
                        "kind": inject.when.kind,
                        "target": inject.when.target,
                        "delay": inject.at,
                        "text": inject.when.describe()
                        + (f" +{format_duration(inject.at)}" if inject.at else ""),
                    }
                    if inject.when is not None
                    else None
                ),
                "advance_to": inject.advance_to,
                "advance_to_clock": _clock(scenario, inject.advance_to)
                if inject.advance_to is not None
                else None,
            }
        )
    standing = [
        {
            "id": e.id,
            "action": e.action,
            "owner": e.owner,
            "after": e.after or "start",
            "within": authored_limit(e.months, e.within),
            "weight": e.weight,
            "regime": e.regime,
            "source": e.source,
        }
        for e in scenario.expectations
        if not (e.after or "").startswith("inject:")
    ]
    return {
        "scenario": scenario.id,
        "title": scenario.title,
        "kind": scenario.kind,
        "seed": scenario.seed,
        "starts_at": scenario.starts_at.isoformat() if scenario.starts_at else None,
        "duration": format_duration(scenario.duration),
        "ends_at": session_end(scenario),
        "roles": list(scenario.roles),
        "injects": rows,
        "expectations": standing,
    }


@click.command()
@click.argument("scenario")
@click.option(
    "--seed", type=int, default=None, help="Faker seed for the variables (default: the scenario's)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the MSEL as JSON (keys below).")
def show(scenario: str, seed: int | None, as_json: bool) -> None:
    """Show a scenario's MSEL: one row per inject in time order.

    SCENARIO is an id (looked up in ./scenarios, then the bundled scenarios/) or a path.

    \b
    --json prints {scenario, title, kind, seed, starts_at (ISO or null), duration (like 4h),
    ends_at (sim seconds, time jumps included), roles, injects, expectations}; each of
    injects: {seq, id, at (seconds, null for a branch), estimate (seconds or null), time
    (T+... or null), clock (09:30 / day 2 08:00, or null), phase, channel, from, to, title,
    marks, expects [{id, action, owner, within, weight, deadline, deadline_seconds}],
    when ({kind, target, delay, text} or null), advance_to, advance_to_clock}; expectations
    lists those not tied to an inject: {id, action, owner, after, within, weight, regime, source}.
    """
    try:
        path = find_scenario(scenario)
        resolved, problems, _ = resolve_scenario(path, seed)
    except ScenarioError as error:
        _print_problems(error.problems)
        sys.exit(1)
    except Exception as error:
        _internal_error(error)
        return
    if problems or resolved is None:
        _print_problems(problems)
        sys.exit(1)
    try:
        data = msel(resolved)
    except Exception as error:
        _internal_error(error)
        return
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    _print_msel(data)


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(one_line(problem), err=True)
    click.echo(f"{len(problems)} problem{'' if len(problems) == 1 else 's'}", err=True)


def _print_msel(data: dict[str, Any]) -> None:
    from rich.table import Table

    console = _console()
    caption = f"seed {data['seed']}, duration {data['duration']}"
    if data["starts_at"]:
        caption += f", starts {data['starts_at'].replace('T', ' ')}"
    table = Table(title=rich_text(f"{data['scenario']}: {data['title']}"), caption=rich_text(caption))
    for column in ("#", "time", "phase", "channel", "from -> to", "title", "expected actions", "condition"):
        table.add_column(column, overflow="fold")
    for row in data["injects"]:
        time = row["time"] or "-"
        if row["when"] and row["time"]:
            time = f"~{time}"
        if row["clock"]:
            time += f"\n{row['clock']}"
        expected = "\n".join(
            f"{e['action']} ({e['owner']})\n  "
            + (f"by {e['deadline']}" if e["deadline"] else f"within {e['within']}")
            for e in row["expects"]
        )
        condition = row["when"]["text"] if row["when"] else ""
        if row["advance_to"] is not None:
            jump = row["advance_to_clock"] or format_offset(row["advance_to"])
            condition = (condition + "\n" if condition else "") + f"jumps to {jump}"
        sender = row["from"] or "-"
        table.add_row(
            str(row["seq"]),
            time,
            *map(
                rich_text,
                (
                    row["phase"] or "",
                    row["channel"],
                    f"{sender} -> {', '.join(row['to'])}",
                    row["title"],
                    expected,
                    condition,
                ),
            ),
        )
    console.print(table)
    if data["expectations"]:
        standing = Table(title="Expectations not tied to an inject")
        for column in ("id", "action", "owner", "from", "within", "regime"):
            standing.add_column(column, overflow="fold")
        for e in data["expectations"]:
            standing.add_row(
                *map(rich_text, (e["id"], e["action"], e["owner"], e["after"], e["within"], e["regime"]))
            )
        console.print(standing)
