"""Multi-CSE black-box tests (issue 14): several warden processes on loopback, each with its own
store and its own CSE-ID certificate from one test CA (``wardenctl ca init/issue``), talking over
HTTPS with client certificates: the route step (TS-0001 §8.2.1, TS-0004 §7.3.2.6 and §7.3.2.8)
and forwarding through the outbound seam.

Run: WARDEN_BIN=build/warden python3 tests/integration/test_multicse.py
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from test_subscription import Receiver
from tls_helpers import CertClient, Ctl, Pki
from wardentest import ADMIN, Client, WardenServer, free_port, uniq, warden_bin

TY_ACP, TY_AE, TY_CNT, TY_CIN, TY_CSR, TY_SUB = 1, 2, 3, 4, 16, 23
FORWARD_TIMEOUT_MS = 3000



def stopped(pid):
    """Is every thread of the process stopped (state T), SIGSTOP having taken effect?"""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
        for tid in tids:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "T":
                    return False
        return True
    except OSError:
        return False

class Cse:
    """One warden process: plain HTTP on loopback for its own AEs (dev profile), HTTPS with its CSE-ID
    certificate (DNS SAN id-xx.warden.example.com, IP SAN 127.0.0.1) for the other CSEs, and the
    test CA as tls.ca (clients it accepts, CSEs it reaches)."""

    def __init__(self, pki, csi, rn, cse_type="IN", registrar=None, extra=(), psk=None):
        """psk: None (certificates), or (KpsaID, hex key, peer CSE-ID): no certificate at all, the key
        bound to the peer in this CSE's store, an https_psk listener for the other CSEs."""
        self.pki, self.csi, self.rn, self.cse_type = pki, csi, rn, cse_type
        self.tmp = tempfile.mkdtemp(prefix="warden-mcse-")
        self.psk = psk
        if psk is None:
            self.cert, self.key, _ = pki.issue(csi, name="cse-" + csi.strip("/"), ips=["127.0.0.1"])
        else:
            ctl = Ctl(os.path.join(self.tmp, "warden.db"), ["--cse.id=%s" % csi, "--cse.rn=%s" % rn])
            ctl.ok("init")
            ctl.ok("psk", "add", psk[0], psk[2], stdin=psk[1] + "\n")
        self.registrar = registrar
        self.extra = list(extra)
        self.https_port = free_port()
        self.srv = None

    def args(self):
        a = ["--cse.id=%s" % self.csi, "--cse.rn=%s" % self.rn, "--cse.type=%s" % self.cse_type,
             # the other CSEs are on loopback, which the outbound policy denies by default
             "--notify.allow=127.0.0.1/32", "--forward.timeout=%d" % FORWARD_TIMEOUT_MS]
        if self.psk is None:
            a += ["--https.port=%d" % self.https_port, "--https.address=127.0.0.1",
                  "--tls.cert=%s" % self.cert, "--tls.key=%s" % self.key, "--tls.ca=%s" % self.pki.ca_pem]
        else:
            a += ["--https_psk.port=%d" % self.https_port, "--https_psk.address=127.0.0.1"]
        if self.registrar is not None:
            a += ["--registrar.address=https://127.0.0.1:%d" % self.registrar.https_port,
                  "--registrar.id=%s" % self.registrar.csi, "--registrar.rn=%s" % self.registrar.rn,
                  "--cse.poa=https://127.0.0.1:%d" % self.https_port, "--registrar.check=1"]
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


