#!/usr/bin/python3
"""Notifications under attack (issue 12: findings 3, 6, 23, 15, 25, 26 and the notification-target
bound of 8), black-box.

Each test is named by the finding's rule.  The README's "Subscriptions and notifications" section
states the policies checked here: a notification is a read by the subscriber, decided again for
every event; batches and notification targets are bounded; mqtt topics are confined; outbound TLS
in the secure profile.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_notify_findings.py
"""

import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_dynauth as dynauth  # noqa: E402
from jwcrypto import jwk  # noqa: E402
from tls_helpers import SecureServer  # noqa: E402
from test_mqtt import _MqttCase  # noqa: E402
from test_subscription import DELIVERY, Receiver  # noqa: E402
from wardentest import (ADMIN, CSE_RN, TY_CIN, TY_CNT, WardenTestCase,  # noqa: E402
                        free_port, main, uniq)

TY_ACP = 1
TY_SUB = 23
TY_DAC = 34
C, R = 1, 2          # acop bits: CREATE, RETRIEVE
NOTIFY_ALLOW = "--notify.allow=127.0.0.1/32"

RECEIVER = None
CIN_ONLY = {"net": [3], "chty": [TY_CIN]}   # not told of the sibling subscriptions' creation


def setUpModule():
    global RECEIVER
    RECEIVER = Receiver().start()


def tearDownModule():
    RECEIVER.stop()


