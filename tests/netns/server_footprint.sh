#!/usr/bin/env bash
# server_footprint.sh — what `vmtp-node server` costs a VM that only hosts it.
#
# One namespace h; its loopback carries 198.18.0.1/32 (the test range, no veth needed). Checks:
#   - the idle server's resident set (VmRSS of /proc/PID/status once it listens on TCP and UDP) is <= 8 MiB;
#     an ASan/UBSan build carries the sanitizer runtime and shadow pages (about 10 MiB idle), so there the bound
#     is 32 MiB: it still catches a gross regression, and the 8 MiB figure is checked by the plain build;
#   - the binary is statically linked, so it runs on a bare VM image: `ldd` says "not a dynamic executable" and
#     `file` says statically linked. A dynamic build (the ASan/UBSan one is) skips this check with a message.
# For information only: the resident set after the server has served one short tcp, udp and rr test.
# Usage: server_footprint.sh BINDIR (ctest passes build/bin). Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bindir=${1:-$here/../../build/bin}
port=5001
limit_kib=$((8 * 1024))

ns_init
ns_require ss ldd file awk
vmtp_node_require "$bindir"

# status_kib PID FIELD : a "FIELD:   N kB" line of /proc/PID/status, in KiB.
status_kib()
{
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# --- static linking -----------------------------------------------------------------------------------------------
ldd_out=$(ldd "$node" 2>&1 || true)
file_out=$(file -L "$node")
if grep -q 'not a dynamic executable' <<<"$ldd_out"; then
    assert_cmp "file(1) says statically linked" "$(grep -Ec 'static(-pie)? linked|statically linked' <<<"$file_out")" == 1
else
    echo "SKIP (part): $node is dynamically linked (an ASan/UBSan build is); not checking static linking"
    printf '%s\n' "$ldd_out" | sed 's/^/    /'
fi
if grep -q 'libasan' <<<"$ldd_out"; then
    limit_kib=$((32 * 1024))
    echo "INFO: sanitizer build: idle resident-set bound raised to 32 MiB (runtime and shadow pages)"
fi

# --- idle resident set ------------------------------------------------------------------------------------------
ns_add h >/dev/null
ns_exec h ip addr add 198.18.0.1/32 dev lo
server=$(ns_bg h "$node" server --bind 198.18.0.1 --port "$port")
rc=0
ns_wait_port h tcp "$port" 10 && ns_wait_port h udp "$port" 10 || rc=$?
assert_cmp "vmtp-node server listens on tcp and udp port $port" "$rc" == 0
((rc == 0)) || finish
assert_cmp "the recorded PID is vmtp-node itself" "$(grep -c '^vmtp-node$' "/proc/$server/comm" || true)" == 1

rss=$(status_kib "$server" VmRSS)
hwm=$(status_kib "$server" VmHWM)
assert_cmp "idle server VmRSS (KiB) <= $((limit_kib / 1024)) MiB" "$rss" '<=' "$limit_kib"
printf 'INFO: idle server: VmRSS %s KiB, VmHWM %s KiB, threads %s\n' "$rss" "$hwm" "$(status_kib "$server" Threads)"

# --- after serving (information only) -------------------------------------------------------------------------------
rc=0
ns_exec h "$node" tcp 198.18.0.1 --port "$port" --time 1 --json >/dev/null || rc=$?
ns_exec h "$node" udp 198.18.0.1 --port "$port" --rate 50M --time 1 --json >/dev/null || rc=$?
ns_exec h "$node" rr 198.18.0.1 --port "$port" --count 1000 --json >/dev/null || rc=$?
assert_cmp "short tcp, udp and rr tests against it succeed" "$rc" == 0
printf 'INFO: server after serving 3 tests: VmRSS %s KiB, VmHWM %s KiB\n' "$(status_kib "$server" VmRSS)" \
    "$(status_kib "$server" VmHWM)"

finish
