#!/usr/bin/env bash
# Peak memory on issue 13's hostile captures (held buffers, many
# connections, key material floods), before and after the whole-analysis
# memory budget.
#
#   benches/hostile.sh [BEFORE_BINARY] [COUNT_SCALE]
#
# Generates the hostile captures (gzip) into bench-data/ once, builds the
# release binary, runs `xmppcap report` on each in every output format
# (FORMATS, default 'table json ndjson html') with GNU time and prints the
# peak RSS; the JSON run also gives the limits.memory findings and the other
# caps' findings (limits.report, report.timeline_cut, ...). BEFORE_BINARY
# (for example main's target/release/xmppcap) is measured too when given.
# COUNT_SCALE divides the counts (default 1: the full sizes); CASES (for
# example CASES='held-stanzas:1000') picks the cases, case:count each.
# Issue 13 asks for at most 150 MB in every case and format at the defaults.
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

run() { # binary file format
    /usr/bin/time -f '%e %M' -o "$data/time.txt" "$1" report --format "$3" --no-progress "$2" > "$data/out.$3" || true
    read -r secs rss_kb < "$data/time.txt"
    local counts="" mb; mb=$(echo "$rss_kb / 1024" | bc -l)
    if [[ $3 == json ]]; then
        # Findings are listed twice in the JSON (findings and timeline): count the
        # list, which keeps them bounded per code (NDJSON streams them all).
        counts=$(python3 -c 'import collections, json, sys
codes = collections.Counter(f["code"] for c in json.load(open(sys.argv[1]))["captures"] for f in c.get("findings", []))
print(codes["limits.memory"], "limits.memory findings; other caps:", " ".join(f"{k}={v}" for k, v in sorted(codes.items()) if ("limit" in k or k.startswith("report.")) and k != "limits.memory"))' "$data/out.json")
    fi
    local over=""; (( rss_kb > 150 * 1024 )) && over="  OVER 150 MB"
    printf '  %-28s %-7s %7.1f MB peak RSS, %6.1f s %s%s\n' "$1" "$3" "$mb" "$secs" "$counts" "$over"
}

cases=${CASES:-held-ws-deflate:1000 held-stanzas:1000 held-http-bodies:1000 held-out-of-order:65536 held-out-of-order-deep:4096 empty-dsbs:5000000 distinct-secrets:1000000}
for spec in $cases; do
    case=${spec%%:*}
    count=$(( ${spec##*:} / scale ))
    f=$data/$case-$count.pcap.gz
    [[ $case == *dsbs || $case == *secrets ]] && f=$data/$case-$count.pcapng.gz
    [[ -f $f ]] || "$gen" hostile "$case" --count "$count" --out "$f"
    echo "$case, count $count ($(stat -c %s "$f") bytes gzip)"
    for format in ${FORMATS:-table json ndjson html}; do
        [[ -n $before ]] && run "$before" "$f" "$format"
        run "$after" "$f" "$format"
    done
done
