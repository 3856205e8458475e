#!/usr/bin/env bash
# tests/openstack/selftest.sh — the harness's cloud does what a VMTP-style tool needs, through the REST APIs only
# (curl + jq; also the example of those calls for later tests):
#   as demo: two networks and subnets, a router with the external gateway and both interfaces, a security group
#   (SSH + ICMP), a key pair; as admin in project demo: servers forced with availability_zone nova:HOST onto
#   cn1 (net1), cn2 (net1) and cn1 (net2); as demo: one server the scheduler places (net2); floating IPs for all.
# Checks: ACTIVE on the requested host (OS-EXT-SRV-ATTR:host) with its tap in that host's namespace, ssh and SFTP to
# every floating IP, hostnames, VM-to-VM ping within a network across hosts (counted on the VXLAN underlay),
# across networks on one host and across both, the security group dropping an unlisted port; then everything is
# deleted through the API and nothing may be left: API lists, VM namespaces, taps/bridges/VXLAN devices in the
# compute namespaces, router namespaces, instance directories.
#
# Needs `harness.sh up` first (ctest fixture "openstack"); skips (77) where the harness cannot run.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$HERE/../netns/lib.sh"
# shellcheck source-path=SCRIPTDIR source=api.sh
. "$HERE/api.sh"

"$HERE/harness.sh" check || exit $?
if ! "$HERE/harness.sh" status >/dev/null; then
    echo "FAIL: the harness is not up (tests/openstack/harness.sh up; in ctest the fixture openstack_up)"
    exit 1
fi
eval "$("$HERE/harness.sh" env)"
CN1=${VMTP_OS_HOSTS%% *}
CN2=${VMTP_OS_HOSTS##* }
RUN=st$$ # names unique to this run
W=$(mktemp -d "${TMPDIR:-/tmp}/vmtp-os-selftest.XXXXXX")
T0=$SECONDS
declare -A SRV=() PORT=() FIXED=() FIP=() FIP_ID=() HOST=()
NET1='' NET2='' SUBNET1='' SUBNET2='' ROUTER='' SG='' DELETED=0 TOK_DEMO='' TOK_ADMIN=''

# log MSG : a progress line with the seconds since the start.
log()
{
    printf '[%4ds] %s\n' "$((SECONDS - T0))" "$*"
}

# vm_ssh VM CMD... : runs CMD as root on VM through its floating IP (this run's key and known_hosts).
vm_ssh()
{
    local ip=${FIP[$1]}
    shift
    ssh -i "$W/key" -o UserKnownHostsFile="$W/known_hosts" -o StrictHostKeyChecking=accept-new \
        -o BatchMode=yes -o ConnectTimeout=3 -o LogLevel=ERROR "root@$ip" "$@"
}

# delete_all : deletes, through the API, everything this run created (ignoring what is already gone). The EXIT
# trap calls it too, so a failed run leaves the cloud as clean as it found it.
delete_all()
{
    local v id
    for v in "${!FIP_ID[@]}"; do os_api "$TOK_DEMO" DELETE "$OS_NEUTRON/floatingips/${FIP_ID[$v]}" 2>/dev/null || true; done
    for v in "${!SRV[@]}"; do os_api "$TOK_ADMIN" DELETE "$OS_NOVA/servers/${SRV[$v]}" 2>/dev/null || true; done
    for v in "${!SRV[@]}"; do
        os_wait 60 "server $v deleted" server_gone "${SRV[$v]}" || true
    done
    if [[ -n $ROUTER ]]; then
        for id in "$SUBNET1" "$SUBNET2"; do
            [[ -z $id ]] || os_api "$TOK_DEMO" PUT "$OS_NEUTRON/routers/$ROUTER/remove_router_interface" \
                "{\"subnet_id\": \"$id\"}" >/dev/null 2>&1 || true
        done
        os_api "$TOK_DEMO" DELETE "$OS_NEUTRON/routers/$ROUTER" 2>/dev/null || true
    fi
    for id in "$NET1" "$NET2"; do [[ -z $id ]] || os_api "$TOK_DEMO" DELETE "$OS_NEUTRON/networks/$id" 2>/dev/null || true; done
    [[ -z $SG ]] || os_api "$TOK_DEMO" DELETE "$OS_NEUTRON/security-groups/$SG" 2>/dev/null || true
    os_api "$TOK_DEMO" DELETE "$OS_NOVA/os-keypairs/$RUN-key" 2>/dev/null || true
    os_api "$TOK_ADMIN" DELETE "$OS_NOVA/os-keypairs/$RUN-key" 2>/dev/null || true
    DELETED=1
}

# on_exit : the EXIT trap: API clean-up unless done, then the work directory.
# shellcheck disable=SC2317 # called from the trap
on_exit()
{
    local rc=$?
    trap - EXIT
    ((DELETED)) || [[ -z $TOK_DEMO || -z $TOK_ADMIN ]] || { log "cleaning up after a failure"; delete_all; }
    rm -rf -- "$W"
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# server_gone ID : the server no longer exists.
# shellcheck disable=SC2317 # called through os_wait
server_gone()
{
    ! os_api "$TOK_ADMIN" GET "$OS_NOVA/servers/$1" >/dev/null 2>&1
}

# server_settled ID : the server is ACTIVE (succeeds) or ERROR (fails the test with its fault).
# shellcheck disable=SC2317 # called through os_wait
server_settled()
{
    local s
    s=$(os_api "$TOK_ADMIN" GET "$OS_NOVA/servers/$1") || return 1
    case $(jq -r .server.status <<<"$s") in
    ACTIVE) return 0 ;;
    ERROR)
        echo "FAIL: server $1 went to ERROR: $(jq -c .server.fault <<<"$s")"
        exit 1
        ;;
    esac
    return 1
}

