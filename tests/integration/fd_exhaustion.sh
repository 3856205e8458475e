#!/usr/bin/env bash
# A server out of file descriptors must not spin on its listening socket (it stays readable),
# and must serve again once descriptors are free.
# usage: fd_exhaustion.sh BIN_DIR
set -u
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
node="$1/vmtp-node"
tmp=$(mktemp -d)
srv='' holder=''
# shellcheck disable=SC2317 # called by the trap
cleanup()
{
    [[ -n $holder ]] && stop_pid "$holder"
    [[ -n $srv ]] && stop_pid "$srv"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck disable=SC2016 # $0 and $@ belong to the inner shell
start_server "$tmp/server.log" bash -c 'ulimit -n 24; exec "$0" "$@"' "$node" server --bind 127.0.0.1 || exit 1
srv=$SERVER_PID port=$SERVER_PORT
# 40 connections held open: more than the server has descriptors for.
(
    # shellcheck disable=SC2034 # the descriptors are only held open
    for _ in $(seq 40); do exec {fd}<>"/dev/tcp/127.0.0.1/$port" || true; done
    exec sleep 30
) 2>/dev/null &
holder=$!
for _ in $(seq 100); do
    [[ $(ss -tn "dport = :$port" | grep -c ESTAB) -ge 30 ]] && break
    sleep 0.05
done
ticks()
{
    awk '{ print $14 + $15 }' "/proc/$srv/stat"
}
t0=$(ticks)
sleep 1 # measuring a rate: one second of the server's CPU time while the connections wait
t1=$(ticks)
hz=$(getconf CLK_TCK)
fails=0
if ((t1 - t0 > hz / 4)); then
    echo "FAIL: the server used $((t1 - t0)) ticks of CPU in 1 s with its descriptors exhausted (spinning)"
    fails=1
else
    echo "ok: $((t1 - t0)) ticks of CPU in 1 s with its descriptors exhausted"
fi
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=
if "$node" rr 127.0.0.1 --port "$port" --count 100 --json >"$tmp/rr.json"; then
    echo "ok: serves again once descriptors are free"
else
    echo "FAIL: no service after the descriptors were freed: $(cat "$tmp/rr.json")"
    fails=1
fi
exit $fails
