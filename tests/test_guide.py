"""The situation manual and facilitator guide render for every scenario, show what a facilitator needs, and escape scenario text."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

from tabletop.cli import main
from tabletop.guide import build_guide, render_guide
from tabletop.loader import load_scenario
from tabletop.report.formats import md

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(params=SCENARIOS, ids=[p.stem for p in SCENARIOS])
def scenario(request):
    return load_scenario(request.param)


def test_markdown_guide_has_modules_timings_injects_questions_expected_actions_and_hot_wash(scenario):
    text = render_guide(build_guide(scenario), "md")
    assert text.startswith("# ")
    assert "## Part 1: Situation manual" in text and "## Part 2: Facilitator guide" in text
    for phase in scenario.phases:
        assert f"Module {scenario.phases.index(phase) + 1}: " in text
        for question in phase.questions:
            assert question.split()[0] in text
    assert text.count("**Timing:**") == len(build_guide(scenario).modules)
    for inject in scenario.injects:
        assert md(inject.title) in text
        if inject.body.strip():
            assert inject.body.strip().splitlines()[0] in text  # bodies are verbatim in text blocks
    inline = [e for e in scenario.expectations if e.anchor_kind == "inject"]
    assert text.count("(`") >= len(inline)
    assert "### Hot wash" in text
    assert len([line for line in text.split("### Hot wash")[1].splitlines() if line[:1].isdigit()]) == len(
        scenario.hotwash
    )


def test_html_guide_is_self_contained_and_printable(scenario):
    page = render_guide(build_guide(scenario), "html")
    assert page.startswith("<!DOCTYPE html>")
    assert "@media print" in page and "break-before: page" in page
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert 'src="http' not in page and "url(" not in page  # nothing fetched: self-contained
    for inject in scenario.injects:
        assert str(escape(inject.title)) in page
    assert page.count('class="inject"') == len(scenario.injects)


def test_branches_and_time_jumps_are_marked_for_the_facilitator():
    guide = build_guide(load_scenario(ROOT / "scenarios" / "restore-rehearsal.yaml"))
    injects = {i.id: i for m in guide.modules for i in m.injects}
    assert injects["owner-chases"].kind == "branch"
    assert injects["owner-chases"].time == "10m after gap-escalated is missed"
    assert injects["disk-warning"].time == "20m after restore_backup is recorded"
    assert injects["long-restore"].kind == "time jump"
    assert injects["long-restore"].advance_to == "day 1, Tue 13:20"
    assert injects["kickoff"].clock == "day 1, Tue 09:00"
    assert [e.action for e in injects["finance-reconcile"].expected] == ["verify_rpo_rto"]
    assert injects["finance-reconcile"].expected[0].value == "result = fail"


def test_regime_clocks_are_listed_with_their_source():
    text = render_guide(build_guide(load_scenario(ROOT / "scenarios" / "data-subject-request.yaml")), "md")
    section = text.split("### Notification and statutory clocks")[1]
    assert "Respond to the data subject request within one month of receipt" in section
    assert "| 1 month (to the end of the day, Europe/London) |" in section and "Art 12(3)" in section


def test_scenario_text_is_escaped_in_html_and_cannot_break_markdown(tmp_path):
    scenario = load_scenario(ROOT / "scenarios" / "restore-rehearsal.yaml")
    first = scenario.injects[0].model_copy(
        update={
            "title": "<script>alert(1)</script> | pipe",
            "body": "```\n# not a heading\n<b>bold</b>\n```",
        }
    )
    hostile = scenario.model_copy(update={"injects": [first, *scenario.injects[1:]]})
    page = render_guide(build_guide(hostile), "html")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    text = render_guide(build_guide(hostile), "md")
    assert "````text\n```\n# not a heading" in text  # a longer fence keeps the body inert
    assert "\\| pipe" in text and "&lt;script&gt;" in text


def test_the_guide_is_deterministic():
    scenario = load_scenario(ROOT / "scenarios" / "iac-reconciliation.yaml")
    assert render_guide(build_guide(scenario), "html") == render_guide(build_guide(scenario), "html")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="expected a format among md, html"):
        render_guide(build_guide(load_scenario(ROOT / "scenarios" / "region-failover.yaml")), "pdf")


def test_cli_guide_writes_a_file_and_reports_a_bad_scenario_without_a_traceback(tmp_path):
    runner = CliRunner()
    target = tmp_path / "guide.html"
    result = runner.invoke(main, ["guide", "customer-notification", "--format", "html", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = runner.invoke(main, ["guide", "customer-notificaton"])
    assert result.exit_code == 1
    assert "did you mean 'customer-notification'" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(main, ["guide", "post-mortem-rehearsal"])
    assert result.exit_code == 0 and "## Part 2: Facilitator guide" in result.output
