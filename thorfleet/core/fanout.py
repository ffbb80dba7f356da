"""The fleet's fan-out: files sent once from a folder on the controller to every unit that lacks them,
in one authenticated multicast session (uftp; the measurements and the choice: docs/distribution.md).
Models use it with `model_store.fetch: fleet`, and with `auto` (the default) for a model that two
or more units of a deploy serve, when the controller can send (`sender`); shared engine builds and
Docker image archives with `fetch: fleet`. Its settings are model_store's (`serve_address`,
`fanout_group`, `fanout_port`, `fanout_rate_mbit`).

How a deploy runs one delivery (models, builds: each a session of its own), in pyinfra's order (each
operation on every unit before the next):
- while the deploy is planned, every unit that may need files is *expected* in the session;
- the role's fan-out operation on each unit: with nothing to receive it *declines*; otherwise (a
  FunctionCommand, run on the controller) it starts a uftpd on the unit, bound to its inventory
  address and taking sessions only from the controller's key, *joins*, waits for the send and stops
  its uftpd whatever happened;
- the last unit to join or decline (or the first after JOIN_WAIT, when one never comes) runs uftp:
  one session per set of units that lack the same files; each joined unit learns which arrived;
- the role then takes each file from the unit's incoming folder, checking its sha256, and gets what is
  missing or wrong another way (models: the cache over HTTP; builds: uploaded over SSH).
"""

import ipaddress
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import gevent  # type: ignore[import-untyped]  # pyinfra runs units in gevent greenlets
import gevent.event  # type: ignore[import-untyped]
from pyinfra import logger
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import PyinfraError

from thorfleet.core.apt import apt_packages
from thorfleet.core.paths import MODEL_SPECS

RECEIVER_UNIT = "thorfleet-fanout"  # the transient systemd unit running a unit's uftpd during the deploy
SERVER_LIST = f"{MODEL_SPECS}/fanout-servers"  # uftpd -S: the one sender it takes sessions from, and its key
JOIN_WAIT = 60.0  # seconds the first joined unit waits for the others before the send starts without them
CIPHER = ["-Y", "aes256-gcm", "-h", "sha256", "-e", "ecdh_ecdsa"]  # encrypted, signed, keys exchanged with ECDH


class Settings(Protocol):
    """The fan-out's settings: model_store's (roles/models/config.py), whatever the delivery."""

    fetch: str  # "fleet", or "auto" (see `sender`)
    controller_cache: str  # the controller's key is kept beside it
    serve_address: Any
    fanout_group: str
    fanout_port: int
    fanout_rate_mbit: int


@dataclass(frozen=True)
class Delivery:
    """What one session carries: files relative to `root` on the controller, into `into` on each unit
    (a folder on the same file system as where they end up, so that taking one is a rename or a link)."""

    kind: str  # "models", "builds", "images": what the deploy's lines call them
    root: str
    into: str
    rest: str = "the rest are uploaded over SSH"  # how a unit gets what did not arrive


def controller_address(units: Iterable[str]) -> str | None:
    """The IPv4 address this machine sends from to all these units, when they are on its LAN (its route
    to each goes through no gateway: multicast does not cross routers, nor does a unit behind a jump
    host reach the controller); None otherwise, or when it reaches them from different addresses."""
    found = set()
    for address in units:
        try:
            shown = subprocess.run(["ip", "-j", "-4", "route", "get", socket.gethostbyname(address)],
                                   capture_output=True, text=True, check=True).stdout
            route = json.loads(shown)[0]
        except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
            return None
        if "gateway" in route or "prefsrc" not in route:
            return None
        found.add(route["prefsrc"])
    return found.pop() if len(found) == 1 else None


def sender(state: Any, store: Any, receivers: Mapping[str, str]) -> Any:
    """The fan-out's settings (model_store's, with the controller's address) when files that `receivers`
    (unit -> inventory address: the units of this deploy that need them) take go by multicast; None
    when they do not. `fetch: fleet`: always. `fetch: auto`: when two or more units need them and the
    controller can send; the first time it cannot, the deploy says why."""
    if store.fetch == "fleet":
        return store
    if store.fetch != "auto" or len(receivers) < 2:
        return None
    installed = shutil.which("uftp") and shutil.which("uftp_keymgt")
    address = installed and (store.serve_address or controller_address(receivers.values()))
    if address:
        return store.model_copy(update={"serve_address": address})
    if not getattr(state, "thorfleet_fanout_declined", False):  # said once per deploy
        state.thorfleet_fanout_declined = True
        why = ("the units are not all on the controller's LAN, reached from one address of it (set "
               "model_store.serve_address to the one they all reach, or fetch: unit to say nothing)" if installed else
               "uftp is not installed on the controller (apt install uftp)")
        logger.warning(f"thorfleet: model_store.fetch is 'auto', and what several units need is not fanned out: {why}; "
                       "each unit gets its own copy")
    return None


