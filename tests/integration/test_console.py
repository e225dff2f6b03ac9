#!/usr/bin/python3
"""The web console (issue 15, README "Console"), end to end in headless Chromium driven over the
Chrome DevTools Protocol (cdp_helpers.py): the tree shows a created AE and container and pages a
large listing, a resource's attributes and applicable policies, explain PERMIT and DENY, the audit
log filtered by originator, reason and time, credentials and the live rate. Then the gate: the
console and its admin queries answer only the admin over the admin's channel (loopback in dev, the
admin's security association in the secure profile), and every refusal and answer is audited.

WARDEN_CONSOLE_SHOTS=DIR keeps a PNG screenshot of each page there."""
import http.client
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wardentest import (ADMIN, CSE_RN, TY_CIN, TY_CNT, WardenServer, WardenTestCase,  # noqa: E402
                        uniq)
from cdp_helpers import Browser  # noqa: E402
from tls_helpers import Ctl, TlsTestCase, kpsa  # noqa: E402

TY_ACP = 1
CB = "/" + CSE_RN
SHOTS = os.environ.get("WARDEN_CONSOLE_SHOTS")


def audit_records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def raw_get(host, port, path, headers=None):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("X-M2M-RSC"), r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def non_loopback_address():
    """An IPv4 address of this host that is not loopback (the source of a route to a TEST-NET
    address; nothing is sent), or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


class TestConsoleBrowser(WardenTestCase):
    tmp = tempfile.mkdtemp(prefix="warden-console-")
    audit_path = os.path.join(tmp, "audit.log")
    server_args = ("--audit.path=" + audit_path,)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        cls.owner, cls.reader = "C" + uniq("own"), "C" + uniq("rdr")
        cls.owner_rn = uniq("plant")
        for aei, rn in ((cls.owner, cls.owner_rn), (cls.reader, uniq("reader"))):
            r = c.register_ae(origin=aei, rn=rn)
            assert r.rsc == 2001, r
        owner_path = "%s/%s" % (CB, cls.owner_rn)
        acp = {"rn": "readers", "pv": {"acr": [{"acor": [cls.reader], "acop": 2}, {"acor": [cls.owner], "acop": 63}]},
               "pvs": {"acr": [{"acor": [cls.owner], "acop": 63}]}}
        r = c.create(owner_path, TY_ACP, acp, origin=cls.owner, root="m2m:acp")
        assert r.rsc == 2001, r
        cls.acp_ri = r.body["m2m:acp"]["ri"]
        r = c.create(owner_path, TY_CNT, {"rn": "temperature", "acpi": [cls.acp_ri]}, origin=cls.owner)
        assert r.rsc == 2001, r
        cls.cnt_ri = r.body["m2m:cnt"]["ri"]
        cls.cnt_path = "%s/%s/temperature" % (CSE_RN, cls.owner_rn)
        r = c.create("/" + cls.cnt_path, TY_CIN, {"con": "21.5"}, origin=cls.owner)
        assert r.rsc == 2001, r
        # a denial for the audit page: the reader may retrieve, not delete
        r = c.delete("/" + cls.cnt_path, origin=cls.reader)
        assert r.rsc == 4103, r
        cls.deny = [a for a in audit_records(cls.audit_path)
                    if a.get("event") == "deny" and a.get("originator") == cls.reader][-1]
        cls.url = "http://127.0.0.1:%d/__warden/console/" % cls.server.port
        cls.b = Browser()

    @classmethod
    def tearDownClass(cls):
        try:
            if getattr(cls, "b", None):
                cls.b.close()
        finally:
            super().tearDownClass()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def shot(self, name):
        if SHOTS:
            os.makedirs(SHOTS, exist_ok=True)
            self.b.screenshot(os.path.join(SHOTS, name + ".png"))

    def node(self, path):
        return '.node[data-path="%s"]' % path

    def open_console(self):
        self.b.goto(self.url)
        self.b.wait("document.querySelector('%s')" % self.node(CSE_RN), what="the CSEBase in the tree")

    def expand(self, path):
        self.b.click(self.node(path) + " > .label")

    def open_container(self):
        self.open_console()
        owner = "%s/%s" % (CSE_RN, self.owner_rn)
        self.b.wait("document.querySelector('%s')" % self.node(owner), what="the AE under the CSEBase")
        self.expand(owner)
        self.b.wait("document.querySelector('%s')" % self.node(self.cnt_path), what="the container under the AE")
        self.expand(self.cnt_path)
        self.b.wait("document.getElementById('detail-title').textContent === %s && "
                    "document.getElementById('attrs').textContent.includes(%s)"
                    % (json.dumps(self.cnt_path), json.dumps(self.cnt_ri)), what="the container's attributes")

    def test_issue15_console_tree_shows_created_ae_and_container_and_its_attributes(self):
        self.open_container()
        attrs = self.b.text("#attrs")
        self.assertIn(self.acp_ri, attrs, "acpi among the attributes")
        self.assertIn(self.owner, attrs, "the creator among the attributes")
        # its contentInstance is in the tree below it
        self.b.wait("document.querySelectorAll('%s ul > .node[data-ty=\"4\"]').length === 1" % self.node(self.cnt_path),
                    what="the contentInstance under the container")
        # applicable policies: the ACP its acpi names, with the reader's rule
        self.b.wait("document.getElementById('policies').textContent.includes(%s)" % json.dumps(self.reader),
                    what="the ACP's rules")
        self.assertIn(self.acp_ri, self.b.text("#policies"))
        self.shot("1-resource")

    def test_issue15_console_explain_permit_and_deny(self):
        self.open_container()
        self.b.fill("#explain-fr", self.reader)
        self.b.fill("#explain-op", "retrieve")
        self.b.click("#explain-run")
        self.b.wait("(document.getElementById('explain-verdict') || {}).textContent === 'PERMIT'",
                    what="PERMIT for the reader's retrieve")
        self.assertIn(self.acp_ri, self.b.text("#explain-result"), "the deciding policy is named")
        self.shot("2-explain-permit")
        self.b.fill("#explain-op", "delete")
        self.b.click("#explain-run")
        self.b.wait("(document.getElementById('explain-verdict') || {}).textContent === 'DENY'",
                    what="DENY for the reader's delete")
        self.shot("3-explain-deny")

    def test_issue15_console_tree_pages_large_listings(self):
        ae = "C" + uniq("many")
        rn = uniq("many")
        self.assertRsc(self.c.register_ae(origin=ae, rn=rn), 2001)
        for i in range(55):  # the console lists 50 children per page
            self.assertRsc(self.c.create("%s/%s" % (CB, rn), TY_CNT, {"rn": "c%02d" % i}, origin=ae), 2001)
        path = "%s/%s" % (CSE_RN, rn)
        self.open_console()
        self.b.wait("document.querySelector('%s')" % self.node(path))
        self.expand(path)
        kids = "document.querySelectorAll('%s > ul > .node').length" % self.node(path)
        self.b.wait(kids + " === 50", what="the first page of 50 children")
        self.b.click(self.node(path) + " > ul > .more")
        self.b.wait(kids + " === 55", what="the second page")
        self.assertIsNone(self.b.eval("document.querySelector('%s > ul > .more')" % self.node(path)))
        self.assertEqual(self.b.eval("document.querySelector('%s > ul > .node:last-child .rn').textContent"
                                     % self.node(path)), "c54")

    def test_issue15_console_audit_filters_by_originator_reason_and_time(self):
        self.open_console()
        self.b.click("#tab-audit")
        self.b.wait("document.querySelectorAll('#audit-rows tr').length > 0", what="audit records")
        self.b.fill("#audit-fr", self.reader)
        self.b.fill("#audit-rsn", self.deny["reason"])
        self.b.fill("#audit-since", self.deny["ts"][:16])
        self.b.click("#audit-run")
        rows = "Array.from(document.querySelectorAll('#audit-rows tr')).map(r => r.textContent)"
        self.b.wait("(() => { const r = %s; return r.length === 1 && r[0].includes(%s); })()"
                    % (rows, json.dumps(self.reader)), what="exactly the reader's denial")
        self.assertIn(self.deny["reason"], self.b.eval(rows)[0])
        self.shot("4-audit")
        self.b.fill("#audit-since", "2999-01-01")
        self.b.click("#audit-run")
        self.b.wait("document.querySelectorAll('#audit-rows tr').length === 0", what="no record after 2999")
        self.b.fill("#audit-since", "")
        self.b.fill("#audit-until", "2000-01-01")
        self.b.click("#audit-run")
        self.b.wait("document.querySelectorAll('#audit-rows tr').length === 0", what="no record before 2000")

    def test_issue15_console_credentials_and_live_rate(self):
        ctl = Ctl(self.server.store_path)
        kid = kpsa("console")
        key = ctl.psk_add(kid, self.reader)
        self.open_console()
        self.b.click("#tab-creds")
        self.b.wait("document.getElementById('creds-psk').textContent.includes(%s)" % json.dumps(kid),
                    what="the provisioned PSK's identity")
        row = self.b.eval("Array.from(document.querySelectorAll('#creds-psk tr')).map(r => r.textContent)"
                          ".find(t => t.includes(%s))" % json.dumps(kid))
        self.assertIn(self.reader, row)
        self.assertIn("active", row)
        self.assertIn("CAdmin", self.b.text("#creds-admin"))
        self.assertNotIn(key, self.b.eval("document.documentElement.outerHTML"), "key material on the page")
        self.shot("5-credentials")
        self.b.click("#tab-live")
        for _ in range(3):
            self.assertRsc(self.c.retrieve(CB), 2000)
        self.b.wait("/^[0-9.]+$/.test(document.getElementById('live-rate').textContent)", timeout=10,
                    what="a request rate")
        self.assertGreater(int(self.b.text("#live-total")), 0)
        self.shot("6-live")

    def test_issue15_console_refuses_non_admin_originator(self):
        """A registered AE asking the admin queries: 4103 admin-only, audited."""
        queries = ("audit", "creds", "explain", "stats", "tree")
        for q in queries:
            r = self.c.retrieve("%s/$%s" % (CB, q), origin=self.reader,
                                query={"exfr": self.reader, "exop": "retrieve", "exto": CSE_RN})
            self.assertRsc(r, 4103)
        recs = [a for a in audit_records(self.audit_path)
                if a.get("originator") == self.reader and a.get("reason") == "admin-only"]
        self.assertEqual(sorted(a["target"] for a in recs[-5:]), ["%s/$%s" % (CSE_RN, q) for q in queries])
        # and what the admin asked is audited too
        self.assertRsc(self.c.retrieve(CB + "/$creds", origin=ADMIN), 2000)
        last = audit_records(self.audit_path)[-1]
        self.assertEqual((last["event"], last["originator"], last["target"]),
                         ("admin-query", ADMIN, CSE_RN + "/$creds"))


class TestConsoleDevNonLoopback(unittest.TestCase):
    """Dev profile: the console and its admin queries answer a loopback peer only."""

    def test_issue15_console_refused_from_non_loopback_peer_in_dev(self):
        addr = non_loopback_address()
        if addr is None:
            self.skipTest("this host has no non-loopback IPv4 address to connect from")
        tmp = tempfile.mkdtemp(prefix="warden-console-")
        audit = os.path.join(tmp, "audit.log")
        srv = WardenServer(extra_args=["--http.address=0.0.0.0", "--audit.path=" + audit])
        srv.start()
        try:
            hdrs = {"X-M2M-Origin": ADMIN, "X-M2M-RI": "r1", "X-M2M-RVI": "3"}
            status, _, body = raw_get(addr, srv.port, "/__warden/console/")
            self.assertEqual(status, 403, body)
            status, rsc, _ = raw_get(addr, srv.port, CB + "/$tree", hdrs)
            self.assertEqual(rsc, "4103")
            # health needs no authentication, from anywhere the listener is reachable
            self.assertEqual(raw_get(addr, srv.port, "/__warden/healthz")[0], 200)
            # the same from loopback is served
            self.assertEqual(raw_get("127.0.0.1", srv.port, "/__warden/console/")[0], 200)
            self.assertEqual(raw_get("127.0.0.1", srv.port, CB + "/$tree", hdrs)[1], "2000")
            denials = [a for a in audit_records(audit) if a.get("reason") == "admin-channel"]
            self.assertEqual(len(denials), 2, denials)
            self.assertEqual({a["peer"] for a in denials}, {addr})
        finally:
            srv.stop()
            srv.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


class TestConsoleSecureProfile(TlsTestCase):
    """Secure profile: only the admin's security association (a PSK bound to the admin) opens it."""

    profile = "secure"

    def test_issue15_console_needs_the_admin_security_association(self):
        kid, key = self.add_psk(ADMIN, prefix="admin")
        admin = self.psk(kid, key)
        r = admin.request("GET", "/__warden/console/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"Warden console", r.body if isinstance(r.body, bytes) else r.body.encode())
        self.assertRsc(admin.retrieve(CB + "/$tree", origin=ADMIN), 2000)
        # an AE's own association: not the console's
        stem, pc, _ = self.psk_ae()
        self.assertEqual(pc.request("GET", "/__warden/console/").status, 403)
        self.assertRsc(pc.retrieve(CB + "/$tree", origin=stem), 4103)
        # plain HTTP on loopback carries no association: refused in the secure profile
        self.assertEqual(self.c.request("GET", "/__warden/console/", origin=ADMIN).status, 403)
        self.assertRsc(self.c.retrieve(CB + "/$tree", origin=ADMIN), 4107)


if __name__ == "__main__":
    unittest.main()