class NotifyCase(WardenTestCase):
    """A server of its own (with an audit log) per class; notifications to RECEIVER."""

    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="warden-notify-")
        cls.audit_path = os.path.join(cls.tmp, "audit.log")
        cls.server_args = (NOTIFY_ALLOW, "--audit.path=" + cls.audit_path) + tuple(cls.extra_args)
        super().setUpClass()
        cls.rx = RECEIVER

    def target(self, prefix="n"):
        path = self.rx.new_path(prefix)
        return path, self.rx.url(path)

    def create_sub(self, parent, origin, nu, rn=None, **attrs):
        attrs["nu"] = list(nu)
        attrs["rn"] = rn or uniq("sub")
        return self.c.create(parent, TY_SUB, attrs, origin=origin, root="m2m:sub")

    def new_sub(self, parent, origin, nu, **attrs):
        r = self.create_sub(parent, origin, nu, **attrs)
        self.assertRsc(r, 2001, "subscription create %s" % json.dumps(attrs)[:300])
        return parent + "/" + self.res(r, "m2m:sub")["rn"]

    def new_acp(self, parent, owner, grants):
        """An ACP under parent: grants is a list of (originator, acop); the owner gets 63 and pvs."""
        acr = [{"acor": [o], "acop": op} for o, op in grants] + [{"acor": [owner], "acop": 63}]
        acp = {"rn": uniq("acp"), "pv": {"acr": acr}, "pvs": {"acr": [{"acor": [owner], "acop": 63}]}}
        r = self.assertRsc(self.c.create(parent, TY_ACP, acp, origin=owner, root="m2m:acp"), 2001)
        a = self.res(r, "m2m:acp")
        return parent + "/" + a["rn"], a["ri"]

    def audit_lines(self):
        try:
            with open(self.audit_path, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def wait_audit(self, pred, timeout=DELIVERY):
        deadline = time.monotonic() + timeout
        while True:
            hits = [e for e in self.audit_lines() if pred(e)]
            if hits or time.monotonic() > deadline:
                return hits
            time.sleep(0.05)

    def reps(self, recs):
        """(rep root, rep) of every m2m:sgn received."""
        out = []
        for rec in recs:
            sgn = (rec.body or {}).get("m2m:sgn") or {}
            rep = (sgn.get("nev") or {}).get("rep")
            if isinstance(rep, dict):
                out.extend(rep.items())
        return out


# ==========================================================================
# Finding 3: a notification is a read by the subscriber, decided for every event
# ==========================================================================

class Finding3AccessTest(NotifyCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner, cls.reader = "C" + uniq("own"), "C" + uniq("rdr")
        for aei in (cls.owner, cls.reader):
            r = cls.c.register_ae(origin=aei, rn=aei[1:])
            assert r.rsc == 2001, r
        cls.owner_path = "/%s/%s" % (CSE_RN, cls.owner[1:])

    def test_finding_3_revoked_subscriber_gets_no_content(self):
        acp_path, acp_ri = self.new_acp(self.owner_path, self.owner, [(self.reader, R | C)])
        cnt_path, _ = self.new_cnt(self.owner_path, self.owner, acpi=[acp_ri])
        path, url = self.target()
        self.new_sub(cnt_path, self.reader, [url], enc={"net": [3]})
        self.new_cin(cnt_path, self.owner, "while-allowed")
        (rec,) = self.rx.wait(path)
        self.assertEqual([(k, v.get("con")) for k, v in self.reps([rec])], [("m2m:cin", "while-allowed")])
        # The owner revokes the reader's RETRIEVE (CREATE stays): the subscription remains, but
        # what the reader may no longer retrieve must not reach it.
        acr = [{"acor": [self.reader], "acop": C}, {"acor": [self.owner], "acop": 63}]
        self.assertRsc(self.c.update(acp_path, "m2m:acp", {"pv": {"acr": acr}}, origin=self.owner), 2004)
        self.assertRsc(self.c.retrieve(cnt_path, origin=self.reader), 4103)
        self.new_cin(cnt_path, self.owner, "secret-after-revocation")
        got = self.rx.settle(path)
        self.assertNotIn(b"secret-after-revocation", b"".join(r.raw for r in got),
                         "a subscriber whose RETRIEVE was revoked received the content")
        hits = self.wait_audit(lambda e: e.get("op") == "notify" and self.reader in (e.get("originator") or ""))
        self.assertTrue(hits, "the withheld notification is not audited: %s" % self.audit_lines()[-3:])
        self.assertEqual(hits[-1].get("rsc"), 4103, hits[-1])

    def test_finding_3_net3_withholds_acp_and_private_children(self):
        # The reader may retrieve the owner's AE (and subscribe to it), not what the owner keeps
        # private below it.
        _, ae_acp_ri = self.new_acp(self.owner_path, self.owner, [(self.reader, R | C)])
        self.assertRsc(self.c.update(self.owner_path, "m2m:ae", {"acpi": [ae_acp_ri]}, origin=self.owner), 2004)
        path, url = self.target()
        self.new_sub(self.owner_path, self.reader, [url], enc={"net": [3]})
        secret_acp_rn = uniq("secretacp")
        acp = {"rn": secret_acp_rn, "pv": {"acr": [{"acor": ["Cfriend-secret-rule"], "acop": 63}]},
               "pvs": {"acr": [{"acor": [self.owner], "acop": 63}]}}
        self.assertRsc(self.c.create(self.owner_path, TY_ACP, acp, origin=self.owner, root="m2m:acp"), 2001)
        private_rn = uniq("private")
        self.new_cnt(self.owner_path, self.owner, rn=private_rn)   # no acpi: its creator only
        shared_rn = uniq("shared")
        self.new_cnt(self.owner_path, self.owner, rn=shared_rn, acpi=[ae_acp_ri])
        self.rx.wait(path)
        got = self.rx.settle(path)
        names = [v.get("rn") for _, v in self.reps(got)]
        self.assertIn(shared_rn, names, "the child the subscriber may retrieve is notified")
        self.assertNotIn(secret_acp_rn, names, "an <accessControlPolicy> the subscriber cannot read was sent")
        self.assertNotIn(private_rn, names, "a private container the subscriber cannot read was sent")
        self.assertNotIn(b"Cfriend-secret-rule", b"".join(r.raw for r in got))
        # net 4: the deletion of a private child is not told either
        path4, url4 = self.target()
        self.new_sub(self.owner_path, self.reader, [url4], enc={"net": [4]})
        self.assertRsc(self.c.delete(self.owner_path + "/" + private_rn, origin=self.owner), 2002)
        self.assertRsc(self.c.delete(self.owner_path + "/" + shared_rn, origin=self.owner), 2002)
        self.rx.wait(path4)
        names = [v.get("rn") for _, v in self.reps(self.rx.settle(path4))]
        self.assertEqual(names, [shared_rn])

    def test_finding_3_owner_still_notified(self):
        cnt_path, _ = self.new_cnt(self.owner_path, self.owner)
        path, url = self.target()
        self.new_sub(cnt_path, self.owner, [url], enc={"net": [3]})
        self.new_cin(cnt_path, self.owner, "mine")
        (rec,) = self.rx.wait(path)
        self.assertEqual([v.get("con") for _, v in self.reps([rec])], ["mine"])


# ==========================================================================
# Finding 6: batchNotify is bounded per subscription and in total, and ends with its subscription
# ==========================================================================

class BatchCase(NotifyCase):

    def agn_cons(self, rec):
        agn = (rec.body or {}).get("m2m:agn") or {}
        out = []
        for item in agn.get("m2m:sgn") or []:
            rep = (item.get("nev") or {}).get("rep") or {}
            out.append((rep.get("m2m:cin") or {}).get("con"))
        return out

    def batch_sent_early(self):
        """Three ~1.7 KB notifications into a batch of num 1000, dur 1 h: the bound of the class
        (4096 bytes) sends the batch at once instead of holding it for an hour."""
        aei, _, ae_path, _ = self.new_ae(rn=uniq("ae"))
        cnt_path, _ = self.new_cnt(ae_path, aei)
        path, url = self.target()
        self.new_sub(cnt_path, aei, [url], enc={"net": [3]}, bn={"num": 1000, "dur": 3600})
        big = "x" * 1500
        for i in range(3):
            self.new_cin(cnt_path, aei, "%d%s" % (i, big))
        (rec,) = self.rx.wait(path)
        self.assertEqual([c[:1] for c in self.agn_cons(rec)], ["0", "1", "2"])


class Finding6BatchTest(BatchCase):

    extra_args = ("--notify.batch_total=4096",)

    def test_finding_6_batch_num_and_dur_bounded_4000(self):
        aei, _, ae_path, _ = self.new_ae(rn=uniq("ae"))
        cnt_path, _ = self.new_cnt(ae_path, aei)
        _, url = self.target()
        for what, bn in (("num", {"num": 1000000000}), ("dur seconds", {"num": 2, "dur": 100000000}),
                         ("dur ISO", {"num": 2, "dur": "PT1000H"})):
            with self.subTest(what=what):
                rn = uniq("sub")
                r = self.assertRsc(self.create_sub(cnt_path, aei, [url], rn=rn, bn=bn), 4000)
                self.assertIn("notify.batch_", r.body["m2m:dbg"])
                self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=aei), 4004)
        sub_path = self.new_sub(cnt_path, aei, [url], bn={"num": 1000, "dur": 3600})
        self.assertRsc(self.c.update(sub_path, "m2m:sub", {"bn": {"num": 1000000000}}, origin=aei), 4000)

    def test_finding_6_batch_total_bound_sends_early(self):
        self.batch_sent_early()

    def test_finding_6_batch_ends_with_its_subscription(self):
        aei, _, ae_path, _ = self.new_ae(rn=uniq("ae"))
        cnt_path, _ = self.new_cnt(ae_path, aei)
        path, url = self.target()
        sub_path = self.new_sub(cnt_path, aei, [url], enc={"net": [3]}, bn={"num": 100, "dur": 3600})
        self.new_cin(cnt_path, aei, "a")
        self.new_cin(cnt_path, aei, "b")
        self.assertEqual(self.rx.settle(path), [])
        self.assertRsc(self.c.delete(sub_path, origin=aei), 2002)
        # what the batch held goes out when its subscription goes, and nothing stays behind
        (rec,) = self.rx.wait(path)
        self.assertEqual(self.agn_cons(rec), ["a", "b"])
        self.new_cin(cnt_path, aei, "after")
        self.assertEqual(len(self.rx.settle(path)), 1)


