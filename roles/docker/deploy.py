"""The docker role: Docker's nvidia runtime in daemon.json (seed 002)."""

from pyinfra.api import deploy

from roles.docker.files import DAEMON_JSON, owned_settings
from roles.docker.operations import daemon_json


@deploy("docker")
def apply(config) -> None:
    daemon_json(name=f"Merge thorfleet's keys into {DAEMON_JSON}", owned=owned_settings(config.docker), _sudo=True)
