"""The inject feed (newest on top, unread marked, filter by channel) and the selected inject's text."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Select, Static

from tabletop.model import CHANNELS, Scenario
from tabletop.ui.texts import inject_detail, inject_line
from tabletop.ui.widgets.feed_list import FeedList


class InjectFeed(Vertical):
    """Released injects, newest first. Moving the cursor to an inject opens it: it is shown
    and marked read. Filtering by channel opens nothing."""

    class Highlighted(Message):
        """The player moved to an inject in the feed."""

        def __init__(self, feed: InjectFeed, event: dict[str, Any]) -> None:
            super().__init__()
            self.feed = feed
            self.event = event

        @property
        def control(self) -> InjectFeed:
            return self.feed

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.injects: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.unread: set[str] = set()
        self.channel: str | None = None
        self.opened: str | None = None
        """The key of the inject shown beside the feed (the one the cursor is on), once one is."""
        self._rebuild_pending = False
        self.border_title = "Injects"

    def compose(self) -> ComposeResult:
        yield Select(
            [(name, name) for name in CHANNELS],
            prompt="all channels",
            allow_blank=True,
            id="channel-filter",
            compact=True,
        )
        yield FeedList(self._entry, id="feed-list")

    def _entry(self, event: dict[str, Any]) -> Text:
        return inject_line(event, self.key(event) in self.unread)

    @staticmethod
    def key(event: dict[str, Any]) -> str:
        return f"s{event.get('seq', id(event))}"

    @property
    def option_list(self) -> FeedList:
        return self.query_one("#feed-list", FeedList)

    def add(self, *events: dict[str, Any], unread: bool = True) -> None:
        """Add released injects (in release order); the list is redrawn once before the next frame."""
        for event in events:
            key = self.key(event)
            if key in self.by_key:
                continue
            self.injects.append(event)
            self.by_key[key] = event
            if unread:
                self.unread.add(key)
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild)
        self._update_title()

    def shown_injects(self) -> list[dict[str, Any]]:
        """The injects shown under the current filter, newest first."""
        return [e for e in reversed(self.injects) if self.channel is None or e.get("channel") == self.channel]

    def _rebuild(self, open_first: bool = True) -> None:
        """Show the injects under the filter, newest first, keeping the cursor on the open inject.

        Until an inject has been opened, the newest is opened (when `open_first`). A change of
        filter never opens one: the cursor stays on the open inject if the filter shows it, and
        is off the list otherwise, so what the player has not read stays unread.
        """
        self._rebuild_pending = False
        feed_list = self.option_list
        shown = self.shown_injects()
        keys = [self.key(e) for e in shown]
        if self.opened is not None and self.opened in keys:
            feed_list.set_entries(shown, keys.index(self.opened))
        elif self.opened is None and open_first and shown:
            feed_list.set_entries(shown, None)
            feed_list.highlighted = 0
        else:
            feed_list.set_entries(shown, None)
            feed_list.clear_cursor()

    def _update_title(self) -> None:
        unread = len(self.unread)
        self.border_title = f"Injects ({len(self.injects)})"
        self.border_subtitle = f"{unread} unread" if unread else ""

    def cycle_channel(self) -> None:
        """Step the channel filter: all, then each channel that has injects."""
        present = [c for c in CHANNELS if any(e.get("channel") == c for e in self.injects)]
        order: list[str | None] = [None, *present]
        try:
            index = order.index(self.channel)
        except ValueError:
            index = 0
        nxt = order[(index + 1) % len(order)]
        select = self.query_one("#channel-filter", Select)
        select.value = Select.NULL if nxt is None else nxt

    @on(Select.Changed, "#channel-filter")
    def _filter_changed(self, message: Select.Changed) -> None:
        message.stop()
        self.channel = None if message.value is Select.NULL else str(message.value)
        self._rebuild(open_first=False)

    @on(FeedList.Highlighted, "#feed-list")
    def _highlighted(self, message: FeedList.Highlighted) -> None:
        message.stop()
        entries = self.option_list.entries
        if not 0 <= message.index < len(entries):
            return
        event = entries[message.index]
        key = self.key(event)
        self.opened = key
        if key in self.unread:
            self.unread.discard(key)
            self.option_list.redraw(message.index)
            self._update_title()
        self.post_message(self.Highlighted(self, event))


class InjectView(VerticalScroll):
    """The full text of the inject selected in the feed."""

    def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.event: dict[str, Any] | None = None
        self.border_title = "Inject"

    def compose(self) -> ComposeResult:
        yield Static("No inject yet. They arrive in the feed on the left.", id="inject-text")

    def show(self, event: dict[str, Any]) -> None:
        self.event = event
        self.query_one("#inject-text", Static).update(inject_detail(self.scenario, event))
        self.scroll_home(animate=False)
