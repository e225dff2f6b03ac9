#!/usr/bin/python3
"""TS-0004 7.3.2.1 originator (From) checks, done before any routing.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_originator.py
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_ID, CSE_RN, OMIT, SPID, TY_CNT, WardenTestCase,  # noqa: E402
                        main, uniq)


class OriginatorTest(WardenTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.c.register_ae(origin="C", rn=uniq("orig"))
        assert r.rsc == 2001, r
        ae = r.body["m2m:ae"]
        cls.aei, cls.ae_rn = ae["aei"], ae["rn"]
        cls.ae_path = "/%s/%s" % (CSE_RN, cls.ae_rn)
        r = cls.c.create(cls.ae_path, TY_CNT, {"rn": "cnt"}, origin=cls.aei)
        assert r.rsc == 2001, r
        cls.cnt_path = cls.ae_path + "/cnt"
        cls.cnt_ri = r.body["m2m:cnt"]["ri"]

    # ------------------------------------------------------------ missing From
    def test_ts0004_7_3_2_1_missing_from_retrieve_is_4000(self):
        self.assertRsc(self.c.retrieve(self.cnt_path, origin=OMIT), 4000)
        self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=OMIT), 4000)

    def test_ts0004_7_3_2_1_missing_from_create_container_is_4000(self):
        rn = uniq("nofrom")
        self.assertRsc(self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=OMIT), 4000)
        self.assertRsc(self.c.retrieve(self.ae_path + "/" + rn, origin=self.aei), 4004,
                       "rejected create must not create anything")

    def test_ts0004_7_3_2_1_missing_from_update_delete_is_4000(self):
        self.assertRsc(self.c.update(self.cnt_path, "m2m:cnt", {"lbl": ["x"]}, origin=OMIT), 4000)
        self.assertRsc(self.c.delete(self.cnt_path, origin=OMIT), 4000)
        r = self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei), 2000)
        self.assertNotIn("x", self.res(r, "m2m:cnt").get("lbl", []))

    def test_ts0004_7_3_2_1_missing_from_checked_before_routing(self):
        # Unknown target: still 4000, not 4004 (the From check comes first).
        self.assertRsc(self.c.retrieve("/%s/%s" % (CSE_RN, uniq("nothere")), origin=OMIT), 4000)

    def test_ts0004_7_3_2_1_missing_from_allowed_for_ae_create(self):
        r = self.assertRsc(self.c.register_ae(origin=OMIT, rn=uniq("anon")), 2001)
        aei = self.res(r, "m2m:ae")["aei"]
        self.assertTrue(aei.startswith("C") and len(aei) > 1, aei)

    # ------------------------------------------------------- unregistered AE
    def test_ts0004_7_3_2_1_unregistered_ae_id_from_is_4106(self):
        for origin in ("Cnotregistered-" + uniq(), "Snotregistered-" + uniq()):
            with self.subTest(origin=origin):
                self.assertRsc(self.c.retrieve(self.cnt_path, origin=origin), 4106)
                self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=origin), 4106)

    def test_ts0004_7_3_2_1_unregistered_sp_relative_and_absolute_ae_id_is_4106(self):
        stem = "Cnotregistered-" + uniq()
        for origin in ("%s/%s" % (CSE_ID, stem), "//%s%s/%s" % (SPID, CSE_ID, stem)):
            with self.subTest(origin=origin):
                self.assertRsc(self.c.retrieve(self.cnt_path, origin=origin), 4106)

    def test_ts0004_7_3_2_1_unregistered_ae_cannot_create_update_delete(self):
        spoof = "Cspoof-" + uniq()
        rn = uniq("spoofed")
        self.assertRsc(self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=spoof), 4106)
        self.assertRsc(self.c.retrieve(self.ae_path + "/" + rn, origin=self.aei), 4004)
        self.assertRsc(self.c.update(self.cnt_path, "m2m:cnt", {"lbl": ["spoof"]}, origin=spoof), 4106)
        self.assertRsc(self.c.delete(self.cnt_path, origin=spoof), 4106)
        r = self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei), 2000)
        self.assertNotIn("spoof", self.res(r, "m2m:cnt").get("lbl", []))

    def test_ts0004_7_3_2_1_deregistered_ae_id_is_4106(self):
        aei, _, path, _ = self.new_ae()
        self.assertRsc(self.c.retrieve(path, origin=aei), 2000)
        self.assertRsc(self.c.delete(path, origin=aei), 2002)
        self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=aei), 4106)

    # ---------------------------------------------------------------- CSE-ID
    def test_ts0004_7_3_2_1_cse_id_from_without_security_association_is_4107(self):
        for origin in ("/id-other", "/id-mn-" + uniq()):
            with self.subTest(origin=origin):
                self.assertRsc(self.c.retrieve(self.cnt_path, origin=origin), 4107)
        rn = uniq("csi")
        self.assertRsc(self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin="/id-other"), 4107)
        self.assertRsc(self.c.retrieve(self.ae_path + "/" + rn, origin=self.aei), 4004)

    # --------------------------------------------------- non-stem own AE-ID
    def test_ts0004_7_3_2_1_registered_ae_sp_relative_own_id_is_4000(self):
        r = self.c.retrieve(self.cnt_path, origin="%s/%s" % (CSE_ID, self.aei))
        self.assertRsc(r, 4000)

    def test_ts0004_7_3_2_1_registered_ae_absolute_own_id_is_4000(self):
        r = self.c.retrieve(self.cnt_path, origin="//%s%s/%s" % (SPID, CSE_ID, self.aei))
        self.assertRsc(r, 4000)

    def test_ts0004_7_3_2_1_registered_ae_stem_accepted(self):
        r = self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei), 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["ri"], self.cnt_ri)

    # ----------------------------------------------------------------- admin
    def test_contract_admin_accepted_without_registration_in_dev_profile(self):
        r = self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=ADMIN), 2000)
        self.assertEqual(self.res(r, "m2m:cb")["ty"], 5)
        r = self.assertRsc(self.c.retrieve(self.cnt_path, origin=ADMIN), 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["ri"], self.cnt_ri)
        rn = uniq("adm")
        self.assertRsc(self.c.create("/" + CSE_RN, TY_CNT, {"rn": rn}, origin=ADMIN), 2001)
        self.assertRsc(self.c.delete("/%s/%s" % (CSE_RN, rn), origin=ADMIN), 2002)

    # ------------------------------------------ no existence oracle on denial
    def _normalized(self, r, path):
        body = json.dumps(r.body, sort_keys=True) if isinstance(r.body, dict) else repr(r.body)
        if path:
            body = body.replace(path, "<PATH>").replace(path.lstrip("/"), "<PATH>")
        return (r.status, r.rsc, body)

    def _assert_same_denial(self, origin, rsc):
        existing = [self.cnt_path, "/" + self.cnt_ri, self.ae_path]
        missing = ["%s/%s" % (self.ae_path, uniq("ghost")), "/" + uniq("ghostri"),
                   "/%s/%s" % (CSE_RN, uniq("ghostae"))]
        answers = []
        for path in existing + missing:
            r = self.c.retrieve(path, origin=origin)
            self.assertRsc(r, rsc, "origin %r path %s" % (origin, path))
            answers.append((path, self._normalized(r, path)))
        first = answers[0][1]
        for path, a in answers[1:]:
            self.assertEqual(a, first, "denial for %s differs from denial for %s" % (path, answers[0][0]))

    def test_ts0004_7_3_2_1_spoofed_ae_denial_does_not_reveal_existence(self):
        self._assert_same_denial("Cspoofed-" + uniq(), 4106)

    def test_ts0004_7_3_2_1_cse_id_denial_does_not_reveal_existence(self):
        self._assert_same_denial("/id-spoof", 4107)

    def test_ts0004_7_3_2_1_missing_from_denial_does_not_reveal_existence(self):
        self._assert_same_denial(OMIT, 4000)

    def test_ts0004_7_3_2_1_spoofed_ae_delete_does_not_reveal_existence(self):
        spoof = "Cspoofed-" + uniq()
        ra = self.c.delete(self.cnt_path, origin=spoof)
        rb = self.c.delete("%s/%s" % (self.ae_path, uniq("ghost")), origin=spoof)
        self.assertRsc(ra, 4106)
        self.assertRsc(rb, 4106)
        self.assertEqual(self._normalized(ra, self.cnt_path)[:2], self._normalized(rb, "")[:2])
        self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei), 2000)


if __name__ == "__main__":
    main()
