#!/usr/bin/python3
"""ESData (TS-0003 §8.5) through a real warden with warden-cli at both end-points: content signed,
encrypted or both (nested sign-then-encrypt) by the originator is stored and served by the CSE
byte for byte (JSON and CBOR) and verified / decrypted by the reader; a modified or wrongly keyed
envelope is refused by the client with exit status 1. The CSE checks, without any key, that content
whose contentInfo says JOSE (TS-0004 §6.3.4.2.38) has the syntax it claims.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_esdata.py
(warden-cli is taken from the directory of WARDEN_BIN; keys are made with openssl.)
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_RN, TY_CIN, WardenTestCase, main, start_shared_server,  # noqa: E402
                        stop_shared_server, uniq, warden_bin)
from cbor_codec import decode as cbor_decode  # noqa: E402

TIMEOUT = 30
TY_TS, TY_TSI = 29, 30
MSG = '{"temperature":21.5,"unit":"C"}'


def setUpModule():
    start_shared_server()


def tearDownModule():
    stop_shared_server()


def cli_bin():
    return os.path.join(os.path.dirname(warden_bin()), "warden-cli")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=TIMEOUT)


def flip_middle(s, start, end):
    """s with one base64url character changed in the middle of s[start:end]."""
    i = (start + end) // 2
    return s[:i] + ("Q" if s[i] == "A" else "A") + s[i + 1:]


class EsdataCase(WardenTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.key = {}
        for name, curve in (("ec", "P-256"), ("ec2", "P-256")):
            priv, pub = os.path.join(d, name + ".pem"), os.path.join(d, name + ".pub.pem")
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + curve, "-out", priv)
            openssl("pkey", "-in", priv, "-pubout", "-out", pub)
            cls.key[name], cls.key[name + ".pub"] = priv, pub
        for name in ("k256", "k256b"):
            path = os.path.join(d, name + ".hex")
            openssl("rand", "-hex", "-out", path, "32")
            cls.key[name] = path
        aei, _, cls.ae_path, _ = cls.new_ae_cls()
        cls.aei = aei

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    @classmethod
    def new_ae_cls(cls):
        r = cls.c.register_ae(origin="C" + uniq("esd"))
        ae = r.body["m2m:ae"]
        return ae["aei"], ae["rn"], "/%s/%s" % (CSE_RN, ae["rn"]), ae

    def cli(self, *args):
        argv = [cli_bin(), "--url", "http://127.0.0.1:%d" % self.server.port, "-o", self.aei] + list(args)
        p = subprocess.run(argv, capture_output=True, timeout=TIMEOUT)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def cnt(self):
        path, _ = self.new_cnt(self.ae_path, self.aei)
        return path.lstrip("/")

    def create_protected(self, cnt, *opts, con=MSG, cnf=None):
        body = {"con": con}
        if cnf:
            body["cnf"] = cnf
        rc, out, err = self.cli(*opts, "create", cnt, "cin", json.dumps(body))
        self.assertEqual(rc, 0, err + out)
        self.assertTrue(err.startswith("2001"), err)
        return json.loads(out)["m2m:cin"]

    def open_ok(self, path, *opts):
        rc, out, err = self.cli(*opts, "get", path)
        self.assertEqual(rc, 0, "warden-cli get %s: rc %d\n%s%s" % (path, rc, out, err))
        return json.loads(out)["m2m:cin"]["con"], err

    def refused(self, path, *opts, why):
        rc, out, err = self.cli(*opts, "get", path)
        self.assertEqual(rc, 1, "want exit 1, got %d\n%s%s" % (rc, out, err))
        self.assertIn(why, err)
        self.assertNotIn(MSG, out)  # nothing unverified reaches standard output

    # -- §8.5.3.3 signature-only -----------------------------------------------------------------

    def test_ts0003_8_5_3_3_signed_content_round_trip_through_cse(self):
        cnt = self.cnt()
        for alg, sk, vk in (("ES256", self.key["ec"], self.key["ec.pub"]), ("HS256", self.key["k256"], self.key["k256"])):
            with self.subTest(alg=alg):
                cin = self.create_protected(cnt, "--sign", alg, "--sign-key", sk, cnf="application/json:0")
                self.assertEqual(cin["cnf"], "application/json:0:1")
                self.assertEqual(cin["con"].count("."), 2)  # a JWS compact serialisation
                con, err = self.open_ok(cnt + "/" + cin["rn"], "--verify-key", vk)
                self.assertEqual(con, MSG)
                self.assertIn("signature verified (%s)" % alg, err)

    def test_ts0003_8_5_3_3_tampered_or_wrongly_keyed_signature_refused_by_client(self):
        cnt = self.cnt()
        cin = self.create_protected(cnt, "--sign", "ES256", "--sign-key", self.key["ec"])
        jws = cin["con"]
        d1, d2 = jws.index("."), jws.rindex(".")
        # a second contentInstance with one byte of the payload changed: the CSE (keyless) takes it
        tampered = flip_middle(jws, d1 + 1, d2)
        r = self.c.create("/" + cnt, TY_CIN, {"con": tampered, "cnf": cin["cnf"], "rn": "tampered"}, origin=self.aei)
        self.assertRsc(r, 2001)
        self.refused(cnt + "/tampered", "--verify-key", self.key["ec.pub"], why="signature does not verify")
        # the original, with another EC key, or with a shared secret (HS/ES confusion)
        self.refused(cnt + "/" + cin["rn"], "--verify-key", self.key["ec2.pub"], why="signature does not verify")
        self.refused(cnt + "/" + cin["rn"], "--verify-key", self.key["k256"], why="does not fit the algorithm")
        # an allow-list without ES256
        self.refused(cnt + "/" + cin["rn"], "--verify-key", self.key["ec.pub"], "--allow", "HS256",
                     why="algorithm not allowed")
        # alg none, hand-made: refused whatever the key
        none = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode() + jws[d1:d2] + "."
        self.assertRsc(self.c.create("/" + cnt, TY_CIN, {"con": none, "cnf": "text/plain:0:1", "rn": "none"},
                                     origin=self.aei), 2001)
        self.refused(cnt + "/none", "--verify-key", self.key["k256"], why="algorithm not allowed")
        # content that is not protected at all is not passed off as verified
        self.assertRsc(self.c.create("/" + cnt, TY_CIN, {"con": MSG, "rn": "plain"}, origin=self.aei), 2001)
        self.refused(cnt + "/plain", "--verify-key", self.key["ec.pub"], why="not protected")

    # -- §8.5.3.2 encryption-only ----------------------------------------------------------------

    def test_ts0003_8_5_3_2_encrypted_content_round_trip_through_cse(self):
        cnt = self.cnt()
        for opts, cnf in ((("--encrypt", "A256KW"), ":1"), (("--encrypt", "dir"), ":1"),
                          (("--encrypt", "A256KW", "--enc", "A128GCM"), ":1"),
                          (("--encrypt", "A256KW", "--jose-json"), ":2")):
            with self.subTest(opts=opts):
                cin = self.create_protected(cnt, *opts, "--encrypt-key", self.key["k256"])
                self.assertTrue(cin["cnf"].endswith(cnf), cin["cnf"])
                self.assertNotIn("temperature", cin["con"])
                con, err = self.open_ok(cnt + "/" + cin["rn"], "--decrypt-key", self.key["k256"])
                self.assertEqual(con, MSG)
                self.assertIn("decrypted", err)
                # encryption alone names no origin: refused when a signature is required
                self.refused(cnt + "/" + cin["rn"], "--decrypt-key", self.key["k256"], "--require-signature",
                             why="signature by a private key is required")

    def test_ts0003_8_5_3_2_tampered_or_wrongly_keyed_ciphertext_refused_by_client(self):
        cnt = self.cnt()
        cin = self.create_protected(cnt, "--encrypt", "A256KW", "--encrypt-key", self.key["k256"])
        parts = cin["con"].split(".")
        for i in (0, 1, 2, 3, 4):
            if i == 0:
                hdr = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
                hdr["kid"] = "x"
                p = list(parts)
                p[0] = base64.urlsafe_b64encode(json.dumps(hdr).encode()).rstrip(b"=").decode()
            else:
                p = list(parts)
                p[i] = flip_middle(p[i], 0, len(p[i]))
            rn = "t%d" % i
            self.assertRsc(self.c.create("/" + cnt, TY_CIN, {"con": ".".join(p), "cnf": cin["cnf"], "rn": rn},
                                         origin=self.aei), 2001)
            self.refused(cnt + "/" + rn, "--decrypt-key", self.key["k256"], why="decryption failed")
        self.refused(cnt + "/" + cin["rn"], "--decrypt-key", self.key["k256b"], why="decryption failed")
        self.refused(cnt + "/" + cin["rn"], "--verify-key", self.key["ec.pub"], why="needs a key that was not given")

    # -- §8.5.3.4 nested sign-then-encrypt -------------------------------------------------------

    def test_ts0003_8_5_3_4_nested_content_round_trip_and_tamper(self):
        cnt = self.cnt()
        cin = self.create_protected(cnt, "--sign", "ES256", "--sign-key", self.key["ec"], "--encrypt", "A256KW",
                                    "--encrypt-key", self.key["k256"])
        self.assertEqual(cin["con"].count("."), 4)
        path = cnt + "/" + cin["rn"]
        con, err = self.open_ok(path, "--decrypt-key", self.key["k256"], "--verify-key", self.key["ec.pub"],
                                "--require-signature")
        self.assertEqual(con, MSG)
        self.assertIn("decrypted (A256KW, A256GCM), signature verified (ES256)", err)
        self.refused(path, "--decrypt-key", self.key["k256"], why="needs a key that was not given")
        self.refused(path, "--decrypt-key", self.key["k256"], "--verify-key", self.key["ec2.pub"],
                     why="signature does not verify")
        # the inner signature must be a private key's (§8.5.2.4): an HMAC is refused at creation
        rc, out, err = self.cli("--sign", "HS256", "--sign-key", self.key["k256"], "--encrypt", "dir",
                                "--encrypt-key", self.key["k256"], "create", cnt, "cin", json.dumps({"con": MSG}))
        self.assertEqual(rc, 1, err)
        self.assertIn("signature by a private key is required", err)

    def test_ts0003_8_5_keys_come_from_files_never_argv(self):
        cnt = self.cnt()
        with open(self.key["k256"]) as f:
            secret = f.read().strip()
        rc, out, err = self.cli("--sign", "HS256", "--sign-key", secret, "create", cnt, "cin", json.dumps({"con": "x"}))
        self.assertEqual(rc, 2, err)
        self.assertIn("No such file", err)

    # -- TS-0004 §6.3.4.2.38 on the CSE ----------------------------------------------------------

    def test_ts0004_6_3_4_2_38_cse_checks_the_syntax_contentsecurity_claims(self):
        cnt = "/" + self.cnt()
        jws = self.create_protected(cnt.lstrip("/"), "--sign", "HS256", "--sign-key", self.key["k256"])["con"]
        jwe_json = self.create_protected(cnt.lstrip("/"), "--encrypt", "dir", "--encrypt-key", self.key["k256"],
                                         "--jose-json")["con"]
        ok = [("text/plain:0:1", jws), ("text/plain:0:0", "anything"), ("text/plain:0", "anything"),
              ("application/json:0:2", jwe_json), ("application/json:0:2", json.loads(jwe_json)),
              ("application/json:0:3", base64.b64encode(jwe_json.encode()).decode()),
              ("application/xml:0:4", "<EncryptedData/>"), ("application/xml:0:5", "PEVuY3J5cHRlZERhdGEvPg==")]
        for cnf, con in ok:
            with self.subTest(cnf=cnf, con=str(con)[:20]):
                self.assertRsc(self.c.create(cnt, TY_CIN, {"con": con, "cnf": cnf}, origin=self.aei), 2001)
        bad = [("text/plain:0:1", "hello"), ("text/plain:0:1", "a.b.c"), ("text/plain:0:1", jws + "."),
               ("text/plain:0:1", jws.replace(".", "=.", 1)), ("text/plain:0:1", {"x": 1}),
               ("text/plain:0:1", "e30.e30.e30"), ("application/json:0:2", "{}"), ("application/json:0:2", jws),
               ("application/json:0:3", "not base64!"), ("application/xml:0:5", "x"), ("application/xml:0:4", "")]
        for cnf, con in bad:
            with self.subTest(cnf=cnf, con=str(con)[:20]):
                r = self.assertRsc(self.c.create(cnt, TY_CIN, {"con": con, "cnf": cnf}, origin=self.aei), 4000)
                self.assertIn("contentSecurity", r.body["m2m:dbg"])

    def test_ts0004_6_3_4_2_38_timeseries_cnf_applies_to_its_instances(self):
        r = self.c.create(self.ae_path, TY_TS, {"rn": uniq("ts"), "cnf": "text/plain:0:1"}, origin=self.aei,
                          root="m2m:ts")
        self.assertRsc(r, 2001)
        ts = self.ae_path + "/" + r.body["m2m:ts"]["rn"]
        jws = self.create_protected(self.cnt(), "--sign", "HS256", "--sign-key", self.key["k256"])["con"]
        self.assertRsc(self.c.create(ts, TY_TSI, {"dgt": "20260101T000000", "con": jws}, origin=self.aei,
                                     root="m2m:tsi"), 2001)
        r = self.c.create(ts, TY_TSI, {"dgt": "20260101T000001", "con": "plain"}, origin=self.aei, root="m2m:tsi")
        self.assertRsc(r, 4000)
        # and a timeSeries' cnf is an m2m:contentInfo (it was any string)
        self.assertRsc(self.c.create(self.ae_path, TY_TS, {"cnf": "not a content info"}, origin=self.aei,
                                     root="m2m:ts"), 4000)

    def raw_get(self, path, accept):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=TIMEOUT)
        try:
            conn.request("GET", path, headers={"X-M2M-Origin": self.aei, "X-M2M-RI": uniq("ri"), "X-M2M-RVI": "3",
                                               "Accept": accept})
            r = conn.getresponse()
            return r.getheader("X-M2M-RSC"), r.read()
        finally:
            conn.close()

    def test_ts0004_6_3_4_2_38_content_stored_and_served_byte_exact_json_and_cbor(self):
        cnt = self.cnt()
        nested = self.create_protected(cnt, "--sign", "ES256", "--sign-key", self.key["ec"], "--encrypt", "A256KW",
                                       "--encrypt-key", self.key["k256"])
        jwe_json = self.create_protected(cnt, "--encrypt", "A256KW", "--encrypt-key", self.key["k256"], "--jose-json")
        cases = ((nested, ("--decrypt-key", self.key["k256"], "--verify-key", self.key["ec.pub"])),
                 (jwe_json, ("--decrypt-key", self.key["k256"])))
        for cin, opts in cases:
            path = "/%s/%s" % (cnt, cin["rn"])
            sent = cin["con"]
            rsc, body = self.raw_get(path, "application/json")
            self.assertEqual(rsc, "2000")
            self.assertEqual(json.loads(body)["m2m:cin"]["con"], sent)
            if "{" not in sent:  # a compact serialisation needs no JSON escaping: the very bytes
                self.assertIn(b'"con":"' + sent.encode() + b'"', body.replace(b'": "', b'":"'))
            rsc, body = self.raw_get(path, "application/cbor")
            self.assertEqual(rsc, "2000")
            self.assertEqual(cbor_decode(body)["m2m:cin"]["con"], sent)
            self.assertIn(sent.encode(), body)  # a CBOR text string holds the UTF-8 bytes as they are
            con, _ = self.open_ok(path.lstrip("/"), *opts)  # and it still opens
            self.assertEqual(con, MSG)

if __name__ == "__main__":
    main()
