#!/usr/bin/python3
"""HTTPS with client certificates: identities from subjectAltName, the From check
against the certificate's identity, refusal of untrusted / expired / not yet valid /
revoked / unusable certificates at the handshake, acaf, the secure profile and the
audit log.

TS-0003 10.1-10.2 (TLS with certificates), TS-0003 8.2.2 (credential-based
identification), TS-0003 7.1.5 (acaf), TS-0004 7.3.2.1 (originator checks), as narrowed
by docs/http-contract.md "Security associations and authentication" (test_contract_...).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_tls_cert.py

Certificates come from `wardenctl ca init` / `ca issue` (a second `ca init` for the
wrong CA); the few that ca issue never makes (no identity, RSA key, keyUsage without
digitalSignature) are signed with the same CA key by `openssl x509 -req`.  Clients:
the ssl module (http.client.HTTPSConnection), curl, and openssl s_client for the
protocol / suite refusals.
"""

import os
import shutil
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_RN, SPID, TY_CNT, WardenServer, free_port, main, raw_exchange,  # noqa: E402
                        uniq)
from tls_helpers import (GNUTLS_OLD, OPENSSL, CertSession, Ctl, HandshakeRefused, OpensslCa, Pki, SecureServer,  # noqa: E402
                         TlsTestCase, ae_absolute, client_context, curl_request, encode_request,
                         gnutls_cert_argv, openssl_cert_argv, run_checked, run_tls_client)

TY_ACP = 1
CB = "/" + CSE_RN
AE_BODY = {"api": "Nwardentls", "rr": False}


def ae_path(rn):
    return "%s/%s" % (CB, rn)


def colon_upper(serial):
    """0a1b2c -> 0A:1B:2C (the other accepted spelling of a serial)."""
    s = serial if len(serial) % 2 == 0 else "0" + serial
    return ":".join(s[i:i + 2] for i in range(0, len(s), 2)).upper()


class CertHelpers:

    def ae_cert(self, ident=None, stem=None):
        """A certificate for an AE-ID from wardenctl ca issue.  Returns (stem, cert, key, serial)."""
        stem = stem or "C" + uniq("crt")
        crt, key, serial = self.S.pki.issue(ident.format(stem) if ident else stem)
        return stem, crt, key, serial

    def registered_cert_ae(self, ident=None):
        """An AE registered over its own certificate.  Returns (stem, CertClient, serial)."""
        stem, crt, key, serial = self.ae_cert(ident)
        cc = self.S.cert_client(crt, key)
        r = self.assertRsc(cc.register_ae(origin=stem, rn=stem), 2001, "AE create over its certificate")
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
        return stem, cc, serial

    def curl(self, method, path, cert=None, key=None, **kw):
        return curl_request(self.S.https_port, method, path, self.S.pki.ca_pem, cert, key, **kw)

    def assertCurlRsc(self, res, rsc, msg=""):
        self.assertIsNotNone(res.resp, "%s: curl got no HTTP response (exit %d): %s" % (msg, res.rc, res.stderr))
        self.assertEqual(res.rc, 0, res.stderr)
        return self.assertRsc(res.resp, rsc, msg)

    def assertCertRefused(self, crt, key, what, reason=None, serial=None, curl=False, tls12=True):
        """Handshakes with this client certificate fail (ssl module TLS 1.3 and 1.2, and
        curl when asked) and an authn-fail line with the reason is written."""
        start = self.audit.mark()
        self.assertRefused(lambda: self.S.cert_client(crt, key).retrieve(CB, origin=ADMIN), what + " (TLS 1.3)")
        if tls12:
            self.assertRefused(lambda: self.S.cert_client(crt, key, max_version=ssl.TLSVersion.TLSv1_2)
                               .retrieve(CB, origin=ADMIN), what + " (TLS 1.2)")
        if curl:
            res = self.curl("GET", CB, crt, key, origin=ADMIN)
            self.assertIsNone(res.resp, "%s: curl got an HTTP response" % what)
            self.assertNotEqual(res.rc, 0, "%s: curl exit status" % what)
        if reason:
            ev = self.assertAuthnFail(start, reason, what=what)
            if serial is not None and ev.get("credential"):
                self.assertEqual(ev["credential"], "cert:" + serial, ev)
            return ev


