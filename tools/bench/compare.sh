#!/usr/bin/env bash
# tools/bench/compare.sh — vmtp-node against iperf3, iperf2, nuttcp and sockperf on the same veth path, same run.
#
#   tools/bench/compare.sh [--rounds N] [--quick] [--out DIR] [--time S] [--gap S] [--metrics LIST] [--vmtp PATH]
#
#   --rounds N      rounds (default 5); every tool runs once per metric per round
#   --quick         2 rounds of 2 s tests (a smoke test of the script, not a benchmark)
#   --out DIR       results directory (default /tmp/vmtp-bench-YYYYmmdd-HHMMSS)
#   --time S        length of every test in seconds (default 5; --quick: 2)
#   --gap S         pause between two tests (default 1; iperf2's UDP server needs ~0.5 s to re-arm)
#   --metrics LIST  comma-separated subset of: tcp,udp1470,udp64,rr_udp,rr_tcp (default: all)
#   --equal-buffers UDP metrics also run "iperf3-w4M" (iperf3 -w 4M: a receive buffer like vmtp-node's, capped
#                   by net.core.rmem_max) and "vmtp-node-rcvbufNK" (vmtp-node --rcvbuf net.core.rmem_default, the
#                   buffer the other peers get), which separates the receiving socket's buffer from the tool
#   --vmtp PATH     the vmtp-node binary (default: build/bin/vmtp-node of this repository, or $VMTP_NODE);
#                   copied into DIR first, so that a rebuild during the run cannot mix two binaries
#
# Two network namespaces from tests/netns/lib.sh joined by one veth pair (client 198.18.0.1, server 198.18.0.2,
# RFC 2544 range, no default route), one persistent server per tool in the server namespace, every client in the
# client namespace. Within a round the tools of one metric run back to back, the order rotated by one each round
# so that no tool always runs first (or always right after the same neighbour). Metrics and targets (the project
# issue): TCP goodput (vmtp-node >= 1.0x iperf3), UDP 1470 B at 1 Gbit/s (received rate >= iperf3's with loss <=
# iperf3's), UDP 64 B unpaced (received pkt/s >= 1.5x iperf3), UDP ping-pong RTT (vmtp-node user p50 <= sockperf's
# RTT p50, sockperf's half-RTT doubled), CPU seconds per GB for TCP and UDP 1470 (client + server process CPU,
# vmtp-node <= iperf3). docs/PERFORMANCE.md describes the method.
#
# Output: progress on stderr, the final markdown table on stdout; in DIR: runs.csv (one row per run and figure),
# summary.csv, summary.md, raw/ (every tool's own output), servers/ (server logs), env.txt, load.txt.
# Exit status: 0 done (whatever the targets say), 2 usage, 77 a prerequisite is missing (see tools/install-deps).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

ROUNDS=5
ROUNDS_SET=0
EQUAL_BUFFERS=0
DUR=
GAP=1
OUT=
QUICK=0
METRICS=tcp,udp1470,udp64,rr_udp,rr_tcp
VMTP=${VMTP_NODE:-$ROOT/build/bin/vmtp-node}

usage()
{
    sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

die_usage()
{
    printf 'compare.sh: %s (see --help)\n' "$*" >&2
    exit 2
}

while (($#)); do
    case $1 in
    --rounds) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die_usage "--rounds needs a positive integer"; ROUNDS=$2 ROUNDS_SET=1; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) [[ -n ${2:-} ]] || die_usage "--out needs a directory"; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --time) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die_usage "--time needs whole seconds"; DUR=$2; shift 2 ;;
    --gap) [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die_usage "--gap needs seconds"; GAP=$2; shift 2 ;;
    --equal-buffers) EQUAL_BUFFERS=1; shift ;;
    --metrics) [[ -n ${2:-} ]] || die_usage "--metrics needs a list"; METRICS=$2; shift 2 ;;
    --vmtp) [[ -n ${2:-} ]] || die_usage "--vmtp needs a path"; VMTP=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die_usage "unknown argument '$1'" ;;
    esac
done
if ((QUICK)); then
    ((ROUNDS_SET)) || ROUNDS=2 # unless --rounds came too (in any order)
    : "${DUR:=2}"
fi
: "${DUR:=5}"
for m in ${METRICS//,/ }; do
    case $m in tcp | udp1470 | udp64 | rr_udp | rr_tcp) ;; *) die_usage "unknown metric '$m'" ;; esac
done
[[ -n $OUT ]] || OUT=/tmp/vmtp-bench-$(date +%Y%m%d-%H%M%S)

# --- prerequisites (exit 77 = skip, as the namespace tests) -------------------------------------------------------

prereq_missing=()
for c in ip ss jq awk timeout stdbuf iperf3 iperf nuttcp sockperf; do
    command -v "$c" >/dev/null 2>&1 || prereq_missing+=("$c")
