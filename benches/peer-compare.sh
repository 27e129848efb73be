#!/bin/sh
# The datapath side by side with Open vSwitch on the shared workload: runs
# `perfpeer` (../shared/tools/perfpeer, built with its build.sh) and
# `cargo bench --bench peer` interleaved, round after round, on the same
# frame files, and prints a markdown table of ns per frame: for each figure
# the least of the rounds' medians (each run prints the median of 5
# repetitions), then the ratio ovsext / OVS.
#
# Usage: benches/peer-compare.sh [ROUNDS]
# Env: PEER (default /tmp/perfpeer), WORK (frame files, default
# /tmp/ovsext-peer), FRAMES (frames.py), MASKS (default "1 8 32").
set -eu

ROUNDS=${1:-3}
PEER=${PEER:-/tmp/perfpeer}
WORK=${WORK:-/tmp/ovsext-peer}
HERE=$(cd "$(dirname "$0")/.." && pwd)
FRAMES=${FRAMES:-$HERE/../shared/tools/perfpeer/frames.py}
MASKS=${MASKS:-"1 8 32"}

[ -x "$PEER" ] || { echo "peer-compare: no peer at $PEER (build it with perfpeer/build.sh)" >&2; exit 1; }
mkdir -p "$WORK"
# workload: name frames flows rules ITER
WORKLOADS="10k 10000 1000 1000 20
100k 100000 100000 100000 2"
echo "$WORKLOADS" | while read -r name n flows rules iter; do
    [ -s "$WORK/w$name.hex" ] ||
        python3 "$FRAMES" --n "$n" --flows "$flows" --seed 1 -o "$WORK/w$name.hex"
done

cd "$HERE"
cargo bench --bench peer --no-run >/dev/null 2>&1
ours() { cargo bench -q --bench peer -- "$@" 2>/dev/null; }
RAW="$WORK/raw.txt"
: > "$RAW"
# Each line of $RAW: workload masks who metric value
record() { sed "s/^/$1 $2 $3 /" >> "$RAW"; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
round=1
while [ "$round" -le "$ROUNDS" ]; do
    echo "$WORKLOADS" | while read -r name n flows rules iter; do
        f="$WORK/w$name.hex"
        "$PEER" extract "$f" $((iter * 5)) 2>/dev/null | record "$name" - ovs
        ours extract "$f" $((iter * 5)) | record "$name" - ovsext
        for m in $MASKS; do
            "$PEER" dpcls "$f" "$iter" "$m" "$rules" 2>/dev/null | record "$name" "$m" ovs
            ours lookup "$f" "$iter" "$m" "$rules" | record "$name" "$m" ovsext
            ours receive "$f" "$iter" "$m" "$rules" | sed 's/^hit_rate/receive_hit_rate/' |
                record "$name" "$m" ovsext
        done
    done
    echo "round $round done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    round=$((round + 1))
done

awk -v rounds="$ROUNDS" '
function best(k) { return (k in lo) ? lo[k] : -1 }
function cell(v) { return v < 0 ? "–" : sprintf("%.1f", v) }
function ratio(a, b) { return (a < 0 || b <= 0) ? "–" : sprintf("%.2f×", a / b) }
{
    k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
    if (!(k in lo) || $5 < lo[k]) lo[k] = $5
    if ($4 ~ /hit_rate/ && $5 < 1) miss[$1 " " $2 " " $3] = $5
    seen[$1] = 1; if ($2 != "-") ms[$1, $2] = 1
}
END {
    printf "ns per frame, least of %d rounds (each the median of 5 repetitions)\n\n", rounds
    print "| workload | masks | OVS dpcls | ovsext lookup (no cache) | ratio | OVS extract+dpcls | ovsext extract+lookup | ratio | ovsext receive (32-frame chains) | ratio to OVS extract+dpcls |"
    print "|---|---|---|---|---|---|---|---|---|---|"
    n = split("10k 100k", wl, " ")
    for (i = 1; i <= n; i++) {
        w = wl[i]
        if (!(w in seen)) continue
        e1 = best(w SUBSEP "-" SUBSEP "ovs" SUBSEP "extract_ns_per_pkt")
        e2 = best(w SUBSEP "-" SUBSEP "ovsext" SUBSEP "extract_ns_per_pkt")
        printf "| %s | extract | | | | %s | %s | %s | | |\n", w, cell(e1), cell(e2), ratio(e2, e1)
        split("1 8 32 2 4 16 64 128 192", mm, " ")
        for (j = 1; j <= 9; j++) {
            m = mm[j]
            if (!((w, m) in ms)) continue
            a = best(w SUBSEP m SUBSEP "ovs" SUBSEP "lookup_ns_per_pkt")
            b = best(w SUBSEP m SUBSEP "ovsext" SUBSEP "lookup_ns_per_pkt")
            c = best(w SUBSEP m SUBSEP "ovs" SUBSEP "extract_lookup_ns_per_pkt")
            d = best(w SUBSEP m SUBSEP "ovsext" SUBSEP "extract_lookup_ns_per_pkt")
            r = best(w SUBSEP m SUBSEP "ovsext" SUBSEP "receive_ns_per_pkt")
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w, m, cell(a), cell(b), ratio(b, a), cell(c), cell(d), ratio(d, c), cell(r), ratio(r, c)
        }
    }
    for (k in miss) printf "\nhit rate below 1: %s %s\n", k, miss[k]
}' "$RAW"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
