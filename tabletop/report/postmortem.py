"""Build a PostMortem from a run: what happened, the breach record, risks, clocks, improvement plan.

The draft is blameless (Google SRE and PagerDuty post-mortem templates): it describes the
system, not the people. It opens with the trigger and the detection time, then what happened,
the contributing factors (what in the scenario's facts, tools, runbooks and handovers made a
step hard), the signals that were available and not acted on (injects whose facts went
unanswered), where we got lucky, what worked (steps met on time without flags), and specific
improvement actions drawn from the action catalog (each action's `improvement` and
`improvement_owner`), due a set time after the rehearsal date (the transcript's wall time),
never the scenario's fictional start. Each improvement action has a stable id (`FU-...`,
`tabletop.followups`), so that a later rehearsal or a manager can close it. The score, the ratings and the scorecard are an appendix.
Pauses and speed changes are how the run was played, not part of the incident: they stay out
of the timeline.

Only what the transcript holds goes in: every breach-record field comes from the action field
that records it (`tabletop.breach_record`) and reads "not recorded" when nobody recorded it,
never filled from another field, the scenario's own script or invented. Where a value is
derived (a risk level from the NIST table, a proposed due date), the entry says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from tabletop import events as ev
from tabletop.breach_record import BREACH_RECORD
from tabletop.followups import DEFAULT_DUE_DAYS, followup_id, parse_date
from tabletop.model import DECISION_ACTIONS, Inject, Scenario
from tabletop.risk import MaterialRule, level_name, matrix, try_risk_level
from tabletop.scoring import (
    LATE,
    MET,
    MISSED,
    OPEN,
    RATING_NAMES,
    RULES_VERSION,
    ExpectationResult,
    Scorecard,
    bands_text,
    conditions_text,
)
from tabletop.timing import TimeFormatError, format_duration, format_offset, parse_duration, sim_datetime

NOT_RECORDED = "not recorded"

FOLLOWUP_DAYS = DEFAULT_DUE_DAYS
"""Days after the rehearsal date that a proposed improvement action is due (no player set one)."""

CLOSE_CALL = 0.1
"""A step met with less than this share of its time window left was a close call (luck)."""

CONTAINMENT_ACTIONS = (
    "contain",
    "revoke_access",
    "reset_credentials",
    "break_glass",
    "rotate_keys",
    "emergency_change",
    "remove_temporary_fix",
    "rollback",
    "restore_backup",
    "failover",
    "confirm_data_integrity",
    "confirm_service_restored",
    "reconcile_iac",
    "capture_manual_change",
)
COMMUNICATION_ACTIONS = (
    "status_update",
    "internal_update",
    "customer_comms",
    "supplier_comms",
    "notify_controller",
    "notify_ico",
    "notify_regulator",
    "notify_data_subjects",
    "nis2_early_warning",
    "nis2_notification",
    "nis2_inform_recipients",
    "dora_initial_report",
    "dora_inform_clients",
    "sec_8k_filing",
    "hipaa_notify_individuals",
    "hipaa_notify_hhs",
    "hipaa_notify_media",
    "state_notify_residents",
    "state_notify_attorney_general",
)
NOT_SENT_DECISIONS = ("ico_decision", "sa_decision", "data_subject_decision")

AREA_TITLES = {
    "coordination": "Coordination",
    "data_protection": "Data protection",
    "notification": "Notification and communication",
    "technical": "Technical response",
    "recovery": "Recovery",
    "learning": "Learning and risk",
    "other": "Other",
}


# --- the parts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline: sim time, wall time, what happened and who did it."""

    t: float
    offset: str
    sim_time: str | None
    wall: str
    kind: str
    who: str
    text: str
    detail: str = ""


@dataclass(frozen=True)
class RecordField:
    """A breach-record field: its value as the players established it, or "not recorded"."""

    label: str
    value: str
    source: str = ""

    @property
    def recorded(self) -> bool:
        return self.value != NOT_RECORDED


@dataclass(frozen=True)
class Risk:
    """A risk the team remediated, accepted or tracked, with inherent and residual levels,
    which mitigation lowers the likelihood and which the impact, and any regulatory duty."""

    title: str
    owner: str
    treatment: str
    likelihood: str
    impact: str
    inherent: str
    residual_likelihood: str
    residual_impact: str
    residual: str
    lowers: str
    register: str
    register_reason: str
    recorded_at: str
    recorded_by: str
    rationale: str = ""
    review_by: str = ""
    likelihood_mitigation: str = ""
    impact_mitigation: str = ""
    duty: str = ""
    register_recorded: bool | None = None
    """The team's own answer on `record_risk` (`register: true/false`), None when not given."""


@dataclass(frozen=True)
class ImprovementItem:
    """A corrective action of the improvement plan (HSEEP AAR/IP): action, owner, due date.

    `id` is the follow-up's stable id; `owner_role` the role that owns it (a role id, or the
    owner as the team wrote it); `due_date` the due date as `YYYY-MM-DD` (empty when the team
    wrote something else); `action_id` the catalog action it improves and `expectations` the
    expectations it came from (both empty for the team's own follow-ups).
    """

    action: str
    owner: str
    due: str
    capability: str
    source: str
    ticket: str = ""
    id: str = ""
    owner_role: str = ""
    due_date: str = ""
    action_id: str = ""
    expectations: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecoveryCheck:
    """An RPO or RTO: the objective against what was achieved."""

    measure: str
    objective: str
    achieved: str
    status: str
    note: str = ""


@dataclass(frozen=True)
class CapabilityRating:
    """An HSEEP P/S/M/U rating of one capability (an action area)."""

    area: str
    title: str
    ratio: float
    rating: str
    meaning: str
    passed: int
    applicable: int


@dataclass(frozen=True)
class Observation:
    """A sentence of the narrative sections (signals missed, harder, worked well)."""

    t: float | None
    when: str
    text: str


@dataclass(frozen=True)
class Clock:
    """A notification clock as the report shows it."""

    title: str
    regime: str
    source: str
    rule: str
    anchor: str
    deadline: str
    done: str
    by: str
    status: str
    deadline_t: float | None


@dataclass(frozen=True)
class HotwashAnswer:
    """An answer given in the hot wash, attributed to the role that gave it, never to a person."""

    role: str
    text: str


@dataclass(frozen=True)
class HotwashItem:
    """A hot-wash question, its kind (where its answers are quoted) and the answers it got."""

    question: str
    kind: str
    answers: tuple[HotwashAnswer, ...] = ()


