"""The hot wash: answers after the end, every refusal, closing it, resuming it, verifying it."""

from __future__ import annotations

import json

import pytest
from factories import make_scenario, make_session

from tabletop.clock import VirtualClock
from tabletop.engine import Participant, Rejected, Session
from tabletop.model import MAX_HOTWASH_ANSWER, Scenario
from tabletop.transcript import INVALID, verify_evidence

WORKED = "What went well?"
CHANGE = "What would we change?"
OTHER = "When did the DPO first hear of it?"


def hotwash_scenario(**kw) -> Scenario:
    return make_scenario(
        hotwash=[{"question": WORKED, "kind": "worked"}, {"question": CHANGE, "kind": "change"}, OTHER],
        **kw,
    )


@pytest.fixture
def ended(tmp_path) -> Session:
    session = make_session(tmp_path, hotwash_scenario(duration="1h"))
    session.run_until(600)
    session.end()
    return session


def lines(session: Session) -> list[dict]:
    return [json.loads(line) for line in session.path.read_text(encoding="utf-8").splitlines()]


# --- answering -----------------------------------------------------------------------------


def test_an_answer_is_a_signed_transcript_event_at_the_end_time(ended):
    end = ended.events[-1]
    record = ended.answer_hotwash("dpo", "P-dpo", WORKED, "The DPO was in the room early.")
    assert (record["type"], record["role"], record["by"]) == ("hotwash_answer", "dpo", "P-dpo")
    assert (record["question"], record["text"]) == (WORKED, "The DPO was in the room early.")
    assert record["t"] == end["t"]  # the hot wash comes after the sim time the rehearsal covered
    on_disk = lines(ended)
    assert on_disk[-2]["seq"] == record["seq"] and on_disk[-1]["type"] == "signature"
    assert on_disk[-1]["signs"] == record["seq"]
    assert ended.hotwash_answers == [record]
    assert ended.hotwash_open and not ended.hotwash_closed


def test_a_request_id_is_recorded_with_the_answer(ended):
    record = ended.answer_hotwash("coordinator", "P-coordinator", OTHER, "At T+40m.", request="r-1")
    assert record["request"] == "r-1"


def test_closing_writes_hotwash_closed_and_refuses_later_answers(ended):
    ended.answer_hotwash("dpo", "P-dpo", WORKED, "Yes.")
    closed = ended.close_hotwash(by="Facilitator")
    assert (closed["type"], closed["reason"], closed["by"], closed["answers"]) == (
        "hotwash_closed",
        "facilitator",
        "Facilitator",
        1,
    )
    assert ended.hotwash_closed and not ended.hotwash_open
    with pytest.raises(Rejected, match="the hot wash is closed; no more answers are recorded"):
        ended.answer_hotwash("dpo", "P-dpo", CHANGE, "Too late.")
    with pytest.raises(Rejected, match="the hot wash is closed"):
        ended.close_hotwash()
    assert lines(ended)[-1]["type"] == "signature" and lines(ended)[-2]["type"] == "hotwash_closed"


# --- every refusal -------------------------------------------------------------------------


def test_refused_before_the_start(tmp_path):
    session = make_session(tmp_path, hotwash_scenario(), start=False)
    with pytest.raises(Rejected, match="has not started yet; the hot wash follows its end"):
        session.answer_hotwash("dpo", "P-dpo", WORKED, "Early.")


def test_refused_while_the_session_runs(tmp_path):
    session = make_session(tmp_path, hotwash_scenario())
    with pytest.raises(
        Rejected, match="the hot wash opens when the session ends; the session is still running"
    ):
        session.answer_hotwash("dpo", "P-dpo", WORKED, "Early.")
    with pytest.raises(Rejected, match="opens when the session ends"):
        session.close_hotwash()
    assert not any(e["type"].startswith("hotwash") for e in session.events)


