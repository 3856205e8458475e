#!/usr/bin/env bash
# tools/bench/coord_scale.sh — how the coordinator core copes with many node agents at once.
#
#   tools/bench/coord_scale.sh [--bindir DIR] [--rounds N] [AGENTS...]   (default: 50 100 200, 3 rounds)
#
# For each count N, `test_coord DIR scale N` (tests/integration/test_coord.c) starts N real `vmtp-node agent`
# processes on 127.0.0.1, connects one coordinator to all of them (CURVE, HELLO, heartbeats), arms N/2
# data-plane servers, and runs N/2 isochronous UDP request/response tests (1000 requests, 1 ms apart) that all
# start at one absolute instant. It prints the time to bring every session up, the start skew (latest minus
# earliest measured start, and how far the first and last start were from the schedule), how long after the
# tests' end the last RESULT arrived, and the coordinator's peak resident set (VmHWM of the coordinator process;
# the agents are separate processes). Targets (issue 3): results <= 5 s after the end, coordinator <= 64 MiB.
# Output: a markdown table on stdout. Exit 0 done, 1 a run failed, 2 usage.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BINDIR=$HERE/../../build/bin
ROUNDS=3
COUNTS=()
while (($#)); do
    case $1 in
    --bindir) BINDIR=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "coord_scale.sh: unknown option $1" >&2; exit 2 ;;
    *) COUNTS+=("$1"); shift ;;
    esac
done
((${#COUNTS[@]})) || COUNTS=(50 100 200)
[[ -x $BINDIR/test_coord && -x $BINDIR/vmtp-node ]] || { echo "coord_scale.sh: build first (no $BINDIR/test_coord)" >&2; exit 2; }

echo "| agents | round | sessions up (s) | start skew (ms) | first start vs schedule (ms) | last start after schedule (ms) | last RESULT after the end (s) | coordinator peak RSS (MiB) | RTT p50 / p99 (us) | wall: agents started to last RESULT (s) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
status=0
for n in "${COUNTS[@]}"; do
    for ((r = 1; r <= ROUNDS; r++)); do
        out=$("$BINDIR/test_coord" "$BINDIR" scale "$n" 2>&1)
        rc=$?
        line=$(grep '^scale:' <<<"$out")
        if ((rc != 0)) || [[ -z $line ]]; then
            echo "| $n | $r | FAILED (exit $rc) | | | | | | | |"
            grep -m5 FAIL <<<"$out" >&2
            status=1
            continue
        fi
        # scale: N agents (P pairs) ready in X s; start skew S ms (first F ms after|before the scheduled instant,
        # last L ms after); all P RESULTs E s after the test's end; merged RTT histogram C samples, p50 A us
        # p99 B us; coordinator peak RSS K KiB; wall W s
        awk -v n="$n" -v r="$r" '{
            for (i = 1; i <= NF; i++) {
                if ($i == "in" && $(i+2) == "s;") up = $(i+1)
                if ($i == "skew") skew = $(i+1)
                if ($i == "(first") { first = $(i+1); if ($(i+3) == "before") first = "-" first }
                if ($i == "last" && $(i+2) == "ms") last = $(i+1)
                if ($i == "RESULTs") past = $(i+1)
                if ($i == "p50") p50 = $(i+1)
                if ($i == "p99") p99 = $(i+1)
                if ($i == "RSS") rss = $(i+1)
                if ($i == "wall") wall = $(i+1)
            }
            printf "| %s | %s | %s | %s | %s | %s | %s | %.1f | %s / %s | %s |\n", n, r, up, skew, first, last, past, rss / 1024, p50, p99, wall
        }' <<<"$line"
    done
done
exit $status
