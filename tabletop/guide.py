"""The situation manual and facilitator guide of a scenario: modules with timings, injects, questions, expected actions, hot wash."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tabletop.model import Expectation, Inject, Scenario
from tabletop.timing import format_duration, format_offset

FORMATS = ("md", "html")
TEMPLATES = Path(__file__).parent / "report" / "templates"


@dataclass(frozen=True)
class ExpectedAction:
    """What a good responder does, by whom and by when, in words a facilitator can read out."""

    id: str
    who: str
    what: str
    action: str
    within: str
    anchor: str
    weight: float
    requires: tuple[str, ...] = ()
    value: str = ""
    why: str = ""
    source: str = ""


@dataclass(frozen=True)
class GuideInject:
    """One inject as the facilitator sees it: when, how, to whom, what, and what should follow."""

    id: str
    time: str
    clock: str
    kind: str
    channel: str
    sender: str
    to: str
    title: str
    body: str
    condition: str = ""
    advance_to: str = ""
    marks: tuple[str, ...] = ()
    objective: str = ""
    controller: str = ""
    notes: str = ""
    expected: tuple[ExpectedAction, ...] = ()


@dataclass(frozen=True)
class Module:
    """A module of the exercise (a phase) with its timing, questions and injects."""

    id: str
    title: str
    summary: str
    timing: str
    questions: tuple[str, ...]
    injects: tuple[GuideInject, ...]


@dataclass(frozen=True)
class Guide:
    """Everything the situation manual and the facilitator guide show, ready for a template."""

    id: str
    title: str
    summary: str
    kind: str
    objectives: tuple[str, ...]
    start: str
    duration: str
    roles: tuple[tuple[str, str], ...]
    facts: tuple[tuple[str, str], ...]
    modules: tuple[Module, ...]
    throughout: tuple[ExpectedAction, ...]
    clocks: tuple[ExpectedAction, ...]
    avoid: tuple[tuple[str, str], ...]
    hotwash: tuple[str, ...]
    responses: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)


def _span(seconds: int) -> str:
    """A duration as people say it: `30d`, `31d2h` from two days up, otherwise `1h30m`."""
    if seconds >= 2 * 86400:
        days, rest = divmod(int(seconds), 86400)
        return f"{days}d" + (format_duration(rest) if rest else "")
    return format_duration(seconds)


def _clock(scenario: Scenario, seconds: int) -> str:
    if scenario.starts_at is None:
        return ""
    moment = scenario.starts_at + timedelta(seconds=seconds)
    day = (moment.date() - scenario.starts_at.date()).days + 1
    return f"day {day}, {moment:%a %H:%M}"


def _anchor_text(scenario: Scenario, expectation: Expectation) -> str:
    kind, target = expectation.anchor_kind, expectation.anchor_target
    if kind == "start":
        return "from the start"
    if kind == "inject":
        try:
            return f"after inject “{scenario.inject(target or '').title}”"
        except KeyError:
            return f"after inject {target}"
    if kind == "action":
        latest = "the latest " if expectation.from_latest else ""
        try:
            return f"after {latest}{scenario.action(target or '').title.lower()}"
        except KeyError:
            return f"after {latest}{target}"
    return f"after marker {target}"


def _expected(scenario: Scenario, expectation: Expectation) -> ExpectedAction:
    try:
        action_title = scenario.action(expectation.action).title
    except KeyError:
        action_title = expectation.action
    who = "Anyone" if expectation.owner == "any" else scenario.role_title(expectation.owner or "")
    value = ", ".join(f"{k} = {v}" for k, v in expectation.value.items())
    within = expectation.within_text if expectation.calendar else _span(expectation.within)
    if expectation.day_end:
        within += f" (to the end of the day, {expectation.timezone or 'UTC'})"
    return ExpectedAction(
        id=expectation.id,
        who=who,
        what=expectation.title or action_title,
        action=expectation.action,
        within=within,
        anchor=_anchor_text(scenario, expectation),
        weight=expectation.weight,
        requires=tuple(expectation.requires),
        value=value,
        why=expectation.why,
        source=expectation.source,
    )


def _condition_text(inject: Inject) -> str:
    """A branch's condition in words: `gap-escalated is missed`, `restore_backup is recorded`."""
    when = inject.when
    if when is None:
        return ""
    return {
        "missed": f"{when.target} is missed",
        "done": f"{when.target} is recorded",
        "marker": f"marker {when.target} is set",
        "after": f"inject {when.target} is released",
    }[when.kind]


def _inject(scenario: Scenario, inject: Inject) -> GuideInject:
    if inject.when is not None:
        time = f"{_span(inject.at)} after {_condition_text(inject)}"
        clock, kind = "", "branch"
    else:
        time, clock, kind = format_offset(inject.at), _clock(scenario, inject.at), "scheduled"
    if inject.advance_to is not None:
        kind = "time jump"
    to = "everyone" if "all" in inject.to else ", ".join(scenario.role_title(r) for r in inject.to)
    return GuideInject(
        id=inject.id,
        time=time,
        clock=clock,
        kind=kind,
        channel=inject.channel,
        sender=inject.from_ or "Exercise control",
        to=to,
        title=inject.title,
        body=inject.body.rstrip(),
        condition=inject.when.describe() if inject.when else "",
        advance_to=(_clock(scenario, inject.advance_to) or format_offset(inject.advance_to))
        if inject.advance_to is not None
        else "",
        marks=tuple(inject.marks),
        objective=inject.objective,
        controller=inject.controller,
        notes=inject.notes.strip(),
        expected=tuple(_expected(scenario, e) for e in scenario.expectations_for(inject.id)),
    )


