#!/usr/bin/env bash
# robustness.sh — vmtp-node's server under hostile and failing conditions.
#
# Topology: namespaces c (good client, 198.18.0.1/30), s (server, 198.18.0.2/30 towards c and 198.18.0.6/30
# towards x) and x (attacker, 198.18.0.5/30); one veth pair c<->s, one x<->s. The server listens on every address
# of s. The truth for the good client's figures is injected: an HTB class of 100 Mbit/s on c's veth (TCP goodput
# R * 1448/1514, TESTBED.md "Rate"); the UDP test's offered payload rate is 20 Mbit/s, far under the cap, so
# everything offered must arrive.
#
#  1. Garbage: while a good client runs a 4 s `vmtp-node tcp` (--omit 1) and then a 3 s `udp --rate 20M`, processes
#     in x throw at the server port (each is a bash loop; every one must have reached the server at least once
#     before the good client starts, and keep going until it is done):
#       - random bytes over many short TCP connections;
#       - connections with a valid-looking control greeting "VMTPDP\x01\x01" followed by junk frames (consistent
#         length prefixes, every message type and some unknown ones, random bodies);
#       - greetings followed by huge or absurd length prefixes (0xffffffff, DP_FRAME_MAX + 1, 0), by a data-kind
#         greeting with a random cookie, or by another protocol version;
#       - connections that send half a greeting and then hold the socket open, silent (slow clients);
#       - random UDP datagrams, and UDP datagrams that carry vmtp's datagram magic with random kinds and sequence
#         numbers (forged hellos / data).
#     The good client must succeed: tcp goodput within +-3 % of R * 1448/1514; udp throughput within +-3 % of
#     20 Mbit/s with nothing lost, no duplicates, rx_packets == tx_packets. Afterwards the server must still run and
#     serve a fresh `rr --count 1000` (every request answered); its peak resident set (VmHWM) stays <= 8 MiB,
#     so no length prefix was trusted for an allocation.
#  2. Unreachable target: a client pointed at a port of s where an nft rule drops everything, and at an address
#     routed only onto c's veth but assigned nowhere (ARP goes unanswered; no packet leaves the namespaces) must fail
#     with exit status 1 and a message containing "cannot connect", after --connect-timeout 2 and within 2 + 2 s.
#  3. A bad option exits 2.
#  4. Three concurrent 3 s tcp clients against one server (started together with --start-at) all succeed — no
#     "server is busy" — and their bytes over the longest window add up to R * 1448/1514 within +-3 %.
# Usage: robustness.sh BINDIR (ctest passes build/bin). Exit 0 pass, 1 fail, 77 skip.
# shellcheck disable=SC2317 # the attacker functions run in other processes (bash -c "$(declare -f ...)")
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bindir=${1:-$here/../../build/bin}
port=5001
dead_port=5999
rate_bps=100000000
goodput_kbps=$(awk -v r="$rate_bps" 'BEGIN { printf "%.3f", r / 1000 * 1448 / 1514 }')

ns_init
ns_require nft tc jq ss awk
vmtp_node_require "$bindir"



now_ns()
{
    date +%s%N
}

c=$(ns_add c)
s=$(ns_add s)
x=$(ns_add x)
ns_link "$c" veth0 198.18.0.1/30 "$s" veth0 198.18.0.2/30 1500
ns_link "$x" veth0 198.18.0.5/30 "$s" veth1 198.18.0.6/30 1500
ns_htb c veth0 100mbit

server=$(ns_bg s "$node" server --port "$port")
rc=0
ns_wait_port s tcp "$port" 10 && ns_wait_port s udp "$port" 10 || rc=$?
assert_cmp "vmtp-node server listens on tcp and udp port $port" "$rc" == 0
((rc == 0)) || finish

# --- 1. garbage at the server while a good client measures ------------------------------------------------------
# Each attacker is a bash loop in x: it replaces its progress file ("attempts connected", written aside and renamed
# so that a reader never sees it half-written) after every attempt.
# SIGPIPE is ignored so that writing to a connection the server has closed fails instead of ending the loop.

