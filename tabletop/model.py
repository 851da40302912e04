"""Typed model of scenarios, injects, expectations and the scoring data they draw on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from tabletop.timing import check_zone, deadline_seconds, parse_duration, parse_span

Seconds = Annotated[int, BeforeValidator(parse_duration)]
"""A duration: authored as `30m`, `1h30m`, `72h`; held as whole seconds."""

Channel = Literal["email", "chat", "phone", "alert", "ticket", "news", "briefing"]
CHANNELS: tuple[str, ...] = get_args(Channel)

Area = Literal["coordination", "data_protection", "notification", "technical", "recovery", "learning"]
AREAS: tuple[str, ...] = get_args(Area)

Kind = Literal[
    "tabletop",
    "restore",
    "failover",
    "restore-runbook",
    "failover-runbook",
    "lost-admin-account",
    "data-subject-request",
    "customer-notification",
    "incident-coordinator",
    "post-mortem",
    "manual-change-recovery",
    "iac-reconciliation",
]
KINDS: tuple[str, ...] = get_args(Kind)

Position = Literal["controller", "processor", "both"]
Requirement = Literal["required", "optional"]
Early = Literal["allowed", "not_allowed"]
"""Whether a decision made before an expectation's anchor meets it (README, "How a rehearsal
is scored"): set on a catalog action, or on an expectation to override its action's."""

ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"

SCENARIOS_KEPT = 128
"""How many scenarios a process keeps validated, with the lookups the scorer builds for each
(least recently used first out): a folder of transcripts of a hundred scenarios validates and
indexes each once. A Scenario of a 100 KB embedded JSON takes about half a megabyte."""
"""Ids are lower case letters, digits, `-` and `_` (scenario ids are kebab-case)."""


