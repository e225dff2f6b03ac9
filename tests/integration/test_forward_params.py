"""Request parameters of a forwarded request (issue 14: a forwarded request keeps "its request
parameters, tokens and timing parameters"), over every client side: HTTPS with certificates, HTTP
over TLS-PSK, MQTTS and CoAPS. An IN-CSE and an MN-CSE registered to it, set up exactly as in
test_multicse.py and test_multicse_bindings.py (imported, not copied); the MN also trusts a
development Authorization Authority (authz.issuers), so that a token alone can authorize.

What each binding must carry, and the receiving side read back (src/core/outbound.h "Request
parameters on the wire"; TS-0009 §6, TS-0010 §6.4, TS-0008 §6.2.2):
- the Tokens parameter (TS-0004 §7.2.1.1, TS-0003 §7.3.2): a RETRIEVE of a resource that no policy
  grants, authorized on the MN by a token naming the IN's AE as holder;
- result content, discovery result type, filter criteria (labels with reserved characters, several
  types, creation time, limit and offset, filter usage), the attribute list of a partial retrieve
  and the Request Expiration Timestamp: the IN's answer is the MN's own;
- the Group Request Identifier (TS-0004 §7.3.3.2): the MN recognises a repeated one.

Run: WARDEN_BIN=build/warden python3 tests/integration/test_forward_params.py
"""

import os
import shutil
import tempfile
import time
import unittest

import test_multicse as hm
import test_multicse_bindings as bm
from test_wardenctl_authz import ctl
from wardentest import et_in, uniq

TY_ACP, TY_AE, TY_CNT, TY_CIN = 1, 2, 3, 4

AUTHZ = {}


def setUpModule():
    AUTHZ["tmp"] = tempfile.mkdtemp(prefix="warden-fwdp-")
    ctl("authz", "init", "authz", cwd=AUTHZ["tmp"])
    AUTHZ["issuers"] = os.path.join(AUTHZ["tmp"], "authz", "issuers.json")


def tearDownModule():
    shutil.rmtree(AUTHZ.get("tmp", ""), ignore_errors=True)


def with_issuers(cse):
    """Restart cse (same port, same store) with the Authorization Authority trusted."""
    base = cse.args
    cse.args = lambda: base() + ["--authz.issuers=%s" % AUTHZ["issuers"]]
    cse.stop()
    cse.start()


