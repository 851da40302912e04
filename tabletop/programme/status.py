"""Where the rehearsal programme stands on a date: a pure function of the programme, the runs and the register.

`programme_status(programme, runs, register, as_of=..., trust=...)` answers what a manager or
an auditor asks (ISO/IEC 27001:2022 A.5.24-A.5.27, SOC 2 CC7.4-CC7.5): which rehearsals did
each team run, which are overdue, which follow-ups are open and whose, which accepted risks
are past their review, which risks go to the company register, and which stage the evidence
supports.

The rules, exactly:

- **What counts.** A run counts as evidence when its transcript verifies (`tabletop verify`
  says verified: intact, every signature good and made with a key the reader trusts; the
  trust is judged now, from the signer keys the index recorded), its last line is complete,
  it is a team rehearsal (mode `team`: solo practice and `simulate` runs never count), it
  ended (`session_ended`), its team is one of the programme's, and it started on or before
  `as_of`. Every other transcript is listed as excluded, with the reason.
- **Like with like.** Only counted runs (team runs) enter the schedule; a run's score is
  compared with the previous counted run of the same team and kind only when both were played
  under the same scoring rules version, otherwise the change is not given and the reason is.
- **Schedule.** For the company's stage, each team keeps each kind of rehearsal it rehearses
  current: `next_due` is the last counted run's date plus the stage's `every`; the kind is
  overdue when `as_of` is after `next_due`, or when it was never run.
- **Follow-ups** come from the improvement plans of counted runs, each with its stable id
  (`tabletop.followups`), its owner role and due date. A follow-up is closed by the
  first of: a later counted run of the same team recording `close_followup` with its id; a
  later counted run of the same team, scenario and rules version in which every expectation it
  came from that applies is met without a flag (and one applies); a counted register entry
  (`tabletop followups close`). A register re-owning changes its owner role. Overdue: open and
  `as_of` after its due date. Age: days from the run that raised it to `as_of` (or to its
  closing).
- **Risks.** Recorded (`record_risk`) or accepted (`accept_risk`) in counted runs, gathered
  per team and risk title (case and spacing ignored); the latest record is the risk's state,
  and what it leaves unrecorded (an acceptance records no levels) keeps its earlier value.
  An accepted risk is past review when `as_of` is after its review date, or when it has no
  review date that reads as a date. A risk is material by the programme's rule
  (`risk_register.material_when`) on its residual level, else its inherent level.
- **Stage.** A stage's requirements are met when every team is current on every kind the
  stage lists for it (rated at least `rating_at_least` where given) and every check in its
  `requires` holds. The evidence supports the highest stage whose requirements are all met;
  `missing` lists what the next stage still needs.
- **Coverage** is the share of the company stage's (team, kind) requirements that are current
  on a date; `coverage_history` gives it at the end of each month.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from tabletop.followups import DEFAULT_DUE_DAYS, parse_date, session_date
from tabletop.programme.config import RATING_ORDER, Programme, Rehearsal, Stage, Team
from tabletop.programme.register import CLOSED, REOWNED, Register
from tabletop.risk import LEVELS

VERIFIED, UNSIGNED, UNTRUSTED, SAMPLE = "verified", "unsigned", "untrusted", "sample"
NOT_RECORDED = "not recorded"
AGE_BANDS = ((30, "up to 30 days"), (90, "31-90 days"), (180, "91-180 days"), (None, "over 180 days"))


# --- the runs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One transcript as the programme sees it: the index's row and the programme facts."""

    path: str
    sha256: str
    facts: Mapping[str, Any]
    integrity: str = "ok"
    problem: str = ""

    @cached_property
    def started(self) -> str:
        return str(self.facts.get("started") or "")

    @cached_property
    def day(self) -> date | None:
        return session_date(self.started)

    @cached_property
    def team(self) -> str:
        return str(self.facts.get("team") or "")

    @cached_property
    def kind(self) -> str:
        return str(self.facts.get("kind") or "")

    @cached_property
    def scenario(self) -> str:
        return str(self.facts.get("scenario") or "")

    @cached_property
    def mode(self) -> str:
        return str(self.facts.get("mode") or "")

    @cached_property
    def rules_version(self) -> int:
        value = self.facts.get("rules_version")
        return value if isinstance(value, int) else 1

    @property
    def score(self) -> float | None:
        value = self.facts.get("score")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def rating(self) -> str:
        return str(self.facts.get("rating") or "")

    @property
    def coverage(self) -> float | None:
        """The scorecard's coverage: the share of the expected weight that was scored (an early
        end leaves some open); None when the scorer did not say."""
        value = self.facts.get("coverage")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def signer(self) -> str:
        return ", ".join(str(s.get("name") or "") for s in self.facts.get("signers") or ())

    def evidence(self, trust: Any) -> str:
        """`tabletop verify`'s status, with the signers' trust judged by `trust` now."""
        status = str(self.facts.get("status") or "unreadable")
        signers = self.facts.get("signers") or ()
        if status not in (VERIFIED, UNTRUSTED, SAMPLE) or not signers or trust is None:
            return status
        levels = set()
        for signer in signers:
            known = trust.get(str(signer.get("key") or ""))
            levels.add("untrusted" if known is None else ("sample" if known.samples_only else "trusted"))
        if "untrusted" in levels:
            return UNTRUSTED
        if "sample" in levels:
            return SAMPLE
        return VERIFIED

    def brief(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "started": self.started,
            "date": self.day.isoformat() if self.day else "",
            "scenario": self.scenario,
            "kind": self.kind,
            "score": self.score,
            "rating": self.rating,
            "coverage": self.coverage,
            "rules_version": self.rules_version,
        }


