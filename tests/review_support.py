"""Small hand-made transcripts for the review console's tests, hash-chained as the transcript module does."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tabletop.scoring import RULES_VERSION

ACTIONS = [
    {
        "id": "declare_incident",
        "title": "Declare an incident",
        "area": "coordination",
        "default_owner": "coordinator",
    },
    {
        "id": "appoint_coordinator",
        "title": "Appoint a coordinator",
        "area": "coordination",
        "default_owner": "coordinator",
    },
    {
        "id": "involve_dpo",
        "title": "Involve the DPO",
        "area": "data_protection",
        "default_owner": "coordinator",
    },
    {
        "id": "ico_decision",
        "title": "Decide on ICO notification",
        "area": "notification",
        "default_owner": "dpo",
        "fields": {"outcome": ["notify", "not_notify"]},
        "rationale": "required",
    },
    {
        "id": "revoke_access",
        "title": "Revoke access",
        "area": "technical",
        "default_owner": "technical_lead",
        "hands_on": True,
    },
    {"id": "record_breach", "title": "Record the breach", "area": "data_protection", "default_owner": "dpo"},
]
ROLE_INFO = [
    {"id": "coordinator", "title": "Incident coordinator"},
    {"id": "dpo", "title": "Data protection officer"},
    {"id": "technical_lead", "title": "Technical lead"},
]


def scenario(scenario_id: str = "lost-admin", title: str = "Lost admin account") -> dict[str, Any]:
    """A resolved scenario (self-contained, as a transcript embeds it)."""
    return {
        "id": scenario_id,
        "title": title,
        "summary": "An admin laptop is lost; its sessions are still live.",
        "kind": "lost-admin-account",
        "duration": 7200,
        "roles": ["coordinator", "dpo", "technical_lead"],
        "injects": [
            {"id": "alert", "at": 0, "channel": "alert", "title": "Admin reports a lost laptop"},
            {
                "id": "ticket",
                "at": 1200,
                "channel": "ticket",
                "title": "Customer asks about their data",
                "marks": ["aware"],
            },
        ],
        "expectations": [
            {
                "id": "coord",
                "action": "appoint_coordinator",
                "owner": "coordinator",
                "after": "start",
                "within": 900,
                "weight": 3,
            },
            {
                "id": "declare",
                "action": "declare_incident",
                "owner": "coordinator",
                "after": "start",
                "within": 1800,
                "weight": 1,
            },
            {
                "id": "revoke",
                "action": "revoke_access",
                "owner": "technical_lead",
                "after": "inject:alert",
                "within": 1800,
                "weight": 2,
            },
            {
                "id": "dpo-in",
                "action": "involve_dpo",
                "owner": "coordinator",
                "after": "inject:ticket",
                "within": 1800,
                "weight": 2,
            },
            {
                "id": "ico",
                "action": "ico_decision",
                "owner": "dpo",
                "after": "marker:aware",
                "within": 259200,
                "weight": 2,
                "rationale": "required",
            },
        ],
        "avoid": [
            {"id": "coord-hands-on", "role": "coordinator", "actions": ["revoke_access"], "penalty": 1},
        ],
        "actions": ACTIONS,
        "role_info": ROLE_INFO,
    }


def other_scenario() -> dict[str, Any]:
    data = scenario("suspected-breach", "Suspected personal data breach")
    data["kind"] = "tabletop"
    data["expectations"] = [e for e in data["expectations"] if e["id"] in ("coord", "dpo-in", "ico")]
    data["expectations"].append(
        {
            "id": "record",
            "action": "record_breach",
            "owner": "dpo",
            "after": "marker:aware",
            "within": 7200,
            "weight": 1,
        }
    )
    return data


GOOD = [
    (300, "coordinator", "Sam", "appoint_coordinator", {}, ""),
    (600, "coordinator", "Sam", "declare_incident", {}, ""),
    (900, "technical_lead", "Ana", "revoke_access", {}, ""),
    (1500, "coordinator", "Sam", "involve_dpo", {}, ""),
    (2400, "dpo", "Priya", "ico_decision", {"outcome": "notify"}, "Contact data of 4,000 people exposed"),
]
POOR = [
    (1200, "coordinator", "Lee", "appoint_coordinator", {}, ""),
    (1300, "coordinator", "Lee", "revoke_access", {}, ""),
    (4000, "coordinator", "Lee", "involve_dpo", {}, ""),
]


def canonical_hash(line: dict[str, Any]) -> str:
    body = {k: v for k, v in line.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_events(
    scenario_data: dict[str, Any],
    decisions: list[tuple],
    *,
    team: str | None = "blue",
    mode: str = "team",
    participants: list[dict[str, Any]] | None = None,
    started: datetime = datetime(2026, 3, 2, 9, 10, tzinfo=UTC),
    end: float = 7200,
) -> list[dict[str, Any]]:
    """The events of a run: session start, injects, markers, decisions, session end (no chain yet)."""
    participants = participants or [
        {"name": "Sam", "role": "coordinator", "simulated": False},
        {"name": "Priya", "role": "dpo", "simulated": False},
        {"name": "Ana", "role": "technical_lead", "simulated": False},
    ]
    timed: list[tuple[float, int, dict[str, Any]]] = []
    for order, inject in enumerate(scenario_data["injects"]):
        timed.append(
            (
                inject["at"],
                order,
                {
                    "type": "inject_released",
                    "inject": inject["id"],
                    "title": inject.get("title", ""),
                    "channel": inject.get("channel", "briefing"),
                    "from": "",
                    "to": ["all"],
                    "phase": None,
                    "body": "",
                    "trigger": "schedule",
                    "condition": None,
                },
            )
        )
        for marker in inject.get("marks", []):
            timed.append(
                (
                    inject["at"],
                    order,
                    {
                        "type": "marker_set",
                        "marker": marker,
                        "source": f"inject:{inject['id']}",
                    },
                )
            )
    for order, (t, role, name, action, fields, rationale) in enumerate(decisions, start=100):
        timed.append(
            (
                t,
                order,
                {
                    "type": "decision",
                    "role": role,
                    "by": name,
                    "action": action,
                    "fields": fields,
                    "rationale": rationale,
                    "inject": None,
                    "delegated_by": None,
                    "delegation": None,
                    "delegated_at": None,
                },
            )
        )
    timed.sort(key=lambda item: (item[0], item[1]))
    events = [
        {
            "type": "session_started",
            "t": 0,
            "scenario_id": scenario_data["id"],
            "scenario_path": f"scenarios/{scenario_data['id']}.yaml",
            "scenario_sha256": "0" * 64,
            "scenario": scenario_data,
            "seed": 7,
            "speed": 60,
            "participants": participants,
            "mode": mode,
            "team": team,
            "solo_role": "coordinator" if mode == "solo" else None,
            "tool_version": "0.1.0",
            "resumed_from": None,
            "conditions": {"mode": mode, "hints": False, "auto_pause": False, "speed": 60},
            "rules_version": RULES_VERSION,
        }
    ]
    for t, _, body in timed:
        events.append({"t": t, **body})
    events.append({"type": "session_ended", "t": end, "reason": "duration"})
    for seq, event in enumerate(events):
        event["seq"] = seq
        event["wall"] = (started + timedelta(seconds=event["t"] / 60)).isoformat().replace("+00:00", "Z")
        if event["type"] == "decision":
            event["id"] = f"d{seq}"
    return events


def chain(events: list[dict[str, Any]]) -> list[str]:
    """The transcript's lines with `prev` and `hash` filled in."""
    lines = []
    prev = None
    for event in events:
        line = {k: v for k, v in event.items() if k not in ("prev", "hash")}
        line["prev"] = prev
        line["hash"] = canonical_hash(line)
        prev = line["hash"]
        lines.append(json.dumps(line, sort_keys=True, ensure_ascii=False, separators=(",", ":")))
    return lines


