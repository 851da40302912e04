"""The review console's App and the composition function that gives it a ready index."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tabletop.review.index import TranscriptIndex
from tabletop.untrusted import one_line

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReviewApp(App[None]):
    """Browse, open, compare and follow scored transcripts of one folder."""

    CSS_PATH = "review.tcss"
    TITLE = "tabletop review"
    BINDINGS = [Binding("p", "programme", "Programme")]

    def __init__(
        self,
        index: TranscriptIndex,
        *,
        label: str,
        now: Clock = _utc_now,
        workers: int | None = None,
        start: str = "review",
        programme_file: Path | None = None,
        trusted: Path | None = None,
    ) -> None:
        super().__init__()
        self.index = index
        self.label = label
        self.now = now
        self.score_workers = workers
        self.start = start
        self.programme_file = programme_file
        self.trusted = trusted
        self.sub_title = one_line(label)

    def get_default_screen(self) -> Screen:
        if self.start == "programme":
            from tabletop.ui.review.programme import programme_screen

            return programme_screen(self)
        from tabletop.ui.review.listing import ReviewScreen

        return ReviewScreen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Programme", "Rehearsals per team, follow-ups, risks and the stage (p)", self.action_programme
        )
        yield from getattr(screen, "review_commands", lambda: ())()

    def action_programme(self) -> None:
        """Open the programme view (from any screen but itself)."""
        from tabletop.ui.review.programme import ProgrammeScreen, programme_screen

        if isinstance(self.screen, ProgrammeScreen):
            return
        if any(isinstance(screen, ProgrammeScreen) for screen in self.screen_stack):
            while not isinstance(self.screen, ProgrammeScreen):
                self.pop_screen()
            return
        self.push_screen(programme_screen(self))

    def on_unmount(self) -> None:
        self.index.close()


def _start_process_support() -> None:
    """Start multiprocessing's resource tracker while stderr is still the real one.

    A running Textual app replaces stderr with an object without a file descriptor, and the
    tracker, started lazily by the first pool of scoring processes, needs one.
    """
    if sys.platform == "win32":
        return
    try:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    except Exception:  # scoring then falls back to this process (see TranscriptIndex)
        pass


def make_review_app(
    folder: str | Path,
    *,
    now: Clock = _utc_now,
    cache_dir: Path | None = None,
    workers: int | None = None,
    start: str = "review",
    programme_file: Path | None = None,
    trusted: Path | None = None,
) -> ReviewApp:
    """Build the review console for `folder`: open its index (the app refreshes it on start).

    `start="programme"` opens on the programme view (`tabletop programme`); `now` gives the day
    it judges the programme on.
    """
    _start_process_support()
    folder = Path(folder)
    index = TranscriptIndex(folder, cache_dir=cache_dir, threaded=True)
    return ReviewApp(
        index,
        label=str(folder),
        now=now,
        workers=workers,
        start=start,
        programme_file=programme_file,
        trusted=trusted,
    )
