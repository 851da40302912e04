"""A folder of rehearsals over 18 months for three teams, generated with the real session factory.

`build_programme_folder(root)` writes, in virtual time with an injected wall clock and test
signing keys:

- three small scenarios (a tabletop, a restore and a failover drill; every expectation runs
  from the start: appoint the coordinator (weight 2), declare (1), the fix (2));
- 23 transcripts: 16 verified team rehearsals by teams blue, red and green between
  2025-01-14 and 2026-05-19, one more after 2026-07-01, and six that do not count (solo
  practice, a simulate run, a forged copy, an unknown team, a run that never ended, one
  signed with a key nobody trusts);
- `trusted_keys` (the facilitator's and the manager's keys), `programme.yaml` and the
  follow-up register (a manager's closing, a re-owning, and a closing signed with an
  untrusted key).

The story (the known answers in tests/test_programme.py follow from it):

| run | team | kind | date | missed | also |
| --- | --- | --- | --- | --- | --- |
| B1 | blue | tabletop | 2025-01-14 | declare | records and accepts "Admin tokens never expire" (review 2025-12-31) |
| R1 | red | restore | 2025-02-04 | declare | |
| B2 | blue | restore | 2025-03-11 | | |
| G1 | green | failover | 2025-04-01 | | |
| R2 | red | restore | 2025-05-06 | | meets R1's step again |
| B3 | blue | failover | 2025-06-17 | declare, fix | |
| G2 | green | restore | 2025-07-15 | | |
| R3 | red | tabletop | 2025-08-12 | fix | records "Single region database" (residual High, no review date) |
| B4 | blue | restore | 2025-09-09 | fix | |
| G3 | green | tabletop | 2025-10-21 | declare | accepts "Customer export unreviewed" (duty UK GDPR, review 90d) |
| R4 | red | restore | 2025-11-04 | | |
| B5 | blue | tabletop | 2026-01-13 | | accepts "Admin tokens never expire" again, review 2026-12-31 |
| B6 | blue | restore | 2026-02-10 | | close_followup B3's failover one, and G3's (not blue's to close) |
| R5 | red | restore | 2026-03-10 | fix | |
| G4 | green | restore | 2026-04-14 | | |
| B7 | blue | restore | 2026-05-19 | | |
| B8 | blue | failover | 2026-07-10 | | after the as-of date of most tests |
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tabletop.clock import VirtualClock
from tabletop.engine import Participant
from tabletop.followups import followup_id
from tabletop.keys import Signer
from tabletop.loader import load_scenario
from tabletop.programme.register import CLOSED, REOWNED, append_entry
from tabletop.sessions import open_session
from tabletop.transcript import canonical, line_hash

KINDS = {
    "tabletop": ("drill-tabletop", "contain", {"target": "crm-api", "method": "disable_integration"}),
    "restore": ("drill-restore", "restore_backup", {"backup": "snap-0300"}),
    "failover": ("drill-failover", "failover", {"from_site": "eu-west-1", "to_site": "eu-central-1"}),
}

SCENARIO = """\
id: {id}
title: Programme drill ({kind})
summary: A short {kind} rehearsal for the programme's known-answer tests.
kind: {kind}
duration: 2h
speed: 60
seed: 1
roles: [coordinator, technical_lead, incident_lead, service_owner]
rubric: []
injects:
  - id: alert
    at: T+0m
    channel: alert
    from: Monitoring
    to: all
    title: The {kind} drill starts
    body: Work through the drill.
expectations:
  - {{id: coord, action: appoint_coordinator, owner: coordinator, within: 15m, weight: 2}}
  - {{id: declare, action: declare_incident, owner: coordinator, within: 30m, weight: 1}}
  - {{id: fix, action: {action}, owner: technical_lead, within: 1h, weight: 2}}
"""

PROGRAMME = """\
stage: production
teams:
  - {id: blue, title: Blue team}
  - {id: red, title: Red team, kinds: [tabletop, restore]}
  - {id: green, title: Green team}
risk_register:
  material_when: {residual_at_least: High, regulatory_duty: true}
