"""Black-box tests of the MQTT binding (oneM2M TS-0010; docs/http-contract.md "MQTT, CoAP and CBOR").

Each class starts a private mosquitto (tools/mosquitto/private_broker.py) on a free loopback port and
the real warden with --mqtt.address=127.0.0.1 --mqtt.port=P (plain HTTP as well, for setup and
comparison).  Clients are paho-mqtt 1.x (Debian python3-paho-mqtt), QoS 1.

    WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_mqtt.py
"""

import json
import os
import shutil
import struct
import tempfile
import threading
import time
import unittest

from mqtt_helpers import CSE_LEVEL, MqttClient, answers_probe, PrivateBroker, broker_available, paho
from wardentest import (ADMIN, CSE_RN, TY_AE, TY_CIN, TY_CNT, WardenServer, et_in, main, uniq)

TY_ACP = 1
TY_SUB = 23

SKIP = None
if paho is None:
    SKIP = "paho-mqtt is not installed (apt-get install python3-paho-mqtt)"
elif not broker_available():
    SKIP = "/usr/sbin/mosquitto is not installed (apt-get install mosquitto)"


def ts_past(seconds):
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() - seconds))


# -- a minimal CBOR codec (RFC 8949 subset: the JSON data model) --------------------------------
def cbor_encode(v):
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | ai]) + struct.pack(fmt, n)
        raise ValueError(n)
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode("utf-8")
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor_encode(e) for e in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor_encode(k) + cbor_encode(e) for k, e in v.items())
    raise TypeError(type(v))


def cbor_decode(data):
    def item(i):
        ib = data[i]
        major, ai = ib >> 5, ib & 31
        i += 1
        if major == 7:
            if ai == 20:
                return False, i
            if ai == 21:
                return True, i
            if ai == 22:
                return None, i
            if ai == 27:
                return struct.unpack(">d", data[i:i + 8])[0], i + 8
            if ai == 26:
                return struct.unpack(">f", data[i:i + 4])[0], i + 4
            if ai == 25:
                h = struct.unpack(">H", data[i:i + 2])[0]
                return float(h), i + 2  # good enough for the tests
            raise ValueError("simple %d" % ai)
        if ai < 24:
            n = ai
        else:
            size = {24: 1, 25: 2, 26: 4, 27: 8}[ai]
            n = int.from_bytes(data[i:i + size], "big")
            i += size
        if major == 0:
            return n, i
        if major == 1:
            return -1 - n, i
        if major == 3:
            return data[i:i + n].decode("utf-8"), i + n
        if major == 4:
            out = []
            for _ in range(n):
                e, i = item(i)
                out.append(e)
            return out, i
        if major == 5:
            out = {}
            for _ in range(n):
                k, i = item(i)
                e, i = item(i)
                out[k] = e
            return out, i
        raise ValueError("major %d" % major)
    v, end = item(0)
    if end != len(data):
        raise ValueError("trailing bytes")
    return v


class _MqttCase(unittest.TestCase):
    """One broker + one warden per class; ``warden_args`` adds arguments; ``acl`` turns on the
    broker's per-ClientId topic ACL."""

    warden_args = ()
    acl = False
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        if SKIP:
            raise unittest.SkipTest(SKIP)
        cls.broker = PrivateBroker(acl=cls.acl).start()
        cls.server = WardenServer(extra_args=["--mqtt.address=127.0.0.1", "--mqtt.port=%d" % cls.broker.port,
                                              "--notify.allow=127.0.0.1/32"] + list(cls.warden_args))
        try:
            cls.server.start()
        except Exception:
            cls.broker.cleanup()
            raise
        cls.http = cls.server.client()
        cls.clients = []
        cls.wait_cse_subscribed()

    @classmethod
    def wait_cse_subscribed(cls, timeout=10.0):
        """The CSE subscribes right after it connects: probe until it answers."""
        if not answers_probe(cls.client("Cprobe" + uniq("")), timeout):
            raise AssertionError("the CSE does not answer over MQTT; warden output:\n" + cls.server.output())

    @classmethod
    def client(cls, level, client_id=None, **kw):
        c = MqttClient(cls.broker.port, client_id or level, level=level, **kw).start()
        cls.clients.append(c)
        return c

    @classmethod
    def tearDownClass(cls):
        for c in getattr(cls, "clients", []):
            try:
                c.stop()
            except Exception:
                pass
        srv = getattr(cls, "server", None)
        try:
            if srv is not None and srv.running():
                rc = srv.stop()
                if rc != 0:
                    raise AssertionError("warden exit status %r after SIGTERM:\n%s" % (rc, srv.output()))
        finally:
            if srv is not None:
                srv.cleanup()
            cls.broker.cleanup()

    # -- helpers ------------------------------------------------------------------------------
    def assertPrim(self, rsp, rsc, msg=None):
        self.assertIsInstance(rsp, dict)
        self.assertEqual(rsp.get("rsc"), rsc, "%s%s" % ((msg + ": ") if msg else "", json.dumps(rsp)[:600]))
        if rsc >= 4000:
            self.assertIsInstance(rsp.get("pc", {}).get("m2m:dbg"), str, json.dumps(rsp)[:600])
        return rsp

    def register(self, c, stem=None):
        """Register an AE over MQTT as the client's level (an AE-ID-Stem); returns its aei."""
        stem = stem or c.level
        rsp = c.request({"op": 1, "to": CSE_RN, "fr": stem, "rqi": uniq("reg"), "rvi": "3", "ty": TY_AE,
                         "pc": {"m2m:ae": {"rn": stem, "api": "Nmqtt", "rr": True}}})
        self.assertPrim(rsp, 2001, "AE registration over MQTT")
        return rsp["pc"]["m2m:ae"]["aei"]

    def prim(self, op, to, fr, **kw):
        p = {"op": op, "to": to, "fr": fr, "rqi": uniq("q"), "rvi": "3"}
        p.update(kw)
        return p


