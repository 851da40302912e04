"""`validate` names the file, the line and the fix: one bad file per failure mode."""

from pathlib import Path

import pytest

from tabletop.loader import data_roots, validate, validate_paths

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"

# file under tests/data (bad/ unless a path is given), line, dotted key, words of the message
CASES = [
    ("yaml-syntax.yaml", 6, "(file)", ["invalid YAML", "expected ',' or ']'"]),
    ("not-a-mapping.yaml", 2, "(top)", ["expected a scenario", "received a list"]),
    ("unknown-key.yaml", 3, "titel", ["unknown key 'titel'", "did you mean 'title'"]),
    ("unknown-inject-key.yaml", 10, "injects.0.bdy", ["unknown key 'bdy'", "did you mean 'body'"]),
    ("missing-key.yaml", 2, "duration", ["missing required key 'duration'"]),
    ("mistyped-key.yaml", 11, "injects.0.expects.0.weight", ["expected a valid number", "received 'heavy'"]),
    (
        "bad-channel.yaml",
        9,
        "injects.0.channel",
        ["expected one of: email, chat", "received 'emial'", "did you mean 'email'"],
    ),
    (
        "bad-duration.yaml",
        13,
        "injects.0.expects.0.within",
        ["expected a duration like", "received '15 minutes'"],
    ),
    (
        "bad-starts-at.yaml",
        4,
        "starts_at",
        ["expected a date and time like 2026-03-02T09:10", "received 'tomorrow'"],
    ),
    ("clock-without-start.yaml", 8, "injects.1.at", ["'10:30' needs the scenario's starts_at"]),
    ("relative-at.yaml", 9, "injects.1.at", ["relative to a branch condition", "write T+10m"]),
    ("duplicate-inject.yaml", 8, "injects.1.id", ["duplicate inject id 'alert'", "first on line 7"]),
    ("duplicate-expectation.yaml", 13, "expectations.0.id", ["duplicate expectation id 'coord'", "line 11"]),
    ("duplicate-phase.yaml", 8, "phases.1.id", ["duplicate phase id 'detection'"]),
    ("duplicate-yaml-key.yaml", 10, "injects.0.title", ["written twice", "first on line 9"]),
    (
        "unknown-use.yaml",
        9,
        "injects.0.use",
        ["no inject 'breach/anomalus-export'", "did you mean 'breach/anomalous-export'"],
    ),
    ("unknown-role.yaml", 10, "injects.0.to.0", ["unknown role 'cordinator'", "did you mean 'coordinator'"]),
    ("role-not-in-scenario.yaml", 10, "injects.0.to.1", ["'scribe' is not one of this scenario's roles"]),
    (
        "owner-not-in-scenario.yaml",
        11,
        "injects.0.expects.0.owner",
        ["owner 'dpo' is not one of this scenario's roles"],
    ),
    (
        "unknown-action.yaml",
        12,
        "injects.0.expects.0.action",
        ["unknown action 'involve_dop'", "did you mean 'involve_dpo'"],
    ),
    ("unknown-response-action.yaml", 9, "responses.0.on", ["unknown action 'involve_dop'"]),
    (
        "unknown-response-action.yaml",
        10,
        "responses.0.from",
        ["'comms_owner' is not one of this scenario's roles"],
    ),
    ("unknown-avoid-action.yaml", 9, "avoid.0.actions.1", ["unknown action 'rollbak'"]),
    ("unknown-regime.yaml", 6, "regimes.0", ["unknown regime 'uk_gpdr'", "did you mean 'uk_gdpr'"]),
    (
        "unknown-rubric.yaml",
        8,
        "rubric.1",
        ["unknown rubric set 'coordinaton'", "did you mean 'coordination'"],
    ),
    ("rubric-listed-twice.yaml", 6, "rubric.1", ["rubric set 'coordination' is listed twice"]),
    (
        "rubric-owner-missing.yaml",
        6,
        "rubric.0",
        ["'first-update' of rubric set coordination", "owned by 'comms_owner'"],
    ),
    ("unknown-phase.yaml", 11, "injects.0.phase", ["unknown phase 'detecton'", "did you mean 'detection'"]),
    (
        "unknown-missed.yaml",
        13,
        "injects.1.when.missed",
        ["unknown expectation 'dpo-inn'", "did you mean 'dpo-in'"],
    ),
    ("unknown-after.yaml", 9, "injects.1.when.after", ["unknown inject 'alrt'", "did you mean 'alert'"]),
    ("unknown-after.yaml", 12, "expectations.0.after", ["anchor inject 'alrt'", "did you mean 'alert'"]),
    ("unknown-marker.yaml", 9, "injects.1.when.marker", ["nothing sets marker 'contained'"]),
    ("after-cycle.yaml", 9, "injects.1.when.after", ["cycle", "ping -> pong -> ping"]),
    ("requires-cycle.yaml", 10, "expectations.1.requires.0", ["cycle", "declare_incident"]),
    (
        "never-fires.yaml",
        14,
        "injects.2.when",
        ["'chase' can never fire", "inject 'orphan', which is never released"],
    ),
    (
        "deadline-after-end.yaml",
        13,
        "injects.1.when",
        ["'chase' can never fire", "due at T+5h00m", "ends at T+4h00m"],
    ),
    (
        "after-duration.yaml",
        8,
        "injects.1.at",
        ["scheduled at T+5h00m", "after the scenario ends at T+4h00m"],
    ),
    ("jump-backwards.yaml", 8, "injects.0.advance_to", ["a time jump goes forward"]),
    (
        "clock-beyond-end.yaml",
        4,
        "duration",
        [
            "ends at T+24h00m, before regime clock 'ico-72h' (uk_gdpr) can fall due",
            "due at T+72h00m at the earliest",
            "add a time jump",
        ],
    ),
    (
        "bad-early.yaml",
        11,
        "injects.0.expects.0.early",
        ["expected one of: allowed, not_allowed", "'sometimes'"],
    ),
    (
        "early-from-the-start.yaml",
        9,
        "expectations.0.early",
        ["'dpo-in' runs from the start, so nothing can come before its anchor", "drop `early: allowed`"],
    ),
    (
        "jump-after-duration.yaml",
        8,
        "injects.1.advance_to",
        ["jumps to T+10h00m", "after the scenario ends at T+4h00m"],
    ),
    (
        "bad-value-choice.yaml",
        13,
        "expectations.0.value.outcome",
        ["expected one of: notify, not_notify", "received 'notfy'"],
    ),
    (
        "bad-value-field.yaml",
        14,
        "expectations.0.value.outcom",
        ["has no field 'outcom'", "did you mean 'outcome'"],
    ),
    (
        "bad-response-field.yaml",
        13,
        "responses.0.fields.outcom",
        ["has no field 'outcom'", "did you mean 'outcome'"],
    ),
    (
        "undefined-variable.yaml",
        12,
        "injects.0.body",
        ["undefined variable 'custmer'", "did you mean 'customer'"],
    ),
    ("sandbox-escape.yaml", 9, "injects.0.title", ["refused by the sandbox", "__class__"]),
    (
        "business-days-without-start.yaml",
        12,
        "expectations.0.business_days",
        ["counts business days", "needs the scenario's starts_at"],
    ),
    (
        "bad-variable.yaml",
        7,
        "variables.customer",
        ["unknown faker provider 'compnay'", "did you mean 'company'"],
    ),
    (
        "close-without-recovery.yaml",
        19,
        "injects.1.expects.0.requires",
        [
            "expectation 'closed' closes the incident with no recovery step before it",
            "capture_manual_change",
            "no owned residual risk before it",
            "accept_risk with an owner",
            "`requires`",
        ],
    ),
    (
        "hotwash-kind.yaml",
        10,
        "hotwash.1.kind",
        ["expected one of: worked, change, other", "received 'works'", "did you mean 'worked'"],
    ),
    ("hotwash-key.yaml", 10, "hotwash.1.text", ["unknown key 'text'", "expected one of: question, kind"]),
    ("hotwash-key.yaml", 10, "hotwash.1.question", ["missing required key 'question'"]),
    (
        "hotwash-duplicate.yaml",
        11,
        "hotwash.2.question",
        ["duplicate hot-wash question 'What went well?'", "first on line 9"],
    ),
    ("hotwash-empty.yaml", 10, "hotwash.1.question", ["missing required key 'question'"]),
    (
        "hotwash-empty.yaml",
        11,
        "hotwash.2",
        ["expected a question (text) or a mapping with question and kind", "received 42"],
    ),
]


