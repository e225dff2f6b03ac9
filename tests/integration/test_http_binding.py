#!/usr/bin/python3
"""TS-0009 HTTP binding: method mapping, headers, status map, addressing forms.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_http_binding.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_ID, CSE_RN, OMIT, SPID, TY_CIN, TY_CNT,  # noqa: E402
                        WardenTestCase, main, uniq)


class HttpBindingTest(WardenTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        # One AE with a container and an instance shared by the read-only tests.
        r = c.register_ae(origin="C", rn=uniq("bind"))
        assert r.rsc == 2001, r
        ae = r.body["m2m:ae"]
        cls.aei, cls.ae_rn = ae["aei"], ae["rn"]
        cls.ae_ri = ae["ri"]
        cls.ae_path = "/%s/%s" % (CSE_RN, cls.ae_rn)
        r = c.create(cls.ae_path, TY_CNT, {"rn": "cnt"}, origin=cls.aei)
        assert r.rsc == 2001, r
        cls.cnt_path = cls.ae_path + "/cnt"
        cls.cnt_ri = r.body["m2m:cnt"]["ri"]
        r = c.create(cls.cnt_path, TY_CIN, {"rn": "cin1", "con": "hello"}, origin=cls.aei)
        assert r.rsc == 2001, r
        cls.cin_ri = r.body["m2m:cin"]["ri"]

    # ---------------------------------------------------------------- methods
    def test_ts0009_6_2_1_post_with_ty_is_create_201(self):
        r = self.c.create(self.ae_path, TY_CNT, {"rn": uniq("c")}, origin=self.aei)
        self.assertRsc(r, 2001)
        self.assertEqual(self.res(r, "m2m:cnt")["ty"], TY_CNT)

    def test_ts0009_6_2_1_get_is_retrieve_200(self):
        r = self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei), 2000)
        cnt = self.res(r, "m2m:cnt")
        self.assertEqual(cnt["ri"], self.cnt_ri)
        self.assertEqual(cnt["rn"], "cnt")

    def test_ts0009_6_2_1_put_is_update_200(self):
        path, _ = self.new_cnt(self.ae_path, self.aei)
        r = self.c.update(path, "m2m:cnt", {"lbl": ["upd"]}, origin=self.aei)
        self.assertRsc(r, 2004)
        self.assertEqual(self.res(r, "m2m:cnt")["lbl"], ["upd"])
        r = self.assertRsc(self.c.retrieve(path, origin=self.aei), 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["lbl"], ["upd"])

    def test_ts0009_6_2_1_delete_is_delete_200(self):
        path, _ = self.new_cnt(self.ae_path, self.aei)
        self.assertRsc(self.c.delete(path, origin=self.aei), 2002)
        self.assertRsc(self.c.retrieve(path, origin=self.aei), 4004)

    def test_ts0009_6_2_1_post_without_ty_is_notify_4005(self):
        r = self.c.request("POST", self.cnt_path, origin=self.aei,
                           body={"m2m:sgn": {"vrq": True}}, content_type="application/json")
        self.assertRsc(r, 4005)

    def test_ts0009_6_4_3_vnd_onem2m_res_json_content_type_accepted(self):
        rn = uniq("v")
        r = self.c.request("POST", self.ae_path, origin=self.aei, body={"m2m:cnt": {"rn": rn}},
                           content_type="application/vnd.onem2m-res+json; ty=3")
        self.assertRsc(r, 2001)
        self.assertEqual(self.res(r, "m2m:cnt")["rn"], rn)

    def test_ts0009_6_4_3_unsupported_media_type_4015(self):
        for ct in ("text/plain;ty=3", "application/xml;ty=3", "application/cbor+xml;ty=3",
                   "application/vnd.onem2m-res+xml; ty=3"):
            with self.subTest(content_type=ct):
                rn = uniq("m")
                r = self.c.request("POST", self.ae_path, origin=self.aei,
                                   body=b'{"m2m:cnt": {"rn": "%s"}}' % rn.encode(), content_type=ct)
                self.assertRsc(r, 4015)
                self.assertRsc(self.c.retrieve(self.ae_path + "/" + rn, origin=self.aei), 4004,
                               "resource must not be created from an unsupported media type")

    # ---------------------------------------------------------------- headers
    def _error_and_success_responses(self):
        """A mix of requests producing different RSCs: (label, kwargs for request)."""
        return [
            ("2000 retrieve", dict(method="GET", path=self.cnt_path, origin=self.aei)),
            ("2001 create", dict(method="POST", path=self.ae_path, origin=self.aei, ty=TY_CNT,
                                 body={"m2m:cnt": {"rn": uniq("h")}})),
            ("4004 unknown", dict(method="GET", path="/%s/nope-%s" % (CSE_RN, uniq()), origin=ADMIN)),
            ("4000 missing from", dict(method="GET", path=self.cnt_path)),
            ("4106 unregistered", dict(method="GET", path=self.cnt_path, origin="Cnotregistered1")),
            ("4001 bad rvi", dict(method="GET", path=self.cnt_path, origin=self.aei, rvi="1")),
            ("4015 media", dict(method="POST", path=self.ae_path, origin=self.aei, body=b"x",
                                content_type="text/plain;ty=3")),
            ("4005 notify", dict(method="POST", path=self.cnt_path, origin=self.aei, body={},
                                 content_type="application/json")),
        ]

    def test_ts0009_6_4_8_6_4_17_rsc_and_ri_always_present_ri_echoed(self):
        for label, kw in self._error_and_success_responses():
            with self.subTest(case=label):
                ri = "echo-" + uniq("ri")
                method, path = kw.pop("method"), kw.pop("path")
                r = self.c.request(method, path, ri=ri, **kw)
                self.assertIsNotNone(r.headers.get("X-M2M-RSC"), "X-M2M-RSC missing: " + self.describe(r))
                self.assertIsNotNone(r.rsc, "X-M2M-RSC not an integer: %r" % r.headers.get("X-M2M-RSC"))
                self.assertEqual(r.headers.get("X-M2M-RI"), ri, "X-M2M-RI not echoed: " + self.describe(r))
                self.assertIsInstance(r.body, dict, "response body is not a JSON object: " + self.describe(r))

    def test_ts0009_6_4_8_ri_with_unusual_characters_echoed_verbatim(self):
        ri = "req:1/2?x=y&z-%s" % uniq()
        r = self.c.retrieve(self.cnt_path, origin=self.aei, ri=ri)
        self.assertRsc(r, 2000)
        self.assertEqual(r.headers.get("X-M2M-RI"), ri)

    def test_ts0004_7_2_1_missing_request_identifier_4000(self):
        r = self.c.retrieve(self.cnt_path, origin=self.aei, ri=OMIT)
        self.assertRsc(r, 4000)
        rn = uniq("nori")
        r = self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=self.aei, ri=OMIT)
        self.assertRsc(r, 4000)
        self.assertRsc(self.c.retrieve(self.ae_path + "/" + rn, origin=self.aei), 4004,
                       "create without X-M2M-RI must not create anything")

    def test_ts0004_7_3_2_1_supported_release_versions_accepted(self):
        for rvi in ("2", "2a", "3", "4", "5"):
            with self.subTest(rvi=rvi):
                self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei, rvi=rvi), 2000)

    def test_ts0004_7_3_2_1_absent_rvi_tolerated(self):
        self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei, rvi=OMIT), 2000)

    def test_ts0004_7_3_2_1_unsupported_release_version_4001(self):
        for rvi in ("1", "6", "2b", "abc", "99"):
            with self.subTest(rvi=rvi):
                self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei, rvi=rvi), 4001)
        rn = uniq("rvi")
        r = self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=self.aei, rvi="1")
        self.assertRsc(r, 4001)
        self.assertRsc(self.c.retrieve(self.ae_path + "/" + rn, origin=self.aei), 4004)

    def test_ts0009_6_4_4_content_location_on_201(self):
        rn = uniq("loc")
        r = self.assertRsc(self.c.create(self.ae_path, TY_CNT, {"rn": rn}, origin=self.aei), 2001)
        loc = r.headers.get("Content-Location")
        self.assertIsNotNone(loc, "201 without Content-Location")
        want = "%s/%s/%s" % (CSE_RN, self.ae_rn, rn)
        self.assertEqual(loc.lstrip("/"), want, "Content-Location is not the structured path")
        # The location must address the created resource.
        r2 = self.assertRsc(self.c.retrieve("/" + loc.lstrip("/"), origin=self.aei), 2000)
        self.assertEqual(self.res(r2, "m2m:cnt")["ri"], self.res(r, "m2m:cnt")["ri"])

    def test_ts0009_6_4_4_content_location_on_ae_create(self):
        rn = uniq("locae")
        r = self.assertRsc(self.c.register_ae(origin="C", rn=rn), 2001)
        loc = r.headers.get("Content-Location")
        self.assertIsNotNone(loc, "201 without Content-Location")
        self.assertEqual(loc.lstrip("/"), "%s/%s" % (CSE_RN, rn))

    # ------------------------------------------------------------- status map
    def test_ts0009_6_3_2_status_code_mapping(self):
        # 2001 -> 201, 2000 -> 200 are covered above; here the error codes.
        self.assertRsc(self.c.retrieve("/%s/%s" % (CSE_RN, uniq("x")), origin=ADMIN), 4004)   # 404
        self.assertRsc(self.c.update("/" + CSE_RN, "m2m:cb", {"lbl": ["x"]}, origin=ADMIN), 4005)  # 405
        dup = self.c.create(self.ae_path, TY_CNT, {"rn": "cnt"}, origin=self.aei)
        self.assertRsc(dup, 4105)  # 409
        self.assertRsc(self.c.retrieve(self.cnt_path, origin="/id-other"), 4107)  # 403
        self.assertRsc(self.c.retrieve(self.cnt_path, origin="Cunknown-" + uniq()), 4106)  # 403
        self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei, rvi="9"), 4001)  # 501
        self.assertRsc(self.c.request("POST", self.ae_path, origin=self.aei, body=b"<x/>",
                                      content_type="application/xml;ty=3"), 4015)  # 415
        self.assertRsc(self.c.request("POST", self.ae_path, origin=self.aei, body=b"{",
                                      ty=TY_CNT), 4000)  # 400
        # 5207 -> 406: instance bigger than the container's mbs
        path, _ = self.new_cnt(self.ae_path, self.aei, mbs=3)
        self.assertRsc(self.c.create(path, TY_CIN, {"con": "toolong"}, origin=self.aei), 5207)
        # 4103 -> 403: another AE on a foreign container
        other, _, _, _ = self.new_ae()
        self.assertRsc(self.c.retrieve(self.cnt_path, origin=other), 4103)
        # 4117 -> 403: re-registration of a registered AE-ID
        self.assertRsc(self.c.register_ae(origin=self.aei, rn=uniq("again")), 4117)

    # ------------------------------------------------------------- addressing
    def _assert_is_cnt(self, r):
        self.assertRsc(r, 2000)
        cnt = self.res(r, "m2m:cnt")
        self.assertEqual(cnt["ri"], self.cnt_ri)
        self.assertEqual(cnt["rn"], "cnt")

    def test_ts0009_6_2_2_1_cse_relative_structured(self):
        self._assert_is_cnt(self.c.retrieve(self.cnt_path, origin=self.aei))

    def test_ts0009_6_2_2_1_cse_relative_unstructured(self):
        self._assert_is_cnt(self.c.retrieve("/" + self.cnt_ri, origin=self.aei))

    def test_ts0009_6_2_2_1_sp_relative_structured(self):
        self._assert_is_cnt(self.c.retrieve("/~%s/%s/%s/cnt" % (CSE_ID, CSE_RN, self.ae_rn), origin=self.aei))

    def test_ts0009_6_2_2_1_sp_relative_unstructured(self):
        self._assert_is_cnt(self.c.retrieve("/~%s/%s" % (CSE_ID, self.cnt_ri), origin=self.aei))

    def test_ts0009_6_2_2_1_absolute_structured(self):
        self._assert_is_cnt(self.c.retrieve("/_/%s%s/%s/%s/cnt" % (SPID, CSE_ID, CSE_RN, self.ae_rn),
                                            origin=self.aei))

    def test_ts0009_6_2_2_1_absolute_unstructured(self):
        self._assert_is_cnt(self.c.retrieve("/_/%s%s/%s" % (SPID, CSE_ID, self.cnt_ri), origin=self.aei))

    def test_ts0009_6_2_2_1_cse_base_in_every_form(self):
        for path in ("/" + CSE_RN, "/~%s/%s" % (CSE_ID, CSE_RN), "/_/%s%s/%s" % (SPID, CSE_ID, CSE_RN)):
            with self.subTest(path=path):
                r = self.assertRsc(self.c.retrieve(path, origin=ADMIN), 2000)
                cb = self.res(r, "m2m:cb")
                self.assertEqual(cb["rn"], CSE_RN)
                self.assertEqual(cb["csi"], CSE_ID)

    def test_ts0009_6_2_2_1_create_via_sp_relative_and_absolute(self):
        for base in ("/~%s/%s/%s" % (CSE_ID, CSE_RN, self.ae_rn),
                     "/_/%s%s/%s/%s" % (SPID, CSE_ID, CSE_RN, self.ae_rn),
                     "/~%s/%s" % (CSE_ID, self.ae_ri),
                     "/" + self.ae_ri):
            with self.subTest(parent=base):
                rn = uniq("f")
                self.assertRsc(self.c.create(base, TY_CNT, {"rn": rn}, origin=self.aei), 2001)
                r = self.assertRsc(self.c.retrieve(self.ae_path + "/" + rn, origin=self.aei), 2000)
                self.assertEqual(self.res(r, "m2m:cnt")["pi"].rsplit("/", 1)[-1], self.ae_ri)

    def test_ts0009_6_2_2_1_update_and_delete_by_unstructured_id(self):
        path, cnt = self.new_cnt(self.ae_path, self.aei)
        self.assertRsc(self.c.update("/" + cnt["ri"], "m2m:cnt", {"lbl": ["u"]}, origin=self.aei), 2004)
        r = self.assertRsc(self.c.retrieve(path, origin=self.aei), 2000)
        self.assertEqual(self.res(r, "m2m:cnt")["lbl"], ["u"])
        self.assertRsc(self.c.delete("/~%s/%s" % (CSE_ID, cnt["ri"]), origin=self.aei), 2002)
        self.assertRsc(self.c.retrieve(path, origin=self.aei), 4004)

    def test_ts0004_7_3_3_1_unknown_target_4004(self):
        n = uniq("none")
        for path in ("/%s/%s" % (CSE_RN, n), "/" + n, "%s/%s" % (self.ae_path, n),
                     "%s/%s/deeper" % (self.cnt_path, n), "/~%s/%s/%s" % (CSE_ID, CSE_RN, n),
                     "/~%s/%s" % (CSE_ID, n), "/_/%s%s/%s/%s" % (SPID, CSE_ID, CSE_RN, n)):
            with self.subTest(path=path):
                self.assertRsc(self.c.retrieve(path, origin=ADMIN), 4004)
        self.assertRsc(self.c.create("/%s/%s" % (CSE_RN, n), TY_CNT, {"rn": "x"}, origin=ADMIN), 4004)
        self.assertRsc(self.c.update("/%s/%s" % (CSE_RN, n), "m2m:cnt", {"lbl": ["x"]}, origin=ADMIN), 4004)
        self.assertRsc(self.c.delete("/%s/%s" % (CSE_RN, n), origin=ADMIN), 4004)

    # ------------------------------------------------------------- discovery
    def test_ts0004_7_3_3_14_discovery_by_type_structured(self):
        r = self.c.retrieve(self.ae_path, origin=self.aei, query={"fu": 1, "ty": TY_CNT})
        self.assertRsc(r, 2000)
        uris = self._uril(r)
        want = "%s/%s/cnt" % (CSE_RN, self.ae_rn)
        self.assertTrue(any(u.lstrip("/").endswith(want) for u in uris), "%s not in %s" % (want, uris))
        self.assertFalse(any(u.rstrip("/").endswith("/" + self.ae_rn) for u in uris),
                         "ty=3 filter returned the AE itself: %s" % uris)

    def test_ts0004_7_3_3_14_discovery_unstructured_drt2(self):
        r = self.c.retrieve(self.ae_path, origin=self.aei, query={"fu": 1, "ty": TY_CNT, "drt": 2})
        self.assertRsc(r, 2000)
        uris = self._uril(r)
        self.assertIn(self.cnt_ri, [u.rsplit("/", 1)[-1] for u in uris])

    def test_ts0004_7_3_3_17_5_discovery_label_and_limit(self):
        lbl = uniq("tag")
        p1, _ = self.new_cnt(self.ae_path, self.aei, lbl=[lbl, "common"])
        p2, _ = self.new_cnt(self.ae_path, self.aei, lbl=[lbl])
        self.new_cnt(self.ae_path, self.aei, lbl=["unrelated"])
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei, query={"fu": 1, "lbl": lbl}), 2000)
        got = sorted(u.lstrip("/").rsplit("/", 1)[-1] for u in self._uril(r))
        self.assertEqual(got, sorted([p1.rsplit("/", 1)[-1], p2.rsplit("/", 1)[-1]]))
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei,
                                           query={"fu": 1, "lbl": lbl, "lim": 1}), 2000)
        self.assertEqual(len(self._uril(r)), 1)

    def test_ts0004_7_3_3_17_6_discovery_ty_multiple_values(self):
        for query in ({"fu": 1, "ty": "3+4", "drt": 2}, [("fu", 1), ("ty", 3), ("ty", 4), ("drt", 2)]):
            with self.subTest(query=query):
                r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei, query=query), 2000)
                ids = [u.rsplit("/", 1)[-1] for u in self._uril(r)]
                self.assertIn(self.cnt_ri, ids)
                self.assertIn(self.cin_ri, ids)
                self.assertNotIn(self.ae_ri, ids)
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei, query={"fu": 1, "ty": 4, "drt": 2}), 2000)
        ids = [u.rsplit("/", 1)[-1] for u in self._uril(r)]
        self.assertIn(self.cin_ri, ids)
        self.assertNotIn(self.cnt_ri, ids)

    def test_ts0004_7_3_3_17_0_same_condition_or_different_conditions_and(self):
        la, lb = uniq("la"), uniq("lb")
        pa, _ = self.new_cnt(self.ae_path, self.aei, lbl=[la])
        pb, _ = self.new_cnt(self.ae_path, self.aei, lbl=[lb])
        self.new_cnt(self.ae_path, self.aei, lbl=["neither"])
        want = sorted([pa.rsplit("/", 1)[-1], pb.rsplit("/", 1)[-1]])
        for query in ({"fu": 1, "lbl": "%s+%s" % (la, lb)}, [("fu", 1), ("lbl", la), ("lbl", lb)]):
            with self.subTest(query=query):
                r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei, query=query), 2000)
                self.assertEqual(sorted(u.rsplit("/", 1)[-1] for u in self._uril(r)), want)
        # lbl AND ty: no contentInstance carries the label.
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei,
                                           query={"fu": 1, "lbl": la, "ty": TY_CIN}), 2000)
        self.assertEqual(self._uril(r), [])

    def test_ts0004_7_3_3_17_14_discovery_level(self):
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei,
                                           query={"fu": 1, "lvl": 1, "drt": 2}), 2000)
        ids = [u.rsplit("/", 1)[-1] for u in self._uril(r)]
        self.assertIn(self.cnt_ri, ids)
        self.assertNotIn(self.cin_ri, ids, "lvl=1 must not descend to grandchildren")
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei,
                                           query={"fu": 1, "lvl": 2, "drt": 2}), 2000)
        self.assertIn(self.cin_ri, [u.rsplit("/", 1)[-1] for u in self._uril(r)])

    def test_ts0004_7_3_3_17_15_discovery_offset(self):
        lbl = uniq("off")
        for _ in range(3):
            self.new_cnt(self.ae_path, self.aei, lbl=[lbl])
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei, query={"fu": 1, "lbl": lbl}), 2000)
        full = self._uril(r)
        self.assertEqual(len(full), 3)
        # ofst counts from 1 (TS-0001 §8.1.2, TS-0004 §7.3.3.17.15): 1 is the first, 2 skips one
        # (before issue 13 ofst=1 skipped one)
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei,
                                           query={"fu": 1, "lbl": lbl, "ofst": 1}), 2000)
        self.assertEqual(self._uril(r), full)
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei,
                                           query={"fu": 1, "lbl": lbl, "ofst": 2}), 2000)
        self.assertEqual(self._uril(r), full[1:])
        r = self.assertRsc(self.c.retrieve(self.ae_path, origin=self.aei,
                                           query={"fu": 1, "lbl": lbl, "ofst": 2, "lim": 1}), 2000)
        self.assertEqual(self._uril(r), full[1:2])

    def test_ts0004_7_3_3_14_discovery_respects_access(self):
        other, _, _, _ = self.new_ae()
        # TS-0001 §10.2.6: what the originator may not discover is skipped (an empty list), not 4103
        r = self.c.retrieve(self.ae_path, origin=other, query={"fu": 1, "ty": TY_CNT})
        self.assertRsc(r, 2000)
        self.assertEqual(self._uril(r), [])
        # From the CSEBase, another AE's discovery result must not list our resources.
        r = self.c.retrieve("/" + CSE_RN, origin=other, query={"fu": 1, "ty": TY_CNT, "drt": 2})
        self.assertRsc(r, 2000)
        self.assertNotIn(self.cnt_ri, [u.rsplit("/", 1)[-1] for u in self._uril(r)])

    def test_rfc7230_persistent_connection_serves_several_requests(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
        try:
            for i in range(5):
                ri = "keep-%d-%s" % (i, uniq())
                conn.request("GET", self.cnt_path, headers={"X-M2M-Origin": self.aei, "X-M2M-RI": ri,
                                                             "X-M2M-RVI": "3"})
                r = conn.getresponse()
                body = r.read()
                self.assertEqual((r.status, r.getheader("X-M2M-RSC"), r.getheader("X-M2M-RI")), (200, "2000", ri),
                                 body[:200])
        finally:
            conn.close()

    def test_ts0009_6_4_3_unsupported_media_type_on_update_4015(self):
        r = self.c.request("PUT", self.cnt_path, origin=self.aei, body=b"<m2m:cnt><lbl>x</lbl></m2m:cnt>",
                           content_type="application/xml")
        self.assertRsc(r, 4015)

    # TS-0004 §7.3.2.1 (issue 12 finding 20's sibling): parameters this CSE does not support are
    # NOT_IMPLEMENTED, never silently ignored; an expired Request Expiration Timestamp is 4008
    def test_ts0004_7_3_2_1_unsupported_parameter_headers_5001(self):
        # X-M2M-RST and X-M2M-OET are implemented (test_conformance); the CMDH Event Category is not
        r = self.c.request("GET", self.cnt_path, origin=self.aei, headers={"X-M2M-EC": "2"})
        self.assertRsc(r, 5001, "X-M2M-EC")

    def test_ts0004_7_3_2_1_expired_request_expiration_timestamp_4008(self):
        r = self.c.create(self.cnt_path, TY_CIN, {"rn": "late", "con": "x"}, origin=self.aei,
                          headers={"X-M2M-RET": "20000101T000000"})
        self.assertRsc(r, 4008)
        self.assertRsc(self.c.retrieve(self.cnt_path + "/late", origin=self.aei), 4004)
        for ret in ("20991231T000000", "60000"):
            self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei, headers={"X-M2M-RET": ret}), 2000, ret)
        self.assertRsc(self.c.retrieve(self.cnt_path, origin=self.aei, headers={"X-M2M-RET": "soon"}), 4000)

    def _uril(self, r):
        self.assertIsInstance(r.body, dict, self.describe(r))
        self.assertIn("m2m:uril", r.body, self.describe(r))
        uris = r.body["m2m:uril"]
        self.assertIsInstance(uris, list, self.describe(r))
        return uris


if __name__ == "__main__":
    main()
