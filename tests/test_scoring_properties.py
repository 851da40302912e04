"""Property tests of the scorer: bounded, monotone in met decisions, blind to unrelated order."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_cases import decision, ended, marker, note, released, scenario

from tabletop.scoring import score

ACTIONS = [
    "appoint_coordinator",
    "involve_dpo",
    "ico_decision",
    "notify_ico",
    "contain",
    "confirm_personal_data_breach",
    "restore_backup",
    "verify_rpo_rto",
]
ROLES = ["coordinator", "technical_lead", "comms_owner", "dpo"]
INJECTS = [
    {"id": "alert", "at": 0},
    {"id": "ticket", "at": 1200},
    {"id": "chase", "at": 600, "when": {"missed": "e0"}},
]

anchors = st.sampled_from(
    ["start", "inject:ticket", "inject:chase", "marker:aware", "action:contain", "action:restore_backup"]
)


@st.composite
def expectations(draw):
    count = draw(st.integers(1, 6))
    out = []
    for n in range(count):
        action = draw(st.sampled_from(ACTIONS))
        exp = {
            "id": f"e{n}",
            "action": action,
            "owner": draw(st.sampled_from([*ROLES, "any"])),
            "after": draw(anchors),
            "within": draw(st.integers(60, 8 * 3600)),
            "weight": draw(st.sampled_from([0, 0.5, 1, 2, 3])),
            "late_credit": draw(st.sampled_from([0, 0.25, 0.5, 1])),
            "requires": draw(st.lists(st.sampled_from(ACTIONS), max_size=2, unique=True)),
        }
        if action == "ico_decision" and draw(st.booleans()):
            exp["value"] = {"outcome": draw(st.sampled_from(["notify", "not_notify"]))}
        if draw(st.booleans()):
            exp["rationale"] = "required"
        out.append(exp)
    return out


avoid_rules = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.sampled_from(["hands-on", "no-restore"]),
            "role": st.sampled_from([None, "coordinator"]),
            "actions": st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2, unique=True),
            "penalty": st.sampled_from([0, 0.5, 1, 2]),
        }
    ),
    max_size=2,
)


@st.composite
def run_events(draw):
    times = draw(st.lists(st.integers(0, 30 * 3600), min_size=0, max_size=25, unique=True))
    events = []
    for t in times:
        kind = draw(st.sampled_from(["decision", "decision", "decision", "inject", "marker", "note"]))
        if kind == "decision":
            action = draw(st.sampled_from(ACTIONS))
            fields = (
                {"outcome": draw(st.sampled_from(["notify", "not_notify"]))}
                if action == "ico_decision"
                else {}
            )
            events.append(
                decision(
                    t,
                    action,
                    role=draw(st.sampled_from(ROLES)),
                    fields=fields,
                    rationale=draw(st.sampled_from(["", "because"])),
                )
            )
        elif kind == "inject":
            events.append(released(t, draw(st.sampled_from(["alert", "ticket", "chase"]))))
        elif kind == "marker":
            events.append(marker(t, "aware"))
        else:
            events.append(note(t, "a note"))
    events.append(ended(31 * 3600))
    return events


def build(exps, avoid):
    return scenario(expectations=exps, avoid=avoid, injects=INJECTS)


@settings(max_examples=150, deadline=None)
@given(expectations(), avoid_rules, run_events(), st.none() | st.integers(0, 31 * 3600))
def test_score_is_always_between_zero_and_one(exps, avoid, events, until):
    card = score(build(exps, avoid), events, until=until)
    assert 0.0 <= card.score <= 1.0
    for ratio in card.areas.values():
        assert 0.0 <= ratio <= 1.0
    for result in card.expectations:
        assert 0.0 <= result.credit <= 1.0
    assert card.passed <= card.applicable <= len(exps)


@settings(max_examples=150, deadline=None)
@given(expectations(), avoid_rules, run_events(), st.data())
def test_adding_a_met_decision_never_lowers_the_score(exps, avoid, events, data):
    scn = build(exps, avoid)
    before = score(scn, events)
    # a missed expectation whose action anchors nothing, sets no marker and breaks no rule
    anchoring = {e["after"].split(":", 1)[1] for e in exps if e["after"].startswith("action:")}
    avoided = {a for rule in avoid for a in rule["actions"]}
    # ... and whose action no other expectation grades (a later decision would be the one in
    # force for that one too, and may carry another value)
    shared = {e["action"] for e in exps if sum(1 for o in exps if o["action"] == e["action"]) > 1}
    candidates = [
        r
        for r in before.expectations
        if r.status == "missed"
        and r.action not in anchoring
        and r.action not in avoided
        and r.action not in shared
        and not any(r.action in e.get("requires", ()) for e in exps)
        and r.action != "confirm_personal_data_breach"
    ]
    if not candidates:
        return
    target = data.draw(st.sampled_from(candidates))
    expectation = scn.expectation(target.id)
    fields = dict(expectation.value) or ({"outcome": "notify"} if target.action == "ico_decision" else {})
    role = target.owner if target.owner != "any" else "coordinator"
    t = data.draw(st.floats(target.anchor, target.deadline).map(lambda x: round(x, 1)))
    added = decision(t, target.action, role=role, fields=fields, rationale="because")
    after = score(scn, [*events, added])
    assert after.result(target.id).status == "met"
    assert after.score >= before.score - 1e-12


@settings(max_examples=150, deadline=None)
@given(expectations(), avoid_rules, run_events(), st.randoms(use_true_random=False))
def test_order_of_events_at_distinct_times_does_not_matter(exps, avoid, events, rnd: random.Random):
    scn = build(exps, avoid)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert score(scn, shuffled).to_json() == score(scn, events).to_json()


@settings(max_examples=100, deadline=None)
@given(expectations(), avoid_rules, run_events(), st.lists(st.integers(0, 31 * 3600), max_size=10))
def test_notes_anywhere_do_not_change_the_score(exps, avoid, events, note_times):
    scn = build(exps, avoid)
    with_notes = sorted([*events, *(note(t, "<script>x</script>") for t in note_times)], key=lambda e: e["t"])
    baseline = score(scn, events).to_json()
    scored = score(scn, with_notes).to_json()
    baseline.pop("ended_at"), scored.pop("ended_at")
    assert scored == baseline
