#!/usr/bin/python3
"""<flexContainer> (ty 28), black-box, over HTTP (JSON and CBOR) and MQTT.

TS-0004 7.4.37 (<flexContainer>: containerDefinition, custom attributes, contentSize), TS-0001
9.6.35, with the TS-0023 module classes Warden ships (cod:tempe, cod:binSh, ...; the Release 3
"hd:" / org.onem2m.home names as aliases) and an operator definition file (types.flex).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_flexcontainer.py
"""

import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_RN, ServerError, WardenServer, WardenTestCase, main, uniq)  # noqa: E402
from test_subscription import Receiver  # noqa: E402
from cbor_codec import decode, encode  # noqa: E402
from mqtt_helpers import MqttClient, MqttServerCase  # noqa: E402

TY_FCNT = 28
TY_SUB = 23
TEMP = "org.onem2m.common.moduleclass.temperature"
SWITCH = "org.onem2m.common.moduleclass.binarySwitch"

DEFS = {"definitions": [{"cnd": "com.example.gauge", "root": "exa:gauge",
                         "attributes": {"level": {"type": "number", "use": "M"},
                                        "tags": {"type": "list"}}}]}


class FlexContainerHttpTest(WardenTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        path = os.path.join(cls.tmp.name, "flex.json")
        with open(path, "w") as f:
            json.dump(DEFS, f)
        cls.server_args = ("--notify.allow=127.0.0.1/32", "--types.flex=" + path)
        super().setUpClass()
        cls.rx = Receiver()
        cls.rx.start()
        r = cls.c.register_ae(origin="Cflex" + uniq(""))
        assert r.rsc == 2001, r
        cls.ae = "/%s/%s" % (CSE_RN, r.body["m2m:ae"]["rn"])

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        super().tearDownClass()
        cls.tmp.cleanup()

    def fcnt(self, root, attrs, parent=None, origin=None):
        return self.c.create(parent or self.ae, TY_FCNT, attrs, root=root, origin=origin or ADMIN)

    def test_ts0004_7_4_37_temperature_create_retrieve_update(self):
        r = self.assertRsc(self.fcnt("cod:tempe", {"rn": "t1", "cnd": TEMP, "curT0": 21.5, "unit": 1}), 2001)
        t = self.res(r, "cod:tempe")
        self.assertEqual((t["ty"], t["cnd"], t["curT0"], t["st"]), (TY_FCNT, TEMP, 21.5, 0))
        self.assertEqual(t["cs"], len(json.dumps({"curT0": 21.5, "unit": 1}, separators=(",", ":"))))
        self.assertEqual(self.res(self.c.retrieve(self.ae + "/t1"), "cod:tempe")["curT0"], 21.5)
        r = self.assertRsc(self.c.update(self.ae + "/t1", "cod:tempe", {"curT0": 22.0, "tarTe": 20}), 2004)
        self.assertEqual((self.res(r, "cod:tempe")["curT0"], self.res(r, "cod:tempe")["st"]), (22.0, 1))
        # custom attributes are typed and known (TS-0004 §7.4.37.2.x: validated against the definition)
        self.assertRsc(self.c.update(self.ae + "/t1", "cod:tempe", {"curT0": "hot"}), 4000)
        self.assertRsc(self.c.update(self.ae + "/t1", "cod:tempe", {"powSe": True}), 4000)
        self.assertRsc(self.c.update(self.ae + "/t1", "cod:tempe", {"cnd": SWITCH}), 4000)
        # an update is sent under the resource's own root
        self.assertRsc(self.c.update(self.ae + "/t1", "cod:binSh", {"curT0": 1}), 4000)
        self.assertRsc(self.c.update(self.ae + "/t1", "m2m:fcnt", {"curT0": 1}), 4000)
        # rcn=4 of the parent embeds it under its root
        r = self.c.retrieve(self.ae + "?rcn=4")
        self.assertIn("t1", [x["rn"] for x in self.res(r, "m2m:ae").get("cod:tempe", [])])
        # discovery by type and by containerDefinition
        r = self.c.retrieve(self.ae + "?fu=1&ty=28&cnd=" + TEMP)
        self.assertIn(self.ae.lstrip("/") + "/t1", r.body["m2m:uril"])

    def test_ts0004_7_4_37_create_checks_definition_root_and_mandatory(self):
        self.assertRsc(self.fcnt("cod:tempe", {"cnd": TEMP}), 4000)  # curT0 is mandatory
        self.assertRsc(self.fcnt("cod:binSh", {"cnd": TEMP, "curT0": 1}), 4000)  # root of another definition
        self.assertRsc(self.fcnt("cod:xyz", {"cnd": "org.example.unknown", "x": 1}), 4000)
        self.assertRsc(self.fcnt("cod:tempe", {"curT0": 1}), 4000)  # no cnd
        r = self.assertRsc(self.fcnt("cod:binSh", {"cnd": SWITCH, "powSe": False}), 2001)
        self.assertIs(self.res(r, "cod:binSh")["powSe"], False)
        self.assertRsc(self.fcnt("cod:binSh", {"cnd": SWITCH, "powSe": "on"}), 4000)

    def test_ts0023_release3_home_names_are_aliases(self):
        cnd = "org.onem2m.home.moduleclass.binarySwitch"
        r = self.assertRsc(self.fcnt("hd:binSh", {"rn": "old", "cnd": cnd, "powSe": True}), 2001)
        self.assertEqual(self.res(r, "hd:binSh")["cnd"], cnd)
        self.assertTrue(self.res(self.c.retrieve(self.ae + "/old"), "hd:binSh")["powSe"])
        self.assertRsc(self.fcnt("cod:binSh", {"cnd": cnd, "powSe": True}), 4000)

    def test_types_flex_operator_definition(self):
        r = self.assertRsc(self.fcnt("exa:gauge", {"rn": "g", "cnd": "com.example.gauge", "level": 3,
                                                    "tags": ["a", 1]}), 2001)
        self.assertEqual(self.res(r, "exa:gauge")["level"], 3)
        self.assertRsc(self.fcnt("exa:gauge", {"cnd": "com.example.gauge", "level": [1]}), 4000)
        # the built-in definitions are still there
        self.assertRsc(self.fcnt("cod:brigs", {"cnd": "org.onem2m.common.moduleclass.brightness", "brigs": 80}), 2001)

    def test_ts0004_7_4_37_subscription_notification_carries_the_root(self):
        self.assertRsc(self.fcnt("cod:binSh", {"rn": "sw", "cnd": SWITCH, "powSe": False}), 2001)
        p = self.rx.new_path("sw")
        self.assertRsc(self.c.create(self.ae + "/sw", TY_SUB, {"nu": [self.rx.url(p)], "enc": {"net": [1]}},
                                     root="m2m:sub"), 2001)
        self.assertRsc(self.c.update(self.ae + "/sw", "cod:binSh", {"powSe": True}), 2004)
        deadline = time.monotonic() + 5
        while True:
            got = [x for x in self.rx.received(p) if "nev" in (x.body or {}).get("m2m:sgn", {})]
            if got or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertTrue(got, "no update notification")
        self.assertIs(got[0].body["m2m:sgn"]["nev"]["rep"]["cod:binSh"]["powSe"], True)

    def test_ts0004_8_4_flexcontainer_in_cbor(self):
        body = encode({"cod:tempe": {"rn": "tc", "cnd": TEMP, "curT0": 19.25}})
        r = self.c.request("POST", self.ae, origin=ADMIN, body=body,
                           content_type="application/vnd.onem2m-res+cbor;ty=28", accept="application/cbor")
        self.assertEqual(r.rsc, 2001, r)
        self.assertEqual(decode(r.body)["cod:tempe"]["curT0"], 19.25)
        r = self.c.request("GET", self.ae + "/tc", origin=ADMIN, accept="application/cbor")
        self.assertEqual(decode(r.body)["cod:tempe"]["cnd"], TEMP)

    def test_types_flex_malformed_file_stops_the_server(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"definitions": [{"cnd": "x.y", "root": "m2m:bad"}]}, f)
        srv = WardenServer(extra_args=["--types.flex=" + f.name])
        try:
            with self.assertRaises(ServerError) as cm:
                srv.start(timeout=10)
            self.assertIn("root", str(cm.exception))
        finally:
            srv.cleanup()
            os.unlink(f.name)