class Strict(BaseModel):
    """Base for authored data: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _as_list(value: Any) -> Any:
    """Accept a single string where a list of strings is expected (`to: all`)."""
    return [value] if isinstance(value, str) else value


StrList = Annotated[list[str], BeforeValidator(_as_list)]


# --- conditions, expectations, rules -------------------------------------------------------


def _split_months(data: Any) -> Any:
    """`within: 1mo` (calendar months, optionally with hours after) becomes `months` + `within`."""
    if isinstance(data, dict) and isinstance(data.get("within"), str) and "mo" in data["within"].lower():
        months, seconds = parse_span(data["within"])
        if months:
            data = {**data, "within": seconds, "months": int(data.get("months") or 0) + months}
    return data


DECISION_ACTIONS = ("ico_decision", "sa_decision", "data_subject_decision")
"""The controller's notification decisions: owned by the accountable decision maker (README,
"Who decides on notification, and what a processor records")."""


class FactCondition(Strict):
    """When a clock binds, from the scenario's facts (all the keys given must hold).

    `position`: the incident affects a dataset we hold in that position (`controller` includes
    `both`); `variable`: a scenario variable, `field`: `ACTION.FIELD` of the decision in force
    (the latest one recorded); either compared with `equals` or `above` (a number, strictly
    greater). `position` and `variable` are settled when the scenario is loaded, `field` when
    the run is scored.
    """

    position: Position | None = None
    variable: str | None = None
    field: str | None = None
    equals: Any = None
    above: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"position": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_subject(self) -> FactCondition:
        if self.variable and self.field:
            raise ValueError("expected one of variable or field, not both")
        if (self.variable or self.field) and self.equals is None and self.above is None:
            raise ValueError("a variable or field condition needs `equals` or `above`")
        if self.field is not None and "." not in self.field:
            raise ValueError(
                f"expected field as ACTION.FIELD, like ico_decision.outcome; received {self.field!r}"
            )
        if not (self.position or self.variable or self.field):
            raise ValueError("expected at least one of position, variable, field")
        return self

    def holds(self, value: Any) -> bool:
        """Whether a variable's or field's value meets `equals` / `above`."""
        if self.equals is not None:
            if isinstance(self.equals, str) or isinstance(value, str):
                if str(value).strip().lower() != str(self.equals).strip().lower():
                    return False
            elif value != self.equals:
                return False
        if self.above is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                return False
            try:
                if float(value) <= self.above:
                    return False
            except ValueError:
                return False
        return True

    def describe(self) -> str:
        subject = self.field or (f"variable {self.variable}" if self.variable else "")
        test = f" is {self.equals}" if self.equals is not None else ""
        test += f" above {self.above:g}" if self.above is not None else ""
        parts = [f"{subject}{test}"] if subject else []
        if self.position:
            parts.insert(0, f"the incident affects data we hold as {self.position}")
        return " and ".join(parts)


class Condition(Strict):
    """A branch condition: exactly one of missed / done / marker / after.

    `missed: EXPECTATION` is true the moment that expectation's deadline passes without its
    action; `done: ACTION` when the action is recorded; `marker: NAME` when the marker is set;
    `after: INJECT` when that inject is released.
    """

    missed: str | None = None
    done: str | None = None
    marker: str | None = None
    after: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        set_keys = [k for k in ("missed", "done", "marker", "after") if getattr(self, k)]
        if len(set_keys) != 1:
            raise ValueError(
                "expected exactly one of missed, done, marker, after; received "
                + (", ".join(set_keys) if set_keys else "none")
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("missed", "done", "marker", "after") if getattr(self, k))

    @property
    def target(self) -> str:
        return str(getattr(self, self.kind))

    def describe(self) -> str:
        return f"{self.kind}: {self.target}"


class Expectation(Strict):
    """An action a good responder is expected to take, by whom and by when.

    In a resolved scenario `owner` and `after` are always filled in: `owner` is a role id or
    `any`; `after` is `start`, `inject:ID`, `action:ID` or `marker:NAME`.
    """

    id: str = Field(pattern=ID_PATTERN)
    action: str
    owner: str | None = None
    after: str | None = None
    within: Seconds
    weight: float = Field(1.0, ge=0)
    late_credit: float = Field(0.5, ge=0, le=1)
    requires: StrList = Field(default_factory=list)
    value: dict[str, Any] = Field(default_factory=dict)
    rationale: Requirement | None = None
    early: Early | None = None
    business_days: bool = False
    title: str = ""
    why: str = ""
    source: str = ""
    regime: str | None = None
    months: int = Field(0, ge=0)
    day_end: bool = False
    roll: bool = False
    from_latest: bool = False
    timezone: str | None = None
    holidays: str | None = None
    applies_if: FactCondition | None = None

    @model_validator(mode="before")
    @classmethod
    def _months(cls, data: Any) -> Any:
        return _split_months(data)

    @property
    def calendar(self) -> bool:
        """Whether the deadline needs a calendar (months, business days, end of day, rolling)."""
        return bool(self.months or self.business_days or self.day_end or self.roll)

    @property
    def within_text(self) -> str:
        """The time limit as people say it: `72h`, `1 month`, `4 business days`."""
        from tabletop.timing import format_span

        return format_span(self.months, self.within, self.business_days, self.day_end)

    @field_validator("after")
    @classmethod
    def _anchor_form(cls, value: str | None) -> str | None:
        if value is None or value == "start":
            return value
        kind, _, target = value.partition(":")
        if kind not in ("inject", "action", "marker") or not target:
            raise ValueError(f"expected one of start, inject:ID, action:ID, marker:NAME; received {value!r}")
        return value

    @property
    def anchor_kind(self) -> str:
        return "start" if not self.after or self.after == "start" else self.after.split(":", 1)[0]

    @property
    def anchor_target(self) -> str | None:
        if self.after is None or self.anchor_kind == "start":
            return None
        return self.after.split(":", 1)[1]


class AvoidRule(Strict):
    """An anti-pattern: a role taking one of these actions is a finding with a penalty."""

    id: str = Field(pattern=ID_PATTERN)
    role: str | None = None
    actions: StrList
    penalty: float = Field(1.0, ge=0)
    detail: str = ""


class Phase(Strict):
    """A module of the exercise (CTEP style) with its discussion questions."""

    id: str = Field(pattern=ID_PATTERN)
    title: str
    summary: str = ""
    questions: StrList = Field(default_factory=list)


HotwashKind = Literal["worked", "change", "other"]
HOTWASH_KINDS: tuple[str, ...] = get_args(HotwashKind)

MAX_HOTWASH_ANSWER = 4000
"""The longest hot-wash answer, in characters (a few paragraphs: the hot wash is a quick round)."""


class HotwashQuestion(Strict):
    """A hot-wash question asked of every player at the end of a rehearsal.

    `kind` says where the post-mortem draft quotes its answers: `worked` under "What worked",
    `change` under what to change (the improvement actions), `other` (the default, and what a
    question written as plain text is) in the hot-wash section under the question itself.
    """

    question: str = Field(min_length=1)
    kind: HotwashKind = "other"

    @model_validator(mode="before")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"question": value}
        if not isinstance(value, (dict, HotwashQuestion)):
            shown = "nothing (null)" if value is None else repr(value)
            raise ValueError(
                f"expected a question (text) or a mapping with question and kind, received {shown}"
            )
        return value

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected the question's text, received an empty text")
        return value


class Response(Strict):
    """Solo practice: a simulated teammate's answer when an action is recorded.

    When the action is delegated to the responding role, its `fields` are what the teammate
    records, and its `body` is what they say they did (see `tabletop.teammates.delegated_work`).
    """

    on: str
    from_: str = Field(alias="from")
    after: Seconds = 600
    channel: Channel = "chat"
    to: StrList = Field(default_factory=lambda: ["all"])
    title: str
    body: str = ""
    marks: StrList = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict)


class Inject(Strict):
    """A piece of scenario information released to players at a time or on a condition.

    In a resolved scenario `at` is whole seconds: from the start, or for a branch (`when`),
    from the moment its condition became true. `advance_to` is the absolute sim second the
    clock jumps to when this inject is released. `expects` is empty once resolved: its
    expectations move to the scenario's list with `after: inject:ID`.
    """

    id: str = Field(pattern=ID_PATTERN)
    at: int = Field(0, ge=0)
    phase: str | None = None
    use: str | None = None
    channel: Channel = "briefing"
    from_: str = Field("", alias="from")
    to: StrList = Field(default_factory=lambda: ["all"])
    title: str = ""
    body: str = ""
    marks: StrList = Field(default_factory=list)
    affects: StrList = Field(default_factory=list)
    expects: list[Expectation] = Field(default_factory=list)
    when: Condition | None = None
    advance_to: int | None = None
    objective: str = ""
    controller: str = ""
    notes: str = ""

    def addressed_to(self, role: str) -> bool:
        return "all" in self.to or role in self.to


class DataPosition(Strict):
    """Whether we are controller or processor for a dataset, and the contract's clock.

    `id` is what an inject's `affects` names; only datasets the incident affects bind the
    notification clocks.
    """

    id: str | None = Field(None, pattern=ID_PATTERN)
    dataset: str
    position: Position
    controller: str = ""
    contact: str = ""
    contract: str = ""
    notify_controller_within: Seconds | None = None
    data_types: StrList = Field(default_factory=list)
    subjects: str = ""


class Recovery(Strict):
    """Recovery objectives a restore or failover rehearsal is measured against."""

    rpo: Seconds | None = None
    rto: Seconds | None = None
    system: str = ""
    backup: str = ""


class Context(BaseModel):
    """Facts the players and the report need; keys beyond the typed ones are free-form facts."""

    model_config = ConfigDict(extra="allow", frozen=True)

    data_positions: list[DataPosition] = Field(default_factory=list)
    systems: StrList = Field(default_factory=list)
    recovery: Recovery | None = None
    decision_owner: str | None = None
    decision_delegation: str = ""


# --- scoring data --------------------------------------------------------------------------


class Role(Strict):
    """A role a player (or a simulated teammate) plays."""

    id: str = Field(pattern=ID_PATTERN)
    title: str
    duty: str = ""


class FieldSpec(Strict):
    """A field on an action's decision form."""

    type: Literal["choice", "text", "number", "duration", "bool"] = "text"
    choices: StrList = Field(default_factory=list)
    required: bool = False
    help: str = ""

    @model_validator(mode="after")
    def _choices_for_choice(self) -> FieldSpec:
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice field needs a non-empty list of choices")
        return self


