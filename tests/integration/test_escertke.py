"""ESCertKE, End-to-End Certificate-based Key Establishment (TS-0003 §8.7, §10.3.1; TS-0001 §11.4.3;
TS-0004 §7.5.1.2.12), black-box: ``warden-cli kex`` (the Initiating End-Point) against a warden CSE
(the Terminating End-Point) over NOTIFYs carrying ``m2m:seci`` sit 6.

Checked: both ends hold the same key (the key ID the client printed and wrote is the one
``wardenctl e2e list`` shows, bound to the certificate's AE-ID); an initiator certified by another
CA is refused (4106, audited); a From that is not the certificate's identity is refused (4106,
``escertke-from-mismatch``, no key stored); a truncated or garbage ``eckm`` is answered 4000 and
ends the originator's exchange; the table of exchanges in progress is bounded
(``escertke.sessions``) and its entries time out (``escertke.timeout``). Message 1 for the
protocol-level cases comes from Python's ssl module (OpenSSL) over memory BIOs: a second TLS stack
talking to the CSE's GnuTLS.
"""

import base64
import json
import os
import ssl
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tls_helpers import Ctl, Pki, TlsTestCase, ae_absolute  # noqa: E402
from wardentest import SPID, main, ts_epoch, uniq, warden_bin  # noqa: E402


def cli_bin():
    return os.path.join(os.path.dirname(warden_bin()), "warden-cli")


def seci(msg):
    return {"m2m:seci": {"sit": 6, "eckm": base64.b64encode(msg).decode()}}


class Initiator:
    """A TLS 1.2 client over memory BIOs (Python's ssl): Message 1, then Message 3 from Message 2."""

    def __init__(self, cert, key, cafile):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256")
        ctx.check_hostname = False
        ctx.load_verify_locations(cafile)
        ctx.load_cert_chain(cert, key)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_side=False)

    def step(self, data=b""):
        if data:
            self.inc.write(data)
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.out.read()


