#!/usr/bin/env bash
# testbed.sh — tools/testbed: the namespace "cloud" (compute nodes joined by VXLAN, tenant networks, a NAT router
# with floating IPs, VMs and hosts with a real sshd) is built as documented, carries traffic where it should, its
# ground truths hold, concurrent testbeds do not collide, and every exit path leaves nothing behind.
#
# Usage: testbed.sh BINDIR   (BINDIR holds vmtp-node; root; exit 77 when sshd, nft, ssh, ping, tc or jq is missing)
#
# Testbed A: `up --cap-underlay 200mbit --loss-router 25`. Checks:
#   - `up` prints NAME and the inventory path; the inventory has the documented keys, 5 VMs with their placements;
#   - OpenSSH (BatchMode, strict host keys from the testbed's known_hosts) reaches every VM by its floating IP, cn1,
#     cn2 and the external host; each answers from the right namespace (hostname, `ip netns identify`, its address);
#   - from the server VM: ping to each client's fixed IP, TTL 64 on net1 (bridged, same L2) and 63 on net2 (one
#     router hop), and `ip route get` goes via the router (198.18.1.1) for net2;
#   - a ping server -> client-net1-cn2 (other compute node) grows cn1's vxlan-101 TX and RX counters by at least the
#     pings; server -> client-net1-cn1 (same node) does not cross it;
#   - rate: `vmtp-node tcp` client-net1-cn2 -> server (cn2's underlay egress capped by HTB at 200 Mbit/s). HTB
#     counts underlay frames: a full overlay frame (1514 bytes: MSS 1448 + 12 timestamps + 20 TCP + 20 IP + 14
#     Ethernet) gains VXLAN's 50 bytes (8 VXLAN + 8 UDP + 20 IP + 14 Ethernet) = 1564, so goodput = 200 Mbit/s x
#     1448/1564 = 185166 kbit/s, checked within 3 %; the same-node client (client-net1-cn1) is well above it;
#   - loss: `vmtp-node udp --rate 50M --len 1024` client-net2-cn2 -> server (routed net2 -> net1): the router's named
#     counter grows, equals the loss vmtp-node reports, and equals ceil(tx_packets / 25);
# Testbed B (--mtu-underlay 1400) beside A: other name, index, subnet and root bridge; both reachable; `list` shows
# both; B's overlay MTU is 1350 (a 1350-byte DF packet crosses, 1351 is refused);
# B's `down` leaves A working. Testbed C: SIGTERM to `up` while it builds: exit 143, nothing left. Testbed D: SIGKILL
# to `up` while it builds: `list` says stale, `down` removes everything. After every `down`: no namespace, root
# link, nft table, route or process of the testbed, no registry entry, no directory; a second `down` is harmless.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bindir=${1:-$here/../../build/bin}
tb=$here/../../tools/testbed
ns_init
ns_require ssh ssh-keygen nft ping tc jq awk unshare flock
[[ -x /usr/sbin/sshd ]] || _ns_skip "needs /usr/sbin/sshd (Debian: openssh-server)"
vmtp_node_require "$bindir"
reg=/run/vmtp-testbed

# Testbed names unique to this run (two runs of this test at once must not collide either).
tag=${NS_PREFIX: -4}
made=()
# shellcheck disable=SC2317 # invoked from the traps
cleanup_testbeds()
{
    local n
    for n in "${made[@]}"; do "$tb" down "$n" >/dev/null 2>&1; done
    made=()
}
trap 'rc=$?; cleanup_testbeds; ns_cleanup $rc' EXIT
trap 'cleanup_testbeds; ns_cleanup 130; exit 130' INT
trap 'cleanup_testbeds; ns_cleanup 143; exit 143' TERM

# envget DIR KEY : a value from the testbed's testbed.env (KEY=VALUE lines).
envget()
{
    awk -v k="$2" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' "$1/testbed.env"
}

