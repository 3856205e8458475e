# shellcheck shell=bash
# tests/netns/lib.sh — network-namespace test hosts for vmtp's integration tests.
#
# Source it from a bash test script, then call ns_init first:
#
#     . "$(dirname "$0")/lib.sh"
#     ns_init                                   # SKIP (exit 77) unless root with `ip`
#     a=$(ns_add a); b=$(ns_add b)
#     ns_link "$a" veth0 198.18.0.1/30 "$b" veth0 198.18.0.2/30
#     ...
#     finish                                    # exit 1 if any assertion failed
#
# Safety rules (docs: TESTBED.md "Addresses and safety"):
#   - addresses only from 198.18.0.0/15 (RFC 2544 benchmarking range), no default routes;
#   - every name is run-unique (NS_PREFIX), so parallel runs never collide;
#   - everything created is recorded in a per-run state directory and removed by ns_cleanup on every exit path;
#   - processes are ended only by recorded PID (checked against their start time), or because they run inside
#     one of *our* namespaces — never by name.
#
# State lives in files under NS_STATE, not in shell variables, so that `x=$(ns_add a)` and `pid=$(ns_bg ...)`
# (which run in a subshell) still record what they created.
#
# Globals set by ns_init: NS_PREFIX (e.g. vt4242a1b2), NS_STATE (state directory), NS_NFT_TABLE.
# Optional knobs: NS_IPV6=1 keeps IPv6 enabled in new namespaces (default: disabled, so that no address outside
# 198.18.0.0/15 ever appears).

NS_ROUTE=198.18.0.0/15
# Shared by all runs on this machine (tmpfs, cleared at boot like the route itself): who added the unreachable
# route, and which runs still rely on it. Guarded by flock on NS_ROUTE_DIR/lock.
NS_ROUTE_DIR=${NS_ROUTE_DIR:-/run/vmtp-netns}
# Never inherited from the environment: a child test must not adopt (and clean up) its parent's run.
NS_PREFIX=
NS_STATE=
NS_NFT_TABLE=
_NS_PASS=0
_NS_FAIL=0

# --- internal helpers -------------------------------------------------------------------------------------------

# _ns_err MSG... : prints an error on stderr.
_ns_err()
{
    printf '%s: error: %s\n' "${0##*/}" "$*" >&2
}

# _ns_skip REASON : prints "SKIP: REASON" and exits 77 (ctest SKIP_RETURN_CODE / automake convention).
_ns_skip()
{
    printf 'SKIP: %s\n' "$*"
    exit 77
}

# _ns_full NAME : prints the full namespace name for NAME (a short name given to ns_add, or the full name it
# echoed). Returns 1 for a namespace that this run did not create: the library never touches anyone else's.
_ns_full()
{
    local n=$1
    [[ -n $NS_PREFIX ]] || { _ns_err "ns_init was not called"; return 1; }
    [[ $n == "$NS_PREFIX"-* ]] || n="$NS_PREFIX-$n"
    if ! grep -qxF -- "$n" "$NS_STATE/netns" 2>/dev/null; then
        _ns_err "namespace '$1' was not created by this run"
        return 1
    fi
    printf '%s\n' "$n"
}

# _ns_in_range CIDR : succeeds if CIDR is an IPv4 address with prefix length inside 198.18.0.0/15.
_ns_in_range()
{
    [[ $1 =~ ^198\.(18|19)\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]] || return 1
    ((BASH_REMATCH[2] <= 255 && BASH_REMATCH[3] <= 255 && BASH_REMATCH[4] >= 15 && BASH_REMATCH[4] <= 32))
}

# _ns_starttime PID : prints the process start time (field 22 of /proc/PID/stat, in clock ticks since boot).
# Together with the PID it identifies one process, so a recycled PID is never mistaken for ours.
_ns_starttime()
{
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) } # the command name (field 2) may contain spaces and ')'; fields 3.. follow the last ')'
    # shellcheck disable=SC2086
    set -- $rest
    printf '%s\n' "${20}" # field 22 overall = field 20 after the name
}

# _ns_alive PID [STARTTIME] : succeeds if PID is a live (non-zombie) process, and, if STARTTIME is given, the same
# process that was recorded.
_ns_alive()
{
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    [[ ${rest:0:1} != Z ]] || return 1
    [[ -z ${2:-} ]] || [[ $(_ns_starttime "$1") == "$2" ]]
}

# _ns_now_us : prints the wall-clock time in microseconds (bash's EPOCHREALTIME; only differences are used).
_ns_now_us()
{
    local t=${EPOCHREALTIME:-}
    if [[ -n $t ]]; then
        printf '%s\n' "${t/[.,]/}"
    else
        date +%s%6N
    fi
}

