"""The programme file (`programme.yaml`): teams, the rehearsals each stage asks for and how often, and the risk rule.

A scenario repo keeps one `programme.yaml` at its top level; a folder of transcripts finds the
nearest one above it (as a scenario finds `scoring/`), and otherwise the one that ships with
tabletop. It is validated like a scenario: every problem at once, as FILE:LINE:COL: key:
message, with "did you mean" for a misspelt key or id.

    stage: production                  # where the company says it is: one of the stages' ids
    teams:
      - {id: payments, title: Payments platform}
      - {id: data, title: Data platform, kinds: [restore, data-subject-request]}
    risk_register:
      material_when: {residual_at_least: High, regulatory_duty: true}
    stages:                            # lowest first
      - id: pre_production
        title: Before Production
        rehearsals:
          - {kind: restore, every: 3mo, rating_at_least: S, source: "..."}
        requires:
          - {check: followups_on_time, source: "..."}

Each stage lists everything it asks for: its `rehearsals` (each team keeps every listed kind
current: its last counted run is no older than `every`, a calendar interval such as `3mo`,
`1y`, `6w` or `90d`, and rated at least `rating_at_least` when given) and its `requires`
checks (see CHECKS). A team with `kinds` rehearses only those kinds. The stage the evidence
supports is the highest stage whose every requirement is met (`tabletop.programme.status`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from dateutil.relativedelta import relativedelta
from pydantic import Field, field_validator

from tabletop.model import ID_PATTERN, Kind, Strict
from tabletop.problems import Problem, ScenarioError, Span, did_you_mean, kind_of, validate_model
from tabletop.risk import MaterialRule

PROGRAMME_NAME = "programme.yaml"

Rating = Literal["P", "S", "M", "U"]
RATING_ORDER = "PSMU"
"""HSEEP ratings, best first."""

Check = Literal["followups_on_time", "risks_reviewed", "material_risks_owned"]
CHECKS: dict[str, str] = {
    "followups_on_time": "no follow-up action is open past its due date",
    "risks_reviewed": "no accepted risk is past its review date",
    "material_risks_owned": "every material risk has an owner and a review date",
}
"""What each `requires` check asks of the evidence."""

_INTERVAL = re.compile(r"^(?:(\d{1,3})y)?(?:(\d{1,3})mo)?(?:(\d{1,3})w)?(?:(\d{1,4})d)?$")
MAX_INTERVAL_DAYS = 10 * 366


@dataclass(frozen=True)
class Interval:
    """A calendar interval: months (a year is twelve) and days (a week is seven)."""

    months: int
    days: int
    text: str

    def after(self, start: date) -> date:
        """The date this interval after `start` (a month to the corresponding date)."""
        result: date = start + relativedelta(months=self.months, days=self.days)
        return result


def parse_interval(value: object) -> Interval:
    """`3mo`, `1y`, `1y6mo`, `6w`, `90d` as an Interval; raises ValueError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected an interval like 3mo, 1y, 6w or 90d, received {value!r}")
    text = value.strip().lower()
    match = _INTERVAL.match(text)
    if match is None or not any(match.groups()):
        raise ValueError(f"expected an interval like 3mo, 1y, 6w or 90d, received {value!r}")
    years, months, weeks, days = (int(part or 0) for part in match.groups())
    interval = Interval(years * 12 + months, weeks * 7 + days, text)
    if interval.months * 31 + interval.days > MAX_INTERVAL_DAYS:
        raise ValueError(f"an interval of at most ten years, received {value!r}")
    if interval.months == 0 and interval.days == 0:
        raise ValueError(f"an interval longer than nothing, received {value!r}")
    return interval


