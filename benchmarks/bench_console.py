"""The console's first frame and its inject feed under load, as ratios to bare Textual in the same run.

1. First frame: time from starting the App to its first painted screen, for a bare Textual app
   (a Static and a Footer) and for the console on the bundled `suspected-breach` lobby (target:
   at most 1.5x the bare app). The lobby paints its heading and the prompt to start first and
   mounts the briefing panels right after, so the time to the complete lobby is printed too, as
   is the time to load the scenario and open the session (`make_console`). Medians of
   alternating runs.
2. 1,000 injects: released by the engine (each one fsync'd) into the player's feed, then
   scrolled line by line and page by page; prints frame times (key press to the next frame
   painted) with p50, p95, max and how many exceed 33 ms (a dropped frame at 30 fps), next to
   Textual's own OptionList holding 1,000 two-line options scrolled the same way.
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

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Footer, OptionList, Static

from tabletop.clock import VirtualClock
from tabletop.model import Inject
from tabletop.ui.app import make_console

RUNS = 15
INJECTS = 1000
SIZE = (120, 40)


class BareApp(App):
    def compose(self) -> ComposeResult:
        yield Static("hello")
        yield Footer()


class BareFeed(App):
    def compose(self) -> ComposeResult:
        yield OptionList(*[Text(f"T+{n}m  chat\n  Inject number {n}") for n in range(INJECTS)])


async def first_frame(app) -> tuple[float, float]:
    """Seconds from start to the first frame handed to the terminal driver, and to the first
    frame after the lobby's briefing is mounted (the same frame for the bare app)."""
    frames: list[tuple[float, bool]] = []
    display = app._display

    def record(screen, renderable) -> None:  # every frame the app paints goes through here
        if (renderable is not None and screen is app.screen and type(screen).__name__ != "Screen") or (
            renderable is not None and isinstance(app, BareApp)
        ):
            frames.append((time.perf_counter(), getattr(screen, "briefed", True)))
        return display(screen, renderable)

    app._display = record
    start = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):
            if frames and frames[-1][1]:
                break
            await pilot.pause()
    first = frames[0][0] - start
    complete = next(t for t, briefed in frames if briefed) - start
    return first, complete


def breach_console(folder: Path):
    n = len(list(folder.iterdir()))
    return make_console(
        "suspected-breach",
        out=folder / f"ff{n}.jsonl",
        clock=VirtualClock(),
        tick_interval=None,
        name="Bench",
    )


def load_scenario_with_injects():
    from tabletop.loader import load_scenario

    scenario = load_scenario("suspected-breach")
    extra = [
        Inject(
            id=f"bench-{n}",
            at=60 + n * 30,
            channel=("chat", "email", "ticket", "alert")[n % 4],
            title=f"Status ping {n}: another line of chatter from the floor",
            body=f"Body of inject {n}.",
            **{"from": "Floor"},
        )
        for n in range(INJECTS - len(scenario.injects))
    ]
    return scenario.model_copy(update={"injects": [*scenario.injects, *extra]})


def paints(app) -> list[float]:
    """Times at which the app hands a frame to the terminal driver."""
    times: list[float] = []
    display = app._display

    def record(screen, renderable) -> None:
        if renderable is not None:
            times.append(time.perf_counter())
        return display(screen, renderable)

    app._display = record
    return times


async def scroll(pilot, widget, painted: list[float]) -> list[float]:
    """Key press to the next painted frame, for each key of a scroll through the list."""
    widget.focus()
    await pilot.pause()
    frames = []
    for key in ["down"] * 150 + ["pagedown"] * 30 + ["home"] + ["pagedown"] * 10 + ["end"]:
        start = time.perf_counter()
        await pilot.press(key)
        await pilot.pause()
        after = [t for t in painted if t > start]
        if after:
            frames.append(after[0] - start)
    return frames


def describe(label: str, frames: list[float]) -> str:
    ms = sorted(f * 1000 for f in frames)
    p95 = ms[int(len(ms) * 0.95) - 1]
    slow = sum(1 for f in ms if f > 33.3)
    return (
        f"{label:<28} frames={len(ms)} p50={statistics.median(ms):6.1f} ms  p95={p95:6.1f} ms  "
        f"max={ms[-1]:6.1f} ms  over 33 ms: {slow}"
    )


async def feed_benchmark(folder: Path) -> None:
    scenario = load_scenario_with_injects()
    clock = VirtualClock()
    app = make_console(scenario, out=folder / "feed.jsonl", clock=clock, tick_interval=None, name="Bench")
    painted = paints(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        for _ in range(3):
            await app.link.call(lambda: None)
            await pilot.pause()
        start = time.perf_counter()
        step = 1800
        t = 0
        end = 60 + INJECTS * 30
        while t < end:
            t = max(t + step, clock.now())
            clock.advance_to(t)
            await app.link.tick()
            await pilot.pause()
        await app.link.call(lambda: None)
        await pilot.pause()
        await pilot.pause()
        feed = app.screen.query_one("#feed")
        released = time.perf_counter() - start
        shown = feed.option_list.option_count
        print(
            f"released {len(feed.injects)} injects through the engine into the feed in {released:.2f} s "
            f"({shown} shown; fsync'd transcript included)"
        )
        frames = await scroll(pilot, feed.option_list, painted)
    bare = BareFeed()
    bare_painted = paints(bare)
    async with bare.run_test(size=SIZE) as pilot:
        bare_frames = await scroll(pilot, bare.query_one(OptionList), bare_painted)
    print(describe("console feed (1,000 injects)", frames))
    print(describe("bare OptionList (1,000)", bare_frames))
    print(
        f"feed scroll p50 ratio to bare OptionList: {statistics.median(frames) / statistics.median(bare_frames):.2f}x"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bare, console, complete, built = [], [], [], []
        await first_frame(BareApp())  # warm imports for both
        await first_frame(breach_console(folder))
        for _ in range(RUNS):
            bare.append((await first_frame(BareApp()))[0])
            start = time.perf_counter()
            app = breach_console(folder)
            built.append(time.perf_counter() - start)
            first, whole = await first_frame(app)
            app.link.close()
            console.append(first)
            complete.append(whole)
        b, c = statistics.median(bare), statistics.median(console)
        print(
            f"first frame: bare Textual app {b * 1000:.0f} ms, console lobby {c * 1000:.0f} ms "
            f"(median of {RUNS}); ratio {c / b:.2f}x (target <= 1.5x)"
        )
        print(
            f"complete lobby (briefing panels mounted): {statistics.median(complete) * 1000:.0f} ms, "
            f"ratio {statistics.median(complete) / b:.2f}x"
        )
        print(
            f"make_console before that (load scenario, open transcript and session): "
            f"{statistics.median(built) * 1000:.0f} ms"
        )
        await feed_benchmark(folder)


if __name__ == "__main__":
    asyncio.run(main())
