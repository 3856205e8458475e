#!/usr/bin/env bash
# vmtp_testbed.sh — `vmtp --testbed`: the whole VMTP matrix over the namespace testbed (tools/testbed), with ground
# truth through its topology, and its teardown on every exit path.
#
# Usage: vmtp_testbed.sh BINDIR   (BINDIR holds vmtp and vmtp-node; root; exit 77 when it cannot run)
#
# Checks:
#   - with the second compute node's link capped at 200 Mbit/s: exit 0, 23 of 23 rows PASSED, intra-/inter-node
#     rows where the testbed places the VMs; inter-node TCP (2.1, 4.1, 6.1) within +-3 % of the cap's goodput
#     through VXLAN (200 Mbit/s x 1448/1564: 50 bytes of VXLAN per 1514-byte frame) while intra-node TCP (1.1, 3.1,
#     5.1) is far above it; the JSON has every flow and node;
#   - with the router dropping every 25th UDP datagram to the data port: the UDP rows that cross the router (3.2,
#     4.2, 5.2, 6.2, 8.2) report 4.00 % loss, the others (1.2, 2.2, 7.2) none;
#   - every VM row's placement as the VMs report it (their compute node, given by the testbed) matches the
#     inventory's; an inventory that swaps two VMs' compute hosts gets a warning and the row labelled by the truth;
#   - SIGINT in the middle of a test and SIGTERM while the testbed is being built: exit 130 / 143;
#   - after every run: the testbed is gone (no namespace, no root-namespace link, no registry entry).
set -u
. "$(dirname "$0")/lib.sh"

bindir=${1:?usage: vmtp_testbed.sh BINDIR}
here=$(cd "$(dirname "$0")" && pwd)
ns_init
ns_require ssh-keygen jq awk nft
[[ -x /usr/sbin/sshd ]] || _ns_skip "needs /usr/sbin/sshd (Debian: openssh-server)"
vmtp_node_require "$bindir"
vmtp=$bindir/vmtp
[[ -x $vmtp ]] || { echo "FAIL: $vmtp is not built"; exit 1; }
export VMTP_TESTBED=$here/../../tools/testbed

tmp=$NS_STATE/tb
mkdir -p "$tmp/home"