EXCLUSION_WORDS = {
    UNSIGNED: "unsigned: no signature, so not evidence",
    UNTRUSTED: "signed with a key this reader does not trust",
    SAMPLE: "signed with the repository's sample key: not evidence",
    "forged": "forged: a signature or the hash chain fails",
    "invalid": "invalid: the event grammar or a content rule fails",
    "unreadable": "not a readable transcript",
}


def exclusion(run: Run, status: str, programme: Programme) -> str:
    """Why `run` does not count as evidence for the programme (empty when it does)."""
    if not run.facts:
        return f"not a readable transcript{': ' + run.problem if run.problem else ''}"
    if status != VERIFIED:
        return EXCLUSION_WORDS.get(status, status)
    if run.facts.get("torn"):
        return "the last line is incomplete (the run was interrupted mid-write)"
    if run.mode == "solo":
        return "solo practice: not a team rehearsal"
    if run.mode == "simulate":
        return "a scripted simulate run: not a team rehearsal"
    if run.mode != "team":
        return f"mode {run.mode or 'not recorded'}: not a team rehearsal"
    if not run.facts.get("ended"):
        return "never ended (no session_ended)"
    if not run.team:
        return "no team recorded"
    if programme.team(run.team) is None:
        from tabletop.problems import did_you_mean

        known = [t.id for t in programme.teams]
        return f"team {run.team!r} is not in the programme{did_you_mean(run.team, known)}"
    if run.day is None:
        return "no start time"
    return ""


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleItem:
    """One team's standing on one kind of rehearsal the company's stage asks for."""

    team: str
    kind: str
    every: str
    last: Run | None
    runs: int
    next_due: date | None
    overdue: bool
    days_overdue: int
    previous_score: float | None
    change: float | None
    compared: str
    rating_at_least: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "kind": self.kind,
            "every": self.every,
            "runs": self.runs,
            "last": self.last.brief() if self.last else None,
            "score": self.last.score if self.last else None,
            "rating": self.last.rating if self.last else None,
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "overdue": self.overdue,
            "days_overdue": self.days_overdue,
            "previous_score": self.previous_score,
            "change": self.change,
            "compared": self.compared,
            "rating_at_least": self.rating_at_least,
        }


