#!/usr/bin/python3
"""Access control: <accessControlPolicy> (ty 1), acpi, the default creator policy,
contexts, discovery filtering and the audit log.

TS-0003 7.1 (rules, decision algorithm), TS-0001 9.6.2 (accessControlPolicy),
TS-0004 7.3.3.15 (check authorization of the originator), as narrowed by the
"Access control" section of docs/http-contract.md (test_contract_... names).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_acp.py

Three servers, one per class: the main one (IPv4 loopback, --location.positions,
--location.countries and --audit.path written to a temporary directory, run with a
local time zone 5:30 east of UTC), one that is killed with SIGKILL and restarted
(policies are durable), and one bound to ::1 for the IPv6 cases (skipped when IPv6
loopback is unavailable).  Group references in acor are not covered.
"""

import json
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_ID, CSE_RN, SPID, TY_CIN, TY_CNT, Client, WardenServer,  # noqa: E402
                        WardenTestCase, et_in, main, sleep_past, uniq)

TY_ACP = 1
ALL_OPS = 63
C, R, U, D, N, DISC = 1, 2, 4, 8, 16, 32

# Fixed AE-IDs (stems).  READER has a known position (Berlin); OWNER and OTHER do not.
# Neither OWNER nor OTHER matches the wildcard patterns used for READER (Crea*, C*der).
OWNER = "Cowner"
READER = "Creader"
OTHER = "Cother"

BERLIN = (52.52, 13.405)
PARIS = (48.8566, 2.3522)

POSITIONS = "%s %s %s\n" % (READER, BERLIN[0], BERLIN[1])
COUNTRIES = "127.0.0.0/8,DE\n"


def rule(acor, acop, **extra):
    """One access control rule (acr element)."""
    r = {"acor": list(acor), "acop": acop}
    r.update(extra)
    return r


def minute_safe(margin=4.0):
    """Wait until at least ``margin`` seconds remain in the current UTC minute, so
    that an ACP built from the current time and the request it decides both fall
    in the same minute (hence the same hour, day, ...).  Returns time.gmtime()."""
    left = 60.0 - (time.time() % 60.0)
    if left < margin:
        time.sleep(left + 0.2)
    return time.gmtime()


def cron_dow(tm):
    """crontab day of week (0 = Sunday) of a struct_time."""
    return (tm.tm_wday + 1) % 7


def minutes_except(m):
    """A crontab minute field matching every minute but m."""
    if m == 0:
        return "1-59"
    if m == 59:
        return "0-58"
    return "0-%d,%d-59" % (m - 1, m + 1)


class AcpHelpers:
    """Fixtures shared by the IPv4 and IPv6 classes (mixed into a WardenTestCase)."""

    owner_path = "/%s/owner" % CSE_RN

    @classmethod
    def register_fixed_aes(cls, client):
        for aei, rn in ((OWNER, "owner"), (READER, "reader"), (OTHER, "other")):
            r = client.register_ae(origin=aei, rn=rn)
            assert r.rsc == 2001 and r.body["m2m:ae"]["aei"] == aei, r

    def make_acp(self, pv, pvs=None, parent=None, origin=OWNER, owner_pv=True, rn=None, **extra):
        """Create an ACP (by OWNER under its AE by default).  pv: list of rules; OWNER
        gets all operations in pv too unless owner_pv=False; pvs defaults to OWNER/all.
        Returns (ri, structured path, rn)."""
        parent = parent or self.owner_path
        rn = rn or uniq("acp")
        rules = list(pv) + ([rule([OWNER], ALL_OPS)] if owner_pv else [])
        attrs = {"rn": rn, "pv": {"acr": rules},
                 "pvs": {"acr": pvs if pvs is not None else [rule([OWNER], ALL_OPS)]}}
        attrs.update(extra)
        r = self.c.create(parent, TY_ACP, attrs, origin=origin, root="m2m:acp")
        self.assertRsc(r, 2001, "ACP create %s" % json.dumps(attrs))
        acp = self.res(r, "m2m:acp")
        self.assertEqual(acp["ty"], TY_ACP)
        return acp["ri"], parent + "/" + rn, rn

    def guarded(self, pv, pvs=None, owner_pv=True, cin=False, **cnt_attrs):
        """An ACP plus a container (OWNER's, under its AE) naming it in acpi.
        Returns (container path, container ri, acp ri, acp path)."""
        acp_ri, acp_path, _ = self.make_acp(pv, pvs=pvs, owner_pv=owner_pv)
        cnt_attrs["acpi"] = [acp_ri]
        path, cnt = self.new_cnt(self.owner_path, OWNER, **cnt_attrs)
        self.assertEqual(cnt.get("acpi"), [acp_ri])
        if cin:
            self.new_cin(path, OWNER, "seed", rn="seed")
        return path, cnt["ri"], acp_ri, acp_path

    def assertDenied(self, r, msg=None):
        return self.assertRsc(r, 4103, msg)

    def assertRetrieveGranted(self, path, origin, ri, msg=None):
        r = self.assertRsc(self.c.retrieve(path, origin=origin), 2000, msg)
        self.assertEqual(self.res(r, "m2m:cnt")["ri"], ri, msg)
        return r

    def check_retrieve(self, path, origin, ri, grant, msg=None):
        if grant:
            self.assertRetrieveGranted(path, origin, ri, msg)
        else:
            self.assertDenied(self.c.retrieve(path, origin=origin), msg)

    def check_ctx(self, acco, grant, origin=READER, **extra):
        """A RETRIEVE rule for origin restricted by acco; check the decision."""
        path, ri, _, _ = self.guarded([rule([origin], R, acco=acco, **extra)], owner_pv=False)
        self.check_retrieve(path, origin, ri, grant, "acco=%s %s" % (json.dumps(acco), extra))

    def assertNotRevealed(self, item, body, what):
        """item (an ri, a secret content) must not appear anywhere in the body."""
        text = json.dumps(body)
        i = text.find(item)
        if i >= 0:
            self.fail("%s reveals %r: ...%s..." % (what, item, text[max(0, i - 250):i + 80]))

    def uril(self, r):
        self.assertIsInstance(r.body, dict, self.describe(r))
        self.assertIn("m2m:uril", r.body, self.describe(r))
        self.assertIsInstance(r.body["m2m:uril"], list, self.describe(r))
        return r.body["m2m:uril"]


# ==========================================================================
# Main server: IPv4 loopback, location files, audit log
# ==========================================================================

