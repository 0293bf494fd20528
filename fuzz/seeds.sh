#!/usr/bin/env bash
# Builds seed corpora under fuzz/corpus/<target>/ from the repository's
# fixtures and key logs, the public corpus at ../shared/corpus (when present)
# and the messages and stream bytes the xmppcap binary reads out of the
# fixtures. Run from anywhere; needs python3 and a built xmppcap (debug is
# enough: `cargo build -p xmppcap-cli`). Seeds larger than 256 KiB are left
# out (libFuzzer runs with -max_len 262144 on the capture targets).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/fuzz/corpus"
bin="${XMPPCAP:-$root/target/debug/xmppcap}"
shared="$root/../shared/corpus"
max=262144
mkdir -p "$out"
seed() { # target name < bytes
    mkdir -p "$out/$1"
    cat > "$out/$1/$2"
}
small() { [ "$(stat -c %s "$1")" -le "$max" ]; }

captures=()
while IFS= read -r f; do small "$f" && captures+=("$f"); done < <(
    find "$root/fixtures" -maxdepth 2 \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.gz' \) ! -name '*.har.gz' | sort
    [ -d "$shared" ] && find "$shared" \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.pcap.gz' \) | sort
)
for f in "${captures[@]}"; do
    name="$(basename "$f")"
    seed capture_bytes "$name" < "$f"
    # pipeline_report: two-byte key-log length, the key log, the capture.
    keys="$root/keys/${name%%.*}.keys"
    python3 - "$f" "$keys" > "$out/pipeline_report.tmp" <<'PY'
import os, sys
cap = open(sys.argv[1], 'rb').read()
keys = open(sys.argv[2], 'rb').read()[:65535] if os.path.exists(sys.argv[2]) else b''
sys.stdout.buffer.write(len(keys).to_bytes(2, 'big') + keys + cap)
PY
    seed pipeline_report "$name" < "$out/pipeline_report.tmp"
