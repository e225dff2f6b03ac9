#!/usr/bin/python3
"""CBOR serialization over the HTTP binding, black-box.

TS-0004 8.4 (CBOR serialization of primitive content: the JSON data model carried in CBOR) and
TS-0009 6.2.2.x / 6.4.3 (Content-Type application/cbor and application/vnd.onem2m-res+cbor with
;ty=N; Accept selects the response's serialization), as narrowed by the "MQTT, CoAP and CBOR"
section of docs/http-contract.md: CBOR without a JSON equivalent (byte strings, tags, undefined,
NaN, non-text keys, duplicate keys) -> 4000; responses are in CBOR when Accept asks for CBOR rather
than JSON, or, without Accept, when the request body was CBOR; nothing acceptable -> JSON.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_cbor.py

One server for the module; CBOR is built and read with cbor_codec.py (standard library only).
"""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wardentest  # noqa: E402
from cbor_codec import UNDEFINED, Raw, Simple, Tag, decode, encode  # noqa: E402
from wardentest import (ADMIN, CSE_RN, TY_AE, TY_CIN, TY_CNT, Resp, WardenTestCase,  # noqa: E402
                        main, start_shared_server, stop_shared_server, uniq)

TY_ACP = 1
TY_GRP = 9
TY_SUB = 23
TY_ROLE = 31
TY_DAC = 34
CBOR = "application/cbor"
RES_CBOR = "application/vnd.onem2m-res+cbor"
JSON_CT = "application/json"
ROOT = {TY_ACP: "m2m:acp", TY_AE: "m2m:ae", TY_CNT: "m2m:cnt", TY_CIN: "m2m:cin", TY_GRP: "m2m:grp",
        TY_SUB: "m2m:sub", TY_ROLE: "m2m:rol", TY_DAC: "m2m:dac"}
wardentest.HTTP_FOR_RSC.setdefault(6010, 400)  # MAX_NUMBER_OF_MEMBER_EXCEEDED (as in test_group.py)


def setUpModule():
    start_shared_server()


def tearDownModule():
    stop_shared_server()


def ts(epoch):
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(epoch))


def strict(v):
    """A comparable form of a JSON value that keeps what == forgets: int vs float vs bool, -0.0,
    and the order of object keys."""
    if isinstance(v, bool) or v is None:
        return ("lit", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("float", struct.pack(">d", v))
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, (list, tuple)):
        return ("list", [strict(x) for x in v])
    if isinstance(v, dict):
        return ("dict", [(k, strict(x)) for k, x in v.items()])
    raise AssertionError("not a JSON value: %r" % (v,))


