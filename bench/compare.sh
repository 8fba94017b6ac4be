#!/usr/bin/env bash
# Side-by-side timing of oxsync and stock rsync. No pass/fail: it prints, per
# scenario, the wall time and the peak RSS of each tool and the ratios
# oxsync/rsync.
#
# Scenarios:
#   1. local initial copy of a many-file tree (`-a src/ dst/`, fresh dst
#      before every run);
#   2. local delta update of one big file (`-a --no-whole-file` onto an
#      older copy, restored before every run).
#
# Environment:
#   BENCH_DIR    scratch directory (default /tmp/oxsync-bench); the test data
#                is kept there and reused by later runs
#   BENCH_QUICK  1 = small sizes (2,000 files, 64 MiB) for trying the script
#   BENCH_RUNS   timed runs per tool and scenario (default 3; 1 when quick)
#   OXSYNC       oxsync binary to use (default: build with
#                `cargo build --release` and use target/release/oxsync)
#   RSYNC        rsync binary (default: rsync on PATH)
#
# Wall times come from hyperfine when it is installed (mean of the runs),
# else from the runs under /usr/bin/time -v (mean). Peak RSS always comes
# from /usr/bin/time -v ("Maximum resident set size": the largest single
# process; rsync forks, and the count covers the children it waits for).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
BENCH_DIR="${BENCH_DIR:-/tmp/oxsync-bench}"
QUICK="${BENCH_QUICK:-0}"
if [ "$QUICK" = 1 ]; then
    NFILES=2000
    BIG_MIB=64
    RUNS="${BENCH_RUNS:-1}"
else
    NFILES=20000
    BIG_MIB=1024
    RUNS="${BENCH_RUNS:-3}"
fi
RSYNC="${RSYNC:-$(command -v rsync || true)}"

die() { echo "compare.sh: $*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
apt_install() {
    command -v apt-get >/dev/null || return 1
    $SUDO apt-get install -y "$@" || { $SUDO apt-get update && $SUDO apt-get install -y "$@"; }
}
if [ ! -x /usr/bin/time ]; then
    apt_install time || die "/usr/bin/time is required (package: time)"
fi
if ! command -v hyperfine >/dev/null; then
    apt_install hyperfine || echo "compare.sh: hyperfine unavailable; timing with /usr/bin/time" >&2
fi
HYPERFINE="$(command -v hyperfine || true)"
[ -n "$RSYNC" ] && [ -x "$RSYNC" ] || apt_install rsync || die "rsync is required"
RSYNC="${RSYNC:-$(command -v rsync)}"

if [ -z "${OXSYNC:-}" ]; then
    echo "== building oxsync (cargo build --release)" >&2
    (cd "$REPO" && cargo build --release --bin oxsync) >&2
    OXSYNC="${CARGO_TARGET_DIR:-$REPO/target}/release/oxsync"
fi
[ -x "$OXSYNC" ] || die "oxsync binary not found: $OXSYNC"

# --- data -------------------------------------------------------------------
mkdir -p "$BENCH_DIR"
TREE="$BENCH_DIR/tree-$NFILES"
BIG="$BENCH_DIR/big-$BIG_MIB"

if [ ! -e "$TREE/.complete" ]; then
    echo "== creating $NFILES small files in $TREE" >&2
    rm -rf "$TREE"
    per_dir=100
    n=0
    while [ "$n" -lt "$NFILES" ]; do
        d="$TREE/src/d$((n / (per_dir * 10)))/s$(((n / per_dir) % 10))"
        mkdir -p "$d"
        for ((i = 0; i < per_dir && n < NFILES; i++, n++)); do
            printf 'file %d %*s\n' "$n" $((n % 997)) "" >"$d/f$i"
        done
    done
    touch "$TREE/.complete"
fi

if [ ! -e "$BIG/.complete" ]; then
    echo "== creating a $BIG_MIB MiB file and a changed copy in $BIG" >&2
    rm -rf "$BIG"
    mkdir -p "$BIG/src" "$BIG/dst"
    head -c "$((BIG_MIB << 20))" /dev/urandom >"$BIG/old.bin"
    touch -d '2020-01-01 00:00:00' "$BIG/old.bin"
    cp "$BIG/old.bin" "$BIG/src/big.bin"
    # A few scattered changes of 4 KiB each.
    for pct in 7 31 50 68 93; do
        dd if=/dev/urandom of="$BIG/src/big.bin" bs=4096 count=1 conv=notrunc \
            seek=$(((BIG_MIB << 20) / 4096 * pct / 100)) status=none
    done
    touch -d '2021-01-01 00:00:00' "$BIG/src/big.bin"
    touch "$BIG/.complete"
fi

# Preparation commands run before every timed run (also by hyperfine).
PREP_TREE="$BENCH_DIR/prep-tree.sh"
PREP_BIG="$BENCH_DIR/prep-big.sh"
printf 'rm -rf %q\n' "$TREE/dst" >"$PREP_TREE"
printf 'cp -p %q %q\n' "$BIG/old.bin" "$BIG/dst/big.bin" >"$PREP_BIG"

# --- measuring --------------------------------------------------------------
# measure PREP_SCRIPT CMD...: prints "wall_seconds peak_rss_kib".
measure() {
    local prep="$1"; shift
    local log="$BENCH_DIR/time.log" wall rss total=0 maxrss=0 i
    for ((i = 0; i < RUNS; i++)); do
        bash "$prep"
        sync
        /usr/bin/time -v -o "$log" "$@" >/dev/null
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
                n = split($2, p, ":"); s = 0
                for (k = 1; k <= n; k++) s = s * 60 + p[k]
                print s }' "$log")
        rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
        total=$(awk -v a="$total" -v b="$wall" 'BEGIN { print a + b }')
        [ "$rss" -gt "$maxrss" ] && maxrss=$rss
    done
    wall=$(awk -v t="$total" -v n="$RUNS" 'BEGIN { printf "%.3f", t / n }')
    if [ -n "$HYPERFINE" ]; then
        local csv="$BENCH_DIR/hyperfine.csv" cmd
        cmd=$(printf '%q ' "$@")
        if "$HYPERFINE" --style none --runs "$RUNS" --prepare "bash $(printf %q "$prep")" \
            --export-csv "$csv" "$cmd" >/dev/null 2>"$BENCH_DIR/hyperfine.err"; then
            wall=$(awk -F, 'NR == 2 { printf "%.3f", $2 }' "$csv")
        else
            echo "compare.sh: hyperfine failed (see $BENCH_DIR/hyperfine.err); using /usr/bin/time" >&2
        fi
    fi
    echo "$wall $maxrss"
}

