"""The programme view of the review console, driven with Pilot as a manager would: open it, read each tab, go back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from programme_support import build_programme_folder
from textual.widgets import DataTable, Static, TabbedContent

from tabletop.ui.review.app import make_review_app
from tabletop.ui.review.listing import ReviewScreen
from tabletop.ui.review.programme import ProgrammeScreen

SIZE = (150, 40)
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return build_programme_folder(tmp_path_factory.mktemp("programme-console"))


def text(value) -> str:
    return getattr(value, "plain", str(value))


def row(table: DataTable, number: int) -> list[str]:
    return [text(cell) for cell in table.get_row_at(number)]


async def loaded(pilot, seen: list) -> None:
    for _ in range(400):
        await pilot.pause()
        if any(isinstance(m, ProgrammeScreen.Loaded) for m in seen):
            await pilot.pause()
            return
        await pilot.app.workers.wait_for_complete()
    raise AssertionError("the programme never loaded")


async def test_tabletop_programme_opens_on_the_programme_and_each_tab_answers_a_question(made):
    app = make_review_app(made.folder, now=lambda: NOW, workers=1, start="programme")
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await loaded(pilot, seen)
        screen = app.screen
        assert isinstance(screen, ProgrammeScreen)
        headline = text(screen.query_one("#programme-headline", Static).render())
        assert "As of 2026-07-01" in headline and "evidence supports: no stage yet" in headline
        assert "coverage 75%" in headline and "16 rehearsals counted, 6 not" in headline
        schedule = screen.query_one("#programme-schedule", DataTable)
        assert schedule.row_count == 8
        assert row(schedule, 2) == [
            "blue", "failover", "1y", "1", "2025-06-17", "0.40", "M", "", "2026-06-17", "OVERDUE 14d",
        ]  # fmt: skip
        assert row(schedule, 4)[7] == "-0.40" and row(schedule, 0)[7] == "+0.20"

        await pilot.press("2")
        assert screen.query_one("#programme-tabs", TabbedContent).active == "followups"
        followups = screen.query_one("#programme-followups", DataTable)
        assert followups.row_count == 8
        assert row(followups, 0)[:6] == [
            made.followup("B3", "declare_incident"), "blue", "service_owner", "379d", "2025-07-17", "OVERDUE 349d",
        ]  # fmt: skip
        summary = text(screen.query_one("#followups-summary", Static).render())
        assert "3 open, 5 closed" in summary and "over 180 days 2" in summary

        await pilot.press("3")
        risks = screen.query_one("#programme-risks", DataTable)
        assert [row(risks, n)[1] for n in range(risks.row_count)] == [
            "Admin tokens never expire",
            "Customer export unreviewed",
            "Single region database",
        ]
        assert row(risks, 1)[6] == "2026-01-19" and row(risks, 2)[7] == "yes: High is High or above"

        await pilot.press("4")
        stage = text(screen.query_one("#programme-stage", Static).render())
        assert "✗ Before Production" in stage and "✗ Production  (the company's stage)" in stage
        assert "missing: red: tabletop: last run rated M, needs S or better" in stage

        await pilot.press("5")
        excluded = screen.query_one("#programme-excluded", DataTable)
        reasons = {row(excluded, n)[0]: row(excluded, n)[1] for n in range(excluded.row_count)}
        assert reasons[made.relative("X1")] == "solo practice: not a team rehearsal"

        await pilot.press("escape")  # to the list of transcripts, and p back again
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        await pilot.app.workers.wait_for_complete()
        await pilot.press("p")
        await pilot.pause()
        assert app.screen is screen


async def test_p_in_the_review_console_opens_the_programme_and_escape_returns(made):
    app = make_review_app(made.folder, now=lambda: NOW, workers=1)
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("p")
        await loaded(pilot, seen)
        assert isinstance(app.screen, ProgrammeScreen)
        assert app.screen.query_one("#programme-schedule", DataTable).row_count == 8
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and len(app.screen_stack) == 1


async def test_a_programme_file_with_problems_is_shown_not_crashed(made, tmp_path):
    bad = tmp_path / "programme.yaml"
    bad.write_text("stage: nowhere\nteams: []\nstages: []\n")
    app = make_review_app(made.folder, now=lambda: NOW, workers=1, start="programme", programme_file=bad)
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await loaded(pilot, seen)
        headline = text(app.screen.query_one("#programme-headline", Static).render())
        assert headline.startswith("Cannot read the programme:") and "programme.yaml:2" in headline


def test_snapshot_programme_view(made, snap_compare, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(made.root)  # the header shows the folder as given: the same on every run

    async def before(pilot):
        for _ in range(400):
            await pilot.pause()
            if getattr(pilot.app.screen, "status", None) is not None:
                break
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = make_review_app(Path("transcripts"), now=lambda: NOW, workers=1, start="programme")
    assert snap_compare(app, terminal_size=SIZE, run_before=before)
