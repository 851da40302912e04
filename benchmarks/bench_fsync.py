"""What durability costs: time per recorded decision with and without fsync, in the writer and through a Session."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tabletop.clock import VirtualClock
from tabletop.engine import Participant, Session
from tabletop.model import Action, Inject, Scenario
from tabletop.transcript import TranscriptWriter

N = 300


def writer_costs(folder: Path, fsync: bool) -> list[float]:
    writer = TranscriptWriter.open(folder / f"w-{fsync}.jsonl", fsync=fsync)
    writer.append("session_started", 0.0)
    costs = []
    for n in range(N):
        started = time.perf_counter()
        writer.append(
            "decision",
            float(n),
            role="dpo",
            by="Priya",
            action="ico_decision",
            fields={"outcome": "notify"},
            rationale="Risk to individuals is likely " * 3,
        )
        costs.append(time.perf_counter() - started)
    writer.close()
    return costs


def session_costs(folder: Path, fsync: bool) -> list[float]:
    scenario = Scenario(
        id="fsync",
        title="fsync",
        duration=N * 10 + 60,
        roles=["dpo"],
        injects=[Inject(id="alert", at=0, title="Alert")],
        actions=[
            Action(
                id="ico_decision",
                title="ICO decision",
                area="notification",
                default_owner="dpo",
                fields={"outcome": ["notify", "not_notify"]},
            )
        ],
    )
    writer = TranscriptWriter.open(folder / f"s-{fsync}.jsonl", fsync=fsync)
    session = Session(
        scenario, writer, clock=VirtualClock(), participants=[Participant("Priya", "dpo")], mode="team"
    )
    session.start()
    costs = []
    for n in range(N):
        session.run_until(n * 10)
        started = time.perf_counter()
        session.decide(
            "dpo", "ico_decision", by="Priya", fields={"outcome": "notify"}, rationale="likely risk"
        )
        costs.append(time.perf_counter() - started)
    writer.close()
    return costs


def line(label: str, costs: list[float]) -> float:
    ordered = sorted(costs)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99)] * 1000
    print(f"  {label:<30} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms")
    return p50


def main() -> None:
    print(f"fsync cost per decision ({N} decisions each)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        w_off = line("writer, fsync off", writer_costs(folder, False))
        w_on = line("writer, fsync on", writer_costs(folder, True))
        s_off = line("session.decide, fsync off", session_costs(folder, False))
        s_on = line("session.decide, fsync on", session_costs(folder, True))
    print(
        f"  fsync adds {w_on - w_off:.3f} ms per line ({w_on / w_off:,.0f}x the write itself); "
        f"a decision costs {s_on:.3f} ms durable vs {s_off:.3f} ms without fsync"
    )


if __name__ == "__main__":
    main()
