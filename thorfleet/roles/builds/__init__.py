"""The builds role: llama.cpp and whisper.cpp built on the unit for the engines it runs (seeds 000, 001)."""

from pydantic import Field

from thorfleet.core.fleet import BUILD_IDS
from thorfleet.core.role import Role
from thorfleet.roles.builds.config import BuildsConfig
from thorfleet.roles.builds.deploy import apply
from thorfleet.roles.builds.fleet import build_ids

DESCRIPTION = "llama.cpp and whisper.cpp builds."
ROLE = Role(
    name="builds",
    config={"builds": (BuildsConfig, Field(default_factory=BuildsConfig, description=DESCRIPTION))},
    apply=apply,
    checks="thorfleet.roles.builds.verify",
    fleet={BUILD_IDS: build_ids},
)
