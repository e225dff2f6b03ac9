"""Conformance of the implemented resource types and request parameters to TS-0001 / TS-0004 /
TS-0009 (issue 13), over HTTP and, where the binding maps the parameter, over CoAP (TS-0008) and
MQTT (TS-0010).  One warden per module with HTTP, CoAP and (when mosquitto and paho are installed)
MQTT through a private broker.  Test names carry the clause they check.

    WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_conformance.py
"""

import http.server
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, free_udp_port, CSE_RN, TY_AE, TY_CIN, TY_CNT, OMIT, WardenServer, WardenTestCase,  # noqa: E402
                        main, uniq)
from coap_helpers import coap  # noqa: E402
import cbor_codec  # noqa: E402
from mqtt_helpers import MqttClient, PrivateBroker, answers_probe, broker_available, paho  # noqa: E402

TY_ACP = 1
TY_GRP = 9
TY_SUB = 23
TY_ROLE = 31
TY_TOKEN = 32
TY_DAC = 34
# 13 mgmtObj, 14 node, 15 pollingChannel, 17 request, 28 flexContainer, 29/30 timeSeries(Instance)
# 10 locationPolicy, 13 mgmtObj, 14 node, 15 pollingChannel, 16 remoteCSE, 17 request, 18 schedule,
# 28 flexContainer, 29/30 timeSeries(Instance), 48 crossResourceSubscription
IMPLEMENTED = [TY_ACP, TY_AE, TY_CNT, TY_CIN, 5, TY_GRP, 10, 13, 14, 15, 16, 17, 18, TY_SUB, 28, 29, 30, TY_ROLE, TY_TOKEN,
               TY_DAC, 48,
               # the announced variants (TS-0001 §9.6.26): accessControlPolicyAnnc, AEAnnc, containerAnnc,
               # contentInstanceAnnc, CSEBaseAnnc, groupAnnc, timeSeriesAnnc, timeSeriesInstanceAnnc,
               # locationPolicyAnnc, mgmtObjAnnc, nodeAnnc, remoteCSEAnnc, scheduleAnnc, flexContainerAnnc
               10001, 10002, 10003, 10004, 10005, 10009, 10029, 10030, 10010, 10013, 10014, 10016, 10018, 10028]

MQTT_SKIP = None
if paho is None:
    MQTT_SKIP = "paho-mqtt is not installed (apt-get install python3-paho-mqtt)"
elif not broker_available():
    MQTT_SKIP = "/usr/sbin/mosquitto is not installed (apt-get install mosquitto)"

_SRV = {}


def setUpModule():
    args = ["--notify.allow=127.0.0.1/32", "--notify.attempts=1"]  # a dead address fails at once
    cport = free_udp_port()
    args += ["--coap.port=%d" % cport, "--coap.address=127.0.0.1"]
    broker = None
    if MQTT_SKIP is None:
        broker = PrivateBroker().start()
        args += ["--mqtt.address=127.0.0.1", "--mqtt.port=%d" % broker.port]
    srv = WardenServer(extra_args=args)
    try:
        srv.start()
    except Exception:
        if broker:
            broker.cleanup()
        raise
    _SRV.update(srv=srv, cport=cport, broker=broker, mqtt={})


def tearDownModule():
    for c in _SRV.get("mqtt", {}).values():
        try:
            c.stop()
        except Exception:
            pass
    srv = _SRV.get("srv")
    try:
        if srv is not None and srv.running():
            rc = srv.stop()
            if rc != 0:
                raise AssertionError("warden exit status %r after SIGTERM:\n%s" % (rc, srv.output()))
    finally:
        if srv is not None:
            srv.cleanup()
        if _SRV.get("broker"):
            _SRV["broker"].cleanup()


class Conf(WardenTestCase):
    """HTTP through self.c; CoAP through self.coap(); MQTT through self.mqtt(level)."""

    @classmethod
    def setUpClass(cls):
        cls.server = _SRV["srv"]
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        pass

    # -- CoAP ----------------------------------------------------------------------------------
    def coap(self, method, path, **kw):
        return coap(method, "coap://127.0.0.1:%d/%s" % (_SRV["cport"], path), **kw)

    # -- MQTT ----------------------------------------------------------------------------------
    def mqtt(self, level):
        if MQTT_SKIP:
            self.skipTest(MQTT_SKIP)
        clients = _SRV["mqtt"]
        if level not in clients:
            c = MqttClient(_SRV["broker"].port, level, level=level).start()
            clients[level] = c
            if not answers_probe(c, 10.0):
                raise AssertionError("the CSE does not answer over MQTT:\n" + self.server.output())
        return clients[level]

    def mq(self, level, prim):
        p = {"rqi": uniq("mq"), "rvi": "3", "fr": level}
        p.update(prim)
        return self.mqtt(level).request(p)

    # -- fixtures ------------------------------------------------------------------------------
    def ae(self):
        aei, rn, path, _ = self.new_ae()
        return aei, path


# -------------------------------------------------------------------------------------------------
# Item 9: resource types and the CSEBase (TS-0004 §7.3.2.1, §7.3.3.3, §7.4.8.2.1; TS-0001 §9.6.1.3, §9.6.3)
# -------------------------------------------------------------------------------------------------
class TypesTest(Conf):

    def test_ts0004_7_3_3_3_unimplemented_type_is_5001(self):
        aei, path = self.ae()
        # a valid CREATE of types TS-0004 Table 6.3.4.2.1-1 defines and Warden does not implement
        # types TS-0004 defines and Warden does not implement (yet): mgmtCmd, semanticDescriptor, an
        # announced semanticDescriptor (an announced mgmtObj is implemented since issue 14)
        for ty, root in ((12, "m2m:mgc"), (24, "m2m:smd"), (10024, "m2m:smdA")):
            with self.subTest(ty=ty):
                r = self.c.create(path, ty, {"rn": uniq("x")}, origin=aei, root=root)
                self.assertRsc(r, 5001)
        # the same decision on the other bindings
        r = self.coap("POST", path.lstrip("/"), fr=aei, ty=12, data=json.dumps({"m2m:mgc": {}}))
        self.assertEqual((r.code, r.rsc), ("5.01", 5001), r)

    def test_ts0004_7_3_2_1_undefined_type_is_4000(self):
        aei, path = self.ae()
        for ty in (999, 60, 20000):
            with self.subTest(ty=ty):
                self.assertRsc(self.c.create(path, ty, {"rn": uniq("x")}, origin=aei, root="m2m:x"), 4000)

    def test_ts0004_7_3_3_3_implemented_type_not_a_child_is_4108(self):
        aei, path = self.ae()
        cnt, _ = self.new_cnt(path, aei)
        # an AE under an AE, a contentInstance under an AE, a CSEBase anywhere, a group under a container
        self.assertRsc(self.c.create(path, TY_CIN, {"con": "x"}, origin=aei), 4108)
        self.assertRsc(self.c.create(cnt, TY_GRP, {"mid": [], "mnm": 2}, origin=aei, root="m2m:grp"), 4108)
        self.assertRsc(self.c.create(path, 5, {"rn": "cb2"}, origin=aei, root="m2m:cb"), 4108)

    def test_ts0004_7_4_8_2_1_subscription_under_unsubscribable_is_5203(self):
        aei, path = self.ae()
        cnt, _ = self.new_cnt(path, aei)
        cin = self.new_cin(cnt, aei, "v")
        sub = {"nu": [aei], "enc": {"net": [1]}}
        r = self.c.create(cnt + "/" + cin["rn"], TY_SUB, sub, origin=aei, root="m2m:sub")
        self.assertRsc(r, 5203)
        r = self.c.create(cnt, TY_SUB, dict(sub, rn="s1"), origin=aei, root="m2m:sub")
        self.assertRsc(r, 2001)
        self.assertRsc(self.c.create(cnt + "/s1", TY_SUB, sub, origin=aei, root="m2m:sub"), 5203)

    def test_ts0001_9_6_40_dac_is_subscribable(self):
        aei, path = self.ae()
        r = self.c.create(path, TY_DAC, {"rn": "d", "dae": True, "dap": ["http://127.0.0.1:9/das"]}, origin=aei,
                          root="m2m:dac")
        self.assertRsc(r, 2001)
        r = self.c.create(path + "/d", TY_SUB, {"nu": [aei], "enc": {"net": [1]}}, origin=aei, root="m2m:sub")
        self.assertRsc(r, 2001)

    def test_ts0001_9_6_1_3_csebase_pi_is_empty_and_srt_lists_implemented_types(self):
        r = self.assertRsc(self.c.retrieve("/" + CSE_RN), 2000)
        cb = self.res(r, "m2m:cb")
        self.assertEqual(cb.get("pi"), "")
        self.assertEqual(sorted(cb["srt"]), sorted(IMPLEMENTED))
        r = self.coap("GET", CSE_RN, fr=ADMIN)
        self.assertEqual(r.json()["m2m:cb"]["pi"], "", r)
        self.assertEqual(sorted(r.json()["m2m:cb"]["srt"]), sorted(IMPLEMENTED), r)

    def test_ts0004_7_3_3_3_announce_to_unknown_cse_is_4000_and_unannounceable_type_5001(self):
        """at/aa work on the announceable types (test_announcement.py); here, with no other CSE: a
        target that is no <remoteCSE> here and an aa entry that is not OA are 4000 on every binding,
        and at on a type Warden does not announce (dynamicAuthorizationConsultation) stays 5001."""
        aei, path = self.ae()
        for attrs in ({"at": ["/id-mn"]}, {"aa": ["lbl"]}):
            with self.subTest(attrs=attrs):
                a = dict(attrs, rn=uniq("c"))
                self.assertRsc(self.c.create(path, TY_CNT, a, origin=aei), 4000)
                self.assertRsc(self.c.retrieve(path + "/" + a["rn"], origin=aei), 4004)
        a = {"rn": uniq("c"), "at": []}  # announced nowhere: accepted, and at is absent
        r = self.assertRsc(self.c.create(path, TY_CNT, a, origin=aei), 2001)
        self.assertNotIn("at", self.res(r, "m2m:cnt"))
        cnt, _ = self.new_cnt(path, aei)
        self.assertRsc(self.c.update(cnt, "m2m:cnt", {"at": ["/id-mn"]}, origin=aei), 4000)
        self.assertRsc(self.c.create(cnt, TY_CIN, {"con": "x", "at": ["/id-mn"]}, origin=aei), 4000)
        self.assertRsc(self.c.create(path, TY_DAC, {"rn": uniq("d"), "dae": True, "dap": ["http://127.0.0.1:9/das"],
                                                    "at": ["/id-mn"]}, origin=aei, root="m2m:dac"), 5001)
        r = self.mq("Cat" + uniq(""), {"op": 1, "to": CSE_RN, "ty": TY_AE,
                                        "pc": {"m2m:ae": {"api": "Nx", "rr": False, "at": ["/id-mn"]}}}) \
            if not MQTT_SKIP else None
        if r is not None:
            self.assertEqual(r["rsc"], 4000, r)


