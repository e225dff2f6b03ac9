#!/usr/bin/python3
"""<schedule> (ty 18), black-box, over HTTP and MQTT.

TS-0001 9.6.9 and TS-0004 7.4.9: scheduleElement (se.sce, the seven-field crontab of Table
7.4.9.1-4, parsed as accessControlWindow is), networkCoordinated only under a <node> (7.4.9.2.1:
4102), under the CSEBase, a <node> and a <subscription>; as a subscription's notificationSchedule
(TS-0004 7.5.1.2.2 Step 3.0/4.0): a notification outside its windows is discarded (no
pendingNotification), audited, and does not count down expirationCounter (Step 5.0).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_schedule.py
"""

import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import CSE_RN, TY_CIN, WardenServer, WardenTestCase, main, uniq  # noqa: E402
from test_subscription import Receiver  # noqa: E402
from mqtt_helpers import MqttClient, MqttServerCase  # noqa: E402

TY_NODE = 14
TY_SCH = 18
TY_SUB = 23
CB = "/" + CSE_RN
NEVER = "* * * * * * 2000"   # a window that has passed for good
ALWAYS = "* * * * * * *"
AUDIT = os.path.join(tempfile.mkdtemp(prefix="warden-sch-"), "audit.log")


def audit_lines(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(AUDIT, encoding="utf-8") as f:
                got = [json.loads(x) for x in f if x.strip()]
        except FileNotFoundError:
            got = []
        hits = [x for x in got if pred(x)]
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.05)


class ScheduleHttpTest(WardenTestCase):
    server_args = ("--notify.allow=127.0.0.1/32", "--audit.path=" + AUDIT)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rx = Receiver().start()

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        super().tearDownClass()

    def sch(self, parent, entries, origin="CAdmin", **attrs):
        attrs.setdefault("rn", uniq("sch"))
        attrs["se"] = {"sce": entries}
        return self.c.create(parent, TY_SCH, attrs, origin=origin, root="m2m:sch")

    def test_ts0004_7_4_9_create_under_cse_base_and_node(self):
        r = self.sch(CB, ["* 0-5 2,6,10 * * * *", "* * 8-20 * * 1-5 *"])
        self.assertRsc(r, 2001)
        self.assertEqual(r.body["m2m:sch"]["se"]["sce"][0], "* 0-5 2,6,10 * * * *")
        path = "%s/%s" % (CB, r.body["m2m:sch"]["rn"])
        self.assertRsc(self.c.update(path, "m2m:sch", {"se": {"sce": ["* * 0-23/2 * * * *"]}}), 2004)
        self.assertEqual(self.c.retrieve(path).body["m2m:sch"]["se"]["sce"], ["* * 0-23/2 * * * *"])
        # discovery by type
        r = self.c.retrieve(CB, query={"fu": "1", "ty": "18", "lim": "1000"})
        self.assertIn(path[1:], r.body["m2m:uril"])
        # a <node>'s communication schedule, with networkCoordinated
        nod = uniq("nod")
        self.assertRsc(self.c.create(CB, TY_NODE, {"rn": nod, "ni": "urn:dev:" + nod}, root="m2m:nod"), 2001)
        r = self.sch("%s/%s" % (CB, nod), ["* * * * * * *"], nco=True)
        self.assertRsc(r, 2001)
        self.assertIs(r.body["m2m:sch"]["nco"], True)

    def test_ts0004_7_4_9_1_bad_entries_are_4000(self):
        for bad in ([], ["* * * * * *"], ["60 * * * * * *"], ["* * 24 * * * *"], ["x"], [5]):
            self.assertRsc(self.sch(CB, bad), 4000, repr(bad))
        self.assertRsc(self.c.create(CB, TY_SCH, {"se": ["* * * * * * *"]}, root="m2m:sch"), 4000)
        self.assertRsc(self.c.create(CB, TY_SCH, {"rn": uniq("s")}, root="m2m:sch"), 4000)  # se mandatory
        self.assertRsc(self.sch(CB, [ALWAYS] * 65), 4000)  # LIMIT_SCHEDULE_ENTRIES

    def test_ts0004_7_4_9_2_1_nco_outside_a_node_is_4102(self):
        self.assertRsc(self.sch(CB, [ALWAYS], nco=False), 4102)

    def test_ts0004_7_5_1_2_2_notification_outside_the_schedule_is_discarded_and_audited(self):
        aei, _, ae, _ = self.new_ae()
        cnt, _ = self.new_cnt(ae, aei)
        target = self.rx.new_path("sch")
        r = self.c.create(cnt, TY_SUB, {"rn": "s", "nu": [self.rx.url(target)], "enc": {"net": [3]}, "exc": 5},
                          origin=aei, root="m2m:sub")
        self.assertRsc(r, 2001)
        sub = cnt + "/s"
        r = self.sch(sub, [NEVER], origin=aei, rn="ns")
        self.assertRsc(r, 2001)
        # TS-0001 Table 9.6.8-2: at most one notificationSchedule
        self.assertRsc(self.sch(sub, [ALWAYS], origin=aei), 4105)
        self.new_cin(cnt, aei, "outside")
        hits = audit_lines(lambda x: x.get("reason") == "notification-schedule" and x.get("target") == sub[1:])
        self.assertTrue(hits, "the discarded notification is audited")
        self.assertTrue(hits[0]["originator"].endswith("/" + aei), hits[0])
        # Step 5.0: only sent notifications count down expirationCounter
        self.assertEqual(self.c.retrieve(sub, origin=aei).body["m2m:sub"]["exc"], 5)
        # inside the window: sent
        self.assertRsc(self.c.update(sub + "/ns", "m2m:sch", {"se": {"sce": [ALWAYS]}}, origin=aei), 2004)
        self.new_cin(cnt, aei, "inside")
        got = self.rx.wait(target, 1)
        cons = [g.body["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"] for g in self.rx.received(target)
                if g.body and "nev" in g.body.get("m2m:sgn", {})]
        self.assertEqual(cons, ["inside"], got)
        self.assertEqual(self.c.retrieve(sub, origin=aei).body["m2m:sub"]["exc"], 4)
        # without the schedule, no restriction (TS-0004 7.4.9.1)
        self.assertRsc(self.c.delete(sub + "/ns", origin=aei), 2002)
        self.new_cin(cnt, aei, "again")
        self.rx.wait(target, 2)

    def test_ts0001_9_6_9_schedule_follows_the_access_decision(self):
        aei, _, ae, _ = self.new_ae()
        other, _, _, _ = self.new_ae()
        cnt, _ = self.new_cnt(ae, aei)
        self.assertRsc(self.c.create(cnt, TY_SUB, {"rn": "s", "nu": [aei]}, origin=aei, root="m2m:sub"), 2001)
        self.assertRsc(self.sch(cnt + "/s", [ALWAYS], origin=other), 4103)
        self.assertRsc(self.sch(cnt + "/s", [ALWAYS], origin=aei, rn="ns"), 2001)
        self.assertRsc(self.c.retrieve(cnt + "/s/ns", origin=other), 4103)


