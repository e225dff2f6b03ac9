"""Helpers for the HTTPS / TLS-PSK / certificate / wardenctl black-box tests
(docs/http-contract.md, "Security associations and authentication" - issue 4).

Not a test module.  Standard library only; the real TLS clients are:

* TLS-PSK: ``openssl s_client -psk_identity ID -psk HEX`` (Python's ssl module has no
  PSK support) or ``gnutls-cli --pskusername ID --pskkey HEX``; an HTTP/1.1 request is
  written to the client's stdin and the response parsed from its stdout.
* certificates: the ``ssl`` module through ``http.client.HTTPSConnection``
  (load_cert_chain, cafile), and ``curl --cacert --cert --key``.

Provides:

* ``Ctl``            - runs ``wardenctl`` (next to WARDEN_BIN) on one store.
* ``Pki``            - a CA made by ``wardenctl ca init`` plus certificates made by
                       ``wardenctl ca issue`` (and a few crafted with ``openssl x509 -req``
                       for the refusal cases ca issue cannot produce).
* ``SecureServer``   - a WardenServer with the https / https_psk listeners and an audit log.
* ``PskClient``      - a wardentest.Client whose requests go over TLS-PSK (one
                       connection per request, ``Connection: close``).
* ``PskSession``     - one long-lived openssl s_client connection (several requests).
* ``CertClient``     - a wardentest.Client over HTTPS (HTTPSConnection, optional client cert).
* ``CertSession``    - one long-lived ssl socket (several requests).
* ``curl_request``   - one request with curl.
* ``Audit``          - reads the JSON-lines audit log, waits for events.
* ``TlsTestCase``    - WardenTestCase plus assertions for refused handshakes and audit lines.
"""

import collections
import http.client
import io
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse

from wardentest import (ADMIN, CSE_RN, OMIT, SPID, Client, Resp, ServerError, WardenServer,  # noqa: F401
                        WardenTestCase, free_port, uniq, warden_bin)

OPENSSL = "/usr/bin/openssl"
GNUTLS_CLI = "/usr/bin/gnutls-cli"
CURL = "/usr/bin/curl"

# How long a single TLS client invocation may take (ASan server on a loaded 2-core box).
CLIENT_TIMEOUT = 15.0


def ctl_bin():
    """wardenctl lives next to the server binary (contract: build/wardenctl)."""
    return os.path.join(os.path.dirname(warden_bin()), "wardenctl")


def new_key(nbytes=32):
    """A fresh random PSK as lowercase hex."""
    return os.urandom(nbytes).hex()


def kpsa(prefix="dev"):
    """A fresh well-formed KpsaID <relative>@<fqdn>."""
    return "%s@%s" % (uniq(prefix), SPID)


# --------------------------------------------------------------------------
# wardenctl
# --------------------------------------------------------------------------

