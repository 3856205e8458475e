#!/usr/bin/env bash
# test_ssh.sh — the coordinator's SSH layer (coordinator/ssh.c) against real OpenSSH servers, one per namespace.
#
# Usage: test_ssh.sh BINDIR      (BINDIR holds vmtp-node and test_ssh; root; exit 77 when it cannot run)
#
# Topology: namespace c (the coordinator, where test_ssh runs) with a veth to each host namespace:
#   h1 198.18.1.2:22   ed25519 client key, SFTP
#   h2 198.18.2.2:2222 RSA (PEM) client key, no SFTP (uploads fall back to SCP), a [host]:port known_hosts entry
#   h3 198.18.3.2:22   password only: root's password exists only in a private mount namespace of h3's sshd
#                      (a bind-mounted shadow file), so no system account or /etc file changes
#   198.18.1.99 (nobody there, a static neighbour entry in c) for the unreachable case.
# Keys, host keys, known_hosts, the ssh-agent socket and the hosts' TMPDIR live in the run's state directory,
# which ns_cleanup removes with every process (sshd, ssh-agent, agents) on every exit path.
set -u
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

bindir=${1:?usage: test_ssh.sh BINDIR}
ns_init
ns_require ssh-keygen ssh-agent ssh-add sha256sum mktemp unshare
[[ -x /usr/sbin/sshd ]] || _ns_skip "needs /usr/sbin/sshd (Debian: openssh-server)"
vmtp_node_require "$bindir"
test_bin=$bindir/test_ssh
[[ -x $test_bin ]] || { echo "FAIL: $test_bin is not built"; exit 1; }

tmp=$NS_STATE/ssh
mkdir -m 0700 "$tmp"

# h1 keeps IPv6 for its loopback (::1): the IPv6 case runs inside h1 against [::1]; no other IPv6 address is used.
ns_add c >/dev/null && NS_IPV6=1 ns_add h1 >/dev/null && ns_add h2 >/dev/null && ns_add h3 >/dev/null || exit 1
ns_link c v1 198.18.1.1/24 h1 eth0 198.18.1.2/24 || exit 1
ns_link c v2 198.18.2.1/24 h2 eth0 198.18.2.2/24 || exit 1
ns_link c v3 198.18.3.1/24 h3 eth0 198.18.3.2/24 || exit 1
# The silent host: a neighbour entry with a MAC nobody has, so SYNs leave and vanish (no ARP failure, which would
# end the connect early with "no route to host").
ns_exec c ip neigh add 198.18.1.99 lladdr 02:00:00:00:00:99 dev v1 nud permanent || exit 1

# Client keys: ed25519 (OpenSSH format) for h1, RSA in PEM format for h2, one that no host accepts.
ssh-keygen -q -t ed25519 -N '' -C vmtp-test -f "$tmp/id_ed25519" </dev/null || exit 1
ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -C vmtp-test-rsa -f "$tmp/id_rsa" </dev/null || exit 1
ssh-keygen -q -t ed25519 -N '' -C vmtp-test-bad -f "$tmp/bad_key" </dev/null || exit 1
cat "$tmp/id_ed25519.pub" "$tmp/id_rsa.pub" >"$tmp/authorized_keys"

# libssh2 1.10 signs with ssh-rsa (SHA-1) only, which OpenSSH >= 8.8 refuses unless allowed: h2 allows it.
sshd1=$(ns_sshd h1 198.18.1.2 22 "$tmp/h1" "$tmp/authorized_keys" 'ListenAddress [::1]:22') || exit 1
ns_sshd h2 198.18.2.2 2222 "$tmp/h2" "$tmp/authorized_keys" 'PubkeyAcceptedAlgorithms +ssh-rsa' NoSFTP \
    >/dev/null || exit 1

# h3: password authentication for root, with a password that exists only inside sshd's own mount namespace.
password="vmtp-$RANDOM$RANDOM"
pw_ok=0
if command -v openssl >/dev/null 2>&1 && hash=$(openssl passwd -6 "$password" 2>/dev/null); then
    mkdir -m 0700 "$tmp/h3" "$tmp/h3/tmp"
    ssh-keygen -q -t ed25519 -N '' -f "$tmp/h3/ssh_host_ed25519_key" </dev/null || exit 1
    printf 'root:%s:19000:0:99999:7:::\nvmtpmarker%s:*:19000:0:99999:7:::\n' "$hash" "$NS_PREFIX" >"$tmp/h3/shadow"
    chmod 0600 "$tmp/h3/shadow"
    cat >"$tmp/h3/sshd_config" <<EOF
ListenAddress 198.18.3.2:22
HostKey $tmp/h3/ssh_host_ed25519_key
PidFile $tmp/h3/sshd.pid
PermitRootLogin yes
PubkeyAuthentication no
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv TMPDIR=$tmp/h3/tmp
LogLevel VERBOSE
EOF
    # unshare's default propagation is private: the bind mount is visible to this sshd (and its children) only.
    ns_bg h3 unshare --mount --propagation private sh -c \
        "mount --bind '$tmp/h3/shadow' /etc/shadow && exec /usr/sbin/sshd -D -e -f '$tmp/h3/sshd_config'" >/dev/null
    if ns_wait_port h3 tcp 22 10; then
        pw_ok=1
    fi
    # Belt and braces: the machine's own /etc/shadow must not have changed.
    if grep -q "vmtpmarker" /etc/shadow 2>/dev/null; then
        echo "FAIL: the shadow bind mount leaked out of its mount namespace"
        ns_cleanup 1
        exit 1
    fi
