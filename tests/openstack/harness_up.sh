# shellcheck shell=bash disable=SC2034 # T0 and T_LAST are read by step() in harness.sh
# tests/openstack/harness_up.sh — `harness.sh up`, phase by phase (sourced by harness.sh, which defines the names
# and helpers used here).

# --- namespaces -------------------------------------------------------------------------------------------------

# build_hosts : the compute namespaces, the VXLAN underlay veth between them, the external bridge on the network
# node and its veth to the root namespace. Recorded with tests/netns/lib.sh (route guard, cleanup bookkeeping).
build_hosts()
{
    local i host
    ns_init_named "$PREFIX" "$BASE/netns-lib" || die "cannot set up namespaces"
    for host in "${HOSTS[@]}"; do
        ns_add "${host#"$PREFIX"-}" >/dev/null || die "namespace $host"
        # br_netfilter's switches are per namespace here: the security groups' iptables rules see bridged traffic
        ip netns exec "$host" sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-arptables=1 \
            net.bridge.bridge-nf-call-ip6tables=1
    done
    # The underlay: a plain veth, each end holding its host's VXLAN local_ip (no dummy links in this kernel).
    ns_link "${HOSTS[0]#"$PREFIX"-}" underlay "${UNDERLAY_IP[0]}/24" \
        "${HOSTS[1]#"$PREFIX"-}" underlay "${UNDERLAY_IP[1]}/24" || die "underlay veth"
    # physnet "public": bridge br-public on the network node, one veth to the root namespace, whose end holds
    # 198.18.200.1/24 so floating IPs are on-link from here. Deleting the namespace removes the veth too.
    ns_bridge "${NET_NODE#"$PREFIX"-}" "$EXT_BRIDGE" || die "bridge $EXT_BRIDGE"
    ip link add "$EXT_ROOT_IF" type veth peer name ext0 netns "$NET_NODE" || die "veth $EXT_ROOT_IF"
    _ns_root_noipv6 "$EXT_ROOT_IF"
    ip -n "$NET_NODE" link set ext0 master "$EXT_BRIDGE" up
    ip addr add "$EXT_ROOT_CIDR" dev "$EXT_ROOT_IF"
    ip link set "$EXT_ROOT_IF" up
    # Every host (the network node too) has the physnet as an interface pub0, a veth whose peer is in br-public:
    # the linuxbridge agent enslaves pub0 to the network's bridge (physical_interface_mappings), where os-vif puts
    # a VM's tap and the L3 agent a router's gateway port. (With bridge_mappings the agent leaves a VM's tap where
    # os-vif put it, in a bridge of its own: a VM on the provider network would reach nothing.)
    for host in "${HOSTS[@]}"; do
        ip -n "$NET_NODE" link add "pub-${host##*-}" type veth peer name pub0 netns "$host" || die "veth to $host"
        ip -n "$NET_NODE" link set "pub-${host##*-}" master "$EXT_BRIDGE" up
        ip -n "$host" link set pub0 up
    done
    for i in "${!HOSTS[@]}"; do mkdir -p "$BASE/netns/${HOSTS[i]}"; done
}

# --- databases, schemas, Keystone ---------------------------------------------------------------------------------

# start_db_and_bus : MariaDB (databases and the openstack user created), epmd and RabbitMQ (left booting).
start_db_and_bus()
{
    mariadb-install-db --defaults-file="$BASE/etc/mysql/my.cnf" --auth-root-authentication-method=socket \
        >"$BASE/logs/mariadb-install-db.log" 2>&1 || die "mariadb-install-db (see $BASE/logs)"
    start_svc mariadb mariadbd --defaults-file="$BASE/etc/mysql/my.cnf"
    # epmd in the foreground of its own group, so that `down` stops it by its group like the rest
    start_svc epmd epmd -address 127.0.0.1
    # shellcheck source=/dev/null
    (. "$BASE/etc/rabbitmq/env.sh" && start_svc rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server)
    os_wait 30 "mariadb answering" mysql_q 'select 1' >/dev/null 2>&1 || die "mariadb did not start"
    mysql_q "CREATE USER 'openstack'@'127.0.0.1' IDENTIFIED BY '$PW';
        GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1';
        CREATE DATABASE keystone; CREATE DATABASE glance; CREATE DATABASE neutron; CREATE DATABASE placement;
        CREATE DATABASE nova_api; CREATE DATABASE nova; CREATE DATABASE nova_cell0;"
}