def _field_shorthand(value: Any) -> Any:
    """`outcome: [notify, not_notify]` is a required choice; `note: text` a free text field.

    The JSON form (`Action.to_json` below, what a transcript embeds) is a list of specs with a
    `name`, in the catalog's order.
    """
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        value = {str(v["name"]): {k: x for k, x in v.items() if k != "name"} for v in value}
    if not isinstance(value, dict):
        return value
    out = {}
    for name, spec in value.items():
        if isinstance(spec, list):
            spec = {"type": "choice", "choices": spec, "required": True}
        elif isinstance(spec, str):
            spec = {"type": spec}
        out[name] = spec
    return out


class Action(Strict):
    """An entry of the action catalog that players choose from."""

    id: str = Field(pattern=ID_PATTERN)
    title: str
    area: Area
    default_owner: str
    description: str = ""
    fields: Annotated[dict[str, FieldSpec], BeforeValidator(_field_shorthand)] = Field(default_factory=dict)
    rationale: Requirement = "optional"
    early: Early = "not_allowed"
    sets_marker: str | None = None
    hands_on: bool = False
    improvement: str = ""
    improvement_owner: str | None = None

    @field_serializer("fields", when_used="json")
    def _fields_in_order(self, fields: dict[str, FieldSpec]) -> list[dict[str, Any]]:
        """In JSON the fields are a list, so their order (the form's) survives canonical JSON,
        which sorts the keys of every mapping."""
        return [{"name": name, **spec.model_dump(mode="json")} for name, spec in fields.items()]


