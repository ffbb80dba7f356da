"""Marks for the roles' verify checks (each role's verify.py; `thorfleet verify` runs them).

A check takes `unit` (once per host that applies the role), `case` (once per engine of such a host,
as (unit, engine name, engine)), `build_case` (once per build its engines run) or `model_case` (once
per model they serve); `unit.host` is a testinfra host, `unit.config` the host's validated
configuration, `unit.fleet` the fleet view, `unit.forward(address, port)` a local port reaching that
address and port as the unit sees them (core/ssh.py).
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from thorfleet.core.fleet import FleetHost, FleetView

Check = TypeVar("Check", bound=Callable[..., None])


class CheckedUnit(Protocol):
    """What a check gets as `unit` (thorfleet/verify/plugin.py)."""

    fleet_host: FleetHost
    fleet: FleetView

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> Any: ...

    @property
    def host(self) -> Any: ...  # a testinfra host

    def forward(self, address: str, port: int) -> AbstractContextManager[int]: ...


EngineCase = tuple[CheckedUnit, str, Any]  # (unit, engine name, engine config)
BuildCase = tuple[CheckedUnit, str, Any]  # (unit, key under builds, build config)
ModelCase = tuple[CheckedUnit, str, Any]  # (unit, name under models, model config)


def for_each_engine(where: Callable[[Any], bool] = lambda engine: True) -> Callable[[Check], Check]:
    """A check run once per engine for which `where(engine)` holds (every engine by default)."""
    def mark(function: Check) -> Check:
        function.engine_filter = where  # type: ignore[attr-defined]
        return function
    return mark


def for_each_routed_engine(function: Check) -> Check:
    """A check run once per engine that a gateway of the inventory routes to, with the engine's own
    unit (the gateway role's checks)."""
    function.routed_only = True  # type: ignore[attr-defined]
    return function


def for_each_build(where: Callable[[Any], bool] = lambda build: True) -> Callable[[Check], Check]:
    """A check run once per build the host's engines run for which `where(build)` holds, as `build_case`
    = (unit, its key under builds, the build's config)."""
    def mark(function: Check) -> Check:
        function.build_filter = where  # type: ignore[attr-defined]
        return function
    return mark