class MqttBindingTest(_MqttCase):

    # TS-0010 §6.4.4: initial registration under a Credential-ID
    def test_ts0010_6_4_4_registration_over_reg_req(self):
        cred = "cred-" + uniq("")
        c = self.client(cred)
        for fr in ("C", None):
            p = {"op": 1, "to": CSE_RN, "rqi": uniq("r"), "rvi": "3", "ty": TY_AE,
                 "pc": {"m2m:ae": {"api": "Nreg", "rr": False}}}
            if fr is not None:
                p["fr"] = fr
            rsp = c.request(p, kind="reg_req")
            self.assertPrim(rsp, 2001)
            topic = c.by_rqi[p["rqi"]][0][0]
            self.assertEqual(topic, "/oneM2M/reg_resp/%s/%s/json" % (cred, CSE_LEVEL))
            aei = rsp["pc"]["m2m:ae"]["aei"]
            self.assertTrue(aei.startswith("C"), aei)
            self.assertEqual(rsp["fr"], "/id-in")
            # the AE exists (checked over HTTP)
            r = self.http.retrieve("/%s/%s" % (CSE_RN, rsp["pc"]["m2m:ae"]["rn"]), origin=aei)
            self.assertEqual(r.rsc, 2000)

    def test_ts0010_6_4_4_reg_req_carries_only_registration(self):
        c = self.client("cred-" + uniq(""))
        rsp = c.request({"op": 2, "to": CSE_RN, "fr": ADMIN, "rqi": uniq("r")}, kind="reg_req")
        self.assertPrim(rsp, 4000)
        rsp = c.request({"op": 1, "to": CSE_RN, "fr": "Cchosen" + uniq(""), "rqi": uniq("r"), "ty": TY_AE,
                         "pc": {"m2m:ae": {"api": "Nx", "rr": False}}}, kind="reg_req")
        self.assertPrim(rsp, 4000)

    # TS-0010 §6.4.2 + TS-0004 §7.3.2.1: registration on the req topic with From C
    def test_ts0010_6_4_2_registration_over_req_with_fr_c(self):
        c = self.client("Cnew" + uniq(""))
        rsp = c.request({"op": 1, "to": CSE_RN, "fr": "C", "rqi": uniq("r"), "rvi": "3", "ty": TY_AE,
                         "pc": {"m2m:ae": {"api": "Nreq", "rr": False}}})
        self.assertPrim(rsp, 2001)
        self.assertTrue(rsp["pc"]["m2m:ae"]["aei"].startswith("C"))
        self.assertEqual(rsp.get("rvi"), "3")

    def test_ts0010_6_4_2_registration_with_stem_and_duplicate(self):
        c = self.client("Cstem" + uniq(""))
        self.assertEqual(self.register(c), c.level)
        rsp = c.request(self.prim(1, CSE_RN, c.level, ty=TY_AE, pc={"m2m:ae": {"api": "Nx", "rr": False}}))
        self.assertPrim(rsp, 4117)

    # TS-0010 §6.5.1/§6.5.2 + TS-0004 §7.2.1: CRUD of container and contentInstance
    def test_ts0010_6_5_crud_container_and_content_instance(self):
        c = self.client("Ccrud" + uniq(""))
        self.register(c)
        ae = "%s/%s" % (CSE_RN, c.level)
        rsp = self.assertPrim(c.request(self.prim(1, ae, c.level, ty=TY_CNT, pc={"m2m:cnt": {"rn": "cnt1", "mni": 5}})),
                              2001)
        self.assertEqual(rsp["pc"]["m2m:cnt"]["rn"], "cnt1")
        self.assertEqual(rsp["to"], c.level)
        for i in range(3):
            self.assertPrim(c.request(self.prim(1, ae + "/cnt1", c.level, ty=TY_CIN,
                                                pc={"m2m:cin": {"con": "v%d" % i, "lbl": ["a"]}})), 2001)
        rsp = self.assertPrim(c.request(self.prim(2, ae + "/cnt1/la", c.level)), 2000)
        self.assertEqual(rsp["pc"]["m2m:cin"]["con"], "v2")
        rsp = self.assertPrim(c.request(self.prim(2, ae + "/cnt1", c.level, rcn=1)), 2000)
        self.assertEqual(rsp["pc"]["m2m:cnt"]["cni"], 3)
        rsp = self.assertPrim(c.request(self.prim(3, ae + "/cnt1", c.level, pc={"m2m:cnt": {"lbl": ["x"]}})), 2004)
        self.assertEqual(rsp["pc"]["m2m:cnt"]["lbl"], ["x"])
        # contentInstances are immutable (same as HTTP)
        self.assertPrim(c.request(self.prim(3, ae + "/cnt1/la", c.level, pc={"m2m:cin": {"con": "z"}})), 4005)
        self.assertPrim(c.request(self.prim(4, ae + "/cnt1/ol", c.level)), 2002)
        self.assertPrim(c.request(self.prim(4, ae + "/cnt1", c.level)), 2002)
        self.assertPrim(c.request(self.prim(2, ae + "/cnt1", c.level)), 4004)
        # the same resource tree is seen over HTTP
        r = self.http.retrieve("/" + ae, origin=c.level)
        self.assertEqual(r.rsc, 2000)

    def test_ts0010_6_5_1_wrapped_request_primitive(self):
        c = self.client("Cwrap" + uniq(""))
        self.register(c)
        p = self.prim(2, "%s/%s" % (CSE_RN, c.level), c.level)
        c.publish("/oneM2M/req/%s/%s/json" % (c.level, CSE_LEVEL), {"m2m:rqp": p})
        self.assertPrim(c.wait_rqi(p["rqi"]), 2000)

    # TS-0004 §7.3.3.x discovery with filter criteria in the primitive (fc)
    def test_ts0010_6_5_1_discovery_with_filter_criteria(self):
        c = self.client("Cdisc" + uniq(""))
        self.register(c)
        ae = "%s/%s" % (CSE_RN, c.level)
        self.assertPrim(c.request(self.prim(1, ae, c.level, ty=TY_CNT, pc={"m2m:cnt": {"rn": "d"}})), 2001)
        for i, lbl in enumerate((["a"], ["b"], ["c"])):
            self.assertPrim(c.request(self.prim(1, ae + "/d", c.level, ty=TY_CIN,
                                                pc={"m2m:cin": {"rn": "i%d" % i, "con": "x", "lbl": lbl}})), 2001)
        rsp = self.assertPrim(c.request(self.prim(2, ae, c.level, fc={"fu": 1, "ty": 4, "lbl": ["a", "b"]}, drt=1)),
                              2000)
        uril = rsp["pc"]["m2m:uril"]
        self.assertEqual(sorted(u.rsplit("/", 1)[-1] for u in uril), ["i0", "i1"], uril)
        rsp = self.assertPrim(c.request(self.prim(2, ae, c.level, fc={"fu": 1, "ty": [3, 4], "lim": 2})), 2000)
        self.assertEqual(len(rsp["pc"]["m2m:uril"]), 2)
        # attribute filter as fc.atr
        rsp = self.assertPrim(c.request(self.prim(2, ae, c.level, fc={"fu": 1, "atr": [{"nm": "rn", "val": "i2"}]})),
                              2000)
        self.assertEqual([u.rsplit("/", 1)[-1] for u in rsp["pc"]["m2m:uril"]], ["i2"])
        # a bad filter value is the same 4000 as over HTTP
        self.assertPrim(c.request(self.prim(2, ae, c.level, fc={"fu": 1, "lim": -1})), 4000)

    # TS-0010 §6.6: notificationURI mqtt://<broker>/<topic>
    def test_ts0010_6_6_notification_to_mqtt_uri(self):
        c = self.client("Cntf" + uniq(""))
        self.register(c)
        topic = "ntf/" + uniq("t")
        listener = self.client("Lsn" + uniq(""), extra_topics=[topic])
        ae = "%s/%s" % (CSE_RN, c.level)
        self.assertPrim(c.request(self.prim(1, ae, c.level, ty=TY_CNT, pc={"m2m:cnt": {"rn": "n"}})), 2001)
        nu = "mqtt://127.0.0.1:%d/%s" % (self.broker.port, topic)
        self.assertPrim(c.request(self.prim(1, ae + "/n", c.level, ty=TY_SUB,
                                            pc={"m2m:sub": {"rn": "s", "nu": [nu], "enc": {"net": [3]}}})), 2001)
        self.assertPrim(c.request(self.prim(1, ae + "/n", c.level, ty=TY_CIN, pc={"m2m:cin": {"con": "hello"}})),
                        2001)
        m = listener.wait_message(lambda m: m[0] == topic, timeout=5)
        self.assertIsNotNone(m, "no notification published to %s" % topic)
        prim = json.loads(m[1])
        self.assertEqual(prim["op"], 5)
        self.assertEqual(prim["fr"], "/id-in")
        self.assertIsInstance(prim["rqi"], str)
        sgn = prim["pc"]["m2m:sgn"]
        self.assertEqual(sgn["nev"]["rep"]["m2m:cin"]["con"], "hello")
        self.assertEqual(sgn["nev"]["net"], 3)

    def test_ts0010_6_6_notification_uri_must_use_the_configured_broker(self):
        c = self.client("Cntb" + uniq(""))
        self.register(c)
        ae = "%s/%s" % (CSE_RN, c.level)
        for nu in ("mqtt://192.0.2.7:1883/x", "mqtt://127.0.0.1:%d/" % self.broker.port,
                   "mqtt://127.0.0.1:%d/a/+/b" % self.broker.port):
            self.assertPrim(c.request(self.prim(1, ae, c.level, ty=TY_SUB, pc={"m2m:sub": {"nu": [nu]}})), 4000, nu)

    # TS-0004 §7.3.2.1 / TS-0001 §9.6.2: the same access decisions as HTTP
    def test_ts0004_7_3_2_1_acp_denial_4103_as_over_http(self):
        owner = self.client("Cown" + uniq(""))
        other = self.client("Coth" + uniq(""))
        self.register(owner)
        self.register(other)
        path = "%s/%s" % (CSE_RN, owner.level)
        rsp = other.request(self.prim(2, path, other.level))
        self.assertPrim(rsp, 4103)
        r = self.http.retrieve("/" + path, origin=other.level)
        self.assertEqual(r.rsc, 4103)
        # an unregistered AE-ID is refused before any routing, as over HTTP
        ghost = self.client("Cghost" + uniq(""))
        self.assertPrim(ghost.request(self.prim(2, path, ghost.level)), 4106)

    # Finding 7 (issue 12): over MQTT the CSE knows only the broker's address, never the client's.
    # An acip condition must then fail closed (TS-0003 §7.1.5: every context element must hold),
    # not match the broker's network; over HTTP from the same host the same rule grants.
    def test_finding_7_acip_over_mqtt_fails_closed(self):
        owner = self.client("Cown" + uniq(""))
        other = self.client("Coth" + uniq(""))
        self.register(owner)
        self.register(other)
        ae = "/%s/%s" % (CSE_RN, owner.level)
        r = self.http.create(ae, TY_ACP, root="m2m:acp", attrs={"rn": "lan", "pv": {"acr": [
            {"acor": [other.level], "acop": 2 | 32,
             "acco": [{"acip": {"ipv4": ["127.0.0.0/8"], "ipv6": ["::1/128"]}}]}]},
            "pvs": {"acr": [{"acor": [owner.level], "acop": 63}]}}, origin=owner.level)
        self.assertEqual(r.rsc, 2001, r.body)
        acpi = r.body["m2m:acp"]["ri"]
        r = self.http.create(ae, TY_CNT, {"rn": "box", "acpi": [acpi]}, origin=owner.level)
        self.assertEqual(r.rsc, 2001, r.body)
        path = "%s/%s/box" % (CSE_RN, owner.level)
        # over HTTP the peer is the client itself (127.0.0.1): the rule grants
        self.assertEqual(self.http.retrieve("/" + path, origin=other.level).rsc, 2000)
        # over MQTT the broker (also 127.0.0.1) relays the request: the client's address is unknown
        rsp = self.assertPrim(other.request(self.prim(2, path, other.level)), 4103)
        self.assertIn("context-ip-unknown-peer", rsp["pc"]["m2m:dbg"])
        # and the same holds for every operation the rule names, e.g. discovery: over HTTP the
        # container is found, over MQTT it is skipped (TS-0001 §10.2.6: discovery skips, not stops)
        r = self.http.request("GET", ae, origin=other.level, query={"fu": "1"})
        self.assertEqual((r.rsc, r.body.get("m2m:uril")), (2000, [path]), r.body)
        rsp = other.request(self.prim(2, ae[1:], other.level, fc={"fu": 1}))
        self.assertPrim(rsp, 2000)
        self.assertEqual(rsp["pc"].get("m2m:uril"), [], rsp)
        # explain without a peer address (as over MQTT) says why the acip rule failed
        r = self.http.retrieve("/%s/$explain" % CSE_RN, origin=ADMIN,
                               query={"exfr": other.level, "exop": "retrieve", "exto": path})
        self.assertEqual(r.rsc, 2000, r.body)
        text = "\n".join(r.body["wdn:explain"]["reasons"])
        self.assertEqual(r.body["wdn:explain"]["decision"], "DENY", text)
        self.assertIn("context-ip-unknown-peer", text)

    # TS-0010 §6.4.2, §7.2: the topic names the originator; From must be that originator
    def test_ts0010_6_4_2_from_must_match_topic_originator(self):
        me = self.client("Cme" + uniq(""))
        victim = self.client("Cvic" + uniq(""))
        self.register(me)
        self.register(victim)
        p = self.prim(2, "%s/%s" % (CSE_RN, victim.level), victim.level)
        rsp = me.request(p)
        self.assertPrim(rsp, 4000)
        self.assertIn("from does not match topic", rsp["pc"]["m2m:dbg"])
        self.assertEqual(me.by_rqi[p["rqi"]][0][0], "/oneM2M/resp/%s/%s/json" % (me.level, CSE_LEVEL))
        time.sleep(0.2)
        self.assertNotIn(p["rqi"], victim.by_rqi, "the response went to the spoofed originator")
        # the same ID in another form is the same originator (SP-relative From, stem topic)
        rsp = me.request(self.prim(2, CSE_RN, "/id-in/" + me.level))
        self.assertEqual(rsp["rsc"], 4000)  # a registered AE uses its stem without an SA (as over HTTP)
        self.assertNotIn("topic", rsp["pc"]["m2m:dbg"])

    # TS-0010 §6.5.1: malformed payloads
    def test_ts0010_6_5_1_malformed_payloads_answered_4000(self):
        c = self.client("Cbad" + uniq(""))
        self.register(c)
        topic = "/oneM2M/req/%s/%s/json" % (c.level, CSE_LEVEL)
        before = c.count()
        for payload in (b"not json", b"", b"[1,2]", b'{"op":2,"to":"cse-in","fr":"%s"}' % c.level.encode(),
                        b'{"op":2,"to":"cse-in","rqi":7}', b"\xff\xfe"):
            c.publish(topic, payload)
        deadline = time.monotonic() + 5
        while c.count() < before + 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        got = [json.loads(m[1]) for m in c.messages[before:]]
        self.assertEqual(len(got), 6, got)
        for g in got:
            self.assertEqual(g["rsc"], 4000, g)
            self.assertNotIn("rqi", g)
            self.assertIsInstance(g["pc"]["m2m:dbg"], str)
        # wrong types with a readable rqi: answered with that rqi
        cases = [
            {"op": "2", "to": CSE_RN, "fr": c.level},
            {"op": 2, "to": 5, "fr": c.level},
            {"op": 2, "to": CSE_RN, "fr": c.level, "rcn": "1"},
            {"op": 9, "to": CSE_RN, "fr": c.level},
            {"op": 1, "to": CSE_RN, "fr": c.level, "ty": "3", "pc": {}},
            {"op": 2, "to": CSE_RN, "fr": c.level, "fc": [1]},
            {"op": 2, "to": CSE_RN, "fr": c.level, "unknown": 1},
            {"to": CSE_RN, "fr": c.level},
        ]
        for p in cases:
            p["rqi"] = uniq("w")
            rsp = c.request(p)
            self.assertPrim(rsp, 4000, json.dumps(p))
            self.assertEqual(rsp["rqi"], p["rqi"])
        # the CSE still answers
        self.assertPrim(c.request(self.prim(2, CSE_RN, c.level)), 2000)

    def test_finding_13_mqtt_nul_and_repeated_parameters_4000(self):
        """Sibling of finding 13: a NUL inside a parameter (JSON "\\u0000") or a parameter given twice
        is refused, never cut or read one way by one party and another way by another."""
        c = self.client("Cdup" + uniq(""))
        self.register(c)
        topic = "/oneM2M/req/%s/%s/json" % (c.level, CSE_LEVEL)
        before = c.count()
        payloads = [b'{"op":2,"to":"%s","fr":"%s\\u0000junk","rqi":"n1","rvi":"3"}' % (CSE_RN.encode(), c.level.encode()),
                    b'{"op":2,"to":"%s","fr":"%s","fr":"CAdmin","rqi":"n2","rvi":"3"}' % (CSE_RN.encode(), c.level.encode())]
        for payload in payloads:
            c.publish(topic, payload)
        deadline = time.monotonic() + 5
        while c.count() < before + len(payloads) and time.monotonic() < deadline:
            time.sleep(0.05)
        got = [json.loads(m[1]) for m in c.messages[before:]]
        self.assertEqual([g["rsc"] for g in got], [4000] * len(payloads), got)

    def test_finding_30_mqtt_error_answer_is_valid_utf8_json(self):
        """An error message quoting a parameter name cut inside a UTF-8 character is still UTF-8 JSON,
        and CBOR on the /cbor topic."""
        c = self.client("Cutf" + uniq(""))
        self.register(c)
        p = self.prim(2, CSE_RN, c.level)
        p["a" * 31 + "\u00e9"] = 1
        before = c.count()
        c.publish("/oneM2M/req/%s/%s/json" % (c.level, CSE_LEVEL), json.dumps(p, ensure_ascii=False).encode())
        deadline = time.monotonic() + 5
        while c.count() < before + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(c.count(), before + 1, "no answer")
        raw = c.messages[before][1]
        try:
            rsp = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self.fail("the response primitive is not UTF-8: %r" % raw)
        self.assertPrim(rsp, 4000)

    def test_ts0010_6_4_3_unusable_topics_are_dropped(self):
        c = self.client("Cdrop" + uniq(""))
        self.register(c)
        before = c.count()
        p = self.prim(2, CSE_RN, c.level)
        c.publish("/oneM2M/req/%s/%s/yaml" % (c.level, CSE_LEVEL), p)  # unknown type level
        c.publish("/oneM2M/req/%s/%s/json/extra" % (c.level, CSE_LEVEL), p)  # extra level
        c.publish("/oneM2M/req/%s/%s/json" % (c.level, CSE_LEVEL), "{")  # answered (4000)
        # published in this order on one connection: once the third is answered, the first two
        # have been seen; a little longer for any stray answer
        resp = "/oneM2M/resp/%s/" % c.level
        self.assertIsNotNone(c.wait_message(lambda m: m[0].startswith(resp) and json.loads(m[1]).get("rsc") == 4000,
                                            timeout=5), c.messages[before:])
        time.sleep(0.5)
        self.assertEqual(c.count(), before + 1, c.messages[before:])
        self.assertNotIn(p["rqi"], c.by_rqi)

    def test_ts0010_6_5_4_xml_is_refused_4015(self):
        c = self.client("Cxml" + uniq(""))
        before = c.count()
        c.publish("/oneM2M/req/%s/%s/xml" % (c.level, CSE_LEVEL), "<m2m:rqp/>")
        m = c.wait_message(lambda m: m[0].startswith("/oneM2M/resp/%s/" % c.level), timeout=5)
        self.assertIsNotNone(m)
        self.assertEqual(json.loads(m[1])["rsc"], 4015)
        self.assertEqual(c.count(), before + 1)

    # TS-0010 §6.4.3: the request expiration timestamp is checked on receipt
    def test_ts0010_6_4_3_expired_request_4008(self):
        c = self.client("Cexp" + uniq(""))
        self.register(c)
        rsp = c.request(self.prim(1, "%s/%s" % (CSE_RN, c.level), c.level, ty=TY_CNT, rqet=ts_past(60),
                                  pc={"m2m:cnt": {"rn": "late"}}))
        self.assertPrim(rsp, 4008)
        self.assertPrim(c.request(self.prim(2, "%s/%s/late" % (CSE_RN, c.level), c.level)), 4004)
        rsp = c.request(self.prim(2, "%s/%s" % (CSE_RN, c.level), c.level, rqet=et_in(60)))
        self.assertPrim(rsp, 2000)

    # TS-0004 §7.3.2.1 (issue 12 finding 20's sibling): rset, oet and ec (a CMDH parameter) are not
    # supported: NOT_IMPLEMENTED, never silently ignored
    def test_ts0004_7_3_2_1_unsupported_parameters_5001(self):
        c = self.client("Cuns" + uniq(""))
        self.register(c)
        # rset and oet are implemented (test_conformance), gid too (test_group_remote); the CMDH
        # parameters are not
        for k, v in (("ec", 2),):
            self.assertPrim(c.request(self.prim(2, "%s/%s" % (CSE_RN, c.level), c.level, **{k: v})), 5001)

    # TS-0010 §6.5.4 + TS-0004 §8.4: CBOR serialization on /cbor topics
    def test_ts0010_6_5_4_cbor_topics(self):
        c = self.client("Ccbor" + uniq(""))
        p = {"op": 1, "to": CSE_RN, "fr": c.level, "rqi": uniq("cb"), "rvi": "3", "ty": TY_AE,
             "pc": {"m2m:ae": {"rn": c.level, "api": "Ncbor", "rr": True, "lbl": ["x", "y"]}}}
        before = c.count()
        c.publish("/oneM2M/req/%s/%s/cbor" % (c.level, CSE_LEVEL), cbor_encode(p))
        m = c.wait_message(lambda m: m[0].startswith("/oneM2M/resp/%s/" % c.level), timeout=5)
        self.assertIsNotNone(m, "no response to a CBOR request")
        if m[0].endswith("/json"):
            rsp = json.loads(m[1])
            if "not available" in json.dumps(rsp):
                self.skipTest("the CBOR codec is not available in this build: %s" % rsp["pc"]["m2m:dbg"])
            self.fail("CBOR request answered in JSON: %s" % rsp)
        self.assertEqual(m[0], "/oneM2M/resp/%s/%s/cbor" % (c.level, CSE_LEVEL))
        rsp = cbor_decode(m[1])
        self.assertEqual(rsp["rsc"], 2001, rsp)
        self.assertEqual(rsp["rqi"], p["rqi"])
        self.assertEqual(rsp["pc"]["m2m:ae"]["lbl"], ["x", "y"])
        self.assertEqual(c.count(), before + 1)
        # CBOR without a JSON equivalent (a byte string) -> 4000, in CBOR
        c.publish("/oneM2M/req/%s/%s/cbor" % (c.level, CSE_LEVEL), b"\xa1\x63rqi\x42ab")
        m = c.wait_message(lambda m: m[0].endswith("/cbor") and cbor_decode(m[1]).get("rsc") == 4000, timeout=5)
        self.assertIsNotNone(m, "no 4000 for CBOR with a byte string")


