#!/usr/bin/python3
"""<timeSeries> (ty 29) and <timeSeriesInstance> (ty 30), black-box, over HTTP and MQTT.

TS-0004 7.4.38 (<timeSeries>: pei/peid, missing-data detection mdd/mdn/mdlt/mdc/mdt), 7.4.39
(<timeSeriesInstance>: dgt unique among siblings, immutable), 7.4.27-28 (la/ol of a timeSeries),
7.5.1.2.9 (missing-data notification: net 8, enc.md, an m2m:tsn), TS-0001 9.6.36-37.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_timeseries.py
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_RN, TY_AE, WardenServer, WardenTestCase, main, uniq)  # noqa: E402
from test_subscription import Receiver  # noqa: E402
from mqtt_helpers import MqttClient, MqttServerCase  # noqa: E402

TY_SUB = 23
TY_TS = 29
TY_TSI = 30
NOTIFY_ALLOW = "--notify.allow=127.0.0.1/32"


def ts_now(offset_s=0.0):
    """A dataGenerationTime offset_s from now, with milliseconds."""
    t = time.time() + offset_s
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + ",%03d" % int((t % 1) * 1000)


class TimeSeriesHttpTest(WardenTestCase):
    server_args = (NOTIFY_ALLOW,)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rx = Receiver()
        cls.rx.start()

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        super().tearDownClass()

    def notifications(self, path, count, timeout):
        """The first count notifications (not verification requests) received on path."""
        deadline = time.monotonic() + timeout
        while True:
            got = [r for r in self.rx.received(path)
                   if isinstance(r.body, dict) and "nev" in r.body.get("m2m:sgn", {})]
            if len(got) >= count or time.monotonic() > deadline:
                self.assertGreaterEqual(len(got), count, "notifications on %s: %r" % (path, got))
                return got[:count]
            time.sleep(0.05)

    def new_ts(self, **attrs):
        rn = uniq("ts")
        attrs.setdefault("rn", rn)
        r = self.c.create("/" + CSE_RN, TY_TS, attrs, root="m2m:ts")
        self.assertRsc(r, 2001)
        return "/%s/%s" % (CSE_RN, attrs["rn"]), r.body["m2m:ts"]

    def tsi(self, path, dgt, con="v", **kw):
        return self.c.create(path, TY_TSI, dict(dgt=dgt, con=con, **kw), root="m2m:tsi")

    def test_ts0004_7_4_38_create_retrieve_counters_and_la_ol(self):
        path, ts = self.new_ts(mni=2, pei=1000)
        self.assertEqual(ts["ty"], TY_TS)
        self.assertEqual((ts["cni"], ts["cbs"], ts["mdc"], ts["mdlt"]), (0, 0, 0, []))
        self.assertEqual(ts["peid"], 100, "pei without peid: the local default pei/10")
        for i, d in enumerate(("20300101T000000", "20300101T000001", "20300101T000002")):
            r = self.tsi(path, d, con="v%d" % i, snr=i)
            self.assertRsc(r, 2001)
            self.assertEqual(r.body["m2m:tsi"]["cs"], 2)
        r = self.c.retrieve(path)
        self.assertEqual((r.body["m2m:ts"]["cni"], r.body["m2m:ts"]["cbs"]), (2, 4), "mni=2 keeps the newest two")
        self.assertEqual(self.c.retrieve(path + "/la").body["m2m:tsi"]["con"], "v2")
        self.assertEqual(self.c.retrieve(path + "/ol").body["m2m:tsi"]["dgt"], "20300101T000001")
        # discovery by type finds the instances (filter criteria)
        r = self.c.retrieve(path + "?fu=1&ty=30")
        self.assertRsc(r, 2000)
        self.assertEqual(len(r.body["m2m:uril"]), 2)
        # deleting the oldest updates the counters (TS-0004 §7.4.39.2.4)
        self.assertRsc(self.c.delete(path + "/ol"), 2002)
        self.assertEqual(self.c.retrieve(path).body["m2m:ts"]["cni"], 1)

    def test_ts0001_9_6_2_same_access_decision_for_series_and_instances(self):
        aei, rn, ae, _ = self.new_ae(origin="Cowner" + uniq(""))
        other, _, _, _ = self.new_ae(origin="Cother" + uniq(""))
        r = self.c.create(ae, TY_TS, {"rn": "own"}, root="m2m:ts", origin=aei)
        self.assertRsc(r, 2001)
        self.assertRsc(self.c.create(ae + "/own", TY_TSI, {"dgt": "20300101T000000", "con": "1"}, root="m2m:tsi",
                                     origin=aei), 2001)
        # the owner reads both; another AE, without privilege, neither (the instance by its series' policy)
        self.assertRsc(self.c.retrieve(ae + "/own/la", origin=aei), 2000)
        self.assertRsc(self.c.retrieve(ae + "/own", origin=other), 4103)
        self.assertRsc(self.c.retrieve(ae + "/own/la", origin=other), 4103)
        self.assertRsc(self.c.create(ae + "/own", TY_TSI, {"dgt": "20300101T000001", "con": "2"}, root="m2m:tsi",
                                     origin=other), 4103)
        # and discovery does not reveal them
        r = self.c.retrieve(ae + "?fu=1&ty=30", origin=other)
        self.assertEqual(r.body.get("m2m:uril", []) if isinstance(r.body, dict) else [], [])

    def test_ts0004_7_4_39_2_1_duplicate_dgt_is_conflict(self):
        path, _ = self.new_ts()
        self.assertRsc(self.tsi(path, "20300101T101010"), 2001)
        self.assertRsc(self.tsi(path, "20300101T101010"), 4105)
        # the same time written with a zero fraction is the same time
        self.assertRsc(self.tsi(path, "20300101T101010,000"), 4105)
        self.assertRsc(self.tsi(path, "20300101T101011"), 2001)
        # a <timeSeriesInstance> is immutable (TS-0004 §7.4.39.2.3)
        self.assertRsc(self.c.update(path + "/la", "m2m:tsi", {"con": "x"}), 4005)
        # dgt is mandatory and typed
        self.assertRsc(self.c.create(path, TY_TSI, {"con": "x"}, root="m2m:tsi"), 4000)
        self.assertRsc(self.tsi(path, "yesterday"), 4000)

    def test_ts0004_7_4_38_2_1_period_rules(self):
        r = self.c.create("/" + CSE_RN, TY_TS, {"pei": 1000, "peid": 600}, root="m2m:ts")
        self.assertRsc(r, 4000)  # peid > pei/2
        r = self.c.create("/" + CSE_RN, TY_TS, {"pei": 1000, "mdd": True}, root="m2m:ts")
        self.assertRsc(r, 4000)  # mdd without mdt
        r = self.c.create("/" + CSE_RN, TY_TS, {"pei": 1000, "peid": 300, "mdd": True, "mdt": 200},
                          root="m2m:ts")
        self.assertRsc(r, 4000)  # mdt <= peid
        path, _ = self.new_ts(pei=1000, mdd=True, mdt=500)
        # TS-0004 §7.4.38.2.3: no detection parameter changes while mdd is true, nor with mdd
        self.assertRsc(self.c.update(path, "m2m:ts", {"mdt": 800}), 4000)
        self.assertRsc(self.c.update(path, "m2m:ts", {"mdd": False, "pei": 2000}), 4000)
        self.assertRsc(self.c.update(path, "m2m:ts", {"mdd": False}), 2004)
        self.assertRsc(self.c.update(path, "m2m:ts", {"mdt": 800}), 2004)
        # net 8 needs md, and md a timeSeries
        rxp = self.rx.new_path("bad")
        self.assertRsc(self.c.create(path, TY_SUB, {"nu": [self.rx.url(rxp)], "enc": {"net": [8]}},
                                     root="m2m:sub"), 4000)
        cnt, _ = self.new_cnt("/" + CSE_RN, ADMIN)
        self.assertRsc(self.c.create(cnt, TY_SUB, {"nu": [self.rx.url(rxp)],
                                                   "enc": {"net": [8], "md": {"num": 1, "dur": "PT10S"}}},
                                     root="m2m:sub"), 4000)

    def test_ts0004_7_5_1_2_9_missing_data_notification_and_mdlt_mdc(self):
        # a point every second; one is missing when 500 ms pass after its expected time
        path, _ = self.new_ts(pei=1000, peid=100, mdd=True, mdt=500, mdn=5)
        rxp = self.rx.new_path("md")
        r = self.c.create(path, TY_SUB, {"nu": [self.rx.url(rxp)],
                                         "enc": {"net": [8], "md": {"num": 1, "dur": "PT60S"}}},
                          root="m2m:sub")
        self.assertRsc(r, 2001)
        first = ts_now()
        self.assertRsc(self.tsi(path, first), 2001)
        # nothing more comes: the point due 1 s later is missing 1.5 s after the first
        got = self.notifications(rxp, 1, 6.0)
        sgn = got[0].body["m2m:sgn"]
        self.assertEqual(sgn["nev"]["net"], 8)
        tsn = sgn["nev"]["rep"]["m2m:tsn"]
        self.assertEqual(len(tsn["mdlt"]), 1)
        self.assertGreaterEqual(tsn["mdc"], 1)
        # the timeSeries records it: mdlt and mdc
        deadline = time.monotonic() + 5
        while True:
            ts = self.c.retrieve(path).body["m2m:ts"]
            if ts["mdc"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(ts["mdc"], 1)
        self.assertEqual(ts["mdlt"][0], tsn["mdlt"][0])
        self.assertEqual(len(ts["mdlt"]), ts["mdc"])
        # and keeps detecting the following points, each notified (num 1)
        more = self.notifications(rxp, 2, 6.0)
        self.assertEqual(more[1].body["m2m:sgn"]["nev"]["net"], 8)
        # stopping detection stops the notifications
        self.assertRsc(self.c.update(path, "m2m:ts", {"mdd": False}), 2004)

    def test_ts0004_7_5_1_2_9_window_notifies_from_the_num_th_missing_point(self):
        path, _ = self.new_ts(pei=1000, peid=100, mdd=True, mdt=200)
        rxp = self.rx.new_path("md2")
        self.assertRsc(self.c.create(path, TY_SUB, {"nu": [self.rx.url(rxp)],
                                                    "enc": {"net": [8], "md": {"num": 2, "dur": "PT60S"}}},
                                     root="m2m:sub"), 2001)
        self.assertRsc(self.tsi(path, ts_now()), 2001)
        # the first missing point (1.2 s) is counted, not notified; the second (2.2 s) is, with both
        got = self.notifications(rxp, 1, 6.0)
        tsn = got[0].body["m2m:sgn"]["nev"]["rep"]["m2m:tsn"]
        self.assertEqual((len(tsn["mdlt"]), tsn["mdc"]), (2, 2), tsn)
        self.assertRsc(self.c.update(path, "m2m:ts", {"mdd": False}), 2004)
        # a relative dgt is stored as the absolute time; a far one is refused
        self.assertRsc(self.tsi(path, -5000), 2001)
        self.assertRsc(self.tsi(path, 10 ** 15), 4000)

    def test_ts0004_7_4_38_no_missing_data_while_points_arrive(self):
        path, _ = self.new_ts(pei=1000, peid=300, mdd=True, mdt=600)
        rxp = self.rx.new_path("ok")
        self.assertRsc(self.c.create(path, TY_SUB, {"nu": [self.rx.url(rxp)],
                                                    "enc": {"net": [8], "md": {"num": 1, "dur": "PT60S"}}},
                                     root="m2m:sub"), 2001)
        start = time.time()
        for i in range(3):  # on time, each one second after the first
            self.assertRsc(self.tsi(path, ts_now(i - (time.time() - start))), 2001)
            time.sleep(max(0.0, start + i + 1 - time.time()))
        self.assertRsc(self.c.update(path, "m2m:ts", {"mdd": False}), 2004)
        time.sleep(0.8)
        self.assertEqual([r for r in self.rx.received(rxp) if "nev" in (r.body or {}).get("m2m:sgn", {})], [])
        self.assertEqual(self.c.retrieve(path).body["m2m:ts"]["mdc"], 0)


class TimeSeriesRestartTest(unittest.TestCase):
    """Detection state outlives a restart: timers are memory only, the store is not."""

    def test_ts0004_7_4_38_2_1_detection_resumes_after_restart_and_catches_up(self):
        srv = WardenServer().start()
        try:
            c = srv.client()
            r = c.create("/" + CSE_RN, TY_TS, {"rn": "rs", "pei": 1000, "peid": 100, "mdd": True, "mdt": 300,
                                               "mdn": 10}, root="m2m:ts")
            self.assertEqual(r.rsc, 2001, r.body)
            first = time.time()
            r = c.create("/%s/rs" % CSE_RN, TY_TSI, {"dgt": ts_now(), "con": "x"}, root="m2m:tsi")
            self.assertEqual(r.rsc, 2001, r.body)
            self.assertEqual(srv.stop(), 0)
            time.sleep(max(0.0, first + 2.6 - time.time()))  # two points fall due while it is down
            old = srv
            srv = WardenServer(tmpdir=old.tmpdir)
            srv.own_tmp = True
            srv.start()
            c = srv.client()
            deadline = time.monotonic() + 5
            while True:
                ts = c.retrieve("/%s/rs" % CSE_RN).body["m2m:ts"]
                if ts["mdc"] >= 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertGreaterEqual(ts["mdc"], 2, ts)
            self.assertEqual(len(ts["mdlt"]), ts["mdc"])
        finally:
            rc = srv.stop()
            srv.cleanup()
            self.assertEqual(rc, 0, "warden exit status")

    def test_ts0004_7_4_38_detection_bounds(self):
        srv = WardenServer().start()
        try:
            c = srv.client()
            r = c.create("/" + CSE_RN, TY_TS, {"pei": 50, "mdd": True, "mdt": 40, "peid": 10}, root="m2m:ts")
            self.assertEqual(r.rsc, 4000, "a periodicInterval below 100 ms with detection")
            r = c.create("/" + CSE_RN, TY_TS, {"pei": 1000, "mdn": 100000}, root="m2m:ts")
            self.assertEqual(r.rsc, 4000, "missingDataMaxNr beyond the list bound")
        finally:
            rc = srv.stop()
            srv.cleanup()
            self.assertEqual(rc, 0, "warden exit status")


class TimeSeriesMqttTest(MqttServerCase):
    """The same resources over the MQTT binding (TS-0010)."""

    def test_ts0004_7_4_38_39_over_mqtt(self):
        level = "Cts" + uniq("")
        c = MqttClient(self.broker.port, level).start()
        try:
            def req(op, to, **kw):
                p = {"op": op, "to": to, "fr": level, "rqi": uniq("q"), "rvi": "3"}
                p.update(kw)
                return c.request(p)
            r = req(1, CSE_RN, ty=TY_AE, pc={"m2m:ae": {"rn": level, "api": "Nts", "rr": False}})
            self.assertEqual(r["rsc"], 2001, r)
            ae = "%s/%s" % (CSE_RN, level)
            r = req(1, ae, ty=TY_TS, pc={"m2m:ts": {"rn": "ts", "mni": 10}})
            self.assertEqual(r["rsc"], 2001, r)
            r = req(1, ae + "/ts", ty=TY_TSI, pc={"m2m:tsi": {"dgt": "20300101T000000", "con": "21.5"}})
            self.assertEqual(r["rsc"], 2001, r)
            r = req(1, ae + "/ts", ty=TY_TSI, pc={"m2m:tsi": {"dgt": "20300101T000000", "con": "21.6"}})
            self.assertEqual(r["rsc"], 4105, r)
            r = req(2, ae + "/ts/la")
            self.assertEqual(r["pc"]["m2m:tsi"]["con"], "21.5", r)
            r = req(2, ae + "/ts")
            self.assertEqual(r["pc"]["m2m:ts"]["cni"], 1, r)
        finally:
            c.stop()


if __name__ == "__main__":
    main()
