#!/usr/bin/python3
"""Resource behaviour: CSEBase, AE, container, contentInstance, la/ol, rcn, et, access.

TS-0001 9.6.x / TS-0004 7.3.3 and 7.4.x, as narrowed by docs/http-contract.md.
Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_resources.py
"""

import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_ID, CSE_RN, OMIT, TY_AE, TY_CIN, TY_CNT,  # noqa: E402
                        WardenTestCase, et_in, main, start_shared_server, stop_shared_server, ts_epoch,
                        uniq)

TS_RE = re.compile(r"^\d{8}T\d{6}")

# One server for every class in this module.
setUpModule = start_shared_server
tearDownModule = stop_shared_server


def walk(obj):
    """Yield every dict nested anywhere in obj (obj included)."""
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk(v)


def is_empty_content(body):
    """rcn=0 / no Content: empty body or an empty JSON value."""
    return body in (b"", {}, None, [], "")


class ResourceTestBase(WardenTestCase):

    def setUp(self):
        # Every test gets its own AE so tests are independent.
        self.aei, self.ae_rn, self.ae_path, self.ae = self.new_ae(rn=uniq("ae"))

    def get(self, path, origin=None, **kw):
        return self.c.retrieve(path, origin=origin or self.aei, **kw)

    def cnt_state(self, path):
        r = self.assertRsc(self.get(path), 2000)
        return self.res(r, "m2m:cnt")


class CSEBaseTest(ResourceTestBase):

    def test_ts0004_7_4_3_csebase_retrieve_attributes(self):
        r = self.assertRsc(self.get("/" + CSE_RN, origin=ADMIN), 2000)
        cb = self.res(r, "m2m:cb")
        self.assertEqual(cb["ty"], 5)
        self.assertEqual(cb["rn"], CSE_RN)
        self.assertEqual(cb["csi"], CSE_ID)
        self.assertEqual(cb["cst"], 1)
        self.assertIsInstance(cb["ri"], str)
        self.assertTrue(cb["ri"])
        self.assertIsInstance(cb["srt"], list)
        for ty in (TY_AE, TY_CNT, TY_CIN):
            self.assertIn(ty, cb["srt"], "srt lacks supported type %d" % ty)
        self.assertIsInstance(cb["srv"], list)
        self.assertTrue(cb["srv"])
        self.assertRegex(cb["ct"], TS_RE)
        self.assertRegex(cb["lt"], TS_RE)

    def test_ts0004_7_4_3_csebase_retrievable_by_registered_ae(self):
        r = self.assertRsc(self.get("/" + CSE_RN), 2000)
        self.assertEqual(self.res(r, "m2m:cb")["rn"], CSE_RN)

    def test_ts0004_7_4_3_csebase_by_unstructured_id(self):
        ri = self.res(self.get("/" + CSE_RN, origin=ADMIN), "m2m:cb")["ri"]
        r = self.assertRsc(self.get("/" + ri, origin=ADMIN), 2000)
        self.assertEqual(self.res(r, "m2m:cb")["rn"], CSE_RN)

    def test_ts0004_7_4_3_csebase_update_and_delete_4005(self):
        self.assertRsc(self.c.update("/" + CSE_RN, "m2m:cb", {"lbl": ["x"]}, origin=ADMIN), 4005)
        self.assertRsc(self.c.delete("/" + CSE_RN, origin=ADMIN), 4005)
        self.assertRsc(self.get("/" + CSE_RN, origin=ADMIN), 2000)
        self.assertRsc(self.get(self.ae_path), 2000, "AE must survive a refused CSEBase delete")


