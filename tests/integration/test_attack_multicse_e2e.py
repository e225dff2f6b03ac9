"""Red-team findings on the multi-CSE and end-to-end surfaces (announcement, remote group fan-out,
remote fetch, ESPrim, ESCertKE, park/resume), each kept as a black-box regression test named by
its finding number and the rule it checks.

An IN-CSE and an MN-CSE registered to it (test_multicse's set-up: one CA, CSE-ID certificates).

Run: WARDEN_BIN=build/warden python3 tests/integration/test_attack_multicse_e2e.py
"""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

from coap_helpers import decode, encode, uint, ubytes
from test_announcement import AnnouncementMixin
from test_coap import CoapBase
from test_multicse import Base
from tls_helpers import Ctl
from wardentest import ADMIN, uniq, warden_bin

TY_AE, TY_CNT, TY_CIN, TY_GRP, TY_CBA = 2, 3, 4, 9, 10005
BLOCK2, RSC = 23, 307
KEY = "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677"


def cli_bin():
    return os.path.join(os.path.dirname(os.path.abspath(warden_bin())), "warden-cli")


class EsprimLeakCase(Base):
    """Finding 1: the inner request of an ESPrim object must never leave its receiver in the clear
    (TS-0003 §8.4: ESPrim protects the whole primitive end to end; README "End-to-end security:
    ESPrim"). A direct address of another CSE was refused, but the same request through a local
    <group>'s fanOutPoint, or a <group> CREATE whose members are validated on their CSE (remote
    fetch), went on to the other CSE over the hop-by-hop association, Content and all."""

    def setUp(self):
        super().setUp()
        self.wait_for(self.registered, what="registration")
        self.stem = uniq("Csecret")
        self.in_ae = self.ae(self.inc, self.stem)
        self.mn_stem = uniq("Cmn")
        self.mn_ae = self.ae(self.mn, self.mn_stem)
        # a container on the MN in which the IN's AE may create (its own requests, unsecured, do)
        acp = self.acp_for(self.mn, ["/id-in/" + self.stem], 3, self.mn_stem)
        self.mn_cnt = self.cnt_with_cin(self.mn, self.mn_ae, self.mn_stem, [acp])
        self.kid = uniq("kleak")
        self.keyfile = os.path.join(self.inc.tmp, self.kid + ".hex")
        with open(self.keyfile, "w") as f:
            f.write(KEY + "\n")
        os.chmod(self.keyfile, 0o600)
        Ctl(self.inc.srv.store_path, ["--cse.id=/id-in", "--cse.rn=cse-in"]).ok(
            "e2e", "add", self.kid, "/id-in", self.stem, stdin=KEY + "\n")

    def esprim(self, *args):
        argv = [cli_bin(), "-u", "http://127.0.0.1:%d" % self.inc.srv.port, "-o", self.stem,
                "--esprim-from", self.stem, "--esprim", self.kid, "--esprim-key-file", self.keyfile,
                "--esprim-to", "/id-in/cse-in"] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        first = p.stderr.split()[0] if p.stderr.split() else ""
        return (int(first) if first.isdigit() else None), p.stdout, p.stderr

    def mn_contents(self):
        r = self.mn.c.retrieve(self.mn_cnt + "?rcn=4", origin=self.mn_stem)
        self.assertEqual(r.rsc, 2000, r.body)
        return json.dumps(r.body)

    def test_red_1_esprim_inner_request_through_a_group_fanout_is_not_forwarded_in_the_clear(self):
        grp = uniq("grp")
        r = self.inc.c.create(self.in_ae, TY_GRP, {"rn": grp, "mt": 0, "mnm": 5, "mid": ["/id-mn" + self.mn_cnt]},
                              root="m2m:grp", origin=self.stem)
        self.assertEqual(r.rsc, 2001, r.body)
        # unsecured, the fan-out reaches the MN member (the set-up is right)
        r = self.inc.c.create(self.in_ae + "/" + grp + "/fopt", TY_CIN, {"con": "plain"}, origin=self.stem)
        self.assertEqual(r.rsc, 2000, r.body)
        self.assertEqual(r.body["m2m:agr"]["m2m:rsp"][0]["rsc"], 2001, r.body)
        secret = uniq("esprim-secret-")
        rsc, out, err = self.esprim("create", "/~/id-in/cse-in/%s/%s/fopt" % (self.stem, grp), "cin",
                                    json.dumps({"con": secret}))
        self.assertEqual(rsc, 2000, out + err)
        member = json.loads(out)["m2m:agr"]["m2m:rsp"][0]
        self.assertEqual(member["rsc"], 4005, out)
        self.assertNotIn(secret, self.mn_contents())
        self.assertNotIn(secret, "\n".join(self.mn.srv.stderr_lines))

    def test_red_1_esprim_group_create_does_not_fetch_its_members_from_another_cse(self):
        """The member list is part of the secured Content: validating mt on the member's CSE would
        send each member address there in the clear (as a RETRIEVE from the inner originator)."""
        marker = uniq("cntsecret")
        acp = self.acp_for(self.mn, ["/id-in/" + self.stem], 3, self.mn_stem)
        r = self.mn.c.create(self.mn_ae, TY_CNT, {"rn": marker, "acpi": [acp]}, origin=self.mn_stem)
        self.assertEqual(r.rsc, 2001, r.body)
        grp = uniq("grp")
        rsc, out, err = self.esprim("create", "/~/id-in/cse-in/" + self.stem, "grp",
                                    json.dumps({"rn": grp, "mt": TY_CNT, "mnm": 5,
                                                "mid": ["/id-mn/cse-mn/%s/%s" % (self.mn_stem, marker)]}))
        self.assertEqual(rsc, 2001, out + err)
        # created, its remote member left unvalidated (as when the member's CSE cannot be asked)
        self.assertFalse(json.loads(out)["m2m:grp"].get("mtv", False), out)
        self.assertNotIn(marker, "\n".join(self.mn.srv.stderr_lines))


