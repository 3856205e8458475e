#!/usr/bin/env bash
# vmtp-node end to end on loopback: one server, every client command with --json, several clients
# at once, a refused connection, and a clean stop. Figures are checked for sanity and internal
# consistency only (ground truth needs namespaces: tests/netns/).
# usage: loopback.sh BIN_DIR
set -u
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
node="$1/vmtp-node"
command -v jq >/dev/null || { echo "SKIP: jq is not installed (tools/install-deps)"; exit 77; }
fails=0 passes=0
tmp=$(mktemp -d)
srv_pid=
cleanup()
{
    [[ -n $srv_pid ]] && stop_pid "$srv_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check()
{ # check DESC JQ_EXPR FILE: the jq expression must be true
    if jq -e "$2" "$3" >/dev/null 2>&1; then passes=$((passes + 1)); else
        echo "FAIL: $1 ($2)"
        jq . "$3" 2>/dev/null | head -60 || cat "$3"
        fails=$((fails + 1))
    fi
}

start_server "$tmp/server.log" "$node" server --bind 127.0.0.1 || exit 1
srv_pid=$SERVER_PID port=$SERVER_PORT

"$node" tcp 127.0.0.1 -p "$port" --time 1 --json >"$tmp/tcp.json"
check "tcp runs" '.throughput_kbps > 1000 and .bytes > 0 and .retrans >= 0 and .rtt_us >= 0' "$tmp/tcp.json"
check "tcp goodput equals bytes over the window" \
    '((.bytes * 8 / .duration_s / 1000) - .throughput_kbps | fabs) / .throughput_kbps < 0.01' "$tmp/tcp.json"
check "tcp has intervals" '(.intervals | length) >= 1 and (.sender_intervals[0].tcp_info.rtt_us >= 0)' "$tmp/tcp.json"

"$node" tcp 127.0.0.1 -p "$port" --time 1 -P 4 --reverse --json >"$tmp/tcp4.json"
check "tcp 4 streams reverse" '.streams == 4 and .direction == "reverse" and .throughput_kbps > 1000' "$tmp/tcp4.json"

"$node" udp 127.0.0.1 -p "$port" --time 1 --rate 50M --len 1024 --json >"$tmp/udp.json"
check "udp counts add up" '.rx_packets + .lost == .tx_packets and .lost_network + .lost_socket == .lost' "$tmp/udp.json"
check "udp rate near the request" '.offered_kbps > 45000 and .offered_kbps < 55000 and .throughput_kbps > 40000' "$tmp/udp.json"
check "udp has jitter and delay" '.jitter_us >= 0 and .owd_ns.count == .rx_packets and .owd_clock == "relative"' "$tmp/udp.json"

"$node" udp 127.0.0.1 -p "$port" --time 1 --rate 20M --reverse --len 128 --json >"$tmp/udpr.json"
check "udp reverse" '.direction == "reverse" and .rx_packets + .lost == .tx_packets and .tx_packets > 10000' "$tmp/udpr.json"

"$node" udp 127.0.0.1 -p "$port" --search rfc2544 --trial-time 0.3 --rate-max 200M --max-trials 6 --json >"$tmp/search.json"
check "rfc2544 search reports its trials" '(.search.trials | length) >= 1 and .search.chosen_trial >= 0' "$tmp/search.json"

for proto in udp tcp; do
    "$node" rr 127.0.0.1 -p "$port" --proto "$proto" --count 1000 --json >"$tmp/rr-$proto.json"
    check "rr $proto" '.tx_packets == 1000 and .rx_packets == 1000 and .latency_ns.count > 0 and
        .latency_ns.min <= .latency_ns.p50 and .latency_ns.p50 <= .latency_ns.p99 and .latency_ns.p99 <= .latency_ns.max' \
        "$tmp/rr-$proto.json"
    check "rr $proto carries its serialised histogram" '(.latency_ns.hist | @base64d | length) > 16' "$tmp/rr-$proto.json"
    check "rr $proto names its timestamp source" '.timestamp_source == "kernel" or .timestamp_source == "user"' "$tmp/rr-$proto.json"
done
"$node" rr 127.0.0.1 -p "$port" --mode isochronous --send-interval 200us --count 2000 --json >"$tmp/rr-iso.json"
check "rr isochronous" '.tx_packets == 2000 and .mode == "isochronous"' "$tmp/rr-iso.json"

if "$node" icmp 127.0.0.1 --count 5 --send-interval 10ms --json >"$tmp/icmp.json"; then
    check "icmp" '.tx_packets == 5 and .rx_packets == 5 and .latency_ns.count >= 4' "$tmp/icmp.json"
else
    echo "note: icmp needs a ping or raw socket here; skipped ($(jq -r .error "$tmp/icmp.json" 2>/dev/null))"
fi

# A slow TCP test ends near its duration: the unsent queue is bounded (TCP_NOTSENT_LOWAT), so
# neither a rate cap nor a tiny receive window leaves seconds of data draining after it.
for args in "--rate 2M" "-R --rcvbuf 8K"; do
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    "$node" tcp 127.0.0.1 -p "$port" -t 1 $args --json >"$tmp/slow.json"
    elapsed_ms=$((($(date +%s%N) - start) / 1000000))
    if [[ $elapsed_ms -lt 8000 ]]; then passes=$((passes + 1)); else
        echo "FAIL: tcp -t 1 $args took ${elapsed_ms} ms (want < 8 s)"
        fails=$((fails + 1))
    fi
done
# The receive buffer is the receiver's, whichever end receives: 8 KiB cuts loopback goodput by far more than half.
"$node" tcp 127.0.0.1 -p "$port" -t 1 --json >"$tmp/tcp-big.json"
"$node" tcp 127.0.0.1 -p "$port" -t 1 --rcvbuf 8K --json >"$tmp/tcp-small.json"
small=$(jq .throughput_kbps "$tmp/tcp-small.json")
check "--rcvbuf reaches the server's receiving socket" ".throughput_kbps > 2 * $small" "$tmp/tcp-big.json"

# The warm-up is excluded from the offered rate as from everything else.
"$node" udp 127.0.0.1 -p "$port" --rate 10M -t 2 --omit 1 --json >"$tmp/udp-omit.json"
check "udp --omit: offered rate is the request" '.offered_kbps > 9500 and .offered_kbps < 10500' "$tmp/udp-omit.json"

# TCP RR stamp keys are 32-bit byte offsets: past 4 GiB they wrap, and every stamp must still find its request.
"$node" rr 127.0.0.1 -p "$port" --proto tcp -l 1M --count 4200 --json >"$tmp/rr-wrap.json"
check "tcp rr past 4 GiB keeps every kernel stamp" '.stamps_missing == 0 and .timestamp_source == "kernel"' "$tmp/rr-wrap.json"

# A scheduled start: the test waits for it (no idle timeout meanwhile) and reports from it.
at=$(($(date +%s%N) + 2000000000))
"$node" tcp 127.0.0.1 -p "$port" -t 1 --start-at "$at" --json >"$tmp/tcp-at.json"
check "tcp --start-at 2 s ahead" ".start_realtime_ns == $at and .throughput_kbps > 1000" "$tmp/tcp-at.json"

# Several clients at once: none is turned away.
pids=()
for i in 1 2 3; do
    "$node" tcp 127.0.0.1 -p "$port" --time 1 --json >"$tmp/multi$i.json" &
    pids+=($!)
done
"$node" rr 127.0.0.1 -p "$port" --count 500 --json >"$tmp/multi-rr.json" &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2 3; do check "concurrent tcp $i" '.throughput_kbps > 0' "$tmp/multi$i.json"; done
check "concurrent rr" '.rx_packets == 500' "$tmp/multi-rr.json"

# A port nobody serves: a clear failure, exit 1, at once.
closed=$((port == 65535 ? port - 1 : port + 1))
start=$(date +%s%N)
"$node" tcp 127.0.0.1 -p "$closed" --time 1 --json >"$tmp/refused.json" 2>"$tmp/refused.err"
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check "refused connection is an error object" '.error | test("cannot connect")' "$tmp/refused.json"
if [[ $rc -eq 1 && $elapsed_ms -lt 3000 ]]; then passes=$((passes + 1)); else
    echo "FAIL: refused connection: exit $rc after ${elapsed_ms} ms (want 1, < 3 s)"
    fails=$((fails + 1))
fi

# A test scheduled a minute ahead must not hold the server's shutdown.
"$node" udp 127.0.0.1 -p "$port" -R --rate 1M -t 1 --start-at $(($(date +%s%N) + 60000000000)) --json \
    >"$tmp/far.json" 2>/dev/null &
far=$!
for _ in $(seq 40); do
    ss -tn "dport = :$port or sport = :$port" | grep -q ESTAB && break
    sleep 0.05
done
sleep 0.5 # let the test reach its wait for the start (no event to wait for from here)

# The server stops cleanly on SIGTERM, promptly.
term_at=$(date +%s%N)
kill -TERM "$srv_pid"
wait "$srv_pid"
rc=$?
term_ms=$((($(date +%s%N) - term_at) / 1000000))
srv_pid=
wait "$far" 2>/dev/null
if [[ $term_ms -lt 3000 ]]; then passes=$((passes + 1)); else
    echo "FAIL: the server took ${term_ms} ms to stop with a test scheduled a minute ahead"
    fails=$((fails + 1))
fi
if [[ $rc -eq 0 ]]; then passes=$((passes + 1)); else
    echo "FAIL: server exit status $rc after SIGTERM"
    cat "$tmp/server.log"
    fails=$((fails + 1))
fi

echo "loopback: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
