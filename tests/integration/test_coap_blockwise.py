"""CoAP block-wise transfer (RFC 7959) and option checks (RFC 7252 §5.4.1) against the real server,
with hand-built UDP datagrams (coap_helpers.encode) and build/warden-coap for DTLS:
- issue 12 finding 1: two datagrams (Block1 NUM 0 M=1 and NUM 1 M=0, both without payload) killed
  the CSE inside libcoap 4.3.1's reassembly; Warden now reassembles Block1 itself, with
  limits.max_body, coap.block_transfers per peer and coap.block_timeout, over coap and coaps;
- a deterministic storm of random and crafted datagrams after which the server still answers;
- issue 12 finding 20: critical options Warden does not act on get 4.02, unsupported oneM2M
  parameters 5.01 (TS-0004 §7.3.2.1)."""

import json
import os
import random
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wardentest import uniq, main  # noqa: E402
from coap_helpers import coap, decode, encode, raw_request, uint, ubytes  # noqa: E402
from test_coap import CoapBase  # noqa: E402

FR, RQI, TY, CF, PATH, QUERY, ETAG = 279, 283, 267, 12, 11, 15, 4
BLOCK1, BLOCK2, SIZE1, SIZE2, RSC = 27, 23, 60, 28, 307
JSON = ubytes(10001)
TIMEOUT_MS = 1000  # coap.block_timeout of this module's server (the smallest allowed)
MAX_BODY = 4096  # limits.max_body of this module's server


def blk(num, more, szx):
    return ubytes((num << 4) | (8 if more else 0) | szx)


def unblk(b):
    v = uint(b)
    return v >> 4, bool(v & 8), v & 7


def opt(d, num):
    for n, v in d["options"]:
        if n == num:
            return v
    return None