class AETest(ResourceTestBase):

    def test_ts0004_7_4_5_register_from_c_allocates_c_id(self):
        r = self.assertRsc(self.c.register_ae(origin="C"), 2001)
        ae = self.res(r, "m2m:ae")
        self.assertRegex(ae["aei"], r"^C.+")
        self.assertEqual(ae["ri"], ae["aei"])
        self.assertEqual(ae["rn"], ae["aei"], "rn defaults to the AE-ID stem")
        self.assertEqual(ae["ty"], TY_AE)
        self.assertEqual(ae["api"], "Nwardentest")
        self.assertIs(ae["rr"], False)
        r = self.assertRsc(self.get("/%s/%s" % (CSE_RN, ae["rn"]), origin=ae["aei"]), 2000)
        self.assertEqual(self.res(r, "m2m:ae")["aei"], ae["aei"])

    def test_ts0004_7_4_5_register_from_s_allocates_s_id(self):
        r = self.assertRsc(self.c.register_ae(origin="S", rn=uniq("s")), 2001)
        ae = self.res(r, "m2m:ae")
        self.assertRegex(ae["aei"], r"^S.+")
        self.assertEqual(ae["ri"], ae["aei"])
        self.assertRsc(self.get("/" + CSE_RN, origin=ae["aei"]), 2000, "allocated S-id must be usable")

    def test_ts0004_7_4_5_register_from_empty_allocates_c_id(self):
        r = self.assertRsc(self.c.register_ae(origin="", rn=uniq("e")), 2001)
        aei = self.res(r, "m2m:ae")["aei"]
        self.assertRegex(aei, r"^C.+")
        self.assertRsc(self.get("/" + CSE_RN, origin=aei), 2000)

    def test_ts0004_7_4_5_register_without_from_allocates_c_id(self):
        r = self.assertRsc(self.c.register_ae(origin=OMIT, rn=uniq("n")), 2001)
        self.assertRegex(self.res(r, "m2m:ae")["aei"], r"^C.+")

    def test_ts0004_7_4_5_allocated_ids_are_unique(self):
        ids = set()
        for _ in range(5):
            r = self.assertRsc(self.c.register_ae(origin="C"), 2001)
            ids.add(self.res(r, "m2m:ae")["aei"])
        self.assertEqual(len(ids), 5)

    def test_ts0004_7_4_5_register_with_explicit_stem(self):
        stem = "Cstem" + uniq()
        r = self.assertRsc(self.c.register_ae(origin=stem), 2001)
        ae = self.res(r, "m2m:ae")
        self.assertEqual(ae["aei"], stem)
        self.assertEqual(ae["ri"], stem)
        self.assertEqual(ae["rn"], stem)
        self.assertEqual(r.headers.get("Content-Location", "").lstrip("/"), "%s/%s" % (CSE_RN, stem))
        self.assertRsc(self.get("/" + stem, origin=stem), 2000)

    def test_ts0004_7_4_5_register_with_explicit_s_stem(self):
        stem = "Sstem" + uniq()
        r = self.assertRsc(self.c.register_ae(origin=stem, rn=uniq("ss")), 2001)
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)

    def test_ts0004_7_4_5_reregistration_4117(self):
        stem = "Crereg" + uniq()
        rn1 = uniq("first")
        self.assertRsc(self.c.register_ae(origin=stem, rn=rn1), 2001)
        r = self.c.register_ae(origin=stem, rn=uniq("second"))
        self.assertRsc(r, 4117)
        r = self.assertRsc(self.get("/%s/%s" % (CSE_RN, rn1), origin=stem), 2000)
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)

    def test_ts0004_7_4_5_reregistration_of_allocated_id_4117(self):
        self.assertRsc(self.c.register_ae(origin=self.aei, rn=uniq("again")), 4117)

    def test_ts0004_7_4_5_register_after_deregistration_allowed(self):
        stem = "Ccycle" + uniq()
        self.assertRsc(self.c.register_ae(origin=stem), 2001)
        self.assertRsc(self.c.delete("/%s/%s" % (CSE_RN, stem), origin=stem), 2002)
        self.assertRsc(self.c.register_ae(origin=stem), 2001)

    def test_ts0004_7_4_5_api_validation(self):
        for api in ("Rcom.example.app", "rcom.example.app", "Nlocal"):
            with self.subTest(api=api):
                r = self.assertRsc(self.c.register_ae(origin="C", api=api), 2001)
                self.assertEqual(self.res(r, "m2m:ae")["api"], api)
        for api in ("xapp", "napp", "app", "", "1abc"):
            with self.subTest(api=api):
                stem = "Capi" + uniq()
                self.assertRsc(self.c.register_ae(origin=stem, api=api), 4000)
                self.assertRsc(self.get("/" + CSE_RN, origin=stem), 4106, "refused AE must not be registered")

    def test_ts0004_7_4_5_mandatory_api_and_rr(self):
        for attrs in ({"rr": True}, {"api": "Nx"}, {}):
            with self.subTest(attrs=attrs):
                stem = "Cmand" + uniq()
                r = self.c.create("/" + CSE_RN, TY_AE, attrs, origin=stem)
                self.assertRsc(r, 4000)
                self.assertRsc(self.get("/" + CSE_RN, origin=stem), 4106)

    def test_ts0004_7_4_5_optional_attributes_stored(self):
        lbl = ["k1:v1", "k2"]
        r = self.c.register_ae(origin="C", rn=uniq("opt"), rr=True,
                               extra={"lbl": lbl, "apn": "myApp", "poa": ["http://127.0.0.1:9/x"], "srv": ["3"]})
        ae = self.res(self.assertRsc(r, 2001), "m2m:ae")
        r = self.assertRsc(self.get("/%s/%s" % (CSE_RN, ae["rn"]), origin=ae["aei"]), 2000)
        got = self.res(r, "m2m:ae")
        self.assertEqual(got["lbl"], lbl)
        self.assertEqual(got["apn"], "myApp")
        self.assertEqual(got["poa"], ["http://127.0.0.1:9/x"])
        self.assertEqual(got["srv"], ["3"])
        self.assertIs(got["rr"], True)

    def test_ts0004_7_3_3_3_duplicate_ae_rn_4105(self):
        stem = "Cdup" + uniq()
        self.assertRsc(self.c.register_ae(origin=stem, rn=self.ae_rn), 4105)
        self.assertRsc(self.get("/" + CSE_RN, origin=stem), 4106, "refused AE must not be registered")
        r = self.assertRsc(self.get(self.ae_path), 2000)
        self.assertEqual(self.res(r, "m2m:ae")["aei"], self.aei)

    def test_contract_ae_only_under_csebase(self):
        path, _ = self.new_cnt(self.ae_path, self.aei)
        for parent in (self.ae_path, path):
            with self.subTest(parent=parent):
                rn = uniq("nested")
                r = self.c.create(parent, TY_AE, {"api": "Nx", "rr": False, "rn": rn}, origin="C")
                self.assertTrue(400 <= r.status < 500 and r.rsc is not None and 4000 <= r.rsc < 5000,
                                self.describe(r))
                self.assertRsc(self.get(parent + "/" + rn, origin=ADMIN), 4004)

    def test_ts0004_7_4_5_ae_update(self):
        r = self.c.update(self.ae_path, "m2m:ae", {"lbl": ["new"], "rr": True}, origin=self.aei)
        ae = self.res(self.assertRsc(r, 2004), "m2m:ae")
        self.assertEqual(ae["lbl"], ["new"])
        self.assertIs(ae["rr"], True)
        self.assertEqual(ae["aei"], self.aei)


