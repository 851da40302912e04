"""Delegated work: tasks one role hands another, and the decisions that carry them out.

A delegation (`delegation` event) needs only the role it goes to, an optional time-box and a
brief (its rationale). Work delegated to a role a player plays waits in the pending tasks
until that player carries it out; the engine carries out work delegated to a simulated
teammate (and, in `simulate` mode, to anyone) after the time-box or the scenario's
`delegate_delay`. Carried out, it is a `decision` with `delegated_by`, `delegation` and
`delegated_at`.
"""

from __future__ import annotations

from typing import Any

from tabletop.decisions import Rejected, plain_json


class Delegations:
    """Every delegation of a session, the tasks waiting for a player, and those carried out."""

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        """Every delegation recorded, by id."""
        self.pending: dict[str, dict[str, Any]] = {}
        """Delegations waiting for a player, oldest first."""
        self.completed: set[str] = set()

    def add(self, record: dict[str, Any], *, for_a_player: bool) -> None:
        """Follow a `delegation` event; `for_a_player`: a player carries it out (it waits)."""
        task = dict(record)
        self.tasks[record["id"]] = task
        if for_a_player:
            self.pending[record["id"]] = task

    def carried_out(self, delegation_id: str) -> None:
        """Follow a `decision` that carried out a delegation."""
        self.completed.add(delegation_id)
        self.pending.pop(delegation_id, None)

    def pending_for(self, role: str | None) -> list[dict[str, Any]]:
        """Delegations waiting for a player of `role` (all roles when None), oldest first."""
        return [d for d in self.pending.values() if role is None or d["to_role"] == role]

    def pending_task(self, delegation_id: str) -> dict[str, Any]:
        """The pending task `delegation_id`; Rejected when there is none."""
        task = self.pending.get(delegation_id)
        if task is None:
            if delegation_id in self.completed:
                raise Rejected(f"task {delegation_id!r} has already been carried out")
            pending = ", ".join(self.pending) or "none"
            raise Rejected(f"no pending task {delegation_id!r}; pending tasks: {pending}")
        return task

    def handed_over(self, role: str, action: str) -> bool:
        """Whether `action` was delegated to `role` and not yet carried out."""
        return any(
            task["to_role"] == role and task["action"] == action and task_id not in self.completed
            for task_id, task in self.tasks.items()
        )


def carrying_out(task: dict[str, Any], by: str, fields: dict[str, Any], rationale: str) -> dict[str, Any]:
    """The keys (but `id`) of the `decision` that carries out a delegated `task`."""
    return {
        "role": task["to_role"],
        "by": by,
        "action": task["action"],
        "fields": plain_json(dict(fields or {})),
        "rationale": rationale or "",
        "inject": task.get("inject"),
        "delegated_by": task["role"],
        "delegation": task["id"],
        "delegated_at": task["t"],
    }
