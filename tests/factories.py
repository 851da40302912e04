"""Build resolved scenarios, sessions and transcripts in tests without the loader or YAML files.

`make_scenario(...)` returns a resolved `Scenario` with a small action catalog (the action ids
the bundled catalog uses most); `make_session(...)` opens a transcript in a folder and
starts a session on a virtual clock; `FixedWall` is a deterministic wall clock for `wall`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tabletop.clock import Clock, VirtualClock
from tabletop.engine import Mode, Participant, Session
from tabletop.model import Action, Expectation, Inject, Response, Role, Scenario
from tabletop.sessions import open_session

ROLES = ["coordinator", "technical_lead", "comms_owner", "dpo"]

ROLE_INFO = [
    Role(id="coordinator", title="Incident coordinator"),
    Role(id="technical_lead", title="Technical lead"),
    Role(id="comms_owner", title="Communications owner"),
    Role(id="dpo", title="Data protection officer"),
]


def make_action(id: str, area: str = "coordination", default_owner: str = "coordinator", **kw: Any) -> Action:
    return Action(
        id=id,
        title=kw.pop("title", id.replace("_", " ").capitalize()),
        area=area,
        default_owner=default_owner,
        **kw,
    )


def default_actions() -> list[Action]:
    """A catalog covering coordination, data protection, notification and hands-on work."""
    return [
        make_action("declare_incident"),
        make_action("appoint_coordinator"),
        make_action("assign_roles"),
        make_action("open_incident_channel"),
        make_action("status_update", fields={"audience": ["internal", "customer", "exec"]}),
        make_action("escalate", fields={"to": "text"}),
        make_action("record_decision", rationale="required"),
        make_action("contain", area="technical", default_owner="technical_lead", hands_on=True),
        make_action("revoke_access", area="technical", default_owner="technical_lead", hands_on=True),
        make_action("rollback", area="technical", default_owner="technical_lead", hands_on=True),
        make_action(
            "restore_backup",
            area="recovery",
            default_owner="technical_lead",
            hands_on=True,
            fields={"backup": {"type": "text"}, "rpo": {"type": "duration"}},
        ),
        make_action("preserve_evidence", area="technical", default_owner="technical_lead"),
        make_action("involve_dpo", area="data_protection"),
        make_action(
            "assess_personal_data",
            area="data_protection",
            default_owner="dpo",
            fields={"records": {"type": "number"}, "special_category": {"type": "bool"}},
        ),
        make_action(
            "determine_controller_processor",
            area="data_protection",
            default_owner="dpo",
            fields={"position": ["controller", "processor", "both"]},
        ),
        make_action(
            "confirm_personal_data_breach", area="data_protection", default_owner="dpo", sets_marker="aware"
        ),
        make_action(
            "ico_decision",
            area="notification",
            default_owner="dpo",
            rationale="required",
            fields={"outcome": ["notify", "not_notify"]},
        ),
        make_action("notify_ico", area="notification", default_owner="dpo"),
        make_action("notify_controller", area="notification", default_owner="dpo"),
        make_action("customer_comms", area="notification", default_owner="comms_owner"),
        make_action("record_breach", area="data_protection", default_owner="dpo"),
        make_action("schedule_postmortem", area="learning"),
        make_action("close_incident"),
    ]


def make_inject(id: str, at: int | str = 0, **kw: Any) -> Inject:
    """An inject; `at` in seconds or as a duration string (`20m`); `title` defaults to the id."""
    from tabletop.timing import parse_duration

    kw.setdefault("title", id.replace("-", " ").capitalize())
    if "from_" in kw:
        kw["from"] = kw.pop("from_")
    return Inject.model_validate({"id": id, "at": parse_duration(at), **kw})


def make_expectation(
    id: str, action: str, within: int | str, *, after: str = "start", owner: str | None = None, **kw: Any
) -> Expectation:
    return Expectation(id=id, action=action, within=within, after=after, owner=owner, **kw)


def make_response(
    on: str, from_: str, after: int | str = 600, title: str | None = None, **kw: Any
) -> Response:
    return Response.model_validate(
        {"on": on, "from": from_, "after": after, "title": title or f"{from_} answers {on}", **kw}
    )


def make_scenario(
    injects: Iterable[Inject] | None = None,
    *,
    id: str = "test-scenario",
    duration: int | str = "4h",
    roles: list[str] | None = None,
    expectations: Iterable[Expectation] = (),
    responses: Iterable[Response] = (),
    actions: Iterable[Action] | None = None,
    **kw: Any,
) -> Scenario:
    """A resolved scenario; by default one inject `alert` at 0 and the default catalog."""
    return Scenario(
        id=id,
        title=kw.pop("title", "Test scenario"),
        duration=duration,
        roles=roles or list(ROLES),
        injects=list(injects) if injects is not None else [make_inject("alert", 0)],
        expectations=list(expectations),
        responses=list(responses),
        actions=list(actions) if actions is not None else default_actions(),
        role_info=kw.pop("role_info", list(ROLE_INFO)),
        **kw,
    )


def breach_scenario() -> Scenario:
    """A small suspected-breach rehearsal with a branch of every kind, a marker and a jump."""
    return make_scenario(
        [
            make_inject("alert", 0, channel="alert", to=["technical_lead", "coordinator"]),
            make_inject(
                "customer-ticket",
                "20m",
                channel="ticket",
                marks=["reported"],
                from_="ACME support",
                to=["coordinator"],
            ),
            make_inject("dpo-chases", "10m", when={"missed": "dpo-in"}, from_="DPO"),
            make_inject("press-call", "5m", when={"done": "customer_comms"}, channel="phone"),
            make_inject("regulator-asks", "30m", when={"marker": "aware"}, channel="email"),
            make_inject("ticket-follow-up", "15m", when={"after": "customer-ticket"}),
            make_inject("overnight", "2h", advance_to=20 * 3600),
            make_inject("morning", "20h30m"),
        ],
        id="breach-test",
        duration="24h",
        expectations=[
            make_expectation(
                "dpo-in", "involve_dpo", "30m", after="inject:customer-ticket", owner="coordinator"
            ),
            make_expectation("coord", "appoint_coordinator", "15m"),
        ],
        responses=[make_response("involve_dpo", "dpo", "10m", title="DPO assessment")],
    )


class FixedWall:
    """A wall clock for `wall` that starts at a fixed UTC time and moves 1 ms per call."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.moment += timedelta(milliseconds=1)
        return self.moment


def make_session(
    folder: Path,
    scenario: Scenario | None = None,
    *,
    name: str = "t.jsonl",
    clock: Clock | None = None,
    participants: Iterable[Participant | dict[str, Any] | tuple[str, str]] | None = None,
    mode: Mode = "team",
    start: bool = True,
    fsync: bool = False,
    seed: int = 7,
    **kw: Any,
) -> Session:
    """A session writing `folder/name`, opened by `tabletop.sessions`; team mode with everyone
    playing by default."""
    scenario = scenario or make_scenario()
    if participants is None:
        participants = [Participant(name=f"P-{role}", role=role) for role in scenario.roles]
    return open_session(
        scenario,
        mode=mode,
        players=participants,
        clock=clock if clock is not None else VirtualClock(),
        transcript=Path(folder) / name,
        now_utc=FixedWall(),
        fsync=fsync,
        seed=seed,
        start=start,
        **kw,
    ).session
