"""The fleet layer: YAML group_vars/host_vars to one validated HostConfig per host, the inventory hook
that an inventory file ends with (`attach_config(globals())`), and the fleet view built from it."""

from thorfleet.fleet.errors import ConfigError, ConfigIssue
from thorfleet.fleet.inventory import Fleet, attach_config, load_fleet
from thorfleet.fleet.loader import load_host_config
from thorfleet.fleet.schema import HostConfig

__all__ = ["ConfigError", "ConfigIssue", "Fleet", "HostConfig", "attach_config", "load_fleet", "load_host_config"]