def data_group(store: Settings) -> str:
    return str(ipaddress.IPv4Address(store.fanout_group) + 1)


def server_id(store: Settings) -> str:
    """uftp's sender id: its IPv4 address in hex, as uftpd's server list names it."""
    return f"0x{int(ipaddress.IPv4Address(store.serve_address)):08X}"


def controller_key(store: Settings) -> tuple[Path, str]:
    """The controller's ECDSA key (made on first use, beside the model cache, never served) and its fingerprint."""
    if not shutil.which("uftp") or not shutil.which("uftp_keymgt"):
        raise PyinfraError("model_store.fetch is 'fleet', but uftp is not installed on the controller: install Debian's "
                           "or Ubuntu's uftp package here (apt install uftp), or set model_store.fetch to 'controller'")
    key = Path(store.controller_cache).expanduser().resolve().parent / "fanout" / "controller.key"
    if not key.is_file():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(["uftp_keymgt", "-g", "ec:prime256v1", str(key)], check=True, capture_output=True)
        key.chmod(0o600)
    shown = subprocess.run(["uftp_keymgt", str(key)], capture_output=True, text=True)
    found = (shown.stdout + shown.stderr).partition("fingerprint: ")[2].split()
    if not found:
        raise PyinfraError(f"uftp_keymgt could not read the controller's fan-out key {key}: {shown.stderr.strip()}; "
                           "delete it and a new one is made")
    return key, found[0]


def prepare(state: Any, kind: str, unit: str, store: Settings) -> None:
    """Called by a role while the deploy is planned, before its fan-out operation: uftp missing on the
    controller is said now, before any unit is touched; the unit is expected in the session of `kind`;
    the operation that installs uftpd on it (Debian's own uftp service would take files from any sender,
    on every address, so it is masked before the package is installed)."""
    controller_key(store)
    expect(state, kind, unit)
    apt_packages(name="uftp for the fleet's fan-out", packages=["uftp"], masked=["uftp.service"], _sudo=True)


@dataclass
class Receiver:
    name: str
    address: str  # the unit's inventory address, which its uftpd is bound to
    root: Path  # the controller's folder its files are in (its own config's)
    files: set[str]  # what it lacks, relative to root


@dataclass
class Session:
    """One deploy's fan-out: who is expected, who answered, and what reached whom."""

    expected: set[str] = field(default_factory=set)
    answered: set[str] = field(default_factory=set)
    receivers: dict[str, Receiver] = field(default_factory=dict)
    started: bool = False
    done: Any = field(default_factory=gevent.event.Event)
    arrived: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def session(state: Any, kind: str) -> Session:
    """The deploy's session for one kind of delivery, kept on pyinfra's state."""
    if not hasattr(state, "thorfleet_fanout"):
        state.thorfleet_fanout = {}
    found: Session = state.thorfleet_fanout.setdefault(kind, Session())
    return found


def expect(state: Any, kind: str, unit: str) -> None:
    session(state, kind).expected.add(unit)


def decline(state: Any, kind: str, unit: str) -> None:
    session(state, kind).answered.add(unit)


def receive(state: Any, host: Any, store: Settings, delivery: Delivery, address: str, files: list[str]) -> bool:
    """Run on the controller for one unit (a FunctionCommand): its uftpd up, the session joined and
    waited for, its uftpd stopped. Never fails the unit: what did not arrive, the role gets another way."""
    joined = session(state, delivery.kind)
    into = delivery.into
    key, fingerprint = controller_key(store)
    ok, output = host.run_shell_command(StringCommand(
        "systemctl", "stop", f"{RECEIVER_UNIT}.service", "2>/dev/null;",
        "mkdir", "-p", QuoteString(f"{into}/.partial"), QuoteString(MODEL_SPECS), "&&",
        "printf", "'%s\\n'", QuoteString(f"{server_id(store)}|{store.serve_address}|{fingerprint}"),
        ">", QuoteString(SERVER_LIST), "&&",
        # Only while the deploy runs: stopped below, and by systemd after an hour if the deploy dies.
        "systemd-run", f"--unit={RECEIVER_UNIT}", "--collect", "--quiet", "-p", "RuntimeMaxSec=3600",
        "-p", "ProtectSystem=strict", "-p", QuoteString(f"ReadWritePaths={into}"), "-p", "ProtectHome=yes",
        "-p", "PrivateTmp=yes", "-p", "NoNewPrivileges=yes",
        "uftpd", "-d", "-q", "-x", "1", "-I", QuoteString(address), "-p", str(store.fanout_port),
        "-M", store.fanout_group, "-D", QuoteString(into), "-T", QuoteString(f"{into}/.partial"),
        "-i",  # move each file on its own: a later session's folder must not replace an earlier one's
        "-S", SERVER_LIST, "-K", "ec:prime256v1"), _sudo=True)
    if not ok:
        host.log_styled(f"thorfleet: uftpd did not start here ({' '.join(output.stderr_lines[-2:])}); "
                        f"the {delivery.kind} come another way ({delivery.rest})", fg="yellow", log_func=logger.warning)
        decline(state, delivery.kind, host.name)
        return True
    try:
        joined.receivers[host.name] = Receiver(host.name, address, Path(delivery.root).expanduser().resolve(), set(files))
        joined.answered.add(host.name)
        _wait_or_send(state, joined, store, key)
    finally:
        host.run_shell_command(StringCommand("systemctl", "stop", f"{RECEIVER_UNIT}.service"), _sudo=True)
    got = joined.arrived[host.name] & set(files)
    host.log(f"fan-out: {len(got)} of {len(files)} {delivery.kind} files received by multicast from the controller"
             + ("" if len(got) == len(files) else f"; {delivery.rest}"))
    return True