# Every testbed a run named is taken down, also when a run was killed before it could (on every exit path of
# this script, before lib.sh's own cleanup).
tb_cleanup()
{
    local rc=$? name
    for name in $(cat "$tmp"/*.err 2>/dev/null | grep -o 'building the namespace testbed v[0-9a-f]*' | awk '{ print $NF }'); do
        "$VMTP_TESTBED" down "$name" >/dev/null 2>&1
    done
    "$VMTP_TESTBED" down "vt$$" >/dev/null 2>&1
    return $rc
}
trap 'tb_cleanup; ns_cleanup' EXIT
trap 'tb_cleanup; ns_cleanup 130; exit 130' INT
trap 'tb_cleanup; ns_cleanup 143; exit 143' TERM

# Runs vmtp --testbed in the background of this shell (so that `wait` gives its status), its stdout and stderr in
# $tmp/NAME.out/.err; sets PID.
start_vmtp()
{
    local name=$1
    shift
    HOME=$tmp/home "$vmtp" --testbed "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" &
    PID=$!
}

# The testbed a run used is gone: its name is in vmtp's log ("building the namespace testbed vN").
check_gone()
{
    local what=$1 name
    name=$(grep -o 'building the namespace testbed v[0-9a-f]*' "$tmp/$2.err" | awk '{ print $NF }')
    assert_cmp "$what: the testbed was named" "${#name}" '>' 1
    assert_cmp "$what: no namespace of it left" "$(ip netns list | grep -c "^vtb-$name-")" == 0
    assert_cmp "$what: no registry entry left" "$(ls /run/vmtp-testbed/"$name" 2>/dev/null | wc -l)" == 0
    assert_cmp "$what: listed by nobody" "$("$VMTP_TESTBED" list 2>/dev/null | grep -c "^$name ")" == 0
}

quick=(-t 2 --udpbuf 1024 --icmp_pkt_sizes 64 --set tcp_tp_loop_count=1 --set ping_count=3 --set udp_trial_ms=300)

# --- the whole matrix through a capped compute-node link ----------------------------------------------------------
start_vmtp cap "${quick[@]}" --set testbed_cap_underlay=200mbit --json "$tmp/cap.json"
ns_wait_bounded "$PID" 300
rc=$?
assert_cmp "capped run: exit 0" "$rc" == 0
((rc == 0)) || { tail -n 30 "$tmp/cap.err"; cat "$tmp/cap.out"; }
assert_cmp "23 of 23 scenarios PASSED" "$(grep -c 'Passed Scenarios:  23 \[100.00%\]' "$tmp/cap.out")" == 1
j=$tmp/cap.json
assert_eq "flows" "$(jq -r '[.flows[].scenario] | join(",")' "$j")" "1,2,3,4,5,6,7,8.1,8.2"
assert_eq "nodes" "$(jq -r '.nodes | length' "$j")" 8
assert_eq "mode" "$(jq -r .mode "$j")" testbed
expect=$(awk 'BEGIN { printf "%.0f", 200000 * 1448 / 1564 }')
for s in 2 4 6; do
    v=$(jq -r --arg s "$s" '.flows[] | select(.scenario == $s) | .results[0].throughput_kbps' "$j")
    assert_within "$s.1 inter-node TCP through the capped VXLAN underlay (kbit/s)" "$v" "$expect" 3
done
for s in 1 3 5; do
    v=$(jq -r --arg s "$s" '.flows[] | select(.scenario == $s) | .results[0].throughput_kbps' "$j")
    assert_cmp "$s.1 intra-node TCP far above the cap (kbit/s)" "$v" '>' "$((expect * 3))"
done
check_gone "after the capped run" cap

# --- loss injected on the router ----------------------------------------------------------------------------------
# The router drops every 25th UDP datagram to the data port: exactly 1/25 of a flow's datagrams, give or take one at
# each end of the flow (the router's count runs on across flows and trials). The rate is capped (--bandwidth) so that
# a loaded machine drops nothing else: the rate search accepts any rate whose loss is inside 2..5 %, so uncapped it
# settles where the path starts to drop on top of the router's 4 %. What a receiving socket drops is counted apart
# (lost_socket); what the router drops is network loss.
start_vmtp loss "${quick[@]}" --protocols U --bandwidth 20M --set testbed_loss_router=25 --json "$tmp/loss.json"
ns_wait_bounded "$PID" 300
rc=$?
assert_cmp "loss run: exit 0" "$rc" == 0
((rc == 0)) || { tail -n 30 "$tmp/loss.err"; cat "$tmp/loss.out"; }
j=$tmp/loss.json
for s in 3 4 5 6 8.2; do
    r=$(jq -c --arg s "$s" '.flows[] | select(.scenario == $s) | .results[0]' "$j")
    assert_cmp "$s UDP across the router: a measured flow (datagrams sent)" "$(jq -r '.tx_packets // 0' <<<"$r")" '>' 200
    assert_cmp "$s UDP across the router: network loss = 1/25 of the datagrams, within 2 ($(jq -r \
        '"\(.lost_network) of \(.tx_packets)"' <<<"$r"))" \
        "$(jq -r '(.lost_network - .tx_packets / 25) | fabs' <<<"$r")" '<=' 2
    assert_cmp "$s UDP across the router: loss_rate is lost / sent" \
        "$(jq -r '(.loss_rate - 100 * .lost / .tx_packets) | fabs' <<<"$r")" '<' 0.001
    assert_cmp "$s UDP across the router: lost = network + socket" \
        "$(jq -r '.lost - .lost_network - .lost_socket' <<<"$r")" == 0
done
for s in 1 2 7; do
    v=$(jq -r --arg s "$s" '.flows[] | select(.scenario == $s) | .results[0].lost_network' "$j")
    assert_cmp "$s UDP not across the router: no network loss" "$v" == 0
done
check_gone "after the loss run" loss

# --- placement: the VMs report the compute node they run on; an inventory that says otherwise is caught -----------
assert_eq "VM rows: the VMs' reported placement matches the testbed's inventory" \
    "$(jq -r '[.flows[0:6][] | .placement_inventory == .placement_reported] | all' "$tmp/cap.json")" true
out=$("$VMTP_TESTBED" up --name "vt$$" --dir "$tmp/tb-own" 2>"$tmp/own-up.err")
inv=$(sed -n 2p <<<"$out")
if [[ -f $inv ]]; then
    # Swap the compute hosts of the two net1 clients: row 1 (same host, by the inventory) now picks the client
    # that really runs on cn2.
    awk '/name: client-net1-cn1/ { w = 1 } /name: client-net1-cn2/ { w = 2 }
         /compute_host:/ && w == 1 { sub(/cn1/, "cn2"); w = 0 } /compute_host:/ && w == 2 { sub(/cn2/, "cn1"); w = 0 }
         { print }' "$inv" >"$tmp/swapped.yaml"
    HOME=$tmp/home timeout -k 5 240 "$vmtp" --inventory "$tmp/swapped.yaml" --protocols I --same-network-only --set ping_count=3 \
        --icmp_pkt_sizes 64 --json "$tmp/swap.json" >"$tmp/swap.out" 2>"$tmp/swap.err"
    assert_cmp "wrong placement: the run still passes" "$?" == 0
    assert_cmp "wrong placement: a warning names it" "$(grep -c 'row 1: the inventory places client-net1-cn2' "$tmp/swap.err")" == 1
    assert_cmp "wrong placement: row 1.3 labelled by the truth" \
        "$(grep -c '^| 1.3 .*Intra-node, ICMP \[measured inter-node\]' "$tmp/swap.out")" == 1
    assert_eq "wrong placement in the JSON" "$(jq -r '.flows[0] | .placement_inventory + ">" + .placement_reported' \
        "$tmp/swap.json")" "intra-node>inter-node"
else
    assert_cmp "tools/testbed up for the placement check" 1 == 0
    tail -n 5 "$tmp/own-up.err"
fi
"$VMTP_TESTBED" down "vt$$" >/dev/null 2>&1

# --- SIGINT in the middle of a test -------------------------------------------------------------------------------
start_vmtp int -t 30 --protocols T
started=0
for _ in $(seq 1 300); do
    grep -q 'flow 1:' "$tmp/int.err" 2>/dev/null && { started=1; break; }
    sleep 0.1
done
assert_cmp "SIGINT: a test started" "$started" == 1
sleep 1
kill -INT "$PID"
ns_wait_bounded "$PID" 300
assert_cmp "SIGINT: exit 130" "$?" == 130
check_gone "after SIGINT" int

# --- SIGTERM while the testbed is being built ---------------------------------------------------------------------
start_vmtp term -t 30 --protocols T
# Until vmtp says it builds: it holds the signal from then on (an ASan build can take a second or more to get
# there; a signal before that kills it before anything exists).
for _ in $(seq 1 500); do
    grep -q 'building the namespace testbed' "$tmp/term.err" 2>/dev/null && break
    sleep 0.02
done
kill -TERM "$PID"
ns_wait_bounded "$PID" 300
assert_cmp "SIGTERM during the build: exit 143" "$?" == 143
check_gone "after SIGTERM" term

finish
