"""Apply the roles a host's configuration calls for, in their fixed order."""

from pyinfra import logger
from pyinfra.api.exceptions import PyinfraError

from roles.base import deploy as base_role
from roles.builds import deploy as builds_role
from roles.docker import deploy as docker_role
from roles.engines import deploy as engines_role
from roles.models import deploy as models_role
from roles.power import deploy as power_role
from thorfleet.config.schema import ROLE_ORDER
from thorfleet.inventory import DATA_KEY

# Role name -> its pyinfra @deploy. Roles join this table as they are implemented.
ROLE_DEPLOYS: dict = {"base": base_role.apply, "power": power_role.apply, "docker": docker_role.apply,
                      "builds": builds_role.apply, "models": models_role.apply,
                      "engines": engines_role.apply}


def apply_roles(host) -> None:
    config = host.data.get(DATA_KEY)
    if config is None:
        raise PyinfraError(
            f"{host.name} has no thorfleet configuration: the inventory file must end with "
            "`attach_config(globals())` (see inventory/lab.py)"
        )
    for role in ROLE_ORDER:
        if not config.applies(role):
            continue
        if role not in ROLE_DEPLOYS:
            logger.warning(f"{host.name}: role {role!r} is not available in this version of thorfleet; skipped")
            continue
        ROLE_DEPLOYS[role](config)
