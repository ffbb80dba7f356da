"""The roles, in the order the deploy applies them. Adding a role touches its folder and this list
(docs/architecture.md, "Add a role")."""

from thorfleet.roles.base import ROLE as BASE
from thorfleet.roles.builds import ROLE as BUILDS
from thorfleet.roles.docker import ROLE as DOCKER
from thorfleet.roles.engines import ROLE as ENGINES
from thorfleet.roles.gateway import ROLE as GATEWAY
from thorfleet.roles.image_mirror import ROLE as IMAGE_MIRROR
from thorfleet.roles.models import ROLE as MODELS
from thorfleet.roles.monitoring import ROLE as MONITORING
from thorfleet.roles.power import ROLE as POWER
from thorfleet.roles.unit_metrics import ROLE as UNIT_METRICS

ROLES = (BASE, POWER, IMAGE_MIRROR, DOCKER, BUILDS, MODELS, ENGINES, GATEWAY, UNIT_METRICS, MONITORING)
ROLE_NAMES = [role.name for role in ROLES]
