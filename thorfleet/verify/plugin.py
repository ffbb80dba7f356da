"""The pytest plugin behind `thorfleet verify`: hosts from an inventory, each role's checks for the
hosts that apply it (the checks live in thorfleet/roles/<role>/verify.py).

    thorfleet verify inventory/sim.py [--limit sim-01,sim-02]

Hosts come from the inventory file, with the configuration thorfleet validated for each, so
the same checks run against the simulated lab and against real Thor units (docs/verify.md).
"""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

from thorfleet.inventory import Fleet, FleetHost, load_fleet
from thorfleet.remote import connect
from thorfleet.roles.gateway.routes import routed_at


def pytest_addoption(parser):
    group = parser.getgroup("thorfleet verify")
    group.addoption("--inventory", help="inventory file whose hosts are checked (e.g. inventory/sim.py)")
    group.addoption("--limit", help="comma-separated host names of the inventory to check")


@dataclass
class Unit:
    """One host to verify: its name, validated configuration, and a testinfra connection."""

    fleet_host: FleetHost
    fleet: Fleet  # the whole inventory: checks of what the unit looks like from elsewhere (its gateway)

    @property
    def name(self) -> str:
        return self.fleet_host.name

    @property
    def config(self):
        return self.fleet_host.config

    @cached_property
    def host(self):
        return connect(self.fleet_host)


def _units(config) -> list[Unit]:
    fleet = load_fleet(Path(config.getoption("inventory")))
    limit = config.getoption("limit")
    wanted = set(limit.split(",")) if limit else None
    unknown = (wanted or set()) - set(fleet.hosts)
    if unknown:
        raise pytest.UsageError(f"--limit names hosts the inventory does not have: {', '.join(sorted(unknown))}")
    return [Unit(h, fleet) for name, h in fleet.hosts.items() if wanted is None or name in wanted]


def role_of(module) -> str:
    """thorfleet.roles.<role>.verify -> <role>."""
    return module.__name__.split(".")[-2]


def pytest_generate_tests(metafunc):
    """A check runs for every host that applies its role, or for each engine (`for_each_engine`) or
    build (`for_each_build`) of those hosts that its mark selects."""
    role = role_of(metafunc.module)
    units = [u for u in _units(metafunc.config) if u.config.applies(role)]
    if "case" in metafunc.fixturenames:
        where = getattr(metafunc.function, "engine_filter", lambda engine: True)
        cases = [(u, n, e) for u in units for n, e in u.config.engines.items() if where(e)]
        if getattr(metafunc.function, "routed_only", False):
            cases = [(u, n, e) for u, n, e in cases if routed_at(u.fleet, u.name, n)]
        metafunc.parametrize("case", cases, ids=[f"{u.name}-{n}" for u, n, _ in cases])
    elif "build_case" in metafunc.fixturenames:
        where = getattr(metafunc.function, "build_filter", lambda build: True)
        cases = [(u, k, b) for u in units for k in u.config.needed_builds() if where(b := getattr(u.config.builds, k))]
        metafunc.parametrize("build_case", cases, ids=[f"{u.name}-{k}" for u, k, _ in cases])
    elif "unit" in metafunc.fixturenames:
        metafunc.parametrize("unit", units, ids=[u.name for u in units], scope="module")


def pytest_collection_modifyitems(config, items):
    """A check of engines on hosts that have none has nothing to check: deselect it, do not skip it."""
    empty = [item for item in items if any(m.name == "skip" and "empty parameter set" in str(m.kwargs.get("reason", ""))
                                           for m in item.iter_markers())]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]
