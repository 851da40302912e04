"""Branches: the scenario's conditional injects and the conditions (`after`, `done`, `marker`, `missed`) that release them.

A condition becomes true once, at the sim time it first holds; each branch waiting on it is
scheduled once, its `at` after that moment.
"""

from __future__ import annotations

from tabletop.model import Inject, Scenario
from tabletop.schedule import Release


class Branches:
    """Which branches wait on which condition, which conditions held and which branches fired."""

    def __init__(self, scenario: Scenario) -> None:
        self._watchers: dict[tuple[str, str], list[Inject]] = {}
        for inject in scenario.injects:
            if inject.when is not None:
                key = (inject.when.kind, inject.when.target)
                self._watchers.setdefault(key, []).append(inject)
        self.conditions: dict[tuple[str, str], float] = {}
        """When each condition (kind, target) first held."""
        self.fired: dict[str, float] = {}
        """When each branch was scheduled, by inject id."""

    def fire(self, kind: str, target: str, t: float) -> list[tuple[float, Release]]:
        """A `when` condition became true at `t`: the releases due of each branch waiting on it
        (nothing when it had already held)."""
        key = (kind, target)
        if key in self.conditions:
            return []
        self.conditions[key] = t
        due: list[tuple[float, Release]] = []
        for branch in self._watchers.get(key, ()):
            if branch.id in self.fired:
                continue
            self.fired[branch.id] = t
            condition = branch.when.describe() if branch.when is not None else None
            due.append((t + branch.at, Release(branch.id, "branch", condition)))
        return due
