/*
 * ctpeer: Open vSwitch's userspace connection tracker (lib/conntrack.c,
 * conntrack_execute) timed on the workload of benches/conntrack.rs, as a peer
 * for ovsext's tracker.
 *
 *   ctpeer step [N...]    ns per packet of conntrack_execute on established
 *                         TCP connections, plain and ct(zone=1,nat), for each
 *                         N (default 1000 100000 1000000)
 *   ctpeer commits        new connections committed per second into a table
 *                         of 100k
 *
 * Env: CTPEER_VERIFY_CSUM=1 gives the frames real checksums and leaves their
 * checksum status unknown, so that conntrack verifies them in software; by
 * default the frames carry the bench's bytes (checksums zero) and are marked
 * checksum-good, as a NIC with receive checksum offload reports them (ovsext
 * verifies no checksum in its tracker).
 *
 * Output (stdout), one figure a line:
 *   step_ns N plain|nat VALUE
 *   bytes_per_conn N plain|nat VALUE      (heap growth while opening / N)
 *   commits_per_s 100000 one_by_one|batch32 VALUE
 * Details go to stderr as '# ' lines.
 *
 * Workload (the same as benches/conntrack.rs): connection i is
 * 10.x.y.z:(1024 + i % 60000) -> 172.16.0.1:80 with
 * x.y.z = 0.(i / 60000 + 1).(i % 251), opened by a SYN committed in zone 1
 * (with or without SNAT to 100.64.0.0-100.127.255.255), the SYN-ACK back to
 * the (translated) client and its ACK; then ACKs (seq 101, ack 501) in the
 * original direction, connection (i * 2654435761) % N for packet i, at most
 * 65,536 distinct frames, in batches of 32, rounds totalling about 2M
 * packets, best of 3 runs.  Before each batch every packet gets a fresh copy
 * of its frame and its conntrack metadata cleared (conntrack_clear).
 * Single thread, nothing pinned; conntrack's own sweeper thread runs as it
 * does in ovs-vswitchd.
 *
 * Licensed under the Apache License, Version 2.0 (same as Open vSwitch).
 */

#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>

#include "conntrack.h"
#include "dp-packet.h"
#include "flow.h"
#include "packets.h"
#include "timeval.h"
#include "util.h"

#define RUNS 3
#define BATCH 32
#define FRAME_LEN 54
#define MAX_FRAMES 65536

static const uint8_t SERVER[4] = { 172, 16, 0, 1 };
static bool verify_csum;

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Bytes the allocator has handed out and not taken back (every arena). */
static long
heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long) (mi.uordblks + mi.hblkhd);
}

/* Connection i's client address and port. */
static void
addrs(uint32_t i, uint8_t src[4], uint16_t *sport)
{
    uint32_t a = 0x0a000000 | ((i / 60000 + 1) << 8) | (i % 251);
    src[0] = a >> 24;
    src[1] = a >> 16;
    src[2] = a >> 8;
    src[3] = a;
    *sport = 1024 + i % 60000;
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += (uint32_t) p[i] << 8 | p[i + 1];
    }
    return s;
}

static uint16_t
fold(uint32_t s)
{
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return ~s;
}

/* The bench's TCP frame: 54 bytes, window 65535, no options; with real IPv4
 * and TCP checksums when 'verify_csum'. */
static void
tcp_frame(uint8_t b[64], const uint8_t src[4], const uint8_t dst[4],
          uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
          uint32_t ack)
{
    static const uint8_t eth[14] = { 0, 0x15, 0x5d, 0, 0, 2,
                                     0, 0x15, 0x5d, 0, 0, 1, 0x08, 0x00 };
    memset(b, 0, 64);
    memcpy(b, eth, sizeof eth);
    b[14] = 0x45;
    put16(b + 16, 40);
    b[22] = 64;
    b[23] = 6;
    memcpy(b + 26, src, 4);
    memcpy(b + 30, dst, 4);
    put16(b + 34, sport);
    put16(b + 36, dport);
    put32(b + 38, seq);
    put32(b + 42, ack);
    b[46] = 0x50;
    b[47] = flags;
    put16(b + 48, 0xffff);
    if (verify_csum) {
        put16(b + 24, fold(sum16(b + 14, 20, 0)));
        uint32_t s = sum16(b + 26, 8, 0) + 6 + 20;
        put16(b + 50, fold(sum16(b + 34, 20, s)));
    }
}

