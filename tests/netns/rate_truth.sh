#!/usr/bin/env bash
# rate_truth.sh — vmtp-node's throughput figures against an injected rate (TESTBED.md "Ground truth: Rate").
#
# Two namespaces c (client, 198.18.0.1/30) and s (server, 198.18.0.2/30) joined by a veth pair; an HTB class
# (`rate R ceil R burst 256k cburst 256k`, lib.sh ns_htb) on the *sending* side's veth is the ground truth.
# HTB counts whole Ethernet frames (skb->len on veth egress includes the 14-byte Ethernet header), so:
#   - TCP goodput     = R * 1448/1514: MSS 1448 (MTU 1500 - 20 IP - 20 TCP - 12 timestamp option) per
#                       1514-byte frame (1500 + 14). Checked: tcp_info.snd_mss must be 1448 for this to hold.
#   - UDP goodput     = R * 1470/1512 for 1470-byte payloads (+ 8 UDP + 20 IP + 14 Ethernet = 1512).
# Checks, for R = 100 Mbit/s and 1 Gbit/s:
#   - `vmtp-node tcp` (4 s, --omit 1 so that the HTB's initial 256 KiB burst is spent in the warm-up): goodput
#     within +-3 % of R * 1448/1514;
#   - `vmtp-node udp --search rfc2544 --loss-threshold 0.1 --len 1470 --trial-time 1`: the chosen trial's
#     throughput >= 97 % of R * 1470/1512 (80 % when the search says it was sender-limited: then the figure is
#     the sending host's, a lower bound of the path), its loss_rate <= 0.1 %; and, as an upper bound, no more than the cap
#     plus the HTB burst could have delivered during the trial (+1 % slack): a UDP trial is not omitted, so a full
#     token bucket (262144 bytes) legitimately adds burst*8/duration on top of the rate.
# and the reverse direction (--reverse, the server sends) for TCP at 100 Mbit/s with the HTB on the server's veth.
# On any miss the whole JSON is printed. Usage: rate_truth.sh BINDIR (ctest passes build/bin).
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bindir=${1:-$here/../../build/bin}
port=5001
burst_bytes=262144 # ns_htb's `burst 256k` (tc sizes: k = 1024)

ns_init
ns_require tc jq ss awk
vmtp_node_require "$bindir"



# calc EXPR : prints an awk-evaluated number.
calc()
{
    awk "BEGIN { printf \"%.3f\", $1 }"
}

c=$(ns_add c)
s=$(ns_add s)
ns_link "$c" veth0 198.18.0.1/30 "$s" veth0 198.18.0.2/30 1500

vmtp_server_start s 198.18.0.2 "$port"

# tcp_check LABEL RATE_BPS DIRECTION ARGS... : one `vmtp-node tcp` run, goodput against RATE * 1448/1514.
tcp_check()
{
    local label=$1 rate=$2 direction=$3 fails=$_NS_FAIL json rc=0 expect t0 t1
    shift 3
    t0=$(date +%s%N)
    json=$(ns_exec c "$node" tcp 198.18.0.2 --port "$port" --time 4 --omit 1 --interval 0 --json "$@") || rc=$?
    t1=$(date +%s%N)
    expect=$(calc "$rate / 1000 * 1448 / 1514")
    assert_cmp "$label: exit status 0" "$rc" == 0
    assert_cmp "$label: direction is $direction" \
        "$(jget "$json" '.direction == "'"$direction"'" | if . then 1 else 0 end')" == 1
    assert_cmp "$label: snd_mss 1448 (MTU 1500 with TCP timestamps)" "$(jget "$json" .tcp_info.snd_mss)" == 1448
    assert_within "$label: goodput kbit/s vs R*1448/1514" "$(jget "$json" .throughput_kbps)" "$expect" 3
    printf 'INFO: %s: %s kbit/s, expected %s, retrans %s, wall %s s\n' "$label" "$(jget "$json" .throughput_kbps)" \
        "$expect" "$(jget "$json" .retrans)" "$(calc "($t1 - $t0) / 1e9")"
    dump_if_failed "$fails" "$label" "$json"
}

