"""The one way thorfleet reaches a host outside pyinfra's deploy: an SSH connection with the inventory's
connection data (the same ssh_* keys pyinfra uses), commands on it, and its loopback ports forwarded to
the controller as `ssh -L` would (bench, status, endpoints, rollout, the gateway's drain, verify)."""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paramiko

from thorfleet.core.fleet import FleetHost


def ssh_client(fleet_host: FleetHost) -> paramiko.SSHClient:
    data = fleet_host.connection
    client = paramiko.SSHClient()
    known = data.get("ssh_known_hosts_file")
    client.load_host_keys(str(Path(known).expanduser())) if known else client.load_system_host_keys()
    strict = str(data.get("ssh_strict_host_key_checking", "accept-new")).lower()
    client.set_missing_host_key_policy(paramiko.RejectPolicy() if strict == "yes" else paramiko.AutoAddPolicy())
    client.connect(
        fleet_host.address, port=int(data.get("ssh_port", 22)), username=data.get("ssh_user"),
        key_filename=str(Path(data["ssh_key"]).expanduser()) if data.get("ssh_key") else None,
        password=data.get("ssh_password"), timeout=30,
    )
    return client


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
    except (OSError, paramiko.SSHException):
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR) if isinstance(target, socket.socket) else target.shutdown_write()
        except (OSError, paramiko.SSHException):  # the other side has gone already
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
            except (paramiko.SSHException, OSError):
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