@dataclass(slots=True)
class FollowUp:
    """A follow-up action raised by a counted run, and what became of it."""

    id: str
    team: str
    text: str
    owner_role: str
    due: date
    due_text: str
    raised: date
    raised_in: str
    scenario: str
    rules_version: int
    action: str
    expectations: tuple[str, ...]
    ticket: str = ""
    closed: date | None = None
    closed_how: str = ""
    closed_by: str = ""
    closed_in: str = ""
    closed_why: str = ""
    owners: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    as_of: date | None = None

    @property
    def open(self) -> bool:
        return self.closed is None

    @property
    def age(self) -> int:
        end = self.closed or self.as_of or self.raised
        return (end - self.raised).days

    @property
    def overdue(self) -> bool:
        return self.open and self.as_of is not None and self.as_of > self.due

    @property
    def days_overdue(self) -> int:
        return (self.as_of - self.due).days if self.overdue and self.as_of else 0

    @property
    def standing(self) -> tuple[str, str]:
        """How a list shows it, as (text, style): overdue by how long, open, or closed when."""
        if not self.open:
            return f"closed {self.closed}", "green"
        if self.overdue:
            return f"OVERDUE {self.days_overdue}d", "bold red"
        return "open", ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team": self.team,
            "text": self.text,
            "owner_role": self.owner_role,
            "due": self.due.isoformat(),
            "due_text": self.due_text or self.due.isoformat(),
            "raised": self.raised.isoformat(),
            "raised_in": self.raised_in,
            "scenario": self.scenario,
            "rules_version": self.rules_version,
            "action": self.action,
            "expectations": list(self.expectations),
            "ticket": self.ticket,
            "status": "open" if self.open else "closed",
            "age_days": self.age,
            "overdue": self.overdue,
            "days_overdue": self.days_overdue,
            "closed": self.closed.isoformat() if self.closed else None,
            "closed_how": self.closed_how,
            "closed_by": self.closed_by,
            "closed_in": self.closed_in,
            "closed_why": self.closed_why,
            "reowned": list(self.owners),
            "claims": list(self.claims),
        }


@dataclass(frozen=True)
class RiskItem:
    """A risk of one team as its latest record in a counted run has it."""

    team: str
    title: str
    owner: str
    treatment: str
    inherent: str
    residual: str
    likelihood: str
    impact: str
    residual_likelihood: str
    residual_impact: str
    lowers: str
    likelihood_mitigation: str
    impact_mitigation: str
    duty: str
    review_by: str
    review_date: date | None
    material: bool
    material_why: str
    past_review: bool
    recorded: date
    recorded_in: str
    first_recorded: date
    records: int

    @property
    def accepted(self) -> bool:
        return self.treatment == "accept"

    @property
    def owned(self) -> bool:
        return self.owner not in ("", NOT_RECORDED) and self.review_date is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "title": self.title,
            "owner": self.owner,
            "treatment": self.treatment,
            "inherent": self.inherent,
            "likelihood": self.likelihood,
            "impact": self.impact,
            "residual": self.residual,
            "residual_likelihood": self.residual_likelihood,
            "residual_impact": self.residual_impact,
            "mitigation_lowers": self.lowers,
            "likelihood_mitigation": self.likelihood_mitigation,
            "impact_mitigation": self.impact_mitigation,
            "duty": self.duty,
            "review_by": self.review_by,
            "review_date": self.review_date.isoformat() if self.review_date else None,
            "accepted": self.accepted,
            "past_review": self.past_review,
            "material": self.material,
            "material_why": self.material_why,
            "company_register": self.material,
            "recorded": self.recorded.isoformat(),
            "recorded_in": self.recorded_in,
            "first_recorded": self.first_recorded.isoformat(),
            "records": self.records,
        }


@dataclass(frozen=True)
class StageResult:
    """Whether the evidence meets one stage, and what it still misses."""

    stage: Stage
    met: bool
    missing: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.stage.id, "title": self.stage.name, "met": self.met, "missing": list(self.missing)}


