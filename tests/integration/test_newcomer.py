#!/usr/bin/python3
"""Clear answers to a newcomer's mistakes (issue 15): a POST without a resource type whose Content is
a creatable resource says how to create it (HTTP and CoAP read such a POST as NOTIFY: TS-0009
§6.4.7, TS-0008 §6.2.1); a mistyped configuration key names the nearest one; `wardenctl explain`
asks the running server (its <CSEBase>/$explain) and says when it could not.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_newcomer.py
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import ADMIN, CSE_RN, WardenServer, WardenTestCase, free_port, main, uniq, warden_bin  # noqa: E402
from coap_helpers import coap  # noqa: E402
from tls_helpers import ctl_bin  # noqa: E402

AE = {"api": "Nnew", "rr": False, "srv": ["3"]}
TIMEOUT = 60


def udp_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CreateWithoutTyTest(WardenTestCase):
    """The first registration of a newcomer, copied without ';ty=2'."""

    def post_without_ty(self, path, body, origin):
        return self.c.request("POST", path, origin=origin, body=body, content_type="application/json")

    def test_http_post_without_ty_of_an_ae_says_to_add_ty_2(self):
        for origin in ("C" + uniq("new"), ADMIN):  # unregistered (was 4106) and the admin (was 4005)
            r = self.assertRsc(self.post_without_ty("/" + CSE_RN, {"m2m:ae": dict(AE, rn=uniq("n"))}, origin),
                               4000)
            dbg = r.body["m2m:dbg"]
            self.assertIn("NOTIFY", dbg)
            self.assertIn("application/json;ty=2", dbg)

    def test_http_post_without_ty_names_the_type_of_each_creatable_resource(self):
        aei, _, path, _ = self.new_ae()
        for sn, ty in (("cnt", 3), ("cin", 4), ("acp", 1), ("grp", 9), ("sub", 23)):
            r = self.assertRsc(self.post_without_ty(path, {"m2m:%s" % sn: {}}, aei), 4000)
            self.assertIn("m2m:%s" % sn, r.body["m2m:dbg"])
            self.assertIn(";ty=%d" % ty, r.body["m2m:dbg"])

    def test_a_real_notification_is_still_a_notify(self):
        r = self.post_without_ty("/" + CSE_RN, {"m2m:sgn": {"vrq": True}}, ADMIN)
        self.assertNotEqual(r.rsc, 4000, "an m2m:sgn is a notification, not a mistaken create: %r" % (r.body,))
        # a CSEBase cannot be created: no create hint (TS-0004 §7.3.3.9: a NOTIFY to the CSEBase
        # whose content is no notification is 4000 of its own)
        r = self.post_without_ty("/" + CSE_RN, {"m2m:cb": {}}, ADMIN)
        self.assertNotIn("ty=", json.dumps(r.body), "a CSEBase cannot be created: no create hint")


class CoapCreateWithoutTyTest(unittest.TestCase):
    """The same mistake over CoAP: a POST without the oneM2M-TY option."""

    def test_coap_post_without_ty_option_of_an_ae_says_to_give_oneM2M_TY_2(self):
        port = udp_port()
        srv = WardenServer(extra_args=["--coap.port=%d" % port, "--coap.address=127.0.0.1"]).start()
        try:
            r = coap("POST", "coap://127.0.0.1:%d/%s" % (port, CSE_RN), fr="C" + uniq("co"),
                     data=json.dumps({"m2m:ae": dict(AE, rn=uniq("co"))}), cf="json")
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.rsc, 4000, r)
            self.assertIn("oneM2M-TY 2", r.stdout + r.payload)
        finally:
            self.assertEqual(srv.stop(), 0)
            srv.cleanup()


class RefusedBeforeParsingTest(unittest.TestCase):
    """A request refused on its head alone (here: X-M2M-RI given twice) is logged with its binding,
    so that an operator can tell which listener the refusals come from."""

    def test_http_request_refused_on_its_head_names_http_in_the_log(self):
        import socket
        import time
        srv = WardenServer(extra_args=["--log.level=info"]).start()
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"GET /cse-in HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: CAdmin\r\nX-M2M-RI: a\r\n"
                      b"X-M2M-RI: b\r\n\r\n")
            self.assertIn(b" 400 ", s.recv(4096))
            s.close()
            deadline = time.monotonic() + 10
            line = None
            while line is None and time.monotonic() < deadline:
                line = next((l for l in list(srv.stderr_lines) if "reason=bad-header" in l), None)
                time.sleep(0.05)
            self.assertIsNotNone(line, srv.output())
            self.assertRegex(line, r"INFO http none ", "the binding is named, not '-'")
        finally:
            self.assertEqual(srv.stop(), 0)
            srv.cleanup()


class JsonLogTest(unittest.TestCase):
    """log.format=json: every log line is one JSON object, whatever the request held."""

    def test_json_log_lines_are_valid_json_even_with_quotes_and_control_bytes_from_requests(self):
        import socket
        import time
        srv = WardenServer(extra_args=["--log.level=info", "--log.format=json"]).start()
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b'GET /cse-in HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: C"q\\\xff\x01\r\n'
                      b'X-M2M-RI: "ri\\\r\nConnection: close\r\n\r\n')
            s.recv(4096)
            s.close()
            deadline = time.monotonic() + 10
            objs = []
            while time.monotonic() < deadline and not any('ri' in o.get("msg", "") and "rqi=" in o.get("msg", "")
                                                          for o in objs):
                objs = [json.loads(l) for l in list(srv.stderr_lines) if l.startswith("{")]
                time.sleep(0.05)
            for line in list(srv.stderr_lines):
                if line != "warden: ready":
                    o = json.loads(line)
                    self.assertEqual(sorted(o), ["level", "msg", "ts"], line)
            req = [o for o in objs if "rqi=" in o["msg"]]
            self.assertTrue(req, srv.output())
            self.assertIn('rqi="ri\\', req[0]["msg"])
            self.assertEqual(req[0]["level"], "INFO")
            self.assertTrue(req[0]["msg"].startswith("http "), req[0])
        finally:
            self.assertEqual(srv.stop(), 0)
            srv.cleanup()


class ConfigKeyTest(unittest.TestCase):
    def run_warden(self, *args):
        return subprocess.run([warden_bin()] + list(args), capture_output=True, text=True, timeout=TIMEOUT)

    def test_mistyped_key_on_the_command_line_suggests_the_nearest(self):
        p = self.run_warden("--htp.port=8080")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown configuration key 'htp.port' (did you mean 'http.port'?)", p.stderr)
        p = self.run_warden("--notify.timout=5")
        self.assertIn("(did you mean 'notify.timeout'?)", p.stderr)

    def test_mistyped_key_in_the_file_names_the_line_and_suggests_the_nearest(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("[log]\nlevel = info\n[store]\npth = x.db\n")
        try:
            p = self.run_warden("--config", f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(p.returncode, 2)
        self.assertIn(":4: unknown configuration key 'store.pth' (did you mean 'store.path'?)", p.stderr)

    def test_a_key_far_from_every_key_gets_no_guess(self):
        p = self.run_warden("--frobnicate.widgets=1")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown configuration key 'frobnicate.widgets'", p.stderr)
        self.assertNotIn("did you mean", p.stderr)


class ExplainAsksServerTest(WardenTestCase):
    """wardenctl explain decides with the running server when one answers."""

    def ctl(self, store, port, *args):
        return subprocess.run([ctl_bin(), "--store.path=%s" % store, "--http.port=%d" % port] + list(args),
                              capture_output=True, text=True, timeout=TIMEOUT)

    def test_explain_is_the_running_servers_decision(self):
        # the server of the store says in the store's lock file where it listens: wardenctl asks it
        # there, whatever http.port its own configuration names
        origin = "C" + uniq("ex")
        rn = uniq("ex")
        self.assertRsc(self.c.register_ae(origin=origin, rn=rn), 2001)
        target = "%s/%s" % (CSE_RN, rn)
        p = self.ctl(self.server.store_path, free_port(), "explain", origin, "retrieve", target)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.splitlines()[0], "PERMIT")
        self.assertIn("explained by the running server of this store", p.stderr)
        self.assertIn("at http://127.0.0.1:%d" % self.server.port, p.stderr)
        p = self.ctl(self.server.store_path, self.server.port, "explain", origin, "retrieve", target, "--from-store")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("running server", p.stderr)

    def test_explain_never_asks_the_server_of_another_store(self):
        # a server listens on the configured port, but it holds another store: its decision would be
        # about resources this store does not have
        origin = "C" + uniq("fb")
        rn = uniq("fb")
        self.assertRsc(self.c.register_ae(origin=origin, rn=rn), 2001)
        tmp = tempfile.mkdtemp(prefix="warden-explain-")
        other = os.path.join(tmp, "other.db")
        self.assertEqual(subprocess.run([ctl_bin(), "--store.path=" + other, "init"], capture_output=True,
                                        timeout=TIMEOUT).returncode, 0)
        p = self.ctl(other, self.server.port, "explain", origin, "retrieve", "%s/%s" % (CSE_RN, rn))
        self.assertEqual(p.returncode, 1, "the other store does not hold the AE: " + p.stdout + p.stderr)
        self.assertIn("no server holds this store", p.stderr)
        self.assertIn("explained from the store instead", p.stderr)
        self.assertNotIn("running server of this store", p.stderr)


if __name__ == "__main__":
    main()
