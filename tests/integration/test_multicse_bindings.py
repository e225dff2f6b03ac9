"""Multi-CSE over the MQTT and CoAP bindings (issue 14, "every binding").

MQTT: an MN-CSE registers to an IN-CSE and
both forward requests over mqtts:// through one private Mosquitto broker that authenticates every
client by its certificate (CN = the CSE-ID's topic level) and restricts it to its own topics
(tools/mosquitto/acl.conf, TS-0010 §7.2, §7.4). The CSEs run with mqtt.authenticated=1: the topic's
originator level is the security association's identity, so the core's rules for CSEs apply as over
HTTPS (TS-0004 §7.3.2.1: a CSE acts only as the CSE-ID it is authenticated as; a relayed originator
is accepted only from the CSE allowed to relay it).

CoAP: the same over coaps:// (TS-0008 §6, DTLS), the CSEs authenticated by a PSK bound to the peer's
CSE-ID (TS-0003 §8.2.2.1) or by their CSE-ID certificates (TS-0003 §8.1.2), each CSE's coaps listener
being the address the other reaches it at (registrar.address, cse.poa).

Run: WARDEN_BIN=build/warden python3 tests/integration/test_multicse_bindings.py
"""

import json
import os
import shutil
import tempfile
import time
import unittest

from coap_helpers import coap
from mqtt_helpers import MqttClient, PrivateBroker, broker_available, paho
from test_multicse import CseHelpers
from tls_helpers import SPID, Ctl, Pki
from wardentest import Client, WardenServer, free_port, uniq

TY_ACP, TY_AE, TY_CNT, TY_CIN, TY_CSR, TY_SUB = 1, 2, 3, 4, 16, 23
FORWARD_TIMEOUT_MS = 3000

SKIP = None
if paho is None:
    SKIP = "python3-paho-mqtt is not installed"
elif not broker_available():
    SKIP = "mosquitto is not installed"


