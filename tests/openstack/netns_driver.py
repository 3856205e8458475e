"""Nova virt driver of the test harness: every server is a network namespace with its own sshd.

compute_driver = netns_driver.NetnsDriver, loaded through tests/openstack/nova-compute-netns.

The compute host's name (nova-compute's `host`, CONF.host) is the name of its namespace, where that host's
neutron-linuxbridge-agent runs. nova-compute itself runs in the root namespace: it talks only to the control
plane on 127.0.0.1, and the VM namespaces it creates are then visible to `ip netns` (an agent started by
`ip netns exec` has a private mount namespace, so its namespaces are not).

spawn(), per server:
  * namespace vmtp-os-vm-<uuid[:8]> (the "VM"): lo up, IPv6 off (only the ports' addresses appear);
  * per VIF, a veth pair: tap<port id[:11]> in the compute host's namespace <-> eth<N> in the VM, with the port's
    MAC (the tap gets fe:..., as libvirt does), MTU and fixed IPs; the tap is enslaved to the network's bridge
    brq<net id[:11]> (created if missing), as os-vif's linux_bridge plugin does: the linuxbridge agent adds only
    the VXLAN device and the security-group and anti-spoofing rules, never a compute port's tap;
  * a default route via the first IPv4 subnet's gateway;
  * <instances_path>/<uuid>/: authorized_keys (the server's key pair), an ed25519 host key, sshd_config (root by
    key only, SFTP subsystem, TMPDIR=<that dir>/tmp), sshd started in the VM namespace and in a UTS namespace
    named after the server's hostname.
If anything fails the driver undoes all of it and raises, so the server goes to ERROR.

destroy(): ends every process in the VM namespace (sshd, ssh sessions, whatever a tool started there), deletes the
namespace (its veth pairs go with it), the tap if still there, the bridge if nothing is left in it (one the agent
put its VXLAN device in is the agent's to remove, when the network goes), and the instance directory.

What a "VM" is not: it shares the host's filesystem, users, PIDs, CPU and memory; flavors are not enforced; there
is no console, cloud-init, user data or metadata service.
"""
import os
import shutil
import time

from oslo_concurrency import lockutils
from oslo_concurrency import processutils
from oslo_log import log as logging

import nova.conf
from nova.virt import fake

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
VM_NS_PREFIX = os.environ.get('VMTP_OS_VM_NS_PREFIX', 'vmtp-os-vm-')
SSHD = '/usr/sbin/sshd'


def _x(*cmd, check=True, stdin=None):
    """Runs cmd; returns its stdout. check=False ignores the exit status."""
    out, _err = processutils.execute(*cmd, process_input=stdin,
                                     check_exit_code=[0] if check else False)
    return out


def vm_ns(instance):
    return VM_NS_PREFIX + instance.uuid[:8]


def tap_name(vif):
    return ('tap' + vif['id'])[:14]


def bridge_name(vif):
    return vif['network'].get('bridge') or ('brq' + vif['network']['id'])[:14]