report() {
    local title="$1" prep="$2"; shift 2
    local ox rs
    # "$@" holds the arguments after the binary.
    ox=$(measure "$prep" "$OXSYNC" "$@")
    rs=$(measure "$prep" "$RSYNC" "$@")
    awk -v title="$title" -v ox="$ox" -v rs="$rs" 'BEGIN {
        split(ox, o, " "); split(rs, r, " ")
        printf "%s\n", title
        printf "  %-8s %10s %14s\n", "", "wall (s)", "peak RSS (MiB)"
        printf "  %-8s %10.3f %14.1f\n", "oxsync", o[1], o[2] / 1024
        printf "  %-8s %10.3f %14.1f\n", "rsync", r[1], r[2] / 1024
        printf "  %-8s %10s %14s\n", "ratio",
            (r[1] > 0 ? sprintf("%.2f", o[1] / r[1]) : "n/a"),
            (r[2] > 0 ? sprintf("%.2f", o[2] / r[2]) : "n/a")
        print ""
    }'
}

echo "oxsync: $OXSYNC"
echo "rsync:  $RSYNC ($("$RSYNC" --version | head -1))"
echo "runs per tool: $RUNS; wall time from: $([ -n "$HYPERFINE" ] && echo hyperfine || echo /usr/bin/time)"
echo
report "local initial copy, $NFILES files (-a src/ dst/)" "$PREP_TREE" \
    -a "$TREE/src/" "$TREE/dst/"
report "local delta update, $BIG_MIB MiB file, 5 changed blocks (-a --no-whole-file)" "$PREP_BIG" \
    -a --no-whole-file "$BIG/src/" "$BIG/dst/"

# --- daemon push with Landlock on and off ----------------------------------
# Stock rsync pushes the many-file tree to an oxsync daemon whose two
# modules differ only in `landlock`; the difference is the sandbox's cost.
DMOD="$BENCH_DIR/daemon"
rm -rf "$DMOD"
mkdir -p "$DMOD/on" "$DMOD/off"
DPORT=$(( (RANDOM % 20000) + 30000 ))
cat >"$DMOD/rsyncd.conf" <<CONF
use chroot = no
uid = $(id -u)
gid = $(id -g)
log file = $DMOD/daemon.log
[on]
path = $DMOD/on
read only = no
landlock = required
[off]
path = $DMOD/off
read only = no
landlock = off
CONF
"$OXSYNC" --daemon --no-detach --port "$DPORT" --config "$DMOD/rsyncd.conf" &
DPID=$!
trap 'kill "$DPID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$DPORT") 2>/dev/null && break
    sleep 0.1
