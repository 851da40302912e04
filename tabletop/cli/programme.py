"""`tabletop programme`, `tabletop followups` and `tabletop evidence`: the rehearsal programme for managers and auditors."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tabletop.untrusted import json_dumps, rich_text, safe

if TYPE_CHECKING:
    from tabletop.programme.folder import ProgrammeFolder
    from tabletop.programme.status import FollowUp, ProgrammeStatus


def _fail(message: str, code: int = 1) -> NoReturn:
    for line in str(message).splitlines() or [""]:
        click.echo(f"tabletop: {safe(line, newlines=False)}", err=True)
    sys.exit(code)


def _today() -> date:
    return datetime.now(UTC).date()


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: expected a date like 2026-07-01, received {value!r}")


def _read(folder: Path, programme_file: Path | None, trusted: Path | None, quiet: bool) -> ProgrammeFolder:
    """The folder read for the programme, with a progress bar when transcripts are scored."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tabletop.programme.folder import ProgrammeError, read_folder

    console = Console(stderr=True)
    try:
        if quiet or not console.is_terminal:
            return read_folder(folder, programme_file=programme_file, trusted=trusted)
        with Progress(
            TextColumn("scoring transcripts"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("score", total=None)
            return read_folder(
                folder,
                programme_file=programme_file,
                trusted=trusted,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except ProgrammeError as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"{folder}: {error}")


folder_argument = click.argument("folder", default="transcripts", type=click.Path(path_type=Path))
as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="DATE",
    help="The day to judge the programme on (default: today, UTC).",
)
programme_option = click.option(
    "--programme",
    "programme_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The programme file (default: the nearest programme.yaml above FOLDER, else the bundled one).",
)
trusted_option = click.option(
    "--trusted-keys",
    "trusted",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A file of public keys to trust beside yours and the nearest trusted_keys.",
)


# --- programme -------------------------------------------------------------------------------


@click.command()
@folder_argument
@as_of_option
@programme_option
@trusted_option
@click.option("--json", "as_json", is_flag=True, help="Print the programme's standing as JSON.")
def programme(
    folder: Path, as_of: str | None, programme_file: Path | None, trusted: Path | None, as_json: bool
) -> None:
    """The rehearsal programme of FOLDER (default: transcripts/): rehearsals per team and kind,
    what is overdue, open follow-ups, risks past review, the stage the evidence supports.

    Without --json it opens the programme view of the review console.
    """
    day = _date(as_of, "--as-of") or _today()
    if not as_json:
        if not folder.is_dir():
            _fail(f"{folder}: no such folder of transcripts (expected a folder holding *.jsonl files)")
        from tabletop.programme.folder import ProgrammeError, programme_for

        try:
            programme_for(folder, programme_file)  # every problem with the file before the console opens
        except ProgrammeError as error:
            _fail(str(error))
        from tabletop.ui.review.app import make_review_app

        make_review_app(
            folder, now=lambda: datetime(day.year, day.month, day.day, 12, tzinfo=UTC), start="programme",
            programme_file=programme_file, trusted=trusted,
        ).run()  # fmt: skip
        return
    click.echo(programme_json(_read(folder, programme_file, trusted, quiet=True), day))


def programme_json(data: ProgrammeFolder, day: date) -> str:
    """`tabletop programme --json`'s document: the standing on `day` as indented JSON."""
    import gc

    import orjson

    from tabletop.programme.folder import gc_paused
    from tabletop.untrusted import safe_json

    with gc_paused():
        status = data.status(day)
        gc.freeze()  # a short-lived command: the million objects it holds need no collection walks
        return safe_json(orjson.dumps(status.to_json(full=False), option=orjson.OPT_INDENT_2).decode())


# --- followups -------------------------------------------------------------------------------


@click.group()
def followups() -> None:
    """Follow-up actions from the post-mortem drafts: list them, close or re-own one with a reason."""


@followups.command("list")
@folder_argument
@as_of_option
@programme_option
@trusted_option
@click.option("--all", "show_all", is_flag=True, help="Closed follow-ups too.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
def list_followups(
    folder: Path,
    as_of: str | None,
    programme_file: Path | None,
    trusted: Path | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """The follow-ups of FOLDER's rehearsals: open ones oldest first (with --all, closed ones too)."""
    day = _date(as_of, "--as-of") or _today()
    status = _read(folder, programme_file, trusted, quiet=as_json).status(day)
    items = status.open_followups + (
        sorted((f for f in status.followups if not f.open), key=lambda f: (f.closed or day, f.id))
        if show_all
        else []
    )
    if as_json:
        click.echo(json_dumps([f.to_json() for f in items], indent=2, ensure_ascii=False))
        return
    console = Console(markup=False, emoji=False)
    print_followups(items, status, console)


def print_followups(items: list[FollowUp], status: ProgrammeStatus, console: Console) -> None:
    table = Table(title=f"Follow-ups as of {status.as_of}", box=box.SIMPLE_HEAD)
    for name in ("id", "team", "owner", "age", "due", "status", "action"):
        table.add_column(name, no_wrap=name != "action", justify="right" if name == "age" else "left")
    for followup in items:
        state = Text(*followup.standing)
        table.add_row(
            followup.id,
            rich_text(followup.team, newlines=False),
            rich_text(followup.owner_role, newlines=False),
            f"{followup.age}d",
            followup.due.isoformat(),
            state,
            rich_text(followup.text, newlines=False),
        )
    if items:
        console.print(table)
    else:
        console.print("No open follow-ups.")
    counts = ", ".join(f"{label}: {count}" for label, count in status.open_by_age() if count)
    owners = ", ".join(f"{owner}: {len(found)}" for owner, found in status.open_by_owner().items())
    console.print(
        rich_text(
            f"{len(status.open_followups)} open ({counts or 'none'}); by owner: {owners or 'none'}",
            newlines=False,
        )
    )


def _pick(folder_data: ProgrammeFolder, day: date, text: str) -> tuple[ProgrammeStatus, FollowUp]:
    """The follow-up an id (or a unique start of one) names, with the status it was found in."""
    from tabletop.followups import normal_id
    from tabletop.problems import did_you_mean

    status = folder_data.status(day)
    wanted = normal_id(text)
    known = {f.id: f for f in status.followups}
    if wanted in known:
        return status, known[wanted]
    starting = [i for i in known if wanted and i.startswith(wanted)]
    if len(starting) == 1:
        return status, known[starting[0]]
    if len(starting) > 1:
        _fail(f"{text!r} names several follow-ups ({', '.join(sorted(starting))}); give more of the id")
    _fail(
        f"no follow-up {text!r} in {folder_data.folder}{did_you_mean(wanted, list(known))} "
        "(`tabletop followups list --all` lists them)"
    )


def _append(folder_data: ProgrammeFolder, kind: str, followup: FollowUp, why: str, **fields: Any) -> None:
    from tabletop.keys import KeyFileError, session_signer
    from tabletop.programme.register import RegisterError, append_entry, read_register

    try:
        signer = session_signer()
        entry = append_entry(folder_data.folder, kind, followup.id, why, signer=signer, **fields)
    except (RegisterError, KeyFileError) as error:
        _fail(str(error))
    register = read_register(folder_data.folder, folder_data.trust)
    written = next((e for e in register.entries if e.seq == entry.seq), None)
    click.echo(
        f"recorded in {register.path} (entry {entry.seq}, signed by {safe(signer.name, newlines=False)})"
    )
    if written is not None and not written.counted:
        click.echo(
            f"tabletop: warning: {written.reason}; it counts once the key is in the trusted_keys file",
            err=True,
        )


@followups.command("close")
@click.argument("followup_id", metavar="ID")
@click.option("--why", required=True, help="Why it is closed: what shows it is done (recorded with it).")
@click.option("--dir", "folder", default="transcripts", type=click.Path(path_type=Path), show_default=True)
@programme_option
@trusted_option
def close_followup(
    folder: Path, followup_id: str, why: str, programme_file: Path | None, trusted: Path | None
) -> None:
    """Close follow-up ID with a recorded reason, appended to the signed follow-up register."""
    from tabletop.programme.register import CLOSED

    data = _read(folder, programme_file, trusted, quiet=True)
    _status, followup = _pick(data, _today(), followup_id)
    if not followup.open:
        _fail(f"{followup.id} is closed already ({followup.closed}: {followup.closed_how})")
    _append(data, CLOSED, followup, why)


@followups.command("reown")
@click.argument("followup_id", metavar="ID")
@click.option("--to", "role", required=True, help="The role that owns it from now on (a role id).")
@click.option("--why", required=True, help="Why it changes owner (recorded with it).")
@click.option("--dir", "folder", default="transcripts", type=click.Path(path_type=Path), show_default=True)
@programme_option
@trusted_option
def reown_followup(
    folder: Path, followup_id: str, role: str, why: str, programme_file: Path | None, trusted: Path | None
) -> None:
    """Give follow-up ID to another role, with a recorded reason, in the signed follow-up register."""
    from tabletop.loader import catalog_for
    from tabletop.problems import did_you_mean
    from tabletop.programme.register import REOWNED

    data = _read(folder, programme_file, trusted, quiet=True)
    roles = sorted(catalog_for(folder.resolve()).roles)
    if role not in roles:
        _fail(f"--to: unknown role {role!r}{did_you_mean(role, roles)}; expected one of: {', '.join(roles)}")
    _status, followup = _pick(data, _today(), followup_id)
    if not followup.open:
        _fail(
            f"{followup.id} is closed ({followup.closed}: {followup.closed_how}); a closed follow-up keeps its owner"
        )
    if followup.owner_role == role:
        _fail(f"{followup.id} is owned by {role} already")
    _append(data, REOWNED, followup, why, to=role, previous_owner=followup.owner_role)


# --- evidence --------------------------------------------------------------------------------


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--since", required=True, metavar="DATE", help="The first day of the period the pack covers.")
@click.option(
    "-o", "--output", "output", required=True, type=click.Path(path_type=Path), help="The pack's new folder."
)
@as_of_option
@programme_option
@trusted_option
@click.option("--force", is_flag=True, help="Write into an existing pack folder, replacing its files.")
def evidence(
    folder: Path,
    since: str,
    output: Path,
    as_of: str | None,
    programme_file: Path | None,
    trusted: Path | None,
    force: bool,
) -> None:
    """An evidence pack of FOLDER's rehearsals from --since to --as-of for an auditor: a printable
    HTML file, its JSON and a manifest of every transcript with its SHA-256 and verification."""
    from tabletop.files import OutputFileError
    from tabletop.programme.folder import ProgrammeError
    from tabletop.programme.pack import write_pack

    start = _date(since, "--since")
    assert start is not None
    day = _date(as_of, "--as-of") or _today()
    if start > day:
        _fail(f"--since {start} is after --as-of {day}")
    try:
        written = write_pack(
            folder,
            output,
            since=start,
            as_of=day,
            programme_file=programme_file,
            trusted=trusted,
            force=force,
            generated_at=datetime.now(UTC),
        )
    except ProgrammeError as error:
        _fail(str(error))
    except OutputFileError as error:
        _fail(str(error))
    for path in written.files:
        click.echo(safe(str(path), newlines=False))
    click.echo(
        f"{written.counted} rehearsals counted as evidence, {written.excluded} transcripts excluded "
        f"(listed with the reason in {written.files[-1].name})"
    )
