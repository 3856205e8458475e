#!/usr/bin/env bash
# Every bad command line gets exit status 2 and a message naming what was wrong (issue: "every
# option is validated ... with a clear message and exit status 2").
# usage: cli_errors.sh BIN_DIR
set -u
node="$1/vmtp-node"
vmtp="$1/vmtp"
fails=0 passes=0

# expect_usage_error "words the message must contain" args... : vmtp-node (PROG=vmtp for vmtp)
expect_usage_error()
{
    local want=$1 prog=${PROG:-$node}
    shift
    local out rc
    out=$(env -u OS_AUTH_URL -u OS_CLOUD HOME=/nonexistent "$prog" "$@" 2>&1 >/dev/null </dev/null)
    rc=$?
    if [[ $rc -ne 2 ]]; then
        echo "FAIL: ${prog##*/} $* -> exit $rc (want 2): $out"
        fails=$((fails + 1))
    elif [[ $out != *"$want"* ]]; then
        echo "FAIL: ${prog##*/} $* -> message '$out' lacks '$want'"
        fails=$((fails + 1))
    else
        passes=$((passes + 1))
    fi
}

expect_usage_error "unknown command 'bogus'" bogus
expect_usage_error "usage:"
expect_usage_error "missing TARGET" tcp
expect_usage_error "unknown option '--nope'" tcp 127.0.0.1 --nope
expect_usage_error "--len: '12Q' is not a size" udp 127.0.0.1 --len 12Q
expect_usage_error "--len: '70000000' is out of range" tcp 127.0.0.1 --len 70000000
expect_usage_error "length 12 is outside 64..65507 for udp" udp 127.0.0.1 --len 12 --rate 1M
expect_usage_error "--rate: 'fast' is not a rate" udp 127.0.0.1 --rate fast
expect_usage_error "--rate: '500T' is out of range" udp 127.0.0.1 --rate 500T
expect_usage_error "--time: '-1' is not a duration" tcp 127.0.0.1 --time -1
expect_usage_error "--time: '0' is out of range" tcp 127.0.0.1 --time 0
expect_usage_error "--time: '10x' is not a duration" tcp 127.0.0.1 --time 10x
expect_usage_error "--port: '70000' is out of range (1..65535)" tcp 127.0.0.1 --port 70000
expect_usage_error "--port: '0' is out of range" server --port 0
expect_usage_error "--parallel: '0' is out of range (1..128)" tcp 127.0.0.1 -P 0
expect_usage_error "--proto: 'sctp' is not one of udp|tcp" rr 127.0.0.1 --proto sctp
expect_usage_error "--mode: 'burst' is not one of pingpong|isochronous" rr 127.0.0.1 --mode burst
expect_usage_error "--search: 'fast' is not one of none|vmtp|rfc2544" udp 127.0.0.1 --search fast
expect_usage_error "--loss-range: '5,2': the low end is above the high end" udp 127.0.0.1 --loss-range 5,2
expect_usage_error "--loss-range: '2' is not two percentages" udp 127.0.0.1 --loss-range 2
expect_usage_error "cannot be combined with --search rfc2544" udp 127.0.0.1 --rate 10M --search rfc2544
expect_usage_error "option --parallel does not apply to udp" udp 127.0.0.1 -P 2
expect_usage_error "option --reverse does not apply to rr" rr 127.0.0.1 --reverse
expect_usage_error "--json takes no value" tcp 127.0.0.1 --json=yes
expect_usage_error "--time needs a value" tcp 127.0.0.1 --time
expect_usage_error "unexpected argument 'extra'" tcp 127.0.0.1 extra
expect_usage_error "warm-up omission must be shorter than the duration" tcp 127.0.0.1 --time 2 --omit 2
expect_usage_error "report interval must be 0 (none) or at least 10 ms" tcp 127.0.0.1 --interval 5ms
expect_usage_error "-4 and -6 exclude each other" tcp 127.0.0.1 -4 -6
expect_usage_error "cannot resolve 'no.such.host.invalid'" tcp no.such.host.invalid --connect-timeout 1

# vmtp's OpenStack side: `vmtp cleanup` and the keep options, refused before any cloud is contacted.
if [[ -x $vmtp ]]; then
    PROG=$vmtp expect_usage_error "say what to clean up: one of --ledger FILE, --run-id ID, --all-stale" cleanup
    PROG=$vmtp expect_usage_error "'--ledger': needs a value" cleanup --ledger
    PROG=$vmtp expect_usage_error "'--bogus': unknown argument" cleanup --bogus
    PROG=$vmtp expect_usage_error "'XYZ': a run id is 7 hexadecimal digits" cleanup --run-id XYZ
    PROG=$vmtp expect_usage_error "say what to clean up" cleanup --run-id 1a2b3c4 --all-stale
    PROG=$vmtp expect_usage_error "no OpenStack credentials" cleanup --all-stale --no-env
    PROG=$vmtp expect_usage_error "/nonexistent/rc" cleanup --all-stale -r /nonexistent/rc
    PROG=$vmtp expect_usage_error "--keep-resources keeps cloud resources: it needs OpenStack credentials" \
        --keep-resources --host root@198.18.0.1
fi

# Help and version succeed.
for args in "--help" "--version" "tcp --help" "server --help"; do
    # shellcheck disable=SC2086
    if "$node" $args >/dev/null 2>&1; then passes=$((passes + 1)); else
        echo "FAIL: vmtp-node $args should exit 0"
        fails=$((fails + 1))
    fi
done

echo "cli_errors: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
