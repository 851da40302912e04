"""The console and the review console are what their screens ask of them (`tabletop/ui/apps.py`)."""

from datetime import UTC, datetime

from tabletop.clock import VirtualClock
from tabletop.ui.app import TabletopConsole, make_console
from tabletop.ui.apps import ConsoleApp, ReviewerApp
from tabletop.ui.review.app import ReviewApp, make_review_app


def test_the_console_is_what_its_screens_ask_for(tmp_path):
    app = make_console("suspected-breach", out=tmp_path / "t.jsonl", clock=VirtualClock(), tick_interval=None)
    try:
        assert isinstance(app, TabletopConsole)
        assert isinstance(app, ConsoleApp)
        assert not isinstance(app, ReviewerApp)
    finally:
        app.link.session.writer.close()


def test_the_review_console_is_what_its_screens_ask_for(tmp_path):
    day = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    app = make_review_app(tmp_path, now=lambda: day, workers=1)
    try:
        assert isinstance(app, ReviewApp)
        assert isinstance(app, ReviewerApp)
        assert app.now() == day and app.index.folder == tmp_path
        assert not isinstance(app, ConsoleApp)
    finally:
        app.index.close()


def test_an_app_without_what_a_screen_asks_for_is_not_one():
    class HalfAConsole:
        def begin_exercise(self) -> None: ...

    assert not isinstance(HalfAConsole(), ConsoleApp)
