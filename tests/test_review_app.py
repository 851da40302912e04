"""The review console, driven like a manager would: open a folder, sort, open one, compare two, trends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import review_support as rs
from console_support import text_of
from textual.widgets import DataTable, TabbedContent

from tabletop.report import build_postmortem, render_report
from tabletop.review.index import INDEX_NAME
from tabletop.scoring import score_transcript
from tabletop.ui.review.app import ReviewApp, make_review_app
from tabletop.ui.review.detail import TranscriptScreen, breach_section, export_paths
from tabletop.ui.review.listing import COLUMNS, ReviewScreen, TranscriptTable
from tabletop.ui.review.side_by_side import CompareScreen
from tabletop.ui.review.trends import TrendsScreen
from tabletop.ui.widgets.fitted_table import FittedTable
from tabletop.ui.widgets.markdown_view import MarkdownView

SIZE = (150, 40)
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rs.sample_folder(tmp_path / "transcripts")
    monkeypatch.chdir(tmp_path)  # the app shows the folder as given: keep it the same in snapshots
    return Path("transcripts")


def review_app(folder: Path) -> ReviewApp:
    return make_review_app(folder, now=lambda: NOW, workers=1)


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def shown_paths(app: ReviewApp) -> list[str]:
    screen = app.screen
    assert isinstance(screen, ReviewScreen)
    return [e.path for e in screen.shown]


def cell(app: ReviewApp, path: str, column: str) -> str:
    table = app.screen.query_one(TranscriptTable)
    value = table.get_cell(path, column)
    return getattr(value, "plain", str(value))


async def test_opening_a_folder_lists_every_transcript_newest_first_with_broken_ones_flagged(folder):
    app = review_app(folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert shown_paths(app) == [
            "2026-06-01-green.jsonl",
            "solo/2026-05-20-sam.jsonl",
            "2026-05-11-blue.jsonl",
            "2026-04-06-red.jsonl",
            "2026-03-02-blue.jsonl",
        ]
        table = app.screen.query_one(TranscriptTable)
        assert table.row_count == 5
        assert cell(app, "2026-06-01-green.jsonl", "integrity") == "BROKEN"
        assert cell(app, "2026-04-06-red.jsonl", "score") == "0.25"
        assert cell(app, "2026-04-06-red.jsonl", "passed") == "0/5"
        assert cell(app, "2026-04-06-red.jsonl", "area:notification") == "U"
        assert cell(app, "solo/2026-05-20-sam.jsonl", "mode") == "solo"
        status = str(app.screen.query_one("#status").render())
        assert "5 of 5 transcripts" in status and "1 BROKEN" in status
        assert "played under 2 different conditions: compare like with like" in status  # solo and team
    assert (folder / INDEX_NAME).exists()


async def test_sorting_by_keys_and_by_clicking_a_header(folder):
    app = review_app(folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")  # next column after date: scenario, ascending
        screen = app.screen
        assert screen.sort_key == "scenario" and not screen.sort_reverse
        assert [e.scenario for e in screen.shown] == ["lost-admin"] * 4 + ["suspected-breach"]
        await pilot.press("r")
        assert screen.shown[0].scenario == "suspected-breach"
        table = screen.query_one(TranscriptTable)
        keys = list(COLUMNS)
        x = sum(table.columns[k].get_render_width(table) for k in keys[: keys.index("score")]) + 2
        await pilot.click(TranscriptTable, offset=(x, 0))
        await pilot.pause()
        assert screen.sort_key == "score" and screen.sort_reverse  # best first
        scores = [e.score for e in screen.shown]
        assert scores == sorted(scores, reverse=True) and scores[-1] == 0.25
        assert "Score ▼" in str(table.columns["score"].label)
        await pilot.click(TranscriptTable, offset=(x, 0))
        await pilot.pause()
        assert not screen.sort_reverse and screen.shown[0].score == 0.25


async def test_search_narrows_the_table(folder):
    app = review_app(folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"team:blue")
        await pilot.pause()
        assert shown_paths(app) == ["2026-05-11-blue.jsonl", "2026-03-02-blue.jsonl"]
        await pilot.press("enter", "escape")
        await pilot.pause()
        assert len(shown_paths(app)) == 5


async def test_opening_a_transcript_shows_scorecard_timeline_findings_and_drafts(folder):
    app = review_app(folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        red = next(i for i, e in enumerate(screen.shown) if e.path == "2026-04-06-red.jsonl")
        await pilot.press(*["down"] * red, "enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, TranscriptScreen) and detail.entry.path == "2026-04-06-red.jsonl"
        _, card, _ = score_transcript(folder / "2026-04-06-red.jsonl")
        expectations = detail.query_one("#expectations", DataTable)
        assert expectations.row_count == len(card.expectations)
        first = [getattr(c, "plain", c) for c in expectations.get_row_at(0)]
        assert first[:2] == ["◑ late", "0.5×3"]  # status and credit (× weight) first
        assert expectations.cell(0, "expectation") == card.expectations[0].title
        why = text_of(detail.query_one("#expectation-why"))
        assert why.startswith("◑ late") and "Scored: late by" in why and "Expectation id: coord" in why
        events = detail.query_one("#events", DataTable)
        assert events.row_count == len(detail.evidence.events)
        findings = detail.query_one("#findings-table", DataTable)
        assert findings.row_count == 1 and findings.get_row_at(0)[0].plain == "coord-hands-on"
        await pilot.press("5")
        await pilot.pause()
        assert detail.query_one(TabbedContent).active == "postmortem"
        markdown = detail.query_one("#postmortem-md", MarkdownView)
        assert markdown.source.startswith("# Post-mortem (draft): Lost admin account")
        breach = detail.query_one("#breach-md", MarkdownView).source
        assert breach.startswith("## Breach or suspected-breach record") and "## Summary" not in breach
        await pilot.press("e")
        await settle(pilot)
        exported = folder / "2026-04-06-red.postmortem.md"
        written = exported.read_text(encoding="utf-8")  # the draft, marked as this tool's own draft
        assert written.startswith(markdown.source.rstrip("\n")) and "tabletop-draft-of:" in written
        assert exported.stat().st_mode & 0o777 == 0o600
        html = (folder / "2026-04-06-red.postmortem.html").read_text(encoding="utf-8")
        assert "<html" in html and "Lost admin account" in html
        scenario, card, _ = score_transcript(folder / "2026-04-06-red.jsonl")
        pm = build_postmortem(scenario, detail.evidence.events, card, link=exported.name)
        assert render_report(pm, "md", NOW) == markdown.source
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)


async def test_a_broken_transcript_opens_without_crashing_and_says_so(folder):
    app = review_app(folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the newest is the tampered one
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, TranscriptScreen) and detail.entry.integrity == "broken"
        assert "BROKEN" in str(detail.query_one("#headline").render())
        assert "hash" in str(detail.query_one("#warnings").render())


async def test_comparing_two_marked_transcripts(folder):
    app = review_app(folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")  # nothing marked yet: a hint, no screen change
        assert isinstance(app.screen, ReviewScreen)
        order = shown_paths(app)
        blue_new, red = order.index("2026-05-11-blue.jsonl"), order.index("2026-04-06-red.jsonl")
        await pilot.press(*["down"] * blue_new, "space", *["down"] * (red - blue_new), "space")
        assert app.screen.marked == ["2026-05-11-blue.jsonl", "2026-04-06-red.jsonl"]
        assert cell(app, "2026-04-06-red.jsonl", "mark") == "●"
        await pilot.press("c")
        await settle(pilot)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        comparison = compare.comparison
        assert comparison.same_scenario and comparison.a.path == "2026-05-11-blue.jsonl"
        table = compare.query_one("#comparison", DataTable)
        assert table.row_count == len(comparison.rows) == 5
        _, card_b, _ = score_transcript(folder / "2026-04-06-red.jsonl")
        assert comparison.b.score == card_b.to_json()["score"]
        await pilot.press("x")
        await settle(pilot)
        assert compare.comparison.a.path == "2026-04-06-red.jsonl"


async def test_trends_per_team_and_per_area(folder):
    app = review_app(folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        trends = app.screen
        assert isinstance(trends, TrendsScreen)
        teams = {s.key: [p.value for p in s.points] for s in trends.plotted("team").series}
        # solo: Sam is scored on his own (coordinator) work and on bringing in the simulated DPO,
        # which he never did: 5 of 7 weight
        assert teams == {"blue": [1.0, 0.8], "red": [0.25], "solo: Sam": [0.7143]}
        assert trends.query_one("#table-team", DataTable).row_count == 3
        await pilot.press("2")
        await pilot.pause()
        assert trends.query_one(TabbedContent).active == "area"
        assert trends.query_one("#table-area", DataTable).row_count == 4
        assert "2026-06-01-green.jsonl" in str(trends.query_one("#excluded").render())
        # the folder's transcripts were written unsigned: every line says it stands on them
        assert "Evidence: blue: 2 of 2 rehearsals are not verified evidence (2 unsigned)" in str(
            trends.query_one("#excluded").render()
        )
        await pilot.press("4")
        await pilot.pause()
        missed = trends.query_one("#table-missed", FittedTable)
        assert missed.row_count == 3
        # the counts first, then what it is
        assert [missed.cell(0, key) for key in ("rate", "missed", "late", "applied", "scenario")] == [
            "100%",
            "1",
            "0",
            "1",
            "suspected-breach",
        ]
        assert missed.cell(0, "expectation").endswith("(solo-involve-dpo)")
        assert missed.shown_columns()[:5] == ["rate", "missed", "late", "applied", "expectation"]


def test_breach_section_is_cut_from_the_draft():
    text = (
        "# Post-mortem (draft): Suspected breach\n\n## Summary\nx\n\n## Breach or suspected-breach record\n"
        "| a | b |\n### detail\ny\n## ICO decision\n- z\n## Notification clocks\nc\n## Risks\nr\n"
    )
    assert breach_section(text) == (
        "## Breach or suspected-breach record\n| a | b |\n### detail\ny\n## ICO decision\n- z\n"
        "## Notification clocks\nc\n"
    )
    assert breach_section("# Post-mortem\n") == ""
    assert export_paths(Path("t/run.jsonl")) == {
        "md": Path("t/run.postmortem.md"),
        "html": Path("t/run.postmortem.html"),
    }


# --- one snapshot per screen ----------------------------------------------------------------


def test_snapshot_transcript_table(folder, snap_compare):
    async def before(pilot):
        await settle(pilot)

    assert snap_compare(review_app(folder), terminal_size=SIZE, run_before=before)


def test_snapshot_transcript_detail(folder, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)

    assert snap_compare(review_app(folder), terminal_size=SIZE, run_before=before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_snapshot_scorecard(folder, snap_compare, size):
    """The Scorecard tab of a run with a late, a flagged and a missed expectation: status and credit first."""

    async def before(pilot):
        await settle(pilot)
        red = next(i for i, e in enumerate(pilot.app.screen.shown) if e.path == "2026-04-06-red.jsonl")
        await pilot.press(*["down"] * red, "enter")
        await settle(pilot)

    assert snap_compare(review_app(folder), terminal_size=size, run_before=before)


def test_snapshot_compare(folder, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("down", "down", "space", "down", "space", "c")
        await settle(pilot)

    assert snap_compare(review_app(folder), terminal_size=SIZE, run_before=before)


def test_snapshot_trends(folder, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)

    assert snap_compare(review_app(folder), terminal_size=SIZE, run_before=before)


async def test_a_large_folder_is_scored_in_worker_processes_with_a_progress_bar(folder, monkeypatch):
    from tabletop.review import index as index_module

    monkeypatch.setattr(index_module, "PARALLEL_MIN", 2)
    seen: list = []
    app = make_review_app(folder, now=lambda: NOW, workers=2)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        progress = [(m.done, m.total) for m in seen if isinstance(m, ReviewScreen.IndexProgress)]
        assert progress[0] == (0, 5) and progress[-1] == (5, 5)
        assert len(shown_paths(app)) == 5
        assert "Cannot open" not in str(app.screen.query_one("#status").render())
        assert not app.screen.query_one("#progress").display


async def test_the_command_palette_offers_the_review_actions(folder):
    app = review_app(folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Open transcript", "Compare marked", "Trends", "Rescan folder", "Sort by Score"):
            assert title in titles
        sort = next(c for c in app.get_system_commands(app.screen) if c.title == "Sort by Score")
        sort.callback()
        await pilot.pause()
        assert app.screen.sort_key == "score"


async def test_an_empty_folder_says_what_to_do(tmp_path):
    (tmp_path / "empty").mkdir()
    app = review_app(tmp_path / "empty")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one(TranscriptTable).row_count == 0
        assert "No transcripts (*.jsonl)" in str(app.screen.query_one("#status").render())
        await pilot.press("enter", "space", "c", "t")  # nothing to open or compare: no crash
        await pilot.pause()
        assert isinstance(app.screen, TrendsScreen)


def test_the_review_command_builds_the_app_for_the_folder(folder, monkeypatch):
    from click.testing import CliRunner

    from tabletop.cli import main

    started: list[ReviewApp] = []
    monkeypatch.setattr(ReviewApp, "run", lambda self, *a, **k: started.append(self))
    result = CliRunner().invoke(main, ["review", str(folder)])
    assert result.exit_code == 0, result.output
    assert len(started) == 1 and started[0].label == "transcripts"
    assert started[0].index.folder == folder
    started[0].index.close()


async def test_trends_narrowed_to_one_team(folder):
    app = review_app(folder)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        trends = app.screen
        assert trends.teams == [None, "blue", "red", "solo: Sam"]
        await pilot.press("g")  # blue
        await pilot.pause()
        assert trends.team == "blue"
        areas = trends.plotted("area")
        assert {len(s.points) for s in areas.series} == {2}
        assert {p.group for s in areas.series for p in s.points} == {"blue"}
        assert len(trends.plotted("team").series) == 3  # the per-team view keeps every team
        assert trends.query_one("#table-missed", DataTable).row_count == 1  # blue only missed ico once
        await pilot.press("g", "g", "g")
        assert trends.team is None


async def test_names_that_look_like_markup_are_shown_as_typed(tmp_path, monkeypatch):
    odd = [{"name": "[/] Mal [bold]lory", "role": "coordinator", "simulated": False}]
    rs.write_transcript(
        tmp_path / "transcripts" / "odd.jsonl",
        team="[red]team[/red]",
        participants=odd,
        decisions=[(300, "coordinator", "[/] Mal [bold]lory", "appoint_coordinator", {}, "")],
    )
    rs.write_transcript(tmp_path / "transcripts" / "plain.jsonl", team="blue")
    monkeypatch.chdir(tmp_path)
    app = review_app(Path("transcripts"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert cell(app, "odd.jsonl", "team") == "[red]team[/red]"
        assert cell(app, "odd.jsonl", "who") == "[/] Mal [bold]lory (coordin…"  # clipped to 28
        order = shown_paths(app)
        await pilot.press(*["down"] * order.index("odd.jsonl"), "enter")
        await settle(pilot)
        events = app.screen.query_one("#events", DataTable)
        assert any(
            "[/] Mal [bold]lory" in str(getattr(c, "plain", c))
            for row in range(events.row_count)
            for c in events.get_row_at(row)
        )
        await pilot.press("escape", "space", "down", "space", "c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen) and app.screen.comparison is not None
        await pilot.press("escape", "t")
        await pilot.pause()
        assert "[red]team[/red]" in {s.key for s in app.screen.plotted("team").series}
