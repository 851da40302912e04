"""How players get in: the browser link, the terminal command, the token and the room display, for the facilitator to share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widgets import Static


@dataclass(frozen=True)
class JoinDetails:
    """What a hosted rehearsal's players need to join (the network host fills it in)."""

    link: str
    """The one link for browser players (it carries the token)."""
    command: str
    """The command a terminal player runs (ROLE and NAME to fill in)."""
    token: str
    room: str | None = None
    """The read-only room display, for a projector."""
    encrypted: bool = False


class JoinPanel(Static):
    """The join link, command, token and room display; `c` copies the link where it is shown."""

    DEFAULT_CSS = """
    JoinPanel { height: auto; padding: 0 1; }
    """

    def __init__(self, details: JoinDetails, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.details = details
        self.border_title = "Players join"

    def on_mount(self) -> None:
        self.update(self.text())

    def text(self) -> Text:
        d = self.details
        text = Text()
        text.append("Browser (send this link; c copies it)\n", style="bold")
        text.append(d.link + "\n\n")
        text.append("Terminal\n", style="bold")
        text.append(d.command + "\n\n")
        text.append("Token  ", style="bold")
        text.append(d.token + "\n")
        if d.room:
            text.append("\nRoom display (read-only, for a projector)\n", style="bold")
            text.append(d.room + "\n")
        if not d.encrypted:
            text.append(
                "\nNot encrypted: start the host with --tls-cert and --tls-key across a network you do not trust.\n",
                style="bold",
            )
        return text
