"""Facts of the engines role: which engines a unit has, what each runs, and what a binary accepts."""

import json
import shlex
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase

from thorfleet.core.install import FilesState
from thorfleet.core.paths import ENGINE_CONFIG_DIR
from thorfleet.roles.engines.commands import state_record


class InstalledEngines(FactBase[list[str]]):
    """Names of the engines thorfleet installed (each has its environment file)."""

    def command(self) -> str:
        return f"ls {ENGINE_CONFIG_DIR}/*.env 2>/dev/null | xargs -r -n1 basename | sed 's/\\.env$//' || true"

    def process(self, output: list[str]) -> list[str]:
        return sorted(line.strip() for line in output if line.strip() and not line.endswith(".secret"))


class EngineState(FactBase[dict[str, Any]]):
    """`{"active": bool, "enabled": bool, "running": dict | None}`: the unit's state, and what it was
    last (re)started with (its unit, environment, build, image and model fingerprints)."""

    def command(self, engine_name: str, unit: str) -> str:
        return (
            f'echo "active=$(systemctl is-active {shlex.quote(unit + ".service")})"; '
            f'echo "enabled=$(systemctl is-enabled {shlex.quote(unit + ".service")} 2>/dev/null)"; '
            f'echo "running=$(cat {shlex.quote(state_record(engine_name))} 2>/dev/null || echo null)"'
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        found = dict(line.partition("=")[::2] for line in output if "=" in line)
        return {"active": found.get("active") == "active", "enabled": found.get("enabled") == "enabled",
                "running": _record(found.get("running"))}


class EngineStatus(FactBase[dict[str, Any]]):
    """EngineState and the state of the engine's files (FilesState), with one command: all that a
    converge of an engine that changed nothing needs to know."""

    def command(self, engine_name: str, unit: str, paths: list[str]) -> StringCommand:
        return StringCommand(EngineState().command(engine_name, unit), ";", FilesState().command(paths))

    def process(self, output: list[str]) -> dict[str, Any]:
        own = [line for line in output if line.split("=", 1)[0] in ("active", "enabled", "running")]
        return {**EngineState().process(own), "files": FilesState().process([line for line in output if line not in own])}


def _record(text: str | None) -> dict[str, Any] | None:
    """An unreadable record counts as none, so the engine is (re)started and recorded again."""
    try:
        found = json.loads(text or "null")
        return found if isinstance(found, dict) else None
    except ValueError:
        return None


class ProgramHelp(FactBase[dict[str, str] | None]):
    """`{"version": first line of --version, "help": --help text}` of an installed engine program, or None."""

    def command(self, binary: str) -> str:
        b = shlex.quote(binary)
        return f"test -x {b} || {{ echo absent; exit 0; }}; {b} --version 2>&1 | head -n 1; echo ---; {b} --help 2>&1 || true"

    def process(self, output: list[str]) -> dict[str, str] | None:
        if output and output[0].strip() == "absent":
            return None
        split = output.index("---") if "---" in output else 0
        return {"version": " ".join(output[:split]).strip(), "help": "\n".join(output[split + 1:])}


class ImageHelp(ProgramHelp):
    """The same for a container engine: `version` is the image and its ID, `help` what the image's
    entry command prints for `--help`, run without network or GPU and never pulling (the engines role
    pulls first); None when the image is not on the unit. Newer vLLM lists only option groups for
    `--help` and points to `--help=all`, which is then asked for (vLLM 0.10 lists every flag for
    `--help`, and `--help=all` there means "flags containing 'all'")."""

    def command(self, image: str, entry: list[str]) -> str:  # type: ignore[override]  # a fact of its own arguments
        i, run = shlex.quote(image), f"timeout 300 docker run --rm --pull never --network none {shlex.quote(image)}"
        return (f"id=$(docker image inspect --format '{{{{.Id}}}}' {i} 2>/dev/null) || {{ echo absent; exit 0; }}; "
                f'printf "%s (%s)\\n---\\n" {i} "$(echo "$id" | cut -c8-19)"; '
                f"out=$({run} {shlex.join(entry)} --help 2>&1); "
                f'case "$out" in *--help=all*) {run} {shlex.join(entry)} --help=all 2>&1 || true ;; '
                f"*) printf '%s\\n' \"$out\" ;; esac")
