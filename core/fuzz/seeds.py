#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus under OUT/<target>/ from the test payloads.

The XML-RPC and JSON-RPC documents are taken from the codec's tests (the Rust string literals
that hold a <methodResponse>, a <methodCall>, a <value> or a JSON-RPC reply), plus a few made
here with Python's own xmlrpc.client and json (records with every type, faults, failures). The
HTTP seeds wrap replies as a server would send them: Content-Length, chunked, gzip, a close-
delimited body, redirects and error statuses. Each target's input starts with its control
bytes (see fuzz_targets/*.rs). Usage: seeds.py REPO_ROOT OUT
"""
import gzip
import hashlib
import json
import os
import re
import sys
import xmlrpc.client

root, out = sys.argv[1], sys.argv[2]

LITERAL = re.compile(r'r(#+)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', re.S)


def unescape(s):
    s = re.sub(r'\\\n\s*', '', s)
    return (s.replace('\\"', '"').replace('\\n', '\n').replace('\\t', '\t')
            .replace('\\r', '\r').replace('\\\\', '\\'))


def literals(path):
    try:
        text = open(os.path.join(root, path), encoding='utf-8').read()
    except OSError:
        return []
    found = []
    for m in LITERAL.finditer(text):
        found.append(m.group(2) if m.group(1) else unescape(m.group(3)))
    return found


def wrap(value_xml):
    return '<?xml version="1.0"?><methodResponse><params><param>%s</param></params></methodResponse>' % value_xml


responses, calls, jsons = set(), set(), set()
for path in ['core/src/codec/tests.rs', 'core/tests/codec_props.rs', 'core/tests/codec_smoke.rs',
             'core/tests/transport_loopback.rs', 'tests/differential/test_codec_differential.py']:
    for s in literals(path):
        if '<methodResponse' in s:
            responses.add(s)
        elif '<methodCall' in s:
            calls.add(s)
        elif s.lstrip().startswith('<value'):
            responses.add(wrap(s))
for s in literals('core/src/jsonrpc/tests.rs'):
    if s.lstrip().startswith('{') and ('result' in s or 'error' in s):
        jsons.add(s)

record = {
    'uuid': 'd2e4d8ba-0000-4000-8000-000000000001', 'name_label': 'vm01 <&>', 'power_state': 'Running',
    'memory_static_max': '4294967296', 'VCPUs_max': '2', 'is_a_template': False,
    'other_config': {'k': 'v', 'empty': ''}, 'VIFs': ['OpaqueRef:a', 'OpaqueRef:b'], 'tags': [],
    'start_time': xmlrpc.client.DateTime('20250102T03:04:05Z'), 'ratio': 0.5, 'count': 7,
    'blob': xmlrpc.client.Binary(b'\x00\x01\xff'), 'nothing': None,
}
for v in [{'Status': 'Success', 'Value': 'OpaqueRef:abc'},
          {'Status': 'Success', 'Value': {'OpaqueRef:1': record, 'OpaqueRef:2': record}},
          {'Status': 'Failure', 'ErrorDescription': ['HANDLE_INVALID', 'VM', 'OpaqueRef:x']},
          {'Status': 'Error', 'ErrorDescription': ['ETODO', 3, True]},
          {'Status': 'Success', 'Value': [[1, [2, [3, []]]], {'a': {'b': {}}}]}]:
    responses.add(xmlrpc.client.dumps((v,), methodresponse=True, allow_none=True))
responses.add(xmlrpc.client.dumps(xmlrpc.client.Fault(1, 'no such method'), methodresponse=True))
calls.add(xmlrpc.client.dumps(('user', 'pass'), 'session.login_with_password'))
calls.add(xmlrpc.client.dumps(('OpaqueRef:s', {'a': [1, 2.5, True, None]}), 'VM.set_other_config',
                              allow_none=True))
for j in [{'jsonrpc': '2.0', 'result': 'OpaqueRef:x', 'id': 1},
          {'jsonrpc': '2.0', 'result': {'OpaqueRef:1': {'name_label': 'vm', 'VCPUs_max': 2}}, 'id': 1},
          {'jsonrpc': '2.0', 'error': {'code': 1, 'message': 'HANDLE_INVALID', 'data': ['VM', 'x']}, 'id': 1},
          {'result': None, 'error': ['SESSION_INVALID', 'x'], 'id': 1}]:
    jsons.add(json.dumps(j))


def http(body, ctype='text/xml', how='length', status='200 OK'):
    body = body.encode() if isinstance(body, str) else body
    head = 'HTTP/1.1 %s\r\nContent-Type: %s\r\n' % (status, ctype)
    if how == 'gzip':
        body = gzip.compress(body)
        head += 'Content-Encoding: gzip\r\n'
    if how == 'chunked':
        parts = [body[i:i + 97] for i in range(0, len(body), 97)]
        body = b''.join(b'%x\r\n%s\r\n' % (len(p), p) for p in parts) + b'0\r\n\r\n'
        head += 'Transfer-Encoding: chunked\r\n'
    elif how == 'close':
        head += 'Connection: close\r\n'
    else:
        head += 'Content-Length: %d\r\n' % len(body)
    return head.encode() + b'\r\n' + body


def write(target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), 'wb') as f:
        f.write(data)


small = sorted(responses, key=len)
for r in small:
    for chunk in (255, 7):
        write('xmlrpc_response', bytes([chunk]) + r.encode())
for c in sorted(calls):
    write('xmlrpc_call', b'\xff' + c.encode())
    write('xmlrpc_call', b'\x05' + c.encode())
for j in sorted(jsons):
    for jid in (1, 7):
        write('jsonrpc_response', bytes([255, jid]) + j.encode())
for i, r in enumerate(small[:12]):
    for how in ('length', 'chunked', 'gzip', 'close'):
        write('http_reply', bytes([255 if i % 2 else 13, 2]) + http(r, how=how))
for j in sorted(jsons)[:6]:
    for how in ('length', 'chunked', 'gzip'):
        write('http_reply', bytes([255, 3]) + http(j, 'application/json', how))
write('http_reply', b'\xff\x00' + http('', status='302 Found').replace(b'\r\n\r\n', b'\r\nLocation: https://x/\r\n\r\n', 1))
write('http_reply', b'\xff\x00' + http('<html>no</html>', 'text/html', status='500 Internal Server Error'))
# The value functions: op, slot, other, operands (fuzz_targets/ffi_value.rs).
write('ffi_value', bytes([5, 0, 0, 7, 1, 3, 6, 65, 66, 0, 67, 200, 255, 12, 0, 1, 3, 107, 101, 121,
                          4, 2, 0, 11, 2, 1, 15, 3, 2, 13, 3, 0, 0, 14, 0, 0, 0, 0, 16, 3, 0]))
write('ffi_value', bytes([10, 1, 0, 5, 1, 2, 3, 4, 5, 2, 2, 0] + [1] * 8 + [13, 1, 0, 0, 13, 2, 0, 0,
                          9, 4, 0, 20] + list(b'20250102T03:04:05Z') + [13, 4, 0, 0, 17, 0, 0]))
print('seeds: %d XML-RPC replies, %d calls, %d JSON-RPC replies, under %s'
      % (len(responses), len(calls), len(jsons), out))
