# shellcheck shell=bash
# tests/openstack/harness_conf.sh — the configuration files of the harness's OpenStack, written fresh under
# $BASE/etc by `harness.sh up` (sourced; uses BASE, PW, DB, RABBIT, HOSTS, NET_NODE, UNDERLAY_IP, EXT_BRIDGE).
#
# Everything listens on 127.0.0.1. The packaged /etc files are used only for api-paste.ini and policy.d (all
# defaults). Workers are 1 everywhere: this is a 2-core machine and the API load is one test at a time.

# ks_block SECTION USER : a keystoneauth password block for a service's configuration.
ks_block()
{
    cat <<EOF
[$1]
auth_url = http://127.0.0.1:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
region_name = RegionOne
project_name = service
username = $2
password = $PW
EOF
}

# uwsgi_ini NAME PORT WSGI_FILE ENV THREADS : a uwsgi configuration for an API that Debian ships as a WSGI script.
# "Connection: close" on every answer: a minimal http-socket drops kept-alive connections, and python-requests
# then gets "Connection reset by peer" on every other call (Debian's own ini has the same trick).
uwsgi_ini()
{
    cat <<EOF
[uwsgi]
plugins = python3
master = true
processes = 1
threads = $5
enable-threads = true
lazy-apps = true
die-on-term = true
no-orphans = true
buffer-size = 65535
add-header = Connection: close
wsgi-manage-chunked-input = true
http-socket = 127.0.0.1:$2
wsgi-file = $3
env = $4
logto = $BASE/logs/$1-uwsgi.log
EOF
}

# conf_mariadb_rabbitmq : a private MariaDB (own datadir and socket, 127.0.0.1:3306) and RabbitMQ (127.0.0.1:5672,
# its Erlang distribution and epmd on loopback too).
conf_mariadb_rabbitmq()
{
    cat >"$BASE/etc/mysql/my.cnf" <<EOF
[mysqld]
user = root
datadir = $BASE/state/mysql
socket = $BASE/run/mysqld.sock
pid-file = $BASE/run/mysqld.pid.mysql
bind-address = 127.0.0.1
port = 3306
log-error = $BASE/logs/mysqld.err
max_connections = 500
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
# a throw-away database: no fsync per commit
innodb_flush_log_at_trx_commit = 0
skip-name-resolve
performance_schema = OFF
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
[client]
socket = $BASE/run/mysqld.sock
EOF

    cat >"$BASE/etc/rabbitmq/env.sh" <<EOF
export HOME=$BASE/state/rabbitmq/home
export RABBITMQ_NODENAME=rabbit@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=5672
export RABBITMQ_DIST_PORT=25672
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE=$BASE/state/rabbitmq/mnesia
export RABBITMQ_LOG_BASE=$BASE/logs/rabbitmq
export RABBITMQ_PID_FILE=$BASE/run/rabbitmq.pid.rabbit
export RABBITMQ_CONFIG_FILE=$BASE/etc/rabbitmq/rabbitmq
export RABBITMQ_ENABLED_PLUGINS_FILE=$BASE/etc/rabbitmq/enabled_plugins
export RABBITMQ_CONF_ENV_FILE=$BASE/etc/rabbitmq/rabbitmq-env.conf
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
    echo "[]." >"$BASE/etc/rabbitmq/enabled_plugins"
    : >"$BASE/etc/rabbitmq/rabbitmq-env.conf"
    cat >"$BASE/etc/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:5672
loopback_users = none
vm_memory_high_watermark.absolute = 512MB
disk_free_limit.absolute = 50MB
EOF
}

# conf_keystone_placement_glance : Keystone and Placement under uwsgi, Glance with a file store.
conf_keystone_placement_glance()
{
    cat >"$BASE/etc/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $BASE/logs/keystone.log
[database]
connection = $DB/keystone
[identity]
# bcrypt's minimum cost: every password authentication (each service's first token, each test's tokens) costs
# ~0.3 s at the default cost of 12 on this machine
password_hash_rounds = 4
[token]
provider = fernet
[fernet_tokens]
key_repository = $BASE/state/keystone-fernet-keys
[credential]
key_repository = $BASE/state/keystone-credential-keys
[oslo_policy]
policy_dirs = /etc/keystone/policy.d
EOF
    uwsgi_ini keystone 5000 /usr/bin/keystone-wsgi-public \
        "OS_KEYSTONE_CONFIG_FILES=$BASE/etc/keystone/keystone.conf" 8 >"$BASE/etc/keystone/uwsgi.ini"

    cat >"$BASE/etc/placement/placement.conf" <<EOF
[DEFAULT]
log_file = $BASE/logs/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = $DB/placement
$(ks_block keystone_authtoken placement)
www_authenticate_uri = http://127.0.0.1:5000
EOF
    uwsgi_ini placement 8778 /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$BASE/etc/placement" 4 \
        >"$BASE/etc/placement/uwsgi.ini"

    cat >"$BASE/etc/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
workers = 1
log_file = $BASE/logs/glance-api.log
enabled_backends = fs:file
[database]
connection = $DB/glance
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $BASE/state/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $BASE/state/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $BASE/state/glance/tasks
$(ks_block keystone_authtoken glance)
www_authenticate_uri = http://127.0.0.1:5000
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $BASE/state/glance/lock
EOF
}