class NetnsDriver(fake.FakeDriver):
    capabilities = dict(fake.FakeDriver.capabilities,
                        supports_attach_interface=False,
                        supports_tagged_attach_interface=False,
                        supports_evacuate=False)

    @staticmethod
    def _host_ns():
        return CONF.host

    @staticmethod
    def _idir(instance):
        return os.path.join(CONF.instances_path, instance.uuid)

    # ------------------------------------------------------------------ spawn
    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        ns = vm_ns(instance)
        LOG.info('netns spawn %s in %s on %s', instance.uuid, ns,
                 self._host_ns())
        try:
            self._plumb(instance, ns, network_info or [])
            self._start_sshd(instance, ns)
        except Exception:
            LOG.exception('netns spawn failed for %s: undoing', instance.uuid)
            self._unplumb(instance, ns, network_info or [])
            raise
        super().spawn(context, instance, image_meta, injected_files,
                      admin_password, allocations, network_info,
                      block_device_info, power_on, accel_info)

    def _plumb(self, instance, ns, network_info):
        host = self._host_ns()
        _x('ip', 'netns', 'add', ns)
        _x('ip', 'netns', 'exec', ns, 'sysctl', '-qw',
           'net.ipv6.conf.all.disable_ipv6=1',
           'net.ipv6.conf.default.disable_ipv6=1')
        vm_cmds = ['link set lo up']
        default_gw = None
        for i, vif in enumerate(network_info):
            tap, dev, mac = tap_name(vif), 'eth%d' % i, vif['address']
            mtu = str((vif['network'].get('meta') or {}).get('mtu') or 1450)
            # the host end is created in the compute namespace, its peer directly in the VM's
            _x('ip', '-n', host, 'link', 'add', tap, 'mtu', mtu,
               'address', 'fe' + mac[2:], 'type', 'veth',
               'peer', 'name', dev, 'netns', ns)
            vm_cmds.append('link set %s address %s mtu %s' % (dev, mac, mtu))
            for subnet in vif['network']['subnets']:
                plen = subnet['cidr'].split('/')[1]
                for ip in subnet['ips']:
                    vm_cmds.append('addr add %s/%s dev %s' %
                                   (ip['address'], plen, dev))
                gw = (subnet.get('gateway') or {}).get('address')
                if gw and default_gw is None and subnet['version'] == 4:
                    default_gw = (gw, dev)
            vm_cmds.append('link set %s up' % dev)
            # the bridge may exist already (another VM of this network on this host, or the agent was
            # first); the lock keeps _drop_bridge of a failing spawn from removing it under us
            br = bridge_name(vif)
            with lockutils.lock('netns-' + br):
                _x('ip', '-n', host, 'link', 'add', br, 'type', 'bridge',
                   'forward_delay', '0', 'stp_state', '0', check=False)
                _x('ip', '-n', host, '-batch', '-', stdin='link set %s up\n'
                   'link set %s master %s up\n' % (br, tap, br))
        if default_gw:
            vm_cmds.append('route add default via %s dev %s' % default_gw)
        _x('ip', '-n', ns, '-batch', '-', stdin='\n'.join(vm_cmds) + '\n')

    def _start_sshd(self, instance, ns):
        d = self._idir(instance)
        os.makedirs(os.path.join(d, 'tmp'), mode=0o700, exist_ok=True)
        os.makedirs('/run/sshd', exist_ok=True)  # sshd's privilege separation directory
        keys = os.path.join(d, 'authorized_keys')
        with open(keys, 'w') as f:
            f.write((instance.key_data or '').strip() + '\n')
        os.chmod(keys, 0o600)
        hostkey = os.path.join(d, 'ssh_host_ed25519_key')
        if not os.path.exists(hostkey):
            _x('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C',
               'vmtp-os-' + instance.uuid, '-f', hostkey)
        cfg = os.path.join(d, 'sshd_config')
        with open(cfg, 'w') as f:
            f.write('\n'.join([
                'Port 22', 'ListenAddress 0.0.0.0', 'HostKey ' + hostkey,
                'PidFile ' + os.path.join(d, 'sshd.pid'),
                'AuthorizedKeysFile ' + keys,
                'PermitRootLogin prohibit-password',
                'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
                'UsePAM no', 'StrictModes no', 'UseDNS no', 'PrintMotd no',
                'Subsystem sftp internal-sftp',
                # VMs share the host's filesystem: each gets its own TMPDIR
                'SetEnv TMPDIR=' + os.path.join(d, 'tmp'),
                'LogLevel VERBOSE', '']))
        hostname = instance.hostname or ns
        # sshd daemonizes and stays in the VM's network and UTS namespaces
        _x('ip', 'netns', 'exec', ns, 'unshare', '--uts', 'sh', '-c',
           'hostname "$1" && exec "$2" -f "$3" -E "$4"', 'sh', hostname,
           SSHD, cfg, os.path.join(d, 'sshd.log'))

    # ---------------------------------------------------------------- destroy
    def _unplumb(self, instance, ns, network_info):
        self._kill_all(ns)
        _x('ip', 'netns', 'del', ns, check=False)  # its veth pairs go with it
        for vif in network_info or []:
            _x('ip', '-n', self._host_ns(), 'link', 'del', tap_name(vif),
               check=False)
            self._drop_bridge(bridge_name(vif))
        shutil.rmtree(self._idir(instance), ignore_errors=True)

    def _drop_bridge(self, br):
        """Deletes bridge br if nothing is enslaved to it: a bridge this driver made for a spawn that failed
        before the agent added the VXLAN device. One the agent uses is the agent's to remove."""
        host = self._host_ns()
        with lockutils.lock('netns-' + br):
            out = _x('ip', '-n', host, '-o', 'link', 'show', 'master', br,
                     check=False)
            if not out.strip():
                _x('ip', '-n', host, 'link', 'del', br, 'type', 'bridge',
                   check=False)

    @staticmethod
    def _kill_all(ns):
        """Ends every process in namespace ns: TERM, then KILL after 2 s."""
        def pids():
            try:
                return _x('ip', 'netns', 'pids', ns, check=False).split()
            except Exception:
                return []
        left = pids()
        for p in left:
            _x('kill', '-TERM', p, check=False)
        deadline = time.monotonic() + 2
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = pids()
        for p in left:
            _x('kill', '-KILL', p, check=False)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        LOG.info('netns destroy %s (%s)', instance.uuid, vm_ns(instance))
        self._unplumb(instance, vm_ns(instance), network_info)
        super().destroy(context, instance, network_info, block_device_info,
                        destroy_disks, destroy_secrets)

    # ------------------------------------------------------------ power state
    def _links(self, instance, state):
        ns = vm_ns(instance)
        out = _x('ip', '-n', ns, '-o', 'link', 'show', check=False) or ''
        for line in out.splitlines():
            dev = line.split(':')[1].strip().split('@')[0]
            if dev.startswith('eth'):
                _x('ip', '-n', ns, 'link', 'set', dev, state, check=False)

    def power_off(self, instance, timeout=0, retry_interval=0):
        self._links(instance, 'down')
        super().power_off(instance, timeout, retry_interval)

    def power_on(self, context, instance, network_info, block_device_info=None,
                 accel_info=None):
        self._links(instance, 'up')
        super().power_on(context, instance, network_info, block_device_info,
                         accel_info)
