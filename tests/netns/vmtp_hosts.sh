#!/usr/bin/env bash
# vmtp_hosts.sh — `vmtp --host ... --host ... --external-host ...` end to end against real OpenSSH servers.
#
# Usage: vmtp_hosts.sh BINDIR   (BINDIR holds vmtp and vmtp-node; root; exit 77 when it cannot run)
#
# Topology (lib.sh ns_ssh_hosts): namespace c (where vmtp runs) holds a bridge br0 198.18.4.1/24; three host
# namespaces hang off it, each with a real sshd (generated host key, root login by key, TMPDIR in the run's state):
#   h1 198.18.4.11  the server (--host #1)
#   h2 198.18.4.12  the client (--host #2); its eth0 egress is capped by HTB at 200 Mbit/s (ground truth)
#   h3 198.18.4.13  the external host (--external-host)
# Checks:
#   - a normal run: exit 0; rows 7.1-7.3, 8.1 and 8.2 PASSED, the rest SKIPPED; the JSON parses with VMTP's keys;
#     7.1's TCP goodput is the HTB cap's (200 Mbit/s * 1448/1514, +-5 %) while 8.x (uncapped) is well above it;
#     the password-free command line in the JSON; 7.x labelled inter-host;
#   - a changed host key for h2 (known_hosts holds another key): its flow 7.x FAILED naming the mismatch, 8.x still
#     PASSED, exit 1; an unreachable client (198.18.4.99): 7.x FAILED with the reason, 8.x PASSED, exit 1;
#   - SIGINT and SIGTERM in the middle of a test: exit 130 / 143 after cleaning up;
#   - after every run: no vmtp-node process in any host namespace and no vmtp.* directory in any host's TMPDIR.
set -u
. "$(dirname "$0")/lib.sh"

bindir=${1:?usage: vmtp_hosts.sh BINDIR}
ns_init
ns_require ssh-keygen jq awk
[[ -x /usr/sbin/sshd ]] || _ns_skip "needs /usr/sbin/sshd (Debian: openssh-server)"
vmtp_node_require "$bindir"
vmtp=$bindir/vmtp
[[ -x $vmtp ]] || { echo "FAIL: $vmtp is not built"; exit 1; }

tmp=$NS_STATE/vmtp
mkdir -m 0700 "$tmp"

ns_ssh_hosts "$tmp" 3 || exit 1
ns_htb h2 eth0 200mbit || exit 1
# known_hosts with h2's key replaced by another one (as after a reinstall, or an attack).
ssh-keygen -q -t ed25519 -N '' -f "$tmp/other_key" </dev/null || exit 1
sed "s|^198.18.4.12 .*|198.18.4.12 $(cut -d' ' -f1-2 "$tmp/other_key.pub")|" "$tmp/known_hosts" >"$tmp/known_hosts_bad"


# run_vmtp NAME ARGS... : vmtp inside c (HOME = a scratch directory, so no ~/.vmtp.yaml applies); output in
# $tmp/NAME.out/.err, exit status in $tmp/NAME.rc. A vmtp still running after 240 s has hung: it is killed (124),
# so the checks fail with its log instead of the whole test timing out without cleanup.
run_vmtp()
{
    local name=$1 rc
    shift
    mkdir -p "$tmp/home"
    ns_exec c timeout -k 5 240 env HOME="$tmp/home" "$vmtp" --set private_key_file="$tmp/id_ed25519" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    echo "$rc" >"$tmp/$name.rc"
    if ((rc == 124 || rc == 137)); then
        echo "FAIL: vmtp ($name) hung; its log:"
        tail -n 30 "$tmp/$name.err"
    fi
}

# Nothing of vmtp is left on any host: no vmtp-node process in the host namespaces, no vmtp.* directory.
check_clean()
{
    local what=$1 n procs dirs
    sleep 0.5
    procs=0
    for n in h1 h2 h3; do
        for pid in $(ip netns pids "$NS_PREFIX-$n" 2>/dev/null); do
            [[ $(cat "/proc/$pid/comm" 2>/dev/null) == vmtp-node ]] && procs=$((procs + 1))
        done
    done
    assert_cmp "$what: no vmtp-node process left on the hosts" "$procs" == 0
    dirs=$(find "$tmp"/h1/tmp "$tmp"/h2/tmp "$tmp"/h3/tmp -maxdepth 1 -name 'vmtp*' 2>/dev/null | wc -l)
    assert_cmp "$what: no vmtp directory left on the hosts" "$dirs" == 0
}

