#!/usr/bin/env bash
# selftest_lib.sh — exercises tests/netns/lib.sh on real namespaces: two hosts joined by a veth pair
# (198.18.0.1/30 <-> 198.18.0.2/30), a 100 Mbit/s HTB on a's side, ping across it, an nftables drop rule whose
# counter must equal the known number of dropped datagrams, background processes, port waits, and finally that
# ns_cleanup leaves nothing behind. Exit 0 pass, 1 fail, 77 skip (not root, no netns, missing tools).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

ns_init
ns_require ping nft tc ss jq

# Udp counter NAME of /proc/net/snmp in namespace NS (the reader's namespace decides which counters it sees).
udp_snmp()
{
    ns_exec "$1" cat /proc/net/snmp | awk -v want="$2" '
        $1 == "Udp:" && !hdr { for (i = 2; i <= NF; i++) col[$i] = i; hdr = 1; next }
        $1 == "Udp:" && hdr { print $(col[want]); exit }'
}

# --- the library refuses to run unprivileged (the lib's text is passed in, so file permissions do not matter) --
if command -v setpriv >/dev/null 2>&1; then
    rc=0
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH="$PATH" \
        bash -c "$(cat "$here/lib.sh"); ns_init; echo NOT-SKIPPED" 2>&1) || rc=$?
    assert_cmp "unprivileged ns_init exits 77" "$rc" == 77
    assert_cmp "unprivileged ns_init says SKIP" "$(grep -c '^SKIP: needs root' <<<"$out" || true)" == 1
fi

# --- topology ------------------------------------------------------------------------------------------------------
a=$(ns_add a)
b=$(ns_add b)
assert_cmp "ns_add echoes the prefixed name" "$(grep -c "^$NS_PREFIX-a\$" <<<"$a")" == 1
ns_link "$a" veth0 198.18.0.1/30 "$b" veth0 198.18.0.2/30 1500
ns_htb a veth0 100mbit # the short name works as well as the full one

rc=0
ns_link a bad0 10.0.0.1/24 b bad0 10.0.0.2/24 2>/dev/null || rc=$?
assert_cmp "ns_link refuses addresses outside 198.18.0.0/15" "$rc" == 1
rc=0
ns_exec "$NS_PREFIX-unknown" true 2>/dev/null || rc=$?
assert_cmp "a namespace this run did not create is refused" "$rc" == 1

assert_cmp "no default route in a" "$(ns_exec a ip -4 route show default | wc -l)" == 0
assert_cmp "no default route in b" "$(ns_exec b ip -4 route show default | wc -l)" == 0
assert_cmp "root namespace has a route for 198.18.0.0/15" "$(ip -4 route show exact 198.18.0.0/15 | wc -l)" == 1
assert_cmp "only 198.18/15 IPv4 addresses besides loopback" \
    "$(for n in a b; do ns_exec $n ip -4 -o addr show; done | awk '$4 !~ /^(127\.|198\.1[89]\.)/' | wc -l)" == 0
assert_cmp "veth MTU applied" "$(ns_exec b cat /sys/class/net/veth0/mtu)" == 1500

# --- ping across the link, through the HTB class --------------------------------------------------------------------
out=$(ns_exec a ping -n -q -c 20 -i 0.01 -W 2 198.18.0.2)
assert_cmp "ping a -> b: 20 replies" "$(awk '/packets transmitted/ { print $4 }' <<<"$out")" == 20
out=$(ns_exec a tc -s class show dev veth0 classid 1:10)
assert_cmp "HTB class 1:10 has rate 100Mbit" "$(grep -c 'rate 100Mbit ceil 100Mbit' <<<"$out")" == 1
assert_cmp "HTB class 1:10 carried the echo requests" "$(awk '/Sent/ { print $4; exit }' <<<"$out")" '>=' 20

# --- nftables ground-truth loss --------------------------------------------------------------------------------
# 10 datagrams to a port nobody listens on; every 4th (numgen 0, 4, 8) is dropped by the rule: exactly 3. The other
# 7 reach b's UDP layer and count as NoPorts, so drops + NoPorts must add up to what was sent.
port=9999 sent=10 mod=4
ns_nft_drop_udp b "$port" "$mod"
assert_cmp "drop counter starts at 0" "$(ns_nft_counter b "$port")" == 0
noports0=$(udp_snmp b NoPorts)
# Each redirection opens a new UDP socket, so an ICMP port-unreachable cannot fail the next send.
# shellcheck disable=SC2016 # expanded by the inner bash
ns_exec a bash -c 'for ((i = 0; i < $1; i++)); do printf x >"/dev/udp/198.18.0.2/$2"; done' _ "$sent" "$port"
# Delivery on veth completes in softirq context: wait (bounded) until every datagram is accounted for.
for ((i = 0; i < 100; i++)); do
    dropped=$(ns_nft_counter b "$port")
    noports=$(($(udp_snmp b NoPorts) - noports0))
    ((dropped + noports < sent)) || break
    sleep 0.05
