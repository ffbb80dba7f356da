"""A unit's revisions, from the controller over SSH: their manifests, and one revision's configuration
unpacked into a folder, ready to deploy again."""

import shlex
from pathlib import Path
from typing import Any

import paramiko

from thorfleet.core.fleet import FleetHost
from thorfleet.core.paths import REVISIONS_DIR
from thorfleet.core.ssh import Unreachable, ssh_client
from thorfleet.revisions.record import manifests
from thorfleet.revisions.snapshot import extract

class RevisionUnavailable(Exception):
    """The unit's revisions could not be read (the message says what the unit said)."""


LIST = f"for f in {REVISIONS_DIR}/*.json; do [ -e \"$f\" ] && cat \"$f\"; done; true"


def _run(host: FleetHost, command: str) -> bytes:
    client = ssh_client(host)
    try:
        _, out, err = client.exec_command(f"sudo -n sh -c {shlex.quote(command)}", timeout=120)
        data = out.read()
        if out.channel.recv_exit_status() != 0:
            raise RevisionUnavailable(f"{host.name}: reading its revisions failed: "
                                      f"{err.read().decode(errors='replace').strip()[:300]}")
        return bytes(data)
    except (OSError, paramiko.SSHException) as error:
        raise Unreachable(f"{host.name}: the SSH connection dropped: {type(error).__name__}: {error}") from None
    finally:
        client.close()


def unit_revisions(host: FleetHost) -> list[dict[str, Any]]:
    """The manifests of the revisions on the unit, oldest first ([] before its first deploy)."""
    return manifests(_run(host, LIST).decode(errors="replace").splitlines())


def fetch_revision(host: FleetHost, manifest: dict[str, Any], into: Path) -> Path:
    """The revision's configuration unpacked into `into`; the path of its inventory there."""
    extract(_run(host, f"cat {REVISIONS_DIR}/{manifest['name']}.tar.gz"), into)
    return into / manifest["inventory"]


def chosen(revisions: list[dict[str, Any]], to: str | None) -> dict[str, Any] | str:
    """The revision `--undo` goes back to: `to` (a number, or the start of a name), else the one before
    the newest; a string says why there is none."""
    if to is None:
        return revisions[-2] if len(revisions) >= 2 else f"no earlier revision on the unit ({len(revisions)} recorded)"
    found = [m for m in revisions if str(m["number"]) == to.lstrip("0") or m["name"].startswith(to)]
    names = ", ".join(m["name"] for m in revisions) or "none"
    return found[-1] if len(found) == 1 else f"no single revision {to!r} on the unit (it has: {names})"