class AccessControlTest(AcpHelpers, WardenTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="warden-acp-")
        pos = os.path.join(cls.tmp, "positions.txt")
        cc = os.path.join(cls.tmp, "countries.csv")
        with open(pos, "w") as f:
            f.write(POSITIONS)
        with open(cc, "w") as f:
            f.write(COUNTRIES)
        cls.audit_path = os.path.join(cls.tmp, "audit.log")
        cls.server_args = ("--location.positions=" + pos, "--location.countries=" + cc,
                           "--audit.path=" + cls.audit_path)
        # The server runs in a local time zone 5:30 east of UTC (POSIX TZ syntax, no
        # tzdata needed), so that a crontab evaluated in local time instead of UTC
        # (contract: actw is UTC) lands on another hour and minute and fails the actw tests.
        saved_tz = os.environ.get("TZ")
        os.environ["TZ"] = "WTZ-5:30"
        try:
            super().setUpClass()
            cls.register_fixed_aes(cls.c)
        except Exception:
            cls.tearDownClass()
            raise
        finally:
            if saved_tz is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = saved_tz

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if not os.environ.get("WARDEN_KEEP_TMP"):
                shutil.rmtree(cls.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ acor
    def _acor_cases(self, cases):
        for entry, grants in cases:
            path, ri, _, _ = self.guarded([rule([entry], R)], owner_pv=False)
            for origin in (READER, OTHER):
                with self.subTest(acor=entry, origin=origin):
                    self.check_retrieve(path, origin, ri, origin in grants, "acor [%r]" % entry)

    def test_ts0003_7_1_3_acor_ae_id_stem(self):
        self._acor_cases([(READER, {READER}), (OTHER, {OTHER}), ("Cnobody", set())])

    def test_ts0003_7_1_3_acor_ae_id_sp_relative(self):
        self._acor_cases([("%s/%s" % (CSE_ID, READER), {READER}),
                          ("/id-other/%s" % READER, set())])

    def test_ts0003_7_1_3_acor_ae_id_absolute(self):
        self._acor_cases([("//%s%s/%s" % (SPID, CSE_ID, READER), {READER}),
                          ("//other.example.org%s/%s" % (CSE_ID, READER), set())])

    def test_ts0003_7_1_3_acor_all(self):
        self._acor_cases([("all", {READER, OTHER})])

    def test_ts0003_7_1_3_acor_list_any_entry_matches(self):
        path, ri, _, _ = self.guarded([rule(["Cnobody", "/id-in/Cnobody2", READER], R)], owner_pv=False)
        self.assertRetrieveGranted(path, READER, ri)
        self.assertDenied(self.c.retrieve(path, origin=OTHER))

    def test_ts0003_7_1_3_acor_wildcard_within_segment(self):
        self._acor_cases([("Crea*", {READER}),
                          ("C*der", {READER}),
                          ("%s/Crea*" % CSE_ID, {READER}),
                          ("%s/C*" % CSE_ID, {READER, OTHER}),
                          ("//%s%s/Crea*" % (SPID, CSE_ID), {READER}),
                          ("//*%s/%s" % (CSE_ID, READER), {READER}),
                          ("/id-*/%s" % READER, {READER}),
                          ("/*/%s" % READER, {READER}),
                          (READER + "*", {READER})])

    def test_ts0003_7_1_3_acor_wildcard_does_not_cross_slash(self):
        # Each pattern would match /id-in/Creader or //warden.example.com/id-in/Creader
        # only if '*' could span a '/'.
        self._acor_cases([("/*", set()),
                          ("/id*%s" % READER, set()),
                          ("/*%s" % READER, set()),
                          ("//*/%s" % READER, set()),
                          ("//%s/*" % SPID, set()),
                          ("//*%s" % READER, set())])

    def test_ts0003_7_1_3_acor_sp_domain(self):
        self._acor_cases([("//" + SPID, {READER, OTHER}),
                          ("//other.example.org", set())])

    def test_ts0003_7_1_3_acor_cse_id_does_not_match_an_ae(self):
        self._acor_cases([(CSE_ID, set()),
                          ("//%s%s" % (SPID, CSE_ID), set()),
                          ("/id-*", set())])

    # ------------------------------------------------------------------ acop
    def _acop_probe(self, acop):
        """A fresh container whose ACP grants READER exactly ``acop``; READER tries
        CREATE (a contentInstance), RETRIEVE, UPDATE, DISCOVERY and DELETE.
        Returns {op: response}."""
        path, ri, _, _ = self.guarded([rule([READER], acop)], cin=True, lbl=["orig"])
        res = {}
        res[C] = self.c.create(path, TY_CIN, {"con": "by-reader", "rn": "byreader"}, origin=READER)
        res[R] = self.c.retrieve(path, origin=READER)
        res[U] = self.c.update(path, "m2m:cnt", {"lbl": ["changed"]}, origin=READER)
        res[DISC] = self.c.retrieve(path, origin=READER, query={"fu": 1})
        res[D] = self.c.delete(path, origin=READER)
        return path, ri, res

    def _assert_only(self, acop, path, ri, res):
        granted = {C: 2001, R: 2000, U: 2004, DISC: 2000, D: 2002}
        for op, r in res.items():
            with self.subTest(acop=acop, op=op):
                if op == acop:
                    self.assertRsc(r, granted[op], "acop=%d must grant op %d" % (acop, op))
                elif op == DISC:
                    # TS-0001 §10.2.6: discovery skips what it may not discover: an empty list
                    self.assertRsc(r, 2000, "acop=%d: discovery answers, listing nothing" % acop)
                    self.assertEqual(self.uril(r), [], "acop=%d must not let anything be discovered" % acop)
                else:
                    self.assertDenied(r, "acop=%d must deny op %d" % (acop, op))
        # Effects (and absence of effects) seen by the owner.
        after = self.c.retrieve(path, origin=OWNER)
        if acop == D:
            self.assertRsc(after, 4004, "granted DELETE must remove the container")
            return
        cnt = self.res(self.assertRsc(after, 2000), "m2m:cnt")
        self.assertEqual(cnt["lbl"], ["changed"] if acop == U else ["orig"])
        self.assertEqual(cnt["cni"], 2 if acop == C else 1)

    def test_ts0003_7_1_3_acop_create_only(self):
        path, ri, res = self._acop_probe(C)
        cin = self.res(res[C], "m2m:cin")
        self.assertEqual((cin["con"], cin["rn"], cin["ty"]), ("by-reader", "byreader", TY_CIN))
        self._assert_only(C, path, ri, res)

    def test_ts0003_7_1_3_acop_retrieve_only(self):
        path, ri, res = self._acop_probe(R)
        cnt = self.res(res[R], "m2m:cnt")
        self.assertEqual((cnt["ri"], cnt["ty"], cnt["lbl"]), (ri, TY_CNT, ["orig"]))
        self._assert_only(R, path, ri, res)

    def test_ts0003_7_1_3_acop_update_only(self):
        path, ri, res = self._acop_probe(U)
        self.assertEqual(self.res(res[U], "m2m:cnt")["lbl"], ["changed"])
        self._assert_only(U, path, ri, res)

    def test_ts0003_7_1_3_acop_delete_only(self):
        path, ri, res = self._acop_probe(D)
        self._assert_only(D, path, ri, res)

    def test_ts0003_7_1_3_acop_discovery_only(self):
        path, ri, res = self._acop_probe(DISC)
        uris = self.uril(res[DISC])
        self.assertTrue(any(u.rstrip("/").endswith(path.lstrip("/") + "/seed") for u in uris),
                        "discovery with DISCOVERY granted must list the contentInstance: %s" % uris)
        self._assert_only(DISC, path, ri, res)

    def test_ts0003_7_1_3_acop_zero_grants_nothing(self):
        path, ri, res = self._acop_probe(0)
        for op, r in res.items():
            with self.subTest(op=op):
                if op == DISC:  # TS-0001 §10.2.6: skipped, not refused
                    self.assertEqual(self.uril(self.assertRsc(r, 2000)), [])
                else:
                    self.assertDenied(r)

    # -------------------------------------------------------------- actw
    def test_ts0003_7_1_3_actw_current_hour_grants_other_hour_denies(self):
        tm = minute_safe()
        self.check_ctx([{"actw": ["* * %d * * * *" % tm.tm_hour]}], True)
        tm = minute_safe()
        self.check_ctx([{"actw": ["* * %d * * * *" % ((tm.tm_hour + 12) % 24)]}], False)

    def test_ts0003_7_1_3_actw_seconds_field_excluding_nothing_grants(self):
        tm = minute_safe()
        self.check_ctx([{"actw": ["0-59 * %d * * * *" % tm.tm_hour]}], True)
        tm = minute_safe()
        self.check_ctx([{"actw": ["*/1 * * * * * *"]}], True)

    def test_ts0003_7_1_3_actw_window_excluding_current_minute_denies(self):
        tm = minute_safe()
        self.check_ctx([{"actw": ["* %s * * * * *" % minutes_except(tm.tm_min)]}], False)
        tm = minute_safe()
        self.check_ctx([{"actw": ["* %d * * * * *" % tm.tm_min]}], True)

    def test_ts0003_7_1_3_actw_all_fields_current_instant_grants(self):
        tm = minute_safe()
        cron = "* %d %d %d %d %d %d" % (tm.tm_min, tm.tm_hour, tm.tm_mday, tm.tm_mon, cron_dow(tm), tm.tm_year)
        self.check_ctx([{"actw": [cron]}], True)

    def test_ts0003_7_1_3_actw_day_of_week_sunday_is_zero(self):
        tm = minute_safe()
        self.check_ctx([{"actw": ["* * * * * %d *" % cron_dow(tm)]}], True)
        tm = minute_safe()
        self.check_ctx([{"actw": ["* * * * * %d *" % ((cron_dow(tm) + 1) % 7)]}], False)

    def test_ts0003_7_1_3_actw_other_year_denies(self):
        tm = minute_safe()
        self.check_ctx([{"actw": ["* * * * * * %d" % (tm.tm_year + 1)]}], False)

    def test_ts0003_7_1_3_actw_list_and_range_syntax(self):
        tm = minute_safe()
        h = tm.tm_hour
        self.check_ctx([{"actw": ["* * %d,%d * * * *" % ((h + 5) % 24, h)]}], True)
        tm = minute_safe()
        h = tm.tm_hour
        if h > 0:
            self.check_ctx([{"actw": ["* * 0-%d * * * *" % (h - 1)]}], False)
        if h < 23:
            self.check_ctx([{"actw": ["* * %d-23 * * * *" % (h + 1)]}], False)

    def test_ts0003_7_1_3_actw_any_window_of_the_list_suffices(self):
        tm = minute_safe()
        h = tm.tm_hour
        self.check_ctx([{"actw": ["* * %d * * * *" % ((h + 12) % 24), "* * %d * * * *" % h]}], True)
        tm = minute_safe()
        h = tm.tm_hour
        self.check_ctx([{"actw": ["* * %d * * * *" % ((h + 12) % 24), "* * %d * * * *" % ((h + 6) % 24)]}],
                       False)

    # -------------------------------------------------------------- acip
    def test_ts0003_7_1_3_acip_ipv4_loopback_cidr_grants(self):
        self.check_ctx([{"acip": {"ipv4": ["127.0.0.0/8"]}}], True)
        self.check_ctx([{"acip": {"ipv4": ["127.0.0.1/32"]}}], True)

    def test_ts0003_7_1_3_acip_ipv4_other_network_denies(self):
        self.check_ctx([{"acip": {"ipv4": ["10.0.0.0/8"]}}], False)
        self.check_ctx([{"acip": {"ipv4": ["127.0.0.2/32"]}}], False)

    def test_ts0003_7_1_3_acip_any_address_of_the_list_suffices(self):
        self.check_ctx([{"acip": {"ipv4": ["10.0.0.0/8", "127.0.0.0/8"]}}], True)

    def test_ts0003_7_1_3_acip_ipv6_only_rule_denies_ipv4_peer(self):
        self.check_ctx([{"acip": {"ipv6": ["::1/128"]}}], False)

    # -------------------------------------------------------------- aclr
    def test_ts0003_7_1_3_aclr_circle_around_position_grants(self):
        self.check_ctx([{"aclr": [{"accr": [BERLIN[0], BERLIN[1], 1000]}]}], True)
        # The single-object form is accepted too.
        self.check_ctx([{"aclr": {"accr": [BERLIN[0], BERLIN[1], 1000]}}], True)

    def test_ts0003_7_1_3_aclr_circle_elsewhere_denies(self):
        self.check_ctx([{"aclr": [{"accr": [PARIS[0], PARIS[1], 50000]}]}], False)
        # 10 km east of the position, radius 5 km: distance is really computed.
        self.check_ctx([{"aclr": [{"accr": [BERLIN[0], BERLIN[1] + 0.147, 5000]}]}], False)
        self.check_ctx([{"aclr": [{"accr": [BERLIN[0], BERLIN[1] + 0.147, 15000]}]}], True)

    def test_ts0003_7_1_3_aclr_any_region_of_the_list_suffices(self):
        self.check_ctx([{"aclr": [{"accr": [PARIS[0], PARIS[1], 1000]},
                                  {"accr": [BERLIN[0], BERLIN[1], 1000]}]}], True)

    def test_ts0003_7_1_3_aclr_country_code(self):
        self.check_ctx([{"aclr": [{"accc": ["DE"]}]}], True)
        self.check_ctx([{"aclr": [{"accc": ["FR"]}]}], False)
        self.check_ctx([{"aclr": [{"accc": ["FR", "DE"]}]}], True)

    def test_contract_aclr_country_comes_from_peer_address(self):
        # OTHER has no position, but its peer address 127.0.0.1 maps to DE.
        self.check_ctx([{"aclr": [{"accc": ["DE"]}]}], True, origin=OTHER)

    def test_ts0003_7_1_4_unknown_position_never_matches_a_circle(self):
        # A circle covering the whole Earth: any known position is inside.
        whole_earth = [{"aclr": [{"accr": [BERLIN[0], BERLIN[1], 21000000]}]}]
        self.check_ctx(whole_earth, True, origin=READER)
        self.check_ctx(whole_earth, False, origin=OTHER)
        self.check_ctx([{"aclr": [{"accr": [0, 0, 1000]}]}], False, origin=OTHER)
        self.check_ctx([{"aclr": [{"accr": [BERLIN[0], BERLIN[1], 1000]}]}], False, origin=OTHER)

    # ----------------------------------------------- several contexts / elements
    def test_ts0003_7_1_5_any_context_of_the_list_suffices(self):
        self.check_ctx([{"acip": {"ipv4": ["10.0.0.0/8"]}}, {"acip": {"ipv4": ["127.0.0.0/8"]}}], True)
        tm = minute_safe()
        self.check_ctx([{"acip": {"ipv4": ["10.0.0.0/8"]}},
                        {"actw": ["* * %d * * * *" % ((tm.tm_hour + 12) % 24)]},
                        {"aclr": [{"accc": ["FR"]}]}], False)

    def test_ts0003_7_1_5_all_elements_of_a_context_must_hold(self):
        tm = minute_safe()
        h = tm.tm_hour
        self.check_ctx([{"acip": {"ipv4": ["127.0.0.0/8"]}, "actw": ["* * %d * * * *" % h],
                         "aclr": [{"accc": ["DE"]}]}], True)
        tm = minute_safe()
        self.check_ctx([{"acip": {"ipv4": ["127.0.0.0/8"]},
                         "actw": ["* * %d * * * *" % ((tm.tm_hour + 12) % 24)]}], False)
        self.check_ctx([{"acip": {"ipv4": ["127.0.0.0/8"]}, "aclr": [{"accc": ["FR"]}]}], False)
        tm = minute_safe()
        self.check_ctx([{"acip": {"ipv4": ["10.0.0.0/8"]}, "actw": ["* * %d * * * *" % tm.tm_hour]}], False)

    def test_ts0003_7_1_5_rule_without_context_matches_any_context(self):
        # One rule restricted to another network, one unrestricted: permit-overrides.
        path, ri, _, _ = self.guarded([rule([READER], R, acco=[{"acip": {"ipv4": ["10.0.0.0/8"]}}]),
                                       rule([READER], R)], owner_pv=False)
        self.assertRetrieveGranted(path, READER, ri)

    # -------------------------------------------------------------- acaf
    def test_ts0003_7_1_5_acaf_true_never_matches_plain_http(self):
        self.check_ctx([{"acip": {"ipv4": ["127.0.0.0/8"]}}], False, acaf=True)
        path, ri, _, _ = self.guarded([rule([READER], R, acaf=True)], owner_pv=False)
        self.assertDenied(self.c.retrieve(path, origin=READER))
        path, ri, _, _ = self.guarded([rule(["all"], R | U, acaf=True)], owner_pv=False)
        self.assertDenied(self.c.retrieve(path, origin=READER))
        self.assertDenied(self.c.retrieve(path, origin=OTHER))
        # Same rule with acaf false grants.
        path, ri, _, _ = self.guarded([rule([READER], R, acaf=False)], owner_pv=False)
        self.assertRetrieveGranted(path, READER, ri)

    # -------------------------------------------------------------- acod
    def test_ts0003_7_1_3_acod_child_type_restricts_create(self):
        path, ri, _, _ = self.guarded([rule([READER], C, acod=[{"chty": [TY_CIN]}])])
        r = self.assertRsc(self.c.create(path, TY_CIN, {"con": "ok"}, origin=READER), 2001)
        self.assertEqual(self.res(r, "m2m:cin")["con"], "ok")
        rn = uniq("sub")
        self.assertDenied(self.c.create(path, TY_CNT, {"rn": rn}, origin=READER))
        self.assertRsc(self.c.retrieve(path + "/" + rn, origin=OWNER), 4004, "denied create created something")

    def test_ts0003_7_1_3_acod_does_not_restrict_retrieve(self):
        path, ri, _, _ = self.guarded([rule([READER], C | R, acod=[{"chty": [TY_CIN]}])])
        self.assertRetrieveGranted(path, READER, ri)
        self.assertDenied(self.c.create(path, TY_CNT, {}, origin=READER))

    def test_ts0003_7_1_5_acod_resource_type_must_match_target(self):
        path, _, _, _ = self.guarded([rule([READER], C, acod=[{"ty": TY_CNT, "chty": [TY_CIN]}])])
        self.assertRsc(self.c.create(path, TY_CIN, {"con": "ok"}, origin=READER), 2001)
        path, _, _, _ = self.guarded([rule([READER], C, acod=[{"ty": 2, "chty": [TY_CIN]}])])
        self.assertDenied(self.c.create(path, TY_CIN, {"con": "no"}, origin=READER))

    def test_ts0003_7_1_5_acod_any_object_detail_suffices(self):
        path, _, _, _ = self.guarded([rule([READER], C, acod=[{"chty": [TY_CNT]}, {"chty": [TY_CIN]}])])
        self.assertRsc(self.c.create(path, TY_CIN, {"con": "ok"}, origin=READER), 2001)
        self.assertRsc(self.c.create(path, TY_CNT, {}, origin=READER), 2001)

    # ------------------------------------------------------------- pv / pvs
    def test_ts0001_9_6_2_pvs_governs_the_acp_itself_not_pv(self):
        # READER holds every operation in pv, none in pvs.
        path, ri, acp_ri, acp_path = self.guarded([rule([READER], ALL_OPS)], owner_pv=False)
        self.assertRetrieveGranted(path, READER, ri)
        self.assertDenied(self.c.retrieve(acp_path, origin=READER))
        self.assertDenied(self.c.update(acp_path, "m2m:acp", {"pv": {"acr": [rule(["all"], ALL_OPS)]}},
                                        origin=READER))
        self.assertDenied(self.c.delete(acp_path, origin=READER))
        acp = self.res(self.assertRsc(self.c.retrieve(acp_path, origin=OWNER), 2000), "m2m:acp")
        self.assertEqual(acp["pv"], {"acr": [rule([READER], ALL_OPS)]}, "denied update changed the ACP")

    def test_ts0001_9_6_2_pvs_grants_on_the_acp(self):
        pv = [rule([OTHER], R)]
        acp_ri, acp_path, _ = self.make_acp(pv, pvs=[rule([READER], R | U | D)], owner_pv=False)
        r = self.assertRsc(self.c.retrieve(acp_path, origin=READER), 2000)
        acp = self.res(r, "m2m:acp")
        self.assertEqual((acp["ri"], acp["ty"], acp["pv"]), (acp_ri, TY_ACP, {"acr": pv}))
        self.assertEqual(acp["pvs"], {"acr": [rule([READER], R | U | D)]})
        new_pv = {"acr": [rule([READER, OTHER], R)]}
        r = self.assertRsc(self.c.update(acp_path, "m2m:acp", {"pv": new_pv}, origin=READER), 2004)
        self.assertEqual(self.res(r, "m2m:acp")["pv"], new_pv)
        self.assertRsc(self.c.delete(acp_path, origin=READER), 2002)
        self.assertRscIn(self.c.retrieve(acp_path, origin=READER), {4004})

    def test_ts0001_9_6_2_pvs_does_not_grant_on_resources_naming_the_acp(self):
        # READER may do everything with the ACP, nothing with the container naming it.
        path, ri, _, acp_path = self.guarded([rule([OTHER], R)], pvs=[rule([READER], ALL_OPS), rule([OWNER], ALL_OPS)])
        self.assertRsc(self.c.retrieve(acp_path, origin=READER), 2000)
        self.assertDenied(self.c.retrieve(path, origin=READER))
        self.assertDenied(self.c.update(path, "m2m:cnt", {"lbl": ["x"]}, origin=READER))
        self.assertRetrieveGranted(path, OTHER, ri)

    def test_contract_acp_creator_is_bound_by_pvs(self):
        # Operations on an ACP use its own pvs only: the creator gets no implicit rights.
        acp_ri, acp_path, _ = self.make_acp([rule([OWNER], ALL_OPS)], pvs=[rule([READER], R)], owner_pv=False)
        self.assertDenied(self.c.retrieve(acp_path, origin=OWNER))
        self.assertDenied(self.c.delete(acp_path, origin=OWNER))
        self.assertRsc(self.c.retrieve(acp_path, origin=READER), 2000)

    def test_contract_acp_create_needs_create_on_parent(self):
        rn = uniq("acp")
        body = {"rn": rn, "pv": {"acr": [rule([READER], ALL_OPS)]}, "pvs": {"acr": [rule([READER], ALL_OPS)]}}
        self.assertDenied(self.c.create(self.owner_path, TY_ACP, body, origin=READER, root="m2m:acp"))
        self.assertDenied(self.c.create("/" + CSE_RN, TY_ACP, body, origin=READER, root="m2m:acp"))
        self.assertRsc(self.c.retrieve(self.owner_path + "/" + rn, origin=OWNER), 4004)
        # The admin may create one under the CSEBase.
        r = self.assertRsc(self.c.create("/" + CSE_RN, TY_ACP, body, origin=ADMIN, root="m2m:acp"), 2001)
        self.assertEqual(self.res(r, "m2m:acp")["pvs"], body["pvs"])
        self.assertRsc(self.c.retrieve("/%s/%s" % (CSE_RN, rn), origin=READER), 2000)

    # ---------------------------------------------------- default creator policy
    def test_ts0001_9_6_2_default_policy_only_creator_and_admin(self):
        path, cnt = self.new_cnt(self.owner_path, OWNER)
        self.new_cin(path, OWNER, "x", rn="i1")
        self.assertRetrieveGranted(path, OWNER, cnt["ri"])
        self.assertRetrieveGranted(path, ADMIN, cnt["ri"])
        for origin in (READER, OTHER):
            with self.subTest(origin=origin):
                self.assertDenied(self.c.retrieve(path, origin=origin))
                self.assertDenied(self.c.retrieve(path + "/i1", origin=origin))
                # discovery skips what it may not discover (TS-0001 §10.2.6): an empty list
                r = self.assertRsc(self.c.retrieve(path, origin=origin, query={"fu": 1}), 2000)
                self.assertEqual(self.uril(r), [])
                self.assertDenied(self.c.update(path, "m2m:cnt", {"lbl": ["x"]}, origin=origin))
                self.assertDenied(self.c.create(path, TY_CIN, {"con": "x"}, origin=origin))
                self.assertDenied(self.c.delete(path, origin=origin))
                self.assertDenied(self.c.retrieve(self.owner_path, origin=origin))
        cnt = self.res(self.assertRsc(self.c.retrieve(path, origin=OWNER), 2000), "m2m:cnt")
        self.assertEqual((cnt.get("lbl"), cnt["cni"]), (None, 1))

    def test_ts0001_9_6_2_admin_created_resource_not_accessible_to_the_ae(self):
        path, cnt = self.new_cnt(self.owner_path, ADMIN)
        self.assertRetrieveGranted(path, ADMIN, cnt["ri"])
        self.assertDenied(self.c.retrieve(path, origin=OWNER))
        self.assertDenied(self.c.update(path, "m2m:cnt", {"lbl": ["x"]}, origin=OWNER))
        self.assertDenied(self.c.create(path, TY_CIN, {"con": "x"}, origin=OWNER))
        self.assertDenied(self.c.delete(path, origin=OWNER))
        self.assertRetrieveGranted(path, ADMIN, cnt["ri"])

    def test_ts0001_9_6_2_acpi_replaces_the_creator_default(self):
        # The creator is not in the ACP's pv: naming an ACP leaves it no implicit rights.
        path, ri, _, _ = self.guarded([rule([READER], R)], owner_pv=False)
        self.assertDenied(self.c.retrieve(path, origin=OWNER))
        self.assertRetrieveGranted(path, READER, ri)

    # --------------------------------------------------------------- acpi rules
    def test_ts0004_7_3_3_15_acpi_update_must_be_alone(self):
        path, ri, acp_ri, _ = self.guarded([rule([READER], R)])
        other_ri, _, _ = self.make_acp([rule([OTHER], R)])
        r = self.c.update(path, "m2m:cnt", {"acpi": [other_ri], "lbl": ["x"]}, origin=OWNER)
        self.assertRsc(r, 4000)
        cnt = self.res(self.assertRsc(self.c.retrieve(path, origin=OWNER), 2000), "m2m:cnt")
        self.assertEqual((cnt["acpi"], cnt.get("lbl")), ([acp_ri], None), "rejected update changed something")
        # Same on a resource without acpi (creator policy).
        path2, _ = self.new_cnt(self.owner_path, OWNER)
        self.assertRsc(self.c.update(path2, "m2m:cnt", {"lbl": ["x"], "acpi": [other_ri]}, origin=OWNER), 4000)
        self.assertDenied(self.c.retrieve(path2, origin=OTHER))

    def test_ts0004_7_3_3_15_acpi_update_needs_update_in_pvs(self):
        # READER holds every operation in pv; OWNER holds pvs.
        path, ri, acp_ri, _ = self.guarded([rule([READER], ALL_OPS)])
        new_ri, _, _ = self.make_acp([rule([OTHER], R)])
        self.assertDenied(self.c.update(path, "m2m:cnt", {"acpi": [new_ri]}, origin=READER))
        # ... while an ordinary update is granted by pv.
        r = self.assertRsc(self.c.update(path, "m2m:cnt", {"lbl": ["pv-ok"]}, origin=READER), 2004)
        self.assertEqual(self.res(r, "m2m:cnt")["lbl"], ["pv-ok"])
        self.assertEqual(self.res(self.c.retrieve(path, origin=OWNER), "m2m:cnt")["acpi"], [acp_ri])
        r = self.assertRsc(self.c.update(path, "m2m:cnt", {"acpi": [new_ri]}, origin=OWNER), 2004)
        self.assertEqual(self.res(r, "m2m:cnt")["acpi"], [new_ri])
        self.assertDenied(self.c.retrieve(path, origin=READER))
        self.assertRetrieveGranted(path, OTHER, ri)

    def test_ts0004_7_3_3_15_acpi_update_needs_update_not_just_retrieve_in_pvs(self):
        path, _, acp_ri, _ = self.guarded([rule([READER], ALL_OPS)],
                                          pvs=[rule([READER], R | D), rule([OWNER], ALL_OPS)])
        new_ri, _, _ = self.make_acp([rule([OTHER], R)])
        self.assertDenied(self.c.update(path, "m2m:cnt", {"acpi": [new_ri]}, origin=READER))
        self.assertEqual(self.res(self.c.retrieve(path, origin=OWNER), "m2m:cnt")["acpi"], [acp_ri])

    def test_ts0004_7_3_3_15_acpi_update_creator_not_exempt_when_acps_named(self):
        # OWNER created the container and holds all of pv, but only READER holds pvs.
        path, _, acp_ri, _ = self.guarded([], pvs=[rule([READER], U)])
        # READER may read the new ACP: an originator links only ACPs it may retrieve (finding 11)
        new_ri, _, _ = self.make_acp([rule([OTHER], R)], pvs=[rule([OWNER], ALL_OPS), rule([READER], R)])
        self.assertDenied(self.c.update(path, "m2m:cnt", {"acpi": [new_ri]}, origin=OWNER))
        r = self.assertRsc(self.c.update(path, "m2m:cnt", {"acpi": [new_ri]}, origin=READER), 2004)
        self.assertEqual(self.res(r, "m2m:cnt")["acpi"], [new_ri])

    def test_ts0004_7_3_3_15_acpi_update_without_acpi_creator_only(self):
        path, cnt = self.new_cnt(self.owner_path, OWNER)
        acp_ri, _, _ = self.make_acp([rule([READER], R)])
        self.assertDenied(self.c.update(path, "m2m:cnt", {"acpi": [acp_ri]}, origin=READER))
        self.assertDenied(self.c.retrieve(path, origin=READER))
        r = self.assertRsc(self.c.update(path, "m2m:cnt", {"acpi": [acp_ri]}, origin=OWNER), 2004)
        self.assertEqual(self.res(r, "m2m:cnt")["acpi"], [acp_ri])
        self.assertRetrieveGranted(path, READER, cnt["ri"])

    def test_contract_acpi_must_name_existing_acps(self):
        acp_ri, _, _ = self.make_acp([rule([READER], R)])
        cnt_path, cnt = self.new_cnt(self.owner_path, OWNER)
        bad = ["acpdoesnotexist" + uniq(), cnt["ri"], cnt_path.lstrip("/"), self.owner_path.lstrip("/"), OWNER]
        for entry in bad:
            with self.subTest(acpi=entry):
                rn = uniq("bad")
                self.assertRsc(self.c.create(self.owner_path, TY_CNT, {"rn": rn, "acpi": [entry]}, origin=OWNER),
                               4000)
                self.assertRsc(self.c.retrieve(self.owner_path + "/" + rn, origin=OWNER), 4004)
                # One bad entry among good ones still refused.
                self.assertRsc(self.c.create(self.owner_path, TY_CNT, {"rn": rn, "acpi": [acp_ri, entry]},
                                             origin=OWNER), 4000)
                self.assertRsc(self.c.update(cnt_path, "m2m:cnt", {"acpi": [entry]}, origin=OWNER), 4000)
        after = self.res(self.assertRsc(self.c.retrieve(cnt_path, origin=OWNER), 2000), "m2m:cnt")
        self.assertNotIn("acpi", after)

    def test_contract_acpi_entries_as_ri_and_structured_address(self):
        acp_ri, acp_path, acp_rn = self.make_acp([rule([READER], R)])
        forms = [acp_ri,                                              # resource ID
                 acp_path.lstrip("/"),                                # CSE-relative structured
                 "%s%s" % (CSE_ID, acp_path),                         # SP-relative structured
                 "%s/%s" % (CSE_ID, acp_ri),                          # SP-relative unstructured
                 "//%s%s%s" % (SPID, CSE_ID, acp_path)]               # absolute structured
        for entry in forms:
            with self.subTest(acpi=entry):
                r = self.c.create(self.owner_path, TY_CNT, {"acpi": [entry]}, origin=OWNER)
                self.assertRsc(r, 2001)
                cnt = self.res(r, "m2m:cnt")
                path = r.headers.get("Content-Location")
                self.assertTrue(path, "no Content-Location")
                self.assertRetrieveGranted(path, READER, cnt["ri"])
                self.assertDenied(self.c.retrieve(path, origin=OTHER))

    def test_ts0003_7_1_5_several_acps_any_one_grants(self):
        a_ri, _, _ = self.make_acp([rule([READER], R)], owner_pv=False)
        b_ri, _, _ = self.make_acp([rule([OTHER], R | U)], owner_pv=False)
        path, cnt = self.new_cnt(self.owner_path, OWNER, acpi=[a_ri, b_ri])
        self.assertEqual(cnt["acpi"], [a_ri, b_ri])
        self.assertRetrieveGranted(path, READER, cnt["ri"])
        self.assertRetrieveGranted(path, OTHER, cnt["ri"])
        self.assertDenied(self.c.update(path, "m2m:cnt", {"lbl": ["r"]}, origin=READER))
        self.assertRsc(self.c.update(path, "m2m:cnt", {"lbl": ["o"]}, origin=OTHER), 2004)
        self.assertDenied(self.c.retrieve(path, origin=OWNER))
        self.assertDenied(self.c.delete(path, origin=OTHER))

    def test_ts0001_9_6_2_removing_acpi_restores_creator_policy(self):
        path, ri, _, _ = self.guarded([rule([READER], R)])
        self.assertRetrieveGranted(path, READER, ri)
        r = self.assertRsc(self.c.update(path, "m2m:cnt", {"acpi": None}, origin=OWNER), 2004)
        self.assertNotIn("acpi", self.res(r, "m2m:cnt"))
        self.assertDenied(self.c.retrieve(path, origin=READER))
        cnt = self.res(self.assertRsc(self.c.retrieve(path, origin=OWNER), 2000), "m2m:cnt")
        self.assertNotIn("acpi", cnt)
        self.assertRetrieveGranted(path, ADMIN, ri)

    # -------------------------------------------------- contentInstance
    def test_contract_content_instance_follows_container_policies(self):
        path, ri, acp_ri, _ = self.guarded([rule([READER], R)], cin=True)
        r = self.assertRsc(self.c.retrieve(path + "/seed", origin=READER), 2000)
        self.assertEqual(self.res(r, "m2m:cin")["con"], "seed")
        r = self.assertRsc(self.c.retrieve(path + "/la", origin=READER), 2000)
        self.assertEqual(self.res(r, "m2m:cin")["con"], "seed")
        self.assertDenied(self.c.delete(path + "/seed", origin=READER))
        self.assertDenied(self.c.delete(path + "/la", origin=READER))
        self.assertDenied(self.c.retrieve(path + "/seed", origin=OTHER))
        # Switch the container's policy: its instances follow at once.
        other_ri, _, _ = self.make_acp([rule([OTHER], R)])
        self.assertRsc(self.c.update(path, "m2m:cnt", {"acpi": [other_ri]}, origin=OWNER), 2004)
        self.assertDenied(self.c.retrieve(path + "/seed", origin=READER))
        r = self.assertRsc(self.c.retrieve(path + "/seed", origin=OTHER), 2000)
        self.assertEqual(self.res(r, "m2m:cin")["con"], "seed")

    def test_contract_content_instance_creator_has_no_own_rights(self):
        # READER may only CREATE in the container: its own instance is not retrievable by it.
        path, _, _, _ = self.guarded([rule([READER], C)])
        cin = self.res(self.assertRsc(self.c.create(path, TY_CIN, {"con": "mine", "rn": "mine"}, origin=READER),
                                      2001), "m2m:cin")
        self.assertEqual(cin["con"], "mine")
        self.assertDenied(self.c.retrieve(path + "/mine", origin=READER))
        self.assertDenied(self.c.delete(path + "/mine", origin=READER))
        r = self.assertRsc(self.c.retrieve(path + "/mine", origin=OWNER), 2000)
        self.assertEqual(self.res(r, "m2m:cin")["con"], "mine")

    # -------------------------------------------------------------- discovery
    def test_ts0003_7_1_3_discovery_returns_only_discoverable_resources(self):
        disc_ri, _, _ = self.make_acp([rule([READER], DISC)])
        hide_ri, _, _ = self.make_acp([rule([READER], R)])
        parent, _ = self.new_cnt(self.owner_path, OWNER, acpi=[disc_ri])
        a, a_cnt = self.new_cnt(parent, OWNER, rn="visible", acpi=[disc_ri])
        b, b_cnt = self.new_cnt(parent, OWNER, rn="hidden", acpi=[hide_ri])
        a_cin = self.new_cin(a, OWNER, "a")
        b_cin = self.new_cin(b, OWNER, "b")
        want_all = {a_cnt["ri"], a_cin["ri"], b_cnt["ri"], b_cin["ri"]}
        r = self.assertRsc(self.c.retrieve(parent, origin=OWNER, query={"fu": 1, "drt": 2}), 2000)
        got = {u.rsplit("/", 1)[-1] for u in self.uril(r)}
        self.assertTrue(want_all <= got, "owner discovery %s lacks some of %s" % (got, want_all))
        r = self.assertRsc(self.c.retrieve(parent, origin=READER, query={"fu": 1, "drt": 2}), 2000)
        got = {u.rsplit("/", 1)[-1] for u in self.uril(r)}
        self.assertIn(a_cnt["ri"], got)
        self.assertIn(a_cin["ri"], got)
        self.assertNotIn(b_cnt["ri"], got, "resource without DISCOVERY listed")
        self.assertNotIn(b_cin["ri"], got, "instance of a container without DISCOVERY listed")
        # Structured form, with a type filter.
        r = self.assertRsc(self.c.retrieve(parent, origin=READER, query={"fu": 1, "ty": TY_CIN}), 2000)
        uris = self.uril(r)
        self.assertEqual(len(uris), 1, uris)
        self.assertTrue(uris[0].rstrip("/").endswith("/visible/" + a_cin["rn"]), uris)
        # TS-0001 §10.2.6: a root READER may not discover is skipped, not refused: nothing below
        # it is discoverable to READER, so the list is empty.
        r = self.assertRsc(self.c.retrieve(b, origin=READER, query={"fu": 1}), 2000)
        self.assertEqual(self.uril(r), [])
        self.assertRsc(self.c.retrieve(b, origin=READER), 2000)

    def test_ts0001_10_2_6_cse_base_discovery_lists_only_discoverable(self):
        hidden, hidden_cnt = self.new_cnt(self.owner_path, OWNER)
        shown, shown_ri, _, _ = self.guarded([rule([READER], DISC)])
        # the CSEBase needs no DISCOVER privilege as the root (TS-0001 §10.2.6): always answered
        r = self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=READER, query={"fu": 1, "drt": 2}), 2000)
        got = {u.rsplit("/", 1)[-1] for u in self.uril(r)}
        self.assertIn(shown_ri, got)
        self.assertNotIn(hidden_cnt["ri"], got)
        self.assertNotIn(OWNER, got, "the owner AE (creator policy) is not discoverable by READER")

    # ----------------------------------------- child resources in rcn results
    def _leak_fixture(self):
        """A container READER may RETRIEVE (and DISCOVER) holding one child container
        and one contentInstance of its own, and one child container READER may not
        retrieve (creator policy) holding a contentInstance with a secret."""
        path, ri, _, _ = self.guarded([rule([READER], R | DISC)])
        secret = "secret-" + uniq()
        hidden, hidden_cnt = self.new_cnt(path, OWNER, rn="hidden")
        hidden_cin = self.new_cin(hidden, OWNER, secret, rn="hcin")
        self.assertDenied(self.c.retrieve(hidden, origin=READER))
        self.assertDenied(self.c.retrieve(hidden + "/hcin", origin=READER))
        return path, ri, secret, [hidden_cnt["ri"], hidden_cin["ri"], secret]

    def test_ts0001_9_6_2_rcn4_does_not_embed_unretrievable_children(self):
        path, ri, secret, forbidden = self._leak_fixture()
        for rcn in (4, 8):
            with self.subTest(rcn=rcn):
                r = self.assertRsc(self.c.retrieve(path, origin=READER, query={"rcn": rcn}), 2000)
                for item in forbidden:
                    self.assertNotRevealed(item, r.body, "rcn=%d by %s (child it may not retrieve)" % (rcn, READER))

    def test_ts0001_10_2_6_2_child_references_only_for_retrievable_children(self):
        path, ri, secret, forbidden = self._leak_fixture()
        for rcn in (5, 6):
            with self.subTest(rcn=rcn):
                r = self.assertRsc(self.c.retrieve(path, origin=READER, query={"rcn": rcn}), 2000)
                self.assertNotRevealed(forbidden[0], r.body, "rcn=%d by %s" % (rcn, READER))
                self.assertNotRevealed(path.lstrip("/") + "/hidden", r.body,
                                       "rcn=%d by %s (reference to a child it may not retrieve)" % (rcn, READER))

    def test_ts0001_9_6_2_rcn4_on_cse_base_does_not_dump_foreign_resources(self):
        # Any registered AE may retrieve the CSEBase, but not everything below it.
        secret = "secret-" + uniq()
        path, cnt = self.new_cnt(self.owner_path, OWNER)
        cin = self.new_cin(path, OWNER, secret)
        acp_ri, _, _ = self.make_acp([rule([OTHER], R)])
        r = self.c.retrieve("/" + CSE_RN, origin=READER, query={"rcn": 4})
        if r.rsc == 2000:
            for item in (secret, cin["ri"], cnt["ri"], acp_ri):
                self.assertNotRevealed(item, r.body, "CSEBase rcn=4 by %s" % READER)
        else:
            self.assertDenied(r)

    # --------------------------------------------------------- acpi on an AE
    def test_ts0001_9_6_2_ae_acpi_governs_the_ae_not_its_children(self):
        aei = "C" + uniq("acpae")
        self.new_ae(origin=aei, rn=aei)
        ae_path = "/%s/%s" % (CSE_RN, aei)
        child, child_cnt = self.new_cnt(ae_path, aei)
        acp_ri, _, _ = self.make_acp([rule([aei], ALL_OPS), rule([READER], C | R)], pvs=[rule([aei], ALL_OPS)],
                                     parent=ae_path, origin=aei, owner_pv=False)
        r = self.assertRsc(self.c.update(ae_path, "m2m:ae", {"acpi": [acp_ri]}, origin=aei), 2004)
        self.assertEqual(self.res(r, "m2m:ae")["acpi"], [acp_ri])
        r = self.assertRsc(self.c.retrieve(ae_path, origin=READER), 2000)
        self.assertEqual(self.res(r, "m2m:ae")["aei"], aei)
        self.assertDenied(self.c.retrieve(ae_path, origin=OTHER))
        self.assertDenied(self.c.update(ae_path, "m2m:ae", {"lbl": ["x"]}, origin=READER))
        # acpi is not inherited: the child (no acpi) stays creator-only.
        self.assertDenied(self.c.retrieve(child, origin=READER))
        self.assertRetrieveGranted(child, aei, child_cnt["ri"])
        # A container READER creates under the AE is READER's (creator policy), not the AE's.
        mine, mine_cnt = self.new_cnt(ae_path, READER)
        self.assertRetrieveGranted(mine, READER, mine_cnt["ri"])
        self.assertDenied(self.c.retrieve(mine, origin=aei))
        self.assertRsc(self.c.delete(mine, origin=READER), 2002)

    def test_contract_virtual_la_ol_follow_container_policies(self):
        path, _ = self.new_cnt(self.owner_path, OWNER)
        self.new_cin(path, OWNER, "x")
        for v in ("la", "ol"):
            with self.subTest(virtual=v):
                self.assertDenied(self.c.retrieve(path + "/" + v, origin=READER))
                self.assertDenied(self.c.delete(path + "/" + v, origin=READER))
        cnt = self.res(self.assertRsc(self.c.retrieve(path, origin=OWNER), 2000), "m2m:cnt")
        self.assertEqual(cnt["cni"], 1)

    def test_ts0001_9_6_2_expired_acp_grants_nothing(self):
        et = et_in(5)
        acp_ri, acp_path, _ = self.make_acp([rule([READER], R)], et=et)
        path, cnt = self.new_cnt(self.owner_path, OWNER, acpi=[acp_ri])
        self.assertRetrieveGranted(path, READER, cnt["ri"])
        sleep_past(et, 1.2)
        self.assertRsc(self.c.retrieve(acp_path, origin=OWNER), 4004)
        self.assertDenied(self.c.retrieve(path, origin=READER))

    # -------------------------------------------------------- invalid policies
    def _assert_refused(self, pv=None, pvs=None, raw=None):
        rn = uniq("inv")
        attrs = raw if raw is not None else {"pv": {"acr": pv if pv is not None else []},
                                             "pvs": {"acr": pvs if pvs is not None else [rule([OWNER], ALL_OPS)]}}
        attrs = dict(attrs, rn=rn)
        r = self.c.create(self.owner_path, TY_ACP, attrs, origin=OWNER, root="m2m:acp")
        self.assertRsc(r, 4000, "ACP %s" % json.dumps(attrs))
        self.assertRsc(self.c.retrieve(self.owner_path + "/" + rn, origin=OWNER), 4004)

    def test_contract_unknown_rule_element_refused(self):
        self._assert_refused(pv=[rule([READER], R, aca=True)])
        self._assert_refused(pvs=[rule([OWNER], ALL_OPS, acxx=1)])

    def test_contract_unknown_context_element_refused(self):
        self._assert_refused(pv=[rule([READER], R, acco=[{"acxx": ["x"]}])])
        self._assert_refused(pv=[rule([READER], R, acco=[{"acip": {"ipv4": ["127.0.0.0/8"]}, "zzz": 1}])])
        self._assert_refused(pv=[rule([READER], R, acco=[{"acip": {"ipv5": ["127.0.0.0/8"]}}])])
        self._assert_refused(pv=[rule([READER], R, acco=[{"aclr": [{"accx": ["DE"]}]}])])

    def test_contract_bad_crontab_refused(self):
        for cron in ("* * * * * *", "* * * * * * * *", "61 * * * * * *", "* 60 * * * * *", "* * 24 * * * *",
                     "* * * * * 8 *", "x * * * * * *", "* * 5-2x * * * *", ""):
            with self.subTest(actw=cron):
                self._assert_refused(pv=[rule([READER], R, acco=[{"actw": [cron]}])])

    def test_contract_bad_cidr_refused(self):
        for acip in ({"ipv4": ["127.0.0.0/33"]}, {"ipv4": ["300.0.0.0/8"]}, {"ipv4": ["not-an-ip"]},
                     {"ipv4": ["::1/128"]}, {"ipv6": ["::1/129"]}, {"ipv6": ["gggg::/16"]},
                     {"ipv6": ["127.0.0.0/8"]}):
            with self.subTest(acip=acip):
                self._assert_refused(pv=[rule([READER], R, acco=[{"acip": acip}])])

    def test_contract_acop_out_of_range_refused(self):
        for acop in (64, 255, -1):
            with self.subTest(acop=acop):
                self._assert_refused(pv=[rule([READER], acop)])
        self._assert_refused(pv=[{"acor": [READER], "acop": "2"}])

    def test_contract_empty_or_missing_pvs_refused(self):
        self._assert_refused(pvs=[])
        self._assert_refused(raw={"pv": {"acr": [rule([READER], R)]}})
        self._assert_refused(raw={"pvs": {"acr": [rule([OWNER], ALL_OPS)]}})

    def test_contract_missing_acor_or_acop_refused(self):
        self._assert_refused(pv=[{"acop": R}])
        self._assert_refused(pvs=[{"acop": ALL_OPS}])
        self._assert_refused(pv=[{"acor": [READER]}])

    def test_contract_invalid_update_refused_and_acp_unchanged(self):
        path, ri, acp_ri, acp_path = self.guarded([rule([READER], R)])
        before = self.res(self.assertRsc(self.c.retrieve(acp_path, origin=OWNER), 2000), "m2m:acp")
        for attrs in ({"pv": {"acr": [rule([OTHER], 64)]}},
                      {"pv": {"acr": [rule([OTHER], R, aca=True)]}},
                      {"pv": {"acr": [rule([OTHER], R, acco=[{"actw": ["bad"]}])]}},
                      {"pvs": {"acr": []}}):
            with self.subTest(update=attrs):
                self.assertRsc(self.c.update(acp_path, "m2m:acp", attrs, origin=OWNER), 4000)
        after = self.res(self.assertRsc(self.c.retrieve(acp_path, origin=OWNER), 2000), "m2m:acp")
        self.assertEqual((after["pv"], after["pvs"]), (before["pv"], before["pvs"]))
        self.assertRetrieveGranted(path, READER, ri)
        self.assertDenied(self.c.retrieve(path, origin=OTHER))

    # --------------------------------------------------- changes apply at once
    def test_ts0003_7_1_4_pv_update_applies_to_the_next_request(self):
        path, ri, _, acp_path = self.guarded([rule([READER], R)])
        self.assertRetrieveGranted(path, READER, ri)
        self.assertDenied(self.c.retrieve(path, origin=OTHER))
        for i in range(3):
            self.assertRsc(self.c.update(acp_path, "m2m:acp", {"pv": {"acr": [rule([OTHER], R)]}},
                                         origin=OWNER), 2004)
            self.assertDenied(self.c.retrieve(path, origin=READER), "stale grant after pv update (round %d)" % i)
            self.assertRetrieveGranted(path, OTHER, ri)
            self.assertRsc(self.c.update(acp_path, "m2m:acp", {"pv": {"acr": [rule([READER], R)]}},
                                         origin=OWNER), 2004)
            self.assertRetrieveGranted(path, READER, ri)
            self.assertDenied(self.c.retrieve(path, origin=OTHER), "stale grant after pv update (round %d)" % i)

    def test_ts0003_7_1_4_pvs_update_applies_to_the_next_request(self):
        acp_ri, acp_path, _ = self.make_acp([], pvs=[rule([OWNER], ALL_OPS), rule([READER], R)])
        self.assertRsc(self.c.retrieve(acp_path, origin=READER), 2000)
        self.assertRsc(self.c.update(acp_path, "m2m:acp", {"pvs": {"acr": [rule([OWNER], ALL_OPS)]}},
                                     origin=OWNER), 2004)
        self.assertDenied(self.c.retrieve(acp_path, origin=READER))

    def test_ts0003_7_1_4_deleting_the_acp_removes_its_grants(self):
        path, ri, acp_ri, acp_path = self.guarded([rule([READER], R)], cin=True)
        self.assertRetrieveGranted(path, READER, ri)
        self.assertRsc(self.c.retrieve(path + "/seed", origin=READER), 2000)
        self.assertRsc(self.c.delete(acp_path, origin=OWNER), 2002)
        self.assertDenied(self.c.retrieve(path, origin=READER))
        self.assertDenied(self.c.retrieve(path + "/seed", origin=READER))
        # A new ACP under the same name is a different resource: no resurrection of the grant.
        self.make_acp([rule([READER], R)], rn=acp_path.rsplit("/", 1)[-1])
        self.assertDenied(self.c.retrieve(path, origin=READER))

    # ------------------------------------------------------------------ audit
    def _audit_lines(self):
        try:
            with open(self.audit_path, encoding="utf-8") as f:
                return [l for l in f.read().split("\n") if l.strip()]
        except FileNotFoundError:
            return []

    def _new_last_audit_line(self, before, timeout=2.0):
        """The last line once the log has grown past ``before`` lines, parsed as JSON."""
        deadline = time.monotonic() + timeout
        lines = self._audit_lines()
        while len(lines) <= before and time.monotonic() < deadline:
            time.sleep(0.05)
            lines = self._audit_lines()
        self.assertGreater(len(lines), before, "no audit line written for the denial (%s)" % self.audit_path)
        try:
            return json.loads(lines[-1])
        except ValueError:
            self.fail("last audit line is not JSON: %r" % lines[-1])

    def test_contract_audit_line_for_denial(self):
        path, _ = self.new_cnt(self.owner_path, OWNER)
        rn = path.rsplit("/", 1)[-1]
        before = len(self._audit_lines())
        self.assertDenied(self.c.retrieve(path, origin=READER))
        ev = self._new_last_audit_line(before)
        self.assertEqual(ev.get("event"), "deny", ev)
        self.assertEqual(ev.get("originator"), READER, ev)
        self.assertIn(str(ev.get("op")).lower(), ("retrieve", "2"), ev)
        self.assertIn(rn, str(ev.get("target")), ev)
        self.assertEqual(ev.get("rsc"), 4103, ev)
        self.assertIsInstance(ev.get("reason"), str, ev)
        self.assertTrue(ev["reason"], ev)
        for field in ("ts", "peer", "binding", "detail"):
            self.assertIn(field, ev, ev)
        self.assertEqual(ev["peer"], "127.0.0.1", ev)
        # A second denial, another originator and operation: a new last line.
        before = len(self._audit_lines())
        self.assertDenied(self.c.delete(path, origin=OTHER))
        ev = self._new_last_audit_line(before)
        self.assertEqual((ev.get("event"), ev.get("originator"), ev.get("rsc")), ("deny", OTHER, 4103), ev)
        self.assertIn(str(ev.get("op")).lower(), ("delete", "4"), ev)
        self.assertIn(rn, str(ev.get("target")), ev)


