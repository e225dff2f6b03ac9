#!/usr/bin/python3
"""Authorization beyond ACP: <role> (ty 31) with rids, tokens (ty 32, JWS/JWE) with tkns,
tids and ltids/ati, and the explanation of every decision (wardenctl explain and the admin
API).

TS-0003 7.4.3 (role based access control), 7.3.2.4-7.3.2.6 (tokens, their verification and
JWT claims), TS-0001 9.6.38-39 (<role>, <token>), TS-0004 6.3.5.41-42 (token permissions and
claim set), TS-0009 6.4.18-19 (X-M2M-ATI, Authorization).

Tokens are made here with python3-jwcrypto, an implementation independent of the server's
cjose, so a passing test means two JOSE stacks agree.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_authz_tokens.py
"""

import calendar
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jwcrypto import jwe, jwk, jws  # noqa: E402
from jwcrypto.common import json_encode  # noqa: E402

from cbor_codec import decode as cbor_decode  # noqa: E402
from wardentest import ADMIN, CSE_RN, SPID, TY_CNT, WardenServer, WardenTestCase, main, uniq  # noqa: E402

TY_ACP, TY_ROLE, TY_TOKEN = 1, 31, 32
R = 2
OWN_CSE = "//%s/id-in" % SPID
AUTH = "CAuth"      # the Authorization Authority (configured, keys below)
LAX = "CLax"        # an authority whose policy allows unsecured tokens
OWNER = "Cowner"
USER = "Cuser"
OTHER = "Cother"


def abs_ae(stem):
    return "%s/%s" % (OWN_CSE, stem)


def ts(epoch):
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(epoch))


HS_KEY = jwk.JWK.generate(kty="oct", size=256, kid="hs1")
EC_KEY = jwk.JWK.generate(kty="EC", crv="P-256", kid="ec1")
KW_KEY = jwk.JWK.generate(kty="oct", size=256, kid="kw1")
ROGUE_EC = jwk.JWK.generate(kty="EC", crv="P-256", kid="ec1")
ROGUE_HS = jwk.JWK.generate(kty="oct", size=256, kid="hs1")


def issuers_json():
    return {"issuers": [
        {"id": AUTH, "keys": [json.loads(HS_KEY.export()), json.loads(EC_KEY.export_public()),
                              json.loads(KW_KEY.export())]},
        {"id": LAX, "keys": [], "unsecured": True, "roles": False},
    ]}


def claims(holder=USER, iss=AUTH, nbf=None, exp=None, aud=(OWN_CSE,), pm=None, jti=None):
    now = int(time.time())
    c = {"tkvr": "1", "jti": jti or uniq("tk"), "iss": abs_ae(iss), "azp": abs_ae(holder),
         "nbf": now - 60 if nbf is None else nbf, "exp": now + 3600 if exp is None else exp}
    if aud is not None:
        c["aud"] = list(aud)
    if pm is not None:
        c["tkps"] = {"pm": pm}
    return c


def sign(c, key=HS_KEY, alg="HS256"):
    t = jws.JWS(json.dumps(c).encode())
    t.add_signature(key, alg=alg, protected=json_encode({"alg": alg, "typ": "JWT", "kid": key.key_id}))
    return t.serialize(compact=True)


def unsecured(c):
    import base64

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    return "%s.%s." % (b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()), b64(json.dumps(c).encode()))


def encrypt(payload, cty=None, key=KW_KEY):
    hdr = {"alg": "A256KW", "enc": "A256GCM", "kid": key.key_id}
    if cty:
        hdr["cty"] = cty
    t = jwe.JWE(payload.encode() if isinstance(payload, str) else payload, json_encode(hdr))
    t.add_recipient(key)
    return t.serialize(compact=True)


def read_pv(ri):
    return [{"ris": [ri], "pv": {"acr": [{"acor": [abs_ae(USER)], "acop": R}]}}]