# _ns_kill_pids "PID STARTTIME"... : sends TERM to each still-matching process, waits up to 2 s (polling every
# 50 ms) and sends KILL to whatever is still alive. Reaps our own children so they do not linger as zombies.
_ns_kill_pids()
{
    local entry pid st deadline any
    local -a live=()
    for entry in "$@"; do
        read -r pid st <<<"$entry"
        [[ $pid =~ ^[0-9]+$ ]] || continue
        if _ns_alive "$pid" "$st"; then
            kill -TERM "$pid" 2>/dev/null && live+=("$pid $st")
        fi
    done
    ((${#live[@]})) || return 0
    deadline=$(($(_ns_now_us) + 2000000))
    while :; do
        any=0
        for entry in "${live[@]}"; do
            read -r pid st <<<"$entry"
            if _ns_alive "$pid" "$st"; then any=1; fi
        done
        ((any)) || break
        if (($(_ns_now_us) >= deadline)); then
            for entry in "${live[@]}"; do
                read -r pid st <<<"$entry"
                if _ns_alive "$pid" "$st"; then
                    printf '%s: pid %s ignored SIGTERM for 2 s: SIGKILL\n' "${0##*/}" "$pid" >&2
                    kill -KILL "$pid" 2>/dev/null || true
                fi
            done
            break
        fi
        sleep 0.05
    done
    for entry in "${live[@]}"; do
        read -r pid st <<<"$entry"
        wait "$pid" 2>/dev/null || true # only reaps if it is our child; harmless otherwise
    done
    return 0
}

# _ns_route_lock / _ns_route_unlock : serialise the shared route bookkeeping between concurrent runs.
_ns_route_lock()
{
    mkdir -p "$NS_ROUTE_DIR" 2>/dev/null || return 1
    exec {_NS_LOCK_FD}>"$NS_ROUTE_DIR/lock" || return 1
    command -v flock >/dev/null 2>&1 || return 0 # util-linux is always there on Debian; degrade gracefully
    flock -w 10 "$_NS_LOCK_FD" || true
}
_ns_route_unlock()
{
    [[ -n ${_NS_LOCK_FD:-} ]] || return 0
    exec {_NS_LOCK_FD}>&-
    _NS_LOCK_FD=
}

# _ns_route_users : prints how many *other* live runs rely on the route (stale entries of runs that died without
# cleanup are removed). Call with the lock held.
_ns_route_users()
{
    local f pid st n=0
    for f in "$NS_ROUTE_DIR"/user.*; do
        [[ -e $f && $f != "$NS_ROUTE_DIR/user.$NS_PREFIX" ]] || continue
        read -r pid st <"$f" || true
        if [[ $pid =~ ^[0-9]+$ ]] && _ns_alive "$pid" "$st"; then
            n=$((n + 1))
        else
            rm -f "$f"
        fi
    done
    printf '%d\n' "$n"
}

# _ns_route_acquire : adds `unreachable 198.18.0.0/15` in the root namespace unless a route for the prefix exists,
# and registers this run as a user. "route-added" marks a route that a vmtp run added, so that concurrent runs
# share it and the last one out removes it; a route that someone else made is never removed.
_ns_route_acquire()
{
    _ns_route_lock || { _ns_err "cannot use $NS_ROUTE_DIR: no unreachable route guard"; return 0; }
    printf '%s %s\n' "$$" "$(_ns_starttime $$)" >"$NS_ROUTE_DIR/user.$NS_PREFIX"
    : >"$NS_STATE/route_user"
    if [[ -z $(ip -4 route show exact "$NS_ROUTE" 2>/dev/null) ]]; then
        if ip route add unreachable "$NS_ROUTE" 2>/dev/null; then
            : >"$NS_ROUTE_DIR/route-added"
        fi
    fi
    _ns_route_unlock
}

# _ns_route_release : unregisters this run; removes the route if a vmtp run added it and no other run uses it.
_ns_route_release()
{
    _ns_route_lock || return 0
    rm -f "$NS_ROUTE_DIR/user.$NS_PREFIX" "$NS_STATE/route_user"
    if [[ -e $NS_ROUTE_DIR/route-added ]] && (($(_ns_route_users) == 0)); then
        ip route del unreachable "$NS_ROUTE" 2>/dev/null || true
        rm -f "$NS_ROUTE_DIR/route-added"
    fi
    _ns_route_unlock
}

# --- setup ------------------------------------------------------------------------------------------------------

# ns_require CMD... : exits 77 with "SKIP: needs CMD" unless every CMD is on PATH. Use it for optional tools
# (nft, jq, ping, iperf3, ...) before the test needs them.
ns_require()
{
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || _ns_skip "needs '$c' (run tools/install-deps)"
    done
}

# ns_init : prepares a run. Requires root and `ip` with working network namespaces; otherwise prints
# "SKIP: <reason>" and exits 77. Sets NS_PREFIX (vt<PID><4 hex>, at most 13 characters), NS_STATE (a fresh
# state directory) and NS_NFT_TABLE; installs the cleanup traps; adds `unreachable 198.18.0.0/15` in the root
# namespace unless a route for that prefix already exists. Whether a vmtp run added it is remembered (shared
# between concurrent runs, see _ns_route_acquire), so ns_cleanup removes only a route that vmtp added, and only
# when no other run still relies on it. Calling ns_init twice is harmless.
ns_init()
{
    [[ -z $NS_PREFIX || ! -d $NS_STATE ]] || return 0
    ((EUID == 0)) || _ns_skip "needs root (network namespaces)"
    command -v ip >/dev/null 2>&1 || _ns_skip "needs 'ip' (iproute2)"

    local hex
    hex=$(od -An -N2 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n') || hex=
    [[ $hex =~ ^[0-9a-f]{4}$ ]] || hex=$(printf '%04x' $((RANDOM & 0xffff)))
    NS_PREFIX="vt$$$hex"
    NS_NFT_TABLE="${NS_PREFIX}_t"
    NS_STATE=$(mktemp -d "${TMPDIR:-/tmp}/vmtp-netns.$NS_PREFIX.XXXXXX") || _ns_skip "cannot create a state directory"
    : >"$NS_STATE/netns"
    : >"$NS_STATE/pids"
    : >"$NS_STATE/nft"

    # Cleanup on every exit path. A signal handler must also end the script (bash would otherwise continue after
    # the handler), with the conventional 128+signal status; the EXIT trap then runs ns_cleanup again (no-op).
    trap ns_cleanup EXIT
    trap 'ns_cleanup 130; exit 130' INT
    trap 'ns_cleanup 143; exit 143' TERM

    # Probe: being root is not enough inside some containers.
    if ! ip netns add "$NS_PREFIX-probe" 2>/dev/null; then
        _ns_skip "cannot create network namespaces here (ip netns add failed)"
    fi
    ip netns del "$NS_PREFIX-probe" 2>/dev/null || true

    # Belt and braces: test traffic for 198.18.0.0/15 that somehow leaks into the root namespace must never
    # follow the machine's default route.
    _ns_route_acquire
    return 0
}

# ns_add NAME : creates namespace "${NS_PREFIX}-NAME" with lo up (and IPv6 off unless NS_IPV6=1), records it for
# cleanup and echoes the full name. Returns 1 on failure.
ns_add()
{
    local name=$1 full
    [[ -n $NS_PREFIX ]] || { _ns_err "ns_init was not called"; return 1; }
    [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || { _ns_err "ns_add: bad name '$name'"; return 1; }
    full="$NS_PREFIX-$name"
    ip netns add "$full" || { _ns_err "ip netns add $full failed"; return 1; }
    printf '%s\n' "$full" >>"$NS_STATE/netns"
    ip -n "$full" link set lo up || return 1
    if [[ ${NS_IPV6:-0} != 1 ]]; then
        # shellcheck disable=SC2016 # expanded by the inner sh
        ip netns exec "$full" sh -c 'for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 \
            /proc/sys/net/ipv6/conf/default/disable_ipv6; do [ -w "$f" ] && echo 1 >"$f"; done; true' \
            2>/dev/null || true
    fi
    printf '%s\n' "$full"
}

# ns_link NS_A IF_A ADDR_A NS_B IF_B ADDR_B [MTU] : a veth pair IF_A (in NS_A) <-> IF_B (in NS_B), both ends
# created directly inside their namespaces (so the names never meet the root namespace), with the given CIDR
# addresses (inside 198.18.0.0/15), optional MTU, both up. No routes beyond the connected subnet.
ns_link()
{
    local a b ifa=$2 addra=$3 ifb=$5 addrb=$6 mtu=${7:-}
    a=$(_ns_full "$1") || return 1
    b=$(_ns_full "$4") || return 1
    local ifn addr
    for ifn in "$ifa" "$ifb"; do
        if ((${#ifn} < 1 || ${#ifn} > 15)) || [[ ! $ifn =~ ^[A-Za-z0-9_.-]+$ ]]; then
            _ns_err "ns_link: bad interface name '$ifn' (1-15 characters)"
            return 1
        fi
    done
    for addr in "$addra" "$addrb"; do
        _ns_in_range "$addr" || { _ns_err "ns_link: '$addr' is not a CIDR inside $NS_ROUTE"; return 1; }
    done
    if [[ -n $mtu && ! $mtu =~ ^[0-9]+$ ]]; then
        _ns_err "ns_link: bad MTU '$mtu'"
        return 1
    fi
    if ! ip -n "$a" link add "$ifa" type veth peer name "$ifb" netns "$b"; then
        _ns_err "ns_link: veth $a/$ifa <-> $b/$ifb failed"
        return 1
    fi
    if [[ -n $mtu ]]; then
        ip -n "$a" link set "$ifa" mtu "$mtu" || return 1
        ip -n "$b" link set "$ifb" mtu "$mtu" || return 1
    fi
    ip -n "$a" addr add "$addra" dev "$ifa" || return 1
    ip -n "$b" addr add "$addrb" dev "$ifb" || return 1
    ip -n "$a" link set "$ifa" up || return 1
    ip -n "$b" link set "$ifb" up || return 1
}

# ns_htb NS IF RATE : rate-limits IF's egress: an HTB root qdisc (1:) whose default class 1:10 has
# `rate RATE ceil RATE burst 256k cburst 256k` (RATE as tc understands it: 100mbit, 1gbit). HTB counts Ethernet
# frames, so TCP goodput is RATE * 1448/1514 with timestamps. Replaces an earlier ns_htb on the same interface.
ns_htb()
{
    local ns ifn=$2 rate=$3
    ns=$(_ns_full "$1") || return 1
    command -v tc >/dev/null 2>&1 || { _ns_err "ns_htb: needs 'tc' (iproute2)"; return 1; }
    tc -n "$ns" qdisc del dev "$ifn" root 2>/dev/null || true
    tc -n "$ns" qdisc add dev "$ifn" root handle 1: htb default 10 || { _ns_err "ns_htb: no htb qdisc?"; return 1; }
    # One class, so the DRR quantum is irrelevant: set it only to avoid tc's "quantum ... is big" warning.
    tc -n "$ns" class add dev "$ifn" parent 1: classid 1:10 htb rate "$rate" ceil "$rate" burst 256k cburst 256k \
        quantum 60000 || { _ns_err "ns_htb: bad rate '$rate'"; return 1; }
}

# ns_nft_drop_udp NS DPORT MOD : ground-truth loss. Adds to NS's input hook (table inet $NS_NFT_TABLE, created on
# first use) the rule `udp dport DPORT numgen inc mod MOD == 0 counter drop`: every MOD-th datagram to DPORT is
# dropped, starting with the first, so N datagrams lose ceil(N / MOD). Needs nft (use ns_require nft).
ns_nft_drop_udp()
{
    local ns dport=$2 mod=$3
    ns=$(_ns_full "$1") || return 1
    command -v nft >/dev/null 2>&1 || { _ns_err "ns_nft_drop_udp: needs 'nft' (nftables)"; return 1; }
    if ! [[ $dport =~ ^[0-9]+$ && $mod =~ ^[0-9]+$ ]] || ((dport < 1 || dport > 65535 || mod < 1)); then
        _ns_err "ns_nft_drop_udp: bad port '$dport' or modulus '$mod'"
        return 1
    fi
    if ! grep -qxF -- "$ns $NS_NFT_TABLE" "$NS_STATE/nft"; then
        ip netns exec "$ns" nft -f - <<EOF || { _ns_err "ns_nft_drop_udp: creating table failed"; return 1; }
table inet $NS_NFT_TABLE {
    chain input {
        type filter hook input priority filter; policy accept;
    }
}
EOF
        printf '%s %s\n' "$ns" "$NS_NFT_TABLE" >>"$NS_STATE/nft"
    fi
    ip netns exec "$ns" nft add rule inet "$NS_NFT_TABLE" input \
        udp dport "$dport" numgen inc mod "$mod" == 0 counter drop comment "\"vmtp-drop-$dport\"" ||
        { _ns_err "ns_nft_drop_udp: adding the rule failed"; return 1; }
}

# ns_nft_counter NS [DPORT] : prints the packet counter of NS's drop rule (of the one for DPORT, or the sum over
# all of ours when DPORT is omitted). Uses `nft -j` with jq when available, else the text listing.
ns_nft_counter()
{
    local ns dport=${2:-} out=
    ns=$(_ns_full "$1") || return 1
    if command -v jq >/dev/null 2>&1; then
        out=$(ip netns exec "$ns" nft -j list table inet "$NS_NFT_TABLE" 2>/dev/null |
            jq -r --arg c "vmtp-drop-$dport" '
            [.nftables[] | .rule? | select(. != null)
             | select(if $c == "vmtp-drop-" then (.comment // "" | startswith("vmtp-drop-")) else .comment == $c end)
             | .expr[] | .counter? | select(. != null) | .packets] | add // empty') || out=
    fi
    if [[ -z $out ]]; then
        local c="\"vmtp-drop-" # all of our rules, or exactly the one for DPORT (closing quote included)
        [[ -z $dport ]] || c="\"vmtp-drop-$dport\""
        out=$(ip netns exec "$ns" nft list table inet "$NS_NFT_TABLE" 2>/dev/null | awk -v c="$c" '
            index($0, c) && match($0, /counter packets [0-9]+/) {
                split(substr($0, RSTART, RLENGTH), f, " "); sum += f[3]; n++
            }
            END { if (n) print sum }')
    fi
    [[ $out =~ ^[0-9]+$ ]] || { _ns_err "ns_nft_counter: no drop rule in $ns"; return 1; }
    printf '%s\n' "$out"
}

# --- processes --------------------------------------------------------------------------------------------------

# ns_exec NS CMD... : runs CMD inside NS (ip netns exec) in the foreground; returns CMD's status.
ns_exec()
{
    local ns
    ns=$(_ns_full "$1") || return 1
    shift
    ip netns exec "$ns" "$@"
}

# ns_bg NS CMD... : starts CMD in the background inside NS, with stdin from /dev/null and stdout+stderr to
# "$NS_STATE/bg-PID.log" (see ns_bg_log), records it for ns_cleanup and echoes its PID (that of CMD itself:
# ip netns exec execs it). Safe inside $(...). A CMD that daemonizes leaves the recorded PID behind, but ns_cleanup
# also ends whatever still runs in our namespaces.
ns_bg()
{
    local ns pid st tmp
    ns=$(_ns_full "$1") || return 1
    shift
    tmp=$(mktemp "$NS_STATE/bg.XXXXXX") || return 1
    ip netns exec "$ns" "$@" </dev/null >"$tmp" 2>&1 &
    pid=$!
    st=$(_ns_starttime "$pid") || st=gone # already exited: never match (and so never signal) a recycled PID
    printf '%s %s\n' "$pid" "$st" >>"$NS_STATE/pids"
    mv -f "$tmp" "$NS_STATE/bg-$pid.log" # the open descriptor follows the rename
    printf '%s %s\n' "$pid" "$*" >>"$NS_STATE/cmds"
    printf '%s\n' "$pid"
}

# ns_bg_log PID : prints the path of the output log of a process started by ns_bg.
ns_bg_log()
{
    printf '%s\n' "$NS_STATE/bg-$1.log"
}

# ns_wait_port NS PROTO PORT [TIMEOUT_S] : waits until a socket listens on PORT inside NS (PROTO tcp or udp;
# polls `ss -ltn` / `ss -lun` every 50 ms). Returns 0 when it does, 1 after TIMEOUT_S seconds (default 10,
# fractions allowed), 2 on bad arguments.
ns_wait_port()
{
    local ns proto=$2 port=$3 timeout=${4:-10} flags deadline
    ns=$(_ns_full "$1") || return 2
    case $proto in
    tcp) flags=-Hltn ;;
    udp) flags=-Hlun ;;
    *) _ns_err "ns_wait_port: protocol must be tcp or udp"; return 2 ;;
    esac
    [[ $port =~ ^[0-9]+$ && $timeout =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
        { _ns_err "ns_wait_port: bad port '$port' or timeout '$timeout'"; return 2; }
    deadline=$(($(_ns_now_us) + $(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000000 }')))
    while :; do
        if [[ -n $(ip netns exec "$ns" ss $flags "sport = :$port" 2>/dev/null) ]]; then
            return 0
        fi
        (($(_ns_now_us) < deadline)) || return 1
        sleep 0.05
    done
}

# --- cleanup ----------------------------------------------------------------------------------------------------

# ns_cleanup [STATUS] : removes everything this run created: ends recorded processes (TERM, KILL after 2 s), then any
# process still inside our namespaces, deletes our nft tables and namespaces (which removes their veths, qdiscs
# and addresses), removes the unreachable route if a vmtp run added it and no other run still uses it, and the
# state directory. On a failing exit
# status the tail of every background log is printed first. Idempotent, safe before ns_init and on any exit path;
# returns the status it was called with ($?), so an EXIT trap preserves the script's exit code. Called directly,
# pass the status to judge by (`ns_cleanup 0`): $? would be that of whatever command ran just before.
ns_cleanup()
{
    local rc=$?
    if (($#)); then rc=$1; fi
    [[ -n $NS_STATE && -d $NS_STATE ]] || return "$rc"
    local -a entries=()
    local line ns table log pid st errexit=0
    # Runs from traps and from `set -e` scripts: one failing step must not abandon the rest.
    [[ $- == *e* ]] && errexit=1
    set +e

    if ((rc != 0)) && [[ -s $NS_STATE/cmds ]]; then
        while read -r pid line; do
            log="$NS_STATE/bg-$pid.log"
            [[ -s $log ]] || continue
            printf -- '--- last lines of pid %s (%s) ---\n' "$pid" "$line" >&2
            tail -n 20 "$log" >&2
        done <"$NS_STATE/cmds"
    fi

    mapfile -t entries <"$NS_STATE/pids" 2>/dev/null
    _ns_kill_pids "${entries[@]}"

    # Whatever still runs inside our namespaces (daemons that forked away from their recorded PID) is ours by
    # construction: end it by PID too.
    entries=()
    while read -r ns; do
        [[ -n $ns ]] || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            st=$(_ns_starttime "$pid") || continue
            entries+=("$pid $st")
        done
    done <"$NS_STATE/netns"
    _ns_kill_pids "${entries[@]}"

    while read -r ns table; do
        [[ -n $ns ]] || continue
        ip netns exec "$ns" nft delete table inet "$table" 2>/dev/null
    done <"$NS_STATE/nft"
    : >"$NS_STATE/nft"

    while read -r ns; do
        [[ -n $ns ]] || continue
        ip netns del "$ns" 2>/dev/null || ! ip netns list 2>/dev/null | grep -q "^$ns\( \|$\)" ||
            _ns_err "could not delete namespace $ns"
    done <"$NS_STATE/netns"
    : >"$NS_STATE/netns"

    [[ ! -e $NS_STATE/route_user ]] || _ns_route_release

    rm -rf -- "$NS_STATE"
    if ((errexit)); then set -e; fi
    return "$rc"
}

# --- assertions -------------------------------------------------------------------------------------------------
# Counters live in shell variables: call the assert_* helpers from the main shell, not from a pipeline or $(...).
# They always return 0, so a `set -e` script records every result and finish decides the exit status.

# json_get FILE_OR_STRING JQ_EXPR : prints `jq -r JQ_EXPR` of a JSON file (if the first argument names an existing
# file) or of the JSON text itself. Returns 1 if the result is null, 2 if jq fails (bad JSON or expression).
json_get()
{
    local src=$1 expr=$2 out
    if [[ -f $src ]]; then
        out=$(jq -r "$expr" <"$src") || return 2
    else
        out=$(printf '%s' "$src" | jq -r "$expr") || return 2
    fi
    [[ $out != null ]] || return 1
    printf '%s\n' "$out"
}

# jget JSON EXPR : json_get that never fails (prints nothing instead), so a `set -e` test records a missing field as
# a failed assertion rather than ending.
jget()
{
    json_get "$1" "$2" 2>/dev/null || true
}

# dump_if_failed FAILS_BEFORE LABEL JSON : prints the whole JSON when an assertion failed since FAILS_BEFORE (read
# _NS_FAIL before the assertions), so a failing figure is shown with everything vmtp-node reported beside it.
dump_if_failed()
{
    if ((_NS_FAIL > $1)); then
        printf -- '--- %s: full JSON ---\n%s\n--- end of JSON ---\n' "$2" "$3"
    fi
}

# vmtp_node_require BINDIR : sets `node` to BINDIR/vmtp-node, or fails the test (exit 1) when it is not built.
vmtp_node_require()
{
    node=$1/vmtp-node
    if [[ ! -x $node ]]; then
        echo "FAIL: $node is not built"
        exit 1
    fi
}

# vmtp_server_start NS ADDR PORT : runs `$node server --bind ADDR --port PORT` in NS (vmtp_node_require first) and
# waits until it listens on TCP and UDP; records a failed assertion and ends the test (finish) if it does not.
vmtp_server_start()
{
    local rc=0
    ns_bg "$1" "$node" server --bind "$2" --port "$3" >/dev/null
    ns_wait_port "$1" tcp "$3" 10 && ns_wait_port "$1" udp "$3" 10 || rc=$?
    assert_cmp "vmtp-node server listens on tcp and udp port $3" "$rc" == 0
    ((rc == 0)) || finish
}

# _ns_num X : succeeds if X is a decimal number (optionally signed, fraction, exponent).
_ns_num()
{
    [[ $1 =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]
}

# _ns_result OK DESC DETAIL : prints "PASS: DESC (DETAIL)" or "FAIL: ..." and counts it.
_ns_result()
{
    if (($1)); then
        _NS_PASS=$((_NS_PASS + 1))
        printf 'PASS: %s (%s)\n' "$2" "$3"
    else
        _NS_FAIL=$((_NS_FAIL + 1))
        printf 'FAIL: %s (%s)\n' "$2" "$3"
    fi
}

# assert_cmp DESC A OP B : numeric comparison with awk, OP one of < <= > >= ==. A non-numeric operand (e.g. an
# empty result) is a failure, counted for finish.
assert_cmp()
{
    local desc=$1 a=$2 op=$3 b=$4 ok=0
    case $op in
    '<' | '<=' | '>' | '>=' | '==') ;;
    *) _ns_result 0 "$desc" "bad operator '$op'"; return 0 ;;
    esac
    if _ns_num "$a" && _ns_num "$b"; then
        awk -v a="$a" -v b="$b" -v op="$op" 'BEGIN {
            a += 0; b += 0
            r = (op == "<") ? a < b : (op == "<=") ? a <= b : (op == ">") ? a > b : (op == ">=") ? a >= b : a == b
            exit !r }' && ok=1
    fi
    _ns_result "$ok" "$desc" "'$a' $op '$b'"
}

# assert_eq DESC ACTUAL EXPECTED : string equality, counted for finish like assert_cmp.
assert_eq()
{
    local ok=0
    [[ $2 == "$3" ]] && ok=1
    _ns_result "$ok" "$1" "'$2' == '$3'"
}

# assert_within DESC VALUE EXPECTED PCT : passes if |VALUE - EXPECTED| <= |EXPECTED| * PCT / 100; a failure is
# counted for finish.
assert_within()
{
    local desc=$1 v=$2 e=$3 pct=$4 ok=0 detail
    if _ns_num "$v" && _ns_num "$e" && _ns_num "$pct"; then
        detail=$(awk -v v="$v" -v e="$e" -v p="$pct" 'BEGIN {
            d = v - e; if (d < 0) d = -d; ae = e < 0 ? -e : e
            printf "%s vs expected %s: %+.2f%%, limit %s%%", v, e, (e != 0 ? (v - e) * 100 / ae : 0), p
            exit !(d <= ae * p / 100) }') && ok=1
    else
        detail="'$v' vs expected '$e' within '$pct'%: not numbers"
    fi
    _ns_result "$ok" "$desc" "$detail"
}

# finish : prints "<script>: N passed, N failed" and exits 1 if any assertion failed, else 0 (the EXIT trap then
# runs ns_cleanup with that status).
finish()
{
    printf '%s: %d passed, %d failed\n' "${0##*/}" "$_NS_PASS" "$_NS_FAIL"
    ((_NS_FAIL == 0)) || exit 1
    exit 0
}

# ns_wait_bounded PID TIMEOUT_S : waits for a child of this shell, at most TIMEOUT_S seconds; one still running
# then is killed (KILL) and reported. Returns the child's exit status (137 when it was killed). A hung program so
# fails its test with a message instead of stalling it until ctest kills the script (which skips the cleanup).
ns_wait_bounded()
{
    local pid=$1 limit=$2 i
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        printf 'FAIL: pid %s still running after %s s: killed\n' "$pid" "$limit"
        _NS_FAIL=$((_NS_FAIL + 1))
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"
}

# --- OpenSSH servers --------------------------------------------------------------------------------------------

# ns_stop PID : ends one process started by ns_bg (TERM, KILL after 2 s), by its recorded PID and start time, and
# waits for it; a PID this run did not start is left alone (returns 1).
ns_stop()
{
    local pid=$1 st
    [[ $pid =~ ^[0-9]+$ ]] || { _ns_err "ns_stop: bad pid '$pid'"; return 1; }
    st=$(awk -v p="$pid" '$1 == p { print $2 }' "$NS_STATE/pids" 2>/dev/null | tail -n 1)
    [[ -n $st ]] || { _ns_err "ns_stop: pid $pid was not started by this run"; return 1; }
    _ns_kill_pids "$pid $st"
}

# _ns_sshd_prepare FN LABEL ADDR PORT DIR AUTHKEYS ENV [CONFIG_LINE...] : what both sshd starters share: DIR and
# DIR/tmp (0700), an ed25519 host key (kept if present), and DIR/sshd_config (CONFIG_LINEs first; NoSFTP leaves the
# SFTP subsystem out; ENV is appended to the SetEnv line). FN names the caller in messages. Returns 1 on failure.
_ns_sshd_prepare()
{
    local fn=$1 label=$2 addr=$3 port=$4 dir=$5 auth=$6 env=$7 line sftp='Subsystem sftp internal-sftp'
    shift 7
    [[ -x /usr/sbin/sshd ]] || { _ns_err "$fn: /usr/sbin/sshd is missing (Debian: openssh-server)"; return 1; }
    command -v ssh-keygen >/dev/null 2>&1 || { _ns_err "$fn: needs ssh-keygen"; return 1; }
    [[ $port =~ ^[0-9]+$ ]] || { _ns_err "$fn: bad port '$port'"; return 1; }
    mkdir -p "$dir" "$dir/tmp" && chmod 0700 "$dir" "$dir/tmp" || return 1
    mkdir -p /run/sshd || return 1
    if [[ ! -f $dir/ssh_host_ed25519_key ]]; then
        ssh-keygen -q -t ed25519 -N '' -C "vmtp-test-$label" -f "$dir/ssh_host_ed25519_key" </dev/null ||
            { _ns_err "$fn: ssh-keygen failed"; return 1; }
    fi
    {
        for line in "$@"; do
            if [[ $line == NoSFTP ]]; then sftp=; else printf '%s\n' "$line"; fi
        done
        [[ -z $sftp ]] || printf '%s\n' "$sftp"
        cat <<EOC
ListenAddress $addr:$port
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $auth
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv TMPDIR=$dir/tmp$env
LogLevel VERBOSE
EOC
    } >"$dir/sshd_config"
    /usr/sbin/sshd -t -f "$dir/sshd_config" || { _ns_err "$fn: sshd rejects $dir/sshd_config"; return 1; }
}

# _ns_sshd_wait FN NS ADDR PORT PID : waits until the sshd started as PID listens; echoes PID, or returns 1 with
# its log.
_ns_sshd_wait()
{
    if ! ns_wait_port "$2" tcp "$4" 10; then
        _ns_err "$1: sshd in $2 did not listen on $3:$4; its log:"
        tail -n 20 "$(ns_bg_log "$5")" >&2
        return 1
    fi
    printf '%s\n' "$5"
}

# ns_sshd NS ADDR PORT HOSTDIR AUTHKEYS [CONFIG_LINE...] : runs a real OpenSSH server (Debian's /usr/sbin/sshd) in
# NS on ADDR:PORT, in the foreground under ns_bg (so ns_cleanup ends it), and echoes its PID once it listens.
# Everything it uses lives in HOSTDIR (created, mode 0700): an ed25519 host key ssh_host_ed25519_key (generated
# unless present: delete it to change the host's key), sshd_config and sshd.pid. Root may log in with the keys
# listed in AUTHKEYS (PermitRootLogin prohibit-password, no password, no PAM, StrictModes off, internal SFTP);
# remote commands get TMPDIR=HOSTDIR/tmp. CONFIG_LINEs come first, so they override these defaults (sshd keeps
# the first value of a keyword), e.g. 'PubkeyAcceptedAlgorithms +ssh-rsa'; the pseudo-line 'NoSFTP' leaves the
# SFTP subsystem out (clients must fall back to SCP).
# No system file is touched except creating sshd's privilege-separation directory /run/sshd. Returns 1 (with a
# message) if sshd is missing or does not come up within 10 s.
ns_sshd()
{
    local ns=$1 addr=$2 port=$3 dir=$4 auth=$5 pid
    shift 5
    _ns_sshd_prepare ns_sshd "$ns" "$addr" "$port" "$dir" "$auth" "" "$@" || return 1
    pid=$(ns_bg "$ns" /usr/sbin/sshd -D -e -f "$dir/sshd_config") || return 1
    _ns_sshd_wait ns_sshd "$ns" "$addr" "$port" "$pid"
}

# ns_ssh_hosts DIR N : the hosts of a `vmtp --host` run. Namespace c (where vmtp runs) holds a bridge br0
# 198.18.4.1/24; N host namespaces h1..hN (N <= 9) hang off it at 198.18.4.1N/24 (eth0), each with a real sshd
# (ns_sshd, port 22, HOSTDIR DIR/hI, TMPDIR DIR/hI/tmp). Writes DIR/id_ed25519 (the client key every host
# accepts) and DIR/known_hosts (every host's real key). Returns 1 with a message on any failure.
ns_ssh_hosts()
{
    local dir=$1 n=$2 i
    [[ $n =~ ^[1-9]$ ]] || { _ns_err "ns_ssh_hosts: 1..9 hosts"; return 1; }
    mkdir -p -m 0700 "$dir" || return 1
    ns_add c >/dev/null || return 1
    ns_exec c ip link add br0 type bridge || return 1
    ns_exec c ip addr add 198.18.4.1/24 dev br0 || return 1
    ns_exec c ip link set br0 up || return 1
    ssh-keygen -q -t ed25519 -N '' -C vmtp-test -f "$dir/id_ed25519" </dev/null || return 1
    cp "$dir/id_ed25519.pub" "$dir/authorized_keys" || return 1
    : >"$dir/known_hosts"
    for ((i = 1; i <= n; i++)); do
        ns_add "h$i" >/dev/null || return 1
        # ns_link wants an address on both ends: the bridge port's is removed once it is enslaved.
        ns_link c "v$i" "198.18.5.$i/32" "h$i" eth0 "198.18.4.1$i/24" || return 1
        ns_exec c ip addr flush dev "v$i" || return 1
        ns_exec c ip link set "v$i" master br0 || return 1
        ns_sshd "h$i" "198.18.4.1$i" 22 "$dir/h$i" "$dir/authorized_keys" >/dev/null || return 1
        printf '198.18.4.1%s %s\n' "$i" "$(cut -d' ' -f1-2 "$dir/h$i/ssh_host_ed25519_key.pub")" >>"$dir/known_hosts"
    done
}

# --- named runs that outlive their process (tools/testbed) ------------------------------------------------------
# A testbed is built by one process (`tools/testbed up`) and removed by another (`tools/testbed down`): its state
# directory and prefix are chosen by the caller, and the state files written by ns_add/ns_bg/... are what `down`
# reads to remove it. Addresses stay inside 198.18.0.0/15; the root namespace gets only what ns_root_* records.

# ns_init_named PREFIX STATE : like ns_init, but with a caller-chosen run-unique PREFIX (letters, digits, '-', at
# most 16 characters) and state directory STATE (created if missing, mode 0700; existing state files are kept,
# so a later process can adopt the run and ns_cleanup it). Installs no traps: the caller owns its exit paths.
# Adds the unreachable 198.18.0.0/15 guard like ns_init (registered for this process: see ns_route_hold).
# Returns 1 with a message when it cannot run (not root, no `ip`, bad PREFIX).
ns_init_named()
{
    local prefix=$1 state=$2 f
    ((EUID == 0)) || { _ns_err "needs root (network namespaces)"; return 1; }
    command -v ip >/dev/null 2>&1 || { _ns_err "needs 'ip' (iproute2)"; return 1; }
    [[ $prefix =~ ^[A-Za-z0-9-]{1,16}$ ]] || { _ns_err "ns_init_named: bad prefix '$prefix'"; return 1; }
    mkdir -p "$state" && chmod 0700 "$state" || return 1
    NS_PREFIX=$prefix
    NS_NFT_TABLE="${prefix//-/_}_t"
    NS_STATE=$(cd "$state" && pwd) || return 1
    for f in netns pids nft rootlinks; do
        [[ -e $NS_STATE/$f ]] || : >"$NS_STATE/$f"
    done
    _ns_route_acquire
    return 0
}

# ns_route_hold PID : the unreachable-route guard stays while PID (a process of this run that lives as long as
# the run's namespaces, e.g. an sshd started by ns_bg) lives, instead of while this shell lives. Without it a
# concurrent run's cleanup would drop the guard once the building process has exited.
ns_route_hold()
{
    local st
    st=$(_ns_starttime "$1") || { _ns_err "ns_route_hold: no process $1"; return 1; }
    _ns_route_lock || return 0
    printf '%s %s\n' "$1" "$st" >"$NS_ROUTE_DIR/user.$NS_PREFIX"
    _ns_route_unlock
}

# _ns_ifname NAME : succeeds if NAME is a valid interface name (1-15 characters of [A-Za-z0-9_.-]).
_ns_ifname()
{
    if ((${#1} < 1 || ${#1} > 15)) || [[ ! $1 =~ ^[A-Za-z0-9_.-]+$ ]]; then
        _ns_err "bad interface name '$1' (1-15 characters)"
        return 1
    fi
}

# ns_bridge NS BR [MTU] : a Linux bridge BR inside NS (STP off, forward delay 0, no address), up.
ns_bridge()
{
    local ns br=$2 mtu=${3:-}
    ns=$(_ns_full "$1") || return 1
    _ns_ifname "$br" || return 1
    ip -n "$ns" link add "$br" ${mtu:+mtu "$mtu"} type bridge stp_state 0 forward_delay 0 ||
        { _ns_err "ns_bridge: bridge $br in $ns failed"; return 1; }
    ip -n "$ns" link set "$br" up
}

# ns_bridge_port NS BR PORT NS2 IF2 [CIDR] [MTU] : a veth pair PORT (in NS, enslaved to bridge BR, no address)
# <-> IF2 (in NS2, with CIDR inside 198.18.0.0/15 if given), optional MTU on both ends, both up. NS2 may be NS.
ns_bridge_port()
{
    local ns ns2 br=$2 port=$3 if2=$5 cidr=${6:-} mtu=${7:-}
    ns=$(_ns_full "$1") || return 1
    ns2=$(_ns_full "$4") || return 1
    _ns_ifname "$port" && _ns_ifname "$if2" || return 1
    [[ -z $cidr ]] || _ns_in_range "$cidr" || { _ns_err "ns_bridge_port: '$cidr' is not inside $NS_ROUTE"; return 1; }
    ip -n "$ns" link add "$port" ${mtu:+mtu "$mtu"} type veth peer name "$if2" netns "$ns2" ${mtu:+mtu "$mtu"} ||
        { _ns_err "ns_bridge_port: veth $ns/$port <-> $ns2/$if2 failed"; return 1; }
    ip -n "$ns" link set "$port" master "$br" up || return 1
    [[ -z $cidr ]] || ip -n "$ns2" addr add "$cidr" dev "$if2" || return 1
    ip -n "$ns2" link set "$if2" up
}

# _ns_root_noipv6 IF : no IPv6 (link-local) address on a root-namespace link of ours: only 198.18.0.0/15 appears.
_ns_root_noipv6()
{
    local f=/proc/sys/net/ipv6/conf/$1/disable_ipv6
    [[ ! -w $f ]] || echo 1 >"$f" 2>/dev/null || true
}

# ns_root_bridge BR CIDR : a bridge BR in the *root* namespace with address CIDR (inside 198.18.0.0/15; its
# connected route is more specific than the unreachable guard), STP off, no IPv6, up; recorded in
# NS_STATE/rootlinks for ns_root_cleanup. BR must be run-unique: creating an existing link fails, never adopts.
ns_root_bridge()
{
    local br=$1 cidr=$2
    [[ -n $NS_STATE ]] || { _ns_err "ns_init was not called"; return 1; }
    _ns_ifname "$br" || return 1
    _ns_in_range "$cidr" || { _ns_err "ns_root_bridge: '$cidr' is not inside $NS_ROUTE"; return 1; }
    ip link add "$br" type bridge stp_state 0 forward_delay 0 || { _ns_err "ns_root_bridge: $br failed"; return 1; }
    printf '%s\n' "$br" >>"$NS_STATE/rootlinks"
    _ns_root_noipv6 "$br"
    ip addr add "$cidr" dev "$br" || return 1
    ip link set "$br" up
}

# ns_root_port BR PORT NS IF CIDR [MTU] : a veth pair PORT (root namespace, enslaved to bridge BR, no address, no
# IPv6) <-> IF (in NS, address CIDR inside 198.18.0.0/15), optional MTU on both ends, both up; PORT is recorded
# in NS_STATE/rootlinks (deleting NS would remove it too).
ns_root_port()
{
    local br=$1 port=$2 ns ifn=$4 cidr=$5 mtu=${6:-}
    ns=$(_ns_full "$3") || return 1
    _ns_ifname "$port" && _ns_ifname "$ifn" || return 1
    _ns_in_range "$cidr" || { _ns_err "ns_root_port: '$cidr' is not inside $NS_ROUTE"; return 1; }
    ip link add "$port" ${mtu:+mtu "$mtu"} type veth peer name "$ifn" netns "$ns" ${mtu:+mtu "$mtu"} ||
        { _ns_err "ns_root_port: veth $port <-> $ns/$ifn failed"; return 1; }
    printf '%s\n' "$port" >>"$NS_STATE/rootlinks"
    _ns_root_noipv6 "$port"
    ip link set "$port" master "$br" up || return 1
    ip -n "$ns" addr add "$cidr" dev "$ifn" || return 1
    ip -n "$ns" link set "$ifn" up
}

# ns_root_cleanup : deletes the root-namespace links recorded by ns_root_bridge/ns_root_port (ports first; their
# addresses and connected routes go with them). Idempotent; call it before ns_cleanup, which removes NS_STATE.
ns_root_cleanup()
{
    [[ -n $NS_STATE && -f $NS_STATE/rootlinks ]] || return 0
    local l
    tac "$NS_STATE/rootlinks" | while read -r l; do
        [[ -z $l ]] || ! ip link show dev "$l" >/dev/null 2>&1 || ip link del "$l" 2>/dev/null || true
    done
    : >"$NS_STATE/rootlinks"
}

# ns_sshd_host NS HOSTNAME ADDR PORT HOSTDIR AUTHKEYS [ENV...] : ns_sshd (same files and configuration in HOSTDIR)
# but sshd runs in its own UTS namespace whose hostname is HOSTNAME, so `ssh HOST hostname` names the "machine" as
# a VM or a compute node would, and in a session of its own (setsid). Each ENV (NAME=VALUE, no spaces) is set in
# every session it starts (e.g. VMTP_HOST_ID=cn1: the machine a testbed VM runs on, as its agent reports it).
# Echoes sshd's PID (recorded by ns_bg) once it listens; returns 1 with a message otherwise.
ns_sshd_host()
{
    local ns=$1 hn=$2 addr=$3 port=$4 dir=$5 auth=$6 pid env= e
    shift 6
    for e in "$@"; do
        [[ $e =~ ^[A-Z_][A-Z0-9_]*=[A-Za-z0-9._:/-]+$ ]] || { _ns_err "ns_sshd_host: bad ENV '$e'"; return 1; }
        env+=" $e"
    done
    command -v unshare >/dev/null 2>&1 && command -v setsid >/dev/null 2>&1 ||
        { _ns_err "ns_sshd_host: needs unshare and setsid (util-linux)"; return 1; }
    [[ $hn =~ ^[A-Za-z0-9-]{1,63}$ ]] || { _ns_err "ns_sshd_host: bad hostname '$hn'"; return 1; }
    _ns_sshd_prepare ns_sshd_host "$hn" "$addr" "$port" "$dir" "$auth" "$env" || return 1
    # setsid, unshare and sh exec: the recorded PID ends up being sshd's own, in a session of its own (the host
    # outlives the caller's terminal and process group: Ctrl-C on a later command there does not reach it).
    # shellcheck disable=SC2016 # expanded by the inner sh
    pid=$(ns_bg "$ns" setsid unshare --uts sh -c 'hostname "$1" && exec /usr/sbin/sshd -D -e -f "$2"' sh "$hn" \
        "$dir/sshd_config") || return 1
    _ns_sshd_wait ns_sshd_host "$ns" "$addr" "$port" "$pid"
}
