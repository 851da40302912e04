"""Properties of the score on the bundled scenarios: acting before anything calls for it never pays,
leaving out a decision never pays, and recording everything all the time scores at most half."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabletop.clock import VirtualClock
from tabletop.clocks import early_allowed
from tabletop.engine import Participant
from tabletop.loader import load_scenario
from tabletop.model import Scenario
from tabletop.scoring import score
from tabletop.script import DecisionScript, ScriptEntry, load_script, play
from tabletop.sessions import open_session
from tabletop.teammates import fields_for

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_IDS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))


@cache
def bundled(scenario_id: str) -> tuple[Scenario, DecisionScript]:
    s = load_scenario(ROOT / "scenarios" / f"{scenario_id}.yaml")
    return s, load_script(ROOT / "tests" / "data" / "scripts" / f"{scenario_id}-good.yaml", s)


def events_of(s: Scenario, script: DecisionScript) -> list[dict[str, Any]]:
    """The transcript events of a scripted run, headless, to the end."""
    with tempfile.TemporaryDirectory() as folder:
        session = open_session(
            s,
            mode="simulate",
            players=script.participants,
            clock=VirtualClock(),
            transcript=Path(folder) / "run.jsonl",
            fsync=False,
            start=True,
        ).session
        try:
            play(session, script)
        finally:
            session.writer.close()
        return list(session.events)


def partial_good_run(data: st.DataObject) -> tuple[Scenario, DecisionScript, list[dict[str, Any]]]:
    """A bundled scenario played by its good script with some decisions left out (a team that
    forgets things), as recorded by the engine."""
    s, script = bundled(data.draw(st.sampled_from(SCENARIO_IDS), label="scenario"))
    keep = data.draw(st.lists(st.booleans(), min_size=len(script.entries), max_size=len(script.entries)))
    subset = replace(script, entries=tuple(e for e, k in zip(script.entries, keep, strict=True) if k))
    return s, script, events_of(s, subset)


SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@SETTINGS
@given(st.data())
def test_adding_a_decision_before_anything_calls_for_it_never_raises_the_score(data):
    """A decision of an action (that allows no early action) made while every expectation of it
    is still ahead of its anchor is premature: it counts for nothing but its penalty."""
    s, script, events = partial_good_run(data)
    before = score(s, events)
    actions = s.action_map()
    candidates = []
    for action_id in sorted({e.action for e in s.expectations}):
        wanted = [e for e in s.expectations if e.action == action_id]
        if actions[action_id].early == "allowed" or any(early_allowed(e, actions) for e in wanted):
            continue
        if any(e.applies_if is not None and e.applies_if.field for e in wanted):
            continue  # such a clock starts even where its field condition later fails (no anchor shown)
        started = [r.anchor for r in before.expectations if r.action == action_id and r.anchor is not None]
        ahead = min(started) if started else before.ended_at
        if ahead > 0:
            candidates.append((action_id, ahead))
    if not candidates:
        return
    action_id, ahead = data.draw(st.sampled_from(candidates), label="action")
    t = data.draw(st.integers(0, int(ahead) - 1 if ahead >= 1 else 0), label="t")
    if t >= ahead:
        return
    model = next((e for e in script.entries if e.action == action_id), None)
    role = (model.delegate or model.role) if model else actions[action_id].default_owner
    fields = dict(model.fields) if model else fields_for(s, role, actions[action_id])
    added = {
        "type": "decision",
        "t": float(t),
        "id": "d-added",
        "role": role,
        "by": "Someone",
        "action": action_id,
        "fields": fields,
        "rationale": "because",
        "inject": None,
        "delegated_by": None,
        "delegation": None,
        "delegated_at": None,
    }
    at = next((i for i, e in enumerate(events) if float(e.get("t", 0)) > t), len(events))
    after = score(s, [*events[:at], added, *events[at:]])
    assert after.score <= before.score + 1e-9, (action_id, t, before.score, after.score)
    assert any(f.decision == "d-added" and f.id == "premature" for f in after.findings)


@SETTINGS
@given(st.data())
def test_leaving_out_a_decision_never_raises_the_score(data):
    """Leaving out one of a team's decisions (one that is not itself a finding) never pays."""
    s, _, events = partial_good_run(data)
    before = score(s, events)
    penalised = {f.decision for f in before.findings}
    decisions = [i for i, e in enumerate(events) if e["type"] == "decision" and e.get("id") not in penalised]
    if not decisions:
        return
    index = data.draw(st.sampled_from(decisions), label="decision")
    after = score(s, [e for i, e in enumerate(events) if i != index])
    assert after.score <= before.score + 1e-9, (events[index]["action"], before.score, after.score)


# --- recording everything, all the time ------------------------------------------------------------


def spam_script(s: Scenario, step: int = 600) -> DecisionScript:
    """Every catalog action every 10 sim-minutes, by its default owner (or the first role), in the
    time the team lives through (never inside a time jump)."""
    jumps = [(i.at, i.advance_to) for i in s.injects if i.advance_to is not None and i.when is None]
    roles = list(s.roles)
    entries = []
    for t in range(0, s.duration, step):
        if any(start < t < end for start, end in jumps):
            continue
        for action in s.actions:
            role = action.default_owner if action.default_owner in roles else roles[0]
            entries.append(
                ScriptEntry(
                    index=len(entries),
                    line=0,
                    at_text=str(t),
                    role=role,
                    action=action.id,
                    fields=fields_for(s, role, action),
                    rationale="all of it, again",
                    at=t,
                )
            )
    people = tuple(Participant(f"P-{role}", role) for role in roles)
    return DecisionScript(path=Path("spam.yaml"), participants=people, entries=tuple(entries))


def test_recording_every_action_every_ten_minutes_scores_at_most_half():
    scores = {}
    for scenario_id in SCENARIO_IDS:
        s, _ = bundled(scenario_id)
        scores[scenario_id] = score(s, events_of(s, spam_script(s))).score
    assert all(value <= 0.5 for value in scores.values()), scores
