"""Scores over time, per team, per scenario or per area, from the review index's rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tabletop.review.entry import TranscriptEntry

BY_TEAM = "team"
BY_SCENARIO = "scenario"
BY_AREA = "area"
GROUPINGS = (BY_TEAM, BY_SCENARIO, BY_AREA)


@dataclass(frozen=True)
class TrendPoint:
    """One rehearsal on a trend line; `value` is the scorer's score (or area ratio) unchanged."""

    started: str
    path: str
    scenario: str
    group: str
    value: float
    conditions: str = ""
    rules_version: int = 0
    evidence: str = ""
    """What `tabletop verify` says of the transcript: verified, unsigned, untrusted or sample."""

    @property
    def verified(self) -> bool:
        return self.evidence == "verified"

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "path": self.path,
            "scenario": self.scenario,
            "team": self.group,
            "value": self.value,
            "conditions": self.conditions,
            "rules_version": self.rules_version,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class TrendSeries:
    """A trend line: one team, scenario or area, its rehearsals oldest first."""

    key: str
    points: tuple[TrendPoint, ...]

    @property
    def first(self) -> float:
        return self.points[0].value

    @property
    def last(self) -> float:
        return self.points[-1].value

    @property
    def change(self) -> float:
        return self.last - self.first

    @property
    def mean(self) -> float:
        return sum(p.value for p in self.points) / len(self.points)

    @property
    def best(self) -> float:
        return max(p.value for p in self.points)

    @property
    def unverified(self) -> dict[str, int]:
        """How many of the line's rehearsals are not verified evidence, by what verify says of them."""
        counts: dict[str, int] = {}
        for point in self.points:
            if not point.verified:
                counts[point.evidence or "unsigned"] = counts.get(point.evidence or "unsigned", 0) + 1
        return dict(sorted(counts.items()))

    @property
    def evidence_warning(self) -> str:
        """When the line stands partly on transcripts that are not verified evidence ("" if not)."""
        unverified = self.unverified
        if not unverified:
            return ""
        kinds = ", ".join(f"{n} {kind}" for kind, n in unverified.items())
        return (
            f"{self.key}: {sum(unverified.values())} of {len(self.points)} rehearsals "
            f"are not verified evidence ({kinds})"
        )

    @property
    def warnings(self) -> tuple[str, ...]:
        """When the line mixes runs played under different conditions or rules versions."""
        out = []
        conditions = sorted({p.conditions for p in self.points if p.conditions})
        if len(conditions) > 1:
            out.append(f"{self.key}: runs played under different conditions ({'; '.join(conditions)})")
        versions = sorted({p.rules_version for p in self.points if p.rules_version})
        if len(versions) > 1:
            out.append(
                f"{self.key}: runs played under scoring rules versions {', '.join(map(str, versions))}"
            )
        return tuple(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "count": len(self.points),
            "first": self.first,
            "last": self.last,
            "change": self.change,
            "mean": self.mean,
            "best": self.best,
            "warnings": list(self.warnings),
            "evidence_warning": self.evidence_warning,
            "unverified": self.unverified,
            "points": [p.to_json() for p in self.points],
        }


@dataclass(frozen=True)
class Trends:
    """Trend lines grouped `by` team, scenario or area; rows left out are listed, never hidden."""

    by: str
    series: tuple[TrendSeries, ...]
    excluded: tuple[TranscriptEntry, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every line's warnings: trends are only meaningful between like runs."""
        return tuple(w for s in self.series for w in s.warnings)

    @property
    def evidence_warnings(self) -> tuple[str, ...]:
        """The lines that stand partly on transcripts that are not verified evidence."""
        return tuple(s.evidence_warning for s in self.series if s.evidence_warning)

    def to_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "warnings": list(self.warnings),
            "evidence_warnings": list(self.evidence_warnings),
            "series": [s.to_json() for s in self.series],
            "excluded": [
                {"path": e.path, "integrity": e.integrity, "problem": e.problem} for e in self.excluded
            ],
        }


@dataclass(frozen=True)
class ExpectationRecord:
    """One expectation's record across rehearsals: how often it applied, was met, late or missed."""

    scenario: str
    expectation: str
    title: str
    area: str
    applied: int
    met: int
    late: int
    missed: int

    @property
    def miss_rate(self) -> float:
        return self.missed / self.applied if self.applied else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "expectation": self.expectation,
            "title": self.title,
            "area": self.area,
            "applied": self.applied,
            "met": self.met,
            "late": self.late,
            "missed": self.missed,
            "miss_rate": self.miss_rate,
        }


def most_missed(records: Iterable[ExpectationRecord], limit: int | None = 20) -> list[ExpectationRecord]:
    """What keeps being missed: expectations missed at least once, most often missed first."""
    missed = [r for r in records if r.missed]
    missed.sort(key=lambda r: (-r.miss_rate, -r.missed, r.scenario, r.expectation))
    return missed if limit is None else missed[:limit]


def trends(
    entries: Iterable[TranscriptEntry],
    by: str = BY_TEAM,
    *,
    team: str | None = None,
    scenario: str | None = None,
) -> Trends:
    """Group scored rows into trend lines.

    `by=team` and `by=scenario` follow the overall score; `by=area` follows each action area's
    ratio across every rehearsal. `team` / `scenario` narrow the rows first. Rows whose chain
    is broken, or that could not be scored, are left out of the lines and listed in `excluded`.
    """
    if by not in GROUPINGS:
        raise ValueError(f"expected one of {', '.join(GROUPINGS)} to group trends by, received {by!r}")
    kept: list[TranscriptEntry] = []
    excluded: list[TranscriptEntry] = []
    for entry in entries:
        if team is not None and entry.group != team:
            continue
        if scenario is not None and entry.scenario != scenario:
            continue
        (kept if entry.trusted and entry.scored else excluded).append(entry)
    kept.sort(key=lambda e: (e.started, e.path))
    lines: dict[str, list[TrendPoint]] = {}
    for entry in kept:
        if by == BY_AREA:
            for area, ratio in entry.areas.items():
                lines.setdefault(area, []).append(_point(entry, ratio))
        else:
            key = entry.group if by == BY_TEAM else entry.scenario
            lines.setdefault(key, []).append(_point(entry, entry.score))  # type: ignore[arg-type]
    series = tuple(TrendSeries(key, tuple(points)) for key, points in sorted(lines.items()))
    excluded.sort(key=lambda e: e.path)
    return Trends(by, series, tuple(excluded))


def _point(entry: TranscriptEntry, value: float) -> TrendPoint:
    return TrendPoint(
        entry.started,
        entry.path,
        entry.scenario,
        entry.group,
        value,
        entry.conditions,
        entry.rules_version,
        entry.evidence,
    )
