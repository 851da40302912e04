"""The host dies mid-rehearsal (kill -9) and is resumed from its transcript; players reconnect and nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tabletop.net.client import PlayerClient
from tabletop.transcript import verify_evidence, verify_transcript

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "resume-token"
RETRY = (0.05, 0.1, 0.2, 0.3, 0.5) + (0.5,) * 40  # about 20 s of trying


async def start_host(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tabletop",
        "host",
        *args,
        "--headless",
        "--token",
        TOKEN,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"the host exited: {(await process.stderr.read()).decode()}")
            if line.startswith("Join URL: "):
                return process, line.split(": ", 1)[1].strip()


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    return process.returncode, out.decode() + err.decode()


async def test_the_host_killed_and_resumed_loses_nothing_it_acknowledged(tmp_path):
    transcript = tmp_path / "team.jsonl"
    host, url = await start_host("suspected-breach", "--port", "0", "--speed", "1", "--out", str(transcript))
    port = url.rsplit(":", 1)[1].split("/")[0]
    sam = PlayerClient(url, TOKEN, "coordinator", "Sam", retry_delays=RETRY)
    priya = PlayerClient(url, TOKEN, "dpo", "Priya", retry_delays=RETRY)
    restarted = None
    try:
        await sam.connect()
        await priya.connect()
        acked = [
            await sam.decide("declare_incident", fields={"severity": "sev2", "summary": "CRM export"}),
            await sam.decide("involve_dpo"),
            await priya.decide("assess_personal_data", fields={"data_types": "contact details"}),
        ]
        seen_before = priya.last_seq

        host.send_signal(signal.SIGKILL)
        assert (await finish(host))[0] == -signal.SIGKILL
        # written while the host is down: kept, and sent once the host is back
        late = asyncio.create_task(
            priya.decide("record_breach", fields={"reference": "BR-1", "status": "suspected"})
        )

        restarted, url2 = await start_host("--resume", str(transcript), "--port", port, "--speed", "1")
        assert url2 == url
        acked.append(await asyncio.wait_for(late, 30))
        acked.append(
            await asyncio.wait_for(sam.decide("open_incident_channel", fields={"channel": "#inc"}), 30)
        )
        await priya.wait_for(lambda: priya.connections == 2 and priya.last_seq >= acked[-1], 10)
        assert sam.connections == 2

        restarted.send_signal(signal.SIGTERM)
        code, output = await finish(restarted)
        assert code == 0, output
        assert "Session interrupted (SIGTERM)" in output
    finally:
        await sam.close()
        await priya.close()
        for process in (host, restarted):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

    report = verify_transcript(transcript)
    assert report.ok, report.problems
    # a stop by signal is an interruption: everything up to it is signed
    assert report.events[-2]["type"] == "signature" and report.events[-1]["type"] == "session_interrupted"
    assert verify_evidence(transcript).status == "verified"
    events = [e for e in report.events if e["type"] != "signature"]
    decisions = [e for e in events if e["type"] == "decision"]
    assert sorted(e["seq"] for e in decisions) == sorted(acked), (
        "every acknowledged decision, each exactly once"
    )
    assert [e["action"] for e in decisions] == [
        "declare_incident",
        "involve_dpo",
        "assess_personal_data",
        "record_breach",
        "open_incident_channel",
    ]
    kinds = [e["type"] for e in events]
    assert "session_resumed" in kinds
    last_presence = {}
    for e in events:
        if e["type"] == "facilitator" and e["op"] in ("join", "leave"):
            last_presence[e["detail"]["name"]] = e["op"]
    assert last_presence == {"Sam": "join", "Priya": "join"}, "both back in the session after the resume"
    assert events[-1]["type"] == "session_interrupted" and events[-1]["reason"] == "SIGTERM"
    # what Priya saw before the crash plus what she was sent after it: every decision once
    seen = [e["seq"] for e in priya.events if e["type"] == "decision"]
    assert seen == sorted(acked) and seen_before < acked[3]
