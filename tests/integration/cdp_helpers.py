"""Headless Chromium (Debian's chromium) driven over the Chrome DevTools Protocol with Debian's
python3-websocket: start the browser, evaluate JavaScript in the page, wait for a condition with a
deadline, click, type, take screenshots. Used by test_console.py; tools/deps.sh installs both."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket  # python3-websocket

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path():
    for name in CHROMIUM_NAMES:
        p = shutil.which(name)
        if p:
            return p
    return None


class CdpError(Exception):
    pass


class Browser:
    """One headless Chromium with one page; close() ends the process and removes its profile."""

    def __init__(self, width=1400, height=900, timeout=20.0):
        exe = chromium_path()
        if exe is None:
            raise CdpError("chromium not found: run tools/deps.sh")
        self.profile = tempfile.mkdtemp(prefix="warden-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-port=0", "--remote-allow-origins=*", "--user-data-dir=" + self.profile,
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = self._devtools_port(timeout)
        deadline = time.monotonic() + timeout
        ws_url = None
        while ws_url is None:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                ws_url = pages[0]["webSocketDebuggerUrl"]
            elif time.monotonic() > deadline:
                raise CdpError("chromium opened no page")
            else:
                time.sleep(0.05)
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _devtools_port(self, timeout):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CdpError("chromium exited with status %s" % self.proc.returncode)
            try:
                with open(path) as f:
                    first = f.readline().strip()
                if first:
                    return int(first)
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise CdpError("chromium did not open its DevTools port within %.0f s" % timeout)

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise CdpError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise CdpError("%s: %s" % (expr, r["exceptionDetails"].get("text")))
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=10.0, what=None):
        """Evaluate expr until it is truthy; returns its value (CdpError after timeout)."""
        deadline = time.monotonic() + timeout
        probe = "(() => { const v = (%s); return v instanceof Node ? true : v; })()" % expr  # a node: found
        while True:
            v = self.eval(probe)
            if v:
                return v
            if time.monotonic() > deadline:
                raise CdpError("timed out waiting for %s" % (what or expr))
            time.sleep(0.05)

    def goto(self, url, timeout=10.0):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && location.href === %s" % json.dumps(url), timeout,
                  "the page %s to load" % url)

    def click(self, selector):
        self.eval("document.querySelector(%s).click()" % json.dumps(selector))

    def fill(self, selector, value):
        self.eval("(() => { const e = document.querySelector(%s); e.value = %s; "
                  "e.dispatchEvent(new Event('input')); })()" % (json.dumps(selector), json.dumps(value)))

    def text(self, selector):
        return self.eval("(() => { const e = document.querySelector(%s); return e ? e.textContent : null; })()"
                         % json.dumps(selector))

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - the browser may be gone already
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
