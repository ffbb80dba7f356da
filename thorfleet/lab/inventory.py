"""pyinfra connection data for lab units (used by inventory/sim.py)."""

from thorfleet.lab import layout


def unit_data(name: str) -> dict:
    unit = layout.unit(name)
    return {
        "ssh_hostname": unit.address,
        "ssh_user": layout.LOGIN_USER,
        "ssh_key": str(layout.SSH_KEY),
        "ssh_known_hosts_file": str(layout.KNOWN_HOSTS),
        "ssh_strict_host_key_checking": "yes",
    }