# up NAME ARGS... : `tools/testbed up --name NAME ARGS`; sets `dir` (the testbed's directory) or fails the test.
up()
{
    local name=$1 out rc=0
    shift
    made+=("$name")
    out=$("$tb" up --name "$name" "$@" 2>"$NS_STATE/up-$name.err") || rc=$?
    assert_cmp "up $name: exit 0" "$rc" == 0
    ((rc == 0)) || { cat "$NS_STATE/up-$name.err"; finish; }
    assert_eq "up $name: prints the name first" "$(sed -n 1p <<<"$out")" "$name"
    dir=$(dirname "$(sed -n 2p <<<"$out")")
    assert_eq "up $name: then the inventory" "$(sed -n 2p <<<"$out")" "$dir/inventory.yaml"
}

# tssh DIR HOST CMD : OpenSSH as a cloud user would use it, with the testbed's key and known_hosts only.
tssh()
{
    timeout 20 ssh -F /dev/null -i "$1/id_ed25519" -o IdentitiesOnly=yes -o UserKnownHostsFile="$1/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 \
        "root@$2" "$3" 2>&1
}

# check_host DIR ADDR HOSTNAME NETNS IFADDR : HOST answers over SSH from the expected namespace.
check_host()
{
    local out
    out=$(tssh "$1" "$2" 'hostname; ip netns identify; ip -4 -o addr show dev eth0')
    assert_eq "ssh $2: hostname" "$(sed -n 1p <<<"$out")" "$3"
    assert_eq "ssh $2: namespace" "$(sed -n 2p <<<"$out")" "$4"
    assert_eq "ssh $2: eth0 holds $5" "$(sed -n 3p <<<"$out" | awk '{ print $4 }')" "$5"
}

# vxstat NS DIR : "TX RX" packets of vxlan-101 in NS.
vxstat()
{
    ip -n "$1" -s -j link show vxlan-101 | jq -r '.[0].stats64 | "\(.tx.packets) \(.rx.packets)"'
}

# ttl NS ADDR : the TTL of one echo reply to ADDR from inside NS (empty if none).
ttl()
{
    ip netns exec "$1" ping -n -c 1 -W 2 "$2" 2>/dev/null | sed -n 's/.*ttl=\([0-9]*\).*/\1/p' | head -n 1
}

# snapshot NAME DIR : records what testbed NAME owns, for check_gone: index, directory, processes in its namespaces.
snapshot()
{
    local n p
    : >"$NS_STATE/pids-$1"
    while read -r n _; do
        [[ $n == "vtb-$1"-* ]] || continue
        for p in $(ip netns pids "$n" 2>/dev/null); do
            printf '%s %s\n' "$p" "$(_ns_starttime "$p")" >>"$NS_STATE/pids-$1"
        done
    done < <(ip netns list 2>/dev/null)
}

# check_gone LABEL NAME INDEX DIR : nothing of testbed NAME is left.
check_gone()
{
    local label=$1 name=$2 idx=$3 d=$4 p st alive=0
    assert_cmp "$label: no namespace" "$(ip netns list | grep -c "^vtb-$name-")" == 0
    assert_cmp "$label: no root link" "$(ip -o link show | grep -cE "^[0-9]+: vtb${idx}[-:@]")" == 0
    assert_cmp "$label: no route or address for 198.19.$idx.0/24" \
        "$(ip -4 route show table all root "198.19.$idx.0/24" | wc -l)" == 0
    assert_cmp "$label: no nft table in the root namespace" "$(nft list tables | grep -c "vtb_${name//-/_}_t")" == 0
    while read -r p st; do
        [[ -n $p ]] && _ns_alive "$p" "$st" && alive=$((alive + 1))
    done <"$NS_STATE/pids-$name" 2>/dev/null
    assert_cmp "$label: no process left" "$alive" == 0
    assert_cmp "$label: no registry entry" "$([[ -e $reg/$name ]] && echo 1 || echo 0)" == 0
    assert_cmp "$label: no directory" "$([[ -n $d && -e $d ]] && echo 1 || echo 0)" == 0
}

# ---------------------------------------------------------------------------------------------------------------
A=a$tag
up "$A" --cap-underlay 200mbit --loss-router 25
dA=$dir
iA=$(envget "$dA" index)
s=198.19.$iA
inv=$dA/inventory.yaml
assert_eq "inventory header" "$(head -n 1 "$inv")" "# vmtp inventory, written by tools/testbed"
assert_eq "inventory key and known_hosts" \
    "$(grep -cE "^(private_key_file: $dA/id_ed25519|known_hosts: $dA/known_hosts)$" "$inv")" 2
assert_eq "inventory: 5 VMs, one server" "$(grep -c '^  - name: ' "$inv") $(grep -c '^    role: server$' "$inv")" "5 1"
assert_eq "inventory: server entry" "$(grep -A6 '^  - name: server$' "$inv" | sed 's/^ *//' | paste -sd' ')" \
    "- name: server role: server ssh: root@$s.101 fixed_ip: 198.18.1.10 floating_ip: $s.101 network: net1$(
    ) compute_host: cn1"