# -------------------------------------------------------------------------------------------------
# Item 10: empty bodies (TS-0004 Table 6.3.4.2.31-1 rcn 0 "nothing"; TS-0009 §6.4.x, TS-0008 §6.2.3)
# -------------------------------------------------------------------------------------------------
class EmptyBodyTest(Conf):

    def assertEmptyHttp(self, r, rsc):
        self.assertEqual(r.rsc, rsc, self.describe(r))
        self.assertEqual(r.body, b"", self.describe(r))
        self.assertIsNone(r.headers.get("Content-Type"), "an empty body with a Content-Type: %s" % r.headers)
        self.assertEqual(r.headers.get("Content-Length"), "0")

    def test_ts0004_6_3_4_2_31_rcn0_create_update_delete_have_no_body_http(self):
        aei, path = self.ae()
        for accept in ("application/json", "application/vnd.onem2m-res+cbor"):
            with self.subTest(accept=accept):
                rn = uniq("c")
                r = self.c.create(path, TY_CNT, {"rn": rn}, origin=aei, query={"rcn": 0}, accept=accept)
                self.assertEmptyHttp(r, 2001)
                r = self.c.update(path + "/" + rn, "m2m:cnt", {"lbl": ["a"]}, origin=aei, query={"rcn": 0},
                                  accept=accept)
                self.assertEmptyHttp(r, 2004)
                # DELETE: rcn 0 is the default (TS-0001 Table 8.1.2-1)
                self.assertEmptyHttp(self.c.delete(path + "/" + rn, origin=aei, accept=accept), 2002)

    def test_ts0009_6_4_3_content_type_only_with_a_body_and_as_accept_asked(self):
        aei, path = self.ae()
        for accept, want in (("application/vnd.onem2m-res+json", "application/vnd.onem2m-res+json"),
                             ("application/json", "application/json"), (None, "application/json"),
                             ("application/vnd.onem2m-res+json;q=0.5, application/json", "application/json")):
            with self.subTest(accept=accept):
                r = self.c.retrieve(path, origin=aei, accept=accept)
                self.assertEqual(r.rsc, 2000, self.describe(r))
                self.assertEqual(r.headers.get("Content-Type"), want)
        r = self.c.retrieve(path + "/nothere", origin=aei, accept="application/vnd.onem2m-res+json")
        self.assertEqual(r.headers.get("Content-Type"), "application/vnd.onem2m-res+json")
        self.assertIn("m2m:dbg", r.body)

    def test_ts0004_6_3_4_2_31_rcn0_update_delete_have_no_payload_coap(self):
        aei, path = self.ae()
        cnt, _ = self.new_cnt(path, aei)
        for method, kw, code, rsc in (("PUT", {"data": json.dumps({"m2m:cnt": {"lbl": ["b"]}})}, "2.04", 2004),
                                      ("DELETE", {}, "2.02", 2002)):
            with self.subTest(method=method):
                r = self.coap(method, cnt.lstrip("/") + "?rcn=0", fr=aei, **kw)
                self.assertEqual((r.code, r.rsc), (code, rsc), r)
                self.assertEqual(r.payload, "", r)
                self.assertIsNone(r.opt(12), "Content-Format on an empty payload: %r" % (r,))

    def test_ts0004_6_3_4_2_31_rcn0_update_delete_have_no_pc_mqtt(self):
        lvl = "Cempty" + uniq("")
        r = self.mq(lvl, {"op": 1, "to": CSE_RN, "ty": TY_AE, "pc": {"m2m:ae": {"rn": lvl, "api": "Nx", "rr": False}}})
        self.assertEqual(r["rsc"], 2001, r)
        r = self.mq(lvl, {"op": 1, "to": CSE_RN + "/" + lvl, "ty": TY_CNT, "rcn": 0, "pc": {"m2m:cnt": {"rn": "c"}}})
        self.assertEqual(r["rsc"], 2001, r)
        self.assertNotIn("pc", r)
        r = self.mq(lvl, {"op": 3, "to": CSE_RN + "/" + lvl + "/c", "rcn": 0, "pc": {"m2m:cnt": {"lbl": ["x"]}}})
        self.assertEqual(r["rsc"], 2004, r)
        self.assertNotIn("pc", r)
        r = self.mq(lvl, {"op": 4, "to": CSE_RN + "/" + lvl + "/c"})
        self.assertEqual(r["rsc"], 2002, r)
        self.assertNotIn("pc", r)


# -------------------------------------------------------------------------------------------------
# Item 8: discovery skips, it does not stop (TS-0001 §10.2.6, TS-0004 §7.3.3.14)
# -------------------------------------------------------------------------------------------------
class DiscoverySkipsTest(Conf):

    def fixture(self):
        """AE1's subtree ae1/outer/inner: outer and ae1 under AE1's own (creator) policy, inner
        under an ACP that grants AE2 DISCOVER (32) only. Returns (aei2, ae1 path, inner path)."""
        aei1, p1 = self.ae()
        aei2, _ = self.ae()
        r = self.c.create(p1, TY_ACP, {"rn": "acp", "pv": {"acr": [{"acor": [aei2], "acop": 32},
                                                                   {"acor": [aei1], "acop": 63}]},
                                       "pvs": {"acr": [{"acor": [aei1], "acop": 63}]}}, origin=aei1, root="m2m:acp")
        acp_ri = self.res(self.assertRsc(r, 2001), "m2m:acp")["ri"]
        outer, _ = self.new_cnt(p1, aei1, rn="outer")
        inner, _ = self.new_cnt(outer, aei1, rn="inner", acpi=[acp_ri])
        return aei2, p1, inner

    def test_ts0001_10_2_6_discovery_skips_undiscoverable_and_finds_descendants_http(self):
        aei2, p1, inner = self.fixture()
        # AE2 may not retrieve or discover ae1 nor outer, yet inner below them is found
        self.assertRsc(self.c.retrieve(p1, origin=aei2), 4103)
        for root in (p1, p1 + "/outer"):
            with self.subTest(root=root):
                r = self.assertRsc(self.c.retrieve(root, origin=aei2, query={"fu": 1}), 2000)
                self.assertEqual(r.body["m2m:uril"], [inner.lstrip("/")])
        # a root with nothing discoverable below: an empty list, not 4103
        cnt, _ = self.new_cnt(p1, self.res(self.c.retrieve(p1), "m2m:ae")["aei"])
        r = self.assertRsc(self.c.retrieve(cnt, origin=aei2, query={"fu": 1}), 2000)
        self.assertEqual(r.body["m2m:uril"], [])

    def test_ts0001_10_2_6_discovery_skips_undiscoverable_coap(self):
        aei2, p1, inner = self.fixture()
        r = self.coap("GET", p1.lstrip("/") + "?fu=1", fr=aei2)
        self.assertEqual((r.code, r.rsc), ("2.05", 2000), r)
        self.assertEqual(r.json()["m2m:uril"], [inner.lstrip("/")])

    def test_ts0001_10_2_6_discovery_skips_undiscoverable_mqtt(self):
        aei2, p1, inner = self.fixture()
        self.mqtt(aei2)
        r = self.mq(aei2, {"op": 2, "to": p1.lstrip("/"), "fc": {"fu": 1}})
        self.assertEqual(r["rsc"], 2000, r)
        self.assertEqual(r["pc"]["m2m:uril"], [inner.lstrip("/")])


