"""Apply the roles a host applies, in the fleet's order (thorfleet's, then the project's own), each with
the host and the fleet view; then record the unit's revision (thorfleet/revisions/), once all of them
went through."""

from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import state

from thorfleet.core.barrier import barrier
from thorfleet.core.closing_table import placements
from thorfleet.core.render import project_templates
from thorfleet.fleet.inventory import FLEET_KEY, HOST_KEY
from thorfleet.revisions.record import record


def apply_roles(host) -> None:
    fleet_host, fleet = host.data.get(HOST_KEY), host.data.get(FLEET_KEY)
    if fleet_host is None or fleet is None:
        raise PyinfraError(
            f"{host.name} has no thorfleet configuration: the inventory file must end with "
            "`attach_config(globals())` (see inventory/lab.py)"
        )
    # The closing table's timing hooks, in place before the first operation runs (with `-y` pyinfra runs
    # the operations' bodies, which record what they place, only as it executes them).
    placements(state)
    with project_templates(fleet.config_dir):
        # pyinfra tells operations apart by the line numbers of their calls alone: the role's place in
        # the fleet's roles (the same on every host) keeps two roles' operations from being taken for one.
        for role in host.loop(fleet.roles):
            if fleet_host.applies(role.name):
                role.apply(fleet_host, fleet)
            if role.barrier and any(h.applies(role.name) for h in fleet.hosts.values()):
                barrier(name=f"{role.name} done on every host of the deploy", what=f"{role.name} done")
        record(fleet_host, fleet)
