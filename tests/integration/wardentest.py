"""Black-box test harness for the Warden oneM2M CSE (docs/http-contract.md).

Standard library only.  Provides:

* ``WardenServer``  - start the real binary in a fresh temporary directory on a
  free port, wait for ``warden: ready`` on stderr, stop it with SIGTERM (exit
  status must be 0) or kill it with SIGKILL (durability tests).
* ``Client``        - a tiny oneM2M-over-HTTP client (TS-0009 mapping) built on
  http.client; every call returns ``Resp(status, rsc, headers, body)``.
* ``WardenTestCase`` - unittest base class with oneM2M assertions.
* helpers: ``free_port``, ``uniq``, ``et_in``, ``raw_exchange`` ...

Environment:
  WARDEN_BIN       path of the server binary (default /work/main/build/warden)
  WARDEN_KEEP_TMP  if set, temporary server directories are not removed

Running: every tests/integration/test_*.py is a standalone unittest module,
  WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_resources.py
  WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_resources.py ExpirationTest
  for f in tests/integration/test_*.py; do WARDEN_BIN=build/warden /usr/bin/python3 "$f" || exit 1; done
Each exits non-zero when a test fails.  Test names carry the clause they check
(test_ts0004_7_3_2_1_... = TS-0004 clause 7.3.2.1; test_contract_... = docs/http-contract.md).
"""

import calendar
import collections
import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

DEFAULT_BIN = "/work/main/build/warden"
READY_MARKER = "warden: ready"
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# Contract defaults.
ADMIN = "CAdmin"
CSE_ID = "/id-in"
CSE_RN = "cse-in"
SPID = "warden.example.com"

# Resource types (TS-0004 Table 6.3.4.2.1-1).
TY_AE = 2
TY_CNT = 3
TY_CIN = 4
TY_CB = 5

# oneM2M RSC -> HTTP status (docs/http-contract.md "Responses", TS-0009 6.3.2).
HTTP_FOR_RSC = {
    1000: 202, 1001: 202, 1002: 202,
    2000: 200, 2002: 200, 2004: 200, 2001: 201,
    4000: 400, 4102: 400,
    4001: 501, 5001: 501,
    4004: 404, 4005: 405, 4015: 415,
    4103: 403, 4106: 403, 4107: 403, 4117: 403,
    4105: 409, 5000: 500, 5206: 501, 5207: 406, 4008: 504,
    4108: 403, 5203: 403, 5103: 404, 4124: 409, 4127: 403, 5107: 404,
}

ROOT_KEY = {TY_AE: "m2m:ae", TY_CNT: "m2m:cnt", TY_CIN: "m2m:cin", TY_CB: "m2m:cb"}


class _Omit:
    """Sentinel: leave the header out of the request entirely."""

    def __repr__(self):
        return "OMIT"


OMIT = _Omit()

_counter = itertools.count(1)


def uniq(prefix="r"):
    """A resource-name-safe unique string."""
    return "%s%d%04d" % (prefix, os.getpid() % 100000, next(_counter))