class Finding6BatchBytesTest(BatchCase):

    extra_args = ("--notify.batch_bytes=4096",)

    def test_finding_6_batch_bytes_bound_sends_early(self):
        self.batch_sent_early()


# ==========================================================================
# Finding 23: every subscription of a resource is notified; beyond notify.max_subs (256) the
# subscription is refused.  Finding 8 (targets): the targets one event can reach are bounded when
# subscriptions are written (notify.max_targets, 256), never by dropping at send time.
# ==========================================================================

class Finding23And8DefaultsTest(NotifyCase):

    def test_finding_23_every_subscription_notified_and_257th_refused(self):
        aei, _, ae_path, _ = self.new_ae(rn=uniq("ae"))
        cnt_path, _ = self.new_cnt(ae_path, aei)
        path, url = self.target()
        for i in range(256):
            self.new_sub(cnt_path, aei, ["%s?s=%d" % (url, i)], enc=CIN_ONLY)
        r = self.assertRsc(self.create_sub(cnt_path, aei, [url + "?s=256"], enc=CIN_ONLY), 4000)
        self.assertIn("notify.max_subs", r.body["m2m:dbg"])
        self.new_cin(cnt_path, aei, "to-all")
        got = self.rx.wait(path, count=256, timeout=30)
        self.assertEqual(sorted({r.path for r in got}), sorted("%s?s=%d" % (path, i) for i in range(256)))
        self.assertEqual(len(self.rx.settle(path)), 256)

    def test_finding_8_event_targets_bounded_at_subscription_create(self):
        aei, _, ae_path, _ = self.new_ae(rn=uniq("ae"))
        cnt_path, _ = self.new_cnt(ae_path, aei)
        _, url = self.target()
        self.new_sub(cnt_path, aei, ["%s?t=%d" % (url, i) for i in range(250)], enc=CIN_ONLY)
        r = self.assertRsc(self.create_sub(cnt_path, aei, ["%s?u=%d" % (url, i) for i in range(7)]), 4000)
        self.assertIn("notify.max_targets", r.body["m2m:dbg"])
        self.new_sub(cnt_path, aei, ["%s?u=%d" % (url, i) for i in range(6)])


