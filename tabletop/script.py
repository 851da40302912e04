"""Decision scripts for headless `tabletop simulate`: load them with file:line errors and play them into a Session.

The format:

    mode: simulate            # optional: `solo` plays the one participant against simulated teammates
    participants: [{name: Sam, role: coordinator}, {name: Priya, role: dpo}]
    decisions:
      - {at: 5m, role: coordinator, action: appoint_coordinator}
      - {at: 40m, role: dpo, action: ico_decision, fields: {outcome: notify}, rationale: "..."}
      - {at: 45m, role: coordinator, action: involve_dpo, delegate: dpo, timebox: 10m}
      - {at: 50m, role: coordinator, note: "free-text note"}

Entries are played in order of `at` (entries with the same `at` keep their file order). An
entry whose `at` has already passed (after a time jump) is recorded at the current time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabletop.engine import Participant, Session, check_action, check_fields
from tabletop.model import Scenario, session_end
from tabletop.problems import kind_of, show
from tabletop.timing import TimeFormatError, format_offset, parse_at, parse_duration
from tabletop.yamlsource import SourceDoc, YamlSyntaxError, display_path, read_yaml

ENTRY_KEYS = ("at", "role", "action", "note", "fields", "rationale", "inject", "delegate", "timebox", "by")


class ScriptError(Exception):
    """A decision script that cannot be played; `.problems` holds every "FILE:LINE: ..." message."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ScriptEntry:
    """One scripted decision, delegation or note, with the line it was written on."""

    index: int
    line: int
    at_text: str
    role: str
    action: str | None = None
    note: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    rationale: str = ""
    inject: str | None = None
    delegate: str | None = None
    timebox: int | None = None
    by: str | None = None
    at: int = 0


@dataclass(frozen=True)
class DecisionScript:
    """A loaded decision script: who plays, and the entries in the order they are played."""

    path: Path
    participants: tuple[Participant, ...]
    entries: tuple[ScriptEntry, ...]
    display: str = ""
    mode: str = "simulate"
    """`simulate` (every participant scripted; unplayed roles answer and carry out delegated
    work) or `solo` (one participant; the other roles are simulated teammates who also do
    their own work once brought in, and the score is the player's own)."""

    def by_for(self, entry: ScriptEntry) -> str:
        if entry.by:
            return entry.by
        for person in self.participants:
            if person.role == entry.role:
                return person.name
        return entry.role


def _where(doc: SourceDoc, path: tuple[Any, ...], prefer_key: bool = False) -> str:
    line, _ = doc.position(path, prefer_key=prefer_key)
    return f"{doc.display}:{line}"