# ks NAME : keystone-manage with the harness's configuration.
ks()
{
    keystone-manage --config-file "$BASE/etc/keystone/keystone.conf" "$@"
}

# ks_create TOKEN PATH JSON : POST to Keystone, prints the new object's id.
ks_create()
{
    os_api "$1" POST "$OS_KEYSTONE/$2" "$3" | jq -r '.[keys[0]].id'
}

# setup_keystone : schema, keys, bootstrap (admin/secret, RegionOne), uwsgi, then the catalog through the REST API:
# service project and role, the service users, services and endpoints; project "demo" with user demo (member),
# and admin as admin of demo too (an admin token scoped to demo can force hosts for demo's servers).
setup_keystone()
{
    local tok svc_proj demo_proj uid role_admin role_service role_member s name type port itf sid
    ks db_sync
    ks fernet_setup --keystone-user root --keystone-group root
    ks credential_setup --keystone-user root --keystone-group root
    ks bootstrap --bootstrap-password "$PW" --bootstrap-region-id RegionOne \
        --bootstrap-admin-url http://127.0.0.1:5000/v3 --bootstrap-internal-url http://127.0.0.1:5000/v3 \
        --bootstrap-public-url http://127.0.0.1:5000/v3
    start_svc keystone uwsgi_python3 --ini "$BASE/etc/keystone/uwsgi.ini"
    os_wait 60 "keystone answering" http_ok "$OS_KEYSTONE"
    tok=$(os_token admin "$PW" admin)
    svc_proj=$(ks_create "$tok" projects '{"project": {"name": "service", "domain_id": "default"}}')
    demo_proj=$(ks_create "$tok" projects '{"project": {"name": "demo", "domain_id": "default"}}')
    # Zed's bootstrap makes admin, member and reader only; Nova's service token needs "service".
    role_service=$(ks_create "$tok" roles '{"role": {"name": "service"}}')
    role_admin=$(os_id "$tok" "$OS_KEYSTONE/roles?name=admin" roles admin)
    role_member=$(os_id "$tok" "$OS_KEYSTONE/roles?name=member" roles member)
    for name in nova neutron placement glance; do
        uid=$(ks_create "$tok" users "$(jq -nc --arg n "$name" --arg p "$PW" \
            '{user: {name: $n, domain_id: "default", password: $p}}')")
        os_api "$tok" PUT "$OS_KEYSTONE/projects/$svc_proj/users/$uid/roles/$role_admin"
        os_api "$tok" PUT "$OS_KEYSTONE/projects/$svc_proj/users/$uid/roles/$role_service"
    done
    for s in "nova compute 8774/v2.1" "neutron network 9696" "placement placement 8778" "glance image 9292"; do
        read -r name type port <<<"$s"
        sid=$(ks_create "$tok" services "$(jq -nc --arg n "$name" --arg t "$type" '{service: {name: $n, type: $t}}')")
        for itf in public internal admin; do
            ks_create "$tok" endpoints "$(jq -nc --arg s "$sid" --arg i "$itf" --arg u "http://127.0.0.1:$port" \
                '{endpoint: {service_id: $s, interface: $i, url: $u, region_id: "RegionOne"}}')" >/dev/null
        done
    done
    uid=$(ks_create "$tok" users "$(jq -nc --arg p "$DEMO_PW" \
        '{user: {name: "demo", domain_id: "default", password: $p}}')")
    os_api "$tok" PUT "$OS_KEYSTONE/projects/$demo_proj/users/$uid/roles/$role_member"
    uid=$(os_id "$tok" "$OS_KEYSTONE/users?name=admin" users admin)
    os_api "$tok" PUT "$OS_KEYSTONE/projects/$demo_proj/users/$uid/roles/$role_admin"
}

# setup_neutron_db, setup_placement_db, setup_glance_db, setup_nova_db : the other services' schemas.
setup_neutron_db()
{
    neutron-db-manage --config-file "$BASE/etc/neutron/neutron.conf" \
        --config-file "$BASE/etc/neutron/ml2_conf.ini" upgrade heads
}
setup_placement_db()
{
    placement-manage --config-file "$BASE/etc/placement/placement.conf" db sync
}
setup_glance_db()
{
    glance-manage --config-file "$BASE/etc/glance/glance-api.conf" db_sync
}
setup_nova_db()
{
    local nc=(--config-file "$BASE/etc/nova/nova.conf")
    nova-manage "${nc[@]}" api_db sync
    nova-manage "${nc[@]}" cell_v2 map_cell0 --database_connection "$DB/nova_cell0"
    nova-manage "${nc[@]}" cell_v2 create_cell --name=cell1 --verbose
    nova-manage "${nc[@]}" db sync
}

