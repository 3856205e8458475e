#!/usr/bin/env bash
# tests/openstack/harness.sh — a real OpenStack Zed (Debian 12 packages) on 127.0.0.1 whose servers are network
# namespaces with their own sshd, on two compute hosts joined by a real VXLAN tunnel.
#
#   harness.sh up          start it: 45 s on a quiet 2-core machine, 90 s on a busy one (packages from
#                          `tools/install-deps`); the time of each phase is printed
#   harness.sh down        stop and remove everything it made; idempotent, also after a failed `up`
#   harness.sh status      up or down (exit 0 up, 1 partly up, 3 down), services with process groups and RSS
#   harness.sh env [demo]  `export` lines: the admin (or demo) openrc and the harness's names (VMTP_OS_*)
#   harness.sh router-exec ROUTER_ID CMD...   run CMD in Neutron's qrouter-ROUTER_ID namespace
#   harness.sh check       exit 0 if this machine can run the harness, else "SKIP: reason" and exit 77
#
# Services: MariaDB, RabbitMQ, Keystone and Placement (uwsgi), Glance (file store), Neutron server (ML2/linuxbridge,
# VXLAN tenant networks, flat physnet "public", security groups), Nova api/conductor/scheduler, and per compute host
# a nova-compute (tests/openstack/netns_driver.py) and a neutron-linuxbridge-agent; neutron-l3-agent (legacy
# routers: SNAT, floating-IP DNAT) on the first host. The agents run inside their host's namespace (RabbitMQ
# relayed there by socat); the nova-computes run in the root namespace, since they only talk to the APIs and
# RabbitMQ on 127.0.0.1 and reach their host's namespace with `ip -n`. Each service runs in its own process group
# (setsid) whose id is recorded in $BASE/run/NAME.pid; `down` ends exactly those groups, never a process by name.
#
#   root netns                                  netns vmtp-os-cn1 (compute + network node)
#   127.0.0.1: APIs, MariaDB, RabbitMQ          linuxbridge agent, l3 agent, socat :5672 -> RabbitMQ
#   vmtp-os-ext 198.18.200.1/24 ===veth===      ext0 in bridge br-public, with pub-cn1 and pub-cn2 (physnet
#                                               "public": pub-cnN ==veth== pub0 in host cnN, the agents' mapping)
#                                               underlay 198.18.203.1/24 = VXLAN local_ip
#                                                 ||  veth (MTU 1500: tenant networks get 1450)
#                                               netns vmtp-os-cn2 (compute node)
#                                               underlay 198.18.203.2/24, linuxbridge agent, socat :5672, pub0
#   brq<net> bridges in each compute netns hold vxlan-<vni> and the taps of that host's VMs; a VM is the netns
#   vmtp-os-vm-<uuid:8>, eth0 with the port's MAC/IP/MTU, default route via the subnet's gateway, sshd on :22.
#
# Compute host names (nova-compute `host`, the agents' `host`, Nova's OS-EXT-SRV-ATTR:host, `nova:HOST` forcing)
# are the names of their namespaces: vmtp-os-cn1 and vmtp-os-cn2, both in availability zone "nova". Both have
# physnet "public" (routers' gateways on cn1; a VM booted on the provider network works on either host, reached
# from the root namespace at its own address); VMs go on tenant (VXLAN) networks otherwise.
#
# Cloud: Keystone http://127.0.0.1:5000/v3, region RegionOne; admin/secret (project admin, and admin of project
# demo too, so an admin token scoped to demo can force demo's servers onto a host); demo/demo (project demo, role
# member). $BASE/openrc, $BASE/openrc-demo, $BASE/clouds.yaml (clouds "admin", "demo"). External network
# "public" (flat, 198.18.200.0/24, no gateway, pool .10-.250), image "vmtp-harness-image" (raw, 4 KiB, public),
# flavor "vmtp-harness-flavor" (1 vCPU, 512 MiB, 1 GB). tests/openstack/api.sh: REST from bash with curl + jq.
# Addresses stay inside 198.18.200.0/22 (tenant networks are the tool's choice; the self-test uses .201/.202).
# The external subnet has no gateway, the root netns reaches floating IPs on-link through vmtp-os-ext, its
# ip_forward is untouched, and an `unreachable 198.18.0.0/15` guard (tests/netns/lib.sh) keeps any other test
# address from following the machine's default route. Only one harness may be up at a time (fixed ports).
#
# Env: VMTP_OS_BASE (state, configs, logs; default /var/tmp/vmtp-openstack), VMTP_OS_SAVE_LOGS=DIR (`down`
# copies the logs there before removing the state).
set -euo pipefail
# Debian's python3 before anything else: pyenv's python3 cannot import Debian's OpenStack modules.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE=${VMTP_OS_BASE:-/var/tmp/vmtp-openstack}
PW=secret      # admin and the service users
DEMO_PW=demo   # user demo, project demo, role member
DB="mysql+pymysql://openstack:${PW}@127.0.0.1"
RABBIT="rabbit://openstack:${PW}@127.0.0.1:5672/"
PREFIX=vmtp-os
HOSTS=("$PREFIX-cn1" "$PREFIX-cn2")
UNDERLAY_IP=(198.18.203.1 198.18.203.2)
# The L3 agent shares the first compute host instead of a third "network node" namespace: that would need a
# third linuxbridge agent (~350 MiB with its privsep daemon) on a ~3 GiB budget. Routed traffic of VMs on cn2
# still crosses the VXLAN tunnel to reach their router, as with any network node.
NET_NODE=${HOSTS[0]}
EXT_BRIDGE="br-public"
EXT_ROOT_IF=$PREFIX-ext
EXT_ROOT_CIDR=198.18.200.1/24
EXT_CIDR=198.18.200.0/24
EXT_POOL=(198.18.200.10 198.18.200.250)
VM_NS_PREFIX=$PREFIX-vm-
# Names a tool under test uses; also printed by `env`.
EXT_NET=public
IMAGE=vmtp-harness-image
FLAVOR=vmtp-harness-flavor
# One harness per machine: the lock serialises up/down, the marker says which state directory is up.
MACHINE_DIR=/run/vmtp-openstack
LOCK_FD=
# Marks a state directory as the harness's own: `down` deletes only such a directory (VMTP_OS_BASE may be a typo).
BASE_TAG=.vmtp-openstack-harness
PORTS=(3306 4369 5000 5672 8774 8778 9292 9696 25672)
# Stop order for `down` (all are signalled at once; the list also drives `status`).
SERVICES=(nova-compute-"${HOSTS[0]}" nova-compute-"${HOSTS[1]}" neutron-l3-agent
    neutron-linuxbridge-agent-"${HOSTS[0]}" neutron-linuxbridge-agent-"${HOSTS[1]}"
    rabbit-relay-"${HOSTS[0]}" rabbit-relay-"${HOSTS[1]}" rabbit-relay nova-api nova-scheduler nova-conductor
    glance-api neutron-server placement keystone rabbitmq epmd mariadb)

# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$HERE/../netns/lib.sh"
# shellcheck source-path=SCRIPTDIR source=api.sh
. "$HERE/api.sh"
# shellcheck source-path=SCRIPTDIR source=harness_conf.sh
. "$HERE/harness_conf.sh"

# say MSG... : a progress line.
say()
{
    printf 'harness: %s\n' "$*"
}

# die MSG... : an error line on stderr, then exit 1 (the EXIT trap of `up` takes everything down).
die()
{
    printf 'harness: error: %s\n' "$*" >&2
    exit 1
}

# step DESC : prints the time since `up` began and since the previous step.
step()
{
    local now=${EPOCHREALTIME/[.,]/}
    printf '[%6.1fs | +%5.1fs] %s\n' "$(((now - T0) / 100000))e-1" "$(((now - T_LAST) / 100000))e-1" "$*"
    T_LAST=$now
}

# prereqs : exits 77 with "SKIP: reason" unless this machine can run the harness (root, netns, the packages).
prereqs()
{
    local c
    ((EUID == 0)) || _ns_skip "needs root (network namespaces, services on fixed ports)"
    for c in ip setsid flock nsenter socat curl jq ssh-keygen /usr/sbin/sshd mariadbd mariadb-install-db epmd \
        /usr/lib/rabbitmq/bin/rabbitmq-server uwsgi_python3 keystone-manage placement-manage glance-api \
        neutron-server neutron-linuxbridge-agent neutron-l3-agent nova-api nova-conductor nova-scheduler \
        iptables ebtables ipset conntrack arping; do
        command -v "$c" >/dev/null 2>&1 || _ns_skip "needs '$c' (run tools/install-deps)"
    done
    /usr/bin/python3 -c 'import nova.cmd.compute, nova.virt.fake' 2>/dev/null ||
        _ns_skip "needs Debian's python3-nova (run tools/install-deps)"
}