class CertTest(CertHelpers, TlsTestCase):
    """Dev profile: plain HTTP and the certificate listener (tls.ca set), audit log on."""

    with_psk = False
    with_certs = True

    # ------------------------------------------------------------------ curl
    def test_ts0003_10_2_curl_client_certificate_registers_and_uses_ae(self):
        stem, crt, key, _ = self.ae_cert()
        res = self.curl("POST", CB, crt, key, origin=stem, ty=2, body={"m2m:ae": dict(AE_BODY, rn=stem)})
        r = self.assertCurlRsc(res, 2001, "curl AE create with a client certificate")
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
        res = self.curl("POST", ae_path(stem), crt, key, origin=stem, ty=TY_CNT, body={"m2m:cnt": {"rn": "c"}})
        cnt_ri = self.res(self.assertCurlRsc(res, 2001, "curl container create"), "m2m:cnt")["ri"]
        res = self.curl("POST", ae_path(stem) + "/c", crt, key, origin=stem, ty=4, body={"m2m:cin": {"con": "hi"}})
        self.assertCurlRsc(res, 2001, "curl contentInstance create")
        r = self.assertCurlRsc(self.curl("GET", ae_path(stem) + "/c", crt, key, origin=stem), 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["ri"], cnt_ri)
        r = self.assertCurlRsc(self.curl("GET", ae_path(stem) + "/c/la", crt, key, origin=stem), 2000)
        self.assertEqual(self.res(r, "m2m:cin")["con"], "hi")
        self.assertCurlRsc(self.curl("DELETE", ae_path(stem) + "/c", crt, key, origin=stem), 2002)

    def test_ts0004_7_3_2_1_curl_certificate_claiming_other_ae_is_4106(self):
        a, ca, serial_a = self.registered_cert_ae()
        b, cb, _ = self.registered_cert_ae()
        self.assertRsc(cb.create(ae_path(b), TY_CNT, {"rn": "d"}, origin=b), 2001)
        a_crt, a_key = ca.cert, ca.key
        start = self.audit.mark()
        for method, path, kw in (("GET", ae_path(b) + "/d", {}),
                                 ("DELETE", ae_path(b) + "/d", {}),
                                 ("POST", ae_path(b), {"ty": TY_CNT, "body": {"m2m:cnt": {"rn": "x"}}}),
                                 ("GET", CB, {})):
            with self.subTest(method=method, path=path):
                self.assertCurlRsc(self.curl(method, path, a_crt, a_key, origin=b, **kw), 4106,
                                   "A's certificate with From %s" % b)
        self.assertDenyLogged(start, 4106, b, "cert:" + serial_a)
        self.assertCurlRsc(self.curl("GET", CB, a_crt, a_key, origin=ADMIN), 4106, "admin claimed with an AE cert")
        self.assertRsc(cb.retrieve(ae_path(b) + "/d", origin=b), 2000)
        self.assertRsc(cb.retrieve(ae_path(b) + "/x", origin=b), 4004)

    # ------------------------------------------------------------ ssl module
    def test_ts0003_10_2_certificate_authenticated_requests(self):
        for form in ("{}", "/id-in/{}", "//%s/id-in/{}" % SPID):
            with self.subTest(id_form=form):
                stem, cc, _ = self.registered_cert_ae(form)
                r = self.assertRsc(cc.create(ae_path(stem), TY_CNT, {"rn": "c"}, origin=stem), 2001)
                ri = self.res(r, "m2m:cnt")["ri"]
                r = self.assertRsc(cc.retrieve(ae_path(stem) + "/c", origin=stem), 2000)
                self.assertEqual(self.res(r, "m2m:cnt")["ri"], ri)
                self.assertRsc(cc.retrieve(ae_path(stem), origin="C" + uniq("other")), 4106)

    def test_ts0003_8_2_2_ae_create_over_certificate_needs_its_stem(self):
        stem, crt, key, _ = self.ae_cert()
        cc = self.S.cert_client(crt, key)
        for origin in ("C", "S", "C" + uniq("nope")):
            with self.subTest(origin=origin):
                self.assertRsc(cc.register_ae(origin=origin, rn=uniq("x")), 4106)
        self.assertRsc(cc.register_ae(origin=stem, rn=stem), 2001)
        self.assertRsc(cc.register_ae(origin=stem, rn=uniq("again")), 4117)

    def test_finding_27_wardenctl_certificate_with_cn_accepted(self):
        # the certificate an AE uses with mosquitto (CN = its stem) serves over HTTPS as well: the
        # CA's DNS name constraints apply to subjectAltName identities, not to the CN
        stem = "C" + uniq("cn")
        crt, key, _ = self.S.pki.issue(stem, cn=stem)
        cc = self.S.cert_client(crt, key)
        self.assertRsc(cc.register_ae(origin=stem, rn=stem), 2001)
        self.assertRsc(cc.retrieve(ae_path(stem), origin=stem), 2000)

    def test_ts0003_10_2_certificate_san_uri_with_scheme(self):
        stem = "C" + uniq("sch")
        crt, key, _ = self.S.pki.craft(uniq("scheme"), san="URI:oneM2M:%s" % ae_absolute(stem))
        cc = self.S.cert_client(crt, key)
        r = self.assertRsc(cc.register_ae(origin=stem, rn=stem), 2001)
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
        self.assertRsc(cc.retrieve(ae_path(stem), origin=stem), 2000)
        self.assertRsc(cc.retrieve(CB, origin="C" + uniq("x")), 4106)

    def test_ts0004_7_3_2_1_certificate_for_ae_elsewhere_cannot_act_as_local_ae(self):
        victim, _, vpath, _ = self.new_ae(origin="C" + uniq("vic"))
        for san in ("URI://other.example.org/id-in/%s" % victim, "URI://%s/id-mn/%s" % (SPID, victim)):
            with self.subTest(san=san):
                crt, key, _ = self.S.pki.craft(uniq("else"), san=san)
                try:
                    r = self.S.cert_client(crt, key).retrieve(vpath, origin=victim)
                except HandshakeRefused:
                    continue
                self.assertRsc(r, 4106, "certificate for %s claiming the local %s" % (san, victim))

    def test_ts0004_7_3_2_1_unregistered_ae_over_its_certificate_is_4106(self):
        stem, crt, key, serial = self.ae_cert()
        cc = self.S.cert_client(crt, key)
        start = self.audit.mark()
        self.assertRsc(cc.retrieve(CB, origin=stem), 4106, "CSEBase retrieve before the AE is registered")
        self.assertDenyLogged(start, 4106, stem, "cert:" + serial)
        self.assertRsc(cc.register_ae(origin=stem, rn=stem), 2001)
        self.assertRsc(cc.retrieve(CB, origin=stem), 2000)
        self.assertRsc(cc.delete(ae_path(stem), origin=stem), 2002)
        self.assertRsc(cc.retrieve(CB, origin=stem), 4106, "CSEBase retrieve after the AE deregistered")

    def test_ts0003_10_2_plain_http_on_https_port_not_served(self):
        status, _, body, _ = raw_exchange(self.S.https_port, encode_request("GET", CB, origin=ADMIN), timeout=5)
        self.assertIsNone(status, "plain HTTP on the HTTPS port was answered: %r" % body[:200])

    def test_ts0004_7_3_2_1_certificate_cse_id_claiming_other_cse_id_is_4106(self):
        mn = "/id-" + uniq("mn")
        crt, key, serial = self.S.pki.issue(mn)
        cc = self.S.cert_client(crt, key)
        registered, _, _, _ = self.new_ae()
        start = self.audit.mark()
        for origin in ("/id-other", "//%s/id-other" % SPID, registered, ADMIN):
            with self.subTest(origin=origin):
                self.assertRsc(cc.retrieve(CB, origin=origin), 4106, "From %s with a certificate for %s" % (origin, mn))
        self.assertDenyLogged(start, 4106, "/id-other", "cert:" + serial)
        for origin in (mn, "//%s%s" % (SPID, mn), "%s/C%s" % (mn, uniq("remote"))):
            with self.subTest(origin=origin):
                r = cc.retrieve(CB, origin=origin)
                self.assertIsNotNone(r.rsc, self.describe(r))
                self.assertNotIn(r.rsc, (4106, 4107), "From %s with a certificate for %s: %s"
                                 % (origin, mn, self.describe(r)))
        # a stem names an AE registered here, which a remote CSE never relays (TS-0004 §7.3.2.1 step 4)
        self.assertRsc(cc.retrieve(CB, origin="C" + uniq("stem")), 4106)
        self.assertRsc(self.c.retrieve(CB, origin=mn), 4107)
        res = self.curl("GET", CB, crt, key, origin="/id-other")
        self.assertCurlRsc(res, 4106, "curl, CSE certificate claiming another CSE-ID")

    def test_ts0003_8_1_2_own_cse_id_is_no_client_identity(self):
        """A certificate for this CSE's own CSE-ID (its server certificate) never authenticates a peer."""
        crt, key, serial = self.S.pki.issue("/id-in")
        start = self.audit.mark()
        self.assertRefused(lambda: self.S.cert_client(crt, key).retrieve(CB, origin="/id-in"),
                           "client certificate naming this CSE")
        self.assertAuthnFail(start, "cert-no-identity", "cert:" + serial)

    def test_contract_no_client_certificate_is_plain_http_in_dev_profile(self):
        cc = self.S.cert_client()
        r = self.assertRsc(cc.retrieve(CB, origin=ADMIN), 2000)
        self.assertEqual(self.res(r, "m2m:cb")["rn"], CSE_RN)
        r = self.assertRsc(cc.register_ae(origin="C", rn=uniq("nc")), 2001)
        aei = self.res(r, "m2m:ae")["aei"]
        self.assertRsc(cc.retrieve(CB, origin=aei), 2000)
        self.assertRsc(cc.retrieve(CB, origin="C" + uniq("unreg")), 4106)
        self.assertRsc(cc.retrieve(CB, origin="/id-" + uniq("x")), 4107)

    # -------------------------------------------------------- TLS parameters
    def test_ts0003_10_2_certificate_listener_mandatory_suites(self):
        stem, crt, key, _ = self.ae_cert()
        self.assertRsc(self.S.cert_client(crt, key).register_ae(origin=stem, rn=stem), 2001)
        for suite in ("ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"):
            with self.subTest(suite=suite):
                cc = self.S.cert_client(crt, key, max_version=ssl.TLSVersion.TLSv1_2, ciphers=suite)
                self.assertRsc(cc.retrieve(ae_path(stem), origin=stem), 2000)
                self.assertEqual(cc.last_version, "TLSv1.2")
                self.assertEqual(cc.last_cipher[0], suite)
        cc = self.S.cert_client(crt, key, min_version=ssl.TLSVersion.TLSv1_3)
        self.assertRsc(cc.retrieve(ae_path(stem), origin=stem), 2000)
        self.assertEqual(cc.last_version, "TLSv1.3")

    def test_ts0003_10_2_certificate_listener_sni_accepted(self):
        sni = self.S.cert_client(sni="id-in." + SPID)
        self.assertRsc(sni.retrieve(CB, origin=ADMIN), 2000)
        stem2, crt, key, _ = self.ae_cert()
        cc2 = self.S.cert_client(crt, key, sni="id-in." + SPID)
        self.assertRsc(cc2.register_ae(origin=stem2, rn=stem2), 2001)

    def test_ts0003_10_2_certificate_listener_weak_protocols_refused(self):
        port, ca = self.S.https_port, self.S.pki.ca_pem
        req = encode_request("GET", CB, origin=ADMIN, host="127.0.0.1:%d" % port)
        ok = run_tls_client(openssl_cert_argv(port, "1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", ca), req)
        self.assertEqual(len(ok.responses), 1, "control: TLS 1.2 handshake should work: %s" % ok.stderr)
        for proto, cipher in (("1.1", None), ("1.0", None), ("1.1", "ECDHE-ECDSA-AES128-SHA"),
                              ("1.2", "ECDHE-ECDSA-NULL-SHA"), ("1.2", "AECDH-AES128-SHA"),
                              ("1.2", "AECDH-NULL-SHA")):
            with self.subTest(proto=proto, cipher=cipher):
                res = run_tls_client(openssl_cert_argv(port, proto, cipher), req)
                self.assertEqual(res.responses, [], "TLS %s %s answered" % (proto, cipher))
                self.assertNotEqual(res.rc, 0, "TLS %s %s: s_client exit 0: %s" % (proto, cipher, res.stderr))
        ok = run_tls_client(gnutls_cert_argv(port, "NORMAL", ca), req)
        self.assertEqual(len(ok.responses), 1, "control: gnutls-cli with NORMAL should work: %s" % ok.stderr)
        for suite in ("3DES-CBC", "ARCFOUR-128"):
            with self.subTest(gnutls_suite=suite):
                prio = "%s:+ECDHE-ECDSA:+ECDHE-RSA:+RSA:+%s" % (GNUTLS_OLD, suite)
                res = run_tls_client(gnutls_cert_argv(port, prio, ca), req)
                self.assertEqual(res.responses, [], "TLS 1.2 with %s answered" % suite)
                self.assertNotEqual(res.rc, 0, "TLS 1.2 with %s: gnutls-cli exit 0" % suite)

    # ------------------------------------------------------------- refusals
    def test_ts0003_10_2_expired_certificate_refused(self):
        stem = "C" + uniq("exp")
        crt, key, serial = self.S.pki.issue(stem, not_before="20200101T000000", not_after="20210101T000000")
        self.assertCertRefused(crt, key, "expired certificate", "cert-expired", serial, curl=True)

    def test_ts0003_10_2_not_yet_valid_certificate_refused(self):
        stem = "C" + uniq("nyv")
        crt, key, serial = self.S.pki.issue(stem, not_before="20400101T000000", not_after="20410101T000000")
        self.assertCertRefused(crt, key, "not yet valid certificate", "cert-not-yet-valid", serial)

    def test_ts0003_10_2_wrong_ca_certificate_refused(self):
        other = Pki(self.ctl, os.path.join(self.S.tmp, uniq("otherca")))
        stem = "C" + uniq("wca")
        crt, key, _ = other.issue(stem)
        self.assertCertRefused(crt, key, "certificate from another CA", "cert-untrusted", curl=True)
        # Its stem was not registered by the attempt.
        self.assertRsc(self.c.retrieve(CB, origin=stem), 4106)

    def test_ts0003_10_2_revoked_certificate_refused(self):
        stem, cc, serial = self.registered_cert_ae()
        crt, key = cc.cert, cc.key
        self.assertRsc(cc.retrieve(ae_path(stem), origin=stem), 2000)
        self.ctl.cert_revoke(serial)
        ev = self.assertCertRefused(crt, key, "revoked certificate", "cert-revoked", serial, curl=True)
        self.assertEqual(ev.get("credential"), "cert:" + serial, ev)
        # Another certificate of the same CA still works.
        stem2, cc2, _ = self.registered_cert_ae()
        self.assertRsc(cc2.retrieve(ae_path(stem2), origin=stem2), 2000)

    def test_ts0003_10_2_cert_revoke_accepts_colons_and_upper_case(self):
        stem, cc, serial = self.registered_cert_ae()
        crt, key = cc.cert, cc.key
        self.ctl.cert_revoke(colon_upper(serial))
        self.assertCertRefused(crt, key, "certificate revoked as %s" % colon_upper(serial), "cert-revoked",
                               tls12=False)

    def test_ts0003_10_2_certificate_without_identity_refused(self):
        crt, key, serial = self.S.pki.craft(uniq("noid"), san=None)
        self.assertCertRefused(crt, key, "certificate without identity", "cert-no-identity", serial)
        crt, key, serial = self.S.pki.craft(uniq("noid2"), san="email:dev@" + SPID)
        self.assertCertRefused(crt, key, "certificate with an e-mail SAN only", "cert-no-identity", serial,
                               tls12=False)

    def test_ts0003_10_2_certificate_not_p256_key_refused(self):
        stem = "C" + uniq("rsa")
        crt, key, serial = self.S.pki.craft(uniq("rsa"), san="URI:" + ae_absolute(stem), key_type="rsa")
        self.assertCertRefused(crt, key, "RSA client certificate", "cert-bad-key", serial)
        self.assertRsc(self.c.retrieve(CB, origin=stem), 4106)
        crt, key, serial = self.S.pki.craft(uniq("p384"), san="URI:" + ae_absolute(stem), key_type="ec384")
        self.assertCertRefused(crt, key, "P-384 client certificate", "cert-bad-key", serial, tls12=False)

    def test_ts0003_10_2_certificate_without_digital_signature_usage_refused(self):
        stem = "C" + uniq("ku")
        crt, key, serial = self.S.pki.craft(uniq("ku"), san="URI:" + ae_absolute(stem),
                                            key_usage="critical,keyAgreement")
        self.assertCertRefused(crt, key, "keyUsage without digitalSignature", "cert-bad-usage", serial)

    def test_ts0003_10_2_crafted_valid_certificate_accepted(self):
        # Control for the crafted refusals: the same recipe with a proper identity,
        # P-256 key and digitalSignature is accepted.
        stem = "C" + uniq("ctl")
        crt, key, _ = self.S.pki.craft(uniq("ctl"), san="URI:" + ae_absolute(stem))
        cc = self.S.cert_client(crt, key)
        self.assertRsc(cc.register_ae(origin=stem, rn=stem), 2001)

    def test_ts0003_10_2_revoked_certificate_cannot_resume_a_session(self):
        stem, cc, serial = self.registered_cert_ae()
        saved = []
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context(self.S.pki.ca_pem, cc.cert, cc.key, min_version=version, max_version=version)
            with CertSession(self.S.https_port, None, ctx=ctx) as s:
                self.assertRsc(s.retrieve(ae_path(stem), origin=stem), 2000)
                s.request("GET", ae_path(stem), origin=stem)  # TLS 1.3 tickets come after the handshake
                saved.append((ctx, s.sock.session))
        self.ctl.cert_revoke(serial)
        for ctx, session in saved:
            with self.subTest(version=ctx.maximum_version):
                def attempt():
                    try:
                        s = CertSession(self.S.https_port, None, ctx=ctx, session=session)
                    except (ssl.SSLError, OSError) as e:
                        raise HandshakeRefused(str(e))
                    with s:
                        r = s.retrieve(ae_path(stem), origin=stem)
                        if r is None:
                            raise HandshakeRefused("closed without a response")
                        return r
                self.assertRefused(attempt, "resumed session of a revoked certificate")

    def test_ts0003_10_2_certificate_revoked_while_connection_open(self):
        stem, cc, serial = self.registered_cert_ae()
        crt, key = cc.cert, cc.key
        with CertSession(self.S.https_port, self.S.pki.ca_pem, crt, key) as s:
            self.assertRsc(s.retrieve(ae_path(stem), origin=stem), 2000, "before revocation")
            self.ctl.cert_revoke(serial)
            t0 = time.monotonic()
            self.assertRefused(lambda: self.S.cert_client(crt, key).retrieve(CB, origin=ADMIN),
                               "new handshake right after revocation")
            self.assertServedUntilRevoked(s, ae_path(stem), stem, t0, "certificate")

    # ------------------------------------------------------------------ acaf
    def test_ts0003_7_1_5_acaf_rule_matches_certificate_authenticated_requests(self):
        owner, _, owner_path, _ = self.new_ae()
        reader, rc, _ = self.registered_cert_ae()
        acp = {"rn": uniq("acp"),
               "pv": {"acr": [{"acor": [reader], "acop": 2, "acaf": True}]},
               "pvs": {"acr": [{"acor": [owner], "acop": 63}]}}
        r = self.assertRsc(self.c.create(owner_path, TY_ACP, acp, origin=owner, root="m2m:acp"), 2001)
        path, cnt = self.new_cnt(owner_path, owner, acpi=[self.res(r, "m2m:acp")["ri"]])
        r = self.assertRsc(rc.retrieve(path, origin=reader), 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["ri"], cnt["ri"])
        self.assertRsc(self.c.retrieve(path, origin=reader), 4103, "plain HTTP")
        self.assertRsc(self.S.cert_client().retrieve(path, origin=reader), 4103, "HTTPS without client certificate")

    # ----------------------------------------------------------------- audit
    def test_contract_audit_authn_ok_for_certificate(self):
        stem, crt, key, serial = self.ae_cert()
        start = self.audit.mark()
        res = self.curl("POST", CB, crt, key, origin=stem, ty=2, body={"m2m:ae": dict(AE_BODY, rn=stem)})
        self.assertCurlRsc(res, 2001)
        ev = self.audit.wait_for(lambda e: e.get("event") == "authn-ok" and e.get("credential") == "cert:" + serial,
                                 start)
        self.assertIsNotNone(ev, "no authn-ok line for cert:%s; lines: %s" % (serial, self.audit.lines()[start:]))
        self.assertIn(stem, str(ev.get("identity")), ev)
        self.assertEqual(ev.get("peer"), "127.0.0.1", ev)
        self.assertIn("ts", ev)
        # The key file's content never reaches the log.
        with open(key) as f:
            pem = "".join(l for l in f.read().splitlines() if not l.startswith("-----"))
        self.assertNotIn(pem[:40], self.audit.raw().decode("utf-8", "replace"))


    def test_contract_audit_authn_ok_after_handshake_without_request(self):
        stem, crt, key, serial = self.ae_cert()
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version):
                start = self.audit.mark()
                with CertSession(self.S.https_port, self.S.pki.ca_pem, crt, key, max_version=version):
                    ev = self.audit.wait_for(lambda e: e.get("event") == "authn-ok"
                                             and e.get("credential") == "cert:" + serial, start, timeout=2.0)
                self.assertIsNotNone(ev, "no authn-ok after a completed handshake (no request sent); lines: %s"
                                     % self.audit.lines()[start:])
                self.assertIsNone(self.audit.wait_for(lambda e: e.get("event") == "authn-fail", start, timeout=0.5),
                                  "a completed handshake closed without a request was audited as a failure")