def _problems_for(name: str):
    return validate_paths([BAD / name])


@pytest.mark.parametrize(("name", "line", "key", "words"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_bad_file_names_file_line_key_and_fix(name, line, key, words):
    problems = _problems_for(name)
    assert problems, f"{name} should have problems"
    matching = [p for p in problems if Path(p.path).name == name and p.line == line and p.key == key]
    assert matching, f"no problem at {name}:{line} {key}; got:\n" + "\n".join(map(str, problems))
    message = matching[0].message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert str(matching[0]).startswith(f"{matching[0].path}:{line}:")


# scoring data and inject library files checked on their own (under bad/catalog/)
CATALOG_CASES = [
    ("scoring/roles.yaml", 4, "2.id", ["duplicate role id 'dpo'", "roles.yaml:3"]),
    ("scoring/roles.yaml", 5, "3.titel", ["unknown key 'titel'", "did you mean 'title'"]),
    (
        "scoring/actions.yaml",
        3,
        "1.default_owner",
        ["unknown role 'cordinator'", "did you mean 'coordinator'"],
    ),
    (
        "scoring/actions.yaml",
        4,
        "2.area",
        ["expected one of: coordination", "received 'tecnical'", "did you mean 'technical'"],
    ),
    ("scoring/actions.yaml", 5, "3.id", ["duplicate action id 'appoint_coordinator'"]),
    ("scoring/regimes.yaml", 10, "0.clocks.0.within", ["expected a duration", "received '72 hours'"]),
    (
        "scoring/sloppy.yaml",
        4,
        "expectations.0.action",
        ["unknown action 'involve_dpoo'", "did you mean 'involve_dpo'"],
    ),
    (
        "scoring/sloppy.yaml",
        5,
        "expectations.1.value.result",
        ["has no field 'result'", "its fields: outcome"],
    ),
    ("scoring/sloppy.yaml", 7, "avoid.0.actions.1", ["unknown action 'rollback'"]),
    ("injects/calls.yaml", 3, "with-id.id", ["a library inject takes no 'id'"]),
    ("injects/calls.yaml", 6, "unknown-key.titel", ["unknown key 'titel'", "did you mean 'title'"]),
    ("injects/calls.yaml", 8, "bad-template.title", ["template syntax error"]),
    ("injects/calls.yaml", 11, "unknown-role.to.0", ["unknown role 'dpoo'", "did you mean 'dpo'"]),
    ("injects/calls/single.yaml", 2, "channel", ["expected one of: email", "received 'fax'"]),
]


@pytest.fixture(scope="module")
def catalog_problems():
    return validate_paths([BAD / "catalog"])


@pytest.mark.parametrize(
    ("name", "line", "key", "words"), CATALOG_CASES, ids=[f"{c[0]}:{c[1]}" for c in CATALOG_CASES]
)
def test_bad_scoring_and_library_files(catalog_problems, name, line, key, words):
    matching = [
        p
        for p in catalog_problems
        if Path(p.path).as_posix().endswith("catalog/" + name) and p.line == line and p.key == key
    ]
    assert matching, f"no problem at {name}:{line} {key}; got:\n" + "\n".join(map(str, catalog_problems))
    for word in words:
        assert word in matching[0].message


def test_every_bad_file_has_a_case():
    covered = {case[0] for case in CASES} | {"library-problem.yaml", "rubric-text.yaml"}
    assert {p.name for p in BAD.glob("*.yaml")} == covered


def test_problem_inside_a_used_inject_names_the_library_file():
    problems = _problems_for("library-problem.yaml")
    assert len(problems) == 1
    problem = problems[0]
    assert Path(problem.path).name == "faulty.yaml" and Path(problem.path).parent.name == "injects"
    assert problem.line == 5 and problem.key == "undefined-name.title"
    assert "undefined variable 'admin_name'" in problem.message
    assert "library-problem.yaml" in problem.message  # says which scenario used it


def test_problem_in_a_rubric_text_names_the_rubric_file_and_the_scenario():
    problems = _problems_for("rubric-text.yaml")
    assert [Path(p.path).name for p in problems] == ["breach.yaml"]
    assert problems[0].line == 3 and problems[0].key == "expectations.0.why"
    assert "undefined variable 'customer'" in problems[0].message
    assert "rubric-text.yaml" in problems[0].message


def test_all_problems_are_collected_in_one_run():
    result = validate([BAD])
    names = {Path(p.path).name for p in result.problems}
    assert {"yaml-syntax.yaml", "unknown-key.yaml", "sandbox-escape.yaml", "faulty.yaml"} <= names
    assert result.scenarios == len(list(BAD.glob("*.yaml")))
    assert "problems in" in result.summary()


def test_the_fixture_tree_is_clean():
    result = validate([DATA / "scenarios", DATA / "injects", DATA / "scoring"])
    assert result.problems == [], "\n".join(map(str, result.problems))
    assert result.summary() == "1 scenario, 12 injects, 2 rubric sets: no problems"


def test_sandbox_escape_is_never_rendered():
    from tabletop.loader import resolve_scenario

    scenario, problems, _ = resolve_scenario(BAD / "sandbox-escape.yaml")
    assert scenario is None
    assert all("<class" not in p.message for p in problems)


def test_missing_path_is_a_problem_not_a_crash(tmp_path):
    problems = validate_paths([tmp_path / "nope.yaml"])
    assert len(problems) == 1 and "no such file" in problems[0].message


def test_bundled_data_validates():
    """Every bundled scenario, inject and scoring file is clean."""
    roots = data_roots()
    assert roots, "no bundled data found"
    targets = [roots[0] / name for name in ("scenarios", "injects", "scoring") if (roots[0] / name).is_dir()]
    assert len(targets) == 3
    result = validate(targets)
    assert result.problems == [], "\n".join(map(str, result.problems))
    assert result.scenarios >= 3 and result.rubric_sets >= 4


def _closing_problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "scenarios" / "closing.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in ("injects", "scoring"):
        if not (tmp_path / name).exists():
            (tmp_path / name).symlink_to(DATA / name)
    path.write_text(text)
    return [p.message for p in validate_paths([path]) if "closes the incident" in p.message]


CLOSING = """id: closing
title: Closing
duration: 4h
roles: [coordinator, technical_lead]
injects:
  - id: alert
    at: T+0m
    title: An alert
    expects:
{early}
  - id: wrap-up
    at: T+3h
    title: The bridge is quiet
    expects:
{late}
      - {{id: closed, action: close_incident, within: 30m, requires: [{requires}]}}
"""
CAPTURE = "      - {id: captured, action: capture_manual_change, within: 1h}"
RISK = "      - {id: risk-owned, action: accept_risk, owner: coordinator, within: 1h}"


def test_a_close_is_fine_once_recovery_and_an_owned_risk_come_before_it(tmp_path):
    # anchored on an earlier inject: before the close by anchor order
    text = CLOSING.format(early=CAPTURE + "\n" + RISK, late="", requires="status_update")
    assert _closing_problems(tmp_path / "a", text) == []
    # anchored on the same inject: only `requires` puts them before the close
    same = CLOSING.format(
        early="      - {id: noted, action: status_update, within: 1h}",
        late=CAPTURE + "\n" + RISK,
        requires="status_update",
    )
    assert len(_closing_problems(tmp_path / "b", same)) == 1
    required = CLOSING.format(
        early="      - {id: noted, action: status_update, within: 1h}",
        late=CAPTURE + "\n" + RISK,
        requires="status_update, capture_manual_change, accept_risk",
    )
    assert _closing_problems(tmp_path / "c", required) == []


def test_a_close_with_only_one_of_the_two_names_what_is_missing(tmp_path):
    text = CLOSING.format(early=CAPTURE, late="", requires="status_update")
    [message] = _closing_problems(tmp_path, text)
    assert "no owned residual risk" in message and "no recovery step" not in message
