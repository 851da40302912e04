"""What the programme needs from one transcript, read once when the review index scores it.

`facts_of` turns a transcript's evidence (`tabletop.review.evidence.Evidence`: its events,
scorecard and verification) into plain JSON data the review index keeps beside the row, so
that the programme view over thousands of transcripts reads a table instead of every file:
who signed it and how it verified, the team, kind, mode and rules version, the score and
rating, the improvement plan's follow-ups with their ids, the `close_followup` decisions, the
status of every expectation, and the risks it recorded or accepted.
"""

from __future__ import annotations

from typing import Any

from tabletop.followups import normal_id, parse_date, session_date

FACTS_VERSION = 3
"""Bumped when the facts change shape (the index then rescores)."""


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value not in (None, "") else ""


def facts_of(evidence: Any) -> dict[str, Any]:
    """The programme facts of one transcript; never raises for a transcript that was read."""
    started = evidence.started or {}
    embedded = started.get("scenario")
    scenario: dict[str, Any] = embedded if isinstance(embedded, dict) else {}
    card = evidence.card or {}
    verification = getattr(evidence, "verification", None)
    signers = [
        {
            "key": s.key,
            "name": s.trusted_as or s.name,
            "fingerprint": s.fingerprint,
            "self_signed": s.self_signed,
        }
        for s in (verification.signers if verification is not None else ())
    ]
    events = evidence.events
    first = events[0].get("hash") if events else None
    facts: dict[str, Any] = {
        "version": FACTS_VERSION,
        "first_hash": first if isinstance(first, str) else "",
        "status": evidence.evidence,
        "torn": bool(verification.torn) if verification is not None else False,
        "signers": signers,
        "mode": _text(started.get("mode")),
        "team": _text(started.get("team")),
        "scenario": _text(started.get("scenario_id") or scenario.get("id")),
        "title": _text(scenario.get("title")),
        "kind": _text(scenario.get("kind")),
        "started": _text(started.get("wall")),
        "ended": evidence.ended,
        "rules_version": _rules_version(started, card),
        "score": card.get("score"),
        "rating": card.get("rating"),
        "coverage": card.get("coverage"),
        "followups": [],
        "closes": [],
        "met": [],
        "not_met": [],
        "risks": [],
    }
    for event in events:
        if event.get("type") == "decision" and event.get("action") == "close_followup":
            fields = event.get("fields") if isinstance(event.get("fields"), dict) else {}
            facts["closes"].append(
                {
                    "id": normal_id(fields.get("followup")),
                    "evidence": _text(fields.get("evidence")),
                    "rationale": _text(event.get("rationale")),
                    "by": _text(event.get("by")),
                    "role": _text(event.get("role")),
                    "t": event.get("t"),
                }
            )
    card_object = evidence.scorecard
    if card_object is None or evidence.scenario is None:
        return facts
    # for "the steps it came from were met again": met without a flag, and applied but not so
    facts["met"] = [r.id for r in card_object.expectations if r.status == "met" and not r.flags]
    facts["not_met"] = [
        r.id
        for r in card_object.expectations
        if r.status not in ("not_applicable", "open") and not (r.status == "met" and not r.flags)
    ]
    from tabletop.report.postmortem import improvement_plan, risks_of

    for item in improvement_plan(evidence.scenario, events, card_object):
        followup: dict[str, Any] = {"id": item.id, "text": item.action, "owner_role": item.owner_role}
        # kept small: a folder of 10,000 transcripts holds some 100,000 of these
        for key, value in (
            ("due_date", item.due_date),
            ("due", "" if item.due_date else item.due),
            ("action", item.action_id),
            ("expectations", list(item.expectations)),
            ("ticket", item.ticket),
        ):
            if value:
                followup[key] = value
        facts["followups"].append(followup)
    day = session_date(started.get("wall"))
    for risk in risks_of(evidence.scenario, events):
        review = parse_date(risk.review_by, day) if risk.review_by != "not recorded" else None
        facts["risks"].append(
            {
                "title": risk.title,
                "owner": risk.owner,
                "treatment": risk.treatment,
                "likelihood": risk.likelihood,
                "impact": risk.impact,
                "inherent": risk.inherent,
                "residual_likelihood": risk.residual_likelihood,
                "residual_impact": risk.residual_impact,
                "residual": risk.residual,
                "lowers": risk.lowers,
                "likelihood_mitigation": risk.likelihood_mitigation,
                "impact_mitigation": risk.impact_mitigation,
                "review_by": risk.review_by,
                "review_date": review.isoformat() if review else "",
                "duty": risk.duty,
                "register": risk.register_recorded,
                "recorded_at": risk.recorded_at,
                "recorded_by": risk.recorded_by,
                "rationale": risk.rationale,
            }
        )
    return facts


def _rules_version(started: dict[str, Any], card: dict[str, Any]) -> int:
    """The scoring rules version the run was played under (1 when the transcript predates the
    record of it)."""
    for value in (started.get("rules_version"), card.get("rules_version")):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 1
