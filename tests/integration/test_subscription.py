#!/usr/bin/python3
"""<subscription> (ty 23) and notifications, black-box.

TS-0004 7.4.8 (<subscription>: create checks, verification, criteria), TS-0004 7.5.1.2.2
(notification for <subscription>: event criteria, content type, expirationCounter),
7.5.1.2.3 (subscription verification), 7.5.1.2.4 (subscription deletion), TS-0001 10.2.10
(subscription and notification; 10.2.10.7 batching and latestNotify), as narrowed by the
"Subscriptions and notifications" section of docs/http-contract.md (test_contract_... names).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_subscription.py

Notifications are received by ``Receiver`` (an http.server on 127.0.0.1, port 0): every test
uses its own receiver paths, so notifications of different tests never mix.  Servers start
with --notify.allow=127.0.0.1/32 (the contract's test setting) unless a test is about that.
Three servers: the shared one, one for dead/hung receivers (so that their retries cannot
disturb other tests) and one started without --notify.allow.
"""

import collections
import http.server
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wardentest  # noqa: E402
from wardentest import (ADMIN, CSE_ID, CSE_RN, TY_CIN, TY_CNT, WardenServer,  # noqa: E402
                        WardenTestCase, free_port, main, uniq)

TY_ACP = 1
TY_SUB = 23
C, R = 1, 2          # acop bits: CREATE, RETRIEVE
NOTIFY_ALLOW = "--notify.allow=127.0.0.1/32"

# RSCs this module meets that the harness table lacks (TS-0009 Table 6.3.2-1 / contract).
wardentest.HTTP_FOR_RSC.setdefault(5204, 500)   # SUBSCRIPTION_VERIFICATION_INITIATION_FAILED

# Timing (seconds).  DELIVERY: how long a notification to a live local receiver may take.
# QUIET: how long we keep listening after the last expected notification before concluding
# that nothing more comes (deliveries to a live local receiver take milliseconds).
DELIVERY = 5.0
QUIET = 0.6


# ==========================================================================
# Notification receiver
# ==========================================================================

Received = collections.namedtuple("Received", "method path headers body raw t")
Received.__doc__ = """One request the receiver got: method, path (with query), headers
(http.client.HTTPMessage, case-insensitive), body (parsed JSON or None), raw bytes and the
time.monotonic() of its arrival."""


class Receiver:
    """HTTP notification target.  Records every request (path, headers, JSON body) and
    answers 200 with X-M2M-RSC 2000, or what ``configure`` set for that path."""

    def __init__(self):
        self.cond = threading.Condition()
        self.records = []
        self.behaviour = {}
        self.httpd = None
        self.port = None
        self.thread = None

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                raw = b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        raw += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    n = int(self.headers.get("Content-Length") or 0)
                    raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw.decode("utf-8")) if raw.strip() else None
                except (ValueError, UnicodeDecodeError):
                    body = None
                rec = Received(self.command, self.path, self.headers, body, raw, time.monotonic())
                with receiver.cond:
                    receiver.records.append(rec)
                    status, rsc, delay = receiver.behaviour.get(self.path.split("?")[0], (200, 2000, 0.0))
                    receiver.cond.notify_all()
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("X-M2M-RSC", str(rsc))
                if self.headers.get("X-M2M-RI"):
                    self.send_header("X-M2M-RI", self.headers["X-M2M-RI"])
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            do_POST = do_PUT = do_GET = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    # -- addresses and behaviour ------------------------------------------
    def new_path(self, prefix="n"):
        return "/" + uniq(prefix)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def configure(self, path, rsc=2000, status=200, delay=0.0):
        with self.cond:
            self.behaviour[path] = (status, rsc, delay)

    # -- what arrived ------------------------------------------------------
    def received(self, path):
        with self.cond:
            return [r for r in self.records if r.path.split("?")[0] == path]

    def wait(self, path, count=1, timeout=DELIVERY):
        """The first ``count`` requests received on path; fails when fewer arrive in time."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [r for r in self.records if r.path.split("?")[0] == path]
                if len(got) >= count:
                    return got[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("receiver %s: %d request(s) within %.1fs, want %d; got: %s"
                                         % (path, len(got), timeout, count,
                                            [r.raw[:300] for r in got]))
                self.cond.wait(left)

    def settle(self, path, seconds=QUIET):
        """Listen ``seconds`` more, then return everything received on path."""
        time.sleep(seconds)
        return self.received(path)


class HungListener:
    """A TCP port that accepts connections (kernel backlog) but never reads or answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


# ==========================================================================
# Shared server and helpers
# ==========================================================================

_SERVER = None
RECEIVER = None


def setUpModule():
    global _SERVER, RECEIVER
    RECEIVER = Receiver().start()
    try:
        _SERVER = WardenServer(extra_args=[NOTIFY_ALLOW]).start()
    except Exception:
        RECEIVER.stop()
        raise


def tearDownModule():
    global _SERVER
    srv, _SERVER = _SERVER, None
    try:
        if srv is not None:
            try:
                rc = srv.stop()
                if rc != 0:
                    raise AssertionError("server exit status after SIGTERM is %r, want 0; output:\n%s"
                                         % (rc, srv.output()))
            finally:
                srv.cleanup()
    finally:
        RECEIVER.stop()


