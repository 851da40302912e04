"""Clocks: a virtual clock moved by hand, a scaled clock driven by an injected (fake) wall time."""

import pytest

from tabletop.clock import ClockError, ScaledClock, VirtualClock


class FakeWall:
    """A wall time that only moves when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_virtual_clock_moves_only_forward_when_told():
    clock = VirtualClock()
    assert clock.now() == 0
    clock.advance_to(90)
    assert clock.now() == 90
    clock.jump_to(3600)
    assert clock.now() == 3600
    with pytest.raises(ClockError, match="back from 3600s to 10s"):
        clock.advance_to(10)
    assert clock.now() == 3600


def test_virtual_clock_keeps_pause_and_speed_as_state():
    clock = VirtualClock(start=5, speed=30)
    clock.pause()
    assert clock.paused and clock.now() == 5
    clock.set_speed(120)
    clock.resume()
    assert not clock.paused and clock.speed == 120
    assert clock.seconds_until(100) is None


def test_scaled_clock_runs_at_speed():
    wall = FakeWall()
    clock = ScaledClock(speed=60, get_time=wall)
    assert clock.now() == 0
    wall.sleep(2)
    assert clock.now() == 120


def test_pause_freezes_sim_time_and_resume_does_not_jump():
    wall = FakeWall()
    clock = ScaledClock(speed=10, get_time=wall)
    wall.sleep(3)
    clock.pause()
    assert clock.now() == 30
    wall.sleep(100)  # a long coffee break
    assert clock.now() == 30
    assert clock.seconds_until(60) is None
    clock.resume()
    assert clock.now() == 30
    wall.sleep(1)
    assert clock.now() == 40


def test_set_speed_keeps_continuity():
    wall = FakeWall()
    clock = ScaledClock(speed=1, get_time=wall)
    wall.sleep(10)
    clock.set_speed(60)
    assert clock.now() == 10
    wall.sleep(1)
    assert clock.now() == 70
    clock.pause()
    clock.set_speed(2)
    wall.sleep(5)
    assert clock.now() == 70
    clock.resume()
    wall.sleep(5)
    assert clock.now() == 80


def test_jump_moves_forward_at_once_and_never_back():
    wall = FakeWall()
    clock = ScaledClock(speed=60, get_time=wall)
    wall.sleep(1)
    clock.jump_to(7200)
    assert clock.now() == 7200
    wall.sleep(1)
    assert clock.now() == 7260
    with pytest.raises(ClockError):
        clock.jump_to(100)
    assert clock.now() == 7260


def test_jump_while_paused_stays_paused():
    wall = FakeWall()
    clock = ScaledClock(speed=60, get_time=wall)
    clock.pause()
    clock.jump_to(600)
    wall.sleep(10)
    assert clock.paused and clock.now() == 600


def test_seconds_until_and_wall_at():
    wall = FakeWall(start=50.0)
    clock = ScaledClock(speed=20, get_time=wall, start=100)
    assert clock.seconds_until(300) == pytest.approx(10)
    assert clock.wall_at(300) == pytest.approx(60)
    assert clock.seconds_until(50) == 0.0


@pytest.mark.parametrize("speed", [0, -1, "fast", float("inf"), float("nan")])
def test_nonsense_speeds_are_refused(speed):
    with pytest.raises(ClockError, match="speed"):
        ScaledClock(speed=speed, get_time=FakeWall())
    clock = VirtualClock()
    with pytest.raises(ClockError):
        clock.set_speed(speed)
