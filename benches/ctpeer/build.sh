#!/bin/sh
# Builds ctpeer (ctpeer.c: Open vSwitch's userspace connection tracker timed
# on the workload of benches/conntrack.rs) against Open vSwitch's
# libopenvswitch, compiled the way ../shared/tools/perfpeer/build.sh compiles
# perfpeer: the tree's CFLAGS, its include paths, its static library.
# Usage: benches/ctpeer/build.sh OVS_SOURCE_DIR   (an export of Open vSwitch tag v3.7.1)
# Env: OUT=path of the binary (default /tmp/ctpeer), CC, JOBS.
# The OVS tree is configured with --disable-ssl --disable-libcapng and only
# lib/libopenvswitch.la is built (skipped when lib/.libs/libopenvswitch.a
# already exists).
set -eu

OVS=${1:?usage: $0 OVS_SOURCE_DIR (an export of Open vSwitch tag v3.7.1)}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/ctpeer}
JOBS=${JOBS:-2}

if [ ! -f "$OVS/configure.ac" ]; then
    echo "build.sh: $OVS is not an Open vSwitch source tree" >&2
    exit 1
fi

(
    cd "$OVS"
    if [ ! -f lib/.libs/libopenvswitch.a ]; then
        [ -x configure ] || ./boot.sh
        [ -f Makefile ] || ./configure --disable-ssl --disable-libcapng
        make -j"$JOBS" include/odp-netlink.h include/odp-netlink-macros.h \
            ofproto/ipfix-entities.def lib/vswitch-idl.h lib/ovsdb-server-idl.h
        make -j"$JOBS" lib/libopenvswitch.la
    fi
)

# The library's own CFLAGS, so that header inlines match its code.
CC=${CC:-gcc}
OVS_CFLAGS=$(sed -n 's/^CFLAGS = //p' "$OVS/Makefile")
# shellcheck disable=SC2086
$CC ${OVS_CFLAGS:--g -O2} -Wall -Wno-sign-compare -std=gnu99 \
    -I "$OVS" -I "$OVS/include" -I "$OVS/lib" \
    -o "$OUT" "$HERE/ctpeer.c" \
    "$OVS/lib/.libs/libopenvswitch.a" -latomic -lm -lpthread -lrt

VER=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$OVS/config.h")
echo "built $OUT against Open vSwitch $VER (CFLAGS: ${OVS_CFLAGS:--g -O2})"