class ScheduleMqttTest(MqttServerCase):
    """A subscriber on MQTT (TS-0010) scheduling its notifications."""

    server_args = ("--notify.allow=127.0.0.1/32",)

    @classmethod
    def setUpClass(cls):
        cls.rx = Receiver().start()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        super().tearDownClass()

    def test_ts0004_7_5_1_2_2_notification_schedule_over_mqtt(self):
        level = "Csc" + uniq("")
        m = MqttClient(self.broker.port, level).start()
        try:
            def req(op, to, **kw):
                p = {"op": op, "to": to, "fr": level, "rqi": uniq("q"), "rvi": "3"}
                p.update(kw)
                return m.request(p)
            self.assertEqual(req(1, CSE_RN, ty=2, pc={"m2m:ae": {"rn": level, "api": "Nsc", "rr": False}})["rsc"],
                             2001)
            ae = "%s/%s" % (CSE_RN, level)
            self.assertEqual(req(1, ae, ty=3, pc={"m2m:cnt": {"rn": "c"}})["rsc"], 2001)
            target = self.rx.new_path("m")
            r = req(1, ae + "/c", ty=TY_SUB, pc={"m2m:sub": {"rn": "s", "nu": [self.rx.url(target)],
                                                            "enc": {"net": [3]}}})
            self.assertEqual(r["rsc"], 2001, r)
            r = req(1, ae + "/c/s", ty=TY_SCH, pc={"m2m:sch": {"rn": "ns", "se": {"sce": [NEVER]}}})
            self.assertEqual(r["rsc"], 2001, r)
            self.assertEqual(r["pc"]["m2m:sch"]["se"]["sce"], [NEVER])
            self.assertEqual(req(1, ae + "/c", ty=TY_CIN, pc={"m2m:cin": {"con": "outside"}})["rsc"], 2001)
            r = req(3, ae + "/c/s/ns", pc={"m2m:sch": {"se": {"sce": [ALWAYS]}}})
            self.assertEqual(r["rsc"], 2004, r)
            self.assertEqual(req(1, ae + "/c", ty=TY_CIN, pc={"m2m:cin": {"con": "inside"}})["rsc"], 2001)
            self.rx.wait(target, 1)
            cons = [g.body["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"] for g in self.rx.received(target)
                    if g.body and "nev" in g.body.get("m2m:sgn", {})]
            self.assertEqual(cons, ["inside"])
        finally:
            m.stop()


if __name__ == "__main__":
    main()