fi

# known_hosts with every host, hashed as Debian's ssh writes it; h2's entry is [198.18.2.2]:2222.
{
    printf '198.18.1.2 %s\n' "$(cut -d' ' -f1,2 "$tmp/h1/ssh_host_ed25519_key.pub")"
    printf '::1 %s\n' "$(cut -d' ' -f1,2 "$tmp/h1/ssh_host_ed25519_key.pub")"
    printf '[198.18.2.2]:2222 %s\n' "$(cut -d' ' -f1,2 "$tmp/h2/ssh_host_ed25519_key.pub")"
    [[ ! -f $tmp/h3/ssh_host_ed25519_key.pub ]] ||
        printf '198.18.3.2 %s\n' "$(cut -d' ' -f1,2 "$tmp/h3/ssh_host_ed25519_key.pub")"
} >"$tmp/known_hosts"
ssh-keygen -q -H -f "$tmp/known_hosts" >/dev/null 2>&1 || exit 1
rm -f "$tmp/known_hosts.old"
assert_cmp "known_hosts is hashed (no plain address left)" "$(grep -c '198\.18' "$tmp/known_hosts")" == 0

# Our own ssh-agent, its socket in the temp dir; ended by PID at cleanup.
ns_bg c ssh-agent -D -a "$tmp/agent.sock" >/dev/null
for _ in $(seq 100); do [[ -S $tmp/agent.sock ]] && break; sleep 0.05; done
SSH_AUTH_SOCK=$tmp/agent.sock ssh-add -q "$tmp/id_ed25519" </dev/null 2>/dev/null
assert_cmp "ssh-agent holds the key" "$(SSH_AUTH_SOCK=$tmp/agent.sock ssh-add -l 2>/dev/null | grep -c vmtp-test)" == 1

export T_KEY=$tmp/id_ed25519 T_BADKEY=$tmp/bad_key T_KEY_RSA=$tmp/id_rsa T_KH=$tmp/known_hosts
export T_KH_NEW=$tmp/known_hosts_new T_KH_REV=$tmp/known_hosts_revoked T_AGENT=$tmp/agent.sock T_DEAD=198.18.1.99
export T_H1=root@198.18.1.2 T_H2=ssh://root@198.18.2.2:2222 T_H3="root@198.18.3.2:$password"
export T_A1=198.18.1.2 T_A2=198.18.2.2 T_TMP1=$tmp/h1/tmp/ T_TMP2=$tmp/h2/tmp/
T_FP1=$(ssh-keygen -lf "$tmp/h1/ssh_host_ed25519_key.pub" | awk '{print $2}')
export T_FP1
unset SSH_AUTH_SOCK

# run CASE : runs one case of test_ssh inside the coordinator namespace and records its verdict.
run()
{
    local rc=0
    ns_exec c "$test_bin" "$bindir" "$1" || rc=$?
    assert_cmp "test_ssh $1" "$rc" == 0
}

# no_node_left NS : prints how many processes in NS run a vmtp-node binary.
no_node_left()
{
    local n=0 pid
    for pid in $(ip netns pids "$1" 2>/dev/null); do
        [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */vmtp-node* ]] && n=$((n + 1))
    done
    printf '%d\n' "$n"
}

run exec
run deploy
for ns in h1 h2; do
    assert_cmp "no vmtp-node process left in $ns" "$(no_node_left "$NS_PREFIX-$ns")" == 0
    assert_cmp "no vmtp directory left on $ns" "$(find "$tmp/$ns/tmp" -mindepth 1 | wc -l)" == 0
done
run unreach
run agent
run noauth
ns_exec h1 "$test_bin" "$bindir" v6
assert_cmp "test_ssh v6 (inside h1)" "$?" == 0
{
    printf '198.18.1.2 %s\n' "$(cut -d' ' -f1,2 "$tmp/h1/ssh_host_ed25519_key.pub")"
    printf '@revoked * %s\n' "$(cut -d' ' -f1,2 "$tmp/h1/ssh_host_ed25519_key.pub")"
} >"$T_KH_REV"
run revoked
if ((pw_ok)); then
    run password
else
    echo "SKIP: password authentication (openssl passwd or the private-mount sshd unavailable)"
fi

# Host keys: unknown (strict refuses, accept-new records), then h1's key changes: refused as a mismatch.
run newkey
{
    printf '198.18.9.9 %s\n' "$(cut -d' ' -f1,2 "$tmp/h2/ssh_host_ed25519_key.pub")"
    cat "$T_KH_NEW"
} >"$T_KH_NEW.tmp" && mv -f "$T_KH_NEW.tmp" "$T_KH_NEW"
ns_stop "$sshd1"
rm -f "$tmp/h1/ssh_host_ed25519_key" "$tmp/h1/ssh_host_ed25519_key.pub"
ns_sshd h1 198.18.1.2 22 "$tmp/h1" "$tmp/authorized_keys" >/dev/null || exit 1
run mismatch

finish
