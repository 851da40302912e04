"""Build resolved Scenarios and transcript events by hand for the scoring and report tests."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tabletop.model import Scenario
from tabletop.scoring import RULES_VERSION

ACTIONS: list[dict[str, Any]] = [
    {
        "id": "declare_incident",
        "title": "Declare an incident",
        "area": "coordination",
        "default_owner": "coordinator",
    },
    {
        "id": "appoint_coordinator",
        "title": "Appoint an incident coordinator",
        "area": "coordination",
        "default_owner": "coordinator",
    },
    {"id": "assign_roles", "title": "Assign roles", "area": "coordination", "default_owner": "coordinator"},
    {"id": "status_update", "title": "Status update", "area": "coordination", "default_owner": "coordinator"},
    {
        "id": "involve_dpo",
        "title": "Involve the DPO",
        "area": "data_protection",
        "default_owner": "coordinator",
    },
    {
        "id": "assess_personal_data",
        "title": "Assess personal data involved",
        "area": "data_protection",
        "default_owner": "dpo",
    },
    {
        "id": "determine_controller_processor",
        "title": "Determine controller or processor",
        "area": "data_protection",
        "default_owner": "dpo",
    },
    {
        "id": "confirm_personal_data_breach",
        "title": "Confirm a personal data breach",
        "area": "data_protection",
        "default_owner": "dpo",
        "sets_marker": "aware",
        "rationale": "required",
    },
    {
        "id": "assess_risk_to_individuals",
        "title": "Assess risk to individuals",
        "area": "data_protection",
        "default_owner": "dpo",
    },
    {"id": "record_breach", "title": "Record the breach", "area": "data_protection", "default_owner": "dpo"},
    {
        "id": "ico_decision",
        "title": "Decide on ICO notification",
        "area": "notification",
        "default_owner": "dpo",
        "rationale": "required",
        "fields": {"outcome": ["notify", "not_notify"]},
    },
    {"id": "notify_ico", "title": "Notify the ICO", "area": "notification", "default_owner": "dpo"},
    {
        "id": "notify_controller",
        "title": "Notify the controller",
        "area": "notification",
        "default_owner": "dpo",
    },
    {
        "id": "customer_comms",
        "title": "Customer communication",
        "area": "notification",
        "default_owner": "comms_owner",
    },
    {
        "id": "data_subject_decision",
        "title": "Decide on telling data subjects",
        "area": "notification",
        "default_owner": "dpo",
    },
    {
        "id": "contain",
        "title": "Contain",
        "area": "technical",
        "default_owner": "technical_lead",
        "hands_on": True,
    },
    {
        "id": "revoke_access",
        "title": "Revoke access",
        "area": "technical",
        "default_owner": "technical_lead",
        "hands_on": True,
    },
    {
        "id": "preserve_evidence",
        "title": "Preserve evidence",
        "area": "technical",
        "default_owner": "technical_lead",
    },
    {
        "id": "restore_backup",
        "title": "Restore from backup",
        "area": "recovery",
        "default_owner": "technical_lead",
        "hands_on": True,
    },
    {
        "id": "verify_rpo_rto",
        "title": "Verify RPO and RTO",
        "area": "recovery",
        "default_owner": "technical_lead",
    },
    {"id": "record_risk", "title": "Record a risk", "area": "learning", "default_owner": "coordinator"},
    {
        "id": "accept_risk",
        "title": "Accept a risk",
        "area": "learning",
        "default_owner": "coordinator",
        "rationale": "required",
    },
    {
        "id": "create_followup",
        "title": "Create a follow-up",
        "area": "learning",
        "default_owner": "coordinator",
    },
    {
        "id": "schedule_postmortem",
        "title": "Schedule the post-mortem",
        "area": "learning",
        "default_owner": "coordinator",
    },
]

ROLES = [
    {"id": "coordinator", "title": "Incident coordinator"},
    {"id": "technical_lead", "title": "Technical lead"},
    {"id": "comms_owner", "title": "Communications owner"},
    {"id": "dpo", "title": "Data protection officer"},
]


def scenario(
    *,
    expectations: list[dict[str, Any]] | None = None,
    injects: list[dict[str, Any]] | None = None,
    avoid: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Scenario:
    """A resolved scenario with the test catalog; expectations default their owner and anchor."""
    resolved = []
    owners = {a["id"]: a["default_owner"] for a in ACTIONS}
    for e in expectations or []:
        e = dict(e)
        e.setdefault("owner", owners.get(e["action"], "any"))
        e.setdefault("after", "start")
        resolved.append(e)
    data: dict[str, Any] = {
        "id": "test-breach",
        "title": "Test breach",
        "duration": "4h",
        "roles": ["coordinator", "technical_lead", "comms_owner", "dpo"],
        "injects": injects or [{"id": "alert", "at": 0, "title": "Alert"}],
        "expectations": resolved,
        "avoid": avoid or [],
        "actions": ACTIONS,
        "role_info": ROLES,
    }
    data.update(extra)
    return Scenario.model_validate(data)


def decision(t: float, action: str, role: str = "coordinator", **extra: Any) -> dict[str, Any]:
    event = {
        "type": "decision",
        "t": t,
        "id": f"d{int(t)}-{action}",
        "role": role,
        "by": extra.pop("by", role.title()),
        "action": action,
        "fields": extra.pop("fields", {}),
        "rationale": extra.pop("rationale", ""),
        "inject": extra.pop("inject", None),
        "delegated_by": extra.pop("delegated_by", None),
        "delegation": extra.pop("delegation", None),
        "delegated_at": extra.pop("delegated_at", None),
    }
    event.update(extra)
    return event


def released(t: float, inject: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "inject_released",
        "t": t,
        "inject": inject,
        "title": inject,
        "channel": "alert",
        "from": "",
        "to": ["all"],
        "phase": None,
        "body": "",
        "trigger": "schedule",
        "condition": None,
        **extra,
    }


def marker(t: float, name: str, source: str = "facilitator") -> dict[str, Any]:
    return {"type": "marker_set", "t": t, "marker": name, "source": source}


def note(t: float, text: str, role: str = "coordinator") -> dict[str, Any]:
    return {"type": "note", "t": t, "role": role, "by": role.title(), "text": text, "inject": None}


def ended(t: float) -> dict[str, Any]:
    return {"type": "session_ended", "t": t, "reason": "duration"}


WALL_START = datetime(2026, 3, 2, 9, 10, tzinfo=UTC)


def write_transcript(
    path: Path,
    scn: Scenario,
    events: list[dict[str, Any]],
    *,
    scenario_path: str = "",
    started: dict[str, Any] | None = None,
) -> Path:
    """Write events as a hash-chained JSONL transcript with a session_started line first
    (`started` overrides or drops its fields: a value of None is written as null)."""
    started = {
        "type": "session_started",
        "t": 0,
        "scenario_id": scn.id,
        "scenario_path": scenario_path,
        "scenario_sha256": "",
        "scenario": scn.to_json(),
        "seed": scn.seed,
        "speed": scn.speed,
        "participants": [{"name": "Sam", "role": "coordinator", "simulated": False}],
        "mode": "simulate",
        "team": None,
        "solo_role": None,
        "tool_version": "0.1.0",
        "resumed_from": None,
        "conditions": {"mode": "simulate", "hints": False, "auto_pause": False, "speed": scn.speed},
        "rules_version": RULES_VERSION,
        **(started or {}),
    }
    prev = None
    lines = []
    for seq, event in enumerate([started, *events]):
        line = {"seq": seq, **event}
        line["wall"] = (WALL_START + timedelta(seconds=float(event.get("t", 0)) / 60)).isoformat()
        line["prev"] = prev
        body = json.dumps(line, sort_keys=True, separators=(",", ":"))
        line["hash"] = prev = hashlib.sha256(body.encode()).hexdigest()
        lines.append(json.dumps(line, separators=(",", ":")))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
