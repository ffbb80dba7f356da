"""The lab's network: a bridge on the controller and one network namespace per unit.

Units get an address on the bridge's /24 and no other route, so they reach the controller (and
each other) and nothing else.
"""

import re
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


_RATE = re.compile(r"(?P<number>[1-9][0-9]*)(?P<unit>kbit|mbit|gbit)")
_BITS = {"kbit": 10**3, "mbit": 10**6, "gbit": 10**9}


def link_rate(rate: str) -> int:
    """Bits per second of a rate as `lab up --link` takes it (tc's words: 100mbit, 1gbit, 512kbit)."""
    match = _RATE.fullmatch(rate)
    if not match:
        raise LabError(f"--link {rate!r}: give a rate such as 100mbit, 1gbit or 512kbit")
    return int(match["number"]) * _BITS[match["unit"]]


def limit_link(unit: UnitLayout, rate: str | None) -> None:
    """The unit's link held to `rate` both ways (a token bucket on each end of its veth pair: the
    bridge's end sends to the unit, the unit's end sends from it), or left unlimited (None)."""
    _limit((), unit.veth, rate)
    _limit(("ip", "netns", "exec", unit.netns), "host0", rate)


def limit_controller(rate: str | None) -> None:
    """The controller's own link held to `rate` (what it sends into the bridge, to all units together;
    units sending to each other pass port to port, beside it), or left unlimited."""
    _limit((), layout.BRIDGE, rate)


def _limit(prefix: tuple[str, ...], device: str, rate: str | None) -> None:
    if not rate:
        run(*prefix, "tc", "qdisc", "del", "dev", device, "root", check=False)  # none there: nothing to do
        return
    burst = max(link_rate(rate) // 8 // 100, 16_000)  # 10 ms of traffic at the rate, and at least a few packets
    run(*prefix, "tc", "qdisc", "replace", "dev", device, "root", "tbf", "rate", rate, "burst", str(burst), "latency", "50ms")


def link_limit(unit: UnitLayout) -> str | None:
    """The rate its link is held to, as tc shows it (e.g. 100Mbit), or None."""
    shown = run("tc", "qdisc", "show", "dev", unit.veth, check=False).stdout
    found = re.search(r"\btbf\b.*?\brate (\S+)", shown)
    return found[1] if found else None


def set_link(unit: UnitLayout, up: bool) -> None:
    """Cut a unit off the network (its cable pulled) or plug it back in."""
    run("ip", "link", "set", unit.veth, "up" if up else "down")


def link_is_up(unit: UnitLayout) -> bool:
    path = Path("/sys/class/net", unit.veth, "operstate")
    return path.exists() and path.read_text().strip() != "down"