done
for mode in on off; do
    prep="$BENCH_DIR/prep-daemon-$mode.sh"
    printf 'rm -rf %q; mkdir -p %q\n' "$DMOD/$mode" "$DMOD/$mode" >"$prep"
    res=$(measure "$prep" "$RSYNC" -a "$TREE/src/" "rsync://127.0.0.1:$DPORT/$mode/")
    awk -v mode="$mode" -v n="$NFILES" -v r="$res" 'BEGIN {
        split(r, a, " ")
        printf "daemon push, %d files, landlock %s: wall %.3f s (client peak RSS %.1f MiB)\n",
            n, mode, a[1], a[2] / 1024 }'
done
grep -m1 'landlock: abi' "$DMOD/daemon.log" || true
kill "$DPID" 2>/dev/null || true

# --- compression over a local remote shell ---------------------------------
# Initial copy of a compressible text file through a remote-shell stand-in
# (drops the host, runs the rest locally), each tool as its own peer:
# `oxsync -e RSH --rsync-path=oxsync` against `rsync -e RSH --rsync-path=rsync`,
# with -z and --zc=zstd, then --zc=zlib. Also prints the bytes each client
# sent (from one extra --stats run).
if [ "$QUICK" = 1 ]; then Z_MIB=32; else Z_MIB=256; fi
Z_DIR="$BENCH_DIR/ztext-$Z_MIB"
Z_RSH="$BENCH_DIR/rsh.sh"
printf '#!/bin/sh\n# stand-in for ssh: drop the host, run the command\nshift\nexec "$@"\n' >"$Z_RSH"
chmod +x "$Z_RSH"
if [ ! -e "$Z_DIR/.complete" ]; then
    echo "== creating $Z_MIB MiB of generated text in $Z_DIR" >&2
    rm -rf "$Z_DIR"
    mkdir -p "$Z_DIR/src"
    # Lines of words drawn from a fixed random vocabulary (deterministic:
    # srand(1)); gzip shrinks it to about a third.
    awk -v size="$((Z_MIB << 20))" 'BEGIN {
        srand(1)
        for (i = 0; i < 1024; i++) {
            n = 2 + int(rand() * 9); w = ""
            for (k = 0; k < n; k++) w = w sprintf("%c", 97 + int(rand() * 26))
            v[i] = w
        }
        total = 0
        while (total < size) {
            line = v[int(rand() * 1024)]
            for (k = 0; k < 11; k++) line = line " " v[int(rand() * 1024)]
            line = line "\n"
            if (total + length(line) > size) line = substr(line, 1, size - total)
            printf "%s", line
            total += length(line)
        }
    }' >"$Z_DIR/src/text.txt"
    touch -d '2020-01-01 00:00:00' "$Z_DIR/src/text.txt"
    touch "$Z_DIR/.complete"
fi
Z_PREP="$BENCH_DIR/prep-ztext.sh"
printf 'rm -rf %q\n' "$Z_DIR/dst" >"$Z_PREP"
# z_sent BIN ARGS...: "Total bytes sent" of one fresh run with --stats.
z_sent() {
    local bin="$1"; shift
    bash "$Z_PREP"
    "$bin" --stats "$@" | awk -F': ' '/^Total bytes sent/ { gsub(/,/, "", $2); print $2 }'
}
for z_codec in zstd zlib; do
    z_args=(-a -z "--zc=$z_codec" -e "$Z_RSH" "$Z_DIR/src/" "localhost:$Z_DIR/dst/")
    z_ox=$(measure "$Z_PREP" "$OXSYNC" --rsync-path="$OXSYNC" "${z_args[@]}")
    z_rs=$(measure "$Z_PREP" "$RSYNC" --rsync-path="$RSYNC" "${z_args[@]}")
    z_oxb=$(z_sent "$OXSYNC" --rsync-path="$OXSYNC" "${z_args[@]}")
    z_rsb=$(z_sent "$RSYNC" --rsync-path="$RSYNC" "${z_args[@]}")
    awk -v title="remote-shell initial copy, $Z_MIB MiB text, -z --zc=$z_codec (each tool as its own peer)" \
        -v ox="$z_ox" -v rs="$z_rs" -v oxb="$z_oxb" -v rsb="$z_rsb" 'BEGIN {
        split(ox, o, " "); split(rs, r, " ")
        printf "%s\n", title
        printf "  %-8s %10s %14s %14s\n", "", "wall (s)", "peak RSS (MiB)", "sent (MiB)"
        printf "  %-8s %10.3f %14.1f %14.2f\n", "oxsync", o[1], o[2] / 1024, oxb / 1048576
        printf "  %-8s %10.3f %14.1f %14.2f\n", "rsync", r[1], r[2] / 1024, rsb / 1048576
        printf "  %-8s %10s %14s %14s\n", "ratio",
            (r[1] > 0 ? sprintf("%.2f", o[1] / r[1]) : "n/a"),
            (r[2] > 0 ? sprintf("%.2f", o[2] / r[2]) : "n/a"),
            (rsb > 0 ? sprintf("%.2f", oxb / rsb) : "n/a")
        print ""
    }'
done