class RegimeClock(Strict):
    """A notification clock of a regime; becomes an expectation in scenarios that use it.

    `within: contract` takes the shortest `notify_controller_within` of the affected
    processor datasets; `applies_if` keeps the clock only when its condition holds (a
    position of a dataset the incident `affects`, a scenario variable, a recorded field);
    `starts_on: decision` marks a clock the law starts from a decision (DORA classification,
    SEC materiality) rather than from facts an inject delivers; `from_latest` runs an
    action-anchored clock from the latest decision of that action. Every clock has a source.
    """

    id: str = Field(pattern=ID_PATTERN)
    title: str
    action: str
    after: str
    within: Seconds | Literal["contract"]
    months: int = Field(0, ge=0)
    business_days: bool = False
    day_end: bool = False
    roll: bool = False
    starts_on: Literal["facts", "decision"] = "facts"
    from_latest: bool = False
    owner: str | None = None
    weight: float = Field(2.0, ge=0)
    late_credit: float = Field(0.5, ge=0, le=1)
    rationale: Requirement | None = None
    early: Early | None = None
    value: dict[str, Any] = Field(default_factory=dict)
    requires: StrList = Field(default_factory=list)
    applies_if: FactCondition | None = None
    source: str = Field(min_length=1)
    why: str = ""

    @model_validator(mode="before")
    @classmethod
    def _months(cls, data: Any) -> Any:
        return _split_months(data)

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, value: Any) -> Any:
        return value if value == "contract" else parse_duration(value)


class Regime(Strict):
    """A notification regime: its clocks, each anchored on the marker the law starts from.

    `timezone` (IANA) and `holidays` (a calendar of `tabletop.timing.HOLIDAY_CALENDARS`) are
    where the law counts its days: business days skip the holidays, day-counted deadlines end
    at the end of the day there.
    """

    id: str = Field(pattern=ID_PATTERN)
    title: str
    source: str
    jurisdiction: str = ""
    timezone: str = "UTC"
    holidays: str = ""
    notes: str = ""
    clocks: list[RegimeClock]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: str) -> str:
        from tabletop.timing import HOLIDAY_CALENDARS

        if value and value not in HOLIDAY_CALENDARS:
            raise ValueError(
                f"unknown holiday calendar {value!r}; expected one of: {', '.join(HOLIDAY_CALENDARS)}"
            )
        return value


class RubricSet(Strict):
    """A named set of expectations and avoid-rules that scenarios include by id."""

    id: str = Field(pattern=ID_PATTERN)
    title: str
    description: str = ""
    expectations: list[Expectation] = Field(default_factory=list)
    avoid: list[AvoidRule] = Field(default_factory=list)


# --- the scenario --------------------------------------------------------------------------


