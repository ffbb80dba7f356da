"""The unit_metrics role: node exporter on every unit, with the Jetson collector's readings
(docs/observability.md)."""

from pydantic import Field

from thorfleet.core.role import Role
from thorfleet.roles.unit_metrics.config import UnitMetricsConfig, listeners
from thorfleet.roles.unit_metrics.deploy import apply
from thorfleet.roles.unit_metrics.files import PACKAGE, rendered_files

DESCRIPTION = "node exporter on the unit and the Jetson collector: where it listens, its password, how often it reads."
ROLE = Role(
    name="unit_metrics",
    config={"unit_metrics": (UnitMetricsConfig, Field(default_factory=UnitMetricsConfig, description=DESCRIPTION))},
    apply=apply,
    files=rendered_files,
    checks="thorfleet.roles.unit_metrics.verify",
    packages=(PACKAGE,),
    listeners=listeners,
)
