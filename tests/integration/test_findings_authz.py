#!/usr/bin/python3
"""Findings of the attack campaign (issue 12) on authorization: each test is named by the finding
and the rule it checks, and reproduces the attack as a hostile client would.

- finding 2: daci is a privilege change (a hardening beyond TS-0001 9.6.1.3.2);
- finding 5: a JWE under asymmetric key management proves no origin (RFC 8725);
- finding 10: an empty context restriction never grants (TS-0003 7.1.5);
- finding 11: acpi resolution is no existence/type oracle;
- finding 17: the tqf body of an indirect dynamic authorization survives the secure profile;
- finding 18: the operator gives the CSEBase an acpi out of band (cse.acpi);
- finding 19: wardenctl explain reads tokens from stdin or a file;
- finding 22: concurrent explains over a small store pool never deadlock.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_findings_authz.py
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jwcrypto import jwe, jwk, jws  # noqa: E402
from jwcrypto.common import json_encode  # noqa: E402

from wardentest import ADMIN, CSE_RN, SPID, WardenServer, WardenTestCase, free_port, main, uniq  # noqa: E402

TY_ACP, TY_DAC = 1, 34
OWN_CSE = "//%s/id-in" % SPID
TMP = tempfile.mkdtemp(prefix="warden-findings-authz-")
AUTH = "CFAuth"
HS_KEY = jwk.JWK.generate(kty="oct", size=256, kid="hs1")
DAS_KEY = jwk.JWK.generate(kty="EC", crv="P-256", kid="das1")
DAS_ID = "CFDas"


def abs_ae(stem):
    return "%s/%s" % (OWN_CSE, stem)


def claims(holder, pm, iss=AUTH):
    now = int(time.time())
    return {"tkvr": "1", "jti": uniq("tk"), "iss": abs_ae(iss), "azp": abs_ae(holder), "nbf": now - 60,
            "exp": now + 3600, "aud": [OWN_CSE], "tkps": {"pm": pm}}


def sign(c, key=HS_KEY, alg="HS256"):
    t = jws.JWS(json.dumps(c).encode())
    t.add_signature(key, alg=alg, protected=json_encode({"alg": alg, "typ": "JWT", "kid": key.key_id}))
    return t.serialize(compact=True)


def write_json(name, doc):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


class Das:
    """One build/warden-das process on a free loopback port, granting what its rules say."""

    def __init__(self, rules):
        self.port = free_port()
        policy = write_json("das-%d.json" % self.port, {"id": DAS_ID, "cse": OWN_CSE, "alg": "ES256",
                                                         "key": json.loads(DAS_KEY.export()), "rules": rules})
        binary = os.path.join(os.path.dirname(os.path.abspath(os.environ.get("WARDEN_BIN", "build/warden"))),
                              "warden-das")
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--policy", policy],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                if "ready" in line:
                    ready.set()
        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("warden-das did not start")
        self.uri = "http://127.0.0.1:%d/das" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def das_rule(orig, ops):
    return {"or": abs_ae(orig), "trid": "*", "op": list(ops), "grant": "privileges", "lifetime": 60}


# --------------------------------------------------------------------------------------------------
# finding 2
# --------------------------------------------------------------------------------------------------

OWNER, MALLORY = "CF2owner", "CF2mallory"


class Finding2DaciTest(WardenTestCase):
    """An originator with UPDATE only (pv) must not change daci, and nothing a DAS or a token grants
    changes acpi or daci: only the selfPrivileges (pvs) the owner wrote do."""

    @classmethod
    def setUpClass(cls):
        # every operation (oneM2M op 1-5) for MALLORY: the DAS an attacker would run, or a lax one
        cls.das = Das([das_rule(MALLORY, (1, 2, 3, 4, 5))])
        issuers = write_json("issuers-2.json", {"issuers": [
            {"id": AUTH, "keys": [json.loads(HS_KEY.export())]},
            {"id": DAS_ID, "keys": [json.loads(DAS_KEY.export_public())]}]})
        cls.server_args = ("--authz.issuers=%s" % issuers, "--notify.allow=127.0.0.1/32")
        super().setUpClass()
        cls.path = {}
        for stem in (OWNER, MALLORY):
            r = cls.c.register_ae(origin=stem, rn=stem.lower())
            assert r.rsc == 2001, r
            cls.path[stem] = "/%s/%s" % (CSE_RN, stem.lower())

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.das.stop()

    def owned_cnt(self, mallory_acop, daci=None):
        """A container of OWNER: its ACP gives MALLORY mallory_acop in pv, only OWNER its pvs."""
        acp = self.c.create(self.path[OWNER], TY_ACP, {
            "rn": uniq("acp"),
            "pv": {"acr": [{"acor": [MALLORY], "acop": mallory_acop}, {"acor": [OWNER], "acop": 63}]},
            "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}}, origin=OWNER, root="m2m:acp")
        self.assertRsc(acp, 2001)
        extra = {"daci": daci} if daci else {}
        path, cnt = self.new_cnt(self.path[OWNER], OWNER, acpi=[acp.body["m2m:acp"]["ri"]], **extra)
        return path, acp.body["m2m:acp"]["ri"]

    def dac(self, parent, origin):
        r = self.c.create(parent, TY_DAC, {"rn": uniq("dac"), "dae": True, "dap": [self.das.uri]}, origin=origin,
                          root="m2m:dac")
        self.assertRsc(r, 2001)
        return r.body["m2m:dac"]["ri"]

    def test_finding_2_daci_change_needs_self_privileges(self):
        path, acp_ri = self.owned_cnt(mallory_acop=2 | 4)
        self.assertRsc(self.c.update(path, "m2m:cnt", {"lbl": ["x"]}, origin=MALLORY), 2004, "pv grants UPDATE")
        own_dac = self.dac(self.path[MALLORY], MALLORY)  # Mallory's DAS grants Mallory everything
        r = self.c.update(path, "m2m:cnt", {"daci": [own_dac]}, origin=MALLORY)
        self.assertRsc(r, 4103, "UPDATE in pv does not let the originator change daci")
        r = self.c.update(path, "m2m:cnt", {"daci": [own_dac], "lbl": ["y"]}, origin=MALLORY)
        self.assertRsc(r, 4103, "nor together with another attribute")
        # the takeover the attack aimed at stays impossible: the owner keeps the resource
        mine = self.acp_of_mallory()
        self.assertRsc(self.c.update(path, "m2m:cnt", {"acpi": [mine]}, origin=MALLORY), 4103)
        self.assertRsc(self.c.retrieve(path, origin=OWNER), 2000)
        # the owner, whose pvs grant it, changes daci (alone or with other attributes)
        self.assertRsc(self.c.update(path, "m2m:cnt", {"daci": [own_dac]}, origin=OWNER), 2004)
        self.assertRsc(self.c.update(path, "m2m:cnt", {"daci": None, "lbl": ["z"]}, origin=OWNER), 2004)

    def acp_of_mallory(self):
        r = self.c.create(self.path[MALLORY], TY_ACP, {
            "rn": uniq("acp"), "pv": {"acr": [{"acor": [MALLORY], "acop": 63}]},
            "pvs": {"acr": [{"acor": [MALLORY], "acop": 63}]}}, origin=MALLORY, root="m2m:acp")
        self.assertRsc(r, 2001)
        return r.body["m2m:acp"]["ri"]

    def test_finding_2_das_grant_never_changes_acpi_or_daci(self):
        # the owner trusts a DAS that grants Mallory every operation on the container
        path, _ = self.owned_cnt(mallory_acop=0, daci=[self.dac(self.path[OWNER], OWNER)])
        self.assertRsc(self.c.update(path, "m2m:cnt", {"lbl": ["x"]}, origin=MALLORY), 2004,
                       "the DAS grants UPDATE (the grant is cached for Mallory now)")
        mine = self.acp_of_mallory()
        r = self.c.update(path, "m2m:cnt", {"acpi": [mine]}, origin=MALLORY)
        self.assertRsc(r, 4103, "a DAS grant never authorizes a change of acpi")
        r = self.c.update(path, "m2m:cnt", {"daci": None}, origin=MALLORY)
        self.assertRsc(r, 4103, "nor of daci")
        self.assertRsc(self.c.retrieve(path, origin=OWNER), 2000)

    def test_finding_2_token_never_changes_acpi_or_daci(self):
        path, _ = self.owned_cnt(mallory_acop=0)
        ri = self.c.retrieve(path, origin=OWNER).body["m2m:cnt"]["ri"]
        tok = sign(claims(MALLORY, [{"ris": [ri], "pv": {"acr": [{"acor": [abs_ae(MALLORY)], "acop": 63}]}}]))
        hdr = {"Authorization": tok}
        self.assertRsc(self.c.update(path, "m2m:cnt", {"lbl": ["x"]}, origin=MALLORY, headers=hdr), 2004,
                       "the token grants UPDATE")
        mine = self.acp_of_mallory()
        r = self.c.update(path, "m2m:cnt", {"acpi": [mine]}, origin=MALLORY, headers=hdr)
        self.assertRsc(r, 4103, "a token never authorizes a change of acpi")
        r = self.c.update(path, "m2m:cnt", {"daci": [self.dac(self.path[MALLORY], MALLORY)]}, origin=MALLORY,
                          headers=hdr)
        self.assertRsc(r, 4103, "nor of daci")

    def test_finding_2_macp_change_needs_self_privileges(self):
        """The sibling: a group's macp decides who may use its fanOutPoint, so it is a privilege
        change too."""
        member, _ = self.new_cnt(self.path[OWNER], OWNER)
        _, acp_ri = self.owned_cnt(mallory_acop=2 | 4)
        r = self.c.create(self.path[OWNER], 9, {"rn": uniq("grp"), "mt": 3, "mnm": 4, "mid": [member[1:]],
                                                "acpi": [acp_ri]}, origin=OWNER, root="m2m:grp")
        self.assertRsc(r, 2001)
        gpath = "%s/%s" % (self.path[OWNER], r.body["m2m:grp"]["rn"])
        self.assertRsc(self.c.update(gpath, "m2m:grp", {"lbl": ["x"]}, origin=MALLORY), 2004, "pv grants UPDATE")
        mine = self.acp_of_mallory()
        self.assertRsc(self.c.update(gpath, "m2m:grp", {"macp": [mine]}, origin=MALLORY), 4103)
        self.assertRsc(self.c.update(gpath, "m2m:grp", {"macp": [acp_ri]}, origin=OWNER), 2004)

    def test_finding_2_dac_dap_and_dae_change_needs_self_privileges(self):
        """The sibling: a DAC's dap and dae choose the DAS of every resource linking it."""
        _, acp_ri = self.owned_cnt(mallory_acop=2 | 4)
        r = self.c.create(self.path[OWNER], TY_DAC, {"rn": uniq("dac"), "dae": False, "dap": [self.das.uri],
                                                     "acpi": [acp_ri]}, origin=OWNER, root="m2m:dac")
        self.assertRsc(r, 2001)
        dpath = "%s/%s" % (self.path[OWNER], r.body["m2m:dac"]["rn"])
        self.assertRsc(self.c.update(dpath, "m2m:dac", {"dal": "20991231T000000"}, origin=MALLORY), 2004, "pv grants UPDATE")
        rogue = "http://127.0.0.1:%d/das" % free_port()
        self.assertRsc(self.c.update(dpath, "m2m:dac", {"dap": [rogue]}, origin=MALLORY), 4103)
        self.assertRsc(self.c.update(dpath, "m2m:dac", {"dae": True}, origin=MALLORY), 4103)
        self.assertRsc(self.c.update(dpath, "m2m:dac", {"dae": True}, origin=OWNER), 2004)


