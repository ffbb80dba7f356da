from pydantic import Field

from thorfleet.core.types import BindAddress, Name, StrictModel


class FleetHostsConfig(StrictModel):
    """Names in each unit's /etc/hosts: every other unit of the inventory at its address, and `extra`."""

    domain: Name | None = Field(None, description="Also name each unit `<unit>.<domain>` (e.g. `lab.internal`).")
    extra: dict[Name, BindAddress] = Field(default_factory=dict, description="More names and their IP addresses.")
