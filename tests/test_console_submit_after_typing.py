"""ctrl+s in a dialog records what was typed before it, even keys still waiting in the editor's queue."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App
from textual.widgets import Input, TextArea

from tabletop.ui.screens.dialogs import AdhocInjectDialog, NoteDialog


class Host(App[None]):
    def __init__(self, dialog: Any) -> None:
        super().__init__()
        self.dialog = dialog
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.results.append)


def queue_keys(widget: Any, text: str) -> None:
    """Keys the terminal delivered but the editor has not processed yet (a fast typist, a paste)."""
    for char in text:
        widget.post_message(events.Key(char, char))


async def test_ctrl_s_in_the_note_dialog_waits_for_keys_typed_before_it():
    app = Host(NoteDialog())
    async with app.run_test() as pilot:
        await pilot.pause()
        area = app.screen.query_one("#note", TextArea)
        queue_keys(area, "evidence copied")
        app.screen.action_submit()  # ctrl+s, a priority binding, runs before the editor's queue
        await pilot.pause()
    assert app.results == ["evidence copied"]


async def test_ctrl_s_in_the_adhoc_dialog_waits_for_keys_typed_before_it():
    app = Host(AdhocInjectDialog(["coordinator"]))
    async with app.run_test() as pilot:
        await pilot.pause()
        title = app.screen.query_one("#title", Input)
        queue_keys(title, "Board asks")
        app.screen.action_submit()
        await pilot.pause()
    assert [r.title for r in app.results] == ["Board asks"]


async def test_ctrl_s_in_the_decision_form_records_the_whole_rationale():
    from factories import breach_scenario

    from tabletop.ui.screens.dialogs import DecisionForm

    action = breach_scenario().action_map()["ico_decision"]
    form = DecisionForm(action, "executive", roles=["executive", "dpo"], injects=[])
    app = Host(form)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        outcome = form.query_one("#field-outcome")
        outcome.value = "notify"
        area = form.query_one("#rationale", TextArea)
        area.focus()
        await pilot.pause()
        queue_keys(area, "risk to contacts")
        form.action_submit()
        await pilot.pause()
    assert [r.rationale for r in app.results] == ["risk to contacts"]
