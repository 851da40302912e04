"""Export a scenario as an HSEEP master scenario events list (CSV or XLSX) and import one back as scenario YAML."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from tabletop.model import CHANNELS, Expectation, Inject, Scenario
from tabletop.timing import (
    TimeFormatError,
    authored_limit,
    format_duration,
    format_offset,
    parse_at,
    parse_duration,
    parse_span,
)
from tabletop.yamlsource import YamlSyntaxError

FORMAT_VERSION = "1"

# The HSEEP MSEL columns first, then what a round trip needs.
COLUMNS: tuple[str, ...] = (
    "Sequence",
    "Time",
    "Clock",
    "Inject ID",
    "Phase",
    "Inject type",
    "Delivery method",
    "From",
    "To",
    "Title",
    "Description",
    "Expected player action",
    "Objective or capability",
    "Responsible controller",
    "Condition",
    "Advance to",
    "Marks",
    "Affects",
    "Expectations",
    "Notes",
)

HSEEP_COLUMNS: tuple[str, ...] = (
    "Sequence",
    "Time",
    "Inject type",
    "Delivery method",
    "From",
    "To",
    "Description",
    "Expected player action",
    "Objective or capability",
    "Responsible controller",
)

# Header spellings seen in facilitators' spreadsheets, mapped to our columns.
ALIASES: dict[str, str] = {
    "seq": "Sequence",
    "#": "Sequence",
    "no": "Sequence",
    "at": "Time",
    "scenario time": "Time",
    "clock time": "Clock",
    "id": "Inject ID",
    "inject": "Inject ID",
    "inject no": "Sequence",
    "module": "Phase",
    "type": "Inject type",
    "channel": "Delivery method",
    "delivery": "Delivery method",
    "method": "Delivery method",
    "sender": "From",
    "recipient": "To",
    "recipients": "To",
    "subject": "Title",
    "inject title": "Title",
    "body": "Description",
    "inject description": "Description",
    "expected action": "Expected player action",
    "expected actions": "Expected player action",
    "expected player actions": "Expected player action",
    "objective": "Objective or capability",
    "capability": "Objective or capability",
    "objective/capability": "Objective or capability",
    "controller": "Responsible controller",
    "when": "Condition",
    "advance_to": "Advance to",
    "jump to": "Advance to",
    "markers": "Marks",
    "datasets": "Affects",
    "controller notes": "Notes",
}

# Keys of the authored scenario that travel with the MSEL (everything but the injects).
FRAME_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "summary",
    "kind",
    "objectives",
    "starts_at",
    "duration",
    "speed",
    "seed",
    "roles",
    "regimes",
    "rubric",
    "variables",
    "context",
    "phases",
    "responses",
    "expectations",
    "avoid",
    "hotwash",
    "delegate_delay",
)

_CHANNEL_WORDS = {
    "e-mail": "email",
    "mail": "email",
    "slack": "chat",
    "teams": "chat",
    "im": "chat",
    "call": "phone",
    "telephone": "phone",
    "voice": "phone",
    "page": "alert",
    "pager": "alert",
    "monitoring": "alert",
    "helpdesk": "ticket",
    "service desk": "ticket",
    "media": "news",
    "press": "news",
    "social media": "news",
    "in person": "briefing",
    "verbal": "briefing",
    "facilitator": "briefing",
    "brief": "briefing",
}

_EXPECTATION_KEYS = (
    "id",
    "action",
    "owner",
    "after",
    "within",
    "weight",
    "late_credit",
    "requires",
    "value",
    "rationale",
    "early",
    "business_days",
    "title",
    "why",
    "source",
)


class MselError(Exception):
    """An MSEL that cannot be imported; `problems` lists every `FILE: row N, column C: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MselRow:
    """One inject as a row of the master scenario events list (cells by column name)."""

    cells: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass(frozen=True)
class Msel:
    """A master scenario events list: its rows and the scenario frame that travels with it."""

    rows: tuple[MselRow, ...]
    frame: dict[str, Any] = field(default_factory=dict)


# --- export ----------------------------------------------------------------------------------


def _flow(value: Any) -> str:
    """A value as one line of YAML flow style (what the Expectations column holds)."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000)
    return text.strip().removesuffix("...").strip()


def _expectation_cell(
    expectation: Expectation, anchor: str, scenario: Scenario | None = None
) -> dict[str, Any]:
    data = expectation.model_dump(mode="json", exclude_defaults=True)
    if data.get("after") == anchor:
        data.pop("after")
    action = scenario.action_map().get(expectation.action) if scenario is not None else None
    if action is not None:
        if data.get("owner") == action.default_owner:
            data.pop("owner")
        if data.get("rationale") == action.rationale:
            data.pop("rationale")
        if data.get("early") == action.early:
            data.pop("early")
    for key in ("weight", "late_credit"):
        if isinstance(data.get(key), float) and data[key].is_integer():
            data[key] = int(data[key])
    if "within" in data:
        data["within"] = authored_limit(expectation.months, expectation.within)
        data.pop("months", None)
    ordered = {key: data[key] for key in _EXPECTATION_KEYS if key in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    return ordered


def _expected_action_text(scenario: Scenario, expectations: list[Expectation]) -> str:
    lines = []
    for expectation in expectations:
        who = "Anyone" if expectation.owner == "any" else scenario.role_title(expectation.owner or "")
        try:
            what = expectation.title or scenario.action(expectation.action).title
        except KeyError:
            what = expectation.title or expectation.action
        lines.append(f"{who}: {what} ({expectation.action}, within {expectation.within_text})")
    return "\n".join(lines)


def _clock_text(scenario: Scenario, seconds: int) -> str:
    if scenario.starts_at is None:
        return ""
    moment = scenario.starts_at + timedelta(seconds=seconds)
    day = (moment.date() - scenario.starts_at.date()).days + 1
    return f"day {day} {moment:%H:%M}"


def _inject_type(inject: Inject) -> str:
    if inject.advance_to is not None:
        return "time jump"
    if inject.when is not None:
        return "branch"
    return "scheduled"


def msel_rows(scenario: Scenario, own_expectation_ids: Iterable[str] = ()) -> list[MselRow]:
    """The MSEL rows of a resolved scenario, in time order (branches after their trigger time).

    Expectations anchored on an inject go in that inject's row, except the ids in
    `own_expectation_ids` (written at scenario level, so they travel in the frame instead).
    """
    skip = set(own_expectation_ids)
    order = sorted(
        range(len(scenario.injects)),
        key=lambda n: (scenario.injects[n].when is not None, scenario.injects[n].at, n),
    )
    scheduled = [n for n in order if scenario.injects[n].when is None]
    branches = [n for n in range(len(scenario.injects)) if scenario.injects[n].when is not None]
    rows = []
    for sequence, n in enumerate(scheduled + branches, start=1):
        inject = scenario.injects[n]
        anchor = f"inject:{inject.id}"
        expectations = [e for e in scenario.expectations if e.after == anchor and e.id not in skip]
        if inject.when is not None:
            time_text = "+" + format_duration(inject.at)
            clock = ""
        else:
            time_text = format_offset(inject.at)
            clock = _clock_text(scenario, inject.at)
        cells = {
            "Sequence": str(sequence),
            "Time": time_text,
            "Clock": clock,
            "Inject ID": inject.id,
            "Phase": inject.phase or "",
            "Inject type": _inject_type(inject),
            "Delivery method": inject.channel,
            "From": inject.from_,
            "To": "; ".join(inject.to),
            "Title": inject.title,
            "Description": inject.body,
            "Expected player action": _expected_action_text(scenario, expectations),
            "Objective or capability": inject.objective,
            "Responsible controller": inject.controller,
            "Condition": inject.when.describe() if inject.when else "",
            "Advance to": format_offset(inject.advance_to) if inject.advance_to is not None else "",
            "Marks": "; ".join(inject.marks),
            "Affects": "; ".join(inject.affects),
            "Expectations": "\n".join(_flow(_expectation_cell(e, anchor, scenario)) for e in expectations),
            "Notes": inject.notes,
        }
        rows.append(MselRow(cells))
    return rows


def scenario_frame(source: Path | None, scenario: Scenario, seed: int | None = None) -> dict[str, Any]:
    """Everything of the authored scenario but its injects (so that an import is a whole scenario).

    Read from the authored file when there is one (variables and templates stay as written),
    else rebuilt from the resolved scenario.
    """
    raw: dict[str, Any] = {}
    if source is not None:
        from tabletop.yamlsource import YamlSyntaxError, read_yaml

        try:
            loaded = read_yaml(Path(source)).data  # YAML as the loader reads it (`on:` is a key)
            raw = loaded if isinstance(loaded, dict) else {}
        except (OSError, YamlSyntaxError):
            raw = {}
    if not raw:
        data = scenario.to_json()
        raw = {
            key: data[key]
            for key in FRAME_KEYS
            if key in data and key not in ("expectations", "avoid", "variables")
        }
        raw["duration"] = format_duration(scenario.duration)
        raw["delegate_delay"] = format_duration(scenario.delegate_delay)
    frame = {key: raw[key] for key in FRAME_KEYS if key in raw}
    if seed is not None:
        frame["seed"] = seed
    if isinstance(frame.get("starts_at"), (datetime, date)):
        frame["starts_at"] = (
            frame["starts_at"].isoformat(timespec="minutes")
            if isinstance(frame["starts_at"], datetime)
            else frame["starts_at"].isoformat()
        )
    return frame


def _authored_inline_ids(source: Path | None) -> set[str]:
    """Ids of the expectations written under the scenario's own injects (`expects:`)."""
    if source is None:
        return set()
    from tabletop.yamlsource import YamlSyntaxError, read_yaml

    try:
        data = read_yaml(Path(source)).data
    except (OSError, YamlSyntaxError):
        return set()
    ids: set[str] = set()
    for inject in (data or {}).get("injects") or [] if isinstance(data, dict) else []:
        for expectation in (inject or {}).get("expects") or [] if isinstance(inject, dict) else []:
            if isinstance(expectation, dict) and isinstance(expectation.get("id"), str):
                ids.add(expectation["id"])
    return ids


def _rubric_ids(scenario: Scenario, source: Path | None) -> set[str]:
    """Ids of the expectations the scenario's rubric sets bring in (re-added on import)."""
    if not scenario.rubric:
        return set()
    try:
        from tabletop.loader import catalog_for

        catalog = catalog_for(Path(source).resolve().parent if source else None)
    except Exception:  # without a catalog nothing is known to come from a rubric
        return set()
    return {
        e.id
        for name in scenario.rubric
        if name in catalog.rubrics
        for e in catalog.rubrics[name].expectations
    }


def _authored_expectation(expectation: Expectation) -> dict[str, Any]:
    data = expectation.model_dump(mode="json", exclude_defaults=True)
    data["within"] = authored_limit(expectation.months, expectation.within)
    data.pop("months", None)
    return {key: data[key] for key in _EXPECTATION_KEYS if key in data}


def build_msel(scenario: Scenario, source: Path | None = None, seed: int | None = None) -> Msel:
    """The MSEL of a resolved scenario, with its frame from the authored file `source`.

    Expectations anchored on an inject travel in its row; the scenario's own scenario-level
    expectations in the frame; expectations written under an inject but anchored elsewhere
    (`after: action:...`) join the frame's expectations; rubric and regime ones are re-derived
    from `rubric:` and `regimes:` when the MSEL is imported.
    """
    frame = scenario_frame(source, scenario, seed)
    own = {e.get("id") for e in frame.get("expectations") or [] if isinstance(e, dict)}
    in_rows = {
        e.id for e in scenario.expectations if (e.after or "").startswith("inject:") and e.id not in own
    }
    derived = _rubric_ids(scenario, source) - _authored_inline_ids(source)
    leftover = [
        e
        for e in scenario.expectations
        if e.id not in own and e.id not in in_rows and e.regime is None and e.id not in derived
    ]
    if leftover:
        frame["expectations"] = list(frame.get("expectations") or []) + [
            _authored_expectation(e) for e in leftover
        ]
    return Msel(rows=tuple(msel_rows(scenario, {i for i in own if i is not None})), frame=frame)


def _frame_cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return (
        yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)
        .rstrip("\n")
        .removesuffix("...")
        .rstrip()
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula (or a DDE call) to a spreadsheet (OWASP)."""
MAX_ROWS = 5000
"""Rows of an MSEL read at most (a rehearsal has tens of injects, not thousands)."""
MAX_COLUMNS = 64
MAX_CELL = 100_000
"""Characters in one cell at most."""


def neutralise(text: Any) -> Any:
    """A cell as a spreadsheet shows it as text, never as a formula: a leading `'` when it starts
    with `=`, `+`, `-`, `@`, a tab or a carriage return (or with `'` followed by one of these or
    another `'`, so that `restore` gives back exactly what was written)."""
    if not isinstance(text, str) or not text:
        return text
    if text.startswith(FORMULA_STARTS) or (text[0] == "'" and text[1:2] and text[1] in "'=+-@\t\r\n"):
        return "'" + text
    return text


def restore(text: str) -> str:
    """The original text of a cell that `neutralise` quoted (a facilitator's own `'x` stays)."""
    if len(text) >= 2 and text[0] == "'" and text[1] in "'=+-@\t\r\n":
        return text[1:]
    return text


def to_csv(msel: Msel) -> str:
    """The MSEL as CSV: a header row, one row per inject, a blank row, then `#key,value` frame rows."""
    buffer = io.StringIO()
    # RFC 4180 line ends: a field holding a carriage return is then quoted, so it survives a round trip
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in msel.rows:
        writer.writerow([neutralise(row.get(column)) for column in COLUMNS])
    writer.writerow([])
    writer.writerow(["#tabletop-msel", FORMAT_VERSION])
    for key, value in msel.frame.items():
        writer.writerow([f"#{key}", neutralise(_frame_cell(value))])
    return buffer.getvalue()


def to_xlsx(msel: Msel, path: Path | None = None) -> bytes:
    """The MSEL as an XLSX workbook: sheet MSEL (the table) and sheet Scenario (the frame)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.create_sheet("MSEL", 0)
    del workbook[workbook.sheetnames[1]]  # the default empty sheet
    sheet.title = "MSEL"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE4EE")
    for row in msel.rows:
        sheet.append(
            [
                int(row.get("Sequence"))
                if row.get("Sequence").isascii() and row.get("Sequence").isdigit()
                else row.get("Sequence")
            ]
            + [neutralise(row.get(column)) for column in COLUMNS[1:]]
        )
    widths = {"Description": 70, "Expected player action": 50, "Expectations": 60, "Notes": 40, "Title": 40}
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = widths.get(column, 16)
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    frame_sheet = workbook.create_sheet("Scenario")
    frame_sheet.append(["Key", "Value"])
    frame_sheet.append(["tabletop-msel", FORMAT_VERSION])
    for key, value in msel.frame.items():
        frame_sheet.append([key, neutralise(_frame_cell(value))])
    frame_sheet.column_dimensions["A"].width = 18
    frame_sheet.column_dimensions["B"].width = 100
    for row in frame_sheet.iter_rows(min_row=2):
        row[1].alignment = Alignment(wrap_text=True, vertical="top")
    for worksheet in (sheet, frame_sheet):  # every cell text: nothing is a formula
        for cells in worksheet.iter_rows():
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.value = xlsx_escape(cell.value)
                    cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    if path is not None:
        from tabletop.files import write_private

        write_private(path, data, force=True)
    return data


# --- import ----------------------------------------------------------------------------------


@dataclass
class _Table:
    """Cells read from a file, with the spreadsheet row number of each data row."""

    display: str
    header: list[str]
    rows: list[tuple[int, list[str]]]
    frame: list[tuple[int, str, str]]
    frame_where: str = ""


_OOXML_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_OOXML_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def xlsx_escape(text: str) -> str:
    """A cell's text as Office Open XML stores it: a carriage return as `_x000D_` (the XML of a
    cell cannot hold a CR: XML reads it as a line feed), and a literal `_xHHHH_` with its
    underscore escaped (`_x005F_xHHHH_`), as Excel does, so that the round trip is exact."""
    return _OOXML_ESCAPE.sub(r"_x005F_\1", text).replace("\r", "_x000D_")


def xlsx_unescape(text: str) -> str:
    """The inverse of `xlsx_escape`: every `_xHHHH_` back to its character."""
    return _OOXML_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return xlsx_unescape(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


def _read_csv(path: Path, display: str) -> _Table:
    from tabletop.files import read_input

    try:
        data = read_input(path, what="MSEL file")
    except OSError as error:
        raise MselError([f"{display}: {error}"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # older spreadsheets; every byte decodes
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in some locales save CSV with `;` (or tabs) between cells.
    delimiter = max((",", ";", "\t"), key=first_line.count) if first_line else ","
    records: list[list[str]] = []
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if len(records) >= MAX_ROWS:
                raise MselError([f"{display}: more than {MAX_ROWS} rows; an MSEL holds at most {MAX_ROWS}"])
            records.append([restore(cell) for cell in record[:MAX_COLUMNS]])
    except csv.Error as error:
        raise MselError([f"{display}: row {len(records) + 1}: not readable as CSV: {error}"]) from None
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    frame: list[tuple[int, str, str]] = []
    for number, record in enumerate(records, start=1):
        if not any(cell.strip() for cell in record):
            continue
        first = record[0].strip()
        if first.startswith("#"):
            frame.append((number, first[1:].strip(), record[1] if len(record) > 1 else ""))
        elif not header:
            header = record
        else:
            rows.append((number, record))
    return _Table(display, header, rows, frame, frame_where="row {row}, column B")


def _read_xlsx(path: Path, display: str) -> _Table:
    from openpyxl import load_workbook

    _check_workbook(path, display)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise MselError([f"{display}: not readable as an XLSX workbook: {_one_line(error)}"]) from None
    sheet = workbook["MSEL"] if "MSEL" in workbook.sheetnames else workbook.worksheets[0]
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
        if number > MAX_ROWS:
            workbook.close()
            raise MselError([f"{display}: more than {MAX_ROWS} rows; an MSEL holds at most {MAX_ROWS}"])
        record = [restore(_cell_text(v)) for v in values]
        if not any(cell.strip() for cell in record):
            continue
        if not header:
            header = record
        else:
            rows.append((number, record))
    frame: list[tuple[int, str, str]] = []
    if "Scenario" in workbook.sheetnames:
        for number, values in enumerate(
            workbook["Scenario"].iter_rows(max_col=2, max_row=MAX_ROWS, values_only=True), start=1
        ):
            record = [restore(_cell_text(v)) for v in values]
            if number == 1 or not record or not record[0].strip():
                continue
            frame.append((number, record[0].strip(), record[1] if len(record) > 1 else ""))
    workbook.close()
    return _Table(display, header, rows, frame, frame_where="sheet Scenario, row {row}, column B")


MAX_WORKBOOK_BYTES = 50 * 1024 * 1024
"""What the parts of an XLSX file may unpack to, at most (a small file can unpack to gigabytes)."""


def _check_workbook(path: Path, display: str) -> None:
    """Refuse an XLSX that is not a regular file of at most 5 MB, or that unpacks to too much."""
    import zipfile

    from tabletop.files import open_regular

    try:
        with open_regular(path, what="MSEL file") as handle, zipfile.ZipFile(handle) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except OSError as error:
        raise MselError([f"{display}: {error}"]) from None
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise MselError([f"{display}: not readable as an XLSX workbook (not a zip archive)"]) from None
    if unpacked > MAX_WORKBOOK_BYTES:
        raise MselError(
            [
                f"{display}: the workbook unpacks to {unpacked // (1024 * 1024)} MB; at most {MAX_WORKBOOK_BYTES // (1024 * 1024)} MB are read"
            ]
        )


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__


def _canonical(name: str) -> str | None:
    clean = re.sub(r"\s+", " ", name.strip().lower().replace("_", " ")).strip(" :.")
    for column in COLUMNS:
        if clean == column.lower():
            return column
    return ALIASES.get(clean)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40].strip("-")


def _cell_yaml(text: str, display: str) -> Any:
    """A cell's YAML, read as scenario files are read (depth, size and alias limits included)."""
    from tabletop.yamlsource import parse_text

    return parse_text(text, Path(display)).data


