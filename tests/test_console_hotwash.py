"""The hot wash in the console: a solo player answers, then the debrief's draft quotes them;
a facilitator watches answers arrive and closes it."""

from __future__ import annotations

from console_support import drill_scenario, read_events, settle, text_of
from textual.widgets import DataTable, OptionList, TextArea

from tabletop.clock import VirtualClock
from tabletop.model import HotwashQuestion
from tabletop.report import postmortem_path
from tabletop.ui.app import make_console
from tabletop.ui.screens.debrief import DebriefScreen
from tabletop.ui.screens.dialogs import ConfirmDialog
from tabletop.ui.screens.hotwash import HotwashMonitor, HotwashScreen

QUESTIONS = [
    HotwashQuestion(question="What went well?", kind="worked"),
    HotwashQuestion(question="What would you change?", kind="change"),
    HotwashQuestion(question="When did the DPO hear of it?"),
]


def hotwash_drill():
    return drill_scenario().model_copy(update={"hotwash": QUESTIONS})


async def type_answer(pilot, app, text: str) -> None:
    area = app.screen.query_one("#hotwash-text", TextArea)
    area.focus()
    area.load_text(text)
    await pilot.pause()


async def test_solo_player_answers_after_the_end_and_the_draft_quotes_them_by_role(tmp_path):
    clock = VirtualClock()
    out = tmp_path / "solo.jsonl"
    app = make_console(hotwash_drill(), out=out, clock=clock, tick_interval=None, name="Sam")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        clock.advance_to(300)
        await app.link.decide("coordinator", "appoint_coordinator", by="Sam")
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert str(app.screen.question).startswith(
            "End the exercise now and go to the hot wash, then the debrief?"
        )
        await pilot.press("y")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, HotwashScreen) and not app.debrief_shown
        shown = text_of(screen.query_one("#hotwash-intro"))
        assert "quotes your answers under your role, never your name" in shown and "ctrl+f" in shown
        options = screen.query_one(OptionList)
        assert options.option_count == 3 and options.border_title == "Questions · 0 of 3 answered"

        await type_answer(pilot, app, "Appointing a coordinator in the first five minutes.")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        answers = [e for e in read_events(out) if e["type"] == "hotwash_answer"]
        assert [(a["role"], a["by"], a["question"]) for a in answers] == [
            ("coordinator", "Sam", "What went well?")
        ]
        assert options.border_title == "Questions · 1 of 3 answered"
        assert screen.current == 1  # on to the next question
        assert "✓ 1." in str(options.get_option_at_index(0).prompt)

        await type_answer(pilot, app, "Bring the DPO in before the customer asks.")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await type_answer(pilot, app, "Not recorded before closing")  # question 3, never recorded
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "Your answer to 3 is not recorded" in str(app.screen.question)
        await pilot.press("y")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, DebriefScreen)

        events = read_events(out)
        assert [e["type"] for e in events][-4:] == [
            "session_ended",
            "hotwash_answer",
            "hotwash_answer",
            "hotwash_closed",
        ]
        assert events[-1]["reason"] == "player"
        draft = postmortem_path(out, "md").read_text(encoding="utf-8")
        worked = draft[draft.index("## What worked") : draft.index("## Improvement actions")]
        assert "- Incident coordinator: Appointing a coordinator in the first five minutes." in worked
        change = draft[draft.index("## Improvement actions") : draft.index("## Risks")]
        assert "- Incident coordinator: Bring the DPO in before the customer asks." in change
        assert "Sam" not in worked and "Sam" not in change
        assert "Not recorded before closing" not in draft


