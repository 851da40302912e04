"""Build a PostMortem from a run: what happened, the breach record, risks, clocks, improvement plan.

Only what the transcript holds goes in: a breach-record field the players never established
is "not recorded", never filled from the scenario's own script or invented. Where a value is
derived (a risk level from the NIST table, a proposed due date), the entry says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from tabletop import events as ev
from tabletop.model import Scenario
from tabletop.risk import LEVELS, level_index, level_name, matrix, try_risk_level
from tabletop.scoring import (
    LATE,
    MET,
    MISSED,
    RATING_NAMES,
    Scorecard,
    bands_text,
)
from tabletop.timing import TimeFormatError, format_duration, format_offset, parse_duration, sim_datetime

NOT_RECORDED = "not recorded"

FOLLOWUP_DAYS = 30
"""Due date proposed for improvement items that come from missed expectations (no player set one)."""

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
    "dora_initial_report",
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
    """A risk the team remediated, accepted or tracked, with inherent and residual levels."""

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


@dataclass(frozen=True)
class ImprovementItem:
    """A corrective action of the improvement plan (HSEEP AAR/IP): action, owner, due date."""

    action: str
    owner: str
    due: str
    capability: str
    source: str
    ticket: str = ""


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
    timeline: tuple[TimelineEntry, ...]
    impact: tuple[RecordField, ...]
    signals_missed: tuple[Observation, ...]
    harder: tuple[Observation, ...]
    worked_well: tuple[Observation, ...]
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
    verification: str = ""
    """What `tabletop verify` says of the transcript (its headline), shown first; empty when not checked."""
    verification_status: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- helpers -------------------------------------------------------------------------------


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
            entries.append(entry(kind="start", who="facilitator", text="Rehearsal started"))
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
            op = _text(event.get("op"))
            text = {
                "pause": "Clock paused",
                "resume": "Clock resumed",
                "speed": f"Speed set to {_text(event.get('speed'))}x",
            }.get(op, "")
            if op == "jump":
                text = f"Time jump to {format_offset(float(event.get('to_t') or 0))}"
            entries.append(entry(kind="clock", who="facilitator", text=text or op))
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
                    who="facilitator",
                    text=f"Rehearsal ended ({_text(event.get('reason'))})",
                )
            )
    return entries


def _risks(run: _Run) -> list[Risk]:
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
            )
            previous = risks.get(key)
            if previous is not None and previous.treatment == "accept":
                risk = _replace(
                    risk,
                    treatment="accept",
                    review_by=previous.review_by,
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
        register, reason = _register(decision_risk, run)
        out.append(_replace(decision_risk, register=register, register_reason=reason))
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


def _register(risk: Risk, run: _Run) -> tuple[str, str]:
    """Whether a risk goes to the company risk register: the player's answer, else our rule."""
    for decision in run.of("record_risk"):
        fields = decision.get("fields") or {}
        if _text(fields.get("risk")).lower() == risk.title.lower() and isinstance(
            fields.get("register"), bool
        ):
            return ("yes" if fields["register"] else "no"), "as recorded"
    if risk.treatment == "accept":
        return "yes", "rule: an accepted risk is owned on the register"
    level = risk.residual if risk.residual != NOT_RECORDED else risk.inherent
    if level == NOT_RECORDED:
        return NOT_RECORDED, "no levels recorded"
    if level_index(level) >= LEVELS.index("Moderate"):
        return (
            "yes",
            f"rule: {'residual' if risk.residual != NOT_RECORDED else 'inherent'} risk {level} (Moderate or above)",
        )
    return (
        "no",
        f"rule: {'residual' if risk.residual != NOT_RECORDED else 'inherent'} risk {level} (below Moderate)",
    )