# conf_neutron : neutron-server (ML2/linuxbridge, VXLAN tenant networks, flat physnet "public", security groups)
# and the agents: one linuxbridge agent per compute host, the L3 agent on the network node.
conf_neutron()
{
    cat >"$BASE/etc/neutron/neutron.conf" <<EOF
[DEFAULT]
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
bind_host = 127.0.0.1
bind_port = 9696
api_paste_config = /etc/neutron/api-paste.ini
api_workers = 0
rpc_workers = 0
rpc_state_report_workers = 0
state_path = $BASE/state/neutron
log_file = $BASE/logs/neutron-server.log
transport_url = $RABBIT
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
graceful_shutdown_timeout = 5
[database]
connection = $DB/neutron
$(ks_block keystone_authtoken neutron)
www_authenticate_uri = http://127.0.0.1:5000
$(ks_block nova nova)
[oslo_concurrency]
lock_path = $BASE/state/neutron/lock
[oslo_policy]
policy_dirs = /etc/neutron/policy.d
[experimental]
# Zed marks ML2/linuxbridge experimental: the server refuses to start without this
linuxbridge = true
EOF
    cat >"$BASE/etc/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = linuxbridge
extension_drivers = port_security
[ml2_type_flat]
flat_networks = public
[ml2_type_vxlan]
vni_ranges = 1:1000
[securitygroup]
enable_security_group = true
EOF

    local host i
    for i in "${!HOSTS[@]}"; do
        host=${HOSTS[i]}
        mkdir -p "$BASE/etc/neutron/$host" "$BASE/state/neutron-$host/lock"
        # [DEFAULT] host is the name ML2 binds ports to: the same as the nova-compute of this host.
        cat >"$BASE/etc/neutron/$host/neutron.conf" <<EOF
[DEFAULT]
host = $host
transport_url = $RABBIT
state_path = $BASE/state/neutron-$host
graceful_shutdown_timeout = 5
[agent]
# the agents run as root: no sudo/rootwrap, privsep-helper is spawned directly
root_helper =
report_interval = 10
[oslo_concurrency]
lock_path = $BASE/state/neutron-$host/lock
[experimental]
linuxbridge = true
EOF
        # VXLAN's local_ip sits on the underlay veth between the compute hosts (the kernel has no dummy links).
        # l2_population stays off: broadcast and unknown unicast go to the VXLAN multicast group over the veth.
        {
            echo "[linux_bridge]"
            echo "physical_interface_mappings = public:pub0"
            cat <<EOF
[vxlan]
enable_vxlan = true
local_ip = ${UNDERLAY_IP[i]}
l2_population = false
[securitygroup]
enable_security_group = true
firewall_driver = iptables
[agent]
polling_interval = 1
EOF
        } >"$BASE/etc/neutron/$host/linuxbridge_agent.ini"
    done
    cat >"$BASE/etc/neutron/$NET_NODE/l3_agent.ini" <<EOF
[DEFAULT]
interface_driver = linuxbridge
agent_mode = legacy
enable_metadata_proxy = false
EOF
}

# nova_conf [HOST] : nova.conf for the API, conductor, scheduler and nova-manage (no HOST), or for the
# nova-compute of HOST (no database access, like devstack: "No DB access allowed in nova-compute" otherwise).
nova_conf()
{
    local host=${1:-}
    cat <<EOF
[DEFAULT]
my_ip = 127.0.0.1
transport_url = $RABBIT
compute_driver = netns_driver.NetnsDriver
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
graceful_shutdown_timeout = 5
EOF
    if [[ -n $host ]]; then
        cat <<EOF
host = $host
state_path = $BASE/state/nova-$host
instances_path = $BASE/state/nova-$host/instances
[oslo_concurrency]
lock_path = $BASE/state/nova-$host/lock
EOF
    else
        cat <<EOF
state_path = $BASE/state/nova
[oslo_concurrency]
lock_path = $BASE/state/nova/lock
[api_database]
connection = $DB/nova_api
[database]
connection = $DB/nova
EOF
    fi
    cat <<EOF
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = false
[glance]
region_name = RegionOne
$(ks_block keystone_authtoken nova)
www_authenticate_uri = http://127.0.0.1:5000
$(ks_block service_user nova)
# required: bookworm's nova carries the CVE-2023-2088 fix
send_service_user_token = true
$(ks_block placement placement)
$(ks_block neutron neutron)
EOF
}

# write_configs : every configuration file under $BASE/etc, and the credentials files.
write_configs()
{
    local host
    conf_mariadb_rabbitmq
    conf_keystone_placement_glance
    conf_neutron
    nova_conf >"$BASE/etc/nova/nova.conf"
    for host in "${HOSTS[@]}"; do
        nova_conf "$host" >"$BASE/etc/nova/nova-compute-$host.conf"
        mkdir -p "$BASE/state/nova-$host/instances" "$BASE/state/nova-$host/lock"
    done
    write_credentials
}

# openrc USER PASSWORD : the openrc of USER, scoped to the project of the same name.
openrc()
{
    cat <<EOF
export OS_AUTH_URL=http://127.0.0.1:5000/v3
export OS_USERNAME=$1
export OS_PASSWORD=$2
export OS_PROJECT_NAME=$1
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=RegionOne
export OS_INTERFACE=public
EOF
}

# cloud_yaml USER PASSWORD : the clouds.yaml entry of USER (cloud name USER, project USER).
cloud_yaml()
{
    cat <<EOF
  $1:
    auth: {auth_url: "http://127.0.0.1:5000/v3", username: $1, password: $2, project_name: $1,
           user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    identity_api_version: 3
    interface: public
EOF
}

# write_credentials : $BASE/openrc (admin), $BASE/openrc-demo and $BASE/clouds.yaml (clouds "admin" and "demo").
write_credentials()
{
    openrc admin "$PW" >"$BASE/openrc"
    openrc demo "$DEMO_PW" >"$BASE/openrc-demo"
    {
        echo "clouds:"
        cloud_yaml admin "$PW"
        cloud_yaml demo "$DEMO_PW"
    } >"$BASE/clouds.yaml"
}