class ContainerTest(ResourceTestBase):

    def test_ts0004_7_4_6_container_create_attributes(self):
        rn = uniq("c")
        r = self.c.create(self.ae_path, TY_CNT, {"rn": rn, "lbl": ["a"], "mni": 5, "mbs": 100, "mia": 3600},
                          origin=self.aei)
        cnt = self.res(self.assertRsc(r, 2001), "m2m:cnt")
        self.assertEqual(cnt["ty"], TY_CNT)
        self.assertEqual(cnt["rn"], rn)
        self.assertEqual(cnt["pi"].rsplit("/", 1)[-1], self.ae["ri"])
        self.assertTrue(cnt["ri"])
        self.assertNotEqual(cnt["ri"], self.ae["ri"])
        self.assertEqual(cnt["lbl"], ["a"])
        self.assertEqual((cnt["mni"], cnt["mbs"], cnt["mia"]), (5, 100, 3600))
        self.assertEqual((cnt["cni"], cnt["cbs"]), (0, 0))
        self.assertEqual(cnt["st"], 0, "TS-0001 9.6.1.3: stateTag starts at 0")
        self.assertRegex(cnt["ct"], TS_RE)
        self.assertRegex(cnt["lt"], TS_RE)
        got = self.cnt_state(self.ae_path + "/" + rn)
        for k in ("ri", "rn", "pi", "ty", "lbl", "mni", "mbs", "mia", "ct"):
            self.assertEqual(got[k], cnt[k], k)

    def test_ts0004_7_4_6_container_without_rn_gets_generated_name(self):
        r = self.c.create(self.ae_path, TY_CNT, {}, origin=self.aei)
        cnt = self.res(self.assertRsc(r, 2001), "m2m:cnt")
        self.assertTrue(cnt["rn"])
        self.assertRsc(self.get(self.ae_path + "/" + cnt["rn"]), 2000)

    def test_ts0004_7_4_6_nested_container(self):
        outer, _ = self.new_cnt(self.ae_path, self.aei)
        inner, cnt = self.new_cnt(outer, self.aei)
        outer_ri = self.cnt_state(outer)["ri"]
        self.assertEqual(cnt["pi"].rsplit("/", 1)[-1], outer_ri)
        self.assertRsc(self.get(inner), 2000)

    def test_ts0004_7_3_3_3_duplicate_container_rn_4105(self):
        path, cnt = self.new_cnt(self.ae_path, self.aei, rn="same")
        r = self.c.create(self.ae_path, TY_CNT, {"rn": "same", "lbl": ["second"]}, origin=self.aei)
        self.assertRsc(r, 4105)
        got = self.cnt_state(path)
        self.assertEqual(got["ri"], cnt["ri"])
        self.assertNotIn("second", got.get("lbl", []))
        # The same rn under a different parent is fine.
        other, _ = self.new_cnt(self.ae_path, self.aei)
        self.new_cnt(other, self.aei, rn="same")

    def test_ts0004_7_4_6_container_update_and_state_tag(self):
        path, cnt = self.new_cnt(self.ae_path, self.aei)
        st0 = cnt["st"]
        time.sleep(1.05)  # lt has one-second resolution
        r = self.c.update(path, "m2m:cnt", {"lbl": ["x", "y"], "mni": 7}, origin=self.aei)
        upd = self.res(self.assertRsc(r, 2004), "m2m:cnt")
        self.assertEqual(upd["lbl"], ["x", "y"])
        self.assertEqual(upd["mni"], 7)
        self.assertEqual(upd["st"], st0 + 1, "TS-0001 9.6.1.3: stateTag incremented by an update")
        self.assertGreater(upd["lt"], cnt["lt"], "lt must advance on update")
        self.assertEqual(upd["ct"], cnt["ct"])
        got = self.cnt_state(path)
        self.assertEqual((got["lbl"], got["mni"], got["st"]), (["x", "y"], 7, st0 + 1))
        self.c.update(path, "m2m:cnt", {"lbl": ["z"]}, origin=self.aei)
        self.assertEqual(self.cnt_state(path)["st"], st0 + 2)

    def test_ts0004_7_4_6_container_delete(self):
        path, cnt = self.new_cnt(self.ae_path, self.aei)
        cin = self.new_cin(path, self.aei, "v")
        self.assertRsc(self.c.delete(path, origin=self.aei), 2002)
        self.assertRsc(self.get(path), 4004)
        self.assertRsc(self.get("/" + cnt["ri"]), 4004)
        self.assertRsc(self.get("/" + cin["ri"]), 4004, "child instance must go with its container")
        self.assertRsc(self.c.delete(path, origin=self.aei), 4004)

    def test_contract_container_under_csebase_admin_only(self):
        rn = uniq("cbc")
        self.assertRsc(self.c.create("/" + CSE_RN, TY_CNT, {"rn": rn}, origin=self.aei), 4103)
        self.assertRsc(self.get("/%s/%s" % (CSE_RN, rn), origin=ADMIN), 4004)
        self.assertRsc(self.c.create("/" + CSE_RN, TY_CNT, {"rn": rn}, origin=ADMIN), 2001)
        self.assertRsc(self.c.delete("/%s/%s" % (CSE_RN, rn), origin=ADMIN), 2002)