# -------------------------------------------------------------------------------------------------
# Item 7: result content with filter criteria (TS-0001 §8.1.2 Table 8.1.2-1, §10.2.6.2; TS-0004
# Table 6.3.4.2.31-1, §7.3.3.17.10/14/15, Table 7.5.2-2)
# -------------------------------------------------------------------------------------------------
def refs(body):
    return [e["val"] for e in body["m2m:rrl"]["rrf"]]


class ResultContentTest(Conf):

    def tree(self):
        """ae/a (lbl x) with a/a1 (cnt, lbl x) holding cin i1, i2; ae/b (cnt) holding cin j1.
        Returns (aei, ae path without '/', {name: CSE-relative path})."""
        aei, path = self.ae()
        a, _ = self.new_cnt(path, aei, rn="a", lbl=["x"])
        a1, _ = self.new_cnt(a, aei, rn="a1", lbl=["x"])
        self.new_cin(a1, aei, "1", rn="i1")
        self.new_cin(a1, aei, "2", rn="i2")
        b, _ = self.new_cnt(path, aei, rn="b")
        self.new_cin(b, aei, "3", rn="j1")
        p = path.lstrip("/")
        names = {"a": p + "/a", "a1": p + "/a/a1", "i1": p + "/a/a1/i1", "i2": p + "/a/a1/i2", "b": p + "/b",
                 "j1": p + "/b/j1"}
        return aei, p, names

    def test_ts0001_8_1_2_rcn6_lists_children_and_descendants(self):
        aei, p, n = self.tree()
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 6}), 2000)
        self.assertEqual(refs(r.body), [n["a"], n["a1"], n["i1"], n["i2"], n["b"], n["j1"]])
        self.assertNotIn("m2m:ae", r.body)
        # level 1: the direct children only
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 6, "lvl": 1}), 2000)
        self.assertEqual(refs(r.body), [n["a"], n["b"]])

    def test_ts0004_6_3_4_2_31_conditional_retrieval_is_the_default_filter_usage(self):
        aei, p, n = self.tree()
        # no fu: the criteria select the descendants returned (rcn 5, 6) ...
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 6, "ty": TY_CIN}), 2000)
        self.assertEqual(refs(r.body), [n["i1"], n["i2"], n["j1"]])
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 5, "lbl": "x"}), 2000)
        ae = self.res(r, "m2m:ae")
        self.assertEqual([e["val"] for e in ae["ch"]], [n["a"], n["a1"]])
        self.assertEqual(ae["aei"], aei)
        # ... and the same with fu=2 given explicitly
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 6, "ty": TY_CIN, "fu": 2}), 2000)
        self.assertEqual(refs(r.body), [n["i1"], n["i2"], n["j1"]])
        # with rcn 1 the target itself must match (it is no container: 4004)
        self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"ty": TY_CNT}), 4004)
        self.assertRsc(self.c.retrieve("/" + n["a"], origin=aei, query={"ty": TY_CNT}), 2000)

    def test_ts0001_8_1_2_rcn4_and_rcn8_nest_matching_descendants(self):
        aei, p, n = self.tree()
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 4}), 2000)
        ae = self.res(r, "m2m:ae")
        self.assertEqual(ae["aei"], aei)
        self.assertEqual([c["rn"] for c in ae["m2m:cnt"]], ["a", "b"])
        a = ae["m2m:cnt"][0]
        self.assertEqual([c["rn"] for c in a["m2m:cnt"]], ["a1"])
        self.assertEqual([c["con"] for c in a["m2m:cnt"][0]["m2m:cin"]], ["1", "2"])
        # rcn 8 with a type filter: only the instances, each under its closest listed ancestor (the target)
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 8, "ty": TY_CIN}), 2000)
        self.assertEqual(list(r.body), ["m2m:ae"])
        self.assertEqual(list(r.body["m2m:ae"]), ["m2m:cin"])
        self.assertEqual([c["rn"] for c in r.body["m2m:ae"]["m2m:cin"]], ["i1", "i2", "j1"])
        # rcn 8 with lvl 2: a and b with their direct children, no deeper
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 8, "lvl": 2}), 2000)
        a = r.body["m2m:ae"]["m2m:cnt"][0]
        self.assertEqual([c["rn"] for c in a["m2m:cnt"]], ["a1"])
        self.assertNotIn("m2m:cin", a["m2m:cnt"][0])

    def test_ts0004_7_3_3_17_lim_and_ofst_page_whole_entries(self):
        aei, p, n = self.tree()
        # the first direct child "a" holds 4 resources with its descendants: lim 3 cannot hold it
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 6, "lim": 3}), 2000)
        self.assertEqual(refs(r.body), [])
        self.assertEqual((r.headers.get("X-M2M-CTS"), r.headers.get("X-M2M-CTO")), ("1", "1"))
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 6, "lim": 5}), 2000)
        self.assertEqual(refs(r.body), [n["a"], n["a1"], n["i1"], n["i2"]])
        self.assertEqual((r.headers.get("X-M2M-CTS"), r.headers.get("X-M2M-CTO")), ("1", "2"))
        # ofst names the entry to start at, from 1 (TS-0001 §8.1.2): the CTO of a cut result
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 6, "ofst": 1}), 2000)
        self.assertEqual(refs(r.body), [n["a"], n["a1"], n["i1"], n["i2"], n["b"], n["j1"]])
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 6, "ofst": 2}), 2000)
        self.assertEqual(refs(r.body), [n["b"], n["j1"]])
        self.assertIsNone(r.headers.get("X-M2M-CTS"))
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 4, "ofst": 2, "lim": 2}), 2000)
        self.assertEqual([c["rn"] for c in self.res(r, "m2m:ae")["m2m:cnt"]], ["b"])
        # unstructured references with drt 2
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"rcn": 6, "lvl": 1, "drt": 2}), 2000)
        self.assertTrue(all("/" not in v for v in refs(r.body)), r.body)

    def test_ts0001_10_2_6_2_descendants_need_retrieve_privilege(self):
        aei, p, n = self.tree()
        aei2, _ = self.ae()
        r = self.c.create("/" + p, TY_ACP, {"rn": "acp", "pv": {"acr": [{"acor": [aei2], "acop": 2},
                                                                       {"acor": [aei], "acop": 63}]},
                                            "pvs": {"acr": [{"acor": [aei], "acop": 63}]}}, origin=aei,
                          root="m2m:acp")
        acp_ri = self.res(self.assertRsc(r, 2001), "m2m:acp")["ri"]
        self.assertRsc(self.c.update("/" + n["a"], "m2m:cnt", {"acpi": [acp_ri]}, origin=aei), 2004)
        self.assertRsc(self.c.update("/" + n["a1"], "m2m:cnt", {"acpi": [acp_ri]}, origin=aei), 2004)
        # aei2 may retrieve a, a1 (and a1's instances) but not b: b and j1 are skipped
        r = self.assertRsc(self.c.retrieve("/" + n["a"], origin=aei2, query={"rcn": 6}), 2000)
        self.assertEqual(refs(r.body), [n["a1"], n["i1"], n["i2"]])

    def test_ts0001_10_2_6_2_discovery_rcn6_answers_rrl(self):
        aei, p, n = self.tree()
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"fu": 1, "ty": TY_CNT}), 2000)
        self.assertEqual(sorted(r.body["m2m:uril"]), sorted([n["a"], n["a1"], n["b"]]))
        r = self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"fu": 1, "ty": TY_CNT, "rcn": 6}), 2000)
        self.assertEqual(sorted(r.body["m2m:rrl"]["rrf"], key=lambda e: e["val"]),
                         [{"nm": "a", "typ": 3, "val": n["a"]}, {"nm": "a1", "typ": 3, "val": n["a1"]},
                          {"nm": "b", "typ": 3, "val": n["b"]}])
        for rcn in (1, 4, 8):
            with self.subTest(rcn=rcn):
                self.assertRsc(self.c.retrieve("/" + p, origin=aei, query={"fu": 1, "rcn": rcn}), 4000)

    def test_ts0004_7_3_2_1_filter_criteria_on_create_is_4000(self):
        aei, path = self.ae()
        for q in ({"lbl": "x"}, {"fu": 2}, {"lim": 1}, {"ty": 3}):
            with self.subTest(query=q):
                r = self.c.create(path, TY_CNT, {"rn": uniq("f")}, origin=aei, query=q)
                self.assertRsc(r, 4000)
        self.mqtt(aei)
        r = self.mq(aei, {"op": 1, "to": path.lstrip("/"), "ty": TY_CNT, "fc": {"lbl": ["x"]}, "pc": {"m2m:cnt": {}}})
        self.assertEqual(r["rsc"], 4000, r)

    def test_ts0004_7_5_2_create_rcn2_rcn3_addresses_are_cse_relative(self):
        aei, path = self.ae()
        r = self.assertRsc(self.c.create(path, TY_CNT, {"rn": "u"}, origin=aei, query={"rcn": 2}), 2001)
        self.assertEqual(r.body, {"m2m:uri": path.lstrip("/") + "/u"})
        r = self.assertRsc(self.c.create(path, TY_CNT, {"rn": "v"}, origin=aei, query={"rcn": 3}), 2001)
        self.assertEqual(r.body["m2m:rce"]["uri"], path.lstrip("/") + "/v")
        self.assertEqual(r.body["m2m:rce"]["m2m:cnt"]["rn"], "v")
        # SP-relative target: the answer is still CSE-relative
        r = self.assertRsc(self.c.create("/~/id-in" + path, TY_CNT, {"rn": "w"}, origin=aei, query={"rcn": 2}),
                           2001)
        self.assertEqual(r.body, {"m2m:uri": path.lstrip("/") + "/w"})

    def test_ts0001_8_1_2_rcn9_only_what_the_cse_set_or_changed(self):
        aei, path = self.ae()
        r = self.assertRsc(self.c.create(path, TY_CNT, {"rn": "m", "lbl": ["x"], "mni": 5}, origin=aei,
                                         query={"rcn": 9}), 2001)
        got = self.res(r, "m2m:cnt")
        self.assertFalse({"rn", "lbl", "mni"} & set(got), got)
        self.assertTrue({"ri", "pi", "ct", "lt", "et", "cni", "cbs", "st"} <= set(got), got)
        self.new_cin(path + "/m", aei, "a")
        self.new_cin(path + "/m", aei, "b")
        r = self.assertRsc(self.c.update(path + "/m", "m2m:cnt", {"lbl": ["x"], "mni": 1}, origin=aei,
                                         query={"rcn": 9}), 2004)
        got = self.res(r, "m2m:cnt")
        # lbl unchanged, mni as asked: not returned; st and the cni/cbs that mni=1 changed are
        self.assertFalse({"lbl", "mni"} & set(got), got)
        self.assertEqual((got.get("cni"), got.get("cbs")), (1, 1), got)
        self.assertIn("st", got)

    def test_ts0001_table_8_1_2_1_delete_rcn6_lists_what_went(self):
        aei, p, n = self.tree()
        r = self.assertRsc(self.c.delete("/" + n["a"], origin=aei, query={"rcn": 6}), 2002)
        self.assertEqual(refs(r.body), [n["a1"], n["i1"], n["i2"]])
        self.assertRsc(self.c.retrieve("/" + n["a"], origin=aei), 4004)
        r = self.assertRsc(self.c.delete("/" + n["b"], origin=aei, query={"rcn": 4}), 2002)
        self.assertEqual([c["rn"] for c in self.res(r, "m2m:cnt")["m2m:cin"]], ["j1"])
        self.assertRsc(self.c.retrieve("/" + n["b"], origin=aei), 4004)

    def test_ts0001_8_1_2_rcn6_with_filter_coap(self):
        aei, p, n = self.tree()
        # each instance is an entry of its own (no listed ancestor but the target): lim 2 pages them
        r = self.coap("GET", p + "?rcn=6&ty=4&lim=2", fr=aei)
        self.assertEqual((r.code, r.rsc), ("2.05", 2000), r)
        self.assertEqual(refs(r.json()), [n["i1"], n["i2"]])
        self.assertEqual((r.opt(323), r.opt(319)), ("1", "3"), r)
        r = self.coap("GET", p + "?rcn=6&ty=4&ofst=3", fr=aei)
        self.assertEqual(refs(r.json()), [n["j1"]], r)
        r = self.coap("GET", p + "?rcn=6&ty=4", fr=aei)
        self.assertEqual(refs(r.json()), [n["i1"], n["i2"], n["j1"]], r)

    def test_ts0001_8_1_2_rcn6_with_filter_mqtt(self):
        aei, p, n = self.tree()
        self.mqtt(aei)
        r = self.mq(aei, {"op": 2, "to": p, "rcn": 6, "fc": {"ty": 4, "lvl": 2}})
        self.assertEqual(r["rsc"], 2000, r)
        self.assertEqual(refs(r["pc"]), [n["j1"]])
        r = self.mq(aei, {"op": 2, "to": p, "rcn": 8, "fc": {"lbl": ["x"], "ofst": 2}})
        self.assertEqual(r["pc"], {"m2m:ae": {}}, r)
        r = self.mq(aei, {"op": 4, "to": n["b"], "rcn": 6})
        self.assertEqual((r["rsc"], refs(r["pc"])), (2002, [n["j1"]]), r)