def _breach_record(run: _Run, risks: list[Risk], link: str) -> list[RecordField]:
    f = run.field
    first_inject = next((e for e in run.events if e.get("type") == ev.INJECT_RELEASED), None)
    return [
        f("Identifier", [("record_breach", "reference")]),
        RecordField(
            "Detected (first signal)",
            run.when(_t(first_inject)) + f": {_text(first_inject.get('title'))}"
            if first_inject
            else NOT_RECORDED,
            "first inject released" if first_inject else "",
        ),
        f(
            "Possibly started",
            [
                ("record_breach", "started_at"),
                ("record_breach", "started"),
                ("record_discovery", "discovered_on"),
            ],
        ),
        RecordField("Reported by", _text(first_inject.get("from")) or NOT_RECORDED, "first inject released")
        if first_inject
        else RecordField("Reported by", NOT_RECORDED),
        f("Coordinator", [("appoint_coordinator", "coordinator")]),
        f(
            "Systems affected",
            [
                ("contain", "target"),
                ("revoke_access", "subject"),
                ("restore_backup", "target"),
                ("capture_manual_change", "resources"),
            ],
            join=True,
        ),
        f(
            "Customers affected",
            [("determine_controller_processor", "controller"), ("customer_comms", "audience")],
            join=True,
        ),
        _personal_data(run),
        f("Data types", [("assess_personal_data", "data_types")]),
        f("Data subjects", [("assess_personal_data", "subjects")]),
        f("Records", [("assess_personal_data", "records"), ("record_discovery", "individuals")]),
        _list_field(run, "Containment and recovery actions", CONTAINMENT_ACTIONS),
        f("Evidence", [("preserve_evidence", "evidence"), ("preserve_evidence", "location")], join=True),
        _impact(run),
        run.decided(
            "DPO involvement",
            "involve_dpo",
            lambda d: (
                f"{run.who(d)} involved {_text((d.get('fields') or {}).get('dpo')) or 'the DPO'} at {run.when(_t(d))}"
            ),
        ),
        f("Controller/processor position", [("determine_controller_processor", "position")]),
        f(
            "Controller contact",
            [("notify_controller", "controller_contact"), ("determine_controller_processor", "controller")],
        ),
        f(
            "Contract notification requirement",
            [
                ("determine_controller_processor", "contract"),
                ("determine_controller_processor", "notify_controller_within"),
            ],
            join=True,
        ),
        _breach_or_not(run),
        *_ico(run),
        _data_subjects(run),
        _list_field(run, "Communications sent", COMMUNICATION_ACTIONS),
        _not_sent(run),
        RecordField(
            "Residual risk",
            "; ".join(f"{r.title}: {r.residual}" for r in risks if r.residual != NOT_RECORDED)
            or NOT_RECORDED,
            "record_risk decisions" if any(r.residual != NOT_RECORDED for r in risks) else "",
        ),
        RecordField("Post-mortem", link or "this document"),
    ]


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
    items = []
    for decision in run.of("create_followup"):
        fields = decision.get("fields") or {}
        items.append(
            ImprovementItem(
                action=_text(fields.get("action")) or NOT_RECORDED,
                owner=_text(fields.get("owner")) or NOT_RECORDED,
                due=_text(fields.get("due")) or NOT_RECORDED,
                capability=AREA_TITLES.get(run.actions[decision["action"]].area, "")
                if decision.get("action") in run.actions
                else "",
                source=f"follow-up recorded by {run.who(decision)} at {run.when(_t(decision))}",
                ticket=_text(fields.get("ticket")),
            )
        )
    due = (
        (session_date + timedelta(days=FOLLOWUP_DAYS)).strftime("%Y-%m-%d") + " (proposed)"
        if session_date
        else "to be agreed"
    )
    for result in card.expectations:
        if result.status != MISSED:
            continue
        items.append(
            ImprovementItem(
                action=f"{result.title} (expected within {format_duration(result.within)} of {_anchor_words(result.after)}, "
                "missed): put it in the runbook and rehearse it",
                owner=run.role(result.owner) if result.owner != "any" else "Incident coordinator",
                due=due,
                capability=AREA_TITLES.get(result.area, result.area),
                source=f"missed expectation {result.id}",
            )
        )
    return items


def _anchor_words(after: str) -> str:
    kind, _, target = after.partition(":")
    return {
        "start": "the start",
        "inject": f"inject {target}",
        "action": f"action {target}",
        "marker": f"marker '{target}'",
    }.get(kind, after)