# --------------------------------------------------------------------------------------------------
# finding 5
# --------------------------------------------------------------------------------------------------

F5USER, F5OWNER = "CF5user", "CF5owner"
EC_KEY = jwk.JWK.generate(kty="EC", crv="P-256", kid="ec5")
RSA_KEY = jwk.JWK.generate(kty="RSA", size=2048, kid="rsa5")  # the CSE decrypts with it; its public half is public
ROGUE_EC = jwk.JWK.generate(kty="EC", crv="P-256", kid="ec5")


def rsa_encrypt(payload, cty=None, alg="RSA-OAEP"):
    """What anyone holding the public key can make."""
    hdr = {"alg": alg, "enc": "A256GCM", "kid": "rsa5"}
    if cty:
        hdr["cty"] = cty
    pub = jwk.JWK(**json.loads(RSA_KEY.export_public()))
    t = jwe.JWE(payload.encode(), json_encode(hdr), algs=[alg, "A256GCM"])
    t.add_recipient(pub)
    return t.serialize(compact=True)


class Finding5AsymmetricJweTest(WardenTestCase):
    """RFC 8725: a JWE with RSA-OAEP/RSA1_5 key management proves confidentiality, not origin."""

    @classmethod
    def setUpClass(cls):
        issuers = write_json("issuers-5.json", {"issuers": [
            {"id": AUTH, "keys": [json.loads(EC_KEY.export_public()), json.loads(RSA_KEY.export())],
             "algs": ["ES256", "RSA-OAEP", "RSA1_5"]}]})
        cls.server_args = ("--authz.issuers=%s" % issuers,)
        super().setUpClass()
        for stem in (F5OWNER, F5USER):
            assert cls.c.register_ae(origin=stem, rn=stem.lower()).rsc == 2001
        owner = "/%s/%s" % (CSE_RN, F5OWNER.lower())
        acp = cls.c.create(owner, TY_ACP, {"rn": uniq("acp"), "pv": {"acr": [{"acor": ["nobody"], "acop": 2}]},
                                           "pvs": {"acr": [{"acor": [F5OWNER], "acop": 63}]}},
                           origin=F5OWNER, root="m2m:acp")
        r = cls.c.create(owner, 3, {"rn": "guarded", "acpi": [acp.body["m2m:acp"]["ri"]]}, origin=F5OWNER)
        cls.cnt_ri = r.body["m2m:cnt"]["ri"]
        cls.cnt = owner + "/guarded"

    def claims(self):
        return claims(F5USER, [{"ris": [self.cnt_ri], "pv": {"acr": [{"acor": [abs_ae(F5USER)], "acop": 2}]}}])

    def test_finding_5_jwe_by_public_key_without_signature_is_no_token(self):
        for alg in ("RSA-OAEP", "RSA1_5"):
            forged = rsa_encrypt(json.dumps(self.claims()), alg=alg)
            r = self.c.retrieve(self.cnt, origin=F5USER, headers={"Authorization": forged})
            self.assertRsc(r, 4103, "a JWE anyone could make (%s) is no token of its issuer" % alg)
            self.assertIn("token-unsigned-jwe", r.body["m2m:dbg"])

    def test_finding_5_jwe_by_public_key_around_a_jws_of_its_issuer(self):
        inner = sign(self.claims(), key=EC_KEY, alg="ES256")
        r = self.c.retrieve(self.cnt, origin=F5USER, headers={"Authorization": rsa_encrypt(inner, cty="JWT")})
        self.assertRsc(r, 2000, "sign-then-encrypt: the signature names the issuer")
        rogue = sign(self.claims(), key=ROGUE_EC, alg="ES256")
        r = self.c.retrieve(self.cnt, origin=F5USER, headers={"Authorization": rsa_encrypt(rogue, cty="JWT")})
        self.assertRsc(r, 4103, "a JWS the issuer did not sign")
        self.assertIn("token-bad-signature", r.body["m2m:dbg"])

    def test_finding_5_issuer_allowing_public_key_jwe_only_is_refused_at_load(self):
        for algs in (["RSA-OAEP"], ["RSA1_5", "dir"], ["RSA-OAEP", "A256KW"]):
            issuers = write_json("issuers-5-bad.json", {"issuers": [
                {"id": AUTH, "keys": [json.loads(RSA_KEY.export())], "algs": algs}]})
            srv = WardenServer(extra_args=("--authz.issuers=%s" % issuers,))
            try:
                with self.assertRaises(Exception, msg="algs %s must be refused" % algs):
                    srv.start()
                self.assertNotEqual(srv.proc.returncode, 0, srv.output())
                self.assertIn("proves no origin", srv.output())
            finally:
                srv.cleanup()


