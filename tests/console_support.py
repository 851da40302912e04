"""A small scenario for the console tests, built with the model so it does not drift with data files."""

from __future__ import annotations

from datetime import datetime

from tabletop.model import (
    Action,
    AvoidRule,
    Condition,
    Context,
    DataPosition,
    Expectation,
    FieldSpec,
    Inject,
    Phase,
    Response,
    Role,
    Scenario,
)


def drill_scenario() -> Scenario:
    """Suspected breach drill: four injects (one a branch), a response, three expectations."""
    return Scenario(
        id="console-drill",
        title="Console drill: suspected breach at a processor",
        summary="An anomalous export from the CRM of a customer whose data we process.",
        objectives=[
            "Appoint a coordinator and keep the response organised",
            "Decide on ICO notification with a recorded rationale",
        ],
        starts_at=datetime(2026, 3, 2, 9, 10),
        duration=7200,
        speed=60,
        seed=7,
        roles=["coordinator", "dpo", "comms_owner", "technical_lead"],
        context=Context(
            data_positions=[
                DataPosition(
                    dataset="CRM contact records",
                    position="processor",
                    controller="Acme Ltd",
                    contract="DPA-2024-17",
                    notify_controller_within=86400,
                )
            ],
            systems=["crm-prod", "export-api"],
        ),
        phases=[
            Phase(
                id="detection", title="Detection and triage", questions=["Who is the incident coordinator?"]
            ),
            Phase(id="notification", title="Notification", questions=["Do we notify the ICO, and why?"]),
        ],
        injects=[
            Inject(
                id="alert",
                at=0,
                phase="detection",
                channel="alert",
                title="Anomalous CRM export",
                body="48,000 rows exported by svc-sync at 03:12.",
                **{"from": "SIEM"},
            ),
            Inject(
                id="customer-ticket",
                at=1200,
                phase="detection",
                channel="ticket",
                to=["coordinator"],
                title="Customer asks whether their data is affected",
                body="Acme support: please confirm by noon.",
                **{"from": "Acme support"},
            ),
            Inject(
                id="dpo-chases",
                at=600,
                when=Condition(missed="dpo-in"),
                channel="chat",
                title="DPO: why was I not told?",
                **{"from": "DPO"},
            ),
            Inject(
                id="press",
                at=3600,
                phase="notification",
                channel="news",
                title="Reporter asks about a leak",
                body="A journalist calls the press office.",
            ),
        ],
        responses=[
            Response(
                on="involve_dpo",
                title="DPO assessment",
                body="We are processor for Acme.",
                after=600,
                **{"from": "dpo"},
            )
        ],
        expectations=[
            Expectation(
                id="coord",
                action="appoint_coordinator",
                owner="coordinator",
                after="start",
                within=900,
                weight=3,
            ),
            Expectation(
                id="dpo-in",
                action="involve_dpo",
                owner="coordinator",
                after="inject:customer-ticket",
                within=1800,
                weight=2,
            ),
            Expectation(
                id="controller", action="notify_controller", owner="dpo", after="start", within=3600, weight=2
            ),
        ],
        avoid=[AvoidRule(id="coord-hands-on", role="coordinator", actions=["contain"], penalty=1)],
        actions=[
            Action(
                id="appoint_coordinator",
                title="Appoint an incident coordinator",
                area="coordination",
                default_owner="coordinator",
            ),
            Action(
                id="involve_dpo", title="Involve the DPO", area="data_protection", default_owner="coordinator"
            ),
            Action(
                id="notify_controller",
                title="Notify the controller",
                area="notification",
                default_owner="dpo",
            ),
            Action(
                id="ico_decision",
                title="Decide whether to notify the ICO",
                area="notification",
                default_owner="dpo",
                fields={"outcome": FieldSpec(type="choice", choices=["notify", "not_notify"], required=True)},
                rationale="required",
            ),
            Action(
                id="contain",
                title="Contain the affected system",
                area="technical",
                default_owner="technical_lead",
                hands_on=True,
            ),
        ],
        role_info=[
            Role(id="coordinator", title="Incident coordinator", duty="Coordinates; does not fix."),
            Role(id="dpo", title="Data protection officer"),
            Role(id="comms_owner", title="Communications owner"),
            Role(id="technical_lead", title="Technical lead"),
        ],
    )


async def settle(app, pilot, timeout: float | None = None) -> None:
    """Wait until the console has finished what it started: queued messages handled, the
    debounced refreshes (live score, MSEL, briefing) run, its workers done (the console's
    `settled()`); raises `StillBusy`, failing the test, if that takes more than `timeout`."""
    await app.settled(timeout)
    await pilot.pause()


def read_events(path) -> list[dict]:
    """The transcript's events, straight from the file (its signature lines left out)."""
    import json
    from pathlib import Path

    events = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [e for e in events if e["type"] != "signature"]


def text_of(widget) -> str:
    """The plain text a Static shows, whether it holds a string, Rich Text or a Rich table."""
    import io

    from rich.console import Console

    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=160, file=io.StringIO(), record=True, color_system=None)
    console.print(content)
    return console.export_text()


HOSTILE = " [/x] [link=http://evil.example]x[/link] \x1b]0;pwned\x07\x1b[2J\x1b]8;;http://evil.example/\x1b\\here\x1b]8;;\x1b\\\x9b"
"""What a hostile author or player appends to their text: Rich markup that crashes or links,
a window title (OSC 0), a screen clear, a hyperlink (OSC 8) and an 8-bit CSI."""

HOSTILE_SHOWN = (
    " [/x] [link=http://evil.example]x[/link] ␛]0;pwned␇␛[2J␛]8;;http://evil.example/␛\\here␛]8;;␛\\\\x9b"
)
"""How the console shows it: brackets as typed, control characters as visible pictures."""

_AUTHORED = {"title", "body", "from", "summary", "description", "duty", "controller", "dataset"}


def hostile_drill() -> Scenario:
    """The drill with HOSTILE after every title, body, sender, question and objective."""

    def mark(value):
        if isinstance(value, dict):
            return {
                key: (
                    item + HOSTILE
                    if key in _AUTHORED and isinstance(item, str) and item
                    else [q + HOSTILE for q in item]
                    if key in ("questions", "objectives")
                    else mark(item)
                )
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [mark(item) for item in value]
        return value

    return Scenario.model_validate(mark(drill_scenario().model_dump(by_alias=True)))


def terminal_output(app) -> str:
    """What the console would write to the terminal for its current screen (a full redraw)."""
    return app.screen._compositor.render_full_update().render_segments(app.console)


def assert_nothing_raw_reaches_the_terminal(output: str, where: str = "") -> None:
    """Only the console's own escape sequences (CSI: cursor moves, colours): no OSC (window
    title, hyperlink), no screen clear, no BEL, no 8-bit CSI from a file or a player."""
    import re

    for bad, what in (("\x1b]", "an OSC sequence"), ("\x1b[2J", "a screen clear"), ("\x07", "BEL")):
        assert bad not in output, f"{where}: {what} reached the terminal"
    assert "\x9b" not in output, f"{where}: an 8-bit CSI reached the terminal"
    stray = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    assert "\x1b" not in stray, (
        f"{where}: a lone ESC reached the terminal: {stray[stray.index(chr(27)) - 20 :][:60]!r}"
    )
