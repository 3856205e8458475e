#!/usr/bin/env bash
# loss_truth.sh — vmtp-node's UDP loss accounting against an injected, counted loss (TESTBED.md "Ground truth:
# Loss" and "Receiver drops are not network loss").
#
# Two namespaces c (client, 198.18.0.1/30) and s (server, 198.18.0.2/30) joined by a veth pair. An nftables rule
# on the *receiver's* input hook drops every MOD-th test datagram (`numgen inc mod MOD == 0 counter drop`); its
# counter is the exact number lost "in the network". `vmtp-node udp --rate 50M --len 1024 --time 3` must then
# report lost == lost_network == the counter, lost_socket == socket_drops == 0 (the receiving socket dropped
# nothing: the loss happened before it), rx_packets + lost == tx_packets, and the counter must equal
# ceil(tx_packets / MOD) (the rule saw every datagram the sender says it sent, numgen starting at 0 = drop).
#
# Why the rules match only datagrams longer than 100 bytes: the session setup sends UDP "hello" datagrams
# (a 24-byte header, UDP length 32) to the same server port, and re-sends them every 50 ms until acknowledged.
# Were they matched, the first hello would be numgen 0 and dropped, and how many hellos go out depends on timing,
# so the counter would be "data drops + 0..k hellos": not an exact truth. Test datagrams are 1024-byte payloads
# (UDP length 1032), so `udp length > 100` separates them from every control datagram. Reading the counter before
# and after would not help: the hellos are sent inside the same vmtp-node run as the data.
#   - forward (client sends): lib.sh's ns_nft_drop_udp on the server's port in s, preceded by an inserted
#     `udp dport P udp length <= 100 accept` so short datagrams never reach (nor advance) the numgen rule;
#   - reverse (server sends, --reverse): the datagrams arrive in c at the client's ephemeral port, from the
#     server's port P, so the rule in c matches `udp sport P udp length > 100` (a table of this script, removed
#     with the namespace).
# Usage: loss_truth.sh BINDIR (ctest passes build/bin). Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bindir=${1:-$here/../../build/bin}
port=5001
mod=25 # 4 % loss: ~730 of ~18300 datagrams

ns_init
ns_require nft jq ss awk
vmtp_node_require "$bindir"



c=$(ns_add c)
s=$(ns_add s)
ns_link "$c" veth0 198.18.0.1/30 "$s" veth0 198.18.0.2/30 1500

# Forward: lib's rule on the server's port, with short (setup) datagrams let through ahead of it.
ns_nft_drop_udp s "$port" "$mod"
ns_exec s nft insert rule inet "$NS_NFT_TABLE" input udp dport "$port" udp length '<=' 100 accept

# Reverse: the client receives from the server's port.
rev_table="${NS_PREFIX}_rev"
ns_exec c nft -f - <<EOF
table inet $rev_table {
    chain input {
        type filter hook input priority filter; policy accept;
        udp sport $port udp length > 100 numgen inc mod $mod == 0 counter drop comment "vmtp-loss-rev"
    }
}
EOF
# shellcheck disable=SC2317 # called through $counter_fn
rev_counter()
{
    ns_exec c nft -j list table inet "$rev_table" |
        jq -r '[.nftables[] | .rule? | select(. != null) | select(.comment == "vmtp-loss-rev")
                | .expr[] | .counter? | select(. != null) | .packets] | add'
}

vmtp_server_start s 198.18.0.2 "$port"

# loss_check LABEL COUNTER_FN ARGS... : one 3 s run at 50 Mbit/s; COUNTER_FN prints the rule's counter.
loss_check()
{
    local label=$1 counter_fn=$2 fails=$_NS_FAIL json rc=0 before after dropped tx rx lost
    shift 2
    before=$($counter_fn)
    json=$(ns_exec c "$node" udp 198.18.0.2 --port "$port" --rate 50M --len 1024 --time 3 --interval 0 --json "$@") ||
        rc=$?
    after=$($counter_fn)
    dropped=$((after - before))
    tx=$(jget "$json" .tx_packets)
    rx=$(jget "$json" .rx_packets)
    lost=$(jget "$json" .lost)
    assert_cmp "$label: exit status 0" "$rc" == 0
    assert_cmp "$label: the rule dropped something" "$dropped" '>' 0
    assert_cmp "$label: lost == nft counter" "$lost" == "$dropped"
    assert_cmp "$label: lost_network == nft counter" "$(jget "$json" .lost_network)" == "$dropped"
    assert_cmp "$label: lost_socket == 0" "$(jget "$json" .lost_socket)" == 0
    assert_cmp "$label: socket_drops == 0" "$(jget "$json" .socket_drops)" == 0
    assert_cmp "$label: rx_packets + lost == tx_packets" "$((${rx:-0} + ${lost:-0}))" == "${tx:-x}"
    # Each rule serves exactly one run, so its numgen starts at 0 (a drop) and N datagrams lose ceil(N / MOD).
    assert_cmp "$label: nft counter == ceil(tx_packets / $mod)" "$dropped" == "$(((${tx:-0} + mod - 1) / mod))"
    assert_within "$label: loss_rate == lost / tx_packets (%)" "$(jget "$json" .loss_rate)" \
        "$(awk -v l="${lost:-0}" -v t="${tx:-1}" 'BEGIN { printf "%.6f", l * 100 / t }')" 0.1
    printf 'INFO: %s: tx %s rx %s lost %s (network %s, socket %s), nft counter %s, loss_rate %s %%\n' "$label" \
        "$tx" "$rx" "$lost" "$(jget "$json" .lost_network)" "$(jget "$json" .lost_socket)" "$dropped" \
        "$(jget "$json" .loss_rate)"
    dump_if_failed "$fails" "$label" "$json"
}

# shellcheck disable=SC2317 # called through $counter_fn
fwd_counter()
{
    ns_nft_counter s "$port"
}

loss_check "udp forward, drop 1/$mod in s" fwd_counter
loss_check "udp reverse, drop 1/$mod in c" rev_counter --reverse

finish
