"""The exercise engine without a UI: a Session releases injects on time, reacts to decisions and records every event durably.

One scheduler runs under every clock: `tabletop.schedule`, a heap of typed items ordered by
`(time, priority, sequence)` (SimPy style), so events due at the same sim time always come out
in the same order. Every change of state is an event written to the transcript first and
applied second (`_apply`), which is what lets `Session.continue_transcript` rebuild a crashed
session from its transcript alone. Subscribers
(console, network host, live score) see an event only after it is on disk.

Order of things due at the same sim time: consequences of the event just recorded (markers,
trigger-now, ad-hoc injects, time jumps), then scheduled injects in scenario order, branches,
simulated responses, simulated teammates carrying out delegated work; expectation deadlines
are checked only once time has moved past them (a decision made exactly at the deadline is on
time), and the session ends last.

A time jump (`advance_to`) moves the clock at once; whatever was due in the skipped interval
is released at the jump, in time order, each event carrying the time it was due (`due`).

The hot wash (`tabletop.hotwash`): once the session has ended, the people who played each
role answer the scenario's `hotwash` questions (`answer_hotwash`), until the hot wash is
closed (`close_hotwash`). Its lines carry the end's `t`: the hot wash happens after the sim
time the rehearsal covered.

Simulated teammates: a role that no (non-simulated) participant plays is played by the
engine, in every mode. Its scenario `responses` fire (once each, the first time their action
is recorded) and work delegated to it is carried out after the time-box or the scenario's
`delegate_delay`. Work delegated to a role a player plays waits in `pending_tasks` until
that player carries it out, except in `simulate` mode, where the scripted player does it
after the same delay. In solo practice a simulated teammate also does its own role's
expectations, once the player has brought it in (`tabletop.teammates` holds the rule).

Expectation clocks follow `tabletop.clocks`, the rule the scorer applies: every expectation
is checked at its deadline; one missed there fires the `missed:` branches waiting on it and
anchors what follows from its action.

Auto-pause (solo practice, `auto_pause`): when an inject arrives that starts the clock on
an expectation of the player's own (their role's or anyone's, not yet done; anchored on the
inject, on a marker it sets, or on the start for an inject released with it), the clock is
paused once everything due at that moment is out, recorded as any pause is: a `clock` event,
`op: pause`, with `reason: auto` and the `inject`. The player resumes it.

A delegation (`tabletop.delegation`) needs only the role it goes to, an optional time-box and
a brief (recorded as its rationale): none of the action's fields. The delegate fills in the
form: a player when they carry out the task (every required field then), the engine for a
teammate it plays (`tabletop.teammates.delegated_work`).

Pausing and continuing: `pause` and `unpause` stop and restart the clock of a running
session; `Session.continue_transcript(path)` carries on a session that stopped (a crash, an
interrupt) from its transcript: it opens a Session with the options the transcript recorded,
applies each recorded event in turn, and puts the clock where it stood (`tabletop.continuing`).
Applying an event is one small handler per event type (`Session._APPLY`).

Who plays what is `tabletop.seating`; what a decision may be, and `Rejected`, are
`tabletop.decisions`; branches are `tabletop.branches`. This module re-exports the names its
callers use with a Session (`Participant`, `Rejected`, `Mode`, `MODES`, `check_participants`,
`check_action`, `check_fields`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from tabletop import __version__, teammates
from tabletop import events as ev
from tabletop.branches import Branches
from tabletop.clocks import Anchors, Started
from tabletop.continuing import StoppedClock, started_with
from tabletop.decisions import (
    Rejected,
    check_action,
    check_by,
    check_decision,
    check_fields,
    close_match,
    origin,
    plain_json,
)
from tabletop.delegation import Delegations, carrying_out
from tabletop.files import MAX_INPUT_BYTES, file_sha256
from tabletop.hotwash import HotWash
from tabletop.model import CHANNELS, Inject, Scenario, session_end
from tabletop.schedule import (
    PRIO_BRANCH,
    PRIO_DEADLINE,
    PRIO_DELEGATE,
    PRIO_END,
    PRIO_INJECT,
    PRIO_NOW,
    PRIO_RESPONSE,
    Deadline,
    DelegatedWork,
    End,
    Item,
    Jump,
    Release,
    Schedule,
    SetMarker,
    TeammateTurn,
)
from tabletop.scoring import RULES_VERSION
from tabletop.seating import MODES, Mode, Participant, check_participants, seat
from tabletop.timing import TimeFormatError, format_offset, parse_duration
from tabletop.transcript import TranscriptError, TranscriptWriter, canonical, utc_now

__all__ = [
    "CHECKPOINT_EVERY",
    "MODES",
    "Mode",
    "Participant",
    "Rejected",
    "Session",
    "check_action",
    "check_fields",
    "check_participants",
    "scenario_digest",
]

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 60.0
"""Sim seconds between clock checkpoints while the clock runs and nothing else is recorded."""


def scenario_digest(scenario: Scenario, path: str | Path | None) -> str:
    """SHA-256 of the scenario file when readable, else of the resolved scenario's canonical JSON."""
    if path is not None:
        try:
            return file_sha256(path, limit=MAX_INPUT_BYTES)  # a regular file of at most 5 MB
        except OSError:
            pass
    return hashlib.sha256(canonical(scenario.to_json()).encode("utf-8")).hexdigest()


def response_injects(scenario: Scenario, taken: set[str], sender: Callable[[str], str]) -> list[Inject]:
    """The scenario's simulated responses as injects, in order: each named `response-ACTION`
    (`-2`, `-3`... when taken), sent by `sender(role)`, the name of whoever plays the responder."""
    injects: list[Inject] = []
    used = set(taken)
    for response in scenario.responses:
        base = f"response-{response.on}".replace("_", "-")
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        injects.append(
            Inject(
                id=name,
                channel=response.channel,
                from_=sender(response.from_),
                to=list(response.to),
                title=response.title,
                body=response.body,
                marks=list(response.marks),
            )
        )
    return injects


# --- the session ---------------------------------------------------------------------------