class SubTestCase(WardenTestCase):
    """Uses the module's shared server (started with --notify.allow=127.0.0.1/32)."""

    @classmethod
    def setUpClass(cls):
        if cls.server_args:
            super().setUpClass()
        else:
            if _SERVER is None or not _SERVER.running():
                raise wardentest.ServerError("shared server is not running; output:\n"
                                             + (_SERVER.output() if _SERVER else ""))
            cls.server, cls._own_server = _SERVER, False
            cls.c = cls.server.client()
        cls.rx = RECEIVER

    # -- fixtures ------------------------------------------------------------
    def target(self, prefix="n"):
        """A fresh receiver path and its URL."""
        path = self.rx.new_path(prefix)
        return path, self.rx.url(path)

    def fresh_ae(self, poa=None, origin="C"):
        extra = {"poa": [poa]} if poa else None
        # an AE reached through its poa is requestReachable (TS-0001 §9.6.8: rr false is not contacted)
        aei, _, path, _ = self.new_ae(origin=origin, rn=uniq("ae"), extra=extra, rr=bool(poa))
        return aei, path

    def fresh_cnt(self, **attrs):
        """A new AE and a container of it: (aei, ae path, cnt path, cnt ri)."""
        aei, ae_path = self.fresh_ae()
        path, cnt = self.new_cnt(ae_path, aei, **attrs)
        return aei, ae_path, path, cnt["ri"]

    def create_sub(self, parent, origin, nu, rn=None, **attrs):
        attrs["nu"] = list(nu)
        attrs["rn"] = rn or uniq("sub")
        return self.c.create(parent, TY_SUB, attrs, origin=origin, root="m2m:sub")

    def new_sub(self, parent, origin, nu, **attrs):
        """Create a subscription (must be 2001); returns (structured path, sub dict)."""
        r = self.create_sub(parent, origin, nu, **attrs)
        self.assertRsc(r, 2001, "subscription create %s" % json.dumps(attrs))
        sub = self.res(r, "m2m:sub")
        self.assertEqual(sub.get("ty"), TY_SUB, self.describe(r))
        return parent + "/" + sub["rn"], sub

    # -- notification bodies ---------------------------------------------------
    def sgn(self, rec):
        self.assertIsInstance(rec.body, dict, "notification body is not JSON: %r" % rec.raw[:300])
        self.assertIn("m2m:sgn", rec.body, "notification body: %r" % rec.raw[:300])
        sgn = rec.body["m2m:sgn"]
        self.assertIsInstance(sgn, dict, "m2m:sgn: %r" % rec.raw[:300])
        return sgn

    def nev(self, rec, net=None):
        sgn = self.sgn(rec)
        self.assertIsInstance(sgn.get("nev"), dict, "no nev in %r" % rec.raw[:400])
        if net is not None:
            self.assertEqual(sgn["nev"].get("net"), net, "net in %r" % rec.raw[:400])
        return sgn["nev"]

    def rep(self, rec, root, net=None):
        rep = self.nev(rec, net).get("rep")
        self.assertIsInstance(rep, dict, "rep in %r" % rec.raw[:400])
        self.assertIn(root, rep, "rep in %r" % rec.raw[:400])
        self.assertIsInstance(rep[root], dict, "rep in %r" % rec.raw[:400])
        return rep[root]

    def agn_list(self, rec, strict=False):
        """The notifications of an m2m:agn notification.

        TS-0004 8.4.2 (complex type -> object, maxOccurs > 1 -> array): the m2m:sgn member is
        an array whose items are the m2m:notification objects themselves (nev, sur, ...).
        strict=True asserts exactly that; otherwise an item wrapped once more in
        {"m2m:sgn": ...} is unwrapped, so that the batching tests check batching and the
        serialization is checked (strictly) by its own test."""
        self.assertIsInstance(rec.body, dict, "notification body is not JSON: %r" % rec.raw[:300])
        self.assertIn("m2m:agn", rec.body, "want an aggregated notification, got %r" % rec.raw[:400])
        agn = rec.body["m2m:agn"]
        self.assertIsInstance(agn, dict, rec.raw[:400])
        lst = agn.get("m2m:sgn")
        self.assertIsInstance(lst, list, "m2m:agn/m2m:sgn is not a list: %r" % rec.raw[:400])
        out = []
        for item in lst:
            self.assertIsInstance(item, dict, rec.raw[:400])
            if strict:
                self.assertNotIn("m2m:sgn", item, "m2m:agn/m2m:sgn items are wrapped in m2m:sgn again "
                                 "(TS-0004 8.4.2): %r" % rec.raw[:400])
            elif set(item) == {"m2m:sgn"} and isinstance(item["m2m:sgn"], dict):
                item = item["m2m:sgn"]
            self.assertIsInstance(item.get("nev"), dict, "aggregated item without nev: %r" % item)
            out.append(item)
        return out

    def item_con(self, item, net=3):
        """con of the m2m:cin in one (unwrapped) notification object."""
        self.assertEqual(item["nev"].get("net"), net, item)
        rep = item["nev"].get("rep")
        self.assertIsInstance(rep, dict, item)
        self.assertIsInstance(rep.get("m2m:cin"), dict, item)
        return rep["m2m:cin"].get("con")

    def vrqs(self, recs):
        return [r for r in recs if isinstance(r.body, dict) and isinstance(r.body.get("m2m:sgn"), dict)
                and r.body["m2m:sgn"].get("vrq") is True]


