#!/usr/bin/python3
"""The outbound address policy's default (finding 12): notification targets and DAS addresses in
any IANA special-purpose block, or in an IPv6 form that carries a denied IPv4 address (NAT64
64:ff9b::/96, 6to4 2002::/16, IPv4-compatible ::/96, IPv4-mapped), are refused with 4000 when the
subscription or DAC is written, on a server started without notify.allow/notify.deny.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_outbound_policy.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import CSE_RN, WardenTestCase, main, uniq  # noqa: E402

TY_SUB, TY_DAC = 23, 34

# Each would reach an internal or special-purpose address.
REFUSED = [
    "http://[64:ff9b::7f00:1]:8080/n",      # NAT64 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/latest",   # NAT64 of 169.254.169.254 (cloud metadata)
    "http://[2002:7f00:1::1]/n",            # 6to4 of 127.0.0.1
    "http://[2002:c0a8:101::1]/n",          # 6to4 of 192.168.1.1
    "http://[::127.0.0.1]/n",               # IPv4-compatible 127.0.0.1
    "http://[::a00:1]/n",                   # IPv4-compatible 10.0.0.1
    "http://198.18.0.1/n",                  # benchmarking
    "http://198.19.255.1/n",
    "http://192.0.0.170/n",                 # IETF protocol assignments
    "http://240.0.0.1/n",                   # reserved
    "http://[64:ff9b:1::a00:1]/n",          # local-use NAT64
    "http://[2001:db8::1]/n",               # documentation
    "http://[fec0::1]/n",                   # site-local
]


class DefaultDenyTest(WardenTestCase):
    server_args = ()  # the default notify.deny, no notify.allow

    def test_finding_12_special_purpose_and_embedded_ipv4_notification_targets_refused(self):
        aei, _, ae_path, _ = self.new_ae(origin="C" + uniq("o12"))
        cnt_path, _ = self.new_cnt(ae_path, aei)
        for url in REFUSED:
            with self.subTest(nu=url):
                rn = uniq("sub")
                r = self.c.create(cnt_path, TY_SUB, {"rn": rn, "nu": [url], "enc": {"net": [3]}}, origin=aei,
                                  root="m2m:sub")
                self.assertRsc(r, 4000, url)
                self.assertRsc(self.c.retrieve(cnt_path + "/" + rn, origin=aei), 4004)
        # a public address, also in its NAT64 form, stays allowed (control)
        for url in ("http://[64:ff9b::808:808]/n", "http://[2002:808:808::1]/n"):
            with self.subTest(nu=url):
                r = self.c.create(cnt_path, TY_SUB, {"rn": uniq("sub"), "nu": [url], "enc": {"net": [3]}},
                                  origin=aei, root="m2m:sub")
                self.assertRsc(r, 2001, url)

    def test_finding_12_special_purpose_das_address_refused(self):
        aei, _, ae_path, _ = self.new_ae(origin="C" + uniq("d12"))
        for url in ("http://[64:ff9b::7f00:1]:9090/das", "http://[2002:a00:1::1]/das", "http://198.18.0.5/das"):
            with self.subTest(dap=url):
                r = self.c.create(ae_path, TY_DAC, {"rn": uniq("dac"), "dae": True, "dap": [url]}, origin=aei,
                                  root="m2m:dac")
                self.assertRsc(r, 4000, url)


if __name__ == "__main__":
    main()