/* Resets 'p' to 'frame' as it comes fresh from a port: the frame's bytes,
 * no conntrack state, the checksum status a NIC with receive checksum
 * offload gives (or unknown when 'verify_csum'). */
static void
reload(struct dp_packet *p, const uint8_t *frame)
{
    memcpy(dp_packet_data(p), frame, FRAME_LEN);
    conntrack_clear(p);
    dp_packet_ip_checksum_set_unknown(p);
    p->offloads &= ~DP_PACKET_OL_L4_CKSUM_MASK;
    if (!verify_csum) {
        dp_packet_ip_checksum_set_good(p);
        dp_packet_l4_checksum_set_good(p);
    }
}

/* A packet holding 'frame', its offsets set by flow_extract(). */
static struct dp_packet *
packet_new(const uint8_t *frame, uint32_t in_port)
{
    struct dp_packet *p = dp_packet_new(128);
    struct flow flow;

    dp_packet_put(p, frame, FRAME_LEN);
    pkt_metadata_init(&p->md, u32_to_odp(in_port));
    flow_extract(p, &flow);
    reload(p, frame);
    return p;
}

/* Runs one packet through conntrack; returns its ct_state. */
static uint8_t
execute1(struct conntrack *ct, struct dp_packet *p, bool commit,
         const struct nat_action_info_t *nat, long long now)
{
    struct dp_packet_batch b;

    dp_packet_batch_init_packet(&b, p);
    conntrack_execute(ct, &b, htons(ETH_TYPE_IP), false, commit, 1, NULL,
                      NULL, NULL, nat, now, 0);
    return p->md.ct_state;
}

static void
check(bool ok, const char *what, uint32_t i, uint8_t state)
{
    if (!ok) {
        fprintf(stderr, "ctpeer: %s: connection %u has ct_state 0x%02x\n",
                what, i, state);
        exit(1);
    }
}

static void
ack_frame(uint32_t i, uint8_t b[64])
{
    uint8_t src[4];
    uint16_t sport;

    addrs(i, src, &sport);
    tcp_frame(b, src, SERVER, sport, 80, TCP_ACK, 101, 501);
}

/* Opens connection i: SYN (committed with 'commit_nat'), SYN-ACK to the
 * client as the SYN left conntrack, ACK; the latter two through 'lookup_nat'
 * and committed only when 'commit_all'.  Checks the states on the way. */
static void
open_conn(struct conntrack *ct, struct dp_packet *p, uint32_t i,
          const struct nat_action_info_t *commit_nat,
          const struct nat_action_info_t *lookup_nat, bool commit_all,
          long long now)
{
    uint8_t src[4], dst[4], b[64];
    uint16_t sport;
    uint8_t st;

    addrs(i, src, &sport);
    tcp_frame(b, src, SERVER, sport, 80, TCP_SYN, 100, 0);
    reload(p, b);
    st = execute1(ct, p, true, commit_nat, now);
    check(st == (CS_TRACKED | CS_NEW | (commit_nat ? CS_SRC_NAT : 0)),
          "SYN", i, st);

    const uint8_t *out = dp_packet_data(p);
    memcpy(dst, out + 26, 4);
    uint16_t dport = out[34] << 8 | out[35];
    if (commit_nat) {
        check(dst[0] == 100 && (dst[1] & 0xc0) == 64, "SNAT address", i, st);
    }
    tcp_frame(b, SERVER, dst, 80, dport, TCP_SYN | TCP_ACK, 500, 101);
    reload(p, b);
    st = execute1(ct, p, commit_all, lookup_nat, now);
    /* The reply undoes the SNAT: a destination rewrite in its direction. */
    check(st == (CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR
                 | (lookup_nat ? CS_DST_NAT : 0)), "SYN-ACK", i, st);
    if (lookup_nat) {
        const uint8_t *back = dp_packet_data(p);
        check(!memcmp(back + 30, src, 4) && (back[36] << 8 | back[37]) == sport,
              "SYN-ACK translated back", i, st);
    }

    ack_frame(i, b);
    reload(p, b);
    st = execute1(ct, p, commit_all, lookup_nat, now);
    check(st == (CS_TRACKED | CS_ESTABLISHED | (lookup_nat ? CS_SRC_NAT : 0)),
          "ACK", i, st);
}

/* Runs 'n' frames through conntrack, 'batch' (at most BATCH) per
 * conntrack_execute, each into one of the packets 'pk' freshly reloaded;
 * the ns spent inside conntrack_execute (reloading is not timed). */
