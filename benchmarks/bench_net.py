"""Team rehearsal load: 50 and 200 players each record 20 decisions through a headless host on loopback,
and players still join while 500 sockets that never say hello flood the host.

The host runs as `tabletop host --headless` in its own process (fsync on, as in a real
rehearsal); the players run here, each sending its decisions one after another and timing
each from send to acknowledgement (which the host gives only once the line is on disk). The
baseline, measured in the same run, is the same number of decisions recorded straight into a
local session with fsync: the ratio says what the network and the host add.

Prints p50/p99 acknowledgement latency and checks the transcript: every decision, once.

The flood: 500 sockets from other loopback addresses (127.0.0.2 and up, as an attacker on
another machine) connect and never finish their request (slowloris) or upgrade to WebSocket and
never send a hello. Meanwhile 20 players join from 127.0.0.1 and record a decision each; their
join times are compared with the same joins on a quiet host, measured in the same run.
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
from tabletop.net.guard import raise_descriptor_limit
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
    writer = TranscriptWriter.open(folder / f"baseline-{count}.jsonl")
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
    env["XDG_STATE_HOME"] = str(transcript.parent / "state")
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
                url = line.split(": ", 1)[1].strip()
            if line.startswith("Transcript: "):
                return process, url


async def stop_host(host: asyncio.subprocess.Process) -> None:
    host.send_signal(signal.SIGTERM)
    async with asyncio.timeout(60):
        await host.communicate()


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


async def load(players: int, decisions: int, folder: Path) -> bool:
    roles = load_scenario(SCENARIO).roles
    transcript = folder / f"team-{players}.jsonl"
    host, url = await start_host(transcript)
    latencies: list[float] = []
    alone: list[float] = []
    try:
        await player(url, roles[0], "warm-up", 50, alone)  # one player on an idle host: the round trip
        start = time.perf_counter()
        await asyncio.gather(
            *(
                player(url, roles[i % len(roles)], f"player-{i:03d}", decisions, latencies)
                for i in range(players)
            )
        )
        wall = time.perf_counter() - start
    finally:
        await stop_host(host)

    report = verify_transcript(transcript)
    recorded = [e for e in report.events if e["type"] == "decision" and e["by"] != "warm-up"]
    expected = {f"player-{i:03d} n={n}" for i in range(players) for n in range(decisions)}
    seen = [e["rationale"] for e in recorded]
    lost = expected - set(seen)
    twice = len(seen) - len(set(seen))

    base = baseline(folder, players * decisions)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    base50 = statistics.median(base)
    print(f"== {players} players x {decisions} decisions")
    print(f"acknowledged: {len(latencies)} of {players * decisions}")
    print(
        f"transcript: {len(recorded)} decisions, lost: {len(lost)}, recorded twice: {twice}, chain intact: {report.ok}"
    )
    print(
        f"ack latency p50: {p50 * 1000:.2f} ms, p99: {p99 * 1000:.2f} ms, max: {max(latencies) * 1000:.2f} ms"
    )
    print(f"throughput: {len(latencies) / wall:.0f} decisions/s over {wall:.2f} s")
    print(f"baseline (local decide with fsync): p50 {base50 * 1000:.2f} ms, {1 / base50:.0f} decisions/s")
    print(
        f"one player on an idle host: ack p50 {percentile(alone, 50) * 1000:.2f} ms"
        f" = {percentile(alone, 50) / base50:.1f}x the local decide"
    )
    print(f"{players} players at once: throughput {len(latencies) / wall * base50:.2f}x the local decide's")
    return not lost and not twice and report.ok and len(latencies) == players * decisions


async def join_and_decide(url: str, n: int, roles: list[str], tag: str) -> float:
    """Seconds from starting to join to the first decision acknowledged."""
    start = time.perf_counter()
    client = PlayerClient(url, TOKEN, roles[n % len(roles)], f"{tag}-{n:02d}")
    try:
        await client.connect()
        await client.decide(ACTION, rationale=f"{tag} {n}")
    finally:
        await client.close()
    return time.perf_counter() - start


async def flood_socket(
    port: int, source: str, upgrade: bool
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """A socket that never finishes its request, or upgrades and never says hello."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    except OSError:
        return None
    if upgrade:
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
    else:
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
    return reader, writer


async def flood(players: int, sockets: int, sources: int, folder: Path) -> bool:
    roles = load_scenario(SCENARIO).roles
    host, url = await start_host(folder / f"flood-{sources}.jsonl")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    try:
        quiet = await asyncio.gather(*(join_and_decide(url, n, roles, "quiet") for n in range(players)))
        addresses = [f"127.0.0.{2 + n % sources}" for n in range(sockets)]
        opened = await asyncio.gather(
            *(flood_socket(port, address, n % 2 == 0) for n, address in enumerate(addresses))
        )
        await asyncio.sleep(0.5)  # the flood is in place
        alive = 0
        for pair in opened:
            if pair is not None and not pair[0].at_eof():
                alive += 1
        started = time.perf_counter()
        results = await asyncio.gather(
            *(join_and_decide(url, n, roles, f"flooded{sources}") for n in range(players)),
            return_exceptions=True,
        )
        elapsed = time.perf_counter() - started
        joined = [r for r in results if isinstance(r, float)]
        failed = [r for r in results if not isinstance(r, float)]
        for pair in opened:
            if pair is not None:
                pair[1].close()
    finally:
        await stop_host(host)
    print(
        f"== {sockets} sockets that never say hello, from {sources} address(es), while {players} players join"
    )
    print(f"flood sockets still open when the players came: {alive} of {sockets} (the rest refused at once)")
    print(f"players joined and acknowledged: {len(joined)} of {players} in {elapsed:.2f} s")
    if joined:
        print(
            f"join-to-ack p50: {percentile(joined, 50) * 1000:.0f} ms, max: {max(joined) * 1000:.0f} ms; "
            f"quiet host p50: {percentile(quiet, 50) * 1000:.0f} ms "
            f"({percentile(joined, 50) / percentile(quiet, 50):.1f}x)"
        )
    for error in failed[:3]:
        print(f"failed: {error!r}")
    return len(joined) == players


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", default="50,200", help="player counts to run, comma-separated")
    parser.add_argument("--decisions", type=int, default=20)
    parser.add_argument("--flood", type=int, default=500, help="sockets in the pre-hello flood (0: none)")
    args = parser.parse_args()
    raise_descriptor_limit()
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for count in (int(n) for n in args.players.split(",") if n.strip()):
            ok &= asyncio.run(load(count, args.decisions, Path(folder)))
        if args.flood:
            ok &= asyncio.run(flood(20, args.flood, 1, Path(folder)))
            ok &= asyncio.run(flood(20, args.flood, 100, Path(folder)))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