class Peer:
    """One UDP source port: a libcoap session on the server; CON requests, piggybacked or separate
    answers (a separate CON response is acknowledged)."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(3.0)
        self.mid = random.Random(port).randrange(1, 30000)

    def send(self, code, token, options, payload=b"", timeout=3.0):
        self.mid += 1
        self.sock.settimeout(timeout)
        self.sock.sendto(encode(0, code, self.mid, token, options, payload), ("127.0.0.1", self.port))
        end = time.time() + timeout
        while time.time() < end:
            try:
                pkt, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                return None
            d = decode(pkt)
            if d["type"] == 0:  # separate response: acknowledge
                self.sock.sendto(encode(2, 0, d["mid"]), ("127.0.0.1", self.port))
            if d["code"] == "0.00":
                continue
            if d["token"] == token:
                return d
        return None

    def close(self):
        self.sock.close()


class CoapBlockwiseTest(CoapBase):
    @classmethod
    def server_args(cls):
        return ["--coap.block_timeout=%d" % TIMEOUT_MS, "--coap.block_transfers=2",
                "--limits.max_body=%d" % MAX_BODY]

    def setUp(self):
        self.peers = []

    def tearDown(self):
        for p in self.peers:
            p.close()

    def peer(self):
        p = Peer(self.cport)
        self.peers.append(p)
        return p

    def assertAlive(self):
        self.assertTrue(self.srv.running(), "the server process died:\n" + self.srv.output()[-3000:])
        self.assertCoap(self.req("GET", "cse-in", fr="CAdmin"), "2.05", 2000)

    def container(self):
        ae, rn = self.register()
        self.assertCoap(self.req("POST", "cse-in/" + rn, fr=ae, ty=3, data='{"m2m:cnt":{"rn":"c"}}'), "2.01", 2001)
        return ae, "cse-in/%s/c" % rn

    def cin_opts(self, ae, path, rqi):
        return [(PATH, s.encode()) for s in path.split("/")] + [(FR, ae.encode()), (RQI, rqi.encode()),
                                                                (TY, ubytes(4)), (CF, JSON)]

    def send_blocks(self, peer, opts, body, szx, token, stop=None):
        """Block1 blocks of body; returns the answers (stops after `stop` blocks when given)."""
        size = 16 << szx
        chunks = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
        out = []
        for n, c in enumerate(chunks[:stop]):
            out.append(peer.send(2, token, opts + [(BLOCK1, blk(n, n < len(chunks) - 1, szx))], c))
        return out

    # -- finding 1 --------------------------------------------------------------------------------

    def test_finding_12_1_coap_block1_empty_payload_does_not_crash(self):
        p = self.peer()
        opts = [(PATH, b"cse-in"), (FR, b"CAdmin"), (RQI, b"f1")]
        d0 = p.send(2, b"tk", opts + [(BLOCK1, blk(0, True, 2))])
        d1 = p.send(2, b"tk", opts + [(BLOCK1, blk(1, False, 2))])
        self.assertTrue(self.srv.running(), "two datagrams killed the server:\n" + self.srv.output()[-3000:])
        # RFC 7959 §2.2: a non-final block carries exactly 2^(SZX+4) bytes; §2.9.2: 4.08 for a block
        # whose predecessors are missing. Both answered, with the oneM2M options.
        self.assertIsNotNone(d0, "no answer to the empty non-final block")
        self.assertEqual((d0["code"], uint(opt(d0, RSC)), opt(d0, RQI)), ("4.00", 4000, b"f1"), d0)
        self.assertIsNotNone(d1, "no answer to the orphan final block")
        self.assertEqual((d1["code"], uint(opt(d1, RSC))), ("4.08", 4000), d1)
        self.assertAlive()

    def test_finding_12_1_coaps_block1_empty_payload_does_not_crash(self):
        # the same two blocks inside one DTLS session (any holder of any credential could send them)
        kid = "bw%s@warden.example.com" % uniq("k")
        key = os.urandom(32).hex()
        self.ctl.psk_add(kid, "-", key=key)
        r = coap("POST", self.url("cse-in", secure=True), fr="CAdmin", psk=(kid, key),
                 extra=["--repeat", "3", "--block1", "0:1:2", "--block1", "1:0:2"])
        self.assertTrue(self.srv.running(), "two DTLS datagrams killed the server:\n" + self.srv.output()[-3000:])
        self.assertEqual(r.rc, 0, r)
        codes = [line[5:] for line in r.stdout.splitlines() if line.startswith("code ")]
        self.assertEqual(codes, ["4.00", "4.08", "4.08"], r)
        self.assertAlive()

    def test_finding_12_1_coaps_uses_wardens_block1_reassembly(self):
        # a body of three blocks over DTLS, sent by libcoap's client: reassembled by Warden (libcoap's
        # server reassembly is off), within limits.max_body, stored whole
        stem = "C" + uniq("bwd")
        kid = "bw%s@warden.example.com" % uniq("k")
        key = os.urandom(32).hex()
        self.ctl.psk_add(kid, stem, key=key)
        ae, rn = self.register(fr=stem, secure=True, psk=(kid, key))
        self.assertCoap(self.req("POST", "cse-in/" + rn, secure=True, fr=ae, ty=3, psk=(kid, key),
                                 data='{"m2m:cnt":{"rn":"c"}}'), "2.01", 2001)
        con = "d" * 2500
        r = self.req("POST", "cse-in/%s/c" % rn, secure=True, fr=ae, ty=4, psk=(kid, key),
                     data=json.dumps({"m2m:cin": {"con": con}}))
        self.assertCoap(r, "2.01", 2001)
        self.assertEqual(r.opt(BLOCK1) is not None, True, r)  # the final response echoes Block1
        r = self.assertCoap(self.req("GET", "cse-in/%s/c/la" % rn, secure=True, fr=ae, psk=(kid, key)), "2.05", 2000)
        self.assertEqual(r.json()["m2m:cin"]["con"], con)

    def test_rfc7959_2_3_block1_reassembled_in_order_with_retransmission(self):
        ae, path = self.container()
        p = self.peer()
        body = json.dumps({"m2m:cin": {"con": "b" * 150, "rn": "blk"}}).encode()
        opts = self.cin_opts(ae, path, "r-inorder")
        size = 32
        chunks = [body[i:i + size] for i in range(0, len(body), size)]
        for n, c in enumerate(chunks):
            more = n < len(chunks) - 1
            d = p.send(2, bytes([n]), opts + [(BLOCK1, blk(n, more, 1))], c)
            self.assertIsNotNone(d, "block %d unanswered" % n)
            if n == 1:  # the ACK was lost: the client sends block 1 again, stored once
                d = p.send(2, bytes([n]), opts + [(BLOCK1, blk(n, more, 1))], c)
            if more:
                self.assertEqual((d["code"], unblk(opt(d, BLOCK1))), ("2.31", (n, True, 1)), d)
        self.assertEqual((d["code"], uint(opt(d, RSC))), ("2.01", 2001), d)
        self.assertEqual(unblk(opt(d, BLOCK1)), (len(chunks) - 1, False, 1), d)
        r = self.assertCoap(self.req("GET", path + "/blk", fr=ae), "2.05", 2000)
        self.assertEqual(r.json()["m2m:cin"]["con"], "b" * 150)

    def test_rfc7959_2_9_2_block1_out_of_order_is_4_08(self):
        ae, path = self.container()
        p = self.peer()
        opts = self.cin_opts(ae, path, "r-ooo")
        body = b'{"m2m:cin":{"con":"' + b"o" * 60 + b'"}}'
        self.assertEqual(p.send(2, b"o", opts + [(BLOCK1, blk(0, True, 0))], body[:16])["code"], "2.31")
        d = p.send(2, b"o", opts + [(BLOCK1, blk(2, True, 0))], body[32:48])
        self.assertEqual((d["code"], uint(opt(d, RSC))), ("4.08", 4000), d)
        # the transfer is gone: block 1 now has no predecessor either
        d = p.send(2, b"o", opts + [(BLOCK1, blk(1, True, 0))], body[16:32])
        self.assertEqual(d["code"], "4.08", d)

    def test_rfc7959_2_9_3_block1_beyond_max_body_is_4_13_with_size1(self):
        ae, path = self.container()
        p = self.peer()
        opts = self.cin_opts(ae, path, "r-big")
        body = b'{"m2m:cin":{"con":"' + b"x" * (MAX_BODY + 100) + b'"}}'
        answers = self.send_blocks(p, opts, body, 6, b"big", stop=MAX_BODY // 1024 + 1)
        self.assertEqual([a["code"] for a in answers], ["2.31"] * (MAX_BODY // 1024) + ["4.13"], answers[-1])
        self.assertEqual(uint(opt(answers[-1], SIZE1)), MAX_BODY, answers[-1])
        self.assertAlive()

    def test_finding_12_1_block1_transfers_per_peer_bounded(self):
        # coap.block_transfers=2: a third open transfer from one address replaces its oldest
        ae, path = self.container()
        ps = [self.peer() for _ in range(3)]
        body = json.dumps({"m2m:cin": {"con": "p" * 40}}).encode()
        for i, p in enumerate(ps):
            d = p.send(2, b"t", self.cin_opts(ae, path, "r-peer%d" % i) + [(BLOCK1, blk(0, True, 0))], body[:16])
            self.assertEqual(d["code"], "2.31", d)
        first = ps[0].send(2, b"t", self.cin_opts(ae, path, "r-peer0") + [(BLOCK1, blk(1, True, 0))], body[16:32])
        self.assertEqual(first["code"], "4.08", first)
        last = self.send_rest(ps[2], self.cin_opts(ae, path, "r-peer2"), body, b"t")
        self.assertEqual((last["code"], uint(opt(last, RSC))), ("2.01", 2001), last)

    def send_rest(self, p, opts, body, token):
        chunks = [body[i:i + 16] for i in range(0, len(body), 16)]
        d = None
        for n in range(1, len(chunks)):
            d = p.send(2, token, opts + [(BLOCK1, blk(n, n < len(chunks) - 1, 0))], chunks[n])
        return d

    def test_finding_12_1_block1_transfer_times_out(self):
        ae, path = self.container()
        p = self.peer()
        opts = self.cin_opts(ae, path, "r-slow")
        body = json.dumps({"m2m:cin": {"con": "s" * 20}}).encode()
        self.assertEqual(p.send(2, b"s", opts + [(BLOCK1, blk(0, True, 0))], body[:16])["code"], "2.31")
        # wait out coap.block_timeout (a configured duration, like sleep_past for expiry times)
        time.sleep(TIMEOUT_MS / 1000.0 + 0.5)
        d = self.send_rest(p, opts, body, b"s")
        self.assertEqual((d["code"], uint(opt(d, RSC))), ("4.08", 4000), d)

    def test_rfc7959_2_4_block2_followups_served_from_the_kept_response(self):
        ae, path = self.container()
        con = "".join(chr(97 + i % 26) for i in range(3000))
        self.assertCoap(self.req("POST", path, fr=ae, ty=4, data=json.dumps({"m2m:cin": {"con": con, "rn": "l"}})),
                        "2.01", 2001)
        p = self.peer()
        opts = [(PATH, s.encode()) for s in (path + "/l").split("/")] + [(FR, ae.encode()), (RQI, b"r-b2")]
        got, etags, n = b"", set(), 0
        while True:
            d = p.send(1, b"g%d" % n, opts + [(BLOCK2, blk(n, False, 4))])
            self.assertEqual((d["code"], uint(opt(d, RSC))), ("2.05", 2000), d)
            num, more, szx = unblk(opt(d, BLOCK2))
            self.assertEqual((num, szx), (n, 4), d)
            etags.add(opt(d, ETAG))
            got += d["payload"]
            if not more:
                break
            n += 1
        self.assertEqual(len(etags), 1, etags)
        self.assertEqual(json.loads(got)["m2m:cin"]["con"], con)
        # a block beyond the body
        d = p.send(1, b"gx", opts + [(BLOCK2, blk(n + 5, False, 4))])
        self.assertEqual(d["code"], "4.00", d)

    def test_rfc7959_2_4_block2_followup_of_a_write_never_runs_it_again(self):
        # a follow-up for a response that is not kept must not re-run the CREATE (4.08 instead)
        ae, path = self.container()
        p = self.peer()
        opts = self.cin_opts(ae, path, "r-w2")
        d = p.send(2, b"w", opts + [(BLOCK2, blk(3, False, 4))], b'{"m2m:cin":{"con":"once"}}')
        self.assertEqual((d["code"], uint(opt(d, RSC))), ("4.08", 4000), d)
        r = self.assertCoap(self.req("GET", path + "?fu=1&ty=4", fr=ae), "2.05", 2000)
        self.assertEqual(r.json().get("m2m:uril", []), [], r)

    def test_rfc7959_2_5_large_notification_still_sent_block_wise(self):
        # libcoap's block-wise code is off on server sessions only: a notification larger than one
        # datagram still goes out in Block1 blocks on its client session
        recv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        recv.bind(("127.0.0.1", 0))
        recv.settimeout(0.5)
        try:
            ae, path = self.container()
            nu = "coap://127.0.0.1:%d/big" % recv.getsockname()[1]
            self.assertCoap(self.req("POST", path, fr=ae, ty=23, data=json.dumps(
                {"m2m:sub": {"rn": "s", "nu": [nu], "enc": {"net": [3]}}})), "2.01", 2001)
            con = "n" * 3000
            self.assertCoap(self.req("POST", path, fr=ae, ty=4, data=json.dumps({"m2m:cin": {"con": con}})),
                            "2.01", 2001)
            body, blocks, end = b"", 0, time.time() + 10
            while time.time() < end:
                try:
                    pkt, addr = recv.recvfrom(65536)
                except socket.timeout:
                    continue
                d = decode(pkt)
                b1 = opt(d, BLOCK1)
                num, more, szx = unblk(b1) if b1 is not None else (0, False, 6)
                if num * (16 << szx) == len(body):  # in order, not a retransmission
                    body += d["payload"]
                    blocks += 1
                code = (2 << 5) | (31 if more else 4)
                opts = [(BLOCK1, b1)] if b1 is not None else []
                recv.sendto(encode(2, code, d["mid"], d["token"], opts + [(RSC, ubytes(2000))]), addr)
                if not more:
                    break
            self.assertGreater(blocks, 1, "the notification was not sent block-wise")
            self.assertEqual(json.loads(body)["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"], con)
        finally:
            recv.close()

    # -- random and crafted datagrams ---------------------------------------------------------------

    def test_finding_12_1_random_and_crafted_datagrams_server_still_answers(self):
        rng = random.Random(20261207)  # deterministic
        valid = [
            encode(0, 1, 1, b"v1", [(PATH, b"cse-in"), (FR, b"CAdmin"), (RQI, b"x")]),
            encode(0, 2, 2, b"v2", [(PATH, b"cse-in"), (FR, b"Crand"), (RQI, b"y"), (TY, ubytes(2)), (CF, JSON)],
                   b'{"m2m:ae":{"api":"Nr","rr":false}}'),
            encode(0, 1, 3, b"v3", [(PATH, b"cse-in"), (FR, b"CAdmin"), (QUERY, b"fu=1"), (BLOCK2, blk(0, False, 0))]),
        ]
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
        # crafted first: block sequences that leave a reassembly with nothing or too little in it
        # (the finding's pair, its variants), each from one socket so that they share a session
        base = [(PATH, b"cse-in"), (FR, b"CAdmin"), (RQI, b"crafted")]
        crafted = [
            [(blk(0, True, 2), b""), (blk(1, False, 2), b"")],  # the finding
            [(blk(0, True, 0), b""), (blk(1, True, 0), b""), (blk(2, False, 0), b"")],
            [(blk(0, True, 6), b"a"), (blk(1, False, 6), b"")],
            [(blk(0, True, 0), b"b" * 16), (blk(1, False, 0), b""), (blk(1, False, 0), b"")],
            [(blk(1, False, 1), b""), (blk(0, False, 1), b"")],
            [(blk(0, True, 0), b"c" * 16), (blk(0, True, 0), b""), (blk(1, False, 0), b"")],
            [(blk((1 << 20) - 1, False, 6), b"")],
        ]
        for n, sequence in enumerate(crafted):
            s = socks[n % len(socks)]
            for k, (b1, payload) in enumerate(sequence):
                s.sendto(encode(0, 2, 1000 + 10 * n + k, b"cr%d" % n, base + [(BLOCK1, b1)], payload),
                         ("127.0.0.1", self.cport))
            d = raw_request(self.cport, encode(0, 1, 900 + n, b"alive", base))
            self.assertIsNotNone(d, "no answer after crafted sequence %d:\n%s" % (n, self.srv.output()[-3000:]))
        try:
            for i in range(600):
                kind = rng.randrange(5)
                if kind == 0:  # random bytes
                    pkt = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
                elif kind == 1:  # a valid request with bytes flipped
                    pkt = bytearray(rng.choice(valid))
                    for _ in range(rng.randrange(1, 4)):
                        pkt[rng.randrange(len(pkt))] = rng.randrange(256)
                    pkt = bytes(pkt)
                elif kind == 2:  # valid header, random options and payload
                    opts = [(rng.choice([1, 4, 5, 9, 11, 12, 15, 17, 23, 27, 28, 60, 258, 267, 279, 283, 291, 2049,
                                         65000]), bytes(rng.randrange(256) for _ in range(rng.randrange(0, 6))))
                            for _ in range(rng.randrange(0, 6))]
                    pkt = encode(rng.randrange(4), rng.choice([0, 1, 2, 3, 4, 5, 7, 31, 69]), rng.randrange(65536),
                                 bytes(rng.randrange(256) for _ in range(rng.randrange(0, 9))), opts,
                                 bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))))
                else:  # block-wise: random NUM, M, SZX and payload sizes, often the same transfer
                    szx = rng.randrange(8)
                    size = rng.choice([0, 1, 15, 16, 32, 64, 1024, 16 << min(szx, 6)])
                    tok = bytes([rng.randrange(3)])
                    opts = [(PATH, b"cse-in"), (FR, b"CAdmin"), (RQI, b"bw%d" % rng.randrange(3)),
                            (rng.choice([BLOCK1, BLOCK1, BLOCK2]),
                             blk(rng.choice([0, 0, 1, 2, rng.randrange(1 << 20)]), rng.random() < 0.6, szx))]
                    if rng.random() < 0.2:
                        opts.append((SIZE1, ubytes(rng.randrange(1 << 24))))
                    pkt = encode(0, rng.choice([1, 2, 3]), rng.randrange(65536), tok, opts, b"z" * size)
                rng.choice(socks).sendto(pkt, ("127.0.0.1", self.cport))
                if i % 100 == 99:
                    self.assertTrue(self.srv.running(), "datagram %d killed the server:\n%s" %
                                    (i, self.srv.output()[-3000:]))
                    d = raw_request(self.cport, valid[0])
                    self.assertIsNotNone(d, "no answer after %d datagrams" % (i + 1))
                    self.assertEqual(d["code"], "2.05", d)
        finally:
            for s in socks:
                s.close()
        self.assertAlive()

    # -- finding 20 -----------------------------------------------------------------------------------

    def test_rfc7252_5_4_1_unsupported_critical_option_is_4_02(self):
        # unknown critical options, and the critical ones libcoap knows but Warden does not act on
        # (If-Match 1, If-None-Match 5: conditional requests are not implemented; OSCORE 9). The 4.02
        # must not carry the offending option back: a client rejects a response with a critical
        # option it does not know (RFC 7252 §5.4.1), and then never sees an answer (the finding).
        for num, val in [(2049, b"x"), (65001, b"x"), (1, b"\x01"), (5, b""), (9, b"")]:
            d = raw_request(self.cport, encode(0, 1, 100 + num % 1000, b"c%d" % num,
                                               [(PATH, b"cse-in"), (FR, b"CAdmin"), (RQI, b"crit"), (num, val)]))
            self.assertIsNotNone(d, "option %d: no answer" % num)
            self.assertEqual((d["code"], uint(opt(d, RSC)), opt(d, RQI)), ("4.02", 4000, b"crit"),
                             "option %d: %r" % (num, d))
            self.assertEqual([n for n, _ in d["options"] if n & 1 and n not in (RQI, RSC, 271)], [],
                             "option %d: a critical option in the 4.02: %r" % (num, d))
        # a conforming client (libcoap's, in warden-coap) gets the answer, over coap and coaps
        r = coap("GET", self.url("cse-in"), fr="CAdmin", opts=["2049=x"], timeout=3)
        self.assertCoap(r, "4.02", 4000)
        kid = "bc%s@warden.example.com" % uniq("k")
        key = os.urandom(32).hex()
        self.ctl.psk_add(kid, "-", key=key)
        r = coap("GET", self.url("cse-in", secure=True), fr="CAdmin", opts=["65001=x"], psk=(kid, key), timeout=3)
        self.assertCoap(r, "4.02", 4000)
        # an unknown elective option is ignored
        d = raw_request(self.cport, encode(0, 1, 99, b"el", [(PATH, b"cse-in"), (FR, b"CAdmin"), (RQI, b"el"),
                                                              (2050, b"x")]))
        self.assertEqual(d["code"], "2.05", d)

    def test_rfc7252_5_8_methods_onem2m_does_not_use_are_4_05(self):
        for code in (5, 6, 7):  # FETCH, PATCH, iPATCH (RFC 8132)
            d = raw_request(self.cport, encode(0, code, 400 + code, b"m", [(PATH, b"cse-in"), (FR, b"CAdmin"),
                                                                             (RQI, b"meth")]))
            self.assertEqual((d["code"], uint(opt(d, RSC))), ("4.05", 4005), d)

    def test_ts0004_7_3_2_1_unsupported_onem2m_parameter_is_5_01(self):
        # oneM2M-EC (CMDH), not supported, is NOT_IMPLEMENTED (RSET and OET are implemented:
        # test_conformance)
        for num, val in [(303, ubytes(2))]:
            d = raw_request(self.cport, encode(0, 1, 200 + num % 100, b"p%d" % num,
                                               [(PATH, b"cse-in"), (FR, b"CAdmin"), (RQI, b"prm"), (num, val)]))
            self.assertIsNotNone(d, "option %d: no answer" % num)
            self.assertEqual((d["code"], uint(opt(d, RSC)), opt(d, RQI)), ("5.01", 5001, b"prm"),
                             "option %d: %r" % (num, d))

    def test_ts0004_7_3_2_1_expired_request_expiration_timestamp_is_4008(self):
        # oneM2M-RQET is evaluated: expired on arrival is REQUEST_TIMEOUT (5.04, TS-0008 Table 6.2.4-1)
        for val, want in [(b"20000101T000000", ("5.04", 4008)), (b"20991231T000000", ("2.05", 2000)),
                          (b"60000", ("2.05", 2000)), (b"soon", ("4.00", 4000))]:
            d = raw_request(self.cport, encode(0, 1, 300, b"q", [(PATH, b"cse-in"), (FR, b"CAdmin"), (RQI, b"rqet"),
                                                                  (291, val)]))
            self.assertIsNotNone(d, val)
            self.assertEqual((d["code"], uint(opt(d, RSC))), want, "%r: %r" % (val, d))

if __name__ == "__main__":
    main()