class ContentInstanceTest(ResourceTestBase):

    def setUp(self):
        super().setUp()
        self.cnt_path, self.cnt = self.new_cnt(self.ae_path, self.aei)

    def test_ts0004_7_4_7_cin_create_and_cs_computed(self):
        r = self.c.create(self.cnt_path, TY_CIN, {"con": "hello world", "cnf": "text/plain:0", "rn": "i1",
                                                  "lbl": ["l"]}, origin=self.aei)
        cin = self.res(self.assertRsc(r, 2001), "m2m:cin")
        self.assertEqual(cin["ty"], TY_CIN)
        self.assertEqual(cin["con"], "hello world")
        self.assertEqual(cin["cnf"], "text/plain:0")
        self.assertEqual(cin["cs"], 11)
        self.assertEqual(cin["rn"], "i1")
        self.assertEqual(cin["pi"].rsplit("/", 1)[-1], self.cnt["ri"])
        got = self.res(self.assertRsc(self.get(self.cnt_path + "/i1"), 2000), "m2m:cin")
        self.assertEqual((got["con"], got["cs"], got["ri"]), ("hello world", 11, cin["ri"]))
        st = self.cnt_state(self.cnt_path)
        self.assertEqual((st["cni"], st["cbs"]), (1, 11))

    def test_ts0004_7_4_7_2_1_cs_counts_bytes(self):
        con = "h\u00e9llo \u20ac"  # 1+2+3+1+3 = 10 bytes in UTF-8
        cin = self.new_cin(self.cnt_path, self.aei, con)
        self.assertEqual(cin["con"], con)
        self.assertEqual(cin["cs"], len(con.encode("utf-8")))

    def test_ts0004_7_4_7_cin_con_mandatory(self):
        r = self.c.create(self.cnt_path, TY_CIN, {"cnf": "text/plain:0", "rn": "nocon"}, origin=self.aei)
        self.assertRsc(r, 4000)
        self.assertRsc(self.get(self.cnt_path + "/nocon"), 4004)
        self.assertEqual(self.cnt_state(self.cnt_path)["cni"], 0)

    def test_ts0004_7_4_7_2_3_cin_update_is_4005(self):
        cin = self.new_cin(self.cnt_path, self.aei, "orig", rn="imm")
        for attrs in ({"con": "changed"}, {"lbl": ["x"]}):
            with self.subTest(attrs=attrs):
                r = self.c.update(self.cnt_path + "/imm", "m2m:cin", attrs, origin=self.aei)
                self.assertRsc(r, 4005)
        r = self.c.update("/" + cin["ri"], "m2m:cin", {"con": "changed"}, origin=ADMIN)
        self.assertRsc(r, 4005)
        got = self.res(self.assertRsc(self.get(self.cnt_path + "/imm"), 2000), "m2m:cin")
        self.assertEqual(got["con"], "orig")
        self.assertNotIn("x", got.get("lbl", []))

    def test_ts0004_7_4_7_2_4_cin_delete_updates_cni_cbs(self):
        self.new_cin(self.cnt_path, self.aei, "aaa", rn="d1")
        self.new_cin(self.cnt_path, self.aei, "bbbbb", rn="d2")
        st = self.cnt_state(self.cnt_path)
        self.assertEqual((st["cni"], st["cbs"]), (2, 8))
        self.assertRsc(self.c.delete(self.cnt_path + "/d1", origin=self.aei), 2002)
        st = self.cnt_state(self.cnt_path)
        self.assertEqual((st["cni"], st["cbs"]), (1, 5))
        self.assertRsc(self.get(self.cnt_path + "/d1"), 4004)

    def test_ts0004_7_4_7_2_1_mni_removes_oldest(self):
        path, _ = self.new_cnt(self.ae_path, self.aei, mni=3)
        ris = [self.new_cin(path, self.aei, "v%d" % i, rn="m%d" % i)["ri"] for i in range(1, 6)]
        st = self.cnt_state(path)
        self.assertEqual(st["cni"], 3)
        self.assertEqual(st["cbs"], 6)
        for i in (1, 2):
            self.assertRsc(self.get("%s/m%d" % (path, i)), 4004, "oldest m%d must be removed" % i)
            self.assertRsc(self.get("/" + ris[i - 1]), 4004)
        for i in (3, 4, 5):
            self.assertRsc(self.get("%s/m%d" % (path, i)), 2000)
        self.assertEqual(self.res(self.get(path + "/ol"), "m2m:cin")["con"], "v3")
        self.assertEqual(self.res(self.get(path + "/la"), "m2m:cin")["con"], "v5")

    def test_ts0004_7_4_7_2_1_mbs_removes_oldest(self):
        path, _ = self.new_cnt(self.ae_path, self.aei, mbs=10)
        for i in (1, 2, 3):
            self.new_cin(path, self.aei, "abc%d" % i, rn="b%d" % i)  # 4 bytes each
        st = self.cnt_state(path)
        self.assertEqual((st["cni"], st["cbs"]), (2, 8))
        self.assertRsc(self.get(path + "/b1"), 4004)
        self.assertEqual(self.res(self.get(path + "/ol"), "m2m:cin")["con"], "abc2")
        self.assertEqual(self.res(self.get(path + "/la"), "m2m:cin")["con"], "abc3")
        # A 10-byte instance fits exactly and evicts everything else.
        self.new_cin(path, self.aei, "0123456789", rn="b4")
        st = self.cnt_state(path)
        self.assertEqual((st["cni"], st["cbs"]), (1, 10))
        self.assertEqual(self.res(self.get(path + "/ol"), "m2m:cin")["con"], "0123456789")

    def test_ts0004_7_4_7_2_1_cin_bigger_than_mbs_is_5207(self):
        path, _ = self.new_cnt(self.ae_path, self.aei, mbs=10)
        self.new_cin(path, self.aei, "keep", rn="k")
        r = self.c.create(path, TY_CIN, {"con": "01234567890", "rn": "big"}, origin=self.aei)
        self.assertRsc(r, 5207)
        self.assertRsc(self.get(path + "/big"), 4004)
        st = self.cnt_state(path)
        self.assertEqual((st["cni"], st["cbs"]), (1, 4), "a refused instance must not evict anything")

    def test_ts0004_7_4_27_7_4_28_latest_oldest_retrieve(self):
        for i in range(1, 4):
            self.new_cin(self.cnt_path, self.aei, "val%d" % i, rn="o%d" % i)
        la = self.res(self.assertRsc(self.get(self.cnt_path + "/la"), 2000), "m2m:cin")
        ol = self.res(self.assertRsc(self.get(self.cnt_path + "/ol"), 2000), "m2m:cin")
        self.assertEqual((la["rn"], la["con"]), ("o3", "val3"))
        self.assertEqual((ol["rn"], ol["con"]), ("o1", "val1"))

    def test_ts0004_7_4_27_7_4_28_latest_oldest_delete(self):
        for i in range(1, 5):
            self.new_cin(self.cnt_path, self.aei, "val%d" % i, rn="x%d" % i)
        self.assertRsc(self.c.delete(self.cnt_path + "/la", origin=self.aei), 2002)
        self.assertRsc(self.get(self.cnt_path + "/x4"), 4004)
        self.assertEqual(self.res(self.get(self.cnt_path + "/la"), "m2m:cin")["rn"], "x3")
        self.assertRsc(self.c.delete(self.cnt_path + "/ol", origin=self.aei), 2002)
        self.assertRsc(self.get(self.cnt_path + "/x1"), 4004)
        self.assertEqual(self.res(self.get(self.cnt_path + "/ol"), "m2m:cin")["rn"], "x2")
        st = self.cnt_state(self.cnt_path)
        self.assertEqual((st["cni"], st["cbs"]), (2, 8))

    def test_ts0004_7_4_27_latest_oldest_empty_container_4004(self):
        for v in ("la", "ol"):
            with self.subTest(virtual=v):
                self.assertRsc(self.get("%s/%s" % (self.cnt_path, v)), 4004)
                self.assertRsc(self.c.delete("%s/%s" % (self.cnt_path, v), origin=self.aei), 4004)

    def test_ts0004_7_4_27_latest_ignores_non_instance_children(self):
        self.new_cnt(self.cnt_path, self.aei, rn="onlysub")
        for v in ("la", "ol"):
            with self.subTest(virtual=v):
                self.assertRsc(self.get("%s/%s" % (self.cnt_path, v)), 4004)
        self.new_cin(self.cnt_path, self.aei, "c1", rn="first")
        self.new_cnt(self.cnt_path, self.aei, rn="latersub")
        self.assertEqual(self.res(self.get(self.cnt_path + "/la"), "m2m:cin")["rn"], "first")
        self.assertRsc(self.c.delete(self.cnt_path + "/la", origin=self.aei), 2002)
        self.assertRsc(self.get(self.cnt_path + "/latersub"), 2000, "deleting la removed a container")
        self.assertRsc(self.get(self.cnt_path + "/onlysub"), 2000, "deleting la removed a container")

    def test_contract_cin_only_under_container(self):
        r = self.c.create(self.ae_path, TY_CIN, {"con": "x", "rn": "misplaced"}, origin=self.aei)
        self.assertTrue(400 <= r.status < 500 and r.rsc is not None and 4000 <= r.rsc < 5000, self.describe(r))
        self.assertRsc(self.get(self.ae_path + "/misplaced"), 4004)