class CrlTest(CertHelpers, TlsTestCase):
    """tls.crl: a certificate listed in the CRL is refused at the handshake."""

    with_psk = False
    with_certs = True

    @classmethod
    def setUpClass(cls):
        cls.S = SecureServer(psk=False, certs=True)
        try:
            pki = cls.S.pki
            cls.revoked = pki.issue("C" + uniq("crl"))
            cls.good_stem = "C" + uniq("good")
            cls.good = pki.issue(cls.good_stem)
            d = os.path.join(cls.S.tmp, "crlca")
            os.mkdir(d)
            open(os.path.join(d, "index.txt"), "w").close()
            with open(os.path.join(d, "crlnumber"), "w") as f:
                f.write("01\n")
            cnf = os.path.join(d, "ca.cnf")
            with open(cnf, "w") as f:
                f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\n"
                        "certificate = %s\nprivate_key = %s\ndefault_md = sha256\ndefault_crl_days = 30\n"
                        % (d, d, pki.ca_pem, pki.ca_key))
            run_checked([OPENSSL, "ca", "-config", cnf, "-revoke", cls.revoked[0]])
            crl = os.path.join(d, "crl.pem")
            run_checked([OPENSSL, "ca", "-config", cnf, "-gencrl", "-out", crl])
            cls.S.extra.append("--tls.crl=%s" % crl)
            cls.S.start()
        except Exception:
            cls.S.cleanup()
            raise
        cls.server = cls.S.srv
        cls.c = cls.S.client()
        cls.ctl = cls.S.ctl
        cls.audit = cls.S.audit
        cls.keys = []

    def test_ts0003_10_2_certificate_revoked_by_crl_refused(self):
        crt, key, serial = self.revoked
        self.assertCertRefused(crt, key, "certificate listed in tls.crl", "cert-revoked", serial, curl=True)
        crt, key, _ = self.good
        cc = self.S.cert_client(crt, key)
        self.assertRsc(cc.register_ae(origin=self.good_stem, rn=self.good_stem), 2001)


