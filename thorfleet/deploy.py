"""Apply the roles a host's configuration calls for, in the registry's order."""

from pyinfra.api.exceptions import PyinfraError

from thorfleet.inventory import DATA_KEY
from thorfleet.roles import ROLES


def apply_roles(host) -> None:
    config = host.data.get(DATA_KEY)
    if config is None:
        raise PyinfraError(
            f"{host.name} has no thorfleet configuration: the inventory file must end with "
            "`attach_config(globals())` (see inventory/lab.py)"
        )
    for role in ROLES:
        if config.applies(role.name):
            role.apply(config)
