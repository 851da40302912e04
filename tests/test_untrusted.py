"""tabletop.untrusted: text from files and players shown with its control characters visible."""

from __future__ import annotations

import io
import json
import logging

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from tabletop.untrusted import (
    SafeLogFormatter,
    for_stream,
    json_dumps,
    one_line,
    one_line_each,
    rich_text,
    safe,
    safe_json,
)

OSC_TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
OSC8 = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"

ACTED_ON = {*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)}
"""Code points a terminal may act on (C0 but tab and newline, DEL, C1)."""


def test_escape_sequences_are_shown_as_control_pictures():
    assert safe(OSC_TITLE) == "␛]0;pwned␇"
    assert safe(CLEAR) == "␛[2J"
    assert safe(OSC8) == "␛]8;;http://evil.example/␛\\click␛]8;;␛\\"


def test_every_c0_control_but_tab_and_newline_has_its_picture():
    for code in range(0x20):
        if code in (0x09, 0x0A):
            assert safe(chr(code)) == chr(code)
        else:
            assert safe(chr(code)) == chr(0x2400 + code), hex(code)
    assert safe("\r") == "␍" and safe("\b") == "␈" and safe("\x00") == "␀"


def test_del_c1_and_bidi_controls_are_shown_as_escapes():
    assert safe("\x7f") == "␡"
    assert safe("a\x9bb") == "a\\x9bb"
    assert safe("\x80\x9f") == "\\x80\\x9f"
    assert safe("evil\u202etxt.exe") == "evil\\u202etxt.exe"
    assert safe("\u2066x\u2069") == "\\u2066x\\u2069"


def test_ordinary_text_is_unchanged():
    text = "Zoë's café — naïve résumé ✓ 日本語 🙂\tcolumn\nnext line [bold]not markup[/bold]"
    assert safe(text) == text
    assert safe("") == "" and safe(None) == "" and safe(42) == "42"


def test_one_line_shows_a_newline_so_it_cannot_forge_another_line():
    assert one_line("Sam\nFAKE.yaml:1:1: id: forged") == "Sam␊FAKE.yaml:1:1: id: forged"
    assert safe("a\nb", newlines=False) == "a␊b"
    assert one_line_each(["a\nb", "c\x1bd"]) == "a␊b\nc␛d"


@given(st.text())
def test_nothing_a_terminal_acts_on_survives(text):
    for shown in (safe(text), one_line(text)):
        assert not {ord(c) for c in shown} & ACTED_ON
        assert not {ord(c) for c in shown} & {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}
    assert "\n" not in one_line(text)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf"))))
def test_text_without_controls_is_kept_as_is(text):
    assert safe(text) == text


def test_rich_text_is_never_markup():
    text = rich_text(f"[/x] [link=http://evil.example]x[/link] {OSC_TITLE}", "bold")
    assert text.plain == "[/x] [link=http://evil.example]x[/link] ␛]0;pwned␇"
    assert not text.spans or all(span.style == "bold" for span in text.spans)
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    console.print(text)
    out = console.file.getvalue()
    assert "[/x]" in out and "[link=http://evil.example]x[/link]" in out
    assert "\x1b]" not in out and "\x07" not in out  # no OSC: no title, no hyperlink
    assert one_line(rich_text("a\nb", newlines=False).plain) == "a␊b"


def test_json_dumps_escapes_what_json_leaves_raw_and_decodes_the_same():
    data = {"name": f"Sam\x7f\x9b{OSC_TITLE}\u202e", "note": "Zoë ✓"}
    document = json_dumps(data, ensure_ascii=False)
    assert not {ord(c) for c in document} & ACTED_ON
    assert "\\u009b" in document and "\\u007f" in document and "\\u202e" in document
    assert "Zoë ✓" in document  # readable text stays readable
    assert json.loads(document) == data
    assert safe_json(json.dumps(data, ensure_ascii=False)) == document


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_a_document_is_shown_safely_on_a_terminal_and_kept_exact_in_a_pipe():
    text = f"title,{OSC_TITLE}\n"
    assert for_stream(text, _Stream(tty=True)) == "title,␛]0;pwned␇\n"
    assert for_stream(text, _Stream(tty=False)) == text
    assert for_stream(text, object()) == text


def test_log_lines_stay_one_safe_line_each():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeLogFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("tabletop.tests.untrusted")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("%s (%s) is flooding", f"Sam{OSC_TITLE}\nrefused everyone: wrong token", "dpo")
        try:
            raise ValueError(f"bad name {CLEAR}")
        except ValueError:
            log.exception("request from %s failed", "Priya\x1b[2J")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert "\x1b" not in out and "\x07" not in out
    lines = out.splitlines()
    assert lines[0] == "WARNING Sam␛]0;pwned␇␊refused everyone: wrong token (dpo) is flooding"
    assert lines[1] == "ERROR request from Priya␛[2J failed"
    assert "ValueError: bad name ␛[2J" in out  # the traceback keeps its lines, shown safely
