#!/usr/bin/env bash
# Makes the README's screenshots of the HTML case report with headless
# Chromium (Debian's `chromium`): fixtures/finesse-failover.pcapng with its
# keys, and a generated 1,000-session capture. Run from anywhere; writes
# docs/html-report-failover.png and docs/html-report-1000-sessions.png.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XMPPCAP_GENERATED_AT=2026-03-02T12:00:00Z
cargo build -q -p xmppcap-cli
xmppcap=target/debug/xmppcap
shot() { # page.html out.png height
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1200,"$3" --screenshot="$2" "file://$1" 2>/dev/null
}
"$xmppcap" report fixtures/finesse-failover.pcapng --keylog keys/finesse-failover.keys \
  --format html -o "$tmp/failover.html" || true
shot "$tmp/failover.html" docs/html-report-failover.png 1100
cargo run -q -p xmppcap-fixturegen --example fixturegen -- bench-wss --size 40M \
  --conns 1000 --out "$tmp/big.pcapng" >/dev/null
"$xmppcap" report "$tmp/big.pcapng" --keylog "$tmp/big.keys" --no-progress \
  --format html -o "$tmp/big.html" || true
ls -l "$tmp/big.html"
shot "$tmp/big.html" docs/html-report-1000-sessions.png 1100
ls -l docs/*.png
