"""Our widgets, screens and apps never reuse a name Textual itself uses, except its hooks.

Textual calls many of its own methods by name (`_render` for layout, `_refresh_layout`,
`_update_styles`, the `visible` property, ...). A helper of ours with the same name silently
replaces Textual's and breaks the console far from the cause (a tab that crashes on a click).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

from textual.message_pump import MessagePump

import tabletop.ui

HOOK = re.compile(
    r"^(compose|render|render_line|render_lines|get_content_width|get_content_height"
    r"|check_action|get_default_screen|get_system_commands|can_focus|can_focus_children"
    r"|on_\w+|_on_\w+|action_\w+|watch_\w+|validate_\w+|compute_\w+|[A-Z][A-Z_]*)$"
)
"""Names Textual documents as meant to be defined by subclasses (hooks, handlers, class settings)."""

DELIBERATE = {
    ("PlainTable", "add_row"): "wraps str cells in Text, then calls DataTable.add_row",
    ("TranscriptTable", "_update_dimensions"): "sizes columns from known widths, else calls super",
}
"""Overrides of Textual's own methods that call through to them on purpose."""


def ui_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(tabletop.ui.__path__, "tabletop.ui."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == info.name and issubclass(cls, MessagePump):
                found.append(cls)
    return found


def metaclass_names(base: type) -> set[str]:
    """What Textual's metaclass writes into every subclass's namespace (bindings, CSS, ...)."""
    return set(vars(type("Probe", (base,), {"__module__": __name__})))


def test_the_scan_sees_our_widgets_and_would_catch_a_shadowing_helper() -> None:
    names = {cls.__name__ for cls in ui_classes()}
    assert {"Participants", "InjectFeed", "FacilitatorScreen", "TabletopConsole"} <= names
    from textual.widgets import Static

    class Shadowing(Static):
        def _render(self) -> None: ...

    assert shadowed(Shadowing) == ["_render"]


def shadowed(cls: type) -> list[str]:
    textual = [b for b in cls.__mro__ if b.__module__.startswith("textual")]
    generated = metaclass_names(textual[0])
    found = []
    for name in vars(cls):
        if name.startswith("__") or name in generated or HOOK.match(name):
            continue
        if (cls.__name__, name) in DELIBERATE:
            continue
        if any(name in vars(base) for base in textual):
            found.append(name)
    return found


def test_no_widget_screen_or_app_of_ours_shadows_a_textual_name() -> None:
    problems = {cls.__qualname__: shadowed(cls) for cls in ui_classes()}
    assert {name: found for name, found in problems.items() if found} == {}