# Random bytes over a fresh TCP connection each time.
atk_tcp_random()
{
    local ip=$1 port=$2 file=$3 n=0 ok=0 connected
    trap '' PIPE
    while :; do
        connected=0
        { connected=1; head -c 4096 /dev/urandom >&3; } 2>/dev/null 3>"/dev/tcp/$ip/$port" || true
        n=$((n + 1)) ok=$((ok + connected))
        echo "$n $ok" >"$file.tmp" && mv -f "$file.tmp" "$file"
        sleep 0.01
    done
}

# A control greeting, then junk frames: length prefix (u32 big-endian, counting type + body), a type byte (every
# known message type and unknown ones), a random body of that length.
atk_tcp_frames()
{
    local ip=$1 port=$2 file=$3 n=0 ok=0 connected t len
    trap '' PIPE
    while :; do
        connected=0
        {
            connected=1
            printf 'VMTPDP\x01\x01'
            for t in 1 2 3 4 5 6 7 8 9 0 10 200 255 1 7; do
                len=$((RANDOM % 600 + 1))
                printf '%b' "\\x$(printf %02x $((len >> 24 & 255)))\\x$(printf %02x $((len >> 16 & 255)))"
                printf '%b' "\\x$(printf %02x $((len >> 8 & 255)))\\x$(printf %02x $((len & 255)))"
                printf '%b' "\\x$(printf %02x "$t")"
                head -c $((len - 1)) /dev/urandom
            done
        } 2>/dev/null 3>"/dev/tcp/$ip/$port" >&3 || true
        n=$((n + 1)) ok=$((ok + connected))
        echo "$n $ok" >"$file.tmp" && mv -f "$file.tmp" "$file"
        sleep 0.01
    done
}

# Greetings followed by absurd length prefixes, a data-kind greeting with a random cookie, a wrong version.
atk_tcp_huge()
{
    local ip=$1 port=$2 file=$3 n=0 ok=0 connected v
    local -a variants=(
        'VMTPDP\x01\x01\xff\xff\xff\xff'       # 4 GiB - 1
        'VMTPDP\x01\x01\x00\x04\x00\x01'       # DP_FRAME_MAX + 1
        'VMTPDP\x01\x01\x7f\xff\xff\xff\x01'   # 2 GiB, type TEST
        'VMTPDP\x01\x01\x00\x00\x00\x00'       # zero length: no type byte
        'VMTPDP\x01\x01\x00\x00\x00\x01\x01'   # TEST with an empty body
        'VMTPDP\x01\x02'                       # data greeting, random cookie follows
        'VMTPDP\x02\x01'                       # another version
        'VMTPDP\x01\x07'                       # unknown kind
    )
    trap '' PIPE
    while :; do
        for v in "${variants[@]}"; do
            connected=0
            { connected=1; printf '%b' "$v"; head -c 2048 /dev/urandom; } 2>/dev/null 3>"/dev/tcp/$ip/$port" >&3 || true
            n=$((n + 1)) ok=$((ok + connected))
            echo "$n $ok" >"$file.tmp" && mv -f "$file.tmp" "$file"
        done
        sleep 0.01
    done
}

# Half a greeting, then silence with the connection held open (until ns_cleanup ends the process).
atk_tcp_idle()
{
    local ip=$1 port=$2 file=$3
    exec 3<>"/dev/tcp/$ip/$port" || exit 1
    printf 'VMTPD' >&3
    echo "1 1" >"$file"
    exec sleep 1000
}

