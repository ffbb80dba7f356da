"""Config of the gateway role: one OpenAI-compatible endpoint in front of the fleet (HAProxy)."""

import ipaddress
from typing import Self

from pydantic import Field, model_validator

from thorfleet.core.fleet import FleetHost
from thorfleet.core.role import Listener
from thorfleet.core.types import BindAddress, Port, SecretSource, StrictModel, refuse_exposed_without_secret


class GatewayConfig(StrictModel):
    """Applies to the hosts of the inventory's `gateway` group (docs/gateway.md)."""

    bind: BindAddress = Field("127.0.0.1", description="Address the gateway listens on; anything but loopback needs `api_key` "
                                                       "or `allow_unauthenticated`.")
    port: Port = Field(8400, description="Port of the fleet's OpenAI-compatible endpoint.")
    metrics_port: Port = Field(8405, description="Port of HAProxy's Prometheus exporter (`/metrics`), on `bind`, behind `api_key`.")
    api_key: SecretSource | None = Field(None, description="Key clients send (`Authorization: Bearer …`); checked at the gateway, "
                                                           "which sends each unit its own engine's key.")
    previous_api_keys: list[SecretSource] = Field(
        [], description="Keys still accepted besides `api_key` during a rotation (docs/gateway.md): clients move to the new "
                        "`api_key`, then these are removed.")
    allow_unauthenticated: bool = Field(False, description="Explicitly allow a non-loopback `bind` without an API key.")
    check_interval_s: int = Field(2, ge=1, le=60, description="Seconds between the active health checks of each engine.")
    drain_timeout_s: int = Field(300, ge=1, le=3600, description="Seconds a rollout waits for a drained unit's open requests.")
    retry_after_s: int = Field(5, ge=1, le=3600, description="`Retry-After` of the 503 a client gets while no server of its "
                                                             "model is available (drained, restarting or down).")
    request_timeout_s: int = Field(600, ge=10, le=86400, description="Longest a request (a whole streamed answer) may take.")

    @model_validator(mode="after")
    def _exposed_needs_a_key(self) -> Self:
        refuse_exposed_without_secret(self.bind, self.api_key, self.allow_unauthenticated, "api_key")
        return self

    @model_validator(mode="after")
    def _previous_keys_need_a_key(self) -> Self:
        if self.previous_api_keys and self.api_key is None:
            raise ValueError("previous_api_keys are accepted besides api_key: set api_key (the new key) too")
        return self

    @property
    def client_keys(self) -> list[SecretSource]:
        """The keys clients may send: the current one first."""
        return [self.api_key, *self.previous_api_keys] if self.api_key else []

    @property
    def exposed(self) -> bool:
        return not ipaddress.ip_address(self.bind).is_loopback


def listeners(host: FleetHost) -> list[Listener]:
    """HAProxy binds as root, then drops to its user: any port is open to it."""
    gateway = host.config.gateway
    return [Listener(("gateway", "port"), gateway.bind, gateway.port, "the gateway", privileged=True),
            Listener(("gateway", "metrics_port"), gateway.bind, gateway.metrics_port, "the gateway's metrics", privileged=True)]
