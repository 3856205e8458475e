#!/usr/bin/env bash
# vmtp_inventory.sh — `vmtp --inventory FILE`: rows 1.x-6.x chosen from the inventory's placement, 7.x and 8.x from
# its hosts, against real sshd hosts.
#
# Usage: vmtp_inventory.sh BINDIR   (BINDIR holds vmtp and vmtp-node; root; exit 77 when it cannot run)
#
# Eight namespace hosts on one bridge (lib.sh ns_ssh_hosts): h1-h5 play VMs, described by the inventory as a server
# (net1, cn1) and four clients covering VMTP's placements (net1/cn1, net1/cn2, net2/cn1, net2/cn2); h6 and h7 are
# its native hosts, h8 its external host. The topology is flat (every "VM" reaches every other directly; the
# routed, NATed topology is tools/testbed's): this test is about which VM plays which row, not about the path.
# The server's floating address is its own address here. Checks: every row PASSED (23 of 23), each VM row used the
# client the inventory places there, 5.x/6.x targeted the floating address, the JSON names every node; a server
# without floating_ip skips 5.x/6.x with the reason; --same-network-only and --inter-node-only skip their rows; an
# invalid inventory exits 2 naming file, line and field; nothing is left on any host.
set -u
. "$(dirname "$0")/lib.sh"

bindir=${1:?usage: vmtp_inventory.sh BINDIR}
ns_init
ns_require ssh-keygen jq awk
[[ -x /usr/sbin/sshd ]] || _ns_skip "needs /usr/sbin/sshd (Debian: openssh-server)"
vmtp_node_require "$bindir"
vmtp=$bindir/vmtp
[[ -x $vmtp ]] || { echo "FAIL: $vmtp is not built"; exit 1; }

tmp=$NS_STATE/inv
ns_ssh_hosts "$tmp" 8 || exit 1


# inventory FILE [FLOATING] : writes the inventory (FLOATING=0 leaves the server without floating_ip).
inventory()
{
    local f=$1 floating=${2:-1}
    {
        echo "private_key_file: $tmp/id_ed25519"
        echo "known_hosts: $tmp/known_hosts"
        echo "vms:"
        echo "  - name: server"
        echo "    role: server"
        echo "    ssh: root@198.18.4.11"
        echo "    fixed_ip: 198.18.4.11"
        ((floating)) && echo "    floating_ip: 198.18.4.11"
        echo "    network: net1"
        echo "    compute_host: cn1"
        local i=2 net cn
        for net in net1 net2; do
            for cn in cn1 cn2; do
                echo "  - name: client-$net-$cn"
                echo "    role: client"
                echo "    ssh: root@198.18.4.1$i"
                echo "    fixed_ip: 198.18.4.1$i"
                echo "    network: $net"
                echo "    compute_host: $cn"
                i=$((i + 1))
            done
        done
        echo "hosts: [root@198.18.4.16, root@198.18.4.17]"
        echo "external_host: root@198.18.4.18"
    } >"$f"
}

run_vmtp()
{
    local name=$1
    shift
    mkdir -p "$tmp/home"
    ns_exec c timeout -k 5 240 env HOME="$tmp/home" "$vmtp" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    echo $? >"$tmp/$name.rc"
}

check_clean()
{
    local what=$1 n procs=0 dirs
    sleep 0.5
    for n in 1 2 3 4 5 6 7 8; do
        for pid in $(ip netns pids "$NS_PREFIX-h$n" 2>/dev/null); do
            [[ $(cat "/proc/$pid/comm" 2>/dev/null) == vmtp-node ]] && procs=$((procs + 1))
        done
    done
    assert_cmp "$what: no vmtp-node process left" "$procs" == 0
    dirs=$(find "$tmp"/h*/tmp -maxdepth 1 -name 'vmtp*' 2>/dev/null | wc -l)
    assert_cmp "$what: no vmtp directory left" "$dirs" == 0
}

