#!/usr/bin/env bash
# vmtp-node runs on a bare VM image: copied alone into an empty root (no libc, no /proc, no
# /etc), it serves and measures a TCP, a UDP and an RR test over loopback.
# usage: bare_image.sh BIN_DIR
set -u
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
node="$1/vmtp-node"
[[ $(id -u) -eq 0 ]] || { echo "SKIP: chroot needs root"; exit 77; }
if ldd "$node" >/dev/null 2>&1; then
    echo "SKIP: this build of vmtp-node is dynamically linked (sanitizer builds are); the static build is tested"
    exit 77
fi
root=$(mktemp -d)
srv=
cleanup()
{
    [[ -n $srv ]] && stop_pid "$srv"
    rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$node" "$root/vmtp-node"
fails=0
run() { chroot "$root" /vmtp-node "$@"; }

if ! out=$(run --version); then
    echo "FAIL: vmtp-node does not start in an empty root"
    exit 1
fi
echo "empty root: $out"
if ! start_server "$root/server.log" chroot "$root" /vmtp-node server --bind 127.0.0.1; then
    echo "FAIL: vmtp-node server does not listen in an empty root"
    exit 1
fi
srv=$SERVER_PID port=$SERVER_PORT
for t in "tcp --time 0.5" "udp --rate 10M --time 0.5" "rr --count 200"; do
    # shellcheck disable=SC2086
    if run $t 127.0.0.1 --port "$port" --json >"$root/out.json" 2>"$root/err"; then
        echo "ok: $t"
    else
        echo "FAIL: '$t' in an empty root: $(cat "$root/err")"
        fails=$((fails + 1))
    fi
done
# The agent too (ZeroMQ and CURVE linked in): it listens, announces its port, and leaves by itself
# when no coordinator speaks to it. Any 40 Z85 characters make a valid CURVE key for this.
key=0000000000000000000000000000000000000000
start=$(date +%s)
out=$(printf 'secret %s\ncoordinator %s\n' "$key" "$key" |
    chroot "$root" /vmtp-node agent --bind 127.0.0.1 --port 0 --silence 1 2>"$root/agent.err")
rc=$?
if [[ $out == "ready port="* && $rc -eq 1 && $(($(date +%s) - start)) -lt 10 ]]; then
    echo "ok: agent in an empty root: $out, left after 1 s of silence"
else
    echo "FAIL: agent in an empty root: exit $rc, '$out', $(cat "$root/agent.err")"
    fails=$((fails + 1))
fi
[[ $fails -eq 0 ]]