assert_eq "inventory: client-net2-cn2 placement" \
    "$(grep -A6 '^  - name: client-net2-cn2$' "$inv" | grep -E 'network|compute_host' | sed 's/^ *//' | paste -sd' ')" \
    "network: net2 compute_host: cn2"
assert_eq "inventory: hosts" "$(grep '^hosts:' "$inv")" "hosts: [root@$s.11, root@$s.12]"
assert_eq "inventory: external host" "$(grep '^external_host:' "$inv")" "external_host: root@$s.3"
read -r hold_pid hold_st <"/run/vmtp-netns/user.vtb-$A" 2>/dev/null || hold_pid=
assert_eq "the 198.18.0.0/15 guard is held by the testbed's cn1 sshd" \
    "$([[ -n $hold_pid ]] && _ns_alive "$hold_pid" "$hold_st" && ip netns identify "$hold_pid")" "vtb-$A-cn1"
assert_cmp "known_hosts: 8 hosts" "$(wc -l <"$dA/known_hosts")" == 8

# --- SSH from the root namespace, as a cloud user -------------------------------------------------------------------
check_host "$dA" "$s.11" cn1 "vtb-$A-cn1" "$s.11/24"
check_host "$dA" "$s.12" cn2 "vtb-$A-cn2" "$s.12/24"
check_host "$dA" "$s.3" ext "vtb-$A-ext" "$s.3/24"
declare -A fixed=([server]=198.18.1.10 [client-net1-cn1]=198.18.1.11 [client-net1-cn2]=198.18.1.12
    [client-net2-cn1]=198.18.2.11 [client-net2-cn2]=198.18.2.12)
declare -A fip=([server]=101 [client-net1-cn1]=102 [client-net1-cn2]=103 [client-net2-cn1]=104 [client-net2-cn2]=105)
for vm in server client-net1-cn1 client-net1-cn2 client-net2-cn1 client-net2-cn2; do
    check_host "$dA" "$s.${fip[$vm]}" "$vm" "vtb-$A-$vm" "${fixed[$vm]}/24"
done
assert_cmp "only VMs have a default route" \
    "$(for n in cn1 cn2 router ext; do ip -n "vtb-$A-$n" route show default; done | wc -l)" == 0
assert_eq "a VM's default route goes to the router" "$(ip -n "vtb-$A-client-net2-cn2" route show default)" \
    "default via 198.18.2.1 dev eth0 "

# --- paths ------------------------------------------------------------------------------------------------------
srv=vtb-$A-server
assert_eq "server -> client-net1-cn1: TTL 64 (same network)" "$(ttl "$srv" 198.18.1.11)" 64
assert_eq "server -> client-net1-cn2: TTL 64 (same network)" "$(ttl "$srv" 198.18.1.12)" 64
assert_eq "server -> client-net2-cn1: TTL 63 (via the router)" "$(ttl "$srv" 198.18.2.11)" 63
assert_eq "server -> client-net2-cn2: TTL 63 (via the router)" "$(ttl "$srv" 198.18.2.12)" 63
assert_cmp "server -> net2 routed via 198.18.1.1" \
    "$(ip -n "$srv" route get 198.18.2.12 | grep -c 'via 198.18.1.1 ')" == 1
