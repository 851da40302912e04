"""The versioned JSON messages a team rehearsal's host and players exchange, and their validation.

Every message is one WebSocket text frame holding a JSON object `{"v": 1, "type": ..., ...}`.

player -> host
    hello          token, role, name, last_seq (the last transcript seq the player saw, or -1),
                   session (the session that seq belongs to, from an earlier welcome), seat
                   (the secret an earlier welcome gave this player, to come back to their seat)
    decide         id (the player's request id), action, fields, rationale, inject, role
                   (optional: must be the player's own), delegate_to, timebox (seconds)
    note           id, text, inject
    complete_task  id, task (the delegation id), fields, rationale
    hotwash_answer id, question (its text, as the hotwash message gave it), text: an answer in
                   the hot wash, after the end and until the facilitator closes it
host -> player
    welcome        role, name, scenario (the player's view), seq, state, presence, tasks,
                   replay (how many missed events follow at once), session, seat (the
                   player's secret, on their first join only), hotwash (after the end, while
                   the hot wash is open)
    hotwash        questions, closed: the hot wash is open (sent to every player just before
                   the session_ended event, when the scenario has hot-wash questions)
    event          event (a transcript line, cut down to what the player may see)
    state          t, speed, paused, rate (sim seconds per wall second to extrapolate with),
                   waiting (roles the clock waits for before it starts), session
    presence       connected [{name, role}]
    ack            id (the request id), seq (the transcript line that recorded it)
    error          id (request id or null), code, message, fatal (the host closes after it),
                   retry_after (seconds: when trying again may succeed)
    batch          items (several of the above, in order, when they queue up)

A player sees their own hot-wash answers (as `event`s) and nobody else's: the facilitator
gathers them, the post-mortem draft quotes them by role. A hot wash ends with a
`hotwash_closed` event, after which the host closes every connection (`session_ended`).

A request is acknowledged only once the host's transcript line for it is on disk. A request id
is recorded with the event; the same id sent again is acknowledged with the same seq (never
recorded twice), and the same id with different content is refused (`conflict`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from tabletop.model import MAX_HOTWASH_ANSWER
from tabletop.timing import TimeFormatError, parse_duration


class Refused(Exception):
    """A request or hello the host refuses; the player gets `code` and `message`."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
"""The largest frame a host or player accepts; larger ones close the connection."""

MAX_TEXT = 20_000
"""The longest rationale or note, in characters."""

MAX_FIELDS = 64
"""The most fields one decision may carry."""

# error codes: what went wrong, for programs; `message` says it for people.
BAD_TOKEN = "bad_token"
BAD_MESSAGE = "bad_message"
BAD_VERSION = "bad_version"
NOT_WELCOME = "not_welcome"
WRONG_ROLE = "wrong_role"
REJECTED = "rejected"
TOO_FAST = "too_fast"
TOO_BIG = "too_big"
SESSION_ENDED = "session_ended"
HOST_STOPPING = "host_stopping"
REPLACED = "replaced"
HOST_FULL = "host_full"
NAME_TAKEN = "name_taken"
NAME_RESERVED = "name_reserved"
BAD_SEAT = "bad_seat"
SEAT_BUSY = "seat_busy"
TRY_LATER = "try_later"
CONFLICT = "conflict"
HOTWASH_CLOSED = "hotwash_closed"

FINAL = (
    BAD_TOKEN,
    BAD_MESSAGE,
    BAD_VERSION,
    NOT_WELCOME,
    WRONG_ROLE,
    TOO_FAST,
    TOO_BIG,
    REPLACED,
    SESSION_ENDED,
    NAME_TAKEN,
    NAME_RESERVED,
    BAD_SEAT,
)
"""Fatal errors after which a player does not reconnect by itself (reconnecting would not help)."""

RETRYABLE = (HOST_FULL, SEAT_BUSY, TRY_LATER)
"""Refusals that say "not now": a player waits (`retry_after`, if given) and tries again."""