# -------------------------------------------------------------------------------------------------
# Item 6: partial retrieve (TS-0004 §7.3.3.x "Partial retrieve request", Table 7.5.2-1; TS-0009 §6.2.2.2)
# -------------------------------------------------------------------------------------------------
class PartialRetrieveTest(Conf):

    def fixture(self):
        aei, path = self.ae()
        cnt, c = self.new_cnt(path, aei, lbl=["p", "q"], mni=3)
        return aei, cnt, c

    def test_ts0009_6_2_2_2_partial_retrieve_atrl_http(self):
        aei, cnt, c = self.fixture()
        r = self.assertRsc(self.c.retrieve(cnt, origin=aei, query={"atrl": "lbl+ri"}), 2000)
        self.assertEqual(r.body, {"m2m:cnt": {"lbl": ["p", "q"], "ri": c["ri"]}})
        # an attribute of the type without a value is left out
        r = self.assertRsc(self.c.retrieve(cnt, origin=aei, query={"atrl": "mbs+mni"}), 2000)
        self.assertEqual(r.body, {"m2m:cnt": {"mni": 3}})
        # not an attribute of the type; with rcn other than 1; with discovery: 4000
        self.assertRsc(self.c.retrieve(cnt, origin=aei, query={"atrl": "con"}), 4000)
        self.assertRsc(self.c.retrieve(cnt, origin=aei, query={"atrl": "lbl", "rcn": 4}), 4000)
        self.assertRsc(self.c.retrieve(cnt, origin=aei, query={"atrl": "lbl", "fu": 1}), 4000)
        # the same access decision as a full retrieve
        aei2, _ = self.ae()
        self.assertRsc(self.c.retrieve(cnt, origin=aei2, query={"atrl": "lbl"}), 4103)

    def test_ts0009_6_2_2_2_partial_retrieve_atrl_coap(self):
        aei, cnt, c = self.fixture()
        r = self.coap("GET", cnt.lstrip("/") + "?atrl=lbl+mni", fr=aei)
        self.assertEqual((r.code, r.rsc), ("2.05", 2000), r)
        self.assertEqual(r.json(), {"m2m:cnt": {"lbl": ["p", "q"], "mni": 3}})

    def test_ts0004_7_5_2_partial_retrieve_content_and_fragment_mqtt(self):
        aei, cnt, c = self.fixture()
        self.mqtt(aei)
        r = self.mq(aei, {"op": 2, "to": cnt.lstrip("/"), "pc": {"m2m:atrl": ["lbl", "ri"]}})
        self.assertEqual((r["rsc"], r.get("pc")), (2000, {"m2m:cnt": {"lbl": ["p", "q"], "ri": c["ri"]}}), r)
        r = self.mq(aei, {"op": 2, "to": cnt.lstrip("/") + "#mni"})
        self.assertEqual((r["rsc"], r.get("pc")), (2000, {"m2m:cnt": {"mni": 3}}), r)
        r = self.mq(aei, {"op": 2, "to": cnt.lstrip("/"), "pc": {"m2m:cnt": {}}})
        self.assertEqual(r["rsc"], 4000, r)
        r = self.mq(aei, {"op": 3, "to": cnt.lstrip("/") + "#lbl", "pc": {"m2m:cnt": {"lbl": []}}})
        self.assertEqual(r["rsc"], 4000, r)


# -------------------------------------------------------------------------------------------------
# Item 1: request timing parameters (TS-0004 §7.3.2.1, §7.2.1.1; TS-0009 §6.4.13-16; TS-0008
# §6.2.2.4; TS-0010 primitive rqet/rset/oet)
# -------------------------------------------------------------------------------------------------
def ts_at(offset):
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() + offset))


