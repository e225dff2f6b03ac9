"""Black-box tests of non-blocking requests (TS-0001 §8.2.2, §9.6.12; TS-0004 §7.3.2.2-7.3.2.5,
§7.4.12, §7.5.1.2.5): rt 1 answers 1001 with a <request> resource the originator polls, rt 2
answers 1002 and notifies the result (m2m:rsp). Over HTTP (X-M2M-RTU, rt query) and MQTT (rt
{rtv, nu} in the primitive).

    WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_nonblocking.py
"""

import calendar
import time
import unittest

from coap_helpers import coap
from test_subscription import Receiver
from tls_helpers import TlsTestCase
from mqtt_helpers import MqttClient, PrivateBroker, broker_available, paho
from wardentest import (ADMIN, CSE_RN, TY_AE, TY_CNT, WardenServer, WardenTestCase, main, raw_exchange, uniq)

TY_REQ = 17
RS_COMPLETED = 1


def poll_request(get, timeout=10.0):
    """RETRIEVE the <request> until its requestStatus is COMPLETED; returns m2m:req."""
    deadline = time.monotonic() + timeout
    while True:
        req = get()
        if req.get("rs") == RS_COMPLETED:
            return req
        if time.monotonic() > deadline:
            raise AssertionError("the <request> did not complete: %r" % (req,))
        time.sleep(0.05)


