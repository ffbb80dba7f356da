"""The power role: the nvpmodel mode and clocks locked at every boot (seed 002)."""

from pydantic import Field

from thorfleet.core.role import Role
from thorfleet.roles.power.config import PowerConfig
from thorfleet.roles.power.deploy import apply
from thorfleet.roles.power.files import rendered_files

DESCRIPTION = "nvpmodel mode and jetson_clocks."
ROLE = Role(
    name="power",
    config={"power": (PowerConfig, Field(default_factory=PowerConfig, description=DESCRIPTION))},
    apply=apply,
    files=rendered_files,
    checks="thorfleet.roles.power.verify",
)