class EscertkeBase(TlsTestCase):
    """A CSE with a certificate and ESCertKE on, and the helpers of the tests below (no tests)."""
    with_psk = False
    with_certs = True
    extra_args = ("--escertke.enable=1",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pki = cls.S.pki

    def new_device(self, pki=None):
        """A registered AE and a certificate naming it: (stem, cert, key)."""
        r = self.c.register_ae(origin="C" + uniq("kex"))
        self.assertRsc(r, 2001)
        stem = self.res(r, "m2m:ae")["aei"]
        cert, key, _ = (pki or self.pki).issue(ae_absolute(stem))
        return stem, cert, key

    def kex(self, origin, cert, key, cacert=None, to="/id-in", out=None):
        out = out or os.path.join(self.S.tmp, uniq("key") + ".json")
        argv = [cli_bin(), "kex", "-u", "http://127.0.0.1:%d" % self.S.port, "-o", origin, "--cert", cert,
                "--key", key, "--cacert", cacert or self.pki.ca_pem, "--to", to, "--out", out]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return p, out

    def notify(self, origin, body):
        return self.c.request("POST", "/cse-in", origin=origin, body=body)

    def e2e_list(self):
        """{kid: (local, peer, length, source, state)} from wardenctl e2e list."""
        out = {}
        for line in self.ctl.ok("e2e", "list").stdout.splitlines():
            f = line.split("\t")
            out[f[0]] = (f[1], f[2], f[3], f[4], f[7])
        return out


class EscertkeCase(EscertkeBase):
    # ---- the exchange ----------------------------------------------------------------------

    def test_ts0003_8_7_warden_cli_and_cse_establish_the_same_key(self):
        stem, cert, key = self.new_device()
        p, out = self.kex(stem, cert, key)
        self.assertEqual(p.returncode, 0, p.stderr)
        kid = p.stdout.strip()
        self.assertRegex(kid, r"^[0-9a-f]{32}$", "the key ID (pairwiseE2EKeyID, 16 bytes) in hex")
        # the file: mode 0600, {"kid", "key"}, 32 bytes of key in base64url
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out) as f:
            doc = json.load(f)
        self.assertEqual(doc["kid"], kid)
        k = doc["key"]
        self.assertEqual(len(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))), 32)
        self.assertNotIn(k, p.stdout + p.stderr, "the key is never printed")
        # the CSE's end: the same kid, bound to this CSE and the certificate's AE-ID
        keys = self.e2e_list()
        self.assertIn(kid, keys)
        local, peer, length, source, state = keys[kid]
        self.assertEqual(local, "//%s/id-in" % SPID)
        self.assertEqual(peer, ae_absolute(stem))
        self.assertEqual((length, source, state), ("32", "escertke", "active"))
        # a second exchange gives a new key
        p2, _ = self.kex(stem, cert, key)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        self.assertNotEqual(p2.stdout.strip(), kid)

    def test_ts0003_8_7_1_escertke_key_secures_an_esprim_request(self):
        """The key ESCertKE established is a pairwiseESPrimKey (TS-0003 §8.7.1, §8.4): warden-cli uses
        the file `kex` wrote for an ESPrim-protected RETRIEVE, which the CSE opens with its end of the
        key and executes as the certificate's AE; a kid that is not the file's is refused by the
        client before anything is sent."""
        stem, cert, key = self.new_device()
        p, out = self.kex(stem, cert, key)
        self.assertEqual(p.returncode, 0, p.stderr)
        kid = p.stdout.strip()

        def esprim(kid_arg):
            argv = [cli_bin(), "-u", "http://127.0.0.1:%d" % self.S.port, "-o", stem, "--esprim", kid_arg,
                    "--esprim-key-file", out, "--esprim-to", "/id-in/cse-in", "get", "/cse-in/" + stem]
            return subprocess.run(argv, capture_output=True, text=True, timeout=30)

        q = esprim(kid)
        self.assertTrue(q.stderr.startswith("2000"), q.stdout + q.stderr)
        self.assertIn('"aei"', q.stdout)
        self.assertIn(stem, q.stdout)
        bad = esprim("0" * 32)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("kid", bad.stderr)

    def test_ts0003_8_1_2_2_initiator_from_another_ca_is_refused(self):
        other = Pki(self.ctl, os.path.join(self.S.tmp, uniq("otherpki")))
        stem, cert, key = self.new_device(pki=other)
        mark = self.audit.mark()
        before = set(self.e2e_list())
        p, out = self.kex(stem, cert, key)
        self.assertEqual(p.returncode, 1)
        self.assertIn("4106", p.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertEqual(set(self.e2e_list()), before, "no key is stored")
        ev = self.audit.wait_for(lambda e: e.get("reason") == "cert-untrusted", start=mark)
        self.assertIsNotNone(ev, "the refusal is audited with its reason")

    def test_ts0003_8_7_cli_refuses_a_cse_it_does_not_trust(self):
        """(A CSE certificate naming another CSE-ID than --to is refused too: unit test_escertke.)"""
        stem, cert, key = self.new_device()
        other = Pki(self.ctl, os.path.join(self.S.tmp, uniq("otherpki")))
        p, out = self.kex(stem, cert, key, cacert=other.ca_pem)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not trusted", p.stderr)
        self.assertFalse(os.path.exists(out))

    def test_ts0001_11_4_3_from_not_matching_the_certificate_is_refused(self):
        stem, cert, key = self.new_device()
        other, _, _ = self.new_device()  # registered, but not the AE the certificate names
        mark = self.audit.mark()
        before = set(self.e2e_list())
        p, _ = self.kex(other, cert, key)
        self.assertEqual(p.returncode, 1)
        self.assertIn("4106", p.stderr)
        self.assertEqual(set(self.e2e_list()), before, "no key is stored")
        ev = self.audit.wait_for(lambda e: e.get("reason") == "escertke-from-mismatch", start=mark)
        self.assertIsNotNone(ev, "the refusal is audited with reason escertke-from-mismatch")

    def test_ts0004_7_5_1_2_12_garbage_and_truncated_eckm_are_4000_and_end_the_exchange(self):
        stem, cert, key = self.new_device()
        init = Initiator(cert, key, self.pki.ca_pem)
        m1 = init.step()
        r = self.notify(stem, seci(m1))
        self.assertRsc(r, 2000)
        m2 = base64.b64decode(r.body["m2m:seci"]["eckm"])
        m3 = init.step(m2)
        self.assertTrue(m3)
        # Message 3 cut in half: 4000, and the exchange is gone: the whole Message 3 then finds none
        r = self.notify(stem, seci(m3[: len(m3) // 2]))
        self.assertRsc(r, 4000)
        r = self.notify(stem, seci(m3))
        self.assertRsc(r, 4000)
        self.assertIn("no exchange", json.dumps(r.body))
        # not base64, an empty eckm, other members: 4000
        for body in ({"m2m:seci": {"sit": 6, "eckm": "not base64!"}}, {"m2m:seci": {"sit": 6, "eckm": ""}},
                     {"m2m:seci": {"sit": 6}}, {"m2m:seci": {"sit": 6, "eckm": "AAAA", "x": 1}}):
            self.assertRsc(self.notify(stem, body), 4000)
        # garbage that is base64: 4000
        self.assertRsc(self.notify(stem, seci(os.urandom(200))), 4000)
        self.assertAlive()

    def test_ts0004_7_5_1_2_12_openssl_initiator_completes_with_the_cse(self):
        """A second TLS stack (OpenSSL) as initiator: the CSE accepts Message 3 and stores a key."""
        stem, cert, key = self.new_device()
        init = Initiator(cert, key, self.pki.ca_pem)
        r = self.notify(stem, seci(init.step()))
        self.assertRsc(r, 2000)
        m3 = init.step(base64.b64decode(r.body["m2m:seci"]["eckm"]))
        before = set(self.e2e_list())
        r = self.notify(stem, seci(m3))
        self.assertRsc(r, 2000)
        init.step(base64.b64decode(r.body["m2m:seci"]["eckm"]))
        self.assertEqual(init.tls.version(), "TLSv1.2")
        new = set(self.e2e_list()) - before
        self.assertEqual(len(new), 1)


class EscertkeCseToCseCase(TlsTestCase):
    """A CSE (/id-mn, its own store) initiating towards the IN-CSE: ``wardenctl kex`` over HTTPS with
    the MN's certificate; both stores then hold the key, each bound to the other CSE."""
    with_psk = False
    with_certs = True
    extra_args = ("--escertke.enable=1",)

    def test_ts0003_8_7_cse_initiates_towards_another_cse(self):
        pki = self.S.pki
        cert, key, _ = pki.issue("/id-mn", name="mn")
        mn_db = os.path.join(self.S.tmp, "mn.db")
        mn = Ctl(mn_db, ["--cse.id=/id-mn", "--tls.cert=%s" % cert, "--tls.key=%s" % key,
                         "--tls.ca=%s" % pki.ca_pem])
        mn.ok("init")
        p = mn.run("kex", "--to", "/id-in", "--url", "https://127.0.0.1:%d" % self.S.https_port)
        self.assertEqual(p.returncode, 0, p.stderr)
        kid = p.stdout.strip()
        self.assertRegex(kid, r"^[0-9a-f]{32}$")

        def entry(ctl):
            for line in ctl.ok("e2e", "list").stdout.splitlines():
                f = line.split("\t")
                if f[0] == kid:
                    return f[1], f[2], f[4]
            return None

        self.assertEqual(entry(mn), ("//%s/id-mn" % SPID, "//%s/id-in" % SPID, "escertke"))
        self.assertEqual(entry(self.ctl), ("//%s/id-in" % SPID, "//%s/id-mn" % SPID, "escertke"))
        # over plain HTTP a CSE originator has no security association: refused before ESCertKE (4107)
        p = mn.run("kex", "--to", "/id-in", "--url", "http://127.0.0.1:%d" % self.S.port)
        self.assertEqual(p.returncode, 1)
        self.assertIn("4107", p.stderr)


class EscertkeBoundsCase(EscertkeBase):
    extra_args = ("--escertke.enable=1", "--escertke.sessions=2", "--escertke.timeout=2")

    def test_limits_escertke_sessions_bound_and_timeout(self):
        devices = [self.new_device() for _ in range(3)]

        def start(dev):
            init = Initiator(dev[1], dev[2], self.S.pki.ca_pem)
            return self.c.request("POST", "/cse-in", origin=dev[0], body=seci(init.step()))

        def begin(dev):
            init = Initiator(dev[1], dev[2], self.S.pki.ca_pem)
            r = self.c.request("POST", "/cse-in", origin=dev[0], body=seci(init.step()))
            self.assertRsc(r, 2000)
            return init, base64.b64decode(r.body["m2m:seci"]["eckm"])

        def message3(dev, ex):
            return self.c.request("POST", "/cse-in", origin=dev[0], body=seci(ex[0].step(ex[1])))

        self.assertRsc(start(devices[0]), 2000)
        self.assertRsc(start(devices[1]), 2000)
        # the table is full (escertke.sessions=2): a newcomer is not refused (it was 5207 before red
        # finding 9) but evicts the oldest pending exchange, devices[0]'s; the table stays at 2
        ex2 = begin(devices[2])
        # the originator restarting its own exchange takes its own place, not a new one: it evicts
        # nobody else's, so devices[2]'s exchange is still there and completes
        self.assertRsc(start(devices[1]), 2000)
        self.assertRsc(message3(devices[2], ex2), 2000)
        # after escertke.timeout the exchanges in progress are dropped: a late Message 3 finds none
        t0 = time.time()
        ex0 = begin(devices[0])
        time.sleep(max(0.0, int(t0) + 3.2 - time.time()))  # the deadline is in whole seconds
        r = message3(devices[0], ex0)
        self.assertRsc(r, 4000)
        self.assertIn("no exchange in progress", json.dumps(r.body))


class EscertkeConfigTest(unittest.TestCase):
    def test_escertke_enable_without_a_certificate_stops_the_server_with_the_fix(self):
        from wardentest import ServerError, WardenServer
        srv = WardenServer(extra_args=("--escertke.enable=1",))
        try:
            with self.assertRaises(ServerError) as cm:
                srv.start()
            self.assertIn("escertke.enable=1 needs", str(cm.exception) + srv.output())
        finally:
            srv.cleanup()


class EscertkeDisabledCase(TlsTestCase):
    with_psk = False
    with_certs = True

    def test_escertke_enable_0_answers_5001(self):
        r = self.c.register_ae(origin="C" + uniq("kexd"))
        stem = self.res(r, "m2m:ae")["aei"]
        body = seci(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00")
        r = self.c.request("POST", "/cse-in", origin=stem, body=body)
        self.assertRsc(r, 5001)



class EscertkeTransitCase(unittest.TestCase):
    """TS-0001 §11.4.3, TS-0004 §7.5.1.2.12: `warden-cli kex` run by a device registered at an MN
    establishes a key with the IN; the MN forwards the NOTIFYs carrying the four flights as any
    NOTIFY (it holds no ESCertKE state and changes no byte: the TLS Finished messages of both ends
    cover every flight)."""

    @classmethod
    def setUpClass(cls):
        import shutil
        import tempfile
        from test_esprim import Relay
        from test_multicse import Cse
        cls.shutil = shutil
        cls.catmp = tempfile.mkdtemp(prefix="warden-kex-mn-")
        cls.pki = Pki(Ctl(os.path.join(cls.catmp, "ca.db")), os.path.join(cls.catmp, "pki"))
        cls.inc = Cse(cls.pki, "/id-in", "cse-in", extra=["--escertke.enable=1"]).start()
        cls.mn = Cse(cls.pki, "/id-mn", "cse-mn", cse_type="MN", registrar=cls.inc).start()
        cls.relay = Relay(cls.mn.srv.port)
        cls.ctl = Ctl(cls.inc.srv.store_path, ["--cse.id=/id-in", "--cse.rn=cse-in"])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if cls.mn.c.retrieve("/~/id-in/cse-in/nothing", origin="CAdmin").rsc == 4004:
                break
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()
        for c in (cls.mn, cls.inc):
            c.cleanup()
        cls.shutil.rmtree(cls.catmp, ignore_errors=True)

    def test_ts0001_11_4_3_warden_cli_kex_through_a_transit_mn(self):
        stem = uniq("Cdevmn")
        r = self.mn.c.create("/cse-mn", 2, {"rn": stem, "api": "Nkex", "rr": False}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        ident = "//%s/id-mn/%s" % (SPID, stem)
        cert, key, _ = self.pki.issue(ident)
        out = os.path.join(self.catmp, stem + ".json")
        argv = [cli_bin(), "kex", "-u", "http://127.0.0.1:%d" % self.relay.port, "-o", stem, "--cert", cert,
                "--key", key, "--cacert", self.pki.ca_pem, "--to", "/id-in", "--out", out]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        kid = p.stdout.strip()
        keys = {}
        for line in self.ctl.ok("e2e", "list").stdout.splitlines():
            f = line.split("\t")
            keys[f[0]] = (f[1], f[2], f[4])
        self.assertEqual(keys.get(kid), ("//%s/id-in" % SPID, ident, "escertke"))
        # the device spoke to the MN only; both of its NOTIFYs went to the IN's CSE-ID
        cap = self.relay.captured()
        self.assertEqual(cap.count(b"POST /~/id-in HTTP/1.1"), 2, cap[:300])
        self.assertEqual(cap.count(b'"sit":6') + cap.count(b'"sit": 6'), 4)


class EscertkeRed9SessionExhaustionCase(EscertkeBase):
    """Red finding 9 (TS-0003 §8.7.2.2, TS-0001 §11.4.3 C.1c): registered AEs that only send Message 1
    (ClientHello, no certificate yet) must not lock ESCertKE out for everyone. A full table of pending
    exchanges evicts the oldest one for a newcomer instead of answering 5207; one originator holds one
    exchange at most; the table stays bounded (escertke.sessions)."""
    extra_args = ("--escertke.enable=1", "--escertke.sessions=2", "--escertke.timeout=60")

    def attacker(self):
        return self.new_device()

    def begin(self, dev):
        init = Initiator(dev[1], dev[2], self.pki.ca_pem)
        r = self.notify(dev[0], seci(init.step()))
        self.assertRsc(r, 2000)
        return init, base64.b64decode(r.body["m2m:seci"]["eckm"])

    def message3(self, dev, ex):
        return self.notify(dev[0], seci(ex[0].step(ex[1])))

    def test_red_9_ts0003_8_7_2_2_pending_exchanges_do_not_lock_out_an_honest_initiator(self):
        attackers = [self.attacker() for _ in range(2)]
        # every attacker holds a pending exchange, and renews it (its own place each time)
        for _ in range(3):
            for a in attackers:
                self.begin(a)
        stem, cert, key = self.new_device()
        p, _ = self.kex(stem, cert, key)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        kid = p.stdout.strip()
        self.assertEqual(self.e2e_list()[kid][4], "active")

    def test_red_9_full_table_evicts_the_oldest_pending_exchange(self):
        a, b, c = (self.attacker() for _ in range(3))
        ex_a = self.begin(a)
        ex_b = self.begin(b)
        ex_c = self.begin(c)  # the table holds 2: a's, the oldest, goes
        r = self.message3(a, ex_a)
        self.assertRsc(r, 4000)
        self.assertIn("no exchange in progress", json.dumps(r.body))
        # b's and c's exchanges were kept and complete
        self.assertRsc(self.message3(b, ex_b), 2000)
        self.assertRsc(self.message3(c, ex_c), 2000)


class EscertkeRed10KeySupersededCase(EscertkeBase):
    """Red finding 10 (TS-0003 §8.7, §8.4): a new ESCertKE key of a (local, peer) pair revokes the
    pair's earlier ESCertKE keys, at once: one live ESCertKE key per pair, so the store does not grow
    with each exchange and a stolen older key stops opening ESPrim requests. Other pairs' keys stay."""
    extra_args = ("--escertke.enable=1",)

    def test_red_10_ts0003_8_7_new_key_revokes_the_pairs_earlier_keys(self):
        stem, cert, key = self.new_device()
        p1, out1 = self.kex(stem, cert, key)
        self.assertEqual(p1.returncode, 0, p1.stderr)
        other, ocert, okey = self.new_device()
        po, _ = self.kex(other, ocert, okey)
        self.assertEqual(po.returncode, 0, po.stderr)
        p2, out2 = self.kex(stem, cert, key)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        kid1, kid2, kido = p1.stdout.strip(), p2.stdout.strip(), po.stdout.strip()
        keys = self.e2e_list()
        self.assertEqual(keys[kid1][4], "revoked", "the pair's earlier key is superseded")
        self.assertEqual(keys[kid2][4], "active")
        self.assertEqual(keys[kido][4], "active", "another pair's key is not touched")
        live = [k for k, v in keys.items() if v[1] == ae_absolute(stem) and v[4] == "active"]
        self.assertEqual(live, [kid2])

        def esprim(kid, out):
            argv = [cli_bin(), "-u", "http://127.0.0.1:%d" % self.S.port, "-o", stem, "--esprim", kid,
                    "--esprim-key-file", out, "--esprim-to", "/id-in/cse-in", "get", "/cse-in/" + stem]
            return subprocess.run(argv, capture_output=True, text=True, timeout=30)

        old = esprim(kid1, out1)
        self.assertFalse(old.stderr.startswith("2000"), old.stdout + old.stderr)
        new = esprim(kid2, out2)
        self.assertTrue(new.stderr.startswith("2000"), new.stdout + new.stderr)

    def test_red_10_ts0003_8_7_cse_initiator_supersedes_its_own_earlier_key(self):
        """The sibling on the initiating side: `wardenctl kex` (a CSE towards the IN-CSE) revokes the
        pair's earlier key in its own store, as the IN-CSE does in its."""
        cert, key, _ = self.pki.issue("/id-mn", name="mn")
        mn = Ctl(os.path.join(self.S.tmp, uniq("mn") + ".db"),
                 ["--cse.id=/id-mn", "--tls.cert=%s" % cert, "--tls.key=%s" % key, "--tls.ca=%s" % self.pki.ca_pem])
        mn.ok("init")
        kids = []
        for _ in range(2):
            p = mn.run("kex", "--to", "/id-in", "--url", "https://127.0.0.1:%d" % self.S.https_port)
            self.assertEqual(p.returncode, 0, p.stderr)
            kids.append(p.stdout.strip())
        states = {}
        for line in mn.ok("e2e", "list").stdout.splitlines():
            f = line.split("\t")
            states[f[0]] = f[7]
        self.assertEqual((states[kids[0]], states[kids[1]]), ("revoked", "active"))
        keys = self.e2e_list()
        self.assertEqual((keys[kids[0]][4], keys[kids[1]][4]), ("revoked", "active"))


class EscertkeRed10KeyLifetimeCase(EscertkeBase):
    """escertke.key_lifetime: an ESCertKE key expires that many seconds after it was established
    (default 0: no expiry, the key lives until the pair's next exchange supersedes it)."""
    extra_args = ("--escertke.enable=1", "--escertke.key_lifetime=3600")

    def test_red_10_escertke_key_lifetime_sets_the_keys_expiry(self):
        stem, cert, key = self.new_device()
        p, _ = self.kex(stem, cert, key)
        self.assertEqual(p.returncode, 0, p.stderr)
        kid = p.stdout.strip()
        for line in self.ctl.ok("e2e", "list").stdout.splitlines():
            f = line.split("\t")
            if f[0] == kid:
                self.assertEqual(ts_epoch(f[6]) - ts_epoch(f[5]), 3600, line)
                self.assertEqual(f[7], "active")
                break
        else:
            self.fail("key %s not listed" % kid)


if __name__ == "__main__":
    main()