# ==========================================================================
# Notifications for events (TS-0004 7.5.1.2.2)
# ==========================================================================

class NotificationTest(SubTestCase):

    def test_ts0004_7_4_8_2_1_create_on_container_with_url_target_is_2001(self):
        aei, _, cnt_path, cnt_ri = self.fresh_cnt()
        _, url = self.target()
        r = self.assertRsc(self.create_sub(cnt_path, aei, [url], rn="s1", enc={"net": [3]}), 2001)
        sub = self.res(r, "m2m:sub")
        self.assertEqual(sub["ty"], TY_SUB)
        self.assertEqual(sub["nu"], [url])
        self.assertEqual(sub["pi"], cnt_ri)
        self.assertEqual(sub["enc"]["net"], [3])
        r = self.assertRsc(self.c.retrieve(cnt_path + "/s1", origin=aei), 2000)
        self.assertEqual(self.res(r, "m2m:sub")["ri"], sub["ri"])

    def test_ts0004_7_5_1_2_2_cin_create_notifies_net3_with_cin(self):
        aei, _, cnt_path, cnt_ri = self.fresh_cnt()
        path, url = self.target()
        sub_path, _ = self.new_sub(cnt_path, aei, [url], enc={"net": [3]})
        cin = self.new_cin(cnt_path, aei, "hello-net3")
        (rec,) = self.rx.wait(path)
        self.assertEqual(rec.method, "POST")
        self.assertEqual(rec.headers.get("X-M2M-Origin"), CSE_ID)
        self.assertTrue(rec.headers.get("X-M2M-RI"), "notification without X-M2M-RI")
        self.assertEqual(rec.headers.get("X-M2M-RVI"), "3")
        self.assertTrue((rec.headers.get("Content-Type") or "").startswith("application/json"),
                        rec.headers.get("Content-Type"))
        got = self.rep(rec, "m2m:cin", net=3)
        self.assertEqual(got.get("con"), "hello-net3")
        self.assertEqual(got.get("ri"), cin["ri"])
        self.assertEqual(got.get("pi"), cnt_ri)
        sur = self.sgn(rec).get("sur")
        self.assertIsInstance(sur, str)
        self.assertTrue(sur.endswith(sub_path), "sur %r does not end with %r" % (sur, sub_path))
        self.assertEqual(sur, CSE_ID + sub_path)
        self.assertEqual(len(self.rx.settle(path)), 1, "one event, one notification")

    def test_ts0004_7_5_1_2_2_subscription_not_notified_of_its_own_creation(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        p1, u1 = self.target()
        p2, u2 = self.target()
        self.new_sub(cnt_path, aei, [u1], enc={"net": [3]})
        # The first subscription is notified of the second one's creation (a direct child) ...
        _, sub2 = self.new_sub(cnt_path, aei, [u2], enc={"net": [3]})
        (rec,) = self.rx.wait(p1)
        self.assertEqual(self.rep(rec, "m2m:sub", net=3).get("ri"), sub2["ri"])
        # ... the second one is not notified of its own creation.
        self.new_cin(cnt_path, aei, "after-sub2")
        self.rx.wait(p2)
        recs = self.rx.settle(p2)
        self.assertEqual(len(recs), 1, "want only the cin notification, got %s" % [r.raw for r in recs])
        self.assertEqual(self.rep(recs[0], "m2m:cin", net=3).get("con"), "after-sub2")
        # A subscription whose own parent has no subscription: nothing for its own creation.
        p3, u3 = self.target()
        self.new_sub(cnt_path, aei, [u3], enc={"net": [1, 2, 3, 4]})
        self.assertEqual(self.rx.settle(p3), [], "a subscription was notified of its own creation")

    def test_ts0004_7_5_1_2_2_net1_default_update_rep_holds_container(self):
        aei, _, cnt_path, cnt_ri = self.fresh_cnt(lbl=["before"])
        path, url = self.target()
        _, sub = self.new_sub(cnt_path, aei, [url])        # no enc: Update_of_Resource
        self.assertRsc(self.c.update(cnt_path, "m2m:cnt", {"lbl": ["after"]}, origin=aei), 2004)
        (rec,) = self.rx.wait(path)
        cnt = self.rep(rec, "m2m:cnt", net=1)
        self.assertEqual(cnt.get("ri"), cnt_ri)
        self.assertEqual(cnt.get("ty"), TY_CNT)
        self.assertEqual(cnt.get("lbl"), ["after"])
        self.assertIn("rn", cnt, "nct 1 (default) is all attributes")
        self.assertEqual(len(self.rx.settle(path)), 1)

    def test_ts0004_7_5_1_2_2_nct2_sends_only_modified_attributes(self):
        aei, _, cnt_path, cnt_ri = self.fresh_cnt(lbl=["before"])
        path, url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [1]}, nct=2)
        self.assertRsc(self.c.update(cnt_path, "m2m:cnt", {"lbl": ["mod"]}, origin=aei), 2004)
        (rec,) = self.rx.wait(path)
        cnt = self.rep(rec, "m2m:cnt", net=1)
        self.assertEqual(cnt.get("lbl"), ["mod"])
        unmodified = {"ri", "rn", "ty", "pi", "ct", "et", "cni", "cbs", "mni", "mbs", "acpi"}
        self.assertEqual(set(cnt) & unmodified, set(), "nct 2 rep carries unmodified attributes: %s" % cnt)
        self.assertLessEqual(set(cnt), {"lbl", "lt", "st"}, "nct 2 rep: %s" % cnt)

    def test_ts0004_7_5_1_2_2_atr_update_not_touching_listed_attribute_sends_nothing(self):
        aei, _, cnt_path, _ = self.fresh_cnt(lbl=["l0"], mni=10)
        path, url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [1], "atr": ["lbl"]})
        self.assertRsc(self.c.update(cnt_path, "m2m:cnt", {"mni": 5}, origin=aei), 2004)
        self.assertEqual(self.rx.settle(path), [], "update of mni notified an atr=[lbl] subscription")
        self.assertRsc(self.c.update(cnt_path, "m2m:cnt", {"lbl": ["l1"]}, origin=aei), 2004)
        self.rx.wait(path)
        recs = self.rx.settle(path)
        self.assertEqual(len(recs), 1, [r.raw for r in recs])
        self.assertEqual(self.rep(recs[0], "m2m:cnt", net=1).get("lbl"), ["l1"])

    def test_ts0004_7_5_1_2_2_net2_delete_of_subscribed_resource(self):
        aei, _, cnt_path, cnt_ri = self.fresh_cnt()
        path, url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [2]})
        # Neither an update nor a child create is a net 2 event.
        self.assertRsc(self.c.update(cnt_path, "m2m:cnt", {"lbl": ["x"]}, origin=aei), 2004)
        self.new_cin(cnt_path, aei, "child")
        self.assertRsc(self.c.delete(cnt_path, origin=aei), 2002)
        self.rx.wait(path)
        recs = self.rx.settle(path)
        self.assertEqual(len(recs), 1, [r.raw for r in recs])
        self.assertEqual(self.rep(recs[0], "m2m:cnt", net=2).get("ri"), cnt_ri,
                         "net 2 rep (nct 1) is the deleted container")

    def test_ts0004_7_5_1_2_2_net3_chty_filters_child_types(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        _, other_url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [3], "chty": [TY_CIN]})
        self.new_sub(cnt_path, aei, [other_url], enc={"net": [1]})   # a ty 23 child: filtered out
        self.assertEqual(self.rx.settle(path), [], "chty [4] notified the creation of a subscription")
        cin = self.new_cin(cnt_path, aei, "typed")
        self.rx.wait(path)
        recs = self.rx.settle(path)
        self.assertEqual(len(recs), 1, [r.raw for r in recs])
        self.assertEqual(self.rep(recs[0], "m2m:cin", net=3).get("ri"), cin["ri"])

    def test_ts0004_7_5_1_2_2_net3_chty_excluding_cin_sends_nothing(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        _, other_url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [3], "chty": [TY_SUB]})
        self.new_cin(cnt_path, aei, "filtered")
        self.assertEqual(self.rx.settle(path), [], "chty [23] notified the creation of a contentInstance")
        _, sub = self.new_sub(cnt_path, aei, [other_url], enc={"net": [1]})
        (rec,) = self.rx.wait(path)
        self.assertEqual(self.rep(rec, "m2m:sub", net=3).get("ri"), sub["ri"])

    def test_ts0004_7_5_1_2_2_net4_delete_of_direct_child(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [4]})
        first = self.new_cin(cnt_path, aei, "first")
        self.new_cin(cnt_path, aei, "second")
        self.assertEqual(self.rx.settle(path), [], "net 4 notified a child creation")
        self.assertRsc(self.c.delete(cnt_path + "/ol", origin=aei), 2002)
        (rec,) = self.rx.wait(path)
        got = self.rep(rec, "m2m:cin", net=4)
        self.assertEqual(got.get("ri"), first["ri"])
        self.assertEqual(got.get("con"), "first")
        self.assertEqual(len(self.rx.settle(path)), 1)

    def test_ts0004_7_5_1_2_2_nct3_sends_resource_id(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [3]}, nct=3)
        cin = self.new_cin(cnt_path, aei, "idonly")
        (rec,) = self.rx.wait(path)
        rep = self.nev(rec, net=3).get("rep")
        # TS-0004 Table 6.3.5.62-1: the resource ID as m2m:uri (a bare string before issue 13)
        self.assertEqual(rep, {"m2m:uri": cin["ri"]}, "nct 3 rep must be the resource ID, got %r" % rec.raw[:300])
        self.assertNotIn("idonly", rec.raw.decode("utf-8", "replace"), "nct 3 carried the content")

    def test_ts0004_7_5_1_2_2_multiple_targets_each_notified(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        p1, u1 = self.target()
        p2, u2 = self.target()
        self.new_sub(cnt_path, aei, [u1, u2], enc={"net": [3]})
        self.new_cin(cnt_path, aei, "both")
        for p in (p1, p2):
            (rec,) = self.rx.wait(p)
            self.assertEqual(self.rep(rec, "m2m:cin", net=3).get("con"), "both")


# ==========================================================================
# Verification (TS-0004 7.4.8.2.1 Recv-6.4, 7.5.1.2.3)
# ==========================================================================

class VerificationTest(SubTestCase):

    def _target_ae(self, answer_rsc=2000, answer_status=200):
        """An AE whose poa is a fresh receiver path answering as given: (aei, poa path)."""
        path, url = self.target("poa")
        self.rx.configure(path, rsc=answer_rsc, status=answer_status)
        aei, _ = self.fresh_ae(poa=url)
        return aei, path

    def test_ts0004_7_5_1_2_3_ae_id_target_verified_then_created(self):
        aei, poa = self._target_ae()
        cnt_path, _ = self.new_cnt("/" + CSE_RN, ADMIN)
        r = self.assertRsc(self.create_sub(cnt_path, ADMIN, [aei], enc={"net": [3]}), 2001)
        sub_path = cnt_path + "/" + self.res(r, "m2m:sub")["rn"]
        # The verification request was sent (and answered) before the create completed.
        recs = self.rx.received(poa)
        self.assertEqual(len(recs), 1, "want exactly one verification request before the response, got %s"
                         % [x.raw for x in recs])
        sgn = self.sgn(recs[0])
        self.assertIs(sgn.get("vrq"), True)
        self.assertEqual(sgn.get("cr"), ADMIN)
        self.assertEqual(sgn.get("sur"), CSE_ID + sub_path)
        self.assertNotIn("nev", sgn)
        self.assertEqual(recs[0].method, "POST")
        self.assertEqual(recs[0].headers.get("X-M2M-Origin"), CSE_ID)
        self.assertRsc(self.c.retrieve(sub_path, origin=ADMIN), 2000)
        # Notifications for an AE-ID target go to its poa.
        self.new_cin(cnt_path, ADMIN, "to-poa")
        recs = self.rx.wait(poa, 2)
        self.assertEqual(self.rep(recs[1], "m2m:cin", net=3).get("con"), "to-poa")

    def test_ts0004_7_4_8_2_1_verification_refused_is_5204(self):
        cnt_path, _ = self.new_cnt("/" + CSE_RN, ADMIN)
        for status in (403, 200):
            with self.subTest(http_status=status, rsc=4103):
                aei, poa = self._target_ae(answer_rsc=4103, answer_status=status)
                rn = uniq("sub")
                self.assertRsc(self.create_sub(cnt_path, ADMIN, [aei], rn=rn), 5204)
                self.assertEqual(len(self.vrqs(self.rx.received(poa))), 1,
                                 "the refusal must come from the target's answer to a vrq")
                self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=ADMIN), 4004,
                               "a subscription whose verification failed must not exist")

    def test_ts0004_7_4_8_2_1_ae_target_without_poa_is_5204(self):
        aei, _ = self.fresh_ae()
        cnt_path, _ = self.new_cnt("/" + CSE_RN, ADMIN)
        rn = uniq("sub")
        self.assertRsc(self.create_sub(cnt_path, ADMIN, [aei], rn=rn), 5204)
        self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=ADMIN), 4004)

    def test_ts0004_7_4_8_2_1_unreachable_poa_is_5204(self):
        aei, _ = self.fresh_ae(poa="http://127.0.0.1:%d/dead" % free_port())
        cnt_path, _ = self.new_cnt("/" + CSE_RN, ADMIN)
        rn = uniq("sub")
        self.assertRsc(self.create_sub(cnt_path, ADMIN, [aei], rn=rn), 5204)
        self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=ADMIN), 4004)

    def test_ts0004_7_4_8_2_1_url_target_never_verified(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        # The URL answers 4103: if the CSE verified it, the create would fail with 5204.
        self.rx.configure(path, rsc=4103, status=403)
        self.new_sub(cnt_path, aei, [url], enc={"net": [3]})
        self.assertEqual(self.rx.received(path), [], "a URL target got a request at subscription create")
        self.rx.configure(path)
        self.new_cin(cnt_path, aei, "event")
        self.rx.wait(path)
        recs = self.rx.settle(path)
        self.assertEqual(self.vrqs(recs), [], "a URL target got a verification request")
        self.assertEqual(self.rep(recs[0], "m2m:cin", net=3).get("con"), "event")

    def test_ts0004_7_4_8_2_1_originator_own_ae_id_not_verified(self):
        poa, url = self.target("poa")
        self.rx.configure(poa, rsc=4103, status=403)      # a verification would fail
        aei, ae_path = self.fresh_ae(poa=url)
        cnt_path, _ = self.new_cnt(ae_path, aei)
        self.new_sub(cnt_path, aei, [aei], enc={"net": [3]})
        self.assertEqual(self.vrqs(self.rx.received(poa)), [], "own AE-ID was verified")
        self.rx.configure(poa)
        self.new_cin(cnt_path, aei, "self")
        (rec,) = self.rx.wait(poa)
        self.assertEqual(self.rep(rec, "m2m:cin", net=3).get("con"), "self")
        self.assertEqual(self.vrqs(self.rx.received(poa)), [])


# ==========================================================================
# expirationCounter and deletion notifications (7.5.1.2.2 step 5.0, 7.5.1.2.4)
# ==========================================================================

class ExpirationAndDeletionTest(SubTestCase):

    def test_ts0004_7_5_1_2_2_exc_deletes_subscription_after_count(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        sub_path, sub = self.new_sub(cnt_path, aei, [url], enc={"net": [3]}, exc=2)
        self.assertEqual(sub.get("exc"), 2)
        self.new_cin(cnt_path, aei, "e1")
        self.new_cin(cnt_path, aei, "e2")
        recs = self.rx.wait(path, 2)
        time.sleep(0.3)      # the CSE sees the second delivery's answer
        self.new_cin(cnt_path, aei, "e3")
        recs = self.rx.settle(path)
        cons = sorted(self.rep(x, "m2m:cin", net=3).get("con") for x in recs)
        self.assertEqual(cons, ["e1", "e2"], "exc 2: exactly two notifications")
        self.assertRsc(self.c.retrieve(sub_path, origin=aei), 4004, "subscription after exc notifications")
        self.assertRsc(self.c.retrieve("/" + sub["ri"], origin=aei), 4004)

    def _sud(self, rec, sub_path):
        sgn = self.sgn(rec)
        self.assertIs(sgn.get("sud"), True, rec.raw[:300])
        self.assertEqual(sgn.get("sur"), CSE_ID + sub_path)
        self.assertNotIn("nev", sgn)

    def test_ts0004_7_5_1_2_4_delete_subscription_notifies_subscriber_uri(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        npath, nurl = self.target()
        spath, surl = self.target("su")
        sub_path, sub = self.new_sub(cnt_path, aei, [nurl], su=surl)
        self.assertEqual(sub.get("su"), surl)
        self.assertEqual(self.rx.settle(spath, 0.2), [], "su got something before the deletion")
        self.assertRsc(self.c.delete(sub_path, origin=aei), 2002)
        (rec,) = self.rx.wait(spath)
        self._sud(rec, sub_path)
        self.assertEqual(len(self.rx.settle(spath)), 1)
        self.assertEqual(self.rx.received(npath), [], "the deletion notice goes to su, not nu")

    def test_ts0004_7_5_1_2_4_delete_parent_container_notifies_subscriber_uri(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        _, nurl = self.target()
        spath, surl = self.target("su")
        sub_path, _ = self.new_sub(cnt_path, aei, [nurl], su=surl)
        self.assertRsc(self.c.delete(cnt_path, origin=aei), 2002)
        (rec,) = self.rx.wait(spath)
        self._sud(rec, sub_path)
        self.assertRsc(self.c.retrieve(sub_path, origin=aei), 4004)

    def test_ts0004_7_5_1_2_4_delete_ae_two_levels_above_notifies_subscriber_uri(self):
        aei, ae_path, cnt_path, _ = self.fresh_cnt()
        _, nurl = self.target()
        spath, surl = self.target("su")
        sub_path, _ = self.new_sub(cnt_path, aei, [nurl], su=surl)
        self.assertRsc(self.c.delete(ae_path, origin=aei), 2002)
        (rec,) = self.rx.wait(spath)
        self._sud(rec, sub_path)

    def test_ts0004_7_5_1_2_4_no_subscriber_uri_no_deletion_notice_to_nu(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        npath, nurl = self.target()
        sub_path, _ = self.new_sub(cnt_path, aei, [nurl], enc={"net": [3]})
        self.assertRsc(self.c.delete(sub_path, origin=aei), 2002)
        self.assertEqual(self.rx.settle(npath), [], "deleting a subscription without su notified nu")


# ==========================================================================
# batchNotify / latestNotify (TS-0001 10.2.10.7, TS-0004 7.5.1.2.2 steps 2.3-2.4)
# ==========================================================================

class BatchNotifyTest(SubTestCase):

    def test_ts0001_10_2_10_7_batch_num3_one_aggregate_after_three_events(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        sub_path, _ = self.new_sub(cnt_path, aei, [url], enc={"net": [3]}, bn={"num": 3})
        self.new_cin(cnt_path, aei, "b1")
        self.new_cin(cnt_path, aei, "b2")
        self.assertEqual(self.rx.settle(path, 0.8), [], "batch of 3 sent something after 2 events")
        self.new_cin(cnt_path, aei, "b3")
        (rec,) = self.rx.wait(path, timeout=3.0)
        lst = self.agn_list(rec)
        self.assertEqual(len(lst), 3, rec.raw[:600])
        for item in lst:
            self.assertEqual(item.get("sur"), CSE_ID + sub_path, item)
        self.assertEqual([self.item_con(x) for x in lst], ["b1", "b2", "b3"], "batch order is FIFO")
        self.assertEqual(len(self.rx.settle(path)), 1, "the batched events were also sent singly")

    def test_ts0004_8_4_2_aggregated_notification_items_are_notification_objects(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        sub_path, _ = self.new_sub(cnt_path, aei, [url], enc={"net": [3]}, bn={"num": 2})
        self.new_cin(cnt_path, aei, "s1")
        self.new_cin(cnt_path, aei, "s2")
        (rec,) = self.rx.wait(path, timeout=3.0)
        lst = self.agn_list(rec, strict=True)
        self.assertEqual(len(lst), 2)
        for item in lst:
            self.assertEqual(item.get("sur"), CSE_ID + sub_path, item)

    def test_ts0001_10_2_10_7_batch_duration_sends_after_dur(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [3]}, bn={"num": 100, "dur": "PT2S"})
        t0 = time.monotonic()
        self.new_cin(cnt_path, aei, "d1")
        self.new_cin(cnt_path, aei, "d2")
        self.assertEqual(self.rx.settle(path, max(0.0, 1.2 - (time.monotonic() - t0))), [],
                         "dur PT2S batch sent something within 1.2 s")
        (rec,) = self.rx.wait(path, timeout=8.0)
        elapsed = rec.t - t0
        self.assertGreaterEqual(elapsed, 1.5, "aggregate sent after %.2fs, before dur" % elapsed)
        # the batch timer is checked about once a second, so 2-3 s by design; room for a slow build
        self.assertLessEqual(elapsed, 6.0, "aggregate sent %.2fs after the first event (dur 2 s)" % elapsed)
        lst = self.agn_list(rec)
        self.assertEqual([self.item_con(x) for x in lst], ["d1", "d2"], "batch order is FIFO")
        self.assertEqual(len(self.rx.settle(path)), 1)

    def test_ts0001_10_2_10_7_latest_notify_with_batch_sends_only_the_latest(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        path, url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [3]}, bn={"num": 100, "dur": "PT2S"}, ln=True)
        t0 = time.monotonic()
        for con in ("l1", "l2", "l3"):
            self.new_cin(cnt_path, aei, con)
        (rec,) = self.rx.wait(path, timeout=5.0)
        self.assertGreaterEqual(rec.t - t0, 1.5, "latestNotify sent before dur passed")
        if isinstance(rec.body, dict) and "m2m:agn" in rec.body:
            lst = self.agn_list(rec)
        else:
            lst = [self.sgn(rec)]
        self.assertEqual(len(lst), 1, "latestNotify: only the latest notification, got %s" % rec.raw[:600])
        self.assertEqual(self.item_con(lst[0]), "l3")
        self.assertEqual(len(self.rx.settle(path)), 1, "more than one notification with ln true")


# ==========================================================================
# Privileges and refused criteria (TS-0004 7.4.8.2.1 Recv-6.3 / Recv-6.4)
# ==========================================================================

class CreateChecksTest(SubTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for aei, rn in (("Csubowner", "subowner"), ("Csubreader", "subreader")):
            r = cls.c.register_ae(origin=aei, rn=rn)
            assert r.rsc == 2001, r

    def _guarded_cnt(self, reader_acop):
        """A container of Csubowner whose ACP grants Csubreader ``reader_acop``."""
        owner, owner_path = "Csubowner", "/%s/subowner" % CSE_RN
        rn = uniq("acp")
        acp = {"rn": rn,
               "pv": {"acr": [{"acor": ["Csubreader"], "acop": reader_acop},
                              {"acor": [owner], "acop": 63}]},
               "pvs": {"acr": [{"acor": [owner], "acop": 63}]}}
        r = self.assertRsc(self.c.create(owner_path, TY_ACP, acp, origin=owner, root="m2m:acp"), 2001)
        acp_ri = self.res(r, "m2m:acp")["ri"]
        path, _ = self.new_cnt(owner_path, owner, acpi=[acp_ri])
        return path

    def test_ts0004_7_4_8_2_1_create_only_without_retrieve_is_4103(self):
        cnt_path = self._guarded_cnt(C)
        # The ACP does grant CREATE: a contentInstance by the reader is accepted.
        self.new_cin(cnt_path, "Csubreader", "may-create")
        path, url = self.target()
        rn = uniq("sub")
        self.assertRsc(self.create_sub(cnt_path, "Csubreader", [url], rn=rn, enc={"net": [3]}), 4103)
        self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=ADMIN), 4004)
        self.new_cin(cnt_path, "Csubowner", "after")
        self.assertEqual(self.rx.settle(path), [])

    def test_ts0004_7_4_8_2_1_retrieve_without_create_is_4103(self):
        cnt_path = self._guarded_cnt(R)
        _, url = self.target()
        rn = uniq("sub")
        self.assertRsc(self.create_sub(cnt_path, "Csubreader", [url], rn=rn), 4103)
        self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=ADMIN), 4004)

    def test_ts0004_7_4_8_2_1_retrieve_and_create_may_subscribe(self):
        cnt_path = self._guarded_cnt(R | C)
        path, url = self.target()
        self.new_sub(cnt_path, "Csubreader", [url], enc={"net": [3]})
        self.new_cin(cnt_path, "Csubowner", "seen-by-reader")
        (rec,) = self.rx.wait(path)
        self.assertEqual(self.rep(rec, "m2m:cin", net=3).get("con"), "seen-by-reader")

    def test_ts0004_7_4_8_2_1_other_ae_default_policy_is_4103(self):
        cnt_path, _ = self.new_cnt("/%s/subowner" % CSE_RN, "Csubowner")   # no acpi: creator only
        _, url = self.target()
        self.assertRsc(self.create_sub(cnt_path, "Csubreader", [url]), 4103)

    def test_contract_unsupported_criteria_refused_4000(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        _, url = self.target()
        cases = [
            ("enc om", {"enc": {"om": {"ops": 1}}}),
            ("enc om with net", {"enc": {"net": [1], "om": {"ops": 1}}}),
            ("nct 4", {"nct": 4}),
            ("unknown attribute", {"zzunknown": 1}),
            ("unknown enc element", {"enc": {"net": [3], "zzunknown": 1}}),
        ]
        for what, attrs in cases:
            with self.subTest(what=what):
                rn = uniq("sub")
                self.assertRsc(self.create_sub(cnt_path, aei, [url], rn=rn, **attrs), 4000, what)
                self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=aei), 4004,
                               "refused subscription (%s) exists" % what)

    def test_contract_nu_is_mandatory(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        r = self.c.create(cnt_path, TY_SUB, {"rn": uniq("sub"), "enc": {"net": [3]}}, origin=aei,
                          root="m2m:sub")
        self.assertRsc(r, 4000)


# ==========================================================================
# Outbound policy (contract: --notify.deny / --notify.allow)
# ==========================================================================

class OutboundPolicyTest(SubTestCase):

    def test_contract_internal_targets_refused_4000(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        for url in ("http://10.0.0.1/x", "http://192.168.1.1/", "http://[::1]:1/",
                    "http://172.16.5.4:8080/n", "http://169.254.169.254/latest/meta-data/"):
            with self.subTest(nu=url):
                rn = uniq("sub")
                self.assertRsc(self.create_sub(cnt_path, aei, [url], rn=rn), 4000, url)
                self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=aei), 4004)
        # One refused entry refuses the whole list.
        _, ok_url = self.target()
        rn = uniq("sub")
        self.assertRsc(self.create_sub(cnt_path, aei, [ok_url, "http://10.0.0.1/x"], rn=rn), 4000)
        self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=aei), 4004)
        # The allowed block stays allowed (control).
        self.new_sub(cnt_path, aei, [ok_url])