# --- services ---------------------------------------------------------------------------------------------------

# rabbit_ready : waits for RabbitMQ and creates the services' user.
rabbit_ready()
{
    (
        # shellcheck source=/dev/null
        . "$BASE/etc/rabbitmq/env.sh"
        timeout 90 /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup
        /usr/lib/rabbitmq/bin/rabbitmqctl -q add_user openstack "$PW" >/dev/null
        /usr/lib/rabbitmq/bin/rabbitmqctl -q set_permissions openstack ".*" ".*" ".*"
    ) >"$BASE/logs/rabbitmqctl.log" 2>&1 || die "rabbitmq did not start (see $BASE/logs/rabbitmqctl.log)"
}

# start_api_services : Placement, neutron-server, Glance, Nova conductor/scheduler/api, and the RabbitMQ relays into
# the compute namespaces (filesystem sockets cross namespaces: socat unix <- tcp in each, tcp <- unix in root).
start_api_services()
{
    local host s nc=(--config-file "$BASE/etc/nova/nova.conf")
    start_svc placement uwsgi_python3 --ini "$BASE/etc/placement/uwsgi.ini"
    start_svc neutron-server neutron-server --config-file "$BASE/etc/neutron/neutron.conf" \
        --config-file "$BASE/etc/neutron/ml2_conf.ini"
    start_svc glance-api glance-api --config-file "$BASE/etc/glance/glance-api.conf"
    for s in conductor scheduler api; do
        start_svc "nova-$s" "nova-$s" "${nc[@]}" --log-file "$BASE/logs/nova-$s.log"
    done
    start_svc rabbit-relay socat UNIX-LISTEN:"$BASE/run/rabbit.sock",fork,mode=600 TCP:127.0.0.1:5672
    os_wait 10 "rabbit relay socket" test -S "$BASE/run/rabbit.sock" || die "socat relay did not start"
    for host in "${HOSTS[@]}"; do
        start_svc "rabbit-relay-$host" ip netns exec "$host" \
            socat TCP-LISTEN:5672,bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:"$BASE/run/rabbit.sock"
    done
}

# start_agents : a linuxbridge agent per compute host, the L3 agent on the network node.
start_agents()
{
    local host e
    for host in "${HOSTS[@]}"; do
        e=$BASE/etc/neutron/$host
        start_in_host "neutron-linuxbridge-agent-$host" "$host" neutron-linuxbridge-agent \
            --config-file "$e/neutron.conf" --config-file "$e/linuxbridge_agent.ini" \
            --log-file "$BASE/logs/neutron-linuxbridge-agent-$host.log"
    done
    e=$BASE/etc/neutron/$NET_NODE
    start_in_host neutron-l3-agent "$NET_NODE" neutron-l3-agent --config-file "$e/neutron.conf" \
        --config-file "$e/l3_agent.ini" --log-file "$BASE/logs/neutron-l3-agent.log"
}

# start_computes : one nova-compute per host, in the root namespace (see netns_driver.py: it talks only to the
# control plane on 127.0.0.1, and creates VM namespaces where `ip netns` and tests see them).
start_computes()
{
    local host
    for host in "${HOSTS[@]}"; do
        start_svc "nova-compute-$host" /usr/bin/python3 "$HERE/nova-compute-netns" \
            --config-file "$BASE/etc/nova/nova-compute-$host.conf" --log-file "$BASE/logs/nova-compute-$host.log"
    done
}

# computes_registered : both compute nodes are in Nova's database.
computes_registered()
{
    [[ $(mysql_q "select count(*) from nova.compute_nodes where deleted=0" 2>/dev/null) == "${#HOSTS[@]}" ]]
}

