"""End-to-end security over the MQTT and CoAP bindings (issue 16 follow-up): the outer NOTIFY of
ESCertKE (TS-0003 §8.7, TS-0004 §7.5.1.2.12, sit 6) and of ESPrim (TS-0003 §8.4, TS-0004 §7.6.2,
sit 3/4/5) is an ordinary NOTIFY request primitive, so it works over every binding: shown here
over MQTT (a request primitive published on /oneM2M/req/..., tests/integration/mqtt_helpers.py)
and CoAP (warden-coap, tests/integration/coap_helpers.py) against one CSE.

The initiator of ESCertKE is Python's ssl (OpenSSL) over memory BIOs; the ESPrim originator is an
independent implementation in this file (python3-cryptography's AES-GCM, the serialisations of
README "End-to-end security: ESPrim"), so the CSE's receiver is checked against a second
implementation as well.

Run: WARDEN_BIN=build/warden python3 tests/integration/test_e2e_bindings.py
"""

import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from coap_helpers import coap  # noqa: E402
from mqtt_helpers import MqttClient, PrivateBroker, answers_probe, broker_available, paho  # noqa: E402
from test_escertke import Initiator, seci  # noqa: E402
from tls_helpers import SecureServer, ae_absolute  # noqa: E402
from wardentest import uniq  # noqa: E402

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # pragma: no cover - reported as a skip
    AESGCM = None

LABEL = b"oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm"


def udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def canon(o):
    return json.dumps(o, separators=(",", ":"), sort_keys=True)


class PyEsprim:
    """An ESPrim originator (TS-0003 §8.4.2 B.2g-h, C.3, C.11) with A256GCM."""

    def __init__(self, kid, key):
        self.kid, self.key = kid, key

    def receiver(self, ero):
        expiry = min(ero["esrx"], time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() + 600)))
        self.oro = {"esri": "o" + os.urandom(8).hex(), "esrv": os.urandom(16).hex(), "esrx": expiry, "esk": 1,
                    "espa": [12]}
        self.rri = ero["esri"]
        self.skey = hmac.new(self.key, canon(ero).encode() + canon(self.oro).encode() + LABEL, hashlib.sha256).digest()

    def seal(self, inner):
        hdr = {"alg": "dir", "enc": "A256GCM", "kid": self.kid, "ori": self.oro["esri"], "rri": self.rri,
               "cty": "application/json", "oro": self.oro}
        h = b64u(json.dumps(hdr).encode())
        iv = os.urandom(12)
        ct = AESGCM(self.skey).encrypt(iv, json.dumps(inner).encode(), h.encode())
        return {"m2m:seci": {"sit": 5, "epo": "%s..%s.%s.%s" % (h, b64u(iv), b64u(ct[:-16]), b64u(ct[-16:]))}}

    def open(self, content):
        h, _, iv, ct, tag = content["m2m:seci"]["epo"].split(".")
        hdr = json.loads(unb64u(h))
        assert (hdr["kid"], hdr["ori"], hdr["rri"]) == (self.kid, self.oro["esri"], self.rri), hdr
        return json.loads(AESGCM(self.skey).decrypt(unb64u(iv), unb64u(ct) + unb64u(tag), h.encode()))


