#!/usr/bin/python3
"""warden-cli, the oneM2M command-line client (README "warden-cli"), black-box against a real
warden: the headers it fills in (TS-0009 §6.4), its verbs, the tree walk, --fail, CBOR, and the
security associations it speaks (HTTPS with a client certificate, TLS-PSK with the key from a file
or standard input).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_cli.py
(warden-cli is taken from the directory of WARDEN_BIN.)
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import ADMIN, CSE_RN, WardenTestCase, free_port, main, uniq, warden_bin  # noqa: E402
from tls_helpers import TlsTestCase, ae_absolute  # noqa: E402

CB = CSE_RN
TIMEOUT = 30


def cli_bin():
    return os.path.join(os.path.dirname(warden_bin()), "warden-cli")


class Run:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout.decode("utf-8", "replace")
        self.err = p.stderr.decode("utf-8", "replace")
        lines = [l for l in self.err.splitlines() if not l.startswith(">")]
        self.status = lines[0] if lines else ""

    def json(self):
        return json.loads(self.out)


def cli(url, *args, stdin=None, origin=ADMIN):
    argv = [cli_bin(), "--url", url]
    if origin is not None:
        argv += ["-o", origin]
    p = subprocess.run(argv + list(args), input=stdin, capture_output=True, timeout=TIMEOUT)
    return Run(p)


class CliHttpTest(WardenTestCase):
    """Plain HTTP, dev profile."""

    def cli(self, *args, **kw):
        return cli("http://127.0.0.1:%d" % self.server.port, *args, **kw)

    def ok(self, *args, want=None, **kw):
        r = self.cli(*args, **kw)
        self.assertEqual(r.rc, 0, "warden-cli %s: rc %d\n%s%s" % (args, r.rc, r.out, r.err))
        if want:
            self.assertTrue(r.status.startswith(want), "status line %r, want %s" % (r.status, want))
        return r

    def new_ae(self, prefix, **kw):
        """A fresh AE registered through warden-cli under its own originator; returns (rn, originator)."""
        rn = uniq(prefix)
        origin = "C" + rn
        self.ok("create", CB, "ae", json.dumps({"rn": rn, "api": "Ncli", "rr": False, "srv": ["3"]}),
                origin=origin, want="2001 CREATED", **kw)
        return rn, origin

    def test_help_is_on_stdout_and_version_names_the_program(self):
        p = subprocess.run([cli_bin(), "--help"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"usage: warden-cli", p.stdout)
        self.assertEqual(p.stderr, b"")
        p = subprocess.run([cli_bin(), "--version"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"^warden-cli \d+\.\d+\.\d+\n$")
        p = subprocess.run([cli_bin(), "frobnicate"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 2, "a usage error is exit status 2")

    def test_get_fills_in_origin_ri_rvi_and_prints_status_name_and_pretty_body(self):
        r = self.ok("-v", "get", CB, want="2000 OK")
        self.assertEqual(r.json()["m2m:cb"]["rn"], CB)
        self.assertIn('\n  "m2m:cb": {\n', r.out, "the body is indented JSON")
        self.assertRegex(r.err, r"> X-M2M-Origin: CAdmin")
        self.assertRegex(r.err, r"> X-M2M-RI: cli-[0-9a-f]{16}")
        self.assertRegex(r.err, r"> X-M2M-RVI: 3")

    def test_create_with_short_type_name_adds_the_m2m_wrapper_and_takes_file_and_stdin(self):
        ae = uniq("cliae")
        r = self.ok("create", CB, "ae", json.dumps({"rn": ae, "api": "Ncli", "rr": False, "srv": ["3"]}),
                    origin="C" + ae, want="2001 CREATED")
        self.assertEqual(r.json()["m2m:ae"]["rn"], ae)
        self.assertEqual(r.json()["m2m:ae"]["aei"], "C" + ae)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"m2m:cnt": {"rn": "c", "mni": 5}}, f)
        try:
            r = self.ok("create", "%s/%s" % (CB, ae), "cnt", "@" + f.name, want="2001")
        finally:
            os.unlink(f.name)
        self.assertEqual(r.json()["m2m:cnt"]["mni"], 5)
        r = self.ok("create", "/%s/%s/c" % (CB, ae), "4", "-", stdin=b'{"con": "21.5"}', want="2001")
        self.assertEqual(r.json()["m2m:cin"]["con"], "21.5")
        r = self.ok("get", "%s/%s/c/la" % (CB, ae), want="2000")
        self.assertEqual(r.json()["m2m:cin"]["con"], "21.5")

    def test_update_and_delete(self):
        ae, _ = self.new_ae("cliup")
        r = self.ok("update", "%s/%s" % (CB, ae), '{"m2m:ae": {"lbl": ["blue"]}}', want="2004 UPDATED")
        self.assertEqual(r.json()["m2m:ae"]["lbl"], ["blue"])
        self.ok("delete", "%s/%s" % (CB, ae), want="2002 DELETED")
        self.ok("get", "%s/%s" % (CB, ae), want="4004 NOT_FOUND")

    def test_fail_gives_exit_status_1_on_an_error_rsc_only_when_asked(self):
        r = self.cli("get", CB + "/" + uniq("missing"))
        self.assertEqual(r.rc, 0, "without --fail a response is success")
        self.assertTrue(r.status.startswith("4004 NOT_FOUND"), r.status)
        self.assertIn("m2m:dbg", r.json())
        r = self.cli("--fail", "get", CB + "/" + uniq("missing"))
        self.assertEqual(r.rc, 1)
        r = self.cli("--fail", "get", CB)
        self.assertEqual(r.rc, 0)
        r = self.cli("--fail", "get", CB, origin="C" + uniq("nobody"))
        self.assertEqual(r.rc, 1, "an unregistered originator's 4106 is an error: " + r.status)

    def test_unreachable_server_is_exit_status_1_with_a_message(self):
        r = cli("http://127.0.0.1:%d" % free_port(), "get", CB)
        self.assertEqual(r.rc, 1)
        self.assertIn("warden-cli:", r.err)

    def test_discover_passes_filter_criteria(self):
        ae, _ = self.new_ae("clidisc")
        self.ok("create", "%s/%s" % (CB, ae), "cnt", '{"rn": "x", "lbl": ["k:v"]}')
        self.ok("create", "%s/%s" % (CB, ae), "cnt", '{"rn": "y"}')
        r = self.ok("discover", "%s/%s" % (CB, ae), "ty=3", "lbl=k:v", want="2000")
        self.assertEqual(r.json()["m2m:uril"], ["%s/%s/x" % (CB, ae)])

    def test_tree_prints_the_children_as_a_tree_and_stays_within_its_bounds(self):
        ae, _ = self.new_ae("clitree")
        for c in ("a", "b"):
            self.ok("create", "%s/%s" % (CB, ae), "cnt", json.dumps({"rn": c}))
        self.ok("create", "%s/%s/a" % (CB, ae), "cin", '{"rn": "i1", "con": "1"}')
        r = self.ok("tree", "%s/%s" % (CB, ae))
        self.assertEqual(r.out, "%s/%s\n├── a [cnt]\n│   └── i1 [cin]\n└── b [cnt]\n" % (CB, ae))
        r = self.ok("tree", "--depth", "1", "%s/%s" % (CB, ae))
        self.assertEqual(r.out, "%s/%s\n├── a [cnt]\n└── b [cnt]\n" % (CB, ae))
        self.assertIn("cut at --depth", r.err)
        r = self.ok("tree", "--max", "1", "%s/%s" % (CB, ae))
        self.assertEqual(len(r.out.splitlines()), 2, r.out)
        self.assertIn("cut at", r.err)

    def test_cbor_sends_and_receives_cbor_and_prints_json(self):
        ae = uniq("clicbor")
        r = self.ok("--cbor", "-v", "create", CB, "ae", json.dumps({"rn": ae, "api": "Ncli", "rr": False,
                                                                   "srv": ["3"]}), origin="C" + ae, want="2001")
        self.assertIn("Content-Type: application/cbor;ty=2", r.err)
        self.assertEqual(r.json()["m2m:ae"]["rn"], ae)
        r = self.ok("--cbor", "get", "%s/%s" % (CB, ae), want="2000")
        self.assertEqual(r.json()["m2m:ae"]["rn"], ae)


class CliTlsTest(TlsTestCase):
    """HTTPS with a client certificate and with a TLS-PSK."""

    with_psk = True
    with_certs = True

    def test_psk_key_from_a_file_or_stdin_registers_and_uses_an_ae(self):
        stem = "C" + uniq("clipsk")
        kid, key = self.add_psk(stem)
        url = "https://127.0.0.1:%d" % self.S.psk_port
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(key + "\n")
        try:
            r = cli(url, "--psk-identity", kid, "--psk-key-file", f.name, "--fail", "create", CB, "ae",
                    json.dumps({"rn": stem, "api": "Ncli", "rr": False, "srv": ["3"]}), origin=stem)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.rc, 0, r.err)
        self.assertTrue(r.status.startswith("2001"), r.status)
        self.assertEqual(r.json()["m2m:ae"]["aei"], stem)
        # psktool's IDENTITY:HEX line on standard input
        r = cli(url, "--psk-key-file", "-", "--fail", "get", "%s/%s" % (CB, stem), origin=stem,
                stdin=("%s:%s\n" % (kid, key)).encode())
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(r.json()["m2m:ae"]["aei"], stem)
        # the wrong key: no response, exit status 1, a message naming the handshake
        r = cli(url, "--psk-identity", kid, "--psk-key-file", "-", "get", CB, origin=stem,
                stdin=(("00" * 32) + "\n").encode())
        self.assertEqual(r.rc, 1)
        self.assertIn("handshake", r.err)

    def test_psk_key_is_never_taken_from_argv(self):
        p = subprocess.run([cli_bin(), "--url", "https://127.0.0.1:1", "--psk-identity", "x@y", "get", CB],
                           capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--psk-key-file", p.stderr)
        p = subprocess.run([cli_bin(), "--psk", "00112233", "get", CB], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 2, "no option takes the key itself")

    def test_https_client_certificate_registers_and_reads_an_ae(self):
        stem = "C" + uniq("clicrt")
        crt, key, _ = self.S.pki.issue(stem)
        url = "https://127.0.0.1:%d" % self.S.https_port
        args = ["--cert", crt, "--key", key, "--cacert", self.S.pki.ca_pem, "--fail"]
        r = cli(url, *args, "create", CB, "ae", json.dumps({"rn": stem, "api": "Ncli", "rr": False,
                                                            "srv": ["3"]}), origin=stem)
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(r.json()["m2m:ae"]["aei"], stem)
        r = cli(url, *args, "tree", CB, origin=stem)
        self.assertEqual(r.rc, 0, r.err)
        self.assertIn("%s [ae]" % stem, r.out)
        # without the CA the server is not trusted
        r = cli(url, "--cert", crt, "--key", key, "get", CB, origin=stem)
        self.assertEqual(r.rc, 1)
        self.assertIn("warden-cli:", r.err)
        self.assertIsNotNone(ae_absolute(stem))


if __name__ == "__main__":
    main()
