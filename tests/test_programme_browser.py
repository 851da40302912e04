"""The evidence pack opens in Chromium with no network at all, prints, and shows its plots.

Runs Debian's Chromium (/usr/bin/chromium) through Playwright; skipped, with the reason, on a
machine without either (`make test` passes without a browser).
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from programme_support import build_programme_folder

from tabletop.programme.pack import write_pack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
]


def browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return "no Chromium at /usr/bin/chromium (apt-get install chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; no browser download needed)"
    return None


@pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")
async def test_the_pack_opens_offline_with_nothing_fetched_and_prints(tmp_path):
    from playwright.async_api import async_playwright

    made = build_programme_folder(tmp_path / "programme")
    pack = write_pack(
        made.folder,
        tmp_path / "pack",
        since=date(2025, 7, 1),
        as_of=date(2026, 7, 1),
        generated_at=datetime(2026, 7, 1, 12, tzinfo=UTC),
    )
    page_file = pack.files[0]
    requested: list[str] = []
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
        try:
            context = await browser.new_context(offline=True)  # no network, whatever the page asks

            async def refuse(route):
                if route.request.url != page_file.as_uri():
                    requested.append(route.request.url)
                    await route.abort()
                else:
                    await route.continue_()

            await context.route("**/*", refuse)
            page = await context.new_page()
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("requestfailed", lambda request: requested.append(request.url))
            await page.goto(page_file.as_uri())
            assert await page.title() == "Rehearsal programme evidence, 2025-07-01 to 2026-07-01"
            assert await page.locator("svg").count() == 2
            assert await page.locator("svg polyline").count() == 4
            assert await page.locator("h2").all_inner_texts() == [
                "Stage",
                "Over time",
                "Rehearsals per team and kind",
                "Rehearsals counted as evidence in the period",
                "Follow-up actions",
                "Risks",
                "Managers' decisions on follow-ups",
                "Transcripts excluded",
                "How to check this pack",
            ]
            body = await page.inner_text("body")
            assert made.followup("R5", "restore_backup") in body
            await page.emulate_media(media="print")
            pdf = await page.pdf(format="A4")
            assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        finally:
            await browser.close()
    assert requested == [] and errors == []