class CborTestCase(WardenTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.c.register_ae(origin="C")
        assert r.rsc == 2001, r
        cls.aei = r.body["m2m:ae"]["aei"]
        cls.ae_path = "/%s/%s" % (CSE_RN, r.body["m2m:ae"]["rn"])

    # -- requests ------------------------------------------------------------------
    def req(self, method, path, origin=None, ty=None, body=None, raw=None, ctype=RES_CBOR, accept=CBOR,
            query=None, headers=None, ri=None):
        """One request with a CBOR body (body encoded here, or raw bytes as they are). The
        response body is decoded from CBOR when its Content-Type says CBOR, else from JSON."""
        payload = raw if raw is not None else (encode(body) if body is not None else None)
        content_type = None
        if payload is not None or ty is not None:
            content_type = ctype + (";ty=%d" % ty if ty is not None else "")
        r = self.c.request(method, path, origin=self.aei if origin is None else origin, body=payload,
                           content_type=content_type, accept=accept, query=query, headers=headers, ri=ri)
        ct = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        body = r.body
        if ct in (CBOR, RES_CBOR):
            self.assertIsInstance(body, bytes, "a CBOR response parsed as JSON")
            body = decode(body)
        return Resp(r.status, r.rsc, r.headers, body)

    def ctype(self, r):
        return (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def assertCbor(self, r, media=CBOR):
        self.assertEqual(self.ctype(r), media, self.describe(r))

    def assertJson(self, r):
        self.assertEqual(self.ctype(r), JSON_CT, self.describe(r))
        self.assertIsInstance(r.body, (dict, list), self.describe(r))

    def assertSameValue(self, a, b, msg=None):
        self.assertEqual(strict(a), strict(b), msg)

    def create(self, parent, ty, attrs, **kw):
        r = self.req("POST", parent, ty=ty, body={ROOT[ty]: attrs}, **kw)
        self.assertRsc(r, 2001)
        return r

    def cnt(self, parent=None, **attrs):
        attrs.setdefault("rn", uniq("cnt"))
        parent = parent or self.ae_path
        self.create(parent, TY_CNT, attrs)
        return parent + "/" + attrs["rn"]


class CrudTest(CborTestCase):
    """Create, retrieve, update, delete and discovery with CBOR bodies and CBOR responses."""

    def test_ts0004_8_4_ae_create_retrieve_update_delete_in_cbor(self):
        rn = uniq("ae")
        r = self.req("POST", "/" + CSE_RN, origin="C", ty=TY_AE, accept=None,
                     body={"m2m:ae": {"rn": rn, "api": "Ncbor", "rr": True, "lbl": ["a", "b:c"],
                                      "poa": ["http://127.0.0.1:9/x"]}})
        self.assertRsc(r, 2001)
        self.assertCbor(r, RES_CBOR)  # no Accept: the request's own format
        self.assertEqual(r.headers.get("Content-Location"), "/%s/%s" % (CSE_RN, rn))
        ae = self.res(r, "m2m:ae")
        self.assertEqual((ae["api"], ae["rr"], ae["lbl"], ae["ty"]), ("Ncbor", True, ["a", "b:c"], TY_AE))
        aei, path = ae["aei"], "/%s/%s" % (CSE_RN, rn)

        r = self.req("GET", path, origin=aei)
        self.assertRsc(r, 2000)
        self.assertCbor(r)
        self.assertSameValue(r.body, {"m2m:ae": ae})

        r = self.req("PUT", path, origin=aei, body={"m2m:ae": {"lbl": ["z"], "rr": False}})
        self.assertRsc(r, 2004)
        self.assertCbor(r, CBOR)
        self.assertEqual((self.res(r, "m2m:ae")["lbl"], self.res(r, "m2m:ae")["rr"]), (["z"], False))
        self.assertEqual(self.c.retrieve(path, origin=aei).body["m2m:ae"]["lbl"], ["z"])

        r = self.req("DELETE", path, origin=aei)
        self.assertRsc(r, 2002)
        r = self.req("GET", path, origin=ADMIN)
        self.assertRsc(r, 4004)
        self.assertCbor(r)  # error bodies {"m2m:dbg": ...} too

    def test_ts0004_8_4_container_and_content_instance_in_cbor(self):
        path = self.cnt(mni=3, mbs=100000, lbl=["temp"])
        r = self.req("GET", path)
        self.assertRsc(r, 2000)
        cnt = self.res(r, "m2m:cnt")
        self.assertSameValue((cnt["mni"], cnt["mbs"], cnt["cni"]), (3, 100000, 0))
        for i, con in enumerate(("21.5", "caf\u00e9 \u6c34 \U0001F600", "x" * 3000)):
            r = self.req("POST", path, ty=TY_CIN, body={"m2m:cin": {"con": con, "cnf": "text/plain:0",
                                                                    "rn": "cin%d" % i}})
            self.assertRsc(r, 2001)
            self.assertEqual(self.res(r, "m2m:cin")["con"], con)
        r = self.req("GET", path + "/la")
        self.assertRsc(r, 2000)
        self.assertEqual(self.res(r, "m2m:cin")["con"], "x" * 3000)
        r = self.req("GET", path + "/ol", accept=RES_CBOR)
        self.assertCbor(r, RES_CBOR)
        self.assertEqual(self.res(r, "m2m:cin")["con"], "21.5")
        r = self.req("PUT", path, body={"m2m:cnt": {"mni": 2}})
        self.assertRsc(r, 2004)
        self.assertSameValue(self.res(r, "m2m:cnt")["mni"], 2)
        self.assertEqual(self.res(self.c.retrieve(path, origin=self.aei), "m2m:cnt")["cni"], 2)
        r = self.req("PUT", path + "/cin1", body={"m2m:cin": {"con": "no"}})
        self.assertRsc(r, 4005)  # contentInstance is immutable, whatever the serialization
        self.assertCbor(r)
        self.assertRsc(self.req("DELETE", path + "/la"), 2002)
        self.assertRsc(self.req("DELETE", path), 2002)
        self.assertRsc(self.c.retrieve(path, origin=self.aei), 4004)

    def test_ts0004_8_4_integers_and_doubles_stay_apart(self):
        # mni is a nonNegInteger: CBOR 1 is accepted, CBOR 1.0 (a float, half precision) is a wrong type
        self.assertRsc(self.req("POST", self.ae_path, ty=TY_CNT, body={"m2m:cnt": {"mni": 1.0}}), 4000)
        self.assertRsc(self.req("POST", self.ae_path, ty=TY_CNT, body={"m2m:cnt": {"mni": 1}}), 2001)
        # the JSON route says the same about 1.0
        self.assertRsc(self.c.request("POST", self.ae_path, origin=self.aei, ty=TY_CNT,
                                      body='{"m2m:cnt":{"mni":1.0}}'), 4000)
        # large integers keep every digit (2^53 + 1 is no double), in CBOR and in JSON
        r = self.req("POST", self.ae_path, ty=TY_CNT, body={"m2m:cnt": {"mbs": 2 ** 53 + 1}})
        self.assertRsc(r, 2001)
        self.assertSameValue(self.res(r, "m2m:cnt")["mbs"], 2 ** 53 + 1)
        rj = self.c.retrieve(r.headers["Content-Location"], origin=self.aei)
        self.assertSameValue(rj.body["m2m:cnt"]["mbs"], 2 ** 53 + 1)

    def test_ts0004_8_4_subscription_in_cbor(self):
        path = self.cnt()
        sub = {"rn": "sub", "nu": [self.aei], "enc": {"net": [1, 3]}, "nct": 1, "exc": 10,
               "bn": {"num": 2, "dur": "PT2S"}}
        r = self.create(path, TY_SUB, sub)
        got = self.res(r, "m2m:sub")
        for k in ("nu", "enc", "nct", "exc", "bn"):
            self.assertSameValue(got[k], sub[k], k)
        # nct 3 (resource ID): nct 2 would be n/a with net 3 (TS-0001 Table 9.6.8-4)
        r = self.req("PUT", path + "/sub", body={"m2m:sub": {"exc": 3, "nct": 3}})
        self.assertRsc(r, 2004)
        self.assertSameValue((self.res(r, "m2m:sub")["exc"], self.res(r, "m2m:sub")["nct"]), (3, 3))
        r = self.req("GET", path + "/sub")
        self.assertRsc(r, 2000)
        self.assertEqual(self.res(r, "m2m:sub")["exc"], 3)
        self.assertRsc(self.req("POST", path, ty=TY_SUB, body={"m2m:sub": {"nu": [self.aei], "nct": 4}}), 4000)
        self.assertRsc(self.req("DELETE", path + "/sub"), 2002)

    def test_ts0004_8_4_group_and_fanout_in_cbor(self):
        a, b = self.cnt(), self.cnt()
        rn = uniq("grp")
        r = self.create(self.ae_path, TY_GRP, {"rn": rn, "mnm": 5, "mid": [a[1:], b[1:]], "mt": TY_CNT})
        grp = self.res(r, "m2m:grp")
        self.assertSameValue((grp["mnm"], grp["cnm"], grp["mt"]), (5, 2, TY_CNT))
        path = self.ae_path + "/" + rn
        r = self.req("POST", path + "/fopt", ty=TY_CIN, body={"m2m:cin": {"con": "both"}})
        self.assertRsc(r, 2000)
        rsp = self.res(r, "m2m:agr")["m2m:rsp"]
        self.assertEqual(sorted(x["rsc"] for x in rsp), [2001, 2001])
        r = self.req("GET", path + "/fopt/la")
        self.assertRsc(r, 2000)
        self.assertCbor(r)
        self.assertEqual([x["pc"]["m2m:cin"]["con"] for x in self.res(r, "m2m:agr")["m2m:rsp"]], ["both", "both"])
        r = self.req("PUT", path, body={"m2m:grp": {"mnm": 1}})  # fewer than the members
        self.assertRsc(r, 6010)
        self.assertCbor(r)
        r = self.req("PUT", path, body={"m2m:grp": {"mnm": 10, "lbl": ["g"]}})
        self.assertRsc(r, 2004)
        self.assertSameValue(self.res(r, "m2m:grp")["mnm"], 10)
        self.assertRsc(self.req("DELETE", path), 2002)

    def test_ts0004_8_4_acp_in_cbor(self):
        rn = uniq("acp")
        pv = {"acr": [{"acor": [self.aei, "Cnobody*"], "acop": 63,
                       "acco": [{"actw": ["* * * * * * *"], "acip": {"ipv4": ["127.0.0.0/8"]},
                                 "aclr": {"accr": [52.52, 13.405, 1500.5]}}]},
                      {"acor": ["all"], "acop": 2}]}
        pvs = {"acr": [{"acor": [self.aei], "acop": 63}]}
        r = self.create(self.ae_path, TY_ACP, {"rn": rn, "pv": pv, "pvs": pvs})
        acp = self.res(r, "m2m:acp")
        self.assertSameValue(acp["pv"], pv)  # doubles in accr come back as the same doubles
        self.assertSameValue(acp["pvs"], pvs)
        path = self.ae_path + "/" + rn
        r = self.req("PUT", path, body={"m2m:acp": {"pv": {"acr": [{"acor": ["all"], "acop": 34}]}}})
        self.assertRsc(r, 2004)
        self.assertSameValue(self.res(r, "m2m:acp")["pv"], {"acr": [{"acor": ["all"], "acop": 34}]})
        # bind it to a container with a CBOR update; anyone may now retrieve that container
        cnt = self.cnt()
        r = self.req("PUT", cnt, body={"m2m:cnt": {"acpi": [acp["ri"]]}})
        self.assertRsc(r, 2004)
        r = self.req("GET", cnt, origin=ADMIN)
        self.assertRsc(r, 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["acpi"], [acp["ri"]])
        # an ACP rule the CSE cannot evaluate is refused, in CBOR too
        self.assertRsc(self.req("POST", self.ae_path, ty=TY_ACP, body={"m2m:acp": {
            "pv": pv, "pvs": {"acr": [{"acor": ["all"], "acop": 63, "xyz": 1}]}}}), 4000)
        self.assertRsc(self.req("PUT", cnt, body={"m2m:cnt": {"acpi": []}}), 2004)
        self.assertRsc(self.req("DELETE", path), 2002)

    def test_ts0004_8_4_discovery_in_cbor(self):
        parent = self.cnt(lbl=["disc"])
        names = [self.cnt(parent, lbl=["disc", "k%d" % i]) for i in range(3)]
        query = [("fu", 1), ("ty", TY_CNT), ("lbl", "disc")]
        r = self.req("GET", parent, query=query)
        self.assertRsc(r, 2000)
        self.assertCbor(r)
        uril = r.body["m2m:uril"]
        for n in names:
            self.assertTrue(any(u.endswith(n.rsplit("/", 1)[1]) for u in uril), (n, uril))
        self.assertSameValue(r.body, self.c.retrieve(parent, origin=self.aei, query=query).body)
        query = [("fu", 1), ("ty", TY_CNT), ("lim", 2)]
        r = self.req("GET", parent, query=query)
        self.assertEqual(len(r.body["m2m:uril"]), 2)
        rj = self.c.retrieve(parent, origin=self.aei, query=query)
        self.assertSameValue(r.body, rj.body)
        self.assertEqual(r.headers.get("X-M2M-CTS"), rj.headers.get("X-M2M-CTS"))
        self.assertEqual(r.headers.get("X-M2M-CTO"), rj.headers.get("X-M2M-CTO"))

    def test_ts0004_8_4_deep_tree_retrieved_in_cbor(self):
        # rcn=4 nests children: deeper than the 16 levels a request body may have
        path = self.cnt()
        top = path
        for i in range(10):
            path = self.cnt(path, rn="d%d" % i, lbl=["l"])
        self.create(path, TY_CIN, {"con": "leaf"})
        rj = self.c.retrieve(top, origin=self.aei, query={"rcn": 4})
        self.assertRsc(rj, 2000)
        r = self.req("GET", top, query={"rcn": 4})
        self.assertRsc(r, 2000)
        self.assertCbor(r)
        self.assertSameValue(r.body, rj.body)


class RoundTripTest(CborTestCase):
    """Every resource type: created in JSON, retrieved in JSON and in CBOR: the same value."""

    def same_both_ways(self, path, origin=None, query=None):
        origin = origin or self.aei
        ri = "ri-" + uniq("rt")  # the same request ID: fan-out responses echo it
        rj = self.c.retrieve(path, origin=origin, query=query, ri=ri)
        self.assertRsc(rj, 2000)
        self.assertJson(rj)
        for media in (CBOR, RES_CBOR):
            r = self.req("GET", path, origin=origin, accept=media, query=query, ri=ri)
            self.assertRsc(r, 2000)
            self.assertCbor(r, media)
            self.assertSameValue(r.body, rj.body, "%s in %s" % (path, media))
        return rj.body

    def test_ts0004_8_4_round_trip_cse_base(self):
        self.same_both_ways("/" + CSE_RN, origin=ADMIN)

    def test_ts0004_8_4_round_trip_ae(self):
        self.same_both_ways(self.ae_path)

    def test_ts0004_8_4_round_trip_container_and_instances(self):
        r = self.c.create(self.ae_path, TY_CNT, {"rn": uniq("c"), "mni": 5, "mbs": 9999, "mia": 3600,
                                                 "lbl": ["a", "b"]}, origin=self.aei)
        self.assertRsc(r, 2001)
        path = self.ae_path + "/" + r.body["m2m:cnt"]["rn"]
        self.c.create(path, TY_CIN, {"con": "{\"t\": 21.5}", "cnf": "application/json:0", "lbl": ["x"]},
                      origin=self.aei)
        self.c.create(path, TY_CIN, {"con": "\u00e9\u00e8 \U0001F600 \"q\" \\ \t"}, origin=self.aei)
        self.same_both_ways(path)
        self.same_both_ways(path + "/la")
        self.same_both_ways(path + "/ol")
        for rcn in (4, 5, 6, 8):
            self.same_both_ways(path, query={"rcn": rcn})

    def test_ts0004_8_4_round_trip_subscription(self):
        path = self.cnt()
        r = self.c.create(path, TY_SUB, {"rn": "s", "nu": [self.aei], "enc": {"net": [1, 2, 3, 4], "chty": [4]},
                                         "nct": 3, "bn": {"num": 3, "dur": 5}, "ln": True},
                          origin=self.aei, root="m2m:sub")
        self.assertRsc(r, 2001)
        self.same_both_ways(path + "/s")

    def test_ts0004_8_4_round_trip_group(self):
        a = self.cnt()
        r = self.c.create(self.ae_path, TY_GRP, {"rn": "g" + uniq(), "mnm": 3, "mid": [a[1:]], "gn": "grp"},
                          origin=self.aei, root="m2m:grp")
        self.assertRsc(r, 2001)
        path = self.ae_path + "/" + r.body["m2m:grp"]["rn"]
        self.same_both_ways(path)
        self.same_both_ways(path + "/fopt")

    def test_ts0004_8_4_round_trip_acp(self):
        r = self.c.create(self.ae_path, TY_ACP, {
            "rn": uniq("acp"),
            "pv": {"acr": [{"acor": ["all"], "acop": 2, "acco": [{"aclr": [{"accr": [-33.8688, 151.2093, 0.5]},
                                                                         {"accc": ["AU"]}]}]}]},
            "pvs": {"acr": [{"acor": [self.aei], "acop": 63, "acod": [{"chty": [3, 4]}]}]}},
            origin=self.aei, root="m2m:acp")
        self.assertRsc(r, 2001)
        self.same_both_ways(self.ae_path + "/" + r.body["m2m:acp"]["rn"])

    # TS-0004 8.4 for the authorization types: created in CBOR, read back in JSON and in CBOR
    def test_ts0004_8_4_round_trip_role(self):
        now = time.time()
        attrs = {"rn": uniq("rol"), "rlid": "reader", "tkis": "CAuth", "tkhd": self.aei,
                 "tknb": ts(now - 60), "tkna": ts(now + 3600), "rlnm": "Reader", "lbl": ["r"]}
        r = self.req("POST", "/" + CSE_RN, origin=ADMIN, ty=TY_ROLE, body={"m2m:rol": attrs})
        self.assertRsc(r, 2001)
        rol = self.res(r, "m2m:rol")
        self.assertSameValue((rol["ty"], rol["rlid"], rol["tknb"], rol["lbl"]),
                             (TY_ROLE, "reader", attrs["tknb"], ["r"]))
        self.same_both_ways("/%s/%s" % (CSE_RN, rol["rn"]), origin=ADMIN)

    def test_ts0004_8_4_round_trip_dynamic_authorization_consultation(self):
        r = self.req("POST", self.ae_path, ty=TY_DAC, body={"m2m:dac": {
            "rn": uniq("dac"), "dae": True, "dap": ["http://das.example.com/das", "https://das.example.com:8443/das2"]}})
        self.assertRsc(r, 2001)
        dac = self.res(r, "m2m:dac")
        self.assertSameValue((dac["ty"], dac["dae"], len(dac["dap"])), (TY_DAC, True, 2))
        self.same_both_ways("%s/%s" % (self.ae_path, dac["rn"]))

    def test_ts0004_8_4_round_trip_errors(self):
        rj = self.c.retrieve("/%s/%s" % (CSE_RN, uniq("none")), origin=ADMIN)
        r = self.req("GET", "/%s/%s" % (CSE_RN, uniq("none")), origin=ADMIN)
        self.assertRsc(r, 4004)
        self.assertEqual(sorted(r.body), sorted(rj.body))
        self.assertEqual(list(r.body), ["m2m:dbg"])


class MalformedTest(CborTestCase):
    """Bodies that are not CBOR, or CBOR without a JSON equivalent: 4000, and nothing created."""

    def refused(self, raw, label, accept=None):
        rn = uniq("bad")
        r = self.req("POST", self.ae_path, ty=TY_CNT, raw=raw(rn) if callable(raw) else raw, accept=accept)
        self.assertRsc(r, 4000, label)
        self.assertIn("CBOR", r.body["m2m:dbg"], label)
        if accept is None:
            self.assertCbor(r, RES_CBOR)
        self.assertRsc(self.c.retrieve(self.ae_path + "/" + rn, origin=self.aei), 4004, label)

    def cnt_with(self, value_bytes):
        """{"m2m:cnt": {"rn": <rn>, "lbl": <value>}} with the raw CBOR value spliced in."""
        return lambda rn: encode({"m2m:cnt": {"rn": rn, "lbl": Raw(value_bytes)}})

    def test_ts0009_6_4_3_malformed_cbor_is_4000(self):
        ok = encode({"m2m:cnt": {"rn": "x"}})
        cases = {
            "truncated": ok[:-1],
            "truncated head": b"\xa1\x67m2m:cnt\xa1\x62rn\x78",
            "trailing bytes": ok + b"\x00",
            "two items": ok + ok,
            "reserved info": b"\xa1\x67m2m:cnt\x1c",
            "lone break": b"\xff",
            "huge length": b"\xbb\xff\xff\xff\xff\xff\xff\xff\xff",
            "JSON sent as CBOR": b'{"m2m:cnt": {"rn": "x"}}',
        }
        for label, raw in cases.items():
            with self.subTest(label):
                self.refused(raw, label)

    def test_ts0004_8_4_cbor_without_json_equivalent_is_4000(self):
        cases = {
            "byte string": encode(b"\x01\x02"),
            "indefinite byte string": b"\x5f\x41\x01\xff",
            "tag": encode(Tag(1, 1363896240)),
            "bignum": encode(Tag(2, b"\x01" + b"\x00" * 8)),
            "undefined": encode(UNDEFINED),
            "simple value": encode(Simple(16)),
            "NaN": b"\xf9\x7e\x00",
            "Infinity": b"\xfa\x7f\x80\x00\x00",
            "integer beyond int64": encode(2 ** 63),
            "negative integer beyond int64": encode(-2 ** 63 - 1),
            "non-text map key": encode({1: "a"}),
            "invalid UTF-8": b"\x62\xc3\x28",
            "surrogate": b"\x63\xed\xa0\x80",
            "U+0000": b"\x61\x00",
        }
        for label, value in cases.items():
            with self.subTest(label):
                self.refused(self.cnt_with(value), label)

    def test_ts0004_8_4_duplicate_keys_are_4000(self):
        self.refused(lambda rn: b"\xa1\x67m2m:cnt\xa2\x62rn" + encode(rn) + b"\x62rn" + encode(rn), "duplicate key")
        self.refused(lambda rn: b"\xa2\x67m2m:cnt" + encode({"rn": rn}) + b"\x67m2m:cnt" + encode({}), "duplicate root")

    def test_ts0004_8_4_nested_deeper_than_16_is_4000(self):
        deep = b"\x81" * 14 + b"\x00"  # with m2m:cnt and lbl: 17 levels
        self.refused(self.cnt_with(deep), "17 levels")
        r = self.req("POST", self.ae_path, ty=TY_CNT,
                     raw=encode({"m2m:cnt": {"lbl": Raw(b"\x81" * 13 + b"\x00")}}))  # 16 levels
        self.assertRsc(r, 4000)  # now a wrong type for lbl, not a depth refusal
        self.assertNotIn("deeper", r.body["m2m:dbg"])

    def test_ts0009_6_4_3_error_answered_in_json_when_accept_says_json(self):
        r = self.req("POST", self.ae_path, ty=TY_CNT, raw=b"\xa1", accept=JSON_CT)
        self.assertRsc(r, 4000)
        self.assertJson(r)
        self.assertIn("CBOR", r.body["m2m:dbg"])

    def test_ts0009_6_4_3_empty_cbor_body_is_4000(self):
        r = self.c.request("POST", self.ae_path, origin=self.aei, body=b"", content_type=CBOR + ";ty=3",
                           accept=JSON_CT)
        self.assertRsc(r, 4000)

    def test_ts0009_6_4_3_other_media_types_stay_4015(self):
        for ct in ("application/cbor+xml;ty=3", "application/vnd.onem2m-res+xml;ty=3", "text/plain;ty=3"):
            with self.subTest(ct):
                r = self.req("POST", self.ae_path, raw=encode({"m2m:cnt": {}}), ctype=ct, accept=None)
                self.assertRsc(r, 4015)
                self.assertJson(r)
                r = self.req("POST", self.ae_path, raw=encode({"m2m:cnt": {}}), ctype=ct, accept=CBOR)
                self.assertRsc(r, 4015)
                self.assertCbor(r)

    def test_ts0004_8_4_server_survives_garbage(self):
        import random
        rnd = random.Random(5)
        for _ in range(60):
            raw = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
            r = self.req("POST", self.ae_path, ty=TY_CNT, raw=b"\xa1\x67m2m:cnt" + raw)
            self.assertIn(r.rsc, (2001, 4000), self.describe(r))
        self.assertAlive()


class NegotiationTest(CborTestCase):
    """TS-0009 6.2.2.x: which serialization the response uses."""

    def test_ts0009_6_2_2_accept_json_answers_a_cbor_request_in_json(self):
        r = self.req("POST", self.ae_path, ty=TY_CNT, body={"m2m:cnt": {"lbl": ["j"]}}, accept=JSON_CT)
        self.assertRsc(r, 2001)
        self.assertJson(r)
        self.assertEqual(r.body["m2m:cnt"]["lbl"], ["j"])

    def test_ts0009_6_2_2_accept_cbor_answers_a_json_request_in_cbor(self):
        r = self.c.create(self.ae_path, TY_CNT, {"lbl": ["c"]}, origin=self.aei, accept=RES_CBOR)
        self.assertEqual((r.status, r.rsc), (201, 2001))
        self.assertEqual(self.ctype(r), RES_CBOR)
        self.assertEqual(decode(r.body)["m2m:cnt"]["lbl"], ["c"])

    def test_ts0009_6_2_2_unsupported_accept_answers_json(self):
        for accept in ("application/xml", "application/vnd.onem2m-res+xml", "text/html"):
            with self.subTest(accept):
                r = self.req("GET", self.ae_path, accept=accept)
                self.assertRsc(r, 2000)
                self.assertJson(r)
                r = self.req("POST", self.ae_path, ty=TY_CNT, body={"m2m:cnt": {}}, accept=accept)
                self.assertRsc(r, 2001)
                self.assertJson(r)

    def test_ts0009_6_2_2_accept_preferences(self):
        cases = [
            ("application/json, application/cbor", None, JSON_CT),
            ("application/json;q=0.5, application/cbor", None, CBOR),
            ("application/cbor;q=0.5, application/json", None, JSON_CT),
            ("text/html, application/vnd.onem2m-res+cbor;q=0.9", None, RES_CBOR),
            ("application/cbor;q=0", None, JSON_CT),
            ("*/*", None, JSON_CT),
            ("*/*", CBOR, CBOR),
            ("application/json, application/cbor", CBOR, CBOR),
            (None, CBOR, CBOR),
            (None, RES_CBOR, RES_CBOR),
        ]
        for accept, body_type, want in cases:
            with self.subTest(accept=accept, body=body_type):
                if body_type:
                    r = self.req("POST", self.ae_path, ty=TY_CNT, body={"m2m:cnt": {}}, ctype=body_type,
                                 accept=accept)
                    self.assertRsc(r, 2001)
                else:
                    r = self.req("GET", self.ae_path, accept=accept)
                    self.assertRsc(r, 2000)
                self.assertEqual(self.ctype(r), want)

    def test_ts0004_8_4_non_preferred_encodings_are_accepted(self):
        rn = uniq("np")
        # {_ "m2m:cnt": {_ "rn": (_ "n", "p..."), "mni": 1 as a 64-bit integer, "lbl": [_ "a"]}}, self-described
        raw = (b"\xd9\xd9\xf7\xbf\x67m2m:cnt\xbf\x62rn\x7f\x61" + rn[:1].encode() + encode(rn[1:]) + b"\xff"
               b"\x63mni\x1b\x00\x00\x00\x00\x00\x00\x00\x01\x63lbl\x9f\x61a\xff\xff\xff")
        r = self.req("POST", self.ae_path, ty=TY_CNT, raw=raw)
        self.assertRsc(r, 2001)
        cnt = self.res(r, "m2m:cnt")
        self.assertSameValue((cnt["rn"], cnt["mni"], cnt["lbl"]), (rn, 1, ["a"]))

    def test_ts0004_8_4_float_widths_all_read_as_doubles(self):
        for raw_num, value in ((b"\xf9\x3e\x00", 1.5), (b"\xfa\x3f\xc0\x00\x00", 1.5),
                               (b"\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00", 1.5)):
            with self.subTest(raw_num.hex()):
                ctx = {"aclr": {"accr": [Raw(raw_num), 2.0, 3.0]}}
                r = self.req("POST", self.ae_path, ty=TY_ACP, body={"m2m:acp": {
                    "pv": {"acr": [{"acor": ["all"], "acop": 2, "acco": [ctx]}]},
                    "pvs": {"acr": [{"acor": [self.aei], "acop": 63}]}}})
                self.assertRsc(r, 2001)
                accr = self.res(r, "m2m:acp")["pv"]["acr"][0]["acco"][0]["aclr"]
                accr = accr["accr"] if isinstance(accr, dict) else accr[0]["accr"]
                self.assertSameValue(accr[0], value)


if __name__ == "__main__":
    main()
