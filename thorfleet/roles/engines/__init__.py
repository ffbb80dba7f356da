"""The engines role: one systemd unit per engine instance, restarted only when what it runs changed."""

from pydantic import Field

from thorfleet.core.fleet import ENGINE_ENDPOINTS
from thorfleet.core.role import Role
from thorfleet.core.types import Name
from thorfleet.roles.engines.deploy import apply
from thorfleet.roles.engines.files import rendered_files
from thorfleet.roles.engines.fleet import advice, endpoints, memory_problems
from thorfleet.roles.engines.kinds import Engine
from thorfleet.roles.engines.memory import UnitMemory
from thorfleet.roles.engines.problems import listeners, problems

ROLE = Role(
    name="engines",
    config={
        "engines": (dict[Name, Engine], Field(default_factory=dict, description="Serving instances by name; one systemd unit each.")),
        "memory": (UnitMemory, Field(default_factory=UnitMemory, description="What the unit has for its engines: the memory plan "
                                     "(`thorfleet hosts --memory`) refuses a unit whose engines would not fit.")),
    },
    apply=apply,
    files=rendered_files,
    problems=problems,
    checks="thorfleet.roles.engines.verify",
    advice=advice,
    fleet={ENGINE_ENDPOINTS: endpoints},
    fleet_problems=memory_problems,
    listeners=listeners,
)
