"""CoAP helpers for the black-box tests (TS-0008): drive build/warden-coap (next to WARDEN_BIN) and
parse its output, encode/decode raw CoAP messages (RFC 7252) for malformed requests, and a UDP
receiver that accepts notifications (CON POST) and answers ACK 2.04 with oneM2M-RSC 2000.
Standard library only."""

import os
import socket
import struct
import subprocess
import threading

from wardentest import warden_bin

OPT_NAMES = {279: "FR", 283: "RQI", 271: "RVI", 267: "TY", 307: "RSC", 319: "CTO", 323: "CTS"}


class CoapResp:
    def __init__(self, rc, stdout, stderr):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.code = None
        self.options = []  # (num, name, value text)
        self.payload = ""
        for line in stdout.splitlines():
            if line.startswith("code "):
                self.code = line[5:]
            elif line.startswith("option "):
                parts = line.split(" ", 3)
                self.options.append((int(parts[1]), parts[2], parts[3] if len(parts) > 3 else ""))
            elif line.startswith("payload "):
                self.payload = line[8:]

    def opt(self, num):
        for n, _, v in self.options:
            if n == num:
                return v
        return None

    def opts(self, num):
        return [v for n, _, v in self.options if n == num]

    @property
    def rsc(self):
        v = self.opt(307)
        return int(v) if v is not None else None

    def json(self):
        import json
        return json.loads(self.payload) if self.payload else None

    def __repr__(self):
        return "CoapResp(rc=%r, code=%r, rsc=%r, payload=%r, stderr=%r)" % (
            self.rc, self.code, self.rsc, self.payload[:300], self.stderr[-300:])


def coap_bin():
    return os.path.join(os.path.dirname(warden_bin()), "warden-coap")


def coap(method, uri, fr=None, ty=None, data=None, rqi=None, cf=None, accept=None, opts=(), psk=None,
         timeout=5, extra=()):
    """Run warden-coap; psk = (identity, hexkey) is passed on stdin (never argv)."""
    argv = [coap_bin(), "--timeout", str(timeout)]
    if fr is not None:
        argv += ["--fr", fr]
    if ty is not None:
        argv += ["--ty", str(ty)]
    if rqi is not None:
        argv += ["--rqi", rqi]
    if cf is not None:
        argv += ["--cf", cf]
    if accept is not None:
        argv += ["--accept", accept]
    for o in opts:
        argv += ["--opt", o]
    stdin = ""
    if psk is not None:
        argv += ["--psk-identity", psk[0], "--psk-key-file", "-"]
        stdin = psk[1] + "\n"
    tmp = None
    if data is not None:
        if len(data) > 4000:
            import tempfile
            fd, tmp = tempfile.mkstemp(prefix="wc-body-")
            os.write(fd, data.encode() if isinstance(data, str) else data)
            os.close(fd)
            argv += ["--data-file", tmp]
        else:
            argv += ["--data", data]
    argv += list(extra) + [method, uri]
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout + 10)
    finally:
        if tmp:
            os.unlink(tmp)
    return CoapResp(p.returncode, p.stdout, p.stderr)


# -- raw CoAP ---------------------------------------------------------------

def _ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack("!H", v - 269)


def encode(mtype, code, mid, token=b"", options=(), payload=b""):
    """options: list of (num, bytes) in any order."""
    out = bytes([0x40 | (mtype << 4) | len(token), code]) + struct.pack("!H", mid) + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        d, dx = _ext(num - last)
        l, lx = _ext(len(val))
        out += bytes([(d << 4) | l]) + dx + lx + val
        last = num
    if payload:
        out += b"\xff" + payload
    return out


def decode(data):
    """-> dict(type, code 'c.dd', mid, token, options [(num, bytes)], payload)."""
    tkl = data[0] & 0x0F
    res = {"type": (data[0] >> 4) & 3, "code": "%d.%02d" % (data[1] >> 5, data[1] & 0x1F),
           "mid": struct.unpack("!H", data[2:4])[0], "token": data[4:4 + tkl], "options": [], "payload": b""}
    i, num = 4 + tkl, 0
    while i < len(data):
        if data[i] == 0xFF:
            res["payload"] = data[i + 1:]
            break
        d, l = data[i] >> 4, data[i] & 0x0F
        i += 1
        vals = []
        for x in (d, l):
            if x == 13:
                vals.append(data[i] + 13)
                i += 1
            elif x == 14:
                vals.append(struct.unpack("!H", data[i:i + 2])[0] + 269)
                i += 2
            else:
                vals.append(x)
        num += vals[0]
        res["options"].append((num, data[i:i + vals[1]]))
        i += vals[1]
    return res


def uint(b):
    return int.from_bytes(b, "big") if b else 0


def ubytes(v):
    return v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""


def raw_request(port, data, timeout=3.0):
    """Send one datagram, return the decoded answer (or None on timeout)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(data, ("127.0.0.1", port))
        while True:
            pkt, _ = s.recvfrom(65536)
            d = decode(pkt)
            if d["code"] == "0.00" and d["type"] == 2:  # empty ACK of a separate response
                continue
            if d["type"] == 0:  # separate CON response: acknowledge it
                s.sendto(encode(2, 0, d["mid"]), ("127.0.0.1", port))
            return d
    except socket.timeout:
        return None
    finally:
        s.close()


class NotificationReceiver:
    """Accepts CoAP notifications on 127.0.0.1:<port>; answers ACK 2.04 + oneM2M-RSC 2000."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.cond = threading.Condition()
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        seen = set()
        while not self.stop_flag:
            try:
                pkt, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                d = decode(pkt)
            except Exception:
                continue
            if d["type"] == 0:
                self.sock.sendto(encode(2, (2 << 5) | 4, d["mid"], d["token"], [(307, ubytes(2000))]), addr)
            if (addr, d["mid"]) in seen:
                continue
            seen.add((addr, d["mid"]))
            with self.cond:
                self.received.append(d)
                self.cond.notify_all()

    def wait(self, n=1, timeout=10.0):
        import time
        end = time.time() + timeout
        with self.cond:
            while len(self.received) < n and time.time() < end:
                self.cond.wait(0.2)
            return list(self.received)

    def close(self):
        self.stop_flag = True
        self.thread.join(2)
        self.sock.close()
