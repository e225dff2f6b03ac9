#!/usr/bin/python3
"""wardenctl authz init / token issue (issue 15, "The README runs as written"): a development
Authorization Authority whose issuers file the server loads (authz.issuers) and whose tokens it
accepts exactly as TS-0003 §7.3.2.5-7.3.2.6 ask (holder, audience, lifetime, permissions, roles).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_wardenctl_authz.py
"""

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import WardenServer, warden_bin  # noqa: E402

TY_AE, TY_ACP, TY_CNT = 2, 1, 3


def ctl(*args, cwd, check=True):
    r = subprocess.run([os.path.join(os.path.dirname(warden_bin()), "wardenctl")] + list(args), cwd=cwd,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError("wardenctl %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class AuthzInitTokenIssue(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="warden-authz-")
        cls.init_out = ctl("authz", "init", "authz", cwd=cls.tmp).stdout
        cls.srv = WardenServer(["--authz.issuers=%s" % os.path.join(cls.tmp, "authz", "issuers.json")]).start()
        c = cls.c = cls.srv.client()
        for origin, rn in (("Cowner", "owner"), ("Cholder", "holder"), ("Cother", "other")):
            r = c.create("/cse-in", TY_AE, {"rn": rn, "api": "N" + rn, "rr": False}, origin=origin, root="m2m:ae")
            assert r.rsc == 2001, r
        r = c.create("/cse-in/owner", TY_ACP, {"rn": "svc", "pv": {"acr": [{"acor": ["fixer"], "acop": 2},
                                                                           {"acor": ["Cowner"], "acop": 63}]},
                                              "pvs": {"acr": [{"acor": ["Cowner"], "acop": 63}]}},
                     origin="Cowner", root="m2m:acp")
        assert r.rsc == 2001, r
        r = c.create("/cse-in/owner", TY_CNT, {"rn": "data", "acpi": ["cse-in/owner/svc"]}, origin="Cowner",
                     root="m2m:cnt")
        assert r.rsc == 2001, r

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def issue(self, *args, check=True):
        return ctl("token", "issue", "--key", "authz/CAuth.jwk", *args, cwd=self.tmp, check=check)

    def get(self, origin, token=None, query=None):
        headers = {"Authorization": "Bearer " + token} if token else None
        return self.c.request("GET", "/cse-in/owner/data", origin=origin, headers=headers, query=query)

    def test_issue_15_authz_init_writes_owner_only_files_and_says_so(self):
        d = os.path.join(self.tmp, "authz")
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700)
        for name in ("CAuth.jwk", "issuers.json"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode), 0o600, name)
            self.assertIn("authz/" + name, self.init_out)
        with open(os.path.join(d, "issuers.json")) as f:
            issuers = json.load(f)["issuers"]
        self.assertEqual([i["id"] for i in issuers], ["CAuth"])
        ec = [k for k in issuers[0]["keys"] if k["kty"] == "EC"]
        self.assertEqual(len(ec), 1)
        self.assertNotIn("d", ec[0], "the issuers file must hold the public EC key only")

    def test_issue_15_authz_init_refuses_an_authority_twice_and_adds_another(self):
        r = ctl("authz", "init", "authz", cwd=self.tmp, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists", r.stderr)
        tmp = tempfile.mkdtemp(prefix="warden-authz2-")
        try:
            ctl("authz", "init", "a", cwd=tmp)
            ctl("authz", "init", "a", "--id", "CDas", "--das", "http://127.0.0.1:9/das", cwd=tmp)
            with open(os.path.join(tmp, "a", "issuers.json")) as f:
                issuers = json.load(f)["issuers"]
            self.assertEqual([i["id"] for i in issuers], ["CAuth", "CDas"])
            self.assertEqual(issuers[1]["das"], ["http://127.0.0.1:9/das"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_issue_15_token_issue_claims_ts0003_7_3_2_6(self):
        before = int(time.time())
        tok = self.issue("--holder", "Cholder", "--ris", "cse-in/owner/data", "--acop", "2", "--lifetime", "120",
                         "--rids", "fixer").stdout.strip()
        c = claims(tok)
        self.assertEqual((c["tkvr"], c["iss"], c["azp"], c["aud"]), ("1", "CAuth", "Cholder", ["/id-in"]))
        self.assertTrue(c["jti"])
        self.assertTrue(before <= c["nbf"] <= int(time.time()))
        self.assertEqual(c["exp"] - c["nbf"], 120)
        self.assertEqual(c["tkps"], {"pm": [{"ris": ["cse-in/owner/data"],
                                              "pv": {"acr": [{"acor": ["Cholder"], "acop": 2}]},
                                              "rids": ["fixer"]}]})
        header = json.loads(base64.urlsafe_b64decode(tok.split(".")[0] + "=="))
        self.assertEqual((header["alg"], header["typ"]), ("ES256", "JWT"))

    def test_issue_15_the_server_accepts_issued_tokens_es256_and_hs256_and_assigns_an_ati(self):
        self.assertEqual(self.get("Cholder").rsc, 4103)
        for alg in ("ES256", "HS256"):
            tok = self.issue("--holder", "Cholder", "--ris", "cse-in/owner/data", "--acop", "2",
                             "--alg", alg).stdout.strip()
            r = self.get("Cholder", tok)
            self.assertEqual(r.rsc, 2000, "%s: %s" % (alg, r))
            ati = r.headers.get("X-M2M-ATI")
            self.assertTrue(ati and ati.endswith(":" + claims(tok)["jti"]), ati)
            r = self.get("Cholder", query={"ltids": ati.split(":")[0]})
            self.assertEqual(r.rsc, 2000, "%s by ltids: %s" % (alg, r))

    def test_issue_15_a_role_token_counts_where_the_acp_grants_the_role(self):
        tok = self.issue("--holder", "Cholder", "--rids", "fixer").stdout.strip()
        self.assertEqual(self.get("Cholder", tok).rsc, 2000)

    def test_issue_15_a_token_counts_for_its_holder_only(self):
        tok = self.issue("--holder", "Cholder", "--ris", "cse-in/owner/data", "--acop", "2").stdout.strip()
        self.assertEqual(self.get("Cother", tok).rsc, 4103)

    def test_issue_15_token_issue_refuses_tokens_that_grant_nothing_or_bad_options(self):
        for args, text in ((["--holder", "Cholder"], "grant nothing"),
                           (["--holder", "Cholder", "--acop", "2"], "--ris"),
                           (["--holder", "Cholder", "--rids", "x", "--alg", "none"], "ES256 or HS256"),
                           (["--holder", "Cholder", "--rids", "x", "--lifetime", "0"], "--lifetime"),
                           (["--holder", "Cholder", "--rids", "x", "--aud", "Cnotacse"], "not a CSE-ID")):
            r = self.issue(*args, check=False)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn(text, r.stderr, args)
            self.assertEqual(r.stdout, "", args)

    def test_issue_15_token_issue_refuses_a_key_file_open_to_others(self):
        tmp = tempfile.mkdtemp(prefix="warden-authz3-")
        try:
            ctl("authz", "init", "a", cwd=tmp)
            os.chmod(os.path.join(tmp, "a", "CAuth.jwk"), 0o644)
            r = ctl("token", "issue", "--key", "a/CAuth.jwk", "--holder", "Cx", "--rids", "r", cwd=tmp, check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("chmod 600", r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