# create_server VM TOKEN NETWORK [AZ] : POST /servers (flavor, image, key pair, security group of this run).
create_server()
{
    local body
    body=$(jq -nc --arg n "$RUN-$1" --arg i "$IMG" --arg f "$FLV" --arg net "$3" --arg k "$RUN-key" \
        --arg sg "$RUN-sg" --arg az "${4:-}" '{server: ({name: $n, imageRef: $i, flavorRef: $f,
        networks: [{uuid: $net}], key_name: $k, security_groups: [{name: $sg}]}
        + (if $az == "" then {} else {availability_zone: $az} end))}')
    SRV[$1]=$(os_api "$2" POST "$OS_NOVA/servers" "$body" | jq -r .server.id)
}

# ping_ok VM ADDR : VM pings ADDR (3 echoes).
ping_ok()
{
    vm_ssh "$1" ping -c 3 -i 0.2 -W 2 -q "$2" >/dev/null
}

# underlay_rx HOST : packets received on HOST's end of the VXLAN underlay.
underlay_rx()
{
    ip -n "$1" -s -j link show underlay | jq '.[0].stats64.rx.packets'
}

# ------------------------------------------------------------------ create
TOK_DEMO=$(os_token demo demo demo)
# admin holds the admin role in project demo: its servers belong to demo and may be forced onto a host
TOK_ADMIN=$(os_token "$OS_USERNAME" "$OS_PASSWORD" demo)
EXT=$(os_id "$TOK_DEMO" "$OS_NEUTRON/networks?name=$VMTP_OS_EXT_NET" networks "$VMTP_OS_EXT_NET")
IMG=$(os_id "$TOK_DEMO" "$OS_GLANCE/images?name=$VMTP_OS_IMAGE" images "$VMTP_OS_IMAGE")
FLV=$(os_id "$TOK_DEMO" "$OS_NOVA/flavors" flavors "$VMTP_OS_FLAVOR")

ssh-keygen -q -t ed25519 -N '' -C "$RUN" -f "$W/key"
: >"$W/known_hosts"
for tok in "$TOK_DEMO" "$TOK_ADMIN"; do # key pairs belong to a user: demo's and admin's
    os_api "$tok" POST "$OS_NOVA/os-keypairs" "$(jq -nc --arg n "$RUN-key" --rawfile k "$W/key.pub" \
        '{keypair: {name: $n, public_key: $k}}')" >/dev/null
