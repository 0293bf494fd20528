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
for t in "$out"/*/; do printf '%s %s\n' "$(basename "$t")" "$(ls "$t" | wc -l)"; done
