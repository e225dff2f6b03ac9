#!/usr/bin/python3
"""HTTPS with TLS-PSK: security associations bound to AE-IDs, CSE-IDs, the admin or
"bind at registration", the From check against the SA, revocation, acaf, the secure
profile and the audit log.

TS-0003 10.2 (TLS-PSK security association establishment), TS-0003 8.2.2.1 (AE
registration bound to the SA credential), TS-0003 7.1.5 (acaf), TS-0004 7.3.2.1
(originator checks), as narrowed by docs/http-contract.md "Security associations and
authentication" (test_contract_... names).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_tls_psk.py

Real clients: openssl s_client (-psk_identity/-psk) and gnutls-cli (--pskusername/
--pskkey); Python's ssl module has no PSK support.  PSKs are provisioned with wardenctl
(next to WARDEN_BIN) on the running server's store.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_RN, OMIT, SPID, TY_CNT, WardenServer, free_port, main,  # noqa: E402
                        raw_exchange, uniq)
from tls_helpers import (GNUTLS_OLD, PskSession, SecureServer, TlsTestCase, encode_request, kpsa,  # noqa: E402
                         new_key, openssl_psk_argv, run_tls_client)

TY_ACP = 1
CB = "/" + CSE_RN


def ae_path(rn):
    return "%s/%s" % (CB, rn)


class PskTest(TlsTestCase):
    """Dev profile: plain HTTP and the https_psk listener, audit log on, debug logging
    (so that the check for key material in the server's output covers every message)."""

    extra_args = ("--log.level=debug",)

    # ------------------------------------------------------------ handshakes
    def _register_and_use(self, **client_kw):
        """Provision a PSK for a fresh stem, register the AE over it with the given
        client settings, create and read back a container."""
        stem = "C" + uniq("hs")
        kid, key = self.add_psk(stem)
        pc = self.psk(kid, key, **client_kw)
        r = self.assertRsc(pc.register_ae(origin=stem, rn=stem), 2001, "AE create over PSK %s" % client_kw)
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
        r = self.assertRsc(pc.create(ae_path(stem), TY_CNT, {"rn": "cnt"}, origin=stem), 2001)
        ri = self.res(r, "m2m:cnt")["ri"]
        r = self.assertRsc(pc.retrieve(ae_path(stem) + "/cnt", origin=stem), 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["ri"], ri)
        self.assertEqual(r.headers.get("X-M2M-RI"), pc.last_ri)
        return stem, pc

    def test_ts0003_10_2_psk_tls12_mandatory_suite_psk_aes128_cbc_sha256(self):
        # The client offers only this suite: success means it was negotiated.
        self._register_and_use(proto="1.2", cipher="PSK-AES128-CBC-SHA256")

    def test_ts0003_10_2_psk_tls12_gcm_suite(self):
        self._register_and_use(proto="1.2", cipher="PSK-AES128-GCM-SHA256")

    def test_ts0003_10_2_psk_tls13(self):
        self._register_and_use(proto="1.3")

    def test_ts0003_10_2_psk_gnutls_cli_tls12_and_tls13(self):
        for prio in ("NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK",
                     "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+PSK:+ECDHE-PSK"):
            with self.subTest(priority=prio):
                self._register_and_use(tool="gnutls", priority=prio)

    def test_ts0003_10_2_psk_sni_accepted(self):
        self._register_and_use(proto="1.2", extra=("-servername", "id-in." + SPID))

    def test_ts0003_10_2_psk_several_requests_on_one_connection(self):
        stem, pc, kid = self.psk_ae()
        key = pc.key
        with PskSession(self.S.psk_port, kid, key) as s:
            r = s.request("POST", ae_path(stem), origin=stem, ty=TY_CNT, body={"m2m:cnt": {"rn": "k"}})
            self.assertRsc(r, 2001)
            for i in range(3):
                r = s.request("POST", ae_path(stem) + "/k", origin=stem, ty=4, body={"m2m:cin": {"con": "v%d" % i}})
                self.assertRsc(r, 2001, "request %d on the same connection" % (i + 2))
            r = self.assertRsc(s.retrieve(ae_path(stem) + "/k/la", origin=stem), 2000)
            self.assertEqual(self.res(r, "m2m:cin")["con"], "v2")

    def test_ts0003_10_2_unknown_psk_identity_refused_at_handshake(self):
        start = self.audit.mark()
        kid = kpsa("ghost")
        for proto in ("1.2", "1.3"):
            with self.subTest(proto=proto):
                self.assertPskRefused(kid, new_key(), "unknown KpsaID", proto=proto)
        self.assertAuthnFail(start, "unknown-psk", what="unknown KpsaID")

    def test_ts0003_10_2_wrong_psk_key_refused_at_handshake(self):
        stem, pc, kid = self.psk_ae()
        wrong = new_key()
        self.keys.append(wrong)
        for proto in ("1.2", "1.3"):
            with self.subTest(proto=proto):
                start = self.audit.mark()
                self.assertPskRefused(kid, wrong, "wrong key", proto=proto)
                self.assertAuthnFail(start, "psk-mismatch", "psk:" + kid, "wrong key over TLS " + proto)
        # The right key still works.
        self.assertRsc(pc.retrieve(ae_path(stem), origin=stem), 2000)

    def test_ts0003_10_2_weak_protocols_and_suites_refused(self):
        stem, pc, kid = self.psk_ae()
        for proto, cipher in (("1.1", None), ("1.0", None), ("1.1", "PSK-AES128-CBC-SHA"),
                              ("1.2", "PSK-NULL-SHA256"), ("1.2", "PSK-NULL-SHA")):
            with self.subTest(proto=proto, cipher=cipher):
                self.assertPskRefused(kid, pc.key, "TLS %s %s" % (proto, cipher or ""), proto=proto, cipher=cipher)
        for suite in ("3DES-CBC", "ARCFOUR-128"):
            with self.subTest(gnutls_suite=suite):
                self.assertPskRefused(kid, pc.key, "TLS 1.2 PSK with %s" % suite, tool="gnutls",
                                      priority="%s:+PSK:+%s" % (GNUTLS_OLD, suite))
        # Same credential, acceptable protocol: accepted (the refusals were about the protocol).
        self.assertRsc(pc.retrieve(ae_path(stem), origin=stem), 2000)
        self.assertRsc(self.psk(pc.identity, pc.key, tool="gnutls", priority="NORMAL:-KX-ALL:+PSK")
                       .retrieve(ae_path(stem), origin=stem), 2000)

    # ------------------------------------------------------- AE-ID binding
    def test_ts0003_8_2_2_1_ae_create_over_sa_needs_the_bound_stem(self):
        stem = "C" + uniq("bnd")
        other = "C" + uniq("oth")
        kid, key = self.add_psk(stem)
        pc = self.psk(kid, key)
        for origin in ("C", "S", other, OMIT):
            with self.subTest(origin=origin):
                self.assertRsc(pc.register_ae(origin=origin, rn=uniq("x")), 4106,
                               "AE create over an SA bound to %s with From %r" % (stem, origin))
        # Nothing was registered under the other stem.
        self.assertRsc(self.c.retrieve(CB, origin=other), 4106)
        r = self.assertRsc(pc.register_ae(origin=stem, rn=stem), 2001)
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
        self.assertRsc(pc.register_ae(origin=stem, rn=uniq("again")), 4117, "stem already registered")

    def test_ts0003_8_2_2_1_reregistration_over_sa_after_delete(self):
        stem, pc, kid = self.psk_ae()
        self.assertRsc(pc.delete(ae_path(stem), origin=stem), 2002)
        self.assertRsc(self.c.retrieve(ae_path(stem), origin=ADMIN), 4004)
        r = self.assertRsc(pc.register_ae(origin=stem, rn=stem), 2001, "re-registration over the same SA")
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
        self.assertRsc(pc.retrieve(ae_path(stem), origin=stem), 2000)

    def test_ts0004_7_3_2_1_unregistered_ae_over_its_own_sa_is_4106(self):
        # The SA proves who the originator is; it does not register it.  Until the AE-ID
        # bound to the KpsaID is registered, only its AE create is accepted.
        stem = "C" + uniq("unreg")
        kid, key = self.add_psk(stem)
        pc = self.psk(kid, key)
        owner, _, owner_path, _ = self.new_ae()
        acp = {"rn": uniq("open"), "pv": {"acr": [{"acor": ["all"], "acop": 63}]},
               "pvs": {"acr": [{"acor": [owner], "acop": 63}]}}
        r = self.assertRsc(self.c.create(owner_path, TY_ACP, acp, origin=owner, root="m2m:acp"), 2001)
        path, _ = self.new_cnt(owner_path, owner, acpi=[self.res(r, "m2m:acp")["ri"]])
        start = self.audit.mark()
        self.assertRsc(pc.retrieve(CB, origin=stem), 4106, "CSEBase retrieve by an unregistered AE")
        self.assertRsc(pc.retrieve(path, origin=stem), 4106, "retrieve by an unregistered AE")
        self.assertRsc(pc.create(path, 4, {"con": "x", "rn": "planted"}, origin=stem), 4106,
                       "create by an unregistered AE")
        self.assertRsc(self.c.retrieve(path + "/planted", origin=owner), 4004)
        self.assertDenyLogged(start, 4106, stem, "psk:" + kid)

    def test_ts0003_10_2_plain_http_on_psk_port_not_served(self):
        status, _, body, _ = raw_exchange(self.S.psk_port, encode_request("GET", CB, origin=ADMIN), timeout=5)
        self.assertIsNone(status, "plain HTTP on the TLS-PSK port was answered: %r" % body[:200])

    def test_ts0003_8_2_2_1_binding_forms_of_the_same_ae_id(self):
        for form in ("/id-in/{}", "//%s/id-in/{}" % SPID):
            stem = "C" + uniq("frm")
            with self.subTest(binding=form.format(stem)):
                kid, key = self.add_psk(form.format(stem))
                pc = self.psk(kid, key)
                r = self.assertRsc(pc.register_ae(origin=stem, rn=stem), 2001)
                self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
                self.assertRsc(pc.retrieve(ae_path(stem), origin=stem), 2000)
                self.assertRsc(pc.retrieve(CB, origin="C" + uniq("not")), 4106)

    def test_ts0003_8_2_2_1_sa_bound_to_several_ae_ids(self):
        c_stem, s_stem = "C" + uniq("two"), "S" + uniq("two")
        kid, key = self.add_psk("%s,%s" % (c_stem, s_stem))
        pc = self.psk(kid, key)
        for stem in (c_stem, s_stem):
            r = self.assertRsc(pc.register_ae(origin=stem, rn=stem), 2001, "register %s" % stem)
            self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
        for stem in (c_stem, s_stem):
            self.assertRsc(pc.retrieve(ae_path(stem), origin=stem), 2000)
        self.assertRsc(pc.retrieve(ae_path(c_stem), origin="C" + uniq("third")), 4106)

    def test_ts0004_7_3_2_1_ae_spoofing_other_ae_over_own_sa_is_4106(self):
        a, pa, kid_a = self.psk_ae()
        b, pb, kid_b = self.psk_ae()
        r = self.assertRsc(pb.create(ae_path(b), TY_CNT, {"rn": "data", "lbl": ["orig"]}, origin=b), 2001)
        start = self.audit.mark()
        # A claims to be B over A's own security association.
        self.assertRsc(pa.retrieve(ae_path(b) + "/data", origin=b), 4106)
        self.assertRsc(pa.update(ae_path(b) + "/data", "m2m:cnt", {"lbl": ["spoofed"]}, origin=b), 4106)
        self.assertRsc(pa.create(ae_path(b), TY_CNT, {"rn": "planted"}, origin=b), 4106)
        self.assertRsc(pa.delete(ae_path(b) + "/data", origin=b), 4106)
        self.assertRsc(pa.retrieve(CB, origin=ADMIN), 4106, "admin claimed over an AE's SA")
        ev = self.assertDenyLogged(start, 4106, b, "psk:" + kid_a)
        self.assertIn("data", str(ev.get("target")), ev)
        # B's data is untouched, and A still acts as itself.
        r = self.assertRsc(pb.retrieve(ae_path(b) + "/data", origin=b), 2000)
        self.assertEqual(self.res(r, "m2m:cnt").get("lbl"), ["orig"])
        self.assertRsc(pb.retrieve(ae_path(b) + "/planted", origin=b), 4004)
        self.assertRsc(pa.retrieve(ae_path(a), origin=a), 2000)

    # --------------------------------------------------- bind at registration
    def test_ts0003_8_2_2_1_psk_bound_at_registration(self):
        kid, key = self.add_psk("-")
        pc = self.psk(kid, key)
        plain_aei, _, plain_path, _ = self.new_ae()
        # Before registration only an AE create is accepted.
        self.assertRsc(pc.retrieve(CB, origin=ADMIN), 4106)
        self.assertRsc(pc.retrieve(plain_path, origin=plain_aei), 4106)
        self.assertRsc(pc.create(CB, TY_CNT, {"rn": uniq("c")}, origin=ADMIN), 4106)
        rn = uniq("reg")
        r = self.assertRsc(pc.register_ae(origin="C", rn=rn), 2001)
        aei = self.res(r, "m2m:ae")["aei"]
        self.assertTrue(aei.startswith("C") and len(aei) > 1, aei)
        # Later requests (new connections, same KpsaID) act as that AE.
        self.assertRsc(pc.create(ae_path(rn), TY_CNT, {"rn": "c1"}, origin=aei), 2001)
        r = self.assertRsc(pc.retrieve(ae_path(rn) + "/c1", origin=aei), 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["pi"], aei)
        with PskSession(self.S.psk_port, kid, key, proto="1.3") as s:
            self.assertRsc(s.retrieve(ae_path(rn), origin=aei), 2000)
        # ... and only as that AE.
        self.assertRsc(pc.retrieve(plain_path, origin=plain_aei), 4106)
        self.assertRsc(pc.retrieve(CB, origin=ADMIN), 4106)
        # A second registration over the same KpsaID.
        self.assertRsc(pc.register_ae(origin="C", rn=uniq("second")), 4106)
        self.assertRsc(pc.register_ae(origin="S", rn=uniq("second")), 4106)
        # wardenctl shows the binding that was made.
        binding, state = self.ctl.psk_list()[kid]
        self.assertEqual(state, "active")
        self.assertIn(aei, binding, "psk list binding after registration")

    def test_ts0003_8_2_2_1_concurrent_registrations_bind_once(self):
        # Several connections with the same unbound KpsaID, handshakes done, then an AE
        # create on all of them at once: exactly one may register.
        kid, key = self.add_psk("-")
        n = 6
        sessions = [PskSession(self.S.psk_port, kid, key, quiet=False) for _ in range(n)]
        try:
            for s in sessions:
                self.assertTrue(s.wait_handshake(), "handshake did not complete: %s" % s.stderr())
            rns = [uniq("race") for _ in range(n)]
            for s, rn in zip(sessions, rns):
                s.send(encode_request("POST", CB, origin="C", ty=2, close=False,
                                      body={"m2m:ae": {"api": "Nrace", "rr": False, "rn": rn}},
                                      host="127.0.0.1:%d" % self.S.psk_port))
            results = [s.response() for s in sessions]
        finally:
            for s in sessions:
                s.close()
        for r in results:
            self.assertIsNotNone(r, "a connection closed without a response")
        won = [i for i, r in enumerate(results) if r.rsc == 2001]
        self.assertEqual(len(won), 1, "registrations over one '-' KpsaID, got: %s"
                         % [self.describe(r)[:120] for r in results])
        for i, r in enumerate(results):
            if i != won[0]:
                self.assertRsc(r, 4106, "concurrent second registration")
                self.assertRsc(self.c.retrieve(ae_path(rns[i]), origin=ADMIN), 4004, "a refused registration")
        aei = self.res(results[won[0]], "m2m:ae")["aei"]
        self.assertRsc(self.psk(kid, key).retrieve(ae_path(rns[won[0]]), origin=aei), 2000)

    def test_ts0003_8_2_2_1_psk_bound_at_registration_refuses_chosen_stems(self):
        """A key provisioned with '-' lets the CSE pick the AE-ID: a chosen stem could be another
        credential's AE, the admin, or a deleted AE whose grants still stand in some policy."""
        taken, _, _, _ = self.new_ae(origin="C" + uniq("tkn"))
        kid, key = self.add_psk("-")
        pc = self.psk(kid, key, proto="1.3")
        for stem in ("S" + uniq("stem"), "C" + uniq("free"), taken, ADMIN):
            with self.subTest(stem=stem):
                self.assertRsc(pc.register_ae(origin=stem, rn=uniq("r")), 4106)
        # nothing got bound: the admin is not reachable over the key, a C registration still works
        self.assertRsc(pc.retrieve(CB, origin=ADMIN), 4106)
        self.assertRsc(pc.retrieve(CB, origin=taken), 4106)
        rn = uniq("ok")
        r = self.assertRsc(pc.register_ae(origin="C", rn=rn), 2001)
        aei = self.res(r, "m2m:ae")["aei"]
        self.assertNotEqual(aei, taken)
        self.assertRsc(pc.retrieve(ae_path(rn), origin=aei), 2000)

    # --------------------------------------------------------- CSE-ID binding
    def test_ts0004_7_3_2_1_sa_bound_to_cse_id_claiming_other_cse_id_is_4106(self):
        mn = "/id-" + uniq("mn")
        kid, key = self.add_psk(mn)
        pc = self.psk(kid, key)
        registered, _, _, _ = self.new_ae()
        start = self.audit.mark()
        for origin in ("/id-other", "//%s/id-other" % SPID, registered, ADMIN):
            with self.subTest(origin=origin):
                self.assertRsc(pc.retrieve(CB, origin=origin), 4106, "From %s over an SA bound to %s" % (origin, mn))
        self.assertDenyLogged(start, 4106, "/id-other", "psk:" + kid)
        # Its own CSE-ID, and AE-IDs under it, pass the originator check.
        for origin in (mn, "//%s%s" % (SPID, mn), "%s/C%s" % (mn, uniq("remote"))):
            with self.subTest(origin=origin):
                r = pc.retrieve(CB, origin=origin)
                self.assertNotIn(r.rsc, (4106, 4107), "From %s over an SA bound to %s: %s"
                                 % (origin, mn, self.describe(r)))
                self.assertIsNotNone(r.rsc, self.describe(r))
        # The same CSE-ID without an SA is refused with 4107.
        self.assertRsc(self.c.retrieve(CB, origin=mn), 4107)

    # ------------------------------------------------------------------ admin
    def test_contract_admin_over_psk_bound_to_cadmin(self):
        kid, key = self.add_psk(ADMIN, prefix="admin")
        pc = self.psk(kid, key)
        r = self.assertRsc(pc.retrieve(CB, origin=ADMIN), 2000)
        self.assertEqual(self.res(r, "m2m:cb")["rn"], CSE_RN)
        rn = uniq("adm")
        self.assertRsc(pc.create(CB, TY_CNT, {"rn": rn}, origin=ADMIN), 2001)
        self.assertRsc(pc.delete(ae_path(rn), origin=ADMIN), 2002)
        registered, _, path, _ = self.new_ae()
        self.assertRsc(pc.retrieve(path, origin=registered), 4106, "an AE claimed over the admin's SA")

    # ------------------------------------------------------------- revocation
    def test_ts0003_10_2_revoked_psk_refused_at_handshake(self):
        stem, pc, kid = self.psk_ae()
        self.assertRsc(pc.retrieve(ae_path(stem), origin=stem), 2000)
        self.ctl.psk_revoke(kid)
        start = self.audit.mark()
        # New handshakes fail at once.
        for proto in ("1.2", "1.3"):
            with self.subTest(proto=proto):
                self.assertPskRefused(kid, pc.key, "revoked KpsaID", proto=proto)
        self.assertAuthnFail(start, "revoked-psk", "psk:" + kid, "revoked KpsaID")
        self.assertEqual(self.ctl.psk_list()[kid][1], "revoked")
        # The AE itself is still there (revocation is about the credential).
        self.assertRsc(self.c.retrieve(ae_path(stem), origin=ADMIN), 2000)

    def test_ts0003_10_2_revoked_psk_cannot_resume_a_session(self):
        stem, pc, kid = self.psk_ae()
        port = self.S.psk_port
        req = encode_request("GET", ae_path(stem), origin=stem, host="127.0.0.1:%d" % port)
        # A session (ticket or ID) saved from an accepted connection, per protocol version.
        sessions = []
        for proto in ("1.2", "1.3"):
            sess = os.path.join(self.S.tmp, uniq("sess") + ".pem")
            res = run_tls_client(openssl_psk_argv(port, kid, pc.key, proto, extra=("-sess_out", sess)), req)
            self.assertEqual([r.rsc for r in res.responses], [2000], res.stderr)
            if os.path.exists(sess):  # s_client saves only what the server lets it resume
                sessions.append((proto, sess))
        self.ctl.psk_revoke(kid)
        for proto, sess in sessions:
            with self.subTest(proto=proto):
                res = run_tls_client(openssl_psk_argv(port, kid, pc.key, proto, extra=("-sess_in", sess)), req)
                self.assertEqual(res.responses, [], "TLS %s: a saved session of a revoked KpsaID was served" % proto)

    def test_ts0003_10_2_psk_revoked_while_connection_open(self):
        stem, pc, kid = self.psk_ae()
        with PskSession(self.S.psk_port, kid, pc.key) as s:
            self.assertRsc(s.retrieve(ae_path(stem), origin=stem), 2000, "before revocation")
            self.ctl.psk_revoke(kid)
            t0 = time.monotonic()
            self.assertPskRefused(kid, pc.key, "new handshake right after revocation")
            # Within 1 s the open connection stops working: the next request gets 4106
            # and the connection is closed.  Requests sent later than 1 s (+0.25 s for
            # scheduling) after the revocation must not be served.
            self.assertServedUntilRevoked(s, ae_path(stem), stem, t0, "credential")

    # ------------------------------------------------------------------- acaf
    def test_ts0003_7_1_5_acaf_rule_matches_only_authenticated_requests(self):
        owner, _, owner_path, _ = self.new_ae()
        reader, rpc, _ = self.psk_ae()
        acp = {"rn": uniq("acp"),
               "pv": {"acr": [{"acor": [reader], "acop": 2, "acaf": True}]},
               "pvs": {"acr": [{"acor": [owner], "acop": 63}]}}
        r = self.assertRsc(self.c.create(owner_path, TY_ACP, acp, origin=owner, root="m2m:acp"), 2001)
        acp_ri = self.res(r, "m2m:acp")["ri"]
        path, cnt = self.new_cnt(owner_path, owner, acpi=[acp_ri])
        # The same AE: over its PSK the rule matches ...
        r = self.assertRsc(rpc.retrieve(path, origin=reader), 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["ri"], cnt["ri"])
        # ... over plain HTTP (dev profile, no SA) it does not.
        self.assertRsc(self.c.retrieve(path, origin=reader), 4103)
        # The rule grants RETRIEVE only, authenticated or not.
        start = self.audit.mark()
        self.assertRsc(rpc.delete(path, origin=reader), 4103)
        self.assertDenyLogged(start, 4103, reader, "psk:" + rpc.identity)

    # ------------------------------------------------------------------ audit
    def test_contract_audit_authn_ok_once_per_connection(self):
        stem, pc, kid = self.psk_ae()

        def oks(start):
            return [e for e in self.audit.events(start)
                    if e.get("event") == "authn-ok" and e.get("credential") == "psk:" + kid]

        start = self.audit.mark()
        with PskSession(self.S.psk_port, kid, pc.key) as s:
            for _ in range(3):
                self.assertRsc(s.retrieve(ae_path(stem), origin=stem), 2000)
        ev = self.audit.wait_for(lambda e: e.get("event") == "authn-ok" and e.get("credential") == "psk:" + kid,
                                 start)
        self.assertIsNotNone(ev, "no authn-ok line for psk:%s; lines: %s" % (kid, self.audit.lines()[start:]))
        self.assertIn(stem, str(ev.get("identity")), ev)
        self.assertEqual(ev.get("peer"), "127.0.0.1", ev)
        self.assertIn("ts", ev, ev)
        self.assertEqual(len(oks(start)), 1, "one authn-ok per TLS connection, not per request")
        self.assertRsc(pc.retrieve(ae_path(stem), origin=stem), 2000)
        self.assertTrue(self.audit.wait_until(lambda: len(oks(start)) == 2),
                        "a second connection gives a second authn-ok: %s" % oks(start))
        # Not yet bound: empty identity.
        kid2, key2 = self.add_psk("-")
        start = self.audit.mark()
        self.assertRsc(self.psk(kid2, key2).retrieve(CB, origin=ADMIN), 4106)
        ev = self.audit.wait_for(lambda e: e.get("event") == "authn-ok" and e.get("credential") == "psk:" + kid2,
                                 start)
        self.assertIsNotNone(ev, "no authn-ok for the unbound KpsaID")
        self.assertFalse(ev.get("identity"), ev)

    def _idle_connection(self, proto):
        """A connection with the right key that completes the handshake and sends nothing."""
        kid, key = self.add_psk(ADMIN, prefix="idle")
        start = self.audit.mark()
        s = PskSession(self.S.psk_port, kid, key, proto=proto, quiet=False)
        try:
            self.assertTrue(s.wait_handshake(), "handshake did not complete: %s" % s.stderr())
            ok = self.audit.wait_for(lambda e: e.get("event") == "authn-ok" and e.get("credential") == "psk:" + kid,
                                     start, timeout=2.0)
        finally:
            s.close()
        return kid, start, ok

    def test_contract_audit_right_key_without_request_is_not_authn_fail(self):
        for proto in ("1.2", "1.3"):
            with self.subTest(proto=proto):
                kid, start, _ = self._idle_connection(proto)
                # A request on another connection after the close, so the server has seen it.
                self.assertRsc(self.c.retrieve(CB, origin=ADMIN), 2000)
                bad = self.audit.wait_for(lambda e: e.get("event") == "authn-fail"
                                          and e.get("credential") == "psk:" + kid, start, timeout=1.0)
                self.assertIsNone(bad, "TLS %s: a connection with the right key, closed before any request, "
                                       "was audited as a failed authentication: %s" % (proto, bad))

    def test_contract_audit_authn_ok_after_handshake_without_request(self):
        for proto in ("1.2", "1.3"):
            with self.subTest(proto=proto):
                kid, start, ok = self._idle_connection(proto)
                self.assertIsNotNone(ok, "TLS %s: no authn-ok after a completed handshake (no request sent); "
                                         "lines: %s" % (proto, self.audit.lines()[start:]))

    def test_contract_audit_never_contains_key_material(self):
        stem, pc, kid = self.psk_ae()
        self.assertRsc(pc.retrieve(ae_path(stem), origin=stem), 2000)
        self.assertRsc(pc.retrieve(CB, origin="C" + uniq("spoof")), 4106)
        wrong = new_key()
        self.keys.append(wrong)
        self.assertPskRefused(kid, wrong, "wrong key")
        self.assertPskRefused(kpsa("nobody"), wrong, "unknown KpsaID")
        start = self.audit.mark()
        self.ctl.psk_revoke(kid)
        self.assertPskRefused(kid, pc.key, "revoked KpsaID")
        self.assertAuthnFail(start, "revoked-psk", "psk:" + kid)
        self.assertGreater(len(self.keys), 1)
        self.assertNoKeyMaterial()


class SecureProfilePskTest(TlsTestCase):
    """Secure profile: plain HTTP on 127.0.0.1 answers 4107 to everything."""

    profile = "secure"

    def test_contract_secure_profile_plain_http_is_4107_for_every_request(self):
        start = self.audit.mark()
        cases = [
            ("admin retrieve", lambda: self.c.retrieve(CB, origin=ADMIN)),
            ("admin create", lambda: self.c.create(CB, TY_CNT, {"rn": uniq("c")}, origin=ADMIN)),
            ("AE create", lambda: self.c.register_ae(origin="C", rn=uniq("ae"))),
            ("AE create with stem", lambda: self.c.register_ae(origin="C" + uniq("st"), rn=uniq("ae"))),
            ("CSE-ID", lambda: self.c.retrieve(CB, origin="/id-mn")),
            ("unregistered AE", lambda: self.c.retrieve(CB, origin="C" + uniq("x"))),
            ("delete", lambda: self.c.delete(CB, origin=ADMIN)),
        ]
        for what, fn in cases:
            with self.subTest(case=what):
                self.assertRsc(fn(), 4107, what)
        ev = self.assertDenyLogged(start, 4107, ADMIN)
        self.assertFalse(ev.get("credential"), ev)

    def test_contract_secure_profile_plain_http_without_from_is_4107(self):
        # "secure profile -> 4107 for everything": a request without From included.
        self.assertRsc(self.c.retrieve(CB, origin=OMIT), 4107)
        self.assertRsc(self.c.retrieve(CB + "/" + uniq("nothere"), origin=OMIT), 4107)

    def test_contract_secure_profile_admin_over_psk_bound_to_cadmin(self):
        kid, key = self.add_psk(ADMIN, prefix="admin")
        pc = self.psk(kid, key)
        r = self.assertRsc(pc.retrieve(CB, origin=ADMIN), 2000)
        self.assertEqual(self.res(r, "m2m:cb")["csi"], "/id-in")
        rn = uniq("adm")
        self.assertRsc(pc.create(CB, TY_CNT, {"rn": rn}, origin=ADMIN), 2001)
        self.assertRsc(pc.retrieve(ae_path(rn), origin=ADMIN), 2000)
        self.assertRsc(pc.delete(ae_path(rn), origin=ADMIN), 2002)
        # Still refused over plain HTTP.
        self.assertRsc(self.c.retrieve(CB, origin=ADMIN), 4107)

    def test_ts0003_8_2_2_1_secure_profile_ae_registers_and_works_over_psk(self):
        kid, key = self.add_psk("-")
        pc = self.psk(kid, key)
        rn = uniq("sec")
        r = self.assertRsc(pc.register_ae(origin="C", rn=rn), 2001)
        aei = self.res(r, "m2m:ae")["aei"]
        self.assertRsc(pc.create(ae_path(rn), TY_CNT, {"rn": "c"}, origin=aei), 2001)
        self.assertRsc(pc.retrieve(ae_path(rn) + "/c", origin=aei), 2000)
        start = self.audit.mark()
        self.assertRsc(pc.retrieve(ae_path(rn), origin="C" + uniq("spoof")), 4106)
        ev = self.audit.wait_for(lambda e: e.get("event") == "deny" and e.get("rsc") == 4106, start)
        self.assertIsNotNone(ev, "no deny line for the 4106")
        self.assertEqual(ev.get("credential"), "psk:" + kid, ev)
        # The registered AE over plain HTTP: 4107 in the secure profile.
        self.assertRsc(self.c.retrieve(ae_path(rn), origin=aei), 4107)

    def test_contract_secure_profile_refuses_plain_http_on_wildcard_address(self):
        for address in ("0.0.0.0", "::"):
            with self.subTest(address=address):
                tmp = os.path.join(self.S.tmp, uniq("wild"))
                os.mkdir(tmp)
                srv = WardenServer(standard_args=False, tmpdir=tmp, extra_args=[
                    "--cse.profile=secure", "--http.port=%d" % free_port(), "--http.address=" + address,
                    "--https_psk.port=%d" % free_port(), "--store.path=%s" % os.path.join(tmp, "w.db"),
                    "--log.level=warn"])
                try:
                    srv.spawn()
                    rc = srv.wait_exit(10)
                    self.assertIsNotNone(rc, "server with plain HTTP on %s in the secure profile kept running"
                                         % address)
                    self.assertNotEqual(rc, 0, "exit status; output:\n" + srv.output())
                    self.assertNotIn("warden: ready", srv.output())
                finally:
                    srv.cleanup()


class PskRestartTest(TlsTestCase):
    """Bindings made at registration are durable (one server per test, restarted)."""

    @classmethod
    def setUpClass(cls):
        cls.keys = []

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.S = SecureServer().start()
        self.ctl = self.S.ctl
        self.audit = self.S.audit
        self.c = self.S.client()

    def tearDown(self):
        try:
            self.S.stop()
        finally:
            self.S.cleanup()

    def _register_then(self, restart):
        kid, key = self.add_psk("-")
        revoked_kid, revoked_key = self.add_psk("C" + uniq("rv"))
        self.ctl.psk_revoke(revoked_kid)
        rn = uniq("dur")
        r = self.assertRsc(self.psk(kid, key).register_ae(origin="C", rn=rn), 2001)
        aei = self.res(r, "m2m:ae")["aei"]
        restart()
        self.c = self.S.client()
        pc = self.psk(kid, key)
        r = self.assertRsc(pc.retrieve(ae_path(rn), origin=aei), 2000, "the bound AE after the restart")
        self.assertEqual(self.res(r, "m2m:ae")["aei"], aei)
        self.assertRsc(pc.create(ae_path(rn), TY_CNT, {"rn": "c"}, origin=aei), 2001)
        self.assertRsc(pc.register_ae(origin="C", rn=uniq("again")), 4106, "second registration after restart")
        self.assertRsc(pc.retrieve(CB, origin=ADMIN), 4106)
        self.assertPskRefused(revoked_kid, revoked_key, "revoked KpsaID after restart")

    def test_ts0003_8_2_2_1_registration_binding_survives_restart(self):
        def restart():
            self.S.stop()
            self.S.start()
        self._register_then(restart)
        self.assertNoKeyMaterial()

    def test_ts0003_8_2_2_1_registration_binding_durable_before_2001(self):
        def crash():
            self.S.kill9()
            self.S.start()
        self._register_then(crash)


if __name__ == "__main__":
    main()