@dataclass
class _Importer:
    """Turns the cells of an MSEL into authored scenario data, collecting every problem."""

    table: _Table
    roles: dict[str, str]
    fallback_id: str
    problems: list[str] = field(default_factory=list)
    row_of: dict[int, int] = field(default_factory=dict)
    frame_at: dict[str, str] = field(default_factory=dict)
    """Where each scenario key (`#key` row or Scenario-sheet row) was read, for problems."""

    def problem(self, row: int, column: str, message: str) -> None:
        self.problems.append(f"{self.table.display}: row {row}, column {column}: {message}")

    # frame --------------------------------------------------------------------------------
    def read_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for row, key, text in self.table.frame:
            if key == "tabletop-msel":
                continue
            if key not in FRAME_KEYS:
                self.problems.append(
                    f"{self.table.display}: {self.table.frame_where.format(row=row).replace('column B', 'column A')}: "
                    f"unknown scenario key {key!r}; expected one of {', '.join(FRAME_KEYS)}"
                )
                continue
            if key in seen:
                self.problems.append(
                    f"{self.table.display}: {self.table.frame_where.format(row=row).replace('column B', 'column A')}: "
                    f"#{key} is already given on row {seen[key]}; each scenario key once"
                )
                continue
            seen[key] = row
            self.frame_at[key] = self.table.frame_where.format(row=row)
            try:
                value = _cell_yaml(text, self.table.display) if text.strip() else None
            except YamlSyntaxError as error:
                self.problems.append(
                    f"{self.table.display}: {self.table.frame_where.format(row=row)}: "
                    f"#{key} is not readable YAML (line {error.line} of the cell): {error.message}"
                )
                continue
            if key in ("id", "title", "summary", "kind") and value is not None:
                value = str(value)
            frame[key] = value
        return frame

    # rows ---------------------------------------------------------------------------------
    def columns(self) -> dict[int, str]:
        mapping: dict[int, str] = {}
        seen: dict[str, int] = {}
        for index, name in enumerate(self.table.header):
            column = _canonical(name)
            if column is None:
                continue
            if column in seen:
                self.problems.append(
                    f"{self.table.display}: row 1: columns {self.table.header[seen[column]]!r} and {name!r} "
                    f"both mean {column!r}; keep one"
                )
                continue
            seen[column] = index
            mapping[index] = column
        if not self.table.header:
            self.problems.append(
                f"{self.table.display}: row 1: no header row; expected columns {', '.join(HSEEP_COLUMNS)}"
            )
        elif not any(c in seen for c in ("Time", "Clock")):
            self.problems.append(
                f"{self.table.display}: row 1: no Time column; expected one of the columns {', '.join(COLUMNS)}"
            )
        elif not any(c in seen for c in ("Description", "Title")):
            self.problems.append(f"{self.table.display}: row 1: no Description or Title column")
        return mapping

    def read_rows(self, starts_at: datetime | None, phases: set[str] | None) -> list[dict[str, Any]]:
        mapping = self.columns()
        if self.problems:
            return []
        injects: list[dict[str, Any]] = []
        ids: dict[str, int] = {}
        for row, record in self.table.rows:
            cells = {mapping[i]: (record[i] if i < len(record) else "") for i in mapping}
            long = next((c for c, v in cells.items() if len(v) > MAX_CELL), None)
            if long is not None:
                self.problem(row, long, f"longer than {MAX_CELL:,} characters")
                continue
            if not any(value.strip() for value in cells.values()):
                continue
            inject = self.read_row(row, cells, starts_at, phases, len(injects) + 1)
            if inject is None:
                continue
            if inject["id"] in ids:
                self.problem(
                    row,
                    "Inject ID",
                    f"id {inject['id']!r} is already used on row {ids[inject['id']]}; ids must be unique",
                )
                continue
            ids[inject["id"]] = row
            self.row_of[len(injects)] = row
            injects.append(inject)
        if not injects and not self.problems:
            self.problems.append(f"{self.table.display}: no inject rows below the header")
        return injects

    def read_row(
        self,
        row: int,
        cells: dict[str, str],
        starts_at: datetime | None,
        phases: set[str] | None,
        sequence: int,
    ) -> dict[str, Any] | None:
        before = len(self.problems)
        inject: dict[str, Any] = {}
        title = cells.get("Title", "").strip()
        description = cells.get("Description", "")
        inject_id = cells.get("Inject ID", "").strip()
        if not inject_id:
            inject_id = _slug(title) or f"inject-{sequence}"
        elif not re.match(r"^[a-z0-9][a-z0-9_\-]*$", inject_id):
            self.problem(
                row, "Inject ID", f"expected lower-case letters, digits, - and _, received {inject_id!r}"
            )
        inject["id"] = inject_id

        condition = cells.get("Condition", "").strip()
        time_text = cells.get("Time", "").strip()
        clock_text = cells.get("Clock", "").strip()
        if condition:
            kind, _, target = condition.partition(":")
            kind, target = kind.strip().lower(), target.strip()
            if kind not in ("missed", "done", "marker", "after") or not target:
                self.problem(
                    row,
                    "Condition",
                    f"expected 'missed: EXPECTATION', 'done: ACTION', 'marker: NAME' or 'after: INJECT', received {condition!r}",
                )
            else:
                inject["when"] = {kind: target}
            text = time_text or "+0s"
            try:
                seconds = parse_duration(text.lstrip("+").removeprefix("T+").removeprefix("t+"))
                inject["at"] = f"+{format_duration(seconds)}"
            except TimeFormatError as error:
                self.problem(
                    row, "Time", f"a branch's time is the delay after its condition, like +10m: {error}"
                )
        else:
            if time_text.startswith("+"):
                self.problem(
                    row,
                    "Time",
                    f"{time_text!r} is relative, but the row has no Condition; write T+{time_text[1:]} or add a Condition",
                )
            elif time_text or clock_text:
                text = time_text or clock_text
                column = "Time" if time_text else "Clock"
                try:
                    seconds, _ = parse_at(text, starts_at)
                    inject["at"] = format_offset(seconds)
                except TimeFormatError as error:
                    self.problem(row, column, str(error))
            else:
                self.problem(row, "Time", "empty; expected a time like T+20m, 20m or 09:30")

        advance = cells.get("Advance to", "").strip()
        if advance:
            try:
                seconds, relative = parse_at(advance, starts_at)
                if relative:
                    raise TimeFormatError(
                        f"expected an absolute time like 'day 2 08:00' or T+24h, received {advance!r}"
                    )
                inject["advance_to"] = format_offset(seconds)
            except TimeFormatError as error:
                self.problem(row, "Advance to", str(error))

        phase = cells.get("Phase", "").strip()
        if phase:
            if phases is not None and phase not in phases:
                known = ", ".join(sorted(phases)) or "none"
                self.problem(row, "Phase", f"unknown phase {phase!r}; the scenario's phases: {known}")
            inject["phase"] = phase

        channel = cells.get("Delivery method", "").strip()
        if channel:
            word = channel.lower()
            word = _CHANNEL_WORDS.get(word, word)
            if word not in CHANNELS:
                word = _CHANNEL_WORDS.get(word.split()[0], word.split()[0]) if word.split() else word
            if word not in CHANNELS:
                self.problem(
                    row, "Delivery method", f"expected one of {', '.join(CHANNELS)}, received {channel!r}"
                )
            inject["channel"] = word
        sender = cells.get("From", "").strip()
        if sender:
            inject["from"] = sender
        to = self.read_to(row, cells.get("To", ""))
        if to:
            inject["to"] = to
        if title:
            inject["title"] = title
        if description.strip():
            inject["body"] = description
        marks = [m.strip() for m in re.split(r"[;,]", cells.get("Marks", "")) if m.strip()]
        if marks:
            inject["marks"] = marks
        affects = [m.strip() for m in re.split(r"[;,]", cells.get("Affects", "")) if m.strip()]
        if affects:
            inject["affects"] = affects
        for column, key in (
            ("Objective or capability", "objective"),
            ("Responsible controller", "controller"),
        ):
            if cells.get(column, "").strip():
                inject[key] = cells[column].strip()
        notes = cells.get("Notes", "").strip()
        expectations_text = cells.get("Expectations", "")
        expected_text = cells.get("Expected player action", "").strip()
        if expectations_text.strip():
            expects = self.read_expectations(row, expectations_text)
            if expects:
                inject["expects"] = expects
        elif expected_text:
            # A facilitator's own MSEL: the expected action is prose, kept for the controller.
            notes = (notes + "\n\n" if notes else "") + "Expected player action: " + expected_text
        if notes:
            inject["notes"] = notes
        return inject if len(self.problems) == before else None

    def read_to(self, row: int, text: str) -> list[str]:
        names = [t.strip() for t in re.split(r"[;,\n]", text) if t.strip()]
        roles: list[str] = []
        for name in names:
            key = name.lower()
            if key in ("all", "everyone", "all players"):
                roles.append("all")
                continue
            role = self.roles.get(key) or self.roles.get(key.replace(" ", "_"))
            if role is None:
                from tabletop.problems import did_you_mean

                self.problem(
                    row,
                    "To",
                    f"unknown role {name!r}{did_you_mean(key, self.roles)}; expected role ids or `all`",
                )
                continue
            roles.append(role)
        return roles

    def read_expectations(self, row: int, text: str) -> list[dict[str, Any]]:
        out = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = _cell_yaml(line, self.table.display)
            except YamlSyntaxError as error:
                self.problem(
                    row,
                    "Expectations",
                    f"line {number} is not readable: {error.message}; "
                    "expected one expectation per line like {id: dpo-in, action: involve_dpo, within: 30m}",
                )
                continue
            if not isinstance(value, dict):
                self.problem(
                    row,
                    "Expectations",
                    f"line {number}: expected a mapping like {{id: dpo-in, action: involve_dpo, within: 30m}}, received {line.strip()!r}",
                )
                continue
            unknown = [k for k in value if k not in _EXPECTATION_KEYS]
            missing = [k for k in ("id", "action", "within") if k not in value]
            if unknown:
                self.problem(
                    row,
                    "Expectations",
                    f"line {number}: unknown key {unknown[0]!r}; expected {', '.join(_EXPECTATION_KEYS)}",
                )
                continue
            if missing:
                self.problem(row, "Expectations", f"line {number}: missing {', '.join(missing)}")
                continue
            try:
                parse_span(value["within"])
            except TimeFormatError as error:
                self.problem(row, "Expectations", f"line {number}: within: {error}")
                continue
            out.append(value)
        return out