assert_cmp "server -> net1 on link" "$(ip -n "$srv" route get 198.18.1.12 | grep -c via)" == 0

read -r tx0 rx0 < <(vxstat "vtb-$A-cn1")
ip netns exec "$srv" ping -n -q -c 10 -i 0.01 198.18.1.12 >/dev/null
read -r tx1 rx1 < <(vxstat "vtb-$A-cn1")
assert_cmp "inter-node pings cross the VXLAN (cn1 vxlan-101 TX)" "$((tx1 - tx0))" '>=' 10
assert_cmp "inter-node pings cross the VXLAN (cn1 vxlan-101 RX)" "$((rx1 - rx0))" '>=' 10
ip netns exec "$srv" ping -n -q -c 10 -i 0.01 198.18.1.11 >/dev/null
read -r tx2 rx2 < <(vxstat "vtb-$A-cn1")
assert_cmp "intra-node pings do not cross the VXLAN" "$((tx2 - tx1 + rx2 - rx1))" '<' 5

# --- ground truth: rate (HTB on cn2's underlay) and loss (router's counter) ------------------------------------
ip netns exec "$srv" "$node" server --bind 198.18.1.10 --port 5001 </dev/null >"$NS_STATE/server.log" 2>&1 &
printf '%s %s\n' "$!" "$(_ns_starttime $! || echo gone)" >>"$NS_STATE/pids"
for _ in $(seq 1 100); do
    [[ -n $(ip netns exec "$srv" ss -Hltn 'sport = :5001') ]] && break
    sleep 0.05
done
expect=$(awk 'BEGIN { printf "%.0f", 200000 * 1448 / 1564 }')
j=$(ip netns exec "vtb-$A-client-net1-cn2" "$node" tcp 198.18.1.10 --time 4 --omit 1 --interval 0 --json)
assert_cmp "inter-node TCP: snd_mss 1448" "$(jget "$j" .tcp_info.snd_mss)" == 1448
assert_within "inter-node TCP goodput (kbit/s) = 200 Mbit/s x 1448/1564 (VXLAN)" "$(jget "$j" .throughput_kbps)" \
    "$expect" 3
j2=$(ip netns exec "vtb-$A-client-net1-cn1" "$node" tcp 198.18.1.10 --time 1 --interval 0 --json)
assert_cmp "intra-node TCP well above the cap" "$(jget "$j2" .throughput_kbps)" '>' "$((expect * 2))"

table=$(envget "$dA" nft_table)
counter()
{
    ip netns exec "vtb-$A-router" nft -j list counter inet "$table" loss_udp_5001 |
        jq -r '[.nftables[] | .counter? | select(. != null) | .packets] | first'
}
c0=$(counter)
assert_eq "loss counter starts at 0" "$c0" 0
j=$(ip netns exec "vtb-$A-client-net2-cn2" "$node" udp 198.18.1.10 --rate 50M --len 1024 --time 2 --interval 0 --json)
c1=$(counter)
txp=$(jget "$j" .tx_packets)
assert_cmp "the router's loss counter grew" "$c1" '>' 0
assert_cmp "vmtp-node's network loss = the router's counter" "$(jget "$j" .lost_network)" == "$c1"
assert_cmp "counter = ceil(tx_packets / 25)" "$c1" == "$(((txp + 24) / 25))"

# --- two testbeds at once ---------------------------------------------------------------------------------------
B=b$tag
up "$B" --mtu-underlay 1400
dB=$dir
iB=$(envget "$dB" index)
assert_eq "B: other index, bridge, namespaces" \
    "$([[ $iB != "$iA" && $(envget "$dB" root_bridge) != $(envget "$dA" root_bridge) && $dB != "$dA" ]] &&
        echo yes)" yes