class Scenario(Strict):
    """A rehearsal. Resolved by the loader into a self-contained, fully rendered form.

    A resolved scenario has every `use:` merged, every text rendered with its `values`, all
    expectations (inline, rubric sets, regime clocks) in `expectations` with owner and anchor
    filled in, and `actions` / `role_info` holding the catalog it was resolved against, so that
    a transcript embedding it can be scored years later whatever happened to the files.
    """

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    title: str
    summary: str = ""
    kind: Kind = "tabletop"
    objectives: StrList = Field(default_factory=list)
    starts_at: datetime | None = None
    duration: Seconds
    speed: float = Field(60.0, gt=0)
    seed: int = 0
    roles: StrList = Field(min_length=1)
    regimes: StrList = Field(default_factory=list)
    rubric: StrList = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, Any] = Field(default_factory=dict)
    context: Context = Field(default_factory=Context)
    phases: list[Phase] = Field(default_factory=list)
    injects: list[Inject] = Field(min_length=1)
    responses: list[Response] = Field(default_factory=list)
    expectations: list[Expectation] = Field(default_factory=list)
    avoid: list[AvoidRule] = Field(default_factory=list)
    hotwash: Annotated[list[HotwashQuestion], BeforeValidator(_as_list)] = Field(default_factory=list)
    delegate_delay: Seconds = 600
    actions: list[Action] = Field(default_factory=list)
    role_info: list[Role] = Field(default_factory=list)

    # lookups ------------------------------------------------------------------------------
    def inject(self, inject_id: str) -> Inject:
        for inject in self.injects:
            if inject.id == inject_id:
                return inject
        raise KeyError(inject_id)

    def action(self, action_id: str) -> Action:
        for action in self.actions:
            if action.id == action_id:
                return action
        raise KeyError(action_id)

    def action_map(self) -> dict[str, Action]:
        return {a.id: a for a in self.actions}

    def expectation(self, expectation_id: str) -> Expectation:
        for expectation in self.expectations:
            if expectation.id == expectation_id:
                return expectation
        raise KeyError(expectation_id)

    def expectations_for(self, inject_id: str) -> list[Expectation]:
        anchor = f"inject:{inject_id}"
        return [e for e in self.expectations if e.after == anchor]

    def phase(self, phase_id: str) -> Phase:
        for phase in self.phases:
            if phase.id == phase_id:
                return phase
        raise KeyError(phase_id)

    def role_title(self, role_id: str) -> str:
        for role in self.role_info:
            if role.id == role_id:
                return role.title
        return role_id.replace("_", " ")

    def hotwash_questions(self) -> list[str]:
        """The hot-wash questions' texts, in order (what an answer names as its `question`)."""
        return [q.question for q in self.hotwash]

    def hotwash_question(self, text: str) -> HotwashQuestion | None:
        """The hot-wash question whose text is `text`, or None."""
        return next((q for q in self.hotwash if q.question == text), None)

    @field_serializer("hotwash")
    def _hotwash_json(self, questions: list[HotwashQuestion]) -> list[Any]:
        # a question of the default kind stays plain text, as it was authored before kinds
        # existed: the scenario a transcript embeds reads the same either way
        return [
            q.question if q.kind == "other" else {"question": q.question, "kind": q.kind} for q in questions
        ]

    def to_json(self) -> dict[str, Any]:
        """The resolved scenario as plain JSON data (what a transcript embeds)."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scenario:
        return cls.model_validate(data)


# --- rules every part of the tool applies the same way --------------------------------------


def session_end(scenario: Scenario) -> int:
    """The sim second a session of `scenario` ends: T+`duration`.

    `duration` is the sim time covered from the start, the time that `advance_to` jumps skip
    included (as authors write it: starts 08:40, `duration: 27h30m` ends on day 2 at 12:10).
    The engine ends sessions here, the loader and scripts check times against it.
    """
    return scenario.duration


def expectation_deadline(scenario: Scenario, expectation: Expectation, anchor: float) -> float:
    """When `expectation`, anchored at sim second `anchor`, falls due.

    The one deadline rule: the engine schedules `missed:` branches on it, the scorer grades on
    it (and with it the facilitator's live score, the solo hints and the debrief, which read a
    scorecard), `tabletop show` estimates branch times with it and the validator checks
    reachability with it. Hours are clock hours; `months` count to the corresponding date;
    `business_days` skip weekends and the regime's holidays; `day_end` ends the day in the
    regime's time zone; `roll` moves a due date off a weekend or holiday
    (`tabletop.timing.deadline_seconds`). Without a `starts_at` a calendar limit is
    approximated (a month as 30 days, business days as calendar days): `deadline_warning`.
    """
    return deadline_from(scenario.starts_at, expectation, anchor)


def deadline_from(starts_at: datetime | None, expectation: Expectation, anchor: float) -> float:
    """`expectation_deadline` for a scenario (or a draft being validated) that starts at `starts_at`."""
    return deadline_seconds(starts_at, anchor, expectation)[0]


def deadline_warning(scenario: Scenario, expectation: Expectation) -> str | None:
    """Why `expectation_deadline` is only approximate for this scenario, or None when it is exact."""
    return deadline_seconds(scenario.starts_at, 0, expectation)[1]


def action_anchor(expectation: Expectation, recorded: Iterable[float], done_at: float | None) -> float | None:
    """Where an `action:ID` anchor stands, given the times that action was recorded (any order).

    The first recording; with `from_latest`, the latest recording at or before `done_at` (when
    the expectation's own action was first recorded; None while it is not), so a second
    intermediate report moves the final report's clock and one made after the final report
    does not. None when the action was never recorded. The engine, the scorer and every view
    that shows a deadline take the anchor from here.
    """
    times = sorted(float(t) for t in recorded)
    if not times:
        return None
    if not expectation.from_latest:
        return times[0]
    earlier = [t for t in times if done_at is None or t <= done_at]
    return earlier[-1] if earlier else times[0]