@dataclass
class ProgrammeStatus:
    """Everything `tabletop programme` shows, computed for one date."""

    as_of: date
    programme: Programme
    counted: list[Run]
    excluded: list[tuple[Run, str]]
    schedule: list[ScheduleItem]
    ledger: FollowUpLedger
    risks: list[RiskItem]
    stages: list[StageResult]
    coverage: float
    coverage_history: list[tuple[date, float]]
    register: Register | None
    source: str = ""

    @property
    def supported(self) -> StageResult | None:
        met = [s for s in self.stages if s.met]
        return met[-1] if met else None

    @property
    def next_stage(self) -> StageResult | None:
        supported = self.supported
        index = self.stages.index(supported) + 1 if supported is not None else 0
        return self.stages[index] if index < len(self.stages) else None

    @property
    def declared(self) -> StageResult:
        return next(s for s in self.stages if s.stage.id == self.programme.stage)

    @cached_property
    def followups(self) -> list[FollowUp]:
        """Every follow-up raised by a counted run, in the order they were raised."""
        return [self.ledger.make(i) for i in self.ledger.raised]

    @cached_property
    def open_followups(self) -> list[FollowUp]:
        """Open follow-ups, oldest first."""
        made = [self.ledger.make(i) for i in self.ledger.open_ids()]
        return sorted(made, key=lambda f: (-f.age, f.id))

    @property
    def late_followups(self) -> list[str]:
        """The ids of the follow-ups open past their due date, sorted."""
        return self.ledger.late

    @property
    def register_notes(self) -> list[str]:
        return self.ledger.notes

    @property
    def overdue(self) -> list[ScheduleItem]:
        return [s for s in self.schedule if s.overdue]

    @property
    def past_review(self) -> list[RiskItem]:
        return [r for r in self.risks if r.past_review]

    @property
    def material(self) -> list[RiskItem]:
        return [r for r in self.risks if r.material]

    def open_by_owner(self) -> dict[str, list[FollowUp]]:
        grouped: dict[str, list[FollowUp]] = defaultdict(list)
        for followup in self.open_followups:
            grouped[followup.owner_role or NOT_RECORDED].append(followup)
        return dict(sorted(grouped.items()))

    def open_by_age(self) -> list[tuple[str, int]]:
        """How many open follow-ups are in each age band (AGE_BANDS), youngest first."""
        counts = dict.fromkeys((label for _, label in AGE_BANDS), 0)
        for followup in self.open_followups:
            age = followup.age
            label = next(label for limit, label in AGE_BANDS if limit is None or age <= limit)
            counts[label] += 1
        return list(counts.items())

    def to_json(self, *, full: bool = True) -> dict[str, Any]:
        """The standing as data. `full=False` (what `tabletop programme --json` prints) lists the
        open follow-ups only, and counts the counted runs rather than listing them; the
        evidence pack and `tabletop followups list --all --json` give everything."""
        supported = self.supported
        following = self.next_stage
        listed = sorted(self.followups, key=lambda f: (f.raised, f.id)) if full else self.open_followups
        return {
            "as_of": self.as_of.isoformat(),
            "programme": self.source,
            "stage": {
                "declared": self.programme.stage,
                "declared_met": self.declared.met,
                "declared_missing": list(self.declared.missing),
                "supported": supported.stage.id if supported else None,
                "next": following.stage.id if following else None,
                "missing_for_next": list(following.missing) if following else [],
                "stages": [s.to_json() for s in self.stages],
            },
            "coverage": self.coverage,
            "coverage_history": [{"date": d.isoformat(), "coverage": c} for d, c in self.coverage_history],
            "teams": [
                {
                    "id": team.id,
                    "title": team.name,
                    "rehearsals": [s.to_json() for s in self.schedule if s.team == team.id],
                }
                for team in self.programme.teams
            ],
            "overdue": [s.to_json() for s in self.overdue],
            "followups": {
                "open": len(self.open_followups),
                "closed": len(self.ledger.closures),
                "overdue": len(self.late_followups),
                "by_owner": {owner: [f.id for f in items] for owner, items in self.open_by_owner().items()},
                "by_age": dict(self.open_by_age()),
                "items": [f.to_json() for f in listed],
            },
            "risks": {
                "items": [r.to_json() for r in self.risks],
                "accepted_past_review": [r.to_json() for r in self.past_review],
                "company_register": [r.to_json() for r in self.material],
            },
            "runs": {
                "counted": (
                    [r.brief() | {"team": r.team, "signer": r.signer} for r in self.counted]
                    if full
                    else len(self.counted)
                ),
                "excluded": [{"path": r.path, "reason": reason} for r, reason in self.excluded],
            },
            "register": self.register.to_json() if self.register is not None else None,
            "register_notes": list(self.register_notes),
        }


