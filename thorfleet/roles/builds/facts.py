"""Facts of the builds role: which builds of an engine are installed and which one is current."""

import shlex
from typing import Any

from pyinfra.api.facts import FactBase


class InstalledBuilds(FactBase[dict[str, Any]]):
    """`{"current": "<id>" | None, "builds": [ids of complete builds]}` under an engine's folder."""

    def command(self, engine_dir: str) -> str:
        d = shlex.quote(engine_dir)
        return (
            f'echo "current $(readlink {d}/current 2>/dev/null)"; '
            f'for stamp in {d}/builds/*/stamp.json; do [ -f "$stamp" ] && echo "build $(basename "$(dirname "$stamp")")"; done; true'
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        current, builds = None, []
        for line in output:
            kind, _, value = line.strip().partition(" ")
            if kind == "current" and value.startswith("builds/"):
                current = value.removeprefix("builds/")
            elif kind == "build" and value:
                builds.append(value)
        return {"current": current, "builds": builds}


class CudaToolkit(FactBase[dict[str, Any] | None]):
    """`{"nvcc": path, "version": its release line, "architectures": ["compute_90", ...]}` of the CUDA
    toolkit under `cuda_home`, or None when it has no nvcc. Read by path, never from PATH: a
    non-interactive SSH shell's PATH does not hold JetPack's /usr/local/cuda/bin."""

    def command(self, cuda_home: str) -> str:
        nvcc = shlex.quote(f"{cuda_home}/bin/nvcc")
        return (f"[ -x {nvcc} ] || {{ echo absent; exit 0; }}; {nvcc} --version | grep -i release || echo 'release ?'; "
                f"echo ---; {nvcc} --list-gpu-arch 2>/dev/null; true")

    def process(self, output: list[str]) -> dict[str, Any] | None:
        if not output or output[0].strip() == "absent":
            return None
        split = output.index("---") if "---" in output else len(output)
        return {"version": " ".join(line.strip() for line in output[:split]),
                "architectures": [line.strip() for line in output[split + 1:] if line.strip().startswith("compute_")]}
