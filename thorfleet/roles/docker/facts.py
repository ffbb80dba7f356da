"""Facts of the docker role."""

import json

from pyinfra.api import FactBase

from thorfleet.roles.docker.files import DAEMON_JSON


class DaemonJson(FactBase):
    """`/etc/docker/daemon.json` as found: `{"exists": bool, "settings": dict | None, "error": str | None}`."""

    # Print a marker first so that a missing file and an empty one can be told apart.
    command = f"if [ -f {DAEMON_JSON} ]; then echo present; cat {DAEMON_JSON}; else echo absent; fi"

    def process(self, output):
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


class DockerDefaultRuntime(FactBase):
    """`docker info`'s default runtime (`nvidia` once daemon.json took effect), or None when Docker is down."""

    requires_command = "docker"
    command = "docker info --format '{{.DefaultRuntime}}' 2>/dev/null || true"

    def process(self, output):
        return output[0].strip() if output and output[0].strip() else None


class DockerImages(FactBase):
    """The images Docker has, as `repository:tag` and `repository@digest`."""

    requires_command = "docker"
    command = "docker image ls --format '{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}' 2>/dev/null || true"

    def process(self, output):
        names = set()
        for line in output:
            names.update(n for n in line.split() if not n.endswith((":<none>", "@<none>")))
        return sorted(names)