class MqttRateLimitTest(_MqttCase):
    """Finding 8 (issue 12): limits.rate is taken in the one dispatch path, so MQTT requests are limited
    per originator as HTTP ones are, and share the originator's bucket with them."""

    warden_args = ("--limits.rate=1", "--limits.rate_burst=2")

    def test_finding_8_rate_limit_over_mqtt(self):
        c = self.client("Crl" + uniq(""))
        self.register(c)
        path = "%s/%s" % (CSE_RN, c.level)
        end = time.monotonic() + 10
        while c.request(self.prim(2, path, c.level)).get("rsc") != 2000:  # the registration took a token
            self.assertLess(time.monotonic(), end, "never served again")
            time.sleep(0.2)
        t0 = time.monotonic()
        rscs = [c.request(self.prim(2, path, c.level)).get("rsc") for _ in range(8)]
        elapsed = time.monotonic() - t0
        self.assertEqual(set(rscs) - {2000, 5207}, set(), rscs)
        self.assertLessEqual(rscs.count(2000), 2 + int(elapsed) + 1, "%s in %.2fs" % (rscs, elapsed))
        if elapsed < 4:
            self.assertIn(5207, rscs, "%s in %.2fs" % (rscs, elapsed))
            rsp = c.request(self.prim(2, path, c.level))
            if rsp.get("rsc") == 5207:
                self.assertIn("rate limit", rsp["pc"]["m2m:dbg"])