class ConcurrencyTest(ResourceTestBase):

    def run_parallel(self, fn, n):
        results = [None] * n
        errors = []
        barrier = threading.Barrier(n)

        def work(i):
            try:
                barrier.wait(5)
                results[i] = fn(i)
            except Exception as e:  # reported below
                errors.append(e)
        threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertFalse(errors, errors[:3])
        return results

    def test_ts0004_7_3_3_3_concurrent_same_rn_exactly_one_created(self):
        rs = self.run_parallel(lambda i: self.c.create(self.ae_path, TY_CNT, {"rn": "race", "lbl": ["t%d" % i]},
                                                       origin=self.aei), 12)
        codes = sorted(r.rsc for r in rs)
        self.assertEqual(codes, [2001] + [4105] * 11, [self.describe(r) for r in rs if r.rsc not in (2001, 4105)])
        winner = [r for r in rs if r.rsc == 2001][0]
        got = self.cnt_state(self.ae_path + "/race")
        self.assertEqual(got["ri"], self.res(winner, "m2m:cnt")["ri"])
        r = self.assertRsc(self.get(self.ae_path, query={"rcn": 4}), 2000)
        self.assertEqual([x["rn"] for x in self.res(r, "m2m:ae").get("m2m:cnt", [])].count("race"), 1)

    def test_ts0004_7_4_5_concurrent_registration_same_stem_exactly_one(self):
        stem = "Crace" + uniq()
        rs = self.run_parallel(lambda i: self.c.register_ae(origin=stem, rn=uniq("rr")), 10)
        codes = sorted(r.rsc for r in rs)
        self.assertEqual(codes, [2001] + [4117] * 9, [self.describe(r) for r in rs if r.rsc not in (2001, 4117)])

    def test_ts0004_7_4_7_2_1_concurrent_instances_respect_mni(self):
        path, _ = self.new_cnt(self.ae_path, self.aei, mni=5)
        rs = self.run_parallel(lambda i: self.c.create(path, TY_CIN, {"con": "v%02d" % i, "rn": "p%02d" % i},
                                                       origin=self.aei), 16)
        for r in rs:
            self.assertRsc(r, 2001)
        st = self.cnt_state(path)
        self.assertEqual((st["cni"], st["cbs"]), (5, 15))
        r = self.assertRsc(self.get(path, query={"rcn": 4}), 2000)
        cins = self.res(r, "m2m:cnt").get("m2m:cin", [])
        self.assertEqual(len(cins), 5)
        self.assertEqual(sum(c["cs"] for c in cins), 15)
        names = {c["rn"] for c in cins}
        self.assertIn(self.res(self.get(path + "/la"), "m2m:cin")["rn"], names)
        self.assertIn(self.res(self.get(path + "/ol"), "m2m:cin")["rn"], names)

    def test_ts0004_7_3_3_7_concurrent_updates_count_state_tag(self):
        path, cnt = self.new_cnt(self.ae_path, self.aei)
        rs = self.run_parallel(lambda i: self.c.update(path, "m2m:cnt", {"lbl": ["u%d" % i]}, origin=self.aei), 10)
        for r in rs:
            self.assertRsc(r, 2004)
        self.assertEqual(self.cnt_state(path)["st"], cnt["st"] + 10, "lost update in stateTag")


class DeleteSubtreeTest(ResourceTestBase):

    def test_ts0004_7_3_3_8_delete_ae_removes_subtree(self):
        c1, cnt1 = self.new_cnt(self.ae_path, self.aei)
        c2, cnt2 = self.new_cnt(c1, self.aei)
        cin = self.new_cin(c2, self.aei, "deep", rn="deep")
        self.assertRsc(self.c.delete(self.ae_path, origin=self.aei), 2002)
        for path in (self.ae_path, c1, c2, c2 + "/deep", c2 + "/la"):
            with self.subTest(path=path):
                self.assertRsc(self.get(path, origin=ADMIN), 4004)
        for ri in (self.ae["ri"], cnt1["ri"], cnt2["ri"], cin["ri"]):
            with self.subTest(ri=ri):
                self.assertRsc(self.get("/" + ri, origin=ADMIN), 4004)
        # The AE is deregistered as well.
        self.assertRsc(self.get("/" + CSE_RN, origin=self.aei), 4106)
        # Its rn is free again.
        self.assertRsc(self.c.register_ae(origin="C", rn=self.ae_rn), 2001)