class Finding8TargetsTest(NotifyCase):

    extra_args = ("--notify.max_targets=8",)

    def test_finding_8_nu_beyond_target_bound_refused_and_every_target_notified(self):
        aei, _, ae_path, _ = self.new_ae(rn=uniq("ae"))
        cnt_path, _ = self.new_cnt(ae_path, aei)
        path, url = self.target()
        # one subscription alone beyond the bound: refused before any target is contacted
        r = self.assertRsc(self.create_sub(cnt_path, aei, ["%s?z=%d" % (url, i) for i in range(9)]), 4000)
        self.assertIn("notify.max_targets", r.body["m2m:dbg"])
        nu = ["%s?t=%d" % (url, i) for i in range(5)]
        sub_path = self.new_sub(cnt_path, aei, nu, enc=CIN_ONLY)
        self.new_sub(cnt_path, aei, ["%s?t=5" % url, "%s?t=6" % url], enc=CIN_ONLY)
        # a third subscription with two targets, or nu grown beyond the bound: refused, clearly
        r = self.assertRsc(self.create_sub(cnt_path, aei, [url + "?x=1", url + "?x=2"]), 4000)
        self.assertIn("notify.max_targets", r.body["m2m:dbg"])
        r = self.assertRsc(self.c.update(sub_path, "m2m:sub", {"nu": nu + [url + "?y=1", url + "?y=2"]},
                                         origin=aei), 4000)
        self.assertIn("notify.max_targets", r.body["m2m:dbg"])
        self.assertRsc(self.c.update(sub_path, "m2m:sub", {"nu": nu[:4]}, origin=aei), 2004)
        self.new_sub(cnt_path, aei, [url + "?t=7", url + "?t=8"], enc=CIN_ONLY)
        # one event: every one of the 8 targets is notified, none dropped
        self.new_cin(cnt_path, aei, "to-each")
        got = self.rx.wait(path, count=8)
        self.assertEqual(sorted(r.path for r in got), sorted("%s?t=%d" % (path, i) for i in (0, 1, 2, 3, 5, 6, 7, 8)))
        self.assertEqual(len(self.rx.settle(path)), 8)


# ==========================================================================
# Finding 15: mqtt:// notification topics never name oneM2M request/response topics, wildcards or
# '$' topics; notify.mqtt_prefix confines them further.
# ==========================================================================

