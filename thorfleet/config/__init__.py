"""From YAML group_vars/host_vars to one validated HostConfig per host."""

from thorfleet.config.errors import ConfigError, ConfigIssue
from thorfleet.config.loader import load_host_config
from thorfleet.config.schema import HostConfig

__all__ = ["ConfigError", "ConfigIssue", "HostConfig", "load_host_config"]
