"""Browser players and the room display, served by the host itself: one link, a name, a free role, the
player console in the browser; a read-only page for a projector. The last test drives a real Chromium."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path

import aiohttp
import pytest
from factories import make_inject, make_scenario
from net_support import hosted

from tabletop.engine import Participant

FIRST_INJECT = "Anomalous export from the CRM"


def browser_scenario():
    return make_scenario(
        [
            make_inject("alert", 0, to=["all"], title=FIRST_INJECT, body="Unusual volume", phase="detection"),
            make_inject("for-dpo", "10m", to=["dpo"], title="DPO ONLY: controller on the line"),
            make_inject("for-comms", "15m", to=["comms_owner"], title="Journalist calls the press office"),
            make_inject("later", "3h", title="STILL TO COME"),
        ],
        title="Operation Nightingale",
    )


async def join_form(http: aiohttp.ClientSession, link: str, name: str, role: str) -> aiohttp.ClientResponse:
    async with http.get(link) as response:
        page = await response.text()
    token = re.search(r"name='token' value='([^']+)'", page).group(1)
    return await http.post(
        link.split("/join")[0] + "/join",
        data={"token": token, "name": name, "role": role},
        allow_redirects=False,
    )


async def test_the_join_link_asks_for_a_name_and_a_free_role_and_gives_a_seat(tmp_path):
    async with (
        hosted(tmp_path, browser_scenario(), facilitator="Fran") as rig,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(rig.host.join_link) as response:
            form = await response.text()
            headers = response.headers
        assert response.status == 200 and "Operation Nightingale" in form
        assert headers["Referrer-Policy"] == "no-referrer", "the token in the link never leaks"
        assert re.findall(r"<option value='([^']+)'", form) == [
            "coordinator",
            "technical_lead",
            "comms_owner",
            "dpo",
        ]
        assert "not encrypted" in form

        joined = await join_form(http, rig.host.join_link, "Priya", "dpo")
        assert joined.status == 303 and joined.headers["Location"].startswith("/play/")
        secret = joined.headers["Location"].removeprefix("/play/")
        assert rig.host.seats.by_secret(secret).name == "Priya"

        async with http.get(rig.host.join_link) as response:  # the DPO's seat is taken now
            assert "value='dpo'" not in await response.text()
        refused = await join_form(http, rig.host.join_link, "Fran", "coordinator")
        assert refused.status == 409 and "reserved for the facilitator" in await refused.text()
        taken = await join_form(http, rig.host.join_link, "priya", "coordinator")
        assert taken.status == 409 and "already has a seat" in await taken.text()

        async with http.get(f"{rig.host.web_url}/play/{secret}") as response:
            page = await response.text()
        assert f"ws://127.0.0.1:{rig.host.port}/play/{secret}/ws" in page
        assert "/static/js/textual.js" in page
        async with http.get(f"{rig.host.web_url}/static/js/textual.js") as response:
            assert response.status == 200
        async with http.get(f"{rig.host.web_url}/play/not-a-seat") as response:
            assert response.status == 404


async def test_a_browser_players_console_runs_on_the_host_and_joins_through_its_private_socket(tmp_path):
    async with hosted(tmp_path, browser_scenario()) as rig, aiohttp.ClientSession() as http:
        joined = await join_form(http, rig.host.join_link, "Priya", "dpo")
        secret = joined.headers["Location"].removeprefix("/play/")
        ws = await http.ws_connect(f"{rig.host.url.rsplit('/ws', 1)[0]}/play/{secret}/ws?width=120&height=40")
        screen = bytearray()

        async def read() -> None:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    screen.extend(message.data)

        reader = asyncio.create_task(read())
        await rig.host.wait_for(lambda: rig.joined("Priya"), 60)
        # a second browser tab on the same seat is refused: one connection a seat
        with pytest.raises(aiohttp.WSServerHandshakeError) as second:
            await http.ws_connect(f"{rig.host.url.rsplit('/ws', 1)[0]}/play/{secret}/ws")
        assert second.value.status == 409
        await ws.send_str(json.dumps(["stdin", "\r"]))  # Enter: from the lobby into the exercise
        async with asyncio.timeout(60):
            while FIRST_INJECT.encode() not in screen:
                await asyncio.sleep(0.1)
        await ws.close()
        await rig.host.wait_for(lambda: not rig.joined("Priya"), 30)
        reader.cancel()
    assert rig.host.connected() == []
    assert not rig.host.browser.consoles
    ops = [(e["op"], e["detail"]["name"]) for e in rig.lines("facilitator")]
    assert ops == [("join", "Priya"), ("leave", "Priya")]


async def test_a_reloaded_page_gets_its_seat_back_while_its_old_console_is_still_leaving(tmp_path):
    """A reload closes the page's socket and opens a new one at once; the old console on the host
    still holds the seat for a moment. The new socket waits for it to leave, not a 409."""
    async with hosted(tmp_path, browser_scenario()) as rig, aiohttp.ClientSession() as http:
        joined = await join_form(http, rig.host.join_link, "Priya", "dpo")
        secret = joined.headers["Location"].removeprefix("/play/")
        play = f"{rig.host.url.rsplit('/ws', 1)[0]}/play/{secret}/ws?width=120&height=40"
        first = await http.ws_connect(play)
        await rig.host.wait_for(lambda: rig.joined("Priya"), 60)
        await first.close()
        again = await http.ws_connect(play)  # the reload: no wait for the old console to go
        await rig.host.wait_for(
            lambda: [e["op"] for e in rig.lines("facilitator")] == ["join", "leave", "join"], 60
        )
        assert rig.joined("Priya")
        await again.close()
        await rig.host.wait_for(lambda: not rig.joined("Priya"), 30)
    ops = [(e["op"], e["detail"]["name"]) for e in rig.lines("facilitator")]
    assert ops == [("join", "Priya"), ("leave", "Priya"), ("join", "Priya"), ("leave", "Priya")]


async def test_the_room_display_shows_the_clock_and_what_the_room_received_and_nothing_else(tmp_path):
    async with hosted(tmp_path, browser_scenario(), start=False) as rig:
        # communications are played around the table; the DPO plays remotely: what is only for
        # her stays off the wall
        rig.session.set_participants([Participant("Room", "comms_owner")])
        await rig.host.call(rig.session.start)
        await rig.player("dpo", "Priya")
        await rig.host.run_until(20 * 60)
        async with aiohttp.ClientSession() as http:
            async with http.get(rig.host.room_link) as response:
                page = await response.text()
            async with http.get(rig.host.room_link + "/state") as response:
                state = await response.json()
    assert "Room display" in page and "/state" in page
    assert state["t"] == 20 * 60 and state["title"] == "Operation Nightingale"
    assert [i["title"] for i in state["injects"]] == ["Journalist calls the press office", FIRST_INJECT]
    everything = json.dumps(state)
    for secret in ("DPO ONLY", "STILL TO COME", "score", "expectation"):
        assert secret not in everything


# --- a real browser ------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

RECORD_SCREEN = """
window.__screen = "";
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = protocols ? new Native(url, protocols) : new Native(url);
  const decoder = new TextDecoder();
  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string") window.__screen += decoder.decode(event.data, {stream: true});
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
"""
"""The terminal draws on a canvas; this keeps the text the host sent it, to read back."""


def browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return "no Chromium at /usr/bin/chromium (apt-get install chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; no browser download needed)"
    return None


@pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")
async def test_a_player_joins_from_the_hosts_page_in_chromium_and_records_a_decision(tmp_path):
    from playwright.async_api import async_playwright

    async with hosted(tmp_path, browser_scenario()) as rig:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                args=CHROMIUM_ARGS,
                env={**os.environ, "HOME": str(tmp_path)},
            )
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                await page.add_init_script(RECORD_SCREEN)
                await page.goto(rig.host.join_link)
                await page.fill("#name", "Priya")
                await page.select_option("#role", "coordinator")
                await page.click("#join")
                await page.wait_for_url(re.compile(r"/play/"))
                await rig.host.wait_for(lambda: rig.joined("Priya"), 60)

                async def shown(text: str) -> None:
                    await page.wait_for_function(
                        f"window.__screen.includes({json.dumps(text)})", timeout=60_000
                    )

                await shown("Press Enter")
                await page.click("#terminal")
                await page.keyboard.press("Enter")  # from the lobby into the exercise
                await shown(FIRST_INJECT)
                await page.keyboard.press("a")  # record a decision: the action palette
                await shown("choose the action")
                await page.keyboard.type("appoint")
                await page.keyboard.press("Enter")
                await shown("Rationale")  # the decision form is open
                await page.keyboard.press("Control+s")
                try:
                    await rig.host.wait_for(lambda: bool(rig.lines("decision")), 30)
                except TimeoutError:
                    shot = tmp_path / "browser.png"
                    await page.screenshot(path=str(shot))
                    raise AssertionError(f"no decision was recorded; the browser showed {shot}") from None
            finally:
                await browser.close()
        await rig.host.wait_for(lambda: not rig.host.browser.consoles or not rig.joined("Priya"), 30)
    decision = rig.lines("decision")[0]
    assert (decision["role"], decision["by"], decision["action"]) == (
        "coordinator",
        "Priya",
        "appoint_coordinator",
    )
    on_disk = (tmp_path / "t.jsonl").read_text()
    assert '"action":"appoint_coordinator"' in on_disk and '"by":"Priya"' in on_disk


@pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")
async def test_a_browser_player_answers_the_hot_wash_and_reloads_back_to_it(tmp_path):
    from playwright.async_api import async_playwright

    from tabletop.model import HotwashQuestion

    scenario = browser_scenario().model_copy(
        update={"hotwash": [HotwashQuestion(question="What slowed you down?", kind="change")]}
    )
    async with hosted(tmp_path, scenario) as rig:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                args=CHROMIUM_ARGS,
                env={**os.environ, "HOME": str(tmp_path)},
            )
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                await page.add_init_script(RECORD_SCREEN)
                await page.goto(rig.host.join_link)
                await page.fill("#name", "Priya")
                await page.select_option("#role", "dpo")
                await page.click("#join")
                await page.wait_for_url(re.compile(r"/play/"))
                await rig.host.wait_for(lambda: rig.joined("Priya"), 60)

                async def shown(text: str) -> None:
                    await page.wait_for_function(
                        f"window.__screen.includes({json.dumps(text)})", timeout=60_000
                    )

                await shown("Press Enter")
                await page.click("#terminal")
                await page.keyboard.press("Enter")
                await shown(FIRST_INJECT)
                await rig.host.call(rig.session.end)
                await shown("What slowed you down?")  # the hot wash, in the browser
                await page.reload()  # the console restarts on the host and comes back to the seat
                await shown("Press Enter")
                await page.click("#terminal")
                await page.keyboard.press("Enter")
                await shown("What slowed you down?")
                await page.keyboard.type("Waiting for the controller's contact.")
                await shown("contact.")
                await page.keyboard.press("Control+s")
                try:
                    await rig.host.wait_for(lambda: bool(rig.lines("hotwash_answer")), 30)
                except TimeoutError:
                    shot = tmp_path / "browser.png"
                    await page.screenshot(path=str(shot))
                    raise AssertionError(f"no answer was recorded; the browser showed {shot}") from None
                await rig.host.call(rig.session.close_hotwash, "facilitator", by="Facilitator")
                await shown("closed the hot wash")
            finally:
                await browser.close()
        await rig.host.wait_for(lambda: not rig.host.browser.consoles or not rig.joined("Priya"), 30)
    answer = rig.lines("hotwash_answer")[0]
    assert (answer["role"], answer["by"], answer["text"]) == (
        "dpo",
        "Priya",
        "Waiting for the controller's contact.",
    )
