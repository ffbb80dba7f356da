"""The base role: packages, SSH access, jetson-stats and Wi-Fi (seed 002's first steps)."""

from pydantic import Field

from thorfleet.core.role import Role
from thorfleet.roles.base.config import BaseConfig
from thorfleet.roles.base.deploy import apply

DESCRIPTION = "Packages, SSH keys, jetson-stats, Wi-Fi."
ROLE = Role(
    name="base",
    config={"base": (BaseConfig, Field(default_factory=BaseConfig, description=DESCRIPTION))},
    apply=apply,
    checks="thorfleet.roles.base.verify",
)