async def test_a_scenario_without_hot_wash_questions_goes_straight_to_the_debrief(tmp_path):
    clock = VirtualClock()
    app = make_console(drill_scenario(), out=tmp_path / "t.jsonl", clock=clock, tick_interval=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await app.link.end()
        await settle(app, pilot)
        assert isinstance(app.screen, DebriefScreen) and not app.hotwash_shown
        assert not any(e["type"].startswith("hotwash") for e in read_events(tmp_path / "t.jsonl"))


async def test_facilitator_sees_answers_arrive_per_role_and_question_and_closes(tmp_path):
    """A rehearsal in one room (`tabletop run --facilitate`): the people in the room answer
    through the facilitator (a), a joined player from their console; both arrive here."""
    clock = VirtualClock()
    out = tmp_path / "room.jsonl"
    app = make_console(
        hotwash_drill(), solo=False, facilitate=True, out=out, clock=clock, tick_interval=None, name="Fran"
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await app.link.call(app.link.session.set_role, "Priya", "dpo")  # a player joins for the DPO
        await app.link.end()
        await settle(app, pilot)
        monitor = app.screen
        assert isinstance(monitor, HotwashMonitor)
        table = monitor.query_one(DataTable)
        assert [c.label.plain for c in table.ordered_columns] == ["role", "Q1", "Q2", "Q3"]
        assert table.row_count == 4  # every role is played: the room's, and Priya's
        summary = text_of(monitor.query_one("#monitor-summary"))
        assert (
            "0 answers · 0 of 4 roles answered · open" in summary
            and "a records what the room says" in summary
        )

        await app.link.answer_hotwash("dpo", "What went well?", "The export alert was clear.", by="Priya")
        await settle(app, pilot)
        assert "1 answer · 1 of 4 roles answered" in text_of(monitor.query_one("#monitor-summary"))
        dpo = table.get_row("dpo")
        assert (dpo[0].plain, str(dpo[1]), str(dpo[2])) == ("Data protection officer", "✓", "·")
        assert str(table.get_row("coordinator")[1]) == "·"
        answers = text_of(monitor.query_one("#monitor-answers"))
        assert "Q1. What went well?" in answers
        assert "Data protection officer · Priya: The export alert was clear." in answers
        await pilot.press("right")  # the next question: nobody has answered it
        await pilot.pause()
        assert "Q2. What would you change?\nNo answer yet." in text_of(monitor.query_one("#monitor-answers"))
        assert any("Answer from Data protection officer" in str(n.message) for n in app.notices)

        await pilot.press("a")  # the room's coordinator says something
        await pilot.pause()
        dialog = app.screen
        dialog.query_one("#hotwash-answer", TextArea).load_text("Nobody owned the customer ticket.")
        dialog.query_one("#hotwash-question").value = 1
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is monitor
        room = [e for e in read_events(out) if e["type"] == "hotwash_answer" and e["by"] == "Room"]
        assert [(e["role"], e["question"]) for e in room] == [("coordinator", "What would you change?")]

        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog) and "Close the hot wash (2 answers)?" in str(
            app.screen.question
        )
        await pilot.press("y")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, DebriefScreen)
        closed = read_events(out)[-1]
        assert (closed["type"], closed["by"], closed["reason"], closed["answers"]) == (
            "hotwash_closed",
            "Fran",
            "facilitator",
            2,
        )


async def test_a_solo_player_who_quits_during_the_hot_wash_resumes_it(tmp_path):
    from click.testing import CliRunner

    from tabletop.cli import main

    out = tmp_path / "quit.jsonl"
    clock = VirtualClock()
    app = make_console(hotwash_drill(), out=out, clock=clock, tick_interval=None, name="Sam")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await settle(app, pilot)
        await app.link.end()
        await settle(app, pilot)
        await type_answer(pilot, app, "The channel worked.")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert [e["type"] for e in read_events(out)][-2:] == ["session_ended", "hotwash_answer"]

    again = make_console(resume=out, clock=VirtualClock(), tick_interval=None)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await settle(again, pilot)
        screen = again.screen
        assert isinstance(screen, HotwashScreen)
        assert screen.recorded == {0: "The channel worked."}  # what was recorded before
        assert screen.query_one(OptionList).border_title == "Questions · 1 of 3 answered"
        await type_answer(pilot, again, "Call the DPO first.")
        await pilot.press("ctrl+s")
        await settle(again, pilot)
        await pilot.press("ctrl+f", "y")
        await settle(again, pilot)
        await again.workers.wait_for_complete()
        assert isinstance(again.screen, DebriefScreen)
    events = read_events(out)
    assert [e["type"] for e in events][-4:] == [
        "session_ended",
        "hotwash_answer",
        "hotwash_answer",
        "hotwash_closed",
    ]
    assert not any(e["type"] == "session_resumed" for e in events)
    from tabletop.transcript import verify_evidence

    assert verify_evidence(out).ok
    done = CliRunner().invoke(main, ["run", "--resume", str(out)])
    assert done.exit_code == 2 and "its hot wash is closed; nothing to resume" in done.output


# --- one snapshot per hot-wash screen, at 80x24 ---------------------------------------------


async def _quiet(app, pilot) -> None:
    await settle(app, pilot)
    await app.workers.wait_for_complete()
    await pilot.pause()
    app.clear_notifications()
    for widget in app.screen.query("TextArea"):
        widget.cursor_blink = False
    await pilot.pause()


def test_hotwash_snapshot(tmp_path, snap_compare):
    app = make_console(
        hotwash_drill(), out=tmp_path / "s.jsonl", clock=VirtualClock(), tick_interval=None, name="Sam"
    )

    async def run_before(pilot):
        await pilot.press("enter")
        await settle(app, pilot)
        await app.link.end()
        await settle(app, pilot)
        await type_answer(pilot, app, "Appointing a coordinator in the first five minutes.")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await type_answer(pilot, app, "Bring the DPO in")
        await _quiet(app, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_hotwash_monitor_snapshot(tmp_path, snap_compare):
    app = make_console(
        hotwash_drill(),
        solo=False,
        facilitate=True,
        out=tmp_path / "m.jsonl",
        clock=VirtualClock(),
        tick_interval=None,
    )

    async def run_before(pilot):
        await pilot.press("enter")
        await settle(app, pilot)
        await app.link.call(app.link.session.set_role, "Priya", "dpo")
        await app.link.end()
        await app.link.answer_hotwash("dpo", "What went well?", "The export alert was clear.", by="Priya")
        await app.link.answer_hotwash("coordinator", "What went well?", "The bridge opened fast.", by="Room")
        await _quiet(app, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