# Random datagrams, and forged vmtp datagrams (magic "VMTP", kinds 0..7, random flags/seq/stamp), each from a fresh
# socket (a new source port).
atk_udp()
{
    local ip=$1 port=$2 file=$3 n=0 ok=0 k
    trap '' PIPE
    while :; do
        for k in 0 1 2 3 4 5 6 7; do
            if { head -c $((RANDOM % 1400 + 1)) /dev/urandom >&3; } 2>/dev/null 3>"/dev/udp/$ip/$port"; then
                ok=$((ok + 1))
            fi
            if { printf '%b' "VMTP\\x0$k" >&3; head -c $((RANDOM % 1000 + 35)) /dev/urandom >&3; } \
                2>/dev/null 3>"/dev/udp/$ip/$port"; then
                ok=$((ok + 1))
            fi
            n=$((n + 2))
        done
        echo "$n $ok" >"$file.tmp" && mv -f "$file.tmp" "$file"
        sleep 0.01
    done
}

attackers=(atk_tcp_random atk_tcp_frames atk_tcp_huge atk_udp)
progress()
{
    local f=$NS_STATE/atk-$1 a=0 b=0
    [[ -s $f ]] && read -r a b <"$f"
    printf '%s %s\n' "${a:-0}" "${b:-0}"
}
atk_pids=()
for a in "${attackers[@]}"; do
    atk_pids+=("$(ns_bg x bash -c "$(declare -f "$a"); $a 198.18.0.6 $port $NS_STATE/atk-$a")")
done
for i in 1 2 3 4 5 6 7 8 9 10; do
    atk_pids+=("$(ns_bg x bash -c "$(declare -f atk_tcp_idle); atk_tcp_idle 198.18.0.6 $port $NS_STATE/atk-idle$i")")
