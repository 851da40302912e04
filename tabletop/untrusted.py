"""Text from files and players made safe to show in a terminal: control characters visible, never markup.

Scenario and inject text, action catalogs, transcripts (player names, notes, rationales) and
file names come from other people. Shown raw, an ESC sequence in them sets the window title,
clears the screen or plants a link (OSC 8) in the reader's terminal, and `[link=...]` or
`[/x]` is read as Rich markup. So everything from a file or a player goes through `safe`
(or `rich_text`, which builds a Rich `Text`: never parsed as markup) before it is printed.
Our own fixed text keeps its styling.

How a character is shown:

- C0 controls (U+0000 to U+001F) and DEL become their Unicode control pictures: ESC is
  shown as `␛` (U+241B), BEL as `␇`, CR as `␍`, DEL as `␡` (U+2421). A tab is kept. A newline
  is kept where a text may run over several lines (an inject body) and shown as `␊` where it
  may not (`one_line`: a name, a key, a log line), so it cannot forge another line.
- C1 controls (U+0080 to U+009F; U+009B is CSI on some terminals) and the bidirectional
  embedding, override and isolate controls (U+202A to U+202E, U+2066 to U+2069: they reorder
  what the reader sees) have no picture: they are shown as Python escapes, `\\x9b`, `\\u202e`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

_SHOWN: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)}
_SHOWN[0x7F] = "\u2421"
_SHOWN.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
_SHOWN.update({code: f"\\u{code:04x}" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})

_LINES = str.maketrans(_SHOWN)
_ONE_LINE = str.maketrans({**_SHOWN, 0x0A: "\u240a"})
_JSON = str.maketrans({code: f"\\u{code:04x}" for code in _SHOWN if code >= 0x7F})


def safe(text: Any, *, newlines: bool = True) -> str:
    """`text` (anything: it is made a str) with every control character shown visibly.

    Newlines are kept unless `newlines` is false. The result never holds a byte a terminal
    would act on, so it may be printed as is; it is still not markup-safe for Rich (use
    `rich_text`, or print it on a console made with `markup=False`).
    """
    if text is None:
        return ""
    return str(text).translate(_LINES if newlines else _ONE_LINE)


def one_line(text: Any) -> str:
    """`safe` for text that must stay on one line: a newline is shown as `␊`."""
    return safe(text, newlines=False)


def one_line_each(items: Iterable[Any]) -> str:
    """Each item (a problem, a message) as one safe line, joined by newlines."""
    return "\n".join(one_line(item) for item in items)


def rich_text(text: Any, style: str = "", *, newlines: bool = True, **kwargs: Any) -> Text:
    """A Rich `Text` showing `text` as typed: control characters visible, brackets literal."""
    from rich.text import Text

    return Text(safe(text, newlines=newlines), style=style, **kwargs)


def json_dumps(data: Any, **kwargs: Any) -> str:
    """`json.dumps`, with DEL, C1 and bidirectional controls written as `\\u` escapes."""
    return safe_json(json.dumps(data, **kwargs))


def safe_json(document: str) -> str:
    """A JSON document with DEL, C1 and bidirectional controls written as `\\u` escapes.

    JSON escapes C0 controls itself; with `ensure_ascii=False` it writes the others raw. Such
    a character can only stand inside a JSON string, so the escaped document decodes to
    exactly the same data.
    """
    return document.translate(_JSON)


def for_stream(text: str, stream: Any) -> str:
    """A document (CSV, Markdown, HTML) as is for a file or a pipe; `safe` on a terminal."""
    isatty = getattr(stream, "isatty", None)
    try:
        return safe(text) if callable(isatty) and isatty() else text
    except ValueError:  # a closed stream
        return text


class SafeLogFormatter(logging.Formatter):
    """Log lines whose message is one safe line, and tracebacks with control characters shown.

    Messages carry what players send (their names, what the host refused); one message is one
    line on stderr, whatever it holds.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return safe(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return safe(super().formatStack(stack_info))