def _wait_or_send(state: Any, joined: Session, store: Settings, key: Path) -> None:
    deadline = time.monotonic() + JOIN_WAIT
    while not joined.started:
        failed = {h.name for h in state.failed_hosts}
        if joined.expected <= joined.answered | failed or time.monotonic() > deadline:
            joined.started = True
            try:
                _send(joined, store, key)
            finally:
                joined.done.set()
        else:
            gevent.sleep(0.2)
    joined.done.wait()


def _send(joined: Session, store: Settings, key: Path) -> None:
    """One uftp session per folder and set of units that lack the same files in it; records what reached each."""
    wanting: dict[tuple[Path, str], set[str]] = defaultdict(set)
    for receiver in joined.receivers.values():
        for path in receiver.files:
            wanting[(receiver.root, path)].add(receiver.name)
    groups: dict[tuple[Path, frozenset[str]], list[str]] = defaultdict(list)
    for (root, path), lacking in sorted(wanting.items()):
        groups[(root, frozenset(lacking))].append(path)
    for (root, units), paths in groups.items():
        try:
            by_id = {socket.gethostbyname(joined.receivers[u].address): u for u in units}  # uftp's receiver ids
        except OSError as err:  # an inventory address the controller cannot resolve: the star serves them
            logger.warning(f"fan-out: no session for {', '.join(sorted(units))} ({err}); their files come another way")
            continue
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as scratch:
            status = Path(scratch) / "status"
            sent = subprocess.run(
                ["uftp", "-I", str(store.serve_address), "-U", server_id(store), "-M", store.fanout_group,
                 "-P", data_group(store), "-p", str(store.fanout_port), "-R", str(store.fanout_rate_mbit * 1000), *CIPHER,
                 "-k", str(key), "-H", ",".join(by_id), "-E", str(root).rstrip("/") + "/", "-S", str(status), "-x", "1",
                 *(str(root / p) for p in paths)], capture_output=True, text=True)
            lines = status.read_text().splitlines() if status.is_file() else []
        for line in lines:  # RESULT;target;filename;size;status;speed
            fields = line.split(";")
            if fields[0] == "RESULT" and fields[4] in ("copy", "overwrite") and fields[1] in by_id:
                joined.arrived[by_id[fields[1]]].add(fields[2])
        size = sum((root / p).stat().st_size for p in paths)
        logger.info(f"fan-out: {len(paths)} files, {size / 1e6:.1f} MB, sent once to {len(units)} units in "
                    f"{time.monotonic() - started:.1f} s (uftp exit {sent.returncode})")


def take_or_upload(host: Any, local: Path, sha256: str, received: str, remote: str) -> str | None:
    """Run on the controller for one unit, in a FunctionCommand after the session: the unit's received
    copy moved to `remote` when its sha256 is `sha256` ("fan-out"); otherwise (it did not arrive, or
    arrived damaged: never used) deleted, and the controller's `local` uploaded over SSH ("upload");
    None when that upload failed too (said on the unit's lines)."""
    ok, _ = host.run_shell_command(StringCommand(
        "echo", QuoteString(f"{sha256}  {received}"), "|", "sha256sum", "--check", "--status", "-", "&&",
        "mv", "-f", QuoteString(received), QuoteString(remote)), _sudo=True)
    if ok:
        return "fan-out"
    host.run_shell_command(StringCommand("rm", "-f", QuoteString(received)), _sudo=True)
    host.log(f"{local.name}: no whole copy from the fan-out; uploading the controller's")
    if host.put_file(str(local), remote, remote_temp_filename=host.get_temp_filename(remote), _sudo=True):
        return "upload"
    host.log_styled(f"thorfleet: the upload of {local} to {remote} failed", fg="red")
    return None
