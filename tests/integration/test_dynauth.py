#!/usr/bin/python3
"""Dynamic authorization through a Dynamic Authorization Server: <dynamicAuthorizationConsultation>
(ty 34) linked by daci, direct consultation (NOTIFY with m2m:seci sit 1/2, dai grants cached for
their lifetime, tokens from the DAS), the indirect flow (tqi -> 4103 with tqf, token from the DAS,
retry), a DAS that is down or slow, and the explanation of each.

TS-0003 7.3.2.3 (direct), 7.3.2.4 (indirect), TS-0001 11.5, TS-0004 6.3.5.43-48 and 7.4.36.

The DAS is the project's reference server, build/warden-das, started here with a policy file.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_dynauth.py
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jwcrypto import jwk  # noqa: E402

from wardentest import ADMIN, CSE_RN, SPID, WardenTestCase, free_port, main, uniq  # noqa: E402

TY_ACP, TY_DAC = 1, 34
OWN_CSE = "//%s/id-in" % SPID
OWNER, USER, TOKUSER, OTHER = "Cdowner", "Cduser", "Cdtok", "Cdother"
DAS_ID = "CDas"
GRANT_S = 4  # privilegesLifetime of the DAS's direct grants, in seconds


def abs_ae(stem):
    return "%s/%s" % (OWN_CSE, stem)


DAS_KEY = jwk.JWK.generate(kty="EC", crv="P-256", kid="das1")
TMP = tempfile.mkdtemp(prefix="warden-dynauth-")


class Das:
    """One build/warden-das process on a free loopback port."""

    def __init__(self, rules, delay_ms=0):
        self.port = free_port()
        self.policy = os.path.join(TMP, "das-%d.json" % self.port)
        with open(self.policy, "w") as f:
            json.dump({"id": DAS_ID, "cse": OWN_CSE, "alg": "ES256", "key": json.loads(DAS_KEY.export()),
                       "delay_ms": delay_ms, "rules": rules}, f)
        binary = os.path.join(os.path.dirname(os.path.abspath(os.environ.get("WARDEN_BIN", "build/warden"))),
                              "warden-das")
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--policy", self.policy],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = []
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.lines.append(line)
                if "ready" in line:
                    ready.set()
        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("warden-das did not start")
        self.uri = "http://127.0.0.1:%d/das" % self.port

    def consultations(self):
        """The DAS's own count of answered consultations. It counts before it answers, so once the
        CSE has responded to a request the figure includes that request's consultation (the log
        lines on stderr are read by a thread of this process and may lag)."""
        with urllib.request.urlopen(self.uri, timeout=5) as r:
            return json.load(r)["consultations"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def rule(orig, grant, lifetime=60):
    return {"or": abs_ae(orig), "trid": "*", "op": [2], "grant": grant, "lifetime": lifetime}


class DynAuthTest(WardenTestCase):
    @classmethod
    def setUpClass(cls):
        cls.das = Das([rule(USER, "privileges", lifetime=GRANT_S), rule(TOKUSER, "token")])
        cls.slow = Das([rule(USER, "privileges")], delay_ms=6000)
        issuers = os.path.join(TMP, "issuers.json")
        with open(issuers, "w") as f:
            # "das": the DAS answers as this issuer; a token in a DAS's answer is accepted only from an
            # issuer that lists that DAS (issue 12, finding 25)
            json.dump({"issuers": [{"id": DAS_ID, "keys": [json.loads(DAS_KEY.export_public())],
                                    "das": [cls.das.uri]}]}, f)
        cls.server_args = ("--authz.issuers=%s" % issuers, "--notify.allow=127.0.0.1/32",
                           "--authz.das_timeout=1500", "--authz.das_backoff=2000")
        super().setUpClass()
        for stem in (OWNER, USER, TOKUSER, OTHER):
            r = cls.c.register_ae(origin=stem, rn=stem.lower())
            assert r.rsc == 2001, r
        cls.owner = "/%s/%s" % (CSE_RN, OWNER.lower())

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.das.stop()
        cls.slow.stop()

    def dac(self, uri):
        r = self.c.create(self.owner, TY_DAC, {"rn": uniq("dac"), "dae": True, "dap": [uri]}, origin=OWNER,
                          root="m2m:dac")
        self.assertRsc(r, 2001)
        return r.body["m2m:dac"]["ri"]

    def guarded(self, uri):
        """A container of OWNER that its ACP closes to everybody else, consulting the DAS at uri."""
        acp = self.c.create(self.owner, TY_ACP, {"rn": uniq("acp"),
                                                 "pv": {"acr": [{"acor": ["nobody"], "acop": 2}]},
                                                 "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}},
                            origin=OWNER, root="m2m:acp")
        self.assertRsc(acp, 2001)
        self.last_dac = self.dac(uri)
        path, cnt = self.new_cnt(self.owner, OWNER, acpi=[acp.body["m2m:acp"]["ri"]], daci=[self.last_dac])
        return path, cnt["ri"]

    def explain(self, fr, to, headers=None):
        r = self.c.retrieve("/%s/$explain" % CSE_RN, origin=ADMIN, headers=headers,
                            query={"exfr": fr, "exop": "retrieve", "exto": to})
        return self.assertRsc(r, 2000).body["wdn:explain"]

    def test_ts0003_7_3_2_3_direct_grant_cached_then_expires(self):
        path, _ = self.guarded(self.das.uri)
        before = self.das.consultations()
        t_grant = time.time()
        self.assertRsc(self.c.retrieve(path, origin=USER), 2000, "the DAS grants")
        self.assertRsc(self.c.retrieve(path, origin=USER), 2000, "the cached grant")
        self.assertEqual(self.das.consultations(), before + 1, "a cached grant needs no consultation")
        x = self.explain(USER, path[1:])
        self.assertEqual(x["decision"], "PERMIT")
        self.assertIn("dynamic grant from %s" % self.das.uri, "\n".join(x["reasons"]))
        time.sleep(max(0.0, t_grant + GRANT_S + 1.2 - time.time()))  # the grant's privilegesLifetime ends
        x = self.explain(USER, path[1:])
        self.assertEqual(x["decision"], "DENY", "the grant expired")
        self.assertIn("a request would consult", "\n".join(x["reasons"]))
        self.assertRsc(self.c.retrieve(path, origin=USER), 2000, "consulted again")
        self.assertEqual(self.das.consultations(), before + 2)

    def test_ts0003_7_3_2_3_das_denies(self):
        path, _ = self.guarded(self.das.uri)
        r = self.assertRsc(self.c.retrieve(path, origin=OTHER), 4103)
        self.assertIn("das-denied", r.body["m2m:dbg"])
        x = self.explain(OTHER, path[1:])
        self.assertEqual(x["decision"], "DENY", "nothing granted, nothing cached")
        self.assertIn("a request would consult %s" % self.das.uri, "\n".join(x["reasons"]))

    def test_ts0003_7_3_2_3_token_from_the_das(self):
        path, _ = self.guarded(self.das.uri)
        before = self.das.consultations()
        self.assertRsc(self.c.retrieve(path, origin=TOKUSER), 2000)
        self.assertRsc(self.c.retrieve(path, origin=TOKUSER), 2000, "the DAS's token, kept for its lifetime")
        self.assertEqual(self.das.consultations(), before + 1)
        x = self.explain(TOKUSER, path[1:])
        self.assertEqual(x["decision"], "PERMIT")
        self.assertIn("dynamic grant from %s" % self.das.uri, "\n".join(x["reasons"]))

    def test_ts0003_7_3_2_4_indirect_tqi_tqf_then_token(self):
        path, ri = self.guarded(self.das.uri)
        r = self.c.retrieve(path, origin=TOKUSER, query={"tqi": "true"})
        self.assertEqual(r.rsc, 4103, self.describe(r))
        self.assertNotIn("m2m:dbg", r.body, "no debugging information beside tqf (TS-0009)")
        x = self.c.retrieve("/%s/$explain" % CSE_RN, origin=ADMIN,
                            query={"exfr": TOKUSER, "exop": "retrieve", "exto": path[1:], "tqi": "true"})
        self.assertIn("a request would be told to ask %s" % self.das.uri,
                      "\n".join(self.assertRsc(x, 2000).body["wdn:explain"]["reasons"]))
        dasi = r.body["m2m:tqf"]["dasi"]
        self.assertEqual(dasi[0]["uri"], self.das.uri)
        dreq = dasi[0]["dreq"]
        self.assertEqual(dreq["or"], abs_ae(TOKUSER))
        self.assertEqual(dreq["trid"], ri)
        # the originator asks the DAS itself, with what tqf told it
        req = urllib.request.Request(dasi[0]["uri"], data=json.dumps({"m2m:seci": {"sit": 1, "dreq": dreq}}).encode(),
                                     headers={"Content-Type": "application/json", "X-M2M-Origin": TOKUSER,
                                              "X-M2M-RI": "t1"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            dres = json.loads(resp.read())["m2m:seci"]["dres"]
        tok = dres["tkns"][0]
        r = self.assertRsc(self.c.retrieve(path, origin=TOKUSER, headers={"Authorization": tok}), 2000)
        self.assertIn("X-M2M-ATI", r.headers)

    def test_ts0003_7_3_2_3_das_down_fast_denial(self):
        dead = "http://127.0.0.1:%d/das" % free_port()
        path, _ = self.guarded(dead)
        t0 = time.monotonic()
        r = self.assertRsc(self.c.retrieve(path, origin=USER), 4103)
        first = time.monotonic() - t0
        self.assertIn("das-unavailable", r.body["m2m:dbg"])
        r = self.assertRsc(self.c.retrieve(path, origin=USER), 4103)
        self.assertIn("failed recently", r.body["m2m:dbg"], "a failed DAS is not asked again at once")
        x = self.explain(USER, path[1:])
        self.assertEqual(x["decision"], "DENY")
        self.assertIn("a request would be denied at once (das-unavailable)", "\n".join(x["reasons"]))
        self.assertLess(first, 2.0, "refused connection answered within the consultation timeout")

    def test_ts0003_7_3_2_3_slow_das_never_stalls_other_requests(self):
        # as many slow consultations as the server has worker threads (2 here): parked, they hold none
        path, _ = self.guarded(self.slow.uri)
        done = []

        def slow_request():
            r = self.c.retrieve(path, origin=USER)
            done.append((r.rsc, time.monotonic()))
        t0 = time.monotonic()
        ths = [threading.Thread(target=slow_request) for _ in range(2)]
        for th in ths:
            th.start()
        time.sleep(0.1)
        for _ in range(3):
            self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=ADMIN), 2000)
        others_end = time.monotonic()
        for th in ths:
            th.join(10)
        self.assertEqual([rsc for rsc, _ in done], [4103, 4103], "the slow DAS timed out: denied")
        self.assertLess(max(end for _, end in done) - t0, 4.5,
                        "bounded by authz.das_timeout (1.5 s), not the DAS's 6 s")
        self.assertLess(others_end, min(end for _, end in done),
                        "other requests were answered while the consultations were still waiting")

    def test_ts0003_7_3_2_3_discovery_never_consults_per_resource(self):
        for _ in range(3):
            self.guarded(self.das.uri)
        before = self.das.consultations()
        r = self.c.retrieve(self.owner, origin=OTHER, query={"fu": 1, "ty": 3})
        self.assertIn(r.rsc, (2000, 4103), self.describe(r))
        self.assertEqual(self.das.consultations(), before, "discovery filtered without calling the DAS")

    def test_ts0004_7_4_36_dap_under_the_outbound_policy(self):
        r = self.c.create(self.owner, TY_DAC, {"dae": True, "dap": ["http://10.1.2.3/das"]}, origin=OWNER,
                          root="m2m:dac")
        self.assertRsc(r, 4000)
        r = self.c.create(self.owner, TY_DAC, {"dae": True, "dap": ["mqtt://127.0.0.1/das"]}, origin=OWNER,
                          root="m2m:dac")
        self.assertRsc(r, 4000)

    def test_ts0001_9_6_40_disabled_dac_is_not_consulted(self):
        path, _ = self.guarded(self.das.uri)
        dac = self.last_dac
        before = self.das.consultations()
        self.assertRsc(self.c.update("/" + dac, "m2m:dac", {"dae": False}, origin=OWNER), 2004)
        self.assertRsc(self.c.retrieve(path, origin=USER), 4103)
        self.assertEqual(self.das.consultations(), before)


if __name__ == "__main__":
    main()
