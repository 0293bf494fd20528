#!/usr/bin/env bash
# Peak memory on issue 13's hostile captures (held buffers, many
# connections, key material floods), before and after the whole-analysis
# memory budget.
#
#   benches/hostile.sh [BEFORE_BINARY] [COUNT_SCALE]
#
# Generates the hostile captures (gzip) into bench-data/ once, builds the
# release binary, runs `xmppcap report --format json` on each with GNU time
# and prints the peak RSS and the limits.memory findings. BEFORE_BINARY (for
# example main's target/release/xmppcap) is measured too when given.
# COUNT_SCALE divides the counts (default 1: the full sizes); CASES (for
# example CASES='held-stanzas:1000') picks the cases, case:count each.
# Record results in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:-}
scale=${2:-1}
data=bench-data
mkdir -p "$data"
cargo build --release --quiet -p xmppcap-cli --bin xmppcap -p xmppcap-fixturegen --example fixturegen
gen=target/release/examples/fixturegen
after=target/release/xmppcap

run() { # binary file
    /usr/bin/time -f '%e %M' -o "$data/time.txt" "$1" report --format json --no-progress "$2" > "$data/out.json" || true
    read -r secs rss_kb < "$data/time.txt"
    # Findings are listed twice in the JSON (findings and timeline): count the
    # list, which keeps them bounded per code (NDJSON streams them all).
    local counts; counts=$(python3 -c 'import collections, json, sys
codes = collections.Counter(f["code"] for c in json.load(open(sys.argv[1]))["captures"] for f in c.get("findings", []))
print(codes["limits.memory"], " ".join(f"{k}={v}" for k, v in sorted(codes.items()) if "limit" in k and k != "limits.memory"))' "$data/out.json")
    printf '  %-28s %7.1f MB peak RSS, %6.1f s, %s limits.memory findings; other caps: %s\n' "$1" "$(echo "$rss_kb / 1024" | bc -l)" "$secs" "${counts%% *}" "${counts#* }"
}

cases=${CASES:-held-ws-deflate:1000 held-stanzas:1000 held-http-bodies:1000 held-out-of-order:65536 held-out-of-order-deep:4096 empty-dsbs:5000000 distinct-secrets:1000000}
for spec in $cases; do
    case=${spec%%:*}
    count=$(( ${spec##*:} / scale ))
    f=$data/$case-$count.pcap.gz
    [[ $case == *dsbs || $case == *secrets ]] && f=$data/$case-$count.pcapng.gz
    [[ -f $f ]] || "$gen" hostile "$case" --count "$count" --out "$f"
    echo "$case, count $count ($(stat -c %s "$f") bytes gzip)"
    [[ -n $before ]] && run "$before" "$f"
    run "$after" "$f"
done
