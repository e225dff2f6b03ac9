#!/usr/bin/python3
"""<locationPolicy> (ty 10), black-box, over HTTP and MQTT.

TS-0001 9.6.10 / 10.2.9 and TS-0004 7.4.10: device-based positions (los 2) reported into the
<container> the CSE creates for the policy (loi, lon, the container's li), and TS-0003 7.1.3 /
Annex F.2.1: aclr circle rules evaluated against the originator's latest position there (the
policy whose locationTargetID is the originator), explained by $explain.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_location_policy.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import ADMIN, CSE_RN, TY_CIN, TY_CNT, WardenServer, WardenTestCase, main, uniq  # noqa: E402
from cbor_codec import decode, encode  # noqa: E402
from mqtt_helpers import MqttClient, MqttServerCase  # noqa: E402

TY_ACP = 1
TY_LCP = 10
BERLIN = (52.5200, 13.4050)
PARIS = (48.8566, 2.3522)
CB = "/" + CSE_RN


def acp_attrs(rules):
    return {"rn": uniq("acp"), "pv": {"acr": rules}, "pvs": {"acr": [{"acor": [ADMIN], "acop": 63}]}}


class Fixture:
    """Admin-side setup shared by the bindings: a position policy for AE aei and a resource that
    aei may retrieve only inside a 1 km circle around Berlin."""

    def __init__(self, c, test, aei):
        self.c = c
        # the positions container: aei may report (create) and read its positions
        r = c.create(CB, TY_ACP, acp_attrs([{"acor": [aei], "acop": 3}]), root="m2m:acp")
        test.assertEqual(r.rsc, 2001, r.body)
        pos_acp = r.body["m2m:acp"]["ri"]
        self.lon = uniq("pos")
        r = c.create(CB, TY_LCP, {"rn": uniq("lcp"), "los": 2, "lot": aei, "lon": self.lon, "acpi": [pos_acp]}, root="m2m:lcp")
        test.assertEqual(r.rsc, 2001, r.body)
        self.lcp = r.body["m2m:lcp"]
        self.positions = "%s/%s" % (CB, self.lon)
        r = c.create(CB, TY_ACP, acp_attrs([{"acor": [aei], "acop": 2,
                                             "acco": [{"aclr": [{"accr": [BERLIN[0], BERLIN[1], 1000]}]}]}]), root="m2m:acp")
        test.assertEqual(r.rsc, 2001, r.body)
        self.secret = "%s/%s" % (CB, uniq("secret"))
        r = c.create(CB, TY_CNT, {"rn": self.secret.rsplit("/", 1)[1], "acpi": [r.body["m2m:acp"]["ri"]]})
        test.assertEqual(r.rsc, 2001, r.body)


class LocationPolicyHttpTest(WardenTestCase):

    def explain(self, fr, path):
        r = self.c.retrieve("%s/$explain" % CB, origin=ADMIN,
                            query={"exfr": fr, "exop": "retrieve", "exto": path[1:]})
        self.assertRsc(r, 2000)
        return r.body["wdn:explain"]

    def test_ts0004_7_4_10_create_makes_the_position_container(self):
        aei, _, _, _ = self.new_ae()
        f = Fixture(self.c, self, aei)
        self.assertEqual(f.lcp["los"], 2)
        self.assertEqual(f.lcp["lot"], aei)
        self.assertIn("lost", f.lcp)
        cnt = self.assertRsc(self.c.retrieve(f.positions), 2000).body["m2m:cnt"]
        # TS-0001 10.2.9.6: cross references both ways
        self.assertEqual(cnt["ri"], f.lcp["loi"])
        self.assertEqual(cnt["li"], f.lcp["ri"])
        # the same name again: 4105 (TS-0001 10.2.9.6)
        r = self.c.create(CB, TY_LCP, {"los": 2, "lot": aei, "lon": f.lon}, root="m2m:lcp")
        self.assertRsc(r, 4105)
        # discovery by type
        r = self.c.retrieve(CB, query={"fu": "1", "ty": "10", "lim": "1000"})
        self.assertIn("%s/%s" % (CSE_RN, f.lcp["rn"]), r.body["m2m:uril"])
        # TS-0001 10.2.9.5: the container goes with the policy
        self.assertRsc(self.c.delete("%s/%s" % (CB, f.lcp["rn"])), 2002)
        self.assertRsc(self.c.retrieve(f.positions), 4004)

    def test_ts0004_7_4_10_only_device_based_and_lot_names_an_ae(self):
        self.assertRsc(self.c.create(CB, TY_LCP, {"los": 1, "lot": "Cx"}, root="m2m:lcp"), 5001)
        self.assertRsc(self.c.create(CB, TY_LCP, {"los": 3, "lot": "Cx"}, root="m2m:lcp"), 5001)
        self.assertRsc(self.c.create(CB, TY_LCP, {"los": 7, "lot": "Cx"}, root="m2m:lcp"), 4000)
        self.assertRsc(self.c.create(CB, TY_LCP, {"lot": "Cx"}, root="m2m:lcp"), 4000)  # los is mandatory
        self.assertRsc(self.c.create(CB, TY_LCP, {"los": 2, "lot": "not an id"}, root="m2m:lcp"), 4000)
        self.assertRsc(self.c.create(CB, TY_LCP, {"los": 2, "lot": "Cx", "loi": "cnt1"}, root="m2m:lcp"), 4000)  # NP

    def test_ts0003_7_1_3_aclr_circle_follows_the_reported_position(self):
        aei, _, _, _ = self.new_ae()
        f = Fixture(self.c, self, aei)
        # no position yet: location unknown, never fail open
        self.assertRsc(self.c.retrieve(f.secret, origin=aei), 4103)
        self.new_cin(f.positions, aei, "%f,%f" % BERLIN)
        self.assertRsc(self.c.retrieve(f.secret, origin=aei), 2000)
        x = self.explain(aei, f.secret)
        self.assertEqual(x["decision"], "PERMIT")
        self.assertIn("%.6f,%.6f" % BERLIN, "\n".join(x["reasons"]))
        self.assertIn(f.lcp["ri"], "\n".join(x["reasons"]))
        # moves out of the circle (as a GeoJSON Point: lon, lat)
        cin = self.new_cin(f.positions, aei, '{"type":"Point","coordinates":[%f,%f]}' % (PARIS[1], PARIS[0]))
        r = self.c.retrieve(f.secret, origin=aei)
        self.assertRsc(r, 4103)
        x = self.explain(aei, f.secret)
        self.assertEqual(x["decision"], "DENY")
        text = "\n".join(x["reasons"])
        self.assertIn("%.6f,%.6f" % PARIS, text)
        self.assertIn(cin["ri"], text)
        self.assertIn("context-location", text)
        # and back in
        self.new_cin(f.positions, aei, "%f %f" % BERLIN)
        self.assertRsc(self.c.retrieve(f.secret, origin=aei), 2000)

    def test_ts0003_annex_f_position_reported_by_another_originator_is_not_used(self):
        aei, _, _, _ = self.new_ae()
        other, _, _, _ = self.new_ae()
        f = Fixture(self.c, self, aei)
        # the admin lets another AE write into the container too
        r = self.c.create(CB, TY_ACP, acp_attrs([{"acor": [aei, other], "acop": 3}]), root="m2m:acp")
        self.assertRsc(self.c.update(f.positions, "m2m:cnt", {"acpi": [r.body["m2m:acp"]["ri"]]}), 2004)
        self.new_cin(f.positions, aei, "%f,%f" % PARIS)
        self.new_cin(f.positions, other, "%f,%f" % BERLIN)  # planted by someone else
        self.assertRsc(self.c.retrieve(f.secret, origin=aei), 4103)
        self.assertIn("not reported by the AE itself", "\n".join(self.explain(aei, f.secret)["reasons"]))
        # a malformed position is no position either
        self.new_cin(f.positions, aei, "somewhere")
        self.assertRsc(self.c.retrieve(f.secret, origin=aei), 4103)

    def test_ts0004_8_4_location_policy_and_position_in_cbor(self):
        aei, _, _, _ = self.new_ae()
        rn, lon = uniq("lcp"), uniq("pos")
        r = self.c.request("POST", CB, origin=ADMIN, content_type="application/cbor;ty=10",
                           accept="application/cbor",
                           body=encode({"m2m:lcp": {"rn": rn, "los": 2, "lot": aei, "lon": lon, "lou": ["PT5M"]}}))
        self.assertEqual(r.rsc, 2001, r.body)
        lcp = decode(r.body)["m2m:lcp"]
        self.assertEqual((lcp["los"], lcp["lot"], lcp["lou"]), (2, aei, ["PT5M"]))
        r = self.c.request("GET", "%s/%s" % (CB, rn), origin=ADMIN, accept="application/cbor")
        self.assertEqual(decode(r.body)["m2m:lcp"]["loi"], lcp["loi"])

    def test_ts0001_9_6_8_subscription_under_a_location_policy(self):
        aei, _, _, _ = self.new_ae()
        f = Fixture(self.c, self, aei)
        # TS-0001 Table 9.6.10-1: <subscription> is a child of <locationPolicy>
        r = self.c.create("%s/%s" % (CB, f.lcp["rn"]), 23, {"rn": "s", "nu": [ADMIN]}, root="m2m:sub")
        self.assertRsc(r, 2001)


class LocationPolicyMqttTest(MqttServerCase):
    """The same decision for a device reporting its positions and asking over MQTT (TS-0010)."""

    def test_ts0003_7_1_3_aclr_circle_follows_the_reported_position_over_mqtt(self):
        level = "Clp" + uniq("")
        m = MqttClient(self.broker.port, level).start()
        try:
            def req(op, to, **kw):
                p = {"op": op, "to": to, "fr": level, "rqi": uniq("q"), "rvi": "3"}
                p.update(kw)
                return m.request(p)
            r = req(1, CSE_RN, ty=2, pc={"m2m:ae": {"rn": level, "api": "Nlp", "rr": False}})
            self.assertEqual(r["rsc"], 2001, r)
            f = Fixture(self.server.client(), self, level)
            secret = f.secret[1:]
            self.assertEqual(req(2, secret)["rsc"], 4103)
            r = req(1, f.positions[1:], ty=TY_CIN, pc={"m2m:cin": {"con": "%f,%f" % BERLIN}})
            self.assertEqual(r["rsc"], 2001, r)
            self.assertEqual(req(2, secret)["rsc"], 2000)
            r = req(1, f.positions[1:], ty=TY_CIN, pc={"m2m:cin": {"con": "%f,%f" % PARIS}})
            self.assertEqual(r["rsc"], 2001, r)
            self.assertEqual(req(2, secret)["rsc"], 4103)
        finally:
            m.stop()


if __name__ == "__main__":
    main()
