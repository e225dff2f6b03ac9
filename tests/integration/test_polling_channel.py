"""Black-box tests of <pollingChannel> (ty 15) and its pcu long poll (TS-0001 §9.6.21, §10.2.5.12;
TS-0004 §7.4.21, §7.4.22): an AE with requestReachability false that accepts no connections gets
its notifications (and any request for it) by long-polling <pollingChannel>/pcu, and answers each
with a NOTIFY of the response primitive to the same pcu. Over HTTP and MQTT.

    WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_polling_channel.py
"""

import threading
import time
import unittest

from test_subscription import Receiver
from mqtt_helpers import MqttClient, PrivateBroker, broker_available, paho
from wardentest import (ADMIN, CSE_RN, TY_AE, TY_CIN, TY_CNT, WardenServer, WardenTestCase, main, uniq)

TY_PCH = 15
TY_SUB = 23
POLL_MS = 1500  # limits.polling_timeout of these servers


class Poll(threading.Thread):
    """One long poll of pcu on its own thread; .resp once it is answered."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.resp = None
        self.error = None

    def run(self):
        try:
            self.resp = self.fn()
        except Exception as e:  # pragma: no cover - reported by result()
            self.error = e

    def result(self, timeout=10.0):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError("the poll was not answered within %.1fs" % timeout)
        if self.error:
            raise self.error
        return self.resp


class PollingChannelHttpTest(WardenTestCase):
    @classmethod
    def setUpClass(cls):
        cls.rx = Receiver().start()
        cls.server = WardenServer(extra_args=["--notify.allow=127.0.0.1/32",
                                              "--limits.polling_timeout=%d" % POLL_MS])
        cls.server.start()
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        rc = cls.server.stop()
        cls.server.cleanup()
        if rc != 0:
            raise AssertionError("warden exit status %r" % rc)

    def device(self, poa=None):
        """An AE behind NAT: rr false, with a pollingChannel; returns (aei, ae path, pcu path)."""
        extra = {"poa": [poa]} if poa else None
        r = self.c.register_ae(origin="C", rn=uniq("dev"), rr=False, extra=extra)
        self.assertRsc(r, 2001)
        aei = r.body["m2m:ae"]["aei"]
        path = "/%s/%s" % (CSE_RN, r.body["m2m:ae"]["rn"])
        r = self.c.create(path, TY_PCH, {"rn": "pch"}, origin=aei, root="m2m:pch")
        self.assertRsc(r, 2001)
        self.assertEqual(r.body["m2m:pch"]["ty"], TY_PCH)
        return aei, path, path + "/pch/pcu"

    def poll(self, pcu, origin):
        return self.c.retrieve(pcu, origin=origin)

    def answer(self, pcu, origin, rqi, rsc=2000):
        return self.c.request("POST", pcu, origin=origin, body={"m2m:rsp": {"rsc": rsc, "rqi": rqi}})

    def subscribed_cnt(self, aei, path):
        self.assertRsc(self.c.create(path, TY_CNT, {"rn": "cnt"}, origin=aei), 2001)
        r = self.c.create(path + "/cnt", TY_SUB, {"rn": "sub", "nu": [aei], "enc": {"net": [3]}}, origin=aei,
                          root="m2m:sub")
        self.assertRsc(r, 2001)
        return path + "/cnt"

    def test_ts0001_9_6_21_rr_false_notification_through_polling_channel(self):
        target = self.rx.new_path("nat")
        # its poa is unreachable from the CSE (behind NAT): nothing may be sent there
        aei, path, pcu = self.device(poa=self.rx.url(target))
        cnt = self.subscribed_cnt(aei, path)
        p = Poll(lambda: self.poll(pcu, aei))
        p.start()
        self.assertRsc(self.c.create(cnt, TY_CIN, {"con": "hello"}, origin=aei), 2001)
        r = p.result()
        self.assertRsc(r, 2000)
        rqp = r.body["m2m:rqp"]
        self.assertEqual((rqp["op"], rqp["to"], rqp["fr"]), (5, aei, "/id-in"))
        sgn = rqp["pc"]["m2m:sgn"]
        self.assertEqual(sgn["nev"]["rep"]["m2m:cin"]["con"], "hello")
        self.assertRsc(self.answer(pcu, aei, rqp["rqi"]), 2000)
        self.assertRsc(self.answer(pcu, aei, rqp["rqi"]), 4004)  # answered once
        self.assertEqual(self.rx.received(target), [])

    def test_ts0004_7_3_3_9_1_notify_request_to_rr_false_ae_goes_through_its_polling_channel(self):
        """A NOTIFY request re-targeted to an AE (ops_notify.c, through the outbound seam since the
        multi-CSE merge) follows the same rule as notifications: an AE whose rr is false is never
        contacted through its poa; the NOTIFY reaches it through its channel and its answer is the
        answer of the NOTIFY."""
        target = self.rx.new_path("nat-notify")
        aei, path, pcu = self.device(poa=self.rx.url(target))
        sgn = {"m2m:sgn": {"nev": {"rep": {"m2m:cin": {"con": "n"}}, "net": 3}, "sur": "x/sub"}}
        sent = Poll(lambda: self.c.request("POST", path, origin=ADMIN, body=sgn, content_type="application/json"))
        sent.start()
        r = self.poll(pcu, aei)
        self.assertRsc(r, 2000)
        rqp = r.body["m2m:rqp"]
        self.assertEqual((rqp["op"], rqp["fr"], rqp["pc"]), (5, ADMIN, sgn))
        self.assertRsc(self.answer(pcu, aei, rqp["rqi"]), 2000)
        self.assertRsc(sent.result(), 2000)
        self.assertEqual(self.rx.received(target), [])

    def test_ts0004_7_4_22_2_2_request_queued_before_the_poll_is_answered_at_once(self):
        aei, path, pcu = self.device()
        cnt = self.subscribed_cnt(aei, path)
        for con in ("a", "b"):
            self.assertRsc(self.c.create(cnt, TY_CIN, {"con": con}, origin=aei), 2001)
        got = []
        for _ in range(2):
            t0 = time.monotonic()
            r = self.poll(pcu, aei)
            self.assertRsc(r, 2000)
            self.assertLess(time.monotonic() - t0, POLL_MS / 1000.0)
            got.append(r.body["m2m:rqp"]["pc"]["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"])
        self.assertEqual(got, ["a", "b"])  # in order

    def test_ts0004_7_4_22_2_2_poll_without_request_times_out_4008(self):
        aei, _, pcu = self.device()
        t0 = time.monotonic()
        r = self.poll(pcu, aei)
        self.assertRsc(r, 4008)
        self.assertGreaterEqual(time.monotonic() - t0, POLL_MS / 1000.0 - 0.1)

    def test_ts0004_7_4_21_2_1_only_the_ae_itself_creates_and_polls_its_channel(self):
        aei, path, pcu = self.device()
        r = self.c.register_ae(origin="C", rn=uniq("other"))
        other = r.body["m2m:ae"]["aei"]
        self.assertRsc(self.poll(pcu, other), 4103)
        self.assertRsc(self.answer(pcu, other, "x"), 4103)
        self.assertRsc(self.c.retrieve(path + "/pch", origin=other), 4103)
        self.assertRsc(self.c.create(path, TY_PCH, {"rn": "pch2"}, origin=ADMIN, root="m2m:pch"), 4103)
        # TS-0001 Table 9.6.5-1: one per AE
        self.assertRsc(self.c.create(path, TY_PCH, {"rn": "pch2"}, origin=aei, root="m2m:pch"), 4105)
        # TS-0004 §7.4.22.2.3-4: pcu is not updated or deleted
        self.assertRsc(self.c.update(pcu, "m2m:pch", {"lbl": ["x"]}, origin=aei), 4005)
        self.assertRsc(self.c.delete(pcu, origin=aei), 4005)
        self.assertRsc(self.answer(pcu, aei, "never-sent"), 4004)
        self.assertRsc(self.c.request("POST", pcu, origin=aei, body={"m2m:sgn": {}}), 4000)

    def test_ts0001_10_2_5_12_subscription_verification_answered_through_channel(self):
        aei, path, pcu = self.device()
        self.assertRsc(self.c.create(path, TY_CNT, {"rn": "cnt"}, origin=aei), 2001)
        # the admin subscribes the device: the CSE verifies the target (TS-0004 §7.3.8.2.1) and the
        # device answers that request through its channel
        sub = Poll(lambda: self.c.create(path + "/cnt", TY_SUB, {"nu": [aei]}, origin=ADMIN, root="m2m:sub"))
        sub.start()
        r = self.poll(pcu, aei)
        self.assertRsc(r, 2000)
        rqp = r.body["m2m:rqp"]
        self.assertTrue(rqp["pc"]["m2m:sgn"]["vrq"])
        self.assertRsc(self.answer(pcu, aei, rqp["rqi"], rsc=2000), 2000)
        self.assertRsc(sub.result(), 2001)

    def test_ts0001_9_6_5_ae_without_poa_is_reached_through_its_channel(self):
        r = self.c.register_ae(origin="C", rn=uniq("nopoa"), rr=True)
        aei, path = r.body["m2m:ae"]["aei"], "/%s/%s" % (CSE_RN, r.body["m2m:ae"]["rn"])
        self.assertRsc(self.c.create(path, TY_PCH, {"rn": "pch"}, origin=aei, root="m2m:pch"), 2001)
        cnt = self.subscribed_cnt(aei, path)
        self.assertRsc(self.c.create(cnt, TY_CIN, {"con": "x"}, origin=aei), 2001)
        r = self.poll(path + "/pch/pcu", aei)
        self.assertRsc(r, 2000)
        self.assertEqual(r.body["m2m:rqp"]["pc"]["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"], "x")

    def test_ts0001_9_6_5_reachable_ae_with_poa_keeps_its_poa(self):
        target = self.rx.new_path("reach")
        r = self.c.register_ae(origin="C", rn=uniq("reach"), rr=True, extra={"poa": [self.rx.url(target)]})
        aei, path = r.body["m2m:ae"]["aei"], "/%s/%s" % (CSE_RN, r.body["m2m:ae"]["rn"])
        self.assertRsc(self.c.create(path, TY_PCH, {"rn": "pch"}, origin=aei, root="m2m:pch"), 2001)
        cnt = self.subscribed_cnt(aei, path)
        self.assertRsc(self.c.create(cnt, TY_CIN, {"con": "y"}, origin=aei), 2001)
        self.assertEqual(self.rx.wait(target)[0].body["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"], "y")
        self.assertRsc(self.poll(path + "/pch/pcu", aei), 4008)

    def test_ts0004_7_5_1_2_5_nonblocking_asynch_result_to_a_polling_originator(self):
        aei, path, pcu = self.device()
        r = self.c.retrieve(path, origin=aei, query={"rt": 2}, ri="nb-poll-1")
        self.assertRsc(r, 1002)
        r = self.poll(pcu, aei)
        self.assertRsc(r, 2000)
        rsp = r.body["m2m:rqp"]["pc"]["m2m:rsp"]
        self.assertEqual((rsp["rsc"], rsp["rqi"]), (2000, "nb-poll-1"))


class PollingChannelShutdownTest(unittest.TestCase):
    def test_ts0004_7_4_22_2_2_parked_poll_answered_4008_at_shutdown_without_delay(self):
        server = WardenServer(extra_args=["--limits.polling_timeout=60000", "--log.level=debug"])
        server.start()
        try:
            c = server.client()
            c.timeout = 30
            r = c.register_ae(origin="C", rn=uniq("dev"), rr=False)
            aei, path = r.body["m2m:ae"]["aei"], "/%s/%s" % (CSE_RN, r.body["m2m:ae"]["rn"])
            self.assertEqual(c.create(path, TY_PCH, {"rn": "pch"}, origin=aei, root="m2m:pch").rsc, 2001)
            p = Poll(lambda: c.retrieve(path + "/pch/pcu", origin=aei))
            p.start()
            deadline = time.monotonic() + 10  # parked: its connection is open and unanswered
            while "poll parked" not in server.output():
                self.assertLess(time.monotonic(), deadline, "the poll did not park")
                p.join(0.05)
            t0 = time.monotonic()
            self.assertEqual(server.stop(), 0)
            self.assertLess(time.monotonic() - t0, 5.0)  # the bindings' drain did not wait for it
            self.assertEqual(p.result().rsc, 4008)
        finally:
            server.cleanup()


@unittest.skipIf(paho is None or not broker_available(), "mosquitto and python3-paho-mqtt are needed")
class PollingChannelMqttTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = PrivateBroker().start()
        cls.server = WardenServer(extra_args=["--mqtt.address=127.0.0.1", "--mqtt.port=%d" % cls.broker.port,
                                              "--limits.polling_timeout=5000"])
        cls.server.start()
        cls.http = cls.server.client()
        cls.level = "C" + uniq("mq")
        cls.m = MqttClient(cls.broker.port, cls.level).start()
        deadline = time.monotonic() + 10
        while True:  # the CSE subscribes right after it connects
            rqi = uniq("probe")
            cls.m.request({"op": 2, "to": CSE_RN, "fr": ADMIN, "rqi": rqi, "rvi": "3"}, wait=False)
            try:
                cls.m.wait_rqi(rqi, 0.5)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        rc = cls.server.stop()
        cls.server.cleanup()
        cls.broker.cleanup()
        if rc != 0:
            raise AssertionError("warden exit status %r" % rc)

    def prim(self, op, to, **kw):
        p = {"op": op, "to": to, "fr": self.level, "rqi": uniq("q"), "rvi": "3"}
        p.update(kw)
        return p

    def test_ts0001_9_6_21_rr_false_notification_through_polling_channel_over_mqtt(self):
        ae = CSE_RN + "/" + self.level
        rsp = self.m.request(self.prim(1, CSE_RN, ty=TY_AE, pc={"m2m:ae": {"rn": self.level, "api": "Nmq",
                                                                          "rr": False}}))
        self.assertEqual(rsp["rsc"], 2001, rsp)
        aei = rsp["pc"]["m2m:ae"]["aei"]
        self.assertEqual(self.m.request(self.prim(1, ae, ty=TY_PCH, pc={"m2m:pch": {"rn": "pch"}}))["rsc"], 2001)
        self.assertEqual(self.m.request(self.prim(1, ae, ty=TY_CNT, pc={"m2m:cnt": {"rn": "cnt"}}))["rsc"], 2001)
        self.assertEqual(self.m.request(self.prim(1, ae + "/cnt", ty=TY_SUB,
                                                  pc={"m2m:sub": {"nu": [aei], "enc": {"net": [3]}}}))["rsc"], 2001)
        poll = self.prim(2, ae + "/pch/pcu")
        self.m.request(poll, wait=False)  # parks
        r = self.http.create("/" + ae + "/cnt", TY_CIN, {"con": "via-mqtt"}, origin=aei)
        self.assertEqual(r.rsc, 2001)
        got = self.m.wait_rqi(poll["rqi"], timeout=5.0)
        self.assertEqual(got["rsc"], 2000, got)
        rqp = got["pc"]["m2m:rqp"]
        self.assertEqual(rqp["pc"]["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"], "via-mqtt")
        ans = self.m.request(self.prim(5, ae + "/pch/pcu", pc={"m2m:rsp": {"rsc": 2000, "rqi": rqp["rqi"]}}))
        self.assertEqual(ans["rsc"], 2000, ans)


if __name__ == "__main__":
    main()
