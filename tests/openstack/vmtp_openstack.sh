#!/usr/bin/env bash
# tests/openstack/vmtp_openstack.sh BINDIR — `vmtp` against the real OpenStack of tests/openstack/harness.sh (up as
# the ctest fixture `openstack`): every VM row PASSED with the right intra/inter labels and a complete JSON, and no
# resource left — checked through the APIs and on the host — after every kind of ending:
#   - a normal run (admin: placement forced and verified from Nova's host);
#   - a bad password: exit 2, a clear message, nothing created;
#   - SIGINT while the networks are created, while the VMs boot, while a flow runs; SIGTERM while a flow runs;
#   - kill -9 while a flow runs, then `vmtp cleanup --ledger` (and `vmtp cleanup --run-id` again: idempotent);
#   - a floating-IP quota the run exceeds (non-admin): a clear error quoting Neutron, everything removed;
#   - a VM that goes to ERROR (sent to a host that does not exist): its rows FAILED with Nova's fault message;
#   - two runs at once in one project; a run with an application credential from clouds.yaml (--os-cloud).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../netns/lib.sh" # assert_cmp, assert_eq, finish
. "$here/api.sh"

bindir=${1:?usage: vmtp_openstack.sh BINDIR}
vmtp=$bindir/vmtp
base=${VMTP_OS_BASE:-/var/tmp/vmtp-openstack}
[[ -x $vmtp ]] || { echo "FAIL: $vmtp is not built"; exit 1; }
[[ -f $base/ready && -f $base/harness.env ]] || _ns_skip "the harness cloud is not up (tests/openstack/harness.sh up)"
. "$base/harness.env"
ns_require jq curl

