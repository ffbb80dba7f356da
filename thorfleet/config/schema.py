"""The whole configuration of one host: the keys of every role in the registry, plus the checks across roles."""

from functools import cache
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr, create_model

from thorfleet.core.types import SecretSource, StrictModel
from thorfleet.roles import ROLE_NAMES, ROLES
from thorfleet.roles.engines.config import EngineBase, NativeEngine
from thorfleet.roles.engines.memory import plan_problems

RoleName = Literal[tuple(ROLE_NAMES)]


class HostChecks(StrictModel):
    """What every host's configuration answers, whatever its roles' keys."""

    # Set by thorfleet.inventory from the whole inventory: the host's groups, and for a gateway host
    # the routes to every unit's engines (roles/gateway/routes.py).
    _groups: list[str] = PrivateAttr(default_factory=list)
    _gateway_routes: list = PrivateAttr(default_factory=list)
    _scrape_jobs: list = PrivateAttr(default_factory=list)  # for a monitoring host (roles/monitoring/targets.py)
    _unscraped: list = PrivateAttr(default_factory=list)  # and what it cannot reach, with the reason
    _behind_gateways: dict = PrivateAttr(default_factory=dict)  # engine -> [(gateway FleetHost, server)]

    def applies(self, role: str) -> bool:
        group = next(r.group for r in ROLES if r.name == role)
        return role in self.roles and (group is None or group in self._groups)

    def gateway_routes(self) -> list:
        return self._gateway_routes

    def scrape_jobs(self) -> list:
        return self._scrape_jobs

    def unscraped(self) -> list:
        return self._unscraped

    def behind_gateways(self, engine: str) -> list:
        """(gateway FleetHost, HAProxy server) for each gateway that routes this engine."""
        return self._behind_gateways.get(engine, [])

    def model_of(self, engine: EngineBase):
        return self.models.get(engine.model) if engine.model else None

    def needed_models(self) -> dict:
        """The models this host's engines serve: only these are downloaded here."""
        return {e.model: self.models[e.model] for e in self.engines.values() if e.model in self.models}

    def needed_builds(self) -> list[str]:
        """The builds (builds.<key>) this host's native engines run, in a fixed order."""
        return sorted({e.build for e in self.engines.values() if isinstance(e, NativeEngine)})

    def secrets(self) -> list[tuple[tuple[str, ...], SecretSource]]:
        """Every secret this host needs, with its key path (engines.<name>.api_key, base.wifi.password...)."""
        found = []

        def walk(node, path: tuple[str, ...]) -> None:
            if isinstance(node, SecretSource):
                found.append((path, node))
            elif isinstance(node, BaseModel):
                for name in type(node).model_fields:
                    walk(getattr(node, name), path + (name,))
            elif isinstance(node, dict):
                for key, value in node.items():
                    walk(value, path + (str(key),))
            elif isinstance(node, list):
                for index, value in enumerate(node):
                    walk(value, path + (str(index),))

        walk(self, ())
        return found

    def problems(self) -> list[tuple[tuple[str, ...], str]]:
        """Checks that span several keys, from every role; each problem is (key path, reason)."""
        return [problem for role in ROLES for problem in role.problems(self)]

    def memory_problems(self) -> list[tuple[tuple[str, ...], str]]:
        """The memory plan across every engine and the unit's memory: a unit that cannot fit."""
        return list(plan_problems(self))

    def advice(self) -> list[tuple[tuple[str, ...], str]]:
        """Valid settings known to be a mistake (slow, oversized), from every role: warnings."""
        return [item for role in ROLES if self.applies(role.name) for item in role.advice(self)]


HostConfig = create_model(
    "HostConfig",
    __base__=HostChecks,
    __doc__="Everything thorfleet applies to one unit.",
    roles=(list[RoleName], Field(default_factory=lambda: list(ROLE_NAMES),
                                 description=f"Roles applied to the host, always in the order {', '.join(ROLE_NAMES)}.")),
    **{key: spec for role in ROLES for key, spec in role.config.items()},
)


@cache
def all_field_names() -> list[str]:
    """Every key any config model knows, for 'did you mean' hints."""
    names: set[str] = set()

    def walk(model: type[BaseModel]) -> None:
        for field_name, field in model.model_fields.items():
            names.add(field_name)
            for sub in _models_in(field.annotation):
                if sub.__name__ not in seen:
                    seen.add(sub.__name__)
                    walk(sub)

    seen: set[str] = set()
    walk(HostConfig)
    return sorted(names)


def _models_in(annotation) -> list[type[BaseModel]]:
    found = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _models_in(arg)
    metadata = getattr(annotation, "__metadata__", None)
    if metadata is not None:
        found += _models_in(annotation.__origin__)
    return found
