"""A Markdown document parsed and laid out off the UI thread, then shown line by line.

Textual's own Markdown widget builds a widget per block, table cell and list item: a
post-mortem draft with its tables takes seconds to mount, all of it on the UI thread. Here a
worker thread has Rich parse and lay the document out at the view's width and posts the lines
back in a message; the view shows "Loading…" until they arrive and only ever draws the lines
on screen (Textual's line API). A new width lays it out again, in the worker.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tabletop.ui.settling import WorkDone
from tabletop.untrusted import safe

LOADING = "Loading…"


def layout_markdown(markdown: str, width: int) -> list[Strip]:
    """`markdown` parsed and laid out `width` cells wide, one Strip a line (no Textual needed
    beyond the Strip: safe to call on any thread)."""
    console = Console(
        width=width,
        file=io.StringIO(),
        color_system="truecolor",
        force_terminal=True,
        legacy_windows=False,
        emoji=False,
    )
    # the text quotes players and authors: control characters shown, links not made live
    lines = console.render_lines(Markdown(safe(markdown), hyperlinks=False), console.options, pad=True)
    return [Strip(line, width) for line in lines]


class MarkdownView(ScrollView, can_focus=True):
    """Scrolls a Markdown document that a worker lays out; arrow keys, page keys, home, end."""

    DEFAULT_CSS = """
    MarkdownView {
        overflow-x: hidden;
        scrollbar-gutter: stable;  /* the width laid out at does not change when the scrollbar shows */
        padding: 0 1;
    }
    """

    class Rendered(Message):
        """The worker laid the document out at `width`: here are its lines."""

        def __init__(self, view: MarkdownView, lines: list[Strip], width: int) -> None:
            super().__init__()
            self.view = view
            self.lines = lines
            self.width = width

        @property
        def control(self) -> MarkdownView:
            return self.view

    class Shown(WorkDone):
        """The document's lines, laid out at the view's width, are on screen."""

        job = "markdown"

    def __init__(self, markdown: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.markdown = markdown
        self.lines: list[Strip] = []
        self.laid_out_at = 0
        """The width the lines were laid out at (0 until the first layout arrives)."""

    @property
    def ready(self) -> bool:
        return self.laid_out_at > 0

    @property
    def source(self) -> str:
        """The document shown (as Textual's Markdown widget names it)."""
        return self.markdown

    def update(self, markdown: str) -> None:
        """Show another document (laid out in the worker; "Loading…" meanwhile)."""
        self.markdown = markdown
        self.lines, self.laid_out_at = [], 0
        self.virtual_size = Size(0, 0)
        self.refresh()
        self._lay_out()

    def on_resize(self) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        width = self.scrollable_content_region.width
        if width > 0 and width != self.laid_out_at:
            self.lay_out(self.markdown, width)

    @work(thread=True, exclusive=True, group="markdown-layout", exit_on_error=False)
    def lay_out(self, markdown: str, width: int) -> None:
        self.post_message(self.Rendered(self, layout_markdown(markdown, width), width))

    def on_markdown_view_rendered(self, message: Rendered) -> None:
        message.stop()
        if message.width != self.scrollable_content_region.width:
            self._lay_out()  # resized meanwhile: this one is already stale
            return
        self.lines, self.laid_out_at = message.lines, message.width
        self.virtual_size = Size(message.width, len(message.lines))
        self.refresh()
        self.post_message(self.Shown())

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if not self.ready:
            text = LOADING if y == 0 else ""
            return Strip([Segment(text.ljust(width), Style(dim=True))], width)
        index = int(self.scroll_y) + y
        if 0 <= index < len(self.lines):
            return self.lines[index].crop(0, width)
        return Strip.blank(width)
