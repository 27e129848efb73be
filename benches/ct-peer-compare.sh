#!/bin/sh
# The connection tracker side by side with Open vSwitch's userspace one
# (lib/conntrack.c) on the same workload: runs `ctpeer` (benches/ctpeer,
# built with its build.sh) and `cargo bench --bench conntrack` interleaved,
# round after round, and prints a markdown table: ns per packet of the CT
# step on established TCP connections (batches of 32), plain and with
# ct(zone=1,nat) after SNAT, the least of the rounds (each run prints the
# best of 3), the ratio ovsext / OVS, and new connections committed per
# second into a table of 100k (the most of the rounds).
#
# Usage: benches/ct-peer-compare.sh [ROUNDS]
# Env: PEER (default /tmp/ctpeer), WORK (default /tmp/ovsext-ctpeer),
# SIZES (default "1000 100000 1000000"), CSUM=0 to skip the OVS runs that
# verify checksums in software.
set -eu

ROUNDS=${1:-3}
PEER=${PEER:-/tmp/ctpeer}
WORK=${WORK:-/tmp/ovsext-ctpeer}
SIZES=${SIZES:-"1000 100000 1000000"}
CSUM=${CSUM:-1}
HERE=$(cd "$(dirname "$0")/.." && pwd)

[ -x "$PEER" ] || { echo "ct-peer-compare: no peer at $PEER (build it with benches/ctpeer/build.sh)" >&2; exit 1; }
mkdir -p "$WORK"

cd "$HERE"
cargo bench --bench conntrack --no-run >/dev/null 2>&1
# Our bench's lines, as the peer prints its figures: metric size variant value.
ours() {
    cargo bench -q --bench conntrack -- "$@" 2>/dev/null | awk '
    / connections: ct step / {
        n = $1; gsub(/[(),;]/, " "); split($0, f, " ")
        for (i = 1; i in f; i++) {
            if (f[i] == "step") plain = f[i + 1]
            if (f[i] == "SNAT") nat = f[i + 1]
            if (f[i] == "one" && f[i + 1] == "by") { p1 = f[i + 3]; n1 = f[i + 4] }
            if (f[i] == "table") pb = f[i + 1]
            if (f[i] == "with" && f[i + 1] == "NAT") nb = f[i - 1]
        }
        print "step_ns", n, "plain", plain; print "step_ns", n, "nat", nat
        print "step1_ns", n, "plain", p1; print "step1_ns", n, "nat", n1
        print "bytes_per_conn", n, "plain", pb; print "bytes_per_conn", n, "nat", nb
    }
    / commits into a table of 100k: / { print "commits_per_s", 100000, "one_by_one", $(NF - 3) * 1e6 }'
}
RAW="$WORK/raw.txt"
: > "$RAW"
# Each line of $RAW: who metric size variant value
record() { sed "s/^/$1 /" >> "$RAW"; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
round=1
while [ "$round" -le "$ROUNDS" ]; do
    for n in $SIZES; do
        "$PEER" step "$n" 2>>"$WORK/peer.log" | record ovs
        ours step "$n" | record ovsext
        if [ "$CSUM" = 1 ]; then
            CTPEER_VERIFY_CSUM=1 "$PEER" step "$n" 2>>"$WORK/peer.log" | record ovs_csum
        fi
    done
    "$PEER" commits 2>>"$WORK/peer.log" | record ovs
    ours commits | record ovsext
    echo "round $round done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    round=$((round + 1))
done

awk -v rounds="$ROUNDS" -v sizes="$SIZES" '
function lo(k) { return (k in min) ? min[k] : -1 }
function hi(k) { return (k in max) ? max[k] : -1 }
function cell(v) { return v < 0 ? "–" : sprintf("%.1f", v) }
function ratio(a, b) { return (a < 0 || b <= 0) ? "–" : sprintf("%.2f×", a / b) }
{
    k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
    if (!(k in min) || $5 < min[k]) min[k] = $5
    if (!(k in max) || $5 > max[k]) max[k] = $5
}
END {
    printf "CT step, ns per packet on established TCP connections (batches of 32; ratio ovsext / OVS, below 1 is faster), the least of %d rounds (each the best of 3 runs)\n\n", rounds
    print "| connections | ovsext plain | OVS plain | ratio | ovsext SNAT | OVS NAT | ratio | OVS plain, csum verified | OVS NAT, csum verified | ovsext one by one (plain, SNAT) | bytes/conn ovsext (table) | bytes/conn OVS (heap) |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|"
    ns = split(sizes, sz, " ")
    for (i = 1; i <= ns; i++) {
        n = sz[i]
        a = lo("ovsext" SUBSEP "step_ns" SUBSEP n SUBSEP "plain")
        b = lo("ovs" SUBSEP "step_ns" SUBSEP n SUBSEP "plain")
        c = lo("ovsext" SUBSEP "step_ns" SUBSEP n SUBSEP "nat")
        d = lo("ovs" SUBSEP "step_ns" SUBSEP n SUBSEP "nat")
        e = lo("ovs_csum" SUBSEP "step_ns" SUBSEP n SUBSEP "plain")
        f = lo("ovs_csum" SUBSEP "step_ns" SUBSEP n SUBSEP "nat")
        g = lo("ovsext" SUBSEP "step1_ns" SUBSEP n SUBSEP "plain")
        h = lo("ovsext" SUBSEP "step1_ns" SUBSEP n SUBSEP "nat")
        x = lo("ovsext" SUBSEP "bytes_per_conn" SUBSEP n SUBSEP "plain")
        y = lo("ovs" SUBSEP "bytes_per_conn" SUBSEP n SUBSEP "plain")
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s, %s | %.0f | %.0f |\n", n, cell(a), cell(b), ratio(a, b), cell(c), cell(d), ratio(c, d), cell(e), cell(f), cell(g), cell(h), x, y
    }
    o = hi("ovsext" SUBSEP "commits_per_s" SUBSEP 100000 SUBSEP "one_by_one")
    p = hi("ovs" SUBSEP "commits_per_s" SUBSEP 100000 SUBSEP "one_by_one")
    q = hi("ovs" SUBSEP "commits_per_s" SUBSEP 100000 SUBSEP "batch32")
    printf "\nCommits into a table of 100k (SYNs committed in zone 1, no NAT), M new connections/s, the most of %d rounds (each the best of 3 runs):\n\n", rounds
    print "| ovsext (one by one) | OVS (one by one) | ratio of rates ovsext / OVS | OVS (batches of 32) |"
    print "|---|---|---|---|"
    printf "| %.2f | %.2f | %s | %.2f |\n", o / 1e6, p / 1e6, ratio(o, p), q / 1e6
}' "$RAW"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