class ResultContentTest(ResourceTestBase):

    def setUp(self):
        super().setUp()
        self.cnt_path, self.cnt = self.new_cnt(self.ae_path, self.aei)
        self.cins = [self.new_cin(self.cnt_path, self.aei, "payload%d" % i, rn="r%d" % i) for i in (1, 2)]
        self.sub_path, self.sub = self.new_cnt(self.cnt_path, self.aei, rn="subcnt")

    def _refs(self, body):
        return [d["val"] for d in walk(body) if isinstance(d.get("val"), str)]

    def _assert_refs_to_children(self, body):
        refs = self._refs(body)
        for child in self.cins + [self.sub]:
            self.assertTrue(any(v == child["ri"] or v.rstrip("/").endswith("/" + child["rn"]) or
                                v.rstrip("/").endswith("/" + child["ri"]) for v in refs),
                            "no reference to child %s in %s" % (child["rn"], refs))

    # -- create
    def test_ts0004_7_3_3_12_create_rcn0_nothing(self):
        rn = uniq("rc0")
        r = self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=self.aei, query={"rcn": 0})
        self.assertRsc(r, 2001)
        self.assertTrue(is_empty_content(r.body), "rcn=0 must return no resource: " + self.describe(r))
        self.assertRsc(self.get(self.ae_path + "/" + rn), 2000)

    def test_ts0004_7_3_3_12_create_rcn1_attributes(self):
        for q in ({"rcn": 1}, None):
            with self.subTest(query=q):
                rn = uniq("rc1")
                r = self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=self.aei, query=q)
                cnt = self.res(self.assertRsc(r, 2001), "m2m:cnt")
                self.assertEqual(cnt["rn"], rn)
                for k in ("ri", "pi", "ct", "lt", "ty"):
                    self.assertIn(k, cnt)

    def test_ts0004_7_3_3_12_create_rcn2_hierarchical_address(self):
        rn = uniq("rc2")
        r = self.assertRsc(self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=self.aei,
                                         query={"rcn": 2}), 2001)
        self.assertIsInstance(r.body, dict, self.describe(r))
        self.assertIn("m2m:uri", r.body, self.describe(r))
        self.assertTrue(r.body["m2m:uri"].lstrip("/").endswith("%s/%s/%s" % (CSE_RN, self.ae_rn, rn)),
                        self.describe(r))
        self.assertNotIn("m2m:cnt", r.body)

    def test_ts0004_7_3_3_12_create_rcn3_address_and_attributes(self):
        rn = uniq("rc3")
        r = self.assertRsc(self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=self.aei,
                                         query={"rcn": 3}), 2001)
        rce = self.res(r, "m2m:rce")
        self.assertEqual(rce["m2m:cnt"]["rn"], rn)
        self.assertTrue(rce["uri"].lstrip("/").endswith("%s/%s/%s" % (CSE_RN, self.ae_rn, rn)))

    # -- retrieve
    def test_ts0004_7_3_3_6_retrieve_rcn1_attributes_only(self):
        for q in ({"rcn": 1}, None):
            with self.subTest(query=q):
                r = self.assertRsc(self.get(self.cnt_path, query=q), 2000)
                cnt = self.res(r, "m2m:cnt")
                self.assertEqual(cnt["ri"], self.cnt["ri"])
                self.assertEqual(cnt["cni"], 2)
                self.assertNotIn("m2m:cin", cnt)
                self.assertNotIn("ch", cnt)

    def test_ts0004_7_3_3_6_retrieve_rcn4_attributes_and_children(self):
        r = self.assertRsc(self.get(self.cnt_path, query={"rcn": 4}), 2000)
        cnt = self.res(r, "m2m:cnt")
        self.assertEqual(cnt["ri"], self.cnt["ri"])
        self.assertEqual(cnt["rn"], self.cnt["rn"])
        self.assertIsInstance(cnt.get("m2m:cin"), list, self.describe(r))
        self.assertEqual(sorted((i["rn"], i["con"]) for i in cnt["m2m:cin"]),
                         [("r1", "payload1"), ("r2", "payload2")])
        self.assertIsInstance(cnt.get("m2m:cnt"), list, self.describe(r))
        self.assertEqual([x["rn"] for x in cnt["m2m:cnt"]], ["subcnt"])

    def test_ts0004_7_3_3_6_retrieve_rcn5_attributes_and_child_references(self):
        r = self.assertRsc(self.get(self.cnt_path, query={"rcn": 5}), 2000)
        cnt = self.res(r, "m2m:cnt")
        self.assertEqual(cnt["ri"], self.cnt["ri"])
        self._assert_refs_to_children(r.body)
        self.assertFalse(any("con" in d for d in walk(r.body)), "rcn=5 must not inline children")

    def test_ts0004_7_3_3_6_retrieve_rcn6_child_references_only(self):
        r = self.assertRsc(self.get(self.cnt_path, query={"rcn": 6}), 2000)
        self._assert_refs_to_children(r.body)
        self.assertFalse(any("con" in d for d in walk(r.body)), "rcn=6 must not inline children")
        self.assertFalse(any(d.get("ri") == self.cnt["ri"] for d in walk(r.body)),
                         "rcn=6 must not carry the parent's attributes: " + self.describe(r))

    def test_ts0004_7_3_3_6_retrieve_rcn8_children_only(self):
        r = self.assertRsc(self.get(self.cnt_path, query={"rcn": 8}), 2000)
        cons = sorted(d["con"] for d in walk(r.body) if "con" in d)
        self.assertEqual(cons, ["payload1", "payload2"], self.describe(r))
        self.assertFalse(any(d.get("ri") == self.cnt["ri"] for d in walk(r.body)),
                         "rcn=8 must not carry the parent's attributes: " + self.describe(r))

    # -- update
    def test_ts0004_7_3_3_7_update_rcn0_nothing(self):
        r = self.c.update(self.sub_path, "m2m:cnt", {"lbl": ["r0"]}, origin=self.aei, query={"rcn": 0})
        self.assertRsc(r, 2004)
        self.assertTrue(is_empty_content(r.body), "rcn=0 must return no resource: " + self.describe(r))
        self.assertEqual(self.cnt_state(self.sub_path)["lbl"], ["r0"])

    def test_ts0004_7_3_3_7_update_rcn1_attributes(self):
        r = self.c.update(self.sub_path, "m2m:cnt", {"lbl": ["r1"]}, origin=self.aei, query={"rcn": 1})
        cnt = self.res(self.assertRsc(r, 2004), "m2m:cnt")
        self.assertEqual(cnt["lbl"], ["r1"])
        self.assertEqual(cnt["ri"], self.sub["ri"])
        self.assertEqual(cnt["rn"], "subcnt")

    def test_ts0004_7_3_3_7_update_rcn9_modified_attributes(self):
        r = self.c.update(self.sub_path, "m2m:cnt", {"lbl": ["r9"]}, origin=self.aei, query={"rcn": 9})
        self.assertRsc(r, 2004)
        if not is_empty_content(r.body):
            cnt = self.res(r, "m2m:cnt")
            extra = set(cnt) - {"lbl", "lt", "st"}
            self.assertFalse(extra, "rcn=9 returned unmodified attributes %s: %s" % (sorted(extra),
                                                                                     self.describe(r)))
        self.assertEqual(self.cnt_state(self.sub_path)["lbl"], ["r9"])

    # -- delete
    def test_ts0004_7_3_3_8_delete_default_returns_no_resource(self):
        path, _ = self.new_cnt(self.ae_path, self.aei)
        r = self.assertRsc(self.c.delete(path, origin=self.aei), 2002)
        self.assertFalse(isinstance(r.body, dict) and "m2m:cnt" in r.body, self.describe(r))

    def test_ts0004_7_3_3_8_delete_rcn1_returns_deleted_resource(self):
        path, cnt = self.new_cnt(self.ae_path, self.aei)
        r = self.assertRsc(self.c.delete(path, origin=self.aei, query={"rcn": 1}), 2002)
        self.assertEqual(self.res(r, "m2m:cnt")["ri"], cnt["ri"])
        self.assertRsc(self.get(path), 4004)

    # -- invalid
    def test_ts0004_7_3_2_1_invalid_rcn_4000(self):
        for rcn in (0, 2, 3, 9, 99, -1, "abc"):
            with self.subTest(op="retrieve", rcn=rcn):
                self.assertRsc(self.get(self.cnt_path, query={"rcn": rcn}), 4000)
        for rcn in (4, 5, 6, 8, 99, "x"):
            with self.subTest(op="create", rcn=rcn):
                rn = uniq("badrcn")
                r = self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=self.aei, query={"rcn": rcn})
                self.assertRsc(r, 4000)
                self.assertRsc(self.get(self.ae_path + "/" + rn), 4004, "refused create must not create")
        for rcn in (2, 3, 4, 6, 99):
            with self.subTest(op="update", rcn=rcn):
                r = self.c.update(self.sub_path, "m2m:cnt", {"lbl": ["bad%s" % rcn]}, origin=self.aei,
                                  query={"rcn": rcn})
                self.assertRsc(r, 4000)
                self.assertNotIn("bad%s" % rcn, self.cnt_state(self.sub_path).get("lbl", []))
        for rcn in (2, 3, 9, 99):
            with self.subTest(op="delete", rcn=rcn):
                self.assertRsc(self.c.delete(self.sub_path, origin=self.aei, query={"rcn": rcn}), 4000)
                self.assertRsc(self.get(self.sub_path), 2000, "refused delete must not delete")