class NoAllowListTest(SubTestCase):
    """A server started without --notify.allow: loopback is in the default deny list."""

    server_args = ("--log.level=warn",)

    def test_contract_loopback_refused_without_allow_list(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        for url in ("http://127.0.0.1:%d/" % self.rx.port, "http://127.0.0.1:%d/x" % self.rx.port):
            with self.subTest(nu=url):
                rn = uniq("sub")
                self.assertRsc(self.create_sub(cnt_path, aei, [url], rn=rn), 4000)
                self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=aei), 4004)

    def test_contract_denied_subscriber_uri_never_reached(self):
        # The contract refuses denied notification URLs at create; for su it does not say
        # when.  Either the create is refused, or the deletion notice never reaches it.
        aei, _, cnt_path, _ = self.fresh_cnt()
        spath, surl = self.target("su")
        r = self.create_sub(cnt_path, aei, ["http://192.0.2.1/x"], su=surl)   # TEST-NET-1: not denied
        self.assertRscIn(r, {2001, 4000})
        if r.rsc == 2001:
            sub_path = cnt_path + "/" + self.res(r, "m2m:sub")["rn"]
            self.assertRsc(self.c.delete(sub_path, origin=aei), 2002)
            self.assertEqual(self.rx.settle(spath, 1.0), [],
                             "the deletion notice reached a loopback su although loopback is denied")


