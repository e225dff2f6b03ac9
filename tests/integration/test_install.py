#!/usr/bin/python3
"""Installing Warden as a service (README "Installing as a service"): `make install` with DESTDIR
puts each file in place, the installed server starts with the installed configuration and serves,
the systemd unit passes `systemd-analyze verify`, readiness reaches systemd (sd_notify), every
manual page renders without warnings, every program has --version and --help on standard output.

Run: WARDEN_BIN=build/warden /usr/bin/python3 tests/integration/test_install.py
(the build directory is the directory of WARDEN_BIN; it must be built: `cmake --install` builds
nothing).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import ADMIN, CSE_RN, Client, WardenServer, free_port, main, warden_bin  # noqa: E402

BUILD = os.path.dirname(os.path.abspath(warden_bin()))
PROGRAMS = {"sbin": ("warden", "wardenctl", "warden-das"), "bin": ("warden-cli", "warden-coap")}
MAN_PAGES = ("man1/warden-cli.1", "man1/warden-coap.1", "man5/warden.conf.5", "man8/warden.8",
             "man8/wardenctl.8", "man8/warden-das.8")
TIMEOUT = 120


def cache_value(name):
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"%s:[A-Z]+=(.*)$" % re.escape(name), line.strip())
            if m:
                return m.group(1)
    raise AssertionError("%s not in %s/CMakeCache.txt" % (name, BUILD))


def stage_install(destdir):
    """DESTDIR=destdir cmake --install BUILD; returns (prefix root in destdir, output)."""
    env = dict(os.environ, DESTDIR=destdir)
    p = subprocess.run(["cmake", "--install", BUILD], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise AssertionError("cmake --install failed (%d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    return destdir + cache_value("CMAKE_INSTALL_PREFIX"), p.stdout


def sysconf(destdir, root):
    d = cache_value("CMAKE_INSTALL_SYSCONFDIR")
    return os.path.join(destdir + d if d.startswith("/") else os.path.join(root, d), "warden")


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="warden-install-")
        cls.root, cls.out = stage_install(cls.dest)
        cls.etc = sysconf(cls.dest, cls.root)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def test_make_install_destdir_puts_programs_config_unit_and_pages_in_place(self):
        for d, names in PROGRAMS.items():
            for n in names:
                path = os.path.join(self.root, d, n)
                self.assertTrue(os.access(path, os.X_OK), "%s is not installed as a program" % path)
        self.assertTrue(os.path.isfile(os.path.join(self.etc, "warden.conf")))
        self.assertTrue(os.path.isfile(os.path.join(self.root, "lib/systemd/system/warden.service")))
        self.assertTrue(os.path.isfile(os.path.join(self.root, "lib/sysusers.d/warden.conf")))
        for page in MAN_PAGES:
            self.assertTrue(os.path.isfile(os.path.join(self.root, "share/man", page)), page)
        for dirpath, _, files in os.walk(self.dest):
            self.assertTrue(dirpath.startswith(self.dest))
        self.assertNotIn(self.dest + self.dest, self.out, "DESTDIR applied twice")

    def test_installed_config_names_the_service_state_and_log_directories(self):
        with open(os.path.join(self.etc, "warden.conf")) as f:
            text = f.read()
        self.assertRegex(text, r"\n\[store\][^\[]*\npath = /var/lib/warden/warden\.db\n")
        self.assertRegex(text, r"\n\[audit\][^\[]*\npath = /var/log/warden/audit\.log\n")

    def test_reinstall_keeps_an_edited_config_and_ships_the_new_one_beside_it(self):
        dest = tempfile.mkdtemp(prefix="warden-reinstall-")
        try:
            root, _ = stage_install(dest)
            conf = os.path.join(sysconf(dest, root), "warden.conf")
            with open(conf, "a") as f:
                f.write("\n# edited by the operator\n")
            stage_install(dest)
            with open(conf) as f:
                self.assertIn("edited by the operator", f.read())
            self.assertTrue(os.path.isfile(conf + ".dist"))
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    def test_installed_warden_serves_with_the_installed_config(self):
        tmp = tempfile.mkdtemp(prefix="warden-installed-run-")
        srv = WardenServer(standard_args=False, tmpdir=tmp)
        srv.binary = os.path.join(self.root, "sbin", "warden")
        srv.extra_args = ["--config", os.path.join(self.etc, "warden.conf"),
                          "--store.path=%s/warden.db" % tmp, "--audit.path=%s/audit.log" % tmp,
                          "--http.port=%d" % srv.port, "--log.level=warn"]
        srv.start()
        try:
            r = Client(srv.port).request("GET", "/" + CSE_RN, origin=ADMIN)
            self.assertEqual(r.rsc, 2000, r.body)
            self.assertEqual(r.body["m2m:cb"]["rn"], CSE_RN)
            # the installed admin tool reads the same config and finds the same store
            p = subprocess.run([os.path.join(self.root, "sbin", "wardenctl"), "--config",
                                os.path.join(self.etc, "warden.conf"), "--store.path=%s/warden.db" % tmp,
                                "psk", "list"], capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("%s/warden.db" % tmp, p.stderr)
        finally:
            self.assertEqual(srv.stop(), 0)
            srv.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_systemd_analyze_verify_accepts_the_unit(self):
        tool = shutil.which("systemd-analyze")
        if tool is None:
            self.skipTest("systemd-analyze is not installed (Debian package systemd): unit not verified")
        with open(os.path.join(self.root, "lib/systemd/system/warden.service")) as f:
            unit = f.read()
        m = re.search(r"^ExecStart=(\S+)/warden --config (\S+)$", unit, re.M)
        self.assertIsNotNone(m, "ExecStart runs the installed warden with the installed config")
        self.assertTrue(m.group(2).endswith("/warden/warden.conf"), m.group(2))
        for directive in ("Type=notify", "User=warden", "ProtectSystem=strict", "StateDirectory=warden",
                          "LogsDirectory=warden", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
                          "ExecReload=/bin/kill -HUP $MAINPID"):
            self.assertIn(directive, unit)
        # verify needs ExecStart to exist: point it at the staged binary; the pages named in
        # Documentation= are looked up with man(1) in the staged tree
        tmp = tempfile.mkdtemp(prefix="warden-unit-")
        try:
            staged = os.path.join(tmp, "warden.service")
            with open(staged, "w") as f:
                f.write(unit.replace("ExecStart=%s/" % m.group(1), "ExecStart=%s/sbin/" % self.root))
            env = dict(os.environ, MANPATH=os.path.join(self.root, "share/man"), SYSTEMD_LOG_LEVEL="notice")
            p = subprocess.run([tool, "verify", staged], capture_output=True, text=True, timeout=TIMEOUT,
                               env=env, cwd=tmp)
            self.assertEqual(p.returncode, 0, "systemd-analyze verify:\n%s%s" % (p.stdout, p.stderr))
            self.assertEqual(p.stderr.strip(), "", "systemd-analyze verify warns:\n%s" % p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_every_manual_page_renders_without_warnings(self):
        groff = shutil.which("groff")
        if groff is None:
            self.skipTest("groff is not installed (Debian package groff-base): pages not checked")
        for page in MAN_PAGES:
            path = os.path.join(self.root, "share/man", page)
            p = subprocess.run([groff, "-man", "-ww", "-z", path], capture_output=True, text=True,
                               timeout=TIMEOUT, env=dict(os.environ, LC_ALL="C.UTF-8"))
            self.assertEqual((p.returncode, p.stderr), (0, ""), page)
        with open(os.path.join(self.root, "share/man/man5/warden.conf.5")) as f:
            page = f.read()
        help_keys = re.findall(r"^  --([a-z_]+\.[a-z_]+)=", subprocess.run(
            [warden_bin(), "--help"], capture_output=True, text=True, timeout=TIMEOUT).stdout, re.M)
        self.assertGreater(len(help_keys), 40)
        for k in help_keys:
            self.assertIn(".BR %s " % k, page, "warden.conf(5) lists every key")

    def test_every_program_has_version_and_help_on_stdout(self):
        for d, names in PROGRAMS.items():
            for n in names:
                path = os.path.join(self.root, d, n)
                p = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(p.returncode, 0, n)
                self.assertRegex(p.stdout, r"^%s \d+\.\d+\.\d+\n$" % re.escape(n))
                p = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual((p.returncode, p.stderr), (0, ""), n)
                self.assertIn("usage: %s" % n, p.stdout)


class ReadinessTest(unittest.TestCase):
    """Type=notify: systemd learns from the server itself that it serves (sd_notify(3))."""

    def test_ready_reload_and_stopping_reach_notify_socket(self):
        tmp = tempfile.mkdtemp(prefix="warden-notify-")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = os.path.join(tmp, "notify")
        sock.bind(path)
        sock.settimeout(30)
        old = os.environ.get("NOTIFY_SOCKET")
        os.environ["NOTIFY_SOCKET"] = path
        srv = WardenServer(tmpdir=tmp)
        try:
            srv.start()
        finally:
            if old is None:
                del os.environ["NOTIFY_SOCKET"]
            else:
                os.environ["NOTIFY_SOCKET"] = old

        def expect(word):
            deadline = time.monotonic() + 30
            seen = []
            while time.monotonic() < deadline:
                msg = sock.recv(4096).decode()
                seen.append(msg)
                if word in msg.split("\n"):
                    return
            self.fail("%s never notified; got %r" % (word, seen))

        try:
            expect("READY=1")
            self.assertEqual(Client(srv.port).request("GET", "/" + CSE_RN, origin=ADMIN).rsc, 2000,
                             "served once READY=1 was sent")
            srv.proc.send_signal(signal.SIGHUP)
            expect("RELOADING=1")
            expect("READY=1")
            self.assertEqual(srv.stop(), 0)
            expect("STOPPING=1")
        finally:
            sock.close()
            srv.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