class TimingTest(Conf):

    def test_ts0004_7_3_2_1_expired_request_expiration_timestamp_is_4008(self):
        aei, path = self.ae()
        for ret in (ts_at(-60), "0"):
            with self.subTest(ret=ret):
                r = self.c.create(path, TY_CNT, {"rn": uniq("c")}, origin=aei, headers={"X-M2M-RET": ret})
                self.assertRsc(r, 4008)
        r = self.c.retrieve(path, origin=aei, headers={"X-M2M-RET": ts_at(60)})
        self.assertRsc(r, 2000)
        r = self.c.retrieve(path, origin=aei, headers={"X-M2M-RET": "60000", "X-M2M-RST": "120000"})
        self.assertRsc(r, 2000)
        self.assertRsc(self.c.retrieve(path, origin=aei, headers={"X-M2M-RET": "tomorrow"}), 4000)

    def test_ts0004_7_3_2_1_oet_after_ret_or_rst_before_execution_is_4000(self):
        aei, path = self.ae()
        r = self.c.retrieve(path, origin=aei, headers={"X-M2M-RET": "2000", "X-M2M-OET": "5000"})
        self.assertRsc(r, 4000)
        r = self.c.retrieve(path, origin=aei, headers={"X-M2M-RST": "1000", "X-M2M-OET": "3000"})
        self.assertRsc(r, 4000)
        r = self.c.retrieve(path, origin=aei, headers={"X-M2M-RST": ts_at(-5)})
        self.assertRsc(r, 4000)

    def test_ts0004_7_3_2_1_cmdh_and_unsupported_parameters_are_5001(self):
        aei, path = self.ae()
        self.assertRsc(self.c.retrieve(path, origin=aei, headers={"X-M2M-EC": "2"}), 5001)
        for q in ({"rp": "PT10S"}, {"da": "true"}, {"sqi": "true"}):
            with self.subTest(query=q):
                self.assertRsc(self.c.retrieve(path, origin=aei, query=q), 5001)
        # an Operation Execution Time beyond what a blocking request may wait here
        self.assertRsc(self.c.retrieve(path, origin=aei, headers={"X-M2M-OET": ts_at(3600)}), 5001)

    def test_ts0004_7_3_3_x_future_oet_defers_execution_without_holding_a_thread(self):
        aei, path = self.ae()
        n = 6  # more than the HTTP worker threads: parked requests must not hold them
        results = [None] * n
        t0 = time.monotonic()

        def create(i):
            r = self.c.create(path, TY_CNT, {"rn": "late%d" % i}, origin=aei, headers={"X-M2M-OET": "1500"})
            results[i] = (r, time.monotonic() - t0)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        # while they wait, the CSE serves other requests, and nothing has been created yet
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            r = self.c.retrieve(path + "/late0", origin=aei)
            if time.monotonic() - t0 < 1.2:
                self.assertRsc(r, 4004, "created before its Operation Execution Time")
            time.sleep(0.1)
        for t in threads:
            t.join(10)
        for i, (r, took) in enumerate(results):
            self.assertRsc(r, 2001)
            self.assertGreaterEqual(took, 1.4, "request %d executed after %.2fs, before its OET" % (i, took))
            self.assertLess(took, 5.0)
        self.assertRsc(self.c.retrieve(path + "/late0", origin=aei), 2000)

    def test_ts0004_7_3_2_1_shutdown_answers_parked_requests_without_running_them(self):
        srv = WardenServer(extra_args=["--log.level=debug"]).start()
        try:
            c = srv.client()
            out = {}

            def parked():
                out["r"] = c.create("/" + CSE_RN, TY_CNT, {"rn": "never"}, origin=ADMIN,
                                    headers={"X-M2M-OET": "300000"})

            t = threading.Thread(target=parked)
            t.start()
            deadline = time.monotonic() + 5
            while "parked until its Operation Execution Time" not in srv.output():
                self.assertLess(time.monotonic(), deadline, "the request did not park")
                time.sleep(0.02)
            t0 = time.monotonic()
            self.assertEqual(srv.stop(), 0, srv.output())
            t.join(10)
            self.assertLess(time.monotonic() - t0, 8.0)
            self.assertEqual(out["r"].rsc, 5000, out)
        finally:
            srv.cleanup()

    def test_ts0008_6_2_2_4_timing_options_coap(self):
        aei, path = self.ae()
        r = self.coap("GET", path.lstrip("/"), fr=aei, opts=("291=" + ts_at(-60),))
        self.assertEqual((r.code, r.rsc), ("5.04", 4008), r)
        r = self.coap("GET", path.lstrip("/"), fr=aei, opts=("303#2",))
        self.assertEqual(r.rsc, 5001, r)
        t0 = time.monotonic()
        r = self.coap("PUT", path.lstrip("/"), fr=aei, opts=("299=800",), data=json.dumps({"m2m:ae": {"lbl": ["o"]}}))
        self.assertEqual((r.code, r.rsc), ("2.04", 2004), r)
        self.assertGreaterEqual(time.monotonic() - t0, 0.75)

    def test_ts0010_primitive_rqet_rset_oet_mqtt(self):
        aei, path = self.ae()
        self.mqtt(aei)
        to = path.lstrip("/")
        self.assertEqual(self.mq(aei, {"op": 2, "to": to, "rqet": ts_at(-60)})["rsc"], 4008)
        self.assertEqual(self.mq(aei, {"op": 2, "to": to, "rset": ts_at(-60)})["rsc"], 4000)
        self.assertEqual(self.mq(aei, {"op": 2, "to": to, "ec": 2})["rsc"], 5001)
        t0 = time.monotonic()
        r = self.mq(aei, {"op": 2, "to": to, "oet": 700, "rqet": 5000})
        self.assertEqual(r["rsc"], 2000, r)
        self.assertGreaterEqual(time.monotonic() - t0, 0.65)


# -------------------------------------------------------------------------------------------------
# Item 2: disableRetrieval (TS-0001 §9.6.6; TS-0004 §7.4.7.2.2, §7.4.7.2.4, §7.4.27.2.x Recv-6.3)
# -------------------------------------------------------------------------------------------------
class DisableRetrievalTest(Conf):

    def fixture(self):
        aei, path = self.ae()
        cnt, _ = self.new_cnt(path, aei, disr=True)
        cin = self.new_cin(cnt, aei, "secret", rn="i1")
        return aei, path, cnt, cin

    def test_ts0004_7_4_7_2_2_disr_retrieve_and_delete_are_4005_http(self):
        aei, path, cnt, cin = self.fixture()
        for target in (cnt + "/i1", cnt + "/la", cnt + "/ol", "/" + cin["ri"]):
            with self.subTest(target=target):
                self.assertRsc(self.c.retrieve(target, origin=aei), 4005)
                self.assertRsc(self.c.retrieve(target, origin=aei, query={"atrl": "con"}), 4005)
        for target in (cnt + "/la", cnt + "/i1"):
            with self.subTest(target=target):
                self.assertRsc(self.c.delete(target, origin=aei), 4005)
        # the container itself stays retrievable, with its counters
        c = self.res(self.assertRsc(self.c.retrieve(cnt, origin=aei), 2000), "m2m:cnt")
        self.assertEqual((c["cni"], c["disr"]), (1, True))

    def test_ts0001_9_6_6_disr_holds_across_a_restart(self):
        # the server knows at start which containers disable retrieval (it skips the lookup of an
        # instance's container only while none does): a stored disr is enforced after a restart
        srv = WardenServer()
        srv.start()
        try:
            c = srv.client()
            aei = "C" + uniq("dr")
            self.assertRsc(c.register_ae(origin=aei, rn=aei), 2001)
            r = self.assertRsc(c.create("/%s/%s" % (CSE_RN, aei), 3, {"rn": "box", "disr": True}, origin=aei), 2001)
            box = "/%s/%s/box" % (CSE_RN, aei)
            self.assertRsc(c.create(box, 4, {"rn": "i1", "con": "secret"}, origin=aei, root="m2m:cin"), 2001)
            self.assertEqual(srv.stop(), 0)
            srv.start()
            c = srv.client()
            self.assertRsc(c.retrieve(box + "/i1", origin=aei), 4005)
            self.assertRsc(c.retrieve(box + "/la", origin=aei), 4005)
        finally:
            srv.stop()
            srv.cleanup()

    def test_ts0001_9_6_6_disr_instances_appear_in_no_result(self):
        aei, path, cnt, cin = self.fixture()
        r = self.assertRsc(self.c.retrieve(cnt, origin=aei, query={"rcn": 4}), 2000)
        self.assertNotIn("m2m:cin", self.res(r, "m2m:cnt"))
        r = self.assertRsc(self.c.retrieve(path, origin=aei, query={"rcn": 6}), 2000)
        self.assertEqual(refs(r.body), [cnt.lstrip("/")])
        r = self.assertRsc(self.c.retrieve(path, origin=aei, query={"fu": 1, "ty": TY_CIN}), 2000)
        self.assertEqual(r.body["m2m:uril"], [])
        self.assertNotIn("secret", json.dumps(r.body))

    def test_ts0001_9_6_6_disr_true_to_false_deletes_every_instance(self):
        aei, path, cnt, cin = self.fixture()
        self.new_cin(cnt, aei, "more", rn="i2")
        r = self.assertRsc(self.c.update(cnt, "m2m:cnt", {"disr": False}, origin=aei), 2004)
        self.assertEqual((self.res(r, "m2m:cnt")["cni"], self.res(r, "m2m:cnt")["cbs"]), (0, 0))
        self.assertRsc(self.c.retrieve(cnt + "/i1", origin=aei), 4004)
        self.assertRsc(self.c.retrieve(cnt + "/la", origin=aei), 4004)
        # from then on instances are retrievable again
        self.new_cin(cnt, aei, "new", rn="i3")
        self.assertRsc(self.c.retrieve(cnt + "/i3", origin=aei), 2000)
        # false to false, or true to true, deletes nothing
        self.assertRsc(self.c.update(cnt, "m2m:cnt", {"disr": False}, origin=aei), 2004)
        self.assertRsc(self.c.retrieve(cnt + "/i3", origin=aei), 2000)

    def test_ts0004_7_4_7_2_2_disr_coap_and_mqtt(self):
        aei, path, cnt, cin = self.fixture()
        r = self.coap("GET", cnt.lstrip("/") + "/la", fr=aei)
        self.assertEqual((r.code, r.rsc), ("4.05", 4005), r)
        r = self.coap("DELETE", cnt.lstrip("/") + "/i1", fr=aei)
        self.assertEqual((r.code, r.rsc), ("4.05", 4005), r)
        self.mqtt(aei)
        self.assertEqual(self.mq(aei, {"op": 2, "to": cnt.lstrip("/") + "/ol"})["rsc"], 4005)
        self.assertEqual(self.mq(aei, {"op": 4, "to": cnt.lstrip("/") + "/i1"})["rsc"], 4005)


