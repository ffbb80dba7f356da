"""`lab up`, `lab down` and `lab status`: the whole lab, from cached image to units answering SSH."""

import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from thorfleet.lab import assets, image, layout, network, services
from thorfleet.lab import unit as units
from thorfleet.lab.layout import UnitLayout
from thorfleet.lab.system import LabError, ensure_host_tools, require_root_linux, run


def ensure_ssh_key() -> None:
    """The lab's SSH key, and its engine API key (both private to root, made once)."""
    layout.SSH_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not layout.SSH_KEY.exists():
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "thorfleet-lab", "-f", str(layout.SSH_KEY))
    if not layout.API_KEY.exists():
        descriptor = os.open(layout.API_KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(descriptor, (secrets.token_urlsafe(24) + "\n").encode())
        os.close(descriptor)


def write_known_hosts(lab_units: list[UnitLayout]) -> None:
    """Each unit's own host key, so that SSH to the lab checks host keys strictly."""
    lines = []
    for u in lab_units:
        key = (u.rootfs / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
        lines.append(f"{u.address} {key[0]} {key[1]}\n")
    layout.KNOWN_HOSTS.write_text("".join(lines))


def up(count: int = layout.DEFAULT_UNITS, log=print, link: str | None = None) -> list[UnitLayout]:
    """Bring up units sim-01 … sim-NN (and remove any beyond), each link held to `link` (tc's rate:
    100mbit) or unlimited; idempotent."""
    if not 1 <= count <= 20:
        raise LabError(f"--units must be between 1 and 20, not {count}")
    if link:
        network.link_rate(link)  # a bad rate is refused before anything changes
    require_root_linux()
    ensure_host_tools(log)
    ensure_ssh_key()
    if image.build(log):
        log("image built")
    assets.prepare(log)
    network.ensure_bridge()
    network.limit_controller(link)
    services.start(log)
    assets.publish_images(log)
    wanted = [layout.unit(i) for i in range(1, count + 1)]
    for extra in layout.existing_units()[count:]:
        log(f"removing {extra.name} (beyond --units {count})")
        units.destroy(extra)
    for u in wanted:
        units.prepare_disk(u)
        units.provision(u)
        network.ensure_unit_network(u)
        network.limit_link(u, link)
        units.start(u)
    write_known_hosts(wanted)
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        list(pool.map(units.wait_ready, wanted))
    for u in wanted:
        assets.load_images(u, log)
    return wanted


def down(log=print) -> None:
    """Remove every unit, the controller's lab services and the bridge; the caches stay."""
    require_root_linux()
    for u in layout.existing_units():
        log(f"removing {u.name}")
        units.destroy(u)
    services.stop()
    network.remove_bridge()
    layout.KNOWN_HOSTS.unlink(missing_ok=True)


@dataclass
class UnitStatus:
    name: str
    address: str
    systemd: str
    sshd: str
    docker: str
    network: str


def status() -> list[UnitStatus]:
    require_root_linux()
    found = []
    for u in layout.existing_units():
        found.append(UnitStatus(
            u.name, u.address, units.system_state(u), units.service_state(u, "ssh"),
            units.service_state(u, "docker"), ("up" if network.link_is_up(u) else "cut")
            + (f", {limit}" if (limit := network.link_limit(u)) else ""),
        ))
    return found
