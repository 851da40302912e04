"""The breach record's fields and the action fields that fill them (the record is never guessed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tabletop.model import Action


@dataclass(frozen=True)
class RecordRow:
    """One field of the breach record: its label and the (action, field) pairs that fill it.

    The latest non-empty value among `sources` is shown (every value, oldest first, when
    `join`); a row nobody filled reads "not recorded".
    """

    label: str
    sources: tuple[tuple[str, str], ...]
    join: bool = False


BREACH_RECORD: tuple[RecordRow, ...] = (
    RecordRow("Identifier", (("record_breach", "reference"),)),
    RecordRow("Detected", (("record_breach", "detected_at"),)),
    RecordRow("Possibly started", (("record_breach", "started_at"), ("record_discovery", "discovered_on"))),
    RecordRow("Reported by", (("record_breach", "reported_by"),)),
    RecordRow("Coordinator", (("appoint_coordinator", "coordinator"),)),
    RecordRow("Incident lead", (("assign_roles", "incident_lead"),)),
    RecordRow("Systems affected", (("record_breach", "systems_affected"),)),
    RecordRow("Customers affected", (("record_breach", "customers_affected"),)),
    RecordRow("Data types", (("assess_personal_data", "data_types"),)),
    RecordRow("Data sensitivity", (("assess_personal_data", "sensitivity"),)),
    RecordRow("Data subjects", (("assess_personal_data", "subjects"),)),
    RecordRow("Records", (("assess_personal_data", "records"), ("record_discovery", "individuals"))),
    RecordRow("Impact on individuals", (("assess_risk_to_individuals", "risk"),)),
    RecordRow("Likely consequences", (("assess_risk_to_individuals", "consequences"),)),
    RecordRow("Evidence reviewed", (("record_breach", "evidence_reviewed"),)),
    RecordRow(
        "Evidence preserved", (("preserve_evidence", "evidence"), ("preserve_evidence", "location")), True
    ),
    RecordRow("Containment", (("record_breach", "containment"),)),
    RecordRow("Recovery", (("record_breach", "recovery"),)),
    RecordRow("Controller/processor position", (("determine_controller_processor", "position"),)),
    RecordRow("Controller", (("determine_controller_processor", "controller"),)),
    RecordRow("Controller contact told", (("notify_controller", "controller_contact"),)),
    RecordRow(
        "Contract notification requirement",
        (
            ("determine_controller_processor", "contract"),
            ("determine_controller_processor", "notify_controller_within"),
        ),
        True,
    ),
    RecordRow("Breach or not", (("record_breach", "status"),)),
    RecordRow("ICO decision", (("ico_decision", "outcome"),)),
    RecordRow("Supervisory authority decision", (("sa_decision", "outcome"),)),
    RecordRow("Data subject decision", (("data_subject_decision", "outcome"),)),
    RecordRow("Notification evidence kept at", (("record_breach", "notification_evidence"),)),
    RecordRow("Follow-up actions", (("create_followup", "action"), ("record_breach", "follow_up")), True),
)
"""The rows of the breach record (UK GDPR Art 33(5); the ICO's breach log), in order. Rows
built from several decisions (DPO involvement, communications sent and not sent, residual
risk) are added by the report from the decisions themselves."""


def breach_record_problems(actions: dict[str, Action]) -> list[tuple[RecordRow, str, str]]:
    """(row, action, field) for every source of a breach-record row that the catalog lacks."""
    missing = []
    for row in BREACH_RECORD:
        for action_id, field_name in row.sources:
            action = actions.get(action_id)
            if action is None or field_name not in action.fields:
                missing.append((row, action_id, field_name))
    return missing