class Ctl:
    """``wardenctl`` bound to one store (and optionally one audit file).

    Global options (``--store.path=...`` etc.) are given before the subcommand.
    """

    def __init__(self, store_path=None, extra=()):
        self.binary = ctl_bin()
        self.opts = []
        if store_path:
            self.opts.append("--store.path=%s" % store_path)
        self.opts += list(extra)

    def run(self, *args, stdin=None, timeout=30, opts=None):
        """Run ``wardenctl OPTS ARGS``; returns CompletedProcess (text mode)."""
        if not os.path.exists(self.binary):
            raise AssertionError("wardenctl not found next to the server: %s" % self.binary)
        argv = [self.binary] + (self.opts if opts is None else list(opts)) + list(args)
        return subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True,
                              text=True, timeout=timeout)

    def ok(self, *args, **kw):
        p = self.run(*args, **kw)
        if p.returncode != 0:
            raise AssertionError("wardenctl %s: exit %d, want 0\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def psk_add(self, kpsaid, binding, key=None):
        """Provision a PSK (key as hex on stdin); returns the key."""
        key = key or new_key()
        self.ok("psk", "add", kpsaid, binding, stdin=key + "\n")
        return key

    def psk_revoke(self, kpsaid):
        return self.ok("psk", "revoke", kpsaid)

    def psk_list(self):
        """{kpsaid: (binding, state)} from ``psk list``."""
        out = {}
        for line in self.ok("psk", "list").stdout.splitlines():
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                raise AssertionError("psk list line is not KPSAID<TAB>BINDING<TAB>STATE: %r" % line)
            out[parts[0]] = (parts[1], parts[2])
        return out

    def cert_revoke(self, serial):
        return self.ok("cert", "revoke", serial)


def id_key(ident):
    """A comparable form of an AE-ID / CSE-ID in any of its forms (stem, SP-relative,
    absolute): ("ae", stem) or ("cse", "id-xyz"); anything else as given."""
    ident = ident.strip()
    last = ident.rstrip("/").rsplit("/", 1)[-1]
    if last[:1] in ("C", "S"):
        return ("ae", last)
    if last.startswith("id-") or ident.startswith("/"):
        return ("cse", last)
    return ("other", ident)


def same_binding(printed, given):
    """True when psk list's BINDING column names the same IDs as the binding given to psk add."""
    return sorted(map(id_key, printed.split(","))) == sorted(map(id_key, given.split(",")))


# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------

def ae_absolute(stem):
    return "//%s/id-in/%s" % (SPID, stem)


class Pki:
    """A CA directory created with ``wardenctl ca init`` and certificates issued from it."""

    def __init__(self, ctl, directory):
        self.ctl = ctl
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ctl.ok("ca", "init", directory)
        self.ca_pem = os.path.join(directory, "ca.pem")
        self.ca_key = os.path.join(directory, "ca.key")
        for f in (self.ca_pem, self.ca_key):
            if not os.path.exists(f):
                raise AssertionError("wardenctl ca init did not write %s" % f)

    def issue(self, ident, name=None, ips=(), dns=(), not_before=None, not_after=None, cn=None):
        """``wardenctl ca issue``; returns (cert path, key path, serial as printed)."""
        prefix = os.path.join(self.dir, name or uniq("crt"))
        args = ["ca", "issue", self.dir, "--id", ident, "--out", prefix]
        if cn:
            args += ["--cn", cn]
        for ip in ips:
            args += ["--ip", ip]
        for d in dns:
            args += ["--dns", d]
        if not_before:
            args += ["--not-before", not_before]
        if not_after:
            args += ["--not-after", not_after]
        p = self.ctl.ok(*args)
        serial = p.stdout.strip()
        if not re.fullmatch(r"[0-9a-f]+", serial):
            raise AssertionError("ca issue should print the serial in lowercase hex, printed %r" % p.stdout)
        return prefix + ".pem", prefix + ".key", serial

    def craft(self, name, san=None, key_type="ec", key_usage="critical,digitalSignature",
              subject="/O=" + SPID):
        """A certificate signed by this CA with ``openssl x509 -req`` for the refusal
        cases ``ca issue`` never produces (no identity, RSA key, bad keyUsage).
        Returns (cert path, key path, serial lowercase hex)."""
        prefix = os.path.join(self.dir, name)
        key, csr, crt, ext = prefix + ".key", prefix + ".csr", prefix + ".pem", prefix + ".ext"
        if key_type in ("ec", "ec384"):
            curve = "P-256" if key_type == "ec" else "P-384"
            run_checked([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + curve,
                         "-out", key])
        else:
            run_checked([OPENSSL, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                         "-out", key])
        run_checked([OPENSSL, "req", "-new", "-key", key, "-subj", subject, "-out", csr])
        lines = ["basicConstraints=critical,CA:FALSE", "extendedKeyUsage=serverAuth,clientAuth"]
        if key_usage:
            lines.append("keyUsage=" + key_usage)
        if san:
            lines.append("subjectAltName=" + san)
        with open(ext, "w") as f:
            f.write("\n".join(lines) + "\n")
        serial = os.urandom(8).hex()
        serial = ("4" + serial[1:])  # positive, no leading zero
        run_checked([OPENSSL, "x509", "-req", "-in", csr, "-CA", self.ca_pem, "-CAkey", self.ca_key,
                     "-set_serial", "0x" + serial, "-days", "30", "-sha256", "-extfile", ext, "-out", crt])
        return crt, key, serial


class OpensslCa:
    """A CA made with ``openssl`` as operators make them (not by ``wardenctl ca``): P-256, and
    the name constraints TS-0003 §8.1.2.2 / §10.1.1.5 ask for (by default one CA constraining
    both CSE-ID DNS names and the host part of AE-ID URIs to the SP-ID).  ``parent`` makes it an
    intermediate CA signed by that CA.  ``issue`` makes client certificates with any subject and
    subjectAltName."""

    def __init__(self, directory, constraints=("DNS:" + SPID, "URI:" + SPID), parent=None, name="ca",
                 pathlen=None):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_pem = os.path.join(directory, name + ".pem")
        self.ca_key = os.path.join(directory, name + ".key")
        self.parent = parent
        run_checked([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", self.ca_key])
        lines = ["basicConstraints=critical,CA:TRUE" + ("" if pathlen is None else ",pathlen:%d" % pathlen),
                 "keyUsage=critical,keyCertSign,cRLSign",
                 "subjectKeyIdentifier=hash"]
        if constraints:
            lines.append("nameConstraints=critical," + ",".join("permitted;" + c for c in constraints))
        ext = os.path.join(directory, name + ".ext")
        with open(ext, "w") as f:
            f.write("[v3]\n" + "\n".join(lines) + "\n")
        subj = "/O=%s/CN=%s %s" % (SPID, SPID, name)
        if parent is None:
            run_checked([OPENSSL, "req", "-new", "-x509", "-key", self.ca_key, "-subj", subj, "-days", "30",
                         "-sha256", "-config", ext, "-extensions", "v3", "-out", self.ca_pem],
                        env=dict(os.environ, OPENSSL_CONF="/dev/null"))
        else:
            csr = os.path.join(directory, name + ".csr")
            run_checked([OPENSSL, "req", "-new", "-key", self.ca_key, "-subj", subj, "-out", csr],
                        env=dict(os.environ, OPENSSL_CONF="/dev/null"))
            run_checked([OPENSSL, "x509", "-req", "-in", csr, "-CA", parent.ca_pem, "-CAkey", parent.ca_key,
                         "-set_serial", "0x" + os.urandom(8).hex(), "-days", "30", "-sha256",
                         "-extfile", ext, "-extensions", "v3", "-out", self.ca_pem])

    def issue(self, san, cn=None, name=None):
        """A client certificate (P-256, digitalSignature, clientAuth) with subject O=SP-ID and,
        when given, CN=cn; san is the openssl subjectAltName value ("URI:...", "DNS:...").  With an
        intermediate CA the certificate file holds the chain (leaf, then the intermediate).
        Returns (cert path, key path, serial lowercase hex)."""
        prefix = os.path.join(self.dir, name or uniq("oc"))
        key, csr, crt, ext = prefix + ".key", prefix + ".csr", prefix + ".pem", prefix + ".ext"
        run_checked([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
        subj = "/O=%s" % SPID + ("/CN=%s" % cn if cn else "")
        run_checked([OPENSSL, "req", "-new", "-key", key, "-subj", subj, "-out", csr],
                    env=dict(os.environ, OPENSSL_CONF="/dev/null"))
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=%s\n" % san)
        serial = "4" + os.urandom(8).hex()[1:]
        run_checked([OPENSSL, "x509", "-req", "-in", csr, "-CA", self.ca_pem, "-CAkey", self.ca_key,
                     "-set_serial", "0x" + serial, "-days", "30", "-sha256", "-extfile", ext, "-out", crt])
        if self.parent is not None:
            with open(crt, "a") as out, open(self.ca_pem) as inter:
                out.write(inter.read())
        return crt, key, serial


def run_checked(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
    return p


def cert_serial(pem):
    """The serial of a PEM certificate, as an int (openssl x509 -serial)."""
    out = run_checked([OPENSSL, "x509", "-in", pem, "-noout", "-serial"]).stdout.strip()
    return int(out.split("=", 1)[1], 16)


# --------------------------------------------------------------------------
# HTTP/1.1 on the wire
# --------------------------------------------------------------------------

def encode_request(method, path, origin=OMIT, ri=None, rvi="3", ty=None, body=None, headers=None,
                   query=None, content_type=None, accept="application/json", host="127.0.0.1",
                   close=True):
    """One HTTP/1.1 request as bytes, with the same header conventions as wardentest.Client."""
    hdrs = [("Host", host)]
    if accept is not None:
        hdrs.append(("Accept", accept))
    if origin is not OMIT:
        hdrs.append(("X-M2M-Origin", origin))
    if ri is None:
        ri = "ri-%s" % uniq("t")
    if ri is not OMIT:
        hdrs.append(("X-M2M-RI", ri))
    if rvi is not OMIT:
        hdrs.append(("X-M2M-RVI", rvi))
    payload = None
    if body is not None:
        if isinstance(body, (bytes, bytearray)):
            payload = bytes(body)
        elif isinstance(body, str):
            payload = body.encode("utf-8")
        else:
            payload = json.dumps(body).encode("utf-8")
    if content_type is not None:
        hdrs.append(("Content-Type", content_type))
    elif payload is not None or ty is not None:
        hdrs.append(("Content-Type", "application/json" + (";ty=%d" % ty if ty is not None else "")))
    if headers:
        hdrs += list(headers.items())
    if payload is not None:
        hdrs.append(("Content-Length", str(len(payload))))
    elif method in ("POST", "PUT"):
        hdrs.append(("Content-Length", "0"))
    if close:
        hdrs.append(("Connection", "close"))
    url = path
    if query:
        pairs = query.items() if isinstance(query, dict) else query
        url += ("&" if "?" in url else "?") + "&".join(
            "%s=%s" % (urllib.parse.quote(str(k), safe=""), urllib.parse.quote(str(v), safe="+"))
            for k, v in pairs)
    head = "%s %s HTTP/1.1\r\n" % (method, url) + "".join("%s: %s\r\n" % kv for kv in hdrs) + "\r\n"
    return head.encode("iso-8859-1") + (payload or b"")


def make_resp(status, headers, raw):
    """A wardentest.Resp from parts (headers: http.client.HTTPMessage)."""
    rsc_hdr = headers.get("X-M2M-RSC")
    try:
        rsc = int(rsc_hdr) if rsc_hdr is not None else None
    except ValueError:
        rsc = None
    parsed = raw
    if raw.strip():
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            parsed = raw
    return Resp(status, rsc, headers, parsed)


def take_response(buf, eof=False):
    """Parse one HTTP response from the start of buf (bytes).

    Returns (Resp, rest) when a complete response is there, (None, buf) when more
    bytes are needed.  Leading non-HTTP text (gnutls-cli's banner) is skipped.
    """
    start = buf.find(b"HTTP/1.")
    if start < 0:
        return None, buf
    head_end = buf.find(b"\r\n\r\n", start)
    if head_end < 0:
        return None, buf
    head = buf[start:head_end]
    rest = buf[head_end + 4:]
    status_line, _, header_block = head.partition(b"\r\n")
    parts = status_line.decode("iso-8859-1").split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    msg = http.client.parse_headers(io.BytesIO(header_block + b"\r\n\r\n"))
    te = (msg.get("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        body = b""
        pos = 0
        while True:
            line_end = rest.find(b"\r\n", pos)
            if line_end < 0:
                return None, buf
            size = int(rest[pos:line_end].split(b";")[0].strip() or b"0", 16)
            if size == 0:
                trailer_end = rest.find(b"\r\n\r\n", line_end)
                if trailer_end < 0 and not rest.startswith(b"\r\n", line_end + 2):
                    if not eof:
                        return None, buf
                end = line_end + 4 if rest[line_end + 2:line_end + 4] == b"\r\n" else \
                    (trailer_end + 4 if trailer_end >= 0 else len(rest))
                return make_resp(status, msg, body), rest[end:]
            if len(rest) < line_end + 2 + size + 2:
                return None, buf
            body += rest[line_end + 2:line_end + 2 + size]
            pos = line_end + 2 + size + 2
    if msg.get("Content-Length") is not None:
        n = int(msg.get("Content-Length"))
        if len(rest) < n:
            return None, buf
        return make_resp(status, msg, rest[:n]), rest[n:]
    if status is not None and (status in (204, 304) or 100 <= status < 200):
        return make_resp(status, msg, b""), rest
    if not eof:
        return None, buf  # body delimited by close
    return make_resp(status, msg, rest), b""


def parse_responses(data):
    """Every complete HTTP response in data (a finished client's stdout)."""
    out = []
    rest = data
    while True:
        r, rest2 = take_response(rest, eof=True)
        if r is None:
            return out
        out.append(r)
        if rest2 == rest:
            return out
        rest = rest2


# --------------------------------------------------------------------------
# TLS-PSK clients (openssl s_client, gnutls-cli)
# --------------------------------------------------------------------------

PskResult = collections.namedtuple("PskResult", "rc responses stdout stderr argv")


class HandshakeRefused(AssertionError):
    """Raised by the Client subclasses when no HTTP response came back at all."""


def openssl_psk_argv(port, identity, key, proto="1.2", cipher=None, extra=()):
    argv = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-psk_identity", identity,
            "-psk", key, "-quiet", "-nocommands"]
    if proto == "1.3":
        argv.append("-tls1_3")
        if cipher:
            argv += ["-ciphersuites", cipher]
    elif proto:
        argv.append({"1.2": "-tls1_2", "1.1": "-tls1_1", "1.0": "-tls1"}[proto])
        # Only PSK suites, so that a success really is a PSK handshake.  SECLEVEL=0 so the
        # client is able to offer old protocols and weak suites: refusing them is the server's job.
        argv += ["-cipher", (cipher or "PSK") + ":@SECLEVEL=0"]
    return argv + list(extra)


def openssl_cert_argv(port, proto="1.2", cipher=None, cafile=None, cert=None, key=None, extra=()):
    """openssl s_client against the certificate listener (for protocol / suite checks)."""
    argv = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-quiet", "-nocommands"]
    if cafile:
        argv += ["-CAfile", cafile, "-verify_return_error"]
    if cert:
        argv += ["-cert", cert, "-key", key]
    if proto == "1.3":
        argv.append("-tls1_3")
    else:
        argv.append({"1.2": "-tls1_2", "1.1": "-tls1_1", "1.0": "-tls1"}[proto])
        argv += ["-cipher", (cipher or "DEFAULT") + ":@SECLEVEL=0"]
    return argv + list(extra)


def gnutls_cert_argv(port, priority, cafile):
    """gnutls-cli against the certificate listener (for suite checks)."""
    return [GNUTLS_CLI, "-p", str(port), "--x509cafile", cafile, "--priority", priority, "127.0.0.1"]


# Suites the client can offer but the server must refuse (gnutls-cli offers only these).
GNUTLS_OLD = "NONE:+VERS-TLS1.2:+COMP-NULL:+SIGN-ALL:+GROUP-ALL:+SHA1:+MD5"


def gnutls_psk_argv(port, identity, key, priority=None):
    return [GNUTLS_CLI, "--pskusername", identity, "--pskkey", key, "-p", str(port),
            "--priority", priority or "NORMAL:-KX-ALL:+PSK:+ECDHE-PSK:+DHE-PSK", "127.0.0.1"]


def _client_env():
    env = dict(os.environ)
    # The system openssl.cnf may restrict protocols; the client must offer what the test asks.
    env["OPENSSL_CONF"] = "/dev/null"
    return env


def run_tls_client(argv, data, timeout=CLIENT_TIMEOUT):
    """Run a TLS client with data on stdin; returns PskResult with the parsed responses."""
    try:
        p = subprocess.run(argv, input=data, capture_output=True, timeout=timeout, env=_client_env())
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s did not finish within %.0fs (server kept the connection open?)\n"
                             "stdout: %r\nstderr: %r" % (" ".join(argv), timeout, e.stdout, e.stderr))
    return PskResult(p.returncode, parse_responses(p.stdout), p.stdout, p.stderr.decode("utf-8", "replace"),
                     argv)


def psk_exchange(port, identity, key, requests, proto="1.2", cipher=None, tool="openssl", priority=None,
                 extra=()):
    """Send the given request bytes (the last should carry Connection: close) on one
    PSK connection; returns PskResult."""
    if isinstance(requests, bytes):
        requests = [requests]
    if tool == "openssl":
        argv = openssl_psk_argv(port, identity, key, proto, cipher, extra)
    else:
        argv = gnutls_psk_argv(port, identity, key, priority)
    return run_tls_client(argv, b"".join(requests))


class PskClient(Client):
    """wardentest.Client over TLS-PSK: one openssl s_client (or gnutls-cli) connection per request."""

    def __init__(self, port, identity, key, proto="1.2", cipher=None, tool="openssl", priority=None,
                 extra=()):
        super().__init__(port)
        self.identity, self.key = identity, key
        self.proto, self.cipher, self.tool, self.priority = proto, cipher, tool, priority
        self.extra = tuple(extra)
        self.last = None

    def request(self, method, path, origin=OMIT, ri=None, **kw):
        if ri is None:
            ri = "ri-%s" % uniq("p")
        self.last_ri = None if ri is OMIT else ri
        data = encode_request(method, path, origin=origin, ri=ri, host="127.0.0.1:%d" % self.port, **kw)
        res = psk_exchange(self.port, self.identity, self.key, [data], self.proto, self.cipher,
                           self.tool, self.priority, self.extra)
        self.last = res
        if not res.responses:
            raise HandshakeRefused("no HTTP response over PSK %s (%s): exit %d, stderr: %s"
                                   % (self.identity, " ".join(res.argv), res.rc, res.stderr[-600:]))
        return res.responses[0]


class _Pump:
    """Collects a byte stream in a background thread."""

    def __init__(self, stream):
        self.buf = b""
        self.eof = False
        self.cond = threading.Condition()
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        while True:
            try:
                chunk = os.read(stream.fileno(), 65536)
            except OSError:
                chunk = b""
            with self.cond:
                if not chunk:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.buf += chunk
                self.cond.notify_all()


class _SessionBase:
    """Shared request/response logic of the long-lived sessions."""

    port = None

    def request(self, method, path, origin=OMIT, timeout=CLIENT_TIMEOUT, **kw):
        """Send one keep-alive request; returns the Resp, or None when the
        connection ended without a response."""
        self.send(encode_request(method, path, origin=origin, host="127.0.0.1:%d" % self.port,
                                 close=False, **kw))
        return self.response(timeout)

    def retrieve(self, path, origin=ADMIN, **kw):
        return self.request("GET", path, origin=origin, **kw)


class PskSession(_SessionBase):
    """One openssl s_client connection kept open for several requests."""

    def __init__(self, port, identity, key, proto="1.2", cipher=None, quiet=True):
        self.port = port
        self.argv = openssl_psk_argv(port, identity, key, proto, cipher)
        if not quiet:
            # The session summary ("... Cipher is ...") tells when the handshake is done.
            self.argv = [a for a in self.argv if a != "-quiet"] + ["-ign_eof"]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=_client_env())
        self.out = _Pump(self.proc.stdout)
        self.err = _Pump(self.proc.stderr)

    def send(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def response(self, timeout=CLIENT_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.out.cond:
            while True:
                r, rest = take_response(self.out.buf, eof=self.out.eof)
                if r is not None:
                    self.out.buf = rest
                    return r
                if self.out.eof:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no response within %.0fs on %s" % (timeout, " ".join(self.argv)))
                self.out.cond.wait(left)

    def wait_handshake(self, timeout=CLIENT_TIMEOUT):
        """(quiet=False only) True once s_client printed its session summary."""
        deadline = time.monotonic() + timeout
        with self.out.cond:
            while b"Cipher is" not in self.out.buf:
                left = deadline - time.monotonic()
                if left <= 0 or self.out.eof:
                    return False
                self.out.cond.wait(left)
        return True

    def closed(self, timeout=3.0):
        """True when the server closed the connection (the client exited) within timeout."""
        deadline = time.monotonic() + timeout
        with self.out.cond:
            while not self.out.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.out.cond.wait(left)
        return True

    def stderr(self):
        return self.err.buf.decode("utf-8", "replace")

    def close(self):
        # s_client -quiet ignores EOF on stdin: end it (our own child) instead of waiting.
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# --------------------------------------------------------------------------
# Certificate clients (ssl module, curl)
# --------------------------------------------------------------------------

def client_context(cafile, cert=None, key=None, min_version=None, max_version=None, ciphers=None,
                   check_hostname=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.check_hostname = check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    if cert:
        ctx.load_cert_chain(cert, key)
    if min_version:
        ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPSConnection to 127.0.0.1 that may present another name in SNI / hostname check."""

    def __init__(self, port, context, sni=None, timeout=CLIENT_TIMEOUT):
        super().__init__("127.0.0.1", port, context=context, timeout=timeout)
        self._sni = sni
        self._ctx = context

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._sni or "127.0.0.1")


class CertClient(Client):
    """wardentest.Client over HTTPS with the ssl module (a new connection per request).

    cert/key: the client certificate (None = no client certificate)."""

    def __init__(self, port, cafile, cert=None, key=None, sni=None, **ctx_kw):
        super().__init__(port)
        self.cert, self.key = cert, key
        self.ctx = client_context(cafile, cert, key, **ctx_kw)
        self.sni = sni
        self.last_cipher = None
        self.last_version = None

    def request(self, method, path, origin=OMIT, ri=None, rvi="3", ty=None, body=None, headers=None,
                query=None, content_type=None, accept="application/json"):
        if ri is None:
            ri = "ri-%s" % uniq("c")
        self.last_ri = None if ri is OMIT else ri
        data = encode_request(method, path, origin=origin, ri=ri, rvi=rvi, ty=ty, body=body, headers=headers,
                              query=query, content_type=content_type, accept=accept, close=True)
        head, _, payload = data.partition(b"\r\n\r\n")
        lines = head.decode("iso-8859-1").split("\r\n")
        _, url, _ = lines[0].split(" ", 2)
        conn = _HTTPSConnection(self.port, self.ctx, self.sni)
        try:
            try:
                conn.connect()
                self.last_cipher = conn.sock.cipher()
                self.last_version = conn.sock.version()
                conn.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
                for l in lines[1:]:
                    k, v = l.split(": ", 1)
                    conn.putheader(k, v)
                conn.endheaders()
                if payload:
                    conn.send(payload)
                r = conn.getresponse()
                raw = r.read()
            except (ssl.SSLError, OSError, http.client.HTTPException) as e:
                raise HandshakeRefused("no HTTP response over HTTPS: %s: %s" % (type(e).__name__, e))
            return make_resp(r.status, r.msg, raw)
        finally:
            conn.close()


class CertSession(_SessionBase):
    """One TLS connection (ssl module) kept open for several requests."""

    def __init__(self, port, cafile, cert=None, key=None, sni=None, ctx=None, session=None, **ctx_kw):
        self.port = port
        ctx = ctx or client_context(cafile, cert, key, **ctx_kw)
        raw = socket.create_connection(("127.0.0.1", port), CLIENT_TIMEOUT)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=sni or "127.0.0.1", session=session)
        except BaseException:
            raw.close()
            raise
        self.buf = b""
        self.eof = False

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError):
            pass

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (OSError, ssl.SSLError):
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk
        return True

    def response(self, timeout=CLIENT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            r, rest = take_response(self.buf, eof=self.eof)
            if r is not None:
                self.buf = rest
                return r
            if self.eof:
                return None
            if time.monotonic() > deadline:
                raise AssertionError("no HTTPS response within %.0fs" % timeout)
            self._fill(deadline)

    def closed(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._fill(deadline)
        return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


CurlResult = collections.namedtuple("CurlResult", "rc resp stderr")


def curl_request(port, method, path, cafile, cert=None, key=None, origin=OMIT, ty=None, body=None,
                 ri=None, extra=()):
    """One request with curl (verifying the server against cafile).  Returns CurlResult;
    resp is None when no HTTP response came back."""
    argv = [CURL, "-sS", "--max-time", str(int(CLIENT_TIMEOUT)), "--cacert", cafile, "-X", method,
            "-D", "-", "-H", "Accept: application/json",
            "-H", "X-M2M-RI: %s" % (ri or "ri-%s" % uniq("curl")), "-H", "X-M2M-RVI: 3"]
    if cert:
        argv += ["--cert", cert, "--key", key]
    if origin is not OMIT:
        argv += ["-H", "X-M2M-Origin: %s" % origin]
    if body is not None:
        argv += ["-H", "Content-Type: application/json" + (";ty=%d" % ty if ty is not None else ""),
                 "--data-binary", json.dumps(body) if not isinstance(body, str) else body]
    argv += list(extra) + ["https://127.0.0.1:%d%s" % (port, path)]
    p = subprocess.run(argv, capture_output=True, timeout=CLIENT_TIMEOUT + 5, env=_client_env())
    rs = parse_responses(p.stdout)
    return CurlResult(p.returncode, rs[-1] if rs else None, p.stderr.decode("utf-8", "replace"))


# --------------------------------------------------------------------------
# Audit log
# --------------------------------------------------------------------------

class Audit:
    """The server's JSON-lines audit file."""

    def __init__(self, path):
        self.path = path

    def lines(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                return [l for l in f.read().split("\n") if l.strip()]
        except FileNotFoundError:
            return []

    def raw(self):
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def events(self, start=0):
        out = []
        for l in self.lines()[start:]:
            try:
                out.append(json.loads(l))
            except ValueError:
                raise AssertionError("audit line is not JSON: %r" % l)
        return out

    def wait_until(self, cond, timeout=3.0):
        """Poll cond() until true (returns True) or timeout (returns False)."""
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def mark(self):
        return len(self.lines())

    def wait_for(self, pred, start=0, timeout=3.0):
        """The first event after line ``start`` satisfying pred (polling), or None."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events(start):
                if pred(ev):
                    return ev
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


# --------------------------------------------------------------------------
# Server with TLS listeners
# --------------------------------------------------------------------------

class SecureServer:
    """A warden process with the plain, https (certificates) and https_psk listeners.

    Its temporary directory holds the store, the audit log and (when certs=True) a PKI
    made with wardenctl: CA, server certificate for /id-in with IP SAN 127.0.0.1.
    """

    def __init__(self, profile="dev", psk=True, certs=False, client_ca=True, extra=(), tmpdir=None):
        self.tmp = tmpdir or tempfile.mkdtemp(prefix="warden-tls-")
        self.store_path = os.path.join(self.tmp, "warden.db")
        self.audit_path = os.path.join(self.tmp, "audit.log")
        self.audit = Audit(self.audit_path)
        self.ctl = Ctl(self.store_path, ["--audit.path=%s" % self.audit_path])
        self.profile = profile
        self.psk = psk
        self.certs = certs
        self.client_ca = client_ca
        self.extra = list(extra)
        self.pki = None
        if certs:
            self.pki = Pki(self.ctl, os.path.join(self.tmp, "pki"))
            self.server_cert, self.server_key, self.server_serial = self.pki.issue(
                "/id-in", name="server", ips=["127.0.0.1"])
        self.srv = None
        self.https_port = None
        self.psk_port = None

    def args(self):
        a = ["--cse.profile=%s" % self.profile, "--audit.path=%s" % self.audit_path]
        if self.psk:
            a += ["--https_psk.port=%d" % self.psk_port, "--https_psk.address=127.0.0.1"]
        if self.certs:
            a += ["--https.port=%d" % self.https_port, "--https.address=127.0.0.1",
                  "--tls.cert=%s" % self.server_cert, "--tls.key=%s" % self.server_key]
            if self.client_ca:
                a.append("--tls.ca=%s" % self.pki.ca_pem)
        return a + self.extra

    def start(self):
        """(Re)start on fresh ports, same store.  Returns self. A port picked by free_port() can be
        taken by another process before the server binds it; then all are picked again (3 tries)."""
        for attempt in range(3):
            self.psk_port = free_port() if self.psk else None
            self.https_port = free_port() if self.certs else None
            self.srv = WardenServer(extra_args=self.args(), tmpdir=self.tmp)
            try:
                self.srv.start()
                return self
            except ServerError as e:
                if "cannot listen" not in str(e) or attempt == 2:
                    raise

    @property
    def port(self):
        return self.srv.port

    def client(self):
        return Client(self.srv.port)

    def psk_client(self, identity, key, **kw):
        return PskClient(self.psk_port, identity, key, **kw)

    def cert_client(self, cert=None, key=None, **kw):
        return CertClient(self.https_port, self.pki.ca_pem, cert, key, **kw)

    def stop(self):
        """SIGTERM; the exit status must be 0."""
        if self.srv is not None and self.srv.running():
            rc = self.srv.stop()
            if rc != 0:
                raise AssertionError("server exit status after SIGTERM is %r, want 0; output:\n%s"
                                     % (rc, self.srv.output()))

    def kill9(self):
        self.srv.kill9()

    def cleanup(self):
        try:
            if self.srv is not None:
                self.srv.cleanup()
        finally:
            if not os.environ.get("WARDEN_KEEP_TMP"):
                shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# unittest base
# --------------------------------------------------------------------------

class TlsTestCase(WardenTestCase):
    """WardenTestCase whose server is a SecureServer (class attribute ``S``).

    Subclasses set ``profile``, ``with_psk``, ``with_certs``, ``extra_args``.
    ``self.c`` is the plain-HTTP client of that server."""

    profile = "dev"
    with_psk = True
    with_certs = False
    extra_args = ()
    S = None

    @classmethod
    def setUpClass(cls):
        cls.S = SecureServer(profile=cls.profile, psk=cls.with_psk, certs=cls.with_certs,
                             extra=cls.extra_args)
        try:
            cls.S.start()
        except Exception:
            cls.S.cleanup()
            raise
        cls.server = cls.S.srv
        cls.c = cls.S.client()
        cls.ctl = cls.S.ctl
        cls.audit = cls.S.audit
        cls.keys = []  # every key material used: must never appear in logs

    @classmethod
    def tearDownClass(cls):
        s, cls.S = cls.S, None
        if s is not None:
            try:
                s.stop()
            finally:
                s.cleanup()

    # -- fixtures -------------------------------------------------------------
    def add_psk(self, binding, prefix="dev", key=None):
        """Provision a fresh KpsaID bound to binding; returns (kpsaid, key)."""
        kid = kpsa(prefix)
        key = self.ctl.psk_add(kid, binding, key)
        self.keys.append(key)
        return kid, key

    def psk(self, kid, key, **kw):
        return self.S.psk_client(kid, key, **kw)

    def psk_ae(self, stem=None, rn=None):
        """A PSK bound to a fixed stem and the AE registered over it.  Returns (stem, PskClient, kpsaid)."""
        stem = stem or "C" + uniq("psk")
        kid, key = self.add_psk(stem)
        pc = self.psk(kid, key)
        r = pc.register_ae(origin=stem, rn=rn or stem)
        self.assertRsc(r, 2001, "AE registration over its PSK")
        self.assertEqual(self.res(r, "m2m:ae")["aei"], stem)
        return stem, pc, kid

    # -- assertions -----------------------------------------------------------
    def assertServedUntilRevoked(self, s, path, origin, t0, what):
        """Requests on the open connection s, sent after a revocation at monotonic time t0: served
        (2000) at most until 1 s (+0.25 s scheduling) after it, then one 4106 and the close."""
        while True:
            sent = time.monotonic() - t0
            r = s.retrieve(path, origin=origin)
            self.assertIsNotNone(r, "the connection was closed without a 4106 response")
            if r.rsc == 4106:
                break
            self.assertRsc(r, 2000)
            self.assertLess(sent, 1.25, "request sent %.2fs after revocation was still served" % sent)
            time.sleep(0.1)
        self.assertTrue(s.closed(3.0), "connection still open after the 4106 for a revoked %s" % what)

    def assertRefused(self, fn, what):
        """fn() must not produce any HTTP response (the TLS handshake is refused)."""
        try:
            r = fn()
        except HandshakeRefused as e:
            return e
        self.fail("%s: the TLS handshake was accepted and the server answered %s" % (what, self.describe(r)))

    def assertPskRefused(self, kid, key, what, proto="1.2", cipher=None, tool="openssl", priority=None):
        """A PSK handshake (openssl s_client or gnutls-cli) fails: non-zero exit and no HTTP response."""
        data = encode_request("GET", "/" + CSE_RN, origin=ADMIN, host="127.0.0.1:%d" % self.S.psk_port)
        res = psk_exchange(self.S.psk_port, kid, key, [data], proto=proto, cipher=cipher, tool=tool,
                           priority=priority)
        self.assertEqual(res.responses, [], "%s: got an HTTP response: %r" % (what, res.stdout[-400:]))
        self.assertNotEqual(res.rc, 0, "%s: the TLS client reported success (exit 0); stderr: %s"
                            % (what, res.stderr[-400:]))
        return res

    def assertAuthnFail(self, start, reason, credential=None, what=""):
        ev = self.audit.wait_for(lambda e: e.get("event") == "authn-fail" and e.get("reason") == reason
                                 and (credential is None or e.get("credential") == credential), start)
        if ev is None:
            got = [e for e in self.audit.events(start) if e.get("event") == "authn-fail"]
            self.fail("%s: no authn-fail audit line with reason %r credential %r; authn-fail lines since: %s"
                      % (what, reason, credential, json.dumps(got)[:1500]))
        for field in ("ts", "peer"):
            self.assertIn(field, ev, ev)
        self.assertEqual(ev.get("peer"), "127.0.0.1", ev)
        return ev

    def assertDenyLogged(self, start, rsc, originator, credential=None):
        """A deny audit line for rsc and originator (and credential when given)."""
        ev = self.audit.wait_for(lambda e: e.get("event") == "deny" and e.get("rsc") == rsc
                                 and e.get("originator") == originator, start)
        if ev is None:
            self.fail("no deny audit line with rsc %d originator %r; lines since: %s"
                      % (rsc, originator, json.dumps(self.audit.events(start))[:1500]))
        if credential is not None:
            self.assertEqual(ev.get("credential"), credential, ev)
        self.assertEqual(ev.get("peer"), "127.0.0.1", ev)
        self.assertTrue(ev.get("reason"), ev)
        self.assertIn("target", ev, ev)
        return ev

    def assertNoKeyMaterial(self, keys=None):
        """None of the keys (hex, any case) in the audit log or the server's output."""
        keys = list(keys if keys is not None else self.keys)
        audit = self.audit.raw().decode("utf-8", "replace").lower()
        out = self.S.srv.output().lower()
        for k in keys:
            for hay, name in ((audit, "audit log"), (out, "server output")):
                # the whole key and any 16-byte window of it
                for i in range(0, max(1, len(k) - 31), 16):
                    frag = k[i:i + 32].lower()
                    self.assertNotIn(frag, hay, "key material %s... found in the %s" % (frag[:8], name))
