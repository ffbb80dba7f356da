"""Facts of the models role: the cheap state of a model's files, and what the hub CLIs' venv holds."""

import json
import shlex
from importlib import resources
from typing import Any

from pyinfra.api.facts import FactBase

from thorfleet.roles.models.fetch_model import STAMPS

# The fact runs the fetcher's own code (`--state`), so "is this file still verified" exists once.
FETCHER_SOURCE = (resources.files("thorfleet.roles.models") / "fetch_model.py").read_text()


class ModelState(FactBase[dict[str, Any]]):
    """`{"files": {path: {"verified": bool, "bytes": int}}, "free": bytes}` for a model's folder."""

    def command(self, dest: str, files: list[dict[str, Any]]) -> str:
        return f"python3 -c {shlex.quote(FETCHER_SOURCE)} --state {shlex.quote(dest)} {shlex.quote(json.dumps(files))}"

    def process(self, output: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = json.loads("\n".join(output))
        return found


class ModelStates(FactBase[list[dict[str, Any]]]):
    """ModelState of several folders (`[[dest, files], ...]`) in one command: what the deploy reads once
    per unit to know which models it lacks before planning their operations."""

    def command(self, folders: list[list[Any]]) -> str:
        return f"python3 -c {shlex.quote(FETCHER_SOURCE)} --states {shlex.quote(json.dumps(folders))}"

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = json.loads("\n".join(output))
        return found


class VenvPackages(FactBase[dict[str, str]]):
    """`{name: version}` of what a virtual environment has installed (empty when it does not exist)."""

    def command(self, venv: str) -> str:
        return f"{shlex.quote(venv)}/bin/python -m pip list --format=json --disable-pip-version-check 2>/dev/null || echo '[]'"

    def process(self, output: list[str]) -> dict[str, str]:
        return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads("\n".join(output) or "[]")}


class ManagedModelFolders(FactBase[list[str]]):
    """Folders under the model store that thorfleet filled (they hold its verification stamps)."""

    def command(self, root: str) -> str:
        return f"find {shlex.quote(root)} -name {STAMPS} -printf '%h\\n' 2>/dev/null || true"

    def process(self, output: list[str]) -> list[str]:
        return sorted(line.strip() for line in output if line.strip())

