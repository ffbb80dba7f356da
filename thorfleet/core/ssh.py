"""The one way thorfleet reaches a host outside pyinfra's deploy: an SSH connection with the inventory's
connection data (the same ssh_* keys pyinfra uses), commands on it, and its loopback ports forwarded to
the controller as `ssh -L` would (bench, status, endpoints, rollout, the gateway's drain, verify)."""

import logging
import socket
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paramiko

from thorfleet.core.fleet import FleetHost


# paramiko's transport thread logs a failed handshake with its traceback; the one line below says it.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False

# A unit on the LAN answers within milliseconds: one that has not connected, sent its SSH banner or
# finished the login after this long is given up on, so that a dead or silent host costs seconds.
# pyinfra's own default (config.CONNECT_TIMEOUT); a host's `ssh_paramiko_connect_kwargs: {timeout: N}`
# in the inventory, which pyinfra passes to paramiko too, sets it per host.
CONNECT_TIMEOUT_S = 10


class Unreachable(ConnectionError):
    """A host that cannot be reached over SSH, in one line: which host, where, and how it failed
    (nothing listening, silent, not SSH, login or host key refused). An OSError, so that every
    `except OSError` that handles a dropped connection handles it too."""


def _why(err: Exception, timeout: float) -> str:
    if isinstance(err, paramiko.ssh_exception.NoValidConnectionsError):
        return "nothing accepts connections there (refused)"
    if isinstance(err, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(err, paramiko.BadHostKeyException):
        return "its host key is not the one known for it (ssh_known_hosts_file): a different machine, or a reinstalled one"
    if isinstance(err, paramiko.AuthenticationException):
        return f"the login was refused ({err}): check ssh_user and ssh_key"
    if isinstance(err, paramiko.SSHException) and any(s in str(err) for s in ("banner", "No existing session", "Negotiation")):
        return f"it accepts connections but did not speak SSH within {timeout:g} s"
    if isinstance(err, paramiko.SSHException) and "not found in known_hosts" in str(err):
        return "its host key is not in ssh_known_hosts_file, and ssh_strict_host_key_checking is yes"
    return f"{type(err).__name__}: {err}"


def ssh_client(fleet_host: FleetHost) -> paramiko.SSHClient:
    """An SSH connection to the host; Unreachable, in one line, when there is none within the timeouts."""
    data = fleet_host.connection
    client = paramiko.SSHClient()
    known = data.get("ssh_known_hosts_file")
    client.load_host_keys(str(Path(known).expanduser())) if known else client.load_system_host_keys()
    strict = str(data.get("ssh_strict_host_key_checking", "accept-new")).lower()
    client.set_missing_host_key_policy(paramiko.RejectPolicy() if strict == "yes" else paramiko.AutoAddPolicy())
    port = int(data.get("ssh_port", 22))
    timeout = float((data.get("ssh_paramiko_connect_kwargs") or {}).get("timeout", CONNECT_TIMEOUT_S))
    try:
        client.connect(
            fleet_host.address, port=port, username=data.get("ssh_user"),
            key_filename=str(Path(data["ssh_key"]).expanduser()) if data.get("ssh_key") else None,
            password=data.get("ssh_password"), timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
        )
    except (OSError, paramiko.SSHException) as err:
        client.close()
        raise Unreachable(f"{fleet_host.name} ({fleet_host.address}:{port}) cannot be reached over SSH: {_why(err, timeout)}") from None
    return client


def unreachable(hosts: Iterable[FleetHost]) -> dict[str, str]:
    """The hosts that cannot be reached over SSH, each with why; tried together, so that any number of
    dead hosts costs one timeout."""
    def why_not(host: FleetHost) -> str | None:
        try:
            ssh_client(host).close()
        except Unreachable as err:
            return str(err)
        return None

    hosts = list(hosts)
    with ThreadPoolExecutor(max_workers=min(32, len(hosts) or 1)) as pool:
        return {host.name: why for host, why in zip(hosts, pool.map(why_not, hosts)) if why}


def run(client: paramiko.SSHClient, command: str, timeout: float = 60) -> str:
    """A command's standard output on the unit ('' when it fails)."""
    _, stdout, _ = client.exec_command(command, timeout=timeout)
    out = stdout.read().decode(errors="replace")
    return out if stdout.channel.recv_exit_status() == 0 else ""


def _copy(source: socket.socket | paramiko.Channel, target: socket.socket | paramiko.Channel) -> None:
    """One direction of a forwarded connection, until its end; then the other end is told."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except (OSError, EOFError, paramiko.SSHException):  # the tunnel closed under it: paramiko raises EOFError too
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR) if isinstance(target, socket.socket) else target.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException):  # the other side has gone already
            pass


def _pump(local: socket.socket, channel: paramiko.Channel) -> None:
    """Both directions, each in a blocking thread (no select on the channel's file descriptor)."""
    back = threading.Thread(target=_copy, args=(channel, local), daemon=True)
    back.start()
    _copy(local, channel)
    back.join()
    channel.close()
    local.close()


@contextmanager
def forward(client: paramiko.SSHClient, remote_host: str, remote_port: int) -> Iterator[int]:
    """A local port (yielded) whose connections reach remote_host:remote_port as seen from the unit."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    transport = client.get_transport()
    if transport is None:
        raise paramiko.SSHException("the SSH connection is closed")
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                local, peer = server.accept()
            except OSError:
                return
            try:
                channel = transport.open_channel("direct-tcpip", (remote_host, remote_port), peer)
            except (paramiko.SSHException, EOFError, OSError):
                local.close()
                continue
            threading.Thread(target=_pump, args=(local, channel), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        server.close()


def testinfra_host(fleet_host: FleetHost) -> Any:
    """A testinfra connection to the host (the verify checks), over OpenSSH with the same connection data."""
    import testinfra  # only `thorfleet verify` needs it

    data = fleet_host.connection
    user, target = data.get("ssh_user"), fleet_host.address
    extra = ["-o BatchMode=yes"]
    if data.get("ssh_known_hosts_file"):
        extra.append(f"-o UserKnownHostsFile={data['ssh_known_hosts_file']}")
    if data.get("ssh_strict_host_key_checking"):
        extra.append(f"-o StrictHostKeyChecking={data['ssh_strict_host_key_checking']}")
    spec = f"ssh://{user}@{target}" if user else f"ssh://{target}"
    if data.get("ssh_port"):
        spec += f":{data['ssh_port']}"
    return testinfra.get_host(spec, ssh_identity_file=data.get("ssh_key"), ssh_extra_args=" ".join(extra))
