#!/usr/bin/python3
"""Per-originator request rate limits and per-originator resource quotas (issue 12 finding 8).

- limits.rate / limits.rate_burst: a token bucket per originator, taken after authentication in the
  one dispatch path (HTTP and CoAP checked here), the admin exempt; beyond it 5207 NOT_ACCEPTABLE
  (TS-0009: HTTP 406, TS-0008: 4.06), since oneM2M has no rate-limit status code.
- limits.quota_count / limits.quota_bytes: resources (and bytes of their representations) one
  creator holds, checked in the creating transaction (no overshoot under concurrent creates),
  persisted across restarts, the admin exempt; beyond 5207 NOT_ACCEPTABLE.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_limits.py
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, CSE_RN, TY_CIN, TY_CNT, Client, WardenServer, WardenTestCase, main, uniq)  # noqa: E402
from coap_helpers import coap  # noqa: E402


def udp_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RateLimitTest(WardenTestCase):
    """1 request/s per originator after a burst of 3: a quick run of 10 requests cannot all pass."""

    RATE, BURST = 1, 3
    coap_port = udp_port()
    server_args = ("--limits.rate=%d" % RATE, "--limits.rate_burst=%d" % BURST,
                   "--coap.port=%d" % coap_port, "--coap.address=127.0.0.1")

    def burst(self, send, n=10):
        """n requests back to back; returns (rscs, seconds taken)."""
        t0 = time.monotonic()
        rscs = [send() for _ in range(n)]
        return rscs, time.monotonic() - t0

    def assertLimited(self, rscs, elapsed, what):
        ok = rscs.count(2000)
        limited = rscs.count(5207)
        self.assertEqual(ok + limited, len(rscs), "%s: only 2000 or 5207 expected: %s" % (what, rscs))
        # what the bucket allows over the time the run took (one token of slack for the clock)
        self.assertLessEqual(ok, self.BURST + int(elapsed * self.RATE) + 1, "%s: %s in %.2fs" % (what, rscs, elapsed))
        if elapsed < (len(rscs) - self.BURST - 1) / self.RATE:
            self.assertGreater(limited, 0, "%s: nothing limited: %s in %.2fs" % (what, rscs, elapsed))

    def wait_served(self, send, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            rsc = send()
            if rsc == 2000:
                return
            self.assertEqual(rsc, 5207)
            time.sleep(0.2)
        self.fail("still rate-limited after %.0fs" % timeout)

    def test_finding_8_rate_limit(self):
        aei, rn, path, _ = self.new_ae()
        other, _, other_path, _ = self.new_ae()
        self.wait_served(lambda: self.c.retrieve(path, origin=aei).rsc)
        rscs, elapsed = self.burst(lambda: self.c.retrieve(path, origin=aei).rsc)
        self.assertLimited(rscs, elapsed, "HTTP")
        # the refusal: 5207 mapped to HTTP 406 (TS-0009), saying why and when to come back
        r = self.c.retrieve(path, origin=aei)
        if r.rsc == 5207:
            self.assertRsc(r, 5207)
            dbg = r.body["m2m:dbg"]
            self.assertIn("rate limit", dbg)
            self.assertIn("retry in", dbg)
        # per originator: another AE and the admin are served meanwhile
        self.assertRsc(self.c.retrieve(other_path, origin=other), 2000)
        for _ in range(self.BURST + 3):
            self.assertRsc(self.c.retrieve(path, origin=ADMIN), 2000, "the admin is exempt")
        # tokens come back at limits.rate
        self.wait_served(lambda: self.c.retrieve(path, origin=aei).rsc)

    def test_finding_8_rate_limit_applies_to_every_binding(self):
        aei, rn, path, _ = self.new_ae()
        url = "coap://127.0.0.1:%d/%s/%s" % (self.coap_port, CSE_RN, rn)

        def over_coap():
            r = coap("GET", url, fr=aei)
            self.assertIn(r.code, ("2.05", "4.06"), r)  # TS-0008: 5207 is 4.06
            return r.rsc

        self.wait_served(over_coap)
        rscs, elapsed = self.burst(over_coap)
        self.assertLimited(rscs, elapsed, "CoAP")
        # one bucket per originator whatever the binding: HTTP right after is limited as well
        if elapsed < 1.0 / self.RATE:
            self.assertEqual(self.c.retrieve(path, origin=aei).rsc, 5207)


class QuotaTest(WardenTestCase):
    """At most 6 resources and 6000 bytes of representations per creator."""

    COUNT, BYTES = 6, 6000
    server_args = ("--limits.quota_count=%d" % COUNT, "--limits.quota_bytes=%d" % BYTES)

    def create_cin(self, parent, origin, con="v"):
        return self.c.create(parent, TY_CIN, {"con": con}, origin=origin)

    def test_finding_8_quota_count_and_bytes(self):
        # count: the AE itself (1), a container (2), 4 instances (6); the 7th resource is refused
        aei, rn, ae_path, _ = self.new_ae()
        cnt, _ = self.new_cnt(ae_path, aei)
        mine = [self.res(self.assertRsc(self.create_cin(cnt, aei), 2001, "instance %d within the quota" % (i + 1)),
                         "m2m:cin")["rn"] for i in range(4)]
        r = self.assertRsc(self.create_cin(cnt, aei), 5207, "beyond limits.quota_count")
        self.assertIn("quota", r.body["m2m:dbg"])
        self.assertIn("limits.quota_count", r.body["m2m:dbg"])
        self.assertEqual(self.res(self.c.retrieve(cnt, origin=aei), "m2m:cnt")["cni"], 4, "nothing was written")
        # the admin is exempt, and another AE has its own quota
        self.assertRsc(self.create_cin(cnt, ADMIN), 2001, "the admin is exempt")
        other, _, other_path, _ = self.new_ae()
        self.assertRsc(self.c.create(other_path, TY_CNT, {"rn": "c"}, origin=other), 2001)
        # deleting one of its own frees a place
        self.assertRsc(self.c.delete(cnt + "/" + mine[0], origin=aei), 2002)
        self.assertRsc(self.create_cin(cnt, aei), 2001, "after a delete")
        self.assertRsc(self.create_cin(cnt, aei), 5207)
        # deleting the container deletes its subtree: its 5 resources of this AE are freed at once
        self.assertRsc(self.c.delete(cnt, origin=aei), 2002)
        cnt, _ = self.new_cnt(ae_path, aei)
        for i in range(4):
            self.assertRsc(self.create_cin(cnt, aei), 2001, "after the subtree delete, instance %d" % (i + 1))
        self.assertRsc(self.create_cin(cnt, aei), 5207)

        # bytes: the AE (~250 B), a container, two 2000-byte instances; the third passes 6000 bytes
        b_aei, _, b_path, _ = self.new_ae()
        b_cnt, _ = self.new_cnt(b_path, b_aei)
        big = "x" * 2000
        self.assertRsc(self.create_cin(b_cnt, b_aei, big), 2001)
        self.assertRsc(self.create_cin(b_cnt, b_aei, big), 2001)
        r = self.assertRsc(self.create_cin(b_cnt, b_aei, big), 5207, "beyond limits.quota_bytes")
        self.assertIn("limits.quota_bytes", r.body["m2m:dbg"])
        # an update that would grow a representation past the quota is refused too
        r = self.c.update(b_cnt, "m2m:cnt", {"lbl": ["l" * 200] * 10}, origin=b_aei)
        self.assertRsc(r, 5207, "an update beyond limits.quota_bytes")
        self.assertRsc(self.c.update(b_cnt, "m2m:cnt", {"lbl": ["small"]}, origin=b_aei), 2004)

    def test_finding_8_quota_concurrent_creates_do_not_overshoot(self):
        aei, rn, ae_path, _ = self.new_ae()
        cnt, _ = self.new_cnt(ae_path, aei)  # 2 of 6 used: 4 places left
        results = []
        lock = threading.Lock()

        def one():
            rsc = Client(self.server.port).create(cnt, TY_CIN, {"con": "v"}, origin=aei).rsc
            with lock:
                results.append(rsc)

        threads = [threading.Thread(target=one) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(results), [2001] * 4 + [5207] * 12, results)
        self.assertEqual(self.res(self.c.retrieve(cnt, origin=aei), "m2m:cnt")["cni"], 4)


class QuotaRestartTest(unittest.TestCase):
    """Usage is kept in the store: a restart neither forgets nor double counts it."""

    def test_finding_8_quota_persists_across_restart(self):
        args = ["--limits.quota_count=4"]
        srv = WardenServer(extra_args=args).start()
        try:
            c = srv.client()
            r = c.register_ae(origin="C", rn=uniq("ae"))
            self.assertEqual(r.rsc, 2001, r.body)
            aei, rn = r.body["m2m:ae"]["aei"], r.body["m2m:ae"]["rn"]
            ae_path = "/%s/%s" % (CSE_RN, rn)
            self.assertEqual(c.create(ae_path, TY_CNT, {"rn": "c"}, origin=aei).rsc, 2001)
            self.assertEqual(c.create(ae_path + "/c", TY_CIN, {"con": "1"}, origin=aei).rsc, 2001)
            rc = srv.stop()
            self.assertEqual(rc, 0, srv.output())
            srv.start()
            c = srv.client()
            self.assertEqual(c.create(ae_path + "/c", TY_CIN, {"con": "2"}, origin=aei).rsc, 2001, "4 of 4")
            self.assertEqual(c.create(ae_path + "/c", TY_CIN, {"con": "3"}, origin=aei).rsc, 5207, "5 of 4")
        finally:
            if srv.running():
                srv.stop()
            srv.cleanup()


if __name__ == "__main__":
    main()