def load_script(path: str | Path, scenario: Scenario | None = None) -> DecisionScript:
    """Read a decision script; with `scenario`, also check its actions, roles, fields and times.

    Raises ScriptError listing every problem as "FILE:LINE: message".
    """
    path = Path(path)
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as error:
        raise ScriptError([f"{display_path(error.path)}:{error.line}: {error.message}"]) from None
    problems: list[str] = []
    for key_path, (line, _), (first_line, _) in doc.duplicates:
        problems.append(
            f"{doc.display}:{line}: key {'.'.join(map(str, key_path))!r} written twice in the same mapping "
            f"(first on line {first_line}); the second would silently win"
        )
    data = doc.data
    if not isinstance(data, dict):
        raise ScriptError(
            [
                *problems,
                f"{doc.display}:1: expected a mapping with participants and decisions, received {kind_of(data)}",
            ]
        )
    if data and "participants" not in data and "decisions" not in data:
        raise ScriptError(
            [
                *problems,
                f"{doc.display}:1: expected a decision script: a mapping with participants and decisions; "
                f"received a mapping with neither ({len(data)} other keys, not shown)",
            ]
        )
    for key in data:
        if key not in ("mode", "participants", "decisions"):
            problems.append(
                f"{_where(doc, (key,), True)}: unknown key {key!r}; expected mode, participants, decisions"
            )
    mode = data.get("mode", "simulate")
    if mode not in ("simulate", "solo"):
        problems.append(f"{_where(doc, ('mode',))}: expected mode simulate or solo, received {mode!r}")
        mode = "simulate"

    participants: list[Participant] = []
    raw_people = data.get("participants")
    if not isinstance(raw_people, list) or not raw_people:
        problems.append(f"{_where(doc, ('participants',))}: expected participants: a list of {{name, role}}")
        raw_people = []
    for n, person in enumerate(raw_people):
        where = _where(doc, ("participants", n))
        if (
            not isinstance(person, dict)
            or not isinstance(person.get("name"), str)
            or not person["name"].strip()
            or not isinstance(person.get("role"), str)
            or not person["role"]
        ):
            problems.append(
                f"{where}: expected a participant like {{name: Sam, role: coordinator}}, received {show(person)}"
            )
            continue
        extra = [k for k in person if k not in ("name", "role")]
        if extra:
            problems.append(f"{where}: unknown key {extra[0]!r} in a participant; expected name, role")
        role = str(person["role"])
        if scenario is not None and role not in scenario.roles:
            problems.append(
                f"{_where(doc, ('participants', n, 'role'))}: role {role!r} is not in scenario "
                f"{scenario.id!r}; expected one of {', '.join(scenario.roles)}"
            )
        participants.append(Participant(name=str(person["name"]), role=role))
    played = {p.role for p in participants}
    if mode == "solo" and len(participants) > 1:
        problems.append(
            f"{_where(doc, ('participants',))}: a solo script has one participant, the player; "
            f"received {len(participants)}"
        )

    entries: list[ScriptEntry] = []
    raw_entries = data.get("decisions")
    if not isinstance(raw_entries, list):
        problems.append(f"{_where(doc, ('decisions',))}: expected decisions: a list of entries")
        raw_entries = []
    known_injects = {i.id for i in scenario.injects} if scenario is not None else None
    for n, raw in enumerate(raw_entries):
        base = ("decisions", n)
        where = _where(doc, base)
        line = doc.position(base)[0]
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected an entry like {{at: 5m, role: coordinator, action: ...}}")
            continue
        entry_problems: list[str] = []
        for key in raw:
            if key not in ENTRY_KEYS:
                entry_problems.append(
                    f"{_where(doc, (*base, key), True)}: unknown key {key!r}; expected one of {', '.join(ENTRY_KEYS)}"
                )
        at = 0
        if "at" not in raw:
            entry_problems.append(f"{where}: missing at (a sim time like 5m or T+1h)")
        else:
            try:
                at, relative = parse_at(raw["at"], scenario.starts_at if scenario is not None else None)
                if relative:
                    entry_problems.append(
                        f"{_where(doc, (*base, 'at'))}: expected a time from the start like 5m or T+5m, received {raw['at']!r}"
                    )
            except TimeFormatError as error:
                entry_problems.append(f"{_where(doc, (*base, 'at'))}: {error}")
            if scenario is not None and at > session_end(scenario):
                entry_problems.append(
                    f"{_where(doc, (*base, 'at'))}: at {raw['at']!r} is after the session ends "
                    f"({format_offset(session_end(scenario))})"
                )
        entry_role = raw.get("role")
        if not entry_role:
            entry_problems.append(f"{where}: missing role")
        elif not isinstance(entry_role, str):
            entry_problems.append(
                f"{_where(doc, (*base, 'role'))}: expected a role id, received {show(entry_role)}"
            )
        elif scenario is not None and entry_role not in scenario.roles:
            entry_problems.append(
                f"{_where(doc, (*base, 'role'))}: role {entry_role!r} is not in scenario {scenario.id!r}; "
                f"expected one of {', '.join(scenario.roles)}"
            )
        elif participants and entry_role not in played:
            entry_problems.append(
                f"{_where(doc, (*base, 'role'))}: nobody plays role {entry_role!r}; "
                f"participants play {', '.join(sorted(played))}"
            )
        has_action, has_note = "action" in raw, "note" in raw
        if has_action == has_note:
            entry_problems.append(f"{where}: expected exactly one of action or note")
        fields = raw.get("fields") or {}
        if not isinstance(fields, dict):
            entry_problems.append(
                f"{_where(doc, (*base, 'fields'))}: expected fields as a mapping, received {fields!r}"
            )
            fields = {}
        action = raw.get("action")
        if has_action and (not isinstance(action, str) or not action.strip()):
            entry_problems.append(
                f"{_where(doc, (*base, 'action'))}: expected an action id like appoint_coordinator, "
                f"received {show(action)}"
            )
        elif has_action and scenario is not None:
            problem = check_action(scenario, str(action))
            if problem:
                entry_problems.append(f"{_where(doc, (*base, 'action'))}: {problem}")
            else:
                for problem in check_fields(scenario.action(str(action)), fields):
                    entry_problems.append(f"{_where(doc, (*base, 'fields'))}: {problem}")
        if has_note and not isinstance(raw.get("note"), (str, int, float)):
            entry_problems.append(
                f"{_where(doc, (*base, 'note'))}: expected text, received {show(raw.get('note'))}"
            )
        elif has_note and not str(raw.get("note") or "").strip():
            entry_problems.append(f"{_where(doc, (*base, 'note'))}: a note needs some text")
        for key in ("rationale", "by"):
            if raw.get(key) is not None and not isinstance(raw[key], (str, int, float)):
                entry_problems.append(
                    f"{_where(doc, (*base, key))}: expected text, received {show(raw[key])}"
                )
        inject = raw.get("inject")
        if inject is not None and not isinstance(inject, str):
            entry_problems.append(
                f"{_where(doc, (*base, 'inject'))}: expected an inject id, received {show(inject)}"
            )
        elif inject is not None and known_injects is not None and inject not in known_injects:
            entry_problems.append(f"{_where(doc, (*base, 'inject'))}: unknown inject {inject!r}")
        delegate = raw.get("delegate")
        if delegate is not None and not isinstance(delegate, str):
            entry_problems.append(
                f"{_where(doc, (*base, 'delegate'))}: expected a role id, received {show(delegate)}"
            )
        elif delegate is not None:
            if has_note:
                entry_problems.append(f"{_where(doc, (*base, 'delegate'))}: a note cannot be delegated")
            elif scenario is not None and delegate not in scenario.roles:
                entry_problems.append(
                    f"{_where(doc, (*base, 'delegate'))}: cannot delegate to role {delegate!r}; "
                    f"expected one of {', '.join(scenario.roles)}"
                )
        timebox = None
        if raw.get("timebox") is not None:
            if delegate is None:
                entry_problems.append(f"{_where(doc, (*base, 'timebox'))}: a timebox needs delegate")
            try:
                timebox = parse_duration(raw["timebox"])
            except TimeFormatError as error:
                entry_problems.append(f"{_where(doc, (*base, 'timebox'))}: {error}")
        if entry_problems:
            problems.extend(entry_problems)
            continue
        entries.append(
            ScriptEntry(
                index=n,
                line=line,
                at_text=str(raw["at"]),
                at=at,
                role=str(entry_role),
                action=str(action) if has_action else None,
                note=str(raw["note"]) if has_note else None,
                fields=dict(fields),
                rationale=str(raw.get("rationale") or ""),
                inject=inject,
                delegate=delegate,
                timebox=timebox,
                by=str(raw["by"]) if raw.get("by") else None,
            )
        )
    if problems:
        raise ScriptError(problems)
    entries.sort(key=lambda e: (e.at, e.index))
    return DecisionScript(
        path=path,
        participants=tuple(participants),
        entries=tuple(entries),
        display=doc.display,
        mode=str(mode),
    )


