"""CPU and wake-ups of an idle solo run: the console's clock loop woken when something falls due,
against polling the engine every 0.1 s (how the console drove it before), in the same run.

An idle solo run of the bundled `suspected-breach` (hints on, auto-pause off, nobody touching
the keyboard) runs headless on a real scaled clock over a fixed virtual span; then the same
console sits paused for a few seconds. For each way of driving the engine it prints the
engine's wake-ups (calls to release what is due), wake-ups per wall second, the process's CPU
seconds (every thread: UI, session and workers) and how late injects came out (sim seconds
after their due time). Everything but the clock loop is the same code in both runs. Ratios:
after / before. While the clock runs, the engine writes a checkpoint every `checkpoint_every`
sim seconds (60: every 0.5 s of wall time at x120, every 3 s at a scenario's usual x20), and the
loop wakes for each: they are most of its wake-ups here.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tabletop.ui.app import TabletopConsole, make_console

SPEED = 120.0
SPAN = 20 * 60.0  # sim seconds: T+0 to T+20m, 10 s of wall time at x120
PAUSED_FOR = 4.0  # wall seconds paused
POLL = 0.1
RUNS = 3


class PollingConsole(TabletopConsole):
    """The console as it drove the engine before: a tick every 0.1 s, due or not."""

    ticks = 0

    def drive_clock(self) -> None:
        async def tick() -> None:
            self.ticks += 1
            await self.tick()

        self.set_interval(POLL, tick, name="session-tick")


def build(folder: Path, polling: bool) -> TabletopConsole:
    folder.mkdir(parents=True, exist_ok=True)
    app = make_console(
        "suspected-breach",
        name="Bench",
        hints=True,
        auto_pause=False,
        speed=SPEED,
        out=folder / f"{'poll' if polling else 'wake'}.jsonl",
    )
    if polling:
        app.__class__ = PollingConsole
    return app


def wakeups(app: TabletopConsole) -> int:
    return app.ticks if isinstance(app, PollingConsole) else app.link.wakeups  # type: ignore[attr-defined]


async def measure(folder: Path, polling: bool) -> dict[str, float]:
    app = build(folder, polling)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        while not app.started:
            await asyncio.sleep(0.01)
        cpu, wall, woke = time.process_time(), time.monotonic(), wakeups(app)
        while app.link.now() < SPAN:
            await asyncio.sleep(0.05)
        running = {
            "wall": time.monotonic() - wall,
            "cpu": time.process_time() - cpu,
            "wakeups": wakeups(app) - woke,
        }
        await app.link.pause()
        await asyncio.sleep(0.2)
        cpu, wall, woke = time.process_time(), time.monotonic(), wakeups(app)
        await asyncio.sleep(PAUSED_FOR)
        paused = {
            "paused_wall": time.monotonic() - wall,
            "paused_cpu": time.process_time() - cpu,
            "paused_wakeups": wakeups(app) - woke,
        }
        checkpoints = sum(
            1 for e in app.link.events if e.get("type") == "clock" and e.get("op") == "checkpoint"
        )
        late = [
            e["t"] - e["due"]
            for e in app.link.events
            if e.get("type") == "inject_released" and e.get("trigger") == "schedule" and e["due"] > 0
        ]
        await pilot.press("ctrl+q")
    return {
        **running,
        **paused,
        "checkpoints": checkpoints,
        "late_p50": statistics.median(late),
        "late_max": max(late),
        "released": len(late),
    }


def median(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def show(label: str, r: dict[str, float]) -> None:
    print(
        f"  {label:<26} running: {r['wakeups']:5.0f} wake-ups ({r['wakeups'] / r['wall']:5.1f}/s), "
        f"CPU {r['cpu']:5.2f} s over {r['wall']:4.1f} s ({r['checkpoints']:.0f} checkpoints written); "
        f"paused: {r['paused_wakeups']:3.0f} wake-ups, "
        f"CPU {r['paused_cpu']:4.2f} s over {r['paused_wall']:3.1f} s; "
        f"{r['released']:.0f} injects late by p50 {r['late_p50']:.2f} / max {r['late_max']:.2f} sim s"
    )


def main() -> None:
    print(
        f"idle solo run of suspected-breach, hints on, x{SPEED:g}, T+0 to T+{SPAN / 60:g}m "
        f"({SPAN / SPEED:g} s of wall time), then {PAUSED_FOR:g} s paused"
    )
    runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(RUNS):  # alternating, so a busy moment on the machine hits both
            for polling in (True, False):
                runs[polling].append(asyncio.run(measure(Path(tmp) / f"{n}", polling)))
    before, after = median(runs[True]), median(runs[False])
    print(f"  medians of {RUNS} alternating runs each")
    show(f"polling every {POLL:g} s (before)", before)
    show("woken when due (after)", after)
    print(
        f"  after / before: wake-ups {after['wakeups'] / before['wakeups']:.3f}x, "
        f"CPU running {after['cpu'] / before['cpu']:.2f}x, CPU paused "
        f"{after['paused_cpu'] / max(before['paused_cpu'], 1e-9):.2f}x"
    )


if __name__ == "__main__":
    main()