done
if ((${#prereq_missing[@]})); then
    printf 'SKIP: compare.sh needs %s; install the peers and tools with tools/install-deps (as root)\n' \
        "${prereq_missing[*]}" >&2
    exit 77
fi
if [[ ! -x $VMTP ]]; then
    printf 'SKIP: no vmtp-node at %s; build it (cmake -S . -B build && cmake --build build -j2) or pass --vmtp\n' \
        "$VMTP" >&2
    exit 77
fi
VMTP_SRC=$(cd "$(dirname "$VMTP")" && pwd)/$(basename "$VMTP")

# shellcheck source-path=SCRIPTDIR/../.. source=tests/netns/lib.sh
. "$ROOT/tests/netns/lib.sh"
ns_init # exits 77 unless root with ip and namespaces; installs the cleanup traps (EXIT, INT, TERM)

mkdir -p "$OUT/raw" "$OUT/servers" || { echo "compare.sh: cannot create $OUT" >&2; exit 1; }
OUT=$(cd "$OUT" && pwd)
# Others may rebuild the binary while this runs: every round uses the same copy, kept with the results.
cp -f "$VMTP_SRC" "$OUT/vmtp-node" || { echo "compare.sh: cannot copy $VMTP_SRC" >&2; exit 1; }
VMTP=$OUT/vmtp-node
RAW=$OUT/raw
CSV=$OUT/runs.csv

say()
{
    printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

CLI=$(ns_add cli) || exit 1
SRV=$(ns_add srv) || exit 1
ns_link cli veth0 198.18.0.1/30 srv veth0 198.18.0.2/30 || exit 1
DST=198.18.0.2
RMEM_DEFAULT=$(ip netns exec "$SRV" cat /proc/sys/net/core/rmem_default 2>/dev/null)
[[ $RMEM_DEFAULT =~ ^[0-9]+$ ]] || RMEM_DEFAULT=212992
T0_NS=$(date +%s%N)
TICK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# --- environment and load ------------------------------------------------------------------------------------------

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -n) kernel $(uname -r) $(uname -m), $(nproc) CPUs"
    echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "vmtp-node: $VMTP_SRC ($("$VMTP" --version 2>&1 | head -n1); sha256 $(sha256sum "$VMTP" | cut -c1-16); built $(
        date -u -r "$VMTP_SRC" +%Y-%m-%dT%H:%M:%SZ)), run from a copy in the results directory"
    echo "vmtp git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(
        [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -n1) ]] && echo ' (working tree modified)')"
    echo "iperf3: $(iperf3 --version 2>&1 | head -n1)"
    echo "iperf2: $(iperf -v 2>&1 | head -n1)"
    echo "nuttcp: $(nuttcp -V 2>&1 | head -n1)"
    echo "sockperf: $(sockperf --version 2>&1 | head -n1)"
    echo "server namespace net.core.rmem_default $RMEM_DEFAULT, rmem_max $(ip netns exec "$SRV" cat /proc/sys/net/core/rmem_max 2>/dev/null)"
    echo "tcp congestion control: $(ip netns exec "$CLI" cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null)"
    echo "rounds $ROUNDS, test length $DUR s, gap $GAP s, metrics $METRICS, equal-buffer variants $EQUAL_BUFFERS"
} >"$OUT/env.txt"

load_snapshot()
{
    {
        echo "== $1 $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        uptime
        echo "-- busiest processes"
        ps -eo pcpu,pid,comm --sort=-pcpu | head -n 8
    } >>"$OUT/load.txt"
}
load_snapshot start
LOAD_START=$(uptime)
say "load before: $LOAD_START"

# --- servers (persistent, in the server namespace) -----------------------------------------------------------------

declare -A SRV_PID=()

# server_cmd NAME : sets SRV_PROTO, SRV_PORT and the array SRV_ARGV for server NAME.
server_cmd()
{
    case $1 in
    vmtp) SRV_PROTO=tcp SRV_PORT=5001 SRV_ARGV=("$VMTP" server --port 5001) ;;
    iperf3) SRV_PROTO=tcp SRV_PORT=5201 SRV_ARGV=(iperf3 -s -p 5201) ;;
    # iperf2's servers print one CSV line per test (the receiver's figures); line-buffered so each appears at once
    iperf2) SRV_PROTO=tcp SRV_PORT=5002 SRV_ARGV=(stdbuf -oL iperf -s -p 5002 -y C) ;;
    iperf2u) SRV_PROTO=udp SRV_PORT=5003 SRV_ARGV=(stdbuf -oL iperf -s -u -p 5003 -y C) ;;
    # control port 5010, data port 5011 (the client's -p): nuttcp's default 5001 is vmtp-node's
    nuttcp) SRV_PROTO=tcp SRV_PORT=5010 SRV_ARGV=(nuttcp -S --nofork -P5010) ;;
    sockperf) SRV_PROTO=udp SRV_PORT=11111 SRV_ARGV=(sockperf server -i "$DST" -p 11111) ;;
    sockperf_tcp) SRV_PROTO=tcp SRV_PORT=11112 SRV_ARGV=(sockperf server --tcp -i "$DST" -p 11112) ;;
    *) return 1 ;;
    esac
}

server_start()
{
    local name=$1 pid
    server_cmd "$name" || return 1
    pid=$(ns_bg srv "${SRV_ARGV[@]}") || return 1
    SRV_PID[$name]=$pid
    if ! ns_wait_port srv "$SRV_PROTO" "$SRV_PORT" 10; then
        say "server $name (${SRV_ARGV[*]}) is not listening on $SRV_PROTO $SRV_PORT"
        return 1
    fi
}

server_alive()
{
    local pid=${SRV_PID[$1]:-} st
    [[ -n $pid && -r /proc/$pid/stat ]] || return 1
    st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)
    [[ -n $st && $st != Z && $st != X ]]
}