# WebSocket close codes the host uses (4000-4999 are the application's own).
CLOSE_BAD_TOKEN = 4001
CLOSE_BAD_MESSAGE = 4002
CLOSE_TOO_FAST = 4003
CLOSE_REPLACED = 4004
CLOSE_ENDED = 4005
CLOSE_SLOW = 4006


class ProtocolError(ValueError):
    """A frame that is not a valid message; `code` says which kind of problem it was."""

    def __init__(self, message: str, code: str = BAD_MESSAGE, request_id: str | None = None):
        super().__init__(message)
        self.code = code
        self.request_id = request_id


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1  # PROTOCOL_VERSION

    def to_frame(self) -> str:
        """The message as one JSON text frame."""
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)


Name = Annotated[str, Field(min_length=1, max_length=80)]
RequestId = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]


def _timebox(value: Any) -> Any:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except TimeFormatError as error:
        raise ValueError(str(error)) from None


# --- player -> host -----------------------------------------------------------------------


class Hello(_Message):
    """The first message of a connection: who the player is and what they saw last."""

    type: Literal["hello"] = "hello"
    token: Annotated[str, Field(max_length=512)]
    role: Name
    name: Name
    last_seq: int = Field(-1, ge=-1)
    session: Annotated[str, Field(max_length=128)] | None = None
    """The welcome's `session` the player saw before: `last_seq` counts only in that session."""
    seat: Annotated[str, Field(max_length=128)] | None = None
    """The secret the first welcome gave this player: the key back to their seat."""


class Decide(_Message):
    """Record a decision (or, with `delegate_to`, hand it to another role as a task)."""

    type: Literal["decide"] = "decide"
    id: RequestId
    action: Name
    fields: dict[str, Any] = Field(default_factory=dict, max_length=MAX_FIELDS)
    rationale: Text = ""
    inject: Name | None = None
    role: Name | None = None
    delegate_to: Name | None = None
    timebox: int | None = None

    _check_timebox = field_validator("timebox", mode="before")(lambda cls, v: _timebox(v))


class Note(_Message):
    """Record a free-text note."""

    type: Literal["note"] = "note"
    id: RequestId
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    inject: Name | None = None


class CompleteTask(_Message):
    """Carry out a task delegated to the player's role: records the decision."""

    type: Literal["complete_task"] = "complete_task"
    id: RequestId
    task: Name
    fields: dict[str, Any] = Field(default_factory=dict, max_length=MAX_FIELDS)
    rationale: Text = ""


class HotwashAnswer(_Message):
    """Answer one of the hot-wash questions (after the end, until the hot wash is closed)."""

    type: Literal["hotwash_answer"] = "hotwash_answer"
    id: RequestId
    question: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_HOTWASH_ANSWER)]


PlayerMessage = Annotated[Hello | Decide | Note | CompleteTask | HotwashAnswer, Field(discriminator="type")]
Request = Decide | Note | CompleteTask | HotwashAnswer
"""A player's request: recorded by the host, acknowledged once on disk."""

# --- host -> player -----------------------------------------------------------------------


class State(_Message):
    """Where the session's clock is; a player extrapolates `t` at `rate` until the next one."""

    type: Literal["state"] = "state"
    t: float
    speed: float
    paused: bool
    rate: float
    ended: bool = False
    waiting: list[str] = Field(default_factory=list)
    """Roles the host waits for before it starts the clock (empty once it runs)."""
    session: str | None = None
    """The session's id (as in the welcome), once it has started."""


class Hotwash(_Message):
    """The hot wash is open (or, `closed`, over): the questions each player answers."""

    type: Literal["hotwash"] = "hotwash"
    questions: list[str]
    closed: bool = False


class Welcome(_Message):
    """The host accepted the player: what they may see of the scenario, and where things are."""

    type: Literal["welcome"] = "welcome"
    role: str
    name: str
    scenario: dict[str, Any]
    seq: int
    state: State
    presence: list[dict[str, str]] = Field(default_factory=list)
    tasks: list[dict[str, Any]] = Field(default_factory=list)
    replay: int = 0
    """How many `event` messages follow at once: what the player missed."""
    session: str | None = None
    """Which session this is (the hash of its first transcript line); null before it starts."""
    seat: str | None = None
    """The player's secret for coming back to their seat: sent once, on the first join."""
    hotwash: Hotwash | None = None
    """The hot wash, when the player joins after the end while it is open."""