# ==========================================================================
# Asynchronous delivery (contract): dead or hung receivers never delay requests
# ==========================================================================

class DeadReceiverTest(SubTestCase):

    server_args = (NOTIFY_ALLOW,)
    # A request held by a delivery would take the delivery's time (the hung target's 5 s timeout,
    # the slow target's 4 s); this bound leaves room for a disk stall on a loaded machine.
    PER_REQUEST = 2.5

    def _burst(self, aei, cnt_path, n=20):
        worst = 0.0
        t_all = time.monotonic()
        for i in range(n):
            t = time.monotonic()
            r = self.c.create(cnt_path, TY_CIN, {"con": "x%d" % i}, origin=aei)
            dt = time.monotonic() - t
            self.assertRsc(r, 2001, "contentInstance %d" % i)
            worst = max(worst, dt)
            self.assertLess(dt, self.PER_REQUEST, "contentInstance %d took %.2fs" % (i, dt))
            if i % 5 == 4:
                t = time.monotonic()
                self.assertAlive()
                self.assertLess(time.monotonic() - t, self.PER_REQUEST, "CSEBase retrieve during the burst")
        total = time.monotonic() - t_all
        r = self.assertRsc(self.c.retrieve(cnt_path, origin=aei), 2000)
        self.assertEqual(self.res(r, "m2m:cnt").get("cni"), n)
        return worst, total

    def test_contract_closed_port_target_does_not_block_requests(self):
        aei, _, cnt_path, _ = self.fresh_cnt()
        dead = "http://127.0.0.1:%d/dead" % free_port()
        self.new_sub(cnt_path, aei, [dead], enc={"net": [3]})
        _, total = self._burst(aei, cnt_path)
        self.assertLess(total, 15.0)
        self.assertAlive()

    def test_contract_hung_target_does_not_block_requests(self):
        hung = HungListener()
        try:
            aei, _, cnt_path, _ = self.fresh_cnt()
            self.new_sub(cnt_path, aei, ["http://127.0.0.1:%d/hung" % hung.port], enc={"net": [3]})
            _, total = self._burst(aei, cnt_path)
            self.assertLess(total, 15.0)
            self.assertAlive()
        finally:
            hung.close()

    def test_contract_slow_target_does_not_block_and_still_receives(self):
        path, url = self.target("slow")
        self.rx.configure(path, delay=4.0)
        aei, _, cnt_path, _ = self.fresh_cnt()
        self.new_sub(cnt_path, aei, [url], enc={"net": [3]})
        for i in range(5):
            t = time.monotonic()
            self.new_cin(cnt_path, aei, "slow%d" % i)
            self.assertLess(time.monotonic() - t, self.PER_REQUEST)
        recs = self.rx.wait(path, 5, timeout=15.0)
        self.assertEqual(sorted(self.rep(x, "m2m:cin", net=3)["con"] for x in recs),
                         ["slow%d" % i for i in range(5)])


if __name__ == "__main__":
    main()
