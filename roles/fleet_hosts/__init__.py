"""fleet_hosts: every unit of the fleet by name in each unit's /etc/hosts, so that the units (and what
runs on them) reach each other by name without a DNS server. A project role, written as a user of
thorfleet would write their own: the same `Role` contract as thorfleet's roles."""

from pydantic import Field

from thorfleet.core.role import Role

from .config import FleetHostsConfig
from .deploy import apply
from .files import rendered_files

ROLE = Role(
    name="fleet_hosts",
    config={"fleet_hosts": (FleetHostsConfig, Field(default_factory=FleetHostsConfig, description=FleetHostsConfig.__doc__))},
    apply=apply,
    files=rendered_files,
    checks=f"{__name__}.verify",
)