def _observations(
    run: _Run, card: Scorecard
) -> tuple[list[Observation], list[Observation], list[Observation]]:
    missed_signals: list[Observation] = []
    harder: list[Observation] = []
    well: list[Observation] = []
    titles = {
        e.get("inject"): _text(e.get("title")) for e in run.events if e.get("type") == ev.INJECT_RELEASED
    }
    for result in card.expectations:
        if result.status == MISSED:
            anchor = result.after
            what = _anchor_words(anchor)
            if anchor.startswith("inject:"):
                what = f"'{titles.get(anchor.split(':', 1)[1]) or anchor.split(':', 1)[1]}'"
            missed_signals.append(
                Observation(
                    result.anchor,
                    run.when(result.anchor),
                    f"{what} called for '{result.title}' by {run.role_or_any(result.owner)} within "
                    f"{format_duration(result.within)}; it was not done by the end",
                )
            )
        elif result.status == LATE or result.flags:
            harder.append(
                Observation(result.done_at, run.when(result.done_at), f"'{result.title}': {result.reason}")
            )
        elif result.status == MET:
            extra = ""
            if result.delegated_by:
                extra = f", delegated by {run.role(result.delegated_by)}"
                if result.delegation_seconds is not None:
                    extra += f" and done {format_duration(result.delegation_seconds)} later"
            spare = max(0.0, (result.deadline or 0) - (result.done_at or 0))
            margin = f"{format_duration(spare)} before it was due" if spare >= 1 else "right at the deadline"
            well.append(
                Observation(
                    result.done_at,
                    run.when(result.done_at),
                    f"'{result.title}' done by {run.role(result.by)} at {run.when(result.done_at)}, "
                    f"{margin}{extra}",
                )
            )
    for event in run.events:
        if (
            event.get("type") == ev.INJECT_RELEASED
            and isinstance(event.get("condition"), dict)
            and "missed" in event["condition"]
        ):
            t = _t(event)
            missed_signals.append(
                Observation(
                    t,
                    run.when(t),
                    f"'{_text(event.get('title'))}' came in because "
                    f"{event['condition']['missed']} was missed",
                )
            )
    for finding in card.findings:
        harder.append(
            Observation(finding.at, run.when(finding.at), f"{finding.detail} (finding {finding.id})")
        )
    pauses = sum(1 for e in run.events if e.get("type") == ev.CLOCK and e.get("op") == "pause")
    if pauses:
        harder.append(
            Observation(
                None, "", f"the facilitator paused the clock {pauses} time{'s' if pauses > 1 else ''}"
            )
        )

    def key(observation: Observation) -> tuple[bool, float]:
        return (observation.t is None, observation.t or 0.0)

    return sorted(missed_signals, key=key), sorted(harder, key=key), sorted(well, key=key)


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
) -> PostMortem:
    """The post-mortem draft of one run. Pure: same inputs, same PostMortem.

    `link` names the post-mortem document in the breach record; `warnings` (e.g. a damaged
    hash chain, a changed scenario file) are shown beside the scorer's own notes.
    """
    run = _Run(scenario, events)
    started = next((e for e in run.events if e.get("type") == ev.SESSION_STARTED), {})
    session_wall = _wall(started.get("wall"))
    try:
        session_date = datetime.fromisoformat(str(started.get("wall")).replace("Z", "+00:00"))
    except ValueError:
        session_date = None
    if scenario.starts_at is not None:
        session_date = scenario.starts_at
    participants = tuple(
        _person(_text(p.get("name")), run.role(p.get("role")))
        + (" (simulated)" if p.get("simulated") else "")
        for p in started.get("participants") or []
        if isinstance(p, dict)
    )
    risks = _risks(run)
    signals, harder, well = _observations(run, card)
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
    headline = [
        f"Score {card.score:.0%} ({card.rating}: {RATING_NAMES[card.rating].lower()}); "
        f"{card.passed} of {card.applicable} applicable expectations passed.",
    ]
    missed = len(card.by_status(MISSED))
    late = len(card.by_status(LATE))
    if missed or late:
        headline.append(f"{missed} missed and {late} late.")
    if card.findings:
        headline.append(
            f"{len(card.findings)} finding{'s' if len(card.findings) > 1 else ''} against the rules of the response."
        )
    for clock in card.clocks:
        flags = card.result(clock.id).flags
        headline.append(
            f"Clock '{clock.title}': {clock.status.replace('_', ' ')}"
            + (f" ({', '.join(flags)})." if flags else ".")
        )
    if ico[0].recorded:
        headline.append(f"ICO decision: {ico[0].value}, by {ico[1].value} at {ico[2].value}.")
    impact = [
        RecordField("Scenario", scenario.summary or scenario.title, "scenario briefing"),
        *[
            r
            for r in breach
            if r.label
            in ("Systems affected", "Customers affected", "Data types", "Data subjects", "Records", "Impact")
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
        timeline=tuple(_timeline(run)),
        impact=tuple(impact),
        signals_missed=tuple(signals),
        harder=tuple(harder),
        worked_well=tuple(well),
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
        hotwash=tuple(scenario.hotwash),
        risk_matrix=tuple((row, tuple(levels)) for row, levels in matrix()),
        warnings=tuple(dict.fromkeys([*warnings, *card.warnings])),
        link=link,
        scorecard=card.to_json(),
        verification=verification.headline() if verification is not None else "",
        verification_status=verification.status if verification is not None else "",
    )
