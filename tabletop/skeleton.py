"""Scenario skeletons for `tabletop new`: a valid, ready-to-edit scenario for each rehearsal kind."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tabletop.model import KINDS


class SkeletonError(ValueError):
    """A name or kind a skeleton cannot be made from; the message says what was expected."""


def scenario_id(name: str) -> str:
    """The kebab-case id for a scenario name (`Restore test Q3` -> `restore-test-q3`)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    return slug[:60].strip("-")


def _e(id: str, action: str, within: str, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "action": action,
        **{k: v for k, v in extra.items() if k in ("owner", "after")},
        "within": within,
        **{k: v for k, v in extra.items() if k not in ("owner", "after")},
        "title": title,
    }


# What differs between kinds. Every kind gets the same shape around it: a start inject, a key
# inject with the central expectations, a branch on a missed expectation, a branch on a decision,
# a time jump, a wrap-up, responses for every role but the coordinator, an avoid rule, hot-wash.
KIND_SPECS: dict[str, dict[str, Any]] = {
    "tabletop": {
        "summary": "A suspected personal data breach: detection, assessment, the notification decisions.",
        "jump": "day 4 09:00",  # the 72-hour clocks fall due on day 4
        "roles": ["coordinator", "technical_lead", "comms_owner", "dpo"],
        "regimes": ["uk_gdpr"],
        "rubric": ["coordination", "breach"],
        "context": {
            "data_positions": [
                {
                    "dataset": "Customer contact records",
                    "position": "controller",
                    "data_types": ["names", "email addresses"],
                    "subjects": "Customers",
                }
            ]
        },
        "start": {
            "title": "Alert: unusual export from the CRM",
            "channel": "alert",
            "marks": ["suspected"],
            "body": "EDIT: what the first alert says, with times, systems and numbers.",
        },
        "key": {
            "title": "Forensics: personal data was copied",
            "channel": "chat",
            "marks": ["aware"],
            "body": "EDIT: the fact that makes the breach reasonably certain.",
            "expects": [
                _e(
                    "breach-confirmed",
                    "confirm_personal_data_breach",
                    "2h",
                    "The DPO confirms the breach; the 72 hours start",
                    weight=2,
                )
            ],
        },
        "done_action": "confirm_personal_data_breach",
        "wrap": [
            _e(
                "breach-recorded",
                "record_breach",
                "2h",
                "The breach record complete, with the ICO decision's reason",
            )
        ],
    },
    "restore": {
        "summary": "A restore test (or a real restore): measured against RPO and RTO.",
        "roles": ["coordinator", "technical_lead", "service_owner", "scribe"],
        "context": {
            "recovery": {
                "system": "EDIT: the system restored",
                "backup": "EDIT: the backup used",
                "rpo": "1h",
                "rto": "4h",
            }
        },
        "start": {
            "title": "Restore test starts",
            "channel": "briefing",
            "body": "EDIT: what is restored, to where, the witness, the success criteria.",
        },
        "key": {
            "title": "Ready to restore",
            "channel": "chat",
            "body": "EDIT: the restore plan and its risks.",
            "expects": [
                _e(
                    "restored",
                    "restore_backup",
                    "30m",
                    "The technical lead restores",
                    owner="technical_lead",
                    weight=2,
                ),
                _e(
                    "validated",
                    "confirm_data_integrity",
                    "3h",
                    "Validate the restored data before calling it done",
                    requires=["restore_backup"],
                    weight=2,
                ),
            ],
        },
        "done_action": "restore_backup",
        "wrap": [
            _e(
                "rpo-rto",
                "verify_rpo_rto",
                "1h",
                "RTO and RPO expected vs achieved, with a witness",
                requires=["confirm_data_integrity"],
                weight=3,
            ),
            _e(
                "register",
                "record_risk",
                "2h",
                "A material worsening goes to the risk register",
                value={"register": True},
            ),
        ],
    },
    "failover": {
        "summary": "A failover to the standby site: the decision, the switch, the proof, RPO and RTO.",
        "roles": ["coordinator", "technical_lead", "service_owner", "comms_owner"],
        "rubric": ["coordination"],
        "context": {
            "recovery": {
                "system": "EDIT: the service failed over",
                "backup": "EDIT: the standby",
                "rpo": "5m",
                "rto": "1h",
            }
        },
        "start": {
            "title": "Primary site degraded",
            "channel": "alert",
            "body": "EDIT: what fails, since when, for whom.",
        },
        "key": {
            "title": "Fail over now or wait?",
            "channel": "chat",
            "body": "EDIT: replication lag, the trade-off.",
            "expects": [
                _e(
                    "decided",
                    "record_decision",
                    "20m",
                    "The service owner decides, with the reason",
                    owner="service_owner",
                    weight=2,
                ),
                _e(
                    "failed-over",
                    "failover",
                    "45m",
                    "The technical lead fails over after the decision",
                    requires=["record_decision"],
                    weight=3,
                ),
            ],
        },
        "done_action": "failover",
        "wrap": [
            _e("restored", "confirm_service_restored", "1h", "Users are served, confirmed from their side"),
            _e("rpo-rto", "verify_rpo_rto", "2h", "RTO and RPO expected vs achieved", weight=3),
        ],
    },
    "restore-runbook": {
        "summary": "A runbook rehearsal: the restore runbook's steps in order, validation after each, stop conditions.",
        "roles": ["coordinator", "technical_lead", "service_owner", "scribe"],
        "context": {
            "recovery": {"system": "EDIT", "backup": "EDIT", "rpo": "15m", "rto": "2h"},
            "runbook": {
                "id": "EDIT-RB-01",
                "steps": [
                    "1. Freeze changes",
                    "2. Restore to a new instance",
                    "2a. VALIDATE row counts",
                    "3. Repoint",
                    "3a. VALIDATE smoke tests",
                ],
                "stop_conditions": ["STOP before step 3 if validation fails"],
            },
        },
        "start": {
            "title": "Runbook rehearsal starts",
            "channel": "briefing",
            "body": "EDIT: the runbook, the target, the observer.",
            "expects": [
                _e("step1-freeze", "freeze_changes", "10m", "Step 1: freeze changes", owner="coordinator")
            ],
        },
        "key": {
            "title": "Restore finished; validation shows a difference",
            "channel": "chat",
            "body": "EDIT: the validation result that meets a stop condition.",
            "expects": [
                _e(
                    "step2-restore",
                    "restore_backup",
                    "30m",
                    "Step 2: restore, after the freeze",
                    requires=["freeze_changes"],
                    weight=2,
                ),
                _e(
                    "step2a-validate",
                    "confirm_data_integrity",
                    "45m",
                    "Step 2a: validate",
                    requires=["restore_backup"],
                    weight=2,
                ),
                _e(
                    "stop-honoured",
                    "halt_runbook",
                    "1h",
                    "Halt at the stop condition",
                    requires=["confirm_data_integrity"],
                    weight=3,
                ),
            ],
        },
        "done_action": "halt_runbook",
        "wrap": [
            _e(
                "step3-repoint",
                "switch_traffic",
                "1h",
                "Step 3: repoint after the halt is resolved",
                requires=["confirm_data_integrity", "halt_runbook"],
                weight=2,
            ),
            _e(
                "step3a-smoke",
                "run_smoke_tests",
                "1h30m",
                "Step 3a: smoke tests",
                requires=["switch_traffic"],
                weight=2,
            ),
        ],
    },
    "failover-runbook": {
        "summary": "A runbook rehearsal: the failover runbook's steps in order, validation after each, stop conditions.",
        "roles": ["coordinator", "technical_lead", "service_owner", "scribe"],
        "context": {
            "recovery": {"system": "EDIT", "backup": "EDIT", "rpo": "0s", "rto": "30m"},
            "runbook": {
                "id": "EDIT-RB-02",
                "steps": [
                    "1. Freeze",
                    "2. PRE-CHECK",
                    "3. Promote",
                    "3a. VALIDATE",
                    "4. Switch traffic",
                    "4a. VALIDATE",
                    "5. Fail back",
                ],
                "stop_conditions": ["STOP before step 3 if any pre-check fails"],
            },
        },
        "start": {
            "title": "Failover window opens",
            "channel": "briefing",
            "body": "EDIT: the change, the window, who executes.",
            "expects": [_e("step1-freeze", "freeze_changes", "10m", "Step 1: freeze", owner="coordinator")],
        },
        "key": {
            "title": "Pre-checks",
            "channel": "chat",
            "body": "EDIT: the pre-check results.",
            "expects": [
                _e(
                    "step2-precheck",
                    "check_monitoring",
                    "15m",
                    "Step 2: pre-checks",
                    requires=["freeze_changes"],
                    weight=2,
                ),
                _e(
                    "step3-promote",
                    "failover",
                    "1h",
                    "Step 3: promote after the pre-checks",
                    requires=["check_monitoring"],
                    weight=3,
                ),
                _e(
                    "step3a-validate",
                    "confirm_data_integrity",
                    "1h30m",
                    "Step 3a: validate",
                    requires=["failover"],
                    weight=2,
                ),
            ],
        },
        "done_action": "failover",
        "wrap": [
            _e(
                "step4-switch",
                "switch_traffic",
                "1h",
                "Step 4: switch traffic",
                requires=["confirm_data_integrity"],
                weight=2,
            ),
            _e("step5-failback", "failback", "3h", "Step 5: fail back", requires=["switch_traffic"]),
        ],
    },
    "lost-admin-account": {
        "summary": "The only administrator account is lost: verified recovery, break-glass under control, clean-up.",
        "roles": ["coordinator", "technical_lead", "security_lead", "service_owner", "comms_owner"],
        "rubric": ["coordination", "access_recovery"],
        "start": {
            "title": "The admin account is locked out",
            "channel": "ticket",
            "marks": ["access_lost"],
            "body": "EDIT: who is locked out of what, and what is blocked by it.",
        },
        "key": {
            "title": "A caller asks for a reset",
            "channel": "phone",
            "body": "EDIT: the pressure to skip verification.",
            "expects": [
                _e(
                    "identity",
                    "verify_identity",
                    "30m",
                    "Verify identity on a known channel first",
                    owner="security_lead",
                    weight=2,
                )
            ],
        },
        "done_action": "break_glass",
        "wrap": [
            _e(
                "resealed",
                "rotate_keys",
                "4h",
                "Re-seal the break-glass credential",
                after="action:break_glass",
            )
        ],
    },
    "data-subject-request": {
        "summary": "A data subject request on its statutory clock: one month from receipt.",
        "roles": ["coordinator", "dpo", "customer_success", "legal"],
        "regimes": ["uk_gdpr_dsr"],
        "context": {
            "data_positions": [
                {
                    "dataset": "Customer accounts",
                    "position": "controller",
                    "data_types": ["names", "contact details", "support tickets"],
                    "subjects": "Customers",
                }
            ]
        },
        "start": {
            "title": "A customer asks for all their data",
            "channel": "email",
            "marks": ["dsr_received"],
            "to": ["customer_success"],
            "body": "EDIT: the request as the person wrote it.",
        },
        "key": {
            "title": "Where is the data?",
            "channel": "chat",
            "body": "EDIT: the systems and processors that hold it.",
            "expects": [
                _e(
                    "dpo-in",
                    "involve_dpo",
                    "1d",
                    "The request reaches the DPO the same day",
                    owner="customer_success",
                    weight=2,
                ),
                _e(
                    "logged",
                    "log_subject_request",
                    "1d",
                    "Logged with the date of receipt",
                    value={"request_type": "access"},
                ),
            ],
        },
        "done_action": "log_subject_request",
        "jump": "day 37 09:00",  # the month (and its roll off a weekend) falls due before day 37
        "wrap": [
            _e(
                "answered",
                "respond_to_subject_request",
                "5d",
                "The complete response, redacted where needed",
                weight=2,
            )
        ],
    },
    "customer-notification": {
        "summary": "We are processor: the customers' contract clocks decide when and what we tell them.",
        "jump": "day 4 09:00",  # the 72-hour clock falls due on day 4
        "roles": ["coordinator", "technical_lead", "dpo", "comms_owner", "customer_success"],
        "regimes": ["uk_gdpr"],
        "rubric": ["coordination", "breach"],
        "context": {
            "data_positions": [
                {
                    "dataset": "EDIT: the customer's dataset",
                    "position": "processor",
                    "controller": "{{ customer }}",
                    "contract": "EDIT: DPA reference",
                    "notify_controller_within": "24h",
                }
            ]
        },
        "start": {
            "title": "A customer reports data that is not theirs",
            "channel": "ticket",
            "marks": ["suspected"],
            "body": "EDIT: the customer's words.",
        },
        "key": {
            "title": "Cause and scope found",
            "channel": "chat",
            "marks": ["aware"],
            "body": "EDIT: what happened, to whose data.",
            "expects": [
                _e(
                    "breach-confirmed",
                    "confirm_personal_data_breach",
                    "1h",
                    "Confirm; the contract clock starts",
                    weight=2,
                )
            ],
        },
        "done_action": "notify_controller",
        "expectations": [
            _e(
                "written-report",
                "send_incident_report",
                "5d",
                "The contract's written report",
                after="action:notify_controller",
                business_days=True,
                weight=2,
            )
        ],
        "wrap": [_e("followups", "create_followup", "4h", "Follow-ups with owners", owner="coordinator")],
    },
    "incident-coordinator": {
        "summary": "Coordination practice: declare, delegate with time-boxes, keep the cadence, hand over.",
        "roles": ["coordinator", "technical_lead", "comms_owner", "scribe"],
        "rubric": ["coordination"],
        "start": {"title": "Customers cannot log in", "channel": "alert", "body": "EDIT: the first signal."},
        "key": {
            "title": "Executive wants one line",
            "channel": "chat",
            "body": "EDIT: the pressure from above.",
            "expects": [
                _e(
                    "exec-briefed",
                    "escalate",
                    "15m",
                    "Brief the executive with facts and the next decision time",
                    owner="coordinator",
                )
            ],
        },
        "done_action": "rollback",
        "wrap": [
            _e(
                "handed-over",
                "handover",
                "30m",
                "Explicit, acknowledged handover",
                owner="coordinator",
                weight=2,
            )
        ],
    },
    "post-mortem": {
        "summary": "A blameless post-mortem on a realistic timeline, ending in risks scored and owned.",
        "roles": ["coordinator", "incident_lead", "service_owner", "scribe"],
        "start": {
            "title": "The incident, as it happened",
            "channel": "alert",
            "body": "EDIT: the first page of the timeline.",
        },
        "key": {
            "title": "Service restored",
            "channel": "chat",
            "body": "EDIT: how it ended.",
            "expects": [
                _e(
                    "pm-booked",
                    "schedule_postmortem",
                    "2h",
                    "Book the review with a named owner",
                    owner="coordinator",
                    weight=2,
                )
            ],
        },
        "done_action": "record_risk",
        "wrap": [
            _e(
                "factors",
                "record_contributing_factors",
                "45m",
                "Blameless contributing factors",
                value={"blameless": True},
                weight=2,
            ),
            _e(
                "risk",
                "record_risk",
                "1h",
                "Inherent and residual risk; which mitigation lowers likelihood",
                value={"mitigation_lowers": "likelihood", "register": True},
                weight=2,
            ),
            _e(
                "impact",
                "record_mitigation",
                "1h",
                "The mitigation that lowers impact",
                value={"lowers": "impact"},
            ),
            _e(
                "residual",
                "accept_risk",
                "1h",
                "The service owner accepts the residual risk",
                requires=["record_risk"],
            ),
        ],
    },
    "manual-change-recovery": {
        "summary": "Recovery from a temporary manual change: captured, reconciled into IaC, the temporary fix removed.",
        "roles": ["coordinator", "technical_lead", "service_owner"],
        "rubric": ["infrastructure_change"],
        "start": {
            "title": "Fixed it by hand at night",
            "channel": "chat",
            "marks": ["manual_change"],
            "body": "EDIT: exactly what was changed by hand, where and by whom.",
        },
        "key": {
            "title": "The next apply would undo it",
            "channel": "ticket",
            "body": "EDIT: the drift and the pipeline.",
            "expects": [
                _e(
                    "pipeline-held",
                    "freeze_changes",
                    "1h",
                    "Hold the pipeline until reconciled",
                    owner="coordinator",
                )
            ],
        },
        "done_action": "reconcile_iac",
        "wrap": [
            _e(
                "closed",
                "close_incident",
                "2h",
                "Close only when captured, reconciled and the fix removed",
                requires=["capture_manual_change", "reconcile_iac", "remove_temporary_fix"],
            )
        ],
    },
    "iac-reconciliation": {
        "summary": "Reconcile emergency changes back into infrastructure as code until the plan is clean.",
        "roles": ["coordinator", "technical_lead", "security_lead", "service_owner"],
        "rubric": ["infrastructure_change"],
        "start": {
            "title": "Reconciliation session",
            "channel": "briefing",
            "marks": ["manual_change"],
            "body": "EDIT: the incident and the changes listed so far.",
        },
        "key": {
            "title": "The audit trail shows more changes",
            "channel": "chat",
            "body": "EDIT: the changes nobody wrote down.",
            "expects": [
                _e(
                    "decided",
                    "record_decision",
                    "2h",
                    "Codify or revert, decided per change",
                    owner="service_owner",
                    weight=2,
                )
            ],
        },
        "done_action": "reconcile_iac",
        "wrap": [
            _e(
                "closed",
                "close_incident",
                "2h",
                "Close only when captured, reconciled and the fix removed",
                requires=["capture_manual_change", "reconcile_iac", "remove_temporary_fix"],
            )
        ],
    },
}