tmp=$(mktemp -d /tmp/vmtp-os-test.XXXXXX)
export VMTP_STATE_DIR=$tmp/state HOME=$tmp/home
mkdir -p "$HOME"
declare -a bg_pids=()
on_exit()
{
    local rc=$? p
    for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    # whatever a failed check left: every run of this test is named vmtp-<id>-*
    [[ $(count_vmtp_resources 2>/dev/null) == 0 ]] ||
    for id in $(cat "$tmp"/runs 2>/dev/null | sort -u); do
        "$vmtp" cleanup --run-id "$id" -r "$base/openrc" >/dev/null 2>&1
        "$vmtp" cleanup --run-id "$id" -r "$base/openrc-demo" >/dev/null 2>&1
    done
    rm -rf "$tmp"
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

admin_tok=$(os_token admin secret admin) || { echo "FAIL: no admin token"; exit 1; }
demo_project=$(os_api "$admin_tok" GET "$OS_KEYSTONE/projects?name=demo" | jq -r '.projects[0].id')
demo_user=$(os_api "$admin_tok" GET "$OS_KEYSTONE/users?name=demo" | jq -r '.users[0].id')
read -r host1 host2 <<<"$VMTP_OS_HOSTS"

cat >"$tmp/os.yaml" <<EOF
image_name: $VMTP_OS_IMAGE
flavor_type: $VMTP_OS_FLAVOR
ssh_vm_username: root
dns_nameservers: []
internal_cidr: [198.18.201.0/24, 198.18.202.0/24]
ping_count: 3
tcp_tp_loop_count: 1
udp_trial_ms: 300
EOF
quick=(-c "$tmp/os.yaml" -t 1 --udpbuf 1024 --icmp_pkt_sizes 64)

# run_vmtp NAME ARGS... : vmtp in the foreground (bounded); output in $tmp/NAME.out/.err, status in $tmp/NAME.rc.
run_vmtp()
{
    local name=$1
    shift
    timeout -k 5 400 "$vmtp" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    echo $? >"$tmp/$name.rc"
    record_run "$name"
}

# The run id vmtp printed, remembered for the final safety cleanup.
record_run()
{
    grep -o 'OpenStack run [0-9a-f]\{7\}' "$tmp/$1.err" | head -n 1 | awk '{ print $3 }' >>"$tmp/runs"
}

# start_vmtp NAME ARGS... : vmtp in the background (-d: the log says where it is); sets PID.
start_vmtp()
{
    local name=$1
    shift
    "$vmtp" -d "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" &
    PID=$!
    bg_pids+=("$PID")
}

# wait_log NAME REGEX [TIMEOUT_S] : waits until the log of run NAME matches.
wait_log()
{
    local i
    for ((i = 0; i < ${3:-300} * 10; i++)); do
        grep -qE "$2" "$tmp/$1.err" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "timeout waiting for /$2/ in $1's log"
    tail -n 20 "$tmp/$1.err"
    return 1
}

# count_vmtp_resources : how many resources named after a vmtp run (vmtp-RUN-*, RUN 7 hex digits; FIPs by their
# description) exist in any project: networks, subnets, routers, security groups, floating IPs, servers, key pairs
# of admin and demo, flavors, images. (The harness's own vmtp-harness-* flavor and image are not a run's.)
count_vmtp_resources()
{
    local n=0 c url
    for c in networks subnets routers security-groups; do
        url="$OS_NEUTRON/$c"
        n=$((n + $(os_api "$admin_tok" GET "$url" | jq --arg c "${c//-/_}" '[.[$c][] | select(.name | test("^vmtp-[0-9a-f]{7}-"))] | length')))
    done
    n=$((n + $(os_api "$admin_tok" GET "$OS_NEUTRON/floatingips" | jq '[.floatingips[] | select((.description // "") | test("^vmtp-[0-9a-f]{7}-"))] | length')))
    n=$((n + $(os_api "$admin_tok" GET "$OS_NOVA/servers?all_tenants=1" | jq '[.servers[] | select(.name | test("^vmtp-[0-9a-f]{7}-"))] | length')))
    for u in "" "?user_id=$demo_user"; do
        n=$((n + $(os_api "$admin_tok" GET "$OS_NOVA/os-keypairs$u" | jq '[.keypairs[] | select(.keypair.name | test("^vmtp-[0-9a-f]{7}-"))] | length')))
    done
    n=$((n + $(os_api "$admin_tok" GET "$OS_NOVA/flavors?is_public=None" | jq '[.flavors[] | select(.name | test("^vmtp-[0-9a-f]{7}-"))] | length')))
    n=$((n + $(os_api "$admin_tok" GET "$OS_GLANCE/images" | jq '[.images[] | select(.name | test("^vmtp-[0-9a-f]{7}-"))] | length')))
    echo "$n"
}

# check_no_leak LABEL : nothing of vmtp is left in the cloud, on the host (VM namespaces, agents) or in the
# ledger folder.
check_no_leak()
{
    local what=$1
    assert_cmp "$what: no vmtp resource left in the cloud" "$(count_vmtp_resources)" == 0
    assert_cmp "$what: no port left (as many as before the runs)" "$(count_ports)" == "$ports_before"
    # a router vmtp reused (not its own) keeps its namespace while it exists; the L3 agent removes a deleted
    # router's namespace a moment after the API answered
    local want=$((qrouters_before + ${2:-0})) i
    for ((i = 0; i < 300; i++)); do
        (($(count_qrouters) == want)) && break
        sleep 0.1
    done
    assert_cmp "$what: no router namespace left on the compute hosts" "$(count_qrouters)" == "$want"
    assert_cmp "$what: no VM namespace left on the host" \
        "$(ip netns list | awk '{ print $1 }' | grep -c "^$VMTP_OS_VM_NS_PREFIX")" == 0
    assert_cmp "$what: no ledger left" "$(ls "$VMTP_STATE_DIR"/ledger-*.jsonl 2>/dev/null | wc -l)" == 0
}

# count_ports : every Neutron port of every project (a server's, a router's, a floating IP's).
count_ports()
{
    os_api "$admin_tok" GET "$OS_NEUTRON/ports?fields=id" | jq '.ports | length'
}

# count_qrouters : router namespaces the L3 agent keeps (in its own folder, not the machine's /run/netns).
count_qrouters()
{
    find "$VMTP_OS_BASE/netns" -maxdepth 2 -name 'qrouter-*' 2>/dev/null | wc -l
}

# rows_passed NAME : "Passed Scenarios" of run NAME.
rows_passed()
{
    awk '/^Passed Scenarios:/ { print $3 }' "$tmp/$1.out"
}

ports_before=$(count_ports)
qrouters_before=$(count_qrouters)
check_no_leak "before the runs"

# A native host for rows 7.x and 8.x: an sshd of this test in the root namespace, on the harness's external
# address (floating IPs are on-link there), with its own key and known_hosts — the VMs get the run's own.
ext_addr=${VMTP_OS_EXT_CIDR%.0/24}.1
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey" </dev/null
ssh-keygen -q -t ed25519 -N '' -f "$tmp/userkey" </dev/null
cp "$tmp/userkey.pub" "$tmp/authorized_keys"
cat >"$tmp/sshd_config" <<EOF
ListenAddress $ext_addr:2222
HostKey $tmp/hostkey
AuthorizedKeysFile $tmp/authorized_keys
PidFile $tmp/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
bg_pids+=("$!")
echo "[$ext_addr]:2222 $(cut -d' ' -f1-2 "$tmp/hostkey.pub")" >"$tmp/known_hosts"
native=(--host "ssh://root@$ext_addr:2222" --external-host "ssh://root@$ext_addr:2222" --known-hosts "$tmp/known_hosts"
    --set private_key_file="$tmp/userkey")

# --- a normal run, all protocols --------------------------------------------------------------------------------
run_vmtp full -r "$base/openrc" "${quick[@]}" "${native[@]}" --json "$tmp/full.json" --test-description "harness cloud"
assert_cmp "full run: exit 0" "$(cat "$tmp/full.rc")" == 0
(($(cat "$tmp/full.rc") == 0)) || { tail -n 30 "$tmp/full.err"; cat "$tmp/full.out"; }
assert_cmp "full run: 23 rows PASSED (1.x-6.x, 7.x with --host, 8.x with --external-host)" "$(rows_passed full)" == 23
assert_cmp "8.1 and 8.2 PASSED" "$(grep -c '^| 8\.[12] .*| PASSED ' "$tmp/full.out")" == 2
for g in 1 2 3 4 5 6 7; do
    for p in 1 2 3; do
        assert_cmp "row $g.$p PASSED" "$(grep -c "^| $g\.$p .*| PASSED " "$tmp/full.out")" == 1
    done
done
# where Nova says each VM runs (admin: OS-EXT-SRV-ATTR:host), as the log reports it
assert_cmp "the server runs on $host1" "$(grep -c "VM server: ACTIVE .* on $host1\$" "$tmp/full.err")" == 1
for vm in client-net1-intra client-net2-intra; do
    assert_cmp "$vm runs on $host1 (the server's host)" "$(grep -c "VM $vm: ACTIVE .* on $host1\$" "$tmp/full.err")" == 1
done
for vm in client-net1-inter client-net2-inter; do
    assert_cmp "$vm runs on $host2" "$(grep -c "VM $vm: ACTIVE .* on $host2\$" "$tmp/full.err")" == 1
done
j=$tmp/full.json
assert_eq "JSON: labels of rows 1-6" \
    "$(jq -r '[.flows[] | select(.placement_inventory) | .placement_inventory] | join(",")' "$j")" \
    "intra-node,inter-node,intra-node,inter-node,intra-node,inter-node"
assert_eq "JSON: cloud facts" "$(jq -r '[.auth_url, .region, .encapsulation, .l2agent_type,
    .openstack.placement_verified_by, (.openstack.admin | tostring)] | join("|")' "$j")" \
    "http://127.0.0.1:5000/v3|RegionOne|vxlan|Linux bridge agent|host (admin)|true"