done
# Wait (bounded) until every attacker has reached the server at least once.
deadline=$(($(now_ns) + 10000000000))
while :; do
    ready=1
    for a in "${attackers[@]}" idle{1..10}; do
        [[ $a == idle* ]] || a=${a#atk-}
        read -r _ ok < <(progress "$a")
        ((ok > 0)) || ready=0
    done
    ((ready)) && break
    (($(now_ns) < deadline)) || break
    sleep 0.05
done
assert_cmp "every attacker reached the server before the good client starts" "$ready" == 1

fails=$_NS_FAIL rc=0
json=$(ns_exec c "$node" tcp 198.18.0.2 --port "$port" --time 4 --omit 1 --interval 0 --json) || rc=$?
assert_cmp "under attack: tcp exit status 0" "$rc" == 0
assert_within "under attack: tcp goodput kbit/s vs R*1448/1514" "$(jget "$json" .throughput_kbps)" "$goodput_kbps" 3
dump_if_failed "$fails" "tcp under attack" "$json"
printf 'INFO: tcp under attack: %s kbit/s (expected %s)\n' "$(jget "$json" .throughput_kbps)" "$goodput_kbps"

fails=$_NS_FAIL rc=0
json=$(ns_exec c "$node" udp 198.18.0.2 --port "$port" --rate 20M --time 3 --interval 0 --json) || rc=$?
tx=$(jget "$json" .tx_packets)
assert_cmp "under attack: udp exit status 0" "$rc" == 0
assert_within "under attack: udp throughput kbit/s vs offered 20000" "$(jget "$json" .throughput_kbps)" 20000 3
assert_cmp "under attack: udp tx_packets > 0" "${tx:-0}" '>' 0
assert_cmp "under attack: udp rx_packets == tx_packets" "$(jget "$json" .rx_packets)" == "${tx:-x}"
assert_cmp "under attack: udp lost == 0" "$(jget "$json" .lost)" == 0
assert_cmp "under attack: udp loss_rate == 0" "$(jget "$json" .loss_rate)" == 0
assert_cmp "under attack: udp duplicates == 0" "$(jget "$json" .duplicates)" == 0
dump_if_failed "$fails" "udp under attack" "$json"
printf 'INFO: udp under attack: %s kbit/s, tx %s rx %s lost %s\n' "$(jget "$json" .throughput_kbps)" "$tx" \
    "$(jget "$json" .rx_packets)" "$(jget "$json" .lost)"

# The attackers were still at it at the end (not stuck on a connection the server never closed, not dead).
for a in "${attackers[@]}"; do
    read -r n0 _ < <(progress "$a")
    deadline=$(($(now_ns) + 5000000000))
    while read -r n1 ok1 < <(progress "$a") && ((n1 <= n0)) && (($(now_ns) < deadline)); do sleep 0.05; done
    printf 'INFO: attacker %s: %s attempts, %s reached the server\n' "$a" "$n1" "$ok1"
    assert_cmp "attacker $a still making progress after the good tests (server not stuck on it)" "$n1" '>' "$n0"
done
idle_alive=0
for pid in "${atk_pids[@]:${#attackers[@]}}"; do
    if kill -0 "$pid" 2>/dev/null; then idle_alive=$((idle_alive + 1)); fi
done
printf 'INFO: %d of 10 silent half-greeting connections still held open by their senders\n' "$idle_alive"
for pid in "${atk_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
done
for pid in "${atk_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
done

alive=0
if kill -0 "$server" 2>/dev/null && [[ $(awk '{ print $3 }' "/proc/$server/stat" 2>/dev/null) != Z ]]; then alive=1; fi
assert_cmp "server still alive after the garbage" "$alive" == 1
# A decoder that trusted a length prefix would have allocated (and touched) up to 4 GiB: the server's peak resident
# set stays at the footprint of an idle server (server_footprint.sh: <= 8 MiB).
hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$server/status" 2>/dev/null || true)
# Sanitizer builds (dynamically linked) carry ASan's shadow memory and quarantine: the footprint
# bound is about the real, static binary.
if ldd "$node" 2>&1 | grep -q 'not a dynamic executable'; then
    assert_cmp "server peak VmHWM (KiB) after the garbage <= 8 MiB" "${hwm:-x}" '<=' 8192
else
    echo "INFO: server peak VmHWM ${hwm:-?} KiB (sanitizer build: the 8 MiB bound applies to the static binary)"
fi
fails=$_NS_FAIL rc=0
json=$(ns_exec c "$node" rr 198.18.0.2 --port "$port" --count 1000 --json) || rc=$?
assert_cmp "after attack: rr exit status 0" "$rc" == 0
assert_cmp "after attack: rr rx_packets == 1000" "$(jget "$json" .rx_packets)" == 1000
dump_if_failed "$fails" "rr after attack" "$json"

# --- 2. unreachable target ----------------------------------------------------------------------------------------
ns_exec s nft -f - <<EOF
table inet ${NS_PREFIX}_bh {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport $dead_port counter drop
        udp dport $dead_port counter drop
    }
}
EOF
# An address in the test range routed onto c's veth and assigned nowhere: ARP for it goes unanswered.
ns_exec c ip route add 198.18.0.200/32 dev veth0

unreachable_check()
{
    local label=$1 out rc=0 t0 t1 ms
    shift
    t0=$(now_ns)
    out=$(ns_exec c "$node" "$@" --connect-timeout 2 --time 1 --json 2>&1) || rc=$?
    t1=$(now_ns)
    ms=$(((t1 - t0) / 1000000))
    assert_cmp "$label: exit status 1" "$rc" == 1
    assert_cmp "$label: says \"cannot connect\"" "$(grep -c 'cannot connect' <<<"$out" || true)" '>=' 1
    assert_cmp "$label: gave up after the 2 s connect timeout (ms)" "$ms" '>=' 1950
    assert_cmp "$label: within connect-timeout + 2 s (ms)" "$ms" '<=' 4000
    printf 'INFO: %s: exit %s after %s ms: %s\n' "$label" "$rc" "$ms" "$(grep -m1 'cannot connect' <<<"$out" || true)"
}
unreachable_check "tcp to a dropping port" tcp 198.18.0.2 --port "$dead_port"
unreachable_check "udp to a dropping port" udp 198.18.0.2 --port "$dead_port" --rate 1M
unreachable_check "tcp to an address assigned nowhere" tcp 198.18.0.200 --port "$port"
assert_cmp "the drop rule saw the SYNs" \
    "$(ns_exec s nft list table inet "${NS_PREFIX}_bh" | awk '/tcp dport/ { print $(NF - 3) }')" '>' 0

