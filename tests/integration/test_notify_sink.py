#!/usr/bin/python3
"""tools/notify-sink (issue 15): the notification receiver of the README's subscription example
answers the verification request of a new subscription (TS-0004 §7.4.8.2.1) and every notification
with 2000, echoes X-M2M-RI, and prints one line for each.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_notify_sink.py
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import WardenServer, free_port  # noqa: E402

SINK = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools",
                    "notify-sink")
TY_AE, TY_CNT, TY_CIN, TY_SUB = 2, 3, 4, 23


class NotifySink(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.sink = subprocess.Popen(["/usr/bin/python3", SINK, "--port", str(self.port)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.cond = threading.Condition()
        ready = self.sink.stderr.readline()
        self.assertIn("ready on port %d" % self.port, ready)
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()
        self.srv = WardenServer(["--notify.allow=127.0.0.1/32"]).start()
        self.c = self.srv.client()

    def tearDown(self):
        self.srv.stop()
        self.srv.cleanup()
        self.sink.send_signal(signal.SIGTERM)
        self.assertEqual(self.sink.wait(10), 0, "notify-sink exits 0 on SIGTERM")
        self.sink.stderr.close()
        self.pump.join(5)
        self.sink.stdout.close()

    def _pump(self):
        for line in self.sink.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(text in l for l in self.lines):
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "notify-sink never printed %r; it printed %r" % (text, self.lines))
                self.cond.wait(left)

    def test_issue_15_notify_sink_answers_verification_and_notifications_2000_and_prints_them(self):
        c = self.c
        r = c.create("/cse-in", TY_AE, {"rn": "recv", "api": "Nrecv", "rr": True,
                                        "poa": ["http://127.0.0.1:%d/recv" % self.port]}, origin="Crecv",
                     root="m2m:ae")
        self.assertEqual(r.rsc, 2001, r)
        r = c.create("/cse-in", TY_AE, {"rn": "pub", "api": "Npub", "rr": False}, origin="Cpub", root="m2m:ae")
        self.assertEqual(r.rsc, 2001, r)
        r = c.create("/cse-in/pub", TY_CNT, {"rn": "data"}, origin="Cpub", root="m2m:cnt")
        self.assertEqual(r.rsc, 2001, r)
        # an AE-ID target other than the subscriber is asked first: the sink agrees
        r = c.create("/cse-in/pub/data", TY_SUB, {"rn": "s", "nu": ["Crecv"], "enc": {"net": [3]}, "nct": 1},
                     origin="Cpub", root="m2m:sub")
        self.assertEqual(r.rsc, 2001, r)
        self.wait_line("verification from")
        r = c.create("/cse-in/pub/data", TY_CIN, {"con": "sink-test-42"}, origin="Cpub", root="m2m:cin")
        self.assertEqual(r.rsc, 2001, r)
        self.wait_line('"con":"sink-test-42"')
        line = [l for l in self.lines if "sink-test-42" in l][0]
        self.assertTrue(line.startswith("notify from "), line)
        body = json.loads(line.split(": ", 1)[1])
        self.assertEqual(body["m2m:sgn"]["nev"]["net"], 3)
        with urllib.request.urlopen("http://127.0.0.1:%d/" % self.port, timeout=5) as resp:
            self.assertEqual(resp.headers["X-M2M-RSC"], "2000")
            self.assertEqual(json.load(resp), {"notifications": 2})

    def test_issue_15_notify_sink_echoes_the_request_id(self):
        req = urllib.request.Request("http://127.0.0.1:%d/n" % self.port, data=b'{"m2m:sgn":{"sur":"x"}}',
                                     headers={"X-M2M-RI": "ri-77", "X-M2M-Origin": "/id-in",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            self.assertEqual((resp.status, resp.headers["X-M2M-RSC"], resp.headers["X-M2M-RI"]),
                             (200, "2000", "ri-77"))
        self.wait_line("notify from /id-in ri ri-77")


if __name__ == "__main__":
    unittest.main(verbosity=2)
