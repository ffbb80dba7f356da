"""The fleet layer: YAML group_vars/host_vars to one validated HostConfig per host, the inventory hook
that an inventory file ends with (`thorfleet.inventory.attach_config(globals())`), the project's own
roles, and the fleet view built from them."""

from thorfleet.fleet.errors import ConfigError, ConfigIssue
from thorfleet.fleet.inventory import Fleet, load_fleet
from thorfleet.fleet.loader import load_host_config
from thorfleet.fleet.schema import HostConfig

__all__ = ["ConfigError", "ConfigIssue", "Fleet", "HostConfig", "load_fleet", "load_host_config"]