class MqttCse:
    """One warden attached to the broker over TLS with a certificate whose CN is its topic level; plain
    HTTP on loopback for its own AEs (dev profile)."""

    def __init__(self, owner, csi, rn, cse_type="IN", registrar=None):
        self.owner, self.csi, self.rn, self.cse_type, self.registrar = owner, csi, rn, cse_type, registrar
        self.level = csi.strip("/")
        self.tls = owner.cn_cert(self.level)
        self.tmp = tempfile.mkdtemp(prefix="warden-mqcse-")
        self.srv = None

    def args(self):
        b = self.owner.broker
        url = "mqtts://127.0.0.1:%d" % b.port
        a = ["--cse.id=%s" % self.csi, "--cse.rn=%s" % self.rn, "--cse.type=%s" % self.cse_type,
             "--forward.timeout=%d" % FORWARD_TIMEOUT_MS,
             "--mqtt.address=127.0.0.1", "--mqtt.port=%d" % b.port, "--mqtt.tls=1",
             "--mqtt.ca=%s" % self.owner.pki.ca_pem, "--mqtt.cert=%s" % self.tls["cert"],
             "--mqtt.key=%s" % self.tls["key"], "--mqtt.authenticated=1",
             # the AEs' notification receivers are on loopback, which the outbound policy denies by default
             "--notify.allow=127.0.0.1/32"]
        if self.registrar is not None:
            a += ["--registrar.address=" + url, "--registrar.id=%s" % self.registrar.csi,
                  "--registrar.rn=%s" % self.registrar.rn, "--cse.poa=" + url, "--registrar.check=1"]
        return a

    def start(self):
        port = self.srv.port if self.srv is not None else None
        self.srv = WardenServer(extra_args=self.args(), tmpdir=self.tmp, port=port)
        self.srv.start()
        self.c = Client(self.srv.port)
        return self

    def stop(self):
        """Stop the server; a non-zero exit status (a crash, or a sanitizer's report) fails the test."""
        if self.srv is not None and self.srv.running():
            rc = self.srv.stop()
            if rc != 0:
                raise AssertionError("warden %s exit status %r:\n%s" % (self.csi, rc, self.srv.output()[-4000:]))

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class MqttsBase(CseHelpers, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if SKIP:
            raise unittest.SkipTest(SKIP)
        cls.tmpdir = tempfile.mkdtemp(prefix="warden-mqcse-ca-")
        cls.pki = Pki(Ctl(os.path.join(cls.tmpdir, "ca.db")), os.path.join(cls.tmpdir, "pki"))
        bcert, bkey, _ = cls.pki.issue("/id-in", name="broker", ips=["127.0.0.1"])
        cls.broker = PrivateBroker(acl=True, cse="id-in",
                                   tls={"ca": cls.pki.ca_pem, "cert": bcert, "key": bkey}).start()
        cls.inc = MqttCse(cls, "/id-in", "cse-in").start()
        cls.mn = MqttCse(cls, "/id-mn", "cse-mn", cse_type="MN", registrar=cls.inc).start()
        cls.clients = []

    @classmethod
    def cn_cert(cls, cn):
        crt, key, _ = cls.pki.craft("cn-" + cn + "-" + uniq(""), san="URI://%s/%s" % (SPID, cn),
                                    subject="/O=%s/CN=%s" % (SPID, cn))
        return {"ca": cls.pki.ca_pem, "cert": crt, "key": key}

    @classmethod
    def tearDownClass(cls):
        for c in cls.clients:
            try:
                c.stop()
            except Exception:
                pass
        for c in (cls.mn, cls.inc):
            c.cleanup()
        cls.broker.cleanup()
        if not os.environ.get("WARDEN_KEEP_TMP"):
            shutil.rmtree(cls.tmpdir, ignore_errors=True)

    def setUp(self):
        if not self.inc.srv.running():
            self.inc.start()

    # helpers -----------------------------------------------------------------
    def wait_for(self, fn, timeout=15.0, what="condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.05)
        self.fail("timed out waiting for %s (last: %r)\nIN:\n%s\nMN:\n%s" % (
            what, last, self.inc.srv.output()[-3000:], self.mn.srv.output()[-3000:]))

    def mqtt_as(self, level):
        """A client of the broker authenticated as level (a certificate with that CN)."""
        c = MqttClient(self.broker.port, level, tls=self.cn_cert(level)).start()
        self.clients.append(c)
        return c


class MultiCseMqttsCase(MqttsBase):
    def test_ts0010_6_4_ts0004_7_4_4_mn_registers_to_in_over_mqtts(self):
        """TS-0004 §7.4.4 over TS-0010 §6.4: the MN's CREATE of its <remoteCSE> travels as a request
        primitive on /oneM2M/req/id-mn/id-in/json, its response is matched by rqi; both sides hold a
        <remoteCSE>, the IN's with the MN's mqtts:// point of access."""
        a, b = self.wait_for(self.registered, what="registration over mqtts")
        csr = a.body["m2m:csr"]
        self.assertEqual(csr["csi"], "/id-mn")
        self.assertEqual(csr["poa"], ["mqtts://127.0.0.1:%d" % self.broker.port])
        self.assertEqual(b.body["m2m:csr"]["csi"], "/id-in")

    def test_ts0004_7_3_2_6_in_ae_reads_mn_container_over_mqtts(self):
        """An AE on the IN reads a container of an AE on the MN through /~/id-mn/...: the IN forwards
        over MQTT as From /id-in/<AE>, relayed by the IN's authenticated topic level; and back."""
        self.wait_for(self.registered, what="registration over mqtts")
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        mn_stem = uniq("Cmn")
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/" + in_stem], 2 | 32, mn_stem)  # RETRIEVE, DISCOVER
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, [acp])
        r = self.inc.c.retrieve("/~/id-mn" + cnt + "/cin1", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:cin"]["con"], "v1")
        # discovery parameters travel in the primitive's fc
        r = self.inc.c.request("GET", "/~/id-mn" + cnt + "?fu=1&ty=4", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(len(r.body["m2m:uril"]), 1, r.body)
        self.assertTrue(r.body["m2m:uril"][0].endswith("/cin1"), r.body)
        # the policy on the MN decides: another AE of the IN is refused there
        other = uniq("Cother")
        self.ae(self.inc, other)
        r = self.inc.c.retrieve("/~/id-mn" + cnt + "/cin1", origin=other)
        self.assertEqual(r.rsc, 4103, r.body)
        # MN -> IN: an AE on the MN creates in a container on the IN
        acp = self.acp_for(self.inc, ["/id-mn/" + mn_stem], 3, in_stem)
        cnt_in = self.cnt_with_cin(self.inc, "/cse-in/" + in_stem, in_stem, [acp])
        r = self.mn.c.create("/~/id-in" + cnt_in, TY_CIN, {"con": "from-mn", "rn": "cin2", "cr": None},
                             origin=mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.inc.c.retrieve(cnt_in + "/cin2", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:cin"]["cr"], "/id-mn/" + mn_stem)

    def test_ts0004_7_3_3_9_notification_from_mn_reaches_ae_registered_at_in_over_mqtts(self):
        """NOTIFY across CSEs: the MN's notification to /id-in/<AE> goes over MQTT to the IN, which
        re-targets it to the AE's point of access."""
        self.wait_for(self.registered, what="registration over mqtts")
        recv, path, in_stem = self.in_ae_notified_from_mn()
        mn_stem = uniq("Cmn")
        mn_ae = self.ae(self.mn, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, None)
        r = self.mn.c.create(cnt, TY_SUB, {"rn": "s1", "nu": ["/id-in/" + in_stem], "enc": {"net": [3]}},
                             origin=mn_stem, root="m2m:sub")
        self.assertEqual(r.rsc, 2001, r.body)
        got = recv.wait(path, 1)
        self.assertTrue(got[0].body["m2m:sgn"].get("vrq"), got[0].body)
        r = self.mn.c.create(cnt, TY_CIN, {"con": "warm"}, origin=mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        got = recv.wait(path, 2)
        self.assertEqual(got[1].headers.get("X-M2M-Origin"), "/id-mn")
        self.assertEqual(got[1].body["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"], "warm")

    def test_ts0004_7_3_2_1_cse_claiming_another_cse_id_over_mqtt_is_4106(self):
        """A client the broker authenticated as id-mx registers as /id-mn (From or csi): 4106, and no
        <remoteCSE> appears (TS-0010 §7.2: the topic's originator is the security association)."""
        c = self.mqtt_as("id-mx")
        for fr, csi in (("/id-mn", "/id-mn"), ("/id-mx", "/id-mn")):
            rqi = uniq("claim")
            c.publish("/oneM2M/req/id-mx/id-in/json", {
                "op": 1, "to": "/id-in/cse-in", "fr": fr, "rqi": rqi, "rvi": "3", "ty": TY_CSR,
                "pc": {"m2m:csr": {"csi": csi, "cb": csi + "/cse-xx", "rr": True}}})
            rsp = c.wait_rqi(rqi)
            self.assertEqual(rsp["rsc"], 4106, rsp)
        self.assertEqual(self.inc.c.retrieve("/cse-in/id-mx").rsc, 4004)
        # nor can it answer in the MN's name: the broker keeps it off the MN's response topics, and the
        # IN takes a response only from the CSE it asked
        self.assertTrue(self.inc.srv.running())

    def test_ts0004_7_3_2_1_relayed_originator_only_from_its_cse_over_mqtt(self):
        """id-mx (authenticated, not registered) relays a request From /id-mn/<AE>: refused 4106, the
        rule of route.c (only the CSE allowed to relay an originator may)."""
        self.wait_for(self.registered, what="registration over mqtts")
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        c = self.mqtt_as("id-mx")
        rqi = uniq("relay")
        c.publish("/oneM2M/req/id-mx/id-in/json", {"op": 2, "to": "/id-in/cse-in/" + in_stem,
                                                   "fr": "/id-mn/Cmnapp", "rqi": rqi, "rvi": "3"})
        rsp = c.wait_rqi(rqi)
        self.assertEqual(rsp["rsc"], 4106, rsp)

    def test_ts0004_7_3_2_8_in_stopped_is_5103_within_timeout_then_reregistered(self):
        """The IN stopped: the MN's forwarded request is 5103 within forward.timeout (over MQTT at its
        deadline, its rqet telling the broker-kept copy it expired); after the IN's restart the MN is registered again
        and the first forwarded request succeeds."""
        self.wait_for(self.registered, what="registration over mqtts")
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        self.assertEqual(self.mn.c.retrieve("/~/id-in/cse-in/nothing", origin=mn_stem).rsc, 4004)
        self.inc.stop()
        try:
            t0 = time.monotonic()
            r = self.mn.c.retrieve("/~/id-in/cse-in", origin=mn_stem)
            elapsed = time.monotonic() - t0
            self.assertEqual(r.rsc, 5103, r.body)
            self.assertLess(elapsed, FORWARD_TIMEOUT_MS / 1000.0 + 2.0)
            if self.broker is not None:
                # the broker takes the request for the absent IN: the MN's deadline decides (over UDP
                # the IN's port answers unreachable at once)
                self.assertGreater(elapsed, FORWARD_TIMEOUT_MS / 1000.0 - 0.5)
        finally:
            self.inc.start()
        self.wait_for(self.registered, what="registration after the restart")
        r = self.mn.c.retrieve("/~/id-in/cse-in/nothing", origin=mn_stem)
        self.assertEqual(r.rsc, 4004, r.body)

    def test_ts0001_10_2_2_6_registration_lost_by_registrar_is_made_again_over_mqtts(self):
        self.wait_for(self.registered, what="registration over mqtts")
        r = self.inc.c.delete("/cse-in/id-mn")
        self.assertEqual(r.rsc, 2002, r.body)
        self.wait_for(lambda: self.inc.c.retrieve("/cse-in/id-mn").rsc == 2000, what="re-registration")


class CoapCse:
    """One warden with a coaps listener on loopback for the other CSEs and plain HTTP for its own AEs.
    psk: None (its CSE-ID certificate), or (KpsaID, hex key, peer CSE-ID) provisioned in its store."""

    def __init__(self, owner, csi, rn, cse_type="IN", registrar=None, psk=None):
        self.owner, self.csi, self.rn, self.cse_type, self.registrar, self.psk = owner, csi, rn, cse_type, registrar, psk
        self.tmp = tempfile.mkdtemp(prefix="warden-cocse-")
        self.coaps_port = free_port()
        self.srv = None
        if psk is None:
            self.cert, self.key, _ = owner.pki.issue(csi, name="cse-" + csi.strip("/") + uniq(""), ips=["127.0.0.1"])
        else:
            ctl = Ctl(os.path.join(self.tmp, "warden.db"), ["--cse.id=%s" % csi, "--cse.rn=%s" % rn])
            ctl.ok("init")
            ctl.ok("psk", "add", psk[0], psk[2], stdin=psk[1] + "\n")

    def ctl(self):
        return Ctl(os.path.join(self.tmp, "warden.db"), ["--cse.id=%s" % self.csi, "--cse.rn=%s" % self.rn])

    def args(self):
        a = ["--cse.id=%s" % self.csi, "--cse.rn=%s" % self.rn, "--cse.type=%s" % self.cse_type,
             "--forward.timeout=%d" % FORWARD_TIMEOUT_MS, "--notify.allow=127.0.0.1/32",
             "--coaps.port=%d" % self.coaps_port, "--coaps.address=127.0.0.1"]
        if self.psk is None:
            a += ["--tls.cert=%s" % self.cert, "--tls.key=%s" % self.key, "--tls.ca=%s" % self.owner.pki.ca_pem]
        if self.registrar is not None:
            a += ["--registrar.address=coaps://127.0.0.1:%d" % self.registrar.coaps_port,
                  "--registrar.id=%s" % self.registrar.csi, "--registrar.rn=%s" % self.registrar.rn,
                  "--cse.poa=coaps://127.0.0.1:%d" % self.coaps_port, "--registrar.check=1"]
        return a

    start = MqttCse.start
    stop = MqttCse.stop
    cleanup = MqttCse.cleanup


class CoapsBase(MqttsBase):
    """An IN and an MN over coaps://; subclasses say how they authenticate (use_psk)."""

    use_psk = True
    KID = "mn-in@warden.example.com"

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(os.path.join(os.path.dirname(os.environ.get("WARDEN_BIN", "build/warden")),
                                           "warden-coap")):
            raise unittest.SkipTest("warden-coap is not built")
        cls.tmpdir = tempfile.mkdtemp(prefix="warden-cocse-ca-")
        cls.pki = Pki(Ctl(os.path.join(cls.tmpdir, "ca.db")), os.path.join(cls.tmpdir, "pki"))
        cls.key = os.urandom(16).hex()
        ipsk = (cls.KID, cls.key, "/id-mn") if cls.use_psk else None
        mpsk = (cls.KID, cls.key, "/id-in") if cls.use_psk else None
        cls.inc = CoapCse(cls, "/id-in", "cse-in", psk=ipsk).start()
        cls.mn = CoapCse(cls, "/id-mn", "cse-mn", cse_type="MN", registrar=cls.inc, psk=mpsk).start()
        cls.clients = []
        cls.broker = None

    @classmethod
    def tearDownClass(cls):
        for c in (cls.mn, cls.inc):
            c.cleanup()
        if not os.environ.get("WARDEN_KEEP_TMP"):
            shutil.rmtree(cls.tmpdir, ignore_errors=True)

    def test_ts0008_6_ts0004_7_4_4_mn_registers_to_in_over_coaps(self):
        a, b = self.wait_for(self.registered, what="registration over coaps")
        self.assertEqual(a.body["m2m:csr"]["csi"], "/id-mn")
        self.assertEqual(a.body["m2m:csr"]["poa"], ["coaps://127.0.0.1:%d" % self.mn.coaps_port])
        self.assertEqual(b.body["m2m:csr"]["csi"], "/id-in")

    def test_ts0008_6_2_large_answer_over_coaps_arrives_whole(self):
        """A forwarded RETRIEVE whose answer is larger than one CoAP block: the MN's server side sends
        it in Block2 blocks, the IN's client side asks for them and relays the whole Content."""
        self.wait_for(self.registered, what="registration over coaps")
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        mn_stem = uniq("Cmn")
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/" + in_stem], 2, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, [acp])
        big = "x" * 6000
        r = self.mn.c.create(cnt, TY_CIN, {"con": big, "rn": "big"}, origin=mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.inc.c.retrieve("/~/id-mn" + cnt + "/big", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:cin"]["con"], big)

    test_ts0004_7_3_2_6_in_ae_reads_mn_container_over_coaps = \
        MultiCseMqttsCase.test_ts0004_7_3_2_6_in_ae_reads_mn_container_over_mqtts
    test_ts0004_7_3_3_9_notification_from_mn_reaches_ae_registered_at_in_over_coaps = \
        MultiCseMqttsCase.test_ts0004_7_3_3_9_notification_from_mn_reaches_ae_registered_at_in_over_mqtts
    test_ts0004_7_3_2_8_in_stopped_is_5103_within_timeout_then_reregistered_over_coaps = \
        MultiCseMqttsCase.test_ts0004_7_3_2_8_in_stopped_is_5103_within_timeout_then_reregistered
    test_ts0001_10_2_2_6_registration_lost_by_registrar_is_made_again_over_coaps = \
        MultiCseMqttsCase.test_ts0001_10_2_2_6_registration_lost_by_registrar_is_made_again_over_mqtts


class CoapsPskCase(CoapsBase):
    use_psk = True

    def test_ts0004_7_3_2_1_cse_claiming_another_cse_id_over_coaps_is_4106(self):
        """A DTLS-PSK client whose key the IN binds to /id-mx registers as /id-mn (From or csi): 4106,
        no <remoteCSE> appears."""
        key = os.urandom(16).hex()
        self.inc.stop()
        self.inc.ctl().ok("psk", "add", "mx@warden.example.com", "/id-mx", stdin=key + "\n")
        self.inc.start()
        url = "coaps://127.0.0.1:%d/~/id-in/cse-in" % self.inc.coaps_port
        for fr, csi in (("/id-mn", "/id-mn"), ("/id-mx", "/id-mn")):
            r = coap("post", url, fr=fr, ty=TY_CSR, cf="json", rqi=uniq("claim"),
                     data=json.dumps({"m2m:csr": {"csi": csi, "cb": csi + "/cse-xx", "rr": True}}),
                     psk=("mx@warden.example.com", key))
            self.assertEqual(r.rsc, 4106, (r.stdout, r.stderr))
        self.assertEqual(self.inc.c.retrieve("/cse-in/id-mx").rsc, 4004)


    def test_ts0004_7_3_2_1_relayed_originator_only_from_its_cse_over_coaps(self):
        """A DTLS-PSK client bound to /id-mx (not registered here) relays From /id-mn/<AE>: 4106."""
        self.wait_for(self.registered, what="registration over coaps")
        key = os.urandom(16).hex()
        kid = uniq("rx") + "@warden.example.com"
        self.inc.stop()
        self.inc.ctl().ok("psk", "add", kid, "/id-mx", stdin=key + "\n")
        self.inc.start()
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        r = coap("get", "coaps://127.0.0.1:%d/~/id-in/cse-in/%s" % (self.inc.coaps_port, in_stem),
                 fr="/id-mn/Cmnapp", rqi=uniq("relay"), psk=(kid, key))
        self.assertEqual(r.rsc, 4106, (r.stdout, r.stderr))


class MqttUnauthenticatedCase(unittest.TestCase):
    """TS-0004 §7.3.2.1 over TS-0010 §7.2: behind a broker that does not authenticate (mqtt.authenticated=0)
    a topic level proves nothing, so a CSE registration over MQTT has no security association: 4107."""

    def test_ts0004_7_3_2_1_cse_registration_without_authenticated_broker_is_4107(self):
        if SKIP:
            self.skipTest(SKIP)
        broker = PrivateBroker().start()
        self.addCleanup(broker.cleanup)
        srv = WardenServer(extra_args=["--mqtt.address=127.0.0.1", "--mqtt.port=%d" % broker.port])
        srv.start()
        self.addCleanup(srv.cleanup)
        c = MqttClient(broker.port, "id-mn").start()
        self.addCleanup(c.stop)
        rqi = uniq("noauth")
        deadline = time.monotonic() + 10
        rsp = None
        while rsp is None and time.monotonic() < deadline:  # until the CSE is subscribed
            c.publish("/oneM2M/req/id-mn/id-in/json", {
                "op": 1, "to": "/id-in/cse-in", "fr": "/id-mn", "rqi": rqi, "rvi": "3", "ty": TY_CSR,
                "pc": {"m2m:csr": {"csi": "/id-mn", "cb": "/id-mn/cse-mn", "rr": True}}})
            try:
                rsp = c.wait_rqi(rqi, timeout=0.5)
            except AssertionError:
                rsp = None
        self.assertIsNotNone(rsp, "no answer over MQTT")
        self.assertEqual(rsp["rsc"], 4107, rsp)
        self.assertEqual(srv.stop(), 0)


class CoapsCertCase(CoapsBase):
    use_psk = False

    def test_ts0003_8_1_2_registrar_certificate_must_name_the_registrar_cse_id(self):
        """A CSE that takes the IN for /id-xx: the IN's certificate (valid, from tls.ca) names /id-in,
        so the DTLS handshake is refused and nothing is sent to it."""
        other = CoapCse(self, "/id-m2", "cse-m2", cse_type="MN", registrar=self.inc)
        other.registrar = type("R", (), {"csi": "/id-xx", "rn": "cse-in", "coaps_port": self.inc.coaps_port})()
        other.start()
        try:
            self.wait_for(lambda: "does not name /id-xx" in other.srv.output(), what="the refusal in the log")
            self.assertEqual(self.inc.c.retrieve("/cse-in/id-m2").rsc, 4004)
        finally:
            other.cleanup()


if __name__ == "__main__":
    unittest.main()
