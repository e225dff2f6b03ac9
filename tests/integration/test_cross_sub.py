#!/usr/bin/python3
"""<crossResourceSubscription> (ty 48), black-box, over HTTP and MQTT.

TS-0001 9.6.58, TS-0004 7.4.58 (create: a <subscription> per regularResourcesAsTarget, listed in
rrats; delete: they go too; update of twt/tws restarts the window) and 7.5.1.2.18 (a cross-resource
notification when every target had an event within the window; a window that ends discards what
it holds), with the subscriber's per-event access decision, notify.max_targets, the outbound policy,
expirationCounter and a notificationSchedule.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_cross_sub.py
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import CSE_RN, TY_CIN, WardenServer, WardenTestCase, main, uniq  # noqa: E402
from test_subscription import Receiver  # noqa: E402
from mqtt_helpers import MqttClient, MqttServerCase  # noqa: E402

TY_ACP = 1
TY_SCH = 18
TY_CRS = 48
CB = "/" + CSE_RN


def crs_notes(rx, path):
    return [r for r in rx.received(path) if isinstance(r.body, dict) and "m2m:sgn" in r.body
            and not r.body["m2m:sgn"].get("vrq")]


class CrossSubHttpTest(WardenTestCase):
    server_args = ("--notify.allow=127.0.0.1/32", "--notify.max_targets=4")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rx = Receiver().start()

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        super().tearDownClass()

    def setup_two(self):
        aei, _, ae, _ = self.new_ae()
        a, _ = self.new_cnt(ae, aei, rn="a")
        b, _ = self.new_cnt(ae, aei, rn="b")
        return aei, ae, a, b

    def crs(self, parent, origin, targets, tws="PT5S", twt=1, expect=2001, **attrs):
        attrs.setdefault("rn", uniq("crs"))
        attrs.setdefault("encs", {"encn": [{"net": [3]}]})
        attrs.setdefault("nu", [self.rx.url(self.rx.new_path("x"))])
        attrs.update(rrat=[t[1:] for t in targets], twt=twt, tws=tws)
        r = self.c.create(parent, TY_CRS, attrs, origin=origin, root="m2m:crs")
        self.assertRsc(r, expect)
        return r

    def test_ts0004_7_4_58_2_1_create_makes_a_subscription_per_target(self):
        aei, ae, a, b = self.setup_two()
        r = self.crs(ae, aei, [a, b])
        crs = r.body["m2m:crs"]
        self.assertEqual(len(crs["rrats"]), 2)
        self.assertNotIn("wdnw", crs)  # the window state is the CSE's own
        path = "%s/%s" % (ae, crs["rn"])
        for target, sub_ri in zip((a, b), crs["rrats"]):
            subs = self.c.retrieve(target, origin=aei, query={"fu": "1", "ty": "23"}).body["m2m:uril"]
            self.assertEqual(len(subs), 1, subs)
            sub = self.c.retrieve("/" + subs[0], origin=aei).body["m2m:sub"]
            self.assertEqual(sub["ri"], sub_ri)
            self.assertEqual(sub["acrs"], [crs["ri"]])
        # TS-0004 7.4.58.2.4: they go with it
        self.assertRsc(self.c.delete(path, origin=aei), 2002)
        for target in (a, b):
            self.assertEqual(self.c.retrieve(target, origin=aei, query={"fu": "1", "ty": "23"}).body.get("m2m:uril",
                                                                                                          []), [])

    def test_ts0004_7_4_58_2_1_bad_requests(self):
        aei, ae, a, b = self.setup_two()
        self.crs(ae, aei, [], expect=4000)  # no rrat (srat is 5001)
        self.crs(ae, aei, [a, b], encs={"encn": [{"net": [3]}] * 3}, expect=4000)
        self.crs(ae, aei, [a, b], encs={"encn": [{"net": [8]}]}, expect=4000)
        self.crs(ae, aei, [a, b], twt=3, expect=4000)
        self.crs(ae, aei, [a, b], tws="P2D", expect=4000)  # beyond LIMIT_CRS_WINDOW_MAX_MS
        self.crs(ae, aei, [a, b], srat=[a[1:]], expect=5001)
        self.crs(ae, aei, [a, ae + "/nothing"], expect=4004)
        nu = [self.rx.url("/t%d" % i) for i in range(5)]
        self.crs(ae, aei, [a, b], nu=nu, expect=4000)  # notify.max_targets
        self.crs(ae, aei, [a, b], nu=["http://192.0.2.1/x"], expect=4000)  # outbound policy
        self.assertRsc(self.c.retrieve(a, origin=aei, query={"fu": "1", "ty": "23"}), 2000)

    def test_ts0004_7_5_1_2_18_notified_when_all_targets_change_within_the_window(self):
        aei, ae, a, b = self.setup_two()
        target = self.rx.new_path("both")
        r = self.crs(ae, aei, [a, b], tws="PT30S", nu=[self.rx.url(target)], exc=2)
        crs = r.body["m2m:crs"]
        self.new_cin(a, aei, "1")
        self.new_cin(a, aei, "2")  # one target twice: still not all
        self.assertEqual(crs_notes(self.rx, target), [])
        self.new_cin(b, aei, "3")
        got = self.rx.wait(target, 1)
        sgn = got[0].body["m2m:sgn"]
        self.assertTrue(sgn["sur"].endswith("%s/%s" % (ae[1:], crs["rn"])), sgn)
        self.assertEqual(self.c.retrieve("%s/%s" % (ae, crs["rn"]), origin=aei).body["m2m:crs"]["exc"], 1)
        # a new round is needed: one more event of each
        self.new_cin(b, aei, "4")
        self.new_cin(a, aei, "5")
        self.rx.wait(target, 2)
        # exc reached: the crossResourceSubscription and its subscriptions are gone
        self.assertRsc(self.c.retrieve("%s/%s" % (ae, crs["rn"]), origin=aei), 4004)

    def test_ts0004_7_5_1_2_18_sliding_window_discards_old_events(self):
        aei, ae, a, b = self.setup_two()
        target = self.rx.new_path("slide")
        self.crs(ae, aei, [a, b], tws="PT1S", twt=2, nu=[self.rx.url(target)])
        self.new_cin(a, aei, "1")
        time.sleep(1.3)  # the window (1 s) ends: its event is discarded
        self.new_cin(b, aei, "2")
        self.new_cin(a, aei, "3")
        self.rx.wait(target, 1)
        self.assertEqual(len(crs_notes(self.rx, target)), 1)

    def test_ts0004_7_5_1_2_18_subscriber_access_decided_per_event(self):
        """The creator of the crossResourceSubscription loses read access to one target: its events
        no longer count, so no cross-resource notification leaks that the target changed."""
        owner, _, ae, _ = self.new_ae()
        watcher, _, wae, _ = self.new_ae()
        r = self.c.create(CB, TY_ACP, {"rn": uniq("acp"), "pv": {"acr": [{"acor": [owner], "acop": 63},
                                                                          {"acor": [watcher], "acop": 2}]},
                                       "pvs": {"acr": [{"acor": ["CAdmin", owner], "acop": 63}]}},
                          root="m2m:acp")
        self.assertRsc(r, 2001)
        acp = r.body["m2m:acp"]
        a, _ = self.new_cnt(ae, owner, rn="a", acpi=[acp["ri"]])
        b, _ = self.new_cnt(ae, owner, rn="b", acpi=[acp["ri"]])
        target = self.rx.new_path("acc")
        self.crs(wae, watcher, [a, b], tws="PT30S", nu=[self.rx.url(target)])
        self.assertRsc(self.c.update(CB + "/" + acp["rn"], "m2m:acp",
                                     {"pv": {"acr": [{"acor": [owner], "acop": 63}]}}), 2004)
        self.new_cin(a, owner, "1")
        self.new_cin(b, owner, "2")
        # a control subscription of the owner's, created after, is notified: the events happened
        ctl = self.rx.new_path("ctl")
        self.assertRsc(self.c.create(b, 23, {"rn": "ctl", "nu": [self.rx.url(ctl)], "enc": {"net": [3]}},
                                     origin=owner, root="m2m:sub"), 2001)
        self.new_cin(b, owner, "3")
        self.rx.wait(ctl, 1)
        self.assertEqual(crs_notes(self.rx, target), [])

    def test_ts0001_9_6_58_notification_schedule(self):
        aei, ae, a, b = self.setup_two()
        target = self.rx.new_path("sch")
        crs = self.crs(ae, aei, [a, b], tws="PT30S", nu=[self.rx.url(target)]).body["m2m:crs"]
        path = "%s/%s" % (ae, crs["rn"])
        r = self.c.create(path, TY_SCH, {"rn": "ns", "se": {"sce": ["* * * * * * 2000"]}}, origin=aei,
                          root="m2m:sch")
        self.assertRsc(r, 2001)
        self.new_cin(a, aei, "1")
        self.new_cin(b, aei, "2")  # a cross-resource notification, discarded: outside the schedule
        self.assertRsc(self.c.update(path + "/ns", "m2m:sch", {"se": {"sce": ["* * * * * * *"]}}, origin=aei), 2004)
        self.new_cin(a, aei, "3")
        self.new_cin(b, aei, "4")
        self.rx.wait(target, 1)
        self.assertEqual(len(crs_notes(self.rx, target)), 1)

    def test_ts0004_7_4_58_2_3_update_restarts_the_window(self):
        aei, ae, a, b = self.setup_two()
        target = self.rx.new_path("upd")
        crs = self.crs(ae, aei, [a, b], tws="PT30S", nu=[self.rx.url(target)]).body["m2m:crs"]
        path = "%s/%s" % (ae, crs["rn"])
        self.new_cin(a, aei, "1")
        self.assertRsc(self.c.update(path, "m2m:crs", {"tws": "PT20S"}, origin=aei), 2004)
        self.new_cin(b, aei, "2")  # a's event went with the old window
        self.new_cin(a, aei, "3")
        self.rx.wait(target, 1)
        self.assertEqual(len(crs_notes(self.rx, target)), 1)
        self.assertRsc(self.c.update(path, "m2m:crs", {"wdnw": {}}, origin=aei), 4000)


class CrossSubMqttTest(MqttServerCase):
    """The same over MQTT (TS-0010)."""

    server_args = ("--notify.allow=127.0.0.1/32",)

    @classmethod
    def setUpClass(cls):
        cls.rx = Receiver().start()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        super().tearDownClass()

    def test_ts0004_7_5_1_2_18_cross_resource_notification_over_mqtt(self):
        level = "Ccr" + uniq("")
        m = MqttClient(self.broker.port, level).start()
        try:
            def req(op, to, **kw):
                p = {"op": op, "to": to, "fr": level, "rqi": uniq("q"), "rvi": "3"}
                p.update(kw)
                return m.request(p)
            self.assertEqual(req(1, CSE_RN, ty=2, pc={"m2m:ae": {"rn": level, "api": "Ncr", "rr": False}})["rsc"],
                             2001)
            ae = "%s/%s" % (CSE_RN, level)
            for rn in ("a", "b"):
                self.assertEqual(req(1, ae, ty=3, pc={"m2m:cnt": {"rn": rn}})["rsc"], 2001)
            target = self.rx.new_path("m")
            r = req(1, ae, ty=TY_CRS, pc={"m2m:crs": {"rn": "both", "rrat": [ae + "/a", ae + "/b"], "twt": 1,
                                                     "tws": "PT30S", "encs": {"encn": [{"net": [3]}]},
                                                     "nu": [self.rx.url(target)]}})
            self.assertEqual(r["rsc"], 2001, r)
            self.assertEqual(len(r["pc"]["m2m:crs"]["rrats"]), 2)
            self.assertEqual(req(1, ae + "/a", ty=TY_CIN, pc={"m2m:cin": {"con": "1"}})["rsc"], 2001)
            self.assertEqual(req(1, ae + "/b", ty=TY_CIN, pc={"m2m:cin": {"con": "2"}})["rsc"], 2001)
            got = self.rx.wait(target, 1)
            self.assertTrue(got[0].body["m2m:sgn"]["sur"].endswith(ae + "/both"), got[0].body)
        finally:
            m.stop()


if __name__ == "__main__":
    main()