class EventMessage(_Message):
    """One transcript line, cut down to what this player may see."""

    type: Literal["event"] = "event"
    event: dict[str, Any]


class Presence(_Message):
    """Who is connected right now."""

    type: Literal["presence"] = "presence"
    connected: list[dict[str, str]]


class Ack(_Message):
    """The request `id` is recorded, durably, as transcript line `seq`."""

    type: Literal["ack"] = "ack"
    id: str
    seq: int | None = None


class Error(_Message):
    """A request refused (`id` set) or a connection refused (`fatal`), with a clear message."""

    type: Literal["error"] = "error"
    id: str | None = None
    code: str
    message: str
    fatal: bool = False
    retry_after: float | None = None


HostMessage = Annotated[
    Welcome | EventMessage | State | Presence | Ack | Error | Hotwash, Field(discriminator="type")
]

_PLAYER = TypeAdapter(PlayerMessage)
_HOST = TypeAdapter(HostMessage)
_PLAYER_TYPES = ("hello", "decide", "note", "complete_task", "hotwash_answer")
_HOST_TYPES = ("welcome", "event", "state", "presence", "ack", "error", "hotwash")


def _decode(
    frame: str | bytes, expected_types: tuple[str, ...], limit: int = MAX_MESSAGE_BYTES
) -> dict[str, Any]:
    if isinstance(frame, bytes):
        raise ProtocolError("expected a JSON text frame, received a binary frame")
    if len(frame) > limit:  # characters >= bytes/4; the socket enforces bytes
        raise ProtocolError(f"message is {len(frame)} characters; the limit is {limit} bytes", TOO_BIG)
    try:
        data = json.loads(frame, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise ProtocolError(f"message is not valid JSON: {error}") from None
    return _check(data, expected_types)


MAX_DIGITS = 100
"""The longest number (in digits) a message may carry; Python refuses to read ints over 4,300."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    if len(text) > MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} characters; the limit is {MAX_DIGITS}")
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is too large for a number")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} digits; the limit is {MAX_DIGITS}")
    return int(text)


def _check(data: Any, expected_types: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object, received {type(data).__name__}")
    request_id = data.get("id") if isinstance(data.get("id"), str) else None
    version = data.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:  # `true == 1` in Python
        raise ProtocolError(
            f'unsupported protocol version {version!r}; expected "v": {PROTOCOL_VERSION}',
            BAD_VERSION,
            request_id,
        )
    kind = data.get("type")
    if kind not in expected_types:
        raise ProtocolError(
            f"unknown message type {kind!r}; expected one of {', '.join(expected_types)}",
            BAD_MESSAGE,
            request_id,
        )
    return data


def _explain(error: ValidationError, kind: str) -> str:
    problems = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"][1:] or item["loc"])
        received = item.get("input")
        shown = repr(received) if not isinstance(received, dict) else "an object"
        if len(shown) > 60:
            shown = shown[:57] + "..."
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            problems.append(f"{kind}.{location}: missing")
            continue
        problems.append(f"{kind}.{location}: {message}, received {shown}")
    return "; ".join(problems)


def parse_player_message(frame: str | bytes) -> Hello | Request:
    """Read a frame a player sent; raise ProtocolError saying what was expected and received."""
    data = _decode(frame, _PLAYER_TYPES)
    try:
        return _PLAYER.validate_python(data)
    except ValidationError as error:
        raise ProtocolError(
            _explain(error, data["type"]),
            request_id=data.get("id") if isinstance(data.get("id"), str) else None,
        ) from None


def event_frame(event: dict[str, Any]) -> str:
    """The `event` message for a transcript line (the host's hot path: no model round trip)."""
    return json.dumps(
        {"v": PROTOCOL_VERSION, "type": "event", "event": event}, separators=(",", ":"), ensure_ascii=False
    )


def batch_frame(frames: list[str]) -> str:
    """Several host messages in one frame, in order: `{"v": 1, "type": "batch", "items": [...]}`.

    The host sends a batch when messages queue up for a player faster than they can be sent
    (many players, a burst of events); a player handles its items as if they came one by one.
    """
    items = ",".join(frames)
    return f'{{"v":{PROTOCOL_VERSION:d},"type":"batch","items":[{items}]}}'


MAX_HOST_FRAME = 16 * 1024 * 1024
"""The largest frame a player accepts from the host (a welcome carries the scenario; a batch
carries many events)."""


HostReply = Welcome | EventMessage | State | Presence | Ack | Error | Hotwash


def _host_message(data: dict[str, Any]) -> HostReply:
    if data["type"] == "event" and isinstance(data.get("event"), dict) and len(data) == 3:
        return EventMessage.model_construct(v=1, type="event", event=data["event"])
    try:
        return _HOST.validate_python(data)
    except ValidationError as error:
        raise ProtocolError(_explain(error, data["type"])) from None


def parse_host_message(frame: str | bytes) -> HostReply:
    """Read a frame holding one host message; raise ProtocolError when it is not valid."""
    return _host_message(_decode(frame, _HOST_TYPES, MAX_HOST_FRAME))


def parse_host_messages(frame: str | bytes) -> list[HostReply]:
    """Read a frame the host sent: one message, or a batch of them in order."""
    data = _decode(frame, (*_HOST_TYPES, "batch"), MAX_HOST_FRAME)
    if data["type"] != "batch":
        return [_host_message(data)]
    items = data.get("items")
    if not isinstance(items, list):
        raise ProtocolError("batch.items: expected a list of messages")
    return [_host_message(_check(item, _HOST_TYPES)) for item in items]


async def wait_until(
    changed: asyncio.Event, predicate: Callable[[], bool], timeout: float | None = 10.0
) -> None:
    """Wait until `predicate()` holds, checking it again each time `changed` is set (None: no limit)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while not predicate():
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            raise TimeoutError(f"timed out after {timeout}s waiting for {predicate}")
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), remaining)
        except TimeoutError:
            continue


def request_digest(kind: str, **content: Any) -> str:
    """What a request asks for, as a short digest: the same id with another digest is a conflict."""
    import hashlib

    body = json.dumps([kind, content], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


def digest_of(message: Any) -> str:
    """The digest of a player's decide, note, complete_task or hotwash_answer message."""
    if isinstance(message, Decide):
        return request_digest(
            "decide",
            action=message.action,
            fields=dict(message.fields),
            rationale=message.rationale or "",
            inject=message.inject,
            delegate_to=message.delegate_to,
            timebox=message.timebox,
        )
    if isinstance(message, Note):
        return request_digest("note", text=message.text, inject=message.inject)
    if isinstance(message, HotwashAnswer):
        return request_digest("hotwash_answer", question=message.question, text=message.text)
    return request_digest(
        "complete_task", task=message.task, fields=dict(message.fields), rationale=message.rationale or ""
    )


def digest_of_event(event: dict[str, Any]) -> str | None:
    """The digest of the request a transcript line recorded (None where it cannot be told)."""
    kind = event.get("type")
    if kind == "note":
        return request_digest("note", text=event.get("text"), inject=event.get("inject"))
    if kind == "hotwash_answer":
        return request_digest("hotwash_answer", question=event.get("question"), text=event.get("text"))
    if kind == "delegation":
        return request_digest(
            "decide",
            action=event.get("action"),
            fields=event.get("fields") or {},
            rationale=event.get("rationale") or "",
            inject=event.get("inject"),
            delegate_to=event.get("to_role"),
            timebox=event.get("timebox"),
        )
    if kind == "decision" and not event.get("delegation"):
        return request_digest(
            "decide",
            action=event.get("action"),
            fields=event.get("fields") or {},
            rationale=event.get("rationale") or "",
            inject=event.get("inject"),
            delegate_to=None,
            timebox=None,
        )
    return None  # a carried-out task records the task's fields when the request gave none