class FlexContainerMqttTest(MqttServerCase):

    def test_ts0004_7_4_37_over_mqtt(self):
        level = "Cfc" + uniq("")
        c = MqttClient(self.broker.port, level).start()
        try:
            def req(op, to, **kw):
                p = {"op": op, "to": to, "fr": level, "rqi": uniq("q"), "rvi": "3"}
                p.update(kw)
                return c.request(p)
            self.assertEqual(req(1, CSE_RN, ty=2, pc={"m2m:ae": {"rn": level, "api": "Nfc", "rr": False}})["rsc"], 2001)
            ae = "%s/%s" % (CSE_RN, level)
            r = req(1, ae, ty=TY_FCNT, pc={"cod:binSh": {"rn": "sw", "cnd": SWITCH, "powSe": False}})
            self.assertEqual(r["rsc"], 2001, r)
            r = req(3, ae + "/sw", pc={"cod:binSh": {"powSe": True}})
            self.assertEqual(r["rsc"], 2004, r)
            r = req(2, ae + "/sw")
            self.assertIs(r["pc"]["cod:binSh"]["powSe"], True, r)
            r = req(3, ae + "/sw", pc={"cod:binSh": {"powSe": 1}})
            self.assertEqual(r["rsc"], 4000, r)
        finally:
            c.stop()


if __name__ == "__main__":
    main()