assert_eq "JSON: mode and description" "$(jq -r '.mode + "|" + .test_description' "$j")" "openstack|harness cloud"
assert_eq "JSON: TCP, UDP and ICMP results in every VM flow" \
    "$(jq -r '[.flows[] | select(.placement_inventory) | [.results[].protocol] | unique | join("+")] | unique | join(",")' "$j")" \
    "ICMP+TCP+UDP"
check_no_leak "after the normal run"

# --- a bad password ---------------------------------------------------------------------------------------------
run_vmtp badpw -r "$base/openrc" -p not-the-password "${quick[@]}"
assert_cmp "bad password: exit 2" "$(cat "$tmp/badpw.rc")" == 2
assert_cmp "bad password: Keystone's refusal is quoted" \
    "$(grep -c 'Keystone refused the credentials from openrc .*HTTP 401' "$tmp/badpw.err")" == 1
assert_cmp "bad password: the password is not shown" "$(grep -c 'not-the-password' "$tmp/badpw.err" "$tmp/badpw.out" | awk -F: '{ s += $2 } END { print s }')" == 0
check_no_leak "after the bad password"

# --- a password asked on the terminal (none in the openrc) --------------------------------------------------------
# tty_run NAME PASSWORD ARGS... : ARGS on a pseudo-terminal; PASSWORD is typed once the prompt shows (what is typed
# before the prompt is flushed, as getpass does). Everything shown on the terminal goes to $tmp/NAME.err.
tty_run()
{
    python3 - "$tmp/$1.err" "${@:2}" <<'PY'
import os, pty, select, signal, sys, time
log, password, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
shown, typed, end = b"", False, time.monotonic() + 120
while time.monotonic() < end:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        shown += data
        if not typed and b"OpenStack password for " in shown:
            os.write(fd, password.encode() + b"\n")
            typed = True
else:
    os.kill(pid, signal.SIGKILL)
open(log, "wb").write(shown)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
PY
    echo $? >"$tmp/$1.rc"
}
grep -v '^export OS_PASSWORD=' "$base/openrc" >"$tmp/openrc-nopw"
tty_run tty_bad "typed-$$-wrong" "$vmtp" cleanup --run-id fffffff -r "$tmp/openrc-nopw"
assert_cmp "asked password, wrong: exit 2" "$(cat "$tmp/tty_bad.rc")" == 2
assert_cmp "asked password, wrong: it was asked" "$(grep -c 'OpenStack password for admin@' "$tmp/tty_bad.err")" == 1
assert_cmp "asked password, wrong: Keystone's refusal" "$(grep -c 'HTTP 401' "$tmp/tty_bad.err")" '>=' 1
assert_cmp "asked password, wrong: not echoed" "$(grep -c "typed-$$-wrong" "$tmp/tty_bad.err")" == 0
tty_run tty_good "$(sed -n 's/^export OS_PASSWORD=//p' "$base/openrc")" "$vmtp" cleanup --run-id fffffff \
    -r "$tmp/openrc-nopw"