def read_msel(
    path: Path | str, *, roles: Iterable[tuple[str, str]] = (), fallback_id: str | None = None
) -> dict[str, Any]:
    """Read an MSEL file (.csv or .xlsx) into authored scenario data (a dict ready for YAML).

    `roles` are (id, title) pairs used to read the To column (default: the catalog's roles;
    the frame's `roles` are always accepted). Raises MselError listing every
    malformed row with its row number and column.
    """
    return _read_msel(path, roles=roles, fallback_id=fallback_id)[0]


def _read_msel(
    path: Path | str, *, roles: Iterable[tuple[str, str]] = (), fallback_id: str | None = None
) -> tuple[dict[str, Any], dict[int, int]]:
    """read_msel, plus the spreadsheet row of each inject (by its index in `injects`)."""
    path = Path(path)
    from tabletop.yamlsource import display_path

    display = display_path(path)
    if not path.is_file():
        raise MselError([f"{display}: no such file"])
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(path, display)
    elif suffix in (".csv", ".txt", ""):
        table = _read_csv(path, display)
    else:
        raise MselError([f"{display}: expected a .csv or .xlsx file, received {suffix!r}"])
    role_names: dict[str, str] = {}
    for role_id, title in list(roles) or _catalog_roles(path):
        role_names[role_id.lower()] = role_id
        role_names[title.lower()] = role_id
    importer = _Importer(table, role_names, fallback_id or _slug(path.stem) or "imported-msel")
    frame = importer.read_frame()
    listed_roles = frame.get("roles")
    for role_id in listed_roles if isinstance(listed_roles, list) else []:
        if isinstance(role_id, str):
            role_names.setdefault(role_id.lower(), role_id)
    starts_at = _starts_at(frame.get("starts_at"))
    listed_phases = frame.get("phases")
    phases = (
        {str(p["id"]) for p in listed_phases if isinstance(p, dict) and p.get("id") is not None}
        if isinstance(listed_phases, list)
        else (set() if "phases" in frame else None)
    )
    injects = importer.read_rows(starts_at, phases)
    if importer.problems:
        raise MselError(importer.problems)
    data = _complete_frame(frame, injects, importer.fallback_id)
    data["injects"] = injects
    ordered = {key: data[key] for key in FRAME_KEYS if key in data}
    ordered["injects"] = injects
    for key in data:
        if key not in ordered:
            ordered[key] = data[key]
    rows: dict[Any, Any] = dict(importer.row_of)
    rows.update({f"#{key}": where for key, where in importer.frame_at.items()})
    return ordered, rows


