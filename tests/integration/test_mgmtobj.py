#!/usr/bin/python3
"""<node> (ty 14) and <mgmtObj> (ty 13) with its specialisations, black-box, over HTTP, MQTT and CoAP.

TS-0004 7.4.18 (<node>: ni, hcl, mgca), 7.4.15 and Annex D (<mgmtObj> by mgmtDefinition: firmware,
software, memory, battery, deviceInfo, deviceCapability, reboot, eventLog), TS-0004 Table
6.3.4.2.22-1 / TS-0022 (the TS-0003 credential-management objects 1022-1026), and the rule that no
key material is ever returned: not in a create/update/retrieve response, not at rcn 4 or 9, not as
a discovery filter, not in a notification, over HTTP or MQTT.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_mgmtobj.py
"""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wardentest  # noqa: E402
from wardentest import (ADMIN, CSE_RN, WardenServer, WardenTestCase, main, uniq)  # noqa: E402
from test_subscription import Receiver  # noqa: E402
from mqtt_helpers import MqttClient, MqttServerCase  # noqa: E402
from coap_helpers import coap, coap_bin  # noqa: E402

wardentest.HTTP_FOR_RSC.setdefault(4108, 403)   # INVALID_CHILD_RESOURCE_TYPE (TS-0009)
TY_MGO = 13
TY_NODE = 14
TY_SUB = 23
KEY = "c2VjcmV0LXN5bW1ldHJpYy1rZXktMDEyMzQ1Njc4OWFi"       # a symmetric key (base64)
CERT_FILE = "MIIKEQIBAzCCCdcGCSqGSIb3DQEHAaCCCcgEggnEMIIJwDCCBHcGCSqG"  # a PKCS#12 bundle (truncated)


def leaks(body):
    """Does a response or notification body carry the key material anywhere?"""
    text = body if isinstance(body, str) else json.dumps(body)
    return KEY in text or CERT_FILE in text or '"skv"' in text or '"mcfc"' in text


