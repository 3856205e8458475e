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
