"""Apply the roles a host applies, in the registry's order, each with the host and the fleet view."""

from pyinfra.api.exceptions import PyinfraError

from thorfleet.fleet.inventory import FLEET_KEY, HOST_KEY
from thorfleet.roles import ROLES


def apply_roles(host) -> None:
    fleet_host, fleet = host.data.get(HOST_KEY), host.data.get(FLEET_KEY)
    if fleet_host is None or fleet is None:
        raise PyinfraError(
            f"{host.name} has no thorfleet configuration: the inventory file must end with "
            "`attach_config(globals())` (see inventory/lab.py)"
        )
    for role in ROLES:
        if fleet_host.applies(role.name):
            role.apply(fleet_host, fleet)
