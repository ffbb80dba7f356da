"""The pytest plugin behind `thorfleet verify`: hosts from an inventory, each role's checks for the
hosts that apply it (the checks live in thorfleet/roles/<role>/verify.py).

    thorfleet verify inventory/sim.py [--limit sim-01,sim-02]

Hosts come from the inventory file, with the configuration thorfleet validated for each, so
the same checks run against the simulated lab and against real Thor units (docs/verify.md).
"""

from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

from thorfleet.core.fleet import FleetHost
from thorfleet.core.ssh import forward, ssh_client, testinfra_host
from thorfleet.fleet import Fleet, load_fleet
from thorfleet.roles.builds.fleet import needed_builds
from thorfleet.roles.gateway.routes import routed_at
from thorfleet.roles.models.fleet import needed_models


def pytest_addoption(parser):
    group = parser.getgroup("thorfleet verify")
    group.addoption("--inventory", help="inventory file whose hosts are checked (e.g. inventory/sim.py)")
    group.addoption("--limit", help="comma-separated host names of the inventory to check")


@dataclass
class Unit:
    """One host to verify: its name, validated configuration, a testinfra connection and forwards."""

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
        return testinfra_host(self.fleet_host)

    @cached_property
    def _ssh(self):
        return ssh_client(self.fleet_host)

    @contextmanager
    def forward(self, address: str, port: int):
        """A local port reaching address:port as the unit sees it."""
        with forward(self._ssh, address, port) as local:
            yield local


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
    every = _units(metafunc.config)
    units = [u for u in every if u.fleet_host.applies(role)]
    if "case" in metafunc.fixturenames:
        where = getattr(metafunc.function, "engine_filter", lambda engine: True)
        if getattr(metafunc.function, "routed_only", False):  # with the engine's unit, whatever the check's role
            cases = [(u, n, e) for u in every if u.fleet_host.applies("engines") for n, e in u.config.engines.items()
                     if routed_at(u.fleet, u.name, n)]
        else:
            cases = [(u, n, e) for u in units for n, e in u.config.engines.items() if where(e)]
        metafunc.parametrize("case", cases, ids=[f"{u.name}-{n}" for u, n, _ in cases])
    elif "build_case" in metafunc.fixturenames:
        where = getattr(metafunc.function, "build_filter", lambda build: True)
        cases = [(u, k, b) for u in units for k in needed_builds(u.fleet_host, u.fleet)
                 if where(b := getattr(u.config.builds, k))]
        metafunc.parametrize("build_case", cases, ids=[f"{u.name}-{k}" for u, k, _ in cases])
    elif "model_case" in metafunc.fixturenames:
        cases = [(u, n, m) for u in units for n, m in needed_models(u.fleet_host, u.fleet).items()]
        metafunc.parametrize("model_case", cases, ids=[f"{u.name}-{n}" for u, n, _ in cases])
    elif "unit" in metafunc.fixturenames:
        metafunc.parametrize("unit", units, ids=[u.name for u in units], scope="module")


def pytest_collection_modifyitems(config, items):
    """A check of engines on hosts that have none has nothing to check: deselect it, do not skip it."""
    empty = [item for item in items if any(m.name == "skip" and "empty parameter set" in str(m.kwargs.get("reason", ""))
                                           for m in item.iter_markers())]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]
