"""Debian packages on a unit: the operation every role that installs packages uses (base, gateway,
monitoring, unit_metrics), with JetPack's components from NVIDIA's Jetson apt source."""

import shlex
from collections.abc import Sequence

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.deb import DebPackages

from thorfleet.core.install import Commands
from thorfleet.core.will import will

APT_ENV = "DEBIAN_FRONTEND=noninteractive"


@operation()
def apt_packages(packages: list[str], jetpack: Sequence[str] = (), masked: Sequence[str] = ()) -> Commands:
    """Install the packages that are missing, JetPack's components from NVIDIA's Jetson apt source
    first. The package lists are refreshed only when an install fails without them (or JetPack's
    packages are not known yet), so that a unit with everything present converges with no network.
    `masked`: services a package would start at install (Debian's uftp and docker-registry start open
    daemons), masked first, so that they never run; thorfleet runs its own units instead."""
    installed = host.get_fact(DebPackages)
    unmasked = [s for s in masked if s not in host.get_fact(MaskedServices, services=list(masked))] if masked else []
    missing_jetpack = [p for p in jetpack if p not in installed]
    missing = [p for p in packages if p not in installed and p not in missing_jetpack]
    if not missing and not missing_jetpack and not unmasked:
        host.noop(f"all {len(packages) + len(jetpack)} apt packages are installed"
                  + (f", {', '.join(masked)} masked" if masked else ""))
        return
    plans = [f"mask {', '.join(unmasked)}"] if unmasked else []
    if missing_jetpack or missing:
        plans.append(f"install apt packages: {', '.join(missing_jetpack + missing)}")
    will(", then ".join(plans))
    if unmasked:
        yield StringCommand("systemctl", "mask", "--now", *(QuoteString(s) for s in unmasked))
    if missing_jetpack:
        yield jetpack_install_command(missing_jetpack)
    if missing:
        yield install_command(missing)


def install_command(packages: list[str]) -> str:
    """Install `packages`, refreshing the package lists only when the install fails without them."""
    install = f"{APT_ENV} apt-get install -y --no-install-recommends {shlex.join(packages)}"
    return f"{install} || {{ {APT_ENV} apt-get update && {install}; }}"


# Jetson Linux's package that lists NVIDIA's Jetson apt source for the unit's release.
JETPACK_SOURCE = "nvidia-l4t-apt-source"


def jetpack_install_command(packages: list[str]) -> str:
    """Install JetPack's packages only when NVIDIA's apt source offers every one of them (after one
    refresh of the lists); otherwise fail before installing anything, saying what is missing."""
    names = " ".join(shlex.quote(p) for p in packages)
    offered = f'for p in {names}; do apt-cache policy "$p" | grep -q "Candidate: [0-9]" || exit 1; done'
    missing = (f"thorfleet: {', '.join(packages)} is not offered by this unit's apt sources: NVIDIA's Jetson apt source "
               f"is missing (Jetson Linux sets it up with the {JETPACK_SOURCE} package, in "
               f"/etc/apt/sources.list.d/{JETPACK_SOURCE}.list). Nothing was installed: reinstall {JETPACK_SOURCE} or "
               "reflash with JetPack 7, or set base.jetpack to [] and builds.cuda_home to where the CUDA toolkit is.")
    return (f"offered() ( {offered} ); offered || {APT_ENV} apt-get update -qq || true; "
            f"offered || {{ echo {shlex.quote(missing)} >&2; exit 1; }}; {APT_ENV} apt-get install -y {names}")


class MaskedServices(FactBase[list[str]]):
    """Which of `services` systemd has masked."""

    def command(self, services: list[str]) -> str:
        return f'for s in {shlex.join(services)}; do [ "$(systemctl is-enabled "$s" 2>/dev/null)" = masked ] && echo "$s"; done; true'

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]