class AnnouncedLinkCase(AnnouncementMixin, Base):
    """Finding 2: the link (lnk) of an announced resource names the original on the announcing CSE
    (TS-0001 §9.6.26.1); a CREATE was checked (annc.c: 4103 for another CSE's resource), but lnk is
    updatable (TS-0004 Table 7.4.26.1-2) and an UPDATE was not: the announcing CSE could re-point
    its copy at another CSE's resource, and anyone an announced policy lets update the copy could
    point it anywhere."""

    def test_red_2_update_of_lnk_to_another_cses_resource_is_refused(self):
        self.ready()
        gw = uniq("Cgw")
        ae, _ = self.mn_ae(gw)
        path = self.in_path(self.announced(ae, "m2m:ae"))
        c = self.cse_client(self.inc, self.mn)
        for forged, rsc in (("/id-xx/cse-xx/victim", 4103), ("/id-in/cse-in", 4103), ("/id-mnx/y", 4103),
                            ("//other.sp/id-mn/cse-mn/x", 4000), ("id-mn/x", 4000)):
            r = c.update("/~/id-in" + path, "m2m:aeA", {"lnk": forged}, origin="/id-mn")
            self.assertEqual(r.rsc, rsc, (forged, r.body))
        self.assertEqual(self.inc.c.retrieve(path).body["m2m:aeA"]["lnk"], "/id-mn" + ae)
        # a link to another resource of the announcing CSE is still an update it may make
        r = c.update("/~/id-in" + path, "m2m:aeA", {"lnk": "/id-mn" + ae, "lbl": ["k:v"]}, origin="/id-mn")
        self.assertEqual(r.rsc, 2004, r.body)


