"""The monitoring role: Prometheus scraping every engine, unit and gateway of the fleet, with the
alert rules, for the hosts of the inventory's `monitoring` group (docs/observability.md)."""

from pydantic import Field

from thorfleet.core.role import Role
from thorfleet.roles.monitoring.config import MonitoringConfig, listeners
from thorfleet.roles.monitoring.deploy import apply
from thorfleet.roles.monitoring.files import PACKAGE, rendered_files
from thorfleet.roles.monitoring.targets import DEFAULT_GROUP, GROUP, SCRAPES, fleet_scrapes

DESCRIPTION = "The fleet's Prometheus: where it listens, its password, retention, scrape interval and alert thresholds."
ROLE = Role(
    name="monitoring",
    config={"monitoring": (MonitoringConfig, Field(default_factory=MonitoringConfig, description=DESCRIPTION))},
    apply=apply,
    files=rendered_files,
    checks="thorfleet.roles.monitoring.verify",
    group=GROUP,
    group_default=DEFAULT_GROUP,
    packages=(PACKAGE,),
    fleet={SCRAPES: fleet_scrapes},
    listeners=listeners,
)
