"""The docker role: Docker's nvidia runtime in daemon.json (seed 002), the docker group, images."""

from pydantic import Field

from thorfleet.core.role import Role
from thorfleet.roles.docker.config import DockerConfig
from thorfleet.roles.docker.deploy import apply
from thorfleet.roles.docker.files import rendered_files

DESCRIPTION = "Docker's nvidia runtime and images."
ROLE = Role(
    name="docker",
    config={"docker": (DockerConfig, Field(default_factory=DockerConfig, description=DESCRIPTION))},
    apply=apply,
    files=rendered_files,
    checks="thorfleet.roles.docker.verify",
)
