#!/bin/sh
# Runs every fuzz target in fuzz/ one after another (see docs/fuzzing.md).
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default 120 s, all targets)
# Logs go to fuzz/logs/TARGET.log; new corpus entries to fuzz/corpus/TARGET.
set -eu
secs=${1:-120}
[ $# -gt 0 ] && shift
cd "$(dirname "$0")/../fuzz"
targets=${*:-"flist mplex token compressed_token ndx_varint daemon_handshake filter_wire acl xattr"}
mkdir -p logs
for t in $targets; do
    case $t in
        compressed_token) max_len=8192 ;;
        ndx_varint) max_len=1024 ;;
        *) max_len=4096 ;;
    esac
    mkdir -p "corpus/$t"
    # -jobs=1: one worker process, whose output libFuzzer writes to fuzz-0.log.
    cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -max_len="$max_len" -timeout=10 -jobs=1 -print_final_stats=1 \
        >"logs/$t.run" 2>&1 || echo "$t: exit $?" >>logs/summary
    mv fuzz-0.log "logs/$t.log" 2>/dev/null || true
    echo "$t: $(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)" >>logs/summary
done
