"""The HTML report used as a person uses it: in headless Chromium, click each link of the navigation
bar and see its section come into view, scroll through the findings and see every preview decoded,
and take a screenshot of the top of the page (the one in docs/img/ comes from this test).

The browser is driven over the DevTools pipe by ``tests/test_html_browser.DevTools``; clicks are
real mouse events at the link's position on screen, not ``element.click()``. Skips with a reason
where Chromium is missing (`.ci/install-chromium.sh` installs it). ``DIS_AUDIT_DOCS_SCREENSHOT=PATH``
also writes the screenshot to PATH (how docs/img/report_top.png is made).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.test_html_browser import DevTools, is_blank, needs_chromium

VIEW_W, VIEW_H = 1280, 800


class Tab:
    """One page in a DevTools session, with the few gestures a person makes."""

    def __init__(self, browser: DevTools, url: str) -> None:
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Page"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": VIEW_W, "height": VIEW_H, "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": url})
        browser.wait_event("Page.loadEventFired")

    def call(self, method: str, params: dict | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def js(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", {"expression": f"JSON.stringify({expression})", "returnByValue": True})
        return json.loads(reply["result"]["value"])

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": x, "y": y, "button": "left" if kind != "mouseMoved" else "none",
                       "clickCount": 1})

    def settle(self, seconds: float = 0.3) -> None:
        time.sleep(seconds)  # let a scroll finish (no smooth scrolling in the page, this is just margin)

    def screenshot(self, out: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        out.write_bytes(base64.b64decode(data))
        return out


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_html import example_report

    return example_report(tmp_path_factory.mktemp("person"))


@needs_chromium
def test_a_person_clicks_through_the_nav_and_sees_every_preview(report_page: Path, tmp_path: Path) -> None:
    browser = DevTools(tmp_path / "profile")
    try:
        tab = Tab(browser, report_page.as_uri())
        links = tab.js("Array.from(document.querySelectorAll('nav a')).map(a => a.getAttribute('href'))")
        assert links[:4] == ["#summary", "#datasets", "#findings", "#duplicates"], links
        page_h = tab.js("document.documentElement.scrollHeight")
        assert page_h > 2 * VIEW_H, "the example page is long enough for scrolling to mean something"
        for href in links:
            tab.js("window.scrollTo(0, 0)")  # back to the top, where the nav bar is
            tab.settle(0.1)
            box = tab.js(f"(r => ({{x: r.x + r.width / 2, y: r.y + r.height / 2, w: r.width}}))"
                         f"(document.querySelector('nav a[href=\"{href}\"]').getBoundingClientRect())")
            assert box["w"] > 0 and 0 < box["y"] < VIEW_H, (href, box)
            tab.click(box["x"], box["y"])
            tab.settle()
            where = tab.js(f"({{hash: location.hash, top: document.querySelector('{href}').getBoundingClientRect().top,"
                           f" y: window.scrollY, max: document.documentElement.scrollHeight - innerHeight}})")
            assert where["hash"] == href, (href, where)
            # The section's top is on screen: at the top of the window, or lower only when the page
            # cannot scroll further (the last sections of the page).
            assert -2 <= where["top"] < VIEW_H, (href, where)
            assert abs(where["top"]) <= 2 or where["y"] >= where["max"] - 2, (href, where)
        # Scrolled to the findings, every preview there has loaded and has pixels.
        tab.js("window.scrollTo(0, 0)")
        tab.js("document.querySelector('#findings').scrollIntoView()")
        tab.settle()
        previews = tab.js("Array.from(document.querySelectorAll('#findings img, #duplicates img'))"
                          ".map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth}))")
        assert len(previews) >= 6, previews
        assert [p["alt"] for p in previews if not p["ok"]] == []
        # The top of the page, as a reader first sees it.
        tab.js("window.scrollTo(0, 0)")
        tab.settle(0.1)
        shot = tab.screenshot(tmp_path / "report_top.png")
    finally:
        browser.close()
    with Image.open(shot) as im:
        assert im.size == (VIEW_W, VIEW_H)
    assert not is_blank(shot)
    target = os.environ.get("DIS_AUDIT_DOCS_SCREENSHOT")
    if target:
        shutil.copyfile(shot, target)
