"""Headless Chromium driven over its DevTools protocol on a pipe (`--remote-debugging-pipe`):
no driver, no websocket library, no browser download: the Chromium the system has, and the
standard library. Used by the report's tests and to take docs/report.png:

    .venv/bin/python -m tests.chromium runs/ETTh1-H96/report.html docs/report.png
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The browser on PATH ($CHROMIUM first, where set), or None."""
    for name in (os.environ.get("CHROMIUM"), *NAMES):
        if name and (path := shutil.which(name)):
            return path
    return None


@dataclass
class PageResult:
    """What a page did as it loaded: every console error, exception and failed load, every request
    that left the machine's files, the size of each <img>, and a full-page screenshot (PNG)."""

    title: str
    errors: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    screenshot: bytes = b""


class Chromium:
    """One headless browser; `open(path)` loads a page in a fresh tab and reports on it."""

    def __init__(self, executable: str, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self._profile = tempfile.mkdtemp(prefix="hybrid-chromium-")
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()
        args = ["--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--mute-audio",
                f"--user-data-dir={self._profile}", "about:blank"]
        # the protocol's pipe is the browser's fds 3 (commands in) and 4 (replies out); a shell puts
        # them there, as Popen can only keep fds at the numbers they have here (bash: dash's
        # redirections stop at fd 9)
        self._proc = subprocess.Popen(["bash", "-c", f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}', executable,
                                       *args], pass_fds=(to_browser, from_browser), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError):
            pass  # gone already: only the process is left to reap
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for fd in (self._in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe (did it start? try it by hand with --headless)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """One command; its result. Events that arrive meanwhile are kept for `wait_for`."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        os.write(self._out, json.dumps(command).encode() + b"\0")
        while True:
            message = self._read()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def wait_for(self, method: str, session: str) -> dict:
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._read())

    def open(self, page: Path) -> PageResult:
        """Load `page` in a new tab, wait for its load event, then read its images and take a
        screenshot of the whole page."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                          "deviceScaleFactor": 1, "mobile": False}, session)
        navigated = self.send("Page.navigate", {"url": page.resolve().as_uri()}, session)
        if navigated.get("errorText"):
            raise RuntimeError(f"{page}: {navigated['errorText']}")
        self.wait_for("Page.loadEventFired", session)

        def evaluate(expression: str) -> Any:
            return self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                  "awaitPromise": True}, session)["result"].get("value")

        # decoded, not only fetched: a broken data URL fails here
        evaluate("Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
        images = evaluate("[...document.images].map(i => ({alt: i.alt, complete: i.complete, "
                          "width: i.naturalWidth, height: i.naturalHeight}))")
        result = PageResult(title=evaluate("document.title"), images=images)
        size = self.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {
            "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}, session)
        result.screenshot = base64.b64decode(shot["data"])
        for event in [e for e in self._events if e.get("sessionId") == session]:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                result.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                result.errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                result.errors.append(params["entry"].get("text", ""))
            elif method == "Network.loadingFailed":
                result.errors.append(f"failed to load: {params.get('errorText')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:")):
                    result.remote_requests.append(url)
        self._events = [e for e in self._events if e.get("sessionId") != session]
        self.send("Target.closeTarget", {"targetId": target})
        return result


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.chromium PAGE.html SHOT.png", file=sys.stderr)
        return 2
    executable = find_chromium()
    if executable is None:
        print(f"no Chromium on PATH (looked for {', '.join(NAMES)})", file=sys.stderr)
        return 2
    with Chromium(executable) as browser:
        result = browser.open(Path(argv[0]))
    Path(argv[1]).write_bytes(result.screenshot)
    print(f"{argv[1]}: {len(result.screenshot)} bytes; {len(result.images)} images; errors: {result.errors or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