class LargeChildSetTest(WardenTestCase):
    """A container with more than a thousand instances: results are complete, or
    explicitly marked partial (X-M2M-CTS: 1 = PARTIAL_CONTENT, TS-0004 6.3.4.2.44,
    TS-0009 6.4.20); never an error and never a silent truncation."""

    N = 1001

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.c.register_ae(origin="C", rn=uniq("big"))
        assert r.rsc == 2001, r
        cls.aei = r.body["m2m:ae"]["aei"]
        cls.ae_path = "/%s/%s" % (CSE_RN, r.body["m2m:ae"]["rn"])
        r = cls.c.create(cls.ae_path, TY_CNT, {"rn": "many"}, origin=cls.aei)
        assert r.rsc == 2001, r
        cls.path = cls.ae_path + "/many"
        for i in range(cls.N):
            r = cls.c.create(cls.path, TY_CIN, {"rn": "i%04d" % i, "con": "x"}, origin=cls.aei)
            assert r.rsc == 2001, r

    def complete_or_partial(self, r, got, what):
        self.assertRsc(r, 2000, what)
        if r.headers.get("X-M2M-CTS") == "1":
            self.assertGreater(got, 0, what)
            self.assertLessEqual(got, self.N, what)
        else:
            self.assertEqual(got, self.N, "%s: %d of %d children returned without X-M2M-CTS: 1 (partial content)"
                             % (what, got, self.N))

    def test_ts0004_7_4_7_2_1_counts_and_latest_oldest_with_many_instances(self):
        r = self.assertRsc(self.c.retrieve(self.path, origin=self.aei), 2000)
        self.assertEqual((self.res(r, "m2m:cnt")["cni"], self.res(r, "m2m:cnt")["cbs"]), (self.N, self.N))
        self.assertEqual(self.res(self.c.retrieve(self.path + "/la", origin=self.aei), "m2m:cin")["rn"],
                         "i%04d" % (self.N - 1))
        self.assertEqual(self.res(self.c.retrieve(self.path + "/ol", origin=self.aei), "m2m:cin")["rn"], "i0000")

    def test_ts0004_7_3_3_6_rcn4_with_many_children(self):
        r = self.c.retrieve(self.path, origin=self.aei, query={"rcn": 4})
        self.assertRsc(r, 2000, "rcn=4 on a container with %d instances" % self.N)
        self.complete_or_partial(r, len(self.res(r, "m2m:cnt").get("m2m:cin", [])), "rcn=4")

    def test_ts0004_7_3_3_6_rcn8_with_many_children(self):
        r = self.c.retrieve(self.path, origin=self.aei, query={"rcn": 8})
        self.assertRsc(r, 2000, "rcn=8 on a container with %d instances" % self.N)
        self.complete_or_partial(r, sum(1 for d in walk(r.body) if "con" in d), "rcn=8")

    def test_ts0004_7_3_3_6_rcn5_rcn6_with_many_children(self):
        for rcn in (5, 6):
            with self.subTest(rcn=rcn):
                r = self.c.retrieve(self.path, origin=self.aei, query={"rcn": rcn})
                self.assertRsc(r, 2000)
                refs = [d for d in walk(r.body) if isinstance(d.get("val"), str)]
                self.complete_or_partial(r, len(refs), "rcn=%d" % rcn)

    def test_ts0004_7_3_3_14_discovery_with_many_results(self):
        for query in ({"fu": 1, "ty": TY_CIN}, {"fu": 1, "ty": TY_CIN, "lim": 5000}):
            with self.subTest(query=query):
                r = self.c.retrieve(self.path, origin=self.aei, query=query)
                self.assertRsc(r, 2000)
                self.complete_or_partial(r, len(r.body.get("m2m:uril", [])), "discovery %s" % query)


