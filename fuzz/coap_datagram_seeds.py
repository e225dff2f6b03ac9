"""Writes the seed corpus of fuzz_coap_datagram (fuzz/corpora/coap_datagram): length-prefixed raw
CoAP datagrams (RFC 7252) as tests/integration/coap_helpers.py encodes them. Run from the
repository root: /usr/bin/python3 fuzz/coap_datagram_seeds.py"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from coap_helpers import encode, ubytes  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpora", "coap_datagram")
FR, RQI, TY, CF, PATH, QUERY, B1, B2 = 279, 283, 267, 12, 11, 15, 27, 23
JSON = ubytes(10001)


def blk(num, more, szx):
    return ubytes((num << 4) | (8 if more else 0) | szx)


def seq(*pkts):
    return b"".join(struct.pack("!H", len(p)) + p for p in pkts)


def path(*segs):
    return [(PATH, s.encode()) for s in segs]


seeds = {
    # issue 12 finding 1: the two datagrams that crashed libcoap's Block1 reassembly
    "finding_12_1_empty_blocks": seq(encode(0, 2, 1, b"tk", path("cse-in") + [(B1, blk(0, True, 2))]),
                                     encode(0, 2, 2, b"tk", path("cse-in") + [(B1, blk(1, False, 2))])),
    "retrieve_cse": seq(encode(0, 1, 3, b"r1", path("cse-in") + [(FR, b"CAdmin"), (RQI, b"q1")])),
    "create_ae": seq(encode(0, 2, 4, b"c1", path("cse-in") + [(FR, b"Cseed"), (RQI, b"q2"), (TY, ubytes(2)),
                                                                 (CF, JSON)],
                            b'{"m2m:ae":{"rn":"seed","api":"Nseed","rr":false}}')),
    "discovery": seq(encode(0, 1, 5, b"d1", path("cse-in") + [(FR, b"CAdmin"), (RQI, b"q3"), (QUERY, b"fu=1"),
                                                                 (QUERY, b"ty=2")])),
    "unknown_critical_option": seq(encode(0, 1, 6, b"u1", path("cse-in") + [(FR, b"CAdmin"), (2049, b"x")])),
    "if_match": seq(encode(0, 1, 7, b"i1", path("cse-in") + [(FR, b"CAdmin"), (1, b"\x01")])),
    "garbage": seq(b"\x40", b"\xff\xff\xff\xff", b"\x4f" + b"\x00" * 20, b""),
    # block-wise: a body in three 16-byte blocks, with a retransmitted block and the follow-ups of
    # the response (Block2 NUM 1, 2 at 16 bytes)
}
body = b'{"m2m:cin":{"con":"block-wise seed body...."}}'
hdr = path("cse-in", "fz", "c") + [(FR, b"Cfz"), (RQI, b"b1"), (TY, ubytes(4)), (CF, JSON)]
chunks = [body[i:i + 16] for i in range(0, len(body), 16)]
pkts = []
for n, c in enumerate(chunks):
    more = n < len(chunks) - 1
    pkts.append(encode(0, 2, 10 + n, bytes([n]), hdr + [(B1, blk(n, more, 0))], c))
    if n == 1:
        pkts.append(pkts[-1])  # retransmission
seeds["block1_three_blocks"] = seq(*pkts)
ghdr = path("cse-in") + [(FR, b"CAdmin"), (RQI, b"g")]
seeds["block2_followups"] = seq(*[encode(0, 1, 20 + n, b"g%d" % n, ghdr + [(B2, blk(n, False, 0))])
                                  for n in range(4)])
seeds["block1_out_of_order"] = seq(encode(0, 2, 30, b"o", hdr + [(B1, blk(0, True, 0))], body[:16]),
                                   encode(0, 2, 31, b"o", hdr + [(B1, blk(2, False, 0))], body[32:]))
seeds["block1_wrong_size"] = seq(encode(0, 2, 32, b"w", hdr + [(B1, blk(0, True, 1))], body[:16]))
seeds["block_szx7"] = seq(encode(0, 2, 33, b"z", hdr + [(B1, b"\x0f")], body[:16]),
                          encode(0, 1, 34, b"z", ghdr + [(B2, b"\x17")]))

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(seeds), OUT))