# agents_alive TOKEN : the linuxbridge agents of both hosts and the L3 agent report alive.
agents_alive()
{
    local n
    n=$(os_api "$1" GET "$OS_NEUTRON/agents" 2>/dev/null | jq '[.agents[] | select(.alive)] | length') || return 1
    ((n == ${#HOSTS[@]} + 1))
}

# computes_up TOKEN : both nova-compute services are up and mapped to a cell (the scheduler can place on them).
computes_up()
{
    local n
    n=$(os_api "$1" GET "$OS_NOVA/os-services?binary=nova-compute" 2>/dev/null |
        jq '[.services[] | select(.state == "up")] | length') || return 1
    ((n == ${#HOSTS[@]})) &&
        [[ $(mysql_q "select count(*) from nova_api.host_mappings" 2>/dev/null) == "${#HOSTS[@]}" ]]
}

# create_cloud_resources : what a tool under test needs: flavor, image, external network and subnet (as admin),
# and instance quotas for concurrent runs.
create_cloud_resources()
{
    local tok id net
    tok=$(os_token admin "$PW" admin)
    os_api "$tok" POST "$OS_NOVA/flavors" "$(jq -nc --arg n "$FLAVOR" \
        '{flavor: {name: $n, ram: 512, vcpus: 1, disk: 1, "os-flavor-access:is_public": true}}')" >/dev/null
    # Any small file: the netns driver never reads the image.
    head -c 4096 /dev/zero >"$BASE/state/image.raw"
    id=$(os_api "$tok" POST "$OS_GLANCE/images" "$(jq -nc --arg n "$IMAGE" \
        '{name: $n, disk_format: "raw", container_format: "bare", visibility: "public"}')" | jq -r .id)
    os_upload "$tok" "$OS_GLANCE/images/$id/file" "$BASE/state/image.raw"
    net=$(os_api "$tok" POST "$OS_NEUTRON/networks" "$(jq -nc --arg n "$EXT_NET" '{network: {name: $n,
        "router:external": true, "provider:network_type": "flat", "provider:physical_network": "public"}}')" |
        jq -r .network.id)
    # No gateway: routers get no default route, so nothing is ever routed out of the machine.
    os_api "$tok" POST "$OS_NEUTRON/subnets" "$(jq -nc --arg n "$net" --arg c "$EXT_CIDR" \
        --arg s "${EXT_POOL[0]}" --arg e "${EXT_POOL[1]}" '{subnet: {network_id: $n, name: "public-subnet",
        ip_version: 4, cidr: $c, gateway_ip: null, enable_dhcp: false,
        allocation_pools: [{start: $s, end: $e}]}}')" >/dev/null
    # Nova's default of 10 instances per project would stop two 5-VM vmtp runs at once (both projects).
    local p
    for p in admin demo; do
        id=$(os_api "$tok" GET "$OS_KEYSTONE/projects?name=$p" | jq -r '.projects[0].id')
        os_api "$tok" PUT "$OS_NOVA/os-quota-sets/$id" '{"quota_set": {"instances": 40, "cores": 80}}' >/dev/null
    done
}

# write_harness_env : the names a tool or test needs, as export lines (`harness.sh env` prints them).
write_harness_env()
{
    cat >"$BASE/harness.env" <<EOF
export VMTP_OS_BASE=$BASE
export VMTP_OS_EXT_NET=$EXT_NET
export VMTP_OS_IMAGE=$IMAGE
export VMTP_OS_FLAVOR=$FLAVOR
export VMTP_OS_HOSTS="${HOSTS[*]}"
export VMTP_OS_AZ=nova
export VMTP_OS_EXT_CIDR=$EXT_CIDR
export VMTP_OS_VM_NS_PREFIX=$VM_NS_PREFIX
export OS_CLIENT_CONFIG_FILE=$BASE/clouds.yaml
EOF
}

# up_failed : the EXIT trap of `up` until it succeeds: error lines from the logs, then `down`.
up_failed()
{
    local rc=$? f pg
    trap - EXIT INT TERM
    ((rc != 0)) || return 0
    for pg in "${PARALLEL[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
    for pg in "${PARALLEL[@]}"; do wait "$pg" 2>/dev/null || true; done
    printf 'harness: up failed (exit %s); errors in the logs:\n' "$rc" >&2
    for f in "$BASE"/logs/*.log "$BASE"/logs/*.stdout; do
        [[ -s $f ]] || continue
        # (keystone-manage's "... has no attribute 'getcurrent'" at exit is eventlet noise)
        grep -E 'ERROR|CRITICAL|[A-Za-z]Error:|[Ee]rror: ' "$f" 2>/dev/null | grep -v getcurrent | head -n 3 |
            sed "s|^|  ${f##*/}: |" >&2 || true
    done
    say "taking down what was started"
    cmd_down || true
    exit "$rc"
}

# cmd_up : starts everything (see the header of harness.sh), prints the time of each phase.
cmd_up()
{
    local p tok pid
    lock_machine 0
    if [[ -f $MACHINE_DIR/base ]]; then
        die "an OpenStack harness is already up (state in $(cat "$MACHINE_DIR/base")): run" \
            "'VMTP_OS_BASE=$(cat "$MACHINE_DIR/base") $0 down' first"
    fi
    for p in "${PORTS[@]}"; do
        [[ -z $(ss -Hltn "sport = :$p") ]] || die "TCP port $p is in use: $(ss -Hltnp "sport = :$p" | head -n 1)"
    done
    for p in "${HOSTS[@]}" "$EXT_ROOT_IF"; do
        if ip netns list | grep -q "^$p\b" || ip link show "$p" >/dev/null 2>&1; then
            die "$p exists (a harness that was not taken down?): run '$0 down' first"
        fi
    done
    if [[ -e $BASE && ! -e $BASE/$BASE_TAG ]] && [[ -n $(find "$BASE" -maxdepth 0 -not -empty) ]]; then
        die "$BASE exists and is not a harness state directory: set VMTP_OS_BASE to a new directory"
    fi
    T0=${EPOCHREALTIME/[.,]/}
    T_LAST=$T0
    trap up_failed EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    printf '%s\n' "$BASE" >"$MACHINE_DIR/base"
    rm -rf -- "$BASE"
    mkdir -p "$BASE"/{etc/{mysql,rabbitmq,keystone,neutron,placement,nova,glance},logs,run,netns} \
        "$BASE"/state/{mysql,rabbitmq/home,neutron/lock,nova/lock} "$BASE"/state/glance/{images,staging,tasks,lock}
    chmod 0700 "$BASE"
    : >"$BASE/$BASE_TAG"
    write_configs
    build_hosts
    step "configs written, namespaces ${HOSTS[*]} with underlay and $EXT_BRIDGE ready"

    start_db_and_bus
    step "mariadb up, databases created (rabbitmq booting)"
    run_parallel setup_keystone setup_neutron_db setup_placement_db setup_glance_db setup_nova_db
    step "keystone up with catalog and demo project; neutron/placement/glance/nova schemas done"
    rabbit_ready
    step "rabbitmq ready"

    start_api_services
    os_wait 90 "neutron-server answering" http_ok http://127.0.0.1:9696/ || die "neutron-server did not start"
    start_agents
    os_wait 90 "nova-api answering" http_ok http://127.0.0.1:8774/ || die "nova-api did not start"
    # nova-conductor has been up since before nova-api answered: a compute started earlier waits an RPC timeout.
    start_computes
    os_wait 60 "placement answering" http_ok http://127.0.0.1:8778/ || die "placement did not start"
    os_wait 60 "glance answering" http_ok http://127.0.0.1:9292/ || die "glance-api did not start"
    step "placement, neutron-server, glance, nova api/conductor/scheduler answering; agents and computes started"

    create_cloud_resources
    step "flavor $FLAVOR, image $IMAGE, external network $EXT_NET ($EXT_CIDR, no gateway) created"
    os_wait 90 "both compute nodes registered" computes_registered || die "nova-compute did not register"
    nova-manage --config-file "$BASE/etc/nova/nova.conf" cell_v2 discover_hosts >"$BASE/logs/discover-hosts.log" 2>&1
    tok=$(os_token admin "$PW" admin)
    os_wait 60 "both nova-compute services up and mapped" computes_up "$tok" || die "nova-compute is not up"
    step "nova-compute up on ${HOSTS[*]}, hosts mapped"
    os_wait 90 "linuxbridge agents on ${HOSTS[*]} and the L3 agent alive" agents_alive "$tok" ||
        die "the neutron agents did not report"
    step "neutron agents alive"

    # The unreachable-route guard stays while MariaDB runs (not while this shell does).
    pid=$(svc_pid mariadb) && ns_route_hold "$pid"
    write_harness_env
    : >"$BASE/ready"
    trap - EXIT INT TERM
    step "up: admin credentials in $BASE/openrc (demo: openrc-demo, clouds.yaml); eval \"\$($0 env)\""
}