class Rehearsal(Strict):
    """A kind of rehearsal a stage asks every team to keep current."""

    kind: Kind
    every: str
    rating_at_least: Rating | None = None
    source: str = ""

    @field_validator("every", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        parse_interval(value)
        return value

    @property
    def interval(self) -> Interval:
        return parse_interval(self.every)


class Requirement(Strict):
    """A check of the evidence a stage asks for (see CHECKS)."""

    check: Check
    source: str = ""

    @property
    def text(self) -> str:
        return CHECKS[self.check]


class Stage(Strict):
    """A stage of the company and what it asks for as evidence."""

    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    summary: str = ""
    source: str = ""
    rehearsals: list[Rehearsal] = Field(default_factory=list)
    requires: list[Requirement] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return self.title or self.id


class Team(Strict):
    """A team that rehearses; `kinds`, when given, limits which kinds it keeps current."""

    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    kinds: list[Kind] | None = None

    @property
    def name(self) -> str:
        return self.title or self.id

    def rehearses(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


class RiskRegister(Strict):
    """The programme's rule for the company risk register."""

    material_when: MaterialRule = Field(default_factory=MaterialRule)


class Programme(Strict):
    """The whole programme file."""

    stage: str
    teams: list[Team] = Field(min_length=1)
    stages: list[Stage] = Field(min_length=1)
    risk_register: RiskRegister = Field(default_factory=RiskRegister)

    def team(self, team_id: str) -> Team | None:
        return next((t for t in self.teams if t.id == team_id), None)

    def stage_index(self, stage_id: str) -> int:
        return next(i for i, s in enumerate(self.stages) if s.id == stage_id)

    @property
    def current(self) -> Stage:
        return self.stages[self.stage_index(self.stage)]

    def kinds_for(self, team: Team, stage: Stage | None = None) -> list[Rehearsal]:
        """The rehearsals `stage` (default: the company's) asks of `team`."""
        stage = stage or self.current
        return [r for r in stage.rehearsals if team.rehearses(r.kind)]


# --- reading and checking -------------------------------------------------------------------


def check_programme(path: Path | str) -> tuple[Programme | None, list[Problem]]:
    """The programme in `path` and every problem with it (the programme is None when any)."""
    from tabletop.catalog import read_doc

    path = Path(path)
    problems: list[Problem] = []
    doc = read_doc(path, problems)
    if doc is None:
        return None, problems
    span = Span(doc, ())
    if not isinstance(doc.data, dict):
        return None, [
            *problems,
            span.problem(f"expected a mapping (stage, teams, stages), received {kind_of(doc.data)}"),
        ]
    programme = validate_model(Programme, doc.data, span, problems)
    problems.extend(_cross_checks(doc.data, span))
    if problems:
        return None, problems
    return programme, []


def _ids(items: Any) -> list[tuple[int, Any]]:
    return (
        [(i, item.get("id")) for i, item in enumerate(items) if isinstance(item, dict)]
        if isinstance(items, list)
        else []
    )


def _cross_checks(data: dict[str, Any], span: Span) -> list[Problem]:
    """What the model alone cannot see: repeated ids and kinds, and a stage that names no stage."""
    problems: list[Problem] = []
    for plural in ("teams", "stages"):
        seen: dict[Any, int] = {}
        for index, item_id in _ids(data.get(plural)):
            if item_id in seen:
                problems.append(
                    span.child(plural)
                    .child(index)
                    .child("id")
                    .problem(
                        f"{plural[:-1]} id {item_id!r} is given twice (first as {plural}.{seen[item_id]})"
                    )
                )
            elif isinstance(item_id, str):
                seen[item_id] = index
    stage_ids = [item_id for _, item_id in _ids(data.get("stages")) if isinstance(item_id, str)]
    stage = data.get("stage")
    if isinstance(stage, str) and stage_ids and stage not in stage_ids:
        problems.append(
            span.child("stage").problem(
                f"expected one of the stages' ids: {', '.join(stage_ids)}; received {stage!r}"
                + did_you_mean(stage, stage_ids)
            )
        )
    stages = data.get("stages")
    for index, stage_data in enumerate(stages if isinstance(stages, list) else []):
        if not isinstance(stage_data, dict):
            continue
        for plural, key in (("rehearsals", "kind"), ("requires", "check")):
            seen = {}
            items = stage_data.get(plural)
            for position, item in enumerate(items if isinstance(items, list) else []):
                value = item.get(key) if isinstance(item, dict) else None
                if not isinstance(value, str):
                    continue
                if value in seen:
                    problems.append(
                        span.child("stages")
                        .child(index)
                        .child(plural)
                        .child(position)
                        .child(key)
                        .problem(
                            f"{key} {value!r} is listed twice in this stage (first as {plural}.{seen[value]})"
                        )
                    )
                else:
                    seen[value] = position
    return problems


def load_programme(path: Path | str) -> Programme:
    """The programme in `path`; raises ScenarioError listing every problem."""
    programme, problems = check_programme(path)
    if programme is None:
        raise ScenarioError(problems)
    return programme


def bundled_programme() -> Path | None:
    """The `programme.yaml` that ships with tabletop (None when it is missing)."""
    from tabletop.datafolders import data_roots

    for root in data_roots():
        candidate = root / PROGRAMME_NAME
        if candidate.is_file():
            return candidate
    return None


_RULES: dict[tuple[str, int], MaterialRule] = {}


def register_rule(start: Path | str | None) -> MaterialRule:
    """The company risk-register rule that applies to a transcript at `start`: the nearest
    programme file's (`find_programme`), else the default. A programme file with problems gives
    the default too (`tabletop validate` reports them); the post-mortem draft and the programme
    apply this one rule, so a risk goes to the register in both or in neither."""
    path = find_programme(start)
    if path is None:
        return MaterialRule()
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return MaterialRule()
    if key not in _RULES:
        programme, _ = check_programme(path)
        _RULES[key] = programme.risk_register.material_when if programme is not None else MaterialRule()
    return _RULES[key]


def find_programme(start: Path | str | None) -> Path | None:
    """The nearest `programme.yaml` at or above `start` (a folder or a file), else the bundled one."""
    if start is not None:
        resolved = Path(start).resolve()
        folder = resolved if resolved.is_dir() else resolved.parent
        for parent in [folder, *folder.parents]:
            candidate = parent / PROGRAMME_NAME
            if candidate.is_file():
                return candidate
    return bundled_programme()
