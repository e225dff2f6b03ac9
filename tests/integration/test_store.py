#!/usr/bin/python3
"""The store and the audit log as an operator meets them (issue 12): the audit chain keyed with a
key that lives in the store (finding 14), one server per store (finding 21), owner-only files
(finding 16), schema upgrades from every earlier release (finding 24) and aggregated denials
(finding 8).

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_store.py
(wardenctl is taken from the directory of WARDEN_BIN.)
"""

import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import CSE_RN, ServerError, WardenServer, main, uniq  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "store")
from tls_helpers import Ctl  # noqa: E402

CB = "/" + CSE_RN


def wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class StoreCase(unittest.TestCase):
    """Each test gets a directory of its own (owner-only, as mkdtemp makes it)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="warden-store-")
        self.store = os.path.join(self.tmp, "warden.db")
        self.audit = os.path.join(self.tmp, "audit.log")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        if not os.environ.get("WARDEN_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, *extra, audit=True):
        args = ["--audit.path=%s" % self.audit] if audit else []
        s = WardenServer(extra_args=args + list(extra), tmpdir=self.tmp)
        s.store_path = self.store
        self.servers.append(s)
        return s

    def ctl(self):
        return Ctl(self.store, ["--audit.path=%s" % self.audit])

    def audit_lines(self):
        try:
            with open(self.audit, encoding="utf-8") as f:
                return f.read().splitlines(keepends=True)
        except FileNotFoundError:
            return []

    def deny(self, srv, n, origin=None):
        """n unauthenticated denials (4106: unknown originator); returns the originators used."""
        c = srv.client()
        used = []
        for _ in range(n):
            o = origin or "C" + uniq("intruder")
            r = c.retrieve(CB, origin=o)
            self.assertEqual(r.rsc, 4106, r)
            used.append(o)
        return used


def rewrite_chain(lines, start, edit):
    """What an attacker with write access to the log file (and not to the store) does: edit the
    line at index start and recompute every chain field from there on, with everything that can be
    computed from the file alone (SHA-256 of the line before; HMAC needs a key: a guessed one)."""
    out = list(lines[:start])
    guessed = os.urandom(32)
    prev_line = out[-1] if out else None
    prev_mac = json.loads(prev_line)["mac"] if prev_line and "mac" in json.loads(prev_line) else None
    for i, line in enumerate(lines[start:]):
        body = line.rstrip("\n")
        if i == 0:
            body = edit(body)
        cut = body.index(',"prev":')
        head = body[:cut]
        if '"mac":' in body:
            prev = prev_mac or "0" * 64
            signed = '%s,"prev":"%s"' % (head, prev)
            mac = hmac.new(guessed, signed.encode(), hashlib.sha256).hexdigest()
            new = '%s,"mac":"%s"}\n' % (signed, mac)
            prev_mac = mac
        else:
            prev = hashlib.sha256(prev_line.encode()).hexdigest() if prev_line else "0" * 64
            new = '%s,"prev":"%s"}\n' % (head, prev)
        out.append(new)
        prev_line = new
    return out


class AuditChainTest(StoreCase):
    def test_finding_14_rewritten_audit_fails_verify(self):
        srv = self.server().start()
        self.deny(srv, 4)
        self.assertTrue(wait_for(lambda: len(self.audit_lines()) >= 4), "no audit lines")
        srv.stop()
        ctl = self.ctl()
        p = ctl.run("audit", "verify")
        self.assertEqual(p.returncode, 0, "the untouched log must verify: %s %s" % (p.stdout, p.stderr))
        lines = self.audit_lines()
        forged = rewrite_chain(lines, 1, lambda b: b.replace('"rsc":4106', '"rsc":2000'))
        with open(self.audit, "w", encoding="utf-8") as f:
            f.writelines(forged)
        p = ctl.run("audit", "verify")
        self.assertEqual(p.returncode, 1, "a log rewritten from line 2 with a recomputed chain passed verify: %s"
                         % p.stdout)
        self.assertIn("line 2", p.stdout)

    def test_finding_14_chain_continues_across_restarts_and_key_stays_in_store(self):
        srv = self.server().start()
        self.deny(srv, 2)
        srv.stop()
        srv = self.server().start()
        self.deny(srv, 2)
        self.assertTrue(wait_for(lambda: len(self.audit_lines()) >= 4))
        p = self.ctl().run("audit", "verify")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("4 lines", p.stdout)
        # the key is in the store, never in the log
        db = sqlite3.connect("file:%s?mode=ro" % self.store, uri=True)
        key = db.execute("SELECT key FROM audit_key").fetchone()[0]
        db.close()
        self.assertEqual(len(key), 32)
        with open(self.audit, "rb") as f:
            log = f.read()
        self.assertNotIn(key, log)
        self.assertNotIn(key.hex().encode(), log)
        srv.stop()


class AuditAggregationTest(StoreCase):
    def events(self):
        return [json.loads(l) for l in self.audit_lines()]

    def test_finding_8_repeated_identical_denials_are_one_line_and_a_count(self):
        srv = self.server().start()  # default audit.window (60 s)
        self.deny(srv, 300, origin="Cflood")
        other = self.deny(srv, 1)[0]
        self.assertTrue(wait_for(lambda: any(e.get("originator") == other for e in self.events())))
        denies = [e for e in self.events() if e.get("originator") == "Cflood"]
        self.assertEqual(len(denies), 1, "300 identical denials wrote %d lines" % len(denies))
        srv.stop()  # the run ends with the log: its count is written
        rep = [e for e in self.events() if e.get("event") == "repeated"]
        self.assertEqual(len(rep), 1, rep)
        self.assertEqual(rep[0]["repeated"], 299)
        self.assertEqual(rep[0]["of"], denies[0]["mac"])
        self.assertEqual(rep[0]["peer"], "127.0.0.1")
        self.assertLess(os.path.getsize(self.audit), 2000)
        p = self.ctl().run("audit", "verify")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_finding_8_count_written_when_the_window_ends(self):
        srv = self.server("--audit.window=1").start()
        self.deny(srv, 20, origin="Cwindow")
        rep = wait_for(lambda: [e for e in self.events() if e.get("event") == "repeated"], timeout=10)
        self.assertTrue(rep, "no 'repeated' line after the 1 s window")
        denies = [e for e in self.events() if e.get("originator") == "Cwindow"]
        self.assertEqual(sum(r["repeated"] for r in rep) + len(denies), 20)
        srv.stop()

    def test_finding_8_varied_originators_bounded_per_peer(self):
        srv = self.server("--audit.peer_lines=20").start()
        self.deny(srv, 100)  # each from another originator: no two identical
        self.assertTrue(wait_for(lambda: len([e for e in self.events() if e.get("event") == "deny"]) >= 20))
        srv.stop()
        denies = [e for e in self.events() if e.get("event") == "deny"]
        sup = [e for e in self.events() if e.get("event") == "suppressed"]
        self.assertEqual(len(denies), 20, "100 denials from one peer wrote %d lines" % len(denies))
        self.assertEqual(len(sup), 1, sup)
        self.assertEqual((sup[0]["peer"], sup[0]["written"], sup[0]["suppressed"]), ("127.0.0.1", 20, 80))
        p = self.ctl().run("audit", "verify")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_finding_8_window_zero_writes_every_denial(self):
        srv = self.server("--audit.window=0").start()
        self.deny(srv, 5, origin="Cevery")
        self.assertTrue(wait_for(lambda: len([e for e in self.events() if e.get("originator") == "Cevery"]) == 5))
        srv.stop()


class OneServerPerStoreTest(StoreCase):
    def test_finding_21_second_server_on_same_store_refused(self):
        first = self.server().start()
        second = self.server()
        with self.assertRaises(ServerError):
            second.start()
        self.assertNotEqual(second.proc.returncode, 0)
        out = second.output()
        self.assertIn("pid %d" % first.proc.pid, out, "the error must name the holder: %s" % out)
        self.assertIn(self.store, out)
        # the first server keeps serving alone
        self.assertEqual(first.client().retrieve(CB).rsc, 2000)
        # a crash leaves no stale lock: after kill -9 the next server starts
        first.kill9()
        third = self.server().start()
        self.assertEqual(third.client().retrieve(CB).rsc, 2000)
        third.stop()

    def test_finding_21_wardenctl_next_to_a_running_server(self):
        srv = self.server().start()
        ctl = self.ctl()
        p = ctl.ok("psk", "add", uniq("k") + "@warden.example.com", "-", stdin=os.urandom(32).hex() + "\n")
        self.assertIn("store %s" % os.path.realpath(self.store), p.stderr, "wardenctl must name its store")
        ctl.ok("psk", "list")
        self.assertEqual(srv.client().retrieve(CB).rsc, 2000)
        srv.stop()

    def test_finding_21_wardenctl_does_not_create_a_store(self):
        missing = os.path.join(self.tmp, "typo", "warden.db")
        for cmd in (["psk", "list"], ["psk", "add", "a@warden.example.com", "-"], ["cert", "revoke", "0a"],
                    ["explain", "Cx", "retrieve", CSE_RN]):
            p = Ctl(missing).run(*cmd, stdin=os.urandom(32).hex() + "\n")
            self.assertEqual(p.returncode, 1, "%s on a missing store: %s %s" % (cmd, p.stdout, p.stderr))
            self.assertIn(missing, p.stderr)
            self.assertFalse(os.path.exists(missing), "%s created a store" % cmd)
            self.assertFalse(os.path.exists(os.path.dirname(missing)), "%s created its directory" % cmd)
        p = Ctl(missing).ok("init")
        self.assertTrue(os.path.exists(missing))
        self.assertEqual(Ctl(missing).run("init").returncode, 1, "init over an existing store")
        Ctl(missing).ok("psk", "list")


class PrivateFilesTest(StoreCase):
    def refused(self, srv, words):
        with self.assertRaises(ServerError):
            srv.start()
        self.assertNotEqual(srv.proc.returncode, 0)
        out = srv.output()
        for w in words:
            self.assertIn(w, out)

    def test_finding_16_store_open_to_others_refused(self):
        srv = self.server().start()
        self.deny(srv, 1)
        srv.stop()
        os.chmod(self.store, 0o644)
        self.refused(self.server(), [self.store, "chmod 600"])
        os.chmod(self.store, 0o600)
        self.server().start().stop()

    def test_finding_16_audit_log_open_to_others_refused(self):
        srv = self.server().start()
        self.deny(srv, 1)
        srv.stop()
        os.chmod(self.audit, 0o604)
        self.refused(self.server(), [self.audit, "chmod 600"])
        os.chmod(self.audit, 0o600)
        self.server().start().stop()

    def test_finding_16_world_writable_store_directory_refused(self):
        os.chmod(self.tmp, 0o777)
        try:
            self.refused(self.server(audit=False), [self.tmp, "world-writable"])
            self.assertFalse(os.path.exists(self.store), "a store was created in a world-writable directory")
        finally:
            os.chmod(self.tmp, 0o700)
        self.server(audit=False).start().stop()


class SchemaUpgradeTest(StoreCase):
    """Stores of every earlier schema (tests/fixtures/store, made from each release's own migration
    steps by make_fixtures.py) are upgraded by the server at start and serve their data."""

    def test_finding_24_upgrade_from_each_earlier_schema(self):
        versions = sorted(int(f[len("schema-v"):-len(".sql")]) for f in os.listdir(FIXTURES)
                          if f.startswith("schema-v") and f.endswith(".sql"))
        # the schema a new store gets: every earlier one has its fixture
        srv = self.server(audit=False).start()
        srv.stop()
        db = sqlite3.connect(self.store)
        current = db.execute("PRAGMA user_version").fetchone()[0]
        db.close()
        self.assertEqual(versions, list(range(1, current)))
        for v in versions:
            with self.subTest(schema=v):
                if os.path.exists(self.store):
                    os.unlink(self.store)
                for side in ("-wal", "-shm"):
                    if os.path.exists(self.store + side):
                        os.unlink(self.store + side)
                fd = os.open(self.store, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
                with open(os.path.join(FIXTURES, "schema-v%d.sql" % v), encoding="utf-8") as f:
                    db = sqlite3.connect(self.store)
                    db.executescript(f.read())
                    db.close()
                srv = self.server(audit=False)
                try:
                    srv.start()
                except ServerError as e:
                    self.fail("the server did not start on a store of schema %d: %s" % (v, e))
                c = srv.client()
                r = c.retrieve(CB + "/fixae/temp/la", origin="Cfixae")
                self.assertEqual(r.rsc, 2000, r)
                self.assertEqual(r.body["m2m:cin"]["con"], "21.5")
                r = c.request("GET", CB + "?fu=1&lbl=room:1", origin="Cfixae")
                self.assertEqual(r.rsc, 2000, r)
                self.assertEqual(r.body.get("m2m:uril"), [CSE_RN + "/fixae/temp"], r.body)
                r = c.create(CB + "/fixae/temp", 4, {"con": "22"}, origin="Cfixae", root="m2m:cin")
                self.assertEqual(r.rsc, 2001, r)
                srv.stop()
                db = sqlite3.connect(self.store)
                self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], current)
                db.close()


if __name__ == "__main__":
    main()
