"""What the player and facilitator screens share: attaching to the session and talking to it."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.binding import Binding
from textual.screen import Screen

from tabletop.model import Scenario
from tabletop.port import Event, SessionPort
from tabletop.ui.link import SessionEvent, lost_connection_notice
from tabletop.ui.settling import Debounce, WorkDone
from tabletop.ui.texts import action_title
from tabletop.untrusted import safe

SPEEDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600)
"""The speed steps `+` and `-` move through (sim seconds per wall second), with the scenario's own."""
SPEED = Binding.Group("Speed", compact=True)
"""The + and - speed keys, shown as one "+- Speed" entry in the footer."""


OPEN_LISTED = 8
"""How many open expectations the end dialog lists by name."""


def speed_steps(default: float | None = None) -> tuple[float, ...]:
    """The steps, the scenario's default speed among them (so `+` and `-` can come back to it)."""
    return tuple(sorted({*SPEEDS, float(default)})) if default else tuple(float(s) for s in SPEEDS)


def next_speed(current: float, direction: int, default: float | None = None) -> float:
    """The step after `current` (`direction` +1) or before it (-1); at either end, the end."""
    steps = speed_steps(default)
    if direction > 0:
        return next((s for s in steps if s > current + 1e-9), steps[-1])
    return next((s for s in reversed(steps) if s < current - 1e-9), steps[0])


class ExerciseScreen(Screen):
    """A screen that follows a session: replays its events on mount, then receives new ones."""

    RESCORE_DELAY = 0.3
    """Seconds to gather events before scoring again (a burst of releases is scored once)."""

    class Scored(WorkDone):
        """The live score was computed again and is shown."""

        job = "rescore"

        def __init__(self, card: dict[str, Any], now: float) -> None:
            super().__init__()
            self.card = card
            self.now = now

    def __init__(self, link: SessionPort, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.link = link
        self.scenario = scenario
        self.score_card: dict[str, Any] | None = None
        self._rescore = Debounce(self, self.RESCORE_DELAY, self.rescore, "rescore")
        self._last_toast = 0.0

    def on_mount(self) -> None:
        self.apply_events(self.link.attach(self), replay=True)

    def on_unmount(self) -> None:
        self.link.detach(self)

    # tabletop.port.SessionListener: events arrive from the session's thread as messages
    def session_event(self, event: Event) -> None:
        self.post_message(SessionEvent(event))

    def session_lost(self, reason: str) -> None:
        self.notify(
            lost_connection_notice(reason), title="Offline", severity="error", timeout=30, markup=False
        )

    def session_notice(self, title: str, message: str, severity: str) -> None:
        """The app shows word of the connection (once, whichever screen is up)."""

    def on_session_event(self, message: SessionEvent) -> None:
        self.apply_events([message.event], replay=False)

    def apply_events(self, events: list[dict[str, Any]], replay: bool) -> None:
        raise NotImplementedError

    # live score ------------------------------------------------------------------------------
    def request_rescore(self) -> None:
        """Score again shortly, once for however many events arrive meanwhile."""
        self._rescore.request()

    def toast(self, message: str, **kwargs: Any) -> None:
        """A notification, at most one a second so a burst of injects does not bury the screen."""
        import time

        now = time.monotonic()
        if now - self._last_toast >= 1.0:
            self._last_toast = now
            self.notify(message, **{"markup": False, **kwargs})

    @work(thread=True, exclusive=True, group="score", exit_on_error=False)
    def rescore(self) -> None:
        """Score the events so far off the UI thread, then show the result."""
        from tabletop.scoring import score

        events = list(self.link.events)
        now = self.link.now()
        card = score(self.scenario, events, until=now)
        data = card.to_json()
        self.app.call_from_thread(self._scored, data, now)

    def _scored(self, card: dict[str, Any], now: float) -> None:
        self.show_score(card, now)
        self.post_message(self.Scored(card, now))

    def show_score(self, card: dict[str, Any], now: float) -> None:
        self.score_card = card

    # session control -------------------------------------------------------------------------
    async def call(self, what: str, *args: Any, **kwargs: Any) -> Any:
        """Call a session method and return its result; a rejection or failure becomes a
        notification (and None), never a crash."""
        try:
            return await getattr(self.link, what)(*args, **kwargs)
        except Exception as error:  # shown to the user, the session carries on
            self.notify(
                safe(error) or type(error).__name__,
                title="Not recorded",
                severity="error",
                timeout=8,
                markup=False,
            )
            return None

    @work(group="control")
    async def send(self, what: str, *args: Any, **kwargs: Any) -> Any:
        """`call` in a worker: for key presses that do not wait for the answer."""
        return await self.call(what, *args, **kwargs)

    def action_toggle_pause(self) -> None:
        self.send("resume" if self.link.paused else "pause")

    def action_faster(self) -> None:
        self.send("set_speed", next_speed(self.link.speed, +1, self.scenario.speed))

    def action_slower(self) -> None:
        self.send("set_speed", next_speed(self.link.speed, -1, self.scenario.speed))

    def action_end(self) -> None:
        from tabletop.ui.screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.send("end")

        self.app.push_screen(ConfirmDialog(self.end_question(), yes="End"), answered)

    def end_question(self) -> str:
        """The end dialog's question, with what would be left open (unscored) by ending now."""
        then = "the hot wash, then the debrief" if self.scenario.hotwash else "the debrief"
        question = f"End the exercise now and go to {then}?"
        events = getattr(self.link, "events", None)
        if not events or self.link.ended:
            return question
        from tabletop.scoring import open_if_ended
        from tabletop.timing import format_offset

        still_open = open_if_ended(self.scenario, list(events), self.link.now())
        if not still_open:
            return question + "\nNothing expected would be left open."
        still_open.sort(key=lambda r: (r.deadline or 0.0, r.title))
        lines = [f"\nEnding now leaves {len(still_open)} expected step(s) open, not scored:"]
        for result in still_open[:OPEN_LISTED]:
            lines.append(f"• {result.title}, due {format_offset(result.deadline or 0.0)}")
        if len(still_open) > OPEN_LISTED:
            lines.append(f"• … and {len(still_open) - OPEN_LISTED} more")
        return question + "\n".join(lines)

    def describe_decision(self, event: dict[str, Any]) -> str:
        return action_title(self.scenario, event.get("action", ""))