def play(session: Session, script: DecisionScript, *, to_end: bool = True) -> None:
    """Play a script's entries into a started session (skipping those already recorded), to the end.

    With `to_end=False` it stops after the last entry instead of running out the session.

    Raises `Rejected` (from the engine) with the entry's file and line prepended when the
    session refuses an entry; everything recorded before it stays in the transcript.
    """
    from tabletop.engine import Rejected

    recorded = {r.get("script_entry") for r in session.events if "script_entry" in r}
    for entry in script.entries:
        if entry.index in recorded:
            continue
        if session.ended:
            break
        if entry.at > session.now:
            session.run_until(entry.at)
            if session.ended:
                break
        try:
            if entry.note is not None:
                session.note(
                    entry.role,
                    entry.note,
                    by=script.by_for(entry),
                    inject=entry.inject,
                    script_entry=entry.index,
                )
            else:
                session.decide(
                    entry.role,
                    entry.action or "",
                    by=script.by_for(entry),
                    fields=entry.fields,
                    rationale=entry.rationale,
                    inject=entry.inject,
                    delegate_to=entry.delegate,
                    timebox=entry.timebox,
                    script_entry=entry.index,
                )
        except Rejected as error:
            raise Rejected(f"{script.display or script.path}:{entry.line}: {error}") from None
    if to_end and not session.ended:
        session.run_to_end()