def et_in(seconds):
    """oneM2M timestamp (UTC, YYYYMMDDTHHMMSS) ``seconds`` from now."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() + seconds))


def ts_epoch(ts):
    """The oneM2M timestamp ts (UTC, YYYYMMDDTHHMMSS) as seconds since the epoch."""
    return calendar.timegm(time.strptime(ts, "%Y%m%dT%H%M%S"))


def sleep_past(ts, margin=1.0):
    """Sleep until ``margin`` seconds after the oneM2M timestamp ts (whole seconds: et_in(n) is
    n-1 to n seconds away)."""
    time.sleep(max(0.0, ts_epoch(ts) - time.time() + margin))


# Ports free_port() / free_udp_port() handed out in this process: never handed out twice. The kernel
# may give the port it just released to the next bind(0), so two picks in a row (a server's HTTP and
# HTTPS ports) could otherwise be the same port, which the server refuses at start.
_HANDED_OUT = set()


def _pick(kind):
    for _ in range(64):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no port that was not handed out before")


def free_port():
    """A TCP port free now on 127.0.0.1, never one this process was given before."""
    return _pick(socket.SOCK_STREAM)


def free_udp_port():
    """A UDP port free now on 127.0.0.1, never one this process was given before."""
    return _pick(socket.SOCK_DGRAM)


def warden_bin():
    # Absolute, because the server runs with its temporary directory as cwd.
    return os.path.abspath(os.environ.get("WARDEN_BIN", DEFAULT_BIN))


# --------------------------------------------------------------------------
# Server process control
# --------------------------------------------------------------------------

class ServerError(Exception):
    pass


class WardenServer:
    """One server process bound to one temporary directory / store.

    ``standard_args`` (default True) passes the contract's start line
    (--http.port, --http.address, --store.path, --log.level=warn); set it to
    False to control every argument yourself (config tests).
    """

    def __init__(self, extra_args=(), standard_args=True, tmpdir=None, port=None):
        self.binary = warden_bin()
        self.extra_args = list(extra_args)
        self.standard_args = standard_args
        self.own_tmp = tmpdir is None
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="warden-it-")
        self.auto_port = port is None
        self.port = port or free_port()
        self.store_path = os.path.join(self.tmpdir, "warden.db")
        self.proc = None
        self.stderr_lines = []
        self.stdout_lines = []
        self._ready = threading.Event()
        self._threads = []

    # -- argv -------------------------------------------------------------
    def argv(self):
        args = [self.binary]
        if self.standard_args:
            args += [
                "--http.port=%d" % self.port,
                "--http.address=127.0.0.1",
                "--store.path=%s" % self.store_path,
                "--log.level=warn",
            ]
        return args + self.extra_args

    # -- lifecycle --------------------------------------------------------
    def spawn(self):
        """Start the process without waiting for readiness."""
        if not os.path.exists(self.binary):
            raise ServerError("server binary not found: %s (set WARDEN_BIN)" % self.binary)
        self.stderr_lines = []
        self.stdout_lines = []
        self._ready = threading.Event()
        self.proc = subprocess.Popen(
            self.argv(), cwd=self.tmpdir, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines, False), daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self

    def _pump(self, stream, sink, watch_ready):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            sink.append(line)
            if watch_ready and READY_MARKER in line:
                self._ready.set()
        stream.close()

    def start(self, timeout=READY_TIMEOUT):
        # A port picked by free_port() can be taken by another process before the
        # server binds it; only then, pick another one (at most 3 attempts).
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except ServerError:
                lost_port = "cannot listen" in self.output() or "in use" in self.output()
                if not (self.auto_port and self.standard_args and lost_port) or attempt == 2:
                    raise
                self.port = free_port()

    def _start_once(self, timeout):
        self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return self
            if self.proc.poll() is not None:
                self._join_pumps()
                raise ServerError("server exited with %s before ready; output:\n%s"
                                  % (self.proc.returncode, self.output()))
        self.proc.kill()
        self.proc.wait()
        raise ServerError("server not ready within %.0fs; output:\n%s" % (timeout, self.output()))

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit by itself; returns exit status (None on timeout)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join_pumps()
        return rc

    def _join_pumps(self):
        for t in self._threads:
            t.join(2)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; returns the exit status (raises if it does not exit)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ServerError("server did not exit within %.0fs of SIGTERM" % timeout)
        self._join_pumps()
        return rc

    def kill9(self):
        """SIGKILL, as a crash would do."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._join_pumps()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        if self.running():
            self.kill9()
        if self.own_tmp and not os.environ.get("WARDEN_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def output(self):
        return "\n".join(["[stderr] " + l for l in self.stderr_lines] +
                         ["[stdout] " + l for l in self.stdout_lines])

    def client(self):
        return Client(self.port)


# --------------------------------------------------------------------------
# HTTP client
# --------------------------------------------------------------------------

Resp = collections.namedtuple("Resp", "status rsc headers body")
Resp.__doc__ = """(http status, X-M2M-RSC as int or None, http.client.HTTPMessage,
parsed JSON body or raw bytes when the body is empty/not JSON)."""


class Client:
    """Minimal oneM2M HTTP client.  A new TCP connection per request."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.last_ri = None

    def request(self, method, path, origin=OMIT, ri=None, rvi="3", ty=None, body=None,
                headers=None, query=None, content_type=None, accept="application/json"):
        """Send one request.

        origin/ri/rvi: header values; OMIT leaves the header out; ri=None
        generates a fresh request id.  ty: appended to the content type for
        CREATE.  body: dict/list (JSON-encoded), str or bytes (sent raw).
        query: dict or list of pairs (urlencoded, '+' kept literal when given
        inside a value string).  content_type: overrides the Content-Type
        header entirely (ty is then ignored).
        """
        hdrs = {}
        if accept is not None:
            hdrs["Accept"] = accept
        if origin is not OMIT:
            hdrs["X-M2M-Origin"] = origin
        if ri is None:
            ri = "ri-%s" % uniq("q")
        if ri is not OMIT:
            hdrs["X-M2M-RI"] = ri
            self.last_ri = ri
        else:
            self.last_ri = None
        if rvi is not OMIT:
            hdrs["X-M2M-RVI"] = rvi
        payload = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                payload = bytes(body)
            elif isinstance(body, str):
                payload = body.encode("utf-8")
            else:
                payload = json.dumps(body).encode("utf-8")
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        elif payload is not None or ty is not None:
            hdrs["Content-Type"] = "application/json" + (";ty=%d" % ty if ty is not None else "")
        if headers:
            hdrs.update(headers)
        url = path
        if query:
            pairs = query.items() if isinstance(query, dict) else query
            url += ("&" if "?" in url else "?") + "&".join(
                "%s=%s" % (urllib.parse.quote(str(k), safe=""), urllib.parse.quote(str(v), safe="+"))
                for k, v in pairs)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.putrequest(method, url, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            if payload is not None:
                conn.putheader("Content-Length", str(len(payload)))
            elif method in ("POST", "PUT"):
                conn.putheader("Content-Length", "0")
            conn.endheaders()
            if payload is not None:
                conn.send(payload)
            r = conn.getresponse()
            raw = r.read()
            status, msg = r.status, r.msg
        finally:
            conn.close()
        rsc_hdr = msg.get("X-M2M-RSC")
        try:
            rsc = int(rsc_hdr) if rsc_hdr is not None else None
        except ValueError:
            rsc = None
        parsed = raw
        if raw.strip():
            try:
                parsed = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                parsed = raw
        return Resp(status, rsc, msg, parsed)

    # Convenience wrappers ---------------------------------------------------
    def create(self, path, ty, attrs, origin=ADMIN, root=None, **kw):
        body = attrs if root is False else {root or ROOT_KEY[ty]: attrs}
        return self.request("POST", path, origin=origin, ty=ty, body=body, **kw)

    def retrieve(self, path, origin=ADMIN, **kw):
        return self.request("GET", path, origin=origin, **kw)

    def update(self, path, root, attrs, origin=ADMIN, **kw):
        return self.request("PUT", path, origin=origin, body={root: attrs}, **kw)

    def delete(self, path, origin=ADMIN, **kw):
        return self.request("DELETE", path, origin=origin, **kw)

    def register_ae(self, origin="C", rn=None, api="Nwardentest", rr=False, extra=None, **kw):
        attrs = {"api": api, "rr": rr}
        if rn is not None:
            attrs["rn"] = rn
        if extra:
            attrs.update(extra)
        return self.create("/" + CSE_RN, TY_AE, attrs, origin=origin, **kw)


def raw_exchange(port, data, timeout=5.0, host="127.0.0.1"):
    """Send raw bytes, then read until the peer closes or a full response is read.

    Returns (status or None, headers dict (lower-case keys), body bytes,
    'closed' flag).  Raises socket.timeout if nothing happens within timeout.
    """
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_http_response(s, timeout)
    finally:
        s.close()


def served_at_once(port, n, request, allowed, rounds=4):
    """For a per-address connection limit of ``allowed``: open n connections to port at once, then
    send request (raw bytes) on each; returns which of them got HTTP 200 with rsc 2000.

    Which connections are the ones too many is not fixed (the server's threads accept in parallel),
    only how many. Fewer than allowed served means the server had not yet seen an earlier
    connection close (a readiness probe's, or the last round's): the round is repeated a little
    later, at most ``rounds`` times. More than allowed is returned at once."""
    for _ in range(rounds):
        time.sleep(0.5)
        socks = []
        try:
            for _ in range(n):
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=3))
            time.sleep(0.3)
            served = []
            for s in socks:
                try:
                    s.sendall(request)
                    status, hdrs, _, _ = read_http_response(s, 3.0)
                except (OSError, socket.timeout):
                    status, hdrs = None, {}
                served.append(status == 200 and hdrs.get("x-m2m-rsc") == "2000")
        finally:
            for s in socks:
                s.close()
        if served.count(True) >= allowed:
            break
    return served


def retrieve_when_served(client, path, origin, timeout=5.0):
    """client.retrieve(path) once the server serves this address again (connections just closed
    leave its per-address count as it notices them); None if it still refuses after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.retrieve(path, origin=origin)
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)


def read_http_response(sock, timeout):
    """Read one HTTP response from sock.  See raw_exchange for the result."""
    sock.settimeout(timeout)
    buf = b""
    deadline = time.monotonic() + timeout
    head_end = -1
    closed = False
    while head_end < 0:
        if time.monotonic() > deadline:
            raise socket.timeout("no response head within %.1fs" % timeout)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            closed = True
            break
        buf += chunk
        head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None, {}, buf, closed
    head, body = buf[:head_end].decode("iso-8859-1"), buf[head_end + 4:]
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    hdrs = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    want = int(hdrs.get("content-length", "0") or 0)
    while len(body) < want and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            closed = True
            break
        body += chunk
    return status, hdrs, body, closed


# --------------------------------------------------------------------------
# unittest support
# --------------------------------------------------------------------------

_SHARED = None


def start_shared_server():
    """Use as ``setUpModule``: every WardenTestCase class of the module shares one server."""
    global _SHARED
    _SHARED = WardenServer().start()


def stop_shared_server():
    """Use as ``tearDownModule``: SIGTERM the shared server; its exit status must be 0."""
    global _SHARED
    srv, _SHARED = _SHARED, None
    if srv is not None:
        _stop_checked(srv)


def _stop_checked(srv):
    try:
        if srv.running():
            rc = srv.stop()
            if rc != 0:
                raise AssertionError("server exit status after SIGTERM is %r, want 0; output:\n%s"
                                     % (rc, srv.output()))
    finally:
        srv.cleanup()


class WardenTestCase(unittest.TestCase):
    """Base class.  The server comes from setUpModule (start_shared_server) when the
    module uses one, else each class starts its own in setUpClass.

    Subclasses may set ``server_args`` (extra command-line arguments; forces an own server).
    """

    server_args = ()
    server = None
    c = None
    maxDiff = 4000
    _own_server = False

    @classmethod
    def setUpClass(cls):
        if _SHARED is not None and not cls.server_args:
            if not _SHARED.running():
                raise ServerError("shared server is no longer running; output:\n" + _SHARED.output())
            cls.server, cls._own_server = _SHARED, False
        else:
            cls.server, cls._own_server = WardenServer(extra_args=cls.server_args).start(), True
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        cls.server = None
        if srv is not None and cls._own_server:
            _stop_checked(srv)

    # -- assertions --------------------------------------------------------
    def describe(self, r):
        body = r.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body)[:600]
        else:
            body = repr(body[:600])
        return "HTTP %s, X-M2M-RSC %s, body %s" % (r.status, r.headers.get("X-M2M-RSC"), body)

    def assertRsc(self, r, rsc, msg=None):
        """Both the oneM2M RSC and its mapped HTTP status; error bodies carry m2m:dbg."""
        text = "%sexpected RSC %d (HTTP %s), got %s" % (
            (msg + ": ") if msg else "", rsc, HTTP_FOR_RSC.get(rsc), self.describe(r))
        self.assertEqual(r.rsc, rsc, text)
        self.assertEqual(r.status, HTTP_FOR_RSC[rsc], text)
        if rsc >= 4000:
            self.assertIsInstance(r.body, dict, "error body is not a JSON object: " + text)
            self.assertIsInstance(r.body.get("m2m:dbg"), str, "error body lacks m2m:dbg string: " + text)
        return r

    def assertRscIn(self, r, rscs, msg=None):
        text = "%sexpected RSC in %s, got %s" % ((msg + ": ") if msg else "", sorted(rscs), self.describe(r))
        self.assertIn(r.rsc, rscs, text)
        self.assertEqual(r.status, HTTP_FOR_RSC[r.rsc], text)
        return r

    def res(self, r, root):
        """The resource object under ``root`` in a response body."""
        self.assertIsInstance(r.body, dict, self.describe(r))
        self.assertIn(root, r.body, self.describe(r))
        self.assertIsInstance(r.body[root], dict, self.describe(r))
        return r.body[root]

    def assertAlive(self):
        r = self.c.retrieve("/" + CSE_RN, origin=ADMIN)
        self.assertRsc(r, 2000, "server no longer answers a normal retrieve")
        self.assertEqual(self.res(r, "m2m:cb").get("rn"), CSE_RN)

    # -- common fixtures ---------------------------------------------------
    def new_ae(self, origin="C", rn=None, **kw):
        """Register an AE; returns (aei, rn, path, ae_dict)."""
        r = self.c.register_ae(origin=origin, rn=rn, **kw)
        self.assertRsc(r, 2001, "AE registration")
        ae = self.res(r, "m2m:ae")
        return ae["aei"], ae["rn"], "/%s/%s" % (CSE_RN, ae["rn"]), ae

    def new_cnt(self, parent, origin, rn=None, **attrs):
        """Create a container; returns (path, cnt_dict)."""
        rn = rn or uniq("cnt")
        attrs["rn"] = rn
        r = self.c.create(parent, TY_CNT, attrs, origin=origin)
        self.assertRsc(r, 2001, "container create")
        return parent + "/" + rn, self.res(r, "m2m:cnt")

    def new_cin(self, parent, origin, con, rn=None, **attrs):
        attrs["con"] = con
        if rn:
            attrs["rn"] = rn
        r = self.c.create(parent, TY_CIN, attrs, origin=origin)
        self.assertRsc(r, 2001, "contentInstance create")
        return self.res(r, "m2m:cin")


def main():
    unittest.main(verbosity=2)
