"""pip command lines for what the deploy installs from a package index (PyPI or the configured one)."""

import shlex
from urllib.parse import urlparse


def pip_install_command(pip: str, requirements: list[str], index_url: str | None, system: bool = False) -> str:
    """`pip install` of pinned requirements; into the system Python (`system`) only where a tool's
    own docs say so (jetson-stats on Ubuntu 24.04), otherwise into a virtual environment's pip."""
    command = f"{shlex.quote(pip)} install --no-input --disable-pip-version-check"
    if system:
        command += " --break-system-packages"
    command += " " + " ".join(shlex.quote(r) for r in requirements)
    if index_url:
        command += f" --index-url {shlex.quote(index_url)}"
        parsed = urlparse(index_url)
        if parsed.scheme == "http":  # pip refuses plain http unless the host is trusted
            command += f" --trusted-host {shlex.quote(parsed.hostname or '')}"
    return command
