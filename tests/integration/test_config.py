#!/usr/bin/python3
"""Configuration: --config INI file, --section.key=value overrides, rejection of
unknown keys and bad values (docs/http-contract.md, start line and defaults).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_config.py
"""

import os
import socket
import sys
import http.client
import shutil
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import (ADMIN, HTTP_FOR_RSC, READY_MARKER, TY_AE, TY_CNT, Client, WardenServer,  # noqa: E402
                        free_port, main, retrieve_when_served, served_at_once)


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class ConfigTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="warden-cfg-")
        os.mkdir(os.path.join(self.tmp, "data"))
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        if not os.environ.get("WARDEN_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def write_ini(self, text, name="warden.ini"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def base_ini(self, port, extra=""):
        return ("# Warden test configuration\n"
                "[cse]\nrn = mycse\n\n"
                "[http]\nport = %d\naddress = 127.0.0.1\n\n"
                "[store]\npath = %s\n\n"
                "[log]\nlevel = warn\n%s" % (port, os.path.join(self.tmp, "data", "custom.db"), extra))

    def server(self, args, port):
        s = WardenServer(extra_args=args, standard_args=False, tmpdir=self.tmp, port=port)
        self.servers.append(s)
        return s

    def start_ok(self, args, port):
        s = self.server(args, port).start()
        return s, Client(port)

    def ok(self, r, rsc):
        self.assertEqual((r.rsc, r.status), (rsc, HTTP_FOR_RSC[rsc]),
                         "HTTP %s RSC %s body %r" % (r.status, r.rsc, r.body))
        return r

    def stop_ok(self, s):
        self.assertEqual(s.stop(), 0, "exit status after SIGTERM:\n" + s.output())

    def assert_refused(self, args, section, key):
        """The server must exit non-zero without becoming ready and name section.key."""
        s = self.server(args, free_port())
        s.spawn()
        rc = s.wait_exit(10)
        out = s.output()
        if rc is None:
            s.kill9()
            self.fail("server did not exit for %s.%s (args %r); output:\n%s" % (section, key, args, out))
        self.assertNotEqual(rc, 0, "exit status 0 for bad %s.%s; output:\n%s" % (section, key, out))
        self.assertNotIn(READY_MARKER, out)
        self.assertTrue("%s.%s" % (section, key) in out or (key in out and section in out),
                        "error message does not name %s.%s:\n%s" % (section, key, out))

    # ---------------------------------------------------------------- file
    def test_config_file_is_honoured(self):
        port = free_port()
        ini = self.write_ini(self.base_ini(port))
        s, c = self.start_ok(["--config", ini], port)
        r = self.ok(c.retrieve("/mycse", origin=ADMIN), 2000)
        self.assertEqual(r.body["m2m:cb"]["rn"], "mycse")
        self.ok(c.retrieve("/~/id-in/mycse", origin=ADMIN), 2000)
        self.ok(c.retrieve("/cse-in", origin=ADMIN), 4004)
        # store.path from the file: an acknowledged write lands there.
        self.ok(c.create("/mycse", TY_AE, {"api": "Ncfg", "rr": False}, origin="Cfilecfg"), 2001)
        data = os.path.join(self.tmp, "data")
        self.assertTrue(any(n.startswith("custom.db") for n in os.listdir(data)),
                        "store.path from the file not used: %s" % os.listdir(data))
        self.stop_ok(s)
        s, c = self.start_ok(["--config", ini], port)
        self.ok(c.retrieve("/mycse/Cfilecfg", origin="Cfilecfg"), 2000)
        self.stop_ok(s)

    def test_config_file_identity_keys(self):
        port = free_port()
        ini = self.write_ini(self.base_ini(port).replace(
            "[cse]\nrn = mycse\n", "[cse]\nrn = mycse\nid = /id-test\nspid = test.example.org\nadmin = CBoss\n", 1))
        s, c = self.start_ok(["--config", ini], port)
        r = self.ok(c.retrieve("/mycse", origin="CBoss"), 2000)
        self.assertEqual(r.body["m2m:cb"]["csi"], "/id-test")
        self.ok(c.retrieve("/~/id-test/mycse", origin="CBoss"), 2000)
        self.ok(c.retrieve("/_/test.example.org/id-test/mycse", origin="CBoss"), 2000)
        # The default admin name is no longer privileged (it is just an unregistered AE-ID).
        self.ok(c.retrieve("/mycse", origin="CAdmin"), 4106)
        self.stop_ok(s)

    def test_command_line_overrides_file(self):
        file_port, cli_port = free_port(), free_port()
        while cli_port == file_port:
            cli_port = free_port()
        ini = self.write_ini(self.base_ini(file_port))
        s, c = self.start_ok(["--config", ini, "--cse.rn=othercse", "--http.port=%d" % cli_port], cli_port)
        r = self.ok(c.retrieve("/othercse", origin=ADMIN), 2000)
        self.assertEqual(r.body["m2m:cb"]["rn"], "othercse")
        self.ok(c.retrieve("/mycse", origin=ADMIN), 4004)
        self.assertFalse(port_open(file_port), "server also listens on the file's port")
        self.stop_ok(s)

    def test_command_line_overrides_file_given_before_it(self):
        port = free_port()
        ini = self.write_ini(self.base_ini(port))
        s, c = self.start_ok(["--cse.rn=firstcse", "--config", ini], port)
        self.ok(c.retrieve("/firstcse", origin=ADMIN), 2000)
        self.ok(c.retrieve("/mycse", origin=ADMIN), 4004)
        self.stop_ok(s)

    def test_command_line_only_no_file(self):
        port = free_port()
        s, c = self.start_ok(["--http.port=%d" % port, "--http.address=127.0.0.1",
                              "--store.path=%s" % os.path.join(self.tmp, "w.db"), "--log.level=warn",
                              "--cse.rn=clicse"], port)
        self.ok(c.retrieve("/clicse", origin=ADMIN), 2000)
        self.stop_ok(s)

    def std_ok(self, port, *extra):
        return ["--http.port=%d" % port, "--http.address=127.0.0.1",
                "--store.path=%s" % os.path.join(self.tmp, "data", "k.db"), "--log.level=warn"] + list(extra)

    def test_http_timeout_is_honoured(self):
        port = free_port()
        s, c = self.start_ok(self.std_ok(port, "--http.timeout=2"), port)
        sock = socket.create_connection(("127.0.0.1", port), timeout=8)
        t0 = time.monotonic()
        try:
            sock.sendall(b"GET /cse-in HTTP/1.1\r\n")      # incomplete head, then silence
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                data = b""
            except socket.timeout:
                self.fail("idle connection still open after 8 s with http.timeout=2")
        finally:
            sock.close()
        dt = time.monotonic() - t0
        self.assertFalse(data.startswith(b"HTTP/1.1 2"), data[:100])
        self.assertGreaterEqual(dt, 1.5, "closed after %.1f s, before http.timeout=2" % dt)
        self.assertLess(dt, 5.0, "closed only after %.1f s with http.timeout=2" % dt)
        self.ok(c.retrieve("/cse-in", origin=ADMIN), 2000)
        self.stop_ok(s)

    def test_limits_max_body_is_honoured(self):
        port = free_port()
        s, c = self.start_ok(self.std_ok(port, "--limits.max_body=2000"), port)
        self.ok(c.create("/cse-in", TY_CNT, {"rn": "mb"}, origin=ADMIN), 2001)
        r = c.create("/cse-in/mb", 4, {"rn": "small", "con": "x" * 1500}, origin=ADMIN)
        self.ok(r, 2001)
        try:
            r = c.create("/cse-in/mb", 4, {"rn": "large", "con": "x" * 3000}, origin=ADMIN)
            self.assertEqual((r.status, r.rsc), (413, 4000), "HTTP %s RSC %s %r" % (r.status, r.rsc, r.body))
        except (ConnectionError, http.client.HTTPException):
            pass    # a clean close is acceptable
        self.ok(c.retrieve("/cse-in/mb/large", origin=ADMIN), 4004)
        self.stop_ok(s)

    def test_http_max_conns_per_ip_is_honoured(self):
        port = free_port()
        s, c = self.start_ok(self.std_ok(port, "--http.max_conns_per_ip=3"), port)
        req = b"GET /cse-in HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: CAdmin\r\nX-M2M-RI: m\r\n\r\n"
        served = served_at_once(port, 4, req, 3)
        self.assertEqual(served.count(True), 3, served)
        r = retrieve_when_served(c, "/cse-in", ADMIN)
        self.assertIsNotNone(r, "still refused 5 s after the connections were closed")
        self.ok(r, 2000)
        self.stop_ok(s)

    # --------------------------------------------------------------- refusals
    def std(self):
        return ["--http.address=127.0.0.1", "--store.path=%s" % os.path.join(self.tmp, "x.db"),
                "--log.level=warn"]

    def test_unknown_key_on_command_line_refused(self):
        self.assert_refused(self.std() + ["--http.port=%d" % free_port(), "--cse.frobnicate=1"],
                            "cse", "frobnicate")

    def test_unknown_section_on_command_line_refused(self):
        self.assert_refused(self.std() + ["--http.port=%d" % free_port(), "--bogussect.thing=1"],
                            "bogussect", "thing")

    def test_unknown_key_in_file_refused(self):
        ini = self.write_ini(self.base_ini(free_port(), "\n[http]\nfrobnicate = yes\n"), "bad1.ini")
        self.assert_refused(["--config", ini], "http", "frobnicate")

    def test_bad_value_on_command_line_refused(self):
        for key, value in (("port", "notaport"), ("port", "70000"), ("max_conns_per_ip", "lots")):
            with self.subTest(key=key, value=value):
                args = self.std() + ["--http.%s=%s" % (key, value)]
                if key != "port":
                    args.append("--http.port=%d" % free_port())
                self.assert_refused(args, "http", key)
        self.assert_refused(self.std() + ["--http.port=%d" % free_port(), "--limits.max_body=huge"],
                            "limits", "max_body")

    def test_bad_log_level_refused(self):
        args = ["--http.address=127.0.0.1", "--store.path=%s" % os.path.join(self.tmp, "y.db"),
                "--http.port=%d" % free_port(), "--log.level=chatty"]
        self.assert_refused(args, "log", "level")

    def test_bad_value_in_file_refused(self):
        ini = self.write_ini(self.base_ini(free_port(), "\n[http]\ntimeout = soon\n"), "bad2.ini")
        self.assert_refused(["--config", ini], "http", "timeout")

    def test_missing_config_file_refused(self):
        s = self.server(["--config", os.path.join(self.tmp, "does-not-exist.ini")], free_port())
        s.spawn()
        rc = s.wait_exit(10)
        if rc is None:
            s.kill9()
            self.fail("server did not exit for a missing config file")
        self.assertNotEqual(rc, 0, s.output())
        self.assertNotIn(READY_MARKER, s.output())


if __name__ == "__main__":
    main()