# -------------------------------------------------------------------------------------------------
# Item 3: attribute values validated by their data types (TS-0004 §6.3, Table 6.3.3-1)
# -------------------------------------------------------------------------------------------------
class DataTypesTest(Conf):

    def test_ts0004_6_3_3_csz_is_m2m_serializations(self):
        for csz in (["json"], ["application/json", "application/cbor"], ["xml", "cbor"]):
            with self.subTest(csz=csz):
                self.assertRsc(self.c.register_ae(extra={"csz": csz}), 2001)
        for csz in ([], ["yaml"], ["application/yaml"], "json", [1]):
            with self.subTest(csz=csz):
                self.assertRsc(self.c.register_ae(extra={"csz": csz}), 4000)
        aei, path = self.ae()
        self.assertRsc(self.c.update(path, "m2m:ae", {"csz": ["text/plain"]}, origin=aei), 4000)

    def test_ts0004_6_3_3_cnf_is_m2m_contentinfo(self):
        aei, path = self.ae()
        cnt, _ = self.new_cnt(path, aei)
        for cnf in ("text/plain:0", "application/json:1", "application/octet-stream:2", "text/plain:0:0",
                    "application/vnd.onem2m-res+json:0:5"):
            with self.subTest(cnf=cnf):
                # contentSecurity 5 (XML, then base64): the content must be base64 (TS-0004 §6.3.4.2.38)
                con = "eA==" if cnf.endswith(":5") else "x"
                self.assertRsc(self.c.create(cnt, TY_CIN, {"con": con, "cnf": cnf}, origin=aei), 2001)
        for cnf in ("text/plain:3", "text/plain:0:6", "text:0", "text/plain:", "/plain:0", "text/plain:0:1:1",
                    "text/pl ain:0", "text/plain", ""):
            with self.subTest(cnf=cnf):
                self.assertRsc(self.c.create(cnt, TY_CIN, {"con": "x", "cnf": cnf}, origin=aei), 4000)

    def test_ts0004_6_3_3_labels_are_tokens(self):
        aei, path = self.ae()
        self.assertRsc(self.c.create(path, TY_CNT, {"lbl": ["a", "key:value", "x_y-z"]}, origin=aei), 2001)
        for lbl in (["two words"], [""], ["tab\there"], [" lead"], ["x", 3]):
            with self.subTest(lbl=lbl):
                self.assertRsc(self.c.create(path, TY_CNT, {"lbl": lbl}, origin=aei), 4000)
        self.assertRsc(self.c.update(path, "m2m:ae", {"lbl": ["bad label"]}, origin=aei), 4000)

    def test_ts0001_table_7_2_1_app_id_by_release(self):
        for api in ("Nx", "Ra01.com.example.app"):
            with self.subTest(api=api):
                self.assertRsc(self.c.register_ae(api=api, rvi="4"), 2001)
        # lower-case r: permitted in release 3, forbidden from release 4
        self.assertRsc(self.c.register_ae(api="ra01.com.example.app", rvi="3"), 2001)
        for rvi in ("4", "5"):
            with self.subTest(rvi=rvi):
                self.assertRsc(self.c.register_ae(api="ra01.com.example.app", rvi=rvi), 4000)
        for api in ("Xapp", "N", "", "N a"):
            with self.subTest(api=api):
                self.assertRsc(self.c.register_ae(api=api), 4000)
        # over MQTT, with the release of the primitive
        lvl = "Capi" + uniq("")
        r = self.mq(lvl, {"op": 1, "to": CSE_RN, "ty": TY_AE, "rvi": "4",
                          "pc": {"m2m:ae": {"rn": lvl, "api": "ra01.com.x", "rr": False}}}) if not MQTT_SKIP else None
        if r is not None:
            self.assertEqual(r["rsc"], 4000, r)

    def test_ts0004_7_4_8_2_1_chty_must_name_possible_children(self):
        aei, path = self.ae()
        cnt, _ = self.new_cnt(path, aei)
        sub = {"nu": [aei], "enc": {"net": [3], "chty": [TY_CIN]}}
        self.assertRsc(self.c.create(cnt, TY_SUB, dict(sub, rn="ok"), origin=aei, root="m2m:sub"), 2001)
        # an AE cannot be a child of a container, a contentInstance not of an AE
        self.assertRsc(self.c.create(cnt, TY_SUB, {"nu": [aei], "enc": {"net": [3], "chty": [TY_AE]}}, origin=aei,
                                     root="m2m:sub"), 4000)
        self.assertRsc(self.c.create(path, TY_SUB, {"nu": [aei], "enc": {"net": [3], "chty": [TY_CIN]}},
                                     origin=aei, root="m2m:sub"), 4000)
        self.assertRsc(self.c.update(cnt + "/ok", "m2m:sub", {"enc": {"net": [3], "chty": [5]}}, origin=aei), 4000)
        r = self.coap("POST", cnt.lstrip("/"), fr=aei, ty=TY_SUB,
                      data=json.dumps({"m2m:sub": {"nu": [aei], "enc": {"chty": [TY_GRP]}}}))
        self.assertEqual((r.code, r.rsc), ("4.00", 4000), r)

    def test_ts0001_table_9_6_8_4_nct_net_combinations(self):
        aei, path = self.ae()
        cnt, _ = self.new_cnt(path, aei)
        ok = ({"nct": 2}, {"nct": 2, "enc": {"net": [1]}}, {"nct": 1, "enc": {"net": [1, 2, 3, 4]}},
              {"nct": 3, "enc": {"net": [2, 4]}})
        for extra in ok:
            with self.subTest(extra=extra):
                self.assertRsc(self.c.create(cnt, TY_SUB, dict(extra, nu=[aei]), origin=aei, root="m2m:sub"), 2001)
        for net in ([2], [3], [1, 4]):
            with self.subTest(net=net):
                r = self.c.create(cnt, TY_SUB, {"nu": [aei], "nct": 2, "enc": {"net": net}}, origin=aei,
                                  root="m2m:sub")
                self.assertRsc(r, 4000)
        # an update that would make the combination n/a
        r = self.c.create(cnt, TY_SUB, {"rn": "m", "nu": [aei], "nct": 2}, origin=aei, root="m2m:sub")
        self.assertRsc(r, 2001)
        self.assertRsc(self.c.update(cnt + "/m", "m2m:sub", {"enc": {"net": [3]}}, origin=aei), 4000)

    def test_ts0004_7_4_36_1_dac_dap_mandatory_and_dal_a_timestamp(self):
        aei, path = self.ae()
        self.assertRsc(self.c.create(path, TY_DAC, {"dae": True}, origin=aei, root="m2m:dac"), 4000)
        self.assertRsc(self.c.create(path, TY_DAC, {"dae": True, "dap": []}, origin=aei, root="m2m:dac"), 4000)
        self.assertRsc(self.c.create(path, TY_DAC, {"dae": True, "dap": ["http://127.0.0.1:9/d"], "dal": 60},
                                     origin=aei, root="m2m:dac"), 4000)
        r = self.c.create(path, TY_DAC, {"rn": "d", "dae": True, "dap": ["http://127.0.0.1:9/d"],
                                         "dal": "20991231T000000"}, origin=aei, root="m2m:dac")
        self.assertRsc(r, 2001)
        self.assertRsc(self.c.update(path + "/d", "m2m:dac", {"dap": None}, origin=aei), 4000)
        self.assertRsc(self.c.update(path + "/d", "m2m:dac", {"dap": []}, origin=aei), 4000)
        self.assertRsc(self.c.update(path + "/d", "m2m:dac", {"dap": ["http://127.0.0.1:9/e"]}, origin=aei), 2004)

    def test_ts0004_table_6_3_5_26_1_empty_privileges_are_valid(self):
        aei, path = self.ae()
        r = self.c.create(path, TY_ACP, {"rn": "empty", "pv": {}, "pvs": {"acr": [{"acor": [aei], "acop": 63}]}},
                          origin=aei, root="m2m:acp")
        acp = self.res(self.assertRsc(r, 2001), "m2m:acp")
        cnt, _ = self.new_cnt(path, aei, acpi=[acp["ri"]])
        # no rule grants anything: the creator is denied through the policy too
        self.assertRsc(self.c.retrieve(cnt, origin=aei), 4103)
        self.assertRsc(self.c.update(path + "/empty", "m2m:acp", {"pv": {"acr": []}}, origin=aei), 2004)


# -------------------------------------------------------------------------------------------------
# Item 5: NOTIFY as a request (TS-0004 §7.3.3.9)
# -------------------------------------------------------------------------------------------------
class Sink:
    """An AE's HTTP pointOfAccess: records each request and answers X-M2M-RSC ``rsc``."""

    def __init__(self, rsc=2000, gate=None):
        self.cond = threading.Condition()
        self.got = []
        self.ctypes = []
        self.rsc = rsc
        sink = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                ctype = self.headers.get("Content-Type", "")
                body = cbor_codec.decode(raw) if "cbor" in ctype else json.loads(raw or b"null")
                with sink.cond:
                    sink.ctypes.append(ctype)
                    sink.got.append((self.headers.get("X-M2M-Origin"), body))
                    sink.cond.notify_all()
                if gate is not None:
                    gate.wait(10)
                self.send_response(200)
                self.send_header("X-M2M-RSC", str(sink.rsc))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/ae" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "http://127.0.0.1:%d/gone" % port


