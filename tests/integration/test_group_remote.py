"""Group fan-out to members hosted on other CSEs (issue 14; TS-0001 §10.2.7, TS-0004 §7.4.13 and
§7.4.14): an IN-CSE hosts the <group>, an MN-CSE registered to it hosts some members. Each remote
member request goes through the route step and the outbound seam over the hop-by-hop security
association with From = the originator, so the member's own CSE authorizes it; the aggregated
m2m:agr carries each member's own status (4103 denied there, 5103 unreachable), and the fan-out
bounds (limits.fanout_*) count remote members like local ones.

Reuses test_multicse's process set-up (one CA, IN + MN with CSE-ID certificates).

Run: WARDEN_BIN=build/warden python3 tests/integration/test_group_remote.py
"""

import os
import signal
import time
import unittest

from test_multicse import Base, Cse, stopped
from tls_helpers import Ctl, Pki
from wardentest import uniq

import shutil
import tempfile

TY_CNT, TY_CIN, TY_GRP = 3, 4, 9
FANOUT_REQUESTS = 6  # limits.fanout_requests of the IN in this module


class GroupRemoteCase(Base):
    @classmethod
    def setUpClass(cls):
        cls.catmp = tempfile.mkdtemp(prefix="warden-grpr-ca-")
        cls.pki = Pki(Ctl(os.path.join(cls.catmp, "ca.db")), os.path.join(cls.catmp, "pki"))
        cls.inc = Cse(cls.pki, "/id-in", "cse-in", extra=["--limits.fanout_requests=%d" % FANOUT_REQUESTS]).start()
        cls.mn = Cse(cls.pki, "/id-mn", "cse-mn", cse_type="MN", registrar=cls.inc).start()

    def setUp(self):
        super().setUp()
        self.wait_for(self.registered, what="registration")
        self.in_stem = uniq("Cinapp")
        self.in_ae = self.ae(self.inc, self.in_stem)
        self.mn_stem = uniq("Cmn")
        self.mn_ae = self.ae(self.mn, self.mn_stem)

    # helpers ----------------------------------------------------------------
    def mn_cnt(self, granted):
        """A container with one instance on the MN; granted: the IN's AE may retrieve and create."""
        acor = ["/id-in/" + self.in_stem] if granted else ["/id-in/Cnobody"]
        acp = self.acp_for(self.mn, acor, 3, self.mn_stem)
        return self.cnt_with_cin(self.mn, self.mn_ae, self.mn_stem, [acp])

    def group(self, mid, mt=0, expect=2001):
        r = self.inc.c.create(self.in_ae, TY_GRP, {"rn": uniq("grp"), "mt": mt, "mnm": 20, "mid": mid}, root="m2m:grp",
                              origin=self.in_stem)
        self.assertEqual(r.rsc, expect, r.body)
        return r

    def agr(self, r, n):
        self.assertEqual(r.rsc, 2000, r.body)
        rsps = r.body["m2m:agr"]["m2m:rsp"]
        self.assertEqual(len(rsps), n, rsps)
        return {e["fr"]: e for e in rsps}

    def cin_count(self, cnt):
        r = self.mn.c.retrieve(cnt, origin=self.mn_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        return r.body["m2m:cnt"]["cni"]

    # tests --------------------------------------------------------------------
    def test_ts0004_7_4_14_2_4_fanout_reaches_members_on_another_cse_each_with_its_own_status(self):
        """A local member, two granted members on the MN (one SP-relative, one through the IN's
        <remoteCSE>) and one the MN's ACP refuses: every member answers with its own status."""
        local = self.cnt_with_cin(self.inc, self.in_ae, self.in_stem, None)
        a, b, denied = self.mn_cnt(True), self.mn_cnt(True), self.mn_cnt(False)
        via_csr = "cse-in/id-mn" + b  # CSE-relative through the <remoteCSE> named id-mn
        mid = [local.lstrip("/"), "/id-mn" + a, via_csr, "/id-mn" + denied]
        g = self.group(mid).body["m2m:grp"]
        self.assertEqual(g["mid"], mid)
        rsps = self.agr(self.inc.c.retrieve(self.in_ae + "/" + g["rn"] + "/fopt/cin1", origin=self.in_stem), 4)
        self.assertEqual(rsps[local.lstrip("/")]["rsc"], 2000)
        self.assertEqual(rsps["/id-mn" + a]["rsc"], 2000, rsps)
        self.assertEqual(rsps["/id-mn" + a]["pc"]["m2m:cin"]["con"], "v1")
        self.assertEqual(rsps[via_csr]["rsc"], 2000, rsps)
        self.assertEqual(rsps["/id-mn" + denied]["rsc"], 4103, rsps)
        self.assertNotIn("m2m:cin", rsps["/id-mn" + denied]["pc"])

    def test_ts0004_7_4_14_2_4_create_through_fopt_is_performed_on_the_remote_member(self):
        a = self.mn_cnt(True)
        g = self.group(["/id-mn" + a]).body["m2m:grp"]
        before = self.cin_count(a)
        rsps = self.agr(self.inc.c.create(self.in_ae + "/" + g["rn"] + "/fopt", TY_CIN, {"con": "fan"},
                                          origin=self.in_stem), 1)
        self.assertEqual(rsps["/id-mn" + a]["rsc"], 2001, rsps)
        self.assertEqual(self.cin_count(a), before + 1)
        # the MN's ACP grants the IN's AE only: From was the originator, not the IN's CSE-ID

    def test_ts0004_7_3_3_2_same_remote_member_by_two_addresses_is_reached_once(self):
        """SP-relative and through the <remoteCSE>: the same target on the MN, performed once (4104)."""
        a = self.mn_cnt(True)
        g = self.group(["/id-mn" + a, "cse-in/id-mn" + a]).body["m2m:grp"]
        before = self.cin_count(a)
        rsps = self.agr(self.inc.c.create(self.in_ae + "/" + g["rn"] + "/fopt", TY_CIN, {"con": "once"},
                                          origin=self.in_stem), 2)
        self.assertEqual(sorted(e["rsc"] for e in rsps.values()), [2001, 4104], rsps)
        self.assertEqual(self.cin_count(a), before + 1)

    def test_limits_fanout_requests_counts_remote_members_and_nothing_is_performed(self):
        mid = [("/id-mn" + self.mn_cnt(True)) for _ in range(FANOUT_REQUESTS + 1)]
        g = self.group(mid).body["m2m:grp"]
        r = self.inc.c.create(self.in_ae + "/" + g["rn"] + "/fopt", TY_CIN, {"con": "x"}, origin=self.in_stem)
        self.assertEqual(r.rsc, 4000, r.body)
        for m in mid:
            self.assertEqual(self.cin_count(m[len("/id-mn"):]), 1)  # only cin1: no member performed

    def test_ts0004_7_4_13_2_1_remote_member_type_validated_on_its_own_cse(self):
        """memberType container with members on the MN: each is retrieved there (From the originator)
        and validated like a local one; memberTypeValidated true."""
        a = self.mn_cnt(True)
        local = self.cnt_with_cin(self.inc, self.in_ae, self.in_stem, None)
        g = self.group([local.lstrip("/"), "/id-mn" + a, "cse-in/id-mn" + a], mt=TY_CNT).body["m2m:grp"]
        self.assertIs(g["mtv"], True, g)
        # the same container by two address forms is one member once its resourceID is known
        self.assertEqual(g["mid"], [local.lstrip("/"), "/id-mn" + a])

    def test_ts0004_7_4_13_2_1_remote_member_of_another_type_follows_consistency_strategy(self):
        a = self.mn_cnt(True)
        cin = "/id-mn" + a + "/cin1"  # a contentInstance on the MN
        g = self.group(["/id-mn" + a, cin], mt=TY_CNT).body["m2m:grp"]  # csy ABANDON_MEMBER (default)
        self.assertEqual(g["mid"], ["/id-mn" + a])
        self.assertIs(g["mtv"], True, g)
        r = self.inc.c.create(self.in_ae, TY_GRP, {"rn": uniq("grp"), "mt": TY_CNT, "mnm": 5, "csy": 2,
                                                   "mid": ["/id-mn" + a, cin]}, origin=self.in_stem, root="m2m:grp")
        self.assertEqual(r.rsc, 4110, r.body)  # ABANDON_GROUP: GROUP_MEMBER_TYPE_INCONSISTENT

    def test_ts0004_7_4_13_2_1_remote_member_refused_there_is_5105(self):
        """The MN's ACP does not let the originator retrieve it: its type cannot be checked."""
        denied = self.mn_cnt(False)
        r = self.group(["/id-mn" + denied], mt=TY_CNT, expect=5105)
        self.assertNotIn("m2m:grp", r.body)
        # mixed: nothing to validate, nothing retrieved: kept as given
        g = self.group(["/id-mn" + denied]).body["m2m:grp"]
        self.assertEqual(g["mid"], ["/id-mn" + denied])

    def test_ts0004_7_4_13_2_1_unreachable_member_cse_gives_mtv_false(self):
        a = self.mn_cnt(True)
        pid = self.mn.srv.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            self.wait_for(lambda: stopped(pid), timeout=5.0, what="the MN stopped")
            r = self.inc.c.create(self.in_ae, TY_GRP, {"rn": uniq("grp"), "mt": TY_CNT, "mnm": 5,
                                                       "mid": ["/id-mn" + a]}, origin=self.in_stem,
                                  root="m2m:grp", headers={"X-M2M-RET": "1500"})
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertEqual(r.rsc, 2001, r.body)
        g = r.body["m2m:grp"]  # the representation, memberTypeValidated false
        self.assertIs(g["mtv"], False, g)
        self.assertEqual(g["mid"], ["/id-mn" + a])

    def test_ts0004_7_3_2_8_unreachable_member_cse_is_5103_for_that_member_only(self):
        local = self.cnt_with_cin(self.inc, self.in_ae, self.in_stem, None)
        a = self.mn_cnt(True)
        g = self.group([local.lstrip("/"), "/id-mn" + a]).body["m2m:grp"]
        pid = self.mn.srv.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            self.wait_for(lambda: stopped(pid), timeout=5.0, what="the MN stopped")
            t0 = time.monotonic()
            rsps = self.agr(self.inc.c.retrieve(self.in_ae + "/" + g["rn"] + "/fopt/cin1", origin=self.in_stem,
                                                headers={"X-M2M-RET": "1500"}), 2)
            elapsed = time.monotonic() - t0
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertEqual(rsps[local.lstrip("/")]["rsc"], 2000)
        self.assertEqual(rsps["/id-mn" + a]["rsc"], 5103, rsps)
        self.assertLess(elapsed, 4.0)


class GroupRequestIdentifierCase(GroupRemoteCase):
    """TS-0004 §7.3.3.2 and §7.4.14.2.4: every member request of a fan-out carries a Group Request
    Identifier (the one the group request came with, else a new one), also to members on other CSEs
    (X-M2M-GID here, oneM2M-GID over CoAP, gid over MQTT: test_forward_params); a CSE that receives
    the same gid for the same target again refuses it with 4104 GROUP_REQUEST_IDENTIFIER_EXISTS."""

    def test_ts0004_7_3_3_2_repeated_gid_for_the_same_target_is_4104(self):
        a, b = self.mn_cnt(True), self.mn_cnt(True)
        gid = uniq("gid")
        for target, g, want in ((a, gid, 2001), (a, gid, 4104), (b, gid, 2001), (a, uniq("gid"), 2001)):
            r = self.mn.c.create(target, TY_CIN, {"con": "g"}, origin=self.mn_stem, headers={"X-M2M-GID": g})
            self.assertEqual(r.rsc, want, (target, g, r.body))
        # the IN forwards the gid with the request: the MN recognises the repeat
        gid = uniq("gid")
        for want in (2001, 4104):
            r = self.inc.c.create("/~/id-mn" + b, TY_CIN, {"con": "g"}, origin=self.in_stem,
                                  headers={"X-M2M-GID": gid})
            self.assertEqual(r.rsc, want, r.body)

    def test_ts0004_7_4_14_2_4_member_on_another_cse_reached_twice_through_its_group_is_4104(self):
        """The IN's group has a container A on the MN and a group of the MN whose member is A. The
        IN's member requests carry one gid, the MN's fan-out passes it on to A: A is created in once,
        the other path to it is 4104 (whichever arrives second), instead of twice."""
        a = self.mn_cnt(True)
        acp = self.acp_for(self.mn, ["/id-in/" + self.in_stem], 3, self.mn_stem)
        r = self.mn.c.create(self.mn_ae, TY_GRP, {"rn": uniq("grpb"), "mt": 3, "mnm": 5, "mid": [a.lstrip("/")],
                                                  "acpi": [acp]}, root="m2m:grp", origin=self.mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        fopt_b = "/id-mn" + self.mn_ae + "/" + r.body["m2m:grp"]["rn"] + "/fopt"
        g = self.group(["/id-mn" + a, fopt_b]).body["m2m:grp"]
        before = self.cin_count(a)
        rsps = self.agr(self.inc.c.create(self.in_ae + "/" + g["rn"] + "/fopt", TY_CIN, {"con": "fan"},
                                          origin=self.in_stem), 2)
        nested = rsps[fopt_b]
        self.assertEqual(nested["rsc"], 2000, rsps)
        leaf = [rsps["/id-mn" + a]["rsc"]] + [e["rsc"] for e in nested["pc"]["m2m:agr"]["m2m:rsp"]]
        self.assertEqual(sorted(leaf), [2001, 4104], rsps)
        self.assertEqual(self.cin_count(a), before + 1)


# the set-up and helpers of GroupRemoteCase, not its tests again
for _name in [n for n in vars(GroupRemoteCase) if n.startswith("test_")]:
    setattr(GroupRequestIdentifierCase, _name, None)


if __name__ == "__main__":
    unittest.main()
