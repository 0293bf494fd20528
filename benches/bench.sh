#!/usr/bin/env bash
# Throughput and peak memory of xmppcap's commands on large generated captures.
#
#   benches/bench.sh [streams|tls|report|layers|all] [SIZE]     (default: all 500M)
#   benches/bench.sh sessions N [CONCURRENT]   (issue 14: N short desktop sessions,
#                                               CONCURRENT at once, default 200)
#   benches/bench.sh scale [big]               (issue 14's table in one run: 1,000 and
#                                               10,000 sessions, 2,000 and 20,000 at
#                                               once, with `big` 100,000; -j 1 and -j 2,
#                                               one core and two; tshark beside it)
#
# Generates the captures with the fixture generator into bench-data/ (once),
# builds the release binary, runs each command 3 times with GNU time and
# prints MB/s (capture bytes per wall-clock second, with the default -j: every
# core) and peak RSS. Record results in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
size=${2:-500M}
concurrent=${3:-200}
data=bench-data
mkdir -p "$data"
# The binary is package xmppcap-cli; the generator's command line is an example of xmppcap-fixturegen.
cargo build --release --quiet -p xmppcap-cli --bin xmppcap -p xmppcap-fixturegen --example fixturegen
gen=target/release/examples/fixturegen
bin=target/release/xmppcap

measure() { # label file args...
    local label=$1 file=$2; shift 2
    local bytes; bytes=$(stat -L -c %s "$file")
    for run in 1 2 3; do
        /usr/bin/time -f '%e %M' -o "$data/time.txt" "$bin" "$@" "$file" > /dev/null
        read -r secs rss_kb < "$data/time.txt"
        awk -v l="$label" -v r="$run" -v b="$bytes" -v s="$secs" -v k="$rss_kb" 'BEGIN {
            mbs = (s > 0) ? b / 1e6 / s : 0;
            printf "%-34s run %d: %8.1f MB in %6.2f s = %7.1f MB/s, peak RSS %6.1f MB\n", l, r, b / 1e6, s, mbs, k / 1024 }'
    done
}

if [[ $what == streams || $what == all ]]; then
    f=$data/tcp-$size.pcap
    [[ -f $f ]] || "$gen" bench-tcp --size "$size" --out "$f"
    measure "streams (plain TCP)" "$f" streams --no-progress --format json
fi
if [[ $what == tls || $what == all ]]; then
    f=$data/tls-$size.pcapng
    [[ -f $f ]] || "$gen" bench-tls --size "$size" --out "$f"
    measure "tls (TLS 1.3 decrypt)" "$f" tls --no-progress --format json --keylog "${f%.*}.keys"
fi
if [[ $what == report || $what == all ]]; then
    for kind in wss wssv; do
        f=$data/$kind-$size.pcapng
        varied=(); [[ $kind == wssv ]] && varied=(--varied)
        [[ -f $f ]] || "$gen" bench-wss "${varied[@]}" --size "$size" --out "$f"
        measure "report ndjson ($kind)" "$f" report --no-progress --format ndjson --keylog "${f%.*}.keys"
    done
fi
if [[ $what == layers ]]; then
    # Each command on the varied wss capture stops at a higher layer: the cost of each layer.
    f=$data/wssv-$size.pcapng
    [[ -f $f ]] || "$gen" bench-wss --varied --size "$size" --out "$f"
    k=${f%.*}.keys
    measure "streams (TCP)" "$f" streams --no-progress --format json
    measure "tls (+ decryption)" "$f" tls --no-progress --format json --keylog "$k"
    measure "ws (+ frames, inflate, stanzas)" "$f" ws --no-progress --format ndjson --keylog "$k"
    measure "report (+ Finesse, all events)" "$f" report --no-progress --format ndjson --keylog "$k"
fi
if [[ $what == sessions ]]; then
    # The server-side shape: memory must follow the sessions open, not the sessions seen.
    f=$data/sessions-$size-$concurrent.pcapng
    [[ -f $f ]] || "$gen" bench-wss --sessions "$size" --concurrent "$concurrent" --out "$f"
    k=${f%.*}.keys
    measure "report ndjson ($size sessions)" "$f" report --no-progress --format ndjson --keylog "$k"
    measure "ws ndjson ($size sessions)" "$f" ws --no-progress --format ndjson --keylog "$k"
    measure "tls json ($size sessions)" "$f" tls --no-progress --format json --keylog "$k"
    measure "report json ($size sessions)" "$f" report --no-progress --format json --keylog "$k"
    if command -v tshark > /dev/null; then
        /usr/bin/time -f '%e %M' -o "$data/time.txt" tshark -r "$f" -o "tls.keylog_file:$k" \
            -Y websocket -T fields -e websocket.payload.text > /dev/null 2>&1
        read -r secs rss_kb < "$data/time.txt"
        echo "tshark -Y websocket -e websocket.payload.text: $secs s, peak RSS $((rss_kb / 1024)) MB"
    fi
fi

# One line per run of `scale`: label, wall s, user CPU s, peak RSS MB, and the
# NDJSON findings per code when the output has any.
scale_run() { # label, then the command
    local label=$1; shift
    /usr/bin/time -f '%e %U %M' -o "$data/time.txt" "$@" > "$data/scale.out"
    read -r secs user rss_kb < "$data/time.txt"
    local findings
    findings=$(grep -o '"kind":"finding".*"code":"[a-z_.]*"' "$data/scale.out" 2> /dev/null |
        grep -o '"code":"[a-z_.]*"$' | sort | uniq -c | awk '{ gsub(/"code":|"/, "", $2); printf "%s %s, ", $2, $1 }' || true)
    printf "%-44s %7.2f s %7.2f user %7.1f MB  %s\n" "$label" "$secs" "$user" "$((rss_kb / 1024))" "$findings"
}

if [[ $what == scale ]]; then
    # name sessions at-once
    captures=("s1k 1000 200" "s10k 10000 200" "s10k-2000c 10000 2000" "s20k-20000c 20000 20000")
    [[ $size == big ]] && captures+=("s100k 100000 200")
    for c in "${captures[@]}"; do
        read -r name n at <<< "$c"
        f=$data/$name.pcapng k=$data/$name.keys
        [[ -f $f ]] || "$gen" bench-wss --sessions "$n" --concurrent "$at" --out "$f"
        for j in 1 2; do
            scale_run "$name report ndjson -j $j" "$bin" report --format ndjson -j $j "$f" --keylog "$k" --no-progress
            scale_run "$name ws ndjson -j $j" "$bin" ws --format ndjson -j $j "$f" --keylog "$k" --no-progress
            scale_run "$name tls json -j $j" "$bin" tls --format json -j $j "$f" --keylog "$k" --no-progress
            [[ $name == s10k ]] || continue
            scale_run "$name report ndjson -j $j, one core" taskset -c 0 "$bin" report --format ndjson -j $j "$f" --keylog "$k" --no-progress
            scale_run "$name streams -j $j" "$bin" streams -j $j "$f" --no-progress
        done
    done
    f=$data/s10k.pcapng
    if command -v tshark > /dev/null; then
        scale_run "s10k tshark -Y websocket" tshark -r "$f" -o "tls.keylog_file:${f%.*}.keys" \
            -Y websocket -T fields -e websocket.payload.text
    fi
    f=$data/wssv-8M.pcapng
    [[ -f $f ]] || "$gen" bench-wss --varied --size 8M --out "$f"
    for j in 1 2; do
        measure "wssv-8M report ndjson -j $j" "$f" report --no-progress --format ndjson -j $j --keylog "${f%.*}.keys"
    done
fi
