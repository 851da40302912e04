"""The session port: what a console needs of a running session, wherever the session runs.

Two adapters implement it: `tabletop.ui.link.SessionLink` drives an engine `Session` in this
process (every call on one worker thread), and `tabletop.net.client.RemoteSession` a session
on a host across the network (facilitator controls are refused there). The screens take a
`SessionPort` and the `Scenario` it runs and know nothing of either.

Events reach a `SessionListener` once they are durable; `attach` also returns the events so
far, so a screen can replay them. A listener may be called from another thread (the session's
worker) and must hand the event over to its own thread itself.
"""

from __future__ import annotations

from typing import Any, Protocol

from tabletop.model import Scenario

Event = dict[str, Any]
"""A transcript event as written (see the README, "The transcript: its events and their order")."""


class SessionListener(Protocol):
    """Who follows a session: told of every durable event, and of a lost connection."""

    def session_event(self, event: Event) -> None: ...

    def session_lost(self, reason: str) -> None: ...

    def session_notice(self, title: str, message: str, severity: str) -> None:
        """A word about the way to the session: the connection dropped, or it is back."""
        ...


class SessionPort(Protocol):
    """A running session as a console sees it: its events, its clock, and what it may ask."""

    scenario: Scenario

    @property
    def events(self) -> list[Event]: ...

    def attach(self, listener: SessionListener) -> list[Event]:
        """Deliver future events to `listener`; the events so far, to replay."""
        ...

    def detach(self, listener: SessionListener) -> None: ...

    # time -----------------------------------------------------------------------------------
    def now(self) -> float: ...

    @property
    def paused(self) -> bool: ...

    @property
    def speed(self) -> float: ...

    @property
    def ended(self) -> bool: ...

    # what a player does ---------------------------------------------------------------------
    async def start(self) -> None: ...

    async def tick(self) -> object: ...

    async def decide(
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
    ) -> object: ...

    async def note(self, role: str, text: str, *, by: str, inject: str | None = None) -> object: ...

    async def pending_tasks(self, role: str) -> list[Event]: ...

    async def complete_task(
        self,
        delegation_id: str,
        *,
        by: str,
        fields: dict[str, Any] | None = None,
        rationale: str = "",
    ) -> object: ...

    # the hot wash, after the end -------------------------------------------------------------
    @property
    def hotwash_questions(self) -> list[str]:
        """The hot-wash questions this console may answer (empty: none, or not known yet)."""
        ...

    @property
    def hotwash_open(self) -> bool:
        """True from the end of the session until the hot wash is closed (never without questions)."""
        ...

    async def answer_hotwash(self, role: str, question: str, text: str, *, by: str) -> object:
        """Record an answer to a hot-wash question; returns once it is signed on disk."""
        ...

    # what a facilitator does ----------------------------------------------------------------
    async def pause(self) -> object: ...

    async def resume(self) -> object: ...

    async def set_speed(self, speed: float) -> object: ...

    async def trigger_now(self, inject_id: str) -> object: ...

    async def skip(self, inject_id: str) -> object: ...

    async def add_inject(self, title: str, body: str, channel: str, to: list[str], from_: str) -> object: ...

    async def end(self) -> object: ...

    async def upcoming(self) -> list[Event]: ...

    async def facilitator_note(self, text: str, *, by: str) -> object:
        """The facilitator's own note: recorded, never sent to a player."""
        ...

    async def close_hotwash(self, *, by: str, reason: str = "facilitator") -> object:
        """Close the hot wash: no answer is recorded after it (`reason`: "facilitator", or
        "player" when a solo player closes their own)."""
        ...

    async def interrupt(self, reason: str) -> object:
        """The console stops without ending the session: record that it was interrupted (a
        session on another machine is not this console's to interrupt)."""
        ...

    def close(self) -> None:
        """The console is done with the session."""
        ...
