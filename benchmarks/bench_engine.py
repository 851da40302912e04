"""Engine throughput: a 500-inject, 2,000-decision scripted session in virtual time (target under 1 s).

Prints the run time with and without fsync, events per second, and the ratio to a bare heapq
push/pop of the same number of events measured in the same run.
"""

from __future__ import annotations

import heapq
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tabletop.clock import VirtualClock
from tabletop.engine import Participant, Session
from tabletop.keys import Signer
from tabletop.model import Action, Expectation, Inject, Response, Scenario
from tabletop.transcript import TranscriptWriter

INJECTS = 500
DECISIONS = 2000
ROLES = ["coordinator", "technical_lead", "comms_owner", "dpo"]


def build_scenario() -> Scenario:
    actions = [
        Action(
            id=f"act_{n}",
            title=f"Action {n}",
            area="coordination",
            default_owner="coordinator",
            fields={"outcome": ["yes", "no"]} if n % 3 == 0 else {},
            sets_marker=f"m{n}" if n % 10 == 0 else None,
        )
        for n in range(40)
    ]
    injects = []
    for n in range(INJECTS):
        if n % 10 == 9:  # a tenth are branches of every kind
            kind = ("done", "marker", "after", "missed")[(n // 10) % 4]
            target = {
                "done": f"act_{n % 40}",
                "marker": f"m{(n % 4) * 10}",
                "after": f"i{n - 1}",
                "missed": f"e{n % 20}",
            }[kind]
            injects.append(
                Inject(
                    id=f"i{n}",
                    at=60,
                    when={kind: target},
                    title=f"Branch {n}",
                    body="Something happened " * 8,
                    marks=[],
                )
            )
        else:
            injects.append(
                Inject(
                    id=f"i{n}",
                    at=n * 30,
                    title=f"Inject {n}",
                    body="Details " * 20,
                    marks=[f"m{n % 40}"] if n % 25 == 0 else [],
                )
            )
    expectations = [
        Expectation(
            id=f"e{n}", action=f"act_{(n * 7) % 40}", owner="coordinator", after="start", within=600 + n * 300
        )
        for n in range(20)
    ]
    responses = [
        Response.model_validate({"on": f"act_{n}", "from": "dpo", "after": 120, "title": f"Answer {n}"})
        for n in range(0, 40, 4)
    ]
    return Scenario(
        id="bench",
        title="Benchmark",
        duration=INJECTS * 30 + 3600,
        roles=ROLES,
        injects=injects,
        expectations=expectations,
        responses=responses,
        actions=actions,
    )


def run(scenario: Scenario, folder: Path, name: str, fsync: bool, signer: object = None) -> tuple[float, int]:
    writer = TranscriptWriter.open(folder / name, fsync=fsync, signer=signer)
    people = [Participant(f"P{r}", r) for r in ROLES[:3]]  # dpo is simulated: responses fire
    started = time.perf_counter()
    session = Session(scenario, writer, clock=VirtualClock(), participants=people, mode="team")
    session.start()
    step = scenario.duration / (DECISIONS + 1)
    for n in range(DECISIONS):
        session.run_until(n * step)
        role = ROLES[n % 3]
        action = f"act_{n % 40}"
        fields = {"outcome": "yes"} if (n % 40) % 3 == 0 else {}
        if n % 50 == 7:
            session.decide(role, action, by=f"P{role}", fields=fields, delegate_to="dpo", timebox=300)
        else:
            session.decide(role, action, by=f"P{role}", fields=fields, rationale="because")
    session.run_to_end()
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed, len(session.events)


def bare_heapq(n: int) -> float:
    started = time.perf_counter()
    heap: list = []
    for i in range(n):
        heapq.heappush(heap, (float(i * 7 % 1000), i % 5, i, ("release", i)))
    while heap:
        heapq.heappop(heap)
    return time.perf_counter() - started


def main() -> None:
    scenario = build_scenario()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run(scenario, folder, "warmup.jsonl", fsync=False)
        fast, events = min(run(scenario, folder, f"nofsync{i}.jsonl", fsync=False) for i in range(3))
        key = Signer.generate("bench")
        signed = min(run(scenario, folder, f"signed{i}.jsonl", fsync=False, signer=key)[0] for i in range(3))
        durable, _ = run(scenario, folder, "fsync.jsonl", fsync=True, signer=key)
    base = min(bare_heapq(events) for _ in range(5))
    print(f"engine: {INJECTS} injects, {DECISIONS} decisions -> {events} events in virtual time")
    print(
        f"  without fsync : {fast:.3f} s  ({events / fast:,.0f} events/s)  target < 1 s: "
        f"{'met' if fast < 1 else 'MISSED'}"
    )
    print(
        f"  signed        : {signed:.3f} s  (Ed25519 after every decision: {signed / fast:.2f}x unsigned, "
        f"{(signed - fast) / DECISIONS * 1e6:.0f} us per decision)  target < 1 s: "
        f"{'met' if signed < 1 else 'MISSED'}"
    )
    print(
        f"  with fsync    : {durable:.3f} s  ({events / durable:,.0f} events/s, signed, "
        f"{(durable - signed) / events * 1000:.2f} ms fsync per event)"
    )
    print(
        f"  bare heapq push/pop of {events} events: {base * 1000:.2f} ms; "
        f"engine/heapq ratio {fast / base:,.0f}x (each event is validated, hashed and written)"
    )


if __name__ == "__main__":
    main()
