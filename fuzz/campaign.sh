#!/usr/bin/env bash
# A libFuzzer campaign: every target named (default: all) for SECONDS each,
# one after another, from fuzz/corpus/<target> (fuzz/seeds.sh builds the
# seeds) with the target's dictionary, a 2 GB RSS limit (a memory blow-up
# is a finding like a crash) and a 10 s per-input timeout. Appends one
# tab-separated line per target to fuzz/campaign.tsv: date, target, commit,
# wall seconds, CPU seconds, executions, coverage (cov), features (ft),
# corpus files, crash/leak/timeout/oom artifacts. Logs in fuzz/logs/.
#   fuzz/campaign.sh 1800 capture_bytes pipeline_report
set -euo pipefail
cd "$(dirname "$0")"
seconds="$1"; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
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
mkdir -p logs
commit="$(git rev-parse --short HEAD)"
for t in "${targets[@]}"; do
    dict="logs/$t.dict"
    : > "$dict"
    for d in $(dict_of "$t"); do cat "dict/$d.dict" >> "$dict"; done
    mkdir -p "corpus/$t"
    log="logs/$t.log"
    start=$(date +%s)
    /usr/bin/time -f '%U %S' -o "logs/$t.time" \
        cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=262144 \
        -dict="$dict" -print_final_stats=1 > "$log" 2>&1 || true
    wall=$(( $(date +%s) - start ))
    cpu=$(awk '{printf "%.0f", $1 + $2}' "logs/$t.time" 2>/dev/null || echo 0)
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    corpus=$(find "corpus/$t" -type f | wc -l)
    artifacts=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$commit" \
        "$wall" "$cpu" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$artifacts" >> campaign.tsv
done
