"""The whole configuration of one host: the keys of every role in the registry (thorfleet's, then a
project's own), plus the checks across roles."""

from collections.abc import Sequence
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, create_model

from thorfleet.core.role import Role
from thorfleet.core.types import SecretSource, StrictModel
from thorfleet.roles import ROLES


class HostChecks(StrictModel):
    """What every host's configuration answers, whatever its roles' keys."""

    registry: ClassVar[tuple[Role, ...]] = ROLES  # the roles whose keys the model holds, in the deploy's order

    def secrets(self) -> list[tuple[tuple[str, ...], SecretSource]]:
        """Every secret this host needs, with its key path (engines.<name>.api_key, base.wifi.password...)."""
        found = []

        def walk(node: Any, path: tuple[str, ...]) -> None:
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
        return [problem for role in self.registry for problem in role.problems(self)]


_models: dict[tuple[int, ...], type[HostChecks]] = {}


def host_config_model(roles: Sequence[Role]) -> type[HostChecks]:
    """The model of a host's configuration for these roles: each role owns its keys and their typed
    models (code that reads a host's configuration across roles types it as HostChecks or Any)."""
    key = tuple(id(role) for role in roles)
    if key not in _models:
        names = [role.name for role in roles]
        role_name = Literal[tuple(names)]  # type: ignore[valid-type]
        _models[key] = create_model(  # type: ignore[call-overload]
            "HostConfig",
            __base__=HostChecks,
            __doc__="Everything thorfleet applies to one unit.",
            roles=(list[role_name], Field(default_factory=lambda: list(names),  # type: ignore[valid-type]
                                          description=f"Roles applied to the host, always in the order {', '.join(names)}.")),
            **{key: spec for role in roles for key, spec in role.config.items()},
        )
        _models[key].registry = tuple(roles)
    return _models[key]


HostConfig = host_config_model(ROLES)


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


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _models_in(arg)
    metadata = getattr(annotation, "__metadata__", None)
    if metadata is not None:
        found += _models_in(annotation.__origin__)
    return found
