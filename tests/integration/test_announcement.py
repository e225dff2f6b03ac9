"""Announcement black-box tests (issue 14): an MN-CSE registered to an IN-CSE announces its
resources there (TS-0001 §9.6.26, TS-0004 §7.3.3.10-11 and §7.4.26): announceTo (at) and
announcedAttribute (aa), the announced types AEAnnc, containerAnnc, contentInstanceAnnc,
accessControlPolicyAnnc and CSEBaseAnnc at the IN, the announced policies enforced there, and the
outbox that carries announcements over a restart of the IN exactly once. Reuses the two-CSE set-up
of test_multicse (one test CA, CSE-ID certificates; a PSK case).

Run: WARDEN_BIN=build/warden python3 tests/integration/test_announcement.py
"""

import os
import tempfile
import time
import unittest
import urllib.request

import test_multicse as mc
from wardentest import free_port, uniq

TY_ACP, TY_AE, TY_CNT, TY_CIN, TY_GRP, TY_TS, TY_TSI = 1, 2, 3, 4, 9, 29, 30
TY_ACPA, TY_AEA, TY_CNTA, TY_CINA, TY_CBA, TY_GRPA = 10001, 10002, 10003, 10004, 10005, 10009
TY_TSA, TY_TSIA = 10029, 10030
DEADLINE = 15.0