# ==========================================================================
# Policies survive a crash
# ==========================================================================

class DurableAcpTest(AcpHelpers, WardenTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.register_fixed_aes(cls.c)

    def test_contract_policies_survive_kill9(self):
        path, ri, acp_ri, acp_path = self.guarded([rule([READER], R)])
        # Acknowledged changes, then a crash.
        self.assertRsc(self.c.update(acp_path, "m2m:acp", {"pv": {"acr": [rule([OTHER], R)]}}, origin=OWNER), 2004)
        self.server.kill9()
        self.server.start()
        type(self).c = self.c = self.server.client()
        self.assertDenied(self.c.retrieve(path, origin=READER))
        self.assertRetrieveGranted(path, OTHER, ri)
        acp = self.res(self.assertRsc(self.c.retrieve(acp_path, origin=OWNER), 2000), "m2m:acp")
        self.assertEqual(acp["pv"], {"acr": [rule([OTHER], R)]})
        self.assertDenied(self.c.retrieve(acp_path, origin=OTHER))


# ==========================================================================
# IPv6 loopback server
# ==========================================================================

def ipv6_loopback_available():
    if not socket.has_ipv6:
        return False
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port6():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.bind(("::1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Ipv6AccessControlTest(AcpHelpers, WardenTestCase):

    @classmethod
    def setUpClass(cls):
        if not ipv6_loopback_available():
            raise unittest.SkipTest("IPv6 loopback (::1) unavailable")
        cls.tmp = tempfile.mkdtemp(prefix="warden-acp6-")
        cc = os.path.join(cls.tmp, "countries.csv")
        pos = os.path.join(cls.tmp, "positions.txt")
        with open(cc, "w") as f:
            f.write(COUNTRIES)
        with open(pos, "w") as f:
            f.write(POSITIONS)
        port = free_port6()
        args = ["--http.port=%d" % port, "--http.address=::1",
                "--store.path=%s" % os.path.join(cls.tmp, "warden.db"), "--log.level=warn",
                "--location.positions=" + pos, "--location.countries=" + cc]
        cls.server = WardenServer(extra_args=args, standard_args=False, tmpdir=cls.tmp, port=port)
        cls._own_server = True
        try:
            cls.server.start()
            cls.c = Client(port, host="::1")
            cls.register_fixed_aes(cls.c)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if not os.environ.get("WARDEN_KEEP_TMP"):
                shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_ts0003_7_1_3_acip_ipv6_loopback_grants(self):
        self.check_ctx([{"acip": {"ipv6": ["::1/128"]}}], True)
        self.check_ctx([{"acip": {"ipv6": ["::/0"]}}], True)

    def test_ts0003_7_1_3_acip_ipv4_rule_denies_ipv6_peer(self):
        self.check_ctx([{"acip": {"ipv4": ["127.0.0.0/8"]}}], False)
        self.check_ctx([{"acip": {"ipv4": ["0.0.0.0/0"]}}], False)

    def test_ts0003_7_1_3_acip_ipv6_other_network_denies(self):
        self.check_ctx([{"acip": {"ipv6": ["fe80::/10"]}}], False)
        self.check_ctx([{"acip": {"ipv6": ["::2/128"]}}], False)

    def test_ts0003_7_1_4_unknown_country_never_matches(self):
        # The countries file only knows 127.0.0.0/8: ::1 has no country.
        self.check_ctx([{"aclr": [{"accc": ["DE"]}]}], False)
        # The position of READER is still known (originator-based).
        self.check_ctx([{"aclr": [{"accr": [BERLIN[0], BERLIN[1], 1000]}]}], True)


if __name__ == "__main__":
    main()
