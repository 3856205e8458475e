#!/usr/bin/env bash
# tools/bench/native_suite.sh — wall time of VMTP's default native-host suite with `vmtp --host A --host B`, beside
# an estimate of VMTP's own time for the same work.
#
#   tools/bench/native_suite.sh [--bindir DIR] [--rounds N] [--cap RATE] [VMTP-OPTION...]
#
# Two namespace hosts with a real sshd each (tests/netns/lib.sh ns_ssh_hosts; the coordinator in a third
# namespace), optionally the client's link capped with HTB (--cap 1gbit). Each round runs
#   vmtp --host root@198.18.4.11 --host root@198.18.4.12 --set ping_count=10 --json ROUND.json [VMTP-OPTION...]
# with every other setting at VMTP's defaults: TCP 3 runs of 10 s (65536-byte writes), UDP 128/1024/8192 bytes each
# with VMTP's rate search (1 s trials), ICMP 64/391/1500 bytes (10 echoes each, as the issue's VMTP estimate).
# VMTP's time for the same work is estimated from what the run did, leaving out VMTP's SSH and VM overheads (so
# the estimate favours VMTP): 3 x 10 s of TCP + 1 s per UDP probe (VMTP's probes are `nuttcp -T1`, one per trial
# of the same search rules) + 10 s per ICMP size (10 pings at 1 s). Prints a markdown table; exit 0 when every
# round PASSED, 1 otherwise, 77 when it cannot run (not root, no sshd).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../tests/netns/lib.sh
. "$HERE/../../tests/netns/lib.sh"

BINDIR=$HERE/../../build/bin
ROUNDS=1
CAP=
EXTRA=()
while (($#)); do
    case $1 in
    --bindir) BINDIR=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --cap) CAP=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) EXTRA+=("$1"); shift ;;
    esac
done
ns_init
ns_require ssh-keygen jq awk
[[ -x /usr/sbin/sshd ]] || _ns_skip "needs /usr/sbin/sshd (Debian: openssh-server)"
[[ -x $BINDIR/vmtp && -x $BINDIR/vmtp-node ]] || { echo "native_suite.sh: build first ($BINDIR)" >&2; exit 2; }
tmp=$NS_STATE/bench
ns_ssh_hosts "$tmp" 2 || exit 1
[[ -z $CAP ]] || ns_htb h2 eth0 "$CAP" || exit 1

echo "| round | vmtp wall (s) | of which TCP tests (s) | UDP trials per size | VMTP estimate (s) | vmtp / VMTP | rows PASSED |"
echo "|---:|---:|---:|---|---:|---:|---:|"
status=0
for ((r = 1; r <= ROUNDS; r++)); do
    j=$tmp/round$r.json
    t0=$(date +%s.%N)
    ns_exec c env HOME="$tmp" "$BINDIR/vmtp" --set private_key_file="$tmp/id_ed25519" --known-hosts "$tmp/known_hosts" \
        --host root@198.18.4.11 --host root@198.18.4.12 --set ping_count=10 --json "$j" "${EXTRA[@]}" \
        >"$tmp/round$r.out" 2>"$tmp/round$r.err"
    rc=$?
    t1=$(date +%s.%N)
    if ((rc != 0)) || [[ ! -s $j ]]; then
        echo "| $r | FAILED (exit $rc) | | | | | |"
        tail -n 5 "$tmp/round$r.err" >&2
        status=1
        continue
    fi
    jq -r --arg wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" --arg r "$r" '
        (.flows[0].results) as $res
        | ([$res[] | select(.protocol == "TCP") | .duration_s] | add) as $tcp
        | ([$res[] | select(.protocol == "UDP") | .search.trials | length]) as $trials
        | ([$res[] | select(.protocol == "ICMP") | .results | length] | add) as $icmp_sizes
        | (30 + ($trials | add) * 1 + $icmp_sizes * 10) as $vmtp
        | "| \($r) | \($wall) | \($tcp * 10 | round / 10) | \($trials | map(tostring) | join("/")) | \($vmtp) | "
          + "\((($wall | tonumber) / $vmtp * 100 | round) / 100) | "
          + "\([.summary.rows[] | select(.status == "PASSED")] | length) |"' "$j"
done
finish_status=$status
ns_cleanup 0 >/dev/null 2>&1
exit "$finish_status"
