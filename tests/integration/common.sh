# shellcheck shell=bash
# tests/integration/common.sh — what the loopback test scripts share. Source it.

# stop_pid PID : TERM, then KILL if it has not ended within 2 s (a wedged process must not outlive the test).
# shellcheck disable=SC2317 # called from traps
stop_pid()
{
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 40); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# start_server LOG CMD... : start a vmtp-node server on loopback, CMD with "--port P" appended, its
# stderr to LOG; sets SERVER_PID and SERVER_PORT once the port listens. P is drawn below the kernel's
# ephemeral range (so no client socket of a test running beside this one can hold it), and if the
# server exits before it listens (another test drew the same port) a new port is drawn, 8 times at
# most. The listener is checked to be this server, by its PID. Returns 1 when no attempt listened
# (each attempt's log is shown on stderr).
start_server()
{
    local log=$1 lo hi try
    shift
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    hi=$((lo > 20000 ? lo - 1 : 65535))
    lo=$((lo > 20000 ? 20000 : 61000))
    for try in $(seq 8); do
        SERVER_PORT=$((lo + RANDOM % (hi - lo + 1)))
        "$@" --port "$SERVER_PORT" 2>"$log" &
        SERVER_PID=$!
        for _ in $(seq 200); do
            ss -ltnpH "sport = :$SERVER_PORT" | grep -q "pid=$SERVER_PID," && return 0
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.05
        done
        stop_pid "$SERVER_PID"
        echo "note: server attempt $try on port $SERVER_PORT did not listen: $(cat "$log")" >&2
    done
    SERVER_PID=
    return 1
}
