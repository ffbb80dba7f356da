"""A file holding a secret (a Wi-Fi password, an API key), written without the secret ever showing.

The content is uploaded into a staging file made private (umask 077) before the upload writes to
it, then installed with its owner and mode; it never appears on a command line or in pyinfra's
output, and the fact compares sha256 sums, not contents.
"""

import shlex
from dataclasses import dataclass, field
from hashlib import sha256
from io import StringIO
from typing import Any

from pyinfra.api.command import FileUploadCommand, QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host

from thorfleet.core.install import Commands, FileState


class FileSha256(FactBase[str | None]):
    """sha256 of a root-only file, or None when it is missing."""

    def command(self, path: str) -> str:
        return f"sha256sum {shlex.quote(path)} 2>/dev/null | cut -d' ' -f1 || true"

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output and output[0].strip() else None


def secret_file_commands(path: str, content: str, group: str = "root", mode: str = "600") -> list[Any]:
    """The commands that put `content` at `path` (owner root), privately staged."""
    staged = host.get_temp_filename(f"thorfleet-secret-{path}")
    return [
        StringCommand(f"( umask 077 && : > {shlex.quote(staged)} )", _sudo=False),
        FileUploadCommand(StringIO(content), staged, _sudo=False),
        StringCommand("install", "-D", "-m", QuoteString(mode), "-o", "root", "-g", QuoteString(group), QuoteString(staged),
                      QuoteString(path), "&&", "rm", "-f", QuoteString(staged)),
    ]


@dataclass(frozen=True)
class SecretFile:
    """A secret file an operation keeps current itself, its state read with the operation's own fact
    (FilesState's shape: sha256, mode, owner, group)."""

    path: str
    content: str = field(repr=False)  # never shown
    group: str = "root"
    mode: str = "600"

    def is_current(self, found: FileState) -> bool:
        return found == {"sha256": sha256(self.content.encode()).hexdigest(), "mode": self.mode, "owner": "root",
                         "group": self.group}

    def commands(self) -> list[Any]:
        return secret_file_commands(self.path, self.content, self.group, self.mode)


def is_current(path: str, content: str) -> bool:
    return bool(host.get_fact(FileSha256, path=path) == sha256(content.encode()).hexdigest())


@operation()
def secret_file(path: str, content: str, group: str = "root", mode: str = "600") -> Commands:
    """A root-owned secret file, readable by `group` when mode allows; written only when it differs."""
    if is_current(path, content):
        host.noop(f"{path} is current")
        return
    yield from secret_file_commands(path, content, group, mode)
