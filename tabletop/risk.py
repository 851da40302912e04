"""Risk levels from likelihood and impact: the NIST SP 800-30 r1 Table I-2 5x5 lookup."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from tabletop.model import Strict

LEVELS: tuple[str, ...] = ("Very Low", "Low", "Moderate", "High", "Very High")
"""The five qualitative levels, lowest first (used for likelihood, impact and risk)."""

_CODES = {"VL": 0, "L": 1, "M": 2, "H": 3, "VH": 4}

# rows: likelihood VL, L, M, H, VH; columns: impact VL, L, M, H, VH (NIST SP 800-30 r1 Table I-2)
_TABLE: tuple[tuple[str, ...], ...] = (
    ("VL", "VL", "VL", "L", "L"),  # likelihood Very Low
    ("VL", "L", "L", "L", "M"),  # likelihood Low
    ("VL", "L", "M", "M", "H"),  # likelihood Moderate
    ("VL", "L", "M", "H", "VH"),  # likelihood High
    ("VL", "L", "M", "H", "VH"),  # likelihood Very High
)

_ALIASES = {
    "very low": 0,
    "very_low": 0,
    "very-low": 0,
    "vl": 0,
    "1": 0,
    "negligible": 0,
    "low": 1,
    "l": 1,
    "2": 1,
    "minor": 1,
    "moderate": 2,
    "medium": 2,
    "m": 2,
    "3": 2,
    "high": 3,
    "h": 3,
    "4": 3,
    "major": 3,
    "very high": 4,
    "very_high": 4,
    "very-high": 4,
    "vh": 4,
    "5": 4,
    "severe": 4,
    "critical": 4,
}


class RiskLevelError(ValueError):
    """A likelihood or impact that is not one of the five levels."""


def level_index(value: object) -> int:
    """Index 0..4 of a level given as a name (`High`), a code (`H`) or a number 1..5."""
    if isinstance(value, bool):
        raise RiskLevelError(f"expected one of {', '.join(LEVELS)} (or 1-5), received {value!r}")
    key = str(value).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    raise RiskLevelError(f"expected one of {', '.join(LEVELS)} (or 1-5), received {value!r}")


def level_name(value: object) -> str:
    """The canonical level name (`Very High`) for any accepted spelling."""
    return LEVELS[level_index(value)]


def risk_level(likelihood: object, impact: object) -> str:
    """The NIST SP 800-30 risk level for a likelihood and an impact, e.g. ('High', 'Moderate') -> 'Moderate'."""
    code = _TABLE[level_index(likelihood)][level_index(impact)]
    return LEVELS[_CODES[code]]


def try_risk_level(likelihood: object, impact: object) -> str | None:
    """Like `risk_level`, but None when either input is missing or not a level."""
    if likelihood in (None, "") or impact in (None, ""):
        return None
    try:
        return risk_level(likelihood, impact)
    except RiskLevelError:
        return None


def matrix() -> list[tuple[str, list[str]]]:
    """The table as rows (likelihood name, levels per impact), highest likelihood first, for reports."""
    return [
        (LEVELS[row], [LEVELS[_CODES[code]] for code in _TABLE[row]])
        for row in range(len(LEVELS) - 1, -1, -1)
    ]


class MaterialRule(Strict):
    """When a risk goes to the company risk register: its residual level (the inherent one
    when no residual was recorded) at or above `residual_at_least`, or, with
    `regulatory_duty`, any risk that names a regulatory or contractual duty."""

    residual_at_least: str | None = "High"
    regulatory_duty: bool = True

    @field_validator("residual_at_least", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        if value is None:
            return None
        return level_name(value)

    def material(self, level: str | None, duty: str) -> tuple[bool, str]:
        """Whether a risk at `level` (None: not recorded) naming `duty` is material, and why."""
        floor = self.residual_at_least
        if floor is not None and level is not None and LEVELS.index(level) >= LEVELS.index(floor):
            return True, f"{level} is {floor} or above"
        if self.regulatory_duty and duty.strip():
            return True, f"regulatory duty: {duty.strip()}"
        return False, ""

    def judge(self, level: str | None, duty: str, recorded: bool | None = None) -> tuple[bool, str]:
        """Whether a risk goes to the company risk register, and why: the rule, or the team's
        own `register: true` on `record_risk`. A team's `register: false` never keeps off the
        register a risk the company's rule puts there (the rule is the company's, not the team's)."""
        material, why = self.material(level, duty)
        if material:
            return True, why + ("; the team recorded no" if recorded is False else "")
        if recorded is True:
            return True, "the team recorded it for the register"
        return False, why
