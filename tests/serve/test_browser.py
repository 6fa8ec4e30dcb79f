"""A real headless Chromium walks the workbench: sign in, queue, person, finding, case, Chinese.

Runs Debian's chromium through Playwright (`executable_path`); skipped only when chromium is
absent outside CI. Under CI=true a missing chromium fails: `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from molehunt.serve import create_app
from molehunt.serve.workbench import Workbench
from tests.serve.conftest import Clock

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing under CI=true: .ci/run installs it", pytrace=False)
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(detected: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The workbench on a loopback port, in a thread; yields (base URL, investigator token)."""
    workspace = tmp_path / "ws"
    shutil.copytree(detected, workspace)
    clock = Clock()
    token = Workbench(workspace, clock).create_token("ivy", "investigator")[1]
    port = _free_port()
    config = uvicorn.Config(
        create_app(workspace, now=clock), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    server.should_exit = True
    thread.join(timeout=20)


def test_investigator_walks_the_workbench_in_chromium(served: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="en-GB")
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{base}/")
            expect(page.locator("h1")).to_have_text("Sign in")
            page.fill("#token", token)
            page.click("#sign-in")
            expect(page.locator("h1")).to_contain_text("Queue for")
            expect(page.locator("#queue tbody tr")).not_to_have_count(0)
            person = page.locator("#queue a.person").first.inner_text()

            page.locator("#queue a.person").first.click()
            expect(page.locator("h1")).to_have_text(f"Person {person}")
            expect(page.locator("svg")).not_to_have_count(0)
            page.click("#finding-link")
            expect(page.locator("h1")).to_contain_text(person)

            page.fill("#title", "Copying before leaving")
            page.locator("#open-case button").click()
            expect(page.locator("h1")).to_contain_text("Copying before leaving")
            page.fill("#note", "Asked the line manager")
            page.locator("#note-form button").click()
            expect(page.locator("#notes")).to_contain_text("Asked the line manager")
            page.select_option("#verdict", "confirmed")
            page.fill("#reason", "Documents found on the drive")
            page.locator("#verdict-form button").click()
            expect(page.locator("#case-verdict")).to_have_text("confirmed")

            page.click("a[data-lang='zh-CN']")
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            expect(page.locator("#case-verdict")).to_have_text("确认")
            page.click("a[data-nav='queue']")
            expect(page.locator("h1")).to_contain_text("的队列")
            outside = [url for url in requested if not url.startswith(base)]
            assert not outside, f"the pages loaded something from elsewhere: {outside[:3]}"
        finally:
            browser.close()