SGN = {"m2m:sgn": {"nev": {"rep": {"m2m:cin": {"con": "x"}}, "net": 3}, "sur": "cse-in/x/sub"}}


class NotifyTest(Conf):

    def notify(self, path, body, origin=ADMIN):
        return self.c.request("POST", path, origin=origin, body=body, content_type="application/json")

    def test_ts0004_7_3_3_9_2_notify_to_csebase_is_processed(self):
        self.assertRsc(self.notify("/" + CSE_RN, SGN), 2000)
        self.assertRsc(self.notify("/" + CSE_RN, {"m2m:agn": {"m2m:sgn": [SGN["m2m:sgn"], {"sud": True}]}}), 2000)
        for bad in ({}, {"m2m:sgn": 1}, {"m2m:cnt": {}}, {"m2m:sgn": {"vrq": "yes"}}, {"m2m:sgn": {}},
                    {"m2m:agn": {"m2m:sgn": []}}, {"m2m:sgn": {"nev": {"net": "x"}}}):
            with self.subTest(body=bad):
                self.assertRsc(self.notify("/" + CSE_RN, bad), 4000)
        # the same access decision as any operation: an AE may not NOTIFY the CSEBase by default
        aei, _ = self.ae()
        self.assertRsc(self.notify("/" + CSE_RN, SGN, origin=aei), 4103)
        if not MQTT_SKIP:
            r = self.mq(ADMIN, {"op": 5, "to": CSE_RN, "pc": {"m2m:sgn": {"vrq": 1}}})
            self.assertEqual(r["rsc"], 4000, r)
            self.assertEqual(self.mq(ADMIN, {"op": 5, "to": CSE_RN, "pc": SGN})["rsc"], 2000)
        r = self.coap("POST", CSE_RN, fr=ADMIN, data=json.dumps({"m2m:sgn": {"bogus": 1}}))
        self.assertEqual((r.code, r.rsc), ("4.00", 4000), r)
        r = self.coap("POST", CSE_RN, fr=ADMIN, data=json.dumps(SGN))
        self.assertEqual((r.code, r.rsc), ("2.04", 2000), r)

    def test_ts0004_7_3_3_9_1_notify_to_ae_is_retargeted_to_its_poa(self):
        sink = Sink()
        try:
            r = self.c.register_ae(extra={"poa": [closed_port_url(), sink.url]}, rr=True)
            ae = self.res(self.assertRsc(r, 2001), "m2m:ae")
            path = "/%s/%s" % (CSE_RN, ae["rn"])
            # the first address is dead: the next one gets it, with the originator's From
            self.assertRsc(self.notify(path, SGN), 2000)
            with sink.cond:
                self.assertTrue(sink.cond.wait_for(lambda: sink.got, 5))
                self.assertEqual(sink.got[0], (ADMIN, SGN))
            # the AE itself may notify its own resource; another AE may not
            self.assertRsc(self.notify(path, SGN, origin=ae["aei"]), 2000)
            other, _ = self.ae()
            self.assertRsc(self.notify(path, SGN, origin=other), 4103)
            # over CoAP and MQTT the same
            r = self.coap("POST", path.lstrip("/"), fr=ADMIN, data=json.dumps(SGN))
            self.assertEqual((r.code, r.rsc), ("2.04", 2000), r)
            if not MQTT_SKIP:
                self.mqtt(ae["aei"])
                r = self.mq(ae["aei"], {"op": 5, "to": path.lstrip("/"), "pc": SGN})
                self.assertEqual(r["rsc"], 2000, r)
        finally:
            sink.stop()

    def test_ts0004_7_3_3_9_1_unreachable_ae_is_5103(self):
        for poa in ([], [closed_port_url()], ["mqtt://127.0.0.1:1/x"]):
            with self.subTest(poa=poa):
                r = self.c.register_ae(extra={"poa": poa} if poa else None)
                ae = self.res(self.assertRsc(r, 2001), "m2m:ae")
                self.assertRsc(self.notify("/%s/%s" % (CSE_RN, ae["rn"]), SGN), 5103)
        # a NOTIFY to anything else is still 4005
        aei, path = self.ae()
        cnt, _ = self.new_cnt(path, aei)
        self.assertRsc(self.notify(cnt, SGN, origin=aei), 4005)


# -------------------------------------------------------------------------------------------------
# Item 4 (part): notifications (TS-0004 §7.5.1, §7.4.8.2.1; TS-0001 §9.6.8)
# -------------------------------------------------------------------------------------------------
class NotificationTest(Conf):

    def wait_for(self, sink, pred, timeout=5):
        with sink.cond:
            self.assertTrue(sink.cond.wait_for(lambda: any(pred(b) for _, b in sink.got), timeout),
                            "no matching notification: %r" % sink.got)

    @staticmethod
    def con_of(body):
        rep = body.get("m2m:sgn", {}).get("nev", {}).get("rep", {})
        return rep.get("m2m:cin", {}).get("con") if isinstance(rep, dict) else None

    def test_ts0004_table_6_3_5_62_1_nct3_is_m2m_uri(self):
        sink = Sink()
        try:
            aei, path = self.ae()
            cnt, _ = self.new_cnt(path, aei)
            r = self.c.create(cnt, TY_SUB, {"nu": [sink.url], "nct": 3, "enc": {"net": [3]}}, origin=aei,
                              root="m2m:sub")
            self.assertRsc(r, 2001)
            cin = self.new_cin(cnt, aei, "v")
            self.wait_for(sink, lambda b: b.get("m2m:sgn", {}).get("nev", {}).get("rep") == {"m2m:uri": cin["ri"]})
        finally:
            sink.stop()

    def test_ts0001_9_6_8_ae_target_with_rr_false_is_not_contacted(self):
        sink = Sink()
        try:
            r = self.c.register_ae(extra={"poa": [sink.url]}, rr=False)
            ae = self.res(self.assertRsc(r, 2001), "m2m:ae")
            path = "/%s/%s" % (CSE_RN, ae["rn"])
            cnt, _ = self.new_cnt(path, ae["aei"])
            self.assertRsc(self.c.create(cnt, TY_SUB, {"nu": [ae["aei"]], "enc": {"net": [3]}}, origin=ae["aei"],
                                         root="m2m:sub"), 2001)
            self.new_cin(cnt, ae["aei"], "while-unreachable")
            self.assertRsc(self.c.update(path, "m2m:ae", {"rr": True}, origin=ae["aei"]), 2004)
            self.new_cin(cnt, ae["aei"], "reachable")
            self.wait_for(sink, lambda b: self.con_of(b) == "reachable")
            with sink.cond:
                self.assertNotIn("while-unreachable", [self.con_of(b) for _, b in sink.got])
        finally:
            sink.stop()

    def test_ts0004_7_5_1_1_notification_uses_the_ae_serialization(self):
        sink = Sink()
        try:
            for csz, want in ((["cbor"], "application/cbor"), (["application/cbor", "json"], "application/json"),
                              (None, "application/json")):
                with self.subTest(csz=csz):
                    r = self.c.register_ae(extra=dict({"poa": [sink.url]}, **({"csz": csz} if csz else {})), rr=True)
                    ae = self.res(self.assertRsc(r, 2001), "m2m:ae")
                    cnt, _ = self.new_cnt("/%s/%s" % (CSE_RN, ae["rn"]), ae["aei"])
                    self.assertRsc(self.c.create(cnt, TY_SUB, {"nu": [ae["aei"]], "enc": {"net": [3]}},
                                                 origin=ae["aei"], root="m2m:sub"), 2001)
                    con = uniq("c")
                    self.new_cin(cnt, ae["aei"], con)
                    self.wait_for(sink, lambda b: self.con_of(b) == con)
                    with sink.cond:
                        i = [self.con_of(b) for _, b in sink.got].index(con)
                        self.assertEqual(sink.ctypes[i], want)
        finally:
            sink.stop()

    def test_ts0001_9_6_8_operation_monitor(self):
        sink = Sink()
        try:
            r = self.c.register_ae(extra={"poa": [sink.url]}, rr=True)
            ae = self.res(self.assertRsc(r, 2001), "m2m:ae")
            cnt, _ = self.new_cnt("/%s/%s" % (CSE_RN, ae["rn"]), ae["aei"])
            other, _ = self.ae()
            # monitor RETRIEVEs (acop 2) by anyone, and anything by ``other``
            r = self.c.create(cnt, TY_SUB, {"nu": [ae["aei"]], "enc": {"om": [{"ops": 2}, {"or": other}]}},
                              origin=ae["aei"], root="m2m:sub")
            self.assertRsc(r, 2001)
            self.assertRsc(self.c.retrieve(cnt, origin=ae["aei"]), 2000)
            self.assertRsc(self.c.update(cnt, "m2m:cnt", {"lbl": ["u"]}, origin=other), 4103)  # attempted: counts
            self.assertRsc(self.c.update(cnt, "m2m:cnt", {"lbl": ["v"]}, origin=ae["aei"]), 2004)  # not monitored
            want = [{"op": 2, "or": ae["aei"]}, {"op": 3, "or": other}]
            with sink.cond:
                self.assertTrue(sink.cond.wait_for(
                    lambda: sorted([b["m2m:sgn"]["nev"]["om"] for _, b in sink.got], key=str) ==
                    sorted(want, key=str), 5), sink.got)
            # operationMonitor with notificationEventType: 4000; bad monitors: 4000
            for enc in ({"om": [{"ops": 2}], "net": [1]}, {"om": [{}]}, {"om": [{"ops": 64}]},
                        {"om": [{"ops": 2, "x": 1}]}):
                with self.subTest(enc=enc):
                    r = self.c.create(cnt, TY_SUB, {"nu": [ae["aei"]], "enc": enc}, origin=ae["aei"],
                                      root="m2m:sub")
                    self.assertRsc(r, 4000)
        finally:
            sink.stop()

    def test_ts0004_7_4_8_2_1_batch_notify_num_or_dur_alone_gets_defaults(self):
        aei, path = self.ae()
        cnt, _ = self.new_cnt(path, aei)
        for bn in ({"num": 3}, {"dur": "PT2S"}):
            with self.subTest(bn=bn):
                r = self.c.create(cnt, TY_SUB, {"nu": [aei], "bn": bn}, origin=aei, root="m2m:sub")
                got = self.res(self.assertRsc(r, 2001), "m2m:sub")["bn"]
                self.assertEqual(set(got), {"num", "dur"})
                for k, v in bn.items():
                    self.assertEqual(got[k], v)
        self.assertRsc(self.c.create(cnt, TY_SUB, {"nu": [aei], "bn": {}}, origin=aei, root="m2m:sub"), 4000)

    def test_ts0004_7_4_8_2_1_cse_relative_ids_of_ae_and_csebase_are_valid_nu(self):
        sink = Sink()
        try:
            r = self.c.register_ae(extra={"poa": [sink.url]}, rr=True)
            ae = self.res(self.assertRsc(r, 2001), "m2m:ae")
            path = "/%s/%s" % (CSE_RN, ae["rn"])
            cnt, _ = self.new_cnt(path, ae["aei"])
            for nu in (path.lstrip("/"), ae["ri"], CSE_RN):
                with self.subTest(nu=nu):
                    r = self.c.create(cnt, TY_SUB, {"nu": [nu], "enc": {"net": [3]}}, origin=ae["aei"],
                                      root="m2m:sub")
                    self.assertRsc(r, 2001)
            self.new_cin(cnt, ae["aei"], "to-structured")
            self.wait_for(sink, lambda b: self.con_of(b) == "to-structured")
            # not an AE or CSEBase: 4000
            r = self.c.create(cnt, TY_SUB, {"nu": [cnt.lstrip("/")]}, origin=ae["aei"], root="m2m:sub")
            self.assertRsc(r, 4000)
            # the structured address of the AE, given by another originator, is verified like its AE-ID
            with sink.cond:
                before = len(sink.got)
            r = self.c.create(cnt, TY_SUB, {"nu": [path.lstrip("/")], "enc": {"net": [3]}}, origin=ADMIN,
                              root="m2m:sub")
            self.assertRsc(r, 2001)
            with sink.cond:
                self.assertTrue(any(b.get("m2m:sgn", {}).get("vrq") for _, b in sink.got[before:]), sink.got)
        finally:
            sink.stop()