class Finding15MqttTopicTest(_MqttCase):

    def sub_over_http(self, aei, parent, nu, **attrs):
        attrs.update({"rn": uniq("sub"), "nu": [nu]})
        return self.http.create(parent, TY_SUB, attrs, origin=aei, root="m2m:sub")

    def fresh_cnt(self):
        aei = "C" + uniq("mq")
        r = self.http.register_ae(origin=aei, rn=aei[1:])
        self.assertEqual(r.rsc, 2001, r.body)
        path = "/%s/%s/%s" % (CSE_RN, aei[1:], "n")
        self.assertEqual(self.http.create("/%s/%s" % (CSE_RN, aei[1:]), TY_CNT, {"rn": "n"}, origin=aei).rsc, 2001)
        return aei, path

    def test_finding_15_mqtt_topics_of_onem2m_requests_and_responses_refused_4000(self):
        aei, cnt = self.fresh_cnt()
        base = "mqtt://127.0.0.1:%d/" % self.broker.port
        for topic in ("oneM2M/req/%s/id-in/json" % ADMIN, "/oneM2M/req/%s/id-in/json" % ADMIN,
                      "oneM2M/resp/Cvictim/id-in/json", "/oneM2M/resp/Cvictim/id-in/json", "oneM2M/req",
                      "/oneM2M/reg_req/cred/id-in/json", "oneM2M/reg_resp/x/id-in/json",
                      "$SYS/broker/x", "a/#", "a/+/b", "#"):
            with self.subTest(topic=topic):
                r = self.sub_over_http(aei, cnt, base + topic)
                self.assertEqual(r.rsc, 4000, "%s: %s" % (topic, r.body))
                self.assertIn("topic", r.body["m2m:dbg"])
        # su is a notification target as well
        r = self.sub_over_http(aei, cnt, base + "ok/" + uniq("t"), su=base + "/oneM2M/req/%s/id-in/json" % ADMIN)
        self.assertEqual(r.rsc, 4000, r.body)

    def test_finding_15_other_topics_still_notified(self):
        aei, cnt = self.fresh_cnt()
        for topic in ("ntf/" + uniq("t"), "oneM2M/other/" + uniq("t"), "/oneM2M/respx/" + uniq("t")):
            with self.subTest(topic=topic):
                listener = self.client("Lsn" + uniq(""), extra_topics=[topic])
                r = self.sub_over_http(aei, cnt, "mqtt://127.0.0.1:%d/%s" % (self.broker.port, topic),
                                       enc={"net": [3], "chty": [TY_CIN]})
                self.assertEqual(r.rsc, 2001, r.body)
                self.assertEqual(self.http.create(cnt, TY_CIN, {"con": topic}, origin=aei).rsc, 2001)
                self.assertIsNotNone(listener.wait_message(lambda m: m[0] == topic, timeout=DELIVERY))


class Finding15MqttPrefixTest(Finding15MqttTopicTest):

    warden_args = ("--notify.mqtt_prefix=ntf/",)

    def test_finding_15_other_topics_still_notified(self):
        aei, cnt = self.fresh_cnt()
        r = self.sub_over_http(aei, cnt, "mqtt://127.0.0.1:%d/elsewhere/x" % self.broker.port)
        self.assertEqual(r.rsc, 4000, r.body)
        self.assertIn("notify.mqtt_prefix", r.body["m2m:dbg"])
        r = self.sub_over_http(aei, cnt, "mqtt://127.0.0.1:%d/ntf/x" % self.broker.port)
        self.assertEqual(r.rsc, 2001, r.body)


# ==========================================================================
# Finding 26: tools/warden-das read the request after freeing it (its log said "? -> granted")
# ==========================================================================