class Session:
    """A rehearsal in progress: its scenario, clock, participants and transcript."""

    def __init__(
        self,
        scenario: Scenario,
        writer: TranscriptWriter,
        *,
        clock: Any,
        participants: Iterable[Participant | dict[str, Any] | tuple[str, str]] = (),
        seed: int | None = None,
        speed: float | None = None,
        mode: Mode = "solo",
        solo_role: str | None = None,
        team: str | None = None,
        scenario_path: str | Path | None = None,
        scenario_sha256: str | None = None,
        hints: bool = False,
        auto_pause: bool = False,
        checkpoint_every: float | None = CHECKPOINT_EVERY,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"expected mode solo, team or simulate, received {mode!r}")
        self.scenario = scenario
        self.writer = writer
        self.clock = clock
        self.mode: str = mode
        self.auto_pause = bool(auto_pause) and mode == "solo"
        """Solo practice: pause when an inject arrives that expects the player's own action
        (recorded in the run's conditions as it applies: never in a team run)."""
        self._auto_pause_for: str | None = None
        self._auto_pause_at = 0.0
        self._pause_recorded = False
        self.team = team
        self.hints = bool(hints)
        self.seed = scenario.seed if seed is None else int(seed)
        self._speed = float(speed if speed is not None else scenario.speed)
        self.scenario_path = str(scenario_path) if scenario_path is not None else None
        self._scenario_sha256 = scenario_sha256
        self._lock = threading.RLock()
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []
        self.checkpoint_every = checkpoint_every
        """Sim seconds a running clock may go without a transcript line before `tick` writes a
        `clock` checkpoint (None: never), so a resumed session never goes back further."""

        people = [Participant.coerce(p) for p in participants]
        check_participants(scenario, people)
        people, self.solo_role = seat(scenario, people, mode, solo_role)
        self._participants: list[Participant] = people

        # state, changed only by _apply
        self._events: list[dict[str, Any]] = []
        self._schedule = Schedule()
        self._started = False
        self._ended = False
        self._interrupted = False
        self._injects: dict[str, Inject] = {i.id: i for i in scenario.injects}
        self._order: dict[str, int] = {i.id: n for n, i in enumerate(scenario.injects)}
        self._released: list[str] = []
        self._released_at: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self._skipped: set[str] = set()
        self._markers: dict[str, float] = {}
        self._done: dict[str, float] = {}
        self._branches = Branches(scenario)
        self._responses_triggered: set[int] = set()
        self._jumped: set[str] = set()
        self._delegations = Delegations()
        self._adhoc_count = 0
        self._ended_t: float | None = None
        self._hotwash = HotWash(scenario, mode)

        self._clocks = Anchors(scenario)
        self._started_clocks: dict[str, Started] = {}
        self._checked: set[tuple[str, float]] = set()
        self._involved: dict[str, float] = {}
        self._teammate_done: set[str] = set()
        self._waiting: dict[str, list[str]] = {}
        self._actions = scenario.action_map()
        responses = response_injects(scenario, set(self._injects), self._simulated_name)
        self._response_ids: dict[int, str] = {index: inject.id for index, inject in enumerate(responses)}
        self._injects.update((inject.id, inject) for inject in responses)

    # --- public state ----------------------------------------------------------------------
    @property
    def now(self) -> float:
        return float(self.clock.now())

    @property
    def paused(self) -> bool:
        return bool(self.clock.paused)

    @property
    def speed(self) -> float:
        return float(self.clock.speed)

    @property
    def started(self) -> bool:
        return self._started

    @property
    def pause_recorded(self) -> bool:
        """Whether the transcript has the session paused (the last pause not yet resumed)."""
        return self._pause_recorded

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def hotwash_questions(self) -> list[str]:
        """The scenario's hot-wash questions (empty: the scenario has no hot wash)."""
        return self._hotwash.questions

    @property
    def hotwash_open(self) -> bool:
        """True from the end of the session until the hot wash is closed (never without questions)."""
        return self._ended and self.has_hotwash and not self._hotwash.closed

    @property
    def has_hotwash(self) -> bool:
        """Whether this session ends with a hot wash: the scenario asks questions and people
        play (a decision script run by `tabletop simulate` has nobody to ask)."""
        return self._hotwash.held

    @property
    def hotwash_closed(self) -> bool:
        return self._hotwash.closed

    @property
    def hotwash_answers(self) -> list[dict[str, Any]]:
        """The `hotwash_answer` events recorded so far, in order."""
        return list(self._hotwash.answers)

    def played(self, name: str, role: str) -> bool:
        """Whether the person `name` played `role` at any time in this session (a simulated
        teammate never counts): named when it started, or joining it later."""
        for event in self._events:
            kind = event.get("type")
            if kind == ev.SESSION_STARTED:
                for person in event.get("participants") or []:
                    if (
                        isinstance(person, dict)
                        and person.get("name") == name
                        and person.get("role") == role
                        and not person.get("simulated")
                    ):
                        return True
            elif kind == ev.FACILITATOR and event.get("op") in ("join", "role_change"):
                detail = event.get("detail") or {}
                if detail.get("name") == name and detail.get("to") == role:
                    return True
        return False

    @property
    def released(self) -> list[str]:
        return list(self._released)

    @property
    def markers(self) -> dict[str, float]:
        return dict(self._markers)

    @property
    def events(self) -> list[dict[str, Any]]:
        # every event but the writer's signature lines (the transcript file holds those too)
        return list(self._events)

    @property
    def participants(self) -> tuple[Participant, ...]:
        return tuple(self._participants)

    @property
    def path(self) -> Path:
        return self.writer.path

    @property
    def end_at(self) -> int:
        """Sim second the session ends by itself (duration plus time skipped by jumps)."""
        return session_end(self.scenario)

    @property
    def roles(self) -> list[str]:
        return list(self.scenario.roles)

    @property
    def conditions(self) -> dict[str, Any]:
        """What the run is played under, recorded in `session_started` so like is compared with like."""
        return {"mode": self.mode, "hints": self.hints, "auto_pause": self.auto_pause, "speed": self._speed}

    def inject(self, inject_id: str) -> Inject:
        """An inject of this session: from the scenario, an ad-hoc one, or a simulated response."""
        return self._injects[inject_id]

    def done_at(self, action: str) -> float | None:
        """Sim time the action was first recorded, or None."""
        return self._done.get(action)

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call `callback(event)` for every event once it is durably written; returns an unsubscribe.

        Callbacks run on the thread that drives the session, inside its lock: they must not
        block (post the event to your own loop or queue); an exception in one is logged.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def set_participants(self, participants: Iterable[Participant]) -> None:
        """Who plays which role, changed before the session starts (the lobby); `session_started`
        records them. Once started, people come and go by `set_role` and `leave`."""
        with self._lock:
            if self._started:
                raise Rejected("the session has started: players join and leave, the seating is fixed")
            people = [Participant.coerce(p) for p in participants]
            check_participants(self.scenario, people)
            self._participants = people

    def is_simulated(self, role: str) -> bool:
        """True when no (non-simulated) participant plays `role`: a simulated teammate does."""
        return not any(p.role == role and not p.simulated for p in self._participants)

    def pending_tasks(self, role: str | None = None) -> list[dict[str, Any]]:
        """Delegations waiting for a player of `role` (all roles when None), oldest first."""
        return self._delegations.pending_for(role)

    def next_due(self) -> float | None:
        """Sim time of the next scheduled item (None when nothing is left)."""
        with self._lock:
            self._schedule.drop_stale(self._stale)
            if not self._schedule or self._ended:
                return None
            time, prio, _, _ = self._schedule.first()
            # a deadline is checked, and the session ends, once time has passed it
            return math.nextafter(time, math.inf) if prio >= PRIO_DEADLINE else time

    def next_checkpoint(self) -> float | None:
        """Sim time at which `tick` writes the next clock checkpoint (None: none is coming by
        itself: checkpoints off, or the session not running, or its clock paused)."""
        with self._lock:
            last = self.writer.last_t
            if (
                self.checkpoint_every is None
                or not self._started
                or self._ended
                or self._interrupted
                or self.clock.paused
                or last is None
            ):
                return None
            return float(last) + self.checkpoint_every

    def upcoming(self) -> list[dict[str, Any]]:
        """The MSEL view: every inject with its due time, status and condition."""
        with self._lock:
            rows = []
            ids = list(self._order) + [i for i in self._injects if i not in self._order]
            for inject_id in ids:
                inject = self._injects[inject_id]
                condition = inject.when.describe() if inject.when is not None else None
                due: float | None
                if inject_id in self._released_at:
                    status, due = "released", self._released_at[inject_id]
                elif inject_id in self._skipped:
                    status, due = "skipped", self._due.get(inject_id)
                elif inject_id in self._due:
                    status, due = "scheduled", self._due[inject_id]
                elif inject_id in self._order:
                    status, due = "waiting", None
                else:
                    continue  # a response not triggered
                rows.append(
                    {
                        "inject": inject_id,
                        "title": inject.title,
                        "due": due,
                        "status": status,
                        "condition": condition,
                        "channel": inject.channel,
                        "to": list(inject.to),
                    }
                )
            rows.sort(key=lambda r: (r["due"] is None, r["due"] or 0.0))
            return rows

    # --- running ---------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Write `session_started` (with the resolved scenario) and release what is due at the start."""
        with self._lock:
            if self._started:
                raise Rejected("the session has already started")
            if self.clock.speed != self._speed:
                self.clock.set_speed(self._speed)
            record = self._record(
                ev.SESSION_STARTED,
                scenario_id=self.scenario.id,
                scenario_path=self.scenario_path,
                scenario_sha256=self._scenario_sha256 or scenario_digest(self.scenario, self.scenario_path),
                scenario=self.scenario.to_json(),
                seed=self.seed,
                speed=self._speed,
                participants=[p.to_json() for p in self._participants],
                mode=self.mode,
                team=self.team,
                solo_role=self.solo_role,
                tool_version=__version__,
                resumed_from=None,
                conditions=self.conditions,
                rules_version=RULES_VERSION,
            )
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            return record

    def tick(self) -> list[dict[str, Any]]:
        """Release everything due at the clock's current time; returns the events written.

        When the clock has run `checkpoint_every` sim seconds since the last line, a `clock`
        event with `op: checkpoint` records how far it got (what `continue_transcript` continues from).
        """
        with self._lock:
            if not self._started or self._ended or self._interrupted:
                return []
            out = self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            every = self.checkpoint_every
            last = self.writer.last_t
            if (
                every is not None
                and not self._ended
                and not self.clock.paused
                and last is not None
                and self._t() - float(last) >= every
            ):
                out.append(self.checkpoint())
            return out

    def checkpoint(self) -> dict[str, Any]:
        """Record how far the clock has run (`clock`, `op: checkpoint`), changing nothing else."""
        with self._lock:
            self._require_running()
            return self._record(ev.CLOCK, op="checkpoint", speed=self.clock.speed, paused=self.clock.paused)

    def interrupt(self, reason: str = "signal") -> dict[str, Any]:
        """The session is being stopped without ending (a signal, the console quit): record
        `session_interrupted` with how far the clock got, the transcript signed up to it (so an
        orderly stop leaves no unsigned events but that line); `continue_transcript` continues from there.

        Nothing more can be recorded through this object afterwards.
        """
        with self._lock:
            self._require_running()
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            if self._ended:  # it reached its own end on the way
                return self._events[-1]
            if self.writer.signed_through != self.writer.seq - 1:  # only session_resumed may follow it
                self.writer.sign()
            record = self._record(
                ev.SESSION_INTERRUPTED, reason=reason, speed=self.clock.speed, paused=self.clock.paused
            )
            self._interrupted = True
            return record

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    def run_until(self, t: float) -> list[dict[str, Any]]:
        """Move the clock forward to `t`, through each due item in order (virtual time); a solo
        player's auto-pause stops it early, with the clock where it paused."""
        with self._lock:
            self._require_running()
            if self.clock.paused:
                raise Rejected("the clock is paused; resume it before running time forward")
            out = self._run((float(t), PRIO_DEADLINE), advance=True)
            if not self._ended and not self.clock.paused and self.clock.now() < t:
                self.clock.advance_to(t)
                out += self._run((float(t), PRIO_DEADLINE), advance=True)
            return out

    def run_to_end(self) -> list[dict[str, Any]]:
        """Run through everything left until the session ends at its duration."""
        with self._lock:
            self._require_running()
            if self.clock.paused:
                raise Rejected("the clock is paused; resume it before running to the end")
            return self._run((math.inf, 0), advance=True)

    # --- players ---------------------------------------------------------------------------
    def decide(
        self,
        role: str,
        action: str,
        *,
        by: str,
        fields: dict[str, Any] | None = None,
        rationale: str = "",
        inject: str | None = None,
        delegate_to: str | None = None,
        timebox: int | str | None = None,
        script_entry: int | None = None,
        request: str | None = None,
    ) -> dict[str, Any]:
        """Record a decision (or, with `delegate_to`, a delegation); Rejected records nothing.

        `request` is the id a remote player gave the request; it is recorded with the event,
        so a request sent again after a restart of either side is recognised.
        """
        with self._lock:
            self._require_running()
            self._check_player_role(role)
            # a delegation needs no answers: the delegate fills in the form
            problems = check_decision(self.scenario, action, fields, complete=delegate_to is None)
            if problems:
                raise Rejected("; ".join(problems))
            self._check_inject_ref(inject)
            by = check_by(by)
            fields = plain_json(dict(fields or {}))
            rationale = "" if rationale is None else str(rationale)
            timebox_s = self._check_delegation(delegate_to, timebox)
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            self._require_running()
            extra = origin(script_entry, request)
            if delegate_to is not None:
                record = self._record(
                    ev.DELEGATION,
                    id=f"g{self.writer.seq}",
                    role=role,
                    by=by,
                    to_role=delegate_to,
                    action=action,
                    fields=fields,
                    rationale=rationale or "",
                    inject=inject,
                    timebox=timebox_s,
                    **extra,
                )
            else:
                record = self._record(
                    ev.DECISION,
                    id=f"d{self.writer.seq}",
                    role=role,
                    by=by,
                    action=action,
                    fields=fields,
                    rationale=rationale or "",
                    inject=inject,
                    delegated_by=None,
                    delegation=None,
                    delegated_at=None,
                    **extra,
                )
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            return record

    def complete_task(
        self,
        delegation_id: str,
        *,
        by: str,
        fields: dict[str, Any] | None = None,
        rationale: str | None = None,
        request: str | None = None,
    ) -> dict[str, Any]:
        """A player carries out a delegated task: records the decision with `delegated_by`."""
        with self._lock:
            self._require_running()
            task = self._delegations.pending_task(delegation_id)
            use_fields = task["fields"] if fields is None else fields
            problems = check_decision(self.scenario, task["action"], use_fields)
            if problems:
                raise Rejected("; ".join(problems))
            by = check_by(by)
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            self._require_running()
            record = self._carry_out(
                task,
                by,
                use_fields,
                task["rationale"] if rationale is None else rationale,
                **origin(None, request),
            )
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            return record

    def note(
        self,
        role: str,
        text: str,
        *,
        by: str,
        inject: str | None = None,
        script_entry: int | None = None,
        request: str | None = None,
    ) -> dict[str, Any]:
        """Record a free-text note of a player (for the facilitator's own: `facilitator_note`)."""
        with self._lock:
            self._require_running()
            self._check_player_role(role)
            if not isinstance(text, str) or not text.strip():
                raise Rejected("a note needs some text")
            self._check_inject_ref(inject)
            by = check_by(by)
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            self._require_running()
            extra = origin(script_entry, request)
            record = self._record(ev.NOTE, role=role, by=by, text=text, inject=inject, **extra)
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            return record

    # --- facilitator -----------------------------------------------------------------------
    def pause(self) -> dict[str, Any]:
        with self._lock:
            self._require_running()
            if self.clock.paused:
                raise Rejected("the session is already paused")
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            self._require_running()
            self.clock.pause()
            return self._record(ev.CLOCK, op="pause", speed=self.clock.speed, paused=True)

    def unpause(self) -> dict[str, Any]:
        """Restart the clock after `pause` (recorded as a `clock` event, `op: resume`)."""
        with self._lock:
            self._require_running()
            if not self.clock.paused:
                raise Rejected("the session is not paused")
            self.clock.resume()
            record = self._record(ev.CLOCK, op="resume", speed=self.clock.speed, paused=False)
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            return record

    def set_speed(self, speed: float) -> dict[str, Any]:
        with self._lock:
            self._require_running()
            try:
                value = float(speed)
            except (TypeError, ValueError):
                raise Rejected(
                    f"expected a speed in sim seconds per wall second, received {speed!r}"
                ) from None
            if not value > 0 or math.isinf(value):
                raise Rejected(f"expected a speed greater than 0, received {speed!r}")
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            self._require_running()
            self.clock.set_speed(value)
            return self._record(ev.CLOCK, op="speed", speed=value, paused=self.clock.paused)

    def trigger_now(self, inject_id: str) -> dict[str, Any]:
        """Release an inject at once (also while paused); returns its `inject_released` event."""
        with self._lock:
            self._require_running()
            if inject_id not in self._order:
                raise Rejected(
                    f"unknown inject {inject_id!r}{close_match(inject_id, self._order)}; "
                    "expected one of the scenario's injects"
                )
            if inject_id in self._released_at:
                raise Rejected(
                    f"inject {inject_id!r} was already released at {format_offset(self._released_at[inject_id])}"
                )
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            self._require_running()
            if inject_id in self._released_at:
                return self._release_record(inject_id)
            self._record(ev.FACILITATOR, op="trigger_now", inject=inject_id, detail={})
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            return self._release_record(inject_id)

    def skip(self, inject_id: str) -> dict[str, Any]:
        """Never release this inject (its branches waiting on `after` never fire)."""
        with self._lock:
            self._require_running()
            if inject_id not in self._order:
                raise Rejected(
                    f"unknown inject {inject_id!r}{close_match(inject_id, self._order)}; "
                    "expected one of the scenario's injects"
                )
            if inject_id in self._released_at:
                raise Rejected(f"inject {inject_id!r} was already released; it cannot be skipped")
            if inject_id in self._skipped:
                raise Rejected(f"inject {inject_id!r} is already skipped")
            return self._record(ev.FACILITATOR, op="skip", inject=inject_id, detail={})

    def add_inject(
        self,
        title: str,
        body: str = "",
        channel: str = "briefing",
        to: Iterable[str] | str = ("all",),
        from_: str = "Facilitator",
    ) -> dict[str, Any]:
        """Release an ad-hoc inject written by the facilitator now; returns its `inject_released`."""
        with self._lock:
            self._require_running()
            if not isinstance(title, str) or not title.strip():
                raise Rejected("an ad-hoc inject needs a title")
            if channel not in CHANNELS:
                raise Rejected(f"expected a channel among {', '.join(CHANNELS)}, received {channel!r}")
            to_list = [to] if isinstance(to, str) else list(to)
            if not to_list:
                raise Rejected("an ad-hoc inject needs recipients: roles, or all")
            for role in to_list:
                if role != "all" and role not in self.scenario.roles:
                    raise Rejected(
                        f"unknown recipient {role!r}; expected all or one of {', '.join(self.scenario.roles)}"
                    )
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            self._require_running()
            self._adhoc_count += 1
            inject_id = f"adhoc-{self._adhoc_count}"
            while inject_id in self._injects:
                self._adhoc_count += 1
                inject_id = f"adhoc-{self._adhoc_count}"
            self._record(
                ev.FACILITATOR,
                op="adhoc",
                inject=inject_id,
                detail={"title": title, "body": body, "channel": channel, "to": to_list, "from": from_},
            )
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            return self._release_record(inject_id)

    def set_role(self, name: str, role: str) -> dict[str, Any]:
        """Give a participant a role (a newcomer joins with it)."""
        with self._lock:
            self._require_running()
            if role not in self.scenario.roles:
                raise Rejected(
                    f"unknown role {role!r}{close_match(role, self.scenario.roles)}; "
                    f"expected one of {', '.join(self.scenario.roles)}"
                )
            if not isinstance(name, str) or not name.strip():
                raise Rejected("a participant needs a name")
            current = next((p for p in self._participants if p.name == name and not p.simulated), None)
            op = "role_change" if current is not None else "join"
            detail = {"name": name, "from": current.role if current else None, "to": role}
            return self._record(ev.FACILITATOR, op=op, inject=None, detail=detail)

    def leave(self, name: str) -> dict[str, Any]:
        with self._lock:
            self._require_running()
            current = next((p for p in self._participants if p.name == name and not p.simulated), None)
            if current is None:
                raise Rejected(f"no participant named {name!r}")
            return self._record(
                ev.FACILITATOR,
                op="leave",
                inject=None,
                detail={"name": name, "from": current.role, "to": None},
            )

    def facilitator_note(self, text: str, *, by: str) -> dict[str, Any]:
        """The facilitator's own note: a `facilitator` event (`op: note`), never shown to players."""
        with self._lock:
            self._require_running()
            if not isinstance(text, str) or not text.strip():
                raise Rejected("a note needs some text")
            by = check_by(by)
            return self._record(ev.FACILITATOR, op="note", inject=None, detail={"text": text, "by": by})

    def end(self, reason: str = "facilitator") -> dict[str, Any]:
        """End the session now (what was already due is released first)."""
        with self._lock:
            self._require_running()
            self._run((self.clock.now(), PRIO_DEADLINE), advance=False)
            if self._ended:  # it reached its own end on the way
                return self._events[-1]
            return self._record(ev.SESSION_ENDED, reason=reason)

    # --- the hot wash ----------------------------------------------------------------------
    def answer_hotwash(
        self, role: str, by: str, question: str, text: str, *, request: str | None = None
    ) -> dict[str, Any]:
        """Record a player's answer to a hot-wash question (after the end, until it is closed).

        `question` is the question's text, as the scenario has it; `by` must have played `role`
        in this session. A person may answer a question again: each answer is recorded, and the
        post-mortem draft quotes the latest. `request` is a remote player's request id, as for
        decisions. Rejected (nothing recorded) says what is wrong.
        """
        with self._lock:
            self._hotwash.require_open(started=self._started, ended=self._ended)
            by = self._hotwash.check_answer(role, by, question, text, self.played)
            return self._record_at(
                self._hotwash_t(),
                ev.HOTWASH_ANSWER,
                role=role,
                by=by,
                question=question,
                text=text,
                **origin(None, request),
            )

    def close_hotwash(self, reason: str = "facilitator", *, by: str | None = None) -> dict[str, Any]:
        """Close the hot wash (`hotwash_closed`): no answer is recorded after it.

        `reason` says who or what closed it: "facilitator", "player" (solo), "time" (a headless
        host's time limit) or "skipped".
        """
        with self._lock:
            self._hotwash.require_open(started=self._started, ended=self._ended)
            return self._record_at(
                self._hotwash_t(),
                ev.HOTWASH_CLOSED,
                reason=str(reason),
                by=by,
                answers=len(self._hotwash.answers),
            )

    def _hotwash_t(self) -> float:
        """The hot wash happens after the sim time covered: its lines carry the end's `t`."""
        return self._ended_t if self._ended_t is not None else self._t()

    # --- continuing a transcript ------------------------------------------------------------
    @classmethod
    def continue_transcript(
        cls,
        path: str | Path,
        *,
        clock: Any,
        now_utc: Callable[[], Any] = utc_now,
        fsync: bool = True,
        auto_pause: bool = False,
    ) -> Session:
        """Continue a session from its transcript after a crash, appending to the same file.

        The transcript is verified (a torn last line is cut off; any other damage refuses),
        every event is replayed, the clock is put where the session stopped (same speed,
        paused if it was), a `session_resumed` event is written, and whatever fell due in
        between is released. A session that ended with its hot wash still open continues the
        hot wash: nothing but its answers may follow the end, so no `session_resumed` is
        written (an answer a crash left unsigned is signed first); one whose hot wash is
        closed, or that has none, is refused.
        """
        writer = TranscriptWriter.reopen(path, now_utc=now_utc, fsync=fsync)
        try:
            scenario, options = started_with(path, writer.recovered[0], auto_pause=auto_pause)
            session = cls(scenario, writer, clock=clock, **options)
            stopped = session._replay(writer.recovered)
            if session._ended:
                session._continue_hotwash(path, stopped)
                return session
        except BaseException:
            writer.close()
            raise
        stopped.put_back(clock)
        with session._lock:
            session._record(
                ev.SESSION_RESUMED,
                from_t=round(stopped.t, 3),
                dropped_bytes=writer.dropped_tail,
                paused=stopped.paused,
                speed=stopped.speed,
            )
            session._run((session.clock.now(), PRIO_DEADLINE), advance=False)
        return session

    def _replay(self, events: list[dict[str, Any]]) -> StoppedClock:
        """Apply a transcript's events to this fresh session, and where its clock stood."""
        stopped = StoppedClock(speed=float(events[0].get("speed") or self.scenario.speed))
        for record in events:
            if record.get("type") == ev.SIGNATURE:
                continue  # the session's events are what happened; signatures vouch for them
            self._events.append(record)
            self._apply(record)
            stopped.follow(record)
        return stopped

    def _continue_hotwash(self, path: str | Path, stopped: StoppedClock) -> None:
        """A session replayed to its end goes on only with its hot wash open: only its answers
        may follow the end (no session_resumed); what a crash left unsigned (an answer never
        acknowledged) is signed now."""
        if not self.hotwash_open:
            after = " and its hot wash is closed" if self._hotwash.closed else ""
            raise TranscriptError(f"{path}: the session has already ended{after}; nothing to resume")
        if self.writer.signer is not None and self.writer.signed_through != self.writer.seq - 1:
            self.writer.sign()
        stopped.hold(self.clock)

    # --- internals: checks -----------------------------------------------------------------
    def _require_running(self) -> None:
        if not self._started:
            raise Rejected("the session has not started yet")
        if self._ended:
            raise Rejected("the session has ended; nothing more can be recorded")
        if self._interrupted:
            raise Rejected("the session was interrupted; resume it to carry on")

    def _check_player_role(self, role: str) -> None:
        if role not in self.scenario.roles:
            raise Rejected(
                f"role {role!r} is not in scenario {self.scenario.id!r}{close_match(str(role), self.scenario.roles)}; "
                f"expected one of {', '.join(self.scenario.roles)}"
            )
        if not any(p.role == role for p in self._participants):
            played = sorted({p.role for p in self._participants}) or ["none"]
            raise Rejected(f"nobody plays role {role!r} in this session; roles played: {', '.join(played)}")
        if self.is_simulated(role):
            raise Rejected(
                f"role {role!r} is played by a simulated teammate; delegate the work to it instead"
            )

    def _check_delegation(self, delegate_to: str | None, timebox: int | str | None) -> int | None:
        """A delegation goes to one of the scenario's roles; its time-box (seconds) needs one."""
        if delegate_to is None:
            if timebox is not None:
                raise Rejected("a timebox needs delegate_to: the role the work is handed to")
            return None
        if delegate_to not in self.scenario.roles:
            raise Rejected(
                f"cannot delegate to role {delegate_to!r}{close_match(delegate_to, self.scenario.roles)}; "
                f"expected one of {', '.join(self.scenario.roles)}"
            )
        if timebox is None:
            return None
        try:
            return parse_duration(timebox)
        except TimeFormatError as error:
            raise Rejected(f"timebox: {error}") from None

    def _check_inject_ref(self, inject: str | None) -> None:
        """A decision or note answers an inject that has been released (never one still to come)."""
        if inject is None or inject in self._released_at:
            return
        if inject in self._injects:
            raise Rejected(f"inject {inject!r} has not been released; a decision answers a released inject")
        raise Rejected(f"unknown inject {inject!r}{close_match(str(inject), self._released)}")

    def _simulated_name(self, role: str) -> str:
        for person in self._participants:
            if person.role == role and person.simulated:
                return person.name
        return f"{self.scenario.role_title(role).title()} (simulated)"

    def _release_record(self, inject_id: str) -> dict[str, Any]:
        record: dict[str, Any]
        for record in reversed(self._events):
            if record["type"] == ev.INJECT_RELEASED and record.get("inject") == inject_id:
                return record
        raise Rejected(f"inject {inject_id!r} was not released")  # pragma: no cover

    # --- internals: recording and applying -------------------------------------------------
    def _t(self) -> float:
        return round(float(self.clock.now()), 3)

    def _record(self, type_: str, **fields: Any) -> dict[str, Any]:
        return self._record_at(self._t(), type_, **fields)

    def _record_at(self, t: float, type_: str, **fields: Any) -> dict[str, Any]:
        record = self.writer.append(type_, t, **fields)
        self._events.append(record)
        self._apply(record)
        for callback in list(self._subscribers):
            try:
                callback(record)
            except Exception:  # a broken view must not stop the recording
                log.exception("transcript subscriber failed on %s", type_)
        return record

    def _push(self, time: float, prio: int, item: Item) -> None:
        self._schedule.push(time, prio, item)
        if isinstance(item, Release):
            inject_id = item.inject
            if inject_id not in self._due or time < self._due[inject_id]:
                self._due[inject_id] = float(time)

    def _apply(self, record: dict[str, Any]) -> None:
        """Bring the session's state in line with one recorded event (live and on resume): the
        handler for its type in `_APPLY`; events of other types change nothing."""
        handler = self._APPLY.get(record["type"])
        if handler is not None:
            handler(self, record, float(record["t"]))

    def _on_session_started(self, record: dict[str, Any], t: float) -> None:
        """Schedule the scenario's injects, start the clocks that run from the start, and the end."""
        self._started = True
        for inject in self.scenario.injects:
            if inject.when is None:
                self._push(inject.at, PRIO_INJECT, Release(inject.id, "schedule"))
        self._begin(self._clocks.start("start", t))
        self._push(self.end_at, PRIO_END, End())

    def _on_inject_released(self, record: dict[str, Any], t: float) -> None:
        """Its markers and time jump are due now; branches waiting on it fire; clocks it anchors start."""
        inject_id = record["inject"]
        if inject_id in self._released_at:
            return
        self._released.append(inject_id)
        self._released_at[inject_id] = t
        released = self._injects.get(inject_id)
        if released is None:
            return
        for marker in released.marks:
            self._push(t, PRIO_NOW, SetMarker(marker, f"inject:{inject_id}"))
        if released.advance_to is not None:
            self._push(t, PRIO_NOW, Jump(inject_id, float(released.advance_to)))
        self._fire("after", inject_id, t)
        self._begin(self._clocks.start(f"inject:{inject_id}", t))
        for marker in released.marks:
            self._begin(self._clocks.start(f"marker:{marker}", t))

    def _on_decision(self, record: dict[str, Any], t: float) -> None:
        """An action done: branches and clocks on it, its marker, simulated responses to it."""
        action_id = record["action"]
        delegation = record.get("delegation")
        if delegation:
            self._delegations.carried_out(delegation)
        if record.get("teammate"):
            self._teammate_done.add(str(record["teammate"]))
        if action_id not in self._done:
            self._done[action_id] = t
            self._fire("done", action_id, t)
        premature, started = self._clocks.decision(action_id, t)
        self._begin(started)
        for waiting in self._waiting.pop(action_id, ()):
            self._push(t, PRIO_DELEGATE, TeammateTurn(waiting))
        action = self._actions.get(action_id)
        if action is not None and action.sets_marker:
            self._push(t, PRIO_NOW, SetMarker(action.sets_marker, f"action:{action_id}"))
        for index, response in enumerate(self.scenario.responses):
            if (
                response.on == action_id
                and index not in self._responses_triggered
                and self.is_simulated(response.from_)
            ):
                self._responses_triggered.add(index)
                self._push(
                    t + response.after,
                    PRIO_RESPONSE,
                    Release(self._response_ids[index], "response"),
                )
        if not premature:
            self._bring_in(record, t)

    def _on_delegation(self, record: dict[str, Any], t: float) -> None:
        """Work handed to a role: the engine carries it out after its time-box, or a player will."""
        to_role = record["to_role"]
        by_the_engine = self.mode == "simulate" or self.is_simulated(to_role)
        self._delegations.add(record, for_a_player=not by_the_engine)
        if by_the_engine:
            delay = record.get("timebox")
            delay = self.scenario.delegate_delay if delay is None else delay
            self._push(t + float(delay), PRIO_DELEGATE, DelegatedWork(record["id"]))
        self._bring_in(record, t)

    def _bring_in(self, record: dict[str, Any], t: float) -> None:
        """Solo practice: simulated teammates a decision or delegation involves start doing
        their own expectations (`tabletop.teammates`)."""
        if self.solo_role is None:
            return
        for role in teammates.involved_roles(self.scenario, record, self.solo_role):
            if role not in self._involved and self.is_simulated(role):
                self._involved[role] = t
                for running in self._started_clocks.values():
                    if running.expectation.owner == role:
                        self._schedule_teammate(running)

    def _on_marker_set(self, record: dict[str, Any], t: float) -> None:
        name = record["marker"]
        if name not in self._markers:
            self._markers[name] = t
            self._fire("marker", name, t)
        if not str(record.get("source") or "").startswith("action:"):
            self._begin(self._clocks.start(f"marker:{name}", t))

    def _on_clock(self, record: dict[str, Any], t: float) -> None:
        if record.get("op") == "jump" and record.get("inject"):
            self._jumped.add(record["inject"])
        elif record.get("op") in ("pause", "resume"):
            self._pause_recorded = record["op"] == "pause"

    def _on_facilitator(self, record: dict[str, Any], t: float) -> None:
        """Trigger now, an ad-hoc inject, a skip, or a change of who plays what."""
        op = record.get("op")
        inject_id = record.get("inject")
        detail = record.get("detail") or {}
        if op == "trigger_now" and inject_id:
            self._push(t, PRIO_NOW, Release(inject_id, "facilitator"))
        elif op == "adhoc" and inject_id:
            self._injects[inject_id] = Inject(
                id=inject_id,
                title=detail.get("title", ""),
                body=detail.get("body", ""),
                channel=detail.get("channel", "briefing"),
                to=detail.get("to") or ["all"],
                from_=detail.get("from", "Facilitator"),
            )
            if inject_id.startswith("adhoc-"):
                try:
                    self._adhoc_count = max(self._adhoc_count, int(inject_id.split("-", 1)[1]))
                except ValueError:
                    pass
            self._push(t, PRIO_NOW, Release(inject_id, "adhoc"))
        elif op == "skip" and inject_id:
            self._skipped.add(inject_id)
        elif op in ("role_change", "join", "leave"):
            name = detail.get("name")
            people = [p for p in self._participants if not (p.name == name and not p.simulated)]
            if op != "leave" and detail.get("to"):
                people.append(Participant(name=str(name), role=str(detail["to"])))
            self._participants = people

    def _on_session_ended(self, record: dict[str, Any], t: float) -> None:
        self._ended = True
        self._ended_t = t

    def _on_hotwash(self, record: dict[str, Any], t: float) -> None:
        self._hotwash.apply(record)

    _APPLY: ClassVar[dict[str, Callable[[Session, dict[str, Any], float], None]]] = {
        ev.SESSION_STARTED: _on_session_started,
        ev.INJECT_RELEASED: _on_inject_released,
        ev.DECISION: _on_decision,
        ev.DELEGATION: _on_delegation,
        ev.MARKER_SET: _on_marker_set,
        ev.CLOCK: _on_clock,
        ev.FACILITATOR: _on_facilitator,
        ev.SESSION_ENDED: _on_session_ended,
        ev.HOTWASH_ANSWER: _on_hotwash,
        ev.HOTWASH_CLOSED: _on_hotwash,
    }
    """What each type of recorded event changes in the session's state."""

    def _begin(self, started: list[Started]) -> None:
        """Expectation clocks started: check each at its deadline; a solo teammate does its own."""
        for item in started:
            expectation_id = item.expectation.id
            self._started_clocks[expectation_id] = item  # a restarted clock (from_latest) replaces it
            self._push(item.due, PRIO_DEADLINE, Deadline(expectation_id, item.due))
            self._schedule_teammate(item)

    def _schedule_teammate(self, item: Started) -> None:
        """In solo practice, when the simulated owner of a started expectation will do it."""
        owner = item.expectation.owner
        if self.solo_role is None or owner in (None, "any", self.solo_role) or not self.is_simulated(owner):
            return
        pause = teammates.delay(self.scenario, owner, item.expectation.action)
        when = teammates.act_at(item.anchor, item.due, self._involved.get(owner), pause)
        self._push(when, PRIO_DELEGATE, TeammateTurn(item.expectation.id))

    def _fire(self, kind: str, target: str, t: float) -> None:
        """A `when` condition became true at `t`: schedule each branch waiting on it, once."""
        for when, release in self._branches.fire(kind, target, t):
            self._push(when, PRIO_BRANCH, release)

    def _stale(self, item: Item) -> bool:
        """Whether a scheduled item no longer needs doing (done meanwhile, skipped, superseded)."""
        match item:
            case Release(inject=inject_id, trigger=trigger):
                return inject_id in self._released_at or (
                    inject_id in self._skipped and trigger in ("schedule", "branch", "response")
                )
            case SetMarker(name=name):
                return name in self._markers
            case Jump(inject=inject_id):
                return inject_id in self._jumped
            case DelegatedWork(delegation=delegation_id):
                return delegation_id in self._delegations.completed
            case End():
                return self._ended
            case Deadline(expectation=expectation_id, due=due):
                running = self._started_clocks.get(expectation_id)
                return running is None or running.due != due or (expectation_id, due) in self._checked
            case TeammateTurn(expectation=expectation_id):
                return expectation_id in self._teammate_done
        return False

    def _run(self, limit: tuple[float, int], *, advance: bool) -> list[dict[str, Any]]:
        """Process every item due before `limit` (a (time, priority) key), in heap order."""
        start = len(self._events)
        schedule = self._schedule
        while schedule and not self._ended:
            entry = schedule.first()
            time, prio, _, item = entry
            if advance and self._auto_pause_for is not None and time > self._auto_pause_at:
                break  # running time forward stops where the player's clock stops
            now = self.clock.now()
            if self._events:  # a record's `t` is rounded, possibly up: its consequences are due now
                now = max(now, float(self._events[-1]["t"]))
            bound = limit if limit >= (now, PRIO_DEADLINE) else (now, PRIO_DEADLINE)
            if (time, prio) >= bound:
                break
            schedule.pop()
            if self._stale(item):
                continue
            if advance and time > now:
                self.clock.advance_to(time)
            try:
                self._process(item, time)
            except TranscriptError:
                schedule.put_back(entry)  # not recorded: try again on the next tick
                raise
        if self._auto_pause_for is not None:
            self._pause_for_the_player()
        return self._events[start:]

    def _expects_the_player(self, inject: Inject, trigger: str) -> bool:
        """Whether a solo player should stop the clock for this inject: it starts the clock on
        an expectation of their own (their role's, or anyone's) that is not yet done. Such a
        clock runs from the inject itself, from a marker it sets for the first time, or, for an
        inject released with the start, from the start."""
        if not self.auto_pause or self.solo_role is None or self._ended:
            return False
        anchors = {f"inject:{inject.id}"}
        anchors.update(f"marker:{m}" for m in inject.marks if m not in self._markers)
        if trigger == "schedule" and inject.at == 0:
            anchors.add("start")
        return any(
            (e.after or "start") in anchors
            and e.owner in (self.solo_role, "any", None)
            and e.action not in self._done
            for e in self.scenario.expectations
        )

    def _pause_for_the_player(self) -> None:
        """Record the auto-pause: a player-side `clock` pause naming the inject that asked for it."""
        inject_id, self._auto_pause_for = self._auto_pause_for, None
        if self._ended or self._pause_recorded:
            return
        if not self.clock.paused:
            self.clock.pause()
        self._record(
            ev.CLOCK, op="pause", speed=self.clock.speed, paused=True, reason="auto", inject=inject_id
        )

    def _process(self, item: Item, due: float) -> None:
        """Do what a scheduled item says, now that it is due."""
        match item:
            case Release():
                self._release(item, due)
            case SetMarker(name=name, source=source):
                self._record(ev.MARKER_SET, marker=name, source=source)
            case Jump(inject=inject_id, to_t=to_t):
                self._jump(inject_id, to_t)
            case Deadline(expectation=expectation_id, due=deadline):
                self._checked.add((expectation_id, deadline))
                missed, implied = self._clocks.check(self._started_clocks[expectation_id])
                if missed:
                    self._fire("missed", expectation_id, deadline)
                    self._begin(implied)
            case TeammateTurn(expectation=expectation_id):
                self._teammate_acts(expectation_id)
            case DelegatedWork(delegation=delegation_id):
                task = self._delegations.tasks[delegation_id]
                fields, rationale = teammates.delegated_work(
                    self.scenario,
                    task["action"],
                    task["to_role"],
                    task["fields"],
                    task["rationale"],
                    task["role"],
                )
                self._carry_out(task, self._simulated_name(task["to_role"]), fields, rationale)
            case End():
                self._record(ev.SESSION_ENDED, reason="duration")

    def _release(self, item: Release, due: float) -> None:
        """Release an inject: record `inject_released`; a solo player's clock may stop for it."""
        inject_id, trigger, condition = item.inject, item.trigger, item.condition
        inject = self._injects.get(inject_id)
        if inject is None:
            return
        from_role = None
        if trigger == "response":
            index = next(i for i, rid in self._response_ids.items() if rid == inject_id)
            from_role = self.scenario.responses[index].from_
        fields: dict[str, Any] = {
            "inject": inject_id,
            "title": inject.title,
            "channel": inject.channel,
            "to": list(inject.to),
            "phase": inject.phase,
            "body": inject.body,
            "trigger": trigger,
            "condition": condition,
            "due": round(due, 3),
            "marks": list(inject.marks),
            "advance_to": inject.advance_to,
        }
        fields["from"] = inject.from_
        if from_role is not None:
            fields["from_role"] = from_role
        self._record(ev.INJECT_RELEASED, **fields)
        if self._auto_pause_for is None and self._expects_the_player(inject, trigger):
            self._auto_pause_for, self._auto_pause_at = inject_id, due  # paused once what is due is out

    def _jump(self, inject_id: str, to_t: float) -> None:
        """Move the clock forward at once, as a released inject asks (`advance_to`)."""
        now = self._t()
        if to_t <= now:
            self._jumped.add(inject_id)
            return
        self._record(
            ev.CLOCK,
            op="jump",
            speed=self.clock.speed,
            paused=self.clock.paused,
            from_t=now,
            to_t=to_t,
            inject=inject_id,
        )
        self.clock.jump_to(to_t)

    def _teammate_acts(self, expectation_id: str) -> None:
        """A simulated teammate records its own expectation, unless it is done or waits for a step."""
        started = self._started_clocks[expectation_id]
        expectation = started.expectation
        if self._clocks.done(started):
            return
        owner = expectation.owner or ""
        if self._delegations.handed_over(owner, expectation.action):
            return  # the player handed this very work over: it is done as delegated, at its time-box
        missing = [a for a in expectation.requires if a not in self._done]
        if missing:
            waiting = self._waiting.setdefault(missing[0], [])
            if expectation_id not in waiting:
                waiting.append(expectation_id)
            return
        action = self._actions.get(expectation.action)
        if action is None:
            return
        self._record(
            ev.DECISION,
            id=f"d{self.writer.seq}",
            role=owner,
            by=self._simulated_name(owner),
            action=action.id,
            fields=plain_json(teammates.fields_for(self.scenario, owner, action)),
            rationale=f"Done by the simulated {self.scenario.role_title(owner).lower()} as the role requires",
            inject=None,
            delegated_by=None,
            delegation=None,
            delegated_at=None,
            teammate=expectation_id,
        )

    def _carry_out(
        self, task: dict[str, Any], by: str, fields: dict[str, Any], rationale: str, **extra: Any
    ) -> dict[str, Any]:
        return self._record(
            ev.DECISION, id=f"d{self.writer.seq}", **carrying_out(task, by, fields, rationale), **extra
        )