# lock_machine WAIT_S : takes the machine-wide lock that serialises up and down (waits up to WAIT_S seconds).
lock_machine()
{
    mkdir -p "$MACHINE_DIR"
    exec {LOCK_FD}>"$MACHINE_DIR/lock"
    flock -w "$1" "$LOCK_FD" || die "another harness.sh up/down holds $MACHINE_DIR/lock"
}

# start_svc NAME CMD... : starts CMD in a process group of its own, output to logs/NAME.stdout; records
# "PGID STARTTIME" in run/NAME.pid (the start time tells a recycled PID apart). The machine lock's descriptor is
# not inherited: a service holding it would keep every later up/down waiting.
start_svc()
{
    local name=$1 pid
    shift
    setsid "$@" >"$BASE/logs/$name.stdout" 2>&1 </dev/null {LOCK_FD}>&- &
    pid=$!
    printf '%s %s\n' "$pid" "$(_ns_starttime "$pid" || echo gone)" >"$BASE/run/$name.pid"
}

# start_in_host NAME HOST CMD... : start_svc inside compute namespace HOST. The agent gets a private mount namespace
# there (ip netns exec) in which $BASE/netns/HOST is bound over /run/netns: the qrouter-* namespaces it creates
# live only in that directory, never in the machine's /run/netns, and go away with the agent (REPORT problem 4).
start_in_host()
{
    local name=$1 host=$2
    shift 2
    mkdir -p "$BASE/netns/$host"
    # shellcheck disable=SC2016 # expanded by the inner sh
    start_svc "$name" ip netns exec "$host" sh -c 'mount --bind "$0" /run/netns && exec "$@"' \
        "$BASE/netns/$host" "$@"
}

# svc_pgid NAME : prints NAME's process group id if that group still has a process (its leader, if alive, must be
# the recorded one); returns 1 otherwise.
svc_pgid()
{
    local f=$BASE/run/$1.pid pg st
    [[ -f $f ]] || return 1
    read -r pg st <"$f" || return 1
    [[ $pg =~ ^[0-9]+$ ]] || return 1
    if _ns_alive "$pg"; then
        _ns_alive "$pg" "$st" || return 1
    fi
    [[ -n $(ps -e -o pgid= | awk -v g="$pg" '$1 == g { print; exit }') ]] || return 1
    printf '%s\n' "$pg"
}

# svc_pid NAME : prints the PID of NAME's recorded process (the group leader) if it is alive.
svc_pid()
{
    local pg st
    read -r pg st 2>/dev/null <"$BASE/run/$1.pid" || return 1
    _ns_alive "$pg" "$st" || return 1
    printf '%s\n' "$pg"
}

# stop_services TIMEOUT_S NAME... : SIGTERM to each recorded group, SIGKILL to what is left after TIMEOUT_S.
stop_services()
{
    local limit=$1 n pg any i
    shift
    local -a groups=()
    for n in "$@"; do
        pg=$(svc_pgid "$n") || continue
        kill -TERM -- "-$pg" 2>/dev/null && groups+=("$pg")
    done
    for ((i = 0; i < limit * 4; i++)); do
        any=0
        for pg in "${groups[@]}"; do kill -0 -- "-$pg" 2>/dev/null && any=1; done
        ((any)) || break
        sleep 0.25
    done
    for pg in "${groups[@]}"; do
        if kill -0 -- "-$pg" 2>/dev/null; then
            say "process group $pg ignored SIGTERM for $limit s: SIGKILL"
            kill -KILL -- "-$pg" 2>/dev/null || true
        fi
    done
    for n in "$@"; do rm -f "$BASE/run/$n.pid"; done
}