def _timing(scenario: Scenario, injects: list[Inject]) -> str:
    times = [i.at for i in injects if i.when is None]
    if not times:
        return "on conditions"
    first, last = min(times), max(times)
    text = format_offset(first) if first == last else f"{format_offset(first)} to {format_offset(last)}"
    if scenario.starts_at is not None:
        text += (
            f" ({_clock(scenario, first)}" + ("" if first == last else f" to {_clock(scenario, last)}") + ")"
        )
    return text


def _facts(scenario: Scenario) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    context = scenario.context
    for system in context.systems:
        facts.append(("System", system))
    for position in context.data_positions:
        text = f"{position.dataset}: we are {position.position}"
        if position.controller:
            text += f" for {position.controller}"
        if position.contract:
            text += f"; contract {position.contract}"
        if position.notify_controller_within is not None:
            text += f"; tell the controller within {format_duration(position.notify_controller_within)}"
        facts.append(("Personal data", text))
    if context.recovery is not None:
        recovery = context.recovery
        parts = [recovery.system or "the system"]
        if recovery.rpo is not None:
            parts.append(f"RPO {format_duration(recovery.rpo)}")
        if recovery.rto is not None:
            parts.append(f"RTO {format_duration(recovery.rto)}")
        if recovery.backup:
            parts.append(f"backup: {recovery.backup}")
        facts.append(("Recovery objectives", "; ".join(parts)))
    extra = context.model_extra or {}
    for key, value in extra.items():
        label = key.replace("_", " ").capitalize()
        if isinstance(value, dict):
            for sub, item in value.items():
                facts.append((f"{label}: {str(sub).replace('_', ' ')}", _flatten(item)))
        else:
            facts.append((label, _flatten(value)))
    return facts


def _flatten(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    return str(value)


def build_guide(scenario: Scenario) -> Guide:
    """The guide of a resolved scenario (pure: same scenario, same guide)."""
    modules: list[Module] = []
    by_phase: dict[str | None, list[Inject]] = {}
    for inject in sorted(scenario.injects, key=lambda i: (i.when is not None, i.at)):
        by_phase.setdefault(inject.phase, []).append(inject)
    for phase in scenario.phases:
        injects = by_phase.pop(phase.id, [])
        modules.append(
            Module(
                phase.id,
                phase.title,
                phase.summary,
                _timing(scenario, injects),
                tuple(phase.questions),
                tuple(_inject(scenario, i) for i in injects),
            )
        )
    rest = [i for group in by_phase.values() for i in group]
    if rest:
        modules.append(
            Module(
                "other",
                "Other injects",
                "",
                _timing(scenario, rest),
                (),
                tuple(_inject(scenario, i) for i in rest),
            )
        )
    throughout = tuple(
        _expected(scenario, e)
        for e in scenario.expectations
        if e.anchor_kind != "inject" and e.regime is None
    )
    clocks = tuple(_expected(scenario, e) for e in scenario.expectations if e.regime is not None)
    start = f"{scenario.starts_at:%A %d %B %Y, %H:%M}" if scenario.starts_at else "T+0 (no calendar time)"
    covered = _span(scenario.duration)
    return Guide(
        id=scenario.id,
        title=scenario.title,
        summary=scenario.summary,
        kind=scenario.kind,
        objectives=tuple(scenario.objectives),
        start=start,
        duration=covered,
        roles=tuple(
            (scenario.role_title(r), next((i.duty for i in scenario.role_info if i.id == r), ""))
            for r in scenario.roles
        ),
        facts=tuple(_facts(scenario)),
        modules=tuple(modules),
        throughout=throughout,
        clocks=clocks,
        avoid=tuple(
            (
                ("Anyone" if a.role is None else scenario.role_title(a.role)) + ": " + ", ".join(a.actions),
                a.detail,
            )
            for a in scenario.avoid
        ),
        hotwash=tuple(scenario.hotwash_questions()),
        responses=tuple((scenario.role_title(r.from_), r.on, r.title) for r in scenario.responses),
    )


def _md(value: Any) -> str:
    """Scenario text inside Markdown: one line, no accidental markup or HTML."""
    from tabletop.report.formats import md

    return md(value)


def _md_block(value: Any) -> str:
    """Multi-line scenario text as a fenced text block: layout kept (log lines stay aligned),
    nothing inside is read as Markdown or HTML; the fence is longer than any backtick run."""
    text = str(value or "").rstrip()
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


@lru_cache(maxsize=2)
def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False)
        if autoescape
        else False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md
    env.filters["mdblock"] = _md_block
    return env


def render_guide(guide: Guide, fmt: str = "md") -> str:
    """The guide as Markdown or self-contained printable HTML (scenario text escaped)."""
    if fmt not in FORMATS:
        raise ValueError(f"expected a format among {', '.join(FORMATS)}, received {fmt!r}")
    env = _environment(fmt == "html")
    return env.get_template(f"guide.{fmt}.j2").render(g=guide)