class ExpirationTest(ResourceTestBase):

    def test_ts0004_7_3_3_3_et_in_the_past_4000(self):
        rn = uniq("old")
        r = self.c.create(self.ae_path, TY_CNT, {"rn": rn, "et": "20000101T000000"}, origin=self.aei)
        self.assertRsc(r, 4000)
        self.assertRsc(self.get(self.ae_path + "/" + rn), 4004)
        r = self.c.create(self.ae_path, TY_CNT, {"rn": rn, "et": et_in(-5)}, origin=self.aei)
        self.assertRsc(r, 4000)
        self.assertRsc(self.get(self.ae_path + "/" + rn), 4004)

    def test_ts0004_7_3_3_3_et_in_the_future_is_kept(self):
        et = et_in(3600)
        path, cnt = self.new_cnt(self.ae_path, self.aei, et=et)
        self.assertEqual(cnt["et"], et)
        self.assertEqual(self.cnt_state(path)["et"], et)

    def test_ts0001_9_6_1_3_expired_resource_and_subtree_disappear(self):
        et = et_in(6)
        expires = ts_epoch(et)  # 5..6 s from now: 7 writes first
        path, cnt = self.new_cnt(self.ae_path, self.aei, et=et)
        short_aei, _, short_ae_path, _ = self.new_ae(rn=uniq("shortae"), extra={"et": et})
        short_cnt, _ = self.new_cnt(short_ae_path, short_aei)
        child, sub = self.new_cnt(path, self.aei)
        cin = self.new_cin(path, self.aei, "short-lived", rn="sl")
        keep, _ = self.new_cnt(self.ae_path, self.aei)   # sibling without et stays
        self.assertRsc(self.get(path), 2000, "must exist before et passes")
        descendants = (child, "/" + sub["ri"], "/" + cin["ri"], path + "/sl", path + "/la")
        # Poll finely; the subtree must never be reachable once its root is gone.
        deadline = expires + 6
        parent_gone_at = None
        leaks = []
        while time.time() < deadline:
            r = self.get(path)
            if r.rsc != 4004:
                self.assertRsc(r, 2000)
            elif parent_gone_at is None:
                parent_gone_at = time.time()
            states = [(p, self.get(p).rsc) for p in descendants]
            if parent_gone_at is not None:
                leaks += ["%s -> %s at et%+.2fs" % (p, rsc, time.time() - expires)
                          for p, rsc in states if rsc != 4004]
                if all(rsc == 4004 for _, rsc in states):
                    break
            time.sleep(0.05)
        self.assertIsNotNone(parent_gone_at, "container still retrievable >6 s after its et")
        self.assertGreaterEqual(parent_gone_at, expires - 0.5, "container vanished before its et")
        with self.subTest(check="subtree gone together with its expired root"):
            self.assertEqual(leaks, [], "descendants still retrievable after their expired parent "
                             "answered 4004 (parent et %s)" % et)
        with self.subTest(check="expired root by ri"):
            self.assertRsc(self.get("/" + cnt["ri"]), 4004)
        with self.subTest(check="unexpired siblings stay"):
            self.assertRsc(self.get(keep), 2000)
            self.assertRsc(self.get(self.ae_path), 2000)
        with self.subTest(check="expired AE gone with subtree and registration"):
            self.assertRsc(self.get(short_ae_path, origin=ADMIN), 4004)
            self.assertRsc(self.get(short_cnt, origin=ADMIN), 4004)
            self.assertRsc(self.get("/" + CSE_RN, origin=short_aei), 4106)


class AccessTest(ResourceTestBase):

    def setUp(self):
        super().setUp()
        self.cnt_path, self.cnt = self.new_cnt(self.ae_path, self.aei)
        self.cin = self.new_cin(self.cnt_path, self.aei, "secret", rn="s1")
        self.other, _, self.other_path, _ = self.new_ae(rn=uniq("other"))

    def test_contract_foreign_ae_gets_4103(self):
        for path in (self.cnt_path, "/" + self.cnt["ri"], self.ae_path, self.cnt_path + "/s1",
                     self.cnt_path + "/la", self.cnt_path + "/ol"):
            with self.subTest(op="retrieve", path=path):
                r = self.get(path, origin=self.other)
                self.assertRsc(r, 4103)
                self.assertNotIn("secret", repr(r.body))
        r = self.c.create(self.cnt_path, TY_CIN, {"con": "intruder", "rn": "evil"}, origin=self.other)
        self.assertRsc(r, 4103)
        self.assertRsc(self.get(self.cnt_path + "/evil"), 4004)
        r = self.c.update(self.cnt_path, "m2m:cnt", {"lbl": ["evil"]}, origin=self.other)
        self.assertRsc(r, 4103)
        self.assertNotIn("evil", self.cnt_state(self.cnt_path).get("lbl", []))
        self.assertRsc(self.c.delete(self.cnt_path, origin=self.other), 4103)
        self.assertRsc(self.c.delete(self.cnt_path + "/la", origin=self.other), 4103)
        self.assertRsc(self.c.delete(self.ae_path, origin=self.other), 4103)
        self.assertEqual(self.cnt_state(self.cnt_path)["cni"], 1)
        self.assertRsc(self.get(self.ae_path), 2000)

    def test_contract_owner_can_use_its_subtree(self):
        self.assertRsc(self.get(self.cnt_path + "/s1"), 2000)
        self.assertRsc(self.get(self.other_path, origin=self.other), 2000)

    def test_contract_admin_can_do_anything(self):
        r = self.assertRsc(self.get(self.cnt_path + "/la", origin=ADMIN), 2000)
        self.assertEqual(self.res(r, "m2m:cin")["con"], "secret")
        self.assertRsc(self.c.create(self.cnt_path, TY_CIN, {"con": "by-admin", "rn": "a1"}, origin=ADMIN), 2001)
        self.assertRsc(self.c.update(self.cnt_path, "m2m:cnt", {"lbl": ["admin"]}, origin=ADMIN), 2004)
        self.assertEqual(self.cnt_state(self.cnt_path)["lbl"], ["admin"])
        self.assertRsc(self.c.create(self.ae_path, TY_CNT, {"rn": "admcnt"}, origin=ADMIN), 2001)
        # TS-0001 9.6.2 default policy: without acpi only the creator (here the admin) has access,
        # even for the AE the resource sits under.
        self.assertRsc(self.get(self.ae_path + "/admcnt"), 4103)
        self.assertRsc(self.c.delete(self.cnt_path, origin=ADMIN), 2002)
        self.assertRsc(self.c.delete(self.ae_path, origin=ADMIN), 2002)
        self.assertRsc(self.get(self.ae_path, origin=ADMIN), 4004)


if __name__ == "__main__":
    main()