check_host "$dB" "198.19.$iB.101" server "vtb-$B-server" 198.18.1.10/24
check_host "$dA" "$s.101" server "vtb-$A-server" 198.18.1.10/24
# --mtu-underlay 1400: the overlay (VM, bridge, VXLAN) gets 1350, and a 1350-byte DF packet crosses the VXLAN.
assert_eq "B: underlay MTU 1400" "$(ip -n "vtb-$B-cn2" -j link show eth0 | jq -r '.[0].mtu')" 1400
assert_eq "B: overlay MTU 1350 (VM)" "$(ip -n "vtb-$B-client-net1-cn2" -j link show eth0 | jq -r '.[0].mtu')" 1350
assert_eq "B: overlay MTU 1350 (VXLAN)" "$(ip -n "vtb-$B-cn1" -j link show vxlan-101 | jq -r '.[0].mtu')" 1350
assert_cmp "B: a 1350-byte DF ping crosses the VXLAN" \
    "$(ip netns exec "vtb-$B-server" ping -n -c 1 -W 2 -M "do" -s 1322 198.18.1.12 >/dev/null 2>&1 && echo 1)" == 1
assert_cmp "B: a 1351-byte DF ping is refused (VM MTU)" \
    "$(ip netns exec "vtb-$B-server" ping -n -c 1 -W 1 -M "do" -s 1323 198.18.1.12 >/dev/null 2>&1 || echo 0)" == 0
assert_cmp "list shows both" "$("$tb" list | grep -cE "^($A 198.19.$iA.0/24|$B 198.19.$iB.0/24) up ")" == 2
snapshot "$B"
"$tb" down "$B" 2>/dev/null
check_gone "B down" "$B" "$iB" "$dB"
check_host "$dA" "$s.105" client-net2-cn2 "vtb-$A-client-net2-cn2" 198.18.2.12/24

# --- signals while building -------------------------------------------------------------------------------------
# wait_building NAME : waits (10 ms polls, up to 10 s) until NAME's cn1 namespace exists, i.e. `up` is mid-build.
wait_building()
{
    for _ in $(seq 1 1000); do
        ip netns list 2>/dev/null | grep -q "^vtb-$1-cn1\b" && return 0
        sleep 0.01
    done
    return 1
}
for sig in TERM KILL; do
    C=${sig:0:1}${sig:1:1}$tag
    C=${C,,}
    made+=("$C")
    "$tb" up --name "$C" >/dev/null 2>"$NS_STATE/up-$C.err" &
    pid=$!
    printf '%s %s\n' "$pid" "$(_ns_starttime "$pid" || echo gone)" >>"$NS_STATE/pids"
    wait_building "$C"
    dC=$(awk '$1 == "dir" { print $2 }' "$reg/$C" 2>/dev/null)
    iC=$(awk '$1 == "idx" { print $2 }' "$reg/$C" 2>/dev/null)
    snapshot "$C"
    kill -s "$sig" "$pid"
    { wait "$pid"; } 2>/dev/null
    rc=$?
    if [[ $sig == TERM ]]; then
        assert_cmp "SIGTERM during up: exit 143" "$rc" == 143
        assert_cmp "SIGTERM during up: it did not complete" "$(grep -c ' is up' "$NS_STATE/up-$C.err")" == 0
    else
        assert_eq "SIGKILL during up: list says stale" "$("$tb" list | awk -v n="$C" '$1 == n { print $3 }')" stale
        snapshot "$C"
        "$tb" down "$C" 2>/dev/null
    fi
    check_gone "SIG$sig during up" "$C" "$iC" "$dC"
done

# --- down ---------------------------------------------------------------------------------------------------------
snapshot "$A"
assert_cmp "A runs processes (sshd) before down" "$(wc -l <"$NS_STATE/pids-$A")" '>=' 8
"$tb" down "$A" 2>/dev/null
check_gone "A down" "$A" "$iA" "$dA"
assert_cmp "A down: its guard registration is gone" "$([[ -e /run/vmtp-netns/user.vtb-$A ]] && echo 1 || echo 0)" == 0
"$tb" down "$A" 2>/dev/null
assert_cmp "a second down is harmless" "$?" == 0
made=()
finish