def test_refused_when_the_scenario_has_no_questions(tmp_path):
    session = make_session(tmp_path, make_scenario())
    session.end()
    assert not session.hotwash_open
    with pytest.raises(Rejected, match="has no hot-wash questions"):
        session.answer_hotwash("dpo", "P-dpo", "What went well?", "Fine.")
    with pytest.raises(Rejected, match="has no hot-wash questions"):
        session.close_hotwash()


def test_refused_for_a_role_not_in_the_scenario(ended):
    with pytest.raises(Rejected, match=r"role 'dop' is not in scenario .*did you mean 'dpo'"):
        ended.answer_hotwash("dop", "P-dpo", WORKED, "Fine.")


def test_refused_without_a_name(ended):
    with pytest.raises(Rejected, match="`by` \\(a person's name\\) is empty"):
        ended.answer_hotwash("dpo", " ", WORKED, "Fine.")


def test_refused_for_a_person_who_did_not_play_the_role(ended):
    with pytest.raises(Rejected, match="P-coordinator did not play dpo in this session"):
        ended.answer_hotwash("dpo", "P-coordinator", WORKED, "Fine.")
    with pytest.raises(Rejected, match="Mallory did not play dpo"):
        ended.answer_hotwash("dpo", "Mallory", WORKED, "Fine.")


def test_refused_for_a_simulated_teammate(tmp_path):
    session = make_session(
        tmp_path, hotwash_scenario(), mode="solo", participants=[Participant("Sam", "coordinator")]
    )
    session.end()
    simulated = next(p for p in session.participants if p.role == "dpo")
    assert simulated.simulated
    with pytest.raises(Rejected, match="did not play dpo"):
        session.answer_hotwash("dpo", simulated.name, WORKED, "Fine.")
    assert session.answer_hotwash("coordinator", "Sam", WORKED, "Fine.")["by"] == "Sam"


def test_refused_for_an_unknown_question(ended):
    with pytest.raises(
        Rejected, match=r"unknown hot-wash question 'What went wel\?' \(did you mean 'What went well\?'\?\)"
    ):
        ended.answer_hotwash("dpo", "P-dpo", "What went wel?", "Fine.")
    with pytest.raises(Rejected, match="answer one of the scenario's 3 hot-wash questions"):
        ended.answer_hotwash("dpo", "P-dpo", "Anything else?", "Fine.")


@pytest.mark.parametrize("text", ["", "   \n ", None])
def test_refused_without_text(ended, text):
    with pytest.raises(Rejected, match="a hot-wash answer needs some text"):
        ended.answer_hotwash("dpo", "P-dpo", WORKED, text)


def test_refused_when_too_long(ended):
    with pytest.raises(
        Rejected, match=f"at most {MAX_HOTWASH_ANSWER} characters; this one has {MAX_HOTWASH_ANSWER + 1}"
    ):
        ended.answer_hotwash("dpo", "P-dpo", WORKED, "x" * (MAX_HOTWASH_ANSWER + 1))
    assert (
        ended.answer_hotwash("dpo", "P-dpo", WORKED, "x" * MAX_HOTWASH_ANSWER)["text"]
        == "x" * MAX_HOTWASH_ANSWER
    )


def test_a_refusal_records_nothing(ended):
    before = ended.path.read_bytes()
    for args in (("dop", "P-dpo", WORKED, "x"), ("dpo", "Eve", WORKED, "x"), ("dpo", "P-dpo", "?", "x")):
        with pytest.raises(Rejected):
            ended.answer_hotwash(*args)
    assert ended.path.read_bytes() == before


def test_a_player_who_joined_later_may_answer_for_the_role_they_joined(tmp_path):
    session = make_session(tmp_path, hotwash_scenario(), participants=[Participant("Sam", "coordinator")])
    session.set_role("Priya", "dpo")
    session.leave("Priya")  # dropped before the end: still one of the people who played dpo
    session.end()
    assert session.answer_hotwash("dpo", "Priya", CHANGE, "Tell the DPO first.")["role"] == "dpo"


# --- resuming and verifying ----------------------------------------------------------------