# --- computing ---------------------------------------------------------------------------------


def _better_or_equal(rating: str, floor: str) -> bool:
    return rating in RATING_ORDER and RATING_ORDER.index(rating) <= RATING_ORDER.index(floor)


class _Runs:
    """Counted runs by (team, kind), oldest first, with their dates for bisecting."""

    def __init__(self, runs: list[Run]) -> None:
        self.groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
        for run in runs:
            self.groups[(run.team, run.kind)].append(run)
        self.days = {key: [r.day or date.min for r in group] for key, group in self.groups.items()}

    def upto(self, team: str, kind: str, day: date) -> list[Run]:
        group = self.groups.get((team, kind), [])
        return group[: bisect_right(self.days.get((team, kind), []), day)]


def _schedule_item(team: Team, rehearsal: Rehearsal, runs: _Runs, as_of: date) -> ScheduleItem:
    mine = runs.upto(team.id, rehearsal.kind, as_of)
    last = mine[-1] if mine else None
    next_due = rehearsal.interval.after(last.day) if last is not None and last.day else None
    overdue = next_due is None or as_of > next_due
    days = (as_of - next_due).days if next_due is not None and as_of > next_due else 0
    previous = mine[-2] if len(mine) >= 2 else None
    previous_score = change = None
    compared = ""
    if last is not None and previous is not None:
        if previous.rules_version != last.rules_version:
            compared = (
                f"not compared: the previous run was played under scoring rules version "
                f"{previous.rules_version}, the last under {last.rules_version}"
            )
        elif previous.score is not None and last.score is not None:
            previous_score = previous.score
            change = round(last.score - previous.score, 4)
            compared = f"against the run of {previous.day.isoformat() if previous.day else '?'}"
    return ScheduleItem(
        team=team.id,
        kind=rehearsal.kind,
        every=rehearsal.every,
        last=last,
        runs=len(mine),
        next_due=next_due,
        overdue=overdue,
        days_overdue=days,
        previous_score=previous_score,
        change=change,
        compared=compared,
        rating_at_least=rehearsal.rating_at_least,
    )