static double
execute_frames(struct conntrack *ct, struct dp_packet *pk[BATCH],
               const uint8_t (*frames)[64], size_t n, size_t batch,
               bool commit, const struct nat_action_info_t *nat,
               long long now)
{
    double inside = 0;

    for (size_t i = 0; i < n; i += batch) {
        size_t m = n - i < batch ? n - i : batch;
        struct dp_packet_batch b;

        dp_packet_batch_init(&b);
        for (size_t j = 0; j < m; j++) {
            reload(pk[j], frames[i + j]);
            dp_packet_batch_add(&b, pk[j]);
        }
        double t = now_ns();
        conntrack_execute(ct, &b, htons(ETH_TYPE_IP), false, commit, 1, NULL,
                          NULL, NULL, nat, now, 0);
        inside += now_ns() - t;
    }
    return inside;
}

static void
packets_new(struct dp_packet *pk[BATCH], const uint8_t *frame)
{
    for (int j = 0; j < BATCH; j++) {
        pk[j] = packet_new(frame, 1);
    }
}

static void
packets_delete(struct dp_packet *pk[BATCH])
{
    for (int j = 0; j < BATCH; j++) {
        dp_packet_delete(pk[j]);
    }
}

static struct nat_action_info_t
snat_range(void)
{
    struct nat_action_info_t n;

    memset(&n, 0, sizeof n);
    n.nat_action = NAT_ACTION_SRC;
    n.min_addr.ipv4 = htonl(0x64400000);   /* 100.64.0.0 */
    n.max_addr.ipv4 = htonl(0x647fffff);   /* 100.127.255.255 */
    return n;
}

/* ns per packet of conntrack_execute on the established ACKs of N
 * connections, plain or with ct(zone=1,nat); '*per_conn' the heap growth (mallinfo2) per
 * connection while opening them. */
static double
ct_step(uint32_t n, bool nat, double *per_conn)
{
    struct nat_action_info_t commit_nat = snat_range();
    /* ct(zone=1,nat) with no range: dpif-netdev passes a zeroed
     * nat_action_info, which re-applies the connection's binding. */
    struct nat_action_info_t lookup_nat;
    memset(&lookup_nat, 0, sizeof lookup_nat);
    const struct nat_action_info_t *cn = nat ? &commit_nat : NULL;
    const struct nat_action_info_t *ln = nat ? &lookup_nat : NULL;
    long long now = time_msec();
    uint8_t b[64];

    ack_frame(0, b);
    struct dp_packet *opener = packet_new(b, 1);
    long heap0 = heap_bytes();
    struct conntrack *ct = conntrack_init();
    for (uint32_t i = 0; i < n; i++) {
        open_conn(ct, opener, i, cn, ln, false, now);
    }
    *per_conn = (double) (heap_bytes() - heap0) / n;
    uint32_t nconns = 0;
    conntrack_get_nconns(ct, &nconns);
    if (nconns != n) {
        fprintf(stderr, "ctpeer: %u connections, expected %u\n", nconns, n);
        exit(1);
    }

    size_t nf = n < MAX_FRAMES ? n : MAX_FRAMES;
    uint8_t (*frames)[64] = xmalloc(nf * sizeof *frames);
    for (size_t i = 0; i < nf; i++) {
        ack_frame((uint32_t) ((uint64_t) i * 2654435761u % n), frames[i]);
    }
    struct dp_packet *pk[BATCH];
    packets_new(pk, frames[0]);

    /* Every frame once, untimed: each must come out +trk+est (and +snat,
     * its source rewritten into the range) or the figures mean nothing. */
    size_t est = 0, rewritten = 0;
    for (size_t i = 0; i < nf; i++) {
        reload(pk[0], frames[i]);
        uint8_t st = execute1(ct, pk[0], false, ln, now);
        const uint8_t *d = dp_packet_data(pk[0]);
        est += st == (CS_TRACKED | CS_ESTABLISHED | (nat ? CS_SRC_NAT : 0));
        rewritten += d[26] == 100 && (d[27] & 0xc0) == 64
                     && !memcmp(d + 30, SERVER, 4);
    }
    fprintf(stderr, "# %u connections %s: %zu/%zu frames +trk+est%s, "
            "%zu source-rewritten to 100.64.0.0/10\n", n,
            nat ? "nat" : "plain", est, nf, nat ? "+snat" : "", rewritten);
    if (est != nf || (nat ? rewritten != nf : rewritten != 0)) {
        fprintf(stderr, "ctpeer: frames not tracked as expected\n");
        exit(1);
    }

    size_t rounds = 2000000 / nf;
    rounds = rounds ? rounds : 1;
    double best = 1e300;
    for (int r = 0; r < RUNS; r++) {
        double inside = 0;
        for (size_t round = 0; round < rounds; round++) {
            inside += execute_frames(ct, pk, frames, nf, BATCH, false, ln,
                                     now);
        }
        double ns = inside / (double) (rounds * nf);
        fprintf(stderr, "# step %u %s run %d: %.1f ns/packet\n", n,
                nat ? "nat" : "plain", r, ns);
        best = ns < best ? ns : best;
    }
    /* The last batch as it left conntrack. */
    for (int j = 0; j < BATCH && (size_t) j < nf; j++) {
        uint8_t st = pk[j]->md.ct_state;
        check(st == (CS_TRACKED | CS_ESTABLISHED | (nat ? CS_SRC_NAT : 0)),
              "timed ACK", j, st);
    }

    packets_delete(pk);
    dp_packet_delete(opener);
    free(frames);
    conntrack_destroy(ct);
    return best;
}