class OutboxCase(AnnouncementMixin, Base):
    """Finding 3: every UPDATE of an announced resource wrote one more outbox step per target, and a
    step is only removed once its target answered: while a target is down (or refuses to answer), an
    AE updating its announced container in a loop grows the announcing CSE's store without bound and
    queues every later announcement to that target behind its steps. An UPDATE step sends the
    resource's state when it begins, so a second step of the same kind for the same copy that has
    not begun yet adds nothing: it is not written."""

    def outbox(self, target):
        db = sqlite3.connect("file:%s?mode=ro" % self.mn.srv.store_path, uri=True, timeout=10)
        try:
            return db.execute("SELECT op, count(*) FROM annc_outbox WHERE target = ? GROUP BY op",
                              (target,)).fetchall()
        finally:
            db.close()

    def test_red_3_updates_while_the_target_is_down_do_not_grow_the_outbox(self):
        stem, ae = self.mn_container_while_in_down("temp")
        for k in range(40):
            r = self.mn.c.update(ae + "/temp", "m2m:cnt", {"lbl": ["n:%d" % k]}, origin=stem)
            self.assertEqual(r.rsc, 2004, r.body)
        steps = sum(n for _, n in self.outbox("/id-in"))
        # the AE's and the container's CREATE (and the CSEBaseAnnc's), one pending UPDATE of each
        self.assertLessEqual(steps, 6, self.outbox("/id-in"))
        self.inc.start()
        addr = self.in_path(self.announced(ae + "/temp", "m2m:cnt"))
        self.wait_for(lambda: self.inc.c.retrieve(addr).body.get("m2m:cntA", {}).get("lbl") == ["n:39"],
                      timeout=15, what="the last label on the copy")


class EndlessBlock2(threading.Thread):
    """A CoAP notification target that answers every request with one more 1 KiB Block2 block, with
    M=1 for ever (RFC 7959 §2.4): an answer of unbounded size."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.stop_flag = False
        self.start()

    def run(self):
        while not self.stop_flag:
            try:
                pkt, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            d = decode(pkt)
            if d["type"] != 0:
                continue
            self.requests += 1
            num = 0
            for n, v in d["options"]:
                if n == BLOCK2:
                    num = uint(v) >> 4
            opts = [(BLOCK2, ubytes((num << 4) | 8 | 6)), (RSC, ubytes(2000))]
            self.sock.sendto(encode(2, (2 << 5) | 5, d["mid"], d["token"], opts, b"x" * 1024), addr)

    def close(self):
        self.stop_flag = True
        self.join(2)
        self.sock.close()


class CoapClientBlock2Case(CoapBase):
    """Finding 5: an answer to a request Warden sends over CoAP (a notification, a request forwarded
    to a CSE) was reassembled whole by libcoap (COAP_BLOCK_SINGLE_BODY) before Warden saw any of it:
    a peer answering with Block2 blocks that never end made the CSE ask for block after block, and
    keep them all in memory, until the request's timeout."""

    def test_red_5_coap_answer_with_endless_block2_is_not_reassembled(self):
        peer = EndlessBlock2()
        try:
            ae, rn = self.register()
            self.assertCoap(self.req("POST", "cse-in/" + rn, fr=ae, ty=3, data='{"m2m:cnt":{"rn":"c"}}'),
                            "2.01", 2001)
            nu = "coap://127.0.0.1:%d/n" % peer.port
            r = self.req("POST", "cse-in/%s/c" % rn, fr=ae, ty=23,
                         data=json.dumps({"m2m:sub": {"rn": "s", "nu": [nu], "enc": {"net": [3]}}}))
            self.assertCoap(r, "2.01", 2001)
            self.assertCoap(self.req("POST", "cse-in/%s/c" % rn, fr=ae, ty=4, data='{"m2m:cin":{"con":"v"}}'),
                            "2.01", 2001)
            # the notification reaches the peer; then its requests stop (at most the block libcoap
            # asked for before Warden saw the first one)
            deadline = time.monotonic() + 5
            while peer.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(peer.requests, 1, "no notification reached the peer")
            last, quiet_since = peer.requests, time.monotonic()
            while time.monotonic() < deadline and time.monotonic() - quiet_since < 1.0:
                time.sleep(0.1)
                if peer.requests != last:
                    last, quiet_since = peer.requests, time.monotonic()
            self.assertLessEqual(peer.requests, 3, "the CSE kept asking for more blocks")
            self.assertTrue(self.srv.running())
        finally:
            peer.close()


