"""Fuzzy search over the action catalog by title, area and default owner."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.fuzzy import Matcher
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from tabletop.untrusted import one_line


def rank_actions(actions: list[Any], query: str) -> list[tuple[float, Any]]:
    """Actions matching `query` (fuzzy, on title, id, area and default owner), best first."""
    query = query.strip()
    if not query:
        return [(1.0, action) for action in actions]
    matcher = Matcher(query)
    ranked = []
    for index, action in enumerate(actions):
        best = max(
            matcher.match(action.title),
            matcher.match(action.id.replace("_", " ")),
            0.8 * matcher.match(f"{action.area.replace('_', ' ')} {action.default_owner.replace('_', ' ')}"),
        )
        if best > 0:
            ranked.append((best, index, action))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return [(score, action) for score, _, action in ranked]


class ActionSearch(Vertical):
    """A search box over the catalog; Enter (or a click) chooses the highlighted action."""

    class Chosen(Message):
        def __init__(self, search: ActionSearch, action_id: str) -> None:
            super().__init__()
            self.search = search
            self.action_id = action_id

        @property
        def control(self) -> ActionSearch:
            return self.search

    def __init__(self, actions: list[Any], role: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.actions = list(actions)
        self.role = role

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search actions: title, area or owner…", id="action-query")
        yield OptionList(id="action-list")

    def on_mount(self) -> None:
        self.filter("")
        self.query_one("#action-query", Input).focus()

    def filter(self, query: str) -> None:
        option_list = self.query_one("#action-list", OptionList)
        options = []
        for _, action in rank_actions(self.actions, query):
            text = Text()
            text.append(one_line(action.title), style="bold")
            meta = f"  {action.area.replace('_', ' ')} · {action.default_owner.replace('_', ' ')}"
            text.append(one_line(meta), style="dim")
            if action.hands_on:
                text.append("  hands-on", style="italic yellow")
            options.append(Option(text, id=action.id))
        option_list.set_options(options)
        if options:
            option_list.highlighted = 0

    @on(Input.Changed, "#action-query")
    def _query_changed(self, message: Input.Changed) -> None:
        message.stop()
        self.filter(message.value)

    @on(Input.Submitted, "#action-query")
    def _submitted(self, message: Input.Submitted) -> None:
        message.stop()
        option = self.query_one("#action-list", OptionList).highlighted_option
        if option is not None and option.id:
            self.post_message(self.Chosen(self, option.id))

    @on(OptionList.OptionSelected, "#action-list")
    def _selected(self, message: OptionList.OptionSelected) -> None:
        message.stop()
        if message.option.id:
            self.post_message(self.Chosen(self, message.option.id))

    def move(self, delta: int) -> None:
        option_list = self.query_one("#action-list", OptionList)
        if option_list.option_count:
            current = option_list.highlighted or 0
            option_list.highlighted = max(0, min(option_list.option_count - 1, current + delta))