# server_restart NAME : ends our server NAME by its PID (TERM, then KILL) and starts it again.
server_restart()
{
    local name=$1 pid=${SRV_PID[$1]:-} i
    if [[ -n $pid ]] && server_alive "$name"; then
        kill -TERM "$pid" 2>/dev/null
        for i in 1 2 3 4 5 6 7 8 9 10; do server_alive "$name" || break; sleep 0.2; done
        server_alive "$name" && kill -KILL "$pid" 2>/dev/null
        sleep 0.2
    fi
    cat "$(ns_bg_log "$pid")" >>"$OUT/servers/$name.log" 2>/dev/null
    say "restarting server $name"
    echo "restart $name $(date -u +%H:%M:%S)" >>"$OUT/servers/restarts.txt"
    server_start "$name"
}

# server_cpu NAME : CPU seconds (utime + stime + reaped children) of server NAME's process so far, in ticks.
server_cpu()
{
    local pid=${SRV_PID[$1]}
    awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo NA
}

for s in vmtp iperf3 iperf2 iperf2u nuttcp sockperf sockperf_tcp; do
    server_start "$s" || { say "cannot start server $s"; exit 1; }
done
say "namespaces $CLI / $SRV, servers up (results in $OUT)"

# --- measurement helpers -------------------------------------------------------------------------------------------

echo 'round,position,metric,tool,quantity,value,load1,raw' >"$CSV"
ROUND=0 POS=0 LOAD1=

record() # METRIC TOOL QUANTITY VALUE
{
    local v=$4
    [[ $v =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] || v=NA
    printf '%s,%s,%s,%s,%s,%s,%s,%s\n' "$ROUND" "$POS" "$1" "$2" "$3" "$v" "$LOAD1" "raw/$TAG" >>"$CSV"
}

warn()
{
    say "WARNING: $*"
    printf '%s\n' "$*" >>"$OUT/warnings.txt"
}

# num VALUE... : succeeds if every VALUE is a number.
num()
{
    local v
    for v in "$@"; do [[ $v =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] || return 1; done
}

# div A B [SCALE] : A / B * SCALE, or NA.
div()
{
    num "$1" "$2" || { echo NA; return; }
    awk -v a="$1" -v b="$2" -v s="${3:-1}" 'BEGIN { if (b == 0) print "NA"; else printf "%.6g\n", a / b * s }'
}

wire_rx() # prints "packets bytes" received by the server's veth so far
{
    ip -n "$SRV" -s -j link show veth0 2>/dev/null | jq -r '.[0].stats64.rx | "\(.packets) \(.bytes)"' 2>/dev/null ||
        echo "NA NA"
}

udp_rcvbuf_errors() # the server namespace's Udp RcvbufErrors so far
{
    ip netns exec "$SRV" cat /proc/net/snmp 2>/dev/null | awk '
        $1 == "Udp:" && !h { for (i = 2; i <= NF; i++) col[$i] = i; h = 1; next }
        $1 == "Udp:" && h { print $(col["RcvbufErrors"]); exit }'
}

# client_run TIMEOUT_S CMD... : runs CMD in the client namespace under timeout; stdout to $RAW/$TAG.out, stderr
# to .err. Sets RUN_RC, RUN_CPU (client CPU seconds, user + system, from the shell's `times` for its children:
# the rusage of the process and everything it waited for) and RUN_WALL (seconds).
client_run()
{
    local tmo=$1 t0 t1
    shift
    printf '%s\n' "$*" >"$RAW/$TAG.cmd"
    t0=$(date +%s%N)
    (
        ip netns exec "$CLI" timeout -k 3 "$tmo" "$@" >"$RAW/$TAG.out" 2>"$RAW/$TAG.err"
        rc=$?
        times >"$RAW/$TAG.times"
        exit $rc
    )
    RUN_RC=$?
    t1=$(date +%s%N)
    RUN_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }')
    RUN_CPU=$(awk 'NR == 2 {
        s = 0
        for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); s += p[1] * 60 + p[2] }
        printf "%.3f\n", s }' "$RAW/$TAG.times" 2>/dev/null)
    [[ -n $RUN_CPU ]] || RUN_CPU=NA
    if ((RUN_RC != 0)); then
        say "  $TAG: exit status $RUN_RC$( ((RUN_RC == 124 || RUN_RC == 137)) && echo ' (timed out)'): $(
            tail -n 2 "$RAW/$TAG.err" | tr '\n' ' ')"
    fi
}

# log_lines FILE : number of lines in FILE (0 if absent).
log_lines()
{
    if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi
}