class CseHelpers:
    """Resources on a Cse, the registration check and waiting, shared by every two-CSE test base (this file's,
    test_multicse_bindings.py's, test_esprim.py's): the class has .inc and .mn with .c clients and .rn."""

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

    def in_ae_notified_from_mn(self):
        """An AE of the IN whose pointOfAccess is a receiver of the test and whose policy grants NOTIFY to
        /id-mn, so that the MN's notifications reach it through the IN: (receiver, its path, AE stem)."""
        recv = Receiver().start()
        self.addCleanup(recv.stop)
        path = recv.new_path()
        in_stem = uniq("Cinapp")
        acp_in = self.acp_for(self.inc, ["/id-mn"], 16, in_stem)
        r = self.inc.c.create("/cse-in", TY_AE, {"rn": in_stem, "api": "Nmcse", "rr": True,
                                                 "poa": [recv.url(path)]}, origin=in_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.inc.c.update("/cse-in/" + in_stem, "m2m:ae", {"acpi": [acp_in]}, origin=in_stem)
        self.assertEqual(r.rsc, 2004, r.body)
        return recv, path, in_stem

    def wait_for(self, fn, timeout=10.0, what="condition"):
        """fn() until it is true (its value returned), or the test fails after timeout s."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.05)
        self.fail("timed out waiting for %s (last: %r)" % (what, last))

    def registered(self):
        """Both sides hold a <remoteCSE> for the other (TS-0001 §10.2.2.6)."""
        a = self.inc.c.retrieve("/cse-in/id-mn")
        b = self.mn.c.retrieve("/cse-mn/id-in")
        return (a.rsc, b.rsc) == (2000, 2000) and (a, b)


class Base(CseHelpers, unittest.TestCase):
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

    # helpers (and those of CseHelpers) ---------------------------------
    def cse_client(self, cse, as_cse):
        """A client over HTTPS to cse presenting as_cse's certificate."""
        return CertClient(cse.https_port, self.pki.ca_pem, cert=as_cse.cert, key=as_cse.key)



class MultiCseCase(Base):
    # registration ------------------------------------------------------------
    def test_ts0001_10_2_2_6_mn_registers_at_start_and_both_sides_hold_remotecse(self):
        a, b = self.wait_for(self.registered, what="registration")
        csr = a.body["m2m:csr"]
        self.assertEqual(csr["csi"], "/id-mn")
        self.assertEqual(csr["cb"], "/id-mn/cse-mn")
        self.assertEqual(csr["poa"], ["https://127.0.0.1:%d" % self.mn.https_port])
        self.assertEqual(b.body["m2m:csr"]["csi"], "/id-in")

    def test_ts0004_7_4_4_2_1_second_registration_of_same_cse_id_is_4117(self):
        self.wait_for(self.registered, what="registration")
        c = self.cse_client(self.inc, self.mn)
        r = c.create("/~/id-in/cse-in", TY_CSR, {"csi": "/id-mn", "cb": "/id-mn/cse-mn", "rr": True},
                     origin="/id-mn", root="m2m:csr")
        self.assertEqual(r.rsc, 4117, r.body)

    def test_ts0004_7_3_2_1_registration_claiming_another_cse_id_is_4106(self):
        """The MN's certificate is bound to /id-mn: From /id-xx, or csi /id-xx, is refused."""
        c = self.cse_client(self.inc, self.mn)
        r = c.create("/~/id-in/cse-in", TY_CSR, {"csi": "/id-xx", "cb": "/id-xx/cse-xx", "rr": True},
                     origin="/id-xx", root="m2m:csr")
        self.assertEqual(r.rsc, 4106, r.body)
        r = c.create("/~/id-in/cse-in", TY_CSR, {"csi": "/id-xx", "cb": "/id-xx/cse-xx", "rr": True},
                     origin="/id-mn", root="m2m:csr")
        self.assertEqual(r.rsc, 4106, r.body)
        self.assertEqual(self.inc.c.retrieve("/cse-in/id-xx").rsc, 4004)

    def test_ts0004_7_3_2_1_registration_without_security_association_is_4107(self):
        r = self.inc.c.create("/cse-in", TY_CSR, {"csi": "/id-zz", "cb": "/id-zz/cse-zz", "rr": True},
                              origin="/id-zz", root="m2m:csr")
        self.assertEqual(r.rsc, 4107, r.body)

    def test_ts0004_7_4_4_2_1_remotecse_from_an_ae_is_4005(self):
        stem = uniq("Cin")
        self.ae(self.inc, stem)
        r = self.inc.c.create("/cse-in", TY_CSR, {"csi": "/id-zz", "cb": "/id-zz/cse-zz", "rr": True},
                              origin=stem, root="m2m:csr")
        self.assertEqual(r.rsc, 4005, r.body)

    def test_ts0001_10_2_2_6_registration_lost_by_registrar_is_made_again(self):
        self.wait_for(self.registered, what="registration")
        r = self.inc.c.delete("/cse-in/id-mn")
        self.assertEqual(r.rsc, 2002, r.body)
        self.wait_for(lambda: self.inc.c.retrieve("/cse-in/id-mn").rsc == 2000, what="re-registration")

    def test_ts0001_10_2_2_6_registrar_restarted_registration_recovers(self):
        self.wait_for(self.registered, what="registration")
        self.inc.stop()
        self.inc.start()
        self.wait_for(self.registered, what="registration after the restart")
        # and the first forwarded request is answered by the restarted IN: never written on a
        # connection the stopped IN had closed (see http_client.c, http_psk_client.c)
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        r = self.mn.c.retrieve("/~/id-in/cse-in/nonexistent", origin=mn_stem)
        self.assertEqual(r.rsc, 4004, r.body)

    # NOTIFY across CSEs ------------------------------------------------------
    def test_ts0004_7_3_3_9_notification_from_mn_reaches_ae_registered_at_in(self):
        """An AE of the IN subscribes (through the IN) to a container on the MN with nu = its own
        AE-ID: the MN sends the NOTIFY to /id-in/Cinapp through the IN, which re-targets it to the
        AE's pointOfAccess after checking the AE's policy grants NOTIFY to /id-mn."""
        self.wait_for(self.registered, what="registration")
        recv, path, in_stem = self.in_ae_notified_from_mn()
        mn_stem = uniq("Cmn")
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/" + in_stem], 3, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, [acp])
        r = self.inc.c.create("/~/id-mn" + cnt, TY_SUB, {"rn": "s1", "nu": ["/id-in/" + in_stem], "nct": 1, "enc": {"net": [3]}}, root="m2m:sub",
                              origin=in_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        r = self.mn.c.create(cnt, TY_CIN, {"con": "hot"}, origin=mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        got = recv.wait(path, 1)
        self.assertEqual(got[0].headers.get("X-M2M-Origin"), "/id-mn")
        self.assertEqual(got[0].body["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"], "hot")

    def test_ts0004_7_4_8_2_1_subscription_verified_at_ae_registered_elsewhere(self):
        """An AE of the MN subscribes for an AE of the IN (nu /id-in/Cinapp): the verification request
        goes through the IN to the AE's poa (vrq), and so does the notification."""
        self.wait_for(self.registered, what="registration")
        recv, path, in_stem = self.in_ae_notified_from_mn()
        mn_stem = uniq("Cmn")
        mn_ae = self.ae(self.mn, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, None)
        r = self.mn.c.create(cnt, TY_SUB, {"rn": "s1", "nu": ["/id-in/" + in_stem], "enc": {"net": [3]}},
                             origin=mn_stem, root="m2m:sub")
        self.assertEqual(r.rsc, 2001, r.body)
        got = recv.wait(path, 1)
        self.assertTrue(got[0].body["m2m:sgn"].get("vrq"), got[0].body)
        r = self.mn.c.create(cnt, TY_CIN, {"con": "warm"}, origin=mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        got = recv.wait(path, 2)
        self.assertEqual(got[1].body["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"], "warm")

    def test_ts0004_7_3_3_9_notify_to_ae_without_notify_grant_is_4103(self):
        """The re-targeting CSE authorizes the NOTIFY: an AE whose policy grants the notifying CSE
        nothing is not disturbed."""
        self.wait_for(self.registered, what="registration")
        recv = Receiver().start()
        self.addCleanup(recv.stop)
        path = recv.new_path()
        in_stem = uniq("Cinapp")
        r = self.inc.c.create("/cse-in", TY_AE, {"rn": in_stem, "api": "Nmcse", "rr": True,
                                                 "poa": [recv.url(path)]}, origin=in_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        c = self.cse_client(self.inc, self.mn)
        r = c.request("POST", "/~/id-in/" + in_stem, origin="/id-mn", body={"m2m:sgn": {"sur": "x"}},
                      content_type="application/json")
        self.assertEqual(r.rsc, 4103, r.body)
        self.assertEqual(recv.received(path), [])

    def test_ts0001_10_2_2_6_registree_restarted_with_new_poa_updates_its_registration(self):
        """The MN restarts listening elsewhere: its registration is kept at the IN (4117 to the new
        CREATE) and updated with the new poa, so the IN reaches it there."""
        self.wait_for(self.registered, what="registration")
        self.mn.stop()
        self.mn.https_port = free_port()
        self.mn.start()
        want = ["https://127.0.0.1:%d" % self.mn.https_port]
        self.wait_for(lambda: self.inc.c.retrieve("/cse-in/id-mn").body.get("m2m:csr", {}).get("poa") == want,
                      what="the new poa at the IN")
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        r = self.inc.c.retrieve("/~/id-mn/cse-mn/nothing", origin=in_stem)
        self.assertEqual(r.rsc, 4004, r.body)

    # forwarding IN -> MN through the registree's <remoteCSE> -------------------
    def test_ts0004_7_3_2_6_in_ae_reads_mn_container_granted_by_acp_naming_id_in_ae(self):
        self.wait_for(self.registered, what="registration")
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        mn_stem = uniq("Cmn")
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/" + in_stem], 2, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, [acp])
        r = self.inc.c.retrieve("/~/id-mn" + cnt + "/cin1", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:cin"]["con"], "v1")
        # CSE-relative through the <remoteCSE> on the IN
        r = self.inc.c.retrieve("/cse-in/id-mn" + cnt + "/cin1", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)

    def test_ts0004_7_3_2_6_in_ae_without_rule_is_4103_from_mn(self):
        self.wait_for(self.registered, what="registration")
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        mn_stem = uniq("Cmn")
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/Cother"], 2, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, [acp])
        r = self.inc.c.retrieve("/~/id-mn" + cnt + "/cin1", origin=in_stem)
        self.assertEqual(r.rsc, 4103, r.body)

    def test_ts0003_7_2_ae_claiming_ae_id_registered_at_mn_sent_to_in_is_4106(self):
        """An AE registered at the MN may reach the IN only through the MN: sent to the IN directly
        (no SA, or the MN's own AE-ID in SP-relative form) it is refused before any routing."""
        self.wait_for(self.registered, what="registration")
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        for origin in (mn_stem, "/id-mn/" + mn_stem):
            r = self.inc.c.retrieve("/cse-in", origin=origin)
            self.assertEqual(r.rsc, 4106, (origin, r.body))
            r = self.inc.c.retrieve("/~/id-mn/cse-mn", origin=origin)
            self.assertEqual(r.rsc, 4106, (origin, r.body))

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

    def test_ts0004_7_3_2_1_request_expiration_bounds_a_forwarded_request(self):
        """A registrar that accepts connections but never answers (SIGSTOP): the forwarded request
        answers 5103 by its own Request Expiration Timestamp (800 ms), not forward.timeout (3 s)."""
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        os.kill(self.inc.srv.proc.pid, signal.SIGSTOP)
        try:
            self.wait_for(lambda: stopped(self.inc.srv.proc.pid), timeout=5.0, what="the IN stopped")
            t0 = time.monotonic()
            r = self.mn.c.retrieve("/~/id-in/cse-in", origin=mn_stem, headers={"X-M2M-RET": "800"})
            elapsed = time.monotonic() - t0
        finally:
            os.kill(self.inc.srv.proc.pid, signal.SIGCONT)
        self.assertEqual(r.rsc, 5103, r.body)
        self.assertLess(elapsed, 2.0)
        self.assertGreater(elapsed, 0.7)

    def test_ts0004_7_3_2_6_local_targets_stay_local(self):
        """SP-relative and absolute forms of the MN's own CSE-ID are resolved on the MN."""
        mn_stem = uniq("Cmn")
        ae = self.ae(self.mn, mn_stem)
        for to in ("/~/id-mn" + ae, "/_/warden.example.com/id-mn" + ae, ae):
            r = self.mn.c.retrieve(to, origin=mn_stem)
            self.assertEqual(r.rsc, 2000, (to, r.body))


class ThreeCseCase(Base):
    """IN <- MN <- ASN: the MN is the ASN's registrar and keeps the IN informed of it (dcse)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.asn = Cse(cls.pki, "/id-asn", "cse-asn", cse_type="ASN", registrar=cls.mn).start()

    @classmethod
    def tearDownClass(cls):
        cls.asn.cleanup()
        super().tearDownClass()

    def chain_registered(self):
        a = self.inc.c.retrieve("/cse-in/id-mn")
        b = self.mn.c.retrieve("/cse-mn/id-asn")
        return (a.rsc == 2000 and b.rsc == 2000 and "/id-asn" in a.body["m2m:csr"].get("dcse", [])) and (a, b)

    def test_ts0004_7_4_4_2_1_registrar_keeps_descendant_cses_and_in_routes_to_asn(self):
        self.wait_for(self.chain_registered, what="ASN registered at the MN and in the MN's dcse at the IN")
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        asn_stem = uniq("Casn")
        asn_ae = self.ae(self.asn, asn_stem)
        acp = self.acp_for(self.asn, ["/id-in/" + in_stem], 2, asn_stem)
        cnt = self.cnt_with_cin(self.asn, asn_ae, asn_stem, [acp])
        r = self.inc.c.retrieve("/~/id-asn" + cnt + "/cin1", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:cin"]["con"], "v1")

    def test_ts0004_7_3_2_1_asn_ae_relayed_by_mn_is_accepted_at_in(self):
        """ASN -> MN -> IN: the IN accepts /id-asn/C... from the MN because /id-asn is in the MN's
        dcse; the ACP on the IN names the ASN's AE."""
        self.wait_for(self.chain_registered, what="chain registration")
        asn_stem = uniq("Casn")
        self.ae(self.asn, asn_stem)
        in_stem = uniq("Cin")
        in_ae = self.ae(self.inc, in_stem)
        acp = self.acp_for(self.inc, ["/id-asn/" + asn_stem], 2, in_stem)
        cnt = self.cnt_with_cin(self.inc, in_ae, in_stem, [acp])
        r = self.asn.c.retrieve("/~/id-in" + cnt + "/cin1", origin=asn_stem)
        self.assertEqual(r.rsc, 2000, r.body)

    def test_ts0003_7_2_mn_cannot_relay_an_ae_of_a_cse_outside_its_descendants(self):
        """The MN's certificate does not let it speak for an AE of /id-other (not in its dcse)."""
        self.wait_for(self.chain_registered, what="chain registration")
        c = self.cse_client(self.inc, self.mn)
        r = c.retrieve("/~/id-in/cse-in", origin="/id-other/Cx")
        self.assertEqual(r.rsc, 4106, r.body)

    def test_ts0003_7_2_registree_claiming_other_cses_as_descendants_gains_nothing(self):
        """A registree (/id-evil) that lists /id-mn (registered here itself) and /id-asn (the MN's
        descendant) in its dcse: the IN still routes /id-mn to the MN, routes /id-asn to neither
        (claimed twice: fail closed), and refuses the AEs of both when /id-evil relays them (4106);
        its own CSE-ID or the IN's in dcse is 4000."""
        self.wait_for(self.chain_registered, what="chain registration")
        crt, key, _ = self.pki.issue("/id-evil", name="cse-evil", ips=["127.0.0.1"])

        class Evil:
            pass
        evil = Evil()
        evil.cert, evil.key = crt, key
        c = self.cse_client(self.inc, evil)
        body = {"csi": "/id-evil", "cb": "/id-evil/cse-evil", "rr": True, "poa": ["https://127.0.0.1:1"]}
        for bad in (["/id-in"], ["/id-evil"], ["//other.example.com/id-x"]):
            r = c.create("/~/id-in/cse-in", TY_CSR, dict(body, dcse=bad), origin="/id-evil", root="m2m:csr")
            self.assertEqual(r.rsc, 4000, (bad, r.body))
        r = c.create("/~/id-in/cse-in", TY_CSR, dict(body, dcse=["/id-mn", "/id-asn"]), origin="/id-evil",
                     root="m2m:csr")
        self.assertEqual(r.rsc, 2001, r.body)
        self.addCleanup(self.inc.c.delete, "/cse-in/id-evil")
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        r = self.inc.c.retrieve("/~/id-mn/cse-mn/nothing", origin=in_stem)
        self.assertEqual(r.rsc, 4004, r.body)  # answered by the MN, not 5103 from /id-evil's poa
        r = self.inc.c.retrieve("/~/id-asn/cse-asn/nothing", origin=in_stem)
        self.assertEqual(r.rsc, 4004, r.body)
        self.assertIn("not hosted here", r.body["m2m:dbg"])  # the IN's own 4004 (no route), not the ASN's
        for origin in ("/id-mn/Cvictim", "/id-asn/Cvictim"):
            r = c.retrieve("/~/id-in/cse-in", origin=origin)
            self.assertEqual(r.rsc, 4106, (origin, r.body))

    def test_ts0004_7_4_4_2_1_asn_accepts_no_registree(self):
        c = self.cse_client(self.asn, self.mn)
        r = c.create("/~/id-asn/cse-asn", TY_CSR, {"csi": "/id-mn", "cb": "/id-mn/cse-mn", "rr": True},
                     origin="/id-mn", root="m2m:csr")
        self.assertEqual(r.rsc, 4005, r.body)


class PskBase(Base):
    """The same two CSEs without any certificate: one PSK, bound to /id-in on the MN and to /id-mn
    on the IN (wardenctl psk add), authenticates both directions (TS-0003 §8.2.2.1)."""

    KID = "mn-in@warden.example.com"

    @classmethod
    def setUpClass(cls):
        cls.catmp = tempfile.mkdtemp(prefix="warden-mcse-ca-")
        cls.pki = None
        key = os.urandom(16).hex()
        cls.inc = Cse(None, "/id-in", "cse-in", psk=(cls.KID, key, "/id-mn")).start()
        cls.mn = Cse(None, "/id-mn", "cse-mn", cse_type="MN", registrar=cls.inc,
                     psk=(cls.KID, key, "/id-in")).start()


class PskRevocationCase(PskBase):
    def test_ts0003_8_2_2_1_key_revoked_at_the_in_next_forward_is_5103(self):
        """wardenctl psk revoke on the IN: the MN's next forwarded request fails its handshake (5103)."""
        self.wait_for(self.registered, what="registration over TLS-PSK")
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        self.assertEqual(self.mn.c.retrieve("/~/id-in/cse-in/nothing", origin=mn_stem).rsc, 4004)
        Ctl(os.path.join(self.inc.tmp, "warden.db"), ["--cse.id=/id-in", "--cse.rn=cse-in"]).ok(
            "psk", "revoke", self.KID)
        self.wait_for(lambda: self.mn.c.retrieve("/~/id-in/cse-in/nothing", origin=mn_stem).rsc == 5103,
                      what="the revoked key refused")


class PskCase(PskBase):

    def test_ts0003_8_2_2_1_psk_registration_both_sides_hold_remotecse(self):
        a, b = self.wait_for(self.registered, what="registration over TLS-PSK")
        self.assertEqual(a.body["m2m:csr"]["csi"], "/id-mn")

    def test_ts0004_7_3_2_6_psk_forwarding_both_ways(self):
        self.wait_for(self.registered, what="registration over TLS-PSK")
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        mn_stem = uniq("Cmn")
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/" + in_stem], 2, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, [acp])
        r = self.inc.c.retrieve("/~/id-mn" + cnt + "/cin1", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        acp = self.acp_for(self.inc, ["/id-mn/" + mn_stem], 2, in_stem)
        cnt = self.cnt_with_cin(self.inc, "/cse-in/" + in_stem, in_stem, [acp])
        r = self.mn.c.retrieve("/~/id-in" + cnt + "/cin1", origin=mn_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        r = self.mn.c.retrieve("/~/id-in" + cnt + "/nothing", origin=mn_stem)
        self.assertEqual(r.rsc, 4004, r.body)


class PskRestartCase(PskBase):
    def test_ts0001_10_2_2_6_registrar_restarted_first_forward_over_psk_succeeds(self):
        """The IN restarts, several times: the MN's first forwarded request after each restart is
        answered by the IN (4004 for a target that does not exist), never 5103."""
        self.wait_for(self.registered, what="registration over TLS-PSK")
        mn_stem = uniq("Cmn")
        self.ae(self.mn, mn_stem)
        self.assertEqual(self.mn.c.retrieve("/~/id-in/cse-in/nothing", origin=mn_stem).rsc, 4004)
        for _ in range(3):
            self.inc.stop()
            self.inc.start()
            r = self.mn.c.retrieve("/~/id-in/cse-in/nothing", origin=mn_stem)
            self.assertEqual(r.rsc, 4004, r.body)


class RegistrarConfigCase(unittest.TestCase):
    """registrar.* and cse.poa are checked at start: exit status 2 and a message naming the key."""

    def start_fails(self, *args):
        tmp = tempfile.mkdtemp(prefix="warden-mcse-cfg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        p = subprocess.run([warden_bin(), "--store.path=%s/w.db" % tmp, "--cse.id=/id-mn", "--cse.rn=cse-mn",
                            "--http.port=0"] + list(args), capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 2, p.stderr)
        return p.stderr

    def test_issue14_registrar_keys_set_together(self):
        self.assertIn("registrar.address", self.start_fails("--registrar.address=https://127.0.0.1:1"))

    def test_issue14_registrar_is_not_this_cse(self):
        self.assertIn("own CSE-ID", self.start_fails("--registrar.address=https://127.0.0.1:1",
                                                     "--registrar.id=/id-mn", "--registrar.rn=cse-mn"))

    def test_issue14_secure_profile_reaches_registrar_in_plaintext_only_on_loopback(self):
        self.assertIn("loopback", self.start_fails("--cse.profile=secure", "--registrar.address=http://10.0.0.1:80",
                                                   "--registrar.id=/id-in", "--registrar.rn=cse-in"))

    def test_issue14_registration_over_mqtts_needs_the_mqtt_binding_on_that_broker(self):
        """mqtts:// registrars are reached over the MQTT binding's own broker connection, which must be
        TLS and authenticate its clients (README "Multi-CSE over MQTT")."""
        reg = ["--registrar.id=/id-in", "--registrar.rn=cse-in"]
        mq = ["--mqtt.address=127.0.0.1", "--mqtt.port=8883"]
        self.assertIn("mqtt.address:mqtt.port", self.start_fails("--registrar.address=mqtts://127.0.0.1:8883", *reg))
        self.assertIn("mqtt.address:mqtt.port", self.start_fails("--registrar.address=mqtts://127.0.0.1:9999",
                                                                 "--mqtt.tls=1", "--mqtt.authenticated=1", *(mq + reg)))
        self.assertIn("mqtt.tls=1", self.start_fails("--registrar.address=mqtts://127.0.0.1:8883",
                                                     "--mqtt.authenticated=1", *(mq + reg)))
        self.assertIn("mqtt.authenticated=1", self.start_fails("--registrar.address=mqtts://127.0.0.1:8883",
                                                               "--mqtt.tls=1", *(mq + reg)))
        self.assertIn("loopback", self.start_fails("--cse.profile=secure", "--registrar.address=mqtt://10.0.0.1:1883",
                                                   "--mqtt.address=10.0.0.1", "--mqtt.port=1883",
                                                   "--mqtt.authenticated=1", *reg))

    def test_issue14_registration_over_coaps_needs_the_coap_binding(self):
        self.assertIn("coaps.port", self.start_fails("--registrar.address=coaps://127.0.0.1:5684",
                                                     "--registrar.id=/id-in", "--registrar.rn=cse-in"))

    def test_issue14_cse_poa_entries_are_urls(self):
        self.assertIn("cse.poa", self.start_fails("--cse.poa=https://127.0.0.1:8443,nonsense"))


class LoopCase(unittest.TestCase):
    """Two CSEs misconfigured as each other's registrar: a request for a third CSE goes round."""

    def test_ts0004_7_3_2_6_forwarding_loop_is_refused_not_timed_out(self):
        """A -> B -> A: the request comes back to A, which refuses it at once (the relayed From of
        its own AE over B's association is 4000 before routing; a request whose originator passes
        is caught by the in-flight key of route.c: 5103) instead of circling until it times out."""
        tmp = tempfile.mkdtemp(prefix="warden-mcse-ca-")
        try:
            pki = Pki(Ctl(os.path.join(tmp, "ca.db")), os.path.join(tmp, "pki"))
            a = Cse(pki, "/id-a", "cse-a", cse_type="MN")
            b = Cse(pki, "/id-b", "cse-b", cse_type="MN", registrar=a)
            a.registrar = b
            try:
                a.start()
                b.start()
                stem = uniq("Ca")
                r = a.c.create("/cse-a", TY_AE, {"rn": stem, "api": "Nmcse", "rr": False}, origin=stem)
                self.assertEqual(r.rsc, 2001, r.body)
                t0 = time.monotonic()
                r = a.c.retrieve("/~/id-zz/cse-zz", origin=stem)
                self.assertIn(r.rsc, (4000, 4106, 5103), r.body)
                self.assertLess(time.monotonic() - t0, FORWARD_TIMEOUT_MS / 1000.0)
            finally:
                a.cleanup()
                b.cleanup()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class Red8SquatCase(Base):
    """Red-team finding 8: a <remoteCSE> is found by its csi, never by a name. An AE registered at
    the IN first under the MN's CSE-ID name ("id-mn") blocked the MN's registration for good (4117
    from the name, then the AE answering the MN's checks); TS-0004 §7.4.4.2.1 checks the CSE-ID,
    and the hosting CSE names the <remoteCSE> itself when the name is taken (TS-0001 §10.1.2)."""

    @classmethod
    def setUpClass(cls):
        cls.catmp = tempfile.mkdtemp(prefix="warden-mcse-ca-")
        cls.pki = Pki(Ctl(os.path.join(cls.catmp, "ca.db")), os.path.join(cls.catmp, "pki"))
        cls.inc = Cse(cls.pki, "/id-in", "cse-in").start()
        # the AE squats the name first, before the MN ever starts
        r = cls.inc.c.create("/cse-in", TY_AE, {"rn": "id-mn", "api": "Nsquat", "rr": False}, origin="Csquat")
        assert r.rsc == 2001, r.body
        cls.mn = Cse(cls.pki, "/id-mn", "cse-mn", cse_type="MN", registrar=cls.inc).start()

    def mn_csr(self):
        """The IN's <remoteCSE> with csi /id-mn, found by csi (discovery), and its doc."""
        r = self.inc.c.retrieve("/cse-in", query={"fu": "1", "ty": str(TY_CSR), "lvl": "1"})
        if r.rsc != 2000:
            return None
        for uri in r.body.get("m2m:uril", []):
            g = self.inc.c.retrieve("/" + uri.lstrip("/"))
            if g.rsc == 2000 and g.body.get("m2m:csr", {}).get("csi") == "/id-mn":
                return g.body["m2m:csr"]
        return None

    def test_red_8_an_ae_named_like_a_cse_id_does_not_block_its_registration(self):
        csr = self.wait_for(self.mn_csr, what="the MN's registration beside the AE named id-mn")
        self.assertNotEqual(csr["rn"], "id-mn")  # the AE keeps its name
        self.assertEqual(self.inc.c.retrieve("/cse-in/id-mn").body.get("m2m:ae", {}).get("api"), "Nsquat")
        self.wait_for(lambda: self.mn.c.retrieve("/cse-mn/id-in").rsc == 2000, what="the MN's own <remoteCSE>")
        # an AE on the IN reads the MN's container through the route step, by csi
        in_stem = uniq("Cinapp")
        self.ae(self.inc, in_stem)
        mn_stem = uniq("Cmn")
        mn_ae = self.ae(self.mn, mn_stem)
        acp = self.acp_for(self.mn, ["/id-in/" + in_stem], 2, mn_stem)
        cnt = self.cnt_with_cin(self.mn, mn_ae, mn_stem, [acp])
        r = self.inc.c.retrieve("/~/id-mn" + cnt + "/cin1", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:cin"]["con"], "v1")
        # the MN restarts elsewhere: 4117 tells it where its registration is, and it updates that one
        self.mn.stop()
        self.mn.https_port = free_port()
        self.mn.start()
        want = ["https://127.0.0.1:%d" % self.mn.https_port]
        self.wait_for(lambda: (self.mn_csr() or {}).get("poa") == want, what="the new poa at the IN")
        self.assertEqual(self.mn_csr()["ri"], csr["ri"])  # the same registration, kept
        r = self.inc.c.retrieve("/~/id-mn" + cnt + "/cin1", origin=in_stem)
        self.assertEqual(r.rsc, 2000, r.body)

    def test_red_8_the_registree_is_known_by_csi_to_announcement_beside_the_ae_named_like_it(self):
        """TS-0004 §7.3.3.10: the IN accepts the MN's announcements (the announcer is a CSE registered
        here, found by csi), though an AE holds the name id-mn there."""
        self.wait_for(self.mn_csr, what="the MN's registration beside the AE named id-mn")
        stem = uniq("Cgw")
        r = self.mn.c.create("/cse-mn", TY_AE, {"rn": stem.lower(), "api": "Nannc", "rr": False, "srv": ["3"],
                                                "at": ["/id-in"]}, origin=stem)
        self.assertEqual(r.rsc, 2001, r.body)

        def announced():
            g = self.mn.c.retrieve("/cse-mn/" + stem.lower())
            return next((a for a in g.body.get("m2m:ae", {}).get("at", []) if a.startswith("/id-in/")), None)
        addr = self.wait_for(announced, what="the AE's copy at the IN")
        a = self.inc.c.retrieve(addr[len("/id-in"):])
        self.assertEqual(a.rsc, 2000, a.body)
        self.assertEqual(a.body["m2m:aeA"]["lnk"], "/id-mn/cse-mn/" + stem.lower())

    def test_red_8_an_ae_named_like_the_registrar_at_the_registree_takes_nothing_from_it(self):
        """The same on the registree's side: an AE of the MN holds the name id-in before the MN
        registers. The MN's <remoteCSE> for the IN is found by its ri (csr-id-in), the IN keeps its
        esi there (TS-0003 §8.4.2 B.1b), and cse-mn2/id-in stays the AE's (never routed to the IN)."""
        mn2 = Cse(self.pki, "/id-mn2", "cse-mn2", cse_type="MN").start()
        self.addCleanup(mn2.cleanup)
        r = mn2.c.create("/cse-mn2", TY_AE, {"rn": "id-in", "api": "Nsquat", "rr": False}, origin="Csquat2")
        self.assertEqual(r.rsc, 2001, r.body)
        mn2.stop()
        mn2.registrar = self.inc
        mn2.start()

        def esro(c, path):
            g = c.retrieve(path)
            return g.rsc == 2000 and list(g.body.values())[0].get("esi", {}).get("esro")
        self.wait_for(lambda: esro(mn2.c, "/csr-id-in") and esro(mn2.c, "/csr-id-in") == esro(self.inc.c, "/cse-in"),
                      timeout=15, what="the IN's esi on the MN's <remoteCSE> for it")
        csr = mn2.c.retrieve("/csr-id-in").body["m2m:csr"]
        self.assertEqual((csr["csi"], csr["rn"]), ("/id-in", "csr-id-in"))
        g = mn2.c.retrieve("/cse-mn2/id-in/nothing")  # CSE-relative below the AE: local, not the IN's
        self.assertEqual(g.rsc, 4004, g.body)
        self.assertEqual(mn2.c.retrieve("/cse-mn2/id-in").body["m2m:ae"]["api"], "Nsquat")


if __name__ == "__main__":
    unittest.main(verbosity=2)
