#!/usr/bin/python3
"""Durability: every acknowledged create/update/delete survives kill -9.

docs/http-contract.md "Durability"; clean SIGTERM exit status 0.
Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_durability.py
"""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_RN, TY_CIN, TY_CNT, HTTP_FOR_RSC, Client, WardenServer,  # noqa: E402
                        WardenTestCase, et_in, main, sleep_past, uniq)


class DurabilityTest(WardenTestCase):
    """Each test owns its server (it is killed and restarted on the same store)."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.srv = WardenServer().start()
        self.c = self.srv.client()

    def tearDown(self):
        self.srv.cleanup()

    def restart(self, crash=True):
        """kill -9 (or SIGTERM) and start again on the same store.path and port."""
        if crash:
            self.srv.kill9()
        else:
            self.assertEqual(self.srv.stop(), 0, "exit status after SIGTERM:\n" + self.srv.output())
        old = self.srv
        # Same store.path; a fresh port so a lingering TIME_WAIT cannot interfere.
        self.srv = WardenServer(tmpdir=old.tmpdir)
        self.srv.own_tmp = True
        self.srv.start()
        self.c = self.srv.client()

    def ok(self, r, rsc):
        self.assertEqual((r.rsc, r.status), (rsc, HTTP_FOR_RSC[rsc]), self.describe(r))
        return r

    def build_tree(self):
        """AE + container + 5 instances; returns dict describing what was acknowledged."""
        r = self.ok(self.c.register_ae(origin="C", rn=uniq("dur")), 2001)
        ae = r.body["m2m:ae"]
        aei, ae_path = ae["aei"], "/%s/%s" % (CSE_RN, ae["rn"])
        r = self.ok(self.c.create(ae_path, TY_CNT, {"rn": "cnt", "mni": 10, "lbl": ["v1"]}, origin=aei), 2001)
        cnt = r.body["m2m:cnt"]
        cins = []
        for i in range(5):
            r = self.ok(self.c.create(ae_path + "/cnt", TY_CIN, {"rn": "i%d" % i, "con": "value-%d" % i},
                                      origin=aei), 2001)
            cins.append(r.body["m2m:cin"])
        return {"aei": aei, "ae": ae, "ae_path": ae_path, "cnt": cnt, "cins": cins}

    def verify_tree(self, t, present, lbl=None):
        aei, ae_path = t["aei"], t["ae_path"]
        # The AE is still registered: its AE-ID is accepted as From.
        r = self.ok(self.c.retrieve(ae_path, origin=aei), 2000)
        self.assertEqual(r.body["m2m:ae"]["ri"], t["ae"]["ri"])
        self.assertEqual(r.body["m2m:ae"]["aei"], aei)
        r = self.ok(self.c.retrieve(ae_path + "/cnt", origin=aei), 2000)
        cnt = r.body["m2m:cnt"]
        self.assertEqual(cnt["ri"], t["cnt"]["ri"])
        if lbl is not None:
            self.assertEqual(cnt["lbl"], lbl)
        self.assertEqual(cnt["cni"], len(present))
        self.assertEqual(cnt["cbs"], sum(len("value-%d" % i) for i in present))
        for i, cin in enumerate(t["cins"]):
            r = self.c.retrieve("%s/cnt/i%d" % (ae_path, i), origin=aei)
            if i in present:
                self.ok(r, 2000)
                self.assertEqual(r.body["m2m:cin"]["con"], "value-%d" % i)
                self.assertEqual(r.body["m2m:cin"]["ri"], cin["ri"])
                self.ok(self.c.retrieve("/" + cin["ri"], origin=aei), 2000)
            else:
                self.ok(r, 4004)
        if present:
            r = self.ok(self.c.retrieve(ae_path + "/cnt/la", origin=aei), 2000)
            self.assertEqual(r.body["m2m:cin"]["rn"], "i%d" % max(present))
            r = self.ok(self.c.retrieve(ae_path + "/cnt/ol", origin=aei), 2000)
            self.assertEqual(r.body["m2m:cin"]["rn"], "i%d" % min(present))

    def test_durability_creates_survive_kill9(self):
        t = self.build_tree()      # kill immediately after the last 2001
        self.restart(crash=True)
        self.verify_tree(t, present=[0, 1, 2, 3, 4], lbl=["v1"])

    def test_durability_update_survives_kill9(self):
        t = self.build_tree()
        self.ok(self.c.update(t["ae_path"] + "/cnt", "m2m:cnt", {"lbl": ["v2"]}, origin=t["aei"]), 2004)
        self.restart(crash=True)
        self.verify_tree(t, present=[0, 1, 2, 3, 4], lbl=["v2"])

    def test_durability_delete_survives_kill9(self):
        t = self.build_tree()
        self.ok(self.c.delete(t["ae_path"] + "/cnt/i2", origin=t["aei"]), 2002)
        self.ok(self.c.delete(t["ae_path"] + "/cnt/la", origin=t["aei"]), 2002)
        self.restart(crash=True)
        self.verify_tree(t, present=[0, 1, 3], lbl=["v1"])

    def test_durability_mni_eviction_survives_kill9(self):
        t = self.build_tree()
        p = t["ae_path"]
        r = self.ok(self.c.create(p, TY_CNT, {"rn": "ring", "mni": 2}, origin=t["aei"]), 2001)
        for i in range(4):
            self.ok(self.c.create(p + "/ring", TY_CIN, {"rn": "k%d" % i, "con": "x%d" % i}, origin=t["aei"]), 2001)
        self.restart(crash=True)
        r = self.ok(self.c.retrieve(p + "/ring", origin=t["aei"]), 2000)
        self.assertEqual((r.body["m2m:cnt"]["cni"], r.body["m2m:cnt"]["cbs"]), (2, 4))
        self.ok(self.c.retrieve(p + "/ring/k0", origin=t["aei"]), 4004)
        self.ok(self.c.retrieve(p + "/ring/k1", origin=t["aei"]), 4004)
        self.assertEqual(self.c.retrieve(p + "/ring/ol", origin=t["aei"]).body["m2m:cin"]["con"], "x2")

    def test_durability_subtree_delete_and_deregistration_survive_kill9(self):
        t = self.build_tree()
        keep = self.build_tree()
        self.ok(self.c.delete(t["ae_path"], origin=t["aei"]), 2002)
        self.restart(crash=True)
        self.ok(self.c.retrieve(t["ae_path"], origin=ADMIN), 4004)
        self.ok(self.c.retrieve("/" + t["cnt"]["ri"], origin=ADMIN), 4004)
        for cin in t["cins"]:
            self.ok(self.c.retrieve("/" + cin["ri"], origin=ADMIN), 4004)
        self.ok(self.c.retrieve("/" + CSE_RN, origin=t["aei"]), 4106)
        self.verify_tree(keep, present=[0, 1, 2, 3, 4], lbl=["v1"])

    def test_durability_allocated_ids_not_reused_after_restart(self):
        t = self.build_tree()
        self.restart(crash=True)
        # Registering again must not hand out an AE-ID or ri that is still in use.
        r = self.ok(self.c.register_ae(origin="C"), 2001)
        self.assertNotEqual(r.body["m2m:ae"]["aei"], t["aei"])
        r = self.ok(self.c.create(t["ae_path"], TY_CNT, {"rn": "cnt2"}, origin=t["aei"]), 2001)
        known = {t["ae"]["ri"], t["cnt"]["ri"]} | {c["ri"] for c in t["cins"]}
        self.assertNotIn(r.body["m2m:cnt"]["ri"], known)
        self.verify_tree(t, present=[0, 1, 2, 3, 4], lbl=["v1"])

    def test_durability_repeated_crashes(self):
        t = self.build_tree()
        present = [0, 1, 2, 3, 4]
        for round_ in range(3):
            i = 5 + round_
            r = self.ok(self.c.create(t["ae_path"] + "/cnt", TY_CIN, {"rn": "i%d" % i, "con": "value-%d" % i},
                                      origin=t["aei"]), 2001)
            t["cins"].append(r.body["m2m:cin"])
            present.append(i)
            self.restart(crash=True)
            self.verify_tree(t, present=present, lbl=["v1"])

    def test_durability_concurrent_writers_killed_mid_flight(self):
        """Several writers create instances concurrently; the server is killed while
        requests are in flight.  Every acknowledged create must be there after restart,
        and anything present must be complete."""
        t = self.build_tree()
        p = t["ae_path"]
        for w in range(4):
            self.ok(self.c.create(p, TY_CNT, {"rn": "w%d" % w}, origin=t["aei"]), 2001)
        acked = {w: [] for w in range(4)}
        stop = threading.Event()
        port = self.srv.port

        def writer(w):
            cl = Client(port, timeout=5)
            i = 0
            while not stop.is_set() and i < 150:   # stays far below any result-size cap
                rn = "c%04d" % i
                try:
                    r = cl.create("%s/w%d" % (p, w), TY_CIN, {"rn": rn, "con": "w%d-%s" % (w, rn)}, origin=t["aei"])
                except OSError:
                    return            # server gone
                if r.rsc == 2001:
                    acked[w].append(rn)
                i += 1

        threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
        for th in threads:
            th.start()
        deadline = time.monotonic() + 10
        while sum(len(v) for v in acked.values()) < 120 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.srv.kill9()                      # requests are still in flight here
        stop.set()
        for th in threads:
            th.join(10)
        total = sum(len(v) for v in acked.values())
        self.assertGreater(total, 20, "too few writes acknowledged before the kill")
        self.restart(crash=True)
        for w in range(4):
            r = self.ok(self.c.retrieve("%s/w%d" % (p, w), origin=t["aei"], query={"rcn": 4}), 2000)
            cnt = r.body["m2m:cnt"]
            stored = {c["rn"]: c for c in cnt.get("m2m:cin", [])}
            missing = [rn for rn in acked[w] if rn not in stored]
            self.assertEqual(missing, [], "writer %d: acknowledged instances lost after kill -9" % w)
            for rn, c in stored.items():
                self.assertEqual(c["con"], "w%d-%s" % (w, rn), "torn instance %s" % rn)
            self.assertEqual(cnt["cni"], len(stored), "cni disagrees with the stored instances")
            self.assertEqual(cnt["cbs"], sum(c["cs"] for c in stored.values()))
        self.verify_tree(t, present=[0, 1, 2, 3, 4], lbl=["v1"])

    def test_durability_expiry_while_down(self):
        """A resource whose et passes while the server is down is gone after restart."""
        t = self.build_tree()
        p = t["ae_path"]
        et = et_in(5)
        r = self.ok(self.c.create(p, TY_CNT, {"rn": "brief", "et": et}, origin=t["aei"]), 2001)
        brief_ri = r.body["m2m:cnt"]["ri"]
        r = self.ok(self.c.create(p + "/brief", TY_CIN, {"rn": "b0", "con": "gone"}, origin=t["aei"]), 2001)
        cin_ri = r.body["m2m:cin"]["ri"]
        self.srv.kill9()
        sleep_past(et, 0.5)
        self.restart(crash=True)
        for path in (p + "/brief", "/" + brief_ri, p + "/brief/b0", "/" + cin_ri):
            with self.subTest(path=path):
                self.ok(self.c.retrieve(path, origin=t["aei"]), 4004)
        self.verify_tree(t, present=[0, 1, 2, 3, 4], lbl=["v1"])

    def test_sigterm_under_load_exits_0_and_keeps_acknowledged_writes(self):
        t = self.build_tree()
        p = t["ae_path"]
        self.ok(self.c.create(p, TY_CNT, {"rn": "load"}, origin=t["aei"]), 2001)
        acked = []
        stop = threading.Event()
        port = self.srv.port

        def writer(w):
            cl = Client(port, timeout=5)
            i = 0
            while not stop.is_set():
                rn = "w%d-%04d" % (w, i)
                try:
                    r = cl.create(p + "/load", TY_CIN, {"rn": rn, "con": rn}, origin=t["aei"])
                except OSError:
                    return
                if r.rsc == 2001:
                    acked.append(rn)
                i += 1

        threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(3)]
        for th in threads:
            th.start()
        time.sleep(0.5)
        rc = self.srv.stop()          # SIGTERM while requests are in flight
        stop.set()
        for th in threads:
            th.join(10)
        self.assertEqual(rc, 0, "exit status after SIGTERM under load:\n" + self.srv.output())
        self.assertGreater(len(acked), 5)
        self.restart(crash=True)      # (already stopped; kill9 is a no-op)
        lost = []
        for rn in acked:      # one by one: independent of any result-size cap
            r = self.c.retrieve("%s/load/%s" % (p, rn), origin=t["aei"])
            if r.rsc != 2000 or r.body["m2m:cin"]["con"] != rn:
                lost.append((rn, r.rsc))
        self.assertEqual(lost, [], "acknowledged writes lost after SIGTERM (%d acked)" % len(acked))
        r = self.ok(self.c.retrieve(p + "/load", origin=t["aei"]), 2000)
        self.assertGreaterEqual(r.body["m2m:cnt"]["cni"], len(acked))

    def test_sigterm_clean_exit_0_and_data_kept(self):
        t = self.build_tree()
        self.restart(crash=False)    # asserts exit status 0
        self.verify_tree(t, present=[0, 1, 2, 3, 4], lbl=["v1"])
        rc = self.srv.stop()
        self.assertEqual(rc, 0, "exit status after SIGTERM:\n" + self.srv.output())

    def test_sigint_clean_exit_0(self):
        self.srv.proc.send_signal(signal.SIGINT)
        rc = self.srv.wait_exit(10)
        self.assertEqual(rc, 0, "exit status after SIGINT:\n" + self.srv.output())


if __name__ == "__main__":
    main()
