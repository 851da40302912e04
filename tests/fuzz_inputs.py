"""Fuzzing the inputs that arrive from other people: scenario, decision script, transcript and MSEL.

Each example mutates a valid file (a hostile token in place of a value, a line repeated or
dropped, the file cut at a byte) and runs it through the command line. Whatever the input,
the tool answers with exit 0 (still valid), or 1 or 2 naming the file and the line (or row),
never a traceback, and within a few seconds. `tests/test_fuzz.py` runs this module in a
subprocess under memory and CPU limits (`resource`), so an input that would exhaust the
machine fails the suite instead.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabletop.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "data" / "scenarios" / "good.yaml"
SCRIPT = ROOT / "tests" / "data" / "scripts" / "suspected-breach-poor.yaml"
TRANSCRIPT = ROOT / "transcripts" / "samples" / "restore-rehearsal-good.jsonl"
SECONDS = 10.0

HOSTILE_VALUES = [
    ".inf",
    "-.inf",
    ".nan",
    "9" * 400,
    "1e999",
    "-1",
    "true",
    "null",
    "[a]",
    "{a: b}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "'day 99999999999 09:30'",
    "'{{ \"a\".ljust(10**9) }}'",
    "'{{ lipsum(10**6) }}'",
    "'{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'",
    "'{{ \"%999999999s\" % 1 }}'",
    "&a [x, *a]",
    "*nothing",
    "'../../../../etc/passwd'",
    '"\\x1b]0;owned\\x07"',
    "'=HYPERLINK(\"http://x\")'",
    "''",
]

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutated(draw, text: str) -> str:
    lines = text.splitlines()
    how = draw(st.sampled_from(["value", "value", "repeat", "drop", "cut"]))
    index = draw(st.integers(0, max(0, len(lines) - 1)))
    if how == "cut":
        return text[: draw(st.integers(0, len(text)))]
    if how == "repeat":
        return "\n".join(lines[: index + 1] + lines[index:]) + "\n"
    if how == "drop":
        return "\n".join(lines[:index] + lines[index + 1 :]) + "\n"
    line = lines[index]
    match = re.match(r"^(\s*-?\s*[A-Za-z_]+:\s*)(.*)$", line)
    value = draw(st.sampled_from(HOSTILE_VALUES))
    lines[index] = (match.group(1) + value) if match else value
    return "\n".join(lines) + "\n"


def check(argv: list[str], name: str, *, exits: tuple[int, ...] = (0, 1, 2)) -> None:
    started = time.perf_counter()
    result = CliRunner().invoke(main, argv, catch_exceptions=True)
    seconds = time.perf_counter() - started
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    output = result.output
    assert "Traceback" not in output
    assert result.exit_code in exits, (result.exit_code, output[-1000:])
    if result.exit_code in (1, 2):
        # the file and the line (or row) where the problem is; a whole-file problem (empty, no
        # rows) names the file; a verification names the line
        assert re.search(rf"{re.escape(name)}(:\d+|: row \d+|: )|line \d+|\.yaml:\d+:\d+", output), output[
            -1500:
        ]
        if re.search(rf"{re.escape(name)}: (?!row )", output) and not re.search(
            r":\d+|row \d+|line \d+", output
        ):
            assert re.search(
                r"empty|no inject rows|no header|more than|not readable|no such|not a", output
            ), output
    assert seconds < SECONDS, f"{seconds:.1f} s"


@SETTINGS
@given(text=mutated(SCENARIO.read_text()))
def test_fuzzed_scenarios(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("scenario")
    path = folder / "fuzzed.yaml"
    path.write_text(text)
    check(["validate", str(path)], "fuzzed.yaml")


@SETTINGS
@given(text=mutated(SCRIPT.read_text()))
def test_fuzzed_scripts(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("script")
    path = folder / "fuzzed.yaml"
    path.write_text(text)
    check(
        ["simulate", "suspected-breach", "--script", str(path), "--out", str(folder / "t.jsonl")],
        "fuzzed.yaml",
    )


TRANSCRIPT_VALUES = [
    "-99999",
    "1e999",
    "9" * 5000,
    '"soon"',
    "true",
    "null",
    "[" * 5000 + "]" * 5000,
    '{"a":' * 2000 + "1" + "}" * 2000,
    '"\\u001b]8;;http://x\\u0007"',
]


@st.composite
def mutated_transcript(draw) -> str:
    lines = TRANSCRIPT.read_text().splitlines()
    how = draw(st.sampled_from(["field", "field", "repeat", "drop", "cut"]))
    index = draw(st.integers(0, len(lines) - 1))
    if how == "cut":
        text = "\n".join(lines) + "\n"
        return text[: draw(st.integers(0, len(text)))]
    if how == "repeat":
        lines.insert(index, lines[index])
    elif how == "drop":
        del lines[index]
    else:
        record = json.loads(lines[index])
        key = draw(st.sampled_from(sorted(record)))
        lines[index] = json.dumps({k: v for k, v in record.items() if k != key})[:-1] + (
            f', "{key}": {draw(st.sampled_from(TRANSCRIPT_VALUES))}}}'
        )
    return "\n".join(lines) + "\n"


@SETTINGS
@given(text=mutated_transcript())
def test_fuzzed_transcripts(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("transcript")
    path = folder / "fuzzed.jsonl"
    path.write_text(text)
    # verify also exits 3, 4 or 5: unsigned, signed by a key not trusted here, the sample key
    check(["verify", str(path)], "fuzzed.jsonl", exits=(0, 1, 2, 3, 4, 5))
    for command in (["score", "--json"], ["report", "-o", "-"]):
        check([command[0], str(path), *command[1:]], "fuzzed.jsonl")


def _msel_text() -> str:
    result = CliRunner().invoke(main, ["msel", "export", "suspected-breach"])
    assert result.exit_code == 0
    return result.output


MSEL = _msel_text()


@st.composite
def mutated_msel(draw) -> str:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(MSEL)))
    how = draw(st.sampled_from(["cell", "cell", "repeat", "cut"]))
    index = draw(st.integers(0, len(rows) - 1))
    if how == "cut":
        return MSEL[: draw(st.integers(0, len(MSEL)))]
    if how == "repeat":
        rows.insert(index, rows[index])
    elif rows[index]:
        column = draw(st.integers(0, len(rows[index]) - 1))
        rows[index][column] = draw(st.sampled_from([*HOSTILE_VALUES, "a\rb", "=1+1", "+10m", "'=x"]))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


@SETTINGS
@given(text=mutated_msel())
def test_fuzzed_msels(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("msel")
    path = folder / "fuzzed.csv"
    path.write_text(text)
    check(["msel", "import", str(path), "-o", str(folder / "out.yaml")], "fuzzed.csv")