done
NET1=$(os_api "$TOK_DEMO" POST "$OS_NEUTRON/networks" "{\"network\": {\"name\": \"$RUN-net1\"}}" | jq -r .network.id)
NET2=$(os_api "$TOK_DEMO" POST "$OS_NEUTRON/networks" "{\"network\": {\"name\": \"$RUN-net2\"}}" | jq -r .network.id)
SUBNET1=$(os_api "$TOK_DEMO" POST "$OS_NEUTRON/subnets" "$(jq -nc --arg n "$NET1" '{subnet: {network_id: $n,
    name: "net1-sub", ip_version: 4, cidr: "198.18.201.0/24"}}')" | jq -r .subnet.id)
SUBNET2=$(os_api "$TOK_DEMO" POST "$OS_NEUTRON/subnets" "$(jq -nc --arg n "$NET2" '{subnet: {network_id: $n,
    name: "net2-sub", ip_version: 4, cidr: "198.18.202.0/24"}}')" | jq -r .subnet.id)
ROUTER=$(os_api "$TOK_DEMO" POST "$OS_NEUTRON/routers" "$(jq -nc --arg n "$RUN-router" --arg e "$EXT" \
    '{router: {name: $n, external_gateway_info: {network_id: $e}}}')" | jq -r .router.id)
for id in "$SUBNET1" "$SUBNET2"; do
    os_api "$TOK_DEMO" PUT "$OS_NEUTRON/routers/$ROUTER/add_router_interface" "{\"subnet_id\": \"$id\"}" >/dev/null
done
SG=$(os_api "$TOK_DEMO" POST "$OS_NEUTRON/security-groups" "{\"security_group\": {\"name\": \"$RUN-sg\"}}" |
    jq -r .security_group.id)
for rule in '"protocol": "tcp", "port_range_min": 22, "port_range_max": 22' '"protocol": "icmp"'; do
    os_api "$TOK_DEMO" POST "$OS_NEUTRON/security-group-rules" "{\"security_group_rule\": {\"security_group_id\":
        \"$SG\", \"direction\": \"ingress\", \"ethertype\": \"IPv4\", $rule}}" >/dev/null
done
log "key pair, 2 networks, router (gateway $VMTP_OS_EXT_NET + 2 interfaces), security group created"

create_server vm1 "$TOK_ADMIN" "$NET1" "nova:$CN1"
create_server vm2 "$TOK_ADMIN" "$NET1" "nova:$CN2"
create_server vm3 "$TOK_ADMIN" "$NET2" "nova:$CN1"
create_server vm4 "$TOK_DEMO" "$NET2"
declare -A WANT=([vm1]=$CN1 [vm2]=$CN2 [vm3]=$CN1 [vm4]=any)
for v in vm1 vm2 vm3 vm4; do
    os_wait 120 "server $v ACTIVE" server_settled "${SRV[$v]}"
done
log "4 servers ACTIVE"

for v in vm1 vm2 vm3 vm4; do
    HOST[$v]=$(os_api "$TOK_ADMIN" GET "$OS_NOVA/servers/${SRV[$v]}" | jq -r '.server["OS-EXT-SRV-ATTR:host"]')
    if [[ ${WANT[$v]} == any ]]; then
        assert_eq "$v (scheduled) is on one of the compute hosts" \
            "$([[ " $VMTP_OS_HOSTS " == *" ${HOST[$v]} "* ]] && echo yes)" yes
    else
        assert_eq "$v is on the host it was forced onto" "${HOST[$v]}" "${WANT[$v]}"
    fi
    p=$(os_api "$TOK_DEMO" GET "$OS_NEUTRON/ports?device_id=${SRV[$v]}")
    PORT[$v]=$(jq -r '.ports[0].id' <<<"$p")
    FIXED[$v]=$(jq -r '.ports[0].fixed_ips[0].ip_address' <<<"$p")
    assert_eq "$v's tap is in its host's namespace" \
        "$(ip -n "${HOST[$v]}" -o link show "tap${PORT[$v]:0:11}" >/dev/null 2>&1 && echo yes)" yes
    f=$(os_api "$TOK_DEMO" POST "$OS_NEUTRON/floatingips" "$(jq -nc --arg e "$EXT" --arg p "${PORT[$v]}" \
        '{floatingip: {floating_network_id: $e, port_id: $p}}')")
    FIP[$v]=$(jq -r .floatingip.floating_ip_address <<<"$f")
    FIP_ID[$v]=$(jq -r .floatingip.id <<<"$f")