# wait_new_line FILE BEFORE : waits up to 5 s for FILE to have more than BEFORE lines; prints the first new line.
wait_new_line()
{
    local i
    for ((i = 0; i < 50; i++)); do
        if (($(log_lines "$1") > $2)); then
            sleep 0.1
            sed -n "$(($2 + 1))p" "$1"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

csv_field() # LINE N : the Nth comma-separated field
{
    printf '%s\n' "$1" | awk -F, -v n="$2" '{ print $n }'
}

kv() # FILE KEY : the value of KEY=value in nuttcp's -fparse output
{
    awk -v k="$2" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$1"
}

jqr() # FILE EXPR
{
    jq -r "$2" "$1" 2>/dev/null | head -n1 | grep -E '^-?[0-9]' || echo NA
}

# --- one throughput run (tcp, udp1470, udp64) ---------------------------------------------------------------------

# throughput_run METRIC TOOL : runs TOOL's client for METRIC, with before/after snapshots of the server's process
# CPU, the server veth's receive counters and the server namespace's UDP RcvbufErrors; records the figures.
throughput_run()
{
    local metric=$1 tool=$2 srv tmo=$((DUR + 25)) lines=0 line='' c0 c1 w0 w1 wb0 wb1 r0 r1 f
    local rx_bytes=NA rate=NA loss=NA total=NA lost=NA rx_pkts=NA tx_pps=NA pps=NA sock=NA sdrops=NA
    case $tool in
    vmtp-node*) srv=vmtp ;;
    iperf3*) srv=iperf3 ;;
    iperf2) [[ $metric == tcp ]] && srv=iperf2 || srv=iperf2u ;;
    nuttcp) srv=nuttcp ;;
    esac
    server_alive "$srv" || server_restart "$srv"
    f=$(ns_bg_log "${SRV_PID[$srv]}")
    lines=$(log_lines "$f")
    c0=$(server_cpu "$srv")
    read -r w0 wb0 < <(wire_rx)
    r0=$(udp_rcvbuf_errors)

    case $metric/$tool in
    tcp/vmtp-node) client_run "$tmo" "$VMTP" tcp "$DST" --time "$DUR" --interval 0 --json ;;
    tcp/iperf3) client_run "$tmo" iperf3 -c "$DST" -p 5201 -t "$DUR" -J ;;
    tcp/iperf2) client_run "$tmo" iperf -c "$DST" -p 5002 -t "$DUR" -y C ;;
    tcp/nuttcp) client_run "$tmo" nuttcp -P5010 -p5011 -T"$DUR" -fparse "$DST" ;;
    udp1470/vmtp-node) client_run "$tmo" "$VMTP" udp "$DST" --rate 1G --len 1470 --time "$DUR" --interval 0 --json ;;
    udp1470/vmtp-node-gso) client_run "$tmo" "$VMTP" udp "$DST" --rate 1G --len 1470 --time "$DUR" --gso --interval 0 --json ;;
    udp1470/iperf3) client_run "$tmo" iperf3 -c "$DST" -p 5201 -u -b 1G -l 1470 -t "$DUR" -J ;;
    udp1470/iperf3-w4M) client_run "$tmo" iperf3 -c "$DST" -p 5201 -u -b 1G -l 1470 -t "$DUR" -w 4M -J ;;
    udp1470/vmtp-node-rcvbuf*)
        client_run "$tmo" "$VMTP" udp "$DST" --rate 1G --len 1470 --time "$DUR" --rcvbuf "$RMEM_DEFAULT" --interval 0 --json ;;
    # iperf2 reads -b 1G as 2^30 bit/s: give the exact number
    udp1470/iperf2) client_run "$tmo" iperf -c "$DST" -p 5003 -u -b 1000000000 -l 1470 -t "$DUR" -y C ;;
    udp1470/nuttcp) client_run "$tmo" nuttcp -P5010 -p5011 -u -R1g -l1470 -T"$DUR" -fparse "$DST" ;;
    udp64/vmtp-node) client_run "$tmo" "$VMTP" udp "$DST" --rate 0 --len 64 --time "$DUR" --interval 0 --json ;;
    udp64/vmtp-node-gso) client_run "$tmo" "$VMTP" udp "$DST" --rate 0 --len 64 --time "$DUR" --gso --interval 0 --json ;;
    udp64/iperf3) client_run "$tmo" iperf3 -c "$DST" -p 5201 -u -b 0 -l 64 -t "$DUR" -J ;;
    udp64/iperf3-w4M) client_run "$tmo" iperf3 -c "$DST" -p 5201 -u -b 0 -l 64 -t "$DUR" -w 4M -J ;;
    udp64/vmtp-node-rcvbuf*)
        client_run "$tmo" "$VMTP" udp "$DST" --rate 0 --len 64 --time "$DUR" --rcvbuf "$RMEM_DEFAULT" --interval 0 --json ;;
    # iperf2 refuses -b 0 (an infinite inter-packet gap); 100G is a 5 ns gap, i.e. as fast as it goes
    udp64/iperf2) client_run "$tmo" iperf -c "$DST" -p 5003 -u -b 100G -l 64 -t "$DUR" -y C ;;
    # nuttcp: UDP defaults to 1 Mbit/s; -R0 lifts the limit
    udp64/nuttcp) client_run "$tmo" nuttcp -P5010 -p5011 -u -R0 -l64 -T"$DUR" -fparse "$DST" ;;
    esac
    if [[ $tool == iperf2 ]]; then
        line=$(wait_new_line "$f" "$lines") || line=
        if [[ -z $line ]]; then
            warn "$TAG: no report from iperf2's server within 5 s (server restarted)"
            ((RUN_RC)) || RUN_RC=1
        fi
        printf '%s\n' "$line" >"$RAW/$TAG.server.csv"
    else
        sleep 0.3 # let the server finish its side of the test before its CPU is read
    fi
    c1=$(server_cpu "$srv")
    read -r w1 wb1 < <(wire_rx)
    r1=$(udp_rcvbuf_errors)
    local o=$RAW/$TAG.out len=1470
    [[ $metric == udp64 ]] && len=64

    case $tool in
    vmtp-node*)
        if [[ $metric == tcp ]]; then
            rate=$(div "$(jqr "$o" .throughput_kbps)" 1 1e-6)
            rx_bytes=$(jqr "$o" .bytes)
        else
            rate=$(div "$(jqr "$o" .throughput_kbps)" 1000) # Mbit/s
            rx_pkts=$(jqr "$o" .rx_packets)
            total=$(jqr "$o" .tx_packets)
            lost=$(jqr "$o" .lost)
            sock=$(jqr "$o" .lost_socket)
            record "$metric" "$tool" lost_network_pkts "$(jqr "$o" .lost_network)"
            rx_bytes=$(jqr "$o" .bytes)
            pps=$(div "$rx_pkts" "$(jqr "$o" .duration_s)")
            tx_pps=$(div "$(jqr "$o" .offered_kbps)" "$len" 125)
        fi
        ;;
    iperf3*)
        if [[ $metric == tcp ]]; then
            rate=$(div "$(jqr "$o" .end.sum_received.bits_per_second)" 1e9)
            rx_bytes=$(jqr "$o" .end.sum_received.bytes)
        else
            rate=$(div "$(jqr "$o" .end.sum_received.bits_per_second)" 1e6)
            rx_bytes=$(jqr "$o" .end.sum_received.bytes)
            total=$(jqr "$o" .end.sum_received.packets)
            lost=$(jqr "$o" .end.sum_received.lost_packets)
            num "$total" "$lost" && rx_pkts=$((total - lost))
            pps=$(div "$rx_pkts" "$(jqr "$o" .end.sum_received.seconds)")
            tx_pps=$(div "$(jqr "$o" .end.sum_sent.packets)" "$(jqr "$o" .end.sum_sent.seconds)")
        fi
        ;;
    iperf2)
        # server CSV: date,src,sport,dst,dport,id,interval,bytes,bit/s[,jitter_ms,lost,total,lost%,out_of_order]
        if [[ -n $line ]]; then
            rx_bytes=$(csv_field "$line" 8)
            if [[ $metric == tcp ]]; then
                rate=$(div "$(csv_field "$line" 9)" 1e9)
            else
                rate=$(div "$(csv_field "$line" 9)" 1e6)
                lost=$(csv_field "$line" 11)
                total=$(csv_field "$line" 12)
                num "$total" "$lost" && rx_pkts=$((total - lost))
                pps=$(div "$(csv_field "$line" 9)" "$len" 0.125) # bit/s / (8 * len): uses the exact duration
                # the client's own line: sent bytes and bit/s
                tx_pps=$(div "$(awk -F, 'NR == 1 { print $9 }' "$o")" "$len" 0.125)
            fi
        fi
        ;;
    nuttcp)
        # megabytes are MiB; rate_Mbps is 10^6 bit/s, at the receiver
        rx_bytes=$(div "$(kv "$o" megabytes)" 1 1048576)
        if [[ $metric == tcp ]]; then
            rate=$(div "$(kv "$o" rate_Mbps)" 1000)
        else
            rate=$(kv "$o" rate_Mbps)
            total=$(kv "$o" pkt)
            lost=$(kv "$o" drop)
            num "$total" "$lost" && rx_pkts=$((total - lost))
            pps=$(div "$rx_pkts" "$(kv "$o" real_seconds)")
            tx_pps=$(div "$total" "$(kv "$o" real_seconds)") # pkt: datagrams sent (by sequence number)
        fi
        ;;
    esac
    num "$total" "$lost" && loss=$(div "$lost" "$total" 100)
    num "$r0" "$r1" && sdrops=$((r1 - r0))
    num "$sock" || sock=$sdrops # vmtp-node reports its own socket's drops; peers: the namespace's RcvbufErrors
    local ccpu=$RUN_CPU scpu=NA cpu_gb=NA cpu_gb_sent=NA wire_pkts=NA wire_bytes=NA
    num "$c0" "$c1" && scpu=$(div "$((c1 - c0))" "$TICK")
    num "$w0" "$w1" && wire_pkts=$((w1 - w0))
    num "$wb0" "$wb1" && wire_bytes=$((wb1 - wb0))
    if num "$ccpu" "$scpu" "$rx_bytes"; then
        cpu_gb=$(awk -v c="$ccpu" -v s="$scpu" -v b="$rx_bytes" 'BEGIN { if (b > 0) printf "%.4f\n", (c + s) / (b / 1e9); else print "NA" }')
    fi
    # UDP: per GB *sent* too, so that a tool losing packets does not look cheaper per GB for it
    if num "$ccpu" "$scpu" "$total"; then
        cpu_gb_sent=$(awk -v c="$ccpu" -v s="$scpu" -v n="$total" -v l="$len" 'BEGIN { if (n > 0) printf "%.4f\n", (c + s) / (n * l / 1e9); else print "NA" }')
    fi
    # Sanity: nobody can have received more than the server's veth delivered.
    if num "$rx_pkts" "$wire_pkts" && ((rx_pkts > wire_pkts)); then
        warn "$TAG: $tool reports $rx_pkts datagrams received but the server's veth received only $wire_pkts packets"
    fi
    if num "$rx_bytes" "$wire_bytes" && awk -v a="$rx_bytes" -v b="$wire_bytes" 'BEGIN { exit !(a > b) }'; then
        warn "$TAG: $tool reports $rx_bytes bytes received but the server's veth received only $wire_bytes bytes"
    fi
    if ((RUN_RC != 0)); then
        warn "$TAG: exit status $RUN_RC (figures discarded; server $srv restarted)"
        rate=NA loss=NA pps=NA cpu_gb=NA cpu_gb_sent=NA # a failed run is not a figure
        server_restart "$srv"
    fi
    if [[ $metric == tcp ]]; then
        record "$metric" "$tool" goodput_gbps "$rate"
    else
        record "$metric" "$tool" rx_mbps "$rate"
        record "$metric" "$tool" loss_pct "$loss"
        record "$metric" "$tool" rx_pps "$pps"
        record "$metric" "$tool" tx_pps "$tx_pps"
        record "$metric" "$tool" sent_pkts "$total"
        record "$metric" "$tool" lost_pkts "$lost"
        record "$metric" "$tool" socket_drop_pkts "$sock"
        record "$metric" "$tool" ns_rcvbuf_errors "$sdrops"
        record "$metric" "$tool" wire_rx_pkts "$wire_pkts"
        record "$metric" "$tool" cpu_s_per_gb_sent "$cpu_gb_sent"
    fi
    record "$metric" "$tool" rx_bytes "$rx_bytes"
    record "$metric" "$tool" wire_rx_bytes "$wire_bytes"
    record "$metric" "$tool" cpu_client_s "$ccpu"
    record "$metric" "$tool" cpu_server_s "$scpu"
    record "$metric" "$tool" cpu_s_per_gb "$cpu_gb"
    record "$metric" "$tool" wall_s "$RUN_WALL"
    if [[ $metric == tcp ]]; then
        say "  $tool: $rate Gbit/s, cpu client $ccpu s + server $scpu s = $cpu_gb s/GB"
    else
        say "  $tool: rx $rate Mbit/s, $pps pkt/s, loss $loss % ($lost of $total; socket $sock), wire $wire_pkts pkts, cpu $ccpu + $scpu s = $cpu_gb s/GB"
    fi
}