HANDS_ON = [
    "contain",
    "revoke_access",
    "reset_credentials",
    "break_glass",
    "rotate_keys",
    "emergency_change",
    "reconcile_iac",
    "remove_temporary_fix",
    "rollback",
    "restore_backup",
    "failover",
    "switch_traffic",
    "failback",
]


def skeleton_data(name: str, kind: str) -> dict[str, Any]:
    """The skeleton of a KIND scenario called NAME, as authored scenario data."""
    if kind not in KINDS:
        raise SkeletonError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not name.isprintable() or len(name) > 200:
        raise SkeletonError(
            "expected a name on one line of at most 200 printable characters "
            "(no newline, tab or control character)"
        )
    sid = scenario_id(name)
    if not sid or not re.match(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", sid):
        raise SkeletonError(f"cannot make a scenario id from {name!r}; use letters and digits")
    spec = KIND_SPECS[kind]
    roles: list[str] = list(spec["roles"])
    if spec.get("regimes") and "executive" not in roles:
        roles.append("executive")  # the accountable decision maker on notification
    key_expects: list[dict[str, Any]] = spec["key"]["expects"]
    first_key = key_expects[0]["id"]

    def inject(inject_id: str, at: str, phase: str, part: dict[str, Any], **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": inject_id,
            "at": at,
            "phase": phase,
            "channel": part.get("channel", "briefing"),
            "from": part.get("from", "Exercise control"),
            "to": part.get("to", ["all"]),
            "title": part["title"],
            "body": part["body"] + "\n",
        }
        if part.get("marks"):
            data["marks"] = part["marks"]
        if part.get("affects"):
            data["affects"] = part["affects"]
        data.update(extra)
        if part.get("expects"):
            data["expects"] = part["expects"]
        return data

    start = dict(spec["start"])
    start_expects = (
        [
            *list(start.get("expects", [])),
            _e("roles-named", "assign_roles", "15m", "Name a person for every role", owner="coordinator"),
        ]
        if "coordination" not in spec.get("rubric", [])
        else list(start.get("expects", []))
    )
    start["expects"] = start_expects
    datasets = [
        f"dataset-{index + 1}"
        for index, _ in enumerate((spec.get("context") or {}).get("data_positions", []))
    ]
    if datasets:
        start["affects"] = datasets
    jump = spec.get("jump", "day 2 09:00")
    wrap_day = int(jump.split()[1])
    wrap_at = f"day {wrap_day} 09:30"
    injects = [
        inject(
            "start",
            "T+0m",
            "first",
            start,
            objective="EDIT: the capability this inject exercises",
            controller="Lead controller",
            notes="EDIT: what the controller watches for.",
        ),
        inject("key", "T+30m", "first", spec["key"]),
        inject(
            "key-missed",
            "+10m",
            "first",
            {
                "title": "Someone chases the missed action",
                "channel": "phone",
                "to": ["coordinator"],
                "body": "EDIT: the consequence of the missed expectation, in a person's words.",
                "expects": [
                    _e(
                        "chased",
                        "status_update",
                        "15m",
                        "Answer the chase with facts and owners",
                        owner="coordinator",
                    )
                ],
            },
            when={"missed": first_key},
        ),
        inject(
            "key-done",
            "+15m",
            "second",
            {
                "title": "A consequence of the decision",
                "channel": "chat",
                "body": f"EDIT: what happens because {spec['done_action']} was recorded.",
            },
            when={"done": spec["done_action"]},
        ),
        inject(
            "overnight",
            "T+3h",
            "second",
            {"title": "The clock moves forward", "body": "EDIT: what happened in the skipped time."},
            advance_to=jump,
        ),
        inject(
            "wrap",
            wrap_at,
            "second",
            {
                "title": "Wrap-up",
                "body": "EDIT: the state of play, what is still open.",
                "expects": spec["wrap"],
            },
        ),
    ]
    responses = [
        {
            "on": "assign_roles" if "coordination" not in spec.get("rubric", []) else "declare_incident",
            "from": role,
            "after": "5m",
            "title": f"{role.replace('_', ' ').capitalize()} ready",
            "body": f"EDIT: what the simulated {role.replace('_', ' ')} says in solo practice.",
        }
        for role in roles
        if role != "coordinator"
    ]
    data: dict[str, Any] = {
        "id": sid,
        "title": name.strip(),
        "summary": spec["summary"],
        "kind": kind,
        "objectives": ["EDIT: what this rehearsal exercises, one line each"],
        "starts_at": "2026-03-03T09:30",
        "duration": f"{wrap_day - 1}d4h",
        "speed": 60,
        "seed": 1,
        "roles": roles,
    }
    if spec.get("regimes"):
        data["regimes"] = spec["regimes"]
    if spec.get("rubric"):
        data["rubric"] = spec["rubric"]
    data["variables"] = {"customer": "company", "lead": "name"}
    if spec.get("context"):
        context = dict(spec["context"])
        if context.get("data_positions"):
            context["data_positions"] = [
                {"id": datasets[index], **position}
                for index, position in enumerate(context["data_positions"])
            ]
        data["context"] = context
    data["phases"] = [
        {
            "id": "first",
            "title": "EDIT: first module",
            "questions": ["EDIT: a discussion question for this module"],
        },
        {
            "id": "second",
            "title": "EDIT: second module",
            "questions": ["EDIT: a discussion question for this module"],
        },
    ]
    data["injects"] = injects
    data["responses"] = responses
    if spec.get("expectations"):
        data["expectations"] = spec["expectations"]
    data["avoid"] = [
        {
            "id": "coordinator-hands-on-here",
            "role": "coordinator",
            "actions": HANDS_ON,
            "penalty": 1,
            "detail": "The coordinator changed a system instead of delegating it.",
        }
    ]
    data["hotwash"] = [
        {"question": "EDIT: what went well?", "kind": "worked"},
        {"question": "EDIT: what would we change?", "kind": "change"},
        "EDIT: what surprised you?",
    ]
    return data


_COMMENTS = {
    "id": "unique, kebab-case; the file should be named after it",
    "starts_at": "a weekday morning; remove it to show times as T+",
    "duration": "the sim time covered from the start, time jumps included",
    "variables": "seeded with faker; use them in text as {{ customer }}",
    "injects": "`at` is T+offset, a clock time (09:30, 'day 2 08:00') or +delay for a branch (`when`)",
    "responses": "solo practice: what each simulated teammate answers when an action is recorded",
    "avoid": "anti-patterns scored as findings with a penalty",
}


def skeleton(name: str, kind: str) -> str:
    """The skeleton as YAML text with guiding comments (valid as written; every EDIT is yours)."""
    data = skeleton_data(name, kind)

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    _Dumper.add_representer(str, _str)
    lines = [
        f"# {name.strip()}: a {kind} rehearsal skeleton written by `tabletop new`.",
        "# Replace every EDIT, then check it with `tabletop validate` and read it with `tabletop guide`.",
    ]
    for key, value in data.items():
        if key in _COMMENTS:
            lines.append(f"# {_COMMENTS[key]}")
        block = yaml.dump({key: value}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
        lines.append(block.rstrip("\n"))
    return "\n".join(lines) + "\n"
