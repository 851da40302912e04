"""A virtual list of two-line inject entries: adding and scrolling cost the same at 10 or 10,000."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

ENTRY_HEIGHT = 2


class FeedList(ScrollView, can_focus=True):
    """Entries in display order; only the visible lines are ever rendered (Textual's line API)."""

    COMPONENT_CLASSES = {"feed-list--cursor"}
    DEFAULT_CSS = """
    FeedList {
        overflow-x: hidden;
    }
    FeedList > .feed-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    FeedList:blur > .feed-list--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: none;
    }
    """
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Previous", show=False),
        Binding("down,j", "cursor(1)", "Next", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    highlighted: reactive[int | None] = reactive(None, always_update=True)

    class Highlighted(Message):
        """The cursor moved to the entry at `index`."""

        def __init__(self, feed_list: FeedList, index: int) -> None:
            super().__init__()
            self.feed_list = feed_list
            self.index = index

        @property
        def control(self) -> FeedList:
            return self.feed_list

    def __init__(self, render_entry: Callable[[Any], Text], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.render_entry = render_entry
        self.entries: list[Any] = []
        self._cache: dict[tuple[int, int, bool], list[Strip]] = {}

    # content --------------------------------------------------------------------------------
    def set_entries(self, entries: list[Any], highlighted: int | None = None) -> None:
        """Replace what is shown (display order) and put the cursor at `highlighted`."""
        self.entries = entries
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(entries) * ENTRY_HEIGHT)
        if highlighted is not None and entries:
            index = max(0, min(highlighted, len(entries) - 1))
            self.set_reactive(FeedList.highlighted, index)
            self.call_after_refresh(self._scroll_to_entry, index)
        elif not entries:
            self.set_reactive(FeedList.highlighted, None)
        self.refresh()

    def clear_cursor(self) -> None:
        """Take the cursor off the list without telling anyone (nothing is opened)."""
        self.set_reactive(FeedList.highlighted, None)
        self._cache.clear()
        self.refresh()

    def redraw(self, index: int) -> None:
        """Render the entry at `index` again (its unread mark changed)."""
        self._cache = {k: v for k, v in self._cache.items() if k[0] != index}
        self.refresh_lines(index * ENTRY_HEIGHT - int(self.scroll_y), ENTRY_HEIGHT)

    @property
    def option_count(self) -> int:
        return len(self.entries)

    # rendering ------------------------------------------------------------------------------
    def _strips(self, index: int, width: int, cursor: bool) -> list[Strip]:
        key = (index, width, cursor)
        strips = self._cache.get(key)
        if strips is None:
            style = self.get_component_rich_style("feed-list--cursor") if cursor else self.rich_style
            text = self.render_entry(self.entries[index])
            strips = []
            for line in text.split("\n", allow_blank=True)[:ENTRY_HEIGHT]:
                line.truncate(width, overflow="ellipsis")
                segments = list(line.render(self.app.console))
                if cursor:
                    segments = list(Segment.apply_style(segments, post_style=style))
                else:
                    segments = list(Segment.apply_style(segments, style=style))
                strips.append(Strip(segments).extend_cell_length(width, style).crop(0, width))
            while len(strips) < ENTRY_HEIGHT:
                strips.append(Strip.blank(width, style))
            if len(self._cache) > 500:
                self._cache.clear()
            self._cache[key] = strips
        return strips

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = int(self.scroll_y) + y
        index, row = divmod(line, ENTRY_HEIGHT)
        if index >= len(self.entries) or width <= 0:
            return Strip.blank(width, self.rich_style)
        return self._strips(index, width, index == self.highlighted)[row]

    # cursor ---------------------------------------------------------------------------------
    def watch_highlighted(self, old: int | None, new: int | None) -> None:
        for index in {old, new}:
            if index is not None:
                self._cache = {k: v for k, v in self._cache.items() if k[0] != index}
        self.refresh()
        if new is not None:
            self._scroll_to_entry(new)
            self.post_message(self.Highlighted(self, new))

    def _scroll_to_entry(self, index: int) -> None:
        self.scroll_to_region(
            Region(0, index * ENTRY_HEIGHT, self.scrollable_content_region.width, ENTRY_HEIGHT),
            animate=False,
            force=True,
        )

    def _move_to(self, index: int) -> None:
        if self.entries:
            self.highlighted = max(0, min(index, len(self.entries) - 1))

    def action_cursor(self, delta: int) -> None:
        self._move_to((self.highlighted if self.highlighted is not None else -1) + delta)

    def action_page(self, direction: int) -> None:
        per_page = max(1, self.scrollable_content_region.height // ENTRY_HEIGHT)
        self._move_to((self.highlighted or 0) + direction * per_page)

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(len(self.entries) - 1)

    def on_click(self, event: events.Click) -> None:
        index = (int(self.scroll_y) + event.y) // ENTRY_HEIGHT
        if 0 <= index < len(self.entries):
            self.highlighted = index

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self.entries) * ENTRY_HEIGHT)