common=(--known-hosts "$tmp/known_hosts" -t 2 --udpbuf 1024 --icmp_pkt_sizes 64,1500 --set tcp_tp_loop_count=1
    --set ping_count=5)

# --- a normal run ---------------------------------------------------------------------------------------------------
run_vmtp ok --host root@198.18.4.11 --host root@198.18.4.12 --external-host root@198.18.4.13 "${common[@]}" \
    --json "$tmp/ok.json" --test-description "netns hosts"
rc=$(cat "$tmp/ok.rc")
assert_cmp "normal run exits 0" "$rc" == 0
if ((rc != 0)); then
    tail -n 40 "$tmp/ok.err"
    cat "$tmp/ok.out"
fi
out=$tmp/ok.out
for row in 7.1 7.2 7.3 8.1 8.2; do
    assert_cmp "row $row PASSED" "$(grep -c "^| $row *|.*| PASSED " "$out")" == 1
done
assert_cmp "rows 1.x-6.x SKIPPED" "$(grep -Ec '^\| [1-6]\.[1-3] .*\| SKIPPED ' "$out")" == 18
assert_cmp "totals: 5 of 5 passed" "$(grep -c 'Passed Scenarios:  5 \[100.00%\]' "$out")" == 1
assert_cmp "7.x labelled inter-host" "$(grep -c 'Native Throughput, TCP (inter-host)' "$out")" == 1
j=$tmp/ok.json
assert_eq "JSON parses" "$(jq -e . "$j" >/dev/null 2>&1 && echo ok)" ok
assert_eq "the JSON keeps the command line" "$(jq -r '.args | startswith("vmtp ")' "$j" 2>/dev/null)" true
assert_eq "JSON VMTP keys" "$(jq -r '[has("date"), has("args"), has("version"), has("run_id"), has("flows")] | all' "$j")" true
assert_eq "JSON flows" "$(jq -r '[.flows[].scenario] | join(",")' "$j")" "7,8.1,8.2"
assert_eq "JSON 7 results: TCP, UDP, ICMP" "$(jq -r '[.flows[0].results[].protocol] | join(",")' "$j")" TCP,UDP,ICMP
assert_eq "JSON ICMP sizes" "$(jq -r '[.flows[0].results[2].results[].packet_size] | join(",")' "$j")" 64,1500
assert_eq "JSON desc and addresses" "$(jq -r '.flows[0] | [.desc, .ip_from, .ip_to] | join(" ")' "$j")" \
    "Native Throughput 198.18.4.12 198.18.4.11"
assert_eq "JSON test description" "$(jq -r '.test_description' "$j")" "netns hosts"
assert_eq "JSON nodes" "$(jq -r '[.nodes[].role] | join(",")' "$j")" server,client,external
tcp7=$(jq -r '.flows[0].results[0].throughput_kbps' "$j")
cap=$(awk 'BEGIN { printf "%.0f", 200000 * 1448 / 1514 }')
assert_within "7.1 TCP goodput (kbit/s) = HTB cap 200 Mbit/s x 1448/1514" "$tcp7" "$cap" 5
tcp81=$(jq -r '.flows[1].results[0].throughput_kbps' "$j")
assert_cmp "8.1 (uncapped path) well above the cap" "$tcp81" '>' "$((cap * 2))"
assert_eq "JSON UDP loss_rate and search" "$(jq -r '.flows[0].results[1] | has("loss_rate") and has("search")' "$j")" true
assert_eq "UDP one-way delays absolute (data-path clock offset)" \
    "$(jq -r '[.flows[0].clock.used_for_one_way_delay, .flows[0].results[1].owd_clock] | join(" ")' "$j")" \
    "true synchronized"
assert_eq "ICMP rtt_avg_ms present" "$(jq -r '.flows[0].results[2].results[0] | has("rtt_avg_ms")' "$j")" true
printf 'INFO: 7.1 TCP %s kbit/s (cap %s), 8.1 TCP %s kbit/s\n' "$tcp7" "$cap" "$tcp81"
check_clean "after a normal run"

# --- one host: intra-host ---------------------------------------------------------------------------------------
run_vmtp intra --host root@198.18.4.11 "${common[@]}" --protocols TI
assert_cmp "one host: exit 0" "$(cat "$tmp/intra.rc")" == 0
assert_cmp "one host: 7.1 intra-host PASSED" "$(grep -c '^| 7.1 .*TCP (intra-host) .*| PASSED ' "$tmp/intra.out")" == 1
assert_cmp "one host: 7.2 not selected" "$(grep -c '^| 7.2 .*| SKIPPED .*not selected' "$tmp/intra.out")" == 1
check_clean "after the one-host run"

