"""Differential test of the xenapi XML-RPC codec against Python's ``xmlrpc.client``.

Both directions, on a few thousand seeded (reproducible) random values:

* Python -> Rust -> Python: ``xmlrpc.client.dumps`` writes each value as a ``<methodResponse>``,
  the Rust echo (``core/examples/xmlrpc_echo.rs``) decodes it with ``decode_response`` and writes it
  back with ``encode_response``, and ``xmlrpc.client.loads`` of the Rust output must equal the
  original (NaN equals NaN, floats compared by bits, types exact).
* Rust -> Python -> Rust: the echo generates values from a seeded generator and encodes them;
  ``loads`` must read each as the canonical JSON rendering the echo prints beside it; Python then
  writes each back with ``dumps`` and the echo, regenerating the same values, checks that it
  decodes to them.

Every direction runs with the Rust encoder's options off and on (``--i8``: int64s outside the
32-bit range as ``<i8>`` instead of strings; ``--untyped``: strings as untyped ``<value>text``).
All documents go through ONE echo process per run, length-framed (``TAG LEN\\n`` + bytes + ``\\n``).

Two things stock ``xmlrpc.client.dumps`` cannot do are handled by a small Marshaller subclass:
ints beyond 32 bits (``dumps`` raises OverflowError; XenAPI.py's xen-api issue 2871) are written as
``<i8>``, and a carriage return, which ``dumps`` writes raw so that every XML parser (expat
included) reads it back as a line feed, is written as ``&#13;``. Values without either are also run
through stock ``dumps`` unchanged.

Run (from the repository root; builds the echo in release mode if needed, ~10 s once built)::

    pytest -q tests/differential/test_codec_differential.py

or point ``XENAPI_ECHO`` at a prebuilt binary
(``cargo build --release -p xenapi --example xmlrpc_echo`` puts it in
``target/release/examples/xmlrpc_echo``). ``XENAPI_DIFF_N`` sets the number of values per run
(default 2000), ``XENAPI_DIFF_SEED`` the seed (default 20240611).
"""

import json
import math
import os
import random
import struct
import subprocess
import xmlrpc.client
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
N = int(os.environ.get("XENAPI_DIFF_N", "2000"))
SEED = int(os.environ.get("XENAPI_DIFF_SEED", "20240611"))
I32 = range(-(2**31), 2**31)


# ----------------------------------------------------------------------------------------------
# The echo binary and its framing.


@pytest.fixture(scope="session")
def echo():
    path = os.environ.get("XENAPI_ECHO")
    if path:
        return path
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "xenapi", "--example", "xmlrpc_echo"],
        cwd=ROOT,
        check=True,
        timeout=1800,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    path = target / "release" / "examples" / "xmlrpc_echo"
    assert path.exists(), path
    return str(path)


def frame(tag, body):
    return b"%s %d\n%s\n" % (tag.encode(), len(body), body)


def unframe(data):
    """The (tag, body) records in ``data``."""
    records, pos = [], 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        tag, length = data[pos:nl].decode().split(" ")
        start, end = nl + 1, nl + 1 + int(length)
        assert data[end : end + 1] == b"\n", "bad framing"
        records.append((tag, data[start:end]))
        pos = end + 1
    return records


def run_echo(echo, args, docs=()):
    proc = subprocess.run(
        [echo, *args],
        input=b"".join(frame("DOC", d) for d in docs),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return unframe(proc.stdout)


# ----------------------------------------------------------------------------------------------
# Writing: stock dumps, or the subclass for wide ints and carriage returns.


class WideMarshaller(xmlrpc.client.Marshaller):
    dispatch = dict(xmlrpc.client.Marshaller.dispatch)

    def dump_long(self, value, write):
        if value in I32:
            write("<value><int>%d</int></value>\n" % value)
        elif -(2**63) <= value < 2**63:
            write("<value><i8>%d</i8></value>\n" % value)
        else:
            raise OverflowError(value)

    dispatch[int] = dump_long

    def dump_unicode(self, value, write, escape=xmlrpc.client.escape):
        write("<value><string>")
        write(escape(value).replace("\r", "&#13;"))
        write("</string></value>\n")

    dispatch[str] = dump_unicode

    def dump_struct(self, value, write, escape=xmlrpc.client.escape):
        i = id(value)
        if i in self.memo:
            raise TypeError("cannot marshal recursive dictionaries")
        self.memo[i] = None
        write("<value><struct>\n")
        for k, v in value.items():
            write("<member>\n<name>%s</name>\n" % escape(k).replace("\r", "&#13;"))
            self._Marshaller__dump(v, write)
            write("</member>\n")
        write("</struct></value>\n")
        del self.memo[i]

    dispatch[dict] = dump_struct


def dumps_wide(value):
    """``dumps((value,), methodresponse=True, allow_none=True)`` with the subclass."""
    m = WideMarshaller("utf-8", allow_none=True)
    return "<?xml version='1.0'?>\n<methodResponse>\n%s</methodResponse>\n" % m.dumps((value,))


def dumps_stock(value):
    return xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True)