assert_cmp "asked password, right: exit 0" "$(cat "$tmp/tty_good.rc")" == 0
(($(cat "$tmp/tty_good.rc") == 0)) || tail -n 5 "$tmp/tty_good.err"
assert_cmp "asked password, right: the cloud was searched" "$(grep -c 'strays: 0 resources' "$tmp/tty_good.err")" == 1
# no controlling terminal at all (setsid), as under ctest
setsid -w timeout -k 5 60 "$vmtp" cleanup --run-id fffffff -r "$tmp/openrc-nopw" </dev/null >"$tmp/notty.out" \
    2>"$tmp/notty.err"
echo $? >"$tmp/notty.rc"
assert_cmp "no password and no terminal: exit 2" "$(cat "$tmp/notty.rc")" == 2
assert_cmp "no password and no terminal: says how to give one" \
    "$(grep -c 'no password (give -p, OS_PASSWORD, or run on a terminal' "$tmp/notty.err")" == 1

# --- signals at three points, SIGTERM, kill -9 --------------------------------------------------------------------
# interrupt NAME SIGNAL REGEX WHAT EXIT : starts a run, sends SIGNAL once its log matches REGEX, expects EXIT.
interrupt()
{
    local name=$1 sig=$2 re=$3 what=$4 want=$5 rc
    start_vmtp "$name" -r "$base/openrc" "${quick[@]}" --protocols TU --same-network-only
    if wait_log "$name" "$re"; then
        kill -s "$sig" "$PID"
    fi
    ns_wait_bounded "$PID" 200
    rc=$?
    record_run "$name"
    assert_cmp "SIG$sig $what: exit $want" "$rc" == "$want"
    ((rc == want)) || tail -n 15 "$tmp/$name.err"
    check_no_leak "after SIG$sig $what"
}
interrupt int_net INT 'created router ' "while the networks are created" 130
assert_cmp "SIGINT while the networks are created: it said so" \
    "$(grep -c 'interrupted by SIGINT while creating the networks' "$tmp/int_net.err")" == 1