# --- one latency run (rr_udp, rr_tcp) -----------------------------------------------------------------------------

latency_run()
{
    local metric=$1 tool=$2 tmo=$((DUR + 25)) o p50 p99 avg k50 path50 lost srv
    [[ $metric == rr_tcp ]] && srv=sockperf_tcp || srv=sockperf
    [[ $tool == vmtp-node ]] && srv=vmtp
    server_alive "$srv" || server_restart "$srv"
    case $metric/$tool in
    rr_udp/vmtp-node) client_run "$tmo" "$VMTP" rr "$DST" --count 0 --time "$DUR" --len 64 --json ;;
    rr_tcp/vmtp-node) client_run "$tmo" "$VMTP" rr "$DST" --proto tcp --count 0 --time "$DUR" --len 64 --json ;;
    rr_udp/sockperf) client_run "$tmo" sockperf ping-pong -i "$DST" -p 11111 -m 64 -t "$DUR" ;;
    rr_tcp/sockperf) client_run "$tmo" sockperf ping-pong --tcp -i "$DST" -p 11112 -m 64 -t "$DUR" ;;
    esac
    o=$RAW/$TAG.out
    if [[ $tool == vmtp-node ]]; then
        p50=$(div "$(jqr "$o" .rtt_user_ns.p50)" 1000)
        p99=$(div "$(jqr "$o" .rtt_user_ns.p99)" 1000)
        avg=$(div "$(jqr "$o" .rtt_user_ns.mean)" 1000)
        k50=$(div "$(jqr "$o" .rtt_kernel_ns.p50)" 1000)
        path50=$(div "$(jqr "$o" .rtt_path_ns.p50)" 1000)
        lost=$(jqr "$o" .lost)
        record "$metric" "$tool" samples "$(jqr "$o" .rtt_user_ns.count)"
        record "$metric" "$tool" kernel_rtt_p50_us "$k50"
        record "$metric" "$tool" path_rtt_p50_us "$path50"
        record "$metric" "$tool" kernel_rtt_p99_us "$(div "$(jqr "$o" .rtt_kernel_ns.p99)" 1000)"
        record "$metric" "$tool" path_rtt_p99_us "$(div "$(jqr "$o" .rtt_path_ns.p99)" 1000)"
        record "$metric" "$tool" headline_latency_p50_us "$(div "$(jqr "$o" .latency_ns.p50)" 1000)"
    else
        # sockperf's ping-pong "latency" is half the round trip: double it
        p50=$(div "$(awk '/percentile 50\.000 =/ { print $NF; exit }' "$o")" 1 2)
        p99=$(div "$(awk '/percentile 99\.000 =/ { print $NF; exit }' "$o")" 1 2)
        avg=$(div "$(sed -n 's/.*avg-latency=\([0-9.]*\).*/\1/p' "$o" | head -n1)" 1 2)
        lost=$(sed -n 's/.*# dropped messages = \([0-9]*\).*/\1/p' "$o" | head -n1)
        record "$metric" "$tool" samples "$(sed -n 's/.*Total \([0-9]*\) observations.*/\1/p' "$o" | head -n1)"
    fi
    if ((RUN_RC != 0)); then
        warn "$TAG: exit status $RUN_RC (figures discarded; server $srv restarted)"
        p50=NA p99=NA avg=NA
        server_restart "$srv"
    fi
    record "$metric" "$tool" rtt_p50_us "$p50"
    record "$metric" "$tool" rtt_p99_us "$p99"
    record "$metric" "$tool" rtt_mean_us "$avg"
    record "$metric" "$tool" lost "$lost"
    record "$metric" "$tool" wall_s "$RUN_WALL"
    if [[ $tool == vmtp-node ]]; then
        say "  $tool: user RTT p50 $p50 us p99 $p99 us; kernel p50 $k50 us; path p50 $path50 us; lost $lost"
    else
        say "  $tool: RTT (2 x one-way) p50 $p50 us p99 $p99 us; dropped $lost"
    fi
}