class NonBlockingHttpTest(WardenTestCase):
    extra_args = ["--notify.allow=127.0.0.1/32"]

    @classmethod
    def setUpClass(cls):
        cls.rx = Receiver().start()
        cls.server = WardenServer(extra_args=cls.extra_args)
        cls.server.start()
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        rc = cls.server.stop()
        cls.server.cleanup()
        if rc != 0:
            raise AssertionError("warden exit status %r" % rc)

    def ae(self, poa=None):
        extra = {"poa": [poa]} if poa else None
        # reachable through its poa only with rr true (TS-0001 §9.6.8)
        r = self.c.register_ae(origin="C", rn=uniq("nb"), rr=poa is not None, extra=extra)
        self.assertRsc(r, 2001)
        a = r.body["m2m:ae"]
        return a["aei"], "/%s/%s" % (CSE_RN, a["rn"])

    def accepted(self, r, rsc):
        self.assertRsc(r, rsc)
        self.assertEqual(r.status, 202)
        ref = r.body["m2m:uri"]
        self.assertTrue(ref.startswith("req"), ref)
        return ref

    def get_req(self, ref, origin):
        r = self.c.retrieve("/" + ref, origin=origin)
        self.assertRsc(r, 2000)
        return r.body["m2m:req"]

    def test_ts0004_7_3_2_2_nonblocking_synch_request_polled(self):
        aei, path = self.ae()
        rn = uniq("cnt")
        r = self.c.create(path, TY_CNT, {"rn": rn}, origin=aei, query={"rt": 1}, ri="nb-rqi-1")
        ref = self.accepted(r, 1001)
        req = poll_request(lambda: self.get_req(ref, aei))
        self.assertEqual(req["ty"], TY_REQ)
        self.assertEqual((req["op"], req["tg"], req["org"], req["rid"]), (1, path.lstrip("/"), aei, "nb-rqi-1"))
        ors = req["ors"]
        self.assertEqual(ors["rsc"], 2001, ors)
        self.assertEqual(ors["rqi"], "nb-rqi-1")
        self.assertEqual(ors["pc"]["m2m:cnt"]["rn"], rn)
        self.assertRsc(self.c.retrieve(path + "/" + rn, origin=aei), 2000)  # it really ran

    def test_ts0004_7_3_2_2_csebase_srt_announces_request_and_polling_channel(self):
        # the Originator learns from supportedResourceType that <request> (and <pollingChannel>) exist
        srt = self.c.retrieve("/" + CSE_RN, origin=ADMIN).body["m2m:cb"]["srt"]
        self.assertIn(TY_REQ, srt)
        self.assertIn(15, srt)
        self.assertEqual(srt, sorted(srt))
        for ty in (1, 2, 3, 4, 5, 9, 23):
            self.assertIn(ty, srt)

    def test_ts0004_7_3_2_2_request_resource_only_for_its_originator(self):
        aei, path = self.ae()
        other, _ = self.ae()
        ref = self.accepted(self.c.retrieve(path, origin=aei, query={"rt": 1}), 1001)
        poll_request(lambda: self.get_req(ref, aei))
        self.assertRsc(self.c.retrieve("/" + ref, origin=other), 4103)
        self.assertRsc(self.c.retrieve("/" + ref, origin=ADMIN), 2000)
        self.assertRsc(self.c.delete("/" + ref, origin=other), 4103)
        # TS-0004 §7.4.12: created by the Hosting CSE only, and never updated by a client
        self.assertRsc(self.c.update("/" + ref, "m2m:req", {"lbl": ["x"]}, origin=aei), 4005)
        # a type only the CSE creates: not a child an originator may create (TS-0004 §7.3.3.3)
        self.assertRsc(self.c.create("/" + CSE_RN, TY_REQ, {"op": 2}, origin=aei, root="m2m:req"), 4108)
        self.assertRsc(self.c.delete("/" + ref, origin=aei), 2002)
        self.assertRsc(self.c.retrieve("/" + ref, origin=ADMIN), 4004)

    def test_ts0004_7_3_2_2_nonblocking_request_is_authorized_like_a_blocking_one(self):
        aei, path = self.ae()
        other, _ = self.ae()
        # the acknowledgement says nothing about access; the result is the same denial as blocking
        self.assertRsc(self.c.retrieve(path, origin=other), 4103)
        ref = self.accepted(self.c.retrieve(path, origin=other, query={"rt": 1}), 1001)
        req = poll_request(lambda: self.get_req(ref, other))
        self.assertEqual(req["ors"]["rsc"], 4103, req)
        self.assertNotIn("m2m:ae", req["ors"].get("pc", {}))

    def test_ts0004_7_3_2_1_nonblocking_request_needs_an_authenticated_originator(self):
        # an originator that is not registered gets no <request> at all
        r = self.c.retrieve("/" + CSE_RN, origin="C" + uniq("ghost"), query={"rt": 1})
        self.assertRsc(r, 4106)

    def test_ts0004_7_3_2_2_nonblocking_synch_registration_without_ae_id_is_refused(self):
        # From "C": the AE-ID does not exist yet, so no originator could ever read the <request>
        r = self.c.register_ae(origin="C", rn=uniq("nb"), query={"rt": 1})
        self.assertRsc(r, 4000)
        target = self.rx.new_path("reg")
        r = self.c.register_ae(origin="C", rn=uniq("nb"), query={"rt": 2},
                               headers={"X-M2M-RTU": self.rx.url(target)})
        self.assertRsc(r, 1002)
        rsp = self.rx.wait(target)[0].body["m2m:rsp"]
        self.assertEqual(rsp["rsc"], 2001)
        self.assertTrue(rsp["pc"]["m2m:ae"]["aei"].startswith("C"))

    def test_ts0004_7_5_1_2_5_nonblocking_asynch_result_notified_to_rtu(self):
        aei, path = self.ae()
        target = self.rx.new_path("nbr")
        rn = uniq("cnt")
        r = self.c.create(path, TY_CNT, {"rn": rn}, origin=aei, query={"rt": 2}, ri="nb-rqi-2",
                          headers={"X-M2M-RTU": self.rx.url(target)})
        ref = self.accepted(r, 1002)
        rec = self.rx.wait(target)[0]
        rsp = rec.body["m2m:rsp"]
        self.assertEqual((rsp["rsc"], rsp["rqi"]), (2001, "nb-rqi-2"), rec.raw)
        self.assertEqual(rsp["pc"]["m2m:cnt"]["rn"], rn)
        self.assertEqual(rec.headers["X-M2M-Origin"], "/id-in")
        self.assertEqual(poll_request(lambda: self.get_req(ref, aei))["ors"]["rsc"], 2001)

    def test_ts0004_7_5_1_2_5_nonblocking_asynch_without_nu_notifies_the_originator_poa(self):
        target = self.rx.new_path("poa")
        aei, path = self.ae(poa=self.rx.url(target))
        self.accepted(self.c.retrieve(path, origin=aei, query={"rt": 2}, ri="nb-rqi-3"), 1002)
        rsp = self.rx.wait(target)[0].body["m2m:rsp"]
        self.assertEqual((rsp["rsc"], rsp["rqi"]), (2000, "nb-rqi-3"))
        self.assertEqual(rsp["pc"]["m2m:ae"]["aei"], aei)

    def test_ts0004_7_5_1_2_5_nonblocking_asynch_notification_obeys_outbound_policy(self):
        aei, path = self.ae()
        # 10.0.0.1 is private: notify.deny refuses it (only 127.0.0.1 is allowed here); the request
        # itself still completes and its result waits in the <request>
        ref = self.accepted(self.c.retrieve(path, origin=aei, query={"rt": 2},
                                            headers={"X-M2M-RTU": "http://10.0.0.1:9/x"}), 1002)
        self.assertEqual(poll_request(lambda: self.get_req(ref, aei))["ors"]["rsc"], 2000)
        self.assertIn("dropped", self.server.output())

    def test_ts0004_7_3_2_1_nonblocking_request_id_not_utf8_is_4000_not_a_crash(self):
        aei, path = self.ae()
        for extra in (b"", b"X-M2M-RTU: http://127.0.0.1:9/\xff\r\n"):
            req = (b"GET " + path.encode() + b"?rt=2 HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: " + aei.encode() +
                   b"\r\nX-M2M-RI: r\xc3\x28\r\nX-M2M-RVI: 3\r\n" + extra + b"Connection: close\r\n\r\n")
            status, headers, body, _ = raw_exchange(self.server.port, req)
            self.assertEqual((status, headers.get("x-m2m-rsc")), (400, "4000"), body)
        self.assertAlive()

    def test_ts0004_7_2_2_2_flexblocking_and_blocking_answer_at_once(self):
        aei, path = self.ae()
        for rt in (3, 4):
            self.assertRsc(self.c.retrieve(path, origin=aei, query={"rt": rt}), 2000)