interrupt int_boot INT 'booting [0-9] VMs' "while the VMs boot" 130
assert_cmp "SIGINT while the VMs boot: it said so" \
    "$(grep -c 'interrupted by SIGINT while booting the VMs' "$tmp/int_boot.err")" == 1
interrupt int_flow INT 'flow 1: ' "while a flow runs" 130
interrupt term_flow TERM 'flow 2: ' "while a flow runs" 143

start_vmtp kill9 -r "$base/openrc" "${quick[@]}" --protocols T --same-network-only
wait_log kill9 'flow 1: ' && kill -KILL "$PID"
ns_wait_bounded "$PID" 30
record_run kill9
ledger=$(ls "$VMTP_STATE_DIR"/ledger-*.jsonl 2>/dev/null | head -n 1)
assert_cmp "kill -9: the ledger stays" "${#ledger}" '>' 0
assert_cmp "kill -9: resources left to clean up" "$(count_vmtp_resources)" '>' 8
run_id=$(awk '{ print $3 }' <<<"$(grep -o 'OpenStack run [0-9a-f]*' "$tmp/kill9.err" | head -n 1)")
timeout 300 "$vmtp" cleanup --ledger "$ledger" -r "$base/openrc" >"$tmp/cl1.out" 2>&1
assert_cmp "vmtp cleanup --ledger: exit 0" "$?" == 0
check_no_leak "after kill -9 and vmtp cleanup --ledger"
timeout 300 "$vmtp" cleanup --run-id "$run_id" -r "$base/openrc" >"$tmp/cl2.out" 2>&1
assert_cmp "vmtp cleanup --run-id again: exit 0 (idempotent)" "$?" == 0
assert_cmp "vmtp cleanup --run-id again: nothing found" "$(grep -c 'strays: 0 resources' "$tmp/cl2.out")" == 1

# --- a floating-IP quota the run exceeds (as the non-admin demo user) ------------------------------------------------
old_quota=$(os_api "$admin_tok" GET "$OS_NEUTRON/quotas/$demo_project" | jq -r .quota.floatingip)
os_api "$admin_tok" PUT "$OS_NEUTRON/quotas/$demo_project" '{"quota": {"floatingip": 2}}' >/dev/null
run_vmtp quota -r "$base/openrc-demo" "${quick[@]}" --protocols I
os_api "$admin_tok" PUT "$OS_NEUTRON/quotas/$demo_project" "{\"quota\": {\"floatingip\": $old_quota}}" >/dev/null
assert_cmp "quota: exit 1" "$(cat "$tmp/quota.rc")" == 1
assert_cmp "quota: Neutron's message is quoted" "$(grep -ciE 'floatingips: HTTP 409: .*quota.*exceeded|quota exceeded' "$tmp/quota.err")" '>=' 1
assert_cmp "quota: the cleanup ran" "$(grep -c 'cleanup: .* deleted' "$tmp/quota.err")" == 1
check_no_leak "after the quota error"

# --- a VM that goes to ERROR ----------------------------------------------------------------------------------------
run_vmtp err -r "$base/openrc" "${quick[@]}" --protocols I --hypervisor "$VMTP_OS_AZ:$host1" \
    --hypervisor "$VMTP_OS_AZ:no-such-host"
assert_cmp "VM in ERROR: exit 1" "$(cat "$tmp/err.rc")" == 1
for g in 2 4 6; do
    assert_cmp "VM in ERROR: row $g.3 FAILED with Nova's fault" \
        "$(grep -c "^| $g\.3 .*| FAILED .*ERROR" "$tmp/err.out")" == 1
done
for g in 1 3 5; do
    assert_cmp "VM in ERROR: row $g.3 still PASSED" "$(grep -c "^| $g\.3 .*| PASSED " "$tmp/err.out")" == 1
done
assert_cmp "VM in ERROR: the fault is in the log" "$(grep -ciE 'went to ERROR: .*(no valid host|host)' "$tmp/err.err")" '>=' 1
check_no_leak "after a VM in ERROR"