class MgmtObjHttpTest(WardenTestCase):
    server_args = ("--notify.allow=127.0.0.1/32",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rx = Receiver()
        cls.rx.start()

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        super().tearDownClass()

    def node(self):
        rn = uniq("nod")
        r = self.assertRsc(self.c.create("/" + CSE_RN, TY_NODE, {"rn": rn, "ni": "urn:dev:" + rn,
                                                                  "mgca": "coap://10.0.0.7:5683",
                                                                  "hcl": "/id-asn"}, root="m2m:nod"), 2001)
        self.assertEqual(self.res(r, "m2m:nod")["ni"], "urn:dev:" + rn)
        return "/%s/%s" % (CSE_RN, rn)

    def notifications(self, path, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            got = [x for x in self.rx.received(path) if "nev" in (x.body or {}).get("m2m:sgn", {})]
            if len(got) >= count or time.monotonic() > deadline:
                self.assertGreaterEqual(len(got), count, "notifications on %s" % path)
                return got
            time.sleep(0.05)

    def test_ts0004_7_4_18_node(self):
        self.assertRsc(self.c.create("/" + CSE_RN, TY_NODE, {"mgca": "x"}, root="m2m:nod"), 4000)  # ni mandatory
        nod = self.node()
        r = self.assertRsc(self.c.update(nod, "m2m:nod", {"hael": ["Cae1"]}), 2004)
        self.assertEqual(self.res(r, "m2m:nod")["hael"], ["Cae1"])
        self.assertRsc(self.c.update(nod, "m2m:nod", {"rms": True}), 4000)  # roamingStatus is the CSE's
        self.assertIn(nod.lstrip("/"), self.c.retrieve("/%s?fu=1&ty=14" % CSE_RN).body["m2m:uril"])

    def test_ts0004_7_4_15_specialisations_by_mgd(self):
        nod = self.node()
        cases = [("m2m:fwr", {"mgd": 1001, "vr": "1.2", "fwn": "fw", "url": "http://fw.example/1.2", "ud": False}),
                 ("m2m:swr", {"mgd": 1002, "vr": "3", "swn": "app", "url": "http://sw.example/3"}),
                 ("m2m:mem", {"mgd": 1003, "mma": 1024, "mmt": 4096}),
                 ("m2m:bat", {"mgd": 1006, "btl": 80, "bts": 1}),
                 ("m2m:dvi", {"mgd": 1007, "dlb": "label", "man": "ACME", "mod": "x1", "dty": "sensor"}),
                 ("m2m:dvc", {"mgd": 1008, "can": "camera", "att": True}),
                 ("m2m:rbo", {"mgd": 1009, "rbo": False, "far": False}),
                 ("m2m:evl", {"mgd": 1010, "lgt": 2, "lga": False})]
        for root, attrs in cases:
            r = self.assertRsc(self.c.create(nod, TY_MGO, dict(attrs, rn=root[4:]), root=root), 2001, root)
            self.assertEqual(self.res(r, root)["mgd"], attrs["mgd"])
            self.assertEqual(self.res(self.c.retrieve(nod + "/" + root[4:]), root)["ty"], TY_MGO)
        # typed and checked by specialisation
        self.assertRsc(self.c.create(nod, TY_MGO, {"mgd": 1006, "btl": "full"}, root="m2m:bat"), 4000)
        self.assertRsc(self.c.create(nod, TY_MGO, {"mgd": 1006, "vr": "1"}, root="m2m:bat"), 4000)
        self.assertRsc(self.c.create(nod, TY_MGO, {"mgd": 1006, "btl": 1}, root="m2m:fwr"), 4000)
        self.assertRsc(self.c.create(nod, TY_MGO, {"mgd": 4242}, root="m2m:mgo"), 4000)
        self.assertRsc(self.c.update(nod + "/rbo", "m2m:rbo", {"rbo": True}), 2004)
        self.assertRsc(self.c.update(nod + "/rbo", "m2m:rbo", {"mgd": 1001}), 4000)
        # a mgmtObj lives under a node
        self.assertRsc(self.c.create("/" + CSE_RN, TY_MGO, {"mgd": 1003}, root="m2m:mem"), 4108)

    def test_ts0003_security_mgmtobj_never_returns_key_material(self):
        nod = self.node()
        p = self.rx.new_path("nod")
        self.assertRsc(self.c.create(nod, TY_SUB, {"nu": [self.rx.url(p)], "enc": {"net": [3]}},
                                     root="m2m:sub"), 2001)
        # create: the response (rcn 1, 3, 9) has everything but the key
        for rcn in (1, 3, 9):
            rn = uniq("ap")
            r = self.assertRsc(self.c.create(nod, TY_MGO, {"rn": rn, "mgd": 1022, "suid": 12, "skid": "key-1",
                                                           "skv": KEY, "tlscs": ["TLS_PSK_WITH_AES_128_CCM_8"]},
                                             root="m2m:aupf", query={"rcn": rcn}), 2001)
            self.assertFalse(leaks(r.body), "create rcn=%d: %s" % (rcn, r.body))
        ap = nod + "/" + rn
        r = self.assertRsc(self.c.create(nod, TY_MGO, {"rn": "cert", "mgd": 1023, "suids": [41],
                                                       "mcff": "application/pkcs12", "mcfc": CERT_FILE},
                                         root="m2m:nycfc"), 2001)
        self.assertFalse(leaks(r.body))
        self.assertEqual(self.res(r, "m2m:nycfc")["mcff"], "application/pkcs12")
        # retrieve, and rcn 4 of the node (embedded children)
        r = self.assertRsc(self.c.retrieve(ap), 2000)
        self.assertEqual(self.res(r, "m2m:aupf")["skid"], "key-1")
        self.assertFalse(leaks(r.body))
        r = self.assertRsc(self.c.retrieve(nod + "?rcn=4"), 2000)
        self.assertIn("m2m:aupf", self.res(r, "m2m:nod"))
        self.assertFalse(leaks(r.body), r.body)
        # discovery: the key is no filter (an oracle otherwise), other attributes are
        self.assertRsc(self.c.retrieve(nod + "?fu=1&skv=" + KEY), 4000)
        self.assertIn(ap.lstrip("/"), self.c.retrieve(nod + "?fu=1&ty=13&skid=key-1").body["m2m:uril"])
        # update of the key: rcn 1 and 9 responses, and the notification of the modified attributes
        q = self.rx.new_path("ap")
        self.assertRsc(self.c.create(ap, TY_SUB, {"nu": [self.rx.url(q)], "nct": 2}, root="m2m:sub"), 2001)
        for rcn in (1, 9):
            r = self.assertRsc(self.c.update(ap, "m2m:aupf", {"skv": KEY + "x", "skid": "key-2"},
                                             query={"rcn": rcn}), 2004)
            self.assertFalse(leaks(r.body), r.body)
        got = self.notifications(q, 2)
        self.assertEqual(got[0].body["m2m:sgn"]["nev"]["rep"]["m2m:aupf"]["skid"], "key-2")
        for n in got:
            self.assertFalse(leaks(n.body), n.body)
        # the node's subscription heard of each child created: never with the key
        for n in self.notifications(p, 4):  # 3 authenticationProfiles and the certificate file
            self.assertFalse(leaks(n.body), n.body)
        # a full-representation notification (nct 1) of the update
        s = self.rx.new_path("all")
        self.assertRsc(self.c.create(ap, TY_SUB, {"nu": [self.rx.url(s)], "nct": 1}, root="m2m:sub"), 2001)
        self.assertRsc(self.c.update(ap, "m2m:aupf", {"skv": KEY}), 2004)
        n = self.notifications(s, 1)[0]
        self.assertEqual(n.body["m2m:sgn"]["nev"]["rep"]["m2m:aupf"]["suid"], 12)
        self.assertFalse(leaks(n.body), n.body)
        # delete with rcn 1 returns the representation, still without the key
        r = self.assertRsc(self.c.delete(ap, query={"rcn": 1}), 2002)
        self.assertFalse(leaks(r.body), r.body)

    def test_ts0022_credential_objects_create(self):
        nod = self.node()
        for root, attrs in [("m2m:tac", {"mgd": 1024, "cfp": "sha256:ab12", "url": "http://ca.example/root.pem"}),
                            ("m2m:mafcf", {"mgd": 1025, "fqdn": "maf.example", "hpt": 443}),
                            ("m2m:mefcf", {"mgd": 1026, "fqdn": "mef.example", "cpt": 5684})]:
            r = self.assertRsc(self.c.create(nod, TY_MGO, attrs, root=root), 2001, root)
            self.assertEqual(self.res(r, root)["mgd"], attrs["mgd"])


class MgmtObjMqttTest(MqttServerCase):

    def test_ts0003_security_mgmtobj_key_material_not_over_mqtt(self):
        c = MqttClient(self.broker.port, "Cmgo" + uniq(""), level=ADMIN).start()
        try:
            def req(op, to, **kw):
                p = {"op": op, "to": to, "fr": ADMIN, "rqi": uniq("q"), "rvi": "3"}
                p.update(kw)
                return c.request(p)
            rn = uniq("nod")
            self.assertEqual(req(1, CSE_RN, ty=TY_NODE, pc={"m2m:nod": {"rn": rn, "ni": rn}})["rsc"], 2001)
            nod = "%s/%s" % (CSE_RN, rn)
            r = req(1, nod, ty=TY_MGO, pc={"m2m:aupf": {"rn": "ap", "mgd": 1022, "suid": 11, "skid": "k",
                                                          "skv": KEY}})
            self.assertEqual(r["rsc"], 2001, r)
            self.assertFalse(leaks(r))
            for to, rcn in ((nod + "/ap", 1), (nod, 4)):
                r = req(2, to, rcn=rcn)
                self.assertEqual(r["rsc"], 2000, r)
                self.assertFalse(leaks(r), r)
            self.assertEqual(r["pc"]["m2m:nod"]["m2m:aupf"][0]["skid"], "k")
            # a filter on the key is refused over MQTT too
            r = req(2, nod, fc={"fu": 1, "atr": [{"nm": "skv", "val": KEY}]})
            self.assertEqual(r["rsc"], 4000, r)
        finally:
            c.stop()


def udp_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NewTypesCoapTest(unittest.TestCase):
    """The new types over the CoAP binding (TS-0008), key material included."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(coap_bin()):
            raise unittest.SkipTest("warden-coap is not built")
        cls.port = udp_port()
        cls.srv = WardenServer(extra_args=["--coap.port=%d" % cls.port, "--coap.address=127.0.0.1"]).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.srv.cleanup()
        if rc != 0:
            raise AssertionError("warden exit status %r" % rc)

    def req(self, method, path, **kw):
        r = coap(method, "coap://127.0.0.1:%d/%s" % (self.port, path), fr=ADMIN, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def test_new_types_over_coap_and_no_key_material(self):
        rn = uniq("nod")
        self.assertEqual(self.req("POST", CSE_RN, ty=TY_NODE, data=json.dumps({"m2m:nod": {"rn": rn, "ni": rn}})).rsc,
                         2001)
        r = self.req("POST", "%s/%s" % (CSE_RN, rn), ty=TY_MGO,
                     data=json.dumps({"m2m:aupf": {"rn": "ap", "mgd": 1022, "suid": 12, "skid": "k", "skv": KEY}}))
        self.assertEqual(r.rsc, 2001, r)
        self.assertFalse(leaks(r.payload), r)
        r = self.req("GET", "%s/%s/ap" % (CSE_RN, rn))
        self.assertEqual(r.json()["m2m:aupf"]["skid"], "k")
        self.assertFalse(leaks(r.payload), r)
        # a flexContainer and a timeSeries with an instance, under their own roots
        r = self.req("POST", CSE_RN, ty=28, data=json.dumps(
            {"cod:binSh": {"rn": rn + "sw", "cnd": "org.onem2m.common.moduleclass.binarySwitch", "powSe": True}}))
        self.assertEqual(r.rsc, 2001, r)
        self.assertIs(self.req("GET", "%s/%ssw" % (CSE_RN, rn)).json()["cod:binSh"]["powSe"], True)
        self.assertEqual(self.req("POST", CSE_RN, ty=29, data=json.dumps({"m2m:ts": {"rn": rn + "ts"}})).rsc, 2001)
        r = self.req("POST", "%s/%sts" % (CSE_RN, rn), ty=30,
                     data=json.dumps({"m2m:tsi": {"dgt": "20300101T000000", "con": "1"}}))
        self.assertEqual(r.rsc, 2001, r)
        self.assertEqual(self.req("GET", "%s/%sts/la" % (CSE_RN, rn)).json()["m2m:tsi"]["con"], "1")


if __name__ == "__main__":
    main()
