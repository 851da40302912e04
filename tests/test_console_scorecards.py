"""Scorecards that read at 80 columns and explain themselves: the debrief, the review console,
the facilitator's live score and `tabletop score`; solo scoring explained; hints that delegate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import review_support as rs
from click.testing import CliRunner
from console_support import drill_scenario, read_events, settle, text_of
from rich.text import Text
from textual.widgets import DataTable, Select

from tabletop.cli import main
from tabletop.clock import VirtualClock
from tabletop.review import formatting as fmt
from tabletop.ui.app import make_console
from tabletop.ui.review.app import make_review_app
from tabletop.ui.review.detail import TranscriptScreen
from tabletop.ui.review.side_by_side import CompareScreen
from tabletop.ui.review.trends import TrendsScreen
from tabletop.ui.screens.debrief import DebriefScreen
from tabletop.ui.screens.dialogs import DecisionForm
from tabletop.ui.screens.facilitator import FacilitatorScreen
from tabletop.ui.screens.hotwash import HotwashScreen
from tabletop.ui.screens.player import PlayerScreen
from tabletop.ui.widgets.fitted_table import Column, FittedTable, fit_widths
from tabletop.ui.widgets.scorecard import DeadlineHints, LiveScorecard, time_left

ROOT = Path(__file__).resolve().parents[1]


# --- fitting columns ---------------------------------------------------------------------------


def _rows(*rows: tuple[str, ...]) -> list[list[Text]]:
    return [[Text(cell) for cell in row] for row in rows]


COLUMNS = [
    Column("result", "Result"),
    Column("credit", "Credit", justify="right"),
    Column("title", "Title", flex=True, min_width=10),
    Column("due", "Due"),
    Column("owner", "Owner", optional=1),
    Column("by", "By", optional=2),
]


def test_the_title_takes_what_the_result_columns_leave():
    rows = _rows(("✗ missed", "0×2", "A" * 80, "T+20m", "coordinator", "dpo"))
    widths = fit_widths(COLUMNS, rows, room=120, padding=1)
    assert list(widths) == ["result", "credit", "title", "due", "owner", "by"]
    assert (widths["result"], widths["credit"], widths["due"]) == (8, 6, 5)  # as wide as their text
    assert sum(w + 2 for w in widths.values()) == 120  # the title takes the rest, to the column


def test_optional_columns_go_first_when_narrow_the_highest_first():
    rows = _rows(("✗ missed", "0×2", "A" * 80, "T+20m", "coordinator", "security_lead"))
    assert list(fit_widths(COLUMNS, rows, room=60, padding=1)) == [
        "result",
        "credit",
        "title",
        "due",
        "owner",
    ]
    assert list(fit_widths(COLUMNS, rows, room=45, padding=1)) == ["result", "credit", "title", "due"]
    narrow = fit_widths(COLUMNS, rows, room=45, padding=1)
    assert sum(w + 2 for w in narrow.values()) <= 45 and narrow["title"] >= 10


def test_an_optional_column_with_nothing_in_it_is_left_out_and_a_short_title_keeps_its_width():
    rows = _rows(
        ("✓ met", "1×3", "Short", "T+15m", "coordinator", ""), ("✓ met", "1×1", "Also", "T+1h", "any", "")
    )
    widths = fit_widths(COLUMNS, rows, room=200, padding=1)
    assert "by" not in widths and widths["title"] == 5


def test_a_time_box_is_the_time_left_in_whole_minutes():
    assert time_left(3300) == 3300
    assert time_left(3359.9) == 3300
    assert time_left(45.5) == 45
    assert time_left(0) is None and time_left(-30) is None


# --- helpers -----------------------------------------------------------------------------------


def visible_rows(table: DataTable) -> int:
    return table.scrollable_content_region.height - table.header_height


def fits_sideways(table: DataTable) -> bool:
    """Nothing to scroll to sideways: every shown column is on screen."""
    return table.virtual_size.width <= table.scrollable_content_region.width and table.max_scroll_x == 0


async def _ended_breach_debrief(tmp_path, monkeypatch, size):
    """A console on the bundled suspected-breach, solo (`_play_breach` plays it to the debrief)."""
    monkeypatch.chdir(ROOT)
    clock = VirtualClock()
    app = make_console(
        "suspected-breach", out=tmp_path / "b.jsonl", clock=clock, tick_interval=None, name="Sam"
    )
    return app, clock


async def _play_breach(app, clock, pilot) -> DebriefScreen:
    """Two decisions, then the player ends it at T+30h: many rows missed, some met, some open."""
    await pilot.press("enter")
    await settle(app, pilot)
    clock.advance_to(300)
    await app.link.tick()
    await app.link.decide("coordinator", "appoint_coordinator", by="Sam", fields={"coordinator": "Sam"})
    clock.advance_to(3000)
    await app.link.tick()
    await app.link.decide("coordinator", "involve_dpo", by="Sam")
    clock.advance_to(30 * 3600)
    await app.link.tick()
    await app.link.end()
    await settle(app, pilot)
    assert isinstance(app.screen, HotwashScreen)  # the scenario's hot wash comes first: closed unanswered
    await pilot.press("ctrl+f", "y")
    await settle(app, pilot)
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
    debrief = app.screen
    assert isinstance(debrief, DebriefScreen) and debrief.result is not None
    return debrief


# --- the debrief -------------------------------------------------------------------------------


async def test_the_debrief_at_80x24_shows_result_and_credit_first_and_as_many_rows_as_fit(
    tmp_path, monkeypatch
):
    app, clock = await _ended_breach_debrief(tmp_path, monkeypatch, (80, 24))
    async with app.run_test(size=(80, 24)) as pilot:
        debrief = await _play_breach(app, clock, pilot)
        table = debrief.query_one("#debrief-table", FittedTable)
        assert table.row_count > 15
        assert table.shown_columns()[:4] == ["result", "credit", "expected", "due"]
        assert "by" not in table.shown_columns()  # who did it: in the explanation at this width
        assert fits_sideways(table)
        assert visible_rows(table) >= 12  # the rows that fit, not three
        # the explanation is a toggle at this height: enter shows it, whole, and hides it again
        panel = debrief.query_one("#debrief-why-panel")
        assert not panel.display
        await pilot.press("enter")
        await pilot.pause()
        assert panel.display and visible_rows(table) >= 4
        why = text_of(debrief.query_one("#debrief-why"))
        assert why.startswith("✗ missed") and why.index("Scored: missed:") < why.index("Why it matters:")
        # a long explanation scrolls inside its panel rather than being cut
        longest = max(range(len(debrief.rows)), key=lambda i: len(debrief.rows[i].get("why") or ""))
        table.move_cursor(row=longest)
        await pilot.pause()
        assert panel.max_scroll_y > 0
        panel.scroll_end(animate=False)
        await pilot.pause()
        assert panel.scroll_y == panel.max_scroll_y > 0
        await pilot.press("enter")
        await pilot.pause()
        assert not panel.display


async def test_the_debrief_explains_a_row_whole_what_happened_first_and_scrolls(tmp_path, monkeypatch):
    app, clock = await _ended_breach_debrief(tmp_path, monkeypatch, (120, 40))
    async with app.run_test(size=(120, 40)) as pilot:
        debrief = await _play_breach(app, clock, pilot)
        table = debrief.query_one("#debrief-table", FittedTable)
        assert table.shown_columns()[:3] == ["result", "credit", "expected"] and fits_sideways(table)
        panel = debrief.query_one("#debrief-why-panel")
        assert panel.display  # tall enough: always below the table
        card_rows = debrief.rows
        for index, row in enumerate(card_rows):
            table.move_cursor(row=index)
            await pilot.pause()
            why = text_of(debrief.query_one("#debrief-why"))
            flat = " ".join(why.split())
            assert f"Scored: {row['reason']}" in flat, row["id"]  # never cut
            if row.get("why"):
                assert " ".join(row["why"].split()) in flat
                assert flat.index("Scored:") < flat.index("Why it matters:")
            if row.get("source"):
                assert flat.index("Scored:") < flat.index("Source:")


async def test_the_debrief_keeps_the_teammates_work_apart_and_explains_solo_scoring(tmp_path, monkeypatch):
    app, clock = await _ended_breach_debrief(tmp_path, monkeypatch, (120, 40))
    async with app.run_test(size=(120, 40)) as pilot:
        debrief = await _play_breach(app, clock, pilot)
        summary = text_of(debrief.query_one("#debrief-summary"))
        assert "Solo: Yours is scored" in summary and "never scored" in summary
        team = debrief.query_one("#debrief-team", FittedTable)
        assert team.row_count and all(team.cell(i, "credit") == "—" for i in range(team.row_count))
        await pilot.press("2")
        await pilot.pause()
        why = text_of(debrief.query_one("#debrief-why"))
        assert "Your team's: a simulated teammate's own work" in why
        await pilot.press("3")
        await pilot.pause()
        assert not debrief.query_one("#debrief-why-panel").display  # the findings explain themselves
        assert "A finding is a penalty in weight units" in text_of(debrief.query_one("#debrief-findings"))


async def test_the_debrief_beside_the_table_on_a_wide_terminal(tmp_path, monkeypatch):
    app, clock = await _ended_breach_debrief(tmp_path, monkeypatch, (200, 50))
    async with app.run_test(size=(200, 50)) as pilot:
        debrief = await _play_breach(app, clock, pilot)
        tabs, panel = debrief.query_one("#debrief-tabs"), debrief.query_one("#debrief-why-panel")
        assert panel.display and panel.region.x >= tabs.region.right
        table = debrief.query_one("#debrief-table", FittedTable)
        assert fits_sideways(table) and "owner" in table.shown_columns()


# --- the review console ------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rs.sample_folder(tmp_path / "transcripts")
    monkeypatch.chdir(tmp_path)
    return Path("transcripts")


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _open(pilot, path: str) -> TranscriptScreen:
    await _settle(pilot)
    index = next(i for i, e in enumerate(pilot.app.screen.shown) if e.path == path)
    await pilot.press(*["down"] * index, "enter")
    await _settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TranscriptScreen)
    return screen


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_review_scorecard_puts_status_and_credit_first_and_fits(folder, size):
    app = make_review_app(folder, workers=1)
    async with app.run_test(size=size) as pilot:
        detail = await _open(pilot, "2026-04-06-red.jsonl")
        table = detail.query_one("#expectations", FittedTable)
        assert table.shown_columns()[:3] == ["status", "credit", "expectation"] and fits_sideways(table)
        first = [getattr(c, "plain", c) for c in table.get_row_at(0)]
        assert first[:2] == ["◑ late", "0.5×3"]
        # each cell under its own heading, whichever columns are shown
        for index, row in enumerate(detail.expectation_rows):
            assert table.cell(index, "area") == fmt.area_label(row["area"])
            assert table.cell(index, "flags") == ", ".join(f.replace("_", " ") for f in row["flags"])
            assert table.cell(index, "expectation") == row["title"]
        shown = table.shown_columns()
        for index in range(table.row_count):
            on_screen = [getattr(c, "plain", c) for c in table.get_row_at(index)]
            assert on_screen == [table.cell(index, key) for key in shown] or any(
                "…" in cell for cell in on_screen
            )
        panel = detail.query_one("#expectation-why-panel")
        assert panel.display == (size[1] >= 32)
        if not panel.display:
            await pilot.press("enter")
            await pilot.pause()
            assert panel.display
        assert "Scored: late by" in text_of(detail.query_one("#expectation-why"))


async def test_a_solo_run_in_review_marks_the_teammates_rows_unscored(folder):
    app = make_review_app(folder, workers=1)
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await _open(pilot, "solo/2026-05-20-sam.jsonl")
        table = detail.query_one("#expectations", FittedTable)
        scopes = [r.get("scope") for r in detail.expectation_rows]
        for index, scope in enumerate(scopes):
            assert (table.cell(index, "credit") == "—") == (
                scope == "teammates" or detail.expectation_rows[index]["status"] in ("open", "not_applicable")
            )
        assert "Solo: 'team' rows are the simulated teammates' own work" in text_of(
            detail.query_one("#areas")
        )


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_compare_shows_both_results_and_the_change_first(folder, size):
    app = make_review_app(folder, workers=1)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        order = [e.path for e in app.screen.shown]
        blue, red = order.index("2026-05-11-blue.jsonl"), order.index("2026-04-06-red.jsonl")
        await pilot.press(*["down"] * blue, "space", *["down"] * (red - blue), "space", "c")
        await _settle(pilot)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        table = compare.query_one("#comparison", FittedTable)
        assert table.shown_columns()[:6] == ["a", "credit_a", "b", "credit_b", "change", "expectation"]
        assert fits_sideways(table) and visible_rows(table) >= 5
        assert "Credit A" in str(table.columns[table.shown_columns()[1]].label)  # type: ignore[index]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_most_missed_shows_the_counts_first(folder, size):
    app = make_review_app(folder, workers=1)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TrendsScreen)
        await pilot.press("4")
        await pilot.pause()
        table = app.screen.query_one("#table-missed", FittedTable)
        assert table.shown_columns()[:5] == ["rate", "missed", "late", "applied", "expectation"]
        assert fits_sideways(table)


# --- the facilitator's live score and `tabletop score` ----------------------------------------


async def test_the_live_score_reads_status_and_credit_first_at_80_columns(tmp_path):
    clock = VirtualClock()
    app = make_console(
        drill_scenario(),
        out=tmp_path / "r.jsonl",
        clock=clock,
        tick_interval=None,
        solo=False,
        facilitate=True,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FacilitatorScreen)
        clock.advance_to(1000)
        await app.link.tick()
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam")
        clock.advance_to(1500)
        await app.link.tick()
        app.screen.rescore()
        await settle(app, pilot)
        score = app.screen.query_one(LiveScorecard)
        assert score.region.right <= 80 and score.parent.max_scroll_x == 0
        lines = text_of(score).splitlines()
        coord = next(line for line in lines if "Appoint an incident" in line)
        assert re.match(r"\s*◑ late\s+0\.5×3\s+Appoint an incident", coord), coord
        controller = next(line for line in lines if "Notify the controller" in line)
        assert re.match(r"\s*in 35m\s+Notify the controller", controller), controller


def test_the_terminal_scorecard_reads_at_80_columns_result_first():
    sample = ROOT / "transcripts" / "samples" / "suspected-breach-poor.jsonl"
    narrow = CliRunner(env={"COLUMNS": "80"}).invoke(main, ["score", str(sample)], catch_exceptions=False)
    lines = narrow.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if "Expectation (owner)" in line)
    assert header.index("Result") < header.index("Expectation (owner)") < header.index("Due / done")
    first = lines[lines.index(header) + 2]
    assert re.match(r"│ (met|late|missed)\s+│", first), first
    assert re.search(r"│ \d+(\.\d+)? x \d+\s+│", lines[lines.index(header) + 3])  # its credit, under it
    wide = CliRunner(env={"COLUMNS": "150"}).invoke(main, ["score", str(sample)], catch_exceptions=False)
    header = next(line for line in wide.output.splitlines() if "Expectation (owner)" in line)
    assert header.index("Status") < header.index("Credit") < header.index("Expectation (owner)")
    clocks = next(line for line in wide.output.splitlines() if "Clock" in line and "Source" in line)
    assert clocks.index("Result") < clocks.index("Clock")


# --- hints that delegate ---------------------------------------------------------------------


def _hint_console(tmp_path):
    clock = VirtualClock()
    out = tmp_path / "h.jsonl"
    app = make_console(drill_scenario(), out=out, clock=clock, tick_interval=None, name="Sam", hints=True)
    return app, clock, out


async def _start_with_hints(app, clock, pilot, at: float) -> DeadlineHints:
    await pilot.press("enter")
    await settle(app, pilot)
    clock.advance_to(at)
    await app.link.tick()
    app.screen.request_rescore()
    await settle(app, pilot)
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, PlayerScreen)
    return app.screen.query_one(DeadlineHints)


async def test_d_on_a_hint_delegates_it_to_its_owner_with_the_time_left(tmp_path):
    app, clock, out = _hint_console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        hints = await _start_with_hints(app, clock, pilot, 300)
        assert [r["id"] for r in hints.rows][:2] == ["coord", "controller"]
        hints.focus()
        await pilot.pause()
        await pilot.press("down")  # the simulated DPO's: notify the controller, due T+1h
        await pilot.pause()
        assert hints.selected()["id"] == "controller" and "▸ in 55m" in text_of(hints)
        await pilot.press("d")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DecisionForm) and form.action.id == "notify_controller"
        assert form.query_one("#delegate", Select).value == "dpo"
        assert form.query_one("#timebox").value == "55m"  # T+1h less T+5m
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        delegation = [e for e in read_events(out) if e["type"] == "delegation"]
        assert [(d["action"], d["to_role"], d["timebox"]) for d in delegation] == [
            ("notify_controller", "dpo", 3300)
        ]


async def test_enter_on_a_hint_opens_the_form_to_do_it_yourself(tmp_path):
    app, clock, _out = _hint_console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        hints = await _start_with_hints(app, clock, pilot, 60)
        hints.focus()
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DecisionForm) and form.action.id == "appoint_coordinator"
        assert form.query_one("#delegate", Select).value is Select.NULL
        assert form.query_one("#timebox").value == ""


async def test_d_on_the_players_own_hint_leaves_whom_to_them_with_the_time_left(tmp_path):
    app, clock, _out = _hint_console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _start_with_hints(app, clock, pilot, 60)
        assert app.screen.query_one("#feed-list").has_focus
        await pilot.press("d")  # from the feed: the most urgent hint, the coordinator's own
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DecisionForm) and form.action.id == "appoint_coordinator"
        delegate = form.query_one("#delegate", Select)
        assert delegate.value is Select.NULL and delegate.has_focus
        assert form.query_one("#timebox").value == "14m"


async def test_d_on_bring_in_delegates_that_teammates_first_duty(tmp_path):
    app, clock, _out = _hint_console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        hints = await _start_with_hints(app, clock, pilot, 300)
        bring_in = next(r for r in hints.rows if r["id"] == "solo-involve-dpo")
        hints.selected_id = bring_in["id"]
        hints.focus()
        await pilot.press("d")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DecisionForm) and form.action.id == "notify_controller"
        assert form.query_one("#delegate", Select).value == "dpo"


async def test_the_lobby_says_what_hints_offer(tmp_path):
    app, _clock, _out = _hint_console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        solo = text_of(app.screen.query_one("#lobby-solo"))
        assert "d on one delegates it to its owner" in " ".join(solo.split())


async def test_the_explanation_follows_the_table_on_show(tmp_path):
    """Both tables are filled at once: the explanation is of the selected row of the tab shown."""
    clock = VirtualClock()
    app = make_console(
        drill_scenario(), out=tmp_path / "d.jsonl", clock=clock, tick_interval=None, name="Sam"
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(600)
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam")
        clock.advance_to(7201)  # the scenario's end: the DPO's own work, late, is the team's
        await app.link.tick()
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        debrief = app.screen
        assert isinstance(debrief, DebriefScreen) and debrief.team_rows

        def heading() -> str:
            return text_of(debrief.query_one("#debrief-why")).split("\n")[0]

        assert heading().endswith(debrief.rows[0]["title"])
        await pilot.press("2")
        await pilot.pause()
        assert heading().endswith(debrief.team_rows[0]["title"])
        await pilot.press("1", "down")
        await pilot.pause()
        assert heading().endswith(debrief.rows[1]["title"])


def test_short_titles_leave_room_for_the_optional_columns():
    wide = [Column("result", "Result"), Column("title", "Title", flex=True, min_width=10, min_share=0.7)]
    wide.append(Column("by", "By", optional=1))
    rows = _rows(("✓ met", "Short title", "coordinator"))
    assert list(fit_widths(wide, rows, room=60, padding=1)) == ["result", "title", "by"]
    rows = _rows(("✓ met", "A title much longer than half of the table is wide " * 2, "coordinator"))
    assert list(fit_widths(wide, rows, room=60, padding=1)) == ["result", "title"]