# --- two runs at once in one project ---------------------------------------------------------------------------------
# The second is VMTP's provider-network case: reuse_network_name (the external network itself: no router, no floating
# IP, the VMs reached at their address on it), with the configured key pair (public_key_file + private_key_file: the
# VMs accept only that key, so its rows pass only if the cloud's key pair was made from it).
cat >"$tmp/provider.yaml" <<EOF
reuse_network_name: $VMTP_OS_EXT_NET
public_key_file: $tmp/userkey.pub
private_key_file: $tmp/userkey
EOF
start_vmtp conc1 -r "$base/openrc" "${quick[@]}" --protocols TI --same-network-only
p1=$PID
start_vmtp conc2 -r "$base/openrc" "${quick[@]}" -c "$tmp/provider.yaml" --protocols TI
p2=$PID
ns_wait_bounded "$p1" 400
rc1=$?
ns_wait_bounded "$p2" 400
rc2=$?
record_run conc1
record_run conc2
assert_cmp "concurrent run 1: exit 0" "$rc1" == 0
assert_cmp "concurrent run 2: exit 0" "$rc2" == 0
((rc2 == 0)) || tail -n 15 "$tmp/conc2.err"
assert_cmp "concurrent run 1: 4 rows PASSED (1.x, 2.x: TCP and ICMP)" "$(rows_passed conc1)" == 4
assert_cmp "concurrent run 2: 4 rows PASSED (1.x, 2.x: TCP and ICMP)" "$(rows_passed conc2)" == 4
assert_cmp "reuse_network_name: said so" \
    "$(grep -c "reusing network $VMTP_OS_EXT_NET .*no router and no floating IP" "$tmp/conc2.err")" == 1
assert_cmp "reuse_network_name: no network, router or floating IP created" \
    "$(grep -cE 'created (network|router|floatingip) ' "$tmp/conc2.err")" == 0
assert_cmp "reuse_network_name: the VMs were reached on the external network" \
    "$(grep -cE "VM [a-z0-9-]+: SSH port open at ${VMTP_OS_EXT_CIDR%.0/24}\.[0-9]+ " "$tmp/conc2.err")" == 3
check_no_leak "after two concurrent runs"

# --- an application credential from clouds.yaml ----------------------------------------------------------------------
demo_tok=$(os_token demo demo demo)
ac=$(os_api "$demo_tok" POST "$OS_KEYSTONE/users/$demo_user/application_credentials" \
    '{"application_credential": {"name": "vmtp-test-ac", "secret": "ac-secret-1"}}' | jq -r .application_credential.id)
cat >"$tmp/clouds.yaml" <<EOF
clouds:
  ac:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://127.0.0.1:5000/v3
      application_credential_id: "$ac"
      application_credential_secret: ac-secret-1
    region_name: RegionOne
EOF
OS_CLIENT_CONFIG_FILE=$tmp/clouds.yaml run_vmtp appcred --os-cloud ac "${quick[@]}" --protocols I --same-network-only
os_api "$demo_tok" DELETE "$OS_KEYSTONE/users/$demo_user/application_credentials/$ac" >/dev/null
assert_cmp "application credential: exit 0" "$(cat "$tmp/appcred.rc")" == 0
(($(cat "$tmp/appcred.rc") == 0)) || tail -n 20 "$tmp/appcred.err"
# where Nova put the three VMs decides which of rows 1.3 and 2.3 can run (the other is SKIPPED): not forced
assert_cmp "application credential: rows PASSED" "$(rows_passed appcred)" '>=' 1
assert_cmp "application credential: no row FAILED" "$(grep -c '| FAILED ' "$tmp/appcred.out")" == 0
assert_cmp "application credential: placement by hostId (not admin)" \
    "$(grep -c 'not admin, so Nova places the VMs' "$tmp/appcred.err")" == 1
check_no_leak "after the application-credential run"

# --- an image uploaded from an http:// URL, a flavor created, a reused router, --keep-resources, --all-stale ----
mkdir -p "$tmp/www"
head -c 65536 /dev/urandom >"$tmp/www/img.raw"
python3 -m http.server --bind 127.0.0.1 0 --directory "$tmp/www" >"$tmp/http.log" 2>&1 &
http_pid=$!
bg_pids+=("$http_pid")
port=
for _ in $(seq 1 100); do
    port=$(ss -Hltnp "sport > :1024" 2>/dev/null | awk -v p="pid=$http_pid," 'index($0, p) { split($4, a, ":"); print a[2]; exit }')
    [[ -n $port ]] && break
    sleep 0.1