class ForwardParams:
    """The tests, mixed into the set-up of each binding (inc, mn, ae, acp_for, wait_for, registered)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with_issuers(cls.mn)

    def setUp(self):
        super().setUp()
        self.wait_for(self.registered, timeout=20, what="registration")

    def token(self, holder, ri):
        return ctl("token", "issue", "--key", "authz/CAuth.jwk", "--holder", holder, "--ris", ri, "--acop", "2",
                   "--aud", "/id-mn", cwd=AUTHZ["tmp"]).stdout.strip()

    def test_ts0004_7_2_1_1_tokens_travel_with_a_forwarded_retrieve(self):
        """A container on the MN with no policy that names the IN's AE: the IN's AE reads it through
        the IN only with a token (dynamic authorization by token, TS-0003 §7.3.2), which the IN
        forwards as the binding carries the Tokens parameter."""
        in_stem, mn_stem = uniq("Cintk"), uniq("Cmntk")
        self.ae(self.inc, in_stem)
        mn_ae = self.ae(self.mn, mn_stem)
        r = self.mn.c.create(mn_ae, TY_CNT, {"rn": "secret"}, origin=mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        ri = r.body["m2m:cnt"]["ri"]
        target = "/~/id-mn" + mn_ae + "/secret"
        r = self.inc.c.retrieve(target, origin=in_stem)
        self.assertEqual(r.rsc, 4103, r.body)
        tok = self.token("/id-in/" + in_stem, ri)
        r = self.inc.c.retrieve(target, origin=in_stem, headers={"Authorization": "Bearer " + tok})
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:cnt"]["ri"], ri)
        # the MN's Assigned Token Identifiers come back through the IN (X-M2M-ATI, oneM2M-ATI, ati), and
        # the Local-Token-ID then stands for the token (ltids, TS-0003 §7.3.2.5)
        ati = r.headers.get("X-M2M-ATI")
        self.assertTrue(ati and ":" in ati, dict(r.headers))
        r = self.inc.c.retrieve(target, origin=in_stem, query={"ltids": ati.split(":")[0]})
        self.assertEqual(r.rsc, 2000, r.body)
        # the token is the holder's: another AE of the IN presenting it is refused on the MN
        other = uniq("Cintk")
        self.ae(self.inc, other)
        r = self.inc.c.retrieve(target, origin=other, headers={"Authorization": "Bearer " + tok})
        self.assertEqual(r.rsc, 4103, r.body)

    def test_ts0004_7_2_1_1_filter_criteria_rcn_drt_rqet_atrl_answer_as_on_the_mn(self):
        """Discovery and retrieve parameters forwarded by the IN give the MN's own answer."""
        in_stem, mn_stem = uniq("Cinfc"), uniq("Cmnfc")
        self.ae(self.inc, in_stem)
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/" + in_stem], 63, mn_stem)
        since = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() - 60))
        top = mn_ae + "/" + uniq("top")
        r = self.mn.c.create(mn_ae, TY_CNT, {"rn": top.rsplit("/", 1)[1], "acpi": [acp], "lbl": ["top"]},
                             origin=mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        for rn, lbl in (("a", ["tag:a/b&c=d%e#f", "x"]), ("b", ["tag:a/b&c=d%e#f"]), ("c", ["y"])):
            r = self.mn.c.create(top, TY_CNT, {"rn": rn, "lbl": lbl, "acpi": [acp]}, origin=mn_stem)
            self.assertEqual(r.rsc, 2001, r.body)
        for parent, rn, lbl in ((top, "i1", ["tag:a/b&c=d%e#f"]), (top, "i2", ["y"]), (top + "/a", "i3", ["tag:a/b&c=d%e#f"])):
            r = self.mn.c.create(parent, TY_CIN, {"rn": rn, "con": rn, "lbl": lbl}, origin=mn_stem)
            self.assertEqual(r.rsc, 2001, r.body)
        queries = [
            ([("fu", 1), ("ty", 4), ("lbl", "tag:a/b&c=d%e#f"), ("drt", 2)], 2),
            ([("fu", 1), ("ty", 3), ("lbl", "tag:a/b&c=d%e#f"), ("lbl", "y"), ("lim", 2), ("ofst", 1)], 2),
            ([("fu", 1), ("ty", "3+4"), ("cra", since), ("rqet", et_in(60))], 6),
            ([("fu", 1), ("lbl", "x"), ("drt", 1)], 1),
            ([("rcn", 4), ("fu", 2), ("ty", 4)], None),
            ([("rcn", 1), ("atrl", "lbl+rn")], None),
        ]
        for q, n in queries:
            direct = self.mn.c.request("GET", top, origin=mn_stem, query=q)
            fwd = self.inc.c.request("GET", "/~/id-mn" + top, origin=in_stem, query=q)
            self.assertEqual(direct.rsc, 2000, (q, direct.body))
            self.assertEqual(fwd.rsc, 2000, (q, fwd.body))
            self.assertEqual(fwd.body, direct.body, q)
            if n is not None:
                self.assertEqual(len(direct.body["m2m:uril"]), n, (q, direct.body))
        # the partial retrieve really was one
        self.assertEqual(sorted(fwd.body["m2m:cnt"]), ["lbl", "rn"], fwd.body)


    def test_ts0004_7_3_3_2_gid_travels_with_a_forwarded_request(self):
        """The Group Request Identifier reaches the MN (X-M2M-GID, oneM2M-GID, gid): the same gid for
        the same target a second time is refused there, 4104."""
        in_stem, mn_stem = uniq("Cingid"), uniq("Cmngid")
        self.ae(self.inc, in_stem)
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/" + in_stem], 3, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, [acp])
        gid = uniq("gid")
        for want in (2001, 4104):
            r = self.inc.c.create("/~/id-mn" + cnt, TY_CIN, {"con": "g"}, origin=in_stem, headers={"X-M2M-GID": gid})
            self.assertEqual(r.rsc, want, r.body)
            if want == 2001:
                # the created resource's address comes back as an address of the IN's (TS-0009
                # §6.4.3: Content-Location; over MQTT made from the resourceID): it reaches the resource
                loc = r.headers.get("Content-Location")
                self.assertTrue(loc and loc.startswith("/~/id-mn/"), dict(r.headers))
                got = self.inc.c.retrieve(loc, origin=in_stem)
                self.assertEqual(got.rsc, 2000, (loc, got.body))
                self.assertEqual(got.body["m2m:cin"]["ri"], r.body["m2m:cin"]["ri"])


class HttpsForwardParams(ForwardParams, hm.Base):
    """HTTPS, the CSEs authenticated by their CSE-ID certificates."""


class HttpPskForwardParams(ForwardParams, hm.PskBase):
    """HTTP over TLS-PSK (http_psk_client.c)."""


class MqttsForwardParams(ForwardParams, bm.MqttsBase):
    """MQTT over TLS, the primitive in JSON (primitive_out.c)."""


class CoapsForwardParams(ForwardParams, bm.CoapsBase):
    """CoAP over DTLS with a PSK."""

    # the bindings' own tests of CoapsBase are not run again here
    test_ts0008_6_ts0004_7_4_4_mn_registers_to_in_over_coaps = None
    test_ts0008_6_2_large_answer_over_coaps_arrives_whole = None
    test_ts0004_7_3_2_6_in_ae_reads_mn_container_over_coaps = None

    def test_ts0008_6_2_2_a_parameter_too_long_for_a_coap_option_is_4000_not_5103(self):
        """A forwarded request whose parameter does not fit a CoAP option (255 bytes, RFC 7252 §5.10;
        a receiver drops such a message unanswered) is refused by the forwarding CSE with 4000 saying
        so, not left to time out as 5103; the same request with a short value is forwarded."""
        in_stem, mn_stem = uniq("Cinlong"), uniq("Cmnlong")
        self.ae(self.inc, in_stem)
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/" + in_stem], 63, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, [acp])
        ok = self.inc.c.request("GET", "/~/id-mn" + cnt, origin=in_stem, query=[("fu", 1), ("lbl", "x" * 200)])
        self.assertEqual(ok.rsc, 2000, ok.body)
        r = self.inc.c.request("GET", "/~/id-mn" + cnt, origin=in_stem, query=[("fu", 1), ("lbl", "x" * 300)])
        self.assertEqual(r.rsc, 4000, r.body)
        self.assertIn("CoAP option", r.body["m2m:dbg"])
    test_ts0004_7_3_3_9_notification_from_mn_reaches_ae_registered_at_in_over_coaps = None
    test_ts0004_7_3_2_8_in_stopped_is_5103_within_timeout_then_reregistered_over_coaps = None
    test_ts0001_10_2_2_6_registration_lost_by_registrar_is_made_again_over_coaps = None


if __name__ == "__main__":
    unittest.main()
