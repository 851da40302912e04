"""A scripted player's lines: the decision script (the `simulate` format) read for one role."""

from __future__ import annotations

from pathlib import Path

from tabletop.model import Scenario
from tabletop.net.client import ScriptLine
from tabletop.sessions import SessionSetupError


def _referenced_injects(path: Path) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # load_script reports it with its line
    entries = data.get("decisions") if isinstance(data, dict) else None
    refs = {e.get("inject") for e in entries or [] if isinstance(e, dict)}
    return sorted(r for r in refs if isinstance(r, str) and r)


def read_script(path: Path, role: str, scenario: Scenario | None = None) -> list[ScriptLine]:
    """The lines of a decision script (the `simulate` format) that `role` plays.

    `scenario` is what the player sees of it (from the host's welcome): with it, clock times
    like `day 2 09:10` are read and actions and fields are checked before anything is sent.
    The player never sees the scenario's injects, so the ones the script names are taken on
    trust; the host checks them.
    """
    from tabletop.model import Inject
    from tabletop.script import ScriptError, load_script

    if scenario is not None:
        stand_ins = [Inject(id=ref) for ref in _referenced_injects(path)]
        scenario = scenario.model_copy(update={"injects": stand_ins})
    try:
        script = load_script(path, scenario)
    except ScriptError as error:
        raise SessionSetupError(str(error)) from None
    lines = [
        ScriptLine(
            at=entry.at,
            action=entry.action,
            note=entry.note,
            fields=dict(entry.fields) or None,
            rationale=entry.rationale,
            inject=entry.inject,
            delegate_to=entry.delegate,
            timebox=entry.timebox,
            entry=index,
        )
        for index, entry in enumerate(script.entries)
        if entry.role == role
    ]
    if not lines:
        roles = sorted({entry.role for entry in script.entries})
        raise SessionSetupError(
            f"{path}: no lines for role {role!r}; the script has lines for {', '.join(roles) or 'no role'}"
        )
    return lines