@dataclass(frozen=True)
class PostMortem:
    """Everything the post-mortem draft says, as plain data the templates render."""

    scenario_id: str
    title: str
    kind: str
    summary: str
    objectives: tuple[str, ...]
    starts_at: str | None
    session_wall: str
    participants: tuple[str, ...]
    mode: str
    team: str
    duration: str
    ended_at: float
    score: float
    rating: str
    rating_meaning: str
    passed: int
    applicable: int
    headline: tuple[str, ...]
    trigger: str
    detection: str
    timeline: tuple[TimelineEntry, ...]
    impact: tuple[RecordField, ...]
    signals_missed: tuple[Observation, ...]
    harder: tuple[Observation, ...]
    worked_well: tuple[Observation, ...]
    lucky: tuple[Observation, ...]
    improvement_plan: tuple[ImprovementItem, ...]
    risks: tuple[Risk, ...]
    breach_record: tuple[RecordField, ...]
    ico_decision: tuple[RecordField, ...]
    clocks: tuple[Clock, ...]
    recovery: tuple[RecoveryCheck, ...]
    capabilities: tuple[CapabilityRating, ...]
    rating_bands: str
    findings: tuple[Observation, ...]
    expectations: tuple[dict[str, Any], ...]
    hotwash: tuple[str, ...]
    risk_matrix: tuple[tuple[str, tuple[str, ...]], ...]
    warnings: tuple[str, ...] = field(default=())
    link: str = ""
    scorecard: dict[str, Any] = field(default_factory=dict)
    score_text: str = ""
    coverage: str = ""
    conditions: str = ""
    caps: tuple[str, ...] = ()
    verification: str = ""
    """What `tabletop verify` says of the transcript (its headline), shown first; empty when not checked."""
    verification_status: str = ""
    hotwash_items: tuple[HotwashItem, ...] = ()
    """Each hot-wash question with its answers (the latest of each person, by role)."""
    hotwash_open: bool = False
    """True when players had answered and the hot wash was not closed yet: more may come."""

    @property
    def hotwash_worked(self) -> tuple[HotwashItem, ...]:
        """The answered questions whose answers are quoted under "What worked"."""
        return tuple(i for i in self.hotwash_items if i.kind == "worked" and i.answers)

    @property
    def hotwash_change(self) -> tuple[HotwashItem, ...]:
        """The answered questions whose answers are quoted under what to change."""
        return tuple(i for i in self.hotwash_items if i.kind == "change" and i.answers)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- helpers -------------------------------------------------------------------------------


def _hotwash(
    scenario: Scenario, events: list[dict[str, Any]], role: Callable[[str | None], str]
) -> tuple[HotwashItem, ...]:
    """Each hot-wash question with its answers: the latest answer of each person to it, in the
    order people first answered, attributed to their role's title (the draft is blameless: it
    names no person). Answers to a question the scenario does not ask are left out."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for event in events:
        if event.get("type") != ev.HOTWASH_ANSWER:
            continue
        key = (_text(event.get("question")), _text(event.get("by")), _text(event.get("role")))
        latest[key] = event  # a later answer replaces an earlier one in its place
    items = []
    for question in scenario.hotwash:
        answers = tuple(
            HotwashAnswer(role(str(event.get("role"))), _text(event.get("text")))
            for (asked, _, _), event in latest.items()
            if asked == question.question and _text(event.get("text"))
        )
        items.append(HotwashItem(question.question, question.kind, answers))
    return tuple(items)


def _text(value: Any) -> str:
    """A field value as text; empty values are "" (the caller decides on "not recorded")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value if _text(v))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items() if _text(v))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _person(name: str, role: str) -> str:
    """`Sam Okafor (Incident coordinator)`; `Tom, Technical lead (operations)` when the role has brackets."""
    if not name or name.lower() == role.lower():
        return role
    return f"{name}, {role}" if "(" in role else f"{name} ({role})"