# --------------------------------------------------------------------------------------------------
# finding 10
# --------------------------------------------------------------------------------------------------

F10 = "CF10owner"
EMPTY_RESTRICTIONS = (
    {"acco": [{"actw": []}]},
    {"acco": [{"aclr": []}]},
    {"acco": [{"acip": {"ipv4": []}}]},
    {"acco": [{"acip": {}}]},
    {"acco": [{"acip": {"ipv4": ["127.0.0.0/8"], "ipv6": []}}]},
    {"acco": [{}]},
    {"acco": []},
    {"acod": []},
    {"acod": [{"chty": []}]},
)


class Finding10EmptyRestrictionTest(WardenTestCase):
    """TS-0003 7.1.5: every present context element must hold; an empty one is refused when
    written (4000), never read as 'no restriction'."""

    def test_finding_10_empty_restriction_never_grants(self):
        r = self.c.register_ae(origin=F10, rn=F10.lower())
        self.assertRscIn(r, (2001, 4117))
        owner = "/%s/%s" % (CSE_RN, F10.lower())
        good = self.c.create(owner, TY_ACP, {"rn": uniq("acp"), "pv": {"acr": [{"acor": [F10], "acop": 63}]},
                                             "pvs": {"acr": [{"acor": [F10], "acop": 63}]}}, origin=F10,
                             root="m2m:acp")
        self.assertRsc(good, 2001)
        acp_path = "%s/%s" % (owner, good.body["m2m:acp"]["rn"])
        for extra in EMPTY_RESTRICTIONS:
            rule = {"acor": ["all"], "acop": 2}
            rule.update(extra)
            r = self.c.create(owner, TY_ACP, {"rn": uniq("acp"), "pv": {"acr": [rule]},
                                              "pvs": {"acr": [{"acor": [F10], "acop": 63}]}}, origin=F10,
                              root="m2m:acp")
            self.assertRsc(r, 4000, "create with %s" % json.dumps(extra))
            r = self.c.update(acp_path, "m2m:acp", {"pv": {"acr": [rule]}}, origin=F10)
            self.assertRsc(r, 4000, "update with %s" % json.dumps(extra))
            r = self.c.update(acp_path, "m2m:acp", {"pvs": {"acr": [rule, {"acor": [F10], "acop": 63}]}}, origin=F10)
            self.assertRsc(r, 4000, "pvs update with %s" % json.dumps(extra))


