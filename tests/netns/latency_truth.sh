#!/usr/bin/env bash
# latency_truth.sh — vmtp-node's latency figures over a veth pair (TESTBED.md "Ground truth: Timestamps").
#
# Two namespaces c (client, 198.18.0.1/30) and s (server, 198.18.0.2/30) joined by a veth pair: no injected delay,
# so the truth is what veth does — a kernel-to-kernel transit of about a microsecond, a kernel RTT of 10-65 us and a
# user-space RTT of 20-130 us depending on how busy the machine is. Bounds, then, not values:
#   - `vmtp-node rr --count 2000` for udp and tcp, pingpong and isochronous: exit 0, timestamp_source "kernel"
#     (SO_TIMESTAMPING works on veth here), tx_packets == rx_packets == 2000, nothing lost,
#     latency_ns.count == rx_packets, 0 < p50 < 100 us, min <= p50 <= p90 <= p99 <= p999 <= max, min <= mean <= max.
#     Where the richer views are reported, they must nest as the stamps do, sample by sample: the kernel RTT
#     (TX stamp -> RX stamp) lies inside the user RTT (before send -> after receive), and the path figure is the
#     kernel RTT minus the server's turnaround, so path p50 <= kernel p50 <= user p50 (pointwise domination carries
#     over to every percentile).
#   - `vmtp-node icmp --count 20 --send-interval 10ms`: rx_packets == 20, timestamp_source "kernel", 0 < p50 < 100 us.
# Usage: latency_truth.sh BINDIR (ctest passes build/bin). Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bindir=${1:-$here/../../build/bin}
port=5001
count=2000

ns_init
ns_require jq ss awk
vmtp_node_require "$bindir"



# check_hist LABEL JSON FIELD : the ordering and bounds of one latency histogram object.
check_hist()
{
    local label=$1 json=$2 f=$3 min p50 p90 p99 p999 max mean
    min=$(jget "$json" ".$f.min") p50=$(jget "$json" ".$f.p50") p90=$(jget "$json" ".$f.p90")
    p99=$(jget "$json" ".$f.p99") p999=$(jget "$json" ".$f.p999") max=$(jget "$json" ".$f.max")
    mean=$(jget "$json" ".$f.mean")
    assert_cmp "$label: $f.p50 > 0" "$p50" '>' 0
    assert_cmp "$label: $f.p50 < 100000 ns" "$p50" '<' 100000
    assert_cmp "$label: $f.min <= p50" "$min" '<=' "$p50"
    assert_cmp "$label: $f.p50 <= p90" "$p50" '<=' "$p90"
    assert_cmp "$label: $f.p90 <= p99" "$p90" '<=' "$p99"
    assert_cmp "$label: $f.p99 <= p999" "$p99" '<=' "$p999"
    assert_cmp "$label: $f.p999 <= max" "$p999" '<=' "$max"
    assert_cmp "$label: $f.min <= mean" "$min" '<=' "$mean"
    assert_cmp "$label: $f.mean <= max" "$mean" '<=' "$max"
}

c=$(ns_add c)
s=$(ns_add s)
ns_link "$c" veth0 198.18.0.1/30 "$s" veth0 198.18.0.2/30 1500

vmtp_server_start s 198.18.0.2 "$port"

for proto in udp tcp; do
    for mode in pingpong isochronous; do
        label="rr $proto $mode"
        fails=$_NS_FAIL rc=0
        json=$(ns_exec c "$node" rr 198.18.0.2 --port "$port" --proto "$proto" --mode "$mode" --count "$count" \
            --json) || rc=$?
        rx=$(jget "$json" .rx_packets)
        assert_cmp "$label: exit status 0" "$rc" == 0
        assert_cmp "$label: timestamp_source is kernel" \
            "$(jget "$json" '.timestamp_source == "kernel" | if . then 1 else 0 end')" == 1
        assert_cmp "$label: tx_packets == $count" "$(jget "$json" .tx_packets)" == "$count"
        assert_cmp "$label: rx_packets == $count" "$rx" == "$count"
        assert_cmp "$label: lost == 0" "$(jget "$json" .lost)" == 0
        assert_cmp "$label: latency_ns.count == rx_packets" "$(jget "$json" .latency_ns.count)" == "${rx:-x}"
        check_hist "$label" "$json" latency_ns
        # The richer views, when reported: path <= kernel RTT <= user RTT at the median.
        k50=$(jget "$json" .rtt_kernel_ns.p50) u50=$(jget "$json" .rtt_user_ns.p50) p50=$(jget "$json" .rtt_path_ns.p50)
        if [[ -n $k50 && -n $u50 ]]; then
            assert_cmp "$label: rtt_kernel_ns.p50 <= rtt_user_ns.p50" "$k50" '<=' "$u50"
        fi
        if [[ -n $p50 && -n $k50 ]]; then
            assert_cmp "$label: rtt_path_ns.p50 <= rtt_kernel_ns.p50" "$p50" '<=' "$k50"
        fi
        printf 'INFO: %s: latency_ns (%s, %s samples, %s stamps missing) min/p50/p99/max %s/%s/%s/%s ns; kernel RTT p50 %s, user RTT p50 %s\n' \
            "$label" "$(jget "$json" .latency_kind)" "$(jget "$json" .latency_ns.count)" \
            "$(jget "$json" .stamps_missing)" "$(jget "$json" .latency_ns.min)" \
            "$(jget "$json" .latency_ns.p50)" "$(jget "$json" .latency_ns.p99)" "$(jget "$json" .latency_ns.max)" \
            "${k50:-n/a}" "${u50:-n/a}"
        dump_if_failed "$fails" "$label" "$json"
    done
done

# ICMP echo: the kernel of s answers; no server process involved.
label="icmp count 20"
fails=$_NS_FAIL rc=0
json=$(ns_exec c "$node" icmp 198.18.0.2 --count 20 --send-interval 10ms --json) || rc=$?
assert_cmp "$label: exit status 0" "$rc" == 0
assert_cmp "$label: tx_packets == 20" "$(jget "$json" .tx_packets)" == 20
assert_cmp "$label: rx_packets == 20" "$(jget "$json" .rx_packets)" == 20
assert_cmp "$label: timestamp_source is kernel" \
    "$(jget "$json" '.timestamp_source == "kernel" | if . then 1 else 0 end')" == 1
assert_cmp "$label: latency_ns.count == 20" "$(jget "$json" .latency_ns.count)" == 20
check_hist "$label" "$json" latency_ns
k50=$(jget "$json" .latency_ns.p50) u50=$(jget "$json" .rtt_user_ns.p50)
if [[ -n $k50 && -n $u50 ]]; then
    assert_cmp "$label: kernel p50 <= rtt_user_ns.p50" "$k50" '<=' "$u50"
fi
printf 'INFO: %s (%s socket, %s stamps missing): min/p50/p99/max %s/%s/%s/%s ns; user RTT p50 %s\n' "$label" \
    "$(jget "$json" .socket)" "$(jget "$json" .stamps_missing)" "$(jget "$json" .latency_ns.min)" "$k50" "$(jget "$json" .latency_ns.p99)" "$(jget "$json" .latency_ns.max)" \
    "${u50:-n/a}"
dump_if_failed "$fails" "$label" "$json"

finish