# kill_netns_pids PID... : TERM, then KILL after up to 2 s (processes found inside our namespaces are ours).
kill_netns_pids()
{
    local -a entries=()
    local p st
    for p in "$@"; do
        st=$(_ns_starttime "$p") && entries+=("$p $st")
    done
    _ns_kill_pids "${entries[@]}"
}

# mysql_q SQL : runs SQL on the harness's MariaDB, no column names.
mysql_q()
{
    mariadb --defaults-file="$BASE/etc/mysql/my.cnf" -N -e "$1"
}

# http_ok URL : succeeds when URL answers with any HTTP status below 500.
http_ok()
{
    local c
    c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1") || return 1
    ((c > 0 && c < 500))
}

# run_parallel NAME... : runs the functions NAME in background subshells, each logging to logs/setup-NAME.log;
# fails naming the first that failed, with its log's tail. Each runs in a process group of its own (job control
# on while they start), recorded in PARALLEL, so that a failed or interrupted `up` ends them with their children.
PARALLEL=()
run_parallel()
{
    local fn
    local -A pids=()
    set -m
    for fn in "$@"; do
        ("$fn") >"$BASE/logs/setup-$fn.log" 2>&1 &
        pids[$fn]=$!
        PARALLEL+=("$!")
    done
    set +m
    for fn in "$@"; do
        if ! wait "${pids[$fn]}"; then
            tail -n 25 "$BASE/logs/setup-$fn.log" >&2
            die "$fn failed (log above: $BASE/logs/setup-$fn.log)"
        fi
    done
    PARALLEL=()
}

# shellcheck source-path=SCRIPTDIR source=harness_up.sh
. "$HERE/harness_up.sh"

# cmd_down : stops every service by its process group, removes the VM, agent and compute namespaces, the
# root-side veth and the state directory. Idempotent; safe after a half-finished `up`. Bounded: ~20 s at most.
cmd_down()
{
    local ns host pid other
    ((EUID == 0)) || _ns_skip "needs root (and without root no harness can be up)"
    [[ -n $LOCK_FD ]] || lock_machine 60
    if [[ -f $MACHINE_DIR/base ]]; then
        other=$(cat "$MACHINE_DIR/base")
        if [[ $other != "$BASE" && -d $other ]]; then
            die "the harness that is up keeps its state in $other: VMTP_OS_BASE=$other $0 down"
        fi
    fi
    T0=${EPOCHREALTIME/[.,]/}
    T_LAST=$T0
    # Processes in the routers' namespaces (none unless a test started one): they would keep a namespace alive.
    if pid=$(svc_pid neutron-l3-agent); then
        for ns in $(nsenter -t "$pid" -m ip netns list 2>/dev/null | awk '{ print $1 }'); do
            # shellcheck disable=SC2046
            kill_netns_pids $(nsenter -t "$pid" -m ip netns pids "$ns" 2>/dev/null)
        done
    fi
    stop_services 10 "${SERVICES[@]}"
    # The VMs: every process in a VM namespace (sshd, ssh sessions, the tool's agents), then the namespace.
    for ns in $(ip netns list | awk -v p="^${VM_NS_PREFIX}[0-9a-f]{8}\$" '$1 ~ p { print $1 }'); do
        # shellcheck disable=SC2046
        kill_netns_pids $(ip netns pids "$ns" 2>/dev/null)
        ip netns del "$ns" 2>/dev/null || say "could not delete namespace $ns"
    done
    # The compute namespaces (the agents' leftovers, e.g. privsep daemons, are ended by PID inside them).
    if [[ -d $BASE/netns-lib ]]; then
        ns_init_named "$PREFIX" "$BASE/netns-lib" && ns_cleanup 0
    fi
    for host in "${HOSTS[@]}"; do
        if ip netns list | grep -q "^$host\b"; then
            # shellcheck disable=SC2046
            kill_netns_pids $(ip netns pids "$host" 2>/dev/null)
            ip netns del "$host" 2>/dev/null || say "could not delete namespace $host"
        fi
    done
    ! ip link show "$EXT_ROOT_IF" >/dev/null 2>&1 || ip link del "$EXT_ROOT_IF" 2>/dev/null || true
    if [[ -n ${VMTP_OS_SAVE_LOGS:-} && -d $BASE/logs ]]; then
        mkdir -p "$VMTP_OS_SAVE_LOGS" && cp -a "$BASE/logs/." "$VMTP_OS_SAVE_LOGS/" &&
            say "logs saved in $VMTP_OS_SAVE_LOGS"
    fi
    if [[ -e $BASE/$BASE_TAG ]]; then
        rm -rf -- "$BASE"
    elif [[ -e $BASE ]]; then
        say "left $BASE alone: it has no $BASE_TAG, so the harness did not make it"
    fi
    rm -f "$MACHINE_DIR/base"
    step "down: services stopped, namespaces removed$([[ -e $BASE ]] || echo ", $BASE removed")"
}

