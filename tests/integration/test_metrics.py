#!/usr/bin/python3
"""Operations: GET /healthz and the Prometheus metrics listener (issue 15, README "Operations:
health and metrics"). Black-box: the real binary, its own metrics port, counters read before and
after a known set of requests."""
import http.client
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wardentest import (ADMIN, CSE_RN, TY_CNT, WardenServer, WardenTestCase, free_port,  # noqa: E402
                        uniq, warden_bin)
from tls_helpers import TlsTestCase, kpsa, new_key  # noqa: E402


def http_get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode("utf-8")
    finally:
        conn.close()


TY_DAC, TY_SUB = 34, 23
SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    """{(name, labels-text): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


class TestMetrics(WardenTestCase):
    metrics_port = free_port()
    server_args = ("--metrics.port=%d" % metrics_port,)

    def scrape(self):
        status, ctype, text = http_get(self.metrics_port, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        return parse_metrics(text)

    def test_issue15_healthz_on_metrics_listener_needs_no_origin(self):
        status, ctype, body = http_get(self.metrics_port, "/healthz")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"status": "up"})
        self.assertEqual(ctype, "application/json")

    def test_issue15_healthz_reserved_path_on_http_listener(self):
        # TS-0009 would read "/healthz" as a resource ID: the HTTP listeners answer health only
        # under the reserved prefix, with no oneM2M processing (no X-M2M-* headers needed)
        status, _, body = http_get(self.server.port, "/__warden/healthz")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"status": "up"})
        r = self.c.request("GET", "/__warden/nothing")
        self.assertEqual(r.status, 404)

    def test_issue15_metrics_count_requests_by_binding_op_and_status(self):
        before = self.scrape()
        ok_key = ("warden_requests_total", '{binding="http",op="retrieve",rsc="2000"}')
        cr_key = ("warden_requests_total", '{binding="http",op="create",rsc="2001"}')
        nf_key = ("warden_requests_total", '{binding="http",op="retrieve",rsc="4004"}')
        authn_key = ("warden_authentication_failures_total", '{reason="ae-not-registered"}')
        lat_key = ("warden_request_duration_seconds_count", '{binding="http",op="retrieve"}')
        cnt_key = ("warden_resources", '{ty="3"}')
        batch_key = ("warden_commit_batch_jobs_count", "")
        for _ in range(5):
            self.assertRsc(self.c.retrieve("/" + CSE_RN), 2000)
        self.assertRsc(self.c.retrieve("/%s/%s" % (CSE_RN, uniq("missing"))), 4004)
        self.assertRsc(self.c.retrieve("/" + CSE_RN, origin=uniq("Cnobody")), 4106)
        self.assertRsc(self.c.create("/" + CSE_RN, TY_CNT, {"rn": uniq("cnt")}, origin=ADMIN), 2001)
        after = self.scrape()
        d = lambda k: after.get(k, 0) - before.get(k, 0)  # noqa: E731
        self.assertEqual(d(ok_key), 5)
        self.assertEqual(d(nf_key), 1)
        self.assertEqual(d(cr_key), 1)
        self.assertEqual(d(authn_key), 1)
        self.assertEqual(d(lat_key), 7, "every retrieve lands in the latency histogram")
        self.assertEqual(d(cnt_key), 1, "one more container in the resource counts")
        self.assertGreaterEqual(d(batch_key), 1, "the create was committed in a batch")
        # a histogram's +Inf bucket is its count
        inf = ("warden_request_duration_seconds_bucket", '{binding="http",op="retrieve",le="+Inf"}')
        self.assertEqual(after[inf], after[lat_key])
        self.assertEqual(after[("warden_up", "")], 1)

    def test_issue15_metrics_count_denials_by_reason(self):
        ae = uniq("Cden")
        self.assertRsc(self.c.register_ae(origin=ae), 2001)
        before = self.scrape()
        # a registered AE asking the admin-only console query: 4103 with its reason
        self.assertRsc(self.c.retrieve("/%s/$tree" % CSE_RN, origin=ae), 4103)
        after = self.scrape()
        key = ("warden_denials_total", '{reason="admin-only"}')
        self.assertEqual(after.get(key, 0) - before.get(key, 0), 1)

    def test_issue15_metrics_listener_answers_only_its_paths(self):
        status, _, _ = http_get(self.metrics_port, "/cse-in")
        self.assertEqual(status, 404)


class TestMetricsOffByDefault(unittest.TestCase):
    def test_issue15_metrics_off_by_default_and_port_clash_refused(self):
        out = subprocess.run([warden_bin(), "--help"], capture_output=True, text=True, check=True).stdout
        self.assertIn("--metrics.port=0", out)
        port = free_port()
        srv = WardenServer(extra_args=["--metrics.port=%d" % port], port=port)
        srv.spawn()
        self.assertNotEqual(srv.wait_exit(), 0)
        self.assertIn("metrics.port must differ", srv.output())


class TestMetricsOutbound(WardenTestCase):
    """Notification failures and DAS consultations, against a loopback port where nothing listens."""
    metrics_port = free_port()
    dead_port = free_port()
    server_args = ("--metrics.port=%d" % metrics_port, "--notify.allow=127.0.0.1/32", "--notify.attempts=1",
                   "--notify.timeout=1000", "--authz.das_backoff=0")

    def scrape(self):
        return parse_metrics(http_get(self.metrics_port, "/metrics")[2])

    def wait_metric(self, key, want, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            v = self.scrape().get(key, 0)
            if v >= want or time.monotonic() > deadline:
                return v
            time.sleep(0.05)

    def test_issue15_metrics_count_failed_notifications(self):
        ae = "C" + uniq("ntf")
        self.assertRsc(self.c.register_ae(origin=ae, rn=ae), 2001)
        path, _ = self.new_cnt("%s/%s" % ("/" + CSE_RN, ae), ae)
        r = self.c.create(path, TY_SUB, {"rn": "s", "nu": ["http://127.0.0.1:%d/sink" % self.dead_port],
                                         "enc": {"net": [3]}}, origin=ae, root="m2m:sub")
        self.assertRsc(r, 2001)
        key = ("warden_notifications_total", '{outcome="failed"}')
        before = self.scrape().get(key, 0)
        self.new_cin(path, ae, "x")
        self.assertEqual(self.wait_metric(key, before + 1), before + 1, "the failed delivery is counted")
        self.assertGreaterEqual(self.scrape()[("warden_notifications_total", '{outcome="queued"}')], 1)

    def test_issue15_metrics_count_das_consultations_by_outcome(self):
        ae = "C" + uniq("dac")
        self.assertRsc(self.c.register_ae(origin=ae, rn=ae), 2001)
        other = "C" + uniq("usr")
        self.assertRsc(self.c.register_ae(origin=other, rn=other), 2001)
        owner = "/%s/%s" % (CSE_RN, ae)
        r = self.c.create(owner, TY_DAC, {"rn": "dac", "dae": True,
                                          "dap": ["http://127.0.0.1:%d/das" % self.dead_port]},
                          origin=ae, root="m2m:dac")
        self.assertRsc(r, 2001)
        path, _ = self.new_cnt(owner, ae, daci=[r.body["m2m:dac"]["ri"]])
        key = ("warden_das_consultations_total", '{outcome="das-unavailable"}')
        before = self.scrape().get(key, 0)
        self.assertRsc(self.c.retrieve(path, origin=other), 4103)
        self.assertEqual(self.scrape().get(key, 0) - before, 1)


class TestMetricsTls(TlsTestCase):
    """Authentication failures at the TLS handshake (before any request) are counted too."""
    metrics_port = free_port()
    extra_args = ("--metrics.port=%d" % metrics_port,)

    def test_issue15_metrics_count_refused_psk_handshakes_by_reason(self):
        key = ("warden_handshake_failures_total", '{reason="unknown-psk"}')
        before = parse_metrics(http_get(self.metrics_port, "/metrics")[2]).get(key, 0)
        self.assertPskRefused(kpsa("ghost"), new_key(), "unknown KpsaID")
        after = parse_metrics(http_get(self.metrics_port, "/metrics")[2]).get(key, 0)
        self.assertEqual(after - before, 1)


class TestReservedPath(unittest.TestCase):
    def test_issue15_cse_names_cannot_take_the_reserved_path(self):
        """/__warden/ belongs to Warden on the HTTP listeners: a CSEBase named so is refused at start."""
        for arg in ("--cse.rn=__warden", "--cse.id=/__warden-in"):
            p = subprocess.run([warden_bin(), arg], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("__warden", p.stderr)


if __name__ == "__main__":
    unittest.main()