class FollowUpLedger:
    """The follow-ups of the counted runs, kept as the facts hold them, with what closed, re-owned
    or claimed each; a `FollowUp` is made only for one that is asked for (a folder of 10,000
    runs holds some 100,000 follow-ups, most of them closed)."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.raised: dict[str, tuple[dict[str, Any], Run]] = {}
        self.closures: dict[str, tuple[date, str, str, str, str]] = {}
        self.owners: dict[str, list[dict[str, Any]]] = {}
        self.claims: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[str] = []
        self.late: list[str] = []
        """The ids of the follow-ups open past their due date on `as_of`, sorted."""
        self._made: dict[str, FollowUp] = {}

    def owner_of(self, followup_id: str) -> str:
        changes = self.owners.get(followup_id)
        if changes:
            return str(changes[-1]["to"])
        return str(self.raised[followup_id][0].get("owner_role", ""))

    def due(self, followup_id: str) -> date:
        data, run = self.raised[followup_id]
        assert run.day is not None
        return parse_date(data.get("due_date")) or run.day + timedelta(days=DEFAULT_DUE_DAYS)

    def open_ids(self) -> list[str]:
        return [i for i in self.raised if i not in self.closures]

    def make(self, followup_id: str) -> FollowUp:
        made = self._made.get(followup_id)
        if made is not None:
            return made
        data, run = self.raised[followup_id]
        assert run.day is not None
        get = data.get
        followup = FollowUp(
            followup_id,
            run.team,
            str(get("text", "")),
            self.owner_of(followup_id),
            self.due(followup_id),
            str(get("due", "")),
            run.day,
            run.path,
            run.scenario,
            run.rules_version,
            str(get("action", "")),
            tuple(get("expectations", ())),
            str(get("ticket", "")),
            owners=list(self.owners.get(followup_id, ())),
            claims=list(self.claims.get(followup_id, ())),
            as_of=self.as_of,
        )
        closure = self.closures.get(followup_id)
        if closure is not None:
            _close(followup, *closure)
        self._made[followup_id] = followup
        return followup


def _followups(
    counted: list[Run], excluded: list[tuple[Run, str]], register: Register | None, as_of: date
) -> FollowUpLedger:
    ledger = FollowUpLedger(as_of)
    raised, closures = ledger.raised, ledger.closures
    pending: dict[str, set[str]] = defaultdict(set)  # team -> open follow-up ids
    # (team, scenario, rules version) -> expectation id -> the open follow-ups that came from it
    by_step: dict[tuple[str, str, int], dict[str, dict[str, dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict)
    )

    def close(followup_id: str, closure: tuple[date, str, str, str, str]) -> None:
        closures[followup_id] = closure
        data, run = raised[followup_id]
        pending[run.team].discard(followup_id)
        steps = by_step[(run.team, run.scenario, run.rules_version)]
        for step in data.get("expectations", ()):
            steps[step].pop(followup_id, None)

    for run in counted:  # walked in order: only a later run closes what an earlier one raised
        day = run.day
        assert day is not None
        key = (run.team, run.scenario, run.rules_version)
        mine = pending[run.team]
        for closing in run.facts.get("closes") or ():
            followup_id = str(closing.get("id"))
            if followup_id in mine:
                who = f"{closing.get('by') or '?'} ({closing.get('role') or '?'})"
                evidence = str(closing.get("evidence") or "")
                close(followup_id, (day, "closed in a rehearsal", who, run.path, evidence))
        steps = by_step.get(key)
        if steps:
            good, bad = _steps(run)
            candidates: dict[str, dict[str, Any]] = {}
            for step in good:
                candidates.update(steps.get(step) or {})
            for followup_id, data in candidates.items():
                expectations = data.get("expectations", ())
                if not bad.intersection(expectations):
                    met = (
                        day,
                        "the steps it came from were met again",
                        "",
                        run.path,
                        ", ".join(expectations),
                    )
                    close(followup_id, met)
        for data in run.facts.get("followups") or ():
            followup_id = str(data["id"])
            if followup_id in raised:
                continue
            raised[followup_id] = (data, run)
            mine.add(followup_id)
            group = by_step[key]
            for step in data.get("expectations", ()):
                group[step][followup_id] = data
    order = {run.path: (run.started, run.path) for run in counted}
    # claims that did not count
    for run, reason in [*((r, "") for r in counted), *excluded]:
        for closing in run.facts.get("closes") or ():
            followup_id = str(closing.get("id"))
            if followup_id not in raised:
                continue
            raised_by = raised[followup_id][1]
            closure = closures.get(followup_id)
            if closure is not None and closure[3] == run.path:
                continue
            why = reason
            if not why and run.team != raised_by.team:
                why = f"recorded by team {run.team}; only a rehearsal of team {raised_by.team} closes it"
            elif not why and (run.started, run.path) <= order[raised_by.path]:
                why = "recorded before the rehearsal that raised it"
            elif not why:
                why = "it was already closed"
            ledger.claims.setdefault(followup_id, []).append(
                {"path": run.path, "by": closing.get("by"), "reason": why}
            )
    if register is not None:
        ledger.notes.extend(register.problems)
        for entry in register.entries:
            day = entry.day
            if day is None or day > as_of:
                continue
            if entry.id not in raised:
                ledger.notes.append(
                    f"register entry {entry.seq} names {entry.id}, which no counted rehearsal raised"
                )
                continue
            if not entry.counted:
                ledger.claims.setdefault(entry.id, []).append(
                    {"path": register.path.name, "by": entry.by, "reason": entry.reason}
                )
                continue
            who = entry.trusted_as or entry.by
            if entry.type == CLOSED:
                closed = closures.get(entry.id)
                if closed is None or day < closed[0]:
                    closures[entry.id] = (day, "closed by a manager", who, "register", entry.why)
            elif entry.type == REOWNED:
                ledger.owners.setdefault(entry.id, []).append(
                    {
                        "date": day.isoformat(),
                        "from": ledger.owner_of(entry.id),
                        "to": entry.to,
                        "why": entry.why,
                        "by": who,
                    }
                )
    return ledger


def _close(followup: FollowUp, day: date, how: str, by: str, where: str, why: str) -> None:
    followup.closed = day
    followup.closed_how = how
    followup.closed_by = by
    followup.closed_in = where
    followup.closed_why = why


def _steps(run: Run) -> tuple[set[str], set[str]]:
    """The expectations of a run met without a flag, and those that applied and were not."""
    return set(run.facts.get("met") or ()), set(run.facts.get("not_met") or ())


def _risks(counted: list[Run], programme: Programme, as_of: date) -> list[RiskItem]:
    rule = programme.risk_register.material_when
    latest: dict[tuple[str, str], tuple[Run, dict[str, Any]]] = {}
    first: dict[tuple[str, str], date] = {}
    records: dict[tuple[str, str], int] = defaultdict(int)
    for run in counted:
        assert run.day is not None
        for risk in run.facts.get("risks") or ():
            key = (run.team, " ".join(str(risk.get("title") or "").split()).casefold())
            # the latest record is the risk's state; what it leaves unrecorded keeps its earlier value
            merged = dict(latest[key][1]) if key in latest else {}
            merged.update({k: v for k, v in risk.items() if v not in (None, "", NOT_RECORDED)})
            latest[key] = (run, merged)
            first.setdefault(key, run.day)
            records[key] += 1
    items = []
    for key, (run, risk) in sorted(latest.items()):
        assert run.day is not None
        residual = str(risk.get("residual") or NOT_RECORDED)
        inherent = str(risk.get("inherent") or NOT_RECORDED)
        level = residual if residual in LEVELS else (inherent if inherent in LEVELS else None)
        duty = str(risk.get("duty") or "")
        recorded = risk.get("register")
        material, why = rule.judge(level, duty, recorded if isinstance(recorded, bool) else None)
        review_by = str(risk.get("review_by") or "")
        review_date = parse_date(risk.get("review_date"))  # resolved against the run that recorded it
        accepted = risk.get("treatment") == "accept"
        items.append(
            RiskItem(
                team=run.team,
                title=str(risk.get("title") or NOT_RECORDED),
                owner=str(risk.get("owner") or NOT_RECORDED),
                treatment=str(risk.get("treatment") or NOT_RECORDED),
                inherent=inherent,
                residual=residual,
                likelihood=str(risk.get("likelihood") or NOT_RECORDED),
                impact=str(risk.get("impact") or NOT_RECORDED),
                residual_likelihood=str(risk.get("residual_likelihood") or NOT_RECORDED),
                residual_impact=str(risk.get("residual_impact") or NOT_RECORDED),
                lowers=str(risk.get("lowers") or NOT_RECORDED),
                likelihood_mitigation=str(risk.get("likelihood_mitigation") or ""),
                impact_mitigation=str(risk.get("impact_mitigation") or ""),
                duty=duty,
                review_by=review_by,
                review_date=review_date,
                material=material,
                material_why=why,
                past_review=accepted and (review_date is None or as_of > review_date),
                recorded=run.day,
                recorded_in=run.path,
                first_recorded=first[key],
                records=records[key],
            )
        )
    return items


def _stage_result(
    stage: Stage,
    programme: Programme,
    runs: _Runs,
    late: list[str],
    risks: list[RiskItem],
    as_of: date,
) -> StageResult:
    missing: list[str] = []
    for team in programme.teams:
        for rehearsal in programme.kinds_for(team, stage):
            item = _schedule_item(team, rehearsal, runs, as_of)
            if item.last is None:
                missing.append(f"{team.id}: {rehearsal.kind}: never run (every {rehearsal.every})")
            elif item.overdue:
                missing.append(
                    f"{team.id}: {rehearsal.kind}: last run {item.last.day}, due {item.next_due} "
                    f"(every {rehearsal.every})"
                )
            elif rehearsal.rating_at_least and not _better_or_equal(
                item.last.rating, rehearsal.rating_at_least
            ):
                missing.append(
                    f"{team.id}: {rehearsal.kind}: last run rated {item.last.rating or 'not rated'}, "
                    f"needs {rehearsal.rating_at_least} or better"
                )
    for requirement in stage.requires:
        if requirement.check == "followups_on_time":
            if late:
                missing.append(f"{len(late)} follow-up(s) open past their due date: {', '.join(late)}")
        elif requirement.check == "risks_reviewed":
            late_risks = [r for r in risks if r.past_review]
            if late_risks:
                missing.append(
                    f"{len(late_risks)} accepted risk(s) past their review date: "
                    + "; ".join(f"{r.team}: {r.title}" for r in late_risks)
                )
        elif requirement.check == "material_risks_owned":
            unowned = [r for r in risks if r.material and not r.owned]
            if unowned:
                missing.append(
                    f"{len(unowned)} material risk(s) without an owner and a review date: "
                    + "; ".join(f"{r.team}: {r.title}" for r in unowned)
                )
    return StageResult(stage, not missing, tuple(missing))


def coverage_on(programme: Programme, runs: _Runs, day: date) -> float:
    """The share of the company stage's (team, kind) requirements current on `day`."""
    total = current = 0
    for team in programme.teams:
        for rehearsal in programme.kinds_for(team):
            total += 1
            current += not _schedule_item(team, rehearsal, runs, day).overdue
    return round(current / total, 4) if total else 1.0


