"""The hot wash: after the session ends, the people who played each role answer the scenario's questions.

Answers are recorded (`hotwash_answer`) until the hot wash is closed (`hotwash_closed`); a
person may answer a question again, and the post-mortem draft quotes the latest. A scenario
without hot-wash questions has no hot wash, nor has a decision script's run (`simulate`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tabletop import events as ev
from tabletop.decisions import Rejected, check_by, close_match
from tabletop.model import MAX_HOTWASH_ANSWER, Scenario


class HotWash:
    """The hot wash of one session: its questions, the answers recorded, whether it is closed."""

    def __init__(self, scenario: Scenario, mode: str) -> None:
        self.scenario = scenario
        self.mode = mode
        self.answers: list[dict[str, Any]] = []
        self.closed = False

    @property
    def questions(self) -> list[str]:
        return self.scenario.hotwash_questions()

    @property
    def held(self) -> bool:
        """Whether the session ends with a hot wash: the scenario asks questions and people play."""
        return bool(self.scenario.hotwash) and self.mode != "simulate"

    def apply(self, record: dict[str, Any]) -> None:
        """Follow one recorded event (answers and the close)."""
        if record["type"] == ev.HOTWASH_ANSWER:
            self.answers.append(record)
        elif record["type"] == ev.HOTWASH_CLOSED:
            self.closed = True

    def require_open(self, *, started: bool, ended: bool) -> None:
        """Rejected unless the hot wash is open: after the end, until it is closed."""
        if not started:
            raise Rejected("the session has not started yet; the hot wash follows its end")
        if not ended:
            raise Rejected("the hot wash opens when the session ends; the session is still running")
        if not self.scenario.hotwash:
            raise Rejected(f"scenario {self.scenario.id!r} has no hot-wash questions")
        if not self.held:
            raise Rejected("a scripted run (tabletop simulate) has no hot wash: nobody is there to answer")
        if self.closed:
            raise Rejected("the hot wash is closed; no more answers are recorded")

    def check_answer(
        self, role: str, by: str, question: str, text: str, played: Callable[[str, str], bool]
    ) -> str:
        """Rejected for an answer that cannot be recorded; else who gave it (`by`).

        `played(name, role)` says whether that person played that role in the session.
        """
        scenario = self.scenario
        if role not in scenario.roles:
            raise Rejected(
                f"role {role!r} is not in scenario {scenario.id!r}{close_match(str(role), scenario.roles)}; "
                f"expected one of {', '.join(scenario.roles)}"
            )
        by = check_by(by)
        if not played(by, role):
            raise Rejected(
                f"{by} did not play {role} in this session; the hot wash asks the people who played each role"
            )
        questions = scenario.hotwash_questions()
        if not isinstance(question, str) or scenario.hotwash_question(question) is None:
            raise Rejected(
                f"unknown hot-wash question {question!r}{close_match(str(question), questions)}; "
                f"answer one of the scenario's {len(questions)} hot-wash questions"
            )
        if not isinstance(text, str) or not text.strip():
            raise Rejected("a hot-wash answer needs some text")
        if len(text) > MAX_HOTWASH_ANSWER:
            raise Rejected(
                f"a hot-wash answer is at most {MAX_HOTWASH_ANSWER} characters; this one has {len(text)}"
            )
        return by
