"""Facts of the docker role."""

import json
from collections.abc import Iterable
from typing import Any

from pyinfra.api.facts import FactBase

from thorfleet.roles.docker.files import DAEMON_JSON


class DaemonJson(FactBase[dict[str, Any]]):
    """`/etc/docker/daemon.json` as found: `{"exists": bool, "settings": dict | None, "error": str | None}`."""

    # Print a marker first so that a missing file and an empty one can be told apart.
    def command(self) -> str:
        return f"if [ -f {DAEMON_JSON} ]; then echo present; cat {DAEMON_JSON}; else echo absent; fi"

    def process(self, output: list[str]) -> dict[str, Any]:
        if not output or output[0] == "absent":
            return {"exists": False, "settings": {}, "error": None}
        text = "\n".join(output[1:])
        if not text.strip():
            return {"exists": True, "settings": {}, "error": None}
        try:
            settings = json.loads(text)
        except json.JSONDecodeError as err:
            return {"exists": True, "settings": None, "error": f"line {err.lineno}, column {err.colno}: {err.msg}"}
        if not isinstance(settings, dict):
            return {"exists": True, "settings": None, "error": "the top level is not a JSON object"}
        return {"exists": True, "settings": settings, "error": None}


class DockerDefaultRuntime(FactBase[str | None]):
    """`docker info`'s default runtime (`nvidia` once daemon.json took effect), or None when Docker is down."""

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "docker"

    def command(self) -> str:
        return "docker info --format '{{.DefaultRuntime}}' 2>/dev/null || true"

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output and output[0].strip() else None


class DockerImages(FactBase[Iterable[str]]):
    """The images Docker has, as `repository:tag` and `repository@digest`."""

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "docker"

    @staticmethod
    def default() -> Iterable[str]:  # no output: Docker has no image yet
        return []

    def command(self) -> str:
        return "docker image ls --format '{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}' 2>/dev/null || true"

    def process(self, output: list[str]) -> Iterable[str]:
        names: set[str] = set()
        for line in output:
            names.update(n for n in line.split() if not n.endswith((":<none>", "@<none>")))
        return sorted(names)
