#!/usr/bin/python3
"""A private mosquitto broker on a free loopback port, for tests and local experiments.

Never assumes a broker is running: it writes its own configuration into a fresh directory, starts
/usr/sbin/mosquitto (Debian package `mosquitto`) on 127.0.0.1:<port>, and waits until the port
accepts connections.  Persistence is on (a session's queued QoS 1 messages survive a stop/start of
the same broker), and an optional per-ClientId ACL (acl.conf of this directory, with the CSE's
level substituted) restricts every client to its own topics as TS-0010 §7.4 asks.

As a module:
    b = PrivateBroker(acl=True, cse="id-in").start()
    ... b.port ...
    b.stop(); b.start()        # restart on the same port, same persistence
    b.kill(); b.start()        # SIGKILL, then start again on the same port
    b.cleanup()

    # TLS only (TS-0010 §6.2, §7.1), as tools/mosquitto/mosquitto.conf: client certificates required,
    # the certificate's CN becomes the username and the ClientId, the full acl.conf applies
    b = PrivateBroker(acl=True, tls={"ca": "ca.pem", "cert": "broker.pem", "key": "broker.key"}).start()

From the shell (prints the port, runs until Ctrl-C):
    tools/mosquitto/private_broker.py [--acl] [--cse id-in] [--port N] [--tls CA CERT KEY]
"""

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

MOSQUITTO = os.environ.get("MOSQUITTO_BIN", "/usr/sbin/mosquitto")
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def available():
    """True when the mosquitto binary is installed."""
    return os.access(MOSQUITTO, os.X_OK)


class BrokerError(Exception):
    pass


class PrivateBroker:
    def __init__(self, port=None, acl=False, cse="id-in", tmpdir=None, tls=None):
        self.port = port or free_port()
        self.acl = acl
        self.tls = tls
        self.cse = cse
        self.own_tmp = tmpdir is None
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="warden-mqtt-")
        self.proc = None
        self.log_path = os.path.join(self.tmpdir, "mosquitto.log")
        self.conf_path = os.path.join(self.tmpdir, "mosquitto.conf")
        self._write_config()

    def _write_config(self):
        lines = [
            "per_listener_settings false",
            # run as whoever started it (as root, mosquitto would switch to "mosquitto", who cannot
            # read this private directory)
            "user %s" % pwd.getpwuid(os.getuid()).pw_name,
            "listener %d 127.0.0.1" % self.port,
        ]
        if self.tls:
            # mosquitto takes the username from the certificate's subject CN only (a certificate
            # without a CN is refused with CONNACK 4, whatever its subjectAltName says); the
            # username then replaces the ClientId, so %c in the ACL is the authenticated identity
            lines += [
                "cafile %s" % os.path.abspath(self.tls["ca"]),
                "certfile %s" % os.path.abspath(self.tls["cert"]),
                "keyfile %s" % os.path.abspath(self.tls["key"]),
                "tls_version tlsv1.2",
                "require_certificate true",
                "use_identity_as_username true",
                "use_username_as_clientid true",
                "allow_anonymous false",
            ]
        else:
            lines.append("allow_anonymous true")
        lines += [
            "persistence true",
            "persistence_location %s/" % self.tmpdir,
            "autosave_interval 1",
            "max_queued_messages 10000",
            "log_dest file %s" % self.log_path,
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        if self.acl:
            with open(os.path.join(HERE, "acl.conf")) as f:
                if self.tls:
                    # the production file: every client has a username (its certificate CN), the
                    # CSE's "user id-in" block included
                    text = "".join(l.replace("id-in", self.cse) for l in f)
                else:
                    # the per-ClientId patterns only: test clients are anonymous, so the CSE's
                    # username block of the production file would not apply to it anyway
                    text = "".join(l for l in f if l.startswith("pattern "))
            acl_path = os.path.join(self.tmpdir, "acl.conf")
            with open(acl_path, "w") as f:
                f.write(text)
            lines.append("acl_file %s" % acl_path)
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=5.0):
        if not available():
            raise BrokerError("%s not found (apt-get install mosquitto)" % MOSQUITTO)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf_path], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError as e:
                    last = e
                    time.sleep(0.05)
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode("utf-8", "replace")
                last = err or last
                time.sleep(0.2)  # the port may still be in TIME_WAIT use after a restart: retry
        self.kill()
        raise BrokerError("mosquitto did not start on port %d: %s\n%s" % (self.port, last, self.log()))

    def stop(self, timeout=5.0):
        """SIGTERM: mosquitto saves its persistence file and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def kill(self):
        """SIGKILL, as a crash would do."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self):
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.kill()
        if self.own_tmp and not os.environ.get("WARDEN_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--acl", action="store_true", help="per-ClientId topic ACL (acl.conf)")
    ap.add_argument("--cse", default="id-in", help="the CSE's topic level / ClientId in the ACL")
    ap.add_argument("--tls", nargs=3, metavar=("CA", "CERT", "KEY"),
                    help="TLS listener with client certificates (CN = identity), as mosquitto.conf")
    a = ap.parse_args()
    tls = dict(zip(("ca", "cert", "key"), a.tls)) if a.tls else None
    b = PrivateBroker(port=a.port, acl=a.acl, cse=a.cse, tls=tls).start()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(b.port, flush=True)
    print("config: %s" % b.conf_path, flush=True)
    try:
        b.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        b.cleanup()


if __name__ == "__main__":
    main()
