"""The decision tool as a web page: Voila serves notebook 07, headless Chromium drives it.

Needs ``voila`` and ``playwright`` (pip) and Debian's ``chromium`` (apt); skipped with the reason when
any is missing. The screenshot goes to ``$RAGCOMPARE_ARTIFACT_DIR`` (default: ``tmp/artifacts`` in
the repository, which git ignores).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "07_decision_guide.ipynb"
CHROMIUM = os.environ.get("RAGCOMPARE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT_S = 120
RENDER_TIMEOUT_MS = 300_000


def _missing() -> str | None:
    if importlib.util.find_spec("voila") is None:
        return "voila is not installed (pip install voila)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def voila_url(tmp_path):
    """Start Voila on a random free localhost port; stop it afterwards."""
    port = _free_port()
    env = {**os.environ, "RAGCOMPARE_QUICK": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    log = (tmp_path / "voila.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(NOTEBOOK), f"--port={port}", "--no-browser",
         "--Voila.ip=127.0.0.1", "--ServerApp.log_level=WARN"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                urllib.request.urlopen(url + "api", timeout=2)
                break
            except urllib.error.HTTPError:  # any HTTP answer (even 403) means the server is up
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    pytest.fail("voila did not start:\n" + (tmp_path / "voila.log").read_text()[-3000:])
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _artifact_dir() -> Path:
    out = Path(os.environ.get("RAGCOMPARE_ARTIFACT_DIR", ROOT / "tmp" / "artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _click_until_card_changes(page, button: str, previous: str) -> str:
    """Click a button and wait until the last recommendation card's text differs; return it."""
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_function(
        "([prev]) => { const c = document.querySelectorAll('.rc-card');"
        " return c.length && c[c.length - 1].innerText !== prev; }",
        arg=[previous], timeout=60_000)
    return page.locator(".rc-card").last.inner_text()


def test_voila_decision_tool_reacts(voila_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(voila_url, timeout=RENDER_TIMEOUT_MS)
            card = page.locator(".rc-card .rc-approach").last
            card.wait_for(timeout=RENDER_TIMEOUT_MS)
            panel = page.locator(".rc-card").last
            before = panel.inner_text()
            assert "p95" in before or "Infeasible" in before

            # one-click preset: "media" (10M docs, 50 ms, low) differs from the default needs
            after_preset = _click_until_card_changes(page, "media", before)
            assert "10,000,000 docs" in after_preset

            # then the accuracy toggle: "high" changes the need (and the recommendation text)
            after_toggle = _click_until_card_changes(page, "high", after_preset)
            assert "accuracy high" in after_toggle
            shot = _artifact_dir() / "voila_decision_tool.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
