"""The lab's network: a bridge on the controller and one network namespace per unit.

Units get an address on the bridge's /24 and no other route, so they reach the controller (and
each other) and nothing else.
"""

from pathlib import Path

from thorfleet.lab import layout
from thorfleet.lab.layout import UnitLayout
from thorfleet.lab.system import LabError, run, succeeds


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def ensure_bridge() -> None:
    if not link_exists(layout.BRIDGE):
        run("ip", "link", "add", layout.BRIDGE, "type", "bridge")
    if not succeeds("sh", "-c", f"ip -4 addr show dev {layout.BRIDGE} | grep -q 'inet {layout.CONTROLLER_ADDRESS}/'"):
        run("ip", "addr", "add", f"{layout.CONTROLLER_ADDRESS}/24", "dev", layout.BRIDGE)
    run("ip", "link", "set", layout.BRIDGE, "up")


def remove_bridge() -> None:
    if link_exists(layout.BRIDGE):
        run("ip", "link", "del", layout.BRIDGE)


def ensure_unit_network(unit: UnitLayout) -> None:
    """Namespace, veth pair into the bridge, the unit's address; Docker inside needs ip_forward."""
    ns = unit.netns
    if not netns_exists(ns):
        run("ip", "netns", "add", ns)
    if not link_exists(unit.veth):
        run("ip", "link", "add", unit.veth, "type", "veth", "peer", "name", "host0", "netns", ns)
    run("ip", "link", "set", unit.veth, "master", layout.BRIDGE, "up")
    if not succeeds("ip", "netns", "exec", ns, "sh", "-c", f"ip -4 addr show dev host0 | grep -q 'inet {unit.address}/'"):
        run("ip", "-n", ns, "addr", "add", f"{unit.address}/24", "dev", "host0")
    run("ip", "-n", ns, "link", "set", "host0", "up")
    run("ip", "-n", ns, "link", "set", "lo", "up")
    run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")


def remove_unit_network(unit: UnitLayout) -> None:
    if netns_exists(unit.netns):
        run("ip", "netns", "del", unit.netns)  # takes the unit's end of the veth pair, and so both
    if link_exists(unit.veth) and run("ip", "link", "del", unit.veth, check=False).returncode and link_exists(unit.veth):
        raise LabError(f"cannot remove the link {unit.veth}")


def set_link(unit: UnitLayout, up: bool) -> None:
    """Cut a unit off the network (its cable pulled) or plug it back in."""
    run("ip", "link", "set", unit.veth, "up" if up else "down")


def link_is_up(unit: UnitLayout) -> bool:
    path = Path("/sys/class/net", unit.veth, "operstate")
    return path.exists() and path.read_text().strip() != "down"
