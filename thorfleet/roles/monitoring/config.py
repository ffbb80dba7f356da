"""Config of the monitoring role: Prometheus on the hosts of the `monitoring` group."""

import re
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from thorfleet.core.fleet import FleetHost
from thorfleet.core.role import Listener
from thorfleet.core.types import BindAddress, Port, SecretSource, StrictModel, refuse_exposed_without_secret

DURATION = r"^[0-9]+(ms|s|m|h|d|w|y)$"  # Prometheus's durations


def replaced_when_zero(default: str, what: str) -> AfterValidator:
    """A duration Prometheus silently replaces with its own default when it is zero: refused, saying so."""

    def check(value: str) -> str:
        if re.match(r"^0+[a-z]+$", value):
            raise ValueError(f"{value}: Prometheus replaces a zero {what} with its own default ({default}) without a "
                             "word: give a positive duration")
        return value

    return AfterValidator(check)


class MonitoringConfig(StrictModel):
    """Applies to the hosts of the inventory's `monitoring` group; without one, to the gateway's hosts
    (docs/observability.md)."""

    bind: BindAddress = Field("127.0.0.1", description="Address Prometheus listens on; anything but loopback needs `password`.")
    port: Port = Field(9090, description="Prometheus's port (web UI and query API).")
    password: SecretSource | None = Field(None, description="Basic-auth password of Prometheus's own web UI and API (user `prometheus`).")
    allow_unauthenticated: bool = Field(False, description="Explicitly allow a non-loopback `bind` without a password.")
    retention: Annotated[str, replaced_when_zero("15d", "retention")] = Field("15d", pattern=DURATION, description="How long samples are kept (`--storage.tsdb.retention.time`).")
    scrape_interval: Annotated[str, replaced_when_zero("1m", "scrape interval")] = Field("15s", pattern=DURATION, description="How often every target is scraped and the rules evaluated.")
    alert_after: str = Field("2m", pattern=DURATION, description="How long a condition must hold before its alert fires (`for:`).")
    memory_alert_ratio: float = Field(0.95, gt=0, lt=1, description="Share of a unit's memory in use above which `UnitMemoryNearlyFull` fires.")

    @model_validator(mode="after")
    def _exposed_needs_a_password(self) -> Self:
        refuse_exposed_without_secret(self.bind, self.password, self.allow_unauthenticated, "password")
        return self


def listeners(host: FleetHost) -> list[Listener]:
    """Debian's prometheus.service runs as user prometheus, without the capability to bind a port below 1024."""
    config = host.config.monitoring
    return [Listener(("monitoring", "port"), config.bind, config.port, "Prometheus")]