def test_resume_during_the_hot_wash_continues_it_without_session_resumed(ended):
    ended.answer_hotwash("dpo", "P-dpo", WORKED, "One.")
    path = ended.path
    ended.writer.close()
    again = Session.continue_transcript(path, clock=VirtualClock(), fsync=False)
    assert again.ended and again.hotwash_open
    assert [a["text"] for a in again.hotwash_answers] == ["One."]
    again.answer_hotwash("coordinator", "P-coordinator", CHANGE, "Two.")
    again.close_hotwash()
    again.writer.close()
    assert not any(e["type"] == "session_resumed" for e in lines(again))
    result = verify_evidence(path)
    assert result.ok, result.problems
    with pytest.raises(Exception, match="the session has already ended and its hot wash is closed"):
        Session.continue_transcript(path, clock=VirtualClock(), fsync=False)


def test_resume_after_a_crash_between_an_answer_and_its_signature(ended):
    ended.answer_hotwash("dpo", "P-dpo", WORKED, "One.")
    path = ended.path
    ended.writer.close()
    kept = path.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]  # the signature never hit the disk
    path.write_text("".join(kept), encoding="utf-8")
    crashed = verify_evidence(path)
    assert crashed.unsigned and crashed.unsigned[-1][1] == json.loads(kept[-1])["seq"]
    again = Session.continue_transcript(path, clock=VirtualClock(), fsync=False)
    again.answer_hotwash("dpo", "P-dpo", CHANGE, "Two.")
    again.writer.close()
    result = verify_evidence(path)
    assert result.ok and not result.unsigned, result.problems
    assert [e["type"] for e in result.events[-4:]] == ["hotwash_answer", "signature"] * 2
    assert [e["text"] for e in result.events if e["type"] == "hotwash_answer"] == ["One.", "Two."]


def test_a_session_without_a_hot_wash_is_not_resumed_after_its_end(tmp_path):
    session = make_session(tmp_path, make_scenario())
    session.end()
    session.writer.close()
    with pytest.raises(Exception, match="the session has already ended; nothing to resume"):
        Session.continue_transcript(session.path, clock=VirtualClock(), fsync=False)


def test_verify_passes_with_a_hot_wash_and_fails_on_an_answer_after_it_closed(ended):
    ended.answer_hotwash("dpo", "P-dpo", WORKED, "One.")
    ended.answer_hotwash("coordinator", "P-coordinator", OTHER, "Two.")
    ended.close_hotwash()
    assert verify_evidence(ended.path).ok
    # an answer written after the close, by hand, with a valid chain and signature
    ended.writer.append(
        "hotwash_answer", ended.events[-1]["t"], role="dpo", by="P-dpo", question=WORKED, text="Late."
    )
    ended.writer.close()
    result = verify_evidence(ended.path)
    assert result.status == INVALID
    assert "hotwash_answer after hotwash_closed" in result.problems[0]


# --- the post-mortem draft -----------------------------------------------------------------


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def _draft(session: Session, fmt: str = "md") -> str:
    from datetime import UTC, datetime

    from tabletop.report import build_postmortem, render_report
    from tabletop.scoring import score

    events = session.events
    return render_report(
        build_postmortem(session.scenario, events, score(session.scenario, events)),
        fmt,
        datetime(2026, 3, 10, 9, 0, tzinfo=UTC),
    )