def _month_ends(first: date, last: date) -> list[date]:
    ends = []
    year, month = first.year, first.month
    while True:
        following = date(year + (month == 12), month % 12 + 1, 1)
        end = following - timedelta(days=1)
        if end >= last:
            ends.append(last)
            return ends
        ends.append(end)
        year, month = following.year, following.month


def programme_status(
    programme: Programme,
    runs: Iterable[Run],
    register: Register | None = None,
    *,
    as_of: date,
    trust: Any = None,
    since: date | None = None,
    source: str = "",
) -> ProgrammeStatus:
    """The programme's standing on `as_of` (see the module docstring for every rule).

    `since` only starts `coverage_history` later; every run up to `as_of` is taken into account.
    """
    counted: list[Run] = []
    excluded: list[tuple[Run, str]] = []
    for run in sorted(runs, key=lambda r: (r.started, r.path)):
        if run.day is not None and run.day > as_of:
            continue
        reason = exclusion(run, run.evidence(trust), programme)
        if reason:
            excluded.append((run, reason))
        else:
            counted.append(run)
    grouped = _Runs(counted)
    schedule = [
        _schedule_item(team, rehearsal, grouped, as_of)
        for team in programme.teams
        for rehearsal in programme.kinds_for(team)
    ]
    ledger = _followups(counted, excluded, register, as_of)
    risks = _risks(counted, programme, as_of)
    ledger.late = sorted(i for i in ledger.open_ids() if as_of > ledger.due(i))
    stages = [
        _stage_result(stage, programme, grouped, ledger.late, risks, as_of) for stage in programme.stages
    ]
    start = since or min((r.day for r in counted if r.day is not None), default=as_of)
    history = [(day, coverage_on(programme, grouped, day)) for day in _month_ends(start, as_of)]
    return ProgrammeStatus(
        as_of=as_of,
        programme=programme,
        counted=counted,
        excluded=excluded,
        schedule=schedule,
        ledger=ledger,
        risks=risks,
        stages=stages,
        coverage=coverage_on(programme, grouped, as_of),
        coverage_history=history,
        register=register,
        source=source,
    )
