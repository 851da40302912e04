"""Table cells that show text literally: players' and authors' words are never read as markup,
and their control characters are shown (see `tabletop.untrusted`)."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from tabletop.untrusted import rich_text


def plain(value: Any) -> Any:
    """A str becomes Text shown as typed; anything else (Text, renderables) is kept."""
    return rich_text(value, newlines=False) if isinstance(value, str) else value


class PlainTable(DataTable):
    """A DataTable whose str cells are shown as typed, never parsed as markup."""

    def add_row(self, *cells: Any, **kwargs: Any) -> Any:
        return super().add_row(*(plain(cell) for cell in cells), **kwargs)
