"""Config of the unit_metrics role: node exporter and the Jetson collector on every unit."""

from typing import Self

from pydantic import Field, model_validator

from thorfleet.core.fleet import FleetHost
from thorfleet.core.role import Listener
from thorfleet.core.types import BindAddress, Port, SecretSource, StrictModel, refuse_exposed_without_secret


class UnitMetricsConfig(StrictModel):
    """What each unit exposes to the monitoring host (docs/observability.md)."""

    bind: BindAddress = Field("127.0.0.1", description="Address node exporter listens on: loopback is seen only by a monitoring "
                                                       "host on the unit itself; anything else needs `password`.")
    port: Port = Field(9100, description="node exporter's port (Debian's default).")
    password: SecretSource | None = Field(None, description="Basic-auth password Prometheus sends (user `prometheus`); the unit "
                                                            "keeps only its bcrypt hash.")
    allow_unauthenticated: bool = Field(False, description="Explicitly allow a non-loopback `bind` without a password.")
    interval_s: int = Field(15, ge=5, le=3600, description="Seconds between two readings of the Jetson collector "
                                                          "(power mode, clocks, GPU frequency and load).")

    @model_validator(mode="after")
    def _exposed_needs_a_password(self) -> Self:
        refuse_exposed_without_secret(self.bind, self.password, self.allow_unauthenticated, "password")
        return self


def listeners(host: FleetHost) -> list[Listener]:
    """Debian's prometheus-node-exporter.service runs as user prometheus, without the capability to bind a port below 1024."""
    config = host.config.unit_metrics
    return [Listener(("unit_metrics", "port"), config.bind, config.port, "node exporter")]
