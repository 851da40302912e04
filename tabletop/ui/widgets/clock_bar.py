"""The bar at the top of every exercise screen: sim clock, phase, speed and paused state."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from tabletop.model import Scenario
from tabletop.port import SessionPort
from tabletop.timing import format_offset, sim_datetime
from tabletop.ui.texts import phase_title, sim_time
from tabletop.untrusted import one_line


class ClockBar(Static):
    """Shows `T+` (and the scenario's date-time), the current phase, the speed and pause."""

    def __init__(self, link: SessionPort, scenario: Scenario, who: str = "", **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.link = link
        self.scenario = scenario
        self.who = who
        self.phase: str | None = None
        self.phase_label: str | None = None
        self.ended = False
        self._shown: Text | None = None
        self.pause_reason: str | None = None
        """Why the clock stopped when the session paused it for the player (an auto-pause)."""
        self.resume_key: str | None = None
        """The key that resumes, shown while paused, when this console may resume."""

    def on_mount(self) -> None:
        self.refresh_bar()
        self.set_interval(0.25, self.refresh_bar)

    def set_phase(self, phase: str | None, title: str | None = None) -> None:
        """Show `phase`; `title` is its title when the scenario at hand does not hold it (a remote
        player learns a phase's title from the inject that opens it)."""
        if phase:
            self.phase = phase
            self.phase_label = title
            self.refresh_bar()

    def note_clock(self, event: dict[str, Any]) -> None:
        """Follow a `clock` event: an auto-pause says why; any other pause or a resume does not."""
        if event.get("op") == "pause":
            self.pause_reason = "for your action" if event.get("reason") == "auto" else None
        elif event.get("op") == "resume":
            self.pause_reason = None
        self.refresh_bar()

    def refresh_bar(self) -> None:
        paused = self.link.paused
        self.set_class(paused, "-paused")
        narrow = 0 < self.size.width < 100
        text = Text(no_wrap=True, overflow="ellipsis")
        now = self.link.now()
        if narrow:
            text.append(f" {format_offset(now)} ", style="bold")
            when = sim_datetime(self.scenario.starts_at, now)
            if when is not None:
                text.append(f"{when:%H:%M} ", style="bold")
        else:
            text.append(f" {sim_time(self.scenario, now)} ", style="bold")
        why = self.pause_reason if paused and not self.ended else None
        if not (narrow and why):  # at 80 columns the reason for the pause goes before the phase
            label = one_line(self.phase_label) if self.phase_label else phase_title(self.scenario, self.phase)
            text.append(f"│ {label} ")
        text.append(f"│ ×{self.link.speed:g} ")
        if self.ended:
            text.append("│ ■ ENDED ", style="bold")
        elif getattr(self.link, "offline", False):  # a remote player's connection is down
            text.append("│ ⚠ OFFLINE: reconnecting ", style="bold reverse")
        elif paused:
            text.append("│ ⏸ PAUSED", style="bold reverse")
            if why:
                text.append(f" {why}", style="bold reverse")
            text.append(f" · {self.resume_key} resumes " if self.resume_key else " ", style="bold reverse")
        else:
            text.append("│ ▶ running ")
        if self.who and not narrow:
            text.append(f"│ {one_line(self.who)}", style="italic")
        if getattr(self.link, "encrypted", True) is False:  # a remote player's link to the host
            text.append(" │ not encrypted", style="dim")
        if text != self._shown:  # a paused clock shows the same bar: nothing to redraw
            self._shown = text
            self.update(text)
