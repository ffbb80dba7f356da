"""The gateway role: HAProxy from the distribution's packages, routing the fleet's models."""

from pyinfra.api import deploy
from pyinfra.api.exceptions import PyinfraError
from pyinfra.operations import systemd

from thorfleet.core.types import SecretUnavailable
from thorfleet.roles.base.operations import apt_packages
from thorfleet.roles.gateway.files import haproxy_cfg
from thorfleet.roles.gateway.operations import haproxy_config

PACKAGES = ("haproxy", "socat")  # socat: the runtime API from a shell


@deploy("gateway")
def apply(config) -> None:
    apt_packages(name="HAProxy", packages=list(PACKAGES), _sudo=True)
    try:
        content = haproxy_cfg(config)
    except (SecretUnavailable, ValueError) as err:
        raise PyinfraError(f"gateway: {err}") from None
    served = [r.model for r in config.gateway_routes() if r.reachable]
    haproxy_config(name=f"Gateway routes for {', '.join(served) or 'no model'}", content=content, _sudo=True)
    systemd.service(name="HAProxy running and enabled", service="haproxy", running=True, enabled=True, _sudo=True)