class AuthzBase(WardenTestCase):
    tmp = tempfile.mkdtemp(prefix="warden-authz-")
    issuers_path = os.path.join(tmp, "issuers.json")
    with open(issuers_path, "w") as f:
        json.dump(issuers_json(), f)
    audit_path = os.path.join(tmp, "audit.log")
    server_args = ("--authz.issuers=%s" % issuers_path, "--audit.path=%s" % audit_path)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ae_path = {}
        for stem in (OWNER, USER, OTHER, AUTH):
            r = cls.c.register_ae(origin=stem, rn=stem.lower())
            assert r.rsc == 2001, r
            cls.ae_path[stem] = "/%s/%s" % (CSE_RN, stem.lower())

    def protected_cnt(self, acor=("technician",)):
        """A container of OWNER whose ACP lets the given acor entries RETRIEVE only."""
        owner = self.ae_path[OWNER]
        acp = self.c.create(owner, TY_ACP, {"rn": uniq("acp"), "pv": {"acr": [{"acor": list(acor), "acop": R}]},
                                            "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}}, origin=OWNER,
                             root="m2m:acp")
        self.assertRsc(acp, 2001)
        path, cnt = self.new_cnt(owner, OWNER, acpi=[acp.body["m2m:acp"]["ri"]])
        return path, cnt["ri"]

    def role(self, rlid, holder=USER, issuer=AUTH, nb=None, na=None, origin=ADMIN):
        now = time.time()
        attrs = {"rn": uniq("rol"), "rlid": rlid, "tkis": issuer, "tkhd": holder,
                 "tknb": ts(now - 60 if nb is None else nb), "tkna": ts(now + 3600 if na is None else na)}
        return self.c.create("/" + CSE_RN, TY_ROLE, attrs, origin=origin, root="m2m:rol")

    def explain(self, fr, op, to, token=None, **query):
        """The admin API's explanation of (fr, op, to); the explain request's own rids/token stand
        for the explained request's."""
        q = {"exfr": fr, "exop": op, "exto": to}
        q.update(query)
        headers = {"Authorization": token} if token else None
        return self.c.retrieve("/%s/$explain" % CSE_RN, origin=ADMIN, query=q, headers=headers)

    def explained(self, path, decision, *why, origin=USER, token=None, **query):
        """Assert the explanation of origin's RETRIEVE of path: its decision and the reasons it gives."""
        x = self.assertRsc(self.explain(origin, "retrieve", path[1:], token=token, **query), 2000).body["wdn:explain"]
        text = "\n".join(x["reasons"])
        self.assertEqual(x["decision"], decision, text)
        for w in why:
            self.assertIn(w, text)
        return text

    def get(self, path, origin=USER, query=None, token=None):
        headers = {"Authorization": token} if token else None
        return self.c.retrieve(path, origin=origin, query=query, headers=headers)


class RoleTest(AuthzBase):
    def test_ts0003_7_4_3_verified_role_matches_acor(self):
        path, _ = self.protected_cnt()
        self.assertRsc(self.get(path), 4103, "no role named")
        self.assertRsc(self.role("technician"), 2001)
        self.assertRsc(self.get(path, query={"rids": "technician"}), 2000)
        self.assertRsc(self.get(path, origin=OTHER, query={"rids": "technician"}), 4103,
                       "the role is USER's, not OTHER's")

    def test_ts0003_7_4_3_role_expires(self):
        rlid = uniq("shift")
        path, _ = self.protected_cnt(acor=(rlid,))
        na = int(time.time()) + 5  # whole seconds, as tkna carries them
        self.assertRsc(self.role(rlid, na=na), 2001)
        self.assertRsc(self.get(path, query={"rids": rlid}), 2000)
        self.explained(path, "PERMIT", "role %s" % rlid, rids=rlid)
        time.sleep(max(0.0, na + 1.2 - time.time()))
        r = self.assertRsc(self.get(path, query={"rids": rlid}), 4103)
        self.assertIn("role-expired", r.body["m2m:dbg"])
        self.explained(path, "DENY", "role-expired", rids=rlid)

    def test_ts0003_7_4_3_role_not_yet_valid(self):
        rlid = uniq("later")
        path, _ = self.protected_cnt(acor=(rlid,))
        self.assertRsc(self.role(rlid, nb=time.time() + 600, na=time.time() + 1200), 2001)
        r = self.assertRsc(self.get(path, query={"rids": rlid}), 4103)
        self.assertIn("role-not-yet-valid", r.body["m2m:dbg"])

    def test_ts0003_7_4_3_role_of_an_issuer_that_is_no_authority(self):
        rlid = uniq("fake")
        path, _ = self.protected_cnt(acor=(rlid,))
        self.assertRsc(self.role(rlid, issuer=LAX), 2001)  # LAX may not issue roles ("roles": false)
        r = self.assertRsc(self.get(path, query={"rids": rlid}), 4103)
        self.assertIn("role-issuer", r.body["m2m:dbg"])

    def test_ts0003_7_4_3_unknown_role_id(self):
        path, _ = self.protected_cnt(acor=("nobody-has-this",))
        r = self.assertRsc(self.get(path, query={"rids": "nobody-has-this"}), 4103)
        self.assertIn("role-unknown", r.body["m2m:dbg"])

    def test_ts0001_9_6_38_role_attributes_validated(self):
        self.assertRsc(self.role("x", nb=time.time() + 10, na=time.time()), 4000)
        self.assertRsc(self.role("x", holder="not an id"), 4000)
        r = self.c.create("/" + CSE_RN, TY_ROLE, {"rlid": "x", "tkis": AUTH}, origin=ADMIN, root="m2m:rol")
        self.assertRsc(r, 4000, "tkhd, tknb, tkna are mandatory")

    def test_ts0001_9_6_38_role_retrieved(self):
        r = self.assertRsc(self.role("reader"), 2001)
        rol = r.body["m2m:rol"]
        self.assertEqual(rol["ty"], TY_ROLE)
        g = self.assertRsc(self.c.retrieve("/%s/%s" % (CSE_RN, rol["rn"]), origin=ADMIN), 2000)
        self.assertEqual(g.body["m2m:rol"]["rlid"], "reader")


class TokenTest(AuthzBase):
    def test_ts0003_7_3_2_5_hs256_token_grants_and_assigns_local_token_id(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        self.assertRsc(self.get(path), 4103)
        c = claims(pm=read_pv(ri))
        r = self.assertRsc(self.get(path, token=sign(c)), 2000)
        ati = r.headers.get("X-M2M-ATI")
        self.assertIsNotNone(ati, "no X-M2M-ATI for a token sent in full")
        lti, tkid = ati.split("+")[0].split(":", 1)
        self.assertEqual(tkid, c["jti"])
        self.assertRsc(self.get(path, query={"ltids": lti}), 2000, "retry with the Local-Token-ID")
        self.assertRsc(self.get(path, origin=OTHER, query={"ltids": lti}), 4103, "another originator's lti")

    def test_ts0003_7_3_2_5_bearer_prefix_and_es256(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        tok = sign(claims(pm=read_pv(ri)), key=EC_KEY, alg="ES256")
        self.assertRsc(self.get(path, token="Bearer " + tok), 2000)

    def test_ts0003_7_3_2_5_token_scoped_to_its_resources(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        other, _ = self.protected_cnt(acor=("nobody",))
        tok = sign(claims(pm=read_pv(ri)))
        self.assertRsc(self.get(other, token=tok), 4103, "ris names the first container only")

    def test_ts0003_7_3_2_5_token_for_a_bounded_time(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        exp = int(time.time()) + 5
        tok = sign(claims(pm=read_pv(ri), exp=exp))
        r = self.assertRsc(self.get(path, token=tok), 2000)
        lti = r.headers["X-M2M-ATI"].split(":")[0]
        self.explained(path, "PERMIT", "token", token=tok)
        time.sleep(max(0.0, exp + 1.2 - time.time()))
        r = self.assertRsc(self.get(path, token=tok), 4103)
        self.assertIn("expired", r.body["m2m:dbg"])
        self.explained(path, "DENY", "token-expired", token=tok)
        self.assertRsc(self.get(path, query={"ltids": lti}), 4103, "the local token expired with it")

    def refused(self, tok, why, path=None):
        if path is None:
            path, ri = self.protected_cnt(acor=("nobody",))
        r = self.assertRsc(self.get(path, token=tok), 4103)
        self.assertIn(why, r.body["m2m:dbg"])
        self.explained(path, "DENY", why, token=tok)
        return r

    def test_ts0003_7_3_2_5_forged_signature_refused(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        self.refused(sign(claims(pm=read_pv(ri)), key=ROGUE_HS), "bad-signature", path)
        self.refused(sign(claims(pm=read_pv(ri)), key=ROGUE_EC, alg="ES256"), "bad-signature", path)
        good = sign(claims(pm=read_pv(ri))).split(".")
        tampered = claims(pm=read_pv(ri), holder=USER, exp=int(time.time()) + 999999)
        import base64
        good[1] = base64.urlsafe_b64encode(json.dumps(tampered).encode()).rstrip(b"=").decode()
        self.refused(".".join(good), "bad-signature", path)

    def test_ts0003_7_3_2_5_expired_wrong_audience_wrong_holder_refused(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        now = int(time.time())
        self.refused(sign(claims(pm=read_pv(ri), nbf=now - 100, exp=now - 10)), "expired", path)
        self.refused(sign(claims(pm=read_pv(ri), nbf=now + 100, exp=now + 200)), "not-yet-valid", path)
        self.refused(sign(claims(pm=read_pv(ri), aud=("//%s/id-other" % SPID,))), "wrong-audience", path)
        self.refused(sign(claims(pm=read_pv(ri), holder=OTHER)), "wrong-holder", path)

    def test_ts0003_7_3_2_5_refusal_reason_in_the_audit_log(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        jti = uniq("audited")
        self.refused(sign(claims(pm=read_pv(ri), aud=("//%s/id-other" % SPID,), jti=jti)), "wrong-audience", path)
        time.sleep(0.3)
        with open(self.audit_path) as f:
            lines = [json.loads(ln) for ln in f if jti in ln or "token-wrong-audience" in ln]
        self.assertTrue(any(ln.get("reason") == "token-wrong-audience" and jti in ln.get("detail", "")
                            for ln in lines), lines[-3:])

    def test_ts0003_7_3_2_5_unknown_issuer_and_alg_none(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        self.refused(sign(claims(pm=read_pv(ri), iss="CStranger")), "unknown-issuer", path)
        self.refused(unsecured(claims(pm=read_pv(ri))), "unsecured-not-permitted", path)
        # an issuer whose policy allows unsecured tokens
        self.assertRsc(self.get(path, token=unsecured(claims(pm=read_pv(ri), iss=LAX))), 2000)

    def test_ts0003_7_3_2_5_alg_confusion_refused(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        # HS256 keyed with the EC public key's text: the classic confusion; no oct key matches
        pub = jwk.JWK(kty="oct", k=jwk.base64url_encode(EC_KEY.export_public().encode()))
        self.refused(sign(claims(pm=read_pv(ri)), key=pub), "bad-signature", path)

    def test_ts0003_7_3_2_6_jwe_around_jws(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        inner = sign(claims(pm=read_pv(ri)), key=EC_KEY, alg="ES256")
        self.assertRsc(self.get(path, token=encrypt(inner, cty="JWT")), 2000)
        self.assertRsc(self.get(path, token=encrypt(json.dumps(claims(pm=read_pv(ri))))), 2000, "JWE only")
        rogue = jwk.JWK.generate(kty="oct", size=256, kid="kw1")
        self.refused(encrypt(inner, cty="JWT", key=rogue), "undecryptable", path)

    def test_ts0003_7_3_2_5_token_role_ids_act_as_verified_roles(self):
        rlid = uniq("auditor")
        path, ri = self.protected_cnt(acor=(rlid,))
        tok = sign(claims(pm=[{"rids": [rlid]}]))
        self.assertRsc(self.get(path, token=tok), 2000)

    def test_ts0001_9_6_39_token_resource_and_tids(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        c = claims(pm=read_pv(ri))
        r = self.c.create("/" + CSE_RN, TY_TOKEN, {"rn": uniq("tk"), "tkob": sign(c)}, origin=ADMIN,
                          root="m2m:tk")
        self.assertRsc(r, 2001)
        tk = r.body["m2m:tk"]
        self.assertEqual(tk["tkid"], c["jti"])
        self.assertEqual(tk["tkhd"], abs_ae(USER))
        self.assertRsc(self.get(path, query={"tids": c["jti"]}), 2000)
        self.assertRsc(self.get(path, origin=OTHER, query={"tids": c["jti"]}), 4103)
        bad = self.c.create("/" + CSE_RN, TY_TOKEN, {"tkob": sign(c, key=ROGUE_HS)}, origin=ADMIN, root="m2m:tk")
        self.assertRsc(bad, 4000, "an unverifiable token is not stored")

    # TS-0004 8.4: the token resource reads the same in CBOR as in JSON
    def test_ts0004_8_4_token_resource_in_cbor(self):
        c = claims(pm=[{"rids": ["reader"]}])
        r = self.c.create("/" + CSE_RN, TY_TOKEN, {"rn": uniq("tk"), "tkob": sign(c)}, origin=ADMIN, root="m2m:tk")
        self.assertRsc(r, 2001)
        path = "/%s/%s" % (CSE_RN, r.body["m2m:tk"]["rn"])
        rj = self.c.retrieve(path, origin=ADMIN)
        self.assertRsc(rj, 2000)
        rc = self.c.retrieve(path, origin=ADMIN, accept="application/vnd.onem2m-res+cbor")
        self.assertRsc(rc, 2000)
        self.assertEqual(rc.headers.get("Content-Type", "").split(";")[0], "application/vnd.onem2m-res+cbor")
        self.assertIsInstance(rc.body, bytes)
        self.assertEqual(cbor_decode(rc.body), rj.body)
        self.assertEqual(rj.body["m2m:tk"]["tkid"], c["jti"])

    def test_ts0004_7_2_1_1_malformed_tokens_never_crash(self):
        path, _ = self.protected_cnt(acor=("nobody",))
        for junk in ("a", "a.b.c", "..", "....", "e30.e30.", "x" * 9000, "a.b.c.d.e", "%%%.%%.%"):
            r = self.get(path, token=junk)
            self.assertIn(r.rsc, (4000, 4103), self.describe(r))
        self.assertAlive()


class ExplainTest(AuthzBase):
    def test_contract_explain_api_denial_names_policy_and_rule(self):
        path, _ = self.protected_cnt(acor=("technician-x",))
        r = self.assertRsc(self.explain(USER, "retrieve", path[1:]), 2000)
        x = r.body["wdn:explain"]
        self.assertEqual(x["decision"], "DENY")
        text = "\n".join(x["reasons"])
        self.assertIn("accessControlPolicy", text)
        self.assertIn("rule 0: originator", text)

    def test_contract_explain_api_role_grant(self):
        rlid = uniq("tech")
        path, _ = self.protected_cnt(acor=(rlid,))
        self.assertRsc(self.role(rlid), 2001)
        x = self.assertRsc(self.explain(USER, "retrieve", path[1:], rids=rlid), 2000).body["wdn:explain"]
        self.assertEqual(x["decision"], "PERMIT")
        text = "\n".join(x["reasons"])
        self.assertIn("role %s" % rlid, text)
        self.assertIn("verified", text)
        self.assertIn("rule 0: granted", text)

    def test_contract_explain_api_token_refusal_and_grant(self):
        path, ri = self.protected_cnt(acor=("nobody",))
        now = int(time.time())
        bad = sign(claims(pm=read_pv(ri), nbf=now - 100, exp=now - 10))
        r = self.c.retrieve("/%s/$explain" % CSE_RN, origin=ADMIN, headers={"Authorization": bad},
                            query={"exfr": USER, "exop": "retrieve", "exto": path[1:]})
        x = self.assertRsc(r, 2000).body["wdn:explain"]
        self.assertEqual(x["decision"], "DENY")
        self.assertIn("expired", "\n".join(x["reasons"]))
        good = sign(claims(pm=read_pv(ri)))
        r = self.c.retrieve("/%s/$explain" % CSE_RN, origin=ADMIN, headers={"Authorization": good},
                            query={"exfr": USER, "exop": "retrieve", "exto": path[1:]})
        x = self.assertRsc(r, 2000).body["wdn:explain"]
        self.assertEqual(x["decision"], "PERMIT")
        self.assertIn("token", x["reasons"][0])

    def test_contract_explain_api_is_admin_only(self):
        r = self.c.retrieve("/%s/$explain" % CSE_RN, origin=USER,
                            query={"exfr": USER, "exop": "retrieve", "exto": CSE_RN})
        self.assertRsc(r, 4103)

    def test_contract_wardenctl_explain(self):
        rlid = uniq("op")
        path, _ = self.protected_cnt(acor=(rlid,))
        self.assertRsc(self.role(rlid), 2001)
        ctl = os.path.join(os.path.dirname(self.server.binary), "wardenctl")
        base = [ctl, "--store.path=%s" % self.server.store_path, "--authz.issuers=%s" % self.issuers_path,
                "explain", USER, "retrieve", path[1:]]
        p = subprocess.run(base, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.stdout.splitlines()[0], "DENY", p.stdout + p.stderr)
        self.assertEqual(p.returncode, 1)
        self.assertIn("rule 0: originator", p.stdout)
        p = subprocess.run(base + ["--rids", rlid], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.stdout.splitlines()[0], "PERMIT", p.stdout + p.stderr)
        self.assertEqual(p.returncode, 0)
        p = subprocess.run(base[:-4] + ["explain", OWNER, "delete", path[1:]], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.stdout.splitlines()[0], "DENY", p.stdout)


if __name__ == "__main__":
    main()
