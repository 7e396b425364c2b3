"""The HTML report in a real browser: headless Chromium loads it with no console error, no
network request and every preview decoded, and a screenshot of it is not blank.

Console errors come from Chromium's DevTools protocol over ``--remote-debugging-pipe``
(fd 3 in, fd 4 out, NUL-separated JSON), which needs no websocket library. The checks are
proven on pages with deliberate faults, so a silent harness cannot pass for a clean page.
Skips with a reason where no Chromium is installed (`.ci/install-chromium.sh` installs it).
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image


def _find_chromium() -> str | None:
    """DIS_AUDIT_CHROMIUM names a browser binary ('none' turns the browser tests off); else look on PATH."""
    chosen = os.environ.get("DIS_AUDIT_CHROMIUM")
    if chosen is not None:
        return None if chosen.lower() in ("", "0", "none", "off") else shutil.which(chosen)
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


CHROMIUM = _find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH (or DIS_AUDIT_CHROMIUM=none): run .ci/install-chromium.sh (Debian package 'chromium')",
)

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars",
]
TIMEOUT = 60.0


class DevTools:
    """A headless Chromium driven over the DevTools pipe; collects console errors and network requests."""

    def __init__(self, user_data_dir: Path) -> None:
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Park the child's ends above fd 10 so dup2 onto 3 and 4 can never clobber one of them.
        child_in = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def wire_fds() -> None:  # runs in the child: the protocol wants exactly fds 3 and 4
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds, close_fds=False,
        )
        os.close(child_in)
        os.close(child_out)
        self._write = to_chrome_w
        self._read = from_chrome_r
        self._next_id = 0
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._read, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self._inbox.put(None)
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                self._inbox.put(json.loads(raw))

    def _next(self, deadline: float) -> dict[str, Any]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("chromium did not answer in time")
        msg = self._inbox.get(timeout=left)
        if msg is None:
            raise RuntimeError("chromium closed the DevTools pipe")
        return msg

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict[str, Any]:
        """Send one command and wait for its answer; events that arrive meanwhile are kept."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._write, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._next(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = TIMEOUT) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        deadline = time.monotonic() + timeout
        while True:
            event = self._next(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return

    def drain(self, seconds: float) -> None:
        """Collect events for a moment after load (late console messages, failed loads)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.events.append(self._next(deadline))
            except (TimeoutError, queue.Empty):
                return

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)


def load_page(url: str, tmp: Path) -> dict[str, Any]:
    """Open ``url``; return its console errors, its non-local network requests and its broken images."""
    browser = DevTools(tmp / "profile-cdp")
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Page.navigate", {"url": url}, session)
        browser.wait_event("Page.loadEventFired")
        browser.drain(0.5)
        probe = browser.call(
            "Runtime.evaluate",
            {
                "expression": "JSON.stringify({images: document.images.length, broken: Array.from(document.images)"
                ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt), title: document.title})",
                "returnByValue": True,
            },
            session,
        )
    finally:
        browser.close()
    errors: list[str] = []
    requests: list[str] = []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            url_seen = params["request"]["url"]
            if not url_seen.startswith(("data:", "file:", "about:")):
                requests.append(url_seen)
    page = json.loads(probe["result"]["value"])
    return {"errors": errors, "requests": requests, **page}


def screenshot(url: str, tmp: Path, name: str = "shot.png") -> Path:
    out = tmp / name
    subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile-shot'}", f"--screenshot={out}", "--window-size=1280,2000", url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT, check=True,
    )
    return out


def is_blank(png: Path) -> bool:
    """A screenshot is blank when it is (nearly) one flat colour."""
    grey = np.asarray(Image.open(png).convert("L"), dtype=np.float32)
    background = np.median(grey)
    return float(grey.std()) < 4.0 or float((np.abs(grey - background) > 24).mean()) < 0.005


# ----------------------------------------------------------------------------- the harness itself


def test_blank_detector_tells_flat_from_drawn(tmp_path: Path) -> None:
    Image.new("RGB", (320, 200), (255, 255, 255)).save(tmp_path / "flat.png")
    drawn = np.full((200, 320, 3), 255, np.uint8)
    drawn[20:80, 20:300] = (37, 99, 235)
    Image.fromarray(drawn).save(tmp_path / "drawn.png")
    assert is_blank(tmp_path / "flat.png")
    assert not is_blank(tmp_path / "drawn.png")


@needs_chromium
def test_harness_catches_a_deliberate_js_error_and_console_error(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><title>broken</title><h1>x</h1>"
        "<script>console.error('deliberate console error'); throw new Error('deliberate boom');</script>"
    )
    seen = load_page(page.as_uri(), tmp_path)
    assert any("deliberate boom" in e for e in seen["errors"]), seen
    assert any("deliberate console error" in e for e in seen["errors"]), seen


@needs_chromium
def test_harness_catches_network_use_and_csp_violations(tmp_path: Path) -> None:
    # The report's own CSP: a reference to the network is refused, and the refusal is a console error.
    page = tmp_path / "csp.html"
    page.write_text(
        "<!doctype html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:\">"
        "<title>csp</title><img alt=\"remote\" src=\"http://127.0.0.1:9/x.png\">"
    )
    seen = load_page(page.as_uri(), tmp_path)
    assert seen["errors"], seen
    assert seen["broken"] == ["remote"], seen
    # Without a CSP the request goes out, and the harness sees it.
    page2 = tmp_path / "net.html"
    page2.write_text('<!doctype html><title>net</title><img alt="remote" src="http://127.0.0.1:9/y.png">')
    seen2 = load_page(page2.as_uri(), tmp_path)
    assert any("127.0.0.1:9/y.png" in r for r in seen2["requests"]), seen2


@needs_chromium
def test_harness_screenshot_of_an_empty_page_is_blank(tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text("<!doctype html><title>empty</title>")
    assert is_blank(screenshot(page.as_uri(), tmp_path, "empty.png"))


# ----------------------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the example dataset, with a hostile file name and a duplicate group added."""
    from tests.test_html import example_report

    return example_report(tmp_path_factory.mktemp("browser"))


@needs_chromium
def test_report_loads_without_console_errors_or_network(report_page: Path, tmp_path: Path) -> None:
    seen = load_page(report_page.as_uri(), tmp_path)
    assert seen["errors"] == [], seen["errors"]
    assert seen["requests"] == [], seen["requests"]
    assert seen["images"] >= 10
    assert seen["broken"] == [], f"previews that did not decode: {seen['broken']}"
    assert seen["title"].startswith("dis-audit report")


@needs_chromium
def test_report_screenshot_is_not_blank(report_page: Path, tmp_path: Path) -> None:
    shot = screenshot(report_page.as_uri(), tmp_path)
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
    assert not is_blank(shot)