class NonBlockingLimitTest(WardenTestCase):
    """A non-blocking long poll of a pollingChannel's pcu stays in progress until the poll times out:
    it holds its place in the limits deterministically."""

    @classmethod
    def setUpClass(cls):
        cls.server = WardenServer(extra_args=["--limits.nonblocking_pending=2",
                                              "--limits.nonblocking_per_originator=1",
                                              "--limits.nonblocking_lifetime=10",
                                              "--limits.nonblocking_bytes=2048",
                                              "--limits.polling_timeout=1500"])
        cls.server.start()
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        cls.server.cleanup()
        if rc != 0:
            raise AssertionError("warden exit status %r" % rc)

    def device(self):
        r = self.c.register_ae(origin="C", rn=uniq("nb"), rr=False)
        self.assertRsc(r, 2001)
        aei, rn = r.body["m2m:ae"]["aei"], r.body["m2m:ae"]["rn"]
        self.assertRsc(self.c.create("/%s/%s" % (CSE_RN, rn), 15, {"rn": "pch"}, origin=aei, root="m2m:pch"), 2001)
        return aei, "/%s/%s/pch/pcu" % (CSE_RN, rn)

    def test_limits_nonblocking_bytes_refuses_large_content_with_5206(self):
        aei, _ = self.device()
        path = "/%s/%s" % (CSE_RN, self.c.retrieve("/" + aei, origin=aei).body["m2m:ae"]["rn"])
        big = {"rn": uniq("big"), "lbl": ["x" * 100] * 25}  # > 2048 bytes of content
        self.assertRsc(self.c.create(path, TY_CNT, big, origin=aei, query={"rt": 1}), 5206)
        self.assertRsc(self.c.create(path, TY_CNT, big, origin=aei), 2001)  # blocking is not limited
        r = self.c.create(path, TY_CNT, {"rn": uniq("small")}, origin=aei, query={"rt": 1})
        self.assertRsc(r, 1001)
        ref = r.body["m2m:uri"]
        self.assertEqual(poll_request(lambda: self.c.retrieve("/" + ref, origin=aei).body["m2m:req"])["ors"]["rsc"],
                         2001)

    def test_limits_nonblocking_per_originator_and_pending_refuse_with_5206(self):
        a, a_pcu = self.device()
        b, b_pcu = self.device()
        c, _ = self.device()
        r = self.c.retrieve(a_pcu, origin=a, query={"rt": 1})  # in progress until the poll times out
        self.assertRsc(r, 1001)
        ref = r.body["m2m:uri"]
        self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=a, query={"rt": 1}), 5206)  # per originator
        self.assertRsc(self.c.retrieve(b_pcu, origin=b, query={"rt": 1}), 1001)
        self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=c, query={"rt": 1}), 5206)  # in all
        self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=c), 2000)  # blocking is not limited
        req = poll_request(lambda: self.c.retrieve("/" + ref, origin=a).body["m2m:req"])
        self.assertEqual(req["ors"]["rsc"], 4008)  # the poll's own answer
        deadline = time.monotonic() + 10
        while True:  # its place is free once its result is stored
            r = self.c.retrieve("/" + CSE_RN, origin=a, query={"rt": 1})
            if r.rsc == 1001 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertRsc(r, 1001)
        et = self.c.retrieve("/" + r.body["m2m:uri"], origin=a).body["m2m:req"]["et"]
        lifetime = calendar.timegm(time.strptime(et, "%Y%m%dT%H%M%S")) - time.time()
        self.assertLessEqual(lifetime, 11)  # limits.nonblocking_lifetime