/* New connections committed per second into a table of 'base', SYNs of
 * connections base.. committed in zone 1, 'batch' per conntrack_execute. */
static double
commits(uint32_t base, size_t batch)
{
    const uint32_t n = 200000;
    long long now = time_msec();
    uint8_t b[64];

    ack_frame(0, b);
    struct dp_packet *opener = packet_new(b, 1);
    struct conntrack *ct = conntrack_init();
    for (uint32_t i = 0; i < base; i++) {
        open_conn(ct, opener, i, NULL, NULL, true, now);
    }
    uint8_t (*frames)[64] = xmalloc(n * sizeof *frames);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t src[4];
        uint16_t sport;

        addrs(base + i, src, &sport);
        tcp_frame(frames[i], src, SERVER, sport, 80, TCP_SYN, 100, 0);
    }
    struct dp_packet *pk[BATCH];
    packets_new(pk, frames[0]);

    double t = now_ns();
    execute_frames(ct, pk, frames, n, batch, true, NULL, now);
    double rate = n / ((now_ns() - t) / 1e9);

    uint32_t nconns = 0;
    conntrack_get_nconns(ct, &nconns);
    if (nconns != base + n) {
        fprintf(stderr, "ctpeer: %u connections after commits, expected %u\n",
                nconns, base + n);
        exit(1);
    }
    packets_delete(pk);
    dp_packet_delete(opener);
    free(frames);
    conntrack_destroy(ct);
    return rate;
}

int
main(int argc, char *argv[])
{
    const char *v = getenv("CTPEER_VERIFY_CSUM");
    verify_csum = v && *v && strcmp(v, "0");
    if (argc < 2) {
        fprintf(stderr, "usage: %s step [N...] | commits\n", argv[0]);
        return 2;
    }
    fprintf(stderr, "# checksums %s\n", verify_csum
            ? "real, verified by conntrack"
            : "zero, packets marked checksum-good (receive offload)");
    if (!strcmp(argv[1], "step")) {
        uint32_t sizes[16] = { 1000, 100000, 1000000 };
        int ns = 3;
        if (argc > 2) {
            ns = 0;
            for (int i = 2; i < argc && ns < 16; i++) {
                sizes[ns++] = strtoul(argv[i], NULL, 10);
            }
        }
        for (int i = 0; i < ns; i++) {
            uint32_t n = sizes[i];
            double bytes;
            double plain = ct_step(n, false, &bytes);
            printf("step_ns %u plain %.1f\n", n, plain);
            printf("bytes_per_conn %u plain %.0f\n", n, bytes);
            double nat = ct_step(n, true, &bytes);
            printf("step_ns %u nat %.1f\n", n, nat);
            printf("bytes_per_conn %u nat %.0f\n", n, bytes);
            fflush(stdout);
        }
    } else if (!strcmp(argv[1], "commits")) {
        double one = 0, b32 = 0;
        for (int r = 0; r < RUNS; r++) {
            double x = commits(100000, 1);
            one = x > one ? x : one;
            x = commits(100000, BATCH);
            b32 = x > b32 ? x : b32;
        }
        printf("commits_per_s 100000 one_by_one %.0f\n", one);
        printf("commits_per_s 100000 batch32 %.0f\n", b32);
    } else {
        fprintf(stderr, "usage: %s step [N...] | commits\n", argv[0]);
        return 2;
    }
    return 0;
}