done
router_id=$(os_api "$admin_tok" POST "$OS_NEUTRON/routers" '{"router": {"name": "vmtp-test-reused-router"}}' |
    jq -r .router.id)
cat >"$tmp/up.yaml" <<EOF
image_name: vmtp-test-uploaded-$$
vm_image_url: http://127.0.0.1:$port/img.raw
flavor_type: vmtp-test-no-such-flavor-$$
flavor:
  vcpus: 2
  ram: 1024
  disk: 1
  swap: 16
  extra_specs: {"hw:cpu_policy": shared, "vmtp:note": "created by vmtp_openstack.sh"}
router_name: vmtp-test-reused-router
EOF
run_vmtp keep -r "$base/openrc" "${quick[@]}" -c "$tmp/up.yaml" --protocols I --same-network-only \
    --delete-image-after-run --keep-resources
kill "$http_pid" 2>/dev/null
assert_cmp "upload run: exit 0" "$(cat "$tmp/keep.rc")" == 0
(($(cat "$tmp/keep.rc") == 0)) || tail -n 20 "$tmp/keep.err"
assert_cmp "upload run: the image came over http" "$(grep -c 'GET /img.raw HTTP/1.1" 200' "$tmp/http.log")" == 1
assert_cmp "upload run: a flavor was created" "$(grep -c "flavor 'vmtp-test-no-such-flavor-$$' is not in the cloud: creating" "$tmp/keep.err")" == 1
assert_cmp "upload run: the router was reused" "$(grep -c 'reusing router vmtp-test-reused-router' "$tmp/keep.err")" == 1
assert_cmp "--keep-resources: the cleanup command is printed" "$(grep -c 'the resources are kept; remove them with: vmtp cleanup --ledger' "$tmp/keep.err")" == 1
assert_cmp "--keep-resources: the VMs are still there" "$(count_vmtp_resources)" '>' 5
flavor=$(os_api "$admin_tok" GET "$OS_NOVA/flavors/detail?is_public=None" |
    jq -c '[.flavors[] | select(.name | test("^vmtp-[0-9a-f]{7}-flavor$"))] | .[0] // {}')
assert_eq "the created flavor has the flavor key's vcpus, ram, disk, swap" \
    "$(jq -r '"\(.vcpus) \(.ram) \(.disk) \(.swap)"' <<<"$flavor")" "2 1024 1 16"
assert_eq "the created flavor has the flavor key's extra specs" \
    "$(os_api "$admin_tok" GET "$OS_NOVA/flavors/$(jq -r .id <<<"$flavor")/os-extra_specs" | jq -c .extra_specs)" \
    '{"hw:cpu_policy":"shared","vmtp:note":"created by vmtp_openstack.sh"}'
assert_cmp "--keep-resources: the uploaded image is there" \
    "$(os_api "$admin_tok" GET "$OS_GLANCE/images?name=vmtp-test-uploaded-$$" | jq '.images | length')" == 1
timeout 300 "$vmtp" cleanup --all-stale -r "$base/openrc" >"$tmp/stale.out" 2>&1
assert_cmp "vmtp cleanup --all-stale: exit 0" "$?" == 0
check_no_leak "after --keep-resources and vmtp cleanup --all-stale" 1
assert_cmp "the uploaded image went with the run (--delete-image-after-run)" \
    "$(os_api "$admin_tok" GET "$OS_GLANCE/images?name=vmtp-test-uploaded-$$" | jq '.images | length')" == 0
assert_cmp "the reused router stays, without the run's interfaces" \
    "$(os_api "$admin_tok" GET "$OS_NEUTRON/ports?device_id=$router_id" | jq '.ports | length')" == 0
os_api "$admin_tok" DELETE "$OS_NEUTRON/routers/$router_id" >/dev/null
assert_cmp "the reused router was not deleted by vmtp" "$?" == 0
for _ in $(seq 1 300); do
    (($(count_qrouters) == qrouters_before)) && break
    sleep 0.1
done
assert_cmp "its namespace goes with it" "$(count_qrouters)" == "$qrouters_before"

finish