done
rm -f "$out/pipeline_report.tmp"
for f in "$root"/fixtures/har/*.har "$root"/fixtures/har/*.har.gz; do
    small "$f" && seed har_read "$(basename "$f")" < "$f"
    small "$f" && { printf '\0\0'; cat "$f"; } | seed pipeline_report "$(basename "$f")"
done
for f in "$root"/keys/*.keys; do seed tls_keylog "$(basename "$f")" < "$f"; done

# Messages and stream bytes, read out of the Finesse fixtures by xmppcap.
python3 - "$bin" "$root" "$out" <<'PY'
import json, os, subprocess, sys
binary, root, out = sys.argv[1:4]
def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), 'wb') as f:
        f.write(data)
fixtures = ['finesse-wss', 'finesse-bosh', 'finesse-failover', 'finesse-conflict',
            'finesse-sasl-failure', 'finesse-xmpp5222']
for name in fixtures:
    cap = next((os.path.join(root, 'fixtures', name + ext) for ext in ('.pcapng', '.pcap')
                if os.path.exists(os.path.join(root, 'fixtures', name + ext))), None)
    if cap is None:
        continue
    args = [binary, 'ws', cap, '--format', 'ndjson', '--keylog', os.path.join(root, 'keys', name + '.keys')]
    lines = subprocess.run(args, capture_output=True).stdout.decode('utf-8', 'replace').splitlines()
    texts = [json.loads(l).get('text') for l in lines]
    texts = [t.encode() for t in texts if t]
    if texts:
        put('xmpp_element', name, b'\0'.join(texts))
        put('xmpp_framer', name, b'\x00' + b''.join(texts))
        for i, t in enumerate(texts):
            if b'&lt;Update' in t or b'<Update' in t:
                put('finesse_notification', f'{name}-{i}', t)
            if b'<body' in t:
                put('http_bosh_body', f'{name}-{i}', t)
    # The decrypted bytes of every stream, both directions, for the HTTP
    # and TLS targets: `follow --layer tls --raw` per stream.
    streams = subprocess.run([binary, 'streams', cap, '--format', 'json'], capture_output=True).stdout
    try:
        count = len(json.loads(streams)['captures'][0]['streams'])
    except Exception:
        count = 0
    for s in range(min(count, 8)):
        for d in ('client', 'server'):
            tls = subprocess.run([binary, 'follow', cap, str(s), '--raw', '--dir', d],
                                 capture_output=True).stdout
            if tls:
                put('tls_record', f'{name}-{s}-{d}', tls[:65536])
                put('tls_session', f'{name}-{s}-{d}', b'\x00' + tls[:65536])
            plain = subprocess.run([binary, 'follow', cap, str(s), '--raw', '--dir', d, '--layer', 'tls',
                                    '--keylog', os.path.join(root, 'keys', name + '.keys')],
                                   capture_output=True).stdout
            if plain:
                put('http_connection', f'{name}-{s}-{d}', b'\x20' + plain[:65536])
                put('http_heads', f'{name}-{s}-{d}', plain[:4096])
                put('ws_connection', f'{name}-{s}-{d}', b'\x00' + plain[:65536])
                if d == 'client':
                    put('ws_negotiate', f'{name}-{s}', plain[:2048])
PY
# Packets, segments, handshake messages, frame headers and BOSH bodies for
# the targets below the stream level, cut out of the seeds above and the
# captures (classic pcap and pcapng, gzip or not).
python3 - "$out" "${captures[@]}" <<'PY'
import gzip, os, re, struct, sys
out, caps = sys.argv[1], sys.argv[2:]
LINK_TYPES = [1, 0, 108, 12, 14, 101, 228, 229, 113, 276, 147]
def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), 'wb') as f:
        f.write(data)
def packets(raw):
    """(link type, packet bytes) of a classic pcap or a pcapng file."""
    if raw[:2] == b'\x1f\x8b':
        raw = gzip.decompress(raw)
    magic = raw[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '<' if magic[0] in (0xd4, 0x4d) else '>'
        link = struct.unpack(e + 'I', raw[20:24])[0] & 0xffff
        at = 24
        while at + 16 <= len(raw):
            caplen = struct.unpack(e + 'I', raw[at + 8:at + 12])[0]
            yield link, raw[at + 16:at + 16 + caplen]
            at += 16 + caplen
    elif magic == b'\x0a\x0d\x0d\x0a':
        e, links, at = '<', [], 0
        while at + 12 <= len(raw):
            kind = struct.unpack(e + 'I', raw[at:at + 4])[0]
            if kind == 0x0a0d0d0a:
                e = '<' if raw[at + 8:at + 12] == b'\x4d\x3c\x2b\x1a' else '>'
            size = struct.unpack(e + 'I', raw[at + 4:at + 8])[0]
            if size < 12:
                break
            body = raw[at + 8:at + size - 4]
            if kind == 1:
                links.append(struct.unpack(e + 'H', body[:2])[0])
            elif kind == 6 and len(body) >= 20:
                iface, _, _, caplen = struct.unpack(e + 'IIII', body[:16])
                if iface < len(links):
                    yield links[iface], body[20:20 + caplen]
            at += size
for cap in caps:
    name = os.path.basename(cap)
    try:
        pkts = list(packets(open(cap, 'rb').read()))
    except Exception:
        continue
    pkts = [(LINK_TYPES.index(l), p) for l, p in pkts if l in LINK_TYPES]
    for i, (pick, p) in enumerate(pkts[:6]):
        put('decode_packet', f'{name}-{i}', bytes([pick]) + p)
    if pkts:
        run = bytes([pkts[0][0]]) + b''.join(len(p[:65535]).to_bytes(2, 'big') + p[:65535]
                                            for pick, p in pkts[:40] if pick == pkts[0][0])
        put('decode_packets', name, run[:65536])
# TCP segments in the target's 14-byte form: a handshake, data, FINs, then
# the same with a hole, a retransmission and a RST.
def seg(t, f, seq, ack, payload=b'', miss=0, dt=1):
    return bytes([t, f]) + seq.to_bytes(4, 'big') + ack.to_bytes(4, 'big') + bytes([255, len(payload), miss, dt]) + payload
clean = seg(0, 1, 100, 0) + seg(1, 3, 50, 101) + seg(0, 2, 101, 51, b'abc') + seg(1, 2, 51, 104, b'hello') + seg(0, 6, 104, 56) + seg(1, 6, 56, 105)
put('tcp_reassemble', 'clean', clean)
put('tcp_reassemble', 'hole', seg(0, 1, 100, 0) + seg(1, 3, 50, 101) + seg(0, 2, 104, 51, b'def') + seg(0, 2, 101, 51, b'abc') + seg(0, 2, 101, 51, b'abc'))
put('tcp_reassemble', 'rst', seg(0, 1, 100, 0) + seg(1, 3, 50, 101) + seg(0, 2, 101, 51, b'x' * 40, miss=5) + seg(1, 8, 51, 0))
put('tcp_reassemble', 'wrap', seg(0, 1, 0xfffffff0, 0) + seg(1, 3, 7, 0xfffffff1) + seg(0, 2, 0xfffffff1, 8, b'y' * 63) + seg(2, 1, 9, 0))
# TLS handshake messages: the handshake records of the TLS seeds.
tls_dir = os.path.join(out, 'tls_record')
for name in sorted(os.listdir(tls_dir)) if os.path.isdir(tls_dir) else []:
    data, at, n = open(os.path.join(tls_dir, name), 'rb').read(), 0, 0
    while at + 5 <= len(data) and n < 8:
        kind, size = data[at], int.from_bytes(data[at + 3:at + 5], 'big')
        if kind == 22 and size:
            put('tls_handshake', f'{name}-{n}', data[at + 5:at + 5 + size])
            n += 1
        at += 5 + size
# WebSocket frame headers: the first bytes of the client and server streams
# after the upgrade, and the length forms by hand.
ws_dir = os.path.join(out, 'ws_connection')
for name in sorted(os.listdir(ws_dir))[:40] if os.path.isdir(ws_dir) else []:
    data = open(os.path.join(ws_dir, name), 'rb').read()
    at = data.find(b'\r\n\r\n')
    if at > 0 and len(data) > at + 4:
        put('ws_frame_header', name, data[at + 4:at + 4 + 14])
for name, head in {'masked-text': b'\x81\x85\x01\x02\x03\x04', 'len16': b'\x82\x7e\x01\x00',
                   'len64': b'\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x00', 'close': b'\x88\x02\x03\xe8',
                   'rsv1-deflate': b'\xc1\x05', 'ping-masked': b'\x89\x80\xaa\xbb\xcc\xdd'}.items():
    put('ws_frame_header', name, head)
# BOSH bodies: every <body ...>...</body> of the decrypted streams.
http_dir = os.path.join(out, 'http_connection')
for name in sorted(os.listdir(http_dir)) if os.path.isdir(http_dir) else []:
    data = open(os.path.join(http_dir, name), 'rb').read()
    for i, m in enumerate(re.finditer(rb'<body[^>]*(?:/>|>.*?</body>)', data, re.S)):
        if i < 12:
            put('http_bosh_body', f'{name}-{i}', m.group(0))
PY
for t in "$out"/*/; do printf '%s %s\n' "$(basename "$t")" "$(ls "$t" | wc -l)"; done
