"""Killing the process at any moment loses no acknowledged decision, and the transcript stays verifiable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tabletop.clock import VirtualClock
from tabletop.engine import Session
from tabletop.transcript import read_transcript, verify_transcript

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

CHILD = r"""
import sys
from factories import breach_scenario, make_session
from tabletop.clock import VirtualClock

folder, mode = sys.argv[1], sys.argv[2]
if mode == "new":
    session = make_session(folder, breach_scenario(), fsync=True)
else:
    from tabletop.engine import Session
    session = Session.continue_transcript(folder + "/t.jsonl", clock=VirtualClock())
print("ready", flush=True)
n = 0
while True:
    n += 1
    session.run_until(session.now + 1)  # small steps: the scenario lasts far longer than any kill_after
    if session.ended:
        break
    if n % 5 == 0:
        record = session.note("coordinator", f"note {n}", by="Sam")
    else:
        record = session.decide("dpo", "ico_decision", by="Priya", fields={"outcome": "notify"},
                                rationale=f"decision {n}")
    print("ack", record["seq"], record["type"], flush=True)
print("done", flush=True)
"""


def run_child(folder: Path, mode: str, kill_after: float) -> list[tuple[int, str | None]]:
    """Start the child, kill -9 it `kill_after` seconds after it is ready; return every ack it printed."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    ready = threading.Event()

    def reader() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line)
            if line.startswith("ready"):
                ready.set()
        ready.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert ready.wait(60), "the child never became ready"
    time.sleep(kill_after)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    assert child.returncode == -signal.SIGKILL, (
        f"the child was not killed mid-run: it exited with {child.returncode}"
    )
    thread.join(30)
    assert not any(line.startswith("done") for line in lines), "the child finished before the kill"
    stderr = child.stderr.read() if child.stderr else ""
    assert "Traceback" not in stderr, stderr
    acks = []
    for line in lines:
        parts = line.split()
        # a kill can cut the last printed line short: whatever seq it names was acknowledged
        if len(parts) >= 2 and parts[0] == "ack" and parts[1].isdigit():
            complete = line.endswith("\n") and len(parts) == 3
            acks.append((int(parts[1]), parts[2] if complete else None))
    return acks


def check(folder: Path, acks: list[tuple[int, str | None]]) -> None:
    path = folder / "t.jsonl"
    report = verify_transcript(path)
    assert report.ok or report.only_torn_tail, report.problems
    by_seq = {e["seq"]: e for e in report.events}
    for seq, kind in acks:
        assert seq in by_seq, f"acknowledged seq {seq} is not in the transcript"
        assert kind is None or by_seq[seq]["type"] == kind
    assert read_transcript(path).events == report.events


@pytest.mark.parametrize("round_", range(8))
def test_kill_minus_nine_loses_no_acknowledged_decision(tmp_path, round_):
    rng = random.Random(1000 + round_)
    acks = run_child(tmp_path, "new", kill_after=rng.uniform(0.0, 0.6))
    check(tmp_path, acks)
    # a killed session resumes where it stopped, and can be killed again
    before = len(verify_transcript(tmp_path / "t.jsonl").events)
    more = run_child(tmp_path, "resume", kill_after=rng.uniform(0.0, 0.4))
    check(tmp_path, acks + more)
    events = verify_transcript(tmp_path / "t.jsonl").events
    assert len(events) > before
    assert [e["type"] for e in events].count("session_resumed") == 1
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(len(seqs)))


def test_a_torn_tail_from_a_power_cut_is_recovered_on_resume(tmp_path):
    from factories import breach_scenario, make_session

    session = make_session(tmp_path, breach_scenario())
    for n in range(5):
        session.run_until(60 * (n + 1))
        session.decide("coordinator", "status_update", by="Sam", fields={"audience": "internal"})
    session.writer.close()
    data = (tmp_path / "t.jsonl").read_bytes()
    # the page cache lost the end of the last write: keep a random prefix of the last line
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    cut = random.Random(3).randrange(last_start + 1, len(data) - 1)
    (tmp_path / "t.jsonl").write_bytes(data[:cut])
    report = verify_transcript(tmp_path / "t.jsonl")
    lines = session.writer.seq  # every line written, the decisions' signatures included
    assert report.only_torn_tail and len(report.events) == lines - 1
    resumed = Session.continue_transcript(tmp_path / "t.jsonl", clock=VirtualClock())
    assert resumed.events[-1]["type"] == "session_resumed"
    assert resumed.events[-1]["dropped_bytes"] == cut - last_start
    resumed.run_to_end()
    assert verify_transcript(tmp_path / "t.jsonl").ok