done
log "floating IPs: vm1 ${FIP[vm1]}, vm2 ${FIP[vm2]}, vm3 ${FIP[vm3]}, vm4 ${FIP[vm4]}"

for v in vm1 vm2 vm3 vm4; do
    rc=0
    os_wait 60 "ssh root@${FIP[$v]} ($v)" vm_ssh "$v" true 2>/dev/null || rc=1
    assert_eq "ssh root@${FIP[$v]} ($v, ${HOST[$v]}) works" "$rc" 0
    assert_eq "$v's hostname is its server name" "$(vm_ssh "$v" hostname 2>/dev/null || true)" "$RUN-$v"
done
log "ssh to every floating IP"

head -c 65536 /dev/urandom >"$W/payload"
printf 'put %s /tmp/%s-payload\n' "$W/payload" "$RUN" >"$W/sftp.batch"
rc=0
sftp -q -i "$W/key" -o UserKnownHostsFile="$W/known_hosts" -o BatchMode=yes -b "$W/sftp.batch" \
    "root@${FIP[vm2]}" >/dev/null || rc=$?
assert_eq "sftp put to vm2" "$rc" 0
assert_eq "the uploaded file is intact" "$(vm_ssh vm2 sha256sum "/tmp/$RUN-payload" 2>/dev/null | cut -d' ' -f1)" \
    "$(sha256sum "$W/payload" | cut -d' ' -f1)"
vm_ssh vm2 rm -f "/tmp/$RUN-payload" || true

rx0=$(underlay_rx "$CN2")
rc=0 && ping_ok vm1 "${FIXED[vm2]}" || rc=$?
assert_eq "vm1 ($CN1) -> vm2 ($CN2), same network: ping" "$rc" 0
assert_cmp "the VXLAN underlay carried it (packets received on $CN2's end)" "$(($(underlay_rx "$CN2") - rx0))" '>=' 3
rc=0 && ping_ok vm1 "${FIXED[vm3]}" || rc=$?
assert_eq "vm1 (net1) -> vm3 (net2), same host $CN1, through the router: ping" "$rc" 0
rc=0 && ping_ok vm2 "${FIXED[vm3]}" || rc=$?
assert_eq "vm2 (net1, $CN2) -> vm3 (net2, $CN1): ping" "$rc" 0
rc=0 && ping_ok vm4 "${FIP[vm1]}" || rc=$?
assert_eq "vm4 -> vm1's floating IP (DNAT in the router): ping" "$rc" 0
# tcp/5001 is not in the security group: dropped (timeout, 124), not refused
rc=0 && vm_ssh vm1 "timeout 2 bash -c '</dev/tcp/${FIXED[vm2]}/5001'" 2>/dev/null || rc=$?
assert_eq "the security group drops tcp/5001 (connect timed out)" "$rc" 124
# harness.sh router-exec: a command inside the router's namespace (which only the L3 agent's mount namespace sees)
assert_cmp "the router namespace has vm1's floating-IP DNAT rule (harness.sh router-exec)" \
    "$("$HERE/harness.sh" router-exec "$ROUTER" iptables-save -t nat |
        grep -c -- "-d ${FIP[vm1]}/32 .*-j DNAT --to-destination ${FIXED[vm1]}" || true)" '>=' 1
log "data path checked"

# ------------------------------------------------------------------ delete and look for leftovers
# Only this run's objects are looked for: a tool may use the same cloud meanwhile (as admin, say).
# The devices they had: the taps of the VMs' and the router's ports, the networks' bridges and VXLAN devices.
DEVICES=()
for v in "${!PORT[@]}"; do DEVICES+=("tap${PORT[$v]:0:11}"); done
for id in $(os_api "$TOK_ADMIN" GET "$OS_NEUTRON/ports?device_id=$ROUTER" | jq -r '.ports[].id'); do
    DEVICES+=("tap${id:0:11}")
