"""Inject release jitter under a ScaledClock on real wall time, driven by an asyncio timer loop.

The loop sleeps until the next due item (`session.next_due()` and `clock.seconds_until`),
then calls `session.tick()`, as the console and the network host do. Jitter is the wall time
an inject's `inject_released` reached subscribers (after fsync) minus the wall time it was
scheduled for. Target: p99 under 50 ms. A second run keeps the CPU busy with other work in
the same loop, as a console redrawing would.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tabletop.clock import ScaledClock
from tabletop.engine import Participant, Session
from tabletop.model import Inject, Scenario
from tabletop.transcript import TranscriptWriter

SPEED = 60.0
INJECTS = 240


def scenario() -> Scenario:
    rng = random.Random(5)
    at, injects = 0, []
    for n in range(INJECTS):
        at += rng.choice([0, 1, 1, 2, 3])  # some simultaneous, most 1-3 sim seconds apart
        injects.append(Inject(id=f"i{n}", at=at, title=f"Inject {n}", body="x" * 200))
    return Scenario(id="jitter", title="Jitter", duration=at + 2, roles=["coordinator"], injects=injects)


async def drive(session: Session, clock: ScaledClock, busy: bool) -> None:
    async def noise() -> None:
        while not session.ended:
            sum(i * i for i in range(20_000))  # ~1-3 ms of CPU work, like a redraw
            await asyncio.sleep(0.005)

    task = asyncio.create_task(noise()) if busy else None
    while not session.ended:
        due = session.next_due()
        if due is None:
            break
        delay = clock.seconds_until(due)
        await asyncio.sleep(delay or 0)
        session.tick()
    if task:
        await task


def measure(folder: Path, name: str, busy: bool) -> list[float]:
    clock = ScaledClock(speed=SPEED, get_time=time.monotonic)
    writer = TranscriptWriter.open(folder / name, fsync=True)
    session = Session(
        scenario(),
        writer,
        clock=clock,
        participants=[Participant("Sam", "coordinator")],
        mode="team",
        speed=SPEED,
    )
    jitter: list[float] = []

    def seen(event: dict) -> None:
        if event["type"] == "inject_released":
            scheduled_wall = clock.wall_at(event["due"])
            jitter.append((time.monotonic() - scheduled_wall) * 1000)

    session.subscribe(seen)
    session.start()
    asyncio.run(drive(session, clock, busy))
    writer.close()
    return jitter


def report(label: str, jitter: list[float]) -> None:
    ordered = sorted(jitter)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"  {label:<22} n={len(ordered)}  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {ordered[-1]:6.2f} ms  "
        f"target p99 < 50 ms: {'met' if p99 < 50 else 'MISSED'}"
    )


def main() -> None:
    print(f"release jitter at speed {SPEED:g} (release wall time minus scheduled wall time, fsync on)")
    with tempfile.TemporaryDirectory() as tmp:
        report("idle loop", measure(Path(tmp), "idle.jsonl", busy=False))
        report("loop with other work", measure(Path(tmp), "busy.jsonl", busy=True))


if __name__ == "__main__":
    main()