def _catalog_roles(near: Path) -> list[tuple[str, str]]:
    """(id, title) of the roles in the catalog a scenario next to `near` would use."""
    try:
        from tabletop.loader import catalog_for

        catalog = catalog_for(near.resolve().parent)
    except Exception:  # a broken catalog is reported by validate, not here
        return []
    return [(role.id, role.title) for role in catalog.roles.values()]


def _starts_at(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _complete_frame(frame: dict[str, Any], injects: list[dict[str, Any]], fallback_id: str) -> dict[str, Any]:
    """Fill what a facilitator's own MSEL lacks, so that the import is a valid scenario skeleton."""
    data = dict(frame)
    data.setdefault("id", fallback_id)
    data.setdefault("title", str(data["id"]).replace("-", " ").capitalize())
    if "roles" not in data:
        roles = ["coordinator"]
        for inject in injects:
            for role in inject.get("to", []):
                if role != "all" and role not in roles:
                    roles.append(role)
        data["roles"] = roles
    if "duration" not in data:
        starts_at = _starts_at(data.get("starts_at"))
        latest = 0
        for inject in injects:
            if "when" in inject:
                continue
            for key in ("at", "advance_to"):
                try:
                    latest = max(latest, parse_at(inject.get(key, "0s"), starts_at)[0])
                except TimeFormatError:
                    pass
        data["duration"] = format_duration(latest + 3600)
    return data


def to_yaml(data: dict[str, Any]) -> str:
    """Scenario data as YAML that reads like a hand-written scenario (block style, key order kept)."""

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # a block scalar cannot hold a carriage return or other control characters: quote those
        block = "\n" in value and all(line.isprintable() for line in value.split("\n"))
        style = "|" if block else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    header = "# Imported from an MSEL by `tabletop msel import`; edit freely, then `tabletop validate`.\n"
    return header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def locate_problem(key: str, injects_rows: dict[Any, Any], display: str) -> str | None:
    """A loader problem's dotted key (`injects.3.expects.0.action`) as `FILE: row N, column C`.

    `injects_rows` maps an inject's index to its row, and `#KEY` to where a scenario key was read.
    """
    match = re.match(r"^injects\.(\d+)(?:\.([a-z_]+))?", key)
    if not match:
        where = injects_rows.get(f"#{key.split('.')[0]}")
        return f"{display}: {where}: #{key}" if where else None
    row = injects_rows.get(int(match.group(1)))
    if row is None:
        return None
    column = {
        "at": "Time",
        "when": "Condition",
        "advance_to": "Advance to",
        "phase": "Phase",
        "channel": "Delivery method",
        "from": "From",
        "to": "To",
        "title": "Title",
        "body": "Description",
        "marks": "Marks",
        "affects": "Affects",
        "expects": "Expectations",
        "objective": "Objective or capability",
        "controller": "Responsible controller",
        "notes": "Notes",
        "id": "Inject ID",
    }.get(match.group(2) or "", "Inject ID")
    return f"{display}: row {row}, column {column}"


def import_msel(
    path: Path | str, out: Path | str, *, roles: Iterable[tuple[str, str]] = ()
) -> tuple[Path, list[str]]:
    """Import an MSEL to scenario YAML at `out` and check it with the loader.

    Returns (path written, problems). Nothing is written when a row is malformed (MselError) or
    the resulting scenario has problems (they are returned, located at their MSEL row when they
    concern an inject).
    """
    from tabletop.loader import resolve_scenario
    from tabletop.yamlsource import display_path

    path, out = Path(path), Path(out)
    data, importer_rows = _read_msel(path, roles=roles, fallback_id=_slug(out.stem) or None)
    from tabletop.files import OutputFileError, write_private

    text = to_yaml(data)
    if out.is_symlink():
        raise OutputFileError(out, "is a symbolic link; refusing to write through it (remove it first)")
    staging = out.with_name(f".{out.name}.msel-import")
    write_private(staging, text, force=True)
    try:
        _, problems, _ = resolve_scenario(staging)
    except Exception as error:  # pragma: no cover - the loader never raises for authors' mistakes
        staging.unlink(missing_ok=True)
        return out, [f"internal error while checking the import: {error} (please report)"]
    messages = []
    for problem in problems:
        where = locate_problem(problem.key, importer_rows, display_path(path))
        messages.append(
            f"{where}: {problem.message}"
            if where
            else f"{display_path(path)}: {problem.key}: {problem.message}"
        )
    if messages:
        staging.unlink(missing_ok=True)
        return out, messages
    staging.replace(out)
    return out, []