class MqttFloodTest(_MqttCase):
    """Robustness: junk and oversized payloads on the request topic are answered (or dropped) without
    the CSE's memory growing without bound, and a valid request after them is answered promptly."""

    warden_args = ("--limits.max_body=65536",)

    def rss_kb(self):
        with open("/proc/%d/status" % self.server.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def flood(self, c, n, big):
        topic = "/oneM2M/req/%s/%s/json" % (c.level, CSE_LEVEL)
        tag = uniq("").encode()  # every payload different: identical ones would be taken for redeliveries
        for i in range(n):
            if i % 50 == 0:
                c.publish(topic, big + b"%s %d" % (tag, i))  # over limits.max_body
            else:
                c.publish(topic, b"junk %s %d \xff{" % (tag, i))  # not a primitive
        c.publish("/oneM2M/req/%s/%s/yaml" % (c.level, CSE_LEVEL), b"x" * 1000)  # unusable topic

    def test_flood_of_junk_then_a_valid_request(self):
        c = self.client("Cflood" + uniq(""))
        self.register(c)
        big = b"{" + b" " * 200000 + b"}"
        sink = self.client("Csink" + uniq(""))  # the answers are read, so the broker does not pile them up
        self.flood(c, 500, big)  # warm-up: allocator pools, broker session
        time.sleep(1.0)
        base = self.rss_kb()
        t0 = time.monotonic()
        self.flood(c, 2000, big)
        p = self.prim(2, CSE_RN, c.level)
        c.publish("/oneM2M/req/%s/%s/json" % (c.level, CSE_LEVEL), p)
        rsp = c.wait_rqi(p["rqi"], timeout=10)
        took = time.monotonic() - t0
        self.assertPrim(rsp, 2000)
        self.assertLess(took, 10.0)
        grown = self.rss_kb() - base
        with open(self.server.binary, "rb") as f:
            sanitized = b"__asan_init" in f.read()  # ASan's quarantine keeps freed memory a while
        if not sanitized:
            self.assertLess(grown, 32 * 1024, "RSS grew by %d KiB after 2000 junk messages" % grown)
        # every junk message got its 4000 (no rqi), the oversized ones as well
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with c.lock:
                answers = sum(1 for m in c.messages if m[0].startswith("/oneM2M/resp/") and b'"rqi"' not in m[1])
            if answers >= 2500:
                break
            time.sleep(0.1)
        self.assertEqual(answers, 2500)
        self.assertTrue(self.server.running())
        if os.environ.get("WARDEN_MQTT_VERBOSE"):
            print("flood: valid answer after %.2fs, RSS %+d KiB" % (took, grown))
        del sink


class MqttAuthenticatedTest(_MqttCase):
    """mqtt.authenticated=1 behind a broker that restricts every ClientId to its own topics."""

    acl = True
    warden_args = ("--mqtt.authenticated=1", "--audit.path=audit.log")

    # TS-0010 §7.2: From spoofing another AE is impossible, since the topic must match
    def test_ts0010_7_2_from_spoofing_refused(self):
        atk = self.client("Catk" + uniq(""))
        vic = self.client("Cvic" + uniq(""))
        self.register(atk)
        self.register(vic)
        vpath = "%s/%s" % (CSE_RN, vic.level)
        self.assertPrim(vic.request(self.prim(1, vpath, vic.level, ty=TY_CNT, pc={"m2m:cnt": {"rn": "box"}})), 2001)
        # 1. the attacker's own topic with the victim's From: 4106 as over HTTPS (the topic's originator
        #    is the security association's identity), audited
        p = self.prim(1, vpath + "/box", vic.level, ty=TY_CIN, pc={"m2m:cin": {"con": "evil"}})
        rsp = atk.request(p)
        self.assertPrim(rsp, 4106)
        # 2. the victim's topic: the broker does not let the attacker publish there
        p2 = self.prim(1, vpath + "/box", vic.level, ty=TY_CIN, pc={"m2m:cin": {"con": "evil2"}})
        atk.publish("/oneM2M/req/%s/%s/json" % (vic.level, CSE_LEVEL), p2)
        # 3. nor read the victim's responses
        time.sleep(1.0)
        self.assertNotIn(p2["rqi"], atk.by_rqi)
        self.assertNotIn(p2["rqi"], vic.by_rqi)
        rsp = self.assertPrim(vic.request(self.prim(2, vpath + "/box", vic.level)), 2000)
        self.assertEqual(rsp["pc"]["m2m:cnt"]["cni"], 0, "a spoofed request reached the victim's container")
        with open(self.server.tmpdir + "/audit.log") as f:
            lines = [json.loads(l) for l in f if l.strip()]
        self.assertTrue(any(l.get("reason") == "from-not-bound" and l.get("binding") == "mqtt"
                            and l.get("rsc") == 4106 for l in lines), lines[-5:])

    # TS-0010 §7.2 + TS-0003 §7.2: the topic's originator is the request's security association
    def test_ts0010_7_2_broker_authenticated_originator(self):
        c = self.client("Cauth" + uniq(""))
        self.register(c)
        # over an SA bound to the AE, the SP-relative form of its own ID is accepted (4000 without SA)
        rsp = c.request(self.prim(2, "%s/%s" % (CSE_RN, c.level), "/id-in/" + c.level))
        self.assertPrim(rsp, 2000)


class MqttSecureProfileTest(unittest.TestCase):
    """The secure profile accepts MQTT requests only when the broker authenticates (mqtt.authenticated=1)."""

    def setUp(self):
        if SKIP:
            self.skipTest(SKIP)
        self.broker = PrivateBroker(acl=True).start()
        self.addCleanup(self.broker.cleanup)

    def run_secure(self, authenticated):
        srv = WardenServer(extra_args=["--cse.profile=secure", "--mqtt.address=127.0.0.1",
                                       "--mqtt.port=%d" % self.broker.port,
                                       "--mqtt.authenticated=%d" % authenticated])
        srv.start()
        c = MqttClient(self.broker.port, "Csec" + uniq("")).start()
        try:
            self.assertTrue(answers_probe(c, 10.0), "the CSE does not answer over MQTT:\n" + srv.output())
            reg = c.request({"op": 1, "to": CSE_RN, "fr": c.level, "rqi": uniq("s"), "rvi": "3", "ty": TY_AE,
                             "pc": {"m2m:ae": {"api": "Nsec", "rr": False}}}, timeout=5.0)
            get = c.request({"op": 2, "to": "%s/%s" % (CSE_RN, c.level), "fr": c.level, "rqi": uniq("s")})
            return reg, get
        finally:
            c.stop()
            self.assertEqual(srv.stop(), 0)
            srv.cleanup()

    def test_ts0010_7_2_secure_profile_needs_authenticated_broker(self):
        reg, get = self.run_secure(1)
        self.assertEqual(reg["rsc"], 2001, reg)
        self.assertEqual(get["rsc"], 2000, get)
        reg, get = self.run_secure(0)
        self.assertEqual(reg["rsc"], 4107, reg)
        self.assertEqual(get["rsc"], 4107, get)


class MqttBrokerRestartTest(_MqttCase):
    """TS-0010 §6.3.3 persistent sessions, QoS 1, reconnection with backoff capped at 2 s.

    "Answered once" is checked where it is decided: the CSE's one log line per request. QoS 1 is
    at-least-once on every leg, so a response whose PUBACK was lost when the broker went down is
    retransmitted by the MQTT layer; the client may then see the same response twice, byte for byte
    (clients correlate by rqi). A second, different answer would be a bug of the CSE."""

    warden_args = ("--log.level=info",)

    def run_traffic(self, c, n, interrupt):
        ae = "%s/%s" % (CSE_RN, c.level)
        rqis = []
        for i in range(n):
            if i == n // 3:
                interrupt()
            p = self.prim(1, ae + "/t", c.level, ty=TY_CIN, pc={"m2m:cin": {"con": str(i)}})
            rqis.append(p["rqi"])
            c.publish("/oneM2M/req/%s/%s/json" % (c.level, CSE_LEVEL), p)
            time.sleep(0.02)
        return rqis

    def check_exactly_once(self, c, rqis, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with c.lock:
                missing = [r for r in rqis if r not in c.by_rqi]
            if not missing:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # late duplicates would show up now
        with c.lock:
            missing = [r for r in rqis if r not in c.by_rqi]
            # copies of one response must be the same response (an MQTT retransmission)
            different = {r: c.by_rqi[r] for r in rqis
                         if any(m[1] != c.by_rqi[r][0][1] for m in c.by_rqi.get(r, ()))}
        self.assertEqual(different, {}, "a request got two different answers")
        out = self.server.output()
        # the request line the CSE logs once per answered request: "... rqi=<rqi> rsc=<rsc> ..."
        processed = {r: out.count("rqi=%s rsc=" % r) for r in rqis}
        twice = {r: n for r, n in processed.items() if n > 1}
        self.assertEqual(twice, {}, "the CSE answered a request twice:\n" +
                         "\n".join(line for line in out.splitlines() if any(r in line for r in twice)))
        return missing

    def test_ts0010_6_3_3_broker_restart_nothing_lost_nothing_twice(self):
        c = self.client("Crst" + uniq(""))
        self.register(c)
        ae = "%s/%s" % (CSE_RN, c.level)
        self.assertPrim(c.request(self.prim(1, ae, c.level, ty=TY_CNT, pc={"m2m:cnt": {"rn": "t"}})), 2001)

        def restart():
            self.broker.stop()  # SIGTERM: the broker saves the sessions
            time.sleep(0.5)
            self.broker.start()

        rqis = self.run_traffic(c, 60, restart)
        missing = self.check_exactly_once(c, rqis, 15)
        self.assertEqual(missing, [], "requests never answered after a broker restart")
        ok = sum(1 for r in rqis if c.by_rqi[r][0][1]["rsc"] == 2001)
        self.assertEqual(ok, len(rqis))
        rsp = self.assertPrim(c.request(self.prim(2, ae + "/t", c.level)), 2000)
        self.assertEqual(rsp["pc"]["m2m:cnt"]["cni"], len(rqis))

    # TS-0010 §6.6 + notification policy: made while the broker is away, published when it is back
    def test_ts0010_6_6_notification_queued_while_broker_away(self):
        c = self.client("Cnq" + uniq(""))
        self.register(c)
        topic = "ntfq/" + uniq("t")
        listener = self.client("Lnq" + uniq(""), extra_topics=[topic])
        ae = "%s/%s" % (CSE_RN, c.level)
        self.assertPrim(c.request(self.prim(1, ae, c.level, ty=TY_CNT, pc={"m2m:cnt": {"rn": "n"}})), 2001)
        nu = "mqtt://127.0.0.1:%d/%s" % (self.broker.port, topic)
        self.assertPrim(c.request(self.prim(1, ae + "/n", c.level, ty=TY_SUB,
                                            pc={"m2m:sub": {"rn": "s", "nu": [nu], "enc": {"net": [3]}}})), 2001)
        self.broker.stop()
        try:
            time.sleep(0.3)
            # the triggering request goes over HTTP; the CSE cannot reach the broker now
            for con in ("while-away-1", "while-away-2"):
                r = self.http.create("/%s/n" % ae, TY_CIN, {"con": con}, origin=c.level, root="m2m:cin")
                self.assertEqual(r.rsc, 2001)
            time.sleep(0.3)
        finally:
            self.broker.start()
        got = []
        for con in ("while-away-1", "while-away-2"):
            m = listener.wait_message(lambda m, con=con: m[0] == topic and con.encode() in m[1], timeout=8)
            self.assertIsNotNone(m, "notification %s made while the broker was away never arrived:\n%s"
                                 % (con, self.server.output()[-3000:]))
            got.append(json.loads(m[1])["pc"]["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"])
        self.assertEqual(got, ["while-away-1", "while-away-2"])
        time.sleep(0.3)
        with listener.lock:
            n = sum(1 for m in listener.messages if m[0] == topic)
        self.assertEqual(n, 2, "each notification once")

    def test_ts0010_6_3_3_broker_crash_reconnect_within_backoff(self):
        c = self.client("Ccrash" + uniq(""))
        self.register(c)
        ae = "%s/%s" % (CSE_RN, c.level)
        self.assertPrim(c.request(self.prim(1, ae, c.level, ty=TY_CNT, pc={"m2m:cnt": {"rn": "t"}})), 2001)
        self.broker.kill()  # SIGKILL: whatever was in the broker's memory only is gone
        time.sleep(2.5)  # long enough for the CSE's backoff to reach its cap
        t0 = time.monotonic()
        self.broker.start()
        # the CSE must be back within its capped backoff (2 s), plus the test client's own reconnect
        # and a margin for a slow (sanitizer) build
        self.assertTrue(c.connected.wait(5.0), "the test client did not reconnect")
        self.assertTrue(answers_probe(c, 6.0 - (time.monotonic() - t0), to=ae),
                        "the CSE did not come back within 6 s of the broker restart:\n" + self.server.output()[-3000:])
        # after a crash: traffic flows again, no request answered twice
        rqis = self.run_traffic(c, 15, lambda: None)
        missing = self.check_exactly_once(c, rqis, 5)
        self.assertEqual(missing, [])


class MqttTlsTest(unittest.TestCase):
    """TS-0010 §6.2, §7.1: MQTT over TLS with client certificates (mqtt.tls, mqtt.ca, mqtt.cert, mqtt.key).

    The broker (tools/mosquitto/mosquitto.conf settings: require_certificate, use_identity_as_username,
    use_username_as_clientid, acl.conf) takes the certificate's subject CN as the username and ClientId.
    ``wardenctl ca issue`` certificates carry the identity in subjectAltName only (subject O=<spid>), which
    mosquitto cannot use: clients get certificates from the same CA with CN = their oneM2M ID as well
    (openssl x509 -req), as tools/mosquitto/README.md explains."""

    @classmethod
    def setUpClass(cls):
        if SKIP:
            raise unittest.SkipTest(SKIP)
        from tls_helpers import SPID, Ctl, Pki
        cls.tmp = tempfile.mkdtemp(prefix="warden-mqtts-")
        ctl = Ctl(store_path=os.path.join(cls.tmp, "ctl.db"))
        cls.pki = Pki(ctl, os.path.join(cls.tmp, "ca"))
        cls.other = Pki(ctl, os.path.join(cls.tmp, "other-ca"))
        bcert, bkey, _ = cls.pki.issue("/id-in", name="broker", ips=["127.0.0.1"])

        def cn_cert(pki, cn, name):
            crt, key, _ = pki.craft(name, san="URI://%s/id-in/%s" % (SPID, cn), subject="/O=%s/CN=%s" % (SPID, cn))
            return {"ca": cls.pki.ca_pem, "cert": crt, "key": key}

        cls.cn_cert = staticmethod(cn_cert)
        cse = cn_cert(cls.pki, CSE_LEVEL, "cse")
        cls.broker = PrivateBroker(acl=True, tls={"ca": cls.pki.ca_pem, "cert": bcert, "key": bkey}).start()
        cls.cse_tls = ["--mqtt.address=127.0.0.1", "--mqtt.port=%d" % cls.broker.port, "--mqtt.tls=1",
                       "--mqtt.cert=%s" % cse["cert"], "--mqtt.key=%s" % cse["key"]]
        cls.server = WardenServer(extra_args=cls.cse_tls + ["--mqtt.ca=%s" % cls.pki.ca_pem,
                                                            "--mqtt.authenticated=1"])
        try:
            cls.server.start()
        except Exception:
            cls.broker.cleanup()
            raise
        cls.clients = []

    @classmethod
    def tearDownClass(cls):
        for c in getattr(cls, "clients", []):
            try:
                c.stop()
            except Exception:
                pass
        try:
            if cls.server.running():
                rc = cls.server.stop()
                if rc != 0:
                    raise AssertionError("warden exit status %r:\n%s" % (rc, cls.server.output()))
        finally:
            cls.server.cleanup()
            cls.broker.cleanup()
            if not os.environ.get("WARDEN_KEEP_TMP"):
                shutil.rmtree(cls.tmp, ignore_errors=True)

    def tls_client(self, level, tls):
        c = MqttClient(self.broker.port, level, tls=tls).start()
        self.clients.append(c)
        return c

    def first_answer(self, c, prim, timeout=10.0):
        """prim's answer, sent once the CSE answers c at all (it may still be connecting). The probe
        is a RETRIEVE, which may be repeated; prim (a registration) is sent once."""
        if not answers_probe(c, timeout):
            raise AssertionError("no answer over mqtts:\n%s\n%s" % (self.server.output(), self.broker.log()))
        return c.request(dict(prim, rqi=uniq("t")), timeout=5.0)

    def refused(self, client_id, tls, wait=1.5):
        """True when a client with these TLS settings cannot get a session at the broker."""
        c = MqttClient(self.broker.port, client_id, tls=tls)
        try:
            c.c.connect("127.0.0.1", self.broker.port, keepalive=10)
        except (OSError, ValueError):
            return True  # the TLS handshake failed
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline and not c.connected.is_set():
                try:
                    if c.c.loop(0.1) != paho.MQTT_ERR_SUCCESS:
                        return True  # closed by the broker (CONNACK refused, or a TLS alert)
                except (OSError, ValueError):
                    return True
            return not c.connected.is_set()
        finally:
            try:
                c.c.disconnect()
            except (OSError, ValueError):
                pass

    def test_ts0010_7_1_tls_registration_and_crud(self):
        lvl = "Ctls" + uniq("")
        c = self.tls_client(lvl, self.cn_cert(self.pki, lvl, lvl))
        reg = self.first_answer(c, {"op": 1, "to": CSE_RN, "fr": lvl, "rvi": "3", "ty": TY_AE,
                                    "pc": {"m2m:ae": {"rn": lvl, "api": "Ntls", "rr": False}}})
        self.assertEqual(reg["rsc"], 2001, reg)
        self.assertEqual(reg["pc"]["m2m:ae"]["aei"], lvl)
        ae = "%s/%s" % (CSE_RN, lvl)

        def req(op, to, **kw):
            p = {"op": op, "to": to, "fr": lvl, "rqi": uniq("q"), "rvi": "3"}
            p.update(kw)
            return c.request(p)
        self.assertEqual(req(1, ae, ty=TY_CNT, pc={"m2m:cnt": {"rn": "c"}})["rsc"], 2001)
        self.assertEqual(req(1, ae + "/c", ty=TY_CIN, pc={"m2m:cin": {"con": "over tls"}})["rsc"], 2001)
        self.assertEqual(req(2, ae + "/c/la")["pc"]["m2m:cin"]["con"], "over tls")
        self.assertEqual(req(3, ae + "/c", pc={"m2m:cnt": {"lbl": ["t"]}})["rsc"], 2004)
        self.assertEqual(req(4, ae + "/c")["rsc"], 2002)
        # the SA is the broker-authenticated identity: another AE's From is 4106
        self.assertEqual(req(2, ae, fr="Cother")["rsc"], 4106)
        self.assertIn("u'%s'" % lvl, self.broker.log())

    def test_ts0010_7_1_clients_without_a_valid_certificate_cannot_connect(self):
        lvl = "Cbad" + uniq("")
        self.assertTrue(self.refused(lvl, {"ca": self.pki.ca_pem}), "connected without a certificate")
        other = self.cn_cert(self.other, lvl, "x" + lvl)
        other["ca"] = self.pki.ca_pem
        self.assertTrue(self.refused(lvl, other), "connected with a certificate of another CA")
        # a wardenctl certificate (identity in subjectAltName, no CN): mosquitto has no username for it
        crt, key, _ = self.pki.issue(lvl, name="san" + lvl)
        self.assertTrue(self.refused(lvl, {"ca": self.pki.ca_pem, "cert": crt, "key": key}),
                        "connected with a certificate without CN")
        # and a good one does (the broker works)
        self.assertFalse(self.refused(lvl, self.cn_cert(self.pki, lvl, "ok" + lvl)))

    def test_ts0010_7_1_wrong_ca_keeps_retrying(self):
        srv = WardenServer(extra_args=self.cse_tls + ["--mqtt.ca=%s" % self.other.ca_pem, "--mqtt.client_id=id-x",
                                                      "--log.level=info"])
        before = self.broker.log().count("New connection from")
        srv.start()
        try:
            # the first attempt and two retries; the delay doubles from 0.1 s, capped at 2 s
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                attempts = self.broker.log().count("New connection from") - before
                if attempts >= 3:
                    break
                time.sleep(0.1)
            self.assertTrue(srv.running(), srv.output())
            self.assertGreaterEqual(attempts, 3, "no retries:\n%s" % srv.output())
            out = srv.output()
            self.assertIn("certificate verify failed", out)
            self.assertEqual(out.count("mqtt: cannot connect"), 1, "logged once per outage:\n" + out)
            self.assertNotIn("connected to", out)
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()


if __name__ == "__main__":
    main()