class E2eDeriveBindingCase(unittest.TestCase):
    """Finding 6: `wardenctl e2e derive KPSAID KID LOCAL_ID PEER_ID` derived a pairwise ESPrim key
    from any Kpsa for any PEER_ID. The derivation (TS-0003 §10.3.6) is public but for the Kpsa, so
    whoever holds that Kpsa (the entity it is bound to) could compute the key and send ESPrim
    requests whose inner From is PEER_ID: the key must be bound to the Kpsa's own identity."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="warden-red-derive-")
        self.ctl = Ctl(os.path.join(self.tmp, "warden.db"), ["--cse.id=/id-in", "--cse.rn=cse-in"])
        self.ctl.ok("init")
        self.ctl.ok("psk", "add", "cdev@red.example.com", "Cdev", stdin="ab" * 32 + "\n")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_red_6_e2e_derive_refuses_a_peer_the_kpsa_is_not_bound_to(self):
        p = self.ctl.run("e2e", "derive", "cdev@red.example.com", "kother", "/id-in", "Cvictim")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("bound", p.stderr)
        self.assertNotIn("kother", self.ctl.ok("e2e", "list").stdout)
        # the Kpsa's own identity, in any of its forms, is what the key is for
        self.ctl.ok("e2e", "derive", "cdev@red.example.com", "kdev", "/id-in", "Cdev")
        self.ctl.ok("e2e", "derive", "cdev@red.example.com", "kdev2", "/id-in", "//warden.example.com/id-in/Cdev")
        self.assertIn("kdev", self.ctl.ok("e2e", "list").stdout)


class AnnouncedBaseNameCase(AnnouncementMixin, Base):
    """Finding 7: an announcing CSE used to make its <CSEBaseAnnc> at the target under the name
    "<its CSE-ID>Annc" and take a 4105 for that name as its own earlier copy, so an AE of the target
    registering under that name first (or another registered CSE naming its own <CSEBaseAnnc> so) took
    the announcing CSE's place. Fixed at the root: rn is not sent (TS-0004 Table 7.4.26.1-2: NP), the
    target names the copy, and the announcing CSE finds its <CSEBaseAnnc> by type and lnk, which only
    it may set (the CSE lnk names must be the creator)."""

    def test_red_7_a_squatted_name_does_not_take_the_announcing_cses_place(self):
        self.ready()
        # the name carries no meaning any more: an AE may have it
        r = self.inc.c.create("/cse-in", TY_AE, {"rn": "id-mnAnnc", "api": "Nsquat", "rr": False}, origin="Csquat")
        self.assertEqual(r.rsc, 2001, r.body)
        # a CSE cannot make a <CSEBaseAnnc> that claims another CSE (lnk names its creator only)
        c = self.cse_client(self.inc, self.mn)
        r = c.create("/~/id-in/cse-in", TY_CBA, {"lnk": "/id-other/cse-other", "et": "20991231T000000"},
                     origin="/id-mn", root="m2m:cbA")
        self.assertEqual(r.rsc, 4103, r.body)
        # the MN's own announcement goes below the MN's <CSEBaseAnnc>, not below the squatting AE
        gw = uniq("Cgw")
        ae, _ = self.mn_ae(gw)
        addr = self.announced(ae, "m2m:ae")
        self.assertEqual(addr.rsplit("/", 1)[0], self.cba_at_in())
        self.assertNotIn("id-mnAnnc", addr)


if __name__ == "__main__":
    unittest.main()
