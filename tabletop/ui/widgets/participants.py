"""Who plays which role, and the current phase's discussion questions."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from tabletop.model import Scenario
from tabletop.untrusted import one_line, safe


class Participants(Static):
    """Participants and roles, from the session start and later joins and role changes."""

    def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.scenario = scenario
        self.people: dict[str, dict[str, Any]] = {}
        self.border_title = "Participants"

    def add(self, *events: dict[str, Any]) -> None:
        for event in events:
            kind = event.get("type")
            if kind == "session_started":
                for person in event.get("participants", []):
                    self.people[person.get("name", "?")] = dict(person)
            elif kind == "facilitator" and event.get("op") in ("join", "leave", "role_change"):
                detail = event.get("detail") or {}
                name = detail.get("name") or "?"
                role = detail.get("role") or detail.get("to")  # the engine records the new role as `to`
                person = self.people.setdefault(
                    name, {"name": name, "role": role or detail.get("from") or ""}
                )
                if role:
                    person["role"] = role
                person["connected"] = event.get("op") != "leave"
        self._fill()

    def _fill(self) -> None:
        text = Text()
        roles = list(getattr(self.scenario, "roles", []))
        playing: dict[str, list[dict[str, Any]]] = {}
        for person in self.people.values():
            playing.setdefault(person.get("role", ""), []).append(person)
        for role in roles + [r for r in playing if r not in roles]:
            text.append(one_line(self.scenario.role_title(role)), style="bold")
            people = playing.get(role, [])
            if not people:
                text.append("  unfilled\n", style="dim")
                continue
            names = []
            for person in people:
                label = person.get("name", "?")
                if person.get("simulated"):
                    label += " (simulated)"
                if person.get("connected") is False:
                    label += " (left)"
                names.append(label)
            text.append("  " + one_line(", ".join(names)) + "\n")
        self.update(text)


class PhaseQuestions(Static):
    """The current phase's title, summary and discussion questions."""

    def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.scenario = scenario
        self.phase: str | None = None
        self.border_title = "Discussion"

    def on_mount(self) -> None:
        first = self.scenario.phases[0].id if getattr(self.scenario, "phases", None) else None
        self.set_phase(first)

    def set_phase(self, phase_id: str | None) -> None:
        if phase_id is not None:
            self.phase = phase_id
        text = Text()
        phase = None
        if self.phase:
            try:
                phase = self.scenario.phase(self.phase)
            except KeyError:
                phase = None
        if phase is None:
            text.append("No phase questions in this scenario.", style="dim")
        else:
            text.append(one_line(phase.title) + "\n", style="bold")
            if phase.summary:
                text.append(safe(phase.summary) + "\n", style="italic")
            for question in phase.questions:
                text.append(f"• {safe(question)}\n")
        self.update(text)
