"""A testinfra connection to an inventory host, over SSH with the inventory's own connection data."""

import testinfra

from thorfleet.inventory import FleetHost


def connect(fleet_host: FleetHost):
    data = fleet_host.data
    user, target = data.get("ssh_user"), data.get("ssh_hostname", fleet_host.name)
    extra = ["-o BatchMode=yes"]
    if data.get("ssh_known_hosts_file"):
        extra.append(f"-o UserKnownHostsFile={data['ssh_known_hosts_file']}")
    if data.get("ssh_strict_host_key_checking"):
        extra.append(f"-o StrictHostKeyChecking={data['ssh_strict_host_key_checking']}")
    spec = f"ssh://{user}@{target}" if user else f"ssh://{target}"
    if data.get("ssh_port"):
        spec += f":{data['ssh_port']}"
    return testinfra.get_host(spec, ssh_identity_file=data.get("ssh_key"), ssh_extra_args=" ".join(extra))
