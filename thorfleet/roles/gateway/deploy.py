"""The gateway role: HAProxy from the distribution's packages, routing the fleet's models."""

from pyinfra.api.deploy import deploy
from pyinfra.api.exceptions import PyinfraError
from pyinfra.operations import systemd

from thorfleet.core.apt import apt_packages
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.roles.gateway.files import haproxy_cfg
from thorfleet.roles.gateway.operations import haproxy_config
from thorfleet.roles.gateway.routes import routes_at

PACKAGES = ("haproxy", "socat")  # socat: the runtime API from a shell


@deploy("gateway")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    apt_packages(name="HAProxy", packages=list(PACKAGES), _sudo=True)
    try:
        content = haproxy_cfg(unit, fleet)
    except ValueError as err:  # a key HAProxy could not take as it is
        raise PyinfraError(f"gateway: {err}") from None
    served = [r.model for r in routes_at(fleet, unit.name) if r.reachable]
    haproxy_config(name=f"Gateway routes for {', '.join(served) or 'no model'}", content=content, _sudo=True)
    systemd.service(name="HAProxy running and enabled", service="haproxy", running=True, enabled=True, _sudo=True)