# --- a host key that changed ------------------------------------------------------------------------------------
run_vmtp badkey --host root@198.18.4.11 --host root@198.18.4.12 --external-host root@198.18.4.13 \
    "${common[@]}" --known-hosts "$tmp/known_hosts_bad" --protocols T
assert_cmp "changed host key: exit 1" "$(cat "$tmp/badkey.rc")" == 1
assert_cmp "7.1 FAILED" "$(grep -c '^| 7.1 .*| FAILED ' "$tmp/badkey.out")" == 1
assert_cmp "the mismatch is named" "$(grep -ci 'mismatch' "$tmp/badkey.out" "$tmp/badkey.err" | awk -F: '{ s += $2 } END { print (s > 0) }')" == 1
assert_cmp "8.1 still PASSED" "$(grep -c '^| 8.1 .*| PASSED ' "$tmp/badkey.out")" == 1
check_clean "after the host key refusal"

# --- an unreachable client --------------------------------------------------------------------------------------
run_vmtp unreach --host root@198.18.4.11 --host root@198.18.4.99 --external-host root@198.18.4.13 \
    "${common[@]}" --protocols T --set ssh_connect_timeout=3
assert_cmp "unreachable host: exit 1" "$(cat "$tmp/unreach.rc")" == 1
assert_cmp "7.1 FAILED" "$(grep -c '^| 7.1 .*| FAILED ' "$tmp/unreach.out")" == 1
assert_cmp "the reason names the host" "$(grep -c '^| 7.1 .*198.18.4.99' "$tmp/unreach.out")" == 1
assert_cmp "8.2 still PASSED" "$(grep -c '^| 8.2 .*| PASSED ' "$tmp/unreach.out")" == 1
check_clean "after the unreachable host"

# --- --stop-on-error: the flows after the first FAILED one are skipped ------------------------------------------
run_vmtp stop --host root@198.18.4.11 --host root@198.18.4.99 --external-host root@198.18.4.13 \
    "${common[@]}" --protocols T --set ssh_connect_timeout=3 --stop-on-error
assert_cmp "--stop-on-error: exit 1" "$(cat "$tmp/stop.rc")" == 1
assert_cmp "--stop-on-error: 7.1 FAILED" "$(grep -c '^| 7.1 .*| FAILED ' "$tmp/stop.out")" == 1
assert_cmp "--stop-on-error: 8.1 and 8.2 skipped" "$(grep -c '^| 8.[12] .*| SKIPPED .*stop-on-error' "$tmp/stop.out")" == 2
check_clean "after --stop-on-error"

# --- bad usage ----------------------------------------------------------------------------------------------------
run_vmtp usage --host root@198.18.4.11 --protocol T
assert_cmp "bad option: exit 2" "$(cat "$tmp/usage.rc")" == 2
assert_cmp "bad option named" "$(grep -c "unknown option '--protocol'" "$tmp/usage.err")" == 1

# --- signals in the middle of a test ----------------------------------------------------------------------------
for sig in INT TERM; do
    mkdir -p "$tmp/home"
    log=$tmp/sig$sig.log
    # Started from this shell (not ns_bg) so that `wait` gives its exit status; recorded for ns_cleanup all the same.
    ip netns exec "$NS_PREFIX-c" env HOME="$tmp/home" "$vmtp" --set private_key_file="$tmp/id_ed25519" \
        --host root@198.18.4.11 --host root@198.18.4.12 --known-hosts "$tmp/known_hosts" -t 20 --protocols T \
        </dev/null >"$log" 2>&1 &
    pid=$!
    printf '%s %s\n' "$pid" "$(_ns_starttime "$pid" || echo gone)" >>"$NS_STATE/pids"
    started=0
    for _ in $(seq 1 150); do
        if grep -q 'flow 7:' "$log" 2>/dev/null; then
            started=1
            break
        fi
        sleep 0.1
    done
    assert_cmp "SIG$sig: the test started" "$started" == 1
    sleep 1
    kill -s "$sig" "$pid"
    t0=$(date +%s)
    ns_wait_bounded "$pid" 60
    rc=$?
    took=$(($(date +%s) - t0))
    want=$([[ $sig == INT ]] && echo 130 || echo 143)
    ((rc == want)) || tail -n 20 "$log"
    assert_cmp "SIG$sig: exit $want" "$rc" == "$want"
    assert_cmp "SIG$sig: ended within 15 s" "$took" '<=' 15
    check_clean "after SIG$sig"
done

finish