class OpensslCaTest(CertHelpers, TlsTestCase):
    """Finding 27 (issue 12): client certificates from CAs made with openssl as operators make them,
    whose name constraints cover CSE-ID DNS names and AE-ID URIs (TS-0003 §8.1.2.2, §10.1.1.5).
    Name constraints apply to the subjectAltName identities (RFC 5280 §4.2.1.10; for a URI, to its
    host part), never to a subject CN; a SAN outside them is refused at the handshake.  tls.ca is
    one bundle: a CA constraining DNS and URI, a CA constraining DNS only (like wardenctl's), and a
    root whose intermediate carries the constraints."""

    with_psk = False
    with_certs = True

    @classmethod
    def setUpClass(cls):
        cls.S = SecureServer(psk=False, certs=True, client_ca=False)
        try:
            d = os.path.join(cls.S.tmp, "openssl-pki")
            cls.both = OpensslCa(os.path.join(d, "both"))
            cls.dns_only = OpensslCa(os.path.join(d, "dns"), constraints=("DNS:" + SPID,))
            root = OpensslCa(os.path.join(d, "root"), constraints=())
            cls.inter = OpensslCa(os.path.join(d, "inter"), parent=root, name="inter")
            # a root that may sign no CA (pathlen 0): its intermediate's certificates are not trusted
            leafonly = OpensslCa(os.path.join(d, "leafonly"), constraints=(), pathlen=0)
            cls.too_deep = OpensslCa(os.path.join(d, "deep"), parent=leafonly, name="deep")
            bundle = os.path.join(d, "bundle.pem")
            with open(bundle, "w") as out:
                for ca in (cls.both, cls.dns_only, root, leafonly):
                    with open(ca.ca_pem) as f:
                        out.write(f.read())
            cls.S.extra.append("--tls.ca=%s" % bundle)
            cls.S.start()
        except Exception:
            cls.S.cleanup()
            raise
        cls.server = cls.S.srv
        cls.c = cls.S.client()
        cls.ctl = cls.S.ctl
        cls.audit = cls.S.audit
        cls.keys = []

    def cas(self):
        return (("DNS+URI constraints", self.both), ("DNS constraints only", self.dns_only),
                ("constraints on an intermediate", self.inter))

    def test_finding_27_cn_with_dns_constraints_accepted(self):
        for what, ca in self.cas():
            with self.subTest(ca=what):
                stem = "Cdev2" + uniq("")
                crt, key, _ = ca.issue("URI:" + ae_absolute(stem), cn=stem)
                cc = self.S.cert_client(crt, key)
                r = self.assertRsc(cc.register_ae(origin=stem, rn=stem), 2001, what)
                self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
                self.assertRsc(cc.retrieve(ae_path(stem), origin=stem), 2000, what)
                # a CSE-ID certificate (DNS SAN) with a CN that is no host name: the handshake passes
                crt, key, serial = ca.issue("DNS:id-%s.%s" % (uniq("c"), SPID), cn="Cdev2")
                start = self.audit.mark()
                self.S.cert_client(crt, key).retrieve(CB, origin=ADMIN)
                self.assertIsNotNone(self.audit.wait_for(lambda e: e.get("event") == "authn-ok"
                                                         and e.get("credential") == "cert:" + serial, start),
                                     what)

    def test_finding_27_san_outside_the_constraints_refused(self):
        other_sp = "evil.example.org"
        cases = [("AE-ID URI of another SP", self.both, "URI://%s/id-in/C%s" % (other_sp, uniq("x"))),
                 ("AE-ID URI with a scheme, another SP", self.both, "URI:oneM2M://%s/id-in/C%s" % (other_sp, uniq("x"))),
                 ("CSE-ID DNS name of another SP", self.both, "DNS:id-x.%s" % other_sp),
                 ("CSE-ID DNS name of another SP, DNS-only CA", self.dns_only, "DNS:id-y.%s" % other_sp),
                 ("AE-ID URI of another SP under an intermediate", self.inter,
                  "URI://%s/id-in/C%s" % (other_sp, uniq("x"))),
                 ("a permitted URI next to a forbidden DNS name", self.both,
                  "URI:%s,DNS:id-z.%s" % (ae_absolute("C" + uniq("ok")), other_sp))]
        for what, ca, san in cases:
            with self.subTest(case=what):
                crt, key, serial = ca.issue(san, cn="Cdev2")
                self.assertCertRefused(crt, key, what, "cert-name-constraints", serial)

    def test_finding_27_other_signer_constraints_still_refused(self):
        # GnuTLS reports a path length violation with the same status bit as a name constraint one:
        # deciding name constraints again must not let it through
        stem = "C" + uniq("deep")
        crt, key, serial = self.too_deep.issue("URI:" + ae_absolute(stem), cn=stem)
        self.assertCertRefused(crt, key, "intermediate under a pathlen:0 root", "cert-untrusted", serial)

    def test_finding_27_host_part_matching_follows_rfc5280(self):
        # URI constraint "warden.example.com" is a host: a sub-host is outside it (RFC 5280 §4.2.1.10)
        crt, key, serial = self.both.issue("URI://sub.%s/id-in/C%s" % (SPID, uniq("s")), cn="Csub")
        self.assertCertRefused(crt, key, "URI host below a host constraint", "cert-name-constraints", serial)
        # the DNS constraint "warden.example.com" admits any name below it, case-insensitively
        crt, key, serial = self.both.issue("DNS:ID-UP.%s" % SPID.upper(), cn="Cdev2")
        start = self.audit.mark()
        self.S.cert_client(crt, key).retrieve(CB, origin=ADMIN)
        self.assertIsNotNone(self.audit.wait_for(lambda e: e.get("event") == "authn-ok"
                                                 and e.get("credential") == "cert:" + serial, start))