# --- 3. bad usage ---------------------------------------------------------------------------------------------------
rc=0
ns_exec c "$node" tcp 198.18.0.2 --no-such-option >/dev/null 2>&1 || rc=$?
assert_cmp "unknown option: exit status 2" "$rc" == 2
rc=0
ns_exec c "$node" udp 198.18.0.2 --len 10 >/dev/null 2>&1 || rc=$?
assert_cmp "udp --len 10 (below 64): exit status 2" "$rc" == 2

# --- 4. three concurrent clients ---------------------------------------------------------------------------------
# Started together at a common CLOCK_REALTIME instant, so that the three measurement windows start together (after
# the same 1 s warm-up) and share the cap. Each receiver's window runs to its last byte, a little past --time
# (what the HTB queue and the socket buffers still held), so the windows end at slightly different instants and
# the plain sum of the three rates would overstate the aggregate; the truth is the bytes of all three over the
# longest window: sum(bytes) * 8 / max(duration_s) = R * 1448/1514.
start_at=$(($(now_ns) + 1500000000))
cpids=()
for i in 1 2 3; do
    ns_exec c "$node" tcp 198.18.0.2 --port "$port" --time 3 --omit 1 --interval 0 --start-at "$start_at" --json \
        >"$NS_STATE/conc-$i.json" 2>"$NS_STATE/conc-$i.err" &
    cpids+=("$!")
done
sum_bytes=0 max_dur=0
for i in 1 2 3; do
    rc=0
    wait "${cpids[$((i - 1))]}" || rc=$?
    json=$(cat "$NS_STATE/conc-$i.json")
    t=$(jget "$json" .throughput_kbps) b=$(jget "$json" .bytes) d=$(jget "$json" .duration_s)
    assert_cmp "concurrent client $i: exit status 0" "$rc" == 0
    assert_cmp "concurrent client $i: goodput > 0" "${t:-0}" '>' 0
    assert_cmp "concurrent client $i: started at --start-at" "$(jget "$json" .start_realtime_ns)" == "$start_at"
    assert_cmp "concurrent client $i: no 'busy' complaint" \
        "$(cat "$NS_STATE/conc-$i.json" "$NS_STATE/conc-$i.err" | grep -ci busy || true)" == 0
    if ((rc != 0)) || [[ -z $t ]]; then
        printf -- '--- concurrent client %s: stdout ---\n%s\n--- stderr ---\n%s\n' "$i" "$json" \
            "$(cat "$NS_STATE/conc-$i.err")"
    fi
    sum_bytes=$((sum_bytes + ${b:-0}))
    max_dur=$(awk -v a="$max_dur" -v b="${d:-0}" 'BEGIN { print (b > a ? b : a) }')
    printf 'INFO: concurrent client %s: %s kbit/s, %s bytes in %s s\n' "$i" "$t" "$b" "$d"
done
assert_within "concurrent clients: aggregate goodput kbit/s (sum of bytes / longest window) vs R*1448/1514" \
    "$(awk -v b="$sum_bytes" -v d="$max_dur" 'BEGIN { printf "%.3f", (d > 0 ? b * 8 / d / 1000 : 0) }')" \
    "$goodput_kbps" 3

# What the server says it rejected (information only: the log's wording is not a contract).
kill -TERM "$server" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$server" 2>/dev/null || [[ $(awk '{ print $3 }' "/proc/$server/stat" 2>/dev/null) == Z ]]; then
        break
    fi
    sleep 0.05
done
printf 'INFO: server log: %s\n' "$(grep -m1 'stopping' "$(ns_bg_log "$server")" || echo '(no summary line)')"

finish