def write_transcript(
    path: Path,
    scenario_data: dict[str, Any] | None = None,
    decisions: list[tuple] | None = None,
    **kwargs: Any,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    events = build_events(scenario_data or scenario(), GOOD if decisions is None else decisions, **kwargs)
    path.write_text("\n".join(chain(events)) + "\n", encoding="utf-8")
    return path


def tamper(path: Path, *, seq: int = 3, key: str = "by", value: Any = "Mallory") -> None:
    """Edit one field of one line, leaving its hash as it was (what a forger would do)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    line = json.loads(lines[seq])
    line[key] = value
    lines[seq] = json.dumps(line, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def sample_folder(root: Path) -> Path:
    """A folder with a good and a poor team run, a solo run of another scenario, and a broken file."""
    write_transcript(root / "2026-03-02-blue.jsonl", team="blue")
    write_transcript(
        root / "2026-04-06-red.jsonl",
        decisions=POOR,
        team="red",
        participants=[{"name": "Lee", "role": "coordinator", "simulated": False}],
        started=datetime(2026, 4, 6, 14, 0, tzinfo=UTC),
    )
    write_transcript(
        root / "2026-05-11-blue.jsonl",
        decisions=GOOD[:4],
        team="blue",
        started=datetime(2026, 5, 11, 10, 0, tzinfo=UTC),
    )
    write_transcript(
        root / "solo" / "2026-05-20-sam.jsonl",
        other_scenario(),
        decisions=GOOD[:2] + GOOD[3:],
        team=None,
        mode="solo",
        participants=[
            {"name": "Sam", "role": "coordinator", "simulated": False},
            {"name": "DPO", "role": "dpo", "simulated": True},
        ],
        started=datetime(2026, 5, 20, 8, 30, tzinfo=UTC),
    )
    broken = write_transcript(
        root / "2026-06-01-green.jsonl", team="green", started=datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    )
    tamper(broken)
    return root