class E2eBindingsCase(unittest.TestCase):
    """One CSE with the ESCertKE terminating end-point on, an MQTT broker and a CoAP listener."""

    @classmethod
    def setUpClass(cls):
        if paho is None or not broker_available():
            raise unittest.SkipTest("python3-paho-mqtt or mosquitto is not installed")
        if AESGCM is None:
            raise unittest.SkipTest("python3-cryptography is not installed")
        cls.broker = PrivateBroker().start()
        cls.cport = udp_port()
        cls.S = SecureServer(psk=False, certs=True, extra=[
            "--escertke.enable=1", "--mqtt.address=127.0.0.1", "--mqtt.port=%d" % cls.broker.port,
            "--coap.port=%d" % cls.cport, "--coap.address=127.0.0.1"])
        try:
            cls.S.start()
        except Exception:
            cls.S.cleanup()
            cls.broker.cleanup()
            raise
        cls.c = cls.S.client()
        if not answers_probe(MqttClient(cls.broker.port, "Cprobe" + os.urandom(4).hex()).start(), 10.0):
            raise AssertionError("the CSE does not answer over MQTT")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.S.stop()
        finally:
            cls.S.cleanup()
            cls.broker.cleanup()

    def device(self):
        """A registered AE (over HTTP) and a certificate naming it: (stem, cert, key)."""
        r = self.c.register_ae(origin="C" + uniq("bnd"))
        self.assertEqual(r.rsc, 2001, r.body)
        stem = r.body["m2m:ae"]["aei"]
        cert, key, _ = self.S.pki.issue(ae_absolute(stem))
        return stem, cert, key

    def keys(self):
        out = {}
        for line in self.S.ctl.ok("e2e", "list").stdout.splitlines():
            f = line.split("\t")
            out[f[0]] = (f[2], f[4])
        return out

    def mqtt_notify(self, stem):
        cl = MqttClient(self.broker.port, stem).start()
        self.addCleanup(cl.stop)

        def send(content):
            rsp = cl.request({"op": 5, "to": "cse-in", "fr": stem, "rqi": uniq("rq"), "rvi": "3", "pc": content})
            return rsp.get("rsc"), rsp.get("pc")
        return send

    def coap_notify(self, stem):
        def send(content):
            r = coap("POST", "coap://127.0.0.1:%d/cse-in" % self.cport, fr=stem, data=json.dumps(content))
            self.assertEqual(r.rc, 0, r)
            return r.rsc, r.json()
        return send

    def escertke(self, send):
        stem, cert, key = self.current
        init = Initiator(cert, key, self.S.pki.ca_pem)
        rsc, pc = send(seci(init.step()))
        self.assertEqual(rsc, 2000, pc)
        m3 = init.step(base64.b64decode(pc["m2m:seci"]["eckm"]))
        before = set(self.keys())
        rsc, pc = send(seci(m3))
        self.assertEqual(rsc, 2000, pc)
        init.step(base64.b64decode(pc["m2m:seci"]["eckm"]))
        self.assertEqual(init.tls.version(), "TLSv1.2")  # both Finished verified: the same secrets
        new = {k: v for k, v in self.keys().items() if k not in before}
        self.assertEqual(list(new.values()), [(ae_absolute(stem), "escertke")])

    def esprim(self, send):
        stem = self.current[0]
        kid, key = uniq("kb"), os.urandom(32)
        self.S.ctl.ok("e2e", "add", kid, "/id-in", stem, stdin=key.hex() + "\n")
        esp = PyEsprim(kid, key)
        rsc, pc = send({"m2m:seci": {"sit": 3}})
        self.assertEqual(rsc, 2000, pc)
        esp.receiver(pc["m2m:seci"]["ero"])
        inner = {"op": 2, "to": "cse-in/" + stem, "fr": stem, "rqi": uniq("in"), "rvi": "3"}
        rsc, pc = send(esp.seal(inner))
        self.assertEqual(rsc, 2000, pc)
        resp = esp.open(pc)
        self.assertEqual((resp["rsc"], resp["rqi"]), (2000, inner["rqi"]))
        self.assertEqual(resp["pc"]["m2m:ae"]["aei"], stem)

    def test_ts0003_8_7_escertke_over_mqtt(self):
        self.current = self.device()
        self.escertke(self.mqtt_notify(self.current[0]))

    def test_ts0003_8_7_escertke_over_coap(self):
        self.current = self.device()
        self.escertke(self.coap_notify(self.current[0]))

    def test_ts0003_8_4_esprim_over_mqtt(self):
        self.current = self.device()
        self.esprim(self.mqtt_notify(self.current[0]))

    def test_ts0003_8_4_esprim_over_coap(self):
        self.current = self.device()
        self.esprim(self.coap_notify(self.current[0]))


if __name__ == "__main__":
    unittest.main()
