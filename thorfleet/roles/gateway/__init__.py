"""The gateway role: one OpenAI-compatible endpoint (HAProxy) in front of every unit, for the hosts
of the inventory's `gateway` group (docs/gateway.md)."""

from pydantic import Field

from thorfleet.core.fleet import ENGINE_FRONTS
from thorfleet.core.role import Role
from thorfleet.roles.gateway.config import GatewayConfig, listeners
from thorfleet.roles.gateway.deploy import PACKAGES, apply
from thorfleet.roles.gateway.files import rendered_files
from thorfleet.roles.gateway.routes import GROUP, ROUTES, fleet_routes, route_problems
from thorfleet.roles.gateway.runtime import Fronts

DESCRIPTION = "The fleet's gateway (HAProxy): where it listens, its key, health checks and timeouts."
ROLE = Role(
    name="gateway",
    config={"gateway": (GatewayConfig, Field(default_factory=GatewayConfig, description=DESCRIPTION))},
    apply=apply,
    files=rendered_files,
    checks="thorfleet.roles.gateway.verify",
    group=GROUP,
    packages=PACKAGES,
    fleet={ROUTES: fleet_routes, ENGINE_FRONTS: Fronts},
    fleet_problems=route_problems,
    listeners=listeners,
)
