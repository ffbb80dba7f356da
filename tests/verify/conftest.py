"""The verify suite: testinfra checks that converged units are as their configuration says.

    pytest tests/verify --inventory inventory/sim.py [--limit sim-01,sim-02]

Hosts come from the inventory file, with the configuration thorfleet validated for each, so
the same checks run against the simulated lab and against real Thor units (docs/verify.md).
"""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

from thorfleet.config.schema import HostConfig
from thorfleet.inventory import FleetHost, load_fleet
from thorfleet.remote import connect


@dataclass
class Unit:
    """One host to verify: its name, validated configuration, and a testinfra connection."""

    fleet_host: FleetHost

    @property
    def name(self) -> str:
        return self.fleet_host.name

    @property
    def config(self) -> HostConfig:
        return self.fleet_host.config

    @cached_property
    def host(self):
        return connect(self.fleet_host)

    def applies(self, role: str) -> bool:
        return self.config.applies(role)


def _units(config) -> list[Unit]:
    fleet = load_fleet(Path(config.getoption("inventory")))
    limit = config.getoption("limit")
    wanted = set(limit.split(",")) if limit else None
    unknown = (wanted or set()) - set(fleet.hosts)
    if unknown:
        raise pytest.UsageError(f"--limit names hosts the inventory does not have: {', '.join(sorted(unknown))}")
    return [Unit(h) for name, h in fleet.hosts.items() if wanted is None or name in wanted]


def of_kinds(*kinds: str):
    """A check of each engine of these kinds (all kinds when none given), as `case` = (unit, name, engine)."""
    def mark(function):
        function.engine_kinds = set(kinds)
        return function
    return mark


def pytest_generate_tests(metafunc):
    """Each check module names its ROLE; it runs for every host that applies that role, or for each
    engine of the kinds it names (`of_kinds`) on those hosts."""
    role = getattr(metafunc.module, "ROLE", None)
    units = [u for u in _units(metafunc.config) if role and u.applies(role)]
    if "case" in metafunc.fixturenames:
        kinds = getattr(metafunc.function, "engine_kinds", set())
        cases = [(u, n, e) for u in units for n, e in u.config.engines.items() if not kinds or e.kind in kinds]
        metafunc.parametrize("case", cases, ids=[f"{u.name}-{n}" for u, n, _ in cases])
    elif "unit" in metafunc.fixturenames:
        metafunc.parametrize("unit", units, ids=[u.name for u in units], scope="module")


def pytest_collection_modifyitems(config, items):
    """A check of engines on hosts that have none has nothing to check: deselect it, do not skip it."""
    empty = [item for item in items if any(m.name == "skip" and "empty parameter set" in str(m.kwargs.get("reason", ""))
                                           for m in item.iter_markers())]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]