class BlockingUpdateTest(Conf):
    """TS-0004 §7.5.1.2.19, §7.3.2.9, §7.4.8.2.1 Recv-6.4: notificationEventType 7."""

    def setup_blocking(self, sink):
        r = self.c.register_ae(extra={"poa": [sink.url]}, rr=True)
        ae = self.res(self.assertRsc(r, 2001), "m2m:ae")
        path = "/%s/%s" % (CSE_RN, ae["rn"])
        cnt, _ = self.new_cnt(path, ae["aei"], lbl=["before"])
        r = self.c.create(cnt, TY_SUB, {"rn": "blk", "nu": [ae["aei"]], "enc": {"net": [7]}}, origin=ae["aei"],
                          root="m2m:sub")
        self.assertEqual(self.res(self.assertRsc(r, 2001), "m2m:sub")["nct"], 2)  # TS-0001 Table 9.6.8-4
        return ae, cnt

    def lbl(self, cnt, aei):
        return self.res(self.c.retrieve(cnt, origin=aei), "m2m:cnt")["lbl"]

    def test_ts0004_7_5_1_2_19_blocking_update_waits_for_the_subscriber(self):
        sink = Sink()
        try:
            ae, cnt = self.setup_blocking(sink)
            r = self.c.update(cnt, "m2m:cnt", {"lbl": ["after"]}, origin=ae["aei"])
            self.assertRsc(r, 2004)
            with sink.cond:
                (frm, body), = sink.got
            sgn = body["m2m:sgn"]
            self.assertEqual((sgn["nev"]["net"], sgn["nev"]["rep"]), (7, {"m2m:cnt": {"lbl": ["after"]}}))
            self.assertTrue(sgn["sur"].endswith("/blk"))
            # the subscriber refuses: 4127, nothing changed
            sink.rsc = 4005
            self.assertRsc(self.c.update(cnt, "m2m:cnt", {"lbl": ["refused"]}, origin=ae["aei"]), 4127)
            self.assertEqual(self.lbl(cnt, ae["aei"]), ["after"])
        finally:
            sink.stop()

    def test_ts0004_7_3_2_9_unreachable_subscriber_is_5107(self):
        sink = Sink()
        try:
            ae, cnt = self.setup_blocking(sink)
        finally:
            sink.stop()
        self.assertRsc(self.c.update(cnt, "m2m:cnt", {"lbl": ["x"]}, origin=ae["aei"]), 5107)
        self.assertEqual(self.lbl(cnt, ae["aei"]), ["before"])

    def test_ts0004_7_5_1_2_19_other_updates_wait_are_refused_meanwhile(self):
        gate = threading.Event()
        sink = Sink(gate=gate)
        try:
            ae, cnt = self.setup_blocking(sink)
            out = {}
            t = threading.Thread(target=lambda: out.setdefault(
                "r", self.c.update(cnt, "m2m:cnt", {"lbl": ["first"]}, origin=ae["aei"])))
            t.start()
            with sink.cond:
                self.assertTrue(sink.cond.wait_for(lambda: sink.got, 5))
            self.assertRsc(self.c.update(cnt, "m2m:cnt", {"lbl": ["second"]}, origin=ae["aei"]), 4105)
            self.assertRsc(self.c.delete(cnt, origin=ae["aei"]), 4105)
            gate.set()
            t.join(10)
            self.assertRsc(out["r"], 2004)
            self.assertEqual(self.lbl(cnt, ae["aei"]), ["first"])
        finally:
            gate.set()
            sink.stop()

    def test_ts0004_7_4_8_2_1_blocking_subscription_rules(self):
        sink = Sink()
        try:
            ae, cnt = self.setup_blocking(sink)
            aei = ae["aei"]
            mk = lambda **a: self.c.create(cnt, TY_SUB, a, origin=aei, root="m2m:sub")  # noqa: E731
            self.assertRsc(mk(nu=[aei], enc={"net": [7]}), 4124)
            cnt2, _ = self.new_cnt("/%s/%s" % (CSE_RN, ae["rn"]), aei)
            mk2 = lambda **a: self.c.create(cnt2, TY_SUB, a, origin=aei, root="m2m:sub")  # noqa: E731
            for bad in ({"nu": [aei, aei], "enc": {"net": [7]}}, {"nu": [sink.url], "enc": {"net": [7]}},
                        {"nu": [aei], "enc": {"net": [7, 1]}}, {"nu": [aei], "enc": {"net": [7]}, "nct": 1},
                        {"nu": [aei], "enc": {"net": [7], "chty": [4]}}):
                with self.subTest(attrs=bad):
                    self.assertRsc(mk2(**bad), 4000)
            r = mk2(rn="plain", nu=[aei], enc={"net": [1]})
            self.assertRsc(r, 2001)
            self.assertRsc(self.c.update(cnt2 + "/plain", "m2m:sub", {"enc": {"net": [7]}}, origin=aei), 4000)
            # an attribute condition: updates of other attributes are not blocked
            self.assertRsc(mk2(rn="b2", nu=[aei], enc={"net": [7], "atr": ["lbl"]}), 2001)
            blocking = lambda: [b for _, b in sink.got if b["m2m:sgn"].get("nev", {}).get("net") == 7]  # noqa: E731
            with sink.cond:
                before = len(blocking())
            self.assertRsc(self.c.update(cnt2, "m2m:cnt", {"mni": 5}, origin=aei), 2004)
            self.assertRsc(self.c.update(cnt2, "m2m:cnt", {"lbl": ["y"]}, origin=aei), 2004)
            with sink.cond:
                self.assertEqual([b["m2m:sgn"]["nev"]["rep"] for b in blocking()[before:]],
                                 [{"m2m:cnt": {"lbl": ["y"]}}])
        finally:
            sink.stop()


if __name__ == "__main__":
    main()