class HttpsConfigTest(unittest.TestCase):
    """The certificate listener cannot run without its certificate and key."""

    def test_contract_https_listener_needs_certificate_and_key(self):
        tmp = tempfile.mkdtemp(prefix="warden-tlscfg-")
        try:
            pki = Pki(Ctl(os.path.join(tmp, "w.db")), os.path.join(tmp, "pki"))
            crt, key, _ = pki.issue("/id-in", ips=["127.0.0.1"])
            for what, args in (("no tls.cert / tls.key", []),
                               ("no tls.key", ["--tls.cert=" + crt]),
                               ("no tls.cert", ["--tls.key=" + key]),
                               ("missing certificate file", ["--tls.cert=" + crt + ".missing", "--tls.key=" + key]),
                               ("key of another certificate", ["--tls.cert=" + crt, "--tls.key=" + pki.ca_key])):
                with self.subTest(case=what):
                    srv = WardenServer(tmpdir=tmp, extra_args=["--https.port=%d" % free_port()] + args)
                    try:
                        srv.spawn()
                        rc = srv.wait_exit(10)
                        self.assertIsNotNone(rc, "%s: the server kept running" % what)
                        self.assertNotEqual(rc, 0, "%s: exit status; output:\n%s" % (what, srv.output()))
                        self.assertNotIn("warden: ready", srv.output())
                    finally:
                        srv.cleanup()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class SecureProfileCertTest(CertHelpers, TlsTestCase):
    """Secure profile: HTTPS without a client certificate has no SA → 4107."""

    profile = "secure"
    with_psk = False
    with_certs = True

    def test_contract_secure_profile_https_without_client_certificate_is_4107(self):
        cc = self.S.cert_client()
        start = self.audit.mark()
        self.assertRsc(cc.retrieve(CB, origin=ADMIN), 4107)
        self.assertRsc(cc.register_ae(origin="C", rn=uniq("x")), 4107)
        self.assertDenyLogged(start, 4107, ADMIN)
        self.assertRsc(self.c.retrieve(CB, origin=ADMIN), 4107, "plain HTTP")

    def test_ts0003_10_2_secure_profile_curl_with_client_certificate(self):
        stem, crt, key, serial = self.ae_cert()
        res = self.curl("POST", CB, crt, key, origin=stem, ty=2, body={"m2m:ae": dict(AE_BODY, rn=stem)})
        r = self.assertCurlRsc(res, 2001, "curl AE create in the secure profile")
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
        self.assertCurlRsc(self.curl("POST", ae_path(stem), crt, key, origin=stem, ty=TY_CNT,
                                     body={"m2m:cnt": {"rn": "c"}}), 2001)
        self.assertCurlRsc(self.curl("GET", ae_path(stem) + "/c", crt, key, origin=stem), 2000)
        start = self.audit.mark()
        self.assertCurlRsc(self.curl("GET", ae_path(stem), crt, key, origin="C" + uniq("sp")), 4106)
        ev = self.audit.wait_for(lambda e: e.get("event") == "deny" and e.get("rsc") == 4106, start)
        self.assertIsNotNone(ev)
        self.assertEqual(ev.get("credential"), "cert:" + serial, ev)
        # The same AE without its certificate: no SA.
        self.assertRsc(self.S.cert_client().retrieve(ae_path(stem), origin=stem), 4107)
        self.assertRsc(self.c.retrieve(ae_path(stem), origin=stem), 4107)


if __name__ == "__main__":
    main()