stages:
  - id: pre_production
    title: Before Production
    rehearsals:
      - {kind: restore, every: 3mo}
      - {kind: failover, every: 3mo}
    requires:
      - {check: followups_on_time}
  - id: production
    title: Production
    rehearsals:
      - {kind: tabletop, every: 1y}
      - {kind: restore, every: 6mo}
      - {kind: failover, every: 1y}
    requires:
      - {check: followups_on_time}
      - {check: risks_reviewed}
  - id: scaling
    title: Scaling
    rehearsals:
      - {kind: tabletop, every: 1y, rating_at_least: S}
      - {kind: restore, every: 3mo, rating_at_least: S}
      - {kind: failover, every: 6mo, rating_at_least: S}
    requires:
      - {check: followups_on_time}
      - {check: risks_reviewed}
      - {check: material_risks_owned}
"""

PEOPLE = {
    "coordinator": "Sam Okafor",
    "technical_lead": "Priya Nair",
    "incident_lead": "Lena Brandt",
    "service_owner": "Ana Costa",
}

ADMIN_TOKENS = {
    "risk": "Admin tokens never expire",
    "likelihood": "high",
    "impact": "high",
    "treatment": "accept",
    "residual_likelihood": "moderate",
    "residual_impact": "high",
    "mitigation_lowers": "likelihood",
    "likelihood_mitigation": "Tokens expire after 30 days",
    "owner": "Ana Costa",
    "review_by": "2025-12-31",
}
SINGLE_REGION = {
    "risk": "Single region database",
    "likelihood": "high",
    "impact": "very_high",
    "treatment": "remediate",
    "residual_likelihood": "moderate",
    "residual_impact": "very_high",
    "mitigation_lowers": "likelihood",
    "likelihood_mitigation": "A warm standby in a second region",
    "owner": "Ana Costa",
}
CUSTOMER_EXPORT = {
    "risk": "Customer export unreviewed",
    "likelihood": "moderate",
    "impact": "moderate",
    "treatment": "accept",
    "residual_likelihood": "low",
    "residual_impact": "low",
    "mitigation_lowers": "both",
    "likelihood_mitigation": "Exports need a second approver",
    "impact_mitigation": "Exports hold pseudonymised ids only",
    "owner": "Ana Costa",
    "duty": "UK GDPR Art 33(5)",
    "review_by": "90d",
}


@dataclass(frozen=True)
class Spec:
    """One generated rehearsal."""

    name: str
    team: str
    kind: str
    day: date
    missed: tuple[str, ...] = ()
    mode: str = "team"
    risks: tuple[dict[str, Any], ...] = ()
    accept: tuple[tuple[str, str], ...] = ()  # (risk, review_by)
    closes: tuple[tuple[str, str], ...] = ()  # (run name, action) of follow-ups to close
    signer: str = "facilitator"
    end: bool = True


RUNS = (
    Spec(
        "B1",
        "blue",
        "tabletop",
        date(2025, 1, 14),
        ("declare",),
        risks=(ADMIN_TOKENS,),
        accept=(("Admin tokens never expire", "2025-12-31"),),
    ),
    Spec("R1", "red", "restore", date(2025, 2, 4), ("declare",)),
    Spec("B2", "blue", "restore", date(2025, 3, 11)),
    Spec("G1", "green", "failover", date(2025, 4, 1)),
    Spec("R2", "red", "restore", date(2025, 5, 6)),
    Spec("X5", "purple", "restore", date(2025, 6, 1)),
    Spec("B3", "blue", "failover", date(2025, 6, 17), ("declare", "fix")),
    Spec("G2", "green", "restore", date(2025, 7, 15)),
    Spec("R3", "red", "tabletop", date(2025, 8, 12), ("fix",), risks=(SINGLE_REGION,)),
    Spec("B4", "blue", "restore", date(2025, 9, 9), ("fix",)),
    Spec("X1", "red", "tabletop", date(2025, 10, 1), mode="solo", closes=(("R3", "contain"),)),
    Spec(
        "G3",
        "green",
        "tabletop",
        date(2025, 10, 21),
        ("declare",),
        risks=(CUSTOMER_EXPORT,),
        accept=(("Customer export unreviewed", "90d"),),
    ),
    Spec("R4", "red", "restore", date(2025, 11, 4)),
    Spec("X2", "blue", "restore", date(2025, 12, 2), mode="simulate"),
    Spec("B5", "blue", "tabletop", date(2026, 1, 13), accept=(("Admin tokens never expire", "2026-12-31"),)),
    Spec("B6", "blue", "restore", date(2026, 2, 10), closes=(("B3", "failover"), ("G3", "declare_incident"))),
    Spec("R5", "red", "restore", date(2026, 3, 10), ("fix",)),
    Spec("G4", "green", "restore", date(2026, 4, 14)),
    Spec("B7", "blue", "restore", date(2026, 5, 19)),
    Spec("G5", "green", "failover", date(2026, 6, 9), signer="stranger"),
    Spec("X6", "blue", "tabletop", date(2026, 6, 20), end=False),
    Spec("B8", "blue", "failover", date(2026, 7, 10)),
)
FORGED_FROM = "B2"
"""X4: a copy of B2 with one decision edited and the chain recomputed, its signatures left."""

REGISTER = (
    # (when, kind, run, action, why, to, signer)
    (datetime(2025, 12, 1, 10, 0, tzinfo=UTC), CLOSED, "R3", "contain",
     "Containment runbook page written and walked through", "", "manager"),
    (datetime(2026, 3, 1, 10, 0, tzinfo=UTC), REOWNED, "B3", "declare_incident",
     "The service owner runs the declaration criteria review", "service_owner", "manager"),
    (datetime(2026, 4, 1, 10, 0, tzinfo=UTC), CLOSED, "G3", "declare_incident",
     "Looks done", "", "stranger"),
)  # fmt: skip


@dataclass
class ProgrammeFolder:
    """What the generator made: the folder, the transcripts by run name, the follow-up ids."""

    root: Path
    folder: Path
    paths: dict[str, Path] = field(default_factory=dict)
    first_hashes: dict[str, str] = field(default_factory=dict)
    keys: dict[str, Signer] = field(default_factory=dict)

    def followup(self, run: str, action: str) -> str:
        return followup_id(self.first_hashes[run], f"action:{action}")

    def relative(self, run: str) -> str:
        return self.paths[run].relative_to(self.folder).as_posix()


@contextmanager
def signing_with(path: Path) -> Iterator[None]:
    saved = os.environ.get("TABLETOP_SIGNING_KEY")
    os.environ["TABLETOP_SIGNING_KEY"] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TABLETOP_SIGNING_KEY", None)
        else:
            os.environ["TABLETOP_SIGNING_KEY"] = saved


def _wall(day: date, clock: VirtualClock):
    start = datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)
    return lambda: start + timedelta(seconds=clock.now())


def _record(
    session: Any, at: int, role: str, action: str, fields: dict[str, Any], rationale: str = ""
) -> None:
    session.run_until(at)
    session.decide(role, action, by=PEOPLE[role], fields=fields, rationale=rationale)


def _generate(spec: Spec, made: ProgrammeFolder, scenarios: dict[str, Any]) -> Path:
    _, fix_action, fix_fields = KINDS[spec.kind]
    scenario = scenarios[spec.kind]
    clock = VirtualClock()
    path = made.folder / spec.team / f"{spec.day.isoformat()}-{spec.kind}-{spec.name}.jsonl"
    if spec.mode == "solo":
        players = [Participant(PEOPLE["incident_lead"], "incident_lead")]
    else:
        players = [Participant(name, role) for role, name in PEOPLE.items()]
    key_file = made.root / "keys" / f"{spec.signer}.pem"
    with signing_with(key_file):
        opened = open_session(
            scenario,
            mode=spec.mode,  # type: ignore[arg-type]
            players=players,
            solo_role="incident_lead" if spec.mode == "solo" else None,
            clock=clock,
            transcript=path,
            team=spec.team,
            now_utc=_wall(spec.day, clock),
            fsync=False,
            start=True,
        )
        session = opened.session
        if spec.mode != "solo":
            if "coord" not in spec.missed:
                _record(
                    session, 300, "coordinator", "appoint_coordinator", {"coordinator": PEOPLE["coordinator"]}
                )
            if "declare" not in spec.missed:
                _record(
                    session, 600, "coordinator", "declare_incident", {"severity": "sev2", "summary": "Drill"}
                )
            if "fix" not in spec.missed:
                _record(session, 1800, "technical_lead", fix_action, fix_fields)
            for number, risk in enumerate(spec.risks):
                _record(session, 3000 + number, "service_owner", "record_risk", dict(risk))
            for number, (title, review_by) in enumerate(spec.accept):
                _record(
                    session,
                    3300 + number,
                    "service_owner",
                    "accept_risk",
                    {"risk": title, "review_by": review_by},
                    rationale="Accepted until the review",
                )
        for number, (run, action) in enumerate(spec.closes):
            _record(
                session,
                3600 + number,
                "incident_lead",
                "close_followup",
                {"followup": made.followup(run, action), "evidence": f"Done: see the {action} runbook"},
            )
        if spec.end:
            session.run_to_end()
        session.writer.close()
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    made.first_hashes[spec.name] = first["hash"]
    return path


def _forge(source: Path, target: Path) -> None:
    """Edit one decision and recompute the chain, keeping the old signatures: forged."""
    records = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    decision = next(r for r in records if r["type"] == "decision")
    decision["by"] = "Someone Else"
    prev = None
    lines = []
    for record in records:
        record["prev"] = prev
        record["hash"] = line_hash(record)
        prev = record["hash"]
        lines.append(canonical(record))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target.chmod(0o600)


def build_programme_folder(root: Path) -> ProgrammeFolder:
    """Generate the whole folder under `root` (see the module docstring)."""
    made = ProgrammeFolder(root=root, folder=root / "transcripts")
    made.folder.mkdir(parents=True)
    (root / "keys").mkdir()
    for name, holder in (
        ("facilitator", "Test Facilitator"),
        ("manager", "Dana Manager"),
        ("stranger", "Eve Stranger"),
    ):
        signer = Signer.generate(holder)
        (root / "keys" / f"{name}.pem").write_bytes(signer.private_pem())
        (root / "keys" / f"{name}.pub").write_text(signer.public.line() + "\n")
        made.keys[name] = signer
    (root / "trusted_keys").write_text(
        "# the organisation's keys\n"
        + made.keys["facilitator"].public.line()
        + "\n"
        + made.keys["manager"].public.line()
        + "\n"
    )
    (root / "programme.yaml").write_text(PROGRAMME)
    drills = root / "drills"
    drills.mkdir()
    scenarios = {}
    for kind, (scenario_id, action, _) in KINDS.items():
        path = drills / f"{scenario_id}.yaml"
        path.write_text(SCENARIO.format(id=scenario_id, kind=kind, action=action))
        scenarios[kind] = load_scenario(path)
    for spec in RUNS:
        made.paths[spec.name] = _generate(spec, made, scenarios)
    forged = made.folder / "blue" / "2025-03-11-restore-X4.jsonl"
    _forge(made.paths[FORGED_FROM], forged)
    made.paths["X4"] = forged
    for when, kind, run, action, why, to, signer in REGISTER:
        append_entry(
            made.folder,
            kind,
            made.followup(run, action),
            why,
            signer=made.keys[signer],
            to=to,
            previous_owner="incident_lead" if kind == REOWNED else "",
            now_utc=lambda when=when: when,
        )
    return made


def copy_folder(made: ProgrammeFolder, target: Path) -> ProgrammeFolder:
    """A private copy of a generated folder (for tests that change it)."""
    shutil.copytree(made.root, target, symlinks=True)
    copy = ProgrammeFolder(root=target, folder=target / "transcripts", keys=made.keys)
    copy.first_hashes = dict(made.first_hashes)
    copy.paths = {name: target / path.relative_to(made.root) for name, path in made.paths.items()}
    for stale in copy.folder.glob(".tabletop-index.sqlite*"):
        stale.unlink()
    return copy
