"""What a screen asks of the app that shows it (the console, the review console), as protocols.

Screens name these rather than the app classes, so that an app can import its screens while
no screen imports its app, not even for the type checker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from tabletop.review.index import TranscriptIndex


@runtime_checkable
class ConsoleApp(Protocol):
    """What the lobby and the exercise screens ask of the console (`ui.app.TabletopConsole`)."""

    def begin_exercise(self) -> None:
        """Leave the lobby: start the session and show the exercise screen."""

    def switch_view(self) -> None:
        """Switch between the facilitator's and a player's view of the same session."""


@runtime_checkable
class ReviewerApp(Protocol):
    """What the review screens ask of the review console (`ui.review.app.ReviewApp`)."""

    @property
    def index(self) -> TranscriptIndex:
        """The index of the folder under review."""

    @property
    def now(self) -> Callable[[], datetime]:
        """The review's clock (when a draft is generated)."""