done
assert_cmp "nft counter = ceil(sent / mod)" "$dropped" == $(((sent + mod - 1) / mod))
assert_cmp "the rest reached b's UDP layer (NoPorts)" "$noports" == $((sent - (sent + mod - 1) / mod))
assert_cmp "ns_nft_counter without port sums our rules" "$(ns_nft_counter b)" == "$dropped"
assert_cmp "our nft table exists in b" "$(ns_exec b nft list tables | grep -c "inet $NS_NFT_TABLE\$")" == 1

# --- json and tolerance helpers -------------------------------------------------------------------------------------
assert_cmp "json_get on a string" "$(json_get '{"a":{"b":3}}' .a.b)" == 3
rc=0
json_get '{"a":1}' .missing >/dev/null || rc=$?
assert_cmp "json_get: null is status 1" "$rc" == 1
assert_within "assert_within accepts 95 for 100 +-5%" 95 100 5

# --- background processes and port waits -------------------------------------------------------------------------
rc=0
ns_wait_port b tcp 5201 0.3 || rc=$?
assert_cmp "ns_wait_port times out when nothing listens" "$rc" == 1

pids=()
if command -v iperf3 >/dev/null 2>&1; then
    pid=$(ns_bg b iperf3 -s -B 198.18.0.2 -p 5201)
    pids+=("$pid")
    rc=0
    ns_wait_port b tcp 5201 10 || rc=$?
    assert_cmp "iperf3 server listens (tcp)" "$rc" == 0
    # HTB counts Ethernet frames: TCP goodput = rate * 1448/1514 with timestamps (TESTBED "Rate").
    json=$(ns_exec a iperf3 -c 198.18.0.2 -p 5201 -t 3 -J)
    bps=$(json_get "$json" .end.sum_received.bits_per_second)
    assert_within "TCP goodput through 100mbit HTB" "$bps" "$(awk 'BEGIN { print 100e6 * 1448 / 1514 }')" 10
else
    echo "SKIP (part): iperf3 not installed, no TCP listener / HTB rate check"
fi
if command -v iperf >/dev/null 2>&1; then
    pid=$(ns_bg b iperf -s -u -B 198.18.0.2 -p 5202)
    pids+=("$pid")
    rc=0
    ns_wait_port b udp 5202 10 || rc=$?
    assert_cmp "iperf2 server listens (udp)" "$rc" == 0
else
    echo "SKIP (part): iperf (iperf2) not installed, no UDP listener check"
fi

# A process that ignores SIGTERM (ns_cleanup must escalate to SIGKILL), and one that "daemonizes" away from its
# recorded PID (ns_cleanup must find it inside our namespace).
pids+=("$(ns_bg a bash -c 'trap "" TERM; while :; do sleep 0.2; done')")
daemon_file="$NS_STATE/daemon.pid"
# shellcheck disable=SC2016 # expanded by the inner bash
ns_bg a bash -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! >"$1"' _ "$daemon_file" >/dev/null
for ((i = 0; i < 100; i++)); do
    [[ -s $daemon_file ]] && break
    sleep 0.05
done
daemon=$(cat "$daemon_file" 2>/dev/null || echo none)
pids+=("$daemon")
for p in "${pids[@]}"; do
    assert_cmp "process $p alive before cleanup" "$(kill -0 "$p" 2>/dev/null && echo 1 || echo 0)" == 1
done

# --- cleanup leaves nothing behind ----------------------------------------------------------------------------------
prefix=$NS_PREFIX table=$NS_NFT_TABLE state=$NS_STATE
vmtp_route=0 # did a vmtp run (this or a concurrent one) add the unreachable route?
if [[ -e $NS_ROUTE_DIR/route-added ]]; then vmtp_route=1; fi
ns_cleanup 0
ns_cleanup 0 # idempotent
assert_cmp "no namespace with our prefix remains" "$(ip netns list | grep -c "^$prefix-" || true)" == 0
assert_cmp "no nft table of ours in the root namespace" "$(nft list tables | grep -c "$table" || true)" == 0
for p in "${pids[@]}"; do
    alive=0
    if [[ -r /proc/$p/stat ]] && [[ $(awk '{ print $3 }' "/proc/$p/stat") != Z ]]; then alive=1; fi
    assert_cmp "process $p ended by cleanup" "$alive" == 0
done
assert_cmp "this run is no longer a user of the route" "$([[ -e $NS_ROUTE_DIR/user.$prefix ]] && echo 1 || echo 0)" == 0
# Other vmtp runs (ctest -j) may share the route; it must outlive them and go with the last one, and a route that
# vmtp did not add must stay.
others=0
for f in "$NS_ROUTE_DIR"/user.*; do
    [[ -e $f ]] || continue
    read -r p _ <"$f" || continue
    if kill -0 "$p" 2>/dev/null; then others=$((others + 1)); fi
done
routes=$(ip -4 route show exact 198.18.0.0/15 | wc -l)
if ((others > 0)); then
    assert_cmp "route kept while $others other run(s) use it" "$routes" == 1
elif ((vmtp_route)); then
    assert_cmp "the unreachable route vmtp added was removed" "$routes" == 0
else
    assert_cmp "a 198.18.0.0/15 route vmtp did not add was kept" "$routes" == 1
fi
assert_cmp "state directory removed" "$([[ -e $state ]] && echo 1 || echo 0)" == 0

finish