def _wall(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _t(event: dict[str, Any] | None) -> float:
    """An event's sim time in seconds (0 for a missing or unreadable one)."""
    value = (event or {}).get("t")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _clean_decision(event: dict[str, Any]) -> dict[str, Any]:
    """A decision with `fields` a dict and `action` a string, whatever a hand-edited file holds."""
    if isinstance(event.get("fields"), dict) and isinstance(event.get("action"), str):
        return event
    return {
        **event,
        "fields": event["fields"] if isinstance(event.get("fields"), dict) else {},
        "action": event["action"] if isinstance(event.get("action"), str) else "",
    }


class _Run:
    """Lookups over one run's events, and the scenario's names for things."""

    def __init__(self, scenario: Scenario, events: Iterable[dict[str, Any]]):
        self.scenario = scenario
        self.events = list(events)
        self.actions = scenario.action_map()
        self.decisions = [_clean_decision(e) for e in self.events if e.get("type") == ev.DECISION]
        self._when: dict[float, str] = {}

    def when(self, t: float | None) -> str:
        if t is None:
            return ""
        text = self._when.get(t)
        if text is None:
            moment = sim_datetime(self.scenario.starts_at, t)
            offset = format_offset(t)
            text = self._when[t] = f"{offset} ({moment:%a %d %b %H:%M})" if moment else offset
        return text

    def role(self, role: str | None) -> str:
        return self.scenario.role_title(role) if isinstance(role, str) and role else "nobody"

    def role_or_any(self, role: str | None) -> str:
        return "any role" if role == "any" else self.role(role)

    def who(self, event: dict[str, Any]) -> str:
        return _person(_text(event.get("by")), self.role(event.get("role")))

    def action_title(self, action_id: str) -> str:
        if not isinstance(action_id, str):
            return "unreadable action"
        action = self.actions.get(action_id)
        return action.title if action else action_id.replace("_", " ")

    def of(self, *action_ids: str) -> list[dict[str, Any]]:
        return [d for d in self.decisions if d.get("action") in action_ids]

    def latest(self, action_id: str) -> dict[str, Any] | None:
        found = self.of(action_id)
        return found[-1] if found else None

    def field(self, label: str, sources: list[tuple[str, str]], *, join: bool = False) -> RecordField:
        """The latest non-empty value among (action, field) pairs, or every value when `join`."""
        hits: list[tuple[float, str, str]] = []
        for decision in self.decisions:
            fields = decision.get("fields") or {}
            for action_id, key in sources:
                if decision.get("action") == action_id and _text(fields.get(key)):
                    source = (
                        f"{self.action_title(action_id)}, {self.who(decision)}, {self.when(_t(decision))}"
                    )
                    hits.append((_t(decision), _text(fields.get(key)), source))
        if not hits:
            return RecordField(label, NOT_RECORDED)
        if join:
            values = list(dict.fromkeys(v for _, v, _ in hits))
            return RecordField(label, "; ".join(values), hits[-1][2])
        _, value, source = hits[-1]
        return RecordField(label, value, source)

    def decided(self, label: str, action_id: str, describe: Callable[[dict[str, Any]], str]) -> RecordField:
        decision = self.latest(action_id)
        if decision is None:
            return RecordField(label, NOT_RECORDED)
        return RecordField(label, describe(decision), f"{self.who(decision)}, {self.when(_t(decision))}")


# --- sections ------------------------------------------------------------------------------


def _timeline(run: _Run) -> list[TimelineEntry]:
    entries = []
    for event in run.events:
        kind = event.get("type")
        t = _t(event)
        entry = partial(
            TimelineEntry,
            t=t,
            offset=format_offset(t),
            sim_time=(
                f"{sim_datetime(run.scenario.starts_at, t):%a %d %b %H:%M}"
                if run.scenario.starts_at
                else None
            ),
            wall=_wall(event.get("wall")),
        )
        if kind == ev.SESSION_STARTED:
            entries.append(entry(kind="start", who="", text="Rehearsal started"))
        elif kind == ev.INJECT_RELEASED:
            sender = _text(event.get("from"))
            condition = event.get("condition") or {}
            why = ""
            if isinstance(condition, dict) and condition:
                key, value = next(iter(condition.items()))
                why = f"released because {key}: {value}"
            entries.append(
                entry(
                    kind="inject",
                    who=sender or _text(event.get("channel")),
                    text=_text(event.get("title")) or _text(event.get("inject")),
                    detail=why,
                )
            )
        elif kind == ev.DECISION:
            fields = _text(event.get("fields") or {})
            detail = "; ".join(
                p
                for p in (fields, _text(event.get("rationale")) and f"why: {_text(event.get('rationale'))}")
                if p
            )
            if event.get("delegated_by"):
                detail = (
                    detail + "; " if detail else ""
                ) + f"delegated by {run.role(event.get('delegated_by'))}"
            entries.append(
                entry(
                    kind="decision",
                    who=run.who(event),
                    text=run.action_title(event.get("action") or ""),
                    detail=detail,
                )
            )
        elif kind == ev.DELEGATION:
            timebox = event.get("timebox")
            box = f" within {format_duration(timebox)}" if isinstance(timebox, (int, float)) else ""
            entries.append(
                entry(
                    kind="delegation",
                    who=run.who(event),
                    text=f"Asked {run.role(event.get('to_role'))} to {run.action_title(event.get('action') or '').lower()}{box}",
                )
            )
        elif kind == ev.NOTE:
            entries.append(entry(kind="note", who=run.who(event), text=_text(event.get("text"))))
        elif kind == ev.MARKER_SET:
            entries.append(
                entry(
                    kind="marker",
                    who=_text(event.get("source")),
                    text=f"Marker '{_text(event.get('marker'))}' set",
                )
            )
        elif kind == ev.CLOCK:
            # pauses, speed changes and checkpoints are how the run was played, not the incident
            if _text(event.get("op")) == "jump":
                to_t = event.get("to_t")
                to = float(to_t) if isinstance(to_t, (int, float)) and not isinstance(to_t, bool) else t
                entries.append(entry(kind="clock", who="", text=f"Time moves on to {run.when(to)}"))
        elif kind == ev.FACILITATOR:
            op = _text(event.get("op"))
            if op in ("join", "leave"):
                continue
            entries.append(
                entry(
                    kind="facilitator",
                    who="facilitator",
                    text=f"{op.replace('_', ' ')} {_text(event.get('inject'))}".strip(),
                    detail=_text(event.get("detail") or {}),
                )
            )
        elif kind == ev.SESSION_ENDED:
            entries.append(
                entry(
                    kind="end",
                    who="",
                    text=f"Rehearsal ended ({_text(event.get('reason'))})",
                )
            )
    return entries


def _risks(run: _Run, rule: MaterialRule) -> list[Risk]:
    risks: dict[str, Risk] = {}
    for decision in run.of("record_risk", "accept_risk"):
        fields = decision.get("fields") or {}
        title = _text(fields.get("risk")) or NOT_RECORDED
        key = title.lower()
        when = run.when(_t(decision))
        if decision.get("action") == "record_risk":
            likelihood, impact = fields.get("likelihood"), fields.get("impact")
            r_likelihood, r_impact = fields.get("residual_likelihood"), fields.get("residual_impact")
            inherent = try_risk_level(likelihood, impact)
            residual = try_risk_level(r_likelihood, r_impact)
            risk = Risk(
                title=title,
                owner=_text(fields.get("owner")) or NOT_RECORDED,
                treatment=_text(fields.get("treatment")) or NOT_RECORDED,
                likelihood=_level(likelihood),
                impact=_level(impact),
                inherent=inherent or NOT_RECORDED,
                residual_likelihood=_level(r_likelihood),
                residual_impact=_level(r_impact),
                residual=residual or NOT_RECORDED,
                lowers=_text(fields.get("mitigation_lowers")) or NOT_RECORDED,
                register="",
                register_reason="",
                recorded_at=when,
                recorded_by=run.who(decision),
                rationale=_text(decision.get("rationale")),
                review_by=_text(fields.get("review_by")),
                likelihood_mitigation=_text(fields.get("likelihood_mitigation")),
                impact_mitigation=_text(fields.get("impact_mitigation")),
                duty=_text(fields.get("duty")),
            )
            previous = risks.get(key)
            if previous is not None and previous.treatment == "accept":
                risk = _replace(
                    risk,
                    treatment="accept",
                    review_by=risk.review_by or previous.review_by,
                    rationale=risk.rationale or previous.rationale,
                )
            risks[key] = risk
        else:
            previous = risks.get(key)
            if previous is None:
                previous = Risk(
                    title=title,
                    owner=run.who(decision),
                    treatment="accept",
                    likelihood=NOT_RECORDED,
                    impact=NOT_RECORDED,
                    inherent=NOT_RECORDED,
                    residual_likelihood=NOT_RECORDED,
                    residual_impact=NOT_RECORDED,
                    residual=NOT_RECORDED,
                    lowers=NOT_RECORDED,
                    register="",
                    register_reason="",
                    recorded_at=when,
                    recorded_by=run.who(decision),
                )
            risks[key] = _replace(
                previous,
                treatment="accept",
                review_by=_text(fields.get("review_by")) or NOT_RECORDED,
                rationale=_text(decision.get("rationale")) or previous.rationale,
            )
    out = []
    for decision_risk in risks.values():
        recorded = _recorded_register(run, decision_risk.title)
        register, reason = _register(decision_risk, rule, recorded)
        out.append(
            _replace(decision_risk, register=register, register_reason=reason, register_recorded=recorded)
        )
    return out


def _replace(risk: Risk, **changes: Any) -> Risk:
    data = asdict(risk)
    data.update(changes)
    return Risk(**data)


def _level(value: Any) -> str:
    if value in (None, ""):
        return NOT_RECORDED
    try:
        return level_name(value)
    except ValueError:
        return _text(value)


def _recorded_register(run: _Run, title: str) -> bool | None:
    """The team's own answer (`record_risk`'s `register` field, the latest given), if any."""
    answer = None
    for decision in run.of("record_risk"):
        fields = decision.get("fields") or {}
        if _text(fields.get("risk")).lower() == title.lower() and isinstance(fields.get("register"), bool):
            answer = fields["register"]
    return answer


def _register(risk: Risk, rule: MaterialRule, recorded: bool | None) -> tuple[str, str]:
    """Whether a risk goes to the company risk register, and why: the programme's rule
    (`MaterialRule.judge`, the one the programme applies): its residual level (the inherent
    one when no residual was recorded) at or above the rule's floor, a regulatory or
    contractual duty it names, or the team's own `register: true`."""
    level = risk.residual if risk.residual != NOT_RECORDED else risk.inherent
    known = None if level == NOT_RECORDED else level
    material, why = rule.judge(known, risk.duty, recorded)
    which = "residual" if risk.residual != NOT_RECORDED else "inherent"
    if material:
        return "yes", f"{which} risk {why}" if known and why.startswith(known) else why
    if known is None:
        return NOT_RECORDED, "no levels recorded"
    floor = rule.residual_at_least
    return "no", f"{which} risk {known}, below {floor}" if floor else f"{which} risk {known}"


_CODED_ROWS = (
    "Impact on individuals",
    "Breach or not",
    "ICO decision",
    "Supervisory authority decision",
    "Data subject decision",
)
"""Rows whose values are choice codes (`high_risk`), shown as words."""


def _breach_record(run: _Run, risks: list[Risk], link: str) -> list[RecordField]:
    """The breach record: every row from the action field that records it (BREACH_RECORD), then
    the rows built from whole decisions (DPO involvement, the decisions' owners and reasons,
    communications sent and deliberately not sent, residual risk)."""
    record = [run.field(row.label, list(row.sources), join=row.join) for row in BREACH_RECORD]
    for index, (row, spec) in enumerate(zip(record, BREACH_RECORD, strict=True)):
        choice = any(
            (action := run.actions.get(a)) is not None
            and f in action.fields
            and action.fields[f].type == "choice"
            for a, f in spec.sources
        )
        if row.recorded and (choice or row.label in _CODED_ROWS):
            record[index] = RecordField(row.label, row.value.replace("_", " "), row.source)
    ico = _ico(run)
    record.extend(
        [
            run.decided(
                "DPO involvement",
                "involve_dpo",
                lambda d: (
                    f"{run.who(d)} involved {_text((d.get('fields') or {}).get('dpo')) or 'the DPO'} at {run.when(_t(d))}"
                ),
            ),
            *ico[1:],
            _data_subjects(run),
            _list_field(run, "Communications sent", COMMUNICATION_ACTIONS),
            _not_sent(run),
            RecordField(
                "Residual risk",
                "; ".join(
                    f"{r.title}: {r.residual} (owner {r.owner})" for r in risks if r.residual != NOT_RECORDED
                )
                or NOT_RECORDED,
                "record_risk decisions" if any(r.residual != NOT_RECORDED for r in risks) else "",
            ),
            RecordField("Post-mortem", link or "this document"),
        ]
    )
    return record


def _personal_data(run: _Run) -> RecordField:
    assess = run.latest("assess_personal_data")
    confirm = run.latest("confirm_personal_data_breach")
    decision = confirm or assess
    if decision is None:
        return RecordField("Personal data involved", NOT_RECORDED)
    fields = (assess or {}).get("fields") or {}
    parts = ["yes"]
    if fields.get("special_category") is True:
        parts.append("special category")
    if isinstance(fields.get("encrypted"), bool):
        parts.append("encrypted" if fields["encrypted"] else "not encrypted")
    return RecordField(
        "Personal data involved", ", ".join(parts), f"{run.who(decision)}, {run.when(_t(decision))}"
    )


def _impact(run: _Run) -> RecordField:
    decision = run.latest("assess_risk_to_individuals")
    if decision is None:
        return RecordField("Impact", NOT_RECORDED)
    fields = decision.get("fields") or {}
    text = "; ".join(
        p for p in (_text(fields.get("risk")).replace("_", " "), _text(fields.get("consequences"))) if p
    )
    return RecordField("Impact", text or NOT_RECORDED, f"{run.who(decision)}, {run.when(_t(decision))}")


def _breach_or_not(run: _Run) -> RecordField:
    record = run.latest("record_breach")
    status = _text(((record or {}).get("fields") or {}).get("status"))
    confirm = run.latest("confirm_personal_data_breach")
    if status and record is not None:
        return RecordField(
            "Breach or not", status.replace("_", " "), f"{run.who(record)}, {run.when(_t(record))}"
        )
    if confirm is not None:
        kind = _text((confirm.get("fields") or {}).get("breach_type"))
        return RecordField(
            "Breach or not",
            "confirmed" + (f" ({kind})" if kind else ""),
            f"{run.who(confirm)}, {run.when(_t(confirm))}",
        )
    return RecordField("Breach or not", NOT_RECORDED)


def _ico(run: _Run) -> list[RecordField]:
    decision = run.latest("ico_decision")
    if decision is None:
        return [
            RecordField("ICO decision", NOT_RECORDED),
            RecordField("ICO decision owner", NOT_RECORDED),
            RecordField("ICO decision time", NOT_RECORDED),
            RecordField("ICO decision rationale", NOT_RECORDED),
        ]
    outcome = _text((decision.get("fields") or {}).get("outcome")).replace("_", " ")
    source = f"{run.action_title('ico_decision')} ({_text(decision.get('id')) or 'decision'})"
    rationale = _text(decision.get("rationale"))
    return [
        RecordField("ICO decision", outcome or NOT_RECORDED, source if outcome else ""),
        RecordField("ICO decision owner", run.who(decision), source),
        RecordField("ICO decision time", run.when(_t(decision)), source),
        RecordField("ICO decision rationale", rationale or NOT_RECORDED, source if rationale else ""),
    ]


def _data_subjects(run: _Run) -> RecordField:
    parts, source = [], ""
    decision = run.latest("data_subject_decision")
    if decision is not None:
        fields = decision.get("fields") or {}
        text = f"decision: {_text(fields.get('outcome')).replace('_', ' ') or 'made'}"
        if _text(fields.get("exemption")) and fields.get("exemption") != "none":
            text += f" (exemption: {_text(fields.get('exemption')).replace('_', ' ')})"
        if _text(decision.get("rationale")):
            text += f", because {_text(decision.get('rationale'))}"
        parts.append(text)
        source = f"{run.who(decision)}, {run.when(_t(decision))}"
    for notice in run.of("notify_data_subjects"):
        fields = notice.get("fields") or {}
        parts.append(
            f"notified by {_text(fields.get('channel')) or 'an unrecorded channel'} at {run.when(_t(notice))}"
        )
        source = source or run.who(notice)
    return RecordField("Data subject contact", "; ".join(parts) or NOT_RECORDED, source)


def _list_field(run: _Run, label: str, action_ids: tuple[str, ...]) -> RecordField:
    items = []
    for decision in run.of(*action_ids):
        fields = _text(decision.get("fields") or {})
        items.append(
            f"{run.when(_t(decision))} {run.action_title(decision.get('action') or '')}"
            + (f" ({fields})" if fields else "")
            + f" by {run.who(decision)}"
        )
    return RecordField(label, "; ".join(items) or NOT_RECORDED, "decisions" if items else "")


def _not_sent(run: _Run) -> RecordField:
    items = []
    for decision in run.of(*NOT_SENT_DECISIONS):
        if _text((decision.get("fields") or {}).get("outcome")) == "not_notify":
            reason = _text(decision.get("rationale")) or "no reason recorded"
            items.append(
                f"{run.action_title(decision.get('action') or '')}: not notified, because {reason} "
                f"({run.who(decision)}, {run.when(_t(decision))})"
            )
    return RecordField("Communications deliberately not sent", "; ".join(items) or NOT_RECORDED)


def _recovery(run: _Run) -> list[RecoveryCheck]:
    objectives = run.scenario.context.recovery
    if objectives is None or (objectives.rpo is None and objectives.rto is None):
        return []
    decision = run.latest("verify_rpo_rto")
    fields = (decision or {}).get("fields") or {}
    note_parts = [
        f"{k.replace('_', ' ')}: {_text(fields.get(k))}"
        for k in ("backup_used", "result", "witness")
        if _text(fields.get(k))
    ]
    note = "; ".join(note_parts)
    checks = []
    for measure, objective, key in (
        ("RTO (recovery time)", objectives.rto, "recovery_time"),
        ("RPO (data loss)", objectives.rpo, "data_loss"),
    ):
        if objective is None:
            continue
        raw = fields.get(key)
        if raw in (None, ""):
            checks.append(
                RecoveryCheck(measure, format_duration(objective), NOT_RECORDED, "not verified", note)
            )
            continue
        try:
            achieved = parse_duration(raw)
        except TimeFormatError:
            checks.append(RecoveryCheck(measure, format_duration(objective), _text(raw), "unreadable", note))
            continue
        status = "met" if achieved <= objective else "missed"
        checks.append(
            RecoveryCheck(measure, format_duration(objective), format_duration(achieved), status, note)
        )
    return checks


def _improvements(run: _Run, card: Scorecard, session_date: datetime | None) -> list[ImprovementItem]:
    """The team's own follow-ups, then one catalog improvement per action that was missed, late
    or hard, owned by the action's `improvement_owner` and due FOLLOWUP_DAYS after the rehearsal.
    Each has its stable id (`tabletop.followups.followup_id`)."""
    first = run.events[0].get("hash") if run.events else None
    first_hash = first if isinstance(first, str) else ""
    day = session_date.date() if session_date else None
    items = []
    for decision in run.of("create_followup"):
        fields = decision.get("fields") or {}
        owner = _text(fields.get("owner"))
        own_due = parse_date(fields.get("due"), day)
        items.append(
            ImprovementItem(
                action=_text(fields.get("action")) or NOT_RECORDED,
                owner=owner or NOT_RECORDED,
                due=_text(fields.get("due")) or NOT_RECORDED,
                capability=AREA_TITLES.get(run.actions[decision["action"]].area, "")
                if decision.get("action") in run.actions
                else "",
                source=f"follow-up recorded by {run.who(decision)} at {run.when(_t(decision))}",
                ticket=_text(fields.get("ticket")),
                id=followup_id(first_hash, f"decision:{decision.get('seq')}"),
                owner_role=owner,
                due_date=own_due.isoformat() if own_due else "",
            )
        )
    proposed = (session_date + timedelta(days=FOLLOWUP_DAYS)).strftime("%Y-%m-%d") if session_date else ""
    due = (
        proposed + f" (proposed: {FOLLOWUP_DAYS} days after the rehearsal)"
        if session_date
        else "to be agreed"
    )
    seen: dict[str, list[ExpectationResult]] = {}
    for result in card.expectations:
        if result.status not in (MISSED, LATE) and not result.flags:
            continue
        seen.setdefault(result.action, []).append(result)
    for action_id, results in seen.items():
        action = run.actions.get(action_id)
        if action is None:
            continue
        text = action.improvement or f"Write '{action.title}' into the runbook, with who does it and when"
        owner = action.improvement_owner or action.default_owner
        role = owner if owner != "any" else "incident_lead"
        items.append(
            ImprovementItem(
                action=text,
                owner=run.role(owner) if owner != "any" else "Incident lead",
                due=due,
                capability=AREA_TITLES.get(action.area, action.area),
                source="steps that were hard: " + "; ".join(dict.fromkeys(r.title for r in results)),
                id=followup_id(first_hash, f"action:{action_id}"),
                owner_role=role,
                due_date=proposed,
                action_id=action_id,
                expectations=tuple(dict.fromkeys(r.id for r in results)),
            )
        )
    return items


def improvement_plan(
    scenario: Scenario, events: Iterable[dict[str, Any]], card: Scorecard
) -> list[ImprovementItem]:
    """The improvement plan of one run alone (what `build_postmortem` puts in the draft), for
    the follow-up register: cheaper than the whole draft."""
    run = _Run(scenario, events)
    started = next((e for e in run.events if e.get("type") == ev.SESSION_STARTED), {})
    try:
        session_date = datetime.fromisoformat(str(started.get("wall")).replace("Z", "+00:00"))
    except ValueError:
        session_date = None
    return _improvements(run, card, session_date)


def risks_of(
    scenario: Scenario, events: Iterable[dict[str, Any]], register_rule: MaterialRule | None = None
) -> list[Risk]:
    """The risks one run remediated, accepted or tracked (as the draft lists them)."""
    return _risks(_Run(scenario, events), register_rule or MaterialRule())


def _anchor_words(after: str) -> str:
    kind, _, target = after.partition(":")
    return {
        "start": "the start",
        "inject": f"inject {target}",
        "action": f"action {target}",
        "marker": f"marker '{target}'",
    }.get(kind, after)


def _inject_titles(run: _Run) -> dict[str, tuple[float, str, str]]:
    """Released injects by id: (time, title, sender)."""
    found: dict[str, tuple[float, str, str]] = {}
    for event in run.events:
        if event.get("type") == ev.INJECT_RELEASED and isinstance(event.get("inject"), str):
            found.setdefault(
                event["inject"],
                (_t(event), _text(event.get("title")) or event["inject"], _text(event.get("from"))),
            )
    return found


def _observations(
    run: _Run, card: Scorecard
) -> tuple[list[Observation], list[Observation], list[Observation], list[Observation]]:
    """(signals not acted on, contributing factors, where we got lucky, what worked)."""
    signals: list[Observation] = []
    lucky: list[Observation] = []
    well: list[Observation] = []
    released = _inject_titles(run)
    by_inject: dict[str, list[ExpectationResult]] = {}
    for result in card.expectations:
        if result.after.startswith("inject:") and result.counted:
            by_inject.setdefault(result.after.split(":", 1)[1], []).append(result)
    for inject_id, results in by_inject.items():
        if inject_id not in released or any(r.status in (MET, LATE) for r in results):
            continue
        t, title, sender = released[inject_id]
        asked = "; ".join(dict.fromkeys(r.title for r in results))
        signals.append(
            Observation(
                t,
                run.when(t),
                f"'{title}'"
                + (f" from {sender}" if sender else "")
                + f" called for: {asked}. No response was recorded.",
            )
        )
    for event in run.events:
        condition = event.get("condition")
        if event.get("type") == ev.INJECT_RELEASED and isinstance(condition, dict) and "missed" in condition:
            t = _t(event)
            signals.append(
                Observation(
                    t,
                    run.when(t),
                    f"'{_text(event.get('title'))}' arrived because {condition['missed']} was missed",
                )
            )
    branches = {i.when.target for i in run.scenario.injects if i.when is not None and i.when.kind == "missed"}
    for result in card.expectations:
        if result.status == MISSED or result.status == LATE or result.flags:
            if result.status == MISSED and result.id not in branches and result.regime is None:
                lucky.append(
                    Observation(
                        result.anchor,
                        run.when(result.anchor),
                        f"'{result.title}' was not done and nothing in the rehearsal came of it; in a real "
                        "incident the gap would have stayed open",
                    )
                )
        elif result.status == MET:
            window = (result.deadline or 0) - (result.anchor or 0)
            spare = max(0.0, (result.deadline or 0) - (result.done_at or 0))
            if window > 0 and spare < CLOSE_CALL * window:
                lucky.append(
                    Observation(
                        result.done_at,
                        run.when(result.done_at),
                        f"'{result.title}' was met with {format_duration(spare)} to spare",
                    )
                )
            extra = ""
            if result.delegated_by:
                extra = f", delegated by {run.role(result.delegated_by)}"
                if result.delegation_seconds is not None:
                    extra += f" and done {format_duration(result.delegation_seconds)} later"
            margin = f"{format_duration(spare)} before it was due" if spare >= 1 else "right at the deadline"
            well.append(
                Observation(
                    result.done_at,
                    run.when(result.done_at),
                    f"'{result.title}': done {margin}{extra}",
                )
            )
    factors = _contributing_factors(run, card)

    def key(observation: Observation) -> tuple[bool, float]:
        return (observation.t is None, observation.t or 0.0)

    return sorted(signals, key=key), sorted(factors, key=key), sorted(lucky, key=key), sorted(well, key=key)


MAX_FACTORS = 8
"""The contributing factors stay short: at most this many, the most specific kinds first."""

ROUTED_FACTORS = 3
"""At most this many factors about where a signal was sent (the earliest)."""

OFFICE_HOURS = (8, 18)
"""Hours of the working day (local to the scenario, Monday to Friday) for the out-of-hours factor."""

CONTRACT_ACTIONS = ("notify_controller", "determine_controller_processor")
"""Steps whose clock and contact come from the data processing agreement, not from the law."""


def _role_words(run: _Run, role: str | None) -> str:
    """A role as prose: `the technical lead` (the title without its bracketed note)."""
    title = run.role(role).split(" (", 1)[0]
    return "the " + (title[:1].lower() + title[1:] if title[1:2].islower() else title)


def _roles_words(run: _Run, roles: Iterable[str]) -> str:
    return _and([_role_words(run, r) for r in dict.fromkeys(roles)])


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _steps(results: Iterable[ExpectationResult]) -> str:
    """Step titles in quotes, at most three and a count of the rest."""
    titles = list(dict.fromkeys(f"'{r.title}'" for r in results))
    if len(titles) > 3:
        return ", ".join(titles[:3]) + f" and {len(titles) - 3} more"
    return _and(titles)


def _participants(run: _Run) -> tuple[set[str], set[str]]:
    """(roles a person held, roles a simulated teammate held) in this session."""
    started = next((e for e in run.events if e.get("type") == ev.SESSION_STARTED), {})
    people: set[str] = set()
    simulated: set[str] = set()
    for person in started.get("participants") or []:
        if isinstance(person, dict) and isinstance(person.get("role"), str):
            (simulated if person.get("simulated") else people).add(person["role"])
    return people, simulated - people


def _contributing_factors(run: _Run, card: Scorecard) -> list[Observation]:
    """What in the scenario's facts, tools, runbooks and handovers made a step hard.

    Each factor is a fact of the scenario (a handover inject, where a signal was sent and who
    held those roles, a contract's notification clause, the data positions, the decision owner,
    a runbook or its absence, the hour a deadline fell due) joined with the steps it bore on:
    the expectations that were missed, late or flagged. Factors describe the system, never a
    person: no role is the subject of a failure.
    """
    scenario = run.scenario
    hard = [r for r in card.expectations if r.counted and (r.status in (MISSED, LATE) or r.flags)]
    if not hard and not card.findings:
        return []
    expectations = {e.id: e for e in scenario.expectations}
    injects = {i.id: i for i in scenario.injects}
    released: dict[str, float] = {}
    affected: set[str] = set()
    for event in run.events:
        if event.get("type") == ev.INJECT_RELEASED and isinstance(event.get("inject"), str):
            released.setdefault(event["inject"], _t(event))
            inject = injects.get(event["inject"])
            if inject is not None:
                affected.update(inject.affects)
    people, simulated = _participants(run)

    def holders(roles: Iterable[str]) -> str:
        roles = list(roles)
        if any(r in simulated for r in roles):
            return "held only by a simulated teammate"
        return "held by nobody in this session"

    def first(results: list[ExpectationResult]) -> float | None:
        times = [r.anchor for r in results if r.anchor is not None]
        return min(times) if times else None

    def observation(t: float | None, text: str) -> Observation:
        return Observation(t, run.when(t), text)

    ranked: list[tuple[int, Observation]] = []

    # a handover: steps whose window crossed it
    for inject in scenario.injects:
        if inject.id not in released or not any(
            e.action == "handover" and e.after == f"inject:{inject.id}" for e in scenario.expectations
        ):
            continue
        at = released[inject.id]
        across = [
            r
            for r in hard
            if r.status in (MISSED, LATE) and r.anchor is not None and r.anchor < at < (r.deadline or at)
        ]
        if across:
            ranked.append(
                (
                    0,
                    observation(
                        at,
                        f"The shift changed ('{inject.title}') while {_steps(across)} "
                        f"{'was' if len(across) == 1 else 'were'} still open: work that crosses a "
                        "handover depends on the handover carrying it.",
                    ),
                )
            )

    # the contract's notification clause
    contract_steps = [
        r
        for r in hard
        if r.action in CONTRACT_ACTIONS
        or (r.id in expectations and expectations[r.id].value.get("outcome") == "controller_decides")
    ]
    positions = scenario.context.data_positions
    for position in positions:
        if position.position not in ("processor", "both") or not contract_steps:
            continue
        if affected and position.id and position.id not in affected:
            continue
        clause = position.contract or "the data processing agreement"
        terms = (
            f" sets {format_duration(position.notify_controller_within)} to tell the controller"
            if position.notify_controller_within is not None
            else " sets how the controller is told"
        )
        if position.contact:
            terms += f" and names the contact ({position.contact})"
        ranked.append(
            (
                1,
                observation(
                    first(contract_steps),
                    f"The duty to tell {position.controller or 'the controller'} comes from the contract, "
                    f"not from the law: {clause}{terms}. Steps it bore on: {_steps(contract_steps)}.",
                ),
            )
        )
        break

    # data held in more than one position
    gdpr = [
        r
        for r in hard
        if r.area in ("data_protection", "notification")
        and (
            r.regime in ("uk_gdpr", "eu_gdpr") or r.action in DECISION_ACTIONS or r.action in CONTRACT_ACTIONS
        )
    ]
    if gdpr and len({p.position for p in positions}) > 1:
        parts = [
            f"{p.position} for {p.dataset}"
            + (" (affected)" if p.id in affected else " (not affected)" if p.id and affected else "")
            for p in positions
        ]
        ranked.append(
            (
                2,
                observation(
                    first(gdpr),
                    "The data sat in more than one position: "
                    + "; ".join(parts)
                    + ". Each position carries its own notification duties and decision owner. "
                    f"Steps it bore on: {_steps(gdpr)}.",
                ),
            )
        )

    # the decision owner's role held by nobody
    decisions = [r for r in hard if r.action in DECISION_ACTIONS and r.owner not in ("any", "")]
    for owner in dict.fromkeys(r.owner for r in decisions):
        if owner in people:
            continue
        mine = [r for r in decisions if r.owner == owner]
        ranked.append(
            (
                3,
                observation(
                    first(mine),
                    f"The notification decisions sit with {_role_words(run, owner)}, a role "
                    f"{holders([owner])}: {_steps(mine)}.",
                ),
            )
        )

    # where a signal was sent, and whether anyone held those roles
    routed = 0
    by_inject: dict[str, list[ExpectationResult]] = {}
    for result in hard:
        if result.after.startswith("inject:"):
            by_inject.setdefault(result.after.split(":", 1)[1], []).append(result)
    for inject_id, results in sorted(by_inject.items(), key=lambda item: released.get(item[0], 0.0)):
        sent: Inject | None = injects.get(inject_id)
        if sent is None or inject_id not in released or "all" in sent.to or routed >= ROUTED_FACTORS:
            continue
        outside = [r for r in results if r.owner not in ("any", "") and r.owner not in sent.to]
        if outside:
            text = (
                f"'{sent.title}' arrived by {sent.channel} for {_roles_words(run, sent.to)}; "
                f"{_steps(outside)} {'belongs' if len(outside) == 1 else 'belong'} to "
                f"{_roles_words(run, (r.owner for r in outside))}, outside its recipients."
            )
        elif not any(role in people for role in sent.to):
            text = (
                f"'{sent.title}' arrived by {sent.channel} for {_roles_words(run, sent.to)} only, "
                f"{'a role' if len(sent.to) == 1 else 'roles'} {holders(sent.to)}: "
                f"{_steps(results)} waited on it."
            )
        else:
            continue
        routed += 1
        ranked.append((4, observation(released[inject_id], text)))

    # duties that started from another role's action, with no message to their owner
    messages: dict[str, list[float]] = {}
    for event in run.events:
        if event.get("type") == ev.INJECT_RELEASED:
            for role in event.get("to") or ["all"]:
                messages.setdefault(str(role), []).append(_t(event))
        elif event.get("type") == ev.DELEGATION and isinstance(event.get("to_role"), str):
            messages.setdefault(event["to_role"], []).append(_t(event))
    unheard: dict[tuple[str, str], list[ExpectationResult]] = {}
    for result in hard:
        if (
            result.status not in (MISSED, LATE)
            or result.after.startswith("inject:")
            or result.owner in ("any", "")
            or result.anchor is None
        ):
            continue
        until = result.done_at if result.done_at is not None else result.deadline
        window = [
            t
            for role in (result.owner, "all")
            for t in messages.get(role, ())
            if result.anchor <= t <= (until if until is not None else t)
        ]
        if not window:
            unheard.setdefault((result.owner, result.after), []).append(result)
    for (owner, after), results in unheard.items():
        if routed >= ROUTED_FACTORS:
            break
        kind, _, target = after.partition(":")
        started_by = {
            "action": f"'{run.action_title(target).lower()}'",
            "marker": f"the moment marked '{target}'",
        }.get(kind, "the start")
        routed += 1
        ranked.append(
            (
                4,
                observation(
                    first(results),
                    f"{_steps(results)} started from {started_by}, and no inject or delegation reached "
                    f"{_role_words(run, owner)} before {'its' if len(results) == 1 else 'their'} "
                    "deadline: the duty travelled only by word of mouth.",
                ),
            )
        )

    # a runbook, or none
    hands_on = [
        r
        for r in hard
        if r.status in (MISSED, LATE)
        and (
            r.area in ("technical", "recovery")
            or ((action := run.actions.get(r.action)) is not None and action.hands_on)
        )
    ]
    if hands_on:
        runbook = (scenario.context.model_extra or {}).get("runbook")
        if isinstance(runbook, dict):
            name = " ".join(_text(runbook.get(k)) for k in ("id", "title") if _text(runbook.get(k)))
        else:
            name = _text(runbook)
        if name:
            text = f"The technical steps ran on runbook {name}: {_steps(hands_on)}."
        else:
            text = (
                f"The scenario's documents hold no runbook for {_steps(hands_on)} (its context names none)."
            )
        ranked.append((5, observation(first(hands_on), text)))

    # deadlines out of office hours
    if scenario.starts_at is not None:
        late_hours = []
        for r in hard:
            if r.deadline is None:
                continue
            moment = scenario.starts_at + timedelta(seconds=r.deadline)
            if moment.weekday() >= 5 or not OFFICE_HOURS[0] <= moment.hour < OFFICE_HOURS[1]:
                late_hours.append((r, moment))
        if late_hours:
            listed = [f"'{r.title}' at {moment:%a %d %b %H:%M}" for r, moment in late_hours[:3]]
            more = f" and {len(late_hours) - 3} more" if len(late_hours) > 3 else ""
            ranked.append(
                (
                    6,
                    observation(
                        min(r.deadline or 0.0 for r, _ in late_hours),
                        f"Deadlines fell outside office hours ({OFFICE_HOURS[0]:02d}:00-{OFFICE_HOURS[1]:02d}:00, "
                        f"Monday to Friday): {', '.join(listed)}{more}.",
                    ),
                )
            )

    # work that reached a role the plan does not give it
    for finding in card.findings[:2]:
        action = run.actions.get(finding.action)
        if action is None:
            continue
        owners = [e.owner for e in scenario.expectations if e.action == finding.action and e.owner]
        owner = owners[0] if owners else action.default_owner
        prompts = [
            injects[e.anchor_target or ""]
            for e in scenario.expectations
            if e.action == finding.action and e.anchor_kind == "inject" and (e.anchor_target or "") in injects
        ]
        source = next((i for i in prompts if finding.role in i.to), None)
        if source is not None:
            text = (
                f"'{source.title}' went to {_roles_words(run, source.to)}: the work it called for "
                f"('{action.title.lower()}') sits with {_role_words(run, owner)}, and the message put "
                f"it in front of {_role_words(run, finding.role)} as well."
            )
        elif owner != "any" and owner not in people:
            text = (
                f"'{action.title}' sits with {_role_words(run, owner)}, a role {holders([owner])}, "
                f"so the work reached {_role_words(run, finding.role)}."
            )
        else:
            continue
        ranked.append((7, observation(finding.at, text)))

    ranked.sort(key=lambda item: item[0])
    kept = [o for _, o in ranked[:MAX_FACTORS]]
    return sorted(kept, key=lambda o: (o.t is None, o.t or 0.0))


def _clocks(run: _Run, card: Scorecard) -> list[Clock]:
    out = []
    for clock in card.clocks:
        result = card.result(clock.id)
        done = f"{run.when(clock.done_at)}" if clock.done_at is not None else ""
        out.append(
            Clock(
                title=clock.title,
                regime=clock.regime,
                source=clock.source,
                rule=clock.rule,
                anchor=(
                    f"{_anchor_words(clock.after)} at {run.when(clock.anchor)}"
                    if clock.anchor is not None
                    else f"{_anchor_words(clock.after)}: never reached"
                ),
                deadline=run.when(clock.deadline) if clock.deadline is not None else "",
                done=done or "not done",
                by=run.role(clock.by) if clock.by else "",
                status=clock.status.replace("_", " ")
                + (f" ({', '.join(result.flags)})" if result.flags else ""),
                deadline_t=clock.deadline,
            )
        )
    return out


# --- the builder ---------------------------------------------------------------------------


def build_postmortem(
    scenario: Scenario,
    events: Iterable[dict[str, Any]],
    card: Scorecard,
    *,
    link: str = "",
    warnings: Iterable[str] = (),
    verification: Any = None,
    register_rule: MaterialRule | None = None,
) -> PostMortem:
    """The post-mortem draft of one run. Pure: same inputs, same PostMortem.

    `link` names the post-mortem document in the breach record; `warnings` (e.g. a damaged
    hash chain, a changed scenario file) are shown beside the scorer's own notes;
    `register_rule` is the programme's rule for the company risk register (see
    `tabletop.programme.config.register_rule`; the default rule when None).
    """
    run = _Run(scenario, events)
    started = next((e for e in run.events if e.get("type") == ev.SESSION_STARTED), {})
    session_wall = _wall(started.get("wall"))
    try:
        session_date = datetime.fromisoformat(str(started.get("wall")).replace("Z", "+00:00"))
    except ValueError:
        session_date = None
    participants = tuple(
        _person(_text(p.get("name")), run.role(p.get("role")))
        + (" (simulated)" if p.get("simulated") else "")
        for p in started.get("participants") or []
        if isinstance(p, dict)
    )
    risks = _risks(run, register_rule or MaterialRule())
    signals, harder, lucky, well = _observations(run, card)
    capabilities = []
    for area, ratio in card.areas.items():
        counted = [r for r in card.expectations if r.area == area and r.counted]
        capabilities.append(
            CapabilityRating(
                area,
                AREA_TITLES.get(area, area),
                ratio,
                card.ratings[area],
                RATING_NAMES[card.ratings[area]],
                sum(r.passed for r in counted),
                len(counted),
            )
        )
    ico = _ico(run)
    breach = _breach_record(run, risks, link)
    first = next((e for e in run.events if e.get("type") == ev.INJECT_RELEASED), None)
    trigger = (
        f"{_text(first.get('title')) or _text(first.get('inject'))}"
        + (f" ({_text(first.get('from'))})" if _text(first.get("from")) else "")
        if first
        else NOT_RECORDED
    )
    detection = run.when(_t(first)) if first else NOT_RECORDED
    declared = run.latest("declare_incident")
    if first and declared is not None:
        detection += (
            f"; declared {format_duration(_t(declared) - _t(first))} later, at {run.when(_t(declared))}"
        )
    headline = []
    if breach[next(i for i, r in enumerate(breach) if r.label == "Breach or not")].recorded:
        headline.append(
            f"Recorded as: {next(r.value for r in breach if r.label == 'Breach or not')} personal data breach."
        )
    for clock in card.clocks:
        if clock.status in (MET, LATE, MISSED):
            headline.append(f"{clock.title}: {clock.status.replace('_', ' ')}.")
    if ico[0].recorded:
        headline.append(f"ICO decision: {ico[0].value}, at {ico[2].value}.")
    impact = [
        RecordField("Scenario", scenario.summary or scenario.title, "scenario briefing"),
        *[
            r
            for r in breach
            if r.label
            in (
                "Systems affected",
                "Customers affected",
                "Data types",
                "Data sensitivity",
                "Data subjects",
                "Records",
                "Impact on individuals",
            )
        ],
    ]
    expectations = tuple(
        {
            "id": r.id,
            "title": r.title,
            "area": AREA_TITLES.get(r.area, r.area),
            "owner": run.role(r.owner) if r.owner != "any" else "any role",
            "due": run.when(r.deadline) if r.deadline is not None else "",
            "done": run.when(r.done_at) if r.done_at is not None else "",
            "by": run.role(r.by) if r.by else "",
            "status": r.status.replace("_", " "),
            "flags": ", ".join(r.flags),
            "credit": f"{r.credit:g}",
            "weight": f"{r.weight:g}",
            "reason": r.reason,
        }
        for r in card.expectations
    )
    findings = tuple(
        Observation(f.at, run.when(f.at), f"{f.detail} (penalty {f.penalty:g})") for f in card.findings
    )
    hotwash = _hotwash(scenario, run.events, run.role)
    return PostMortem(
        scenario_id=scenario.id,
        title=scenario.title,
        kind=scenario.kind,
        summary=scenario.summary,
        objectives=tuple(scenario.objectives),
        starts_at=f"{scenario.starts_at:%Y-%m-%d %H:%M}" if scenario.starts_at else None,
        session_wall=session_wall,
        participants=participants,
        mode=_text(started.get("mode")),
        team=_text(started.get("team")),
        duration=format_duration(card.ended_at),
        ended_at=card.ended_at,
        score=card.score,
        rating=card.rating,
        rating_meaning=RATING_NAMES[card.rating],
        passed=card.passed,
        applicable=card.applicable,
        headline=tuple(headline),
        trigger=trigger,
        detection=detection,
        timeline=tuple(_timeline(run)),
        impact=tuple(impact),
        signals_missed=tuple(signals),
        harder=tuple(harder),
        worked_well=tuple(well),
        lucky=tuple(lucky),
        improvement_plan=tuple(_improvements(run, card, session_date)),
        risks=tuple(risks),
        breach_record=tuple(breach),
        ico_decision=tuple(ico),
        clocks=tuple(_clocks(run, card)),
        recovery=tuple(_recovery(run)),
        capabilities=tuple(capabilities),
        rating_bands=bands_text(),
        findings=findings,
        expectations=expectations,
        hotwash=tuple(scenario.hotwash_questions()),
        hotwash_items=hotwash,
        hotwash_open=any(i.answers for i in hotwash)
        and not any(e.get("type") == ev.HOTWASH_CLOSED for e in run.events),
        risk_matrix=tuple((row, tuple(levels)) for row, levels in matrix()),
        warnings=tuple(dict.fromkeys([*warnings, *card.warnings])),
        link=link,
        scorecard=card.to_json(),
        score_text=card.score_text(),
        coverage=_coverage_text(card),
        conditions=_conditions_text(card),
        caps=tuple(cap.text for cap in card.caps),
        verification=verification.headline() if verification is not None else "",
        verification_status=verification.status if verification is not None else "",
    )


def _coverage_text(card: Scorecard) -> str:
    coverage = card.coverage
    if coverage is None:
        return "nothing was due"
    opened = [r for r in card.yours() if r.status == OPEN]
    return f"{coverage:.0%} of the expected weight scored" + (
        f"; {len(opened)} open when the session was ended, not scored" if opened else ""
    )


def _conditions_text(card: Scorecard) -> str:
    text = f"{conditions_text(card.conditions)}; scoring rules version {card.rules_version}"
    if card.rules_version != RULES_VERSION:
        text += f" (scored with version {RULES_VERSION})"
    if card.solo_role:
        text += (
            f"; solo: the {card.solo_role.replace('_', ' ')}'s own work and bringing in the simulated team"
        )
    return text
