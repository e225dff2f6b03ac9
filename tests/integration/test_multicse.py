"""Multi-CSE black-box tests (issue 14): several warden processes on loopback, each with its own
store and its own CSE-ID certificate from one test CA (``wardenctl ca init/issue``), talking over
HTTPS with client certificates: the route step (TS-0001 §8.2.1, TS-0004 §7.3.2.6 and §7.3.2.8)
and forwarding through the outbound seam.

Run: WARDEN_BIN=build/warden python3 tests/integration/test_multicse.py
"""

import os
import shutil
import tempfile
import time
import unittest

from tls_helpers import Ctl, Pki
from wardentest import ADMIN, Client, WardenServer, free_port, uniq

TY_ACP, TY_AE, TY_CNT, TY_CIN = 1, 2, 3, 4
FORWARD_TIMEOUT_MS = 3000


class Cse:
    """One warden process: plain HTTP on loopback for its own AEs (dev profile), HTTPS with its CSE-ID
    certificate (DNS SAN id-xx.warden.example.com, IP SAN 127.0.0.1) for the other CSEs, and the
    test CA as tls.ca (clients it accepts, CSEs it reaches)."""

    def __init__(self, pki, csi, rn, cse_type="IN", registrar=None, extra=()):
        self.pki, self.csi, self.rn, self.cse_type = pki, csi, rn, cse_type
        self.tmp = tempfile.mkdtemp(prefix="warden-mcse-")
        self.cert, self.key, _ = pki.issue(csi, name="cse-" + csi.strip("/"), ips=["127.0.0.1"])
        self.registrar = registrar
        self.extra = list(extra)
        self.https_port = free_port()
        self.srv = None

    def args(self):
        a = ["--cse.id=%s" % self.csi, "--cse.rn=%s" % self.rn, "--cse.type=%s" % self.cse_type,
             "--https.port=%d" % self.https_port, "--https.address=127.0.0.1",
             "--tls.cert=%s" % self.cert, "--tls.key=%s" % self.key, "--tls.ca=%s" % self.pki.ca_pem,
             # the other CSEs are on loopback, which the outbound policy denies by default
             "--notify.allow=127.0.0.1/32", "--forward.timeout=%d" % FORWARD_TIMEOUT_MS]
        if self.registrar is not None:
            a += ["--registrar.address=https://127.0.0.1:%d" % self.registrar.https_port,
                  "--registrar.id=%s" % self.registrar.csi, "--registrar.rn=%s" % self.registrar.rn,
                  "--cse.poa=https://127.0.0.1:%d" % self.https_port]
        return a + self.extra

    def start(self):
        port = self.srv.port if self.srv is not None else None
        self.srv = WardenServer(extra_args=self.args(), tmpdir=self.tmp, port=port)
        self.srv.start()
        self.c = Client(self.srv.port)
        return self

    def stop(self):
        if self.srv is not None and self.srv.running():
            self.srv.stop()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class MultiCseCase(unittest.TestCase):
    """An IN-CSE and an MN-CSE registered to it (registrar.* on the MN), one CA."""

    @classmethod
    def setUpClass(cls):
        cls.catmp = tempfile.mkdtemp(prefix="warden-mcse-ca-")
        cls.pki = Pki(Ctl(os.path.join(cls.catmp, "ca.db")), os.path.join(cls.catmp, "pki"))
        cls.inc = Cse(cls.pki, "/id-in", "cse-in").start()
        cls.mn = Cse(cls.pki, "/id-mn", "cse-mn", cse_type="MN", registrar=cls.inc).start()

    @classmethod
    def tearDownClass(cls):
        for c in (cls.mn, cls.inc):
            c.cleanup()
        shutil.rmtree(cls.catmp, ignore_errors=True)

    def rsc(self, r):
        return r.rsc

    def setUp(self):
        if not self.inc.srv.running():
            self.inc.start()

    # helpers -------------------------------------------------------------
    def ae(self, cse, stem):
        r = cse.c.create("/" + cse.rn, TY_AE, {"rn": stem, "api": "Nmcse", "rr": False}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)
        return "/%s/%s" % (cse.rn, stem)

    def acp_for(self, cse, acor, acop, owner):
        """An ACP granting acor acop, and owner (the AE that uses it) everything."""
        rn = uniq("acp")
        r = cse.c.create("/" + cse.rn, TY_ACP, {"m2m:acp": {
            "rn": rn,
            "pv": {"acr": [{"acor": acor, "acop": acop}, {"acor": [owner], "acop": 63}]},
            "pvs": {"acr": [{"acor": [ADMIN, owner], "acop": 63}]}}}, root=False)
        self.assertEqual(r.rsc, 2001, r.body)
        return r.body["m2m:acp"]["ri"]

    def cnt_with_cin(self, cse, parent, origin, acpi):
        rn = uniq("cnt")
        attrs = {"rn": rn}
        if acpi:
            attrs["acpi"] = acpi
        r = cse.c.create(parent, TY_CNT, attrs, origin=origin)
        self.assertEqual(r.rsc, 2001, r.body)
        r = cse.c.create(parent + "/" + rn, TY_CIN, {"con": "v1", "rn": "cin1"}, origin=origin)
        self.assertEqual(r.rsc, 2001, r.body)
        return parent + "/" + rn

    # the route step --------------------------------------------------------
    def test_ts0004_7_3_2_6_target_on_unknown_cse_is_4004(self):
        """The IN has no registrar and no registree /id-zz: no route, 4004 (not a forward)."""
        app = self.ae(self.inc, uniq("Cin"))
        stem = app.rsplit("/", 1)[1]
        r = self.inc.c.retrieve("/~/id-zz/cse-zz/x", origin=stem)
        self.assertEqual(r.rsc, 4004, r.body)
        r = self.inc.c.retrieve("/_/other.example.com/id-in/cse-in", origin=stem)
        self.assertEqual(r.rsc, 4004, r.body)

    def test_ts0004_7_3_2_6_mn_forwards_sp_relative_target_to_registrar_with_from_sp_relative(self):
        """An AE on the MN reads a contentInstance on the IN through /~/id-in/...: the MN forwards over
        its certificate SA, From /id-mn/Cmn..., and the IN grants it by an ACP naming that ID."""
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        in_stem = uniq("Cin")
        in_ae = self.ae(self.inc, in_stem)
        acp = self.acp_for(self.inc, ["/id-mn/" + mn_stem], 2, in_stem)
        cnt = self.cnt_with_cin(self.inc, in_ae, in_stem, [acp])
        r = self.mn.c.retrieve("/~/id-in" + cnt + "/cin1", origin=mn_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:cin"]["con"], "v1")
        # absolute form and CSE-relative through the registrar's <remoteCSE> name
        r = self.mn.c.retrieve("/_/warden.example.com/id-in" + cnt + "/cin1", origin=mn_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        r = self.mn.c.retrieve("/cse-mn/id-in" + cnt + "/cin1", origin=mn_stem)
        self.assertEqual(r.rsc, 2000, r.body)

    def test_ts0004_7_3_2_6_forwarded_request_without_grant_is_4103_from_target_cse(self):
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        in_stem = uniq("Cin")
        in_ae = self.ae(self.inc, in_stem)
        acp = self.acp_for(self.inc, ["/id-mn/Csomeoneelse"], 2, in_stem)
        cnt = self.cnt_with_cin(self.inc, in_ae, in_stem, [acp])
        r = self.mn.c.retrieve("/~/id-in" + cnt + "/cin1", origin=mn_stem)
        self.assertEqual(r.rsc, 4103, r.body)

    def test_ts0004_7_3_2_6_forwarded_create_returns_target_response(self):
        """CREATE travels with its ty and Content; the created resource is on the IN."""
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        in_stem = uniq("Cin")
        in_ae = self.ae(self.inc, in_stem)
        acp = self.acp_for(self.inc, ["/id-mn/" + mn_stem], 3, in_stem)  # create + retrieve
        cnt = self.cnt_with_cin(self.inc, in_ae, in_stem, [acp])
        r = self.mn.c.create("/~/id-in" + cnt, TY_CIN, {"con": "from-mn", "rn": "cin2", "cr": None}, origin=mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.inc.c.retrieve(cnt + "/cin2", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:cin"]["con"], "from-mn")
        self.assertEqual(r.body["m2m:cin"]["cr"], "/id-mn/" + mn_stem)

    def test_ts0004_7_3_2_1_unregistered_ae_cannot_be_forwarded(self):
        """The MN forwards only originators it authenticated: an unknown AE-ID without SA is 4106 at
        the MN, before any routing."""
        r = self.mn.c.retrieve("/~/id-in/cse-in", origin=uniq("Cnobody"))
        self.assertEqual(r.rsc, 4106, r.body)

    def test_ts0004_7_3_2_8_registrar_stopped_is_5103_within_timeout(self):
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        self.inc.stop()
        try:
            t0 = time.monotonic()
            r = self.mn.c.retrieve("/~/id-in/cse-in", origin=mn_stem)
            elapsed = time.monotonic() - t0
            self.assertEqual(r.rsc, 5103, r.body)
            self.assertLess(elapsed, FORWARD_TIMEOUT_MS / 1000.0 + 2.0)
        finally:
            self.inc.start()
        # and back: the same request is forwarded again
        r = self.mn.c.retrieve("/~/id-in/cse-in/nonexistent", origin=mn_stem)
        self.assertEqual(r.rsc, 4004, r.body)

    def test_ts0004_7_3_2_6_local_targets_stay_local(self):
        """SP-relative and absolute forms of the MN's own CSE-ID are resolved on the MN."""
        mn_stem = uniq("Cmn")
        ae = self.ae(self.mn, mn_stem)
        for to in ("/~/id-mn" + ae, "/_/warden.example.com/id-mn" + ae, ae):
            r = self.mn.c.retrieve(to, origin=mn_stem)
            self.assertEqual(r.rsc, 2000, (to, r.body))


if __name__ == "__main__":
    unittest.main(verbosity=2)
