"""A small CBOR (RFC 8949) codec for the black-box tests, standard library only.

encode(obj): dict (str keys), list/tuple, str, int (-2^64 .. 2^64-1), float, bool, None, bytes,
  and the wrappers Tag, Simple, UNDEFINED, Raw (bytes spliced in as they are). Floats use the
  shortest of half, single and double precision that holds the value exactly (RFC 8949 §4.1
  preferred serialization), or always double precision with float64=True.
decode(data): the inverse, strict: the whole input must be one item; indefinite-length strings,
  arrays and maps are accepted; duplicate map keys raise. Tags come back as Tag, simple values
  other than false/true/null as Simple, undefined as UNDEFINED.

    >>> decode(encode({"m2m:ae": {"rr": False, "lbl": ["a"]}}))
    {'m2m:ae': {'rr': False, 'lbl': ['a']}}
"""

import math
import struct


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value

    def __eq__(self, other):
        return isinstance(other, Tag) and (self.tag, self.value) == (other.tag, other.value)

    def __repr__(self):
        return "Tag(%d, %r)" % (self.tag, self.value)


class Simple:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Simple) and self.value == other.value

    def __repr__(self):
        return "Simple(%d)" % self.value


class _Undefined:
    def __repr__(self):
        return "UNDEFINED"


UNDEFINED = _Undefined()


class Raw:
    """Bytes inserted into the encoding verbatim (to build malformed input)."""

    def __init__(self, data):
        self.data = bytes(data)


class CBORError(ValueError):
    pass


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, n)
    raise CBORError("argument too large: %d" % n)


def _float(x, float64):
    if not float64 and not math.isnan(x) and not math.isinf(x):
        for prefix, fmt in ((0xf9, ">e"), (0xfa, ">f")):
            try:
                packed = struct.pack(fmt, x)
            except (OverflowError, struct.error):
                continue
            if struct.unpack(fmt, packed)[0] == x:
                return bytes([prefix]) + packed
    return b"\xfb" + struct.pack(">d", x)


def encode(obj, float64=False):
    if isinstance(obj, Raw):
        return obj.data
    if obj is None:
        return b"\xf6"
    if obj is True:
        return b"\xf5"
    if obj is False:
        return b"\xf4"
    if obj is UNDEFINED:
        return b"\xf7"
    if isinstance(obj, Simple):
        return head(7, obj.value) if obj.value < 24 else b"\xf8" + bytes([obj.value])
    if isinstance(obj, int):
        return head(0, obj) if obj >= 0 else head(1, -1 - obj)
    if isinstance(obj, float):
        return _float(obj, float64)
    if isinstance(obj, str):
        b = obj.encode("utf-8")
        return head(3, len(b)) + b
    if isinstance(obj, (bytes, bytearray)):
        return head(2, len(obj)) + bytes(obj)
    if isinstance(obj, (list, tuple)):
        return head(4, len(obj)) + b"".join(encode(v, float64) for v in obj)
    if isinstance(obj, dict):
        return head(5, len(obj)) + b"".join(encode(k, float64) + encode(v, float64) for k, v in obj.items())
    if isinstance(obj, Tag):
        return head(6, obj.tag) + encode(obj.value, float64)
    raise CBORError("cannot encode %r" % type(obj))


class _Reader:
    def __init__(self, data):
        self.data, self.pos = bytes(data), 0

    def take(self, n):
        if n > len(self.data) - self.pos:
            raise CBORError("truncated at byte %d" % self.pos)
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def argument(self, info):
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            return int.from_bytes(self.take(1 << (info - 24)), "big")
        if info == 31:
            return None
        raise CBORError("reserved additional information %d" % info)

    def item(self, depth=0):
        if depth > 500:
            raise CBORError("too deep")
        ib = self.take(1)[0]
        major, info = ib >> 5, ib & 0x1f
        if major == 7:
            if info == 20:
                return False
            if info == 21:
                return True
            if info == 22:
                return None
            if info == 23:
                return UNDEFINED
            if info < 20:
                return Simple(info)
            if info == 24:
                return Simple(self.take(1)[0])
            if info == 25:
                return struct.unpack(">e", self.take(2))[0]
            if info == 26:
                return struct.unpack(">f", self.take(4))[0]
            if info == 27:
                return struct.unpack(">d", self.take(8))[0]
            if info == 31:
                raise CBORError("unexpected break")
            raise CBORError("reserved simple encoding %d" % info)
        n = self.argument(info)
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major in (2, 3):
            if n is None:
                chunks = []
                while self.data[self.pos:self.pos + 1] != b"\xff":
                    c = self.item(depth + 1)
                    if type(c) is not (bytes if major == 2 else str):
                        raise CBORError("bad chunk in an indefinite-length string")
                    chunks.append(c)
                self.take(1)
                return (b"" if major == 2 else "").join(chunks)
            raw = self.take(n)
            return raw if major == 2 else raw.decode("utf-8")
        if major == 4:
            out = []
            if n is None:
                while self.data[self.pos:self.pos + 1] != b"\xff":
                    out.append(self.item(depth + 1))
                self.take(1)
            else:
                for _ in range(n):
                    out.append(self.item(depth + 1))
            return out
        if major == 5:
            out = {}
            count = 0
            while (n is None and self.data[self.pos:self.pos + 1] != b"\xff") or (n is not None and count < n):
                k = self.item(depth + 1)
                if isinstance(k, (list, dict)):
                    raise CBORError("unhashable map key")
                if k in out:
                    raise CBORError("duplicate map key %r" % (k,))
                out[k] = self.item(depth + 1)
                count += 1
            if n is None:
                self.take(1)
            return out
        if n is None:
            raise CBORError("indefinite tag")
        return Tag(n, self.item(depth + 1))


def decode(data):
    r = _Reader(data)
    v = r.item()
    if r.pos != len(r.data):
        raise CBORError("%d trailing bytes" % (len(r.data) - r.pos))
    return v
