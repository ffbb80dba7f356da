"""The package's shape (docs/architecture.md): layers that import only downwards, one registry of
roles from which the configuration comes, and engine kinds that each state what the rest asks."""

import ast
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

import pytest

from thorfleet.config.schema import HostConfig
from thorfleet.roles import ROLE_NAMES, ROLES
from thorfleet.roles.engines.config import ContainerEngine, Launch, NativeEngine
from thorfleet.roles.engines.kinds import KINDS, kind_name

PACKAGE = Path(resources.files("thorfleet"))
APP = {"thorfleet.config", "thorfleet.inventory", "thorfleet.deploy", "thorfleet.host_files", "thorfleet.cli",
       "thorfleet.verify", "thorfleet.init_project", "thorfleet.docs", "thorfleet.remote", "thorfleet.rollout",
       "thorfleet.endpoints"}


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def modules_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("layer, forbidden", [
    ("core", {"thorfleet.roles", "thorfleet.lab", *APP}),
    ("roles", {"thorfleet.lab", *APP}),
])
def test_a_layer_imports_only_from_the_layers_below(layer, forbidden):
    offending = {str(path.relative_to(PACKAGE)): sorted(m for m in imports_of(path)
                                                         if any(m == f or m.startswith(f + ".") for f in forbidden))
                 for path in modules_under(layer)}
    assert {path: found for path, found in offending.items() if found} == {}


def test_the_product_does_not_import_the_lab():
    product = [p for p in PACKAGE.rglob("*.py") if "lab" not in p.relative_to(PACKAGE).parts[:1]]
    users = [str(p.relative_to(PACKAGE)) for p in product
             if any(m == "thorfleet.lab" or m.startswith("thorfleet.lab.") for m in imports_of(p))]
    assert users == ["cli.py"]  # `thorfleet lab`, only where the lab extra is installed
    assert find_spec("roles") is None  # no top-level `roles` module


def test_host_config_keys_come_from_the_registry():
    role_keys = [key for role in ROLES for key in role.config]
    assert list(HostConfig.model_fields) == ["roles", *role_keys]
    assert HostConfig().roles == ROLE_NAMES == ["base", "power", "docker", "builds", "models", "engines", "gateway", "unit_metrics", "monitoring"]
    for role in ROLES:
        assert callable(role.apply) and callable(role.files) and callable(role.problems)
        if role.checks:
            assert find_spec(role.checks) is not None, role.checks


def test_every_engine_kind_states_what_the_rest_asks_of_it():
    launch = Launch(name="e", served_name="e", model_dir="/models/m", model_path="/models/m/f", api_key_file="/k")
    assert len({kind_name(kind) for kind in KINDS}) == len(KINDS) == 6
    for kind in KINDS:
        assert kind.health_path.startswith("/")
        assert kind.api_key_via in (None, "file", "env") and (kind.api_key_via != "env" or kind.api_key_env)
        if issubclass(kind, NativeEngine):
            assert kind.build in type(HostConfig().builds).model_fields and kind.program
        else:
            assert issubclass(kind, ContainerEngine) and kind.entry_command
        extra = {"image": "owner/name:1"} if issubclass(kind, ContainerEngine) else {}
        engine = kind(kind=kind_name(kind), port=8000, **extra)
        assert all(isinstance(word, str) for word in engine.command_args(launch))
