#!/usr/bin/env bash
# A libFuzzer campaign: every target named (default: all) for SECONDS each,
# one after another, from fuzz/corpus/<target> (fuzz/seeds.sh builds the
# seeds) with the target's dictionary, a 2 GB RSS limit (a memory blow-up
# is a finding like a crash) and a 60 s per-input timeout (10 s gave false
# timeouts when the fuzzer, at nice 19, was starved by compiles).
#
# It runs the target binaries as built (`cargo +nightly fuzz build` first),
# from FUZZ_BIN (default: fuzz/target/x86_64-unknown-linux-gnu/release), so
# a change to the sources during a campaign does not rebuild them; set
# FUZZ_COMMIT to the commit they were built from (default: HEAD).
#
# Appends one tab-separated line per target to fuzz/campaign.tsv: date,
# target, commit, wall seconds, CPU seconds, executions, coverage (cov),
# features (ft), corpus files, crash/leak/timeout/oom artifacts. Logs in
# fuzz/logs/.
#   fuzz/campaign.sh 1800 capture_bytes pipeline_report
#   fuzz/campaign.sh --record TARGET COMMIT WALL   (the line of a run made by hand)
set -euo pipefail
cd "$(dirname "$0")"

dict_of() {
    case "$1" in
        capture_bytes|decode_packet|decode_packets|tcp_reassemble) echo capture ;;
        pipeline_report) echo "capture tls http ws xml har" ;;
        http_heads|http_connection) echo "http xml" ;;
        http_bosh_body|xmpp_*|finesse_notification) echo xml ;;
        ws_frame_header) echo ws ;;
        ws_negotiate) echo http ;;
        ws_connection) echo "ws http xml" ;;
        tls_*) echo tls ;;
        har_read) echo "har xml http" ;;
    esac
}

# record TARGET COMMIT WALL: the campaign.tsv line from the target's log.
record() {
    local t="$1" commit="$2" wall="$3" log="logs/$1.log"
    local cpu execs cov ft corpus artifacts
    cpu=$(awk '{printf "%.0f", $1 + $2}' "logs/$t.time" 2>/dev/null || echo '?')
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    corpus=$(find "corpus/$t" -type f | wc -l)
    artifacts=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$commit" \
        "$wall" "$cpu" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$artifacts" >> campaign.tsv
}

if [ "${1:-}" = --record ]; then
    record "$2" "$3" "$4"
    exit 0
fi

seconds="$1"; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//')
bin="${FUZZ_BIN:-target/x86_64-unknown-linux-gnu/release}"
commit="${FUZZ_COMMIT:-$(git rev-parse --short HEAD)}"
mkdir -p logs
for t in "${targets[@]}"; do
    dict="logs/$t.dict"
    : > "$dict"
    for d in $(dict_of "$t"); do cat "dict/$d.dict" >> "$dict"; done
    mkdir -p "corpus/$t" "artifacts/$t"
    start=$(date +%s)
    /usr/bin/time -f '%U %S' -o "logs/$t.time" \
        "$bin/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=60 -max_len=262144 \
        -dict="$dict" -print_final_stats=1 > "logs/$t.log" 2>&1 || true
    record "$t" "$commit" $(( $(date +%s) - start ))
done