# --- the rounds ----------------------------------------------------------------------------------------------------

tools_of()
{
    case $1 in
    tcp) echo "vmtp-node iperf3 iperf2 nuttcp" ;;
    udp1470 | udp64)
        if ((EQUAL_BUFFERS)); then
            echo "vmtp-node iperf3 iperf2 nuttcp vmtp-node-gso iperf3-w4M vmtp-node-rcvbuf$((RMEM_DEFAULT / 1024))K"
        else
            echo "vmtp-node iperf3 iperf2 nuttcp vmtp-node-gso"
        fi
        ;;
    rr_udp | rr_tcp) echo "vmtp-node sockperf" ;;
    esac
}

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    say "round $ROUND/$ROUNDS: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "round $ROUND $(date -u +%H:%M:%S) loadavg $(cat /proc/loadavg)" >>"$OUT/load.txt"
    for metric in ${METRICS//,/ }; do
        read -r -a tl <<<"$(tools_of "$metric")"
        n=${#tl[@]}
        for ((i = 0; i < n; i++)); do
            tool=${tl[$(((i + ROUND - 1) % n))]}
            POS=$((i + 1))
            TAG=r${ROUND}-${metric}-${POS}-${tool}
            LOAD1=$(cut -d' ' -f1 /proc/loadavg)
            say " $metric [$POS/$n] $tool"
            case $metric in
            tcp | udp1470 | udp64) throughput_run "$metric" "$tool" ;;
            rr_udp | rr_tcp) latency_run "$metric" "$tool" ;;
            esac
            sleep "$GAP"
        done
    done
