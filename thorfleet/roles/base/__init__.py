"""The base role: packages, SSH access, jetson-stats and Wi-Fi (seed 002's first steps)."""

from pydantic import Field

from thorfleet.core.role import Role
from thorfleet.roles.base.config import BaseConfig
from thorfleet.roles.base.deploy import apply

SUMMARY = "Packages, SSH keys, jetson-stats, Wi-Fi."
ROLE = Role(
    name="base",
    summary=SUMMARY,
    config={"base": (BaseConfig, Field(default_factory=BaseConfig, description=SUMMARY))},
    apply=apply,
    checks="thorfleet.roles.base.verify",
)