class Finding26DasTest(unittest.TestCase):

    def das_argv(self, port, policy):
        binary = os.path.join(os.path.dirname(os.path.abspath(os.environ.get("WARDEN_BIN", "build/warden"))),
                              "warden-das")
        return [binary, "--port", str(port), "--policy", policy]

    def consult(self, das, orig):
        body = json.dumps({"m2m:seci": {"sit": 1, "dreq": {"or": orig, "op": 2, "trid": "x", "trt": 3}}}).encode()
        req = urllib.request.Request(das.uri, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "X-M2M-Origin": "/id-in",
                                              "X-M2M-RI": "c1"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def test_finding_26_das_logs_the_originator_it_answered(self):
        das = dynauth.Das([dynauth.rule(dynauth.USER, "privileges")])
        try:
            self.assertIn("dai", self.consult(das, dynauth.abs_ae(dynauth.USER))["m2m:seci"]["dres"])
            deadline = time.monotonic() + DELIVERY
            while not any("->" in line for line in das.lines) and time.monotonic() < deadline:
                time.sleep(0.02)
            lines = [line.strip() for line in das.lines if "->" in line]
            self.assertEqual(lines, ["warden-das: %s -> granted" % dynauth.abs_ae(dynauth.USER)])
        finally:
            das.stop()

    @unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
    def test_finding_26_das_answer_has_no_invalid_read(self):
        binary = self.das_argv(0, "")[0]
        with open(binary, "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("warden-das is built with AddressSanitizer (which checks the same) and cannot run "
                              "under valgrind")
        port = free_port()
        policy = os.path.join(dynauth.TMP, "das-vg-%d.json" % port)
        with open(policy, "w") as f:
            json.dump({"id": dynauth.DAS_ID, "cse": dynauth.OWN_CSE, "alg": "ES256",
                       "key": json.loads(dynauth.DAS_KEY.export()),
                       "rules": [dynauth.rule(dynauth.USER, "privileges")]}, f)
        proc = subprocess.Popen(["valgrind", "-q", "--error-exitcode=99"] + self.das_argv(port, policy),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines = []
        ready = threading.Event()

        def pump():
            for line in proc.stderr:
                lines.append(line)
                if "ready" in line:
                    ready.set()
        pumper = threading.Thread(target=pump, daemon=True)
        pumper.start()
        try:
            self.assertTrue(ready.wait(60), "warden-das under valgrind did not start: %s" % lines)
            das = type("D", (), {"uri": "http://127.0.0.1:%d/das" % port})()
            self.consult(das, dynauth.abs_ae(dynauth.USER))
        finally:
            proc.terminate()
            rc = proc.wait(60)
            pumper.join(5)
            proc.stderr.close()
        text = "".join(lines)
        self.assertNotIn("Invalid read", text, text[:2000])
        self.assertNotEqual(rc, 99, text[:2000])


# ==========================================================================
# Finding 25: DAS trust and outbound TLS.  A token in a DAS's answer must be issued by that DAS
# (authz.issuers "das"); in the secure profile a DAS is reached over https only, verified against
# notify.ca, with the CSE's own certificate as client credential; plain http:// notification
# targets are refused there unless notify.plain_http=1.
# ==========================================================================

class RefDas:
    """build/warden-das with an identity and key of its own."""

    def __init__(self, das_id, key, rules):
        self.port = free_port()
        policy = os.path.join(dynauth.TMP, "das-%s-%d.json" % (das_id, self.port))
        with open(policy, "w") as f:
            json.dump({"id": das_id, "cse": dynauth.OWN_CSE, "alg": "ES256", "key": json.loads(key.export()),
                       "rules": rules}, f)
        binary = os.path.join(os.path.dirname(os.path.abspath(os.environ.get("WARDEN_BIN", "build/warden"))),
                              "warden-das")
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--policy", policy],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        if "ready" not in self.proc.stderr.readline():
            raise RuntimeError("warden-das did not start")
        self.pump = threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True)
        self.pump.start()
        self.uri = "http://127.0.0.1:%d/das" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.pump.join(5)
        self.proc.stderr.close()


class Finding25DasIssuerTest(WardenTestCase):
    """Two reference DASes, each signing tokens as its own issuer; both issuers are trusted, but only
    CDas is configured as answering at its DAS address."""

    OWNER, USER = "Cf25own", "Cf25usr"

    @classmethod
    def setUpClass(cls):
        cls.key2 = jwk.JWK.generate(kty="EC", crv="P-256", kid="auth2")
        cls.das1 = RefDas(dynauth.DAS_ID, dynauth.DAS_KEY, [dynauth.rule(cls.USER, "token")])
        cls.das2 = RefDas("CAuth2", cls.key2, [dynauth.rule(cls.USER, "token")])
        issuers = os.path.join(dynauth.TMP, "issuers-f25.json")
        with open(issuers, "w") as f:
            json.dump({"issuers": [
                {"id": dynauth.DAS_ID, "keys": [json.loads(dynauth.DAS_KEY.export_public())], "das": [cls.das1.uri]},
                {"id": "CAuth2", "keys": [json.loads(cls.key2.export_public())]}]}, f)
        cls.server_args = ("--authz.issuers=%s" % issuers, NOTIFY_ALLOW)
        super().setUpClass()
        for stem in (cls.OWNER, cls.USER):
            assert cls.c.register_ae(origin=stem, rn=stem.lower()).rsc == 2001
        cls.owner = "/%s/%s" % (CSE_RN, cls.OWNER.lower())

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.das1.stop()
        cls.das2.stop()

    def guarded(self, das_uri):
        r = self.c.create(self.owner, TY_DAC, {"rn": uniq("dac"), "dae": True, "dap": [das_uri]}, origin=self.OWNER,
                          root="m2m:dac")
        dac = self.assertRsc(r, 2001).body["m2m:dac"]["ri"]
        acp = self.c.create(self.owner, TY_ACP, {"rn": uniq("acp"), "pv": {"acr": [{"acor": ["nobody"], "acop": 2}]},
                                                 "pvs": {"acr": [{"acor": [self.OWNER], "acop": 63}]}},
                            origin=self.OWNER, root="m2m:acp")
        path, _ = self.new_cnt(self.owner, self.OWNER, acpi=[self.assertRsc(acp, 2001).body["m2m:acp"]["ri"]],
                               daci=[dac])
        return path

    def test_finding_25_das_token_must_name_that_das_as_issuer(self):
        # CAuth2 is a trusted issuer, but not of the DAS at das2: its tokens there are refused
        self.assertRsc(self.c.retrieve(self.guarded(self.das2.uri), origin=self.USER), 4103)
        # the DAS configured as answering for CDas: its token grants
        self.assertRsc(self.c.retrieve(self.guarded(self.das1.uri), origin=self.USER), 2000)


class TlsPeer:
    """An https server (DAS and notification receiver) with a certificate of the test PKI that
    requires a client certificate of the same PKI; records each request with the client's certificate."""

    def __init__(self, pki):
        crt, key, _ = pki.issue("Cf25peer", ips=["127.0.0.1"])
        self.records = []
        self.cond = threading.Condition()
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
                with peer.cond:
                    peer.records.append((self.path, body, self.connection.getpeercert()))
                    peer.cond.notify_all()
                out = b""
                seci = (body or {}).get("m2m:seci") if isinstance(body, dict) else None
                if seci:
                    out = json.dumps({"m2m:seci": {"sit": 2, "dres": {"dai": {
                        "gp": {"acr": [{"acor": [seci["dreq"]["or"]], "acop": 2}]}, "pl": 60000}}}}).encode()
                self.send_response(200)
                self.send_header("X-M2M-RSC", "2000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(out)
                self.close_connection = True

            def log_message(self, *args):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        ctx.load_verify_locations(pki.ca_pem)
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def wait(self, path, timeout=DELIVERY):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [r for r in self.records if r[0] == path]
                if got or time.monotonic() > deadline:
                    return got
                self.cond.wait(0.1)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Finding25SecureTlsTest(WardenTestCase):

    extra = ()

    @classmethod
    def setUpClass(cls):
        cls.S = SecureServer(profile="secure", psk=False, certs=True,
                             extra=[NOTIFY_ALLOW, "--coap.address=127.0.0.1", "--coap.port=%d" % free_port()]
                             + list(cls.extra))
        cls.S.extra.append("--notify.ca=%s" % cls.S.pki.ca_pem)
        try:
            cls.S.start()
        except Exception:
            cls.S.cleanup()
            raise
        cls.server = cls.S.srv
        cls.peer = TlsPeer(cls.S.pki)
        cls.rx = RECEIVER

    @classmethod
    def tearDownClass(cls):
        cls.peer.stop()
        s, cls.S = cls.S, None
        try:
            s.stop()
        finally:
            s.cleanup()

    def cert_ae(self):
        stem = "C" + uniq("f25")
        crt, key, _ = self.S.pki.issue(stem)
        cc = self.S.cert_client(crt, key)
        self.assertRsc(cc.register_ae(origin=stem, rn=stem), 2001)
        return stem, cc, "/%s/%s" % (CSE_RN, stem)

    def test_finding_25_secure_das_over_plain_http_refused_4000(self):
        stem, cc, ae = self.cert_ae()
        r = self.assertRsc(cc.create(ae, TY_DAC, {"dae": True, "dap": ["http://127.0.0.1:%d/das" % self.rx.port]},
                                     origin=stem, root="m2m:dac"), 4000)
        self.assertIn("https", r.body["m2m:dbg"])

    def test_finding_25_secure_das_reached_over_verified_tls_with_the_cse_certificate(self):
        owner, oc, ae = self.cert_ae()
        user, uc, _ = self.cert_ae()
        dac = self.assertRsc(oc.create(ae, TY_DAC, {"dae": True, "dap": [self.peer.url("/das")]}, origin=owner,
                                       root="m2m:dac"), 2001).body["m2m:dac"]["ri"]
        acp = self.assertRsc(oc.create(ae, TY_ACP, {"rn": uniq("acp"),
                                                    "pv": {"acr": [{"acor": ["nobody"], "acop": 2}]},
                                                    "pvs": {"acr": [{"acor": [owner], "acop": 63}]}},
                                       origin=owner, root="m2m:acp"), 2001).body["m2m:acp"]["ri"]
        rn = uniq("cnt")
        self.assertRsc(oc.create(ae, TY_CNT, {"rn": rn, "acpi": [acp], "daci": [dac]}, origin=owner), 2001)
        self.assertRsc(uc.retrieve(ae + "/" + rn, origin=user), 2000)
        (rec,) = self.peer.wait("/das")[:1]
        self.assertIsNotNone(rec[2], "the CSE presented no client certificate to the DAS")
        self.assertIn("id-in", json.dumps(rec[2].get("subjectAltName")))

    def test_finding_25_secure_plain_http_notification_target_refused(self):
        stem, cc, ae = self.cert_ae()
        _, url = self.rx.new_path(), self.rx.url(self.rx.new_path())
        r = self.assertRsc(cc.create(ae, TY_SUB, {"nu": [url], "enc": {"net": [3]}}, origin=stem, root="m2m:sub"),
                           4000)
        self.assertIn("notify.plain_http", r.body["m2m:dbg"])
        # coap:// (UDP without DTLS) is plaintext as well
        r = self.assertRsc(cc.create(ae, TY_SUB, {"nu": ["coap://127.0.0.1:5683/n"]}, origin=stem, root="m2m:sub"),
                           4000)
        self.assertIn("notify.plain_http", r.body["m2m:dbg"])
        # https targets: verified with notify.ca, the CSE's certificate presented
        path = self.rx.new_path("tls")
        self.assertRsc(cc.create(ae, TY_SUB, {"nu": [self.peer.url(path)], "enc": {"net": [3]}}, origin=stem,
                                 root="m2m:sub"), 2001)
        self.assertRsc(cc.create(ae, TY_CNT, {"rn": uniq("cnt")}, origin=stem), 2001)
        got = self.peer.wait(path)
        self.assertTrue(got, "no notification over TLS")
        self.assertIsNotNone(got[0][2])


class Finding25SecurePlainHttpAllowedTest(Finding25SecureTlsTest):
    """notify.plain_http=1: the operator allows plain http notification targets (never a DAS)."""

    extra = ("--notify.plain_http=1",)

    test_finding_25_secure_das_reached_over_verified_tls_with_the_cse_certificate = None
    test_finding_25_secure_plain_http_notification_target_refused = None

    def test_finding_25_secure_plain_http_target_allowed_by_notify_plain_http(self):
        stem, cc, ae = self.cert_ae()
        path = self.rx.new_path()
        self.assertRsc(cc.create(ae, TY_SUB, {"nu": [self.rx.url(path)], "enc": {"net": [3]}}, origin=stem,
                                 root="m2m:sub"), 2001)
        self.assertRsc(cc.create(ae, TY_SUB, {"nu": ["coap://127.0.0.1:5683/n"]}, origin=stem, root="m2m:sub"), 2001)
        self.assertRsc(cc.create(ae, TY_CNT, {"rn": uniq("cnt")}, origin=stem), 2001)
        self.rx.wait(path)


if __name__ == "__main__":
    main()