@unittest.skipIf(paho is None or not broker_available(), "mosquitto and python3-paho-mqtt are needed")
class NonBlockingMqttTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rx = Receiver().start()
        cls.broker = PrivateBroker().start()
        cls.server = WardenServer(extra_args=["--mqtt.address=127.0.0.1", "--mqtt.port=%d" % cls.broker.port,
                                              "--notify.allow=127.0.0.1/32"])
        cls.server.start()
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
        rsp = cls.m.request({"op": 1, "to": CSE_RN, "fr": cls.level, "rqi": uniq("reg"), "rvi": "3", "ty": TY_AE,
                             "pc": {"m2m:ae": {"rn": cls.level, "api": "Nmqtt", "rr": True}}})
        assert rsp["rsc"] == 2001, rsp
        cls.aei = rsp["pc"]["m2m:ae"]["aei"]

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        cls.rx.stop()
        rc = cls.server.stop()
        cls.server.cleanup()
        cls.broker.cleanup()
        if rc != 0:
            raise AssertionError("warden exit status %r" % rc)

    def prim(self, op, to, **kw):
        p = {"op": op, "to": to, "fr": self.aei, "rqi": uniq("q"), "rvi": "3"}
        p.update(kw)
        return p

    def test_ts0004_7_3_2_2_nonblocking_synch_request_polled_over_mqtt(self):
        rn = uniq("cnt")
        rsp = self.m.request(self.prim(1, CSE_RN + "/" + self.level, ty=TY_CNT, rt={"rtv": 1},
                                       pc={"m2m:cnt": {"rn": rn}}))
        self.assertEqual(rsp["rsc"], 1001, rsp)
        ref = rsp["pc"]["m2m:uri"]

        def get():
            r = self.m.request(self.prim(2, ref))
            self.assertEqual(r["rsc"], 2000, r)
            return r["pc"]["m2m:req"]
        req = poll_request(get)
        self.assertEqual(req["ors"]["rsc"], 2001)
        self.assertEqual(req["ors"]["pc"]["m2m:cnt"]["rn"], rn)

    def test_ts0004_7_5_1_2_5_nonblocking_asynch_over_mqtt_notified_to_nu(self):
        target = self.rx.new_path("mq")
        p = self.prim(2, CSE_RN + "/" + self.level, rt={"rtv": 2, "nu": [self.rx.url(target)]})
        rsp = self.m.request(p)
        self.assertEqual(rsp["rsc"], 1002, rsp)
        got = self.rx.wait(target)[0].body["m2m:rsp"]
        self.assertEqual((got["rsc"], got["rqi"]), (2000, p["rqi"]))
        self.assertEqual(got["pc"]["m2m:ae"]["aei"], self.aei)