class AnnouncementMixin:
    """Helpers over self.inc / self.mn (test_multicse.Cse) once both are registered."""

    def ready(self):
        self.wait_for(self.registered, what="registration")

    def mn_ae(self, stem, at=("/id-in",), acpi=None, extra=None, srv=True):
        attrs = {"rn": stem.lower(), "api": "Nannc", "rr": False}
        if srv:  # MA when present; an AE without it is announced too
            attrs["srv"] = ["3"]
        if at is not None:
            attrs["at"] = list(at)
        if acpi:
            attrs["acpi"] = acpi
        attrs.update(extra or {})
        r = self.mn.c.create("/cse-mn", TY_AE, attrs, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        return "/cse-mn/" + stem.lower(), r.body["m2m:ae"]

    def announced(self, mn_path, root, target="/id-in"):
        """Wait until the original's at holds the announced resource's address at target; return it."""
        def addr():
            r = self.mn.c.retrieve(mn_path)
            at = r.body.get(root, {}).get("at", []) if r.rsc == 2000 else []
            return next((a for a in at if a.startswith(target + "/")), None)
        try:
            return self.wait_for(addr, timeout=DEADLINE, what="announcement of %s" % mn_path)
        except AssertionError:
            print("\n".join(self.mn.srv.stderr_lines[-30:] + self.inc.srv.stderr_lines[-30:]))
            raise

    def in_path(self, addr):
        """An SP-relative address at the IN ("/id-in/cse-in/...") as the IN's own client path."""
        self.assertTrue(addr.startswith("/id-in/"), addr)
        return addr[len("/id-in"):]

    def cba_at_in(self):
        """The MN's <CSEBaseAnnc> at the IN, found by its lnk (the IN names it: rn is NP)."""
        r = self.inc.c.retrieve("/cse-in", query={"fu": 1, "ty": TY_CBA, "lnk": "/id-mn/cse-mn"})
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(len(r.body.get("m2m:uril", [])), 1, r.body)
        return "/id-in/" + r.body["m2m:uril"][0].lstrip("/")

    def mn_container_while_in_down(self, rn):
        """The IN stopped, then an AE of the MN with a container rn, both announced to the IN (their
        steps wait in the MN's outbox): (stem, the AE's path)."""
        self.ready()
        self.inc.stop()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        r = self.mn.c.create(ae, TY_CNT, {"rn": rn, "at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        return stem, ae

    def in_ae_announced_to(self, csi):
        """An AE of the IN with at [csi]: (its rn, the address of its announced copy at csi, once the
        IN has put it in at)."""
        stem = uniq("Cin")
        r = self.inc.c.create("/cse-in", TY_AE, {"rn": stem.lower(), "api": "Nannc", "rr": False, "srv": ["3"],
                                                  "at": [csi]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)

        def addr():
            at = self.inc.c.retrieve("/cse-in/" + stem.lower()).body["m2m:ae"].get("at", [])
            return next((a for a in at if a.startswith(csi + "/")), None)
        return stem, self.wait_for(addr, timeout=DEADLINE, what="announcement to " + csi)

    def gone_at_in(self, path):
        self.wait_for(lambda: self.inc.c.retrieve(path).rsc == 4004, timeout=DEADLINE, what="%s gone" % path)


class AnnouncementCase(AnnouncementMixin, mc.Base):
    def test_ts0004_7_3_3_10_ae_container_instance_announced_with_lnk_and_announced_attributes(self):
        self.ready()
        stem = uniq("Cgw")
        ae, body = self.mn_ae(stem)
        # the response does not wait for the announcement: at holds the target's CSE-ID
        self.assertEqual(body["at"], ["/id-in"])
        r = self.mn.c.create(ae, TY_CNT, {"rn": "temp", "at": ["/id-in"], "mni": 5, "aa": ["mni"]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.mn.c.create(ae + "/temp", TY_CIN, {"rn": "c1", "con": "21.5", "cnf": "text/plain:0",
                                                    "at": ["/id-in"], "aa": ["con"]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        ae_addr = self.announced(ae, "m2m:ae")
        cnt_addr = self.announced(ae + "/temp", "m2m:cnt")
        cin_addr = self.announced(ae + "/temp/c1", "m2m:cin")
        # TS-0001 §9.6.26.1: the AE (its parent, the CSEBase, is not announced) below this CSE's
        # <CSEBaseAnnc> there; the container below the AE's copy; the instance below the container's
        # (the copies' names are the IN's: rn is NP in an announcing CREATE, TS-0004 Table 7.4.26.1-2)
        cba_addr = self.cba_at_in()
        self.assertEqual(ae_addr.rsplit("/", 1)[0], cba_addr)
        self.assertEqual(cnt_addr.rsplit("/", 1)[0], ae_addr)
        self.assertEqual(cin_addr.rsplit("/", 1)[0], cnt_addr)
        cba = self.inc.c.retrieve(self.in_path(cba_addr))
        self.assertEqual(cba.rsc, 2000, cba.body)
        self.assertEqual(cba.body["m2m:cbA"]["lnk"], "/id-mn/cse-mn")
        a = self.inc.c.retrieve(self.in_path(ae_addr)).body["m2m:aeA"]
        self.assertEqual(a["ty"], TY_AEA)
        self.assertEqual(a["lnk"], "/id-mn" + ae)
        self.assertEqual(a["srv"], ["3"])        # MA
        self.assertNotIn("api", a)               # OA, not in aa
        c = self.inc.c.retrieve(self.in_path(cnt_addr)).body["m2m:cntA"]
        self.assertEqual((c["ty"], c["mni"], c["lnk"]), (TY_CNTA, 5, "/id-mn" + ae + "/temp"))
        i = self.inc.c.retrieve(self.in_path(cin_addr)).body["m2m:cinA"]
        self.assertEqual((i["ty"], i["con"]), (TY_CINA, "21.5"))
        # discoverable at the IN by the announced type
        r = self.inc.c.retrieve("/cse-in", query={"fu": 1, "ty": TY_AEA})
        self.assertIn(self.in_path(ae_addr).lstrip("/"), r.body["m2m:uril"])

    def test_ts0004_7_3_3_10_update_reaches_the_announced_copy_and_delete_removes_it(self):
        self.ready()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        addr = self.announced(ae, "m2m:ae")
        path = self.in_path(addr)
        r = self.mn.c.update(ae, "m2m:ae", {"lbl": ["room/1"], "aa": ["api"]}, origin=stem)
        self.assertEqual(r.rsc, 2004, r.body)
        self.wait_for(lambda: self.inc.c.retrieve(path).body["m2m:aeA"].get("lbl") == ["room/1"],
                      timeout=DEADLINE, what="the update announced")
        self.assertEqual(self.inc.c.retrieve(path).body["m2m:aeA"]["api"], "Nannc")  # OA, now in aa
        # TS-0004 §7.3.3.11: the original deleted, its announced copy goes
        self.assertEqual(self.mn.c.delete(ae, origin=stem).rsc, 2002)
        self.gone_at_in(path)

    def test_ts0004_7_3_3_11_at_changed_de_announces(self):
        self.ready()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem, srv=False)
        path = self.in_path(self.announced(ae, "m2m:ae"))
        r = self.mn.c.update(ae, "m2m:ae", {"at": None}, origin=stem)
        self.assertEqual(r.rsc, 2004, r.body)
        self.gone_at_in(path)
        self.assertNotIn("at", self.mn.c.retrieve(ae).body["m2m:ae"])  # announced nowhere
        # and announced again when named again
        r = self.mn.c.update(ae, "m2m:ae", {"at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 2004, r.body)
        again = self.in_path(self.announced(ae, "m2m:ae"))  # a new copy, named by the IN
        self.assertEqual(self.inc.c.retrieve(again).body["m2m:aeA"]["lnk"], "/id-mn" + ae)

    def test_ts0004_7_3_3_11_copy_gone_with_its_parent_copy_leaves_at(self):
        """The AE de-announced: its copy goes at the IN with the container's copy below it; the
        container's next update finds its copy gone (4004) and its at no longer names it."""
        self.ready()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        r = self.mn.c.create(ae, TY_CNT, {"rn": "t", "at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        cnt = self.in_path(self.announced(ae + "/t", "m2m:cnt"))
        self.assertEqual(self.mn.c.update(ae, "m2m:ae", {"at": None}, origin=stem).rsc, 2004)
        self.gone_at_in(cnt)
        self.assertEqual(self.mn.c.update(ae + "/t", "m2m:cnt", {"lbl": ["x"]}, origin=stem).rsc, 2004)
        self.wait_for(lambda: "at" not in self.mn.c.retrieve(ae + "/t").body["m2m:cnt"], timeout=DEADLINE,
                      what="the stale address dropped from at")

    def test_ts0004_7_3_3_10_parent_copy_deleted_at_the_target_does_not_hold_later_steps(self):
        """The AE's copy deleted at the IN: its container is not announced (at drops the IN) and
        the next announcement to the IN still goes through."""
        self.ready()
        stem, later = uniq("Cgw"), uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        self.assertEqual(self.inc.c.delete(self.in_path(self.announced(ae, "m2m:ae"))).rsc, 2002)
        r = self.mn.c.create(ae, TY_CNT, {"rn": "t", "at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        self.wait_for(lambda: "at" not in self.mn.c.retrieve(ae + "/t").body["m2m:cnt"], timeout=DEADLINE,
                      what="the container's announcement given up")
        ae2, _ = self.mn_ae(later)
        self.announced(ae2, "m2m:ae")

    def test_ts0004_7_3_3_10_bad_announce_to_and_announced_attribute_are_refused(self):
        self.ready()
        stem = uniq("Cgw")
        r = self.mn.c.create("/cse-mn", TY_AE, {"api": "Nannc", "rr": False, "at": ["/id-nowhere"]}, origin=stem)
        self.assertEqual(r.rsc, 4000, r.body)
        r = self.mn.c.create("/cse-mn", TY_AE, {"api": "Nannc", "rr": False, "at": ["/id-in"], "aa": ["srv"]},
                             origin=stem)
        self.assertEqual(r.rsc, 4000, r.body)  # srv is MA, not OA
        ae, _ = self.mn_ae(stem, at=None)
        r = self.mn.c.create(ae, TY_CNT, {"rn": "c"}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        # an instance is announced only below its announced container (TS-0004 §7.3.3.10)
        r = self.mn.c.create(ae + "/c", TY_CIN, {"con": "x", "at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 4005, r.body)

    def test_ts0001_9_6_26_1_only_the_announcing_cse_creates_announced_resources(self):
        self.ready()
        stem = uniq("Cin")
        r = self.inc.c.create("/cse-in", TY_AE, {"rn": stem, "api": "Nannc", "rr": False}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        # an AE: 4103, whatever lnk says
        r = self.inc.c.create("/cse-in", TY_CBA, {"lnk": "/id-mn/cse-mn",
                                                   "et": "20991231T000000"}, origin=stem, root="m2m:cbA")
        self.assertEqual(r.rsc, 4103, r.body)
        # nor below an announced resource of the MN
        gw = uniq("Cgw")
        ae, _ = self.mn_ae(gw)
        path = self.in_path(self.announced(ae, "m2m:ae"))
        r = self.inc.c.create(path, TY_CNTA, {"lnk": "/id-mn" + ae + "/x", "et": "20991231T000000"},
                              origin=stem, root="m2m:cntA")
        self.assertEqual(r.rsc, 4103, r.body)
        # a registered CSE announcing a resource of another CSE: 4103
        c = self.cse_client(self.inc, self.mn)
        r = c.create("/~/id-in/cse-in", TY_CBA, {"lnk": "/id-xx/cse-xx",
                                                  "et": "20991231T000000"}, origin="/id-mn", root="m2m:cbA")
        self.assertEqual(r.rsc, 4103, r.body)

    def test_ts0001_9_6_26_1_announced_acp_decides_at_the_target(self):
        self.ready()
        reader, other, stem = uniq("Cread"), uniq("Cother"), uniq("Cgw")
        for s in (reader, other):
            r = self.inc.c.create("/cse-in", TY_AE, {"rn": s, "api": "Nannc", "rr": False}, origin=s)
            self.assertEqual(r.rsc, 2001, r.body)
        rn = uniq("acp")
        r = self.mn.c.create("/cse-mn", TY_ACP, {"m2m:acp": {
            "rn": rn, "at": ["/id-in"],
            "pv": {"acr": [{"acor": ["/id-in/" + reader], "acop": 2}, {"acor": [stem], "acop": 63}]},
            "pvs": {"acr": [{"acor": ["CAdmin", stem], "acop": 63}]}}}, root=False)
        self.assertEqual(r.rsc, 2001, r.body)
        acp_ri = r.body["m2m:acp"]["ri"]
        ae, _ = self.mn_ae(stem)
        r = self.mn.c.update(ae, "m2m:ae", {"acpi": [acp_ri]}, origin=stem)
        self.assertEqual(r.rsc, 2004, r.body)
        r = self.mn.c.create(ae, TY_CNT, {"rn": "temp", "at": ["/id-in"], "acpi": [acp_ri]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        acp_addr = self.announced("/cse-mn/" + rn, "m2m:acp")
        ae_path = self.in_path(self.announced(ae, "m2m:ae"))
        cnt_path = self.in_path(self.announced(ae + "/temp", "m2m:cnt"))
        acpa = self.inc.c.retrieve(self.in_path(acp_addr)).body["m2m:acpA"]
        self.assertEqual(acpa["ty"], TY_ACPA)
        self.assertIn("/id-mn/" + stem, acpa["pv"]["acr"][1]["acor"])  # converted for the IN
        self.wait_for(lambda: self.inc.c.retrieve(ae_path).body["m2m:aeA"].get("acpi") == [acp_addr],
                      timeout=DEADLINE, what="the announced acpi")
        for path, root in ((ae_path, "m2m:aeA"), (cnt_path, "m2m:cntA")):
            r = self.inc.c.retrieve(path, origin=reader)
            self.assertEqual(r.rsc, 2000, r.body)
            self.assertIn(root, r.body)
            self.assertEqual(self.inc.c.retrieve(path, origin=other).rsc, 4103)
            self.assertEqual(self.inc.c.delete(path, origin=reader).rsc, 4103)  # RETRIEVE only

    def test_ts0004_7_3_3_10_group_announced_with_its_announced_attributes(self):
        self.ready()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        r = self.mn.c.create(ae, TY_GRP, {"rn": "g", "mnm": 3, "mid": [], "gn": "floor 1", "at": ["/id-in"],
                                          "aa": ["gn", "mnm"]}, origin=stem, root="m2m:grp")
        self.assertEqual(r.rsc, 2001, r.body)
        g = self.inc.c.retrieve(self.in_path(self.announced(ae + "/g", "m2m:grp"))).body["m2m:grpA"]
        self.assertEqual((g["ty"], g["gn"], g["mnm"]), (TY_GRPA, "floor 1", 3))
        self.assertNotIn("mid", g)  # OA, not in aa

    def test_ts0004_7_3_3_10_timeseries_and_instance_announced(self):
        self.ready()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        r = self.mn.c.create(ae, TY_TS, {"rn": "ts", "pei": 1000, "at": ["/id-in"], "aa": ["pei"]}, origin=stem,
                             root="m2m:ts")
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.mn.c.create(ae + "/ts", TY_TSI, {"rn": "i1", "dgt": "20261207T120000", "con": "7",
                                                  "at": ["/id-in"], "aa": ["con", "dgt"]}, origin=stem, root="m2m:tsi")
        self.assertEqual(r.rsc, 2001, r.body)
        ts = self.inc.c.retrieve(self.in_path(self.announced(ae + "/ts", "m2m:ts"))).body["m2m:tsA"]
        self.assertEqual((ts["ty"], ts["pei"]), (TY_TSA, 1000))
        tsi = self.inc.c.retrieve(self.in_path(self.announced(ae + "/ts/i1", "m2m:tsi"))).body["m2m:tsiA"]
        self.assertEqual((tsi["ty"], tsi["con"], tsi["dgt"]), (TY_TSIA, "7", "20261207T120000"))

    def test_ts0004_7_3_3_10_in_announces_to_its_registree(self):
        """The other direction: an AE of the IN announced to the MN registered there."""
        self.ready()
        stem, a = self.in_ae_announced_to("/id-mn")
        self.assertTrue(a.startswith("/id-mn/cse-mn/"), a)
        r = self.mn.c.retrieve(a[len("/id-mn"):])
        self.assertEqual(r.body["m2m:aeA"]["lnk"], "/id-in/cse-in/" + stem.lower(), r.body)

    def test_ts0004_7_3_3_11_evicted_instance_is_de_announced(self):
        """maxNrOfInstances removes the oldest instance: its announced copy goes too."""
        self.ready()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        r = self.mn.c.create(ae, TY_CNT, {"rn": "t", "at": ["/id-in"], "mni": 1}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        self.announced(ae + "/t", "m2m:cnt")
        r = self.mn.c.create(ae + "/t", TY_CIN, {"rn": "old", "con": "1", "at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        old = self.in_path(self.announced(ae + "/t/old", "m2m:cin"))
        r = self.mn.c.create(ae + "/t", TY_CIN, {"rn": "new", "con": "2", "at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        self.announced(ae + "/t/new", "m2m:cin")
        self.gone_at_in(old)


class AnnouncementRestartCase(AnnouncementMixin, mc.Base):
    @classmethod
    def setUpClass(cls):
        cls.catmp = tempfile.mkdtemp(prefix="warden-annc-ca-")
        cls.pki = mc.Pki(mc.Ctl(os.path.join(cls.catmp, "ca.db")), os.path.join(cls.catmp, "pki"))
        cls.inc = mc.Cse(cls.pki, "/id-in", "cse-in").start()
        cls.metrics_port = free_port()
        cls.mn = mc.Cse(cls.pki, "/id-mn", "cse-mn", cse_type="MN", registrar=cls.inc,
                        extra=["--metrics.port=%d" % cls.metrics_port]).start()

    def steps(self):
        """warden_announcement_steps_total of the MN, by outcome."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line.startswith("warden_announcement_steps_total{"):
                out[line.split('"')[1]] = int(line.rsplit(" ", 1)[1])
        return out

    def test_ts0004_7_3_3_10_outbox_delivers_after_in_restart_exactly_once(self):
        stem, ae = self.mn_container_while_in_down("temp")
        for k in range(3):
            r = self.mn.c.create(ae + "/temp", TY_CIN, {"rn": "c%d" % k, "con": str(k), "at": ["/id-in"]},
                                 origin=stem)
            self.assertEqual(r.rsc, 2001, r.body)
        # the MN restarts too while its outbox holds the steps: nothing is lost
        self.mn.stop()
        self.mn.start()
        # it tries, finds the IN down and backs off (nothing is dropped)
        self.wait_for(lambda: self.steps().get("retried", 0) >= 1, timeout=DEADLINE, what="a retried step")
        self.inc.start()
        cnt_addr = self.announced(ae + "/temp", "m2m:cnt")
        for k in range(3):
            self.announced(ae + "/temp/c%d" % k, "m2m:cin")
        r = self.inc.c.retrieve(self.in_path(cnt_addr), query={"rcn": 4})
        kids = r.body["m2m:cntA"].get("m2m:cinA", [])
        self.assertEqual(sorted(k["lnk"] for k in kids), ["/id-mn%s/temp/c%d" % (ae, k) for k in range(3)])
        r = self.inc.c.retrieve("/cse-in", query={"fu": 1, "ty": TY_AEA, "lnk": "/id-mn" + ae})
        self.assertEqual(len(r.body["m2m:uril"]), 1, r.body)
        # the restarted MN then finished every step, none refused
        steps = self.steps()
        self.assertGreaterEqual(steps["done"], 5, steps)  # CSEBaseAnnc aside: AE, container, 3 instances
        self.assertEqual(steps["refused"], 0, steps)


class AnnouncementPskCase(AnnouncementMixin, mc.PskBase):
    def test_ts0003_8_2_2_1_announcement_over_tls_psk(self):
        self.ready()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        path = self.in_path(self.announced(ae, "m2m:ae"))
        self.assertEqual(self.inc.c.retrieve(path).body["m2m:aeA"]["lnk"], "/id-mn" + ae)
        self.assertEqual(self.mn.c.delete(ae, origin=stem).rsc, 2002)
        self.gone_at_in(path)


class AnnouncementConformanceCase(AnnouncementMixin, mc.Base):
    """Issue 14 follow-ups, item 1: rn NP, the at rewrite as an update, every delete path."""

    def test_ts0004_table_7_4_26_1_2_rn_not_sent_the_target_names_the_copy(self):
        self.ready()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        addr = self.announced(ae, "m2m:ae")
        a = self.inc.c.retrieve(self.in_path(addr)).body["m2m:aeA"]
        # no rn in the CREATE: the IN named the copy (its resourceID), not after the original
        self.assertEqual(a["rn"], a["ri"])
        self.assertNotEqual(a["rn"], stem.lower())
        cba = self.inc.c.retrieve(self.in_path(self.cba_at_in())).body["m2m:cbA"]
        self.assertEqual(cba["rn"], cba["ri"])
        # and the receiver refuses an announcing CREATE that carries rn (NP): 4000
        c = self.cse_client(self.inc, self.mn)
        r = c.create("/~" + self.cba_at_in(), TY_AEA, {"rn": uniq("x"), "lnk": "/id-mn/cse-mn/x", "srv": ["3"],
                                                         "et": "20991231T000000"}, origin="/id-mn", root="m2m:aeA")
        self.assertEqual(r.rsc, 4000, r.body)

    def test_ts0001_9_6_1_3_at_rewrite_updates_lt_st_and_notifies(self):
        """The CSE-ID in at replaced by the copy's address is a change of the original: st grows,
        lt moves, and its subscribers hear of it like of any update."""
        self.ready()
        recv = mc.Receiver().start()
        self.addCleanup(recv.stop)
        path = recv.new_path()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem, at=None)
        r = self.mn.c.create(ae, TY_CNT, {"rn": "t"}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.mn.c.create(ae + "/t", 23, {"rn": "s", "nu": [recv.url(path)], "enc": {"net": [1]}},
                             origin=stem, root="m2m:sub")
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.mn.c.update(ae + "/t", "m2m:cnt", {"at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 2004, r.body)
        st, lt = r.body["m2m:cnt"]["st"], r.body["m2m:cnt"]["lt"]
        addr = self.announced(ae + "/t", "m2m:cnt")
        cnt = self.mn.c.retrieve(ae + "/t").body["m2m:cnt"]
        self.assertEqual(cnt["st"], st + 1)
        self.assertGreaterEqual(cnt["lt"], lt)

        def reps():
            with recv.cond:
                bodies = [x.body for x in recv.records if x.path.split("?")[0] == path and x.body]
            return [b["m2m:sgn"]["nev"]["rep"]["m2m:cnt"] for b in bodies
                    if "nev" in b.get("m2m:sgn", {})]
        got = self.wait_for(lambda: [x for x in reps() if x.get("at") == [addr]], timeout=DEADLINE,
                            what="the notification of the at rewrite")
        self.assertEqual(got[0]["st"], st + 1)

    def test_ts0004_7_3_3_11_location_policy_deleting_its_container_de_announces(self):
        self.ready()
        aei = uniq("Cpos")
        r = self.mn.c.create("/cse-mn", TY_AE, {"rn": aei, "api": "Nannc", "rr": False}, origin=aei)
        self.assertEqual(r.rsc, 2001, r.body)
        lon = uniq("pos")
        r = self.mn.c.create("/cse-mn", 10, {"rn": uniq("lcp"), "los": 2, "lot": aei, "lon": lon},
                             root="m2m:lcp")
        self.assertEqual(r.rsc, 2001, r.body)
        lcp = "/cse-mn/" + r.body["m2m:lcp"]["rn"]
        r = self.mn.c.update("/cse-mn/" + lon, "m2m:cnt", {"at": ["/id-in"]})
        self.assertEqual(r.rsc, 2004, r.body)
        copy = self.in_path(self.announced("/cse-mn/" + lon, "m2m:cnt"))
        # TS-0001 §10.2.9.5: the container goes with its policy, and so does its announced copy
        self.assertEqual(self.mn.c.delete(lcp).rsc, 2002)
        self.assertEqual(self.mn.c.retrieve("/cse-mn/" + lon).rsc, 4004)
        self.gone_at_in(copy)

    def test_ts0004_7_3_3_11_expired_parent_de_announces_its_announced_child(self):
        """An AE (not announced) expires with its container, which is announced below the MN's
        <CSEBaseAnnc>: the container's copy goes too, though it expired with its parent."""
        self.ready()
        stem = uniq("Cgw")
        et = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() + 3))
        ae, _ = self.mn_ae(stem, at=None, extra={"et": et})
        r = self.mn.c.create(ae, TY_CNT, {"rn": "t", "at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        copy = self.in_path(self.announced(ae + "/t", "m2m:cnt"))
        self.wait_for(lambda: self.mn.c.retrieve(ae).rsc == 4004, timeout=DEADLINE, what="the AE expired")
        self.gone_at_in(copy)


class AnnouncementAdoptCase(AnnouncementMixin, mc.Base):
    """Item 1: with rn NP a CREATE sent again cannot meet its copy by name (4105): a step that may
    have been sent before (here: found in the outbox at start) first looks for its copy by lnk."""

    def test_ts0004_7_3_3_10_create_again_adopts_the_copy_found_by_lnk(self):
        self.ready()
        self.inc.stop()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)  # its step waits in the MN's outbox
        self.mn.stop()
        self.inc.start()
        # the copies a first CREATE made before its answer was lost (as the MN would have made them)
        c = self.cse_client(self.inc, self.mn)
        r = c.create("/~/id-in/cse-in", TY_CBA, {"lnk": "/id-mn/cse-mn", "et": "20991231T000000"},
                     origin="/id-mn", root="m2m:cbA")
        self.assertEqual(r.rsc, 2001, r.body)
        cba = "/id-in/cse-in/" + r.body["m2m:cbA"]["rn"]
        r = c.create("/~" + cba, TY_AEA, {"lnk": "/id-mn" + ae, "srv": ["3"], "et": "20991231T000000"},
                     origin="/id-mn", root="m2m:aeA")
        self.assertEqual(r.rsc, 2001, r.body)
        made = cba + "/" + r.body["m2m:aeA"]["rn"]
        self.mn.start()
        self.ready()
        self.assertEqual(self.announced(ae, "m2m:ae"), made)
        for ty, lnk in ((TY_CBA, "/id-mn/cse-mn"), (TY_AEA, "/id-mn" + ae)):  # none made twice
            r = self.inc.c.retrieve("/cse-in", query={"fu": 1, "ty": ty, "lnk": lnk})
            self.assertEqual(len(r.body["m2m:uril"]), 1, r.body)
        # and the next announcement goes below the <CSEBaseAnnc> found
        ae2, _ = self.mn_ae(uniq("Cgw"))
        self.assertEqual(self.announced(ae2, "m2m:ae").rsplit("/", 1)[0], cba)


class AnnouncementCbaRefusedCase(AnnouncementMixin, mc.Base):
    """Item 2: the IN refuses this CSE's <CSEBaseAnnc> for good (here its quota for /id-mn: one
    resource, the registration's <remoteCSE>, so 5207): each step that needs it is dropped (logged,
    counted refused), none holds the IN's later steps; a transient failure is still retried."""

    @classmethod
    def setUpClass(cls):
        cls.catmp = tempfile.mkdtemp(prefix="warden-annc-ca-")
        cls.pki = mc.Pki(mc.Ctl(os.path.join(cls.catmp, "ca.db")), os.path.join(cls.catmp, "pki"))
        cls.inc = mc.Cse(cls.pki, "/id-in", "cse-in", extra=["--limits.quota_count=1"]).start()
        cls.metrics_port = free_port()
        cls.mn = mc.Cse(cls.pki, "/id-mn", "cse-mn", cse_type="MN", registrar=cls.inc,
                        extra=["--metrics.port=%d" % cls.metrics_port]).start()

    steps = AnnouncementRestartCase.steps

    def test_ts0004_7_3_3_10_cse_base_annc_refused_for_good_does_not_hold_later_steps(self):
        self.ready()
        aes = [self.mn_ae(uniq("Cgw"))[0] for _ in range(2)]
        for ae in aes:  # both processed (not the second stuck behind the first): the IN leaves at
            self.wait_for(lambda: "at" not in self.mn.c.retrieve(ae).body["m2m:ae"], timeout=DEADLINE,
                          what="the refused announcement of %s dropped" % ae)
        self.assertGreaterEqual(self.steps().get("refused", 0), 2, self.steps())
        self.assertTrue(any("<CSEBaseAnnc> (rsc 5207, permanent)" in line for line in self.mn.srv.stderr_lines),
                        "\n".join(self.mn.srv.stderr_lines[-20:]))
        r = self.inc.c.retrieve("/cse-in", query={"fu": 1, "ty": TY_CBA})
        self.assertEqual(r.body.get("m2m:uril", []), [], r.body)


class AnnouncementTargetsCase(AnnouncementMixin, mc.Base):
    """Item 3: at given as a resource address on another CSE (TS-0001 §9.6.1.3 announceTo, TS-0004
    §7.3.3.10 step 1b): the announced resource is created there, not below the <CSEBaseAnnc>."""

    def test_ts0004_7_3_3_10_at_address_creates_the_copy_there(self):
        self.ready()
        stem, other = uniq("Cgw"), uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        parent = self.announced(ae, "m2m:ae")  # an AEAnnc at the IN
        ae2, _ = self.mn_ae(other, at=None)  # not announced: its container goes where at says
        r = self.mn.c.create(ae2, TY_CNT, {"rn": "t", "at": [parent]}, origin=other)
        self.assertEqual(r.rsc, 2001, r.body)
        self.assertEqual(r.body["m2m:cnt"]["at"], [parent])  # as asked, until the copy exists
        caddr = self.announced(ae2 + "/t", "m2m:cnt")
        self.assertEqual(caddr.rsplit("/", 1)[0], parent)  # there, not below the <CSEBaseAnnc>
        c = self.inc.c.retrieve(self.in_path(caddr)).body["m2m:cntA"]
        self.assertEqual(c["lnk"], "/id-mn" + ae2 + "/t")
        # added by an update: there too; de-announced with its original
        r = self.mn.c.create(ae2, TY_CNT, {"rn": "u"}, origin=other)
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.mn.c.update(ae2 + "/u", "m2m:cnt", {"at": [parent]}, origin=other)
        self.assertEqual(r.rsc, 2004, r.body)
        uaddr = self.announced(ae2 + "/u", "m2m:cnt")
        self.assertEqual(uaddr.rsplit("/", 1)[0], parent)
        self.assertEqual(self.mn.c.delete(ae2, origin=other).rsc, 2002)
        self.gone_at_in(self.in_path(caddr))
        self.gone_at_in(self.in_path(uaddr))

    def test_ts0001_9_6_1_3_at_address_on_this_cse_or_an_unknown_cse_is_4000(self):
        self.ready()
        stem = uniq("Cgw")
        for at in (["/id-mn/cse-mn"], ["/id-nowhere/cse-x/y"]):
            r = self.mn.c.create("/cse-mn", TY_AE, {"api": "Nannc", "rr": False, "at": at}, origin=stem)
            self.assertEqual(r.rsc, 4000, r.body)


class AnnouncementDescendantCase(AnnouncementMixin, mc.Base):
    """Item 3: at naming a descendant CSE (an ASN registered to the MN, in the MN's dcse at the IN):
    the IN announces to it through the MN, which relays the IN's CSE-ID (TS-0001 §9.6.26.1)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.asn = mc.Cse(cls.pki, "/id-asn", "cse-asn", cse_type="ASN", registrar=cls.mn).start()

    @classmethod
    def tearDownClass(cls):
        cls.asn.cleanup()
        super().tearDownClass()

    def test_ts0001_9_6_26_1_at_descendant_cse_announced_through_its_registrar(self):
        self.ready()
        self.wait_for(lambda: "/id-asn" in self.inc.c.retrieve("/cse-in/id-mn").body["m2m:csr"].get("dcse", []),
                      timeout=DEADLINE, what="the ASN in the MN's dcse at the IN")
        try:
            stem, a = self.in_ae_announced_to("/id-asn")
        except AssertionError:
            print("\n".join(self.inc.srv.stderr_lines[-15:] + self.asn.srv.stderr_lines[-15:]))
            raise
        r = self.asn.c.retrieve(a[len("/id-asn"):])
        self.assertEqual(r.body["m2m:aeA"]["lnk"], "/id-in/cse-in/" + stem.lower(), r.body)
        # and de-announced the same way
        self.assertEqual(self.inc.c.delete("/cse-in/" + stem.lower(), origin=stem).rsc, 2002)
        self.wait_for(lambda: self.asn.c.retrieve(a[len("/id-asn"):]).rsc == 4004, timeout=DEADLINE,
                      what="the copy at the ASN gone")

    def test_ts0004_7_3_2_1_a_registree_relays_only_its_descendants_cse_ids(self):
        """The relayed CSE-ID rule (as for AE-IDs): the MN may speak for /id-asn (its dcse) at the IN,
        not for a CSE it does not claim, nor for the IN itself."""
        self.ready()
        self.wait_for(lambda: "/id-asn" in self.inc.c.retrieve("/cse-in/id-mn").body["m2m:csr"].get("dcse", []),
                      timeout=DEADLINE, what="the ASN in the MN's dcse at the IN")
        c = self.cse_client(self.inc, self.mn)
        self.assertEqual(c.retrieve("/~/id-in/cse-in", origin="/id-asn").rsc, 2000)
        for fr in ("/id-zz", "/id-in"):
            self.assertEqual(c.retrieve("/~/id-in/cse-in", origin=fr).rsc, 4106, fr)


class AnnouncementMoreTypesCase(AnnouncementMixin, mc.Base):
    """Item 4: node (nodeAnnc 10014, m2m:nodA), schedule (scheduleAnnc 10018, m2m:schA),
    locationPolicy (locationPolicyAnnc 10010, m2m:lcpA) and remoteCSE (remoteCSEAnnc 10016,
    m2m:csrA) announced with their MA attributes and the OA ones named in aa (TS-0001 Tables
    9.6.18-2, 9.6.9-2, 9.6.10-2, 9.6.4-2)."""

    def test_ts0004_7_3_3_10_node_and_its_schedule_announced(self):
        self.ready()
        rn = uniq("nod")
        r = self.mn.c.create("/cse-mn", 14, {"rn": rn, "ni": "urn:dev:" + rn, "hcl": "/id-mn", "mgca": "x",
                                             "at": ["/id-in"], "aa": ["hcl"]}, root="m2m:nod")
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.mn.c.create("/cse-mn/" + rn, 18, {"rn": "s", "se": {"sce": ["* * * * * * *"]},
                                                   "at": ["/id-in"], "aa": ["se"]}, root="m2m:sch")
        self.assertEqual(r.rsc, 2001, r.body)
        naddr = self.announced("/cse-mn/" + rn, "m2m:nod")
        n = self.inc.c.retrieve(self.in_path(naddr)).body["m2m:nodA"]
        self.assertEqual((n["ty"], n["ni"], n["hcl"], n["lnk"]), (10014, "urn:dev:" + rn, "/id-mn", "/id-mn/cse-mn/" + rn))
        self.assertNotIn("mgca", n)  # OA, not in aa
        saddr = self.announced("/cse-mn/" + rn + "/s", "m2m:sch")
        self.assertEqual(saddr.rsplit("/", 1)[0], naddr)  # below the node's copy
        sa = self.inc.c.retrieve(self.in_path(saddr)).body["m2m:schA"]
        self.assertEqual((sa["ty"], sa["se"]), (10018, {"sce": ["* * * * * * *"]}))
        self.assertNotIn("acpi", sa)  # NA for a scheduleAnnc
        self.assertEqual(self.mn.c.delete("/cse-mn/" + rn).rsc, 2002)
        self.gone_at_in(self.in_path(naddr))

    def test_ts0004_7_3_3_10_mgmt_obj_announced_under_its_specialisation_root(self):
        """A firmware mgmtObj (mgd 1001) below an announced node: mgmtObjAnnc 10013 sent and served as
        m2m:fwrA below the node's copy; mgd MA, vr OA named in aa, url not; key material never OA."""
        self.ready()
        rn = uniq("nod")
        r = self.mn.c.create("/cse-mn", 14, {"rn": rn, "ni": "urn:dev:" + rn, "at": ["/id-in"]}, root="m2m:nod")
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.mn.c.create("/cse-mn/" + rn, 13, {"rn": "fw", "mgd": 1001, "vr": "1.2", "fwn": "fw",
                                                   "url": "http://fw.example/1.2", "at": ["/id-in"], "aa": ["vr"]},
                             root="m2m:fwr")
        self.assertEqual(r.rsc, 2001, r.body)
        naddr = self.announced("/cse-mn/" + rn, "m2m:nod")
        faddr = self.announced("/cse-mn/" + rn + "/fw", "m2m:fwr")
        self.assertEqual(faddr.rsplit("/", 1)[0], naddr)
        f = self.inc.c.retrieve(self.in_path(faddr)).body
        self.assertIn("m2m:fwrA", f, f)
        f = f["m2m:fwrA"]
        self.assertEqual((f["ty"], f["mgd"], f["vr"]), (10013, 1001, "1.2"))
        self.assertNotIn("url", f)
        r = self.inc.c.retrieve(self.in_path(naddr), query={"fu": 1, "ty": 10013})
        self.assertEqual(len(r.body["m2m:uril"]), 1, r.body)
        # an update of an announced attribute reaches the copy, under the same root
        r = self.mn.c.update("/cse-mn/" + rn + "/fw", "m2m:fwr", {"vr": "1.3"})
        self.assertEqual(r.rsc, 2004, r.body)
        self.wait_for(lambda: self.inc.c.retrieve(self.in_path(faddr)).body["m2m:fwrA"]["vr"] == "1.3",
                      timeout=DEADLINE, what="the update announced")
        # a credential object's key material is not OA: naming it in aa is 4000
        r = self.mn.c.create("/cse-mn/" + rn, 13, {"mgd": 1022, "suid": 1, "skv": "00", "at": ["/id-in"],
                                                   "aa": ["skv"]}, root="m2m:aupf")
        self.assertEqual(r.rsc, 4000, r.body)

    def test_ts0004_7_3_3_10_flex_container_announced_under_its_specialisation_root(self):
        """A temperature flexContainer: flexContainerAnnc 10028 sent and served as cod:tempeAnnc; cnd
        MA, a custom attribute (curT0) OA named in aa, another (unit) not; an update reaches it."""
        self.ready()
        stem = uniq("Cgw")
        ae, _ = self.mn_ae(stem)
        temp = "org.onem2m.common.moduleclass.temperature"
        r = self.mn.c.create(ae, 28, {"rn": "t", "cnd": temp, "curT0": 21.5, "unit": 1, "at": ["/id-in"],
                                      "aa": ["curT0"]}, root="cod:tempe", origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        addr = self.announced(ae + "/t", "cod:tempe")
        f = self.inc.c.retrieve(self.in_path(addr)).body
        self.assertIn("cod:tempeAnnc", f, f)
        f = f["cod:tempeAnnc"]
        self.assertEqual((f["ty"], f["cnd"], f["curT0"]), (10028, temp, 21.5))
        self.assertNotIn("unit", f)
        r = self.mn.c.update(ae + "/t", "cod:tempe", {"curT0": 22.0}, origin=stem)
        self.assertEqual(r.rsc, 2004, r.body)
        self.wait_for(lambda: self.inc.c.retrieve(self.in_path(addr)).body["cod:tempeAnnc"]["curT0"] == 22.0,
                      timeout=DEADLINE, what="the update announced")
        # aa may name only OA attributes: the definition's custom ones are, cs (NA) is not
        r = self.mn.c.update(ae + "/t", "cod:tempe", {"aa": ["curT0", "unit"]}, origin=stem)
        self.assertEqual(r.rsc, 2004, r.body)
        r = self.mn.c.update(ae + "/t", "cod:tempe", {"aa": ["cs"]}, origin=stem)
        self.assertEqual(r.rsc, 4000, r.body)

    def test_ts0004_7_3_3_10_location_policy_announced(self):
        self.ready()
        aei = uniq("Cpos")
        r = self.mn.c.create("/cse-mn", TY_AE, {"rn": aei, "api": "Nannc", "rr": False}, origin=aei)
        self.assertEqual(r.rsc, 2001, r.body)
        rn = uniq("lcp")
        r = self.mn.c.create("/cse-mn", 10, {"rn": rn, "los": 2, "lot": aei, "lon": uniq("pos"),
                                             "at": ["/id-in"], "aa": ["los"]}, root="m2m:lcp")
        self.assertEqual(r.rsc, 2001, r.body)
        a = self.inc.c.retrieve(self.in_path(self.announced("/cse-mn/" + rn, "m2m:lcp"))).body["m2m:lcpA"]
        self.assertEqual((a["ty"], a["los"], a["lnk"]), (10010, 2, "/id-mn/cse-mn/" + rn))
        self.assertNotIn("lot", a)

    def test_ts0004_7_3_3_10_remote_cse_announced(self):
        """The IN announces its <remoteCSE> of the MN to the MN (the registree learns how the IN
        holds it): srv is MA, csi OA."""
        self.ready()
        r = self.inc.c.update("/cse-in/id-mn", "m2m:csr", {"at": ["/id-mn"], "aa": ["csi"]})
        self.assertEqual(r.rsc, 2004, r.body)

        def addr():
            at = self.inc.c.retrieve("/cse-in/id-mn").body["m2m:csr"].get("at", [])
            return next((x for x in at if x.startswith("/id-mn/")), None)
        a = self.wait_for(addr, timeout=DEADLINE, what="the remoteCSE announced")
        c = self.mn.c.retrieve(a[len("/id-mn"):]).body["m2m:csrA"]
        self.assertEqual((c["ty"], c["csi"], c["lnk"]), (10016, "/id-mn", "/id-in/cse-in/id-mn"))
        r = self.inc.c.update("/cse-in/id-mn", "m2m:csr", {"at": None})
        self.assertEqual(r.rsc, 2004, r.body)
        self.wait_for(lambda: self.mn.c.retrieve(a[len("/id-mn"):]).rsc == 4004, timeout=DEADLINE,
                      what="the remoteCSEAnnc gone")


if __name__ == "__main__":
    unittest.main()
