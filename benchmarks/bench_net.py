"""Team rehearsal load: 50 players each record 20 decisions through a headless host on loopback.

The host runs as `tabletop host --headless` in its own process (fsync on, as in a real
rehearsal); the players run here, each sending its decisions one after another and timing
each from send to acknowledgement (which the host gives only once the line is on disk). The
baseline, measured in the same run, is the same number of decisions recorded straight into a
local session with fsync: the ratio says what the network and the host add.

Prints p50/p99 acknowledgement latency and checks the transcript: every decision, once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tabletop.clock import ScaledClock
from tabletop.engine import Participant, Session
from tabletop.loader import load_scenario
from tabletop.net.client import PlayerClient
from tabletop.transcript import TranscriptWriter, verify_transcript

SCENARIO = "suspected-breach"
ACTION = "involve_dpo"  # no required fields: the cost measured is recording, not validation
TOKEN = "bench-token"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def baseline(folder: Path, count: int) -> list[float]:
    """Seconds per decision recorded directly into a local session (fsync on)."""
    scenario = load_scenario(SCENARIO)
    writer = TranscriptWriter.open(folder / "baseline.jsonl")
    session = Session(
        scenario,
        writer,
        clock=ScaledClock(1.0),
        participants=[Participant("Base", scenario.roles[0])],
        mode="team",
    )
    session.start()
    times = []
    for n in range(count):
        start = time.perf_counter()
        session.decide(scenario.roles[0], ACTION, by="Base", rationale=f"n={n}")
        times.append(time.perf_counter() - start)
    writer.close()
    return times


async def start_host(transcript: Path) -> tuple[asyncio.subprocess.Process, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tabletop",
        "host",
        SCENARIO,
        "--headless",
        "--port",
        "0",
        "--token",
        TOKEN,
        "--speed",
        "1",
        "--out",
        str(transcript),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise SystemExit(f"the host exited: {(await process.stderr.read()).decode()}")
            if line.startswith("Join URL: "):
                return process, line.split(": ", 1)[1].strip()


async def player(url: str, role: str, name: str, decisions: int, latencies: list[float]) -> None:
    client = PlayerClient(url, TOKEN, role, name)
    await client.connect()
    try:
        for n in range(decisions):
            start = time.perf_counter()
            await client.decide(ACTION, rationale=f"{name} n={n}")
            latencies.append(time.perf_counter() - start)
    finally:
        await client.close()


async def run(players: int, decisions: int, folder: Path) -> int:
    roles = load_scenario(SCENARIO).roles
    transcript = folder / "team.jsonl"
    host, url = await start_host(transcript)
    latencies: list[float] = []
    alone: list[float] = []
    try:
        await player(url, roles[0], "warm-up", 50, alone)  # one player on an idle host: the round trip
        start = time.perf_counter()
        await asyncio.gather(
            *(
                player(url, roles[i % len(roles)], f"player-{i:02d}", decisions, latencies)
                for i in range(players)
            )
        )
        wall = time.perf_counter() - start
    finally:
        host.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await host.communicate()

    report = verify_transcript(transcript)
    recorded = [e for e in report.events if e["type"] == "decision" and e["by"] != "warm-up"]
    expected = {f"player-{i:02d} n={n}" for i in range(players) for n in range(decisions)}
    seen = [e["rationale"] for e in recorded]
    lost = expected - set(seen)
    twice = len(seen) - len(set(seen))

    base = baseline(folder, players * decisions)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    base50 = statistics.median(base)
    print(f"players: {players}, decisions each: {decisions}, acknowledged: {len(latencies)}")
    print(
        f"transcript: {len(recorded)} decisions, lost: {len(lost)}, recorded twice: {twice}, chain intact: {report.ok}"
    )
    print(
        f"ack latency p50: {p50 * 1000:.2f} ms, p99: {p99 * 1000:.2f} ms, max: {max(latencies) * 1000:.2f} ms"
    )
    print(f"throughput: {len(latencies) / wall:.0f} decisions/s over {wall:.2f} s")
    print(f"baseline (local decide with fsync): p50 {base50 * 1000:.2f} ms, {1 / base50:.0f} decisions/s")
    print(
        f"one player on an idle host: ack p50 {percentile(alone, 50) * 1000:.2f} ms = {percentile(alone, 50) / base50:.1f}x the local decide"
    )
    print(f"{players} players at once: throughput {len(latencies) / wall * base50:.2f}x the local decide's")
    return 0 if not lost and not twice and report.ok and len(latencies) == players * decisions else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=50)
    parser.add_argument("--decisions", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        raise SystemExit(asyncio.run(run(args.players, args.decisions, Path(folder))))


if __name__ == "__main__":
    main()