# --------------------------------------------------------------------------------------------------
# finding 11 (acpi)
# --------------------------------------------------------------------------------------------------

F11V, F11M = "CF11victim", "CF11mallory"


class Finding11AcpiOracleTest(WardenTestCase):
    """An acpi entry naming a resource the originator may not retrieve gets one answer, whether it
    does not exist, is not an ACP, or is an ACP (TS-0004 7.2.2.2 reveals only the target)."""

    def test_finding_11_acpi_resolution_is_no_existence_or_type_oracle(self):
        for stem in (F11V, F11M):
            self.assertRscIn(self.c.register_ae(origin=stem, rn=stem.lower()), (2001, 4117))
        victim, mal = "/%s/%s" % (CSE_RN, F11V.lower()), "/%s/%s" % (CSE_RN, F11M.lower())
        self.new_cnt(victim, F11V, rn="secret")
        for rn, pvs in (("private", [{"acor": [F11V], "acop": 63}]),
                        ("shared", [{"acor": [F11V], "acop": 63}, {"acor": ["all"], "acop": 2}])):
            r = self.c.create(victim, TY_ACP, {"rn": rn, "pv": {"acr": [{"acor": [F11V], "acop": 63}]},
                                               "pvs": {"acr": pvs}}, origin=F11V, root="m2m:acp")
            self.assertRscIn(r, (2001, 4105))
        private_ri = self.c.retrieve(victim + "/private", origin=F11V).body["m2m:acp"]["ri"]
        probes = {"no such resource": victim[1:] + "/nothing", "not an ACP": victim[1:] + "/secret",
                  "an ACP it may not read": victim[1:] + "/private", "its resourceID": private_ri,
                  "no such resourceID": "acp" + "0" * 20}
        target, _ = self.new_cnt(mal, F11M)
        answers = {}
        for what, ref in probes.items():
            r = self.c.create(mal, 3, {"rn": uniq("c"), "acpi": [ref]}, origin=F11M)
            u = self.c.update(target, "m2m:cnt", {"acpi": [ref]}, origin=F11M)
            answers[what] = ((r.rsc, r.body.get("m2m:dbg")), (u.rsc, u.body.get("m2m:dbg")))
        self.assertEqual(len(set(answers.values())), 1, json.dumps(answers, indent=1))
        self.assertEqual(answers["no such resource"][0][0], 4000)
        # an ACP the originator may read can be linked (and the admin links any)
        self.assertRsc(self.c.update(target, "m2m:cnt", {"acpi": [victim[1:] + "/shared"]}, origin=F11M), 2004)
        self.assertRsc(self.c.create(victim, 3, {"rn": uniq("c"), "acpi": [private_ri]}, origin=ADMIN), 2001)

    def test_finding_11_macp_naming_no_acp_grants_nothing_and_reveals_nothing(self):
        """The sibling: a group's macp is resolved when the fanOutPoint is used; an entry that names
        no ACP grants nothing (like a dangling acpi entry) instead of a 4000 naming the list."""
        for stem in (F11V, F11M):
            self.assertRscIn(self.c.register_ae(origin=stem, rn=stem.lower()), (2001, 4117))
        victim = "/%s/%s" % (CSE_RN, F11V.lower())
        member, _ = self.new_cnt(victim, F11V)
        r = self.c.create(victim, 9, {"rn": uniq("grp"), "mt": 3, "mnm": 2, "mid": [member[1:]],
                                      "macp": [victim[1:] + "/nothing"]}, origin=F11V, root="m2m:grp")
        self.assertRsc(r, 2001)
        fopt = "%s/%s/fopt" % (victim, r.body["m2m:grp"]["rn"])
        for origin in (F11V, F11M):
            self.assertRsc(self.c.retrieve(fopt, origin=origin), 4103, origin)


