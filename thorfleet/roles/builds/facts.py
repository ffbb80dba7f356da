"""Facts of the builds role: which builds of an engine are installed and which one is current."""

import shlex

from pyinfra.api import FactBase


class InstalledBuilds(FactBase):
    """`{"current": "<id>" | None, "builds": [ids of complete builds]}` under an engine's folder."""

    def command(self, engine_dir: str) -> str:
        d = shlex.quote(engine_dir)
        return (
            f'echo "current $(readlink {d}/current 2>/dev/null)"; '
            f'for stamp in {d}/builds/*/stamp.json; do [ -f "$stamp" ] && echo "build $(basename "$(dirname "$stamp")")"; done; true'
        )

    def process(self, output):
        current, builds = None, []
        for line in output:
            kind, _, value = line.strip().partition(" ")
            if kind == "current" and value.startswith("builds/"):
                current = value.removeprefix("builds/")
            elif kind == "build" and value:
                builds.append(value)
        return {"current": current, "builds": builds}