done
for id in "$NET1" "$NET2"; do
    DEVICES+=("brq${id:0:11}" "vxlan-$(os_api "$TOK_ADMIN" GET "$OS_NEUTRON/networks/$id" |
        jq -r '.network["provider:segmentation_id"]')")
done
# (the check below means something only if they are there now)
missing=
for d in "${DEVICES[@]}"; do
    found=0
    for h in $VMTP_OS_HOSTS; do ! ip -n "$h" link show dev "$d" >/dev/null 2>&1 || found=1; done
    ((found)) || missing+=" $d"
done
assert_eq "the ${#DEVICES[@]} taps, bridges and VXLAN devices of this run exist before the deletion" "${missing:-none}" none
delete_all
log "everything deleted through the API"
assert_eq "no server of this run (servers?name=^$RUN-)" \
    "$(os_api "$TOK_ADMIN" GET "$OS_NOVA/servers?all_tenants=1&name=^$RUN-" | jq '.servers | length')" 0
for c in networks routers security-groups; do
    assert_eq "no $c of this run ($c?name=$RUN-...)" "$(os_api "$TOK_ADMIN" GET "$OS_NEUTRON/$c" |
        jq --arg p "$RUN-" "[.[\"${c/-/_}\"][] | select(.name | startswith(\$p))] | length")" 0
done
assert_eq "no port on this run's networks or router" "$(for q in "network_id=$NET1" "network_id=$NET2" \
    "device_id=$ROUTER"; do os_api "$TOK_ADMIN" GET "$OS_NEUTRON/ports?$q" | jq '.ports[].id'; done | wc -l)" 0
assert_eq "no floating IP of this run's ports" "$(for v in "${!PORT[@]}"; do
    os_api "$TOK_ADMIN" GET "$OS_NEUTRON/floatingips?port_id=${PORT[$v]}" | jq '.floatingips[].id'; done | wc -l)" 0
for who in demo admin; do
    tok=$TOK_DEMO && [[ $who == demo ]] || tok=$TOK_ADMIN
    assert_eq "no key pair $RUN-key of $who" "$(os_api "$tok" GET "$OS_NOVA/os-keypairs" |
        jq --arg n "$RUN-key" '[.keypairs[] | select(.keypair.name == $n)] | length')" 0
done
left=
for v in "${!SRV[@]}"; do
    ns=$VMTP_OS_VM_NS_PREFIX${SRV[$v]:0:8}
    ! ip netns list | grep -q "^$ns\b" || left+=" $ns"
    for h in $VMTP_OS_HOSTS; do
        [[ ! -e $VMTP_OS_BASE/state/nova-$h/instances/${SRV[$v]} ]] || left+=" $h:instances/${SRV[$v]}"
    done
done
assert_eq "no VM namespace or instance directory of this run left" "${left:-none}" none

# devices_gone : none of DEVICES is left in a compute namespace (the agents remove bridges and VXLAN devices
# within seconds of the network's deletion).
# shellcheck disable=SC2317 # called through os_wait
devices_gone()
{
    local h d
    left=
    for h in $VMTP_OS_HOSTS; do
        for d in "${DEVICES[@]}"; do
            ! ip -n "$h" link show dev "$d" >/dev/null 2>&1 || left+=" $h:$d"
        done
    done
    [[ -z $left ]]
}
os_wait 30 "devices of this run removed" devices_gone || true
assert_eq "no tap, brq or vxlan device of this run left in ${VMTP_OS_HOSTS// /, }" "${left:-none}" none
# router_gone : the L3 agent removed qrouter-ROUTER (it lives in the agent's own /run/netns, see harness.sh).
# shellcheck disable=SC2317 # called through os_wait
router_gone()
{
    [[ ! -e $VMTP_OS_BASE/netns/$CN1/qrouter-$ROUTER ]]
}
rc=0 && os_wait 30 "qrouter-$ROUTER removed" router_gone || rc=$?
assert_eq "no qrouter namespace of this run left" "$rc" 0
log "no leftovers"
finish