# --------------------------------------------------------------------------------------------------
# finding 17
# --------------------------------------------------------------------------------------------------

class Finding17SecureTqfTest(unittest.TestCase):
    """TS-0003 7.3.2.4 / TS-0009 6.5: in the secure profile the 4103 of an indirect dynamic
    authorization keeps its m2m:tqf body (and carries no debugging information)."""

    def test_finding_17_secure_profile_4103_keeps_token_request_info(self):
        from tls_helpers import SecureServer
        s = SecureServer(profile="secure", psk=False, certs=True, extra=["--notify.allow=127.0.0.1/32"])
        try:
            # the secure profile reaches a DAS only over TLS verified with notify.ca (finding 25)
            s.extra.append("--notify.ca=%s" % s.pki.ca_pem)
            s.start()
            owner, user = "CF17owner", "CF17user"
            clients = {}
            for stem in (owner, user):
                crt, key, _ = s.pki.issue(stem)
                clients[stem] = s.cert_client(crt, key)
                r = clients[stem].register_ae(origin=stem, rn=stem.lower())
                self.assertEqual(r.rsc, 2001, r.body)
            o = clients[owner]
            base = "/%s/%s" % (CSE_RN, owner.lower())
            acp = o.create(base, TY_ACP, {"rn": "acp", "pv": {"acr": [{"acor": ["nobody"], "acop": 2}]},
                                          "pvs": {"acr": [{"acor": [owner], "acop": 63}]}}, origin=owner,
                           root="m2m:acp")
            self.assertEqual(acp.rsc, 2001, acp.body)
            das_uri = "https://127.0.0.1:%d/das" % free_port()
            dac = o.create(base, TY_DAC, {"rn": "dac", "dae": True, "dap": [das_uri]}, origin=owner,
                           root="m2m:dac")
            self.assertEqual(dac.rsc, 2001, dac.body)
            r = o.create(base, 3, {"rn": "guarded", "acpi": [acp.body["m2m:acp"]["ri"]],
                                   "daci": [dac.body["m2m:dac"]["ri"]]}, origin=owner)
            self.assertEqual(r.rsc, 2001, r.body)
            r = clients[user].retrieve(base + "/guarded", origin=user, query={"tqi": "true"})
            self.assertEqual((r.status, r.rsc), (403, 4103), r.body)
            self.assertIsInstance(r.body, dict, r.body)
            self.assertEqual(r.body["m2m:tqf"]["dasi"][0]["uri"], das_uri, r.body)
            self.assertNotIn("m2m:dbg", r.body, "no debugging information beside tqf")
            # an ordinary denial in the secure profile still says only what failed
            r = clients[user].retrieve(base + "/guarded", origin=user)
            self.assertEqual(r.rsc, 4103)
        finally:
            try:
                s.stop()
            finally:
                s.cleanup()