def test_the_draft_quotes_answers_by_role_where_their_kind_says(ended):
    ended.answer_hotwash("dpo", "P-dpo", WORKED, "The DPO was asked *early*.")
    ended.answer_hotwash("technical_lead", "P-technical_lead", CHANGE, "Rotate API tokens monthly.")
    ended.answer_hotwash("coordinator", "P-coordinator", OTHER, "At T+40m, by the corridor.")
    ended.close_hotwash()
    text = _draft(ended)
    worked = _section(text, "What worked")
    assert "From the hot wash, *What went well?*" in worked
    assert "- Data protection officer: The DPO was asked \\*early\\*." in worked
    change = _section(text, "Improvement actions")
    assert "What to change, from the hot wash, *What would we change?*" in change
    assert "- Technical lead: Rotate API tokens monthly." in change
    questions = _section(text, "Hot-wash questions")
    assert (
        "- When did the DPO first hear of it?\n  - Incident coordinator: At T+40m, by the corridor."
        in questions
    )
    assert "- What went well?\n  - *answered under What worked*" in questions
    assert "- What would we change?\n  - *answered under Improvement actions*" in questions
    assert "still open" not in questions
    for section in (worked, change, questions):  # blameless: roles, never names
        assert "P-dpo" not in section and "P-technical_lead" not in section and "P-coordinator" not in section


def test_the_draft_quotes_the_latest_answer_of_each_person(ended):
    ended.answer_hotwash("dpo", "P-dpo", WORKED, "First thought.")
    ended.answer_hotwash("coordinator", "P-coordinator", WORKED, "The channel.")
    ended.answer_hotwash("dpo", "P-dpo", WORKED, "Second thought.")
    worked = _section(_draft(ended), "What worked")
    assert "First thought" not in worked
    assert worked.index("Data protection officer: Second thought.") < worked.index(
        "Incident coordinator: The channel."
    )
    assert "still open when this draft was written" in _section(_draft(ended), "Hot-wash questions")


def test_the_html_draft_quotes_answers_escaped(ended):
    ended.answer_hotwash("dpo", "P-dpo", WORKED, "<script>alert(1)</script> went well")
    html = _draft(ended, "html")
    assert "<strong>Data protection officer</strong>: &lt;script&gt;alert(1)&lt;/script&gt; went well" in html
    assert "<script>alert(1)" not in html


def test_a_draft_without_answers_lists_the_questions_as_before(ended):
    questions = _section(_draft(ended), "Hot-wash questions")
    assert questions.strip().splitlines()[1:] == ["", f"- {WORKED}", f"- {CHANGE}", f"- {OTHER}"]
    assert "From the hot wash" not in _draft(ended)


def test_a_scripted_run_has_no_hot_wash(tmp_path):
    session = make_session(tmp_path, hotwash_scenario(), mode="simulate")
    session.end()
    assert not session.hotwash_open and not session.has_hotwash
    with pytest.raises(Rejected, match="a scripted run \\(tabletop simulate\\) has no hot wash"):
        session.answer_hotwash("dpo", "P-dpo", WORKED, "Fine.")
    session.writer.close()
    with pytest.raises(Exception, match="the session has already ended; nothing to resume"):
        Session.continue_transcript(session.path, clock=VirtualClock(), fsync=False)


def test_a_transcript_with_a_hot_wash_reads_as_ended_scores_and_reports(ended):
    from click.testing import CliRunner

    from tabletop.cli import main
    from tabletop.review.evidence import load_evidence
    from tabletop.scoring import score

    before = score(ended.scenario, ended.events).to_json()
    ended.answer_hotwash("dpo", "P-dpo", CHANGE, "Page the DPO.")
    ended.close_hotwash()
    ended.writer.close()
    assert score(ended.scenario, ended.events).to_json() == before  # the hot wash is not scored
    assert load_evidence(ended.path).ended
    result = CliRunner().invoke(main, ["report", str(ended.path)])
    assert result.exit_code == 0, result.output
    draft = ended.path.with_name(ended.path.stem + ".postmortem.md").read_text(encoding="utf-8")
    assert "- Data protection officer: Page the DPO." in draft


def test_the_review_timeline_shows_an_answer_by_role():
    from tabletop.ui.review.detail import _describe

    who, what = _describe(
        {"type": "hotwash_answer", "role": "dpo", "by": "Priya", "question": WORKED, "text": "The alert."}
    )
    assert who == "(dpo)" and "Priya" not in who + what
    assert what == "hot wash: What went well? — The alert."
    assert _describe({"type": "hotwash_closed", "reason": "time"}) == ("", "hot wash closed: time")