# udp_search_check LABEL RATE_BPS : an RFC 2544 search through the cap; the chosen trial against R * 1470/1512.
udp_search_check()
{
    local label=$1 rate=$2 fails=$_NS_FAIL json rc=0 goodput chosen tput loss dur upper t0 t1
    t0=$(date +%s%N)
    json=$(ns_exec c "$node" udp 198.18.0.2 --port "$port" --search rfc2544 --loss-threshold 0.1 --len 1470 \
        --trial-time 1 --interval 0 --json) || rc=$?
    t1=$(date +%s%N)
    goodput=$(calc "$rate / 1000 * 1470 / 1512")
    chosen=$(jget "$json" .search.chosen_trial)
    tput=$(jget "$json" ".search.trials[${chosen:-0}].throughput_kbps")
    loss=$(jget "$json" ".search.trials[${chosen:-0}].loss_rate")
    dur=$(jget "$json" .duration_s)
    assert_cmp "$label: exit status 0" "$rc" == 0
    assert_cmp "$label: a trial was chosen" "${chosen:-none}" '>=' 0
    # At 1 Gbit/s this VM's sender runs the whole veth path in its own context and is busy all
    # the time while it keeps up with the cap: vmtp then says its figure may be the host's limit
    # (sender_limited). That is honest, not a failure: the figure itself is checked below.
    local floor=0.97
    if [[ $(jget "$json" '.search.sender_limited') == true ]]; then
        # A sender-limited figure is a lower bound of the path, by its own account: the sending host
        # (here a loaded 2-vCPU VM, under ASan in CI) set it. Only a gross shortfall is a failure then.
        floor=0.80
        echo "INFO: $label: the search reports itself sender-limited (sending thread busy ~100 %): lower bound 80 %"
    fi
    assert_cmp "$label: chosen trial passed" "$(jget "$json" ".search.trials[${chosen:-0}].pass | if . then 1 else 0 end")" == 1
    assert_cmp "$label: chosen trial throughput >= $floor of R*1470/1512 kbit/s" "$tput" '>=' "$(calc "$goodput * $floor")"
    assert_cmp "$label: chosen trial loss_rate <= 0.1 %" "$loss" '<=' 0.1
    # The top-level figures are those of the chosen trial; duration_s is its measurement window.
    assert_cmp "$label: top-level throughput_kbps is the chosen trial's" "$(jget "$json" .throughput_kbps)" == "$tput"
    upper=$(calc "1.01 * ($rate * ${dur:-1} + 8 * $burst_bytes) * 1470 / 1512 / ${dur:-1} / 1000")
    assert_cmp "$label: chosen trial throughput <= cap + HTB burst (+1 %)" "$tput" '<=' "$upper"
    printf 'INFO: %s: chosen trial %s of %s: %s kbit/s (%s of R*1470/1512 = %s), loss %s %%, wall %s s\n' \
        "$label" "$chosen" "$(jget "$json" '.search.trials | length')" "$tput" \
        "$(calc "${tput:-0} / $goodput")" "$goodput" "$loss" "$(calc "($t1 - $t0) / 1e9")"
    # Each trial: requested rate (0 = unpaced probe), what the sender achieved, what arrived, loss. A trial whose
    # sender fell short of its request was limited by the sending host, not by the path.
    printf 'INFO: %s: trials (requested/offered/received kbit/s, loss %%, pass): %s\n' "$label" \
        "$(jget "$json" '[.search.trials[] | "\(.rate_kbps | floor)/\(.offered_kbps | floor)/\(.throughput_kbps | floor) \(.loss_rate) \(.pass)"] | join("; ")')"
    dump_if_failed "$fails" "$label" "$json"
}

for r in 100mbit:100000000 1gbit:1000000000; do
    tcrate=${r%%:*} bps=${r##*:}
    ns_htb c veth0 "$tcrate"
    tcp_check "tcp forward $tcrate" "$bps" forward
    udp_search_check "udp rfc2544 forward $tcrate" "$bps"
done

# Reverse: the server sends, so the cap goes on the server's side of the link.
ns_exec c tc qdisc del dev veth0 root
ns_htb s veth0 100mbit
tcp_check "tcp reverse 100mbit" 100000000 reverse --reverse

finish