class NonBlockingSecureProfileTest(TlsTestCase):
    """Secure profile: the blocking copy of a non-blocking request carries the security association
    it came in on (TS-0003 §7.2; TS-0004 §7.3.2.1): same authentication, no second path."""

    profile = "secure"

    def test_ts0003_7_2_nonblocking_request_keeps_its_security_association(self):
        stem, pc, _ = self.psk_ae()
        path = "/%s/%s" % (CSE_RN, stem)
        r = pc.create(path, TY_CNT, {"rn": "c"}, origin=stem, query={"rt": 1})
        self.assertRsc(r, 1001)
        ref = r.body["m2m:uri"]
        req = poll_request(lambda: self.assertRsc(pc.retrieve("/" + ref, origin=stem), 2000).body["m2m:req"])
        self.assertEqual(req["ors"]["rsc"], 2001, req)  # 4107/4106 had the copy lost its association
        self.assertRsc(pc.retrieve(path + "/c", origin=stem), 2000)
        other, opc, _ = self.psk_ae()
        self.assertRsc(opc.retrieve("/" + ref, origin=other), 4103)
        # without a security association nothing is accepted, not even for later
        self.assertRsc(self.c.retrieve(path, origin=stem, query={"rt": 1}), 4107)


def udp_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class NonBlockingCoapTest(unittest.TestCase):
    """TS-0008 §6.3.2-3: a non-blocking request is a POST with op and rt in the query; 2.01 and the
    <request>'s address in Location-Path; rt's notificationURIs in oneM2M-RTURI (263)."""

    @classmethod
    def setUpClass(cls):
        cls.rx = Receiver().start()
        cls.port = udp_port()
        cls.server = WardenServer(extra_args=["--coap.port=%d" % cls.port, "--coap.address=127.0.0.1",
                                              "--notify.allow=127.0.0.1/32"])
        cls.server.start()
        r = cls.server.client().register_ae(origin="C", rn=uniq("co"))
        cls.aei, cls.rn = r.body["m2m:ae"]["aei"], r.body["m2m:ae"]["rn"]

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        rc = cls.server.stop()
        cls.server.cleanup()
        if rc != 0:
            raise AssertionError("warden exit status %r" % rc)

    def url(self, path):
        return "coap://127.0.0.1:%d/%s" % (self.port, path)

    def test_ts0008_6_3_3_nonblocking_synch_retrieve_over_coap_polled(self):
        r = coap("POST", self.url("cse-in/%s?op=2&rt=1" % self.rn), fr=self.aei, rqi="co-nb-1")
        self.assertEqual((r.rc, r.code, r.rsc), (0, "2.01", 1001), r)
        ref = r.json()["m2m:uri"]
        self.assertEqual(r.opts(8), ["cse-in", ref])  # Location-Path

        def get():
            g = coap("GET", self.url(ref), fr=self.aei)
            self.assertEqual(g.rsc, 2000, g)
            return g.json()["m2m:req"]
        req = poll_request(get)
        self.assertEqual((req["op"], req["ors"]["rsc"], req["ors"]["rqi"]), (2, 2000, "co-nb-1"))
        self.assertEqual(req["ors"]["pc"]["m2m:ae"]["aei"], self.aei)

    def test_ts0008_6_3_2_nonblocking_asynch_over_coap_notified_to_rturi(self):
        target = self.rx.new_path("co")
        r = coap("POST", self.url("cse-in/%s?op=2&rt=2" % self.rn), fr=self.aei, rqi="co-nb-2",
                 opts=["263=" + self.rx.url(target)])
        self.assertEqual((r.rc, r.code, r.rsc), (0, "2.01", 1002), r)
        got = self.rx.wait(target)[0].body["m2m:rsp"]
        self.assertEqual((got["rsc"], got["rqi"]), (2000, "co-nb-2"))


if __name__ == "__main__":
    main()