def loads(doc):
    (value,), method = xmlrpc.client.loads(doc, use_builtin_types=False)
    assert method is None
    return value


# ----------------------------------------------------------------------------------------------
# Canonical form, shared with the echo's CANON records; equality is equality of canonical forms.


def canon(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"double": "nan" if math.isnan(v) else struct.pack(">Q", struct.unpack(">Q", struct.pack(">d", v))[0]).hex()}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, xmlrpc.client.DateTime):
        return {"dt": v.value}
    if isinstance(v, (bytes, bytearray)):
        return {"b64": bytes(v).hex()}
    if isinstance(v, xmlrpc.client.Binary):
        return {"b64": v.data.hex()}
    if isinstance(v, list):
        return {"array": [canon(x) for x in v]}
    if isinstance(v, dict):
        return {"struct": [[k, canon(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def as_read(v, i8):
    """What a reader gets when the Rust encoder writes ``v``: wide ints as strings unless --i8."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int) and not i8 and v not in I32:
        return str(v)
    if isinstance(v, list):
        return [as_read(x, i8) for x in v]
    if isinstance(v, dict):
        return {k: as_read(x, i8) for k, x in v.items()}
    return v


# ----------------------------------------------------------------------------------------------
# Python's generator.

TRICKY = "<>&\"' \t\n];#\x7f\x85\xa0\u2028\ufeff\ufffd\U0010ffff\U0001f600é中"


def gen_char(rng, cr):
    k = rng.randrange(10)
    if k < 3:
        c = rng.choice(TRICKY + ("\r" if cr else ""))
    elif k < 6:
        c = chr(rng.randrange(0x20, 0x7F))
    elif k < 8:
        c = chr(rng.randrange(0xA0, 0xD800))
    elif k < 9:
        c = chr(rng.randrange(0xE000, 0xFFFE))
    else:
        c = chr(rng.randrange(0x10000, 0x110000))
    return c


def gen_str(rng, cr):
    return "".join(gen_char(rng, cr) for _ in range(rng.randrange(20)))


def gen_int(rng, wide):
    k = rng.randrange(4)
    if k == 0:
        return rng.randrange(-1000, 1000)
    if k == 1:
        return rng.choice([-(2**31), 2**31 - 1] + ([-(2**31) - 1, 2**31, -(2**63), 2**63 - 1] if wide else []))
    if k == 2 or not wide:
        return rng.randrange(-(2**31), 2**31)
    return rng.randrange(-(2**63), 2**63)


def gen_float(rng):
    k = rng.randrange(4)
    if k == 0:
        return rng.choice([math.inf, -math.inf, math.nan, 0.0, -0.0, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 0.1, 1e21, 1e-7])
    if k == 1:
        return rng.uniform(-1e6, 1e6)
    return struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]


def gen_datetime(rng):
    if rng.randrange(3) == 0:
        return xmlrpc.client.DateTime(rng.choice(["20070601T12:30:00Z", "20070601T21:30:00+09:00", "2007-06-01T07:30:00-05:00", "20070601T12:30:00.25", "yesterday"]))
    secs = rng.randrange(-62135596800, 253402300800)
    days, rem = divmod(secs, 86400)
    import datetime as _dt

    d = _dt.datetime(1970, 1, 1) + _dt.timedelta(days=days, seconds=rem)
    return xmlrpc.client.DateTime(d)


def gen_value(rng, depth, wide, cr):
    k = rng.randrange(8 if depth >= 4 else 11)
    if k == 0:
        return None
    if k == 1:
        return rng.random() < 0.5
    if k == 2:
        return gen_int(rng, wide)
    if k == 3:
        return gen_float(rng)
    if k in (4, 5):
        return gen_str(rng, cr)
    if k == 6:
        return gen_datetime(rng)
    if k == 7:
        return xmlrpc.client.Binary(rng.randbytes(rng.randrange(40)))
    if k in (8, 9):
        return [gen_value(rng, depth + 1, wide, cr) for _ in range(rng.randrange(5))]
    return {gen_str(rng, cr): gen_value(rng, depth + 1, wide, cr) for _ in range(rng.randrange(5))}


# ----------------------------------------------------------------------------------------------
# Python -> Rust -> Python.

ENCODER_FLAGS = [[], ["--i8"], ["--untyped"], ["--i8", "--untyped"]]


def check_python_rust_python(echo, flags, wide, dumps):
    rng = random.Random(SEED + 7 * len(flags) + wide)
    values = [gen_value(rng, 0, wide, cr=wide) for _ in range(N)]
    # A fault and an empty-ish envelope ride along.
    docs = [dumps(v).encode() for v in values]
    docs.append(xmlrpc.client.dumps(xmlrpc.client.Fault(-32601, "no such <method> &"), methodresponse=True).encode())
    out = run_echo(echo, flags, docs)
    assert len(out) == len(docs)
    i8 = "--i8" in flags
    for i, ((tag, body), v) in enumerate(zip(out, values)):
        assert tag == "OK", f"#{i}: Rust refused {docs[i]!r}: {body.decode()}"
        got = loads(body.decode())
        want = as_read(v, i8)
        assert canon(got) == canon(want), f"#{i}: sent {docs[i]!r}\nRust wrote {body!r}"
        if "--untyped" in flags and isinstance(v, str):
            assert b"<string>" not in body
    tag, body = out[-1]
    assert tag == "OK"
    with pytest.raises(xmlrpc.client.Fault) as fault:
        loads(body.decode())
    assert (fault.value.faultCode, fault.value.faultString) == (-32601, "no such <method> &")


@pytest.mark.parametrize("flags", ENCODER_FLAGS, ids=lambda f: " ".join(f) or "default")
def test_python_rust_python_stock_dumps(echo, flags):
    check_python_rust_python(echo, flags, wide=False, dumps=dumps_stock)


@pytest.mark.parametrize("flags", ENCODER_FLAGS, ids=lambda f: " ".join(f) or "default")
def test_python_rust_python_wide_ints_and_cr(echo, flags):
    check_python_rust_python(echo, flags, wide=True, dumps=dumps_wide)


def test_rust_rejects_what_python_rejects(echo):
    bad = [
        b"",
        b"<methodResponse/>",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><methodResponse><params><param><value>&a;</value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><string>x</value></string></param></params></methodResponse>",
    ]
    out = run_echo(echo, [], bad)
    assert [t for t, _ in out] == ["ERR"] * len(bad), out


# ----------------------------------------------------------------------------------------------
# Rust -> Python -> Rust.


@pytest.mark.parametrize("flags", ENCODER_FLAGS, ids=lambda f: " ".join(f) or "default")
def test_rust_python_rust(echo, flags):
    seed = str(SEED + len(flags))
    generated = run_echo(echo, [*flags, "--generate", str(N), seed])
    assert len(generated) == 2 * N
    redumped = []
    for i in range(N):
        (t1, doc), (t2, want) = generated[2 * i], generated[2 * i + 1]
        assert (t1, t2) == ("DOC", "CANON")
        got = loads(doc.decode())
        assert canon(got) == json.loads(want), f"#{i}: Python read {doc!r} as {got!r}"
        redumped.append(dumps_wide(got).encode())
    checked = run_echo(echo, [*flags, "--check", str(N), seed], redumped)
    assert len(checked) == N
    failures = [(i, b.decode()) for i, (t, b) in enumerate(checked) if t != "OK"]
    assert not failures, failures[:3]