done

LOAD_END=$(uptime)
load_snapshot end
say "load after: $LOAD_END"
for s in "${!SRV_PID[@]}"; do
    cat "$(ns_bg_log "${SRV_PID[$s]}")" >>"$OUT/servers/$s.log" 2>/dev/null
done
ELAPSED=$(awk -v a="$T0_NS" -v b="$(date +%s%N)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')

# --- summary -------------------------------------------------------------------------------------------------------

# summary.csv: metric,tool,quantity,n,median,min,max,paired_ratio_median (per-round ratio to the metric's reference)
awk -F, '
    NR == 1 || $6 == "NA" { next }
    { k = $3 SUBSEP $4 SUBSEP $5; vals[k] = vals[k] " " $6; cnt[k]++; by[$3, $4, $5, $1] = $6 }
    END {
        print "metric,tool,quantity,n,median,min,max"
        for (k in vals) {
            n = split(substr(vals[k], 2), v, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
            med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            split(k, p, SUBSEP)
            printf "%s,%s,%s,%d,%.6g,%.6g,%.6g\n", p[1], p[2], p[3], n, med, v[1], v[n]
        }
    }' "$CSV" | { read -r h; echo "$h"; sort; } >"$OUT/summary.csv"

# paired ratios: per round, tool / reference, then the median over rounds
paired_ratio() # METRIC TOOL QUANTITY REF
{
    awk -F, -v m="$1" -v t="$2" -v q="$3" -v r="$4" '
        NR > 1 && $3 == m && $5 == q && $6 != "NA" { if ($4 == t) a[$1] = $6; if ($4 == r) b[$1] = $6 }
        END {
            n = 0
            for (k in a) if ((k in b) && b[k] + 0 != 0) v[++n] = a[k] / b[k]
            if (!n) { print "NA"; exit }
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
            printf "%.3g\n", (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }' "$CSV"
}

declare -A MED=() MIN=() MAX=() CNT=()
while IFS=, read -r m t q n med mn mx; do
    [[ $m == metric ]] && continue
    MED[$m/$t/$q]=$med MIN[$m/$t/$q]=$mn MAX[$m/$t/$q]=$mx CNT[$m/$t/$q]=$n
done <"$OUT/summary.csv"

fmt() # number with 3-4 significant digits, or –
{
    num "${1:-}" || { echo '–'; return; }
    awk -v v="$1" 'BEGIN { a = v < 0 ? -v : v
        if (a >= 100) printf "%.0f\n", v; else if (a >= 10) printf "%.1f\n", v
        else if (a >= 1) printf "%.2f\n", v; else if (a == 0) print "0"; else printf "%.3g\n", v }'
}

TABLE=$OUT/summary.md
TARGETS=()
{
    echo "| Metric | Tool | Median | Min–max | n | Ratio to ref (of medians; paired) | Target |"
    echo "|---|---|---|---|---|---|---|"
} >"$TABLE"

# row METRIC QUANTITY LABEL SCALE REF [TARGET_OP TARGET_VALUE TARGET_TEXT]
#   SCALE multiplies the stored value for display; REF is the reference tool; the target applies to vmtp-node's
#   ratio of medians (op >= or <=).
row()
{
    local m=$1 q=$2 label=$3 scale=$4 ref=$5 op=${6:-} tv=${7:-} ttext=${8:-} t k med mn mx n ratio pr target rm
    for t in $(tools_of "$m"); do
        k=$m/$t/$q
        [[ -n ${MED[$k]:-} ]] || continue
        med=$(fmt "$(div "${MED[$k]}" 1 "$scale")")
        mn=$(fmt "$(div "${MIN[$k]}" 1 "$scale")")
        mx=$(fmt "$(div "${MAX[$k]}" 1 "$scale")")
        n=${CNT[$k]}
        ratio='–' target=''
        rm=${MED[$m/$ref/$q]:-}
        if [[ -n $ref && $t != "$ref" && -n $rm ]]; then
            ratio=$(div "${MED[$k]}" "$rm")
            pr=$(paired_ratio "$m" "$t" "$q" "$ref")
            ratio="$(fmt "$ratio")× ($(fmt "$pr")×)"
            if [[ -n $op && $t == vmtp-node ]]; then
                if awk -v a="${MED[$k]}" -v b="$rm" -v op="$op" -v x="$tv" 'BEGIN {
                    exit !((op == ">=") ? (a >= x * b) : (a <= x * b)) }'; then
                    target="**yes** ($ttext)"
                else
                    target="**no** ($ttext)"
                fi
                TARGETS+=("$label: ${target//\*/}")
            fi
        elif [[ $t == "$ref" ]]; then
            ratio='ref'
        fi
        printf '| %s | %s | %s | %s–%s | %s | %s | %s |\n' "$label" "$t" "$med" "$mn" "$mx" "$n" "$ratio" "$target"
    done >>"$TABLE"
}

row tcp goodput_gbps "TCP goodput, 1 stream, ${DUR} s (Gbit/s)" 1 iperf3 '>=' 1.0 '≥ 1.0× iperf3'
row udp1470 rx_mbps "UDP 1470 B @ 1 Gbit/s: received (Mbit/s)" 1 iperf3 '>=' 1.0 '≥ iperf3'
row udp1470 loss_pct "UDP 1470 B @ 1 Gbit/s: loss (%)" 1 iperf3 '<=' 1.0 '≤ iperf3'
row udp1470 socket_drop_pkts "UDP 1470 B @ 1 Gbit/s: of which receiving-socket drops (pkts)" 1 ''
row udp64 rx_pps "UDP 64 B unpaced: received (k pkt/s)" 0.001 iperf3 '>=' 1.5 '≥ 1.5× iperf3'
row udp64 tx_pps "UDP 64 B unpaced: sent (k pkt/s)" 0.001 iperf3
row udp64 loss_pct "UDP 64 B unpaced: loss (%)" 1 iperf3
row rr_udp rtt_p50_us "UDP ping-pong 64 B: RTT p50, user-space (µs)" 1 sockperf '<=' 1.0 '≤ sockperf'
row rr_udp rtt_p99_us "UDP ping-pong 64 B: RTT p99, user-space (µs)" 1 sockperf
row rr_udp kernel_rtt_p50_us "UDP ping-pong 64 B: vmtp kernel-stamped RTT p50 (µs)" 1 ''
row rr_udp path_rtt_p50_us "UDP ping-pong 64 B: vmtp path RTT p50 = headline latency_ns (µs)" 1 ''
row rr_tcp rtt_p50_us "TCP ping-pong 64 B: RTT p50, user-space (µs)" 1 sockperf
row rr_tcp rtt_p99_us "TCP ping-pong 64 B: RTT p99, user-space (µs)" 1 sockperf
row rr_tcp kernel_rtt_p50_us "TCP ping-pong 64 B: vmtp kernel-stamped RTT p50 (µs)" 1 ''
row rr_tcp path_rtt_p50_us "TCP ping-pong 64 B: vmtp path RTT p50 = headline latency_ns (µs)" 1 ''
row tcp cpu_s_per_gb "CPU s per GB received, TCP (client+server)" 1 iperf3 '<=' 1.0 '≤ iperf3'
row udp1470 cpu_s_per_gb "CPU s per GB received, UDP 1470 B @ 1 Gbit/s (client+server)" 1 iperf3 '<=' 1.0 '≤ iperf3'
row udp1470 cpu_s_per_gb_sent "CPU s per GB sent, UDP 1470 B @ 1 Gbit/s (client+server)" 1 iperf3
row udp1470 cpu_client_s "CPU s of the client, UDP 1470 B @ 1 Gbit/s, ${DUR} s" 1 iperf3
row udp1470 cpu_server_s "CPU s of the server, UDP 1470 B @ 1 Gbit/s, ${DUR} s" 1 iperf3

{
    echo
    echo "Targets (vmtp-node's median against the reference's median):"
    for t in "${TARGETS[@]}"; do echo "- $t"; done
    echo
    echo "Run: $(date -u +%Y-%m-%d), $(uname -r), $(nproc) vCPU; $ROUNDS round(s) of ${DUR} s tests, tool order rotated each round; took ${ELAPSED} s."
    echo "Load before: ${LOAD_START#*load average: }; after: ${LOAD_END#*load average: } (1/5/15-min load averages)."
    echo "Raw figures: $CSV"
    if [[ -s $OUT/warnings.txt ]]; then
        echo
        echo "Warnings during the run:"
        sed 's/^/- /' "$OUT/warnings.txt"
    fi
} >>"$TABLE"

cat "$TABLE"
say "done in ${ELAPSED} s; results in $OUT"
exit 0
