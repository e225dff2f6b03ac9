#!/usr/bin/python3
"""Park and resume (ARCHITECTURE.md "park and resume", issue 14 review): a request waiting for a DAS
consultation (TS-0003 §7.3.2.3) is parked on its one continuation and holds no thread while the DAS
thinks: the consultation goes out through the outbound seam asynchronously, and only when the DAS
has answered does a resume thread (at most LIMIT_RESUME_THREADS, 2) decide the request again.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_park_resume.py
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_dynauth import OWNER, TY_ACP, TY_DAC, Das, rule  # noqa: E402
from wardentest import CSE_RN, WardenTestCase, main, uniq  # noqa: E402

ASKER = "Cparkask"  # no rule at the DAS: every request of it is a consultation, answered "nothing"
PARALLEL = 6
DAS_DELAY_MS = 1200


def threads_of(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return 0


class ParkResumeTest(WardenTestCase):
    @classmethod
    def setUpClass(cls):
        cls.das = Das([rule("Cnobody", "privileges")], delay_ms=DAS_DELAY_MS)
        cls.server_args = ("--notify.allow=127.0.0.1/32", "--authz.das_timeout=5000",
                           "--authz.das_parallel=%d" % PARALLEL)
        super().setUpClass()
        for stem in (OWNER, ASKER):
            r = cls.c.register_ae(origin=stem, rn=stem.lower())
            assert r.rsc == 2001, r
        cls.owner = "/%s/%s" % (CSE_RN, OWNER.lower())

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.das.stop()

    def guarded(self):
        acp = self.c.create(self.owner, TY_ACP, {"rn": uniq("acp"),
                                                 "pv": {"acr": [{"acor": ["nobody"], "acop": 2}]},
                                                 "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}},
                            origin=OWNER, root="m2m:acp")
        self.assertRsc(acp, 2001)
        dac = self.c.create(self.owner, TY_DAC, {"rn": uniq("dac"), "dae": True, "dap": [self.das.uri]},
                            origin=OWNER, root="m2m:dac")
        self.assertRsc(dac, 2001)
        path, _ = self.new_cnt(self.owner, OWNER, acpi=[acp.body["m2m:acp"]["ri"]], daci=[dac.body["m2m:dac"]["ri"]])
        return path

    def test_ts0003_7_3_2_3_parked_consultations_hold_no_thread(self):
        path = self.guarded()
        pid = self.server.proc.pid
        # one consultation first, so that everything started on first use (the outbound client
        # side, its delivery thread) is running before the baseline is taken
        self.assertRsc(self.c.retrieve(path, origin=ASKER), 4103)
        deadline = time.monotonic() + 5
        while threads_of(pid) > 0 and time.monotonic() < deadline:
            base = threads_of(pid)
            time.sleep(0.05)  # the resume thread of the first request ends once it answered
            if threads_of(pid) == base:
                break
        base = threads_of(pid)
        results = []

        def ask():
            results.append(self.c.retrieve(path, origin=ASKER).rsc)
        ths = [threading.Thread(target=ask) for _ in range(PARALLEL)]
        for th in ths:
            th.start()
        peak = base
        deadline = time.monotonic() + DAS_DELAY_MS / 1000.0 * PARALLEL + 10
        while any(th.is_alive() for th in ths) and time.monotonic() < deadline:
            peak = max(peak, threads_of(pid))
            time.sleep(0.02)
        for th in ths:
            th.join(10)
        self.assertEqual(results, [4103] * PARALLEL, "the DAS granted nothing: each request denied after it")
        # one thread per consultation would show PARALLEL more; resume threads are at most 2
        self.assertLessEqual(peak - base, 2, "threads rose from %d to %d while %d consultations were parked"
                             % (base, peak, PARALLEL))


if __name__ == "__main__":
    main()
