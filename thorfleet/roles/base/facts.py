"""Facts of the base role: a user's authorized keys and jetson-stats."""

import shlex
from typing import Any

from pyinfra.api.facts import FactBase


class AuthorizedKeys(FactBase[list[str]]):
    """The key lines of a user's `~/.ssh/authorized_keys` (empty when the file is missing)."""

    def command(self, user: str) -> str:
        return f'home=$(getent passwd {shlex.quote(user)} | cut -d: -f6) && cat "$home/.ssh/authorized_keys" 2>/dev/null || true'

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip() and not line.lstrip().startswith("#")]


class JetsonStats(FactBase[dict[str, Any]]):
    """jetson-stats as installed for the system Python: `{"version": "7.2.2" | None, "service": bool}`."""

    def command(self) -> str:
        return (
            "python3 -c 'import importlib.metadata as m; print(m.version(\"jetson-stats\"))' 2>/dev/null || echo none; "
            "test -e /etc/systemd/system/jtop.service && echo service || echo no-service"
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        version = output[0].strip() if output else "none"
        return {"version": None if version == "none" else version, "service": "service" in output[1:]}

