"""Sim-time clocks for the engine: a virtual clock driven by hand, a scaled clock driven by wall time.

Both share one interface (`now`, `advance_to`, `jump_to`, `pause`, `resume`, `set_speed`,
`paused`, `speed`), so the same scheduler runs under either. Sim time is in seconds since the
start of the exercise. The scaled clock reads wall time only through its injected `get_time`
(default `time.monotonic`), so tests can drive it with a fake.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class ClockError(ValueError):
    """A clock operation that would move time backwards or use a nonsense speed."""


class Clock(Protocol):
    """What the engine needs from a clock."""

    def now(self) -> float: ...
    def advance_to(self, t: float) -> None: ...
    def jump_to(self, t: float) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def set_speed(self, speed: float) -> None: ...

    @property
    def paused(self) -> bool: ...

    @property
    def speed(self) -> float: ...


def _check_speed(speed: float) -> float:
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise ClockError(f"expected a speed in sim seconds per wall second, received {speed!r}") from None
    if not value > 0 or value == float("inf"):
        raise ClockError(f"expected a speed greater than 0, received {speed!r}")
    return value


class VirtualClock:
    """Sim time that moves only when told to: tests and `tabletop simulate` use it.

    `speed` is recorded for the transcript but does not move time; `pause` is a flag that the
    session honours (it refuses to run a paused virtual clock forward).
    """

    def __init__(self, start: float = 0.0, speed: float = 1.0) -> None:
        self._now = float(start)
        self._speed = _check_speed(speed)
        self._paused = False

    def now(self) -> float:
        return self._now

    def advance_to(self, t: float) -> None:
        if t < self._now:
            raise ClockError(f"cannot move the clock back from {self._now:g}s to {t:g}s")
        self._now = float(t)

    def jump_to(self, t: float) -> None:
        self.advance_to(t)

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def set_speed(self, speed: float) -> None:
        self._speed = _check_speed(speed)

    def seconds_until(self, t: float) -> float | None:
        """Wall seconds until sim time `t`: a virtual clock never gets there by itself."""
        return None

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float:
        return self._speed

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now:g}, paused={self._paused})"


class ScaledClock:
    """Sim time that runs at `speed` sim seconds per wall second (speed 1 is real time).

    The clock keeps a base (sim time, wall time) pair and rebases on every change, so pausing,
    resuming and changing speed never make sim time jump; `jump_to` moves it forward at once.
    """

    def __init__(
        self,
        speed: float = 60.0,
        get_time: Callable[[], float] = time.monotonic,
        start: float = 0.0,
    ) -> None:
        self._get_time = get_time
        self._speed = _check_speed(speed)
        self._base_sim = float(start)
        self._base_wall = get_time()
        self._paused = False

    def now(self) -> float:
        if self._paused:
            return self._base_sim
        return self._base_sim + (self._get_time() - self._base_wall) * self._speed

    def _rebase(self) -> None:
        wall = self._get_time()
        if not self._paused:
            self._base_sim += (wall - self._base_wall) * self._speed
        self._base_wall = wall

    def pause(self) -> None:
        self._rebase()
        self._paused = True

    def resume(self) -> None:
        self._rebase()
        self._paused = False

    def set_speed(self, speed: float) -> None:
        value = _check_speed(speed)
        self._rebase()
        self._speed = value

    def jump_to(self, t: float) -> None:
        self._rebase()
        if t < self._base_sim:
            raise ClockError(f"cannot move the clock back from {self._base_sim:g}s to {t:g}s")
        self._base_sim = float(t)

    def advance_to(self, t: float) -> None:
        """Move sim time forward to `t` at once (the same as `jump_to`)."""
        self.jump_to(t)

    def seconds_until(self, t: float) -> float | None:
        """Wall seconds until sim time `t` at the current speed; None while paused."""
        if self._paused:
            return None
        return max(0.0, (t - self.now()) / self._speed)

    def wall_at(self, t: float) -> float | None:
        """The `get_time` reading at which sim time reaches `t` (None while paused)."""
        if self._paused:
            return None
        return self._base_wall + (t - self._base_sim) / self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float:
        return self._speed

    def __repr__(self) -> str:
        return f"ScaledClock(now={self.now():g}, speed={self._speed:g}, paused={self._paused})"