# --------------------------------------------------------------------------------------------------
# finding 18
# --------------------------------------------------------------------------------------------------

def wardenctl():
    return os.path.join(os.path.dirname(os.path.abspath(os.environ.get("WARDEN_BIN", "build/warden"))), "wardenctl")


# the README's example ("The CSEBase's policy"), verbatim in substance
CSE_ACP = {"rn": "cseAcp",
           "pv": {"acr": [{"acor": ["all"], "acop": 35, "acod": [{"chty": [2]}]},
                          {"acor": ["CAuth"], "acop": 1, "acod": [{"chty": [31]}]}]},
           "pvs": {"acr": [{"acor": ["CAdmin"], "acop": 63}]}}


class Finding18CseBaseAcpiTest(unittest.TestCase):
    """TS-0004 7.4.3.2.3: the CSEBase is not updated through the API (4005), so the operator sets
    its acpi with wardenctl cse acpi; it applies at once and persists across restarts."""

    def ctl(self, srv, *args):
        return subprocess.run([wardenctl(), "--store.path=%s" % srv.store_path] + list(args), capture_output=True,
                              text=True, timeout=30)

    def test_finding_18_operator_sets_csebase_acpi_and_readme_role_example_works(self):
        issuers = write_json("issuers-18.json", {"issuers": [{"id": "CAuth", "keys": [json.loads(HS_KEY.export())]}]})
        srv = WardenServer(extra_args=("--authz.issuers=%s" % issuers,)).start()
        try:
            c = srv.client()
            cb = "/" + CSE_RN
            role = {"rn": "tech-cuser", "rlid": "technician", "tkis": "CAuth", "tkhd": "Cuser",
                    "tknb": "20261204T120000", "tkna": "20261204T180000"}
            for stem in ("CAuth", "Cuser"):
                self.assertEqual(c.register_ae(origin=stem, rn=stem.lower()).rsc, 2001)
            # an empty store: the CSEBase has no acpi, only the admin may create under it
            self.assertEqual(c.create(cb, 31, role, origin="CAuth", root="m2m:rol").rsc, 4103)
            r = c.create(cb, TY_ACP, CSE_ACP, origin=ADMIN, root="m2m:acp")
            self.assertEqual(r.rsc, 2001, r.body)
            acp_ri = r.body["m2m:acp"]["ri"]
            self.assertEqual(c.update(cb, "m2m:cb", {"acpi": [acp_ri]}, origin=ADMIN).rsc, 4005,
                             "the API may not update the CSEBase")
            bad = self.ctl(srv, "cse", "acpi", "set", "cse-in/cauth")
            self.assertEqual(bad.returncode, 1, bad.stdout + bad.stderr)
            self.assertIn("not an <accessControlPolicy> child of the CSEBase", bad.stderr)
            p = self.ctl(srv, "cse", "acpi", "set", "cse-in/cseAcp")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(p.stdout.split(), [acp_ri, "cse-in/cseAcp"])
            # applied at once by the running server
            r = c.create(cb, 31, role, origin="CAuth", root="m2m:rol")
            self.assertEqual(r.rsc, 2001, r.body)
            self.assertEqual(c.retrieve(cb, origin=ADMIN).body["m2m:cb"].get("acpi"), [acp_ri])
            self.assertEqual(c.create(cb, 31, dict(role, rn="r2"), origin="Cuser", root="m2m:rol").rsc, 4103)
            self.assertEqual(c.create(cb, TY_ACP, dict(CSE_ACP, rn="mine"), origin="Cuser", root="m2m:acp").rsc, 4103)
            self.assertEqual(c.register_ae(origin="Cnewcomer", rn="cnewcomer").rsc, 2001, "anyone still registers")
            self.assertEqual(c.retrieve(cb, origin="Cuser").rsc, 2000)
            # persistent: a restart keeps it
            srv.stop()
            srv.start()
            c = srv.client()
            self.assertEqual(c.create(cb, 31, dict(role, rn="r3"), origin="CAuth", root="m2m:rol").rsc, 2001)
            self.assertEqual(self.ctl(srv, "cse", "acpi").stdout.split(), [acp_ri, "cse-in/cseAcp"])
            p = self.ctl(srv, "cse", "acpi", "clear")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(c.create(cb, 31, dict(role, rn="r4"), origin="CAuth", root="m2m:rol").rsc, 4103)
        finally:
            srv.stop()
            srv.cleanup()