# cmd_status : prints whether the harness is up, and each service's process group and RSS (MiB, whole group).
cmd_status()
{
    local n pg rss total=0 up=0 dead=0
    if [[ ! -d $BASE/run ]]; then
        echo "down (no $BASE/run)"
        return 3
    fi
    printf '%-42s %8s %9s\n' SERVICE PGID RSS_MiB
    for n in "${SERVICES[@]}"; do
        [[ -f $BASE/run/$n.pid ]] || continue
        if pg=$(svc_pgid "$n"); then
            rss=$(ps -e -o pgid=,rss= | awk -v g="$pg" '$1 == g { s += $2 } END { printf "%d", s / 1024 }')
            total=$((total + rss))
            up=$((up + 1))
            printf '%-42s %8s %9s\n' "$n" "$pg" "$rss"
        else
            dead=$((dead + 1))
            printf '%-42s %8s %9s\n' "$n" dead -
        fi
    done
    rss=$(for ns in $(ip netns list | awk -v p="^$VM_NS_PREFIX" '$1 ~ p { print $1 }'); do
        ip netns pids "$ns"
    done | xargs -r ps -o rss= -p | awk '{ s += $1 } END { printf "%d", s / 1024 }')
    printf '%-42s %8s %9s\n' "VMs ($(ip netns list | grep -c "^$VM_NS_PREFIX" || true) namespaces)" - "$rss"
    printf '%-42s %8s %9s\n' total - "$((total + rss))"
    if ((dead == 0 && up > 0)) && [[ -f $BASE/ready ]]; then
        echo "up (state in $BASE)"
        return 0
    fi
    echo "partly up: $up services running, $dead dead$([[ -f $BASE/ready ]] || echo ', up did not finish')"
    return 1
}

# cmd_env [demo] : export lines for the admin (or demo) credentials and the harness's names.
cmd_env()
{
    [[ -f $BASE/ready ]] || die "the harness is not up (state directory $BASE)"
    if [[ ${1:-admin} == demo ]]; then cat "$BASE/openrc-demo"; else cat "$BASE/openrc"; fi
    cat "$BASE/harness.env"
}

# cmd_router_exec ROUTER_ID CMD... : CMD inside qrouter-ROUTER_ID, through the L3 agent's mount namespace.
cmd_router_exec()
{
    local pid id=$1
    shift
    pid=$(svc_pid neutron-l3-agent) || die "the L3 agent is not running"
    exec nsenter -t "$pid" -m ip netns exec "qrouter-$id" "$@"
}

case ${1:-} in
up) prereqs && cmd_up ;;
check) prereqs ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env "${2:-admin}" ;;
router-exec)
    (($# >= 3)) || die "usage: $0 router-exec ROUTER_ID CMD..."
    shift
    cmd_router_exec "$@"
    ;;
-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' ;;
*)
    echo "usage: $0 up|down|status|env [demo]|router-exec ROUTER_ID CMD...|check" >&2
    exit 2
    ;;
esac