common=(-t 1 --udpbuf 1024 --icmp_pkt_sizes 64 --set tcp_tp_loop_count=1 --set ping_count=3 --set udp_trial_ms=300)

# --- the whole matrix -------------------------------------------------------------------------------------------
inventory "$tmp/inv.yaml"
run_vmtp full --inventory "$tmp/inv.yaml" "${common[@]}" --json "$tmp/full.json"
rc=$(cat "$tmp/full.rc")
assert_cmp "full matrix: exit 0" "$rc" == 0
((rc == 0)) || { tail -n 30 "$tmp/full.err"; cat "$tmp/full.out"; }
assert_cmp "23 of 23 scenarios passed" "$(grep -c 'Passed Scenarios:  23 \[100.00%\]' "$tmp/full.out")" == 1
j=$tmp/full.json
assert_eq "flows in VMTP's order" "$(jq -r '[.flows[].scenario] | join(",")' "$j")" "1,2,3,4,5,6,7,8.1,8.2"
# Each VM row's client is the one the inventory places there (addresses .12-.15 in the order net1/cn1, net1/cn2,
# net2/cn1, net2/cn2), and the server is reached by its fixed address in 1-4 and its floating one in 5-6.
assert_eq "clients per row" "$(jq -r '[.flows[0:6][] | .ip_from] | join(",")' "$j")" \
    "198.18.4.12,198.18.4.13,198.18.4.14,198.18.4.15,198.18.4.14,198.18.4.15"
assert_eq "native and external rows" "$(jq -r '[.flows[6:][] | .ip_from + ">" + .ip_to] | join(",")' "$j")" \
    "198.18.4.17>198.18.4.16,198.18.4.18>198.18.4.11,198.18.4.18>198.18.4.11"
assert_eq "every node in the JSON" "$(jq -r '[.nodes[].role] | join(",")' "$j")" \
    "server,client,client,client,client,native server,native client,external"
assert_eq "VM rows carry TCP, UDP and ICMP" "$(jq -r '[.flows[0].results[].protocol] | join(",")' "$j")" \
    "TCP,UDP,ICMP"
check_clean "after the full matrix"

# --- a server without a floating address; row filters -------------------------------------------------------------
inventory "$tmp/inv-nofip.yaml" 0
run_vmtp nofip --inventory "$tmp/inv-nofip.yaml" "${common[@]}" --protocols T --same-network-only
assert_cmp "filters: exit 0" "$(cat "$tmp/nofip.rc")" == 0
assert_cmp "1.1 and 2.1 PASSED" "$(grep -Ec '^\| [12]\.1 .*\| PASSED ' "$tmp/nofip.out")" == 2
assert_cmp "3.x-6.x skipped by --same-network-only" \
    "$(grep -Ec '^\| [3-6]\.1 .*\| SKIPPED .*same-network-only' "$tmp/nofip.out")" == 4
run_vmtp inter --inventory "$tmp/inv-nofip.yaml" "${common[@]}" --protocols T --inter-node-only
assert_cmp "--inter-node-only: 1.1 and 3.1 skipped" \
    "$(grep -Ec '^\| [13]\.1 .*\| SKIPPED .*inter-node-only' "$tmp/inter.out")" == 2
assert_cmp "6.1 skipped: no floating_ip" "$(grep -c '^| 6.1 .*| SKIPPED .*no floating_ip' "$tmp/inter.out")" == 1
check_clean "after the filtered runs"

# --- an invalid inventory -----------------------------------------------------------------------------------------
sed 's/fixed_ip: 198.18.4.13/fixed_ip: 198.18.4.300/' "$tmp/inv.yaml" >"$tmp/bad.yaml"
run_vmtp bad --inventory "$tmp/bad.yaml"
assert_cmp "invalid inventory: exit 2" "$(cat "$tmp/bad.rc")" == 2
assert_cmp "file, line and field named" \
    "$(grep -c "bad.yaml:[0-9]*: vms\[2\] (client-net1-cn2): fixed_ip: '198.18.4.300' is not an IP address" \
        "$tmp/bad.err")" == 1

finish