# --------------------------------------------------------------------------------------------------
# finding 19
# --------------------------------------------------------------------------------------------------

F19O, F19U = "CF19owner", "CF19user"


class Finding19ExplainTokenTest(WardenTestCase):
    """wardenctl explain reads tokens as keys are read: from a file or standard input, never argv."""

    @classmethod
    def setUpClass(cls):
        cls.issuers = write_json("issuers-19.json", {"issuers": [{"id": AUTH, "keys": [json.loads(HS_KEY.export())]}]})
        cls.server_args = ("--authz.issuers=%s" % cls.issuers,)
        super().setUpClass()
        for stem in (F19O, F19U):
            assert cls.c.register_ae(origin=stem, rn=stem.lower()).rsc == 2001
        owner = "/%s/%s" % (CSE_RN, F19O.lower())
        acp = cls.c.create(owner, TY_ACP, {"rn": "acp", "pv": {"acr": [{"acor": ["nobody"], "acop": 2}]},
                                           "pvs": {"acr": [{"acor": [F19O], "acop": 63}]}}, origin=F19O,
                           root="m2m:acp")
        r = cls.c.create(owner, 3, {"rn": "guarded", "acpi": [acp.body["m2m:acp"]["ri"]]}, origin=F19O)
        cls.ri = r.body["m2m:cnt"]["ri"]
        cls.target = owner[1:] + "/guarded"

    def explain(self, *opts, stdin=None):
        argv = [wardenctl(), "--store.path=%s" % self.server.store_path, "--authz.issuers=%s" % self.issuers,
                "explain", F19U, "retrieve", self.target] + list(opts)
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)

    def test_finding_19_explain_reads_tokens_from_a_file_or_stdin_never_argv(self):
        tok = sign(claims(F19U, [{"ris": [self.ri], "pv": {"acr": [{"acor": [abs_ae(F19U)], "acop": 2}]}}]))
        self.assertEqual(self.explain().stdout.splitlines()[0], "DENY")
        path = os.path.join(TMP, "token-19.jwt")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(tok + "\n")
        p = self.explain("--token-file", path)
        self.assertEqual((p.returncode, p.stdout.splitlines()[:1]), (0, ["PERMIT"]), p.stdout + p.stderr)
        p = self.explain("--token-file", "-", stdin="Bearer %s\n" % tok)
        self.assertEqual((p.returncode, p.stdout.splitlines()[:1]), (0, ["PERMIT"]), p.stdout + p.stderr)
        # a token on the command line is refused, and not echoed back
        p = self.explain("--token", tok)
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("PERMIT", p.stdout)
        self.assertNotIn(tok.split(".")[1], p.stdout + p.stderr)
        self.assertIn("--token-file", p.stderr)


# --------------------------------------------------------------------------------------------------
# finding 22
# --------------------------------------------------------------------------------------------------

class Finding22ExplainPoolTest(WardenTestCase):
    """No request holds one pooled read connection while waiting for another: concurrent admin
    explains over a pool smaller than the worker threads all answer (before: the server hung)."""

    server_args = ("--store.readers=1", "--http.threads=4")

    def test_finding_22_concurrent_explains_over_a_small_pool_never_deadlock(self):
        from wardentest import Client
        results, errors = [], []

        def explain(i):
            try:
                r = Client(self.server.port, timeout=10).retrieve(
                    "/%s/$explain" % CSE_RN, origin=ADMIN, query={"exfr": "Cx%d" % i, "exop": "retrieve",
                                                                  "exto": CSE_RN})
                results.append(r.rsc)
            except Exception as e:  # a timeout is the deadlock
                errors.append(repr(e))
        threads = [threading.Thread(target=explain, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        self.assertEqual(errors, [])
        self.assertEqual(results, [2000] * 12)
        self.assertAlive()


if __name__ == "__main__":
    main()
